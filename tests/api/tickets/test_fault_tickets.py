"""Fault reports become tickets carrying a metering snapshot, a diagnosis and an SLA."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from api.demo.showcase import SHOWCASE


def report(client, auth, **fields):
    body = {"kind": "outage", "description": "家里突然没电了", "channel": "web", **fields}
    return client.post("/api/tickets/faults", json=body, headers=auth)


def test_area_outage_reports_attach_to_one_area_ticket(client, auth):
    first = report(client, auth, account_no=SHOWCASE["area_outage"][0])
    assert first.status_code == 201, first.text
    first = first.json()
    assert first["number"].startswith("GD") and len(first["number"]) == 15
    assert first["type"] == "故障报修"
    assert first["diagnosis"]["code"] == "area_outage"
    assert first["attached_to_existing"] is False
    snapshot = first["metering_snapshot"]
    assert snapshot["area_state"]["share"] >= 0.8
    assert snapshot["readings"], "the meter's last readings are in the snapshot"

    second = report(client, auth, account_no=SHOWCASE["area_outage_neighbour"][0]).json()
    assert second["diagnosis"]["code"] == "area_outage"
    assert second["attached_to_existing"] is True
    assert second["parent_number"] == first["number"]
    assert second["sla"]["arrive_by"] == first["sla"]["arrive_by"]

    area_ticket = client.get(f"/api/tickets/{first['number']}", headers=auth).json()
    assert [e["action"] for e in area_ticket["events"]] == ["创建", "派单", "关联报修"]  # dispatched at once
    assert second["number"] in area_ticket["events"][2]["note"]


def test_household_outage_gets_its_own_ticket_with_the_household_diagnosis(client, auth):
    account_no, mobile = SHOWCASE["household_outage"]
    ticket = report(client, auth, phone=mobile).json()
    assert ticket["account_no"] == account_no
    assert ticket["diagnosis"]["code"] == "household_outage"
    assert ticket["parent_number"] is None
    assert ticket["contact_phone_masked"] == mobile[:3] + "****" + mobile[-4:]
    assert ticket["sla"]["area_class"] == "城区"
    assert ticket["sla"]["arrive_minutes"] == 45
    assert ticket["sla"]["arrive_by"].endswith("+08:00")
    events = ticket["metering_snapshot"]["events"]
    assert any(e["kind"] in ("失压", "停电") for e in events)


def test_rural_household_gets_the_rural_commitment(client, auth):
    ticket = report(client, auth, account_no=SHOWCASE["household_outage_rural"][0]).json()
    assert ticket["sla"]["area_class"] in ("农村", "边远")
    assert ticket["sla"]["arrive_minutes"] in (90, 120)


def test_low_voltage_household(client, auth):
    ticket = report(client, auth, account_no=SHOWCASE["low_voltage"][0],
                    description="灯一闪一闪的，电压低").json()
    assert ticket["diagnosis"]["code"] == "low_voltage"


def test_hazard_comes_first(client, auth):
    ticket = report(client, auth, kind="hazard", account_no=SHOWCASE["normal"][0],
                    description="门口电线掉下来了，还冒火花").json()
    assert ticket["type"] == "安全隐患"
    assert ticket["priority"] == 1
    assert ticket["diagnosis"]["code"] == "hazard"


def test_new_address_is_parsed_and_geocoded(client, auth):
    ticket = report(client, auth, account_no=SHOWCASE["normal"][0],
                    address_text="原州区文化街28号3号楼2单元401").json()
    assert ticket["address"]["district"] == "原州区"
    assert ticket["address"]["road"] == "文化街"
    assert ticket["address_needs_review"] is False
    assert ticket["address"]["lat"] == pytest.approx(36.0, abs=0.3)


def test_unmatched_address_is_kept_verbatim_and_flagged(client, auth):
    ticket = report(client, auth, address_text="我家门口那个巷子里", description="没电了").json()
    assert ticket["address_text"] == "我家门口那个巷子里"
    assert ticket["address_needs_review"] is True
    assert ticket["diagnosis"]["code"] == "unknown"


def test_same_idempotency_key_returns_the_same_ticket(client, auth):
    key = "web-xyz:fault:1"
    first = report(client, auth, account_no=SHOWCASE["normal"][0], idempotency_key=key).json()
    again = report(client, auth, account_no=SHOWCASE["normal"][0], idempotency_key=key).json()
    assert again["number"] == first["number"]
    assert client.get("/api/tickets", params={"account_no": SHOWCASE["normal"][0]},
                      headers=auth).json()["total"] == 1


def test_numbers_count_up_within_the_local_day(client, auth):
    numbers = [report(client, auth, account_no=SHOWCASE["normal"][0]).json()["number"] for _ in range(3)]
    seqs = [int(n.split("-")[1]) for n in numbers]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    shanghai_today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    assert all(n[2:10] == shanghai_today for n in numbers)


@pytest.mark.parametrize("fields,field", [
    ({"account_no": "12345"}, "account_no"),
    ({"phone": "12345678901"}, "phone"),
    ({"description": ""}, "description"),
])
def test_bad_input_is_a_structured_422(client, auth, fields, field):
    response = report(client, auth, **{"account_no": SHOWCASE["normal"][0], **fields})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "validation_error"
    assert any(field in e["loc"] for e in detail["errors"])


def test_report_without_any_way_to_locate_is_refused(client, auth):
    response = report(client, auth)
    assert response.status_code == 422


def test_tickets_need_the_service_token(client):
    assert client.get("/api/tickets").status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_unknown_ticket_is_a_chinese_404(client, auth):
    response = client.get("/api/tickets/GD20260101-9999", headers=auth)
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "ticket_not_found"


def test_list_filters_by_status_and_type(client, auth):
    report(client, auth, account_no=SHOWCASE["normal"][0])
    report(client, auth, kind="hazard", account_no=SHOWCASE["normal"][0], description="树枝碰到电线")
    hazards = client.get("/api/tickets", params={"type": "安全隐患"}, headers=auth).json()
    assert hazards["total"] == 1 and hazards["items"][0]["type"] == "安全隐患"
    dispatched = client.get("/api/tickets", params={"status": "已派单"}, headers=auth).json()
    assert dispatched["total"] == 2  # each went to a crew as it was created
