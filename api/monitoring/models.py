"""Alerts raised from the meter data stream, and what was done about each (the supervisors' feed)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime


class Alert(Base):
    """One detection (an area outage, a household without supply, low voltage, …) while it lasts.

    `open_key` ("<kind>:<subject>") is set while the alert is active and unique, so a detection
    repeated by another batch or process finds the alert that is already open instead of a second one.
    """

    __tablename__ = "monitoring_alerts"
    __table_args__ = (Index("ix_monitoring_alerts_detected", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    subject: Mapped[str] = mapped_column(String(32))  # area code, feeder code or meter number
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12))  # active / cleared
    district: Mapped[str | None] = mapped_column(String(16))
    transformer_area_id: Mapped[int | None] = mapped_column(ForeignKey("transformer_areas.id"))
    feeder_id: Mapped[int | None] = mapped_column(ForeignKey("feeders.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first evidence in the data
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the system saw it
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)  # in Chinese, for the feed and the ticket
    evidence: Mapped[dict] = mapped_column(JSON)
    policy: Mapped[str] = mapped_column(String(160))  # the policy applied, in words
    ticket_number: Mapped[str | None] = mapped_column(String(20))
    customers_notified: Mapped[int] = mapped_column(Integer, default=0)
    actions: Mapped[list[AlertAction]] = relationship(order_by="AlertAction.id", lazy="selectin")


class AlertAction(Base):
    """What was done about an alert, by whom: detected, ticket opened, dispatched, notified, cleared, …"""

    __tablename__ = "monitoring_alert_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("monitoring_alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))  # "system" or the staff member
    action: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class PlannedNotice(Base):
    """A planned-outage announcement sent (the day before, an hour before): sent once per notice and step."""

    __tablename__ = "planned_outage_announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_no: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(12))  # day_before / hour_before
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    customers: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("uq_planned_announcement", "notice_no", "step", unique=True),)
