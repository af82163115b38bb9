"""Tickets (工单) and their event log; the timeline is read from the events."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime

TICKET_TYPES = ("故障报修", "安全隐患")
TICKET_STATUSES = ("新建", "已派单", "已接单", "已到达", "已处理", "已回访", "已关闭", "挂起", "退单")


class Ticket(Base):
    """A work order opened for a customer report, carrying what the crew needs on site."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_area_open", "transformer_area_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # GD20261123-0042
    type: Mapped[str] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer)  # 1 = most urgent
    status: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    account_no: Mapped[str | None] = mapped_column(String(10), index=True)
    contact_phone: Mapped[str | None] = mapped_column(String(11))
    description: Mapped[str] = mapped_column(Text)
    address_text: Mapped[str] = mapped_column(String(256))
    address: Mapped[dict] = mapped_column(JSON)  # structured, geocoded (ParsedAddress)
    address_needs_review: Mapped[bool] = mapped_column(default=False)
    district: Mapped[str | None] = mapped_column(String(16), index=True)
    area_class: Mapped[str] = mapped_column(String(8))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    transformer_area_id: Mapped[int | None] = mapped_column(ForeignKey("transformer_areas.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    diagnosis_code: Mapped[str] = mapped_column(String(24))
    diagnosis_summary: Mapped[str] = mapped_column(String(256))
    crew_note: Mapped[str] = mapped_column(Text)
    metering_snapshot: Mapped[dict | None] = mapped_column(JSON)
    arrive_by: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    parent: Mapped[Ticket | None] = relationship(remote_side=[id])


class TicketEvent(Base):
    """One change to a ticket: who, when, what."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(8))
    to_status: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketCounter(Base):
    """Per-day sequence behind readable ticket numbers (GD + local date + 4 digits)."""

    __tablename__ = "ticket_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
