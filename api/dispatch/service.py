"""Dispatch rules: the skill a ticket needs, the crews as the optimizer sees them, the offers made.

Every offer is a TicketAssignment row. Deciding a crew is api.dispatch.optimizer's (pure, tested
and benchmarked on its own); moving the ticket and telling the crew is the dispatch flow's
(api/flows/dispatching.py), which calls these.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.errors import Conflict, NotFound
from api.core.ids import CITY_CENTRE, DISTRICTS
from api.core.time import LOCAL_TZ
from api.dispatch import optimizer
from api.dispatch.models import Crew, CrewMember, CrewShift, TicketAssignment
from api.dispatch.schemas import CrewDutyRead, CrewRead, OpenTicketRead

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


def list_crews(*, session: Session, now: datetime, loads: dict[str, int],
               include_inactive: bool = False) -> list[CrewRead]:
    """Crews with their load, whether they are on shift and when that changes (include_inactive: also the
    crews taken out of dispatch, for the supervisor who may bring them back)."""
    query = select(Crew).order_by(Crew.id)
    if not include_inactive:
        query = query.where(Crew.active.is_(True))
    ends = dict(session.execute(select(CrewShift.crew_id, func.max(CrewShift.ends_at)).where(
        CrewShift.starts_at <= now, CrewShift.ends_at > now).group_by(CrewShift.crew_id)).all())
    starts = dict(session.execute(select(CrewShift.crew_id, func.min(CrewShift.starts_at)).where(
        CrewShift.starts_at > now).group_by(CrewShift.crew_id)).all())
    return [CrewRead(id=c.id, name=c.name, skills=c.skills, districts=c.districts, experience=c.experience,
                     capacity=c.capacity, load=loads.get(c.id, 0), on_shift=c.id in ends, lat=c.lat, lon=c.lon,
                     active=c.active, shift_ends_at=_local(ends.get(c.id)),
                     next_shift_starts_at=None if c.id in ends else _local(starts.get(c.id)))
            for c in session.scalars(query)]


def _local(at: datetime | None) -> datetime | None:
    """A stored UTC instant in Beijing time."""
    return at.astimezone(LOCAL_TZ) if at is not None else None


def set_available(*, session: Session, crew_id: str, now: datetime, hours: int | None) -> Crew:
    """Bring a crew back to dispatch; with hours, also put it on call from now for that long (a shift row).

    Conflict when there is nothing to do: the crew is in dispatch already and no on-call time is asked."""
    crew = session.get(Crew, crew_id)
    if crew is None:
        raise NoSuchCrew(crew_id)
    if crew.active and hours is None:
        raise Conflict("crew_available", f"{crew.name}没有暂停派单，无需恢复")
    crew.active = True
    if hours is not None:
        session.add(CrewShift(crew_id=crew.id, starts_at=now, ends_at=now + timedelta(hours=hours)))
    session.flush()
    return crew


def open_ticket(ticket, *, crew: Crew | None, now: datetime) -> OpenTicketRead:
    """The dispatch screen's row of an open work ticket (`ticket`: a tickets row, read only)."""
    located = ticket.lat is not None and ticket.lon is not None
    lat, lon = (ticket.lat, ticket.lon) if located else DISTRICTS.get(ticket.district or "", CITY_CENTRE)
    overdue = ticket.status in ("新建", "已派单", "已接单", "退单") and ticket.arrive_by <= now
    return OpenTicketRead(
        number=ticket.number, type=ticket.type, priority=ticket.priority, status=ticket.status,
        district=ticket.district, address_text=ticket.address_text, lat=lat, lon=lon, located=located,
        skill=skill_for(ticket), crew_id=ticket.crew_id, crew=crew.name if crew else None,
        crew_eta=_local(ticket.crew_eta), arrive_by=_local(ticket.arrive_by), arrived_at=_local(ticket.arrived_at),
        overdue=overdue, escalation_level=ticket.escalation_level, created_at=_local(ticket.created_at))


def duty(*, session: Session, crew_id: str, now: datetime) -> CrewDutyRead:
    """Whether the crew is on shift now, and when that changes (times in Beijing time)."""
    crew = require_active_crew(session=session, crew_id=crew_id)
    current = session.scalar(select(CrewShift).where(CrewShift.crew_id == crew_id, CrewShift.starts_at <= now,
                                                     CrewShift.ends_at > now).order_by(CrewShift.ends_at.desc()))
    upcoming = None if current is not None else session.scalar(
        select(CrewShift).where(CrewShift.crew_id == crew_id, CrewShift.starts_at > now)
        .order_by(CrewShift.starts_at))
    return CrewDutyRead(id=crew.id, name=crew.name, on_shift=current is not None,
                        shift_ends_at=current.ends_at.astimezone(LOCAL_TZ) if current else None,
                        next_shift_starts_at=upcoming.starts_at.astimezone(LOCAL_TZ) if upcoming else None)


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
