"""Metering rules: a meter's snapshot, a transformer area's state, areas in outage, daily energy."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.metering.models import Feeder, Meter, MeterEvent, Reading, TransformerArea
from api.metering.schemas import SHANGHAI, AreaState, MeterEventRead, MeterSnapshot, ReadingRead

LOSS_KINDS = ("失压", "停电")
RESTORE_KIND = "上电"
DEAD_VOLTS = 50.0  # a reading below this voltage means the meter had no supply
READING_SPAN = timedelta(hours=1)  # an hourly reading covers [ts, ts + 1 h)
WINDOW = timedelta(hours=1)
SNAPSHOT_READINGS = timedelta(hours=3)
SNAPSHOT_EVENTS = timedelta(hours=24)


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


def meter_snapshot(*, session: Session, meter_id: int, now: datetime) -> MeterSnapshot:
    """Readings of the last 3 hours, events of the last 24 hours and the area's state."""
    meter = session.get(Meter, meter_id)
    if meter is None:
        raise LookupError(f"meter {meter_id} not found")
    area = session.get(TransformerArea, meter.transformer_area_id)
    return MeterSnapshot(
        meter_no=meter.meter_no, phases=meter.phases, transformer_area_code=area.code, as_of=now,
        readings=[ReadingRead.model_validate(r) for r in
                  list_readings(session=session, meter_id=meter_id, start=now - SNAPSHOT_READINGS, end=now)],
        events=[MeterEventRead.model_validate(e) for e in
                list_events(session=session, meter_id=meter_id, start=now - SNAPSHOT_EVENTS, end=now)],
        area_state=area_state(session=session, transformer_area_id=meter.transformer_area_id, now=now),
    )


def snapshot_for_customer(*, session: Session, customer_id: int, now: datetime) -> MeterSnapshot | None:
    """The snapshot of the customer's meter, or None when the customer has no meter."""
    meter = get_meter_by_customer(session=session, customer_id=customer_id)
    return None if meter is None else meter_snapshot(session=session, meter_id=meter.id, now=now)


def daily_kwh(*, session: Session, meter_id: int, start: date, end: date) -> dict[date, Decimal]:
    """Energy per local (Asia/Shanghai) day from `start` to `end` inclusive; days without data omitted."""
    lo = datetime(start.year, start.month, start.day, tzinfo=SHANGHAI)
    hi = datetime(end.year, end.month, end.day, tzinfo=SHANGHAI) + timedelta(days=1)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    rows = session.execute(select(Reading.ts, Reading.kwh).where(
        Reading.meter_id == meter_id, Reading.ts >= lo, Reading.ts < hi))
    for ts, kwh in rows:
        totals[ts.astimezone(SHANGHAI).date()] += Decimal(kwh).quantize(Decimal("0.001"))
    return dict(sorted(totals.items()))


def latest_reading_at(*, session: Session, meter_id: int) -> datetime | None:
    """When the meter last reported (start of its latest hourly reading)."""
    return session.scalar(select(func.max(Reading.ts)).where(Reading.meter_id == meter_id))
