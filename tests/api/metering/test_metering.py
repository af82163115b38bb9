"""Area state, area outages and meter snapshots on the seeded demo, through service and HTTP."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.metering import service as metering
from api.metering.models import Meter, MeterEvent, Reading
from tests.api.conftest import DEMO_END, DEMO_NOW


def customer(session, role: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))


def test_area_state_of_the_dark_area(demo_session, demo_summary):
    area = metering.get_area_by_code(session=demo_session, code=demo_summary.fault_area_code.lower())
    state = metering.area_state(session=demo_session, transformer_area_id=area.id, now=DEMO_NOW)
    assert state.area_code == demo_summary.fault_area_code and state.area_name == area.name
    assert state.district == "原州区" and state.area_class == "城区"
    assert state.feeder_name.startswith("10kV") and state.substation.endswith("变")
    assert state.meters_lost_voltage_last_hour == state.meters_total >= 6
    assert state.share == 1.0 and state.load_kw == 0.0 and not state.overloaded
    assert state.as_of.utcoffset() == timedelta(hours=8)


def test_area_state_of_a_healthy_area(demo_session):
    c = customer(demo_session, "normal")
    state = metering.area_state(session=demo_session, transformer_area_id=c.transformer_area_id, now=DEMO_NOW)
    assert state.meters_lost_voltage_last_hour == 0 and state.share == 0.0
    meters = demo_session.scalars(select(Meter.id).where(Meter.transformer_area_id == c.transformer_area_id)).all()
    expected = sum(float(r.kw) for r in demo_session.scalars(
        select(Reading).where(Reading.meter_id.in_(meters), Reading.ts == DEMO_END)))
    assert state.load_kw == pytest.approx(expected, abs=0.01)
    assert state.load_ratio == pytest.approx(state.load_kw / state.capacity_kva, abs=0.001)
    assert 0 < state.load_ratio < 1 and not state.overloaded


def test_overloaded_area(demo_session, demo_summary):
    area = metering.get_area_by_code(session=demo_session, code=demo_summary.overloaded_area_code)
    state = metering.area_state(session=demo_session, transformer_area_id=area.id, now=DEMO_NOW)
    assert state.overloaded and state.load_ratio > 1.0 and state.share == 0.0


def test_power_back_on_within_the_hour_is_not_counted_as_lost(demo_session):
    c = customer(demo_session, "household_outage")
    meter = metering.get_meter_by_customer(session=demo_session, customer_id=c.id)
    before = metering.area_state(session=demo_session, transformer_area_id=c.transformer_area_id, now=DEMO_NOW)
    assert before.meters_lost_voltage_last_hour == 1
    demo_session.add(MeterEvent(meter_id=meter.id, ts=DEMO_NOW - timedelta(minutes=2), kind="上电"))
    demo_session.flush()
    after = metering.area_state(session=demo_session, transformer_area_id=c.transformer_area_id, now=DEMO_NOW)
    assert after.meters_lost_voltage_last_hour == 0


def test_area_outages_lists_the_dark_areas_worst_first(demo_session, demo_summary):
    outages = metering.list_area_outages(session=demo_session, now=DEMO_NOW, min_share=0.5)
    codes = [s.area_code for s in outages]
    assert demo_summary.fault_area_code in codes and demo_summary.planned_area_code in codes
    assert all(s.share >= 0.5 for s in outages)
    assert [s.share for s in outages] == sorted((s.share for s in outages), reverse=True)
    household_area = customer(demo_session, "household_outage").transformer_area_id
    area = metering.get_area(session=demo_session, transformer_area_id=household_area)
    assert area.code not in codes
    earlier = metering.list_area_outages(session=demo_session, now=DEMO_END - timedelta(hours=4), min_share=0.5)
    assert demo_summary.fault_area_code not in [s.area_code for s in earlier]


def test_meter_snapshot_of_a_healthy_home(demo_session):
    c = customer(demo_session, "normal")
    snap = metering.snapshot_for_customer(session=demo_session, customer_id=c.id, now=DEMO_NOW)
    assert len(snap.readings) == 3
    assert [r.ts for r in snap.readings] == sorted(r.ts for r in snap.readings)
    assert snap.readings[-1].ts == DEMO_END
    assert all(209 <= r.voltage_a <= 231 and r.kw > 0 for r in snap.readings)
    assert snap.events == []
    assert snap.phases == 1 and snap.area_state.share == 0.0


def test_meter_snapshot_of_a_single_household_outage(demo_session):
    c = customer(demo_session, "household_outage")
    snap = metering.snapshot_for_customer(session=demo_session, customer_id=c.id, now=DEMO_NOW)
    assert snap.readings[-1].voltage_a < 50 and snap.readings[-1].kw == 0
    kinds = [e.kind for e in snap.events if e.ts > DEMO_NOW - timedelta(hours=1)]
    assert "停电" in kinds
    assert snap.area_state.share < 0.5 and snap.area_state.meters_lost_voltage_last_hour == 1


def test_three_phase_snapshot_has_every_phase(demo_session):
    c = customer(demo_session, "commercial")
    snap = metering.snapshot_for_customer(session=demo_session, customer_id=c.id, now=DEMO_NOW)
    assert snap.phases == 3
    r = snap.readings[-1]
    assert None not in (r.voltage_b, r.voltage_c, r.current_b, r.current_c)
    assert r.current_a + r.current_b + r.current_c == pytest.approx(r.kw * 1000 / (r.voltage_a * 0.9), rel=0.05)


def test_area_state_is_fast_and_uses_the_indexes(demo_session, demo_summary):
    area = metering.get_area_by_code(session=demo_session, code=demo_summary.fault_area_code)
    metering.area_state(session=demo_session, transformer_area_id=area.id, now=DEMO_NOW)
    started = time.perf_counter()
    for _ in range(10):
        metering.area_state(session=demo_session, transformer_area_id=area.id, now=DEMO_NOW)
    assert (time.perf_counter() - started) / 10 < 0.05
    if demo_session.get_bind().dialect.name == "sqlite":
        plan = demo_session.execute(text(
            "EXPLAIN QUERY PLAN SELECT meter_id, ts, kw, voltage_a FROM readings "
            "WHERE meter_id IN (1, 2, 3) AND ts > '2026-11-03 01:00:00.000000' AND ts <= '2026-11-03 02:20:00.000000'"
        )).all()
        assert any("SEARCH readings USING INDEX" in str(row) and "meter_id=? AND ts>?" in str(row) for row in plan)
        plan = demo_session.execute(text(
            "EXPLAIN QUERY PLAN SELECT meter_id, ts, kind FROM meter_events WHERE kind IN ('失压', '停电', '上电') "
            "AND meter_id IN (1, 2) AND ts > '2026-11-03 01:00:00.000000'")).all()
        assert any("SEARCH meter_events USING" in str(row) and "INDEX" in str(row) and "meter_id=?" in str(row)
                   for row in plan)


def test_daily_kwh_groups_by_local_day(demo_session):
    c = customer(demo_session, "normal")
    meter = metering.get_meter_by_customer(session=demo_session, customer_id=c.id)
    from datetime import date, datetime, timezone

    days = metering.daily_kwh(session=demo_session, meter_id=meter.id, start=date(2026, 10, 20),
                              end=date(2026, 10, 21))
    assert list(days) == [date(2026, 10, 20), date(2026, 10, 21)]
    lo = datetime(2026, 10, 19, 16, tzinfo=timezone.utc)  # 20 Oct 00:00 in 固原
    rows = demo_session.scalars(select(Reading.kwh).where(
        Reading.meter_id == meter.id, Reading.ts >= lo, Reading.ts < lo + timedelta(days=1))).all()
    assert len(rows) == 24
    assert float(days[date(2026, 10, 20)]) == pytest.approx(sum(float(k) for k in rows), abs=1e-6)


# ---------------------------------------------------------------------------- HTTP

def test_get_area_route(demo_client, demo_auth, demo_summary):
    response = demo_client.get(f"/api/metering/areas/{demo_summary.fault_area_code}", headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["share"] == 1.0 and body["as_of"].endswith("+08:00")


def test_get_area_route_errors(demo_client, demo_auth):
    response = demo_client.get("/api/metering/areas/TA9999", headers=demo_auth)
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "area_not_found"
    response = demo_client.get("/api/metering/areas/TA0101")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "unauthorized"


def test_outages_route(demo_client, demo_auth, demo_summary):
    response = demo_client.get("/api/metering/outages", headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["min_share"] == 0.5
    assert demo_summary.fault_area_code in [a["area_code"] for a in body["areas"]]
    strict = demo_client.get("/api/metering/outages", params={"min_share": 1.0}, headers=demo_auth).json()
    assert all(a["share"] == 1.0 for a in strict["areas"])
    assert demo_client.get("/api/metering/outages", params={"min_share": 2}, headers=demo_auth).status_code == 422
