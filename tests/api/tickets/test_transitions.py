"""Tickets through their lifecycle over HTTP: dispatch at creation, crew steps, 409s, SLA pause."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from api.demo.showcase import SHOWCASE
from api.dispatch.models import Crew, TicketAssignment
from api.notify.models import OutboxMessage

HOUSEHOLD = SHOWCASE["household_outage"]  # (account_no, mobile), 原州区 城区
SHANGHAI = ZoneInfo("Asia/Shanghai")


def report(client, auth, **fields):
    body = {"kind": "outage", "description": "家里突然没电了", "channel": "hotline",
            "account_no": HOUSEHOLD[0], "phone": HOUSEHOLD[1], **fields}
    response = client.post("/api/tickets/faults", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def act(client, auth, number, action, note=None, status=200):
    response = client.post(f"/api/tickets/{number}/transitions", json={"action": action, "note": note},
                           headers=auth)
    assert response.status_code == status, response.text
    return response.json()


def outbox(session, **where):
    session.expire_all()
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    return session.scalars(query).all()


def test_a_new_fault_goes_to_a_crew_at_once_and_its_leader_gets_the_details(client, auth, session):
    ticket = report(client, auth)
    assert ticket["status"] == "已派单"
    crew = session.get(Crew, ticket["crew"]["id"])
    assert "低压抢修" in crew.skills and "原州区" in crew.districts
    assert ticket["crew_eta"] is not None and ticket["allowed_actions"][:2] == ["reassign", "accept"]
    [sms] = outbox(session, audience="crew")
    assert sms.recipient == crew.leader_mobile and sms.status == "pending"
    assert ticket["number"] in sms.body and HOUSEHOLD[1] in sms.body  # the crew sees the full number
    assert f"回复“1 {ticket['number']}”接单" in sms.body
    offer = session.scalar(select(TicketAssignment))
    assert (offer.crew_id, offer.outcome) == (crew.id, "offered")


def test_the_crew_steps_move_the_ticket_and_tell_the_customer(client, auth, session):
    number = report(client, auth)["number"]
    assert act(client, auth, number, "accept")["status"] == "已接单"
    assert act(client, auth, number, "arrive")["status"] == "已到达"
    done = act(client, auth, number, "resolve", note="更换了烧坏的进户线")
    assert done["status"] == "已处理"
    assert [e["action"] for e in done["events"]] == ["创建", "派单", "接单", "到达现场", "处理完成"]
    assert done["events"][-1]["note"] == "更换了烧坏的进户线"
    notices = [m.body for m in outbox(session, audience="customer")]
    assert len(notices) == 3 and all(m.recipient == HOUSEHOLD[1] for m in outbox(session, audience="customer"))
    assert "已由" in notices[0] and "正在赶往现场" in notices[0]
    assert "已到达现场" in notices[1]
    assert "更换了烧坏的进户线" in notices[2] and "回复数字1—5" in notices[2]


def test_an_action_not_allowed_from_the_status_is_a_409_and_changes_nothing(client, auth):
    number = report(client, auth)["number"]
    refused = client.post(f"/api/tickets/{number}/transitions", json={"action": "resolve"}, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["detail"] == {"code": "invalid_transition",
                                        "message": "工单当前状态为“已派单”，不能执行“处理完成”"}
    no_reason = client.post(f"/api/tickets/{number}/transitions", json={"action": "suspend"}, headers=auth)
    assert no_reason.status_code == 409 and no_reason.json()["detail"]["code"] == "note_required"
    unknown = client.post(f"/api/tickets/{number}/transitions", json={"action": "fly"}, headers=auth)
    assert unknown.status_code == 409 and unknown.json()["detail"]["code"] == "unknown_action"
    ticket = client.get(f"/api/tickets/{number}", headers=auth).json()
    assert ticket["status"] == "已派单" and len(ticket["events"]) == 2
    missing = client.post("/api/tickets/GD20000101-0001/transitions", json={"action": "accept"}, headers=auth)
    assert missing.status_code == 404


def test_suspending_stops_the_sla_clock_and_resuming_restores_the_status(client, auth, session):
    ticket = report(client, auth)
    number, due = ticket["number"], datetime.fromisoformat(ticket["sla"]["arrive_by"])
    act(client, auth, number, "accept")
    paused = act(client, auth, number, "suspend", note="客户不在家，约定明早上门")
    assert paused["status"] == "挂起" and paused["sla"]["paused"] is True
    leader = session.get(Crew, ticket["crew"]["id"]).leader_mobile
    told = [m.body for m in outbox(session, recipient=leader)]
    assert told[-1] == f"【国网固原供电】工单 {number} 已挂起（客户不在家，约定明早上门），请暂停处理。"
    resumed = act(client, auth, number, "resume")
    assert resumed["status"] == "已接单" and resumed["sla"]["paused"] is False
    # the clock stopped while 挂起: the due time moved by the (short) pause, never earlier
    assert datetime.fromisoformat(resumed["sla"]["arrive_by"]) >= due


def test_escalation_raises_priority_and_a_supervisor_can_reassign_with_a_reason(client, auth, session):
    ticket = report(client, auth)
    number, first_crew = ticket["number"], ticket["crew"]["id"]
    escalated = act(client, auth, number, "escalate", note="客户家有老人用制氧机")
    assert escalated["priority"] == ticket["priority"] - 1 and escalated["escalation_level"] == 1
    other = next(c for c in client.get("/api/dispatch/crews", headers=auth).json()
                 if c["id"] != first_crew and "低压抢修" in c["skills"] and "原州区" in c["districts"])
    moved = client.post(f"/api/tickets/{number}/reassign", json={"crew_id": other["id"], "reason": "原班组车辆故障"},
                        headers=auth)
    assert moved.status_code == 200, moved.text
    moved = moved.json()
    assert moved["crew"]["id"] == other["id"] and moved["status"] == "已派单"
    assert moved["events"][-1]["action"] == "改派" and "原班组车辆故障" in moved["events"][-1]["note"]
    old_leader = session.get(Crew, first_crew).leader_mobile
    assert any("已改派给其他班组" in m.body for m in outbox(session, recipient=old_leader))
    outcomes = [a.outcome for a in session.scalars(select(TicketAssignment).order_by(TicketAssignment.id))]
    assert outcomes == ["reassigned", "offered"]
    assert client.post(f"/api/tickets/{number}/reassign", json={"crew_id": "NOPE", "reason": "x"},
                       headers=auth).status_code == 404


@pytest.fixture
def daytime(client):
    """The API's clock at 10:00 tomorrow (Shanghai): the day crews are on shift."""
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    at = datetime.combine(tomorrow, time(10), SHANGHAI).astimezone(timezone.utc)
    client.app.state.clock = lambda: at
    return at


