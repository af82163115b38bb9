"""The meter's own health for a customer asking why the bill went up (GET /api/customers/{account_no}/meter-check).

Only what the meter recorded and a customer may be told: 失压, 断相 and 反向电量 of the last 60 days
(not a 失压 at a power cut, never 开盖), whether every hour was reported, the voltage range.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.flows import customers as customer_view
from api.metering.models import Meter, MeterEvent, Reading
from tests.api.conftest import DEMO_NOW

NORMAL_ACCOUNT = SHOWCASE["normal"][0]
KEYS = {"account_no", "meter_no", "phases", "days", "as_of", "events", "coverage"}


def customer(session, role: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))


def meter_of(session, c: Customer) -> Meter:
    return session.scalar(select(Meter).where(Meter.customer_id == c.id))


def test_a_healthy_meter_reported_every_hour_at_normal_voltage(demo_client, demo_auth):
    response = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/meter-check", headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == KEYS  # nothing else (no audit flag, no 开盖)
    assert body["account_no"] == NORMAL_ACCOUNT and body["days"] == 60 and body["phases"] == 1
    assert body["events"] == []
    coverage = body["coverage"]
    # The demo has 35 days of readings: the hours since the meter first reported, up to the last whole hour.
    assert coverage["complete"] is True and coverage["hours_reported"] == coverage["hours_expected"]
    assert coverage["end"] == "2026-11-03T10:00:00+08:00"
    assert 34 * 24 <= coverage["hours_expected"] <= 35 * 24
    assert 198 <= coverage["voltage_min"] <= coverage["voltage_max"] <= 235


def test_the_low_voltage_household_is_seen_below_the_standard(demo_client, demo_auth):
    body = demo_client.get(f"/api/customers/{SHOWCASE['low_voltage'][0]}/meter-check", headers=demo_auth).json()
    assert body["coverage"]["voltage_min"] < 198


def test_a_power_cut_is_not_a_metering_fault_and_dead_readings_are_no_voltage(demo_client, demo_auth):
    """The household outage now: its 失压 comes with the 停电, and its readings at 0 V are not the minimum."""
    body = demo_client.get(f"/api/customers/{SHOWCASE['household_outage'][0]}/meter-check", headers=demo_auth).json()
    assert body["events"] == []
    assert body["coverage"]["voltage_min"] >= 198


def test_only_metering_faults_of_the_period_are_told(demo_session):
    c = customer(demo_session, "normal")
    meter = meter_of(demo_session, c)

    def add(days_ago: float, kind: str, phase: str | None = None, detail: str | None = None) -> None:
        demo_session.add(MeterEvent(meter_id=meter.id, ts=DEMO_NOW - timedelta(days=days_ago), kind=kind,
                                    phase=phase, detail=detail))

    add(20, "断相", "C", "断相，约12分钟后恢复")
    add(15, "开盖", None, "表盖开启")  # a matter for 用电检查: never told
    add(10, "反向电量", None, "检测到反向电量1.20kWh")
    add(5, "失压", "A", "电压低于临界值")  # the power going off: 停电 two seconds later
    add(5 - 2 / 86400, "停电", None, "电能表掉电")
    add(3, "失压", "A", "电压跌落，5秒后恢复")
    add(61, "断相", "A", "断相")  # before the period
    demo_session.flush()
    check = customer_view.meter_check(session=demo_session, customer=c, now=DEMO_NOW)
    assert [(e.kind, e.phase) for e in check.events] == [("断相", "C"), ("反向电量", None), ("失压", "A")]
    assert check.events[-1].detail == "电压跌落，5秒后恢复"


def test_hours_without_a_reading_are_counted(demo_session):
    c = customer(demo_session, "normal")
    meter = meter_of(demo_session, c)
    end = DEMO_NOW.replace(minute=0)
    gap = [end - timedelta(hours=h) for h in (5, 6, 7)]
    demo_session.execute(delete(Reading).where(Reading.meter_id == meter.id, Reading.ts.in_(gap)))
    demo_session.flush()
    coverage = customer_view.meter_check(session=demo_session, customer=c, now=DEMO_NOW).coverage
    assert coverage.complete is False
    assert coverage.hours_expected - coverage.hours_reported == 3


def test_a_shorter_period_and_the_errors(demo_client, demo_auth):
    body = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/meter-check", params={"days": 7},
                           headers=demo_auth).json()
    assert body["days"] == 7 and body["coverage"]["hours_expected"] == 7 * 24
    assert demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/meter-check", params={"days": 3},
                           headers=demo_auth).status_code == 422
    assert demo_client.get("/api/customers/0499999999/meter-check", headers=demo_auth).status_code == 404
    assert demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/meter-check").status_code == 401
