"""A ticket goes to a crew: the choice (dispatch's), the ticket's move (tickets'), the crew's SMS (notify's).

Each step changes the ticket, records the offer and queues the messages announcing it in the
same transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.core.errors import Conflict
from api.core.vocabulary import HOLDING_STATUSES, OPEN_STATUSES
from api.dispatch import optimizer
from api.dispatch import service as dispatch
from api.dispatch.models import Crew
from api.dispatch.schemas import CrewRead, MoveRead, OpenTicketRead, ReplanRead
from api.notify import messages
from api.notify import service as notify
from api.tickets import service as tickets
from api.tickets.models import Ticket
from api.tickets.diagnosis import BRING

log = logging.getLogger(__name__)
WAITING = ("新建", "退单")  # a ticket that needs a crew


def crew_states(*, session: Session, now: datetime, exclude: set[str] = frozenset(),
                count_load: bool = True) -> list[optimizer.CrewState]:
    """Active crews as the optimizer sees them; count_load=False when every ticket the crews hold
    is part of the plan being made (replan)."""
    loads = tickets.crew_loads(session=session) if count_load else {}
    return dispatch.crew_states(session=session, now=now, loads=loads, exclude=exclude)


def list_crews(*, session: Session, now: datetime, include_inactive: bool = False) -> list[CrewRead]:
    """Crews with their load and whether they are on shift (include_inactive: also those taken out)."""
    return dispatch.list_crews(session=session, now=now, loads=tickets.crew_loads(session=session),
                               include_inactive=include_inactive)


def open_tickets(*, session: Session, now: datetime) -> list[OpenTicketRead]:
    """The open work tickets a dispatcher looks after (not those attached to an area ticket), most urgent first."""
    rows = tickets.list_for_update(session=session, statuses=OPEN_STATUSES)
    crews = {}
    for ticket in rows:
        if ticket.crew_id and ticket.crew_id not in crews:
            crews[ticket.crew_id] = dispatch.get_crew(session=session, crew_id=ticket.crew_id)
    return [dispatch.open_ticket(t, crew=crews.get(t.crew_id), now=now) for t in rows]


def offer(*, session: Session, ticket: Ticket, crew: Crew, assignment: optimizer.Assignment | None,
          now: datetime, actor: str, reason: str | None = None) -> MoveRead:
    """Give the ticket to a crew: transition, assignment row, ETA, and the crew's SMS; returns the move."""
    previous_crew = ticket.crew_id
    old = dispatch.get_crew(session=session, crew_id=previous_crew) if previous_crew else None
    move = MoveRead(number=ticket.number, type=ticket.type, district=ticket.district, from_crew_id=previous_crew,
                    from_crew=old.name if old else None, to_crew_id=crew.id, to_crew=crew.name)
    if ticket.status in WAITING:
        tickets.transition(session=session, ticket=ticket, action="dispatch", actor=actor, now=now,
                           note=f"派给{crew.name}" + (f"（{reason}）" if reason else ""))
    else:
        tickets.transition(session=session, ticket=ticket, action="reassign", actor=actor, now=now,
                           note=f"改派给{crew.name}：{reason or '重新派单'}")
    dispatch.record_offer(session=session, ticket_id=ticket.id, crew=crew, assignment=assignment, now=now,
                          actor=actor, reason=reason)
    ticket.crew_id = crew.id
    ticket.crew_eta = assignment.eta if assignment else None
    event_no = len(ticket.events)
    notify.enqueue(session=session, key=f"ticket:{ticket.id}:offer:{event_no}:{crew.id}", channel="sms",
                   recipient=crew.leader_mobile, audience="crew", ticket_id=ticket.id, now=now,
                   body=messages.crew_assigned(ticket, reassigned=previous_crew is not None,
                                               bring=BRING.get(ticket.diagnosis_code, [])))
    if old is not None and old.id != crew.id:
        notify.enqueue(session=session, key=f"ticket:{ticket.id}:taken:{event_no}:{old.id}", channel="sms",
                       recipient=old.leader_mobile, audience="crew", ticket_id=ticket.id, now=now,
                       body=messages.crew_changed(ticket, f"已改派给其他班组（{reason or '重新派单'}），无需前往"))
    return move


