"""Orderly charging on the live chargers: each transformer area's sessions planned under its limit and sent to
the chargers as SetChargingProfile.

metering (the area's capacity, its measured load) → forecasting (its other load ahead: the cached forecast's
90 % quantile, or yesterday's same hours when no forecast is fresh) → charging (the sessions running under
it, the scheduler) → the chargers. Re-planned on every session start and stop (the central system calls
`replan_for_charger`) and every 15 minutes for every area with a session (the forecast moves, sessions fill).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from api.charging import orderly, scheduler
from api.charging.ocpp_server import CentralSystem
from api.flows.charging import tell_shortfall
from api.forecasting import service as forecasting
from api.forecasting.service import POWER_FACTOR
from api.metering import service as metering

log = logging.getLogger(__name__)
REPLAN_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class AreaPlan:
    """An area's plan and the sessions it sets."""

    transformer_area_id: int
    capacity_kw: float
    plan: scheduler.Plan
    sessions: list[orderly.LiveSession]
    base_source: str  # "forecast" or "yesterday"


def area_base_load(*, session: Session, code: str, now: datetime) -> tuple[list[tuple[datetime, float]], str]:
    """The area's other load ahead, hourly: the fresh forecast's p90, else the same hours of yesterday."""
    cached = forecasting.cached_forecast(session=session, level="area", key=code, now=now)
    if cached is not None and cached.points:
        return [(p.ts, float(p.p90)) for p in cached.points], "forecast"
    rows = metering.hourly_load(session=session, by="area", keys=[code], start=now - timedelta(hours=25), end=now)
    return sorted((ts + timedelta(hours=24), float(kw or 0)) for _, ts, kw in rows), "yesterday"


def plan_area(*, session: Session, transformer_area_id: int, now: datetime) -> AreaPlan | None:
    """Plan the sessions under an area from now (None: no session, or an area we do not know)."""
    area = metering.get_area(session=session, transformer_area_id=transformer_area_id)
    lives = orderly.live_sessions(session=session, transformer_area_id=transformer_area_id, now=now)
    if area is None or not lives:
        return None
    capacity_kw = float(area.capacity_kva) * POWER_FACTOR
    points, source = area_base_load(session=session, code=area.code, now=now)
    base = scheduler.step_function(points) if points else 0.0
    plan = scheduler.replan([live.plan for live in lives], now=now,
                            delivered={live.plan.session_id: live.delivered_kwh for live in lives},
                            capacity_kw=capacity_kw, base_kw=base)
    return AreaPlan(transformer_area_id, capacity_kw, plan, lives, source)


async def apply_area(central: CentralSystem, sessions: sessionmaker[Session], transformer_area_id: int) -> AreaPlan | None:
    """Plan an area and send each session its profile (a charger offline keeps its last one). One plan of an area
    at a time, so an older plan (without the car that just arrived) is never sent after a newer one."""
    async with central.lock_for("area", transformer_area_id):
        return await _apply_area(central, sessions, transformer_area_id)


async def _apply_area(central: CentralSystem, sessions: sessionmaker[Session], transformer_area_id: int) -> AreaPlan | None:
    planned = await asyncio.to_thread(_plan_in_session, sessions, transformer_area_id, central.clock())
    if planned is None:
        return None
    await asyncio.to_thread(tell_shortfalls, sessions, planned, central.clock())
    start = planned.plan.start
    for live in planned.sessions:
        profile = planned.plan.profile(live.plan.session_id)
        periods = [(int((at - start).total_seconds()), kw) for at, kw in profile]
        try:
            # the transaction id as the profile id: a profile with the id of another connector's would replace it
            status = await central.set_charging_profile(live.charge_point_id, connector_no=live.connector_no,
                                                        periods=periods, transaction_id=live.transaction_id,
                                                        start=start, profile_id=live.transaction_id)
        except Exception as error:  # noqa: BLE001 — offline, timed out, dropped: the next session still gets its own
            status = f"not sent ({error!r})"
        if status != "Accepted":
            log.warning("charging profile for transaction %s at %s: %s", live.transaction_id,
                        live.charge_point_id, status)
    return planned


def tell_shortfalls(sessions: sessionmaker[Session], planned: AreaPlan, now: datetime) -> None:
    """Owners who said when they leave and how much they want, and will not get it by then (their car's own
    limit or the area's), are told as soon as a plan shows it — once per session."""
    short = {sp.session_id: sp for sp in planned.plan.cannot_meet() if sp.reason != "departed"}
    for live in planned.sessions:
        sp = short.get(live.plan.session_id)
        if not live.told or sp is None:
            continue
        try:
            with sessions() as session:
                tell_shortfall(session=session, transaction_id=live.transaction_id,
                               reachable_kwh=live.delivered_kwh + sp.planned_kwh, because=sp.reason, now=now)
        except Exception:  # noqa: BLE001 — a notice that fails must not stop the chargers' profiles
            log.exception("shortfall notice for transaction %s failed", live.transaction_id)


def _plan_in_session(sessions: sessionmaker[Session], transformer_area_id: int, now: datetime) -> AreaPlan | None:
    with sessions() as session:
        return plan_area(session=session, transformer_area_id=transformer_area_id, now=now)


async def replan_for_charger(central: CentralSystem, sessions: sessionmaker[Session], charge_point_id: str) -> None:
    """A session started or stopped at a charger: re-plan its area."""
    try:
        area_id = await asyncio.to_thread(_area_of, sessions, charge_point_id)
        if area_id is not None:
            await apply_area(central, sessions, area_id)
    except Exception:
        log.exception("orderly charging re-plan after %s failed", charge_point_id)


def _area_of(sessions: sessionmaker[Session], charge_point_id: str) -> int | None:
    with sessions() as session:
        return orderly.area_of_charger(session=session, charge_point_id=charge_point_id)


def _areas(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return orderly.areas_charging(session=session)


async def run_orderly_charging(central: CentralSystem, sessions: sessionmaker[Session]) -> None:
    """Every 15 minutes, re-plan every area with a session running."""
    while True:
        await asyncio.sleep(REPLAN_EVERY.total_seconds())
        try:
            for area_id in await asyncio.to_thread(_areas, sessions):
                await apply_area(central, sessions, area_id)
        except Exception:
            log.exception("orderly charging pass failed")
