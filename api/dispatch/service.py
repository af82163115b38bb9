"""Dispatch rules: which crew gets a ticket, re-dispatch when a crew refuses or stays silent.

Every offer is a TicketAssignment row and a ticket event; the crew's SMS is queued in the
same transaction (api.notify). The choice itself is api.dispatch.optimizer's (pure, tested
and benchmarked on its own).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from api.dispatch import optimizer
from api.dispatch.models import Crew, CrewShift, TicketAssignment
from api.dispatch.schemas import CrewRead
from api.geo.gazetteer import CITY_CENTRE, DISTRICTS
from api.notify import messages
from api.notify import service as notify
from api.tickets import lifecycle
from api.tickets import service as tickets
from api.tickets.models import Ticket

# The skill a ticket needs, by type; fault tickets by diagnosis.
SKILL_BY_TYPE = {"故障报修": "低压抢修", "安全隐患": "低压抢修", "充电设施故障": "充电设施运维",
                 "稽查任务": "用电检查", "业务办理": "计量装表", "投诉": "客户服务", "咨询回访": "客户服务"}
SKILL_BY_DIAGNOSIS = {"meter_fault": "计量装表"}
HOLDING = ("已派单", "已接单", "已到达")  # statuses in which a ticket occupies its crew


class NoSuchCrew(LookupError):
    """No active crew has that id."""


def skill_for(ticket: Ticket) -> str:
    """What the crew must be able to do."""
    if ticket.type == "故障报修" and ticket.diagnosis_code in SKILL_BY_DIAGNOSIS:
        return SKILL_BY_DIAGNOSIS[ticket.diagnosis_code]
    return SKILL_BY_TYPE.get(ticket.type, "低压抢修")


def demand(ticket: Ticket) -> optimizer.TicketDemand:
    """The optimizer's view of a ticket (the district seat when the address has no coordinates)."""
    lat, lon = ticket.lat, ticket.lon
    if lat is None or lon is None:
        lat, lon = DISTRICTS.get(ticket.district or "", CITY_CENTRE)
    pinned = ticket.crew_id if ticket.status in ("已接单", "已到达") else None
    return optimizer.TicketDemand(
        id=ticket.number, skill=skill_for(ticket), lat=lat, lon=lon, district=ticket.district or "",
        area_class=ticket.area_class, priority=ticket.priority, due_at=ticket.arrive_by, pinned_crew=pinned)


def crew_states(*, session: Session, now: datetime, exclude: set[str] = frozenset(),
                count_load: bool = True) -> list[optimizer.CrewState]:
    """Every active crew as the optimizer sees it now: on shift or not, how loaded.

    count_load=False when every ticket the crews hold is part of the plan being made (replan).
    """
    loads = dict(session.execute(
        select(Ticket.crew_id, func.count()).where(Ticket.status.in_(HOLDING), Ticket.crew_id.is_not(None))
        .group_by(Ticket.crew_id)).all()) if count_load else {}
    on_shift = set(session.scalars(select(CrewShift.crew_id).where(
        CrewShift.starts_at <= now, CrewShift.ends_at > now)))
    crews = session.scalars(select(Crew).where(Crew.active.is_(True)).order_by(Crew.id))
    return [optimizer.CrewState(
        id=c.id, skills=frozenset(c.skills), lat=c.lat, lon=c.lon, districts=frozenset(c.districts),
        on_shift=c.id in on_shift, load=loads.get(c.id, 0), capacity=c.capacity, experience=c.experience)
        for c in crews if c.id not in exclude]


def tried_crews(*, session: Session, ticket: Ticket) -> set[str]:
    """Crews that refused or ignored this ticket (not offered again)."""
    return set(session.scalars(select(TicketAssignment.crew_id).where(
        TicketAssignment.ticket_id == ticket.id, TicketAssignment.outcome.in_(("rejected", "timeout")))))


