"""Simulated customers for bench/load.py (a locustfile, run by the `locust` CLI headless).

Each customer opens a web chat from an address of their own (X-Forwarded-For, which uvicorn takes from a
proxy on 127.0.0.1, as customers behind nginx arrive) and, pausing as a person typing would, asks a
knowledge question, checks a bill (verifying with 户号 and the phone's last four digits), or reports a
fault (five turns, a ticket at the end). A multi-turn errand starts in a new chat. A turn answered with
the bot-down fallback counts as a failure. LOAD_ACCOUNTS names a JSON file of [account_no, mobile] pairs
from the seeded database.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import HttpUser, between, task

ACCOUNTS: list[list[str]] = json.loads(Path(os.environ["LOAD_ACCOUNTS"]).read_text(encoding="utf-8"))
QUESTIONS = [
    "峰谷电价是怎么算的", "电费可以在哪里交", "家里跳闸了应该先检查什么", "怎么申请新装电表", "阶梯电价怎么收费",
    "电表走得快怎么办", "停电了冰箱里的东西怎么办", "怎么办理过户", "电动汽车充电桩怎么报装", "欠费停电后多久能恢复",
]


class Customer(HttpUser):
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        self.new_chat()

    def new_chat(self) -> None:
        response = self.client.post("/api/chat/conversations", headers={"X-Forwarded-For": self.address},
                                    name="open chat")
        issued = response.json() if response.status_code == 201 else {}
        self.chat_id, self.secret = issued.get("conversation_id"), issued.get("secret")

    def say(self, text: str, name: str) -> str:
        if not self.chat_id:
            self.new_chat()
            return ""
        with self.client.post("/api/chat/messages", name=name, catch_response=True,
                              headers={"X-Forwarded-For": self.address, "X-Chat-Secret": self.secret},
                              json={"sender_id": self.chat_id, "text": text}) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:120]}")
                return ""
            body = response.json()
            if body.get("handled_by") == "fallback":
                response.failure("bot fallback")
            return "\n".join(m.get("text") or "" for m in body.get("messages") or [])

    @task(5)
    def knowledge_question(self) -> None:
        self.say(random.choice(QUESTIONS), "turn: knowledge question")

    @task(3)
    def bill(self) -> None:
        account_no, mobile = random.choice(ACCOUNTS)
        self.new_chat()
        for text in ("查一下电费", account_no, mobile[-4:]):
            self.say(text, "turn: bill (verify)")
            self.wait()

    @task(1)
    def fault_report(self) -> None:
        account_no, _ = random.choice(ACCOUNTS)
        self.new_chat()
        for text in ("家里没电了", account_no, "是的", "就我家没电，邻居家都有电", "确认"):
            self.say(text, "turn: fault report")
            self.wait()