def test_complaints_and_service_applications_are_tickets_with_their_own_commitment(client, auth, daytime):
    complaint = client.post("/api/tickets", headers=auth, json={
        "type": "投诉", "phone": HOUSEHOLD[1], "subject": "抢修人员态度", "channel": "web",
        "description": "昨天来修电的师傅态度很差", "idempotency_key": "web-1:complaint:1"}).json()
    assert complaint["type"] == "投诉" and complaint["account_no"] == HOUSEHOLD[0]
    assert complaint["sla"]["what"] == "联系客户" and complaint["details"] == {"subject": "抢修人员态度"}
    assert complaint["status"] == "已派单" and complaint["crew"]["name"] == "客户服务班"
    again = client.post("/api/tickets", headers=auth, json={
        "type": "投诉", "phone": HOUSEHOLD[1], "subject": "抢修人员态度", "description": "重试",
        "idempotency_key": "web-1:complaint:1"}).json()
    assert again["number"] == complaint["number"]

    application = client.post("/api/tickets", headers=auth, json={
        "type": "业务办理", "phone": HOUSEHOLD[1], "account_no": HOUSEHOLD[0], "service_type": "增容",
        "preferred_time": "周六上午", "description": "家里装了电采暖，申请增容"})
    assert application.status_code == 201, application.text
    application = application.json()
    assert application["details"] == {"service_type": "增容", "preferred_time": "周六上午"}
    assert application["crew"]["name"] == "原州计量班"  # 计量装表 skill

    missing = client.post("/api/tickets", headers=auth, json={"type": "业务办理", "phone": HOUSEHOLD[1],
                                                               "description": "想办业务"})
    assert missing.status_code == 422 and missing.json()["detail"]["code"] == "validation_error"
    assert client.post("/api/tickets", headers=auth, json={"type": "维修", "phone": HOUSEHOLD[1],
                                                            "description": "x"}).status_code == 422
    # a complaint needs a number to call back; a broken public charger is repaired without one
    no_phone = client.post("/api/tickets", headers=auth, json={"type": "投诉", "description": "态度不好"})
    assert no_phone.status_code == 422 and "needs phone" in no_phone.text
    charger = client.post("/api/tickets", headers=auth, json={
        "type": "充电设施故障", "description": "插上枪没反应", "address_text": "原州区固原市民大厅充电站"})
    assert charger.status_code == 201, charger.text
    assert charger.json()["crew"]["name"] == "充电设施运维班"  # 充电设施运维 skill
