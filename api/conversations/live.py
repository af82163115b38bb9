"""Live events between API processes: the agent console's updates and pushes to customers.

One process (embedded mode) delivers events to its own subscribers directly. With REDIS_URL set,
every event goes through a Redis pub/sub channel and every API process delivers what it reads
from there, so an agent on one replica sees a customer who is connected to another, and an
agent's message reaches the replica that holds the customer's socket.

Without Redis (down, restarting) the bus degrades to one process: an event Redis cannot take is
delivered to this process's own subscribers (an agent and a customer on the same replica still
see each other); the reader subscribes again once Redis answers, and events cross processes again.

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
PUBLISH_SECONDS = 2.0  # a Redis that does not answer by then counts as down for this event
RETRY_SECONDS = 1.0  # between attempts to read from Redis again


class LiveBus:
    """Publish/subscribe of live events, in process or through Redis."""

    def __init__(self, redis_url: str | None = None, channel: str = CHANNEL):
        self._redis_url = redis_url
        self._channel = channel
        self._subscribers: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis = None
        self._reader: asyncio.Task | None = None
        self._order = asyncio.Lock()  # FIFO: publishes leave in the order they were made

    @property
    def shared(self) -> bool:
        """Whether events cross processes (Redis)."""
        return self._redis_url is not None

    async def start(self) -> None:
        """Remember the loop (for publishes from worker threads) and start reading Redis."""
        self._loop = asyncio.get_running_loop()
        if self._redis_url:
            import redis.asyncio as aioredis  # lazy: a third-party client needed only with REDIS_URL

            self._redis = aioredis.from_url(self._redis_url, socket_connect_timeout=PUBLISH_SECONDS)
            self._reader = asyncio.create_task(self._read(await self._subscribe_or_none()))

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

    async def _subscribe_or_none(self):
        """Subscribed before start() returns, so nothing published right after is missed (None: Redis is
        down now, the reader keeps trying)."""
        pubsub = self._redis.pubsub()
        try:
            await asyncio.wait_for(pubsub.subscribe(self._channel), PUBLISH_SECONDS)
            return pubsub
        except Exception:  # noqa: BLE001 - Redis down at start: degrade, the reader retries
            log.warning("live bus: Redis unavailable at start, events stay in this process", exc_info=True)
            await _close_quietly(pubsub)
            return None

    async def _read(self, pubsub=None) -> None:
        """Deliver what every process publishes; after a Redis failure, subscribe again until it answers."""
        failing = pubsub is None
        while True:
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub()
                    await pubsub.subscribe(self._channel)
                    if failing:
                        log.warning("live bus: Redis is back, events cross processes again")
                    failing = False
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                if pubsub is not None:
                    await pubsub.aclose()
                raise
            except Exception:
                if not failing:
                    log.warning("live bus: Redis unavailable, events stay in this process", exc_info=True)
                failing = True
                if pubsub is not None:
                    await _close_quietly(pubsub)
                    pubsub = None
                await asyncio.sleep(RETRY_SECONDS)
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
        """Send an event to every subscriber of every process (of this one only while Redis is down).

        One at a time, in the order they were published: a console must see a customer's turn
        before the reply to it (concurrent Redis calls may overtake each other).
        """
        async with self._order:
            await self._publish(event)

    async def _publish(self, event: dict[str, Any]) -> None:
        if self._redis is not None:
            try:
                await asyncio.wait_for(self._redis.publish(
                    self._channel, json.dumps(event, ensure_ascii=False, default=str)), PUBLISH_SECONDS)
                return
            except Exception:  # noqa: BLE001 - any Redis failure: degrade, never fail the caller
                log.warning("live bus: Redis unavailable, %s event delivered in this process only",
                            event.get("topic"))
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


async def _close_quietly(pubsub) -> None:
    try:
        await pubsub.aclose()
    except Exception:  # noqa: BLE001 - its connection is already broken
        pass


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
