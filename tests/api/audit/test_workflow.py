"""The audit workflow through the API: a theme applied for, returned, approved and published by the right
people; its tasks dispatched to the 用电检查 crew; results recorded on site with photos; rectification and
review; labels and per-rule precision; leads from customers' reports; audits kept from the customers."""
from __future__ import annotations

import struct
import zlib
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from api.audit import service as audit
from api.audit.models import AuditLabel
from api.core.time import LOCAL_TZ
from api.customers.models import Customer
from api.metering.models import TransformerArea
from api.notify.models import OutboxMessage
from tests.api.staff.test_staff_auth import bearer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def staff(client) -> dict[str, dict]:
    """Bearer headers of the demo staff, signed in on the real clock (sessions start now)."""
    return {user: bearer(client, user) for user in ("auditor01", "supervisor01", "crew.yz04", "crew.yz01", "agent01")}


@pytest.fixture
def daytime(client, staff):
    """The API's clock at 10:00 tomorrow (Shanghai): the 用电检查 day crew is on shift."""
    tomorrow = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    at = datetime.combine(tomorrow, time(10), LOCAL_TZ).astimezone(timezone.utc)
    client.app.state.clock = lambda: at
    return at


def plant_findings(session, now, *, district="原州区", how_many=2) -> list[Customer]:
    """Findings as a scan would keep them, on non-residential customers of one district."""
    rows = session.execute(
        select(Customer, TransformerArea.code).join(TransformerArea, TransformerArea.id == Customer.transformer_area_id)
        .where(Customer.district == district, Customer.customer_class != "居民").order_by(Customer.id)
        .limit(how_many)).all()
    assert len(rows) == how_many
    start = now - timedelta(days=20)
    audit.record_findings(session=session, now=now, findings=[
        audit.FindingIn(customer_id=c.id, account_no=c.account_no, district=c.district, area_code=code,
                        customer_class=c.customer_class, rule="over_contract_capacity", severity="high",
                        start=start, end=start + timedelta(days=10),
                        evidence={"contract_kva": 100, "peak_kw": 234.2, "limit_kw": 108, "hours_over": 37})
        for c, code in rows])
    return [c for c, _ in rows]


def theme_body(now, **extra) -> dict:
    day = now.astimezone(LOCAL_TZ).date()
    return {"title": "专变客户超容量用电专项稽查", "description": "高供低计专变客户，负荷超合同容量",
            "rules": ["over_contract_capacity"], "districts": ["原州区"],
            "period_start": (day - timedelta(days=60)).isoformat(), "period_end": day.isoformat(), **extra}


