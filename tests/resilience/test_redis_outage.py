"""Redis killed and started again (issue 13): the chat keeps working, rate limits keep holding
(counted in the database meanwhile: api/core/ratelimit.py says why), the live bus degrades to this
process, and once Redis answers again both go back to it without restarting the API.

A private redis-server on a free port (never the machine's), killed with kill -9. The test's own
Redis connection stands in for a second API replica: it sees what the API publishes and publishes
to the API's customers.
"""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.conversations.gateway import ChatLimits
from api.core.ratelimit import RateCounter
from api.main import create_app, live_channel
from tests.conftest import TEST_TOKEN
from tests.fakes.rasa import FakeRasa
from tests.resilience.processes import RedisServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
pytestmark = pytest.mark.skipif(RedisServer.BINARY is None, reason="redis-server is not installed (apt-get install redis-server)")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def receive(socket, seconds: float = 10) -> dict:
    """The next frame on the chat socket, or a failure after `seconds` (never a hung test)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(socket.receive_json).result(timeout=seconds)


def push(client: redis.Redis, channel: str, conversation_id: str, text: str) -> int:
    """What another replica publishes for a customer: how many subscribers Redis handed it to."""
    frame = {"type": "reply", "handled_by": "agent", "messages": [{"text": text, "buttons": [], "image": None}]}
    return client.publish(channel, json.dumps({"topic": "customer", "sender_id": conversation_id, "frame": frame}))


def rate_keys(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter("zhidian:rate:*"))


def test_redis_killed_chat_works_limits_hold_and_redis_is_used_again(settings, redis_server, session):
    channel = live_channel(settings.database_url)
    with FakeRasa() as rasa, TestClient(create_app(settings.model_copy(update={
            "redis_url": redis_server.url, "rasa_url": rasa.url, "rasa_timeout_seconds": 2.5}))) as api:
        other = redis.Redis.from_url(redis_server.url, socket_timeout=5)  # another replica's connection
        listener = other.pubsub(ignore_subscribe_messages=True)
        listener.subscribe(channel)
        issued = api.post("/api/chat/conversations").json()
        customer = issued["conversation_id"]

        def say(text: str):
            return api.post("/api/chat/messages", json={"sender_id": customer, "text": text}, headers=AUTH)

        def published() -> list[dict]:
            events, deadline = [], time.monotonic() + 5
            while time.monotonic() < deadline and not events:
                while (message := listener.get_message(timeout=0.2)) is not None:
                    events.append(json.loads(message["data"]))
            return events

        with api.websocket_connect(f"/ws/chat/{customer}") as socket:
            socket.send_json({"type": "hello", "secret": issued["secret"]})
            assert receive(socket)["type"] == "ready"

            # Redis up: limits counted there, events cross processes both ways
            assert say("你好").json()["handled_by"] == "bot"
            assert rate_keys(other) > 0
            assert any(e.get("topic") == "console" for e in published())
            assert push(other, channel, customer, "人工客服王丽：您好") == 2  # the API and this listener
            assert receive(socket)["messages"][0]["text"] == "人工客服王丽：您好"

            redis_server.kill()
            # the chat goes on; the limits hold, counted in the database
            api.app.state.gateway.limits = ChatLimits(per_sender_minute=3, minute=10**9)
            assert [say(f"第{i}条").status_code for i in range(4)] == [200, 200, 200, 429]
            assert "太频繁" in say("再来一条").json()["detail"]["message"]
            assert session.scalar(select(func.count()).select_from(RateCounter)) > 0
            # the live bus degrades to this process: its own customers still get their pushes
            event = {"topic": "customer", "sender_id": customer, "frame": {
                "type": "reply", "handled_by": "agent", "messages": [{"text": "本机推送", "buttons": [], "image": None}]}}
            api.portal.call(api.app.state.bus.publish, event)
            assert receive(socket)["messages"][0]["text"] == "本机推送"

            redis_server.start()  # an empty Redis on the same address, as after a crash
            api.app.state.gateway.limits = ChatLimits()
            other = redis.Redis.from_url(redis_server.url, socket_timeout=5)
            deadline = time.monotonic() + 15
            while push(other, channel, customer, "人工客服王丽：我还在") == 0:  # until the API subscribed again
                assert time.monotonic() < deadline, "the API did not subscribe to Redis again"
                time.sleep(0.2)
            assert receive(socket)["messages"][0]["text"] == "人工客服王丽：我还在"
            listener = other.pubsub(ignore_subscribe_messages=True)
            listener.subscribe(channel)
            assert say(f"恢复了吗{uuid.uuid4().hex[:4]}").json()["handled_by"] == "bot"
            assert rate_keys(other) > 0  # counted in Redis again
            assert any(e.get("topic") == "console" for e in published())
