"""经营成果 and 工作质量 on the supervisor dashboard.

First a small world built by hand in an empty database (four customers, a month of hourly readings
with a gap, a frozen meter, a zero stretch and a meter installed mid-month, bills over five months,
three audit findings), every figure worked out below; the API's clock is fixed (2026-04-10 in 固原).
Then the shared seeded demo (150 customers, 35 days up to 2026-11-03), checked against SQL run here.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from api.analytics import business, quality, service
from api.audit.models import AuditFinding
from api.billing.models import Bill
from api.customers.models import Customer
from api.db import make_engine
from api.demo.staff import DEMO_STAFF
from api.metering.models import Feeder, Meter, Reading, TransformerArea
from api.migrate import upgrade
from api.staff.models import StaffUser
from api.staff.security import hash_password
from tests.api.analytics.test_analytics import bearer
from tests.conftest import backends

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=SH)
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
THREE_DAYS = {"date_from": "2026-03-10", "date_to": "2026-03-12"}
HOUR = timedelta(hours=1)


def at(month: int, day: int, hour: int = 0) -> datetime:
    """A 固原 wall-clock hour in 2026 as an aware UTC instant."""
    return datetime(2026, month, day, hour, tzinfo=SH).astimezone(timezone.utc)


@pytest.fixture(params=backends())
def db_url(request, tmp_path, postgres):
    """An empty migrated database with the staff accounts the tests sign in with (no demo data)."""
    url = f"sqlite:///{tmp_path / 'empty.db'}" if request.param == "sqlite" else postgres.create()
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(StaffUser), [
            {"username": u, "display_name": n, "role": r, "password_hash": hash_password(p), "crew_id": None,
             "team": t, "active": True, "created_at": NOW}
            for u, n, r, p, c, t in DEMO_STAFF if u in ("supervisor01", "agent01", "auditor01", "admin")])
    engine.dispose()
    yield url
    if request.param == "postgresql":
        postgres.drop(url)


# ---------------------------------------------------------------- the hand-made world

def m1(h: int) -> Decimal:
    """Meter 1 (A): never the same twice in a row; zero for the first 12 hours of 10 March (a look-alike)."""
    return Decimal("0.30") + Decimal("0.05") * ((h * 7) % 11)


def march_hours(first: datetime = at(3, 1), last: datetime = at(4, 1)):
    h, t = 0, first
    while t < last:
        yield h, t
        h, t = h + 1, t + HOUR


def readings(session) -> dict[str, Decimal]:
    """March readings of the four meters; returns each meter's metered March kWh."""
    zero_m1 = (at(3, 10, 0), at(3, 10, 12))
    gap_m2 = (at(3, 10, 6), at(3, 11, 12))            # 30 hours without a reading
    frozen_m3 = (at(3, 11, 3), at(3, 12, 9))          # 0.8 kWh every hour for 30 hours
    zero_m4 = (at(3, 11, 20), at(3, 12, 22))          # 0 kWh for 26 hours
    silent_m4 = (at(3, 12, 22), at(3, 13, 0))         # then 2 hours without a reading
    series = {"M1": [], "M2": [], "M3": [], "M4": []}
    for h, t in march_hours():
        series["M1"].append((t, Decimal(0) if zero_m1[0] <= t < zero_m1[1] else m1(h)))
        if not gap_m2[0] <= t < gap_m2[1]:
            series["M2"].append((t, Decimal("1.0") + Decimal("0.5") * (h % 3)))
        series["M3"].append((t, Decimal("0.8") if frozen_m3[0] <= t < frozen_m3[1] else Decimal("0.4") + Decimal("0.1") * (h % 4)))
        if t >= at(3, 11) and not silent_m4[0] <= t < silent_m4[1]:
            series["M4"].append((t, Decimal(0) if zero_m4[0] <= t < zero_m4[1] else Decimal("0.2") + Decimal("0.1") * (h % 2)))
    ids = dict(session.execute(select(Meter.meter_no, Meter.id)).all())
    for meter_no, rows in series.items():
        session.execute(insert(Reading), [
            {"meter_id": ids[meter_no], "ts": t, "kwh": v, "kw": v, "voltage_a": Decimal("220.0"),
             "current_a": Decimal("1.00")} for t, v in rows])
    return {k: sum((v for _, v in rows), Decimal(0)) for k, rows in series.items()}


