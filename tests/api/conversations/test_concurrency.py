"""Exactly once per client_msg_id under real concurrency: the API in uvicorn, duplicates sent at the same moment."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import func, select

from api.conversations.gateway import ChatGateway
from api.conversations.models import Message
from tests.conftest import run_coroutine, start_api
from tests.fakes.rasa import FakeRasa

TRIALS, DUPLICATES = 5, 5


@pytest.fixture
def running(settings):
    with FakeRasa() as rasa:
        rasa.mode, rasa.delay = "slow", 0.4  # long enough for every duplicate to arrive meanwhile
        server, api = start_api(settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 5}))
        try:
            yield api, rasa
        finally:
            server.stop()


async def burst(url: str) -> list[list[httpx.Response]]:
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        chat = (await http.post("/api/chat/conversations")).json()
        headers = {"X-Chat-Secret": chat["secret"]}
        trials = []
        for trial in range(TRIALS):
            body = {"sender_id": chat["conversation_id"], "text": f"我家停电了{trial}", "client_msg_id": f"m-{trial}"}
            trials.append(await asyncio.gather(*(http.post("/api/chat/messages", json=body, headers=headers)
                                                 for _ in range(DUPLICATES))))
        return trials


def test_concurrent_duplicates_get_one_turn_and_the_same_answer(running, session):
    api, rasa = running
    trials = run_coroutine(burst(api.url))
    for trial, responses in enumerate(trials):
        assert [r.status_code for r in responses] == [200] * DUPLICATES, [r.text for r in responses]
        bodies = [r.json() for r in responses]
        assert all(body == bodies[0] for body in bodies)
        assert bodies[0]["messages"][0]["text"] == f"收到：我家停电了{trial}"
    assert sorted(m["message"] for m in rasa.received) == [f"我家停电了{t}" for t in range(TRIALS)]
    customer_turns = session.scalar(select(func.count()).select_from(Message).where(Message.sender == "customer",
                                                                                  Message.client_msg_id.like("m-%")))
    assert customer_turns == TRIALS


def test_the_copy_that_stored_the_turn_asks_the_bot_even_when_a_duplicate_came_back_first(settings, monkeypatch):
    """Under load the threads return in any order: a duplicate's claim may be back (and watching the
    database) before the copy that stored the turn. That copy must still ask the bot, at once."""
    claim = ChatGateway._claim

    def fresh_claim_returns_last(self, *args):
        result = claim(self, *args)
        if result.fresh:
            time.sleep(0.5)  # the duplicates' claims come back meanwhile
        return result

    monkeypatch.setattr(ChatGateway, "_claim", fresh_claim_returns_last)
    with FakeRasa() as rasa:
        server, api = start_api(settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 5}))
        try:
            async def duplicates() -> list[httpx.Response]:
                async with httpx.AsyncClient(base_url=api.url, timeout=20) as http:
                    chat = (await http.post("/api/chat/conversations")).json()
                    body = {"sender_id": chat["conversation_id"], "text": "我家停电了", "client_msg_id": "m-1"}
                    return await asyncio.gather(*(http.post("/api/chat/messages", json=body,
                                                            headers={"X-Chat-Secret": chat["secret"]})
                                                  for _ in range(DUPLICATES)))
            started = time.monotonic()
            responses = run_coroutine(duplicates())
            took = time.monotonic() - started
        finally:
            server.stop()
    assert [r.json()["messages"][0]["text"] for r in responses] == ["收到：我家停电了"] * DUPLICATES
    assert [m["message"] for m in rasa.received] == ["我家停电了"]
    assert took < 5, took  # asked at once, not answered only when the turn went stale (deadline 5 s + margin)
