"""Simulated OCPP 1.6-J chargers (the `ocpp` package, client side) for the demo, tests and benchmarks.

A `SimulatedCharger` connects with its Basic-auth credentials, boots, reports status and plays sessions:
a `Car` with a battery whose charging curve tapers above 80 % state of charge, meter values (energy
register in Wh, power in W, SoC in %) every sample, faults, and drops of the connection during which
transaction messages are queued and sent after it reconnects. Time is compressible: each sample stands
for `sample_seconds` of charging whatever the real wait between samples (`meter_interval`).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from api.core.time import UTC

log = logging.getLogger(__name__)
SUBPROTOCOL = "ocpp1.6"
TAPER_FROM = 0.8  # state of charge above which the car takes less and less power
DEMO_ID_TAGS = tuple(f"DEMO{n:04d}" for n in range(1, 41))  # the demo's charging cards (api/demo/charging.py)
DEMO_CHARGE_POINT_PREFIX = "GY-CP"
MAX_HELD_SECONDS = 4 * 3600  # a car held at 0 kW by orderly charging leaves after this long


@dataclass
class Car:
    """An electric car plugged in: battery size, state of charge (0-1), the most power it accepts."""

    battery_kwh: float = 60.0
    soc: float = 0.3
    max_kw: float = 120.0
    target_soc: float = 0.9

    def accepts_kw(self) -> float:
        """The power the car takes at its state of charge: full up to 80 %, tapering to a tenth at 100 %."""
        if self.soc >= 1.0:
            return 0.0
        if self.soc <= TAPER_FROM:
            return self.max_kw
        return self.max_kw * max(0.1, (1.0 - self.soc) / (1.0 - TAPER_FROM))

    def charge(self, kwh: float) -> None:
        self.soc = min(1.0, self.soc + kwh / self.battery_kwh)


@dataclass
class Session:
    """A transaction the simulator is playing."""

    transaction_id: int
    connector_no: int
    id_tag: str
    car: Car
    meter_start: int
    meter_now: int
    samples: int = 0
    held_samples: int = 0  # samples at a 0 kW limit from the central system
    stop_requested: bool = False
    id_tag_status: str = "Accepted"


def basic_auth(user: str, password: str) -> str:
    """An `Authorization` header value for HTTP Basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class _ClientChargePoint(OcppChargePoint):
    """The charger's side of the protocol: answers what the central system asks."""

    def __init__(self, charge_point_id: str, connection, *, charger: SimulatedCharger):
        super().__init__(charge_point_id, connection, response_timeout=charger.response_timeout)
        self.charger = charger

    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, **kwargs):
        self.charger.received.append(("RemoteStartTransaction", {"id_tag": id_tag, **kwargs}))
        connector_no = kwargs.get("connector_id") or 1
        free = self.charger.status_of.get(connector_no) in ("Available", "Preparing", "Reserved")
        if free:
            self.charger.remote_starts.put_nowait((connector_no, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted" if free else "Rejected")

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **kwargs):
        self.charger.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        session = self.charger.session_of(transaction_id)
        if session is not None:
            session.stop_requested = True
        return call_result.RemoteStopTransaction(status="Accepted" if session else "Rejected")

    @on(Action.reserve_now)
    async def on_reserve_now(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **kwargs):
        if self.charger.reserve_delay:
            await asyncio.sleep(self.charger.reserve_delay)
        self.charger.received.append(("ReserveNow", {"connector_id": connector_id, "expiry_date": expiry_date,
                                                     "id_tag": id_tag, "reservation_id": reservation_id}))
        status = self.charger.status_of.get(connector_id)
        if status == "Faulted":
            return call_result.ReserveNow(status="Faulted")
        if status == "Unavailable":
            return call_result.ReserveNow(status="Unavailable")
        if status != "Available":
            return call_result.ReserveNow(status="Occupied")
        self.charger.reservations[reservation_id] = connector_id
        return call_result.ReserveNow(status="Accepted")

    @after(Action.reserve_now)
    async def after_reserve_now(self, connector_id: int, reservation_id: int, **kwargs):
        if self.charger.reservations.get(reservation_id) == connector_id:
            await self.charger.status(connector_id, "Reserved")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **kwargs):
        self.charger.received.append(("CancelReservation", {"reservation_id": reservation_id}))
        known = reservation_id in self.charger.reservations
        return call_result.CancelReservation(status="Accepted" if known else "Rejected")

    @after(Action.cancel_reservation)
    async def after_cancel_reservation(self, reservation_id: int, **kwargs):
        connector_no = self.charger.reservations.pop(reservation_id, None)
        if connector_no is not None and self.charger.status_of.get(connector_no) == "Reserved":
            await self.charger.status(connector_no, "Available")

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict, **kwargs):
        self.charger.received.append(("SetChargingProfile", {"connector_id": connector_id,
                                                             "cs_charging_profiles": cs_charging_profiles}))
        self.charger.limits[connector_id] = limit_kw(cs_charging_profiles)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **kwargs):
        self.charger.received.append(("ChangeAvailability", {"connector_id": connector_id, "type": type}))
        return call_result.ChangeAvailability(status="Accepted")

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str, **kwargs):
        targets = list(self.charger.status_of) if connector_id == 0 else [connector_id]
        for connector_no in targets:
            if type == "Inoperative" and self.charger.status_of.get(connector_no) == "Available":
                await self.charger.status(connector_no, "Unavailable")
            elif type == "Operative" and self.charger.status_of.get(connector_no) == "Unavailable":
                await self.charger.status(connector_no, "Available")


