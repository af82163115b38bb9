"""Metering rules: a meter's snapshot, a transformer area's state, areas in outage, daily energy."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, false, func, literal_column, or_, select, true
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.core.time import LOCAL_TZ, local_day_sql, local_days, local_hour_sql, local_midnight
from api.metering.models import Feeder, Meter, MeterEvent, Reading, TransformerArea, WeatherHour
from api.metering.schemas import (
    AreaState,
    DailyUsage,
    MeterEventRead,
    MeterSnapshot,
    PeriodTotal,
    ReadingCoverage,
    ReadingRead,
    UsageRead,
)

LOSS_KINDS = ("失压", "停电")
RESTORE_KIND = "上电"
DEAD_VOLTS = 50.0  # a reading below this voltage means the meter had no supply
READING_SPAN = timedelta(hours=1)  # an hourly reading covers [ts, ts + 1 h)
WINDOW = timedelta(hours=1)
SNAPSHOT_READINGS = timedelta(hours=3)
SNAPSHOT_EVENTS = timedelta(hours=24)
# Events that say the meter may have measured wrongly (a customer asking about a high bill may be told
# of them). 开盖 is not one: a cover opened is a matter for 用电检查, never told to the customer.
METERING_FAULT_KINDS = ("失压", "断相", "反向电量")
POWER_CUT_KIND = "停电"
POWER_CUT_GAP = timedelta(minutes=10)  # a 失压 this close to a 停电 is the supply going off


def get_meter(*, session: Session, meter_id: int) -> Meter | None:
    """The meter with this id, or None."""
    return session.get(Meter, meter_id)


def get_meter_by_customer(*, session: Session, customer_id: int) -> Meter | None:
    """The customer's meter, or None."""
    return session.scalar(select(Meter).where(Meter.customer_id == customer_id))


def get_area(*, session: Session, transformer_area_id: int) -> TransformerArea | None:
    """The transformer area with this id, or None."""
    return session.get(TransformerArea, transformer_area_id)


def get_area_by_code(*, session: Session, code: str) -> TransformerArea | None:
    """The transformer area with this code (e.g. TA0103), or None."""
    return session.scalar(select(TransformerArea).where(TransformerArea.code == code.strip().upper()))


def require_area_by_code(*, session: Session, code: str) -> TransformerArea:
    """The transformer area with this code, or NotFound."""
    area = get_area_by_code(session=session, code=code)
    if area is None:
        raise NotFound("area_not_found", f"未找到台区 {code}")
    return area


def get_feeder(*, session: Session, feeder_id: int) -> Feeder | None:
    """The feeder with this id, or None."""
    return session.get(Feeder, feeder_id)


def _lost_meters(
    *, session: Session, now: datetime, meter_ids: list[int], all_meters: bool
) -> tuple[set[int], dict[int, float]]:
    """Meters without supply in (now - 1 h, now] and every meter's latest mean power.

    A meter counts when it reported 失压/停电 or its latest reading is below 50 V in the
    window, unless its latest supply event in the window is 上电 (power came back). Readings
    are stamped at the start of their hour, so one stamped up to 2 h ago still overlaps it.
    """
    lo = now - WINDOW
    # by meter id, so the (meter_id, ts) unique index serves the time range on any backend
    readings = select(Reading.meter_id, Reading.ts, Reading.kw, Reading.voltage_a).where(
        Reading.meter_id.in_(meter_ids), Reading.ts > lo - READING_SPAN, Reading.ts <= now)
    events = select(MeterEvent.meter_id, MeterEvent.ts, MeterEvent.kind).where(
        MeterEvent.kind.in_((*LOSS_KINDS, RESTORE_KIND)), MeterEvent.ts > lo, MeterEvent.ts <= now)
    if not all_meters:  # one area: (meter_id, ts); every area: the (kind, ts) index
        events = events.where(MeterEvent.meter_id.in_(meter_ids))
    load: dict[int, float] = defaultdict(float)
    latest_reading: dict[int, tuple[datetime, bool]] = {}
    for meter_id, ts, kw, volts in session.execute(readings):
        if meter_id not in latest_reading or ts > latest_reading[meter_id][0]:
            latest_reading[meter_id] = (ts, float(volts) < DEAD_VOLTS)
            load[meter_id] = float(kw)
    last_event: dict[int, tuple[datetime, str]] = {}
    lost_by_event: set[int] = set()
    for meter_id, ts, kind in session.execute(events):
        if kind in LOSS_KINDS:
            lost_by_event.add(meter_id)
        if meter_id not in last_event or ts >= last_event[meter_id][0]:
            last_event[meter_id] = (ts, kind)
    dead = {m for m, (_ts, is_dead) in latest_reading.items() if is_dead}
    restored = {m for m, (_ts, kind) in last_event.items() if kind == RESTORE_KIND}
    return (lost_by_event | dead) - restored, load


