"""Chat input and output shapes."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Channel = Literal["web", "wechat", "hotline", "sms"]


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    text: str | None = None
    buttons: list[Button] = []
    image: str | None = None


class ChatMessageCreate(BaseModel):
    """One customer message arriving at the gateway."""

    sender_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    text: str = Field(max_length=4000)  # trimmed and checked again by the gateway
    channel: Channel = "web"
    client_msg_id: str | None = Field(default=None, max_length=64)


class ChatReply(BaseModel):
    conversation_id: str
    messages: list[BotMessage]
    handled_by: Literal["bot", "agent", "fallback"]


class TurnRead(BaseModel):
    at: datetime
    sender: str
    text: str | None
    buttons: list[Button] = []


class ConversationRead(BaseModel):
    conversation_id: str
    channel: str
    owner: str
    handoff_requested: bool
    handoff_reason: str | None
    created_at: datetime
    last_active_at: datetime
    turns: list[TurnRead]