def limit_kw(profile: dict) -> float | None:
    """The first period's limit of a charging profile in kW (W as sent; A taken as three-phase 230 V)."""
    schedule = profile.get("charging_schedule") or {}
    periods = schedule.get("charging_schedule_period") or []
    if not periods:
        return None
    limit = float(periods[0]["limit"])
    if schedule.get("charging_rate_unit") == "A":
        return limit * 230 * int(periods[0].get("number_phases") or 3) / 1000
    return limit / 1000


class SimulatedCharger:
    """One simulated charger: connects, boots, reports status and plays charging sessions."""

    def __init__(self, url: str, charge_point_id: str, secret: str, *,
                 connectors: list[tuple[str, float]] | None = None, meter_interval: float = 10.0,
                 sample_seconds: float = 60.0, meter_start_wh: int = 1_000_000, vendor: str = "Zhidian",
                 model: str = "SIM-60", response_timeout: float = 30):
        self.url = url.rstrip("/")
        self.charge_point_id = charge_point_id
        self.secret = secret
        self.connectors = connectors or [("DC", 60.0)]
        self.meter_interval = meter_interval  # real seconds between samples
        self.sample_seconds = sample_seconds  # charging time each sample stands for
        self.vendor, self.model = vendor, model
        self.response_timeout = response_timeout
        self.registers = {n: meter_start_wh + 100_000 * (n - 1) for n in range(1, len(self.connectors) + 1)}
        self.status_of: dict[int, str] = {n: "Unavailable" for n in self.registers}
        self.limits: dict[int, float | None] = {}
        self.reservations: dict[int, int] = {}
        self.sessions: dict[int, Session] = {}  # by connector
        self.received: list[tuple[str, dict]] = []  # what the central system sent, for tests
        self.remote_starts: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self.outbox: list[Any] = []  # transaction messages kept while offline
        self.heartbeat_seconds = 300
        self.reserve_delay = 0.0  # seconds before answering ReserveNow (a slow charger, a poor 4G link)
        self._ws = self._connection = None
        self._cp: _ClientChargePoint | None = None
        self._reader: asyncio.Task | None = None
        self._last_ts: datetime | None = None
        self._last_meter_values: Any = None

    # ------------------------------------------------------------ connection

    @property
    def online(self) -> bool:
        return self._cp is not None

    async def connect(self) -> None:
        """Open the WebSocket with Basic auth; raises websockets' InvalidStatus (403) when refused."""
        self._ws = await websockets.connect(
            f"{self.url}/{self.charge_point_id}", subprotocols=[SUBPROTOCOL], proxy=None, open_timeout=10,
            additional_headers={"Authorization": basic_auth(self.charge_point_id, self.secret)})
        self.attach(self._ws)

    def attach(self, connection) -> None:
        """Speak OCPP over an open connection (anything with recv() and send(text); tests use in-memory pipes)."""
        self._connection = connection
        self._cp = _ClientChargePoint(self.charge_point_id, connection, charger=self)
        self._reader = asyncio.create_task(self._cp.start())

    async def disconnect(self) -> None:
        """Drop the connection (a cut network, a restart of the router)."""
        cp, self._cp = self._cp, None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._ws = self._connection = None
        del cp

    async def reconnect(self, *, resend_last: bool = True) -> None:
        """Connect again and send what was queued offline (first the last MeterValues, whose answer was lost)."""
        await self.connect()
        if resend_last and self._last_meter_values is not None:
            await self._call(self._last_meter_values)
        await self.flush()

    async def flush(self) -> None:
        """Send the transaction messages queued while offline, in order."""
        while self.outbox and self.online:
            await self._call(self.outbox.pop(0))

    async def _call(self, payload):
        if self._cp is None:
            raise ConnectionError(f"{self.charge_point_id} is offline")
        return await self._cp.call(payload)

    async def _send_or_queue(self, payload):
        """Transaction messages: sent when online, queued while offline (OCPP 1.6 §4.7)."""
        if not self.online:
            self.outbox.append(payload)
            return None
        return await self._call(payload)

    def now(self) -> datetime:
        """Wall-clock time, strictly increasing per charger (milliseconds, so every sample has its own)."""
        at = datetime.now(UTC)
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if self._last_ts is not None and at <= self._last_ts:
            at = self._last_ts + timedelta(milliseconds=1)
        self._last_ts = at
        return at

    def stamp(self) -> str:
        return self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # ------------------------------------------------------------ messages

    async def boot(self) -> str:
        """BootNotification: the registration status (and the heartbeat interval kept)."""
        result = await self._call(call.BootNotification(charge_point_model=self.model,
                                                        charge_point_vendor=self.vendor,
                                                        charge_point_serial_number=self.charge_point_id[-25:],
                                                        firmware_version="sim-1.0"))
        self.heartbeat_seconds = int(result.interval) or self.heartbeat_seconds
        return str(result.status)

    async def heartbeat(self) -> str:
        """Heartbeat: the central system's time."""
        return (await self._call(call.Heartbeat())).current_time

    async def status(self, connector_no: int, status: str, error_code: str = "NoError",
                     info: str | None = None) -> None:
        """StatusNotification (skipped while offline: the state is reported again after reconnecting)."""
        self.status_of[connector_no] = status
        if self.online:
            await self._call(call.StatusNotification(connector_id=connector_no, error_code=error_code,
                                                     status=status, timestamp=self.stamp(), info=info))

    async def available(self) -> None:
        """Every connector Available (after boot)."""
        for connector_no in self.registers:
            await self.status(connector_no, "Available")

    async def fault(self, connector_no: int, error_code: str = "GroundFailure", info: str | None = None) -> None:
        """The connector reports a fault: StatusNotification Faulted with its error code."""
        await self.status(connector_no, "Faulted", error_code=error_code, info=info)

    async def authorize(self, id_tag: str) -> str:
        return str((await self._call(call.Authorize(id_tag=id_tag))).id_tag_info["status"])

    def session_of(self, transaction_id: int) -> Session | None:
        return next((s for s in self.sessions.values() if s.transaction_id == transaction_id), None)

    async def start_transaction(self, car: Car, *, id_tag: str, connector_no: int = 1,
                                reservation_id: int | None = None) -> Session:
        """Plug in, authorize and start: Preparing → StartTransaction → Charging."""
        await self.status(connector_no, "Preparing")
        await self.authorize(id_tag)
        meter_start = self.registers[connector_no]
        result = await self._call(call.StartTransaction(connector_id=connector_no, id_tag=id_tag,
                                                        meter_start=meter_start, timestamp=self.stamp(),
                                                        reservation_id=reservation_id))
        session = Session(transaction_id=result.transaction_id, connector_no=connector_no, id_tag=id_tag, car=car,
                          meter_start=meter_start, meter_now=meter_start,
                          id_tag_status=str(result.id_tag_info["status"]))
        self.sessions[connector_no] = session
        if reservation_id is not None:
            self.reservations.pop(reservation_id, None)
        await self.status(connector_no, "Charging")
        return session

    def power_kw(self, session: Session) -> float:
        """What flows now: the least of the connector's rating, the central system's limit and what the car takes."""
        rated = self.connectors[session.connector_no - 1][1]
        limit = self.limits.get(session.connector_no)
        offered = rated if limit is None else min(rated, limit)
        return max(0.0, min(offered, session.car.accepts_kw()))

    async def sample(self, session: Session) -> None:
        """One meter sample: `sample_seconds` of charging, then MeterValues (queued while offline)."""
        power = self.power_kw(session)
        wh = round(power * self.sample_seconds / 3.6)  # kW × s → Wh
        session.car.charge(wh / 1000)
        session.meter_now += wh
        self.registers[session.connector_no] = session.meter_now
        session.samples += 1
        session.held_samples += self.limits.get(session.connector_no) == 0
        payload = call.MeterValues(connector_id=session.connector_no, transaction_id=session.transaction_id,
                                   meter_value=[{"timestamp": self.stamp(), "sampled_value": [
                                       {"value": str(session.meter_now), "measurand": "Energy.Active.Import.Register",
                                        "unit": "Wh", "context": "Sample.Periodic"},
                                       {"value": f"{power * 1000:.0f}", "measurand": "Power.Active.Import",
                                        "unit": "W", "context": "Sample.Periodic"},
                                       {"value": f"{session.car.soc * 100:.1f}", "measurand": "SoC",
                                        "unit": "Percent", "context": "Sample.Periodic"}]}])
        if self.online:
            self._last_meter_values = payload
        await self._send_or_queue(payload)

    async def stop_transaction(self, session: Session, *, reason: str = "EVDisconnected") -> None:
        """StopTransaction with the register (queued while offline), then Finishing → Available."""
        await self._send_or_queue(call.StopTransaction(meter_stop=session.meter_now, timestamp=self.stamp(),
                                                       transaction_id=session.transaction_id, reason=reason,
                                                       id_tag=session.id_tag))
        self.sessions.pop(session.connector_no, None)
        self.limits.pop(session.connector_no, None)  # a TxProfile ends with its transaction
        await self.status(session.connector_no, "Finishing")
        await self.status(session.connector_no, "Available")

    def done(self, session: Session) -> bool:
        """The car is as full as asked (or takes nothing more), the central system asked to stop, or the car was
        held at 0 kW (orderly charging, an area with no room) for longer than its owner waits."""
        held = self.limits.get(session.connector_no) == 0
        waited_too_long = held and session.held_samples * self.sample_seconds >= MAX_HELD_SECONDS
        return (session.stop_requested or session.car.soc >= session.car.target_soc
                or session.car.accepts_kw() <= 0 or waited_too_long)

    async def charge(self, car: Car, *, id_tag: str, connector_no: int = 1, max_samples: int | None = None,
                     drop_after: int | None = None, offline_samples: int = 0) -> Session:
        """A whole session; optionally the connection drops after `drop_after` samples for `offline_samples`."""
        session = await self.start_transaction(car, id_tag=id_tag, connector_no=connector_no)
        while not self.done(session) and (max_samples is None or session.samples < max_samples):
            if drop_after is not None and session.samples == drop_after and self.online:
                await self.disconnect()
            if not self.online and session.samples >= (drop_after or 0) + offline_samples:
                await self.reconnect()
            await self.sample(session)
            if self.meter_interval:
                await asyncio.sleep(self.meter_interval)
        if not self.online:
            await self.reconnect()
        await self.stop_transaction(session, reason="Remote" if session.stop_requested else "EVDisconnected")
        return session

    async def close(self) -> None:
        await self.disconnect()


