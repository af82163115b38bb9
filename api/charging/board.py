"""The live charging board (有序充电可视化大屏) of the staff page: every station's connectors with their state now,
the session on each (power, energy, state of charge), each station's queue, and the faults.

Reads only; the chargers' reports (api/charging/ocpp_server.py → service.py) keep the rows it reads up to date.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from api.charging import queue
from api.charging.models import ChargePoint, Connector, MeterValue, Station, Transaction
from api.charging.schemas import QueueEntryRead
from api.charging.service import ENERGY, POWER, SOC, UNIT_KW, UNIT_WH, energy_kwh, is_online
from api.core.time import LocalDateTime

# What a connector is doing, from its OCPP status and whether its charger is connected (offline wins).
STATES = {"Available": "free", "Charging": "charging", "SuspendedEV": "charging", "SuspendedEVSE": "charging",
          "Preparing": "occupied", "Finishing": "occupied", "Reserved": "reserved", "Faulted": "faulted",
          "Unavailable": "unavailable"}
STATE_ORDER = ("free", "charging", "occupied", "reserved", "faulted", "unavailable", "offline")


class LiveSessionRead(BaseModel):
    """The session running on a connector now."""

    transaction_id: int
    id_tag: str
    started_at: LocalDateTime
    power_kw: Decimal | None  # latest sample
    energy_kwh: Decimal  # so far
    soc_percent: Decimal | None


class ConnectorLive(BaseModel):
    """A connector on the board."""

    charge_point_id: str
    connector_no: int
    kind: str
    rated_kw: Decimal
    status: str  # OCPP status as last reported
    state: str  # one of STATE_ORDER
    error_code: str
    info: str | None
    since: LocalDateTime | None  # when the charger reported this status
    session: LiveSessionRead | None


class StationLive(BaseModel):
    """A station on the board: its connectors, how many are in each state, its queue, its charging power now."""

    code: str
    name: str
    district: str
    address: str
    transformer_area_id: int | None
    connectors: list[ConnectorLive]
    states: dict[str, int]  # state → connectors
    charging_kw: Decimal  # latest power of its running sessions, summed
    queue: list[QueueEntryRead]  # waiting or called, in order


class FaultLive(BaseModel):
    """A connector (or, connector_no 0, a whole charger) whose last report is Faulted."""

    station_code: str
    station_name: str
    district: str
    charge_point_id: str
    connector_no: int
    kind: str | None
    error_code: str
    info: str | None
    since: LocalDateTime | None
    online: bool
    error_text: str | None = None  # the error in Chinese (worded by the flow that knows the repair words)


class BoardRead(BaseModel):
    """The whole board at one instant."""

    as_of: LocalDateTime
    stations: list[StationLive]
    faults: list[FaultLive]
    states: dict[str, int]  # all connectors by state
    charging_kw: Decimal
    waiting: int  # customers waiting or called, all stations


def connector_state(status: str, online: bool) -> str:
    """free / charging / occupied / reserved / faulted / unavailable / offline."""
    return STATES.get(status, "unavailable") if online else "offline"


def _latest_samples(session: Session, transaction_ids: list[int]) -> dict[tuple[int, str], MeterValue]:
    """The latest power, energy register and state of charge of each transaction, in one query."""
    if not transaction_ids:
        return {}
    measurands = (POWER, ENERGY, SOC)
    latest = (select(MeterValue.transaction_id, MeterValue.measurand, func.max(MeterValue.ts).label("ts"))
              .where(MeterValue.transaction_id.in_(transaction_ids), MeterValue.measurand.in_(measurands))
              .group_by(MeterValue.transaction_id, MeterValue.measurand).subquery())
    rows = session.scalars(select(MeterValue).join(latest, and_(
        MeterValue.transaction_id == latest.c.transaction_id, MeterValue.measurand == latest.c.measurand,
        MeterValue.ts == latest.c.ts)))
    return {(row.transaction_id, row.measurand): row for row in rows}


def _session_read(tx: Transaction, samples: dict[tuple[int, str], MeterValue]) -> LiveSessionRead:
    power = samples.get((tx.id, POWER))
    register = samples.get((tx.id, ENERGY))
    soc = samples.get((tx.id, SOC))
    meter = int(register.value * UNIT_WH.get(register.unit, Decimal(1))) if register is not None else tx.meter_start
    return LiveSessionRead(
        transaction_id=tx.id, id_tag=tx.id_tag, started_at=tx.started_at,
        power_kw=(power.value * UNIT_KW.get(power.unit, Decimal("0.001"))).quantize(Decimal("0.01"))
        if power is not None else None,
        energy_kwh=energy_kwh(tx.meter_start, meter),
        soc_percent=soc.value.quantize(Decimal("0.1")) if soc is not None else None)


def running_sessions(*, session: Session, transaction_ids: list[int]) -> dict[int, LiveSessionRead]:
    """The running sessions with these ids, with their latest power, energy and state of charge."""
    if not transaction_ids:
        return {}
    samples = _latest_samples(session, transaction_ids)
    return {tx.id: _session_read(tx, samples)
            for tx in session.scalars(select(Transaction).where(Transaction.id.in_(transaction_ids)))}


def board(*, session: Session, now: datetime, district: str | None = None) -> BoardRead:
    """Every station (of a district) with its connectors, running sessions and queue; the faults; totals."""
    query = select(Station).order_by(Station.code)
    if district:
        query = query.where(Station.district == district)
    stations = list(session.scalars(query))
    running = {tx.connector_id: tx for tx in session.scalars(
        select(Transaction).join(Connector, Connector.id == Transaction.connector_id)
        .join(ChargePoint, ChargePoint.id == Connector.charger_id)
        .where(ChargePoint.station_id.in_([s.id for s in stations]), Transaction.stopped_at.is_(None))
        .order_by(Transaction.id))} if stations else {}
    samples = _latest_samples(session, [tx.id for tx in running.values()])
    lives, faults = [], []
    totals = dict.fromkeys(STATE_ORDER, 0)
    for station in stations:
        connectors = []
        for charger in station.chargers:
            online = is_online(charger, now)
            if charger.status == "Faulted":
                faults.append(FaultLive(station_code=station.code, station_name=station.name, district=station.district,
                                        charge_point_id=charger.charge_point_id, connector_no=0, kind=None,
                                        error_code=charger.error_code or "OtherError", info=None,
                                        since=None, online=online))  # not kept for a charger
            for c in charger.connectors:
                tx = running.get(c.id)
                connectors.append(ConnectorLive(
                    charge_point_id=charger.charge_point_id, connector_no=c.connector_no, kind=c.kind,
                    rated_kw=c.rated_kw, status=c.status, state=connector_state(c.status, online),
                    error_code=c.error_code, info=c.info, since=c.status_at,
                    session=_session_read(tx, samples) if tx is not None else None))
                if c.status == "Faulted":
                    faults.append(FaultLive(station_code=station.code, station_name=station.name,
                                            district=station.district, charge_point_id=charger.charge_point_id,
                                            connector_no=c.connector_no, kind=c.kind, error_code=c.error_code,
                                            info=c.info, since=c.status_at, online=online))
        states = dict.fromkeys(STATE_ORDER, 0)
        for c in connectors:
            states[c.state] += 1
            totals[c.state] += 1
        charging_kw = sum((c.session.power_kw or Decimal(0) for c in connectors if c.session), Decimal("0.00"))
        lives.append(StationLive(code=station.code, name=station.name, district=station.district,
                                 address=station.address, transformer_area_id=station.transformer_area_id,
                                 connectors=connectors, states=states, charging_kw=charging_kw,
                                 queue=queue.station_queue(session=session, station_code=station.code, now=now)))
    faults.sort(key=lambda f: f.since or now)  # the longest-standing first
    return BoardRead(as_of=now, stations=lives, faults=faults, states=totals,
                     charging_kw=sum((s.charging_kw for s in lives), Decimal("0.00")),
                     waiting=sum(len(s.queue) for s in lives))