def _states(*, session: Session, now: datetime, area_ids: list[int] | None) -> list[AreaState]:
    query = select(TransformerArea, Feeder).join(Feeder, Feeder.id == TransformerArea.feeder_id)
    meters = select(Meter.id, Meter.transformer_area_id)
    if area_ids is not None:
        query = query.where(TransformerArea.id.in_(area_ids))
        meters = meters.where(Meter.transformer_area_id.in_(area_ids))
    members: dict[int, list[int]] = defaultdict(list)
    for meter_id, area_id in session.execute(meters):
        members[area_id].append(meter_id)
    all_ids = [m for ms in members.values() for m in ms]
    lost, load = _lost_meters(session=session, now=now, meter_ids=all_ids, all_meters=area_ids is None)
    states = []
    for area, feeder in session.execute(query.order_by(TransformerArea.id)):
        ids = members.get(area.id, [])
        total = len(ids)
        n_lost = sum(1 for m in ids if m in lost)
        load_kw = round(sum(load.get(m, 0.0) for m in ids), 2)
        capacity = float(area.capacity_kva)
        ratio = round(load_kw / capacity, 3) if capacity else 0.0
        states.append(AreaState(
            area_code=area.code, area_name=area.name, district=area.district, town=area.town,
            area_class=area.area_class, feeder_code=feeder.code, feeder_name=feeder.name,
            substation=feeder.substation, meters_total=total, meters_lost_voltage_last_hour=n_lost,
            share=round(n_lost / total, 3) if total else 0.0, load_kw=load_kw, capacity_kva=capacity,
            load_ratio=ratio, overloaded=ratio > 1.0, as_of=now,
        ))
    return states


def area_state(*, session: Session, transformer_area_id: int, now: datetime) -> AreaState:
    """The area's state over the last hour before `now` (LookupError if the area is unknown)."""
    states = _states(session=session, now=now, area_ids=[transformer_area_id])
    if not states:
        raise LookupError(f"transformer area {transformer_area_id} not found")
    return states[0]


def list_area_states(*, session: Session, now: datetime) -> list[AreaState]:
    """Every area's state over the last hour before `now`."""
    return _states(session=session, now=now, area_ids=None)


def list_area_outages(*, session: Session, now: datetime, min_share: float) -> list[AreaState]:
    """Areas where at least `min_share` of the meters lost voltage in the last hour, worst first."""
    states = [s for s in list_area_states(session=session, now=now)
              if s.meters_total and s.share >= min_share]
    return sorted(states, key=lambda s: (-s.share, s.area_code))


def list_readings(*, session: Session, meter_id: int, start: datetime, end: datetime) -> list[Reading]:
    """The meter's hourly readings with start < ts <= end, oldest first."""
    return list(session.scalars(
        select(Reading).where(Reading.meter_id == meter_id, Reading.ts > start, Reading.ts <= end)
        .order_by(Reading.ts)))


def list_events(*, session: Session, meter_id: int, start: datetime, end: datetime) -> list[MeterEvent]:
    """The meter's events with start < ts <= end, oldest first."""
    return list(session.scalars(
        select(MeterEvent).where(MeterEvent.meter_id == meter_id, MeterEvent.ts > start, MeterEvent.ts <= end)
        .order_by(MeterEvent.ts, MeterEvent.id)))


