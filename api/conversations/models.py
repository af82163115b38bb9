"""Conversations and every turn in them, whoever answered."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class Conversation(Base):
    """A customer's conversation on one channel; `owner` says who answers it now."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the channel's sender id
    channel: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32), default="bot")  # "bot" or "agent:<name>"
    handoff_requested: Mapped[bool] = mapped_column(default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    """One turn: the customer's words or an answer (bot, agent, or the gateway's fallback)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_msg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(16))  # customer / bot / agent / system
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(JSON)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    delivery: Mapped[str] = mapped_column(String(16), default="ok")  # ok / pending / fallback
