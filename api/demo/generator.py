"""Deterministic demo data for 固原市: `generate` writes the whole demo, `refresh_live` moves it on.

Same seed + same `end` hour give identical rows. This module only puts the jobs in order:
`world` builds the grid and its customers, `simulation` the weather and every meter's hourly
load, `situations` the past incidents, planned outages and live situations, `bills` the money,
`audit_cases` the marketing-audit cases (faults, thefts and look-alikes) and `supply` the supply
meters of line loss, `crews` and `staff` the people, and `storage` writes it all in bulk.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, Engine

from api.billing.models import AccountBalance, Bill
from api.core.time import UTC, local_day, utcnow
from api.customers.models import Customer
from api.demo.audit_cases import (
    case_events,
    faults,
    keep_cases_clean,
    mismatch_bills,
    plant_world,
    size_for_cases,
)
from api.demo.charging import charging_rows
from api.demo.bills import MonthlyEnergy, arrears_customers, balance_rows, bill_new_months, bill_rows
from api.demo.crews import AHEAD, crew_rows, shift_rows
from api.demo.showcase import HOUSEHOLD_OUTAGE_ROLES, LOW_VOLTAGE_ROLES, SHOWCASE, fixed_accounts
from api.demo.simulation import HOUR, Axis, Plan, profiles, temperatures, weather_rows
from api.demo.situations import (
    LIVE_HOURS,
    anchored_notice,
    apply_notices,
    find_roles,
    overload_factors,
    past_events,
    plant_live,
    restore_previous,
    scheduled_notices,
)
from api.demo.staff import ensure_demo_staff
from api.demo.storage import (
    Progress,
    analyze,
    bulk_session,
    grid_rows,
    insert_rows,
    load_rows,
    write_readings,
    write_world,
)
from api.demo.supply import SupplyLedger, refresh_supply, write_supply
from api.demo.world import build_world, size_transformers
from api.dispatch.models import Crew, CrewMember, CrewShift
from api.metering.models import MeterEvent, Reading, WeatherHour
from api.outages.models import PlannedOutage

CREWS_SEED = 20261123  # crews added to a demo seeded before crews existed


@dataclass
class DemoSummary:
    """What `generate` wrote, with the places of the live situations."""

    seed: int
    start: datetime
    end: datetime
    feeders: int
    transformer_areas: int
    customers: int
    meters: int
    readings: int
    events: int
    bills: int
    planned_outages: int
    weather_hours: int
    seconds: float
    fault_area_code: str
    overloaded_area_code: str
    planned_area_code: str
    household_outage_accounts: tuple[str, ...]


@dataclass
class RefreshSummary:
    """What `refresh_live` changed."""

    previous_end: datetime
    end: datetime
    readings: int
    events: int
    planned_outages: int
    bills: int
    weather_hours: int
    seconds: float


def has_demo_data(engine: Engine) -> bool:
    """True when a complete demo is stored (its customers and their balances exist)."""
    with engine.connect() as conn:
        customer = conn.execute(select(Customer.id).where(Customer.account_no == SHOWCASE["normal"][0])).first()
        if customer is None:
            return False
        return conn.execute(select(AccountBalance.customer_id).where(
            AccountBalance.customer_id == customer.id)).first() is not None


def generate(
    engine: Engine, *, seed: int, customers: int = 2000, days: int = 90, end: datetime | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Write the whole demo into empty tables; same seed and end hour give identical rows."""
    started = time.monotonic()
    end = _hour_floor(end or utcnow())
    start = end - (days * 24 - 1) * HOUR
    say = progress or _quiet
    world = build_world(seed, customers)
    placed = plant_world(world)
    size_transformers(world, seed)
    size_for_cases(world, placed)

    with engine.connect() as conn:
        if conn.execute(select(Customer.id).limit(1)).first() is not None:
            raise RuntimeError("the database already holds customers; use refresh_live or a fresh database")
        say(f"demo: {customers} customers, {days} days up to {end.isoformat()} (seed {seed})")
        write_world(conn, world)
        say(f"  grid: {len(world.feeders)} feeders, {len(world.areas)} areas, {len(world.customers)} customers")

        rows = load_rows(conn)
        roles = find_roles(rows)
        meters = profiles(rows, _low_voltage_accounts())
        phases = {r["meter_id"]: int(r["phases"]) for r in rows}

        axis = Axis.between(start, end)
        temps = temperatures(axis)
        weather = weather_rows(axis, temps)
        insert_rows(conn, WeatherHour, weather)

        areas, feeders = grid_rows(conn)
        notices = scheduled_notices(roles, areas, feeders, local_day(start), local_day(end + timedelta(days=7)))
        notices.append(anchored_notice(roles, areas, end))
        notices.sort(key=lambda n: n["start_at"])
        insert_rows(conn, PlannedOutage, notices)

        plan = Plan()
        events = keep_cases_clean(rows, past_events(seed, rows, roles, start, end, plan), plan.dark)
        events += case_events(rows, meters, start, start - HOUR, end)
        plan.faults = faults(rows, start)
        events += apply_notices(notices, roles, plan, start.timestamp() - 3600, end.timestamp())
        events += plant_live(roles, phases, end, plan)
        plan.overload = overload_factors(meters, roles, axis, temps, end)
        conn.commit()

        monthly = MonthlyEnergy(axis)
        supply = SupplyLedger(axis, rows, meters)

        def gather(sub, sim) -> None:
            monthly.add(sub, sim)
            supply.add(sub, sim)

        with bulk_session(conn):
            n_readings = write_readings(conn, meters, axis, temps, plan, progress, on_chunk=gather)
        write_supply(conn, rows, supply.by_meter, start)
        events.sort(key=_event_order)
        insert_rows(conn, MeterEvent, events)

        arrears = arrears_customers(rows)
        bills = bill_rows(rows, monthly.by_meter, end=end, arrears=arrears, latest=monthly.latest)
        mismatch_bills(bills, rows, monthly.latest)
        insert_rows(conn, Bill, bills)
        insert_rows(conn, AccountBalance, balance_rows(rows, bills, arrears, end))
        _write_crews(conn, seed)
        charging_rows(conn, seed)
        insert_rows(conn, CrewShift, shift_rows(local_day(start), local_day(end + AHEAD)))
        ensure_demo_staff(conn, end)
        analyze(conn)
        conn.commit()

    area_codes = {r["area_id"]: r["area_code"] for r in rows}
    summary = DemoSummary(
        seed=seed, start=start, end=end, feeders=len(world.feeders), transformer_areas=len(world.areas),
        customers=len(world.customers), meters=len(world.meters), readings=n_readings, events=len(events),
        bills=len(bills), planned_outages=len(notices), weather_hours=len(weather),
        seconds=round(time.monotonic() - started, 1),
        fault_area_code=area_codes[roles.fault_area], overloaded_area_code=area_codes[roles.overload_area],
        planned_area_code=area_codes[roles.planned_area],
        household_outage_accounts=tuple(fixed_accounts()[r][0] for r in HOUSEHOLD_OUTAGE_ROLES),
    )
    say(f"demo ready in {summary.seconds}s: {summary.readings:,} readings, {summary.events:,} events, "
        f"{summary.bills:,} bills, {summary.planned_outages} planned outages")
    return summary