def list_metering_faults(*, session: Session, meter_id: int, start: datetime, end: datetime) -> list[MeterEvent]:
    """The meter's 失压, 断相 and 反向电量 events with start < ts <= end, oldest first; a 失压 within
    POWER_CUT_GAP of a 停电 is the supply going off (an outage), not a metering fault, and is left out."""
    events = list_events(session=session, meter_id=meter_id, start=start - POWER_CUT_GAP, end=end + POWER_CUT_GAP)
    cuts = [e.ts for e in events if e.kind == POWER_CUT_KIND]
    return [e for e in events if start < e.ts <= end and e.kind in METERING_FAULT_KINDS
            and not (e.kind == "失压" and any(abs(e.ts - cut) <= POWER_CUT_GAP for cut in cuts))]


def reading_coverage(*, session: Session, meter: Meter, now: datetime, days: int) -> ReadingCoverage:
    """Whether the meter reported every whole hour of the last `days` days since it first reported, and
    the lowest and highest phase voltage it read while supplied (readings under DEAD_VOLTS left out)."""
    end = now.astimezone(LOCAL_TZ).replace(minute=0, second=0, microsecond=0)  # the last whole hour ends here
    first = session.scalar(select(func.min(Reading.ts)).where(Reading.meter_id == meter.id))
    start = max(end - timedelta(days=days), local_midnight(meter.installed_on), first or end)
    expected = max(0, int((end - start) / READING_SPAN))
    phases = [Reading.voltage_a, Reading.voltage_b, Reading.voltage_c][:max(1, min(meter.phases, 3))]
    lows = [func.min(case((volts >= DEAD_VOLTS, volts))) for volts in phases]
    highs = [func.max(volts) for volts in phases]
    row = session.execute(select(func.count(Reading.id), *lows, *highs).where(
        Reading.meter_id == meter.id, Reading.ts >= start, Reading.ts < end)).one()
    reported = int(row[0] or 0)
    low = [float(v) for v in row[1:1 + len(phases)] if v is not None]
    high = [float(v) for v in row[1 + len(phases):] if v is not None and float(v) >= DEAD_VOLTS]
    return ReadingCoverage(start=start, end=end, hours_expected=expected, hours_reported=min(reported, expected),
                           complete=reported >= expected, voltage_min=round(min(low), 1) if low else None,
                           voltage_max=round(max(high), 1) if high else None)


def meter_snapshot(*, session: Session, meter_id: int, now: datetime) -> MeterSnapshot:
    """Readings of the last 3 hours (currents as primary amps: a CT-metered meter's are scaled up by its
    ratio), events of the last 24 hours and the area's state."""
    meter = session.get(Meter, meter_id)
    if meter is None:
        raise LookupError(f"meter {meter_id} not found")
    area = session.get(TransformerArea, meter.transformer_area_id)
    return MeterSnapshot(
        meter_no=meter.meter_no, phases=meter.phases, transformer_area_code=area.code, as_of=now,
        ct_ratio=meter.ct_ratio,
        readings=[primary_amps(ReadingRead.model_validate(r), meter.ct_ratio) for r in
                  list_readings(session=session, meter_id=meter_id, start=now - SNAPSHOT_READINGS, end=now)],
        events=[MeterEventRead.model_validate(e) for e in
                list_events(session=session, meter_id=meter_id, start=now - SNAPSHOT_EVENTS, end=now)],
        area_state=area_state(session=session, transformer_area_id=meter.transformer_area_id, now=now),
    )


def primary_amps(reading: ReadingRead, ct_ratio: int | None) -> ReadingRead:
    """The reading with the current on the line (the meter reads the CT secondary when ct_ratio is set)."""
    if not ct_ratio:
        return reading
    scaled = {k: round(v * ct_ratio, 2) for k in ("current_a", "current_b", "current_c")
              if (v := getattr(reading, k)) is not None}
    return reading.model_copy(update=scaled)


