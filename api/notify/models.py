"""The outbox of messages to crews and customers, the SMS that came in, and providers' shared tokens."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class OutboxMessage(Base):
    """Written in the same transaction as the change it announces; a worker delivers it.

    status: pending → sending → sent → delivered, or failed (will retry) → dead (dead letter).
    `key` makes writing idempotent: the same announcement is queued once.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms | web
    recipient: Mapped[str] = mapped_column(String(64))  # mobile number or conversation id
    audience: Mapped[str] = mapped_column(String(12))  # crew | customer | supervisor
    body: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundSms(Base):
    """An SMS a crew (or customer) sent us; MessageSid makes Twilio's webhook retries harmless."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(20), index=True)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    outcome: Mapped[str] = mapped_column(String(24))  # accepted, arrived, resolved, rejected, unparsed, …
    reply: Mapped[str | None] = mapped_column(Text)


class ProviderToken(Base):
    """A messaging provider's short-lived credential (WeChat's access token) shared by every process when
    there is no Redis; a row named "<key>:lock" is the refresh lock, held until `expires_at`."""

    __tablename__ = "provider_tokens"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
