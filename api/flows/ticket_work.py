"""Work on a ticket after intake: crews accept, arrive, resolve or refuse; staff suspend, cancel,
escalate; customers are told each step on their channel and crews are told what staff changed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.core.deps import SERVICE, StaffRead, actor_name
from api.core.errors import Forbidden
from api.core.ids import chat_address
from api.dispatch import service as dispatch
from api.dispatch.models import Crew
from api.flows.dispatching import dispatch_by_staff, dispatch_ticket
from api.notify import messages
from api.notify import service as notify
from api.tickets import service as tickets
from api.tickets.models import Ticket
from api.tickets.schemas import TicketRead, TransitionCreate

CREW_ACTIONS = ("accept", "arrive", "resolve", "reject")
CREW_TOLD = {"suspend": "已挂起（{note}），请暂停处理", "resume": "已恢复处理，请继续", "cancel": "已撤销（{note}），无需前往",
             "escalate": "已升级为优先级{priority}（{note}），请优先处理"}


def notify_customer(*, session: Session, ticket: Ticket, step: str, now: datetime, note: str | None = None) -> None:
    """Progress notice on the customer's channel: their web chat or WeChat, else SMS to the contact number.

    Never for an audit of the customer's premises (a 稽查任务 from a theme)."""
    if tickets.confidential(ticket):
        return
    crew = dispatch.get_crew(session=session, crew_id=ticket.crew_id) if ticket.crew_id else None
    in_chat = ticket.channel in ("web", "wechat") and bool(ticket.conversation_id)
    body = messages.customer_progress(ticket, step, crew_name=crew.name if crew else None, note=note,
                                      with_survey=not in_chat)
    key = f"ticket:{ticket.id}:customer:{step}:{len(ticket.events)}"
    if in_chat:  # the web chat, or the WeChat user's customer-service messages
        channel, recipient = chat_address(ticket.conversation_id)
        notify.enqueue(session=session, key=key, channel=channel, recipient=recipient,
                       audience="customer", body=body, ticket_id=ticket.id, now=now)
        if step == "resolved" and ticket.contact_phone:  # the survey goes by SMS, answered by SMS
            notify.enqueue(session=session, key=f"{key}:survey", channel="sms", recipient=ticket.contact_phone,
                           audience="customer", body=messages.survey(ticket), ticket_id=ticket.id, now=now)
    elif ticket.contact_phone:
        notify.enqueue(session=session, key=key, channel="sms", recipient=ticket.contact_phone,
                       audience="customer", body=body, ticket_id=ticket.id, now=now)


def apply_crew_action(*, session: Session, ticket: Ticket, crew: Crew, action: str, note: str, now: datetime,
                      actor: str) -> None:
    """accept / arrive / resolve / reject by a crew (SMS or the crew page), with its consequences."""
    label = {"accept": None, "arrive": None, "resolve": note or None, "reject": note}[action]
    tickets.transition(session=session, ticket=ticket, action=action, actor=actor, now=now, note=label)
    if action in ("accept", "reject"):
        dispatch.answer_offer(session=session, ticket_id=ticket.id, crew_id=crew.id, accepted=action == "accept",
                              now=now, reason=note)
    if action == "accept":
        notify_customer(session=session, ticket=ticket, step="accepted", now=now)
    elif action == "arrive":
        crew.lat, crew.lon, crew.located_at = (ticket.lat or crew.lat), (ticket.lon or crew.lon), now
        notify_customer(session=session, ticket=ticket, step="arrived", now=now)
    elif action == "resolve":
        notify_customer(session=session, ticket=ticket, step="resolved", now=now, note=note or None)
        for report in tickets.attached_reports(session=session, parent_id=ticket.id):  # settled with it
            if report.resolved_at == now:
                notify_customer(session=session, ticket=report, step="resolved", now=now, note=note or None)
    elif action == "reject":
        ticket.crew_id = None
        dispatch_ticket(session=session, ticket=ticket, now=now, reason=f"{crew.name}退单：{note}")


def change_by_staff(*, session: Session, ticket: Ticket, action: str, actor: str, now: datetime,
                    note: str | None = None) -> None:
    """A supervisor's or agent's action (挂起, 恢复, 撤销, 升级 …); the crew holding it is told by SMS."""
    tickets.transition(session=session, ticket=ticket, action=action, actor=actor, now=now, note=note)
    crew = dispatch.get_crew(session=session, crew_id=ticket.crew_id) if ticket.crew_id else None
    if crew is not None and action in CREW_TOLD:
        what = CREW_TOLD[action].format(note=note or "", priority=ticket.priority)
        notify.enqueue(session=session, key=f"ticket:{ticket.id}:changed:{len(ticket.events)}:{crew.id}",
                       channel="sms", recipient=crew.leader_mobile, audience="crew", ticket_id=ticket.id,
                       now=now, body=messages.crew_changed(ticket, what))
    if action == "cancel":
        ticket.crew_eta = None


def transition(*, session: Session, number: str, body: TransitionCreate, caller: StaffRead | str,
               now: datetime) -> TicketRead:
    """Move a ticket through its lifecycle on behalf of staff, a crew account or the action server.

    A crew account may act only on its own crew's tickets, and only with the crew's steps; an action
    not allowed from the ticket's status is an InvalidTransition (409).
    """
    ticket = tickets.get_for_update(session=session, number=number)
    actor = body.actor
    if caller != SERVICE:
        if caller.role == "crew" and (ticket.crew_id != caller.crew_id or body.action not in CREW_ACTIONS):
            raise Forbidden("forbidden", "只能处理派给本班组的工单")
        actor = actor_name(caller)
    if body.action in CREW_ACTIONS and ticket.crew is not None:
        apply_crew_action(session=session, ticket=ticket, crew=ticket.crew, action=body.action,
                          note=body.note or "", now=now, actor=actor)
    elif body.action == "dispatch":
        dispatch_by_staff(session=session, ticket=ticket, now=now, actor=actor)
    else:
        change_by_staff(session=session, ticket=ticket, action=body.action, actor=actor, now=now, note=body.note)
    session.commit()
    return tickets.get_by_number(session=session, number=number)
