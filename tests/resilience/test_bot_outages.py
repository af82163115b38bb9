"""The bot's servers fail mid-conversation (issue 13, resilience): Rasa killed with kill -9, the action
server stopped. The customer is answered at once and told the truth, nothing they said is lost, no
half-made ticket appears, and the conversation goes on where it was once the server is back.

Uses a stack of its own (real Rasa, action server and API; tests/stack.py): these tests break it.
"""
from __future__ import annotations

import re
import time
import uuid

import pytest

from api.conversations.gateway import FALLBACK_REPLY
from api.demo.showcase import SHOWCASE

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")
FALLBACK_WITHIN_SECONDS = 3.0  # the bound; a killed Rasa refuses connections at once


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def turn(stack, sender: str, text: str) -> dict:
    """One customer turn through the gateway as a channel adapter sends it; the whole reply."""
    response = stack.http.post("/api/chat/messages", json={"sender_id": sender, "text": text}, headers=stack.auth)
    assert response.status_code == 200, response.text
    return response.json()


def tickets_of(stack, account_no: str) -> set[str]:
    response = stack.http.get("/api/tickets", params={"account_no": account_no}, headers=stack.auth)
    response.raise_for_status()
    return {t["number"] for t in response.json()["items"]}


def transcript(stack, sender: str) -> list[tuple[str, str]]:
    response = stack.http.get(f"/api/conversations/{sender}", headers=stack.auth)
    response.raise_for_status()
    return [(t["sender"], t["text"] or "") for t in response.json()["turns"]]


def test_rasa_killed_mid_report_gets_the_fallback_at_once_and_the_report_resumes(bot_stack):
    stack, _ = bot_stack
    account_no, _ = SHOWCASE["household_outage_rural"]
    sender = f"res-kill-{uuid.uuid4().hex[:10]}"
    before = tickets_of(stack, account_no)
    assert "户号" in texts(turn(stack, sender, "我家停电了")["messages"])
    assert "是这个地址停电吗" in texts(turn(stack, sender, account_no)["messages"])

    stack.rasa.process.kill()  # SIGKILL: no clean shutdown, the port closes with the process
    stack.rasa.process.wait()
    started = time.monotonic()
    down = turn(stack, sender, "是的")
    elapsed = time.monotonic() - started
    assert down["handled_by"] == "fallback" and FALLBACK_REPLY.text in texts(down["messages"]), down
    assert elapsed < FALLBACK_WITHIN_SECONDS, f"the fallback took {elapsed:.2f} s"
    # recorded, not dropped: the customer's words and the fallback are in the conversation
    answered = [(m["sender"], m["text"] or "") for m in down["messages"]]
    assert transcript(stack, sender)[-len(answered) - 1:] == [("customer", "是的"), *answered]
    conversation = stack.http.get(f"/api/conversations/{sender}", headers=stack.auth).json()
    assert conversation["handoff_requested"] and conversation["handoff_reason"] == "bot_unavailable"

    stack.restart_rasa()  # a supervisor starts it again: same port, same SQL tracker store

    resumed = texts(turn(stack, sender, "是的")["messages"])  # the customer answers again
    assert "请描述一下停电情况" in resumed, resumed  # the form's next slot: the 户号 was kept
    summary = texts(turn(stack, sender, "只有我家没电，邻居家有电")["messages"])
    assert "请您核对报修信息" in summary and f"户号：{account_no[:4]}" in summary, summary
    number = TICKET.search(texts(turn(stack, sender, "确认")["messages"])).group(0)
    assert tickets_of(stack, account_no) - before == {number}
    said = [text for who, text in transcript(stack, sender) if who == "customer"]
    assert said == ["我家停电了", account_no, "是的", "是的", "只有我家没电，邻居家有电", "确认"]


def test_action_server_down_at_the_read_back_says_the_report_was_not_filed(bot_stack):
    stack, actions = bot_stack
    account_no, _ = SHOWCASE["household_outage"]
    sender = f"res-actions-{uuid.uuid4().hex[:10]}"
    before = tickets_of(stack, account_no)
    turn(stack, sender, "我家停电了")
    assert "是这个地址停电吗" in texts(turn(stack, sender, account_no)["messages"])
    turn(stack, sender, "是的")
    summary = texts(turn(stack, sender, "只有我家没电，邻居家有电")["messages"])
    assert "请您核对报修信息" in summary, summary

    actions.stop()
    try:
        refused = turn(stack, sender, "确认")
        words = texts(refused["messages"])
        assert refused["handled_by"] == "bot", refused  # the bot is up: not the "busy" fallback
        assert "您的报修暂时没能提交" in words and "信息都还保留着" in words, words
        assert "暂时有点忙" not in words and "没太看懂" not in words and not TICKET.search(words), words
        assert tickets_of(stack, account_no) == before  # no ticket, not half of one
    finally:
        actions.start()

    filed = texts(turn(stack, sender, "确认")["messages"])  # the same words again, once it is back
    number = TICKET.search(filed).group(0)
    assert tickets_of(stack, account_no) - before == {number}
