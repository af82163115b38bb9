"""Steps that cross domains: a new ticket goes to a crew, crews answer by SMS, customers hear.

ticket (tickets.service) → dispatch (dispatch.service) → notify (notify.service outbox). Each
step commits the ticket change and the messages announcing it in one transaction.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.dispatch import service as dispatch
from api.dispatch.models import Crew, CrewMember, TicketAssignment
from api.notify import messages
from api.notify import service as notify
from api.notify.models import InboundSms
from api.notify.replies import COMMANDS, FORMAT_HELP, CrewReply, parse_crew_reply, parse_satisfaction
from api.tickets import lifecycle
from api.tickets import service as tickets
from api.tickets.models import Ticket

# The status a crew's command applies to, when the SMS names no ticket.
EXPECTED = {"accept": ("已派单",), "reject": ("已派单",), "arrive": ("已接单",), "resolve": ("已到达", "已接单")}


def dispatch_new(*, session: Session, number: str, now: datetime) -> bool:
    """Give a just-created ticket to a crew at once (the backlog job retries if none can take it)."""
    ticket = tickets.get_for_update(session=session, number=number)
    if ticket.status != "新建":
        return False
    sent = dispatch.dispatch(session=session, ticket=ticket, now=now)
    session.commit()
    return sent


def notify_customer(*, session: Session, ticket: Ticket, step: str, now: datetime, note: str | None = None) -> None:
    """Progress notice on the customer's channel: their web chat, else SMS to the contact number."""
    crew = session.get(Crew, ticket.crew_id) if ticket.crew_id else None
    in_chat = ticket.channel == "web" and bool(ticket.conversation_id)
    body = messages.customer_progress(ticket, step, crew_name=crew.name if crew else None, note=note,
                                      with_survey=not in_chat)
    key = f"ticket:{ticket.id}:customer:{step}:{len(ticket.events)}"
    if in_chat:
        notify.enqueue(session=session, key=key, channel="web", recipient=ticket.conversation_id,
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
    offer = session.scalar(select(TicketAssignment).where(
        TicketAssignment.ticket_id == ticket.id, TicketAssignment.crew_id == crew.id,
        TicketAssignment.outcome.in_(("offered", "accepted"))).order_by(TicketAssignment.id.desc()))
    if action in ("accept", "reject") and offer is not None:
        offer.outcome, offer.responded_at = ("accepted" if action == "accept" else "rejected"), now
        offer.reason = note or None if action == "reject" else offer.reason
    if action == "accept":
        notify_customer(session=session, ticket=ticket, step="accepted", now=now)
    elif action == "arrive":
        crew.lat, crew.lon, crew.located_at = (ticket.lat or crew.lat), (ticket.lon or crew.lon), now
        notify_customer(session=session, ticket=ticket, step="arrived", now=now)
    elif action == "resolve":
        notify_customer(session=session, ticket=ticket, step="resolved", now=now, note=note or None)
    elif action == "reject":
        ticket.crew_id = None
        dispatch.dispatch(session=session, ticket=ticket, now=now, reason=f"{crew.name}退单：{note}")


CREW_TOLD = {"suspend": "已挂起（{note}），请暂停处理", "resume": "已恢复处理，请继续", "cancel": "已撤销（{note}），无需前往",
             "escalate": "已升级为优先级{priority}（{note}），请优先处理"}


def change_by_staff(*, session: Session, ticket: Ticket, action: str, actor: str, now: datetime,
                    note: str | None = None) -> None:
    """A supervisor's or agent's action (挂起, 恢复, 撤销, 升级 …); the crew holding it is told by SMS."""
    tickets.transition(session=session, ticket=ticket, action=action, actor=actor, now=now, note=note)
    crew = session.get(Crew, ticket.crew_id) if ticket.crew_id else None
    if crew is not None and action in CREW_TOLD:
        what = CREW_TOLD[action].format(note=note or "", priority=ticket.priority)
        notify.enqueue(session=session, key=f"ticket:{ticket.id}:changed:{len(ticket.events)}:{crew.id}",
                       channel="sms", recipient=crew.leader_mobile, audience="crew", ticket_id=ticket.id,
                       now=now, body=messages.crew_changed(ticket, what))
    if action == "cancel":
        ticket.crew_eta = None


def _crew_of(session: Session, mobile: str) -> Crew | None:
    crew = session.scalar(select(Crew).where(Crew.leader_mobile == mobile, Crew.active.is_(True)))
    if crew is None:
        member = session.scalar(select(CrewMember).where(CrewMember.mobile == mobile))
        crew = session.get(Crew, member.crew_id) if member else None
    return crew


def _crew_ticket(session: Session, crew: Crew, reply: CrewReply) -> Ticket | str:
    """The ticket the reply is about, or the Chinese reason it can't be told."""
    query = select(Ticket).options(selectinload(Ticket.events)).where(Ticket.crew_id == crew.id)
    if reply.ticket_no:
        ticket = session.scalar(query.where(Ticket.number == reply.ticket_no))
        return ticket or f"工单 {reply.ticket_no} 不是派给您班组的工单，请核对工单号。"
    candidates = session.scalars(query.where(Ticket.status.in_(EXPECTED[reply.action]))).all()
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return "您班组当前没有可以执行该操作的工单。如有疑问请联系班长或调度。"
    numbers = "、".join(t.number for t in candidates[:3])
    digit = {v: k for k, v in COMMANDS.items()}[reply.action]
    return f"您班组有多张工单（{numbers}），请在回复中写明工单号，例如：{digit} {candidates[0].number}。"


def handle_inbound_sms(*, session: Session, message_sid: str, sender: str, body: str, now: datetime) -> str | None:
    """Apply an SMS from a crew (commands) or a customer (satisfaction score); queue the reply.

    Twilio retries webhooks: a MessageSid seen before is answered from the record, not applied twice.
    """
    seen = session.scalar(select(InboundSms).where(InboundSms.message_sid == message_sid))
    if seen is not None:
        return seen.outcome
    record = InboundSms(message_sid=message_sid, sender=sender, body=body[:1000], received_at=now, outcome="")
    session.add(record)
    crew = _crew_of(session, sender)
    if crew is not None:
        record.outcome, reply = _crew_sms(session, crew, body, now, record)
    else:
        record.outcome, reply = _customer_sms(session, sender, body, now, record)
    record.reply = reply
    if reply:
        notify.enqueue(session=session, key=f"inbound:{message_sid}:reply", channel="sms", recipient=sender,
                       audience="crew" if crew else "customer", body=reply, ticket_id=record.ticket_id, now=now)
    session.commit()
    return record.outcome


def _crew_sms(session: Session, crew: Crew, body: str, now: datetime, record: InboundSms) -> tuple[str, str]:
    reply = parse_crew_reply(body)
    if reply is None:
        return "unparsed", FORMAT_HELP
    found = _crew_ticket(session, crew, reply)
    if isinstance(found, str):
        return "no_ticket", found
    ticket = tickets.get_for_update(session=session, number=found.number)
    record.ticket_id = ticket.id
    if reply.action == "reject" and not reply.note:
        return "note_required", f"退单请写明原因，例如：0 {ticket.number} 路途太远无法按时到达。"
    try:
        apply_crew_action(session=session, ticket=ticket, crew=crew, action=reply.action, note=reply.note,
                          now=now, actor=f"crew:{crew.id}")
    except lifecycle.InvalidTransition as exc:
        return "invalid", f"工单 {ticket.number}：{exc.message}。"
    return {"accept": "accepted", "arrive": "arrived", "resolve": "resolved", "reject": "rejected"}[reply.action], \
        messages.crew_ack(ticket, reply.action)


def _customer_sms(session: Session, sender: str, body: str, now: datetime, record: InboundSms) -> tuple[str, str | None]:
    """A customer answering the satisfaction survey of their latest resolved ticket."""
    ticket = session.scalar(select(Ticket).options(selectinload(Ticket.events)).where(
        Ticket.contact_phone == sender, Ticket.status == "已处理", Ticket.satisfaction.is_(None))
        .order_by(Ticket.resolved_at.desc()))
    if ticket is None:
        return "unknown_sender", None
    score = parse_satisfaction(body)
    record.ticket_id = ticket.id
    if score is None:
        return "unparsed", "请回复数字1—5对本次服务评价（5为非常满意）。"
    record_satisfaction(session=session, ticket=ticket, score=score, now=now, actor="customer:sms")
    return "satisfaction", messages.customer_thanks(score)


def record_satisfaction(*, session: Session, ticket: Ticket, score: int, now: datetime, actor: str) -> None:
    """The survey answer is the 回访: stored on the ticket and moves it to 已回访."""
    ticket.satisfaction = score
    tickets.transition(session=session, ticket=ticket, action="revisit", actor=actor, now=now,
                       note=f"客户评价 {score} 分")


def open_overload_ticket(*, session: Session, warning, settings, parser, now: datetime):
    """A 安全隐患 ticket for a transformer area forecast to overload (one per area per day), dispatched at once.

    `warning` is an api.forecasting.schemas.OverloadWarning; the crew checks the transformer and
    balances or sheds load before the forecast peak.
    """
    from api.tickets.schemas import FaultReportCreate

    report = FaultReportCreate(
        kind="hazard", channel="hotline", address_text=f"{warning.district}{warning.area_name}",
        description=(f"台区重过载预警：{warning.message} 请到现场检查变压器和低压出线，"
                     f"必要时调整负荷或安排轮换供电。"),
        idempotency_key=f"overload:{warning.area_code}:{warning.peak_at.date().isoformat()}")
    created = tickets.create_fault_ticket(session=session, report=report, settings=settings, parser=parser, now=now)
    if created.status == "新建" and not created.attached_to_existing:
        dispatch_new(session=session, number=created.number, now=now)
        created = tickets.get_by_number(session=session, number=created.number)
    return created
