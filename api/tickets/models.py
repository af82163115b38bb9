"""Tickets (工单) and their event log; the timeline is read from the events."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime

class Ticket(Base):
    """A work order opened for a customer report, carrying what the crew needs on site."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_area_open", "transformer_area_id", "status"),
        # The supervisor dashboard (api/analytics) reads ranges of created_at and of resolved_at; these
        # cover every column its queries read there, so they never touch the wide ticket rows.
        Index("ix_tickets_analytics", "created_at", "type", "district", "parent_id", "arrive_by", "sla_breached_at",
              "assigned_at", "arrived_at", "resolved_at", "satisfaction"),
        Index("ix_tickets_resolved_work", "resolved_at", "accepted_at", "closed_at", "crew_id", "parent_id", "type"),
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
    arrive_by: Mapped[datetime] = mapped_column(UTCDateTime)  # the SLA due time (arrival for faults)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What the ticket asks for beyond a fault (业务办理: service type, preferred time; 投诉: subject).
    details: Mapped[dict | None] = mapped_column(JSON)
    # Work in progress: the crew, when each step happened, the crew's estimated arrival.
    crew_id: Mapped[str | None] = mapped_column(ForeignKey("crews.id"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crew_eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SLA: the clock stops while 挂起 (remaining minutes kept), warnings and breaches recorded once.
    suspended_from: Mapped[str | None] = mapped_column(String(8))
    sla_remaining_minutes: Mapped[float | None]
    sla_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1–5 from the customer's survey

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    parent: Mapped[Ticket | None] = relationship(remote_side=[id])
    crew: Mapped["Crew | None"] = relationship(lazy="joined")  # noqa: F821 (api.dispatch.models)


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
