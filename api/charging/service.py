"""Charging rules: charger credentials, id tags, transactions, meter values stored once, energy and cost.

The OCPP central system (api/charging/ocpp_server.py) turns protocol messages into these calls; nothing
here knows about WebSockets or OCPP's JSON. Money in fen (Decimal prices, integer cost), energy in kWh.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.charging.models import ChargePoint, Connector, IdTag, MeterValue, Station, Transaction
from api.charging.schemas import ConnectorRead, StationRead, TransactionRead
from api.core.distance import haversine_km
from api.core.errors import Invalid, NotFound
from api.core.time import UTC, utcnow

log = logging.getLogger(__name__)

# Charger secrets are machine-made (OCPP 1.6 security: 16-40 characters); PBKDF2 with a per-charger salt
# keeps a leaked table from giving them away, at a cost small enough for a thousand chargers reconnecting.
HASH_ITERATIONS = 20_000
HEARTBEAT_SECONDS = 300  # the interval BootNotification gives chargers
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"
KINDS = ("AC", "DC")
STATUSES = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved",
            "Unavailable", "Faulted")
UNIT_WH = {"Wh": Decimal(1), "kWh": Decimal(1000)}
UNIT_KW = {"W": Decimal("0.001"), "kW": Decimal(1)}


@dataclass(frozen=True)
class Sample:
    """One sampled value of a charger's meter (what OCPP calls a sampledValue with its meterValue timestamp)."""

    ts: datetime
    measurand: str
    value: Decimal
    unit: str


@dataclass(frozen=True)
class StartResult:
    """What StartTransaction answers: the transaction id and the id tag's status."""

    transaction_id: int
    status: str


# ---------------------------------------------------------------- credentials

def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """The stored form of a charger's Basic-auth password."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches the stored hash (constant-time comparison)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        computed = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


_UNKNOWN = hash_secret("", salt=b"\0" * 16)  # verified against for unknown chargers: same time either way


def authenticate(*, session: Session, charge_point_id: str, secret: str) -> bool:
    """Whether a charger may connect: known, and its password matches (OCPP 1.6 security profile 1)."""
    stored = session.scalar(select(ChargePoint.secret_hash).where(ChargePoint.charge_point_id == charge_point_id))
    matches = verify_secret(secret, stored or _UNKNOWN)
    return stored is not None and matches


# ---------------------------------------------------------------- stations, chargers, id tags

def create_station(*, session: Session, code: str, name: str, district: str, address: str, lat: float, lon: float,
                   energy_fen_per_kwh: Decimal, service_fen_per_kwh: Decimal,
                   transformer_area_id: int | None = None) -> Station:
    """Add a charging station."""
    station = Station(code=code, name=name, district=district, address=address, lat=lat, lon=lon,
                      transformer_area_id=transformer_area_id, energy_fen_per_kwh=Decimal(energy_fen_per_kwh),
                      service_fen_per_kwh=Decimal(service_fen_per_kwh))
    session.add(station)
    session.commit()
    return station


def create_charge_point(*, session: Session, station_code: str, charge_point_id: str, secret: str,
                        connectors: Iterable[tuple[str, Decimal | int | float | str]],
                        salt: bytes | None = None) -> ChargePoint:
    """Add a charger with its connectors ((kind, rated kW) each, numbered from 1) and its credential."""
    station = session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise NotFound("station_not_found", "没有找到该充电站")
    if not 16 <= len(secret) <= 40:
        raise Invalid("weak_secret", "充电桩密钥长度应为16到40个字符")
    charger = ChargePoint(charge_point_id=charge_point_id, station_id=station.id, connected=False,
                          secret_hash=hash_secret(secret, salt=salt))
    for number, (kind, rated_kw) in enumerate(connectors, start=1):
        if kind not in KINDS:
            raise Invalid("bad_connector", "充电枪类型应为AC或DC")
        charger.connectors.append(Connector(connector_no=number, kind=kind, rated_kw=Decimal(str(rated_kw)),
                                            status="Unavailable", error_code="NoError"))
    session.add(charger)
    session.commit()
    return charger


def create_id_tag(*, session: Session, id_tag: str, account_no: str | None = None, status: str = "Accepted",
                  expires_at: datetime | None = None) -> IdTag:
    """Add a card or app token that may start charging."""
    tag = IdTag(id_tag=id_tag, account_no=account_no, status=status, expires_at=expires_at)
    session.add(tag)
    session.commit()
    return tag


def authorize(*, session: Session, id_tag: str, now: datetime) -> str:
    """The OCPP authorization status of an id tag: Accepted, Blocked, Expired or Invalid (unknown)."""
    tag = session.scalar(select(IdTag).where(IdTag.id_tag == id_tag))
    if tag is None:
        return "Invalid"
    if tag.expires_at is not None and tag.expires_at <= now:
        return "Expired"
    return tag.status


# ---------------------------------------------------------------- what chargers report

def _charger(session: Session, charge_point_id: str) -> ChargePoint:
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == charge_point_id))
    if charger is None:
        raise NotFound("charger_not_found", "没有找到该充电桩")
    return charger


def _connector(session: Session, charger: ChargePoint, connector_no: int) -> Connector:
    for connector in charger.connectors:
        if connector.connector_no == connector_no:
            return connector
    raise NotFound("connector_not_found", "没有找到该充电枪")


ONLINE_GRACE = timedelta(seconds=HEARTBEAT_SECONDS * 2.5)


def is_online(charger: ChargePoint, now: datetime) -> bool:
    """Connected, and heard from (any message) within 2.5 heartbeat intervals: the flag of a charger whose API
    process died without it saying goodbye goes stale on its own, whichever process looks."""
    seen = charger.last_heartbeat_at
    return charger.connected and (seen is None or seen >= now - ONLINE_GRACE)


def online_somewhere(*, session: Session, charge_point_id: str, now: datetime) -> bool:
    """Whether the charger is online on some API process (False for one we don't know)."""
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == charge_point_id))
    return charger is not None and is_online(charger, now)


