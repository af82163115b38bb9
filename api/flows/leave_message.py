"""A customer waiting for a person leaves a message instead: a 咨询回访 ticket, and the chat leaves the queue.

Offered when nobody will answer soon (out of office hours, no agent online) and whenever the
customer prefers a call-back (api/conversations/handoff.py queue_notice). One call-back per
conversation: asking again returns the same ticket.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.conversations import service as conversations
from api.conversations.desk import AgentDesk
from api.conversations.models import Conversation
from api.conversations.schemas import BotMessage, CallbackCreate, CallbackRead
from api.flows.ticket_intake import create_ticket
from api.tickets import service as tickets
from api.tickets.schemas import TicketCreate
from api.tickets.sla import WORKDAY_MINUTES, policy_for

NOTICE = "已为您登记留言，工单号{number}。我们会在{days}个工作日内给您回电，请留意接听。紧急情况请直接拨打95598供电服务热线。"


def leave_message(*, session: Session, desk: AgentDesk, conversation_id: str, body: CallbackCreate, parser,
                  now: datetime) -> CallbackRead:
    """Open the call-back ticket (with the customer's words), take the chat out of the queue, tell the customer."""
    conversation = conversations.get_row(session=session, conversation_id=conversation_id)
    key = f"callback:{conversation_id}"
    repeated = tickets.get_by_idempotency_key(session=session, key=key) is not None
    said = body.text.strip() or conversations.last_customer_words(session=session, conversation_id=conversation_id)
    ticket = create_ticket(session=session, parser=parser, now=now, data=TicketCreate(
        type="咨询回访", phone=body.phone, account_no=conversation.account_no, channel=conversation.channel,
        conversation_id=conversation_id, idempotency_key=key,
        description=f"客户在线留言，请回电。留言：{said or '（未填写）'}"[:1000]))
    days = max(1, round(policy_for(ticket.type, None).minutes / WORKDAY_MINUTES))  # the promise, in working days
    text = NOTICE.format(number=ticket.number, days=days)
    if not repeated:
        with desk.transaction() as changes:
            desk.leave_queue(changes, conversation_id=conversation_id, note=ticket.number)
            notice = conversations.record_notice(session=changes.session, conversation_id=conversation_id,
                                                 text=text, now=now)
            desk.turns_stored(changes, changes.session.get(Conversation, conversation_id), [notice])
    return CallbackRead(ticket_number=ticket.number, message=BotMessage(text=text, sender="system"))
