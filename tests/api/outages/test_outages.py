"""Planned outages: which notices concern a customer, an area, a feeder or a district."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.metering import service as metering
from api.outages import service
from api.outages.models import PlannedOutage
from tests.api.conftest import DEMO_NOW


def customer(session, role: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))


def test_list_notices_keeps_running_and_upcoming_only(demo_session):
    notices = service.list_notices(session=demo_session, now=DEMO_NOW)
    everything = demo_session.scalars(select(PlannedOutage)).all()
    expected = {n.notice_no for n in everything
                if n.end_at > DEMO_NOW and n.start_at <= DEMO_NOW + timedelta(days=7)}
    assert {n.notice_no for n in notices} == expected and len(expected) >= 2
    assert [n.start_at for n in notices] == sorted(n.start_at for n in notices)
    assert any(n.end_at <= DEMO_NOW for n in everything)  # past notices exist but are not listed
    soon = service.list_notices(session=demo_session, now=DEMO_NOW, days_ahead=0)
    assert all(n.start_at <= DEMO_NOW < n.end_at for n in soon) and soon


def test_list_notices_by_district_area_and_feeder(demo_session):
    district = service.list_notices(session=demo_session, now=DEMO_NOW, district="原州区")
    assert district and all(n.district == "原州区" for n in district)
    planned = customer(demo_session, "planned_outage")
    by_area = service.list_notices(session=demo_session, now=DEMO_NOW, transformer_area_id=planned.transformer_area_id)
    assert [n.transformer_area_id for n in by_area] == [planned.transformer_area_id] * len(by_area) and by_area
    # a feeder notice covers every area of that feeder
    area = metering.get_area(session=demo_session, transformer_area_id=planned.transformer_area_id)
    demo_session.add(PlannedOutage(
        notice_no="JHTEST0001", district=area.district, feeder_id=area.feeder_id, transformer_area_id=None,
        scope="测试线路全线", reason="10kV线路检修", start_at=DEMO_NOW + timedelta(days=2),
        end_at=DEMO_NOW + timedelta(days=2, hours=6)))
    demo_session.flush()
    found = service.list_notices(session=demo_session, now=DEMO_NOW, transformer_area_id=area.id,
                                 feeder_id=area.feeder_id)
    assert "JHTEST0001" in [n.notice_no for n in found] and len(found) == len(by_area) + 1
    assert "JHTEST0001" not in [n.notice_no for n in service.list_notices(
        session=demo_session, now=DEMO_NOW, transformer_area_id=area.id)]
    assert "JHTEST0001" not in [n.notice_no for n in service.list_notices(
        session=demo_session, now=DEMO_NOW, feeder_id=area.feeder_id, days_ahead=1)]
    normal = customer(demo_session, "normal")
    area = metering.get_area(session=demo_session, transformer_area_id=normal.transformer_area_id)
    assert service.list_notices(session=demo_session, now=DEMO_NOW, transformer_area_id=area.id,
                                feeder_id=area.feeder_id) == []


def test_customer_under_a_running_planned_outage(demo_client, demo_auth):
    response = demo_client.get("/api/outages", params={"account_no": SHOWCASE["planned_outage"][0]}, headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["area_outage"] is not None and body["area_outage"]["share"] == 1.0
    assert body["area_outage_planned"] is True
    running = [n for n in body["planned"] if n["status"] == "in_progress"]
    assert len(running) == 1 and running[0]["status_text"] == "正在停电"
    assert running[0]["start_at"].endswith("+08:00") and running[0]["end_at"].endswith("+08:00")
    assert running[0]["transformer_area_code"] == body["area_outage"]["area_code"]
    assert body["as_of"].endswith("+08:00")


def test_customer_in_the_fault_area(demo_client, demo_auth, demo_summary):
    body = demo_client.get("/api/outages", params={"account_no": SHOWCASE["area_outage"][0]}, headers=demo_auth).json()
    assert body["area_outage"]["area_code"] == demo_summary.fault_area_code
    assert body["area_outage"]["share"] >= 0.8
    assert body["area_outage_planned"] is False and body["planned"] == []


def test_customer_with_power(demo_client, demo_auth):
    body = demo_client.get("/api/outages", params={"account_no": SHOWCASE["normal"][0]}, headers=demo_auth).json()
    assert body["area_outage"] is None and body["area_outage_planned"] is False
    household = demo_client.get("/api/outages", params={"account_no": SHOWCASE["household_outage"][0]},
                                headers=demo_auth).json()
    assert household["area_outage"] is None  # one dark home is not an area outage


def test_district_notices(demo_client, demo_auth):
    body = demo_client.get("/api/outages", params={"district": "原州"}, headers=demo_auth).json()
    assert body["area_outage"] is None
    assert body["planned"] and all(n["district"] == "原州区" for n in body["planned"])
    everything = demo_client.get("/api/outages", headers=demo_auth).json()
    assert len(everything["planned"]) >= len(body["planned"])
    assert {n["status"] for n in everything["planned"]} <= {"in_progress", "upcoming"}


def test_outages_errors(demo_client, demo_auth):
    response = demo_client.get("/api/outages", params={"district": "银川市"}, headers=demo_auth)
    assert response.status_code == 422 and response.json()["detail"]["code"] == "unknown_district"
    response = demo_client.get("/api/outages", params={"account_no": "0499999999"}, headers=demo_auth)
    assert response.status_code == 404 and response.json()["detail"]["code"] == "customer_not_found"
    response = demo_client.get("/api/outages", params={"account_no": "04"}, headers=demo_auth)
    assert response.status_code == 422 and response.json()["detail"]["code"] == "invalid_account_no"
    assert demo_client.get("/api/outages").status_code == 401