def refresh_live(engine: Engine, *, end: datetime | None = None, progress: Progress | None = None) -> RefreshSummary:
    """Extend the readings up to `end` and move the live situations there (no full re-seed)."""
    started = time.monotonic()
    new_end = _hour_floor(end or utcnow())
    say = progress or _quiet
    with engine.connect() as conn:
        rows = load_rows(conn)
        if not rows:
            raise RuntimeError("no demo data to refresh; run generate first")
        roles = find_roles(rows)
        anchor = roles.meter_of["normal"]
        old_end = conn.execute(select(func.max(Reading.ts)).where(Reading.meter_id == anchor)).scalar_one()
        data_start = conn.execute(select(func.min(Reading.ts)).where(Reading.meter_id == anchor)).scalar_one()
        if old_end is None:
            raise RuntimeError("the demo has no readings; run generate first")
        if new_end < old_end:
            raise ValueError(f"end {new_end.isoformat()} is before the stored data ({old_end.isoformat()})")
        _extend_shifts(conn, new_end)
        if new_end == old_end:
            say(f"demo already current at {old_end.isoformat()}")
            return RefreshSummary(old_end, new_end, 0, 0, 0, 0, 0, round(time.monotonic() - started, 1))
        say(f"demo: moving live situations from {old_end.isoformat()} to {new_end.isoformat()}")

        regen_from = min(old_end + HOUR, new_end - (LIVE_HOURS - 1) * HOUR)
        plan = Plan()
        events: list[dict] = []
        live_meters = roles.members[roles.fault_area] + roles.household_meters
        if regen_from <= old_end:
            # the new end overlaps the old live window: rewrite those hours and drop the live events
            conn.execute(delete(Reading).where(Reading.ts >= regen_from))
            conn.execute(delete(MeterEvent).where(
                MeterEvent.meter_id.in_(live_meters), MeterEvent.ts > old_end - HOUR))
        else:
            events += restore_previous(roles, old_end, plan)

        existing = {n.notice_no: n for n in conn.execute(select(PlannedOutage.__table__))}
        areas, feeders = grid_rows(conn)
        fresh = [n for n in scheduled_notices(roles, areas, feeders, local_day(old_end),
                                              local_day(new_end + timedelta(days=7)))
                 if n["notice_no"] not in existing]
        anchored_running = any(
            n.notice_no.startswith("LS") and n.transformer_area_id == roles.planned_area
            and n.start_at <= new_end < n.end_at for n in existing.values())
        if not anchored_running:
            anchored = anchored_notice(roles, areas, new_end)
            if anchored["notice_no"] not in existing:
                fresh.append(anchored)
        insert_rows(conn, PlannedOutage, fresh)
        all_notices = [
            {"notice_no": n.notice_no, "transformer_area_id": n.transformer_area_id, "feeder_id": n.feeder_id,
             "start_at": n.start_at, "end_at": n.end_at} for n in existing.values()
        ] + fresh
        relevant = [n for n in all_notices if n["end_at"] > regen_from - HOUR]
        events += apply_notices(relevant, roles, plan, old_end.timestamp(), new_end.timestamp())
        phases = {r["meter_id"]: int(r["phases"]) for r in rows}
        events += plant_live(roles, phases, new_end, plan)

        meters = profiles(rows, _low_voltage_accounts())
        events += case_events(rows, meters, data_start, old_end, new_end)
        plan.faults = faults(rows, data_start)
        axis = Axis.between(regen_from, new_end)
        temps = temperatures(axis)
        weather = weather_rows(axis, temps, skip_before=old_end)
        insert_rows(conn, WeatherHour, weather)
        plan.overload = overload_factors(meters, roles, axis, temps, new_end)
        n_readings = write_readings(conn, meters, axis, temps, plan, progress, commit_chunks=False)
        events.sort(key=_event_order)
        insert_rows(conn, MeterEvent, events, ignore_duplicates=True)  # a seed run to a later hour left some
        refresh_supply(conn, rows, meters, data_start, new_end)
        n_bills = bill_new_months(conn, rows, data_start, new_end)
        conn.commit()
    summary = RefreshSummary(old_end, new_end, n_readings, len(events), len(fresh), n_bills, len(weather),
                             round(time.monotonic() - started, 1))
    say(f"demo current at {new_end.isoformat()} in {summary.seconds}s: {n_readings:,} readings, "
        f"{len(events)} events, {len(fresh)} new notices, {n_bills} new bills")
    return summary


