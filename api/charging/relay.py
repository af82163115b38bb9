"""Commands to chargers connected to another API process, over the live bus (Redis).

A charger keeps one WebSocket to one API process. A command decided on another process — a customer
cancelling a booking through the bot, an operator on the charging page, an orderly-charging plan — is
published as {"topic": "ocpp", "type": "command", ...}; the process holding the charger sends it and
publishes the charger's answer back ({"type": "result"}). The first answer counts. When no process
answers within the timeout the charger is offline (Conflict "charger_offline"), as it is at once when
the bus does not cross processes (no Redis: this process is the only one).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ocpp.v16 import call

from api.core.errors import Conflict, DomainError

log = logging.getLogger(__name__)

OFFLINE = ("charger_offline", "充电桩当前不在线")
COMMANDS = frozenset({"RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "CancelReservation",
                      "SetChargingProfile", "ChangeAvailability"})  # what a central system sends


class Bus(Protocol):
    """The live bus (api.conversations.live.LiveBus): events to every process when `shared`."""

    @property
    def shared(self) -> bool: ...

    async def publish(self, event: dict[str, Any]) -> None: ...

    def subscribe(self) -> asyncio.Queue: ...

    def unsubscribe(self, queue: asyncio.Queue) -> None: ...


Holder = Callable[[str], bool]  # is this charger connected to this process?
Sender = Callable[[str, Any], Awaitable[str]]  # send a payload to a charger connected here: its status


class CommandRelay:
    """Asks the process that holds a charger to send it a command, and answers such asks for this one."""

    def __init__(self, bus: Bus, *, timeout: float = 35.0):
        self.bus = bus
        self.timeout = timeout
        self._pending: dict[str, asyncio.Future] = {}

    async def ask(self, charge_point_id: str, payload: Any) -> str:
        """Send `payload` (an ocpp.v16.call dataclass) through whichever process holds the charger."""
        if not self.bus.shared:
            raise Conflict(*OFFLINE)
        ask_id = uuid.uuid4().hex
        answer = asyncio.get_running_loop().create_future()
        self._pending[ask_id] = answer
        try:
            await self.bus.publish({"topic": "ocpp", "type": "command", "id": ask_id,
                                    "charge_point_id": charge_point_id, "action": type(payload).__name__,
                                    "payload": dataclasses.asdict(payload)})
            return await asyncio.wait_for(answer, self.timeout)
        except asyncio.TimeoutError:
            raise Conflict(*OFFLINE) from None
        finally:
            self._pending.pop(ask_id, None)

    async def serve(self, holds: Holder, send: Sender) -> None:
        """Carry out commands for chargers this process holds; settle this process's own asks. Runs until
        cancelled."""
        queue = self.bus.subscribe()
        tasks: set[asyncio.Task] = set()
        try:
            while True:
                event = await queue.get()
                if event.get("topic") != "ocpp":
                    continue
                if event.get("type") == "command" and holds(str(event.get("charge_point_id"))):
                    task = asyncio.create_task(self._carry_out(event, send))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif event.get("type") == "result":
                    answer = self._pending.get(str(event.get("id")))
                    if answer is not None and not answer.done():
                        if event.get("error"):
                            answer.set_exception(Conflict(event["error"], event.get("message") or OFFLINE[1]))
                        else:
                            answer.set_result(str(event.get("status")))
        finally:
            self.bus.unsubscribe(queue)
            for task in tasks:
                task.cancel()

    async def _carry_out(self, event: dict[str, Any], send: Sender) -> None:
        result: dict[str, Any] = {"topic": "ocpp", "type": "result", "id": event.get("id")}
        try:
            if event.get("action") not in COMMANDS:
                raise Conflict("unknown_command", "不支持的充电桩指令")
            payload = getattr(call, str(event["action"]))(**event["payload"])
            result["status"] = await send(str(event["charge_point_id"]), payload)
        except DomainError as exc:
            result.update(error=exc.code, message=exc.message)
        except Exception as exc:  # noqa: BLE001 - the asking process gets an answer either way
            log.warning("relayed %s to %s failed: %s", event.get("action"), event.get("charge_point_id"), exc)
            result.update(error="charger_command_failed", message="充电桩没有响应，请稍后再试")
        await self.bus.publish(result)