def set_connected(*, session: Session, charge_point_id: str, connected: bool) -> None:
    """Mark a charger connected to (or gone from) the central system."""
    charger = _charger(session, charge_point_id)
    charger.connected = connected
    session.commit()


def record_boot(*, session: Session, charge_point_id: str, vendor: str, model: str, now: datetime,
                serial_number: str | None = None, firmware_version: str | None = None) -> None:
    """Keep what a charger said about itself at boot."""
    charger = _charger(session, charge_point_id)
    charger.vendor, charger.model = vendor[:32], model[:32]
    charger.serial_number = serial_number[:32] if serial_number else None
    charger.firmware_version = firmware_version
    charger.booted_at = charger.last_heartbeat_at = now
    session.commit()


def record_seen(*, session: Session, charge_point_id: str, now: datetime) -> None:
    """The charger sent something to this process: alive and connected (whatever another process that lost
    its old connection wrote meanwhile)."""
    charger = _charger(session, charge_point_id)
    charger.connected = True
    if charger.last_heartbeat_at is None or charger.last_heartbeat_at < now:
        charger.last_heartbeat_at = now
    session.commit()


def record_heartbeat(*, session: Session, charge_point_id: str, now: datetime) -> None:
    """The charger is alive."""
    _charger(session, charge_point_id).last_heartbeat_at = now
    session.commit()


def record_status(*, session: Session, charge_point_id: str, connector_no: int, status: str, error_code: str,
                  at: datetime, info: str | None = None) -> bool:
    """A StatusNotification: connector 0 is the whole charger; an older report than the stored one is ignored.
    True when the charger or connector has just become Faulted (a fault to repair, reported once)."""
    charger = _charger(session, charge_point_id)
    if connector_no == 0:
        newly = status == "Faulted" and charger.status != "Faulted"
        charger.status, charger.error_code = status, error_code
    else:
        connector = _connector(session, charger, connector_no)
        if connector.status_at is not None and at < connector.status_at:
            return False  # a report queued offline, older than what is known
        newly = status == "Faulted" and connector.status != "Faulted"
        connector.status, connector.error_code = status, error_code
        connector.info = info[:64] if info else None
        connector.status_at = at
    session.commit()
    return newly


@dataclass(frozen=True)
class ChargerPlace:
    """Where a charger stands, for a repair ticket."""

    station_code: str
    station_name: str
    district: str
    address: str
    lat: float
    lon: float
    transformer_area_id: int | None