def snapshot_for_customer(*, session: Session, customer_id: int, now: datetime) -> MeterSnapshot | None:
    """The snapshot of the customer's meter, or None when the customer has no meter."""
    meter = get_meter_by_customer(session=session, customer_id=customer_id)
    return None if meter is None else meter_snapshot(session=session, meter_id=meter.id, now=now)


def daily_kwh(*, session: Session, meter_id: int, start: date, end: date) -> dict[date, Decimal]:
    """Energy per local (Asia/Shanghai) day from `start` to `end` inclusive; days without data omitted."""
    lo = datetime(start.year, start.month, start.day, tzinfo=LOCAL_TZ)
    hi = datetime(end.year, end.month, end.day, tzinfo=LOCAL_TZ) + timedelta(days=1)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    rows = session.execute(select(Reading.ts, Reading.kwh).where(
        Reading.meter_id == meter_id, Reading.ts >= lo, Reading.ts < hi))
    for ts, kwh in rows:
        totals[ts.astimezone(LOCAL_TZ).date()] += Decimal(kwh).quantize(Decimal("0.001"))
    return dict(sorted(totals.items()))


def daily_kwh_all(*, session: Session, start: date, end: date) -> list[tuple[int, int, date, float]]:
    """(customer id, meter id, local day, kWh) of every meter from `start` to `end` inclusive, summed in SQL."""
    lo = datetime(start.year, start.month, start.day, tzinfo=LOCAL_TZ)
    hi = datetime(end.year, end.month, end.day, tzinfo=LOCAL_TZ) + timedelta(days=1)
    day = local_day_sql(Reading.ts)
    per_day = (select(Reading.meter_id.label("meter_id"), day.label("day"), func.sum(Reading.kwh).label("kwh"))
               .where(Reading.ts >= lo, Reading.ts < hi).group_by(Reading.meter_id, day).subquery())
    rows = session.execute(select(Meter.customer_id, per_day.c.meter_id, per_day.c.day, per_day.c.kwh)
                           .join(Meter, Meter.id == per_day.c.meter_id))
    return [(cid, mid, d if isinstance(d, date) else date.fromisoformat(str(d)), float(kwh or 0))
            for cid, mid, d, kwh in rows]


def latest_reading_at(*, session: Session, meter_id: int) -> datetime | None:
    """When the meter last reported (start of its latest hourly reading)."""
    return session.scalar(select(func.max(Reading.ts)).where(Reading.meter_id == meter_id))


def _month_back(day: date) -> date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def usage(*, session: Session, customer_id: int, account_no: str, start: date, end: date) -> UsageRead:
    """Daily kWh of the customer's meter from `start` to `end` (local days, inclusive) and the same
    period a month earlier; a customer without a meter has no days with data."""
    if end < start:
        raise ValueError("end is before start")
    meter = get_meter_by_customer(session=session, customer_id=customer_id)
    days_kwh = {} if meter is None else daily_kwh(session=session, meter_id=meter.id, start=start, end=end)
    prev_start, prev_end = _month_back(start), _month_back(end)
    prev_kwh = {} if meter is None else daily_kwh(session=session, meter_id=meter.id, start=prev_start, end=prev_end)
    days = [DailyUsage(date=day, kwh=None if days_kwh.get(day) is None else float(round(days_kwh[day], 3)))
            for day in local_days(start, end)]
    total = float(round(sum(days_kwh.values()), 3))
    previous = float(round(sum(prev_kwh.values()), 3))
    covered = sum(1 for d in days if d.kwh is not None)
    return UsageRead(
        account_no=account_no, start=start, end=end, days=days, total_kwh=total,
        average_daily_kwh=round(total / covered, 3) if covered else 0.0,
        previous=PeriodTotal(start=prev_start, end=prev_end, total_kwh=previous),
        change_kwh=round(total - previous, 3),
        change_pct=round(100.0 * (total - previous) / previous, 1) if previous else None,
    )


# ------------------------------------------------------------------ series for billing and load forecasting

NO_METER_MESSAGE = "该户号暂无智能电表数据，无法分析"
LOAD_GROUPS = ("system", "area", "feeder", "customer")