# ---------------------------------------------------------------- many chargers for the demo

@dataclass
class FleetOptions:
    """How `simulate-chargers` plays its chargers."""

    url: str
    count: int
    prefix: str = DEMO_CHARGE_POINT_PREFIX
    secret: str = ""
    meter_interval: float = 10.0
    speed: float = 30.0  # simulated seconds per real second
    seed: int = 7
    sessions: int = 0  # per charger; 0: until stopped
    fault_rate: float = 0.05  # chance a session ends in a fault
    drop_rate: float = 0.05  # chance the connection drops during a session
    id_tags: tuple[str, ...] = DEMO_ID_TAGS


def fleet_connectors(number: int) -> list[tuple[str, float]]:
    """The connectors of the fleet's charger `number` (the demo seeds its chargers the same way)."""
    return [[("DC", 120.0)], [("DC", 60.0)], [("AC", 7.0), ("AC", 7.0)], [("AC", 7.0), ("AC", 7.0)]][number % 4]


def fleet_charge_point_id(prefix: str, number: int) -> str:
    """The charge point id of the fleet's charger `number` (from 1)."""
    return f"{prefix}{number:03d}"


def random_car(rng: random.Random, kind: str) -> Car:
    """A car as the demo's drivers bring: 40-80 kWh, 10-60 % charged, wanting 80-100 %."""
    return Car(battery_kwh=rng.choice([40.0, 52.0, 60.0, 64.0, 78.0]), soc=rng.uniform(0.1, 0.6),
               max_kw=7.0 if kind == "AC" else rng.choice([60.0, 90.0, 120.0]),
               target_soc=rng.choice([0.8, 0.9, 1.0]))


