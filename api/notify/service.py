"""Outbox rules: queue a message with the change it announces; deliver, retry, dead-letter.

A message is queued in the caller's transaction (so a ticket change and its SMS commit or roll
back together) under a key, so queuing the same announcement twice stores it once. Delivery
claims a row before sending (only one worker sends it); a claim left by a worker that died is
taken over after LEASE, but only after asking the provider whether the message went out, so a
crash between the provider's accept and our bookkeeping does not send it twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.notify.models import InboundSms, OutboxMessage, ProviderToken
from api.notify.schemas import OutboxMessageRead

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=2)
RETRYABLE = ("pending", "failed")


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


def enqueue(*, session: Session, key: str, channel: str, recipient: str, audience: str, body: str,
            now: datetime, ticket_id: int | None = None) -> OutboxMessage:
    """Queue a message in the caller's transaction; the same key returns the already queued row."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(key=key, channel=channel, recipient=recipient, audience=audience, body=body,
                            ticket_id=ticket_id, status="pending", attempts=0, next_attempt_at=now,
                            created_at=now, updated_at=now)
    session.add(message)
    session.flush()
    return message


def due(*, session: Session, now: datetime, limit: int = 50) -> list[OutboxMessage]:
    """Messages to deliver now: pending or failed and due, or claimed by a worker that went quiet."""
    return list(session.scalars(
        select(OutboxMessage).where(or_(
            (OutboxMessage.status.in_(RETRYABLE)) & (OutboxMessage.next_attempt_at <= now),
            (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at <= now - LEASE),
        )).order_by(OutboxMessage.id).limit(limit)))


def claim(*, session: Session, message: OutboxMessage, now: datetime) -> bool:
    """Take the message for this worker; False when another worker got it first."""
    stale = now - LEASE
    result = session.execute(
        update(OutboxMessage).where(
            OutboxMessage.id == message.id,
            or_(OutboxMessage.status.in_(RETRYABLE),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at <= stale)))
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False))
    session.commit()
    session.refresh(message)
    return result.rowcount == 1


def mark_sent(*, session: Session, message: OutboxMessage, now: datetime, provider_sid: str | None,
              provider_status: str | None) -> None:
    """The provider (or the chat socket) took it."""
    message.status, message.sent_at, message.updated_at = "sent", now, now
    message.provider_sid, message.provider_status, message.last_error = provider_sid, provider_status, None
    session.commit()


def mark_failed(*, session: Session, message: OutboxMessage, now: datetime, error: str, permanent: bool) -> None:
    """Retry later with backoff, or dead-letter it (permanent error or too many attempts)."""
    message.last_error = error[:2000]
    message.updated_at = now
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
    else:
        message.status = "failed"
        message.next_attempt_at = now + backoff(message.attempts)
    session.commit()


def record_delivery_status(*, session: Session, provider_sid: str, status: str, error_code: str | None,
                           now: datetime) -> bool:
    """Twilio's status callback (sent, delivered, undelivered, failed); False for an unknown sid."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_sid == provider_sid))
    if message is None:
        return False
    order = ["queued", "sending", "sent", "delivered", "undelivered", "failed"]
    if message.provider_status in order and status in order and order.index(status) < order.index(message.provider_status):
        return True  # callbacks can arrive out of order: never go back
    message.provider_status = status
    if status == "delivered":
        message.status = "delivered"
    elif status in ("undelivered", "failed"):
        message.status = "dead"
        message.last_error = f"provider: {status} (error {error_code or '-'})"
    message.updated_at = now
    session.commit()
    return True


def list_dead(*, session: Session, limit: int = 100) -> list[OutboxMessageRead]:
    """The dead-letter list supervisors see, newest first."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "dead")
                           .order_by(OutboxMessage.id.desc()).limit(limit))
    return [OutboxMessageRead.from_row(row) for row in rows]


def retry(*, session: Session, message_id: int, now: datetime) -> OutboxMessageRead:
    """A supervisor sends a dead letter again (after fixing the number, say)."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "dead":
        raise NotFound("not_dead_letter", "no dead letter with that id")
    message.status, message.attempts, message.next_attempt_at, message.updated_at = "pending", 0, now, now
    session.commit()
    return OutboxMessageRead.from_row(message)


def get_inbound(*, session: Session, message_sid: str) -> InboundSms | None:
    """An SMS we received before (Twilio retries its webhook)."""
    return session.scalar(select(InboundSms).where(InboundSms.message_sid == message_sid))


def record_inbound(*, session: Session, message_sid: str, sender: str, body: str, now: datetime) -> InboundSms:
    """Keep an SMS we received; its outcome and reply are filled in by whoever handles it."""
    record = InboundSms(message_sid=message_sid, sender=sender, body=body[:1000], received_at=now, outcome="")
    session.add(record)
    return record


# ---- providers' short-lived tokens, shared through the database (no Redis) ----

def get_token(*, session: Session, key: str, now: datetime) -> str | None:
    """The stored token, None when absent or expired."""
    row = session.get(ProviderToken, key)
    return row.value if row is not None and (row.expires_at is None or row.expires_at > now) else None


def put_token(*, session: Session, key: str, value: str | None, expires_at: datetime | None) -> None:
    """Store (or, with value None, forget) a token; the caller commits."""
    row = session.get(ProviderToken, key)
    if row is None:
        session.add(ProviderToken(key=key, value=value, expires_at=expires_at))
    else:
        row.value, row.expires_at = value, expires_at


def take_lock(*, session: Session, key: str, now: datetime, hold: timedelta) -> bool:
    """Hold the lock row `key` until now + hold, unless another holder's time has not run out; committed."""
    if session.get(ProviderToken, key) is None:
        try:
            with session.begin_nested():
                session.add(ProviderToken(key=key, value=None, expires_at=None))
        except IntegrityError:  # created by another process meanwhile
            pass
    taken = session.execute(update(ProviderToken).where(
        ProviderToken.key == key, or_(ProviderToken.expires_at.is_(None), ProviderToken.expires_at <= now))
        .values(expires_at=now + hold)).rowcount == 1
    session.commit()
    return taken


def release_lock(*, session: Session, key: str) -> None:
    session.execute(update(ProviderToken).where(ProviderToken.key == key).values(expires_at=None))
    session.commit()
