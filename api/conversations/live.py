"""Live events between API processes: the agent console's updates and pushes to customers.

One process (embedded mode) delivers events to its own subscribers directly. With REDIS_URL set,
every event goes through a Redis pub/sub channel and every API process delivers what it reads
from there, so an agent on one replica sees a customer who is connected to another, and an
agent's message reaches the replica that holds the customer's socket.

Events are JSON objects with a "topic":
  "console"   for agent consoles: {"topic": "console", "type": "queue" | "conversation" | ...}
  "customer"  for a customer's chat page: {"topic": "customer", "sender_id": ..., "frame": {...}}
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "zhidian:live"


class LiveBus:
    """Publish/subscribe of live events, in process or through Redis."""

    def __init__(self, redis_url: str | None = None, channel: str = CHANNEL):
        self._redis_url = redis_url
        self._channel = channel
        self._subscribers: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis = None
        self._reader: asyncio.Task | None = None

    @property
    def shared(self) -> bool:
        """Whether events cross processes (Redis)."""
        return self._redis_url is not None

    async def start(self) -> None:
        """Remember the loop (for publishes from worker threads) and start reading Redis."""
        self._loop = asyncio.get_running_loop()
        if self._redis_url:
            import redis.asyncio as aioredis  # lazy: a third-party client needed only with REDIS_URL

            self._redis = aioredis.from_url(self._redis_url)
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._channel)
            self._reader = asyncio.create_task(self._read(pubsub))

    async def stop(self) -> None:
        """Stop reading and close the Redis connection."""
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        if self._redis is not None:
            await self._redis.aclose()

    async def _read(self, pubsub) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception:
                log.warning("live bus: Redis read failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message and message.get("type") == "message":
                try:
                    self._deliver(json.loads(message["data"]))
                except ValueError:
                    log.warning("live bus: dropped a malformed event")

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stuck console: it refetches when it catches up
                log.warning("live bus: a subscriber is full, event dropped for it")

    async def publish(self, event: dict[str, Any]) -> None:
        """Send an event to every subscriber of every process."""
        if self._redis is not None:
            await self._redis.publish(self._channel, json.dumps(event, ensure_ascii=False, default=str))
        else:
            self._deliver(event)

    def publish_soon(self, event: dict[str, Any]) -> None:
        """Publish from synchronous code (a route in the thread pool or the loop itself)."""
        if self._loop is None or self._loop.is_closed():
            return  # not started (a CLI or a small test app): nobody is listening
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._loop.create_task(self.publish(event))
        else:
            asyncio.run_coroutine_threadsafe(self.publish(event), self._loop)

    def subscribe(self) -> asyncio.Queue:
        """A queue that receives every event from now on."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop receiving on `queue`."""
        self._subscribers.discard(queue)


async def forward_to_customers(bus: LiveBus, connections) -> None:
    """Push "customer" events to the chat sockets this process holds (run as a task)."""
    queue = bus.subscribe()
    try:
        while True:
            event = await queue.get()
            if event.get("topic") == "customer":
                await connections.push(event["sender_id"], event["frame"])
    finally:
        bus.unsubscribe(queue)
