"""What the supervisor's dispatch screen (/dispatch) reads and does: the open work with the skill it needs and its
deadline, every crew (those taken out too), bringing a crew back or putting it on call, and what moved."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from api.demo.showcase import SHOWCASE
from api.dispatch.models import Crew, CrewShift, TicketAssignment
from tests.api.dispatch.test_dispatch_service import new_ticket, ticket_row
from tests.api.staff.test_staff_auth import bearer


def everybody_off_shift(session) -> list[tuple[int, datetime]]:
    """End every shift running now; returns what to restore."""
    now = datetime.now(timezone.utc)
    shifts = session.scalars(select(CrewShift).where(CrewShift.starts_at <= now, CrewShift.ends_at > now)).all()
    saved = [(s.id, s.ends_at) for s in shifts]
    for shift in shifts:
        shift.ends_at = now - timedelta(minutes=1)
    session.commit()
    return saved


def restore_shifts(session, saved) -> None:
    for shift_id, ends_at in saved:
        session.get(CrewShift, shift_id).ends_at = ends_at
    session.commit()


def test_the_open_work_with_its_skill_crew_and_deadline(client, auth, session):
    ticket = new_ticket(client, auth)
    other = new_ticket(client, auth, phone=SHOWCASE["normal"][1], account_no=SHOWCASE["normal"][0])
    client.post(f"/api/tickets/{other['number']}/transitions", json={"action": "accept"}, headers=auth)
    client.post(f"/api/tickets/{other['number']}/transitions", json={"action": "arrive"}, headers=auth)
    row = ticket_row(session, ticket["number"])
    row.arrive_by = datetime.now(timezone.utc) - timedelta(minutes=5)  # late
    session.commit()

    rows = {t["number"]: t for t in client.get("/api/dispatch/tickets", headers=auth).json()}
    late, on_site = rows[ticket["number"]], rows[other["number"]]
    assert (late["status"], late["skill"], late["crew_id"], late["crew"]) == (
        "已派单", "低压抢修", ticket["crew"]["id"], ticket["crew"]["name"])
    assert late["overdue"] is True and late["district"] == ticket["district"] and late["arrived_at"] is None
    assert datetime.fromisoformat(late["arrive_by"]).utcoffset() == timedelta(hours=8)  # Beijing time
    assert on_site["status"] == "已到达" and on_site["arrived_at"] and on_site["overdue"] is False
    assert all(-90 <= t["lat"] <= 90 and -180 <= t["lon"] <= 180 for t in rows.values())
    # a crew account or an agent does not see the dispatch board
    assert client.get("/api/dispatch/tickets", headers=bearer(client, "agent01")).status_code == 403


def test_a_crew_taken_out_is_listed_and_brought_back(client, auth, session):
    ticket = new_ticket(client, auth)
    crew_id = ticket["crew"]["id"]
    supervisor = bearer(client, "supervisor01")
    out = client.post(f"/api/dispatch/crews/{crew_id}/unavailable", json={"reason": "抢修车故障"}, headers=supervisor)
    assert out.status_code == 200 and out.json()["moves"][0]["number"] == ticket["number"]

    active = {c["id"] for c in client.get("/api/dispatch/crews", headers=auth).json()}
    every = {c["id"]: c for c in client.get("/api/dispatch/crews?include_inactive=true", headers=auth).json()}
    assert crew_id not in active and every[crew_id]["active"] is False and set(every) > active
    assert all(c["shift_ends_at"] if c["on_shift"] else c["shift_ends_at"] is None for c in every.values())

    back = client.post(f"/api/dispatch/crews/{crew_id}/available", json={"reason": "车辆已修复"}, headers=supervisor)
    assert back.status_code == 200 and back.json()["moved"] == 0  # nothing was waiting
    assert session.get(Crew, crew_id).active is True
    again = client.post(f"/api/dispatch/crews/{crew_id}/available", json={"reason": "再次恢复"}, headers=supervisor)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "crew_available"
    assert client.post("/api/dispatch/crews/NOPE/available", json={"reason": "x"}, headers=auth).status_code == 404
    for bad in ({"reason": "x", "hours": 0}, {"reason": "x", "hours": 25}, {"reason": ""}, {"hours": 2}):
        assert client.post(f"/api/dispatch/crews/{crew_id}/available", json=bad, headers=auth).status_code == 422


def test_a_crew_put_on_call_takes_the_waiting_work_and_replan_says_what_moved(client, auth, session):
    saved = everybody_off_shift(session)
    waiting = new_ticket(client, auth)
    second = new_ticket(client, auth, phone=SHOWCASE["normal"][1], account_no=SHOWCASE["normal"][0])
    assert (waiting["status"], second["status"]) == ("新建", "新建")
    crews = {c["id"]: c for c in client.get("/api/dispatch/crews", headers=auth).json()}
    assert not any(c["on_shift"] for c in crews.values())
    assert all(c["next_shift_starts_at"] for c in crews.values())  # the demo plans shifts ahead

    supervisor = bearer(client, "supervisor01")
    rural = "YZ-03"  # 原州农村抢修班: 低压抢修 in 原州区, capacity 3
    response = client.post(f"/api/dispatch/crews/{rural}/available", json={"reason": "暴雨加派", "hours": 3},
                           headers=supervisor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["moved"] == 2 and {m["number"] for m in body["moves"]} == {waiting["number"], second["number"]}
    assert all((m["from_crew_id"], m["to_crew_id"], m["to_crew"]) == (None, rural, "原州农村抢修班")
               for m in body["moves"])
    shift = session.scalars(select(CrewShift).where(CrewShift.crew_id == rural).order_by(CrewShift.id.desc())).first()
    assert round((shift.ends_at - shift.starts_at).total_seconds()) == 3 * 3600
    on_call = {c["id"]: c for c in client.get("/api/dispatch/crews", headers=auth).json()}[rural]
    assert on_call["on_shift"] and on_call["load"] == 2
    row = ticket_row(session, waiting["number"])
    assert (row.status, row.crew_id) == ("已派单", rural)
    assert row.events[-1].actor == "supervisor:supervisor01" and "值班待命3小时：暴雨加派" in row.events[-1].note
    offered = session.scalar(select(TicketAssignment).where(TicketAssignment.ticket_id == row.id))
    assert offered.by == "supervisor:supervisor01" and "暴雨加派" in offered.reason

    restore_shifts(session, saved)  # the regular crews come on: the re-plan may spread the work
    replanned = client.post("/api/dispatch/replan", json={"reason": "正常班组到岗"}, headers=supervisor).json()
    assert replanned["moved"] == len(replanned["moves"]) and replanned["unplaced"] == []
    for move in replanned["moves"]:
        assert move["from_crew_id"] == rural and move["to_crew_id"] != rural
        assert ticket_row(session, move["number"]).crew_id == move["to_crew_id"]
