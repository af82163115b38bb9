"""Conversations and every turn in them, whoever answered."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class Conversation(Base):
    """A customer's conversation on one channel; `owner` says who answers it now."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_created_at", "created_at"),
                      Index("ix_conversations_queued_at", "queued_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the channel's sender id
    channel: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32), default="bot")  # "bot" or "agent:<name>"
    handoff_requested: Mapped[bool] = mapped_column(default=False)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # waiting for a person since
    human_involved: Mapped[bool] = mapped_column(default=False, server_default="0")  # an agent joined
    account_no: Mapped[str | None] = mapped_column(String(10))  # the customer, once known
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    """One turn: the customer's words or an answer (bot, agent, or the gateway's fallback)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_at", "at"),  # the dashboard's intents and fallbacks by day
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_msg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(16))  # customer / bot / agent / system
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(JSON)
    image: Mapped[str | None] = mapped_column(String(512))  # a chart the bot showed (URL)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    delivery: Mapped[str] = mapped_column(String(16), default="ok")  # ok / pending / fallback
    intent: Mapped[str | None] = mapped_column(String(64))  # customer turns: what the bot understood
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(32))  # agent turns: the staff username


class CustomerImage(Base):
    """A picture a customer sent (a WeChat photo of a meter box, say), kept here: the channel's copy expires
    after a few days, and every API replica can serve it to agents."""

    __tablename__ = "customer_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    content_type: Mapped[str] = mapped_column(String(32))  # image/jpeg, image/png, image/gif or image/webp
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    source_ref: Mapped[str | None] = mapped_column(String(128))  # the channel's id of it (WeChat media id)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversationEvent(Base):
    """Who did what to a conversation: queued, assigned, joined, handed back (the audit trail)."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conv_at", "conversation_id", "at"),
                      Index("ix_conversation_events_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))  # system / bot / agent:<username> / supervisor:<username>
    action: Mapped[str] = mapped_column(String(24))  # queued assigned joined handed_back ...
    note: Mapped[str | None] = mapped_column(Text)


class SuggestionUse(Base):
    """An agent's reply that started from a suggestion: which one, and whether it was edited."""

    __tablename__ = "suggestion_uses"
    __table_args__ = (Index("ix_suggestion_uses_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(12))  # kb / template
    ref: Mapped[str] = mapped_column(String(120))  # article id or intent
    rank: Mapped[int]
    edited: Mapped[bool]
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentTeam(Base):
    """A team of agents; a supervisor can turn auto-assignment off for it."""

    __tablename__ = "agent_teams"

    team: Mapped[str] = mapped_column(String(32), primary_key=True)
    auto_assign: Mapped[bool] = mapped_column(default=True)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgentPresence(Base):
    """An agent at the console: 在线/小休/离线 as set there, last seen by its heartbeat, chats allowed at once.

    Keyed by the staff username; who the agents are (names, teams) the staff domain says.
    """

    __tablename__ = "agent_presence"

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), default="offline", server_default="offline")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_chats: Mapped[int | None] = mapped_column()  # None: the settings' AGENT_MAX_CHATS


class ChatKey(Base):
    """A web conversation's id as the API issued it, with the hash of its secret.

    The chat page asks for a new conversation and gets both; it must show the secret to write to
    the conversation or read it back (the id alone is not enough), so ids can be seen in logs
    and consoles without opening anyone's chat.
    """

    __tablename__ = "chat_keys"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the secret
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address: Mapped[str | None] = mapped_column(String(64))  # the client it was issued to (limits per address)
