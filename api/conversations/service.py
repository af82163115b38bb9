"""Conversation rules: every turn is stored, retries are recognised, ownership is explicit.

These functions write through the caller's session and never commit: the gateway stores a turn
in one transaction before the bot is asked and the answers in one after (gateway.py).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.conversations.models import ChatKey, Conversation, ConversationEvent, CustomerImage, Message
from api.conversations.schemas import BotMessage, Button, ConversationRead, TicketDraft, TurnRead
from api.core.errors import Invalid, NotFound
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


def agent_has_spoken(*, session: Session, conversation_id: str) -> bool:
    """Whether an agent has written in the conversation yet (their first words greet the customer)."""
    return session.scalar(select(Message.id).where(Message.conversation_id == conversation_id,
                                                   Message.sender == "agent").limit(1)) is not None


def last_event_at(*, session: Session, conversation_id: str, action: str) -> datetime | None:
    """When the conversation last had this event (e.g. "queued": the customer began waiting for a person)."""
    return session.scalar(select(func.max(ConversationEvent.at)).where(
        ConversationEvent.conversation_id == conversation_id, ConversationEvent.action == action))


def find_customer_turn(*, session: Session, conversation_id: str, client_msg_id: str) -> Message | None:
    """A customer message already received with this client id (a retry)."""
    return session.scalar(select(Message).where(
        Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id,
        Message.sender == "customer"))


def replies_to(*, session: Session, message_id: int) -> list[BotMessage]:
    """What was answered to one customer message."""
    rows = session.scalars(select(Message).where(Message.reply_to_id == message_id).order_by(Message.id))
    return [BotMessage(text=m.text, buttons=[Button(**b) for b in (m.buttons or [])], image=m.image,
                       sender=m.sender if m.sender in ("system", "agent") else "bot") for m in rows]


# ---- web conversations: server-issued ids with a secret ----

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_key(*, session: Session, now: datetime, address: str | None = None) -> tuple[str, str]:
    """A new web conversation id (unguessable) and its secret; only the secret's hash is kept."""
    conversation_id = "web-" + secrets.token_urlsafe(24)  # 32 characters, 192 random bits
    secret = secrets.token_urlsafe(32)
    session.add(ChatKey(conversation_id=conversation_id, secret_hash=_digest(secret), issued_at=now,
                        address=address[:64] if address else None))
    session.flush()
    return conversation_id, secret


def issued_address(*, session: Session, conversation_id: str) -> str | None:
    """The client address a web conversation was issued to (None for other channels)."""
    return session.scalar(select(ChatKey.address).where(ChatKey.conversation_id == conversation_id))


def key_matches(*, session: Session, conversation_id: str, secret: str | None) -> bool:
    """Whether `secret` opens the web conversation (constant-time; False for ids never issued)."""
    key = session.get(ChatKey, conversation_id)
    expected = key.secret_hash if key is not None else _digest("never-issued")
    return bool(secret) and hmac.compare_digest(expected, _digest(secret or "")) and key is not None


# ---- a turn's answer ----

def settle_turn(*, session: Session, message_id: int, delivery: str) -> bool:
    """Mark a pending customer turn answered ("ok" or "fallback"); False when another answer got there first."""
    return bool(session.execute(update(Message).where(Message.id == message_id, Message.delivery == "pending")
                                .values(delivery=delivery)).rowcount)


def pending_turns(*, session: Session, before: datetime) -> list[Message]:
    """Customer turns still waiting for an answer since before `before` (their process is gone)."""
    return list(session.scalars(select(Message).where(  # the last day only: ix_messages_at keeps it cheap
        Message.at < before, Message.at >= before - timedelta(days=1), Message.delivery == "pending",
        Message.sender == "customer").order_by(Message.id).limit(500)))