def offer(*, session: Session, ticket: Ticket, crew: Crew, assignment: optimizer.Assignment | None,
          now: datetime, actor: str, reason: str | None = None) -> None:
    """Give the ticket to a crew: transition, assignment row, ETA, and the crew's SMS."""
    previous_crew = ticket.crew_id
    if ticket.status in ("新建", "退单"):
        tickets.transition(session=session, ticket=ticket, action="dispatch", actor=actor, now=now,
                           note=f"派给{crew.name}" + (f"（{reason}）" if reason else ""))
    else:
        tickets.transition(session=session, ticket=ticket, action="reassign", actor=actor, now=now,
                           note=f"改派给{crew.name}：{reason or '重新派单'}")
    for open_offer in session.scalars(select(TicketAssignment).where(
            TicketAssignment.ticket_id == ticket.id, TicketAssignment.outcome.in_(("offered", "accepted")))):
        open_offer.outcome, open_offer.responded_at = "reassigned", now
        open_offer.reason = open_offer.reason or reason
    ticket.crew_id = crew.id
    ticket.crew_eta = assignment.eta if assignment else None
    session.add(TicketAssignment(ticket_id=ticket.id, crew_id=crew.id, offered_at=now, by=actor,
                                 travel_minutes=assignment.travel_minutes if assignment else None,
                                 cost=assignment.cost if assignment else None, reason=reason))
    event_no = len(ticket.events)
    notify.enqueue(session=session, key=f"ticket:{ticket.id}:offer:{event_no}:{crew.id}", channel="sms",
                   recipient=crew.leader_mobile, audience="crew", ticket_id=ticket.id, now=now,
                   body=messages.crew_assigned(ticket, reassigned=previous_crew is not None))
    if previous_crew and previous_crew != crew.id:
        old = session.get(Crew, previous_crew)
        if old is not None:
            notify.enqueue(session=session, key=f"ticket:{ticket.id}:taken:{event_no}:{old.id}", channel="sms",
                           recipient=old.leader_mobile, audience="crew", ticket_id=ticket.id, now=now,
                           body=messages.crew_changed(ticket, f"已改派给其他班组（{reason or '重新派单'}），无需前往"))


def dispatch(*, session: Session, ticket: Ticket, now: datetime, actor: str = "system:dispatch",
             reason: str | None = None) -> bool:
    """Assign a new (or refused) ticket to the best crew at once; False when no crew can take it."""
    if ticket.parent_id is not None:  # attached to an area ticket: that ticket's crew handles it
        return False
    exclude = tried_crews(session=session, ticket=ticket) | ({ticket.crew_id} if ticket.crew_id else set())
    choice = optimizer.assign_one(demand(ticket), crew_states(session=session, now=now, exclude=exclude), now)
    if choice is None:
        return False
    offer(session=session, ticket=ticket, crew=session.get(Crew, choice.crew_id), assignment=choice, now=now,
          actor=actor, reason=reason)
    return True


def waiting(*, session: Session) -> list[Ticket]:
    """Tickets that need a crew: new or refused, not attached to an area ticket."""
    return list(session.scalars(select(Ticket).options(selectinload(Ticket.events)).where(
        Ticket.status.in_(("新建", "退单")), Ticket.parent_id.is_(None)).order_by(Ticket.priority, Ticket.id)))


def dispatch_backlog(*, session: Session, now: datetime) -> int:
    """Batch-assign every waiting ticket at once (an area outage, a storm); returns how many went out."""
    backlog = waiting(session=session)
    if not backlog:
        return 0
    by_number = {t.number: t for t in backlog}
    plan = optimizer.assign_batch([demand(t) for t in backlog], crew_states(session=session, now=now), now)
    assigned = 0
    for choice in plan:
        ticket = by_number.get(choice.ticket_id)
        if ticket is None or choice.crew_id in tried_crews(session=session, ticket=ticket):
            continue
        offer(session=session, ticket=ticket, crew=session.get(Crew, choice.crew_id), assignment=choice,
              now=now, actor="system:batch")
        assigned += 1
    session.commit()
    return assigned


def replan(*, session: Session, now: datetime, reason: str, actor: str = "system:replan") -> int:
    """Re-optimise all open work together (an emergency, a storm): tickets not yet accepted may move;
    accepted and on-site tickets keep their crew and use up its capacity. Returns how many moved."""
    open_tickets = session.scalars(select(Ticket).options(selectinload(Ticket.events)).where(
        Ticket.status.in_(("新建", "退单", *HOLDING)), Ticket.parent_id.is_(None)).order_by(Ticket.id)).all()
    states = crew_states(session=session, now=now, count_load=False)
    available = {state.id for state in states}
    batch = [d for d in map(demand, open_tickets) if d.pinned_crew is None or d.pinned_crew in available]
    by_number = {t.number: t for t in open_tickets}
    moved = 0
    for choice in optimizer.assign_batch(batch, states, now):
        ticket = by_number[choice.ticket_id]
        if ticket.status in ("已接单", "已到达") or ticket.crew_id == choice.crew_id:
            continue
        if choice.crew_id in tried_crews(session=session, ticket=ticket):
            continue
        offer(session=session, ticket=ticket, crew=session.get(Crew, choice.crew_id), assignment=choice, now=now,
              actor=actor, reason=reason)
        moved += 1
    session.commit()
    return moved


