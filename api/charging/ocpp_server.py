"""The OCPP 1.6-J central system: one `CentralChargePoint` per connected charger, the registry of them, and
the commands the central system sends (remote start/stop, reservations, charging profiles, availability).

Transport-free: a connection is anything with `recv()`, `send(text)` and `close()` that raises
`ConnectionClosed` from `recv()` when the charger goes (routes.py adapts Starlette's WebSocket). Database
work runs in a thread with a session of its own; the database, not this process, holds every transaction,
so a charger that reconnects (here or to another API process) carries on with its transaction id.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from sqlalchemy.orm import Session, sessionmaker

from api.charging import queue, service
from api.charging.relay import CommandRelay
from api.charging.service import ENERGY, HEARTBEAT_SECONDS, Sample
from api.core.errors import Conflict
from api.core.time import UTC, utcnow

log = logging.getLogger(__name__)
SUBPROTOCOL = "ocpp1.6"
REFUSED_PAUSE = timedelta(minutes=5)  # a connector that would not reserve is not offered again for this long
SEEN_EVERY = timedelta(minutes=1)  # how often a charger's "heard from" time is written
JOIN_WAIT_SECONDS = 5.0  # how long joining waits for the charger's reservation before a notice takes over


class ConnectionClosed(Exception):
    """The charger's connection ended."""


class Connection(Protocol):
    """What the central system needs of a charger's connection."""

    async def recv(self) -> str:
        """The next message; raises ConnectionClosed when the charger has gone."""

    async def send(self, message: str) -> None:
        """Send one message."""

    async def close(self) -> None:
        """Close the connection (a newer one of the same charger replaces it)."""