def dispatch_ticket(*, session: Session, ticket: Ticket, now: datetime, actor: str = "system:dispatch",
                    reason: str | None = None) -> bool:
    """Assign a new (or refused) ticket to the best crew at once; False when no crew can take it."""
    return _dispatch_one(session=session, ticket=ticket, now=now, actor=actor, reason=reason) is not None


def _dispatch_one(*, session: Session, ticket: Ticket, now: datetime, actor: str,
                  reason: str | None) -> MoveRead | None:
    """dispatch_ticket, returning the move (None when no crew can take the ticket)."""
    if ticket.parent_id is not None:  # attached to an area ticket: that ticket's crew handles it
        return None
    exclude = dispatch.tried_crews(session=session, ticket_id=ticket.id) | ({ticket.crew_id} if ticket.crew_id else set())
    choice = optimizer.assign_one(dispatch.demand(ticket), crew_states(session=session, now=now, exclude=exclude), now)
    if choice is None:
        return None
    return offer(session=session, ticket=ticket, crew=dispatch.get_crew(session=session, crew_id=choice.crew_id),
                 assignment=choice, now=now, actor=actor, reason=reason)


def dispatch_new(*, session: Session, number: str, now: datetime) -> bool:
    """Give a just-created ticket to a crew at once (the backlog job retries if none can take it)."""
    ticket = tickets.get_for_update(session=session, number=number)
    if ticket.status != "新建":
        return False
    sent = dispatch_ticket(session=session, ticket=ticket, now=now)
    session.commit()
    return sent


def dispatch_by_staff(*, session: Session, ticket: Ticket, now: datetime, actor: str) -> None:
    """派单 by a supervisor or agent; Conflict when no crew can take the ticket now."""
    tickets.check_transition(ticket=ticket, action="dispatch")
    if not dispatch_ticket(session=session, ticket=ticket, now=now, actor=actor):
        raise Conflict("no_crew", "当前没有可以接单的班组，工单已进入待派队列")


def dispatch_backlog(*, session: Session, now: datetime) -> int:
    """Batch-assign every waiting ticket at once (an area outage, a storm); returns how many went out."""
    assigned = _assign_backlog(session=session, now=now, actor="system:batch", reason=None)
    session.commit()
    return len(assigned)


def _assign_backlog(*, session: Session, now: datetime, actor: str, reason: str | None) -> list[MoveRead]:
    """Give every waiting ticket a crew in one plan (not committed); returns the moves."""
    backlog = tickets.list_for_update(session=session, statuses=WAITING)
    if not backlog:
        return []
    by_number = {t.number: t for t in backlog}
    plan = optimizer.assign_batch([dispatch.demand(t) for t in backlog], crew_states(session=session, now=now), now)
    moves = []
    for choice in plan:
        ticket = by_number.get(choice.ticket_id)
        if ticket is None or choice.crew_id in dispatch.tried_crews(session=session, ticket_id=ticket.id):
            continue
        moves.append(offer(session=session, ticket=ticket,
                           crew=dispatch.get_crew(session=session, crew_id=choice.crew_id),
                           assignment=choice, now=now, actor=actor, reason=reason))
    return moves


def replan(*, session: Session, now: datetime, reason: str, actor: str = "system:replan") -> ReplanRead:
    """Re-optimise all open work together (an emergency, a storm): tickets not yet accepted may move;
    accepted and on-site tickets keep their crew and use up its capacity. Returns what moved."""
    open_tickets = tickets.list_for_update(session=session, statuses=(*WAITING, *HOLDING_STATUSES),
                                           order_by_priority=False)
    states = crew_states(session=session, now=now, count_load=False)
    available = {state.id for state in states}
    batch = [d for d in map(dispatch.demand, open_tickets) if d.pinned_crew is None or d.pinned_crew in available]
    by_number = {t.number: t for t in open_tickets}
    moves = []
    for choice in optimizer.assign_batch(batch, states, now):
        ticket = by_number[choice.ticket_id]
        if ticket.status in ("已接单", "已到达") or ticket.crew_id == choice.crew_id:
            continue
        if choice.crew_id in dispatch.tried_crews(session=session, ticket_id=ticket.id):
            continue
        moves.append(offer(session=session, ticket=ticket,
                           crew=dispatch.get_crew(session=session, crew_id=choice.crew_id),
                           assignment=choice, now=now, actor=actor, reason=reason))
    session.commit()
    return ReplanRead(moved=len(moves), moves=moves)