def png() -> bytes:
    """A valid 1×1 PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_theme_is_approved_by_a_supervisor_then_published_as_dispatched_tasks(client, staff, session, auth, daytime):
    auditor, supervisor = staff["auditor01"], staff["supervisor01"]
    customers = plant_findings(session, daytime)

    created = client.post("/api/audit/themes", json=theme_body(daytime), headers=auditor)
    assert created.status_code == 201, created.text
    theme = created.json()
    number = theme["number"]
    assert theme["status"] == "待审批" and theme["applicant"] == "auditor:auditor01"
    assert theme["allowed_actions"] == ["withdraw"]  # an auditor cannot approve

    def act(headers, action, note=""):
        return client.post(f"/api/audit/themes/{number}/transitions", json={"action": action, "note": note},
                           headers=headers)

    refused = act(auditor, "approve")
    assert refused.status_code == 403 and "主管" in refused.json()["detail"]["message"]
    assert act(supervisor, "return").status_code == 422  # a return says why
    returned = act(supervisor, "return", "请补充范围内客户清单").json()
    assert returned["status"] == "已退回" and returned["return_reason"] == "请补充范围内客户清单"
    assert act(auditor, "submit").json()["status"] == "待审批"
    assert act(supervisor, "publish").status_code == 409  # not approved yet
    assert act(supervisor, "approve").json()["status"] == "已批准"
    assert act(auditor, "publish").status_code == 403
    published = act(supervisor, "publish").json()
    assert published["status"] == "已发布" and published["tasks"] == len(customers)
    assert [e["action"] for e in published["events"]] == ["申请", "退回", "重新提交", "批准", "发布"]

    tasks = client.get("/api/audit/tasks", params={"theme": number}, headers=auditor).json()
    assert {t["account_no"] for t in tasks} == {c.account_no for c in customers}
    for task in tasks:
        ticket = client.get(f"/api/tickets/{task['ticket_number']}", headers=auth).json()
        assert ticket["type"] == "稽查任务" and ticket["channel"] == "audit"
        assert ticket["crew"]["id"] == "YZ-04" and ticket["status"] == "已派单"  # the 用电检查 crew
        assert "超合同容量用电" in ticket["description"] and "peak_kw 234.2" in ticket["description"]
        assert task["findings"][0]["status"] == "已派查" and task["status"] == "待核查"
    # publishing again is refused; the findings are not tasked twice
    assert act(supervisor, "publish").status_code == 409


def test_crew_records_the_result_on_site_and_it_becomes_a_label(client, staff, session, auth, daytime):
    auditor, supervisor = staff["auditor01"], staff["supervisor01"]
    yz04, yz01 = staff["crew.yz04"], staff["crew.yz01"]
    customer = plant_findings(session, daytime, how_many=1)[0]
    number = client.post("/api/audit/themes", json=theme_body(daytime), headers=auditor).json()["number"]
    for action in ("approve", "publish"):
        client.post(f"/api/audit/themes/{number}/transitions", json={"action": action}, headers=supervisor)
    task = client.get("/api/audit/tasks", params={"theme": number}, headers=auditor).json()[0]
    ticket_no = task["ticket_number"]

    # a crew reaches only its own crew's tasks
    assert client.get(f"/api/audit/tasks/{ticket_no}", headers=yz01).status_code == 404
    assert client.get("/api/audit/tasks", headers=yz01).json() == []
    assert [t["ticket_number"] for t in client.get("/api/audit/tasks", headers=yz04).json()] == [ticket_no]

    result = {"outcome": "私自增容", "notes": "现场变压器已更换为250kVA，未办理增容手续",
              "recovered_kwh": "18650.0", "recovered_fee_yuan": "15293.00"}
    early = client.post(f"/api/audit/tasks/{ticket_no}/result", json=result, headers=yz04)
    assert early.status_code == 403 and early.json()["detail"]["code"] == "not_on_site"
    for step in ("accept", "arrive"):
        moved = client.post(f"/api/tickets/{ticket_no}/transitions", json={"action": step}, headers=yz04)
        assert moved.status_code == 200, moved.text

    photo = client.post(f"/api/audit/tasks/{ticket_no}/photos", files={"photo": ("t.png", png(), "image/png")},
                        headers=yz04)
    assert photo.status_code == 201, photo.text
    again = client.post(f"/api/audit/tasks/{ticket_no}/photos", files={"photo": ("t.png", png(), "image/png")},
                        headers=yz04)
    assert again.json()["id"] == photo.json()["id"]  # a retried upload is kept once
    bad = client.post(f"/api/audit/tasks/{ticket_no}/photos", files={"photo": ("x.gif", b"GIF89a...", "image/gif")},
                      headers=yz04)
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "photo_type"
    got = client.get(f"/api/audit/tasks/{ticket_no}/photos/{photo.json()['id']}", headers=auditor)
    assert got.status_code == 200 and got.content == png() and got.headers["content-type"] == "image/png"

    done = client.post(f"/api/audit/tasks/{ticket_no}/result", json=result, headers=yz04)
    assert done.status_code == 200, done.text
    done = done.json()
    assert done["status"] == "待整改" and done["outcome"] == "私自增容" and done["ticket_status"] == "已处理"
    assert done["recovered_fee_yuan"] == "15293.00" and done["findings"][0]["status"] == "已确认"
    assert client.post(f"/api/audit/tasks/{ticket_no}/result", json=result, headers=yz04).status_code == 409

    session.expire_all()
    labels = {(r.rule, r.label) for r in session.scalars(select(AuditLabel).where(AuditLabel.customer_id == customer.id))}
    assert labels == {("over_contract_capacity", 1), ("theft_score", 1)}
    stats = client.get("/api/audit/stats", headers=auditor).json()
    rule = next(r for r in stats["rules"] if r["rule"] == "over_contract_capacity")
    assert rule["confirmed"] == 1 and rule["precision"] == 1.0
    assert stats["outcomes"] == {"私自增容": 1} and stats["recovered_fee_yuan"] == "15293.00"

    assert client.post(f"/api/audit/tasks/{ticket_no}/review", json={"accept": True}, headers=auditor).status_code == 409
    rectified = client.post(f"/api/audit/tasks/{ticket_no}/rectified", json={"note": "已恢复100kVA变压器"},
                            headers=auditor).json()
    assert rectified["status"] == "待复核"
    reviewed = client.post(f"/api/audit/tasks/{ticket_no}/review", json={"accept": True}, headers=supervisor).json()
    assert reviewed["status"] == "已完成"
    assert [e["action"] for e in reviewed["events"]] == ["生成任务", "上传照片", "录入核查结果", "整改完成", "复核通过"]

    completed = client.post(f"/api/audit/themes/{number}/transitions", json={"action": "complete"},
                            headers=auditor).json()
    assert completed["status"] == "已完成"
    assert completed["evaluation"]["hits"] == 1 and completed["evaluation"]["hit_rate"] == 1.0


def test_a_false_positive_is_kept_as_such_and_lowers_the_rule_precision(client, staff, session, daytime):
    auditor, supervisor = staff["auditor01"], staff["supervisor01"]
    plant_findings(session, daytime, how_many=2)
    number = client.post("/api/audit/themes", json=theme_body(daytime), headers=auditor).json()["number"]
    for action in ("approve", "publish"):
        client.post(f"/api/audit/themes/{number}/transitions", json={"action": action}, headers=supervisor)
    first, second = client.get("/api/audit/tasks", params={"theme": number}, headers=auditor).json()
    # auditors may record a result they got by other means (without the ticket being on site)
    client.post(f"/api/audit/tasks/{first['ticket_number']}/result", json={"outcome": "窃电"}, headers=auditor)
    fp = client.post(f"/api/audit/tasks/{second['ticket_number']}/result",
                     json={"outcome": "误报", "notes": "季节性生产，负荷正常"}, headers=auditor).json()
    assert fp["status"] == "待复核" and fp["findings"][0]["status"] == "误报"
    own = client.post(f"/api/audit/tasks/{second['ticket_number']}/review", json={"accept": True}, headers=auditor)
    assert own.status_code == 403  # the one who recorded it does not review it
    rule = next(r for r in client.get("/api/audit/stats", headers=auditor).json()["rules"]
                if r["rule"] == "over_contract_capacity")
    assert (rule["checked"], rule["confirmed"], rule["false_positive"], rule["precision"]) == (2, 1, 1, 0.5)
    # the monthly evaluation counts both results in the month they were recorded
    months = client.get("/api/audit/stats", headers=auditor).json()["months"]
    assert len(months) == 6 and months[-1]["month"] == daytime.astimezone(LOCAL_TZ).strftime("%Y-%m")
    this_month = months[-1]
    assert (this_month["tasks_opened"], this_month["checked"], this_month["hits"], this_month["false_positive"],
            this_month["hit_rate"], this_month["still_open"]) == (2, 2, 1, 1, 0.5, 2)
    assert audit.labels(session=session) and sorted(audit.labels(session=session).values()) == [0, 1]


def test_the_customer_is_never_told_of_an_audit_of_their_premises(client, staff, session, auth, daytime):
    supervisor, agent = staff["supervisor01"], staff["agent01"]
    customer = plant_findings(session, daytime, how_many=1)[0]
    number = client.post("/api/audit/themes", json=theme_body(daytime), headers=staff["auditor01"]).json()["number"]
    for action in ("approve", "publish"):
        client.post(f"/api/audit/themes/{number}/transitions", json={"action": action}, headers=supervisor)
    ticket_no = client.get("/api/audit/tasks", headers=supervisor).json()[0]["ticket_number"]

    as_bot = client.get("/api/tickets", params={"account_no": customer.account_no}, headers=auth).json()
    assert ticket_no not in {t["number"] for t in as_bot["items"]}
    assert client.get(f"/api/tickets/{ticket_no}/for-customer", params={"account_no": customer.account_no},
                      headers=auth).status_code == 404
    yz04 = staff["crew.yz04"]
    for step in ("accept", "arrive", "resolve"):
        client.post(f"/api/tickets/{ticket_no}/transitions", json={"action": step, "note": "已核查"}, headers=yz04)
    session.expire_all()
    to_customer = session.scalars(select(OutboxMessage).where(OutboxMessage.audience == "customer",
                                                              OutboxMessage.recipient == customer.mobile)).all()
    assert to_customer == []
    # the agent serving the customer sees the open flag in the 360
    overview = client.get(f"/api/customers/{customer.account_no}/overview", headers=agent).json()
    assert overview["audit"]["rules"] == ["over_contract_capacity"] and overview["audit"]["open_task"] == ticket_no


def test_a_customers_theft_report_is_a_lead_for_inspection_not_a_repair(client, staff, session, auth, daytime):
    body = {"phone": "13995551234", "address_text": "原州区文化街菜市场后面", "channel": "web",
            "description": "有人从路灯杆上私拉电线给自家小卖部用", "idempotency_key": "web-77:lead:1"}
    lead = client.post("/api/audit/leads", json=body, headers=auth)
    assert lead.status_code == 201, lead.text
    lead = lead.json()
    assert lead["source"] == "customer_report" and lead["status"] == "待核查"
    ticket = client.get(f"/api/tickets/{lead['ticket_number']}", headers=auth).json()
    assert ticket["type"] == "稽查任务" and ticket["crew"]["id"] == "YZ-04"
    assert ticket["description"].startswith("群众举报：") and ticket["priority"] == 2
    again = client.post("/api/audit/leads", json=body, headers=auth).json()
    assert again["ticket_number"] == lead["ticket_number"]  # a retried report is one lead
    # the reporter may follow it: it is theirs, not an audit of their premises
    mine = client.get("/api/tickets", params={"phone": "13995551234"}, headers=auth).json()
    assert [t["number"] for t in mine["items"]] == [lead["ticket_number"]]
    assert client.post("/api/audit/leads", json={**body, "phone": "123"}, headers=auth).status_code == 422
    assert client.post("/api/audit/leads", json=body, headers=staff["crew.yz01"]).status_code == 403


def test_theme_application_is_validated(client, staff, daytime):
    auditor = staff["auditor01"]
    unknown = client.post("/api/audit/themes", json=theme_body(daytime, rules=["made_up_rule"]), headers=auditor)
    assert unknown.status_code == 422 and unknown.json()["detail"]["code"] == "unknown_rule"
    backwards = theme_body(daytime, period_start="2026-12-01", period_end="2026-11-01")
    assert client.post("/api/audit/themes", json=backwards, headers=auditor).status_code == 422
    assert client.post("/api/audit/themes", json=theme_body(daytime), headers=staff["agent01"]).status_code == 403
    assert client.get("/api/audit/themes/JC19990101-01", headers=auditor).status_code == 404