def bill(customer_id: int, period: str, kwh: str, fen: int, due: date, paid_at: datetime | None) -> Bill:
    return Bill(customer_id=customer_id, period=period, kwh=Decimal(kwh), amount_fen=fen, due_date=due,
                paid=paid_at is not None, paid_at=paid_at)


def build_world(session) -> None:
    """Customers A, B (原州区) and C, D (西吉县); the expected figures in the tests are worked out from here."""
    session.add(Feeder(id=1, code="F901", name="10kV测试线901", substation="测试变", district="原州区"))
    session.add_all([TransformerArea(id=i, code=f"TA90{i}", name=f"测试{i}号台区", feeder_id=1, district=d, town="测试镇",
                                     area_class="城区", capacity_kva=Decimal("400.0"), lat=36.0, lon=106.3)
                     for i, d in ((1, "原州区"), (2, "西吉县"))])
    session.flush()
    people = (("A", "0409000001", "原州区", "居民", 1), ("B", "0409000002", "原州区", "一般工商业", 1),
              ("C", "0409000003", "西吉县", "居民", 2), ("D", "0409000004", "西吉县", "居民", 2))
    for i, (name, account, district, klass, area) in enumerate(people, start=1):
        session.add(Customer(id=i, account_no=account, name=f"测试客户{name}", mobile=f"1370000000{i}",
                             address="测试地址", district=district, town="测试镇", area_class="城区", lat=36.0,
                             lon=106.3, customer_class=klass, tariff_code="NX-RES-TIER",
                             contract_capacity_kva=Decimal("8.0"), transformer_area_id=area, opened_on=date(2020, 1, 1)))
    session.flush()
    session.add_all([Meter(id=i, meter_no=f"M{i}", customer_id=i, transformer_area_id=1 if i < 3 else 2, phases=1,
                           installed_on=date(2026, 3, 11) if i == 4 else date(2020, 1, 1)) for i in range(1, 5)])
    session.flush()
    metered = readings(session)
    A, B, C, D = 1, 2, 3, 4
    session.add_all([
        # February, issued 1 March (in the March range), due 25 March
        bill(A, "2026-02", "100.00", 6000, date(2026, 3, 25), at(3, 2, 10)),
        bill(B, "2026-02", "300.50", 21000, date(2026, 3, 25), None),
        bill(C, "2026-02", "80.25", 4500, date(2026, 3, 25), at(4, 3, 9)),      # paid after the range
        # January, issued 1 February (in the previous range), due 25 February
        bill(A, "2026-01", "120.00", 7000, date(2026, 2, 25), at(2, 3, 9)),
        bill(B, "2026-01", "250.00", 18000, date(2026, 2, 25), at(3, 10, 15)),  # paid inside the March range
        bill(C, "2026-01", "90.00", 5000, date(2026, 2, 25), None),
        # older arrears
        bill(C, "2025-12", "60.00", 3000, date(2026, 1, 25), None),
        bill(B, "2025-11", "40.00", 2500, date(2025, 12, 25), None),
        # March, issued 1 April, due 25 April: against the March readings
        bill(A, "2026-03", str(metered["M1"]), 6100, date(2026, 4, 25), None),
        bill(B, "2026-03", str(metered["M2"] + 15), 9000, date(2026, 4, 25), None),        # off by 15 kWh: fine
        bill(C, "2026-03", str((metered["M3"] * Decimal("0.6")).quantize(Decimal("0.01"))), 2000, date(2026, 4, 25), None),
        bill(D, "2026-03", "150.00", 1200, date(2026, 4, 25), None),          # installed 11 March: not judged
    ])
    finding = {"district": "西吉县", "area_code": "TA902", "customer_class": "居民", "severity": "low",
               "start": at(3, 1), "end": at(3, 31), "evidence": {}, "detected_at": NOW, "updated_at": NOW}
    session.add_all([
        AuditFinding(customer_id=C, account_no="0409000003", rule="billing_mismatch", status="待核查", **finding),
        AuditFinding(customer_id=C, account_no="0409000003", rule="zero_consumption", status="已派查", **finding),
        AuditFinding(customer_id=D, account_no="0409000004", rule="zero_consumption", status="误报", **finding),
    ])
    session.commit()


