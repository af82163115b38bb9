"""SMS to our number: a crew's command (1 接单, 0 退单, 2 到达, 3 完成) or a customer's survey score.

Twilio retries webhooks: a MessageSid seen before is answered from the record, not applied twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.dispatch import service as dispatch
from api.dispatch.models import Crew
from api.flows.ticket_work import apply_crew_action
from api.notify import messages
from api.notify import service as notify
from api.notify.models import InboundSms
from api.notify.replies import COMMANDS, FORMAT_HELP, CrewReply, parse_crew_reply, parse_satisfaction
from api.tickets import lifecycle
from api.tickets import service as tickets
from api.tickets.models import Ticket

# The status a crew's command applies to, when the SMS names no ticket.
EXPECTED = {"accept": ("已派单",), "reject": ("已派单",), "arrive": ("已接单",), "resolve": ("已到达", "已接单")}
OUTCOMES = {"accept": "accepted", "arrive": "arrived", "resolve": "resolved", "reject": "rejected"}


def handle_inbound_sms(*, session: Session, message_sid: str, sender: str, body: str, now: datetime) -> str | None:
    """Apply an SMS from a crew (commands) or a customer (satisfaction score); queue the reply."""
    seen = notify.get_inbound(session=session, message_sid=message_sid)
    if seen is not None:
        return seen.outcome
    record = notify.record_inbound(session=session, message_sid=message_sid, sender=sender, body=body, now=now)
    crew = dispatch.crew_of_mobile(session=session, mobile=sender)
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


def _crew_ticket(session: Session, crew: Crew, reply: CrewReply) -> Ticket | str:
    """The ticket the reply is about, or the Chinese reason it can't be told."""
    candidates = tickets.crew_candidates(session=session, crew_id=crew.id, number=reply.ticket_no,
                                         statuses=EXPECTED[reply.action])
    if reply.ticket_no:
        return candidates[0] if candidates else f"工单 {reply.ticket_no} 不是派给您班组的工单，请核对工单号。"
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return "您班组当前没有可以执行该操作的工单。如有疑问请联系班长或调度。"
    numbers = "、".join(t.number for t in candidates[:3])
    digit = {v: k for k, v in COMMANDS.items()}[reply.action]
    return f"您班组有多张工单（{numbers}），请在回复中写明工单号，例如：{digit} {candidates[0].number}。"


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
    return OUTCOMES[reply.action], messages.crew_ack(ticket, reply.action)


def _customer_sms(session: Session, sender: str, body: str, now: datetime, record: InboundSms) -> tuple[str, str | None]:
    """A customer answering the satisfaction survey of their latest resolved ticket."""
    ticket = tickets.awaiting_rating(session=session, phone=sender)
    if ticket is None:
        return "unknown_sender", None
    score = parse_satisfaction(body)
    record.ticket_id = ticket.id
    if score is None:
        return "unparsed", "请回复数字1—5对本次服务评价（5为非常满意）。"
    tickets.record_satisfaction(session=session, ticket=ticket, score=score, now=now, actor="customer:sms")
    return "satisfaction", messages.customer_thanks(score)