async def play_charger(options: FleetOptions, number: int) -> None:
    """One charger of the fleet: connect (retrying), boot, heartbeat, and sessions with faults and drops."""
    rng = random.Random(options.seed * 100_003 + number)
    charge_point_id = fleet_charge_point_id(options.prefix, number)
    connectors = fleet_connectors(number)
    charger = SimulatedCharger(options.url, charge_point_id, options.secret, connectors=connectors,
                               meter_interval=options.meter_interval,
                               sample_seconds=options.meter_interval * options.speed,
                               meter_start_wh=rng.randrange(100_000, 5_000_000))
    while True:
        try:
            await charger.connect()
            break
        except OSError:
            await asyncio.sleep(5)
    await charger.boot()
    await charger.available()
    beat = asyncio.create_task(_heartbeats(charger))
    played = 0
    try:
        while options.sessions == 0 or played < options.sessions:
            await asyncio.sleep(rng.uniform(1, 20) * options.meter_interval)
            connector_no = rng.randrange(1, len(connectors) + 1)
            car = random_car(rng, connectors[connector_no - 1][0])
            drop = rng.random() < options.drop_rate
            if rng.random() < options.fault_rate:
                session = await charger.start_transaction(car, id_tag=rng.choice(options.id_tags),
                                                          connector_no=connector_no)
                for _ in range(rng.randrange(1, 5)):
                    await charger.sample(session)
                    await asyncio.sleep(options.meter_interval)
                await charger.fault(connector_no, rng.choice(["GroundFailure", "OverCurrentFailure",
                                                             "HighTemperature", "EVCommunicationError"]))
                await charger._send_or_queue(call.StopTransaction(
                    meter_stop=session.meter_now, timestamp=charger.stamp(), transaction_id=session.transaction_id,
                    reason="Other"))
                charger.sessions.pop(connector_no, None)
                await asyncio.sleep(rng.uniform(5, 30) * options.meter_interval)
                await charger.status(connector_no, "Available")
            else:
                await charger.charge(car, id_tag=rng.choice(options.id_tags), connector_no=connector_no,
                                     drop_after=rng.randrange(1, 6) if drop else None, offline_samples=2)
            played += 1
    finally:
        beat.cancel()
        await charger.close()


async def _heartbeats(charger: SimulatedCharger) -> None:
    while True:
        await asyncio.sleep(min(charger.heartbeat_seconds, 60))
        if charger.online:
            with contextlib.suppress(Exception):
                await charger.heartbeat()


async def simulate_fleet(options: FleetOptions) -> None:
    """Play `count` chargers at once until each has played its sessions (or forever)."""
    await asyncio.gather(*(play_charger(options, n) for n in range(1, options.count + 1)))
