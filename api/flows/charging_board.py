"""The staff charging page's live views that cross domains: the board's faults in words, and each transformer
area's power against its limit with the orderly-charging scheduler's allocation.

charging (stations, live sessions, the board) → metering (the area: capacity, its measured load) → forecasting
(its other load ahead, through api/flows/orderly_charging.area_base_load) → the scheduler's plan
(api/flows/orderly_charging.plan_area: the same plan the chargers are sent; nothing is sent from here).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.charging import board as charging_board
from api.charging import scheduler
from api.charging.board import BoardRead
from api.charging.service import list_stations
from api.core.time import LocalDateTime
from api.flows.charging import ERROR_WORDS
from api.flows.orderly_charging import area_base_load, plan_area
from api.forecasting.service import POWER_FACTOR
from api.metering import service as metering

PROFILE_POINTS = 8  # the first changes of a session's planned set-point shown on the page


class ProfilePoint(BaseModel):
    """From `at` on, the session may draw `kw` (until the next point)."""

    at: LocalDateTime
    kw: float


class Allocation(BaseModel):
    """What the scheduler gives a running session now and over its stay."""

    transaction_id: int
    station_code: str
    charge_point_id: str
    connector_no: int
    id_tag: str
    max_kw: float  # the connector's rating
    power_kw: Decimal | None  # the latest measured power
    delivered_kwh: float
    allocated_kw: float  # the set-point of the current 15-minute step
    remaining_kwh: float
    planned_kwh: float
    status: str  # ok / cannot_meet / done
    reason: str | None  # for cannot_meet: max_power / capacity / departed
    finish: LocalDateTime | None
    told: bool  # the owner told their departure and energy
    departure_at: LocalDateTime
    kwh_requested: float
    allow_delay: bool
    profile: list[ProfilePoint]


class AreaLoad(BaseModel):
    """A transformer area feeding charging stations: its limit, its other load, the charging on it now."""

    transformer_area_id: int
    code: str
    name: str
    district: str
    stations: list[str]  # station codes
    station_names: list[str]
    capacity_kva: float
    capacity_kw: float  # kVA × power factor: the scheduler's limit
    measured_kw: float  # the area's meters, mean over the last hour
    base_kw: float | None  # the other load the scheduler assumes now (forecast p90, or yesterday's same hour)
    base_source: str | None  # forecast / yesterday
    charging_kw: Decimal  # the latest measured power of its running sessions
    allocated_kw: float  # the scheduler's set-points now, summed
    planned_peak_kw: float | None  # the highest base + charging over the plan
    method: str | None  # lp / greedy
    cannot_meet: int  # sessions whose energy cannot be met by departure
    sessions: list[Allocation]


def staff_board(*, session: Session, now: datetime, district: str | None = None) -> BoardRead:
    """The live board, its faults worded in Chinese (the same words as the repair tickets)."""
    read = charging_board.board(session=session, now=now, district=district)
    for fault in read.faults:
        fault.error_text = ERROR_WORDS.get(fault.error_code, fault.error_code)
    return read


def area_loads(*, session: Session, now: datetime, district: str | None = None) -> list[AreaLoad]:
    """Every transformer area feeding a station (of a district): limit, loads and the scheduler's allocation."""
    by_area: dict[int, list] = {}
    for station in sorted(list_stations(session=session, district=district, now=now), key=lambda s: s.code):
        if station.transformer_area_id is not None:
            by_area.setdefault(station.transformer_area_id, []).append(station)
    out = []
    for area_id, stations in sorted(by_area.items()):
        area = metering.get_area(session=session, transformer_area_id=area_id)
        if area is None:
            continue
        planned = plan_area(session=session, transformer_area_id=area_id, now=now)
        measured = metering.area_state(session=session, transformer_area_id=area_id, now=now).load_kw
        capacity_kw = round(float(area.capacity_kva) * POWER_FACTOR, 1)
        allocations: list[Allocation] = []
        if planned is None:
            points, source = area_base_load(session=session, code=area.code, now=now)
            base = round(scheduler.step_function(points)(now), 1) if points else None
            charging_kw, allocated, peak, method, short = Decimal("0.00"), 0.0, None, None, 0
        else:
            plan = planned.plan
            source, base, method = planned.base_source, round(plan.base_kw[0], 1), plan.method
            lives = charging_board.running_sessions(session=session,
                                                    transaction_ids=[s.transaction_id for s in planned.sessions])
            station_of = {(c.charge_point_id, c.connector_no): s.code for s in stations for c in s.connectors}
            for live in planned.sessions:
                sp = plan.sessions[live.plan.session_id]
                now_read = lives.get(live.transaction_id)
                allocations.append(Allocation(
                    transaction_id=live.transaction_id,
                    station_code=station_of.get((live.charge_point_id, live.connector_no), ""),
                    charge_point_id=live.charge_point_id, connector_no=live.connector_no,
                    id_tag=now_read.id_tag if now_read else "", max_kw=live.plan.max_kw,
                    power_kw=now_read.power_kw if now_read else None, delivered_kwh=round(live.delivered_kwh, 3),
                    allocated_kw=round(sp.kw[0], 2), remaining_kwh=round(sp.remaining_kwh, 2),
                    planned_kwh=round(sp.planned_kwh, 2), status=sp.status, reason=sp.reason, finish=sp.finish,
                    told=live.told, departure_at=live.plan.departure, kwh_requested=round(live.plan.kwh_requested, 2),
                    allow_delay=live.plan.allow_delay,
                    profile=[ProfilePoint(at=at, kw=kw) for at, kw in plan.profile(live.plan.session_id)[:PROFILE_POINTS]]))
            charging_kw = sum((a.power_kw or Decimal(0) for a in allocations), Decimal("0.00"))
            allocated = round(sum(a.allocated_kw for a in allocations), 2)
            peak = round(float(plan.load_kw().max()), 1)
            short = len(plan.cannot_meet())
        out.append(AreaLoad(
            transformer_area_id=area_id, code=area.code, name=area.name, district=area.district,
            stations=[s.code for s in stations], station_names=[s.name for s in stations],
            capacity_kva=float(area.capacity_kva), capacity_kw=capacity_kw, measured_kw=round(measured, 1),
            base_kw=base, base_source=source if base is not None else None, charging_kw=charging_kw,
            allocated_kw=allocated, planned_peak_kw=peak, method=method, cannot_meet=short, sessions=allocations))
    return out
