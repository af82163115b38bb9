"""refresh_live: a later `make demo` extends the data and moves the live situations to the new hour."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from api.billing.models import Bill
from api.customers.models import Customer
from api.db import make_engine, make_sessionmaker
from api.demo.generator import has_demo_data, refresh_live
from api.demo.showcase import EXTRA_ACCOUNTS, HOUSEHOLD_OUTAGE_ROLES, SHOWCASE
from api.demo.staff import DEMO_STAFF
from api.dispatch.models import Crew, CrewMember, CrewShift
from api.metering import service as metering
from api.metering.models import Meter, MeterEvent, Reading, WeatherHour
from api.models import Base
from api.outages.models import PlannedOutage
from api.staff.models import StaffUser
from tests.api.conftest import build_demo_database
from tests.api.demo.test_generator import checksum

END = datetime(2026, 10, 31, 12, tzinfo=timezone.utc)  # 20:00 on 31 Oct in 固原
CUSTOMERS, DAYS = 60, 33
LATER = END + timedelta(hours=12)  # 08:00 on 1 Nov: October is now complete
MINUTES = timedelta(minutes=10)


def account(role: str) -> str:
    return {**SHOWCASE, **EXTRA_ACCOUNTS}[role][0]


def area_of(s, role: str) -> int:
    return s.scalar(select(Customer.transformer_area_id).where(Customer.account_no == account(role)))


def meter_of(s, role: str) -> int:
    return s.scalar(select(Meter.id).join(Customer, Customer.id == Meter.customer_id)
                    .where(Customer.account_no == account(role)))


def assert_live_at(s, end: datetime) -> None:
    now = end + MINUTES
    assert metering.area_state(session=s, transformer_area_id=area_of(s, "area_outage"), now=now).share >= 0.8
    for role in HOUSEHOLD_OUTAGE_ROLES:
        assert metering.area_state(session=s, transformer_area_id=area_of(s, role), now=now) \
            .meters_lost_voltage_last_hour == 1, role
    assert metering.area_state(session=s, transformer_area_id=area_of(s, "overloaded_area"), now=now).load_ratio > 1
    planned = area_of(s, "planned_outage")
    assert s.scalar(select(func.count()).select_from(PlannedOutage).where(
        PlannedOutage.transformer_area_id == planned, PlannedOutage.start_at <= now, PlannedOutage.end_at > now)) == 1
    assert metering.area_state(session=s, transformer_area_id=planned, now=now).share == 1.0


@pytest.fixture
def small_demo(demo_database_factory):
    engine, _summary = build_demo_database(demo_database_factory(), customers=CUSTOMERS, days=DAYS, end=END)
    yield engine
    engine.dispose()


def test_refresh_extends_the_data_and_moves_the_live_situations(small_demo):
    engine = small_demo
    assert has_demo_data(engine)
    Session = make_sessionmaker(engine)
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Bill)) == 0  # no full month yet
        assert_live_at(s, END)

    result = refresh_live(engine, end=LATER + timedelta(minutes=37))  # floored to the hour
    assert (result.previous_end, result.end) == (END, LATER)
    assert result.readings == CUSTOMERS * 12

    with Session() as s:
        total = CUSTOMERS * (DAYS * 24 + 12)
        assert s.scalar(select(func.count()).select_from(Reading)) == total
        assert s.scalar(select(func.count()).select_from(Reading).where(Reading.ts == LATER)) == CUSTOMERS
        assert s.scalar(select(func.count()).select_from(WeatherHour)) == 5 * (DAYS * 24 + 12)
        assert_live_at(s, LATER)
        # the previous outage stays in the history, then power came back
        assert metering.area_state(session=s, transformer_area_id=area_of(s, "area_outage"),
                                   now=END + MINUTES).share >= 0.8
        restored = s.scalars(select(MeterEvent.kind).where(
            MeterEvent.meter_id == meter_of(s, "area_outage"), MeterEvent.ts > END, MeterEvent.ts <= END + 2 * MINUTES * 12)).all()
        assert restored == ["上电"]
        between = END + timedelta(hours=4)
        assert metering.area_state(session=s, transformer_area_id=area_of(s, "area_outage"), now=between).share == 0
        assert metering.area_state(session=s, transformer_area_id=area_of(s, "household_outage"),
                                   now=between).meters_lost_voltage_last_hour == 0
        # October became a full local month: its bills were written from the readings
        bills = s.scalars(select(Bill).where(Bill.period == "2026-10")).all()
        assert len(bills) == CUSTOMERS
        normal = s.scalar(select(Customer).where(Customer.account_no == account("normal")))
        bill = next(b for b in bills if b.customer_id == normal.id)
        lo = datetime(2026, 9, 30, 16, tzinfo=timezone.utc)
        kwh = s.scalars(select(Reading.kwh).where(Reading.meter_id == meter_of(s, "normal"), Reading.ts >= lo,
                                                  Reading.ts < lo + timedelta(days=31))).all()
        assert len(kwh) == 31 * 24
        total_kwh = sum(Decimal(k).quantize(Decimal("0.001")) for k in kwh)
        assert Decimal(bill.kwh) == total_kwh.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    same = checksum(engine)
    again = refresh_live(engine, end=LATER)
    assert again.readings == 0 and checksum(engine) == same

    # an hour later: the live hours overlap and are rewritten, not duplicated
    overlap = refresh_live(engine, end=LATER + timedelta(hours=1))
    assert overlap.readings == CUSTOMERS * 3
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(Reading)) == CUSTOMERS * (DAYS * 24 + 13)
        assert_live_at(s, LATER + timedelta(hours=1))
        stops = s.scalars(select(MeterEvent.ts).where(
            MeterEvent.meter_id == meter_of(s, "household_outage"), MeterEvent.kind == "停电",
            MeterEvent.ts > LATER - timedelta(hours=1))).all()
        assert len(stops) == 1 and stops[0] > LATER
        assert s.scalar(select(func.count()).select_from(Bill)) == CUSTOMERS  # no duplicate bills

    with pytest.raises(ValueError):
        refresh_live(engine, end=END)


def test_refresh_needs_a_seeded_database(demo_database_factory):
    engine = make_engine(demo_database_factory())
    Base.metadata.create_all(engine)
    try:
        assert not has_demo_data(engine)
        with pytest.raises(RuntimeError):
            refresh_live(engine, end=END)
    finally:
        engine.dispose()


def test_crews_work_on_while_the_demo_moves_and_an_old_demo_gets_its_crews(small_demo):
    with make_sessionmaker(small_demo)() as s:
        assert s.scalar(select(func.count()).select_from(Crew)) == 12
        assert s.scalar(select(func.max(CrewShift.ends_at))) > END + timedelta(days=29)
        for model in (StaffUser, CrewShift, CrewMember, Crew):  # a demo seeded before crews and staff existed
            s.query(model).delete()
        s.commit()
    refresh_live(small_demo, end=LATER + timedelta(days=3))
    with make_sessionmaker(small_demo)() as s:
        assert s.scalar(select(func.count()).select_from(Crew)) == 12
        assert s.scalar(select(func.count()).select_from(StaffUser)) == len(DEMO_STAFF)
        now = LATER + timedelta(days=3)
        on_shift = s.scalars(select(CrewShift.crew_id).where(CrewShift.starts_at <= now, CrewShift.ends_at > now)).all()
        assert {"YZ-03", "LD-01", "JY-01"} <= set(on_shift)  # the on-call crews, at any hour
        assert s.scalar(select(func.max(CrewShift.ends_at))) > now + timedelta(days=29)