@pytest.fixture
def world(client, session):
    build_world(session)
    client.app.state.clock = lambda: NOW.astimezone(timezone.utc)
    return client


@pytest.fixture
def supervisor(world) -> dict:
    return bearer(world, "supervisor01")


def get(client, headers, path: str, **params) -> dict:
    response = client.get(f"/api/analytics/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def rows(body: dict, table: str, *keys: str) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in body["tables"][table]["rows"]]


# ---------------------------------------------------------------- 经营成果

def test_business_results_of_march(world, supervisor):
    body = get(world, supervisor, "business", **MARCH)
    now = body["current"]
    assert now["periods"] == ["2026-02"]  # issued 1 March
    assert now["as_of"] == "2026-04-01T00:00:00+08:00"
    assert {k: now[k] for k in ("bills", "energy_kwh", "billed_yuan", "collected_yuan", "outstanding_yuan",
                                "collection_rate", "received_yuan")} == {
        "bills": 3, "energy_kwh": "480.75", "billed_yuan": "315.00", "collected_yuan": "60.00",
        "outstanding_yuan": "255.00", "collection_rate": 19.0,  # 6000 / 31500
        "received_yuan": "240.00"}  # A's February bill on 2 March, B's January bill on 10 March
    assert Decimal(now["collected_yuan"]) + Decimal(now["outstanding_yuan"]) == Decimal(now["billed_yuan"])
    # unpaid on 1 April and past due: B Feb 210 (7 days), C Feb 45 (paid 3 April: 7 days), C Jan 50 (35 days),
    # C Dec 30 (66 days), B Nov 25 (97 days)
    assert (now["arrears_customers"], now["arrears_bills"], now["arrears_yuan"]) == (2, 5, "360.00")
    assert rows(body, "arrears_ageing", "band", "customers", "bills", "amount", "share") == [
        ("逾期1–30天", 2, 2, "255.00", 70.8), ("逾期31–60天", 1, 1, "50.00", 13.9),
        ("逾期61–90天", 1, 1, "30.00", 8.3), ("逾期90天以上", 1, 1, "25.00", 6.9)]
    assert rows(body, "business_by_month", "period", "bills", "kwh", "billed", "collected", "outstanding", "rate") == [
        ("2026-02", 3, "480.75", "315.00", "60.00", "255.00", 19.0)]
    assert rows(body, "business_by_class", "customer_class", "bills", "kwh", "share", "billed", "collected", "rate") == [
        ("居民", 2, "180.25", 37.5, "105.00", "60.00", 57.1), ("一般工商业", 1, "300.50", 62.5, "210.00", "0.00", 0.0)]


def test_business_compares_with_the_previous_range(world, supervisor):
    body = get(world, supervisor, "business", **MARCH)
    before = body["previous"]
    assert (before["date_from"], before["date_to"], before["periods"]) == ("2026-01-29", "2026-02-28", ["2026-01"])
    assert {k: before[k] for k in ("bills", "energy_kwh", "billed_yuan", "collected_yuan", "outstanding_yuan",
                                   "collection_rate", "received_yuan", "arrears_customers", "arrears_yuan")} == {
        "bills": 3, "energy_kwh": "460.00", "billed_yuan": "300.00", "collected_yuan": "70.00",
        "outstanding_yuan": "230.00", "collection_rate": 23.3, "received_yuan": "70.00",
        # on 1 March: B Jan (paid only on 10 March), C Jan, C Dec, B Nov
        "arrears_customers": 2, "arrears_yuan": "285.00"}
    assert body["change"] == {"energy_kwh": 4.5, "billed_yuan": 5.0, "collected_yuan": -14.3, "collection_rate": -4.3,
                              "received_yuan": 242.9, "arrears_yuan": 26.3, "arrears_customers": 0.0}
    assert rows(body, "business_comparison", "figure", "unit", "current", "previous", "change")[:2] == [
        ("售电量", "千瓦时", "480.75", "460.00", 4.5), ("应收电费", "元", "315.00", "300.00", 5.0)]


def test_business_district_filter_and_the_type_filter_said_not_to_apply(world, supervisor):
    body = get(world, supervisor, "business", district="原州区", type="故障报修", **MARCH)
    now = body["current"]
    assert (now["bills"], now["energy_kwh"], now["billed_yuan"], now["collected_yuan"], now["collection_rate"]) == (
        2, "400.50", "270.00", "60.00", 22.2)
    assert (now["arrears_customers"], now["arrears_yuan"]) == (1, "235.00")  # B: February and November
    assert body["ignored_filters"] == ["type"]
    assert body["notes"][0] == "工单类型筛选不适用于经营成果，已按全部用电客户统计。"
    assert get(world, supervisor, "business", **MARCH)["ignored_filters"] == []


def test_a_range_without_an_issue_day_has_no_bills(world, supervisor):
    now = get(world, supervisor, "business", date_from="2026-03-02", date_to="2026-03-31")["current"]
    assert (now["periods"], now["bills"], now["billed_yuan"], now["collection_rate"]) == ([], 0, "0.00", None)
    assert now["received_yuan"] == "240.00"  # payments are still counted by their time


def test_billing_months_are_those_issued_in_the_range():
    months = business.billing_months(date(2026, 9, 7), date(2026, 12, 5))
    assert [(m.period, m.first, m.last, m.hours) for m in months] == [
        ("2026-09", date(2026, 9, 1), date(2026, 9, 30), 720), ("2026-10", date(2026, 10, 1), date(2026, 10, 31), 744),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), 720)]
    assert [m.period for m in business.billing_months(date(2025, 12, 15), date(2026, 1, 1))] == ["2025-12"]
    assert business.billing_months(date(2026, 3, 2), date(2026, 3, 31)) == []


