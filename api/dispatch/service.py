"""Dispatch rules: the skill a ticket needs, the crews as the optimizer sees them, the offers made.

Every offer is a TicketAssignment row. Deciding a crew is api.dispatch.optimizer's (pure, tested
and benchmarked on its own); moving the ticket and telling the crew is the dispatch flow's
(api/flows/dispatching.py), which calls these.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.core.ids import CITY_CENTRE, DISTRICTS
from api.dispatch import optimizer
from api.dispatch.models import Crew, CrewMember, CrewShift, TicketAssignment
from api.dispatch.schemas import CrewRead

# The skill a ticket needs, by type; fault tickets by diagnosis.
SKILL_BY_TYPE = {"故障报修": "低压抢修", "安全隐患": "低压抢修", "充电设施故障": "充电设施运维",
                 "稽查任务": "用电检查", "业务办理": "计量装表", "投诉": "客户服务", "咨询回访": "客户服务"}
SKILL_BY_DIAGNOSIS = {"meter_fault": "计量装表"}
OPEN_OFFER = ("offered", "accepted")


class NoSuchCrew(NotFound):
    """No active crew has that id."""

    def __init__(self, crew_id: str) -> None:
        super().__init__("crew_not_found", f"没有找到班组 {crew_id}")


def skill_for(ticket) -> str:
    """What the crew must be able to do (`ticket`: anything with type and diagnosis_code)."""
    if ticket.type == "故障报修" and ticket.diagnosis_code in SKILL_BY_DIAGNOSIS:
        return SKILL_BY_DIAGNOSIS[ticket.diagnosis_code]
    return SKILL_BY_TYPE.get(ticket.type, "低压抢修")


def demand(ticket) -> optimizer.TicketDemand:
    """The optimizer's view of a ticket (the district seat when the address has no coordinates)."""
    lat, lon = ticket.lat, ticket.lon
    if lat is None or lon is None:
        lat, lon = DISTRICTS.get(ticket.district or "", CITY_CENTRE)
    pinned = ticket.crew_id if ticket.status in ("已接单", "已到达") else None
    return optimizer.TicketDemand(
        id=ticket.number, skill=skill_for(ticket), lat=lat, lon=lon, district=ticket.district or "",
        area_class=ticket.area_class, priority=ticket.priority, due_at=ticket.arrive_by, pinned_crew=pinned)


def get_crew(*, session: Session, crew_id: str) -> Crew | None:
    """The crew with this id, active or not."""
    return session.get(Crew, crew_id)


def require_active_crew(*, session: Session, crew_id: str) -> Crew:
    """The active crew with this id, or NoSuchCrew."""
    crew = session.get(Crew, crew_id)
    if crew is None or not crew.active:
        raise NoSuchCrew(crew_id)
    return crew


def crew_of_mobile(*, session: Session, mobile: str) -> Crew | None:
    """The active crew whose leader (or a member) has this mobile."""
    crew = session.scalar(select(Crew).where(Crew.leader_mobile == mobile, Crew.active.is_(True)))
    if crew is None:
        member = session.scalar(select(CrewMember).where(CrewMember.mobile == mobile))
        crew = session.get(Crew, member.crew_id) if member else None
    return crew


def crew_states(*, session: Session, now: datetime, loads: dict[str, int],
                exclude: set[str] = frozenset()) -> list[optimizer.CrewState]:
    """Every active crew as the optimizer sees it now: on shift or not, and its load (tickets held)."""
    on_shift = set(session.scalars(select(CrewShift.crew_id).where(
        CrewShift.starts_at <= now, CrewShift.ends_at > now)))
    crews = session.scalars(select(Crew).where(Crew.active.is_(True)).order_by(Crew.id))
    return [optimizer.CrewState(
        id=c.id, skills=frozenset(c.skills), lat=c.lat, lon=c.lon, districts=frozenset(c.districts),
        on_shift=c.id in on_shift, load=loads.get(c.id, 0), capacity=c.capacity, experience=c.experience)
        for c in crews if c.id not in exclude]


def list_crews(*, session: Session, now: datetime, loads: dict[str, int]) -> list[CrewRead]:
    """Crews with their load and whether they are on shift."""
    states = {s.id: s for s in crew_states(session=session, now=now, loads=loads)}
    crews = session.scalars(select(Crew).where(Crew.active.is_(True)).order_by(Crew.id))
    return [CrewRead(id=c.id, name=c.name, skills=c.skills, districts=c.districts, experience=c.experience,
                     capacity=c.capacity, load=states[c.id].load, on_shift=states[c.id].on_shift,
                     lat=c.lat, lon=c.lon) for c in crews]


def tried_crews(*, session: Session, ticket_id: int) -> set[str]:
    """Crews that refused or ignored this ticket (not offered again)."""
    return set(session.scalars(select(TicketAssignment.crew_id).where(
        TicketAssignment.ticket_id == ticket_id, TicketAssignment.outcome.in_(("rejected", "timeout")))))


def record_offer(*, session: Session, ticket_id: int, crew: Crew, assignment: optimizer.Assignment | None,
                 now: datetime, actor: str, reason: str | None) -> None:
    """Close the ticket's open offers (reassigned) and record the new one."""
    for open_offer in session.scalars(select(TicketAssignment).where(
            TicketAssignment.ticket_id == ticket_id, TicketAssignment.outcome.in_(OPEN_OFFER))):
        open_offer.outcome, open_offer.responded_at = "reassigned", now
        open_offer.reason = open_offer.reason or reason
    session.add(TicketAssignment(ticket_id=ticket_id, crew_id=crew.id, offered_at=now, by=actor,
                                 travel_minutes=assignment.travel_minutes if assignment else None,
                                 cost=assignment.cost if assignment else None, reason=reason))


def answer_offer(*, session: Session, ticket_id: int, crew_id: str, accepted: bool, now: datetime,
                 reason: str | None = None) -> None:
    """The crew accepted or refused its open offer for the ticket."""
    offer = session.scalar(select(TicketAssignment).where(
        TicketAssignment.ticket_id == ticket_id, TicketAssignment.crew_id == crew_id,
        TicketAssignment.outcome.in_(OPEN_OFFER)).order_by(TicketAssignment.id.desc()))
    if offer is None:
        return
    offer.outcome, offer.responded_at = ("accepted" if accepted else "rejected"), now
    if not accepted:
        offer.reason = reason or None


def stale_offers(*, session: Session, now: datetime, timeout: timedelta) -> list[TicketAssignment]:
    """Offers nobody answered within the timeout."""
    return list(session.scalars(select(TicketAssignment).where(
        TicketAssignment.outcome == "offered", TicketAssignment.offered_at <= now - timeout)))


def manual_choice(*, ticket, crew: Crew, now: datetime) -> optimizer.Assignment:
    """Travel time and ETA for an active crew a supervisor picked by hand."""
    road = optimizer.RoadModel()
    d = demand(ticket)
    travel = road.travel_minutes(crew.lat, crew.lon, d.lat, d.lon, d.area_class)
    return optimizer.Assignment(ticket_id=ticket.number, crew_id=crew.id, travel_minutes=travel,
                                eta=now + timedelta(minutes=travel),
                                slack_minutes=(d.due_at - now).total_seconds() / 60 - travel, cost=0.0)