def require_meter_by_customer(*, session: Session, customer_id: int) -> Meter:
    """The customer's meter; NotFound ("no_meter") when it has none, so there is nothing to analyse."""
    meter = get_meter_by_customer(session=session, customer_id=customer_id)
    if meter is None:
        raise NotFound("no_meter", NO_METER_MESSAGE)
    return meter


def list_areas(*, session: Session, code: str | None = None) -> list[TransformerArea]:
    """Every transformer area by code, or the one with `code`."""
    query = select(TransformerArea).order_by(TransformerArea.code)
    if code is not None:
        query = query.where(TransformerArea.code == code.strip().upper())
    return list(session.scalars(query))


def list_feeders(*, session: Session, code: str | None = None) -> list[Feeder]:
    """Every feeder by code, or the one with `code`."""
    query = select(Feeder).order_by(Feeder.code)
    if code is not None:
        query = query.where(Feeder.code == code.strip().upper())
    return list(session.scalars(query))


def list_area_districts(*, session: Session) -> list[str]:
    """The districts that have transformer areas, sorted."""
    return sorted(d for (d,) in session.execute(select(TransformerArea.district).distinct()))


def meter_ids_by_customer(*, session: Session, customer_ids: list[int] | None = None) -> dict[int, int]:
    """Customer id → its meter's id, for every meter or for the meters of `customer_ids`."""
    query = select(Meter.customer_id, Meter.id)
    if customer_ids is not None:
        query = query.where(Meter.customer_id.in_(customer_ids))
    return dict(session.execute(query).all())


def customer_ids_by_meter(*, session: Session, meter_ids: list[int]) -> dict[int, int]:
    """Meter id → its customer's id, for these meters."""
    if not meter_ids:
        return {}
    return dict(session.execute(select(Meter.id, Meter.customer_id).where(Meter.id.in_(meter_ids))).all())


def hourly_kwh(*, session: Session, meter_id: int, start: datetime, end: datetime) -> list[tuple[datetime, Decimal]]:
    """The meter's hourly (UTC start of hour, kWh) with start <= ts < end, oldest first."""
    return [(ts, Decimal(kwh)) for ts, kwh in session.execute(
        select(Reading.ts, Reading.kwh).where(Reading.meter_id == meter_id, Reading.ts >= start, Reading.ts < end)
        .order_by(Reading.ts))]


def hourly_load(*, session: Session, by: str, keys: list | None, start: datetime, end: datetime) -> list[tuple]:
    """Summed mean power per hour with start < ts <= end, as (key, ts, kW) rows (SQL GROUP BY).

    `by` "area" or "feeder" keys rows by code, "customer" by the meter's customer id, "system" by
    None (one series); `keys` limits the rows to those keys (None: all).
    """
    total = func.sum(Reading.kw)
    window = (Reading.ts > start, Reading.ts <= end)
    if by == "system":
        return session.execute(select(literal_column("NULL"), Reading.ts, total).where(*window)
                               .group_by(Reading.ts)).all()
    if by == "customer":
        label = Meter.customer_id
        query = select(label, Reading.ts, total).join(Meter, Meter.id == Reading.meter_id)
    elif by == "area":
        label = TransformerArea.code
        query = (select(label, Reading.ts, total).join(Meter, Meter.id == Reading.meter_id)
                 .join(TransformerArea, TransformerArea.id == Meter.transformer_area_id))
    elif by == "feeder":
        label = Feeder.code
        query = (select(label, Reading.ts, total).join(Meter, Meter.id == Reading.meter_id)
                 .join(TransformerArea, TransformerArea.id == Meter.transformer_area_id)
                 .join(Feeder, Feeder.id == TransformerArea.feeder_id))
    else:
        raise ValueError(f"unknown load group {by!r}; one of {', '.join(LOAD_GROUPS)}")
    if keys is not None:
        query = query.where(label.in_(keys))
    return session.execute(query.where(*window).group_by(label, Reading.ts)).all()


