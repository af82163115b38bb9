"""The live bus delivers events to every subscriber; through Redis, across separate buses (processes)."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from api.conversations.live import LiveBus
from tests.conftest import run_coroutine


@pytest.mark.parametrize("transport", ["memory", "redis"])
def test_every_subscriber_of_every_bus_gets_each_event(transport, request):
    url = request.getfixturevalue("redis_url") if transport == "redis" else None

    async def scenario():
        channel = f"zhidian:test:{uuid.uuid4().hex}"
        buses = [LiveBus(url, channel=channel) for _ in range(2 if url else 1)]
        for bus in buses:
            await bus.start()
        queues = [bus.subscribe() for bus in buses]
        event = {"topic": "console", "type": "turn", "turn": {"text": "您好，人工客服王丽已接入"}}
        await buses[0].publish(event)
        received = [await asyncio.wait_for(q.get(), timeout=5) for q in queues]
        for bus in buses:
            await bus.stop()
        return received, event

    received, event = run_coroutine(scenario())
    assert received == [event] * len(received)
    assert len(received) == (2 if transport == "redis" else 1)


def test_publish_soon_from_a_worker_thread_reaches_the_loop():
    async def scenario():
        bus = LiveBus()
        await bus.start()
        queue = bus.subscribe()
        await asyncio.to_thread(bus.publish_soon, {"topic": "console", "type": "queue"})
        return await asyncio.wait_for(queue.get(), timeout=5)

    assert run_coroutine(scenario()) == {"topic": "console", "type": "queue"}
