"""One row per request that read or changed a customer's data or a ticket."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class AccessRecord(Base):
    """Who (a staff account or the service), when, what (customer 户号 or ticket number), how it ended."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_subject", "subject_kind", "subject", "at"),
                      Index("ix_access_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "agent:agent01", "service", "anonymous"
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(256))
    subject_kind: Mapped[str] = mapped_column(String(16))  # customer | ticket
    subject: Mapped[str] = mapped_column(String(32))  # 户号 or ticket number
    status: Mapped[int] = mapped_column(Integer)