def list_temperatures(*, session: Session, districts: list[str], start: datetime,
                      end: datetime) -> list[tuple[str, datetime, Decimal]]:
    """Hourly measured temperatures (district, ts, °C) of the districts with start <= ts <= end."""
    return session.execute(select(WeatherHour.district, WeatherHour.ts, WeatherHour.temperature_c).where(
        WeatherHour.district.in_(districts), WeatherHour.ts >= start, WeatherHour.ts <= end)).all()


def mean_kwh_by_hour(*, session: Session, meter_ids: list[int], start: datetime,
                     end: datetime) -> list[tuple[int, int, float]]:
    """(meter id, local hour 0–23, mean kWh) of the meters' readings with start <= ts < end."""
    hour = local_hour_sql(Reading.ts)
    return [(meter_id, int(h), float(avg)) for meter_id, h, avg in session.execute(
        select(Reading.meter_id, hour, func.avg(Reading.kwh))
        .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
        .group_by(Reading.meter_id, hour))]


def daily_average_kwh(*, session: Session, meter_ids: list[int], start: datetime, end: datetime,
                      min_hours: int) -> dict[int, float]:
    """Mean kWh per local day of each meter, over its days with at least `min_hours` readings."""
    day = local_day_sql(Reading.ts)
    daily = (select(Reading.meter_id.label("meter_id"), day.label("day"), func.sum(Reading.kwh).label("kwh"))
             .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
             .group_by(Reading.meter_id, day)
             .having(func.count() >= min_hours)).subquery()
    return {m: float(v) for m, v in session.execute(
        select(daily.c.meter_id, func.avg(daily.c.kwh)).group_by(daily.c.meter_id))}


def _in_hours(hour, hours: Iterable[int]):
    """A SQL condition: the hour expression falls in `hours` (as ranges, cheaper than an IN list)."""
    runs: list[tuple[int, int]] = []
    for h in sorted(set(hours)):
        if runs and runs[-1][1] == h:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    parts = []
    for lo, hi in runs:
        if lo == 0 and hi == 24:
            return true()
        if lo == 0:
            parts.append(hour < hi)
        elif hi == 24:
            parts.append(hour >= lo)
        else:
            parts.append(and_(hour >= lo, hour < hi))
    return or_(*parts) if parts else false()


def kwh_by_hour_group(*, session: Session, meter_ids: list[int], start: datetime, end: datetime,
                      groups: dict[str, tuple[int, ...]], high_hours: tuple[int, ...] = (),
                      high_kwh: Decimal = Decimal(0)) -> dict[int, tuple[float, int, dict[str, float], int]]:
    """Per meter (start <= ts < end): (kWh, hours read, kWh in each group of local hours, hours among
    `high_hours` at or above `high_kwh`) — one pass grouped by meter only (the (meter_id, ts) index
    order, no sort)."""
    hour = local_hour_sql(Reading.ts)
    columns = [func.sum(case((_in_hours(hour, hours), Reading.kwh), else_=0)) for hours in groups.values()]
    if high_hours:
        columns.append(func.sum(case((and_(_in_hours(hour, high_hours), Reading.kwh >= high_kwh), 1), else_=0)))
    rows = session.execute(
        select(Reading.meter_id, func.sum(Reading.kwh), func.count(), *columns)
        .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
        .group_by(Reading.meter_id))
    names = list(groups)
    return {meter_id: (float(kwh or 0), int(n), {name: float(rest[i] or 0) for i, name in enumerate(names)},
                       int(rest[len(names)] or 0) if high_hours else 0)
            for meter_id, kwh, n, *rest in rows}


def kwh_by_hour(*, session: Session, meter_ids: list[int], start: datetime, end: datetime,
                high_kwh: Decimal) -> dict[int, dict[int, tuple[float, int, int]]]:
    """Per meter and local hour (start <= ts < end): (kWh, hours read, hours at or above `high_kwh`)."""
    hour = local_hour_sql(Reading.ts)
    out: dict[int, dict[int, tuple[float, int, int]]] = defaultdict(dict)
    for meter_id, h, kwh, n, high in session.execute(
            select(Reading.meter_id, hour, func.sum(Reading.kwh), func.count(),
                   func.sum(case((Reading.kwh >= high_kwh, 1), else_=0)))
            .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
            .group_by(Reading.meter_id, hour)):
        out[meter_id][int(h)] = (float(kwh or 0), int(n), int(high or 0))
    return dict(out)


