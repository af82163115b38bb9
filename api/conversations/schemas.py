"""Chat input and output shapes."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.core.time import LocalDateTime

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
    at: LocalDateTime
    sender: str
    text: str | None
    buttons: list[Button] = []
    image: str | None = None


class ConversationRead(BaseModel):
    conversation_id: str
    channel: str
    owner: str
    handoff_requested: bool
    handoff_reason: str | None
    created_at: LocalDateTime
    last_active_at: LocalDateTime
    turns: list[TurnRead]


# ---- the agent console ----

class AgentTurn(BaseModel):
    """A transcript line as the console shows it (with what the bot understood)."""

    id: int
    at: LocalDateTime
    sender: str
    text: str | None
    buttons: list[Button] = []
    image: str | None = None
    intent: str | None = None
    agent: str | None = None


class ConversationEventRead(BaseModel):
    at: LocalDateTime
    actor: str
    action: str
    note: str | None = None


class ConversationSummary(BaseModel):
    """A line in the console's lists (waiting, mine, with the bot)."""

    conversation_id: str
    channel: str
    owner: str
    reason: str | None = None
    reason_label: str | None = None
    queued_at: LocalDateTime | None = None
    waited_seconds: int | None = None
    last_active_at: LocalDateTime
    last_text: str | None = None
    account_no: str | None = None


class AgentConversationRead(BaseModel):
    """A whole conversation for the agent: transcript, owner, handoff timeline."""

    conversation_id: str
    channel: str
    owner: str
    account_no: str | None
    reason: str | None
    reason_label: str | None
    turns: list[AgentTurn]
    events: list[ConversationEventRead]


class SuggestionRef(BaseModel):
    """Which suggestion an agent's reply started from (to measure how often they help)."""

    kind: Literal["kb", "template"]
    ref: str = Field(min_length=1, max_length=120)  # article id or intent
    rank: int = Field(ge=0, le=20)  # 1.. for KB answers, 0 for the template
    text: str = Field(max_length=4000)  # the suggestion as offered, to tell if it was edited


class AgentMessageCreate(BaseModel):
    """An agent's reply to the customer."""

    text: str = Field(min_length=1, max_length=1000)
    client_msg_id: str | None = Field(default=None, max_length=64)
    suggestion: SuggestionRef | None = None


class KbSuggestion(BaseModel):
    rank: int
    article_id: str
    title: str
    text: str
    confident: bool  # the KB would answer this on its own


class TemplateSuggestion(BaseModel):
    intent: str
    text: str


class SuggestionsRead(BaseModel):
    """Replies an agent can insert with one click and edit before sending."""

    text: str
    intent: str | None
    kb: list[KbSuggestion]
    template: TemplateSuggestion | None
    kb_available: bool


class AgentStatusUpdate(BaseModel):
    status: Literal["online", "away", "offline"]


class AgentMeRead(BaseModel):
    username: str
    display_name: str
    team: str | None
    status: str
    status_label: str
    open_chats: int
    max_chats: int
    auto_assign: bool


class TeamRead(BaseModel):
    team: str
    auto_assign: bool


class TeamUpdate(BaseModel):
    auto_assign: bool


class TicketDraft(BaseModel):
    """A ticket form prefilled from a conversation; the agent checks it and submits to /api/tickets."""

    type: str
    account_no: str | None
    contact_phone: str | None
    description: str
    conversation_id: str
    channel: str
