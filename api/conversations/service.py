"""Conversation rules: every turn is stored, retries are recognised, ownership is explicit.

These functions write through the caller's session and never commit: the gateway stores a turn
in one transaction before the bot is asked and the answers in one after (gateway.py).
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.conversations.models import Conversation, Message
from api.conversations.schemas import BotMessage, Button, ConversationRead, TicketDraft, TurnRead
from api.core.errors import NotFound
from api.core.ids import MOBILE_IN_TEXT
from api.core.time import utcnow

ACCOUNT_IN_TEXT = re.compile(r"(?<!\d)\d{10}(?!\d)")


class ConversationNotFound(NotFound):
    """No conversation has that id."""

    code = "conversation_not_found"

    def __init__(self, conversation_id: str):
        super().__init__(message="没有找到这段对话")
        self.conversation_id = conversation_id


def get_or_create(*, session: Session, conversation_id: str, channel: str, now: datetime) -> Conversation:
    """The conversation, created on its first message."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=channel, owner="bot",
                                    created_at=now, last_active_at=now)
        session.add(conversation)
        try:
            session.flush()
        except IntegrityError:  # created concurrently by the same customer's other tab
            session.rollback()  # nothing else is lost: this is the first write of the turn
            conversation = session.get(Conversation, conversation_id)
    return conversation


def get_row(*, session: Session, conversation_id: str) -> Conversation:
    """The conversation's row (ConversationNotFound when there is none)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    return conversation


def find_customer_turn(*, session: Session, conversation_id: str, client_msg_id: str) -> Message | None:
    """A customer message already received with this client id (a retry)."""
    return session.scalar(select(Message).where(
        Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id,
        Message.sender == "customer"))


def replies_to(*, session: Session, message_id: int) -> list[BotMessage]:
    """What was answered to one customer message."""
    rows = session.scalars(select(Message).where(Message.reply_to_id == message_id).order_by(Message.id))
    return [BotMessage(text=m.text, buttons=[Button(**b) for b in (m.buttons or [])], image=m.image) for m in rows]


def record_customer_turn(*, session: Session, conversation_id: str, channel: str, text: str,
                         client_msg_id: str | None, now: datetime) -> tuple[Conversation, Message]:
    """Store what the customer said (awaiting its answer) before anything else can fail."""
    conversation = get_or_create(session=session, conversation_id=conversation_id, channel=channel, now=now)
    conversation.last_active_at = now
    if text.startswith("/"):  # a button click: keep what the customer saw in the transcript
        text = button_title(session=session, conversation_id=conversation_id, payload=text) or text
    message = Message(conversation_id=conversation_id, at=now, sender="customer", text=text,
                      client_msg_id=client_msg_id, delivery="pending")
    session.add(message)
    session.flush()
    return conversation, message


def record_replies(*, session: Session, customer_message: Message, sender: str,
                   replies: list[BotMessage], delivery: str, now: datetime) -> list[Message]:
    """Store the answers to a customer message and mark it handled."""
    customer_message.delivery = delivery
    rows = [Message(conversation_id=customer_message.conversation_id, at=now, sender=sender,
                    text=reply.text, buttons=[b.model_dump() for b in reply.buttons] or None,
                    image=reply.image, reply_to_id=customer_message.id) for reply in replies]
    session.add_all(rows)
    session.flush()
    return rows


def record_notice(*, session: Session, conversation_id: str, text: str, now: datetime) -> Message | None:
    """A system notice in a conversation (ticket progress, an agent joined); None when it is unknown."""
    if session.get(Conversation, conversation_id) is None:
        return None
    message = Message(conversation_id=conversation_id, at=now, sender="system", text=text)
    session.add(message)
    session.flush()
    return message


def button_title(*, session: Session, conversation_id: str, payload: str) -> str | None:
    """The title of the button with this payload in the latest answer, if the customer clicked one."""
    last = session.scalar(select(Message).where(
        Message.conversation_id == conversation_id, Message.sender != "customer",
        Message.buttons.is_not(None)).order_by(Message.id.desc()).limit(1))
    for button in (last.buttons if last else None) or []:
        if button.get("payload") == payload:
            return button.get("title")
    return None


def transcript(*, session: Session, conversation_id: str) -> list[Message]:
    """Every line of a conversation, in order."""
    return list(session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                .order_by(Message.id)))


def get(*, session: Session, conversation_id: str) -> ConversationRead:
    """A conversation with all its turns, times in Beijing time."""
    conversation = get_row(session=session, conversation_id=conversation_id)
    return ConversationRead(
        conversation_id=conversation.id, channel=conversation.channel, owner=conversation.owner,
        handoff_requested=conversation.handoff_requested, handoff_reason=conversation.handoff_reason,
        created_at=conversation.created_at, last_active_at=conversation.last_active_at,
        turns=[TurnRead(at=m.at, sender=m.sender, text=m.text, image=m.image,
                        buttons=[Button(**b) for b in (m.buttons or [])])
               for m in transcript(session=session, conversation_id=conversation_id)],
    )


def get_or_empty(*, session: Session, conversation_id: str) -> ConversationRead:
    """A conversation's turns, or an empty web conversation when none exists yet."""
    try:
        return get(session=session, conversation_id=conversation_id)
    except ConversationNotFound:
        now = utcnow()
        return ConversationRead(conversation_id=conversation_id, channel="web", owner="bot",
                                handoff_requested=False, handoff_reason=None, created_at=now,
                                last_active_at=now, turns=[])


TICKET_TYPE_BY_INTENT = {"report_outage": "故障报修", "report_hazard": "故障报修", "complaint": "投诉",
                         "apply_service": "业务办理", "start_application": "业务办理",
                         "charging_status": "充电设施故障"}


def ticket_draft(*, session: Session, conversation_id: str) -> TicketDraft:
    """A ticket form filled from the conversation: type from the intents, the customer's words, their number."""
    conversation = get_row(session=session, conversation_id=conversation_id)
    said = session.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                 Message.sender == "customer").order_by(Message.id)).all()
    kind = next((TICKET_TYPE_BY_INTENT[m.intent] for m in reversed(said) if m.intent in TICKET_TYPE_BY_INTENT),
                "咨询回访")
    words = [m.text for m in said if m.text and not m.text.startswith("/")]
    text = " ".join(words)
    phone = MOBILE_IN_TEXT.search(text)
    account = ACCOUNT_IN_TEXT.search(text)
    return TicketDraft(type=kind, account_no=conversation.account_no or (account.group(0) if account else None),
                       contact_phone=phone.group(0) if phone else None,
                       description="；".join(words)[-1000:] or "（客户未留言）", conversation_id=conversation_id,
                       channel=conversation.channel)