# ---------------------------------------------------------------- 工作质量

def test_completeness_by_day_and_district(world, supervisor):
    body = get(world, supervisor, "quality", **THREE_DAYS)
    k = body["kpis"]
    # expected: M1–M3 3 × 72 h, M4 (installed 11 March) 48 h = 264; missing: M2 30 h, M4 2 h
    assert {key: k[key] for key in ("meters", "expected_hours", "received_hours", "missing_hours", "completeness",
                                    "meters_incomplete")} == {
        "meters": 4, "expected_hours": 264, "received_hours": 232, "missing_hours": 32, "completeness": 87.88,
        "meters_incomplete": 2}
    assert k["cutoff"] == "2026-03-13T00:00:00+08:00"
    assert rows(body, "completeness_by_day", "day", "expected", "received", "rate", "rate:原州区", "rate:西吉县") == [
        ("2026-03-10", 72, 54, 75.0, 62.5, 100.0),    # M2 silent from 06:00; M4 not installed yet
        ("2026-03-11", 96, 84, 87.5, 75.0, 100.0),    # M2 back at 12:00
        ("2026-03-12", 96, 94, 97.92, 100.0, 95.83)]  # M4 silent from 22:00
    assert rows(body, "completeness_by_district", "district", "meters", "expected", "received", "missing", "rate") == [
        ("原州区", 2, 144, 114, 30, 79.17), ("西吉县", 2, 120, 118, 2, 98.33)]
    assert rows(body, "missing_meters", "account_no", "meter_no", "district", "area", "expected", "received", "missing",
                "rate", "last") == [
        ("0409000002", "M2", "原州区", "TA901", 72, 42, 30, 58.33, "2026-03-12 23:00"),
        ("0409000004", "M4", "西吉县", "TA902", 48, 46, 2, 95.83, "2026-03-12 21:00")]


def test_stuck_meters_are_listed_and_a_half_day_of_zeros_is_not(world, supervisor):
    body = get(world, supervisor, "quality", **THREE_DAYS)
    assert rows(body, "stuck_meters", "account_no", "kind", "start", "end", "hours", "kwh") == [
        ("0409000002", "无采集数据", "2026-03-10 06:00", "2026-03-11 12:00", 30, None),
        ("0409000003", "电量不变（疑似数据冻结）", "2026-03-11 03:00", "2026-03-12 09:00", 30, "0.800"),
        ("0409000004", "连续零电量", "2026-03-11 20:00", "2026-03-12 22:00", 26, "0.000")]
    k = body["kpis"]
    assert (k["stuck_meters"], k["zero_meters"], k["frozen_meters"], k["silent_meters"]) == (3, 1, 1, 1)


