"""Dispatch and SLA jobs on the demo database: re-dispatch on silence, shifts, backlog, warnings, breaches."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from api.demo.showcase import SHOWCASE
from api.flows import dispatching as dispatch
from api.dispatch.models import Crew, CrewShift, TicketAssignment
from api.notify.models import OutboxMessage
from api.flows.ticket_jobs import watch_deadlines
from api.tickets.models import Ticket

HOUSEHOLD = SHOWCASE["household_outage"]
SUPERVISOR = "13700009901"


def new_ticket(client, auth, **fields) -> dict:
    body = {"kind": "outage", "description": "家里没电了", "channel": "hotline", "account_no": HOUSEHOLD[0],
            "phone": HOUSEHOLD[1], **fields}
    response = client.post("/api/tickets/faults", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def ticket_row(session, number: str) -> Ticket:
    session.expire_all()
    return session.scalar(select(Ticket).where(Ticket.number == number))


def test_an_offer_nobody_answers_goes_to_another_crew_after_the_timeout(client, auth, session):
    ticket = new_ticket(client, auth)
    first = ticket["crew"]["id"]
    now = datetime.now(timezone.utc)
    assert dispatch.expire_offers(session=session, now=now + timedelta(minutes=5), timeout=timedelta(minutes=10)) == 0
    assert dispatch.expire_offers(session=session, now=now + timedelta(minutes=11), timeout=timedelta(minutes=10)) == 1
    row = ticket_row(session, ticket["number"])
    assert row.status == "已派单" and row.crew_id != first
    offers = session.scalars(select(TicketAssignment).order_by(TicketAssignment.id)).all()
    assert [(o.crew_id, o.outcome) for o in offers] == [(first, "timeout"), (row.crew_id, "offered")]
    assert "超过10分钟未接单" in row.events[-1].note
    new_leader = session.get(Crew, row.crew_id).leader_mobile
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == new_leader)) is not None


def test_when_nobody_else_can_take_it_the_ticket_is_escalated_not_dropped(client, auth, session):
    ticket = new_ticket(client, auth)
    others = [c for c in session.scalars(select(Crew)) if c.id != ticket["crew"]["id"]]
    for crew in others:
        crew.active = False
    session.commit()
    later = datetime.now(timezone.utc) + timedelta(minutes=11)
    assert dispatch.expire_offers(session=session, now=later, timeout=timedelta(minutes=10)) == 0
    row = ticket_row(session, ticket["number"])
    assert row.escalation_level == 1 and row.events[-1].action == "升级"
    assert row.priority == ticket["priority"] - 1


def test_crews_off_shift_get_nothing_and_the_backlog_is_assigned_when_they_come_on(client, auth, session):
    now = datetime.now(timezone.utc)
    shifts = session.scalars(select(CrewShift).where(CrewShift.starts_at <= now, CrewShift.ends_at > now)).all()
    saved = [(s.id, s.ends_at) for s in shifts]
    for shift in shifts:  # everybody goes home
        shift.ends_at = now - timedelta(minutes=1)
    session.commit()
    ticket = new_ticket(client, auth)
    assert ticket["status"] == "新建" and ticket["crew"] is None
    for shift_id, ends_at in saved:  # the next shift starts
        session.get(CrewShift, shift_id).ends_at = ends_at
    session.commit()
    assert dispatch.dispatch_backlog(session=session, now=datetime.now(timezone.utc)) == 1
    row = ticket_row(session, ticket["number"])
    assert row.status == "已派单" and row.crew_id is not None
    assert session.scalar(select(TicketAssignment)).by == "system:batch"


def test_the_sla_watch_warns_once_before_and_escalates_once_at_the_breach(client, auth, session):
    ticket = new_ticket(client, auth)
    created = datetime.fromisoformat(ticket["created_at"]).astimezone(timezone.utc)
    assert ticket["sla"]["arrive_minutes"] == 45
    calm = watch_deadlines(session=session, now=created + timedelta(minutes=20), supervisors=[SUPERVISOR])
    assert (calm.warned, calm.breached) == (0, 0)
    warned = watch_deadlines(session=session, now=created + timedelta(minutes=38), supervisors=[SUPERVISOR])
    again = watch_deadlines(session=session, now=created + timedelta(minutes=39), supervisors=[SUPERVISOR])
    assert (warned.warned, again.warned) == (1, 0)
    texts = {m.recipient: m.body for m in session.scalars(select(OutboxMessage).where(
        OutboxMessage.body.contains("提醒")))}
    leader = session.get(Crew, ticket["crew"]["id"]).leader_mobile
    assert set(texts) == {leader, SUPERVISOR} and "距承诺时限还剩约7分钟" in texts[leader]

    breach = watch_deadlines(session=session, now=created + timedelta(minutes=46), supervisors=[SUPERVISOR])
    later = watch_deadlines(session=session, now=created + timedelta(minutes=60), supervisors=[SUPERVISOR])
    assert (breach.breached, later.breached) == (1, 0)
    row = ticket_row(session, ticket["number"])
    assert row.sla_breached_at is not None and row.escalation_level == 1
    assert [e.action for e in row.events][-2:] == ["时限预警", "升级"]
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.body.contains("超时升级"))).recipient == SUPERVISOR


def test_once_the_crew_is_on_site_the_arrival_commitment_is_met(client, auth, session):
    ticket = new_ticket(client, auth)
    for action in ("accept", "arrive"):
        client.post(f"/api/tickets/{ticket['number']}/transitions", json={"action": action}, headers=auth)
    created = datetime.fromisoformat(ticket["created_at"]).astimezone(timezone.utc)
    result = watch_deadlines(session=session, now=created + timedelta(hours=3), supervisors=[SUPERVISOR])
    assert (result.warned, result.breached) == (0, 0)


def test_an_unavailable_crew_hands_over_what_it_has_not_reached_and_keeps_what_it_is_on(client, auth, session):
    first = new_ticket(client, auth)
    crew_id = first["crew"]["id"]
    client.post(f"/api/tickets/{first['number']}/transitions", json={"action": "accept"}, headers=auth)
    client.post(f"/api/tickets/{first['number']}/transitions", json={"action": "arrive"}, headers=auth)
    second = new_ticket(client, auth, phone=SHOWCASE["normal"][1], account_no=SHOWCASE["normal"][0])
    if second["crew"]["id"] != crew_id:  # the same crew holds both
        client.post(f"/api/tickets/{second['number']}/reassign", json={"crew_id": crew_id, "reason": "顺路"},
                    headers=auth)
    moved = client.post(f"/api/dispatch/crews/{crew_id}/unavailable", json={"reason": "抢修车故障"}, headers=auth)
    assert moved.status_code == 200 and moved.json()["moved"] == 1 and moved.json()["unplaced"] == []
    [move] = moved.json()["moves"]
    assert (move["number"], move["from_crew_id"]) == (second["number"], crew_id) and move["to_crew_id"] != crew_id
    on_site = client.get(f"/api/tickets/{first['number']}", headers=auth).json()
    handed = client.get(f"/api/tickets/{second['number']}", headers=auth).json()
    assert (on_site["status"], on_site["crew"]["id"]) == ("已到达", crew_id)  # pinned
    assert handed["status"] == "已派单" and handed["crew"]["id"] != crew_id
    assert "抢修车故障" in handed["events"][-1]["note"]
    assert client.post("/api/dispatch/crews/NOPE/unavailable", json={"reason": "x"}, headers=auth).status_code == 404


def test_replan_keeps_accepted_work_pinned(client, auth, session):
    accepted = new_ticket(client, auth)
    client.post(f"/api/tickets/{accepted['number']}/transitions", json={"action": "accept"}, headers=auth)
    waiting = new_ticket(client, auth, phone=SHOWCASE["normal"][1], account_no=SHOWCASE["normal"][0])
    response = client.post("/api/dispatch/replan", json={"reason": "暴雨，重新统筹"}, headers=auth)
    assert response.status_code == 200 and response.json()["moved"] >= 0
    still = client.get(f"/api/tickets/{accepted['number']}", headers=auth).json()
    assert (still["status"], still["crew"]["id"]) == ("已接单", accepted["crew"]["id"])
    assert client.get(f"/api/tickets/{waiting['number']}", headers=auth).json()["status"] == "已派单"