def kwh_in_windows(*, session: Session, windows: dict[str, tuple[datetime, datetime]],
                   meter_ids: list[int] | None = None) -> dict[int, dict[str, tuple[float, int]]]:
    """Per meter: (kWh, hours read) in each named window [start, end), in one pass over the readings."""
    lo = min(start for start, _ in windows.values())
    hi = max(end for _, end in windows.values())
    columns = []
    for start, end in windows.values():
        inside = and_(Reading.ts >= start, Reading.ts < end)
        columns += [func.sum(case((inside, Reading.kwh), else_=0)), func.sum(case((inside, 1), else_=0))]
    query = select(Reading.meter_id, *columns).where(Reading.ts >= lo, Reading.ts < hi)
    if meter_ids is not None:
        query = query.where(Reading.meter_id.in_(meter_ids))
    names = list(windows)
    return {meter_id: {name: (float(sums[2 * i] or 0), int(sums[2 * i + 1] or 0)) for i, name in enumerate(names)}
            for meter_id, *sums in session.execute(query.group_by(Reading.meter_id))}


SUPPLY_KINDS = (*LOSS_KINDS, RESTORE_KIND)


@dataclass(frozen=True)
class MeterSupply:
    """A meter's supply as its latest 停电/失压/上电 event in the look-back says: off since when, or on."""

    meter_id: int
    meter_no: str
    customer_id: int
    transformer_area_id: int
    off_since: datetime | None  # the loss event's time while the latest supply event is a loss


def meter_supply(*, session: Session, now: datetime, lookback: timedelta,
                 area_ids: list[int] | None = None) -> dict[int, list[MeterSupply]]:
    """Every meter of the areas (all areas when None) by area, with its supply from its events in
    (now - lookback, now]; a meter with no such event counts as supplied."""
    meters = select(Meter.id, Meter.meter_no, Meter.customer_id, Meter.transformer_area_id)
    events = select(MeterEvent.meter_id, MeterEvent.ts, MeterEvent.kind).where(
        MeterEvent.kind.in_(SUPPLY_KINDS), MeterEvent.ts > now - lookback, MeterEvent.ts <= now)
    if area_ids is not None:
        meters = meters.where(Meter.transformer_area_id.in_(area_ids))
        events = events.where(MeterEvent.meter_id.in_(
            select(Meter.id).where(Meter.transformer_area_id.in_(area_ids))))
    latest: dict[int, tuple[datetime, int, str]] = {}
    for meter_id, ts, kind in session.execute(events):
        # at the same instant a 上电 wins: the meter reports the loss and the return in that order
        rank = (ts, 1 if kind == RESTORE_KIND else 0)
        if meter_id not in latest or rank >= latest[meter_id][:2]:
            latest[meter_id] = (ts, rank[1], kind)
    by_area: dict[int, list[MeterSupply]] = defaultdict(list)
    for meter_id, meter_no, customer_id, area_id in session.execute(meters.order_by(Meter.id)):
        last = latest.get(meter_id)
        off = last[0] if last is not None and last[2] in LOSS_KINDS else None
        by_area[area_id].append(MeterSupply(meter_id, meter_no, customer_id, area_id, off))
    return by_area


@dataclass(frozen=True)
class AreaHour:
    """One transformer area in one hour, from its meters' readings: load, worst voltages, phase currents."""

    transformer_area_id: int
    ts: datetime
    meters_reporting: int
    load_kw: float
    phase_amps: tuple[float, float, float]  # summed over its three-phase meters
    low_meters: tuple[str, ...]  # meter numbers reading under the low limit (but supplied)
    high_meters: tuple[str, ...]  # meter numbers reading over the high limit