def _extend_shifts(conn: Connection, end: datetime) -> None:
    """Crews keep working while the live demo runs: shifts reach 30 days past `end`.

    A demo seeded before crews existed gets them now (its tickets could not be dispatched).
    """
    if conn.execute(select(Crew.id).limit(1)).first() is None:
        _write_crews(conn, CREWS_SEED)
    ensure_demo_staff(conn, end)
    last = conn.execute(select(func.max(CrewShift.starts_at))).scalar_one()
    if last is None:
        last = end - timedelta(days=1)
    first_day, last_day = local_day(last) + timedelta(days=1), local_day(end + AHEAD)
    if first_day <= last_day:
        insert_rows(conn, CrewShift, shift_rows(first_day, last_day))
        conn.commit()


def _write_crews(conn: Connection, seed: int) -> None:
    crews, members = crew_rows(seed)
    insert_rows(conn, Crew, crews)
    insert_rows(conn, CrewMember, members)


def _low_voltage_accounts() -> set[str]:
    return {fixed_accounts()[r][0] for r in LOW_VOLTAGE_ROLES}


def _hour_floor(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _event_order(event: dict) -> tuple:
    return event["ts"], event["meter_id"], event["kind"]


def _quiet(_message: str) -> None:
    """The progress callback when the caller wants none."""