def test_stretches_are_cut_to_the_range(world, supervisor):
    # 11 March alone: M2 silent until 12:00 (12 h), M3 frozen from 03:00 (21 h), M4's zeros from 20:00 (4 h)
    body = get(world, supervisor, "quality", date_from="2026-03-11", date_to="2026-03-11")
    assert body["tables"]["stuck_meters"]["rows"] == []
    # a meter silent for the whole range is listed from its first hour
    body = get(world, supervisor, "quality", date_from="2026-04-01", date_to="2026-04-02")
    assert rows(body, "stuck_meters", "meter_no", "kind", "start", "end", "hours") == [
        (m, "无采集数据", "2026-04-01 00:00", "2026-04-03 00:00", 48) for m in ("M1", "M2", "M3", "M4")]
    assert body["kpis"]["completeness"] == 0.0


def test_bills_against_the_meters_and_open_audit_findings(world, supervisor):
    body = get(world, supervisor, "quality", date_from="2026-03-25", date_to="2026-04-01")  # March bills, issued 1 April
    assert body["billing_source"] == "readings"
    k = body["kpis"]
    # A billed as metered; B 15 kWh over (under 20 kWh); C billed 60 % of its meter; D's March is 67 % covered
    assert (k["bills_checked"], k["billing_anomalies"], k["bills_unchecked"]) == (3, 1, 1)
    [row] = body["tables"]["billing_anomalies"]["rows"]
    metered = Decimal(row["metered"])
    assert (row["period"], row["account_no"], row["district"], row["customer_class"], row["coverage"]) == (
        "2026-03", "0409000003", "西吉县", "居民", 100.0)
    assert Decimal(row["billed"]) == (metered * Decimal("0.6")).quantize(Decimal("0.01"))
    assert Decimal(row["diff"]) == Decimal(row["billed"]) - metered and row["diff_pct"] == -40.0
    assert rows(body, "audit_open_by_rule", "rule", "open", "findings")[:2] == [
        ("zero_consumption", 1, 2), ("billing_mismatch", 1, 1)]
    assert k["audit_open"] == 2


def test_judging_a_bill():
    judge = quality.judge_bill
    assert judge(billed=Decimal("121"), metered=Decimal("100"), hours=744, month_hours=744) == "anomaly"
    assert judge(billed=Decimal("119"), metered=Decimal("100"), hours=744, month_hours=744) == "ok"  # 19 kWh
    assert judge(billed=Decimal("330"), metered=Decimal("300"), hours=744, month_hours=744) == "ok"  # 10 % exactly
    assert judge(billed=Decimal("25"), metered=Decimal("0"), hours=744, month_hours=744) == "anomaly"
    assert judge(billed=Decimal("500"), metered=Decimal("100"), hours=706, month_hours=744) == "unchecked"  # 94.9 %
    assert judge(billed=Decimal("500"), metered=Decimal("100"), hours=707, month_hours=744) == "anomaly"


def test_quality_district_filter(world, supervisor):
    body = get(world, supervisor, "quality", district="西吉县", type="投诉", **THREE_DAYS)
    k = body["kpis"]
    assert (k["meters"], k["expected_hours"], k["received_hours"], k["completeness"]) == (2, 120, 118, 98.33)
    assert [r["meter_no"] for r in body["tables"]["stuck_meters"]["rows"]] == ["M3", "M4"]
    assert body["ignored_filters"] == ["type"] and body["notes"][0].startswith("工单类型筛选不适用于工作质量")
    assert any("不受时段和区县筛选" in n for n in body["notes"])


def test_the_new_tables_export_as_csv(world, supervisor):
    for path, name, params in (("business", "business_by_class", MARCH), ("business", "arrears_ageing", MARCH),
                               ("quality", "completeness_by_day", THREE_DAYS), ("quality", "stuck_meters", THREE_DAYS)):
        table = get(world, supervisor, path, **params)["tables"][name]
        response = world.get(f"/api/analytics/export/{name}.csv", params=params, headers=supervisor)
        assert response.status_code == 200, name
        assert f'filename="analytics-{name}-{params["date_from"]}_{params["date_to"]}.csv"' in (
            response.headers["content-disposition"])
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert lines[0][0].startswith(table["title"] + "（筛选条件：" + params["date_from"])
        assert lines[1] == [c["label"] for c in table["columns"]]
        assert lines[2:] == [["" if r[c["key"]] is None else str(r[c["key"]]) for c in table["columns"]]
                             for r in table["rows"]], name
    response = world.get("/api/analytics/export/arrears_ageing.csv", params=MARCH, headers=supervisor)
    assert list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[2] == [
        "逾期1–30天", "2", "2", "255.00", "70.8"]