def station_place(*, session: Session, station_code: str) -> ChargerPlace:
    """Where a station stands (NotFound for an unknown code)."""
    station = session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise NotFound("station_not_found", "没有找到该充电站")
    return ChargerPlace(station.code, station.name, station.district, station.address, station.lat, station.lon,
                        station.transformer_area_id)


def hold_station(*, session: Session, station_code: str) -> None:
    """Hold the station's row until the caller commits, so that "is a repair ticket open here? else open one"
    is decided once at a time per station across threads and processes (two chargers faulting at the same
    moment make one ticket): a row lock on PostgreSQL, the database's write lock on SQLite."""
    session.execute(update(Station).where(Station.code == station_code).values(code=Station.code))


def place_of(*, session: Session, charge_point_id: str) -> ChargerPlace:
    """The station of a charger."""
    station = session.get(Station, _charger(session, charge_point_id).station_id)
    return ChargerPlace(station.code, station.name, station.district, station.address, station.lat, station.lon,
                        station.transformer_area_id)


def start_transaction(*, session: Session, charge_point_id: str, connector_no: int, id_tag: str, meter_start: int,
                      started_at: datetime, now: datetime, reservation_id: int | None = None) -> StartResult:
    """Open a transaction (the same one again when the charger resends its StartTransaction)."""
    connector = _connector(session, _charger(session, charge_point_id), connector_no)
    status = authorize(session=session, id_tag=id_tag, now=now)
    existing = session.scalar(select(Transaction).where(Transaction.connector_id == connector.id,
                                                        Transaction.started_at == started_at))
    if existing is not None:
        return StartResult(existing.id, status)
    transaction = Transaction(connector_id=connector.id, id_tag=id_tag, meter_start=meter_start,
                              started_at=started_at, reservation_id=reservation_id)
    session.add(transaction)
    try:
        session.commit()
    except IntegrityError:  # the same start, stored meanwhile by the charger's other connection
        session.rollback()
        existing = session.scalar(select(Transaction).where(Transaction.connector_id == connector.id,
                                                            Transaction.started_at == started_at))
        return StartResult(existing.id, status)
    return StartResult(transaction.id, status)


def _transaction_of(session: Session, charge_point_id: str, transaction_id: int) -> Transaction | None:
    transaction = session.get(Transaction, transaction_id)
    if transaction is None or transaction.connector.charger.charge_point_id != charge_point_id:
        log.warning("charger %s reported transaction %s it does not hold", charge_point_id, transaction_id)
        return None
    return transaction


def store_meter_values(*, session: Session, charge_point_id: str, transaction_id: int,
                       samples: Iterable[Sample]) -> int:
    """Store a transaction's samples; one already stored (a resent or queued batch) is skipped. Returns how many were new."""
    transaction = _transaction_of(session, charge_point_id, transaction_id)
    if transaction is None:
        return 0
    fresh: dict[tuple[datetime, str], Sample] = {}
    for sample in samples:
        fresh.setdefault((sample.ts, sample.measurand), sample)  # one per time and measurand (no per-phase rows)
    if not fresh:
        return 0
    times = {ts for ts, _ in fresh}
    stored = set(session.execute(select(MeterValue.ts, MeterValue.measurand).where(
        MeterValue.transaction_id == transaction.id, MeterValue.ts.in_(times))).tuples())
    new = [s for key, s in fresh.items() if key not in stored]
    rows = [MeterValue(transaction_id=transaction.id, ts=s.ts, measurand=s.measurand, value=s.value, unit=s.unit)
            for s in new]
    session.add_all(rows)
    try:
        session.commit()
        return len(rows)
    except IntegrityError:  # stored meanwhile (a reconnect overlapping the old connection): one by one
        session.rollback()
    added = 0
    for s in new:
        try:
            with session.begin_nested():
                session.add(MeterValue(transaction_id=transaction.id, ts=s.ts, measurand=s.measurand,
                                       value=s.value, unit=s.unit))
            added += 1
        except IntegrityError:
            pass
    session.commit()
    return added


def energy_kwh(meter_start_wh: int, meter_wh: int) -> Decimal:
    """Energy between two register readings (Wh), in kWh to the Wh; never negative."""
    return (Decimal(max(0, meter_wh - meter_start_wh)) / 1000).quantize(Decimal("0.001"))