def crew_unavailable(*, session: Session, crew_id: str, reason: str, now: datetime, actor: str) -> int:
    """A crew drops out (vehicle breakdown, called to an emergency): its tickets not yet on site go to
    other crews; the ones it is on site for stay with it. Returns how many moved."""
    crew = session.get(Crew, crew_id)
    if crew is None:
        raise NoSuchCrew(crew_id)
    crew.active = False
    moved = 0
    held = session.scalars(select(Ticket).options(selectinload(Ticket.events)).where(
        Ticket.crew_id == crew_id, Ticket.status.in_(("已派单", "已接单"))).order_by(Ticket.priority, Ticket.id)).all()
    for ticket in held:
        if dispatch(session=session, ticket=ticket, now=now, actor=actor, reason=f"{crew.name}暂停接单：{reason}"):
            moved += 1
        else:
            tickets.transition(session=session, ticket=ticket, action="escalate", actor=actor, now=now,
                               note=f"{crew.name}暂停接单（{reason}），暂无其他可用班组")
    session.commit()
    return moved


def expire_offers(*, session: Session, now: datetime, timeout: timedelta) -> int:
    """Offers nobody answered within the timeout go to another crew; returns how many moved."""
    stale = session.scalars(select(TicketAssignment).where(
        TicketAssignment.outcome == "offered", TicketAssignment.offered_at <= now - timeout)).all()
    moved = 0
    for offered in stale:
        ticket = session.scalar(select(Ticket).options(selectinload(Ticket.events))
                                .where(Ticket.id == offered.ticket_id))
        if ticket is None or ticket.status != "已派单" or ticket.crew_id != offered.crew_id:
            offered.outcome = "reassigned"
            continue
        offered.outcome, offered.responded_at = "timeout", now
        minutes = int(timeout.total_seconds() // 60)
        if dispatch(session=session, ticket=ticket, now=now, reason=f"{offered.crew_id}超过{minutes}分钟未接单"):
            moved += 1
        else:
            tickets.transition(session=session, ticket=ticket, action="escalate", actor="system:dispatch", now=now,
                               note=f"{offered.crew_id}超过{minutes}分钟未接单，且暂无其他可用班组")
    session.commit()
    return moved


def reassign(*, session: Session, ticket: Ticket, crew_id: str, reason: str, actor: str, now: datetime) -> None:
    """A supervisor moves a ticket to a crew by hand; the reason is recorded."""
    crew = session.get(Crew, crew_id)
    if crew is None or not crew.active:
        raise NoSuchCrew(crew_id)
    if ticket.status not in ("新建", "退单", "已派单", "已接单"):
        raise lifecycle.InvalidTransition("invalid_transition", f"工单当前状态为“{ticket.status}”，不能改派")
    if not (reason or "").strip():
        raise lifecycle.InvalidTransition("note_required", "改派需要填写原因")
    states = {s.id: s for s in crew_states(session=session, now=now)}
    choice = None
    if crew.id in states:
        road = optimizer.RoadModel()
        d = demand(ticket)
        travel = road.travel_minutes(crew.lat, crew.lon, d.lat, d.lon, d.area_class)
        choice = optimizer.Assignment(ticket_id=ticket.number, crew_id=crew.id, travel_minutes=travel,
                                      eta=now + timedelta(minutes=travel),
                                      slack_minutes=(d.due_at - now).total_seconds() / 60 - travel, cost=0.0)
    offer(session=session, ticket=ticket, crew=crew, assignment=choice, now=now, actor=actor, reason=reason)
    session.commit()


def list_crews(*, session: Session, now: datetime) -> list[CrewRead]:
    """Crews with their load and whether they are on shift."""
    states = {s.id: s for s in crew_states(session=session, now=now)}
    crews = session.scalars(select(Crew).where(Crew.active.is_(True)).order_by(Crew.id))
    return [CrewRead(id=c.id, name=c.name, skills=c.skills, districts=c.districts, experience=c.experience,
                     capacity=c.capacity, load=states[c.id].load, on_shift=states[c.id].on_shift,
                     lat=c.lat, lon=c.lon) for c in crews]
