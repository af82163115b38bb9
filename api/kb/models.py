"""Customers' feedback on knowledge-base answers (有帮助 / 没解决), one row per answer shown."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime
from api.core.time import utcnow


class KbFeedback(Base):
    """A vote on one article in one conversation; a retried or changed vote updates the row."""

    __tablename__ = "kb_feedback"
    __table_args__ = (
        UniqueConstraint("conversation_id", "article_id", name="uq_kb_feedback_conversation_article"),
        Index("ix_kb_feedback_article", "article_id", "helpful"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(120))
    conversation_id: Mapped[str] = mapped_column(String(64))
    helpful: Mapped[bool]
    query: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