def pending_form(*, session: Session, conversation_id: str) -> str | None:
    """The ticket type of a report the bot has just read back for confirmation, if it has (for a holding message)."""
    last = session.scalar(select(Message).where(Message.conversation_id == conversation_id,
                                                Message.sender == "bot").order_by(Message.id.desc()).limit(1))
    if last is None or "确认" not in (last.text or ""):
        return None
    intents = session.scalars(select(Message.intent).where(
        Message.conversation_id == conversation_id, Message.sender == "customer", Message.intent.is_not(None))
        .order_by(Message.id.desc()).limit(8))
    return next((TICKET_TYPE_BY_INTENT[i] for i in intents if i in TICKET_TYPE_BY_INTENT), None)


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


MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
               (b"GIF89a", "image/gif"))


def image_type(data: bytes) -> str | None:
    """The picture's type from its first bytes (never what the sender claims): JPEG, PNG, GIF or WebP."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def record_customer_image(*, session: Session, conversation_id: str, channel: str, data: bytes,
                          source_ref: str | None, client_msg_id: str | None, now: datetime) -> Message:
    """Keep a picture the customer sent as a line of their conversation (no text; `image` is where staff
    see it). A channel's retry of the same message (client_msg_id) is the same line."""
    if client_msg_id and (held := find_customer_turn(session=session, conversation_id=conversation_id,
                                                      client_msg_id=client_msg_id)) is not None:
        return held
    kind = image_type(data)
    if kind is None or len(data) > MAX_IMAGE_BYTES:
        raise Invalid("not_an_image", "图片格式不支持或超过5MB")
    conversation = get_or_create(session=session, conversation_id=conversation_id, channel=channel, now=now)
    conversation.last_active_at = now
    message = Message(conversation_id=conversation_id, at=now, sender="customer", text=None,
                      client_msg_id=client_msg_id)
    session.add(message)
    session.flush()
    image = CustomerImage(conversation_id=conversation_id, message_id=message.id, content_type=kind, size=len(data),
                          data=data, source_ref=source_ref, at=now)
    session.add(image)
    session.flush()
    message.image = f"/api/conversations/{conversation_id}/images/{image.id}"
    session.flush()
    return message


def customer_image(*, session: Session, conversation_id: str, image_id: int) -> CustomerImage:
    """A picture the customer sent in this conversation (not found when it belongs to another)."""
    image = session.get(CustomerImage, image_id)
    if image is None or image.conversation_id != conversation_id:
        raise NotFound("image_not_found", "没有找到这张图片")
    return image


def record_replies(*, session: Session, customer_message: Message, replies: list[BotMessage],
                   now: datetime) -> list[Message]:
    """Store the answers to a customer message (each with its sender: bot, or system for the gateway's own)."""
    rows = [Message(conversation_id=customer_message.conversation_id, at=now, sender=reply.sender,
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


def last_customer_message_at(*, session: Session, conversation_id: str) -> datetime | None:
    """When the customer last wrote in this conversation (None: never)."""
    return session.scalar(select(func.max(Message.at)).where(Message.conversation_id == conversation_id,
                                                            Message.sender == "customer"))


def last_customer_words(*, session: Session, conversation_id: str, turns: int = 3) -> str:
    """What the customer said last (a few turns, button clicks left out), oldest first."""
    said = session.scalars(select(Message.text).where(
        Message.conversation_id == conversation_id, Message.sender == "customer")
        .order_by(Message.id.desc()).limit(turns * 2)).all()
    words = [text for text in said if text and not text.startswith("/")][:turns]
    return "；".join(reversed(words))


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
                         "report_charger_fault": "充电设施故障"}


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


def live_for_accounts(*, session: Session, account_nos: list[str], since: datetime) -> dict[str, str]:
    """户号 → the web chat of that (verified) customer active since `since`, the latest one."""
    found: dict[str, str] = {}
    for i in range(0, len(account_nos), 900):
        rows = session.execute(select(Conversation.account_no, Conversation.id).where(
            Conversation.account_no.in_(account_nos[i:i + 900]), Conversation.channel == "web",
            Conversation.last_active_at >= since).order_by(Conversation.last_active_at))
        found.update({account_no: conversation_id for account_no, conversation_id in rows})
    return found