def ocpp_time(at: datetime) -> str:
    """An OCPP timestamp: UTC, milliseconds, 'Z'."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def samples_from(meter_value: list[dict] | None, *, default: datetime) -> list[Sample]:
    """OCPP meterValue elements (snake_case keys) as samples; unreadable values are skipped."""
    samples = []
    for element in meter_value or []:
        ts = service.parse_time(element.get("timestamp"), default=default)
        for sampled in element.get("sampled_value") or []:
            if sampled.get("format") == "SignedData":
                continue
            try:
                value = Decimal(str(sampled.get("value")))
            except (InvalidOperation, ValueError):
                continue
            measurand = sampled.get("measurand") or ENERGY
            unit = sampled.get("unit") or ("Percent" if measurand == service.SOC else "Wh")
            samples.append(Sample(ts=ts, measurand=measurand, value=value, unit=unit))
    return samples


class CentralChargePoint(OcppChargePoint):
    """The central system's side of one charger's connection: answers what the charger sends."""

    def __init__(self, charge_point_id: str, connection: Connection, *, central: CentralSystem):
        super().__init__(charge_point_id, connection, response_timeout=central.response_timeout)
        self.central = central

    async def route_message(self, raw_msg):
        """Every message says the charger is alive and connected here (see CentralSystem.saw)."""
        self.central.saw(self.id)
        return await super().route_message(raw_msg)

    async def _db(self, fn: Callable[..., Any], **kwargs) -> Any:
        return await asyncio.to_thread(self.central.run, fn, **kwargs)

    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        now = self.central.clock()
        await self._db(service.record_boot, charge_point_id=self.id, vendor=charge_point_vendor,
                       model=charge_point_model, now=now,
                       serial_number=kwargs.get("charge_point_serial_number"),
                       firmware_version=kwargs.get("firmware_version"))
        return call_result.BootNotification(current_time=ocpp_time(now), interval=self.central.heartbeat_seconds,
                                            status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self, **kwargs):
        now = self.central.clock()
        await self._db(service.record_heartbeat, charge_point_id=self.id, now=now)
        return call_result.Heartbeat(current_time=ocpp_time(now))

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs):
        now = self.central.clock()
        info = kwargs.get("info") or kwargs.get("vendor_error_code")
        newly_faulted = await self._db(service.record_status, charge_point_id=self.id, connector_no=connector_id,
                                       status=status, error_code=error_code, info=info,
                                       at=service.parse_time(kwargs.get("timestamp"), default=now))
        if newly_faulted and self.central.on_fault is not None:
            try:  # a repair ticket; the charger's answer does not wait on it failing
                await asyncio.to_thread(self.central.on_fault, charge_point_id=self.id, connector_no=connector_id,
                                        error_code=error_code, info=info, now=now)
            except Exception:
                log.exception("charger fault ticket for %s/%s failed", self.id, connector_id)
        if status == "Available":  # the next in line may be called to it (after this answer: it sends ReserveNow)
            self.central.later(self.central.serve_queue_of(self.id))
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **kwargs):
        status = await self._db(service.authorize, id_tag=id_tag, now=self.central.clock())
        return call_result.Authorize(id_tag_info={"status": status})

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                                   **kwargs):
        now = self.central.clock()
        result = await self._db(service.start_transaction, charge_point_id=self.id, connector_no=connector_id,
                                id_tag=id_tag, meter_start=meter_start,
                                started_at=service.parse_time(timestamp, default=now), now=now,
                                reservation_id=kwargs.get("reservation_id"))
        if result.status == "Accepted":
            self.central.later(self.central.queue_served(result.transaction_id, kwargs.get("reservation_id")))
            self.central.session_changed(self.id)
        return call_result.StartTransaction(transaction_id=result.transaction_id,
                                            id_tag_info={"status": result.status})

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        transaction_id = kwargs.get("transaction_id")
        if transaction_id is not None:
            samples = samples_from(meter_value, default=self.central.clock())
            await self._db(service.store_meter_values, charge_point_id=self.id, transaction_id=transaction_id,
                           samples=samples)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs):
        now = self.central.clock()
        await self._db(service.stop_transaction, charge_point_id=self.id, transaction_id=transaction_id,
                       meter_stop=meter_stop, stopped_at=service.parse_time(timestamp, default=now),
                       reason=kwargs.get("reason"),
                       samples=samples_from(kwargs.get("transaction_data"), default=now))
        finished = await self._db(queue.transaction_stopped, transaction_id=transaction_id, now=now)
        if finished is not None:
            self.central.tell_customer("done", finished)
        else:  # a session that did not come through the queue: its card's owner is told by the transaction
            self.central.tell_customer("ended", transaction_id)
        self.central.session_changed(self.id)
        id_tag = kwargs.get("id_tag")
        if id_tag is None:
            return call_result.StopTransaction()
        status = await self._db(service.authorize, id_tag=id_tag, now=now)
        return call_result.StopTransaction(id_tag_info={"status": status})


class CentralSystem:
    """The chargers connected to this process, and the commands the central system sends them."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], clock: Callable[[], datetime] = utcnow,
                 heartbeat_seconds: int = HEARTBEAT_SECONDS, response_timeout: float = 30,
                 on_fault: Callable[..., Any] | None = None,
                 on_session_change: Callable[[str], Awaitable[None]] | None = None,
                 on_queue_event: Callable[[str, int], Any] | None = None, relay: CommandRelay | None = None):
        self.sessionmaker = sessionmaker
        self.relay = relay  # commands to chargers held by other API processes (None: this process only)
        # (called | expired | done, queue entry id) or (ended, transaction id): the customer is told
        self.on_queue_event = on_queue_event
        self.on_fault = on_fault  # a charger turned Faulted: (charge_point_id, connector_no, error_code, info, now)
        self.on_session_change = on_session_change  # a session started or stopped at a charger (orderly charging)
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self.response_timeout = response_timeout
        self.connected: dict[str, CentralChargePoint] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._locks_by_key: dict[tuple, asyncio.Lock] = {}
        self._refused: dict[int, datetime] = {}  # connector id → until when it is not offered again
        self._seen: dict[str, datetime] = {}  # charge point id → when its being heard from was last stored
        self._answering: set[int] = set()  # queue entries whose callers are told in the answer to joining

    def run(self, fn: Callable[..., Any], **kwargs) -> Any:
        """Call a service function with a session of its own (in a worker thread)."""
        with self.sessionmaker() as session:
            return fn(session=session, **kwargs)

    async def authenticate(self, charge_point_id: str, secret: str) -> bool:
        """Whether the charger's Basic-auth credentials are right."""
        return await asyncio.to_thread(self.run, service.authenticate, charge_point_id=charge_point_id,
                                       secret=secret)

    async def serve(self, charge_point_id: str, connection: Connection) -> None:
        """Answer one authenticated charger until it goes; a newer connection of it replaces an older one."""
        charger = CentralChargePoint(charge_point_id, connection, central=self)
        lock = self._locks.setdefault(charge_point_id, asyncio.Lock())  # the stored flag follows the registry
        async with lock:
            previous = self.connected.get(charge_point_id)
            self.connected[charge_point_id] = charger
            if previous is not None:
                await previous._connection.close()
            await asyncio.to_thread(self.run, service.set_connected, charge_point_id=charge_point_id,
                                    connected=True)
        try:
            await charger.start()
        except ConnectionClosed:
            pass
        finally:
            async with lock:
                if self.connected.get(charge_point_id) is charger:
                    del self.connected[charge_point_id]
                    await asyncio.to_thread(self.run, service.set_connected, charge_point_id=charge_point_id,
                                            connected=False)

    def saw(self, charge_point_id: str) -> None:
        """Note (at most once a minute per charger) that it was heard from: a busy charger sending meter values
        needs no heartbeat, and the stored flag follows the process that has it now."""
        now = self.clock()
        last = self._seen.get(charge_point_id)
        if last is not None and now - last < SEEN_EVERY:
            return
        self._seen[charge_point_id] = now
        self.later(asyncio.to_thread(self.run, service.record_seen, charge_point_id=charge_point_id, now=now))

    def later(self, work) -> None:
        """Run a coroutine after the current message is answered (a charger waits for our answer before it
        reads our own requests, so a command to it cannot be awaited inside its message's handler)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def lock_for(self, *key) -> asyncio.Lock:
        """One lock per key (a station's queue, an area's plan): its work runs one at a time in this process."""
        return self._locks_by_key.setdefault(key, asyncio.Lock())

    def session_changed(self, charge_point_id: str) -> None:
        """A session started or stopped: the area's charging is re-planned after the charger has its answer."""
        if self.on_session_change is not None:
            self.later(self.on_session_change(charge_point_id))

    # ------------------------------------------------------------ the queue (rules in queue.py)

    async def serve_queue(self, station_id: int) -> None:
        """Call the next in line to each free connector of a station with a reservation (ReserveNow); a charger
        that will not reserve puts the entry back in line, keeping its place. Only chargers connected to this
        process are offered (the others' processes serve them)."""
        async with self.lock_for("queue", station_id):  # one caller per station at a time
            await self._serve_queue(station_id)

    async def join_answered(self, station_id: int, entry_id: int, *, wait_seconds: float = JOIN_WAIT_SECONDS) -> None:
        """Serve the queue for a customer who just joined, waiting at most `wait_seconds` for the charger's
        reservation: a slow charger must not outlast the caller (the bot waits 8 s). Until then any pass that
        calls this entry (this one, or one a charger's status started) leaves the telling to the answer; past
        that the reservation goes on, and if it is made the customer is told by a notice instead."""
        self._answering.add(entry_id)
        serving = asyncio.ensure_future(self.serve_queue(station_id))
        self._tasks.add(serving)
        serving.add_done_callback(self._tasks.discard)
        try:
            await asyncio.wait_for(asyncio.shield(serving), wait_seconds)
        except asyncio.TimeoutError:
            pass
        finally:
            self._answering.discard(entry_id)

    async def _serve_queue(self, station_id: int) -> None:
        now = self.clock()
        self._refused = {c: until for c, until in self._refused.items() if until > now}
        offers = await asyncio.to_thread(self.run, queue.call_next, station_id=station_id, now=now,
                                         skip=frozenset(self._refused), local=frozenset(self.connected))
        for offer in offers:
            try:
                status = await self.reserve_now(offer.charge_point_id, connector_no=offer.connector_no,
                                                expiry=offer.expiry, id_tag=offer.id_tag,
                                                reservation_id=offer.entry_id)
            except Exception as error:  # noqa: BLE001 — offline, timed out, the connection dropped, a bad answer
                log.info("ReserveNow for queue entry %s at %s failed: %r", offer.entry_id, offer.charge_point_id,
                         error)
                status = "Rejected"
            if status != "Accepted":
                log.info("charger %s did not reserve for queue entry %s: %s", offer.charge_point_id,
                         offer.entry_id, status)
                self._refused[offer.connector_id] = now + REFUSED_PAUSE  # the next pass offers another connector
                await asyncio.to_thread(self.run, queue.offer_refused, entry_id=offer.entry_id)
            elif offer.entry_id not in self._answering:
                self.tell_customer("called", offer.entry_id)

    def tell_customer(self, event: str, entry_id: int) -> None:
        """A queue event the customer hears about (their turn, a missed window, a finished session), after
        the current message is answered; a failure is logged, never the charger's problem."""
        if self.on_queue_event is None:
            return

        async def tell() -> None:
            try:
                await asyncio.to_thread(self.on_queue_event, event, entry_id)
            except Exception:
                log.exception("queue notice %s for entry %s failed", event, entry_id)
        self.later(tell())

    async def serve_queue_of(self, charge_point_id: str) -> None:
        """Serve the queue of a charger's station."""
        try:
            station_id = await asyncio.to_thread(self.run, queue.station_of, charge_point_id=charge_point_id)
            await self.serve_queue(station_id)
        except Exception:
            log.exception("serving the queue at %s failed", charge_point_id)

    async def release(self, release: queue.Release) -> None:
        """Cancel a reservation nobody will use (a charger offline has it expire on its own)."""
        try:
            await self.cancel_reservation(release.charge_point_id, reservation_id=release.entry_id)
        except Exception as error:  # noqa: BLE001 — offline, timed out, the connection dropped
            log.info("reservation %s at %s left to expire on the charger: %r", release.entry_id,
                     release.charge_point_id, error)

    async def queue_served(self, transaction_id: int, reservation_id: int | None) -> None:
        """A session started: its queue entry is served; a connector held for it elsewhere is released."""
        try:
            released = await asyncio.to_thread(self.run, queue.transaction_started, transaction_id=transaction_id,
                                               reservation_id=reservation_id)
            if released is not None:
                await self.release(released)
                await self.serve_queue(released.station_id)
        except Exception:
            log.exception("queue update for transaction %s failed", transaction_id)

    async def expire_queue(self) -> None:
        """Called customers past their window lose their turn; the next in line is called, and so are bookings
        whose time has come."""
        releases = await asyncio.to_thread(self.run, queue.expire, now=self.clock())
        for released in releases:
            self.tell_customer("expired", released.entry_id)
            await self.release(released)
        for station_id in await asyncio.to_thread(self.run, queue.stations_with_waiting, now=self.clock()):
            await self.serve_queue(station_id)

    async def run_queue_jobs(self, every_seconds: float = 30) -> None:
        """The queue's clock: windows expire and the next in line is called, every `every_seconds`."""
        while True:
            try:
                await self.expire_queue()
            except Exception:
                log.exception("charging queue pass failed")
            await asyncio.sleep(every_seconds)

    async def serve_relayed(self) -> None:
        """Carry out other processes' commands for the chargers connected here (runs until cancelled)."""
        if self.relay is not None:
            await self.relay.serve(self.is_connected, self._send_here)

    def is_connected(self, charge_point_id: str) -> bool:
        """The charger is connected to this process."""
        return charge_point_id in self.connected

    async def _call(self, charge_point_id: str, payload) -> str:
        """Send a command to the charger, here or (through the relay) on the process that holds it."""
        if charge_point_id not in self.connected and self.relay is not None and await asyncio.to_thread(
                self.run, service.online_somewhere, charge_point_id=charge_point_id, now=self.clock()):
            return await self.relay.ask(charge_point_id, payload)
        return await self._send_here(charge_point_id, payload)  # here, or offline at once

    async def _send_here(self, charge_point_id: str, payload) -> str:
        charger = self.connected.get(charge_point_id)
        if charger is None:
            raise Conflict("charger_offline", "充电桩当前不在线")
        result = await charger.call(payload)
        return "Rejected" if result is None else str(result.status)  # None: the charger answered a CallError

    async def remote_start(self, charge_point_id: str, *, id_tag: str, connector_no: int | None = None,
                           charging_profile: dict | None = None) -> str:
        """Ask a charger to start charging for an id tag (RemoteStartTransaction): Accepted or Rejected."""
        return await self._call(charge_point_id, call.RemoteStartTransaction(
            id_tag=id_tag, connector_id=connector_no, charging_profile=charging_profile))

    async def remote_stop(self, charge_point_id: str, *, transaction_id: int) -> str:
        """Ask a charger to stop a transaction (RemoteStopTransaction)."""
        return await self._call(charge_point_id, call.RemoteStopTransaction(transaction_id=transaction_id))

    async def reserve_now(self, charge_point_id: str, *, connector_no: int, expiry: datetime, id_tag: str,
                          reservation_id: int) -> str:
        """Reserve a connector for an id tag until `expiry` (ReserveNow): Accepted, Faulted, Occupied, …"""
        return await self._call(charge_point_id, call.ReserveNow(
            connector_id=connector_no, expiry_date=ocpp_time(expiry), id_tag=id_tag, reservation_id=reservation_id))

    async def cancel_reservation(self, charge_point_id: str, *, reservation_id: int) -> str:
        """Cancel a reservation (CancelReservation): Accepted or Rejected."""
        return await self._call(charge_point_id, call.CancelReservation(reservation_id=reservation_id))

    async def set_charging_profile(self, charge_point_id: str, *, connector_no: int,
                                   periods: list[tuple[int, Decimal | float]], profile_id: int = 1,
                                   stack_level: int = 0, purpose: str = "TxProfile",
                                   transaction_id: int | None = None, start: datetime | None = None) -> str:
        """Limit a connector's power (SetChargingProfile): periods are (seconds from the start, limit in kW)."""
        schedule: dict[str, Any] = {
            "charging_rate_unit": "W",
            "charging_schedule_period": [{"start_period": int(offset), "limit": float(round(Decimal(str(kw)) * 1000, 1))}
                                         for offset, kw in periods]}
        kind = "Relative"
        if start is not None:
            schedule["start_schedule"], kind = ocpp_time(start), "Absolute"
        profile: dict[str, Any] = {"charging_profile_id": profile_id, "stack_level": stack_level,
                                   "charging_profile_purpose": purpose, "charging_profile_kind": kind,
                                   "charging_schedule": schedule}
        if transaction_id is not None:
            profile["transaction_id"] = transaction_id
        return await self._call(charge_point_id, call.SetChargingProfile(connector_id=connector_no,
                                                                         cs_charging_profiles=profile))

    async def change_availability(self, charge_point_id: str, *, connector_no: int, operative: bool) -> str:
        """Take a connector (0: the whole charger) out of or back into service: Accepted, Rejected or Scheduled."""
        return await self._call(charge_point_id, call.ChangeAvailability(
            connector_id=connector_no, type="Operative" if operative else "Inoperative"))
