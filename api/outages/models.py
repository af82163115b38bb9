"""Planned outages (计划停电) published to customers in advance."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class PlannedOutage(Base):
    """A published planned outage on a feeder or a transformer area."""

    __tablename__ = "planned_outages"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_no: Mapped[str] = mapped_column(String(32), unique=True)
    district: Mapped[str] = mapped_column(String(16), index=True)
    feeder_id: Mapped[int | None] = mapped_column(ForeignKey("feeders.id"))
    transformer_area_id: Mapped[int | None] = mapped_column(ForeignKey("transformer_areas.id"))
    scope: Mapped[str] = mapped_column(Text)  # areas affected, as published
    reason: Mapped[str] = mapped_column(String(128))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