def cost_fen(energy: Decimal, station: Station) -> int:
    """What the energy costs at the station: (电费 + 服务费) per kWh, rounded half up to the fen."""
    price = Decimal(station.energy_fen_per_kwh) + Decimal(station.service_fen_per_kwh)
    return int((energy * price).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def stop_transaction(*, session: Session, charge_point_id: str, transaction_id: int, meter_stop: int,
                     stopped_at: datetime, reason: str | None = None,
                     samples: Iterable[Sample] = ()) -> Transaction | None:
    """Close a transaction with its energy and cost (a second StopTransaction for it changes nothing)."""
    transaction = _transaction_of(session, charge_point_id, transaction_id)
    if transaction is None:
        return None
    samples = list(samples)
    if samples:
        store_meter_values(session=session, charge_point_id=charge_point_id, transaction_id=transaction_id,
                           samples=samples)
    if transaction.stopped_at is not None:
        return transaction
    transaction.meter_stop = meter_stop
    transaction.stopped_at = stopped_at
    transaction.stop_reason = reason or "Local"
    transaction.energy_kwh = energy_kwh(transaction.meter_start, meter_stop)
    transaction.cost_fen = cost_fen(transaction.energy_kwh, transaction.connector.charger.station)
    session.commit()
    return transaction


# ---------------------------------------------------------------- reading

def _latest(session: Session, transaction_id: int, measurand: str) -> MeterValue | None:
    return session.scalar(select(MeterValue).where(MeterValue.transaction_id == transaction_id,
                                                   MeterValue.measurand == measurand)
                          .order_by(MeterValue.ts.desc()).limit(1))


def energy_so_far(session: Session, transaction: Transaction) -> Decimal:
    """kWh of a running transaction up to its latest energy register sample."""
    register = _latest(session, transaction.id, ENERGY)
    meter = (int(register.value * UNIT_WH.get(register.unit, Decimal(1))) if register is not None
             else transaction.meter_start)
    return energy_kwh(transaction.meter_start, meter)


def account_of_tag(*, session: Session, id_tag: str) -> str | None:
    """The 户号 a charging card belongs to (None: a card of nobody we know)."""
    return session.scalar(select(IdTag.account_no).where(IdTag.id_tag == id_tag))


def get_transaction(*, session: Session, transaction_id: int) -> TransactionRead:
    """A transaction with its energy and cost (so far, from the latest energy register, while it runs)."""
    transaction = session.get(Transaction, transaction_id)
    if transaction is None:
        raise NotFound("transaction_not_found", "没有找到该充电记录")
    connector = transaction.connector
    station = connector.charger.station
    power = soc = finish = None
    if transaction.stopped_at is not None:
        energy, cost = transaction.energy_kwh or Decimal("0.000"), transaction.cost_fen or 0
    else:
        energy = energy_so_far(session, transaction)
        cost = cost_fen(energy, station)
        if (sample := _latest(session, transaction.id, POWER)) is not None:
            power = (sample.value * UNIT_KW.get(sample.unit, Decimal("0.001"))).quantize(Decimal("0.01"))
        if (sample := _latest(session, transaction.id, SOC)) is not None:
            soc = sample.value.quantize(Decimal("0.1"))
        finish = _estimated_finish(session, transaction, energy, power, sample)
    count = session.scalar(select(func.count()).select_from(MeterValue)
                           .where(MeterValue.transaction_id == transaction.id))
    return TransactionRead(
        transaction_id=transaction.id, charge_point_id=connector.charger.charge_point_id,
        connector_no=connector.connector_no, station_code=station.code, station_name=station.name,
        id_tag=transaction.id_tag,
        started_at=transaction.started_at, stopped_at=transaction.stopped_at, stop_reason=transaction.stop_reason,
        meter_start=transaction.meter_start, meter_stop=transaction.meter_stop, energy_kwh=energy, cost_fen=cost,
        power_kw=power, soc_percent=soc, meter_values=count, departure_at=transaction.departure_at,
        kwh_requested=transaction.kwh_requested, allow_delay=transaction.allow_delay, estimated_finish=finish)


def _estimated_finish(session: Session, transaction: Transaction, energy: Decimal, power: Decimal | None,
                      soc: MeterValue | None) -> datetime | None:
    """When a live session should be done: the energy its owner asked for at the present power, else a full
    battery at the pace the state of charge has risen so far. None when there is nothing to go by."""
    if transaction.kwh_requested is not None and power and power > 0:
        left = max(0.0, float(transaction.kwh_requested - energy))
        return _now_of(session, transaction) + timedelta(hours=left / float(power))
    if soc is None:
        return None
    first = session.scalar(select(MeterValue).where(MeterValue.transaction_id == transaction.id,
                                                    MeterValue.measurand == SOC).order_by(MeterValue.ts).limit(1))
    hours = (soc.ts - first.ts).total_seconds() / 3600
    rise = float(soc.value - first.value)
    if hours <= 0 or rise <= 0:
        return None
    return soc.ts + timedelta(hours=float(100 - soc.value) * hours / rise)


def _now_of(session: Session, transaction: Transaction) -> datetime:
    """The time of the session's latest sample (its "now", as the charger last told it)."""
    latest = session.scalar(select(func.max(MeterValue.ts)).where(MeterValue.transaction_id == transaction.id))
    return latest or transaction.started_at


def accepted_tags(*, session: Session, account_no: str, now: datetime) -> list[str]:
    """The charging cards of a 户号 that may charge now."""
    tags = session.scalars(select(IdTag).where(IdTag.account_no == account_no).order_by(IdTag.id))
    return [t.id_tag for t in tags if t.status == "Accepted" and (t.expires_at is None or t.expires_at > now)]


def running_of(*, session: Session, id_tags: list[str]) -> list[TransactionRead]:
    """Sessions running now for these cards."""
    ids = session.scalars(select(Transaction.id).where(Transaction.id_tag.in_(id_tags),
                                                       Transaction.stopped_at.is_(None)).order_by(Transaction.id))
    return [get_transaction(session=session, transaction_id=i) for i in ids]


def _station_read(station: Station, now: datetime) -> StationRead:
    online = {charger.id: is_online(charger, now) for charger in station.chargers}
    connectors = [ConnectorRead(charge_point_id=charger.charge_point_id, connector_no=c.connector_no, kind=c.kind,
                                rated_kw=c.rated_kw, status=c.status, error_code=c.error_code,
                                online=online[charger.id], free=online[charger.id] and c.status == "Available")
                  for charger in station.chargers for c in charger.connectors]
    free = [c for c in connectors if c.free]
    return StationRead(code=station.code, name=station.name, district=station.district, address=station.address,
                       lat=station.lat, lon=station.lon, transformer_area_id=station.transformer_area_id,
                       energy_fen_per_kwh=station.energy_fen_per_kwh, service_fen_per_kwh=station.service_fen_per_kwh,
                       connectors=connectors, free_connectors=len(free),
                       free_ac=sum(c.kind == "AC" for c in free), free_dc=sum(c.kind == "DC" for c in free))


def get_station(*, session: Session, code: str, now: datetime | None = None) -> StationRead:
    """A station with its connectors' live status."""
    station = session.scalar(select(Station).where(Station.code == code))
    if station is None:
        raise NotFound("station_not_found", "没有找到该充电站")
    return _station_read(station, now or utcnow())


def list_stations(*, session: Session, district: str | None = None, free_only: bool = False,
                  kind: str | None = None, near: tuple[float, float] | None = None,
                  now: datetime | None = None) -> list[StationRead]:
    """Stations (of a district), optionally only those with a free connector (of a kind) now; nearest first
    when `near` (lat, lon) is given, else most free first."""
    query = select(Station).order_by(Station.code)
    if district:
        query = query.where(Station.district == district)
    now = now or utcnow()
    stations = [_station_read(s, now) for s in session.scalars(query)]
    if kind:
        stations = [s for s in stations if any(c.kind == kind and (c.free or not free_only) for c in s.connectors)]
    elif free_only:
        stations = [s for s in stations if s.free_connectors > 0]
    if near is None:
        return sorted(stations, key=lambda s: -s.free_connectors)
    for station in stations:
        station.distance_km = round(haversine_km(near[0], near[1], station.lat, station.lon), 1)
    return sorted(stations, key=lambda s: s.distance_km)


def parse_time(value: str | None, *, default: datetime) -> datetime:
    """An OCPP timestamp (ISO 8601, 'Z' or an offset; none taken as UTC) as an aware UTC datetime."""
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return default
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