@pytest.mark.parametrize("username", ["agent01", "auditor01"])
def test_only_supervisors_and_admins(world, username):
    headers = bearer(world, username)
    for path in ("business", "quality", "export/stuck_meters.csv"):
        assert world.get(f"/api/analytics/{path}", params=MARCH, headers=headers).status_code == 403
        assert world.get(f"/api/analytics/{path}", params=MARCH).status_code == 401
    admin = bearer(world, "admin")
    assert world.get("/api/analytics/business", params=MARCH, headers=admin).status_code == 200


def test_bad_filters_are_the_dashboards_422(world, supervisor):
    for path in ("business", "quality"):
        response = world.get(f"/api/analytics/{path}", params={"date_from": "2026-03-05", "date_to": "2026-03-01"},
                             headers=supervisor)
        assert response.status_code == 422
        assert response.json()["detail"]["code"] == "bad_range"


# ---------------------------------------------------------------- on the shared seeded demo

DEMO_NOW = datetime(2026, 11, 3, 2, 20, tzinfo=timezone.utc)  # tests/api/conftest.py: 10:20 on 3 November in 固原


def demo_filters(**kw) -> service.Filters:
    return service.make_filters(date_from="2026-10-05", date_to="2026-11-03", district=kw.get("district"), type=None,
                                today=date(2026, 11, 3))


def test_demo_business_adds_up(demo_session):
    f = demo_filters()
    body = business.business(session=demo_session, filters=f, now=DEMO_NOW)
    now = body.current
    assert now.periods == ["2026-10"]
    october = [b for b in demo_session.scalars(select(Bill).where(Bill.period == "2026-10"))]
    assert now.bills == len(october) == demo_session.scalar(select(func.count()).select_from(Customer))
    assert now.energy_kwh == sum((b.kwh for b in october), Decimal(0))
    assert now.billed_yuan == Decimal(sum(b.amount_fen for b in october)) / 100
    assert now.collected_yuan == Decimal(sum(b.amount_fen for b in october if b.paid and b.paid_at < DEMO_NOW)) / 100
    assert now.collected_yuan + now.outstanding_yuan == now.billed_yuan
    assert 0 < now.collected_yuan < now.billed_yuan
    by_class = body.tables["business_by_class"].rows
    assert sum(r["billed"] for r in by_class) == now.billed_yuan
    assert sum(r["kwh"] for r in by_class) == now.energy_kwh
    arrears = [b for b in demo_session.scalars(select(Bill).where(Bill.paid.is_(False), Bill.due_date < date(2026, 11, 3)))]
    assert now.arrears_yuan == Decimal(sum(b.amount_fen for b in arrears)) / 100
    assert now.arrears_customers == len({b.customer_id for b in arrears})
    assert sum(r["amount"] for r in body.tables["arrears_ageing"].rows) == now.arrears_yuan
    districts = [business.business(session=demo_session, filters=demo_filters(district=d), now=DEMO_NOW).current
                 for d in demo_session.scalars(select(Customer.district).distinct())]
    assert sum(d.billed_yuan for d in districts) == now.billed_yuan


def test_demo_quality_matches_sql_and_finds_the_planted_billing_case(demo_session):
    f = demo_filters()
    body = quality.quality(session=demo_session, filters=f, now=DEMO_NOW)
    k = body.kpis
    cutoff = datetime(2026, 11, 3, 2, tzinfo=timezone.utc)
    received = demo_session.scalar(select(func.count()).select_from(Reading).where(
        Reading.ts >= f.start, Reading.ts < cutoff))
    meters = demo_session.scalar(select(func.count()).select_from(Meter))
    assert (k.meters, k.received_hours) == (meters, received)
    assert k.expected_hours == meters * (29 * 24 + 10)  # the demo's meters were all installed before October
    assert k.completeness == 100.0 and k.meters_incomplete == 0
    assert k.bills_checked == meters and k.bills_unchecked == 0
    anomalies = body.tables["billing_anomalies"].rows
    assert [r["account_no"] for r in anomalies] == ["0401000103"]  # the audit demo's estimated bill: 55 % of the meter
    assert anomalies[0]["diff_pct"] == -45.0