def area_hours(*, session: Session, area_ids: list[int], start: datetime, end: datetime, low_volts: float,
               high_volts: float) -> dict[int, list[AreaHour]]:
    """The areas' hours with readings in [start, end), oldest first."""
    rows = session.execute(
        select(Meter.transformer_area_id, Meter.meter_no, Reading.ts, Reading.kw, Reading.voltage_a,
               Reading.voltage_b, Reading.voltage_c, Reading.current_a, Reading.current_b, Reading.current_c,
               Meter.phases, Meter.ct_ratio)
        .join(Meter, Meter.id == Reading.meter_id)
        .where(Meter.transformer_area_id.in_(area_ids), Reading.ts >= start, Reading.ts < end))
    acc: dict[tuple[int, datetime], dict] = {}
    for area_id, meter_no, ts, kw, va, vb, vc, ia, ib, ic, phases, ct in rows:
        hour = acc.setdefault((area_id, ts), {"n": 0, "kw": 0.0, "amps": [0.0, 0.0, 0.0], "low": [], "high": []})
        hour["n"] += 1
        hour["kw"] += float(kw)
        volts = [float(v) for v in (va, vb, vc) if v is not None]
        live = [v for v in volts if v >= DEAD_VOLTS]
        if live and min(live) < low_volts:
            hour["low"].append(meter_no)
        if volts and max(volts) > high_volts:
            hour["high"].append(meter_no)
        if phases == 3 and ib is not None and ic is not None:
            ratio = ct or 1
            for i, amps in enumerate((ia, ib, ic)):
                hour["amps"][i] += float(amps) * ratio
    out: dict[int, list[AreaHour]] = defaultdict(list)
    for (area_id, ts), h in sorted(acc.items(), key=lambda kv: kv[0][1]):
        out[area_id].append(AreaHour(area_id, ts, h["n"], round(h["kw"], 2), tuple(round(a, 1) for a in h["amps"]),
                                     tuple(h["low"]), tuple(h["high"])))
    return out


def list_fault_events(*, session: Session, meter_ids: list[int], start: datetime, end: datetime) -> list[MeterEvent]:
    """The metering hardware's faults in (start, end]: 断相, and 失压 on one or two phases of a three-phase meter.

    A 失压 on a single-phase meter, on all three phases at once, or within POWER_CUT_GAP of a 停电 is the
    supply going off (an outage), not a fault; 反向电量 is left to the audit rules (it may be theft)."""
    three_phase = set(session.scalars(select(Meter.id).where(Meter.id.in_(meter_ids), Meter.phases == 3)))
    events = session.scalars(select(MeterEvent).where(
        MeterEvent.meter_id.in_(meter_ids), MeterEvent.ts > start - POWER_CUT_GAP, MeterEvent.ts <= end + POWER_CUT_GAP,
        MeterEvent.kind.in_(("断相", "失压", POWER_CUT_KIND))).order_by(MeterEvent.ts, MeterEvent.id)).all()
    cuts: dict[int, list[datetime]] = defaultdict(list)
    phases_at: dict[tuple[int, datetime], set[str]] = defaultdict(set)
    for e in events:
        if e.kind == POWER_CUT_KIND:
            cuts[e.meter_id].append(e.ts)
        elif e.kind == "失压":
            phases_at[(e.meter_id, e.ts)].add(e.phase or "ABC")
    faults = []
    for e in events:
        if not start < e.ts <= end or e.kind == POWER_CUT_KIND:
            continue
        if e.kind == "失压" and (e.meter_id not in three_phase or e.phase is None
                                 or len(phases_at[(e.meter_id, e.ts)]) >= 3
                                 or any(abs(e.ts - cut) <= POWER_CUT_GAP for cut in cuts[e.meter_id])):
            continue
        faults.append(e)
    return faults


def area_ids_of_meters(*, session: Session, meter_ids: Iterable[int]) -> list[int]:
    """The transformer areas these meters are in."""
    ids = sorted(set(meter_ids))
    found: set[int] = set()
    for i in range(0, len(ids), 900):
        found.update(session.scalars(select(Meter.transformer_area_id).where(Meter.id.in_(ids[i:i + 900]))))
    return sorted(found)