def crew_unavailable(*, session: Session, crew_id: str, reason: str, now: datetime, actor: str) -> ReplanRead:
    """A crew drops out (vehicle breakdown, called to an emergency): its tickets not yet on site go to
    other crews; the ones it is on site for stay with it. Returns what moved and what no crew could take."""
    crew = dispatch.get_crew(session=session, crew_id=crew_id)
    if crew is None:
        raise dispatch.NoSuchCrew(crew_id)
    crew.active = False
    moves, unplaced = [], []
    for ticket in tickets.list_for_update(session=session, statuses=("已派单", "已接单"), crew_id=crew_id):
        move = _dispatch_one(session=session, ticket=ticket, now=now, actor=actor, reason=f"{crew.name}暂停接单：{reason}")
        if move is not None:
            moves.append(move)
        else:
            tickets.transition(session=session, ticket=ticket, action="escalate", actor=actor, now=now,
                               note=f"{crew.name}暂停接单（{reason}），暂无其他可用班组")
            unplaced.append(ticket.number)
    session.commit()
    log.info("crew %s out of dispatch by %s: %s (%s moved, %s unplaced)", crew_id, actor, reason,
             len(moves), len(unplaced))
    return ReplanRead(moved=len(moves), moves=moves, unplaced=unplaced)


def crew_available(*, session: Session, crew_id: str, reason: str, hours: int | None, now: datetime,
                   actor: str) -> ReplanRead:
    """A crew comes back (恢复派单) or is put on call for some hours (值班待命); the waiting tickets are
    planned again at once, so what it can take goes to it (or to whoever suits better). Returns what moved."""
    crew = dispatch.set_available(session=session, crew_id=crew_id, now=now, hours=hours)
    what = f"{crew.name}值班待命{hours}小时" if hours else f"{crew.name}恢复派单"
    moves = _assign_backlog(session=session, now=now, actor=actor, reason=f"{what}：{reason}")
    session.commit()
    log.info("crew %s back in dispatch by %s (on call %s h): %s (%s waiting tickets assigned)", crew_id, actor,
             hours or 0, reason, len(moves))
    return ReplanRead(moved=len(moves), moves=moves)


def expire_offers(*, session: Session, now: datetime, timeout: timedelta) -> int:
    """Offers nobody answered within the timeout go to another crew; returns how many moved."""
    moved = 0
    for offered in dispatch.stale_offers(session=session, now=now, timeout=timeout):
        ticket = tickets.get_by_id(session=session, ticket_id=offered.ticket_id)
        if ticket is None or ticket.status != "已派单" or ticket.crew_id != offered.crew_id:
            offered.outcome = "reassigned"
            continue
        offered.outcome, offered.responded_at = "timeout", now
        minutes = int(timeout.total_seconds() // 60)
        if dispatch_ticket(session=session, ticket=ticket, now=now, reason=f"{offered.crew_id}超过{minutes}分钟未接单"):
            moved += 1
        else:
            tickets.transition(session=session, ticket=ticket, action="escalate", actor="system:dispatch", now=now,
                               note=f"{offered.crew_id}超过{minutes}分钟未接单，且暂无其他可用班组")
    session.commit()
    return moved


def reassign(*, session: Session, number: str, crew_id: str, reason: str, actor: str, now: datetime) -> None:
    """A supervisor moves a ticket to a crew by hand; the reason is recorded."""
    ticket = tickets.get_for_update(session=session, number=number)
    crew = dispatch.require_active_crew(session=session, crew_id=crew_id)
    if ticket.status not in ("新建", "退单", "已派单", "已接单"):
        raise Conflict("invalid_transition", f"工单当前状态为“{ticket.status}”，不能改派")
    if not (reason or "").strip():
        raise Conflict("note_required", "改派需要填写原因")
    offer(session=session, ticket=ticket, crew=crew, assignment=dispatch.manual_choice(ticket=ticket, crew=crew, now=now),
          now=now, actor=actor, reason=reason)
    session.commit()
