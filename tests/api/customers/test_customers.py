"""Customers: identification, verification, masking, bills, balance and usage (service and HTTP)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from api.billing.models import Bill
from api.billing.service import format_yuan
from api.core.ids import mask_address, normalize_account_no
from api.customers import service
from api.customers.models import Customer
from api.flows import customers as customer_view
from api.demo.showcase import SHOWCASE
from api.metering.models import Meter, Reading
from tests.api.conftest import DEMO_END

NORMAL_ACCOUNT, NORMAL_MOBILE = SHOWCASE["normal"]


def customer(session, role: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))


# ---------------------------------------------------------------------------- rules

@pytest.mark.parametrize("raw", ["0401000005", " 0401000005 ", "０４０１０００００５", "0401-000-005"])
def test_account_numbers_are_normalised(demo_session, raw):
    assert service.get_by_account_no(session=demo_session, account_no=raw).account_no == NORMAL_ACCOUNT


@pytest.mark.parametrize("raw", ["040100000", "04010000051", "04O1000005", ""])
def test_malformed_account_numbers(demo_session, raw):
    with pytest.raises(ValueError):
        normalize_account_no(raw)
    assert service.get_by_account_no(session=demo_session, account_no=raw) is None


def test_one_mobile_can_hold_several_accounts(demo_session):
    found = service.list_by_mobile(session=demo_session, mobile="+86 139-0000-0011")
    assert [c.account_no for c in found] == sorted([SHOWCASE["multi_account"][0], SHOWCASE["multi_account_second"][0]])
    assert service.list_by_mobile(session=demo_session, mobile="12345") == []


def test_verify_with_the_last_four_digits(demo_session):
    assert service.matches_last4(session=demo_session, account_no=NORMAL_ACCOUNT, phone_last4=NORMAL_MOBILE[-4:])
    assert service.matches_last4(session=demo_session, account_no=NORMAL_ACCOUNT, phone_last4="０００５")
    assert not service.matches_last4(session=demo_session, account_no=NORMAL_ACCOUNT, phone_last4="9999")
    assert not service.matches_last4(session=demo_session, account_no="0499999999", phone_last4="0005")
    assert not service.matches_last4(session=demo_session, account_no=NORMAL_ACCOUNT, phone_last4="05")


@pytest.mark.parametrize("address, district, town, masked", [
    ("原州区南关街道文化街28号3号楼2单元401", "原州区", "南关街道", "原州区南关街道文化街**号***"),
    ("原州区南关街道文化街28号", "原州区", "南关街道", "原州区南关街道文化街**号"),
    ("西吉县吉强镇龙王坝村二组17号", "西吉县", "吉强镇", "西吉县吉强镇龙王坝村*组**号"),
    ("西吉县吉强镇北大街5号", "西吉县", "吉强镇", "西吉县吉强镇北大街**号"),
])
def test_address_masking_keeps_district_town_and_street(address, district, town, masked):
    assert mask_address(address, district, town) == masked


def test_stored_addresses_mask_their_numbers(demo_session):
    for c in demo_session.scalars(select(Customer)):
        masked = mask_address(c.address, c.district, c.town)
        assert masked.startswith(c.district + c.town)
        assert not any(ch.isdigit() for ch in masked), (c.address, masked)


def test_money_formatting():
    assert format_yuan(12345) == "123.45"
    assert format_yuan(5) == "0.05"
    assert format_yuan(-80) == "-0.80"
    assert format_yuan(0) == "0.00"


def test_usage_sums_local_days_and_compares_with_last_month(demo_session):
    c = customer(demo_session, "normal")
    result = customer_view.usage(session=demo_session, customer=c, start=date(2026, 10, 25), end=date(2026, 11, 3))
    assert [d.date for d in result.days][0] == date(2026, 10, 25) and len(result.days) == 10
    assert all(d.kwh is not None and d.kwh > 0 for d in result.days)
    assert result.total_kwh == pytest.approx(sum(d.kwh for d in result.days), abs=0.01)
    meter = demo_session.scalar(select(Meter).where(Meter.customer_id == c.id))
    from datetime import datetime, timezone

    start_utc = datetime(2026, 10, 24, 16, tzinfo=timezone.utc)
    raw = demo_session.scalar(select(func.sum(Reading.kwh)).where(
        Reading.meter_id == meter.id, Reading.ts >= start_utc, Reading.ts <= DEMO_END))
    assert result.total_kwh == pytest.approx(float(raw), abs=0.01)
    assert (result.previous.start, result.previous.end) == (date(2026, 9, 25), date(2026, 10, 3))
    # the demo starts on 29 Sep (local): the previous period only partly has data
    assert 0 < result.previous.total_kwh
    assert result.change_kwh == pytest.approx(result.total_kwh - result.previous.total_kwh, abs=0.01)


# ---------------------------------------------------------------------------- HTTP

def test_customer_detail_with_meter_and_area(demo_client, demo_auth):
    response = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}", headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["account_no"] == NORMAL_ACCOUNT
    assert body["customer"]["mobile"] == NORMAL_MOBILE
    assert body["customer"]["district"] == "原州区" and body["customer"]["area_class"] == "城区"
    meter = body["meter"]
    assert len(meter["readings"]) == 3 and meter["readings"][-1]["ts"].endswith("+08:00")
    assert meter["events"] == []
    assert meter["area_state"]["area_code"] == body["customer"]["transformer_area_code"]
    assert meter["area_state"]["share"] == 0.0


def test_customer_detail_in_the_dark_area(demo_client, demo_auth):
    body = demo_client.get(f"/api/customers/{SHOWCASE['area_outage'][0]}", headers=demo_auth).json()
    assert body["meter"]["area_state"]["share"] >= 0.8
    assert body["meter"]["readings"][-1]["voltage_a"] < 50


def test_customer_errors(demo_client, demo_auth):
    response = demo_client.get("/api/customers/0499999999", headers=demo_auth)
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "customer_not_found",
                                          "message": "未找到户号 0499999999 对应的用电客户"}}
    response = demo_client.get("/api/customers/12345", headers=demo_auth)
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "invalid_account_no"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"]["code"] == "unauthorized"
    assert demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/bills", params={"months": 0},
                           headers=demo_auth).status_code == 422


def test_identify_by_account_masks_name_and_address(demo_client, demo_auth, demo_session):
    c = customer(demo_session, "normal")
    response = demo_client.post("/api/customers/identify", json={"account_no": NORMAL_ACCOUNT}, headers=demo_auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["found"] is True and len(body["customers"]) == 1
    found = body["customers"][0]
    assert found["account_no"] == NORMAL_ACCOUNT and found["district"] == "原州区" and found["area_class"] == "城区"
    assert found["masked_name"][0] == c.name[0] and "*" in found["masked_name"]
    assert found["masked_name"] != c.name and len(found["masked_name"]) == len(c.name)
    assert found["masked_address"].startswith(c.district + c.town) and "**号" in found["masked_address"]
    assert c.name not in response.text and c.address not in response.text


def test_identify_by_phone_finds_every_account(demo_client, demo_auth):
    mobile = SHOWCASE["multi_account"][1]
    body = demo_client.post("/api/customers/identify", json={"phone": mobile}, headers=demo_auth).json()
    assert body["found"] is True
    assert {c["account_no"] for c in body["customers"]} == {SHOWCASE["multi_account"][0],
                                                             SHOWCASE["multi_account_second"][0]}
    assert {c["district"] for c in body["customers"]} == {"原州区", "彭阳县"}


def test_identify_not_found_and_invalid(demo_client, demo_auth):
    body = demo_client.post("/api/customers/identify", json={"phone": "13812345678"}, headers=demo_auth).json()
    assert body == {"found": False, "customers": []}
    assert demo_client.post("/api/customers/identify", json={}, headers=demo_auth).status_code == 422
    assert demo_client.post("/api/customers/identify", json={"account_no": "12"}, headers=demo_auth).status_code == 422
    assert demo_client.post("/api/customers/identify", json={"phone": "1234"}, headers=demo_auth).status_code == 422
    assert demo_client.post("/api/customers/identify", json={"phone": "13812345678"}).status_code == 401


def test_verify_route(demo_client, demo_auth):
    ok = demo_client.post("/api/customers/verify", json={"account_no": NORMAL_ACCOUNT,
                                                         "phone_last4": NORMAL_MOBILE[-4:]}, headers=demo_auth)
    assert ok.status_code == 200 and ok.json() == {"verified": True}
    wrong = demo_client.post("/api/customers/verify", json={"account_no": NORMAL_ACCOUNT, "phone_last4": "1234"},
                             headers=demo_auth)
    assert wrong.json() == {"verified": False}
    bad = demo_client.post("/api/customers/verify", json={"account_no": NORMAL_ACCOUNT, "phone_last4": "12a4"},
                           headers=demo_auth)
    assert bad.status_code == 422


def test_bills_route(demo_client, demo_auth, demo_session):
    c = customer(demo_session, "normal")
    bill = demo_session.scalar(select(Bill).where(Bill.customer_id == c.id))
    body = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/bills", params={"months": 6}, headers=demo_auth).json()
    assert body["account_no"] == NORMAL_ACCOUNT
    assert [b["period"] for b in body["bills"]] == ["2026-10"]
    first = body["bills"][0]
    assert first["amount_fen"] == bill.amount_fen
    assert first["amount_yuan"] == f"{bill.amount_fen // 100}.{bill.amount_fen % 100:02d}"
    assert first["kwh"] == pytest.approx(float(bill.kwh))
    assert body["unpaid_fen"] == sum(b["amount_fen"] for b in body["bills"] if not b["paid"])


def test_arrears_balance_route(demo_client, demo_auth):
    body = demo_client.get(f"/api/customers/{SHOWCASE['arrears'][0]}/balance", headers=demo_auth).json()
    assert body["balance_fen"] < 0 and body["in_arrears"] is True
    assert body["arrears_fen"] == -body["balance_fen"]
    assert body["balance_yuan"].startswith("-") and body["arrears_yuan"] == body["balance_yuan"][1:]
    bills = demo_client.get(f"/api/customers/{SHOWCASE['arrears'][0]}/bills", headers=demo_auth).json()
    assert bills["unpaid_count"] == len(bills["bills"]) >= 1
    normal = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/balance", headers=demo_auth).json()
    assert normal["in_arrears"] is False and normal["arrears_fen"] == 0 and normal["balance_fen"] > 0


def test_usage_route(demo_client, demo_auth):
    body = demo_client.get(f"/api/customers/{NORMAL_ACCOUNT}/usage", params={"days": 30}, headers=demo_auth).json()
    assert body["end"] == "2026-11-03" and body["start"] == (date(2026, 11, 3) - timedelta(days=29)).isoformat()
    assert len(body["days"]) == 30
    assert body["total_kwh"] == pytest.approx(sum(d["kwh"] or 0 for d in body["days"]), abs=0.01)
    assert body["previous"]["start"] == "2026-09-05"


def test_verification_is_limited_per_conversation_and_per_account(client, auth):
    """On a private database: the shared demo's attempts from other tests would count too."""
    def attempt(last4: str, conversation: str):
        return client.post("/api/customers/verify", headers=auth, json={
            "account_no": NORMAL_ACCOUNT, "phone_last4": last4, "conversation_id": conversation})

    right = NORMAL_MOBILE[-4:]
    wrong = [f"{n:04d}" for n in range(10) if f"{n:04d}" != right]
    for guess in wrong[:5]:  # five wrong answers in one chat …
        assert attempt(guess, "web-guessing-chat-one-0001").json() == {"verified": False}
    locked = attempt(right, "web-guessing-chat-one-0001")  # … and even the right one is not checked
    assert locked.status_code == 429
    assert locked.json()["detail"]["code"] == "too_many_attempts" and "人工" in locked.json()["detail"]["message"]
    # another chat may still try, until the account has had ten wrong answers in the hour
    assert attempt(right, "web-another-chat-two-0002").json() == {"verified": True}
    for i, guess in enumerate(wrong[:5]):
        assert attempt(guess, f"web-spread-out-chat-{i:04d}").status_code == 200
    assert attempt(right, "web-yet-another-chat-0003").status_code == 429


def test_verification_is_limited_per_address_across_accounts(client, auth):
    """One web client trying a few endings on many accounts, each in a new chat, is stopped too."""
    client.app.state.settings.verify_max_failures_per_address = 4
    chats = [client.post("/api/chat/conversations").json()["conversation_id"] for _ in range(6)]
    accounts = [account for account, _mobile in list(SHOWCASE.values())[:6]]

    def attempt(account_no: str, last4: str, conversation: str):
        return client.post("/api/customers/verify", headers=auth, json={
            "account_no": account_no, "phone_last4": last4, "conversation_id": conversation})

    for account_no, chat in zip(accounts[:4], chats):  # one wrong answer per account and chat …
        assert attempt(account_no, "0000", chat).json() == {"verified": False}
    refused = attempt(NORMAL_ACCOUNT, NORMAL_MOBILE[-4:], chats[4])  # … then this address is stopped
    assert refused.status_code == 429 and refused.json()["detail"]["code"] == "too_many_attempts"
    # a conversation the API did not issue to that address (a channel adapter's) is not
    assert attempt(NORMAL_ACCOUNT, NORMAL_MOBILE[-4:], "sms-13900000001").json() == {"verified": True}
