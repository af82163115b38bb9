"""Chat over SMS: a late reply reaches the customer as an SMS, through the notify outbox.

An SMS conversation's id is ``sms-<mobile>`` (the inbound SMS adapter names it so, with the
service token). When a reply is ready only after the adapter was given the holding message, or an
agent answers, ``queue_sms_reply`` (an ``Outbound``) queues the SMS once per key in the caller's
transaction; the outbox worker sends it with its retries.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from api.conversations.schemas import BotMessage
from api.core.ids import chat_address, mask_phone
from api.core.time import utcnow
from api.notify import service as notify

log = logging.getLogger(__name__)

MAX_SMS_CHARS = 500  # several segments at most; the chat keeps the whole reply


def sms_text(messages: list[BotMessage]) -> str:
    """The replies as one SMS: the texts, then the buttons as words to reply with."""
    lines = [m.text for m in messages if m.text]
    choices = [b.title for m in messages for b in m.buttons]
    if choices:
        lines.append("可回复：" + " / ".join(choices))
    return "\n".join(lines)[:MAX_SMS_CHARS]


def queue_sms_reply(*, session: Session, conversation_id: str, channel: str, messages: list[BotMessage],
                    key: str) -> None:
    """Lines to a customer chatting by SMS (api.conversations.desk.Outbound)."""
    by, mobile = chat_address(conversation_id)  # sms-<mobile>: a mainland mobile, checked there
    body = sms_text(messages)
    if channel != "sms" or by != "sms" or not body:
        return
    notify.enqueue(session=session, key=key, channel="sms", recipient=mobile, audience="customer",
                   body=body, now=utcnow())
    log.info("chat lines queued as SMS to %s", mask_phone(mobile))
