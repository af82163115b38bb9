"""Chat input and output shapes."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from api.core.ids import normalize_mobile
from api.core.time import LocalDateTime

Channel = Literal["web", "wechat", "hotline", "sms"]
# A conversation id: at least one letter or digit (".", ".." and "--" are not ids), as channels write them.
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_.:\-]*[A-Za-z0-9][A-Za-z0-9_.:\-]*$"


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    text: str | None = None
    buttons: list[Button] = []
    image: str | None = None
    sender: Literal["bot", "system", "agent"] = "bot"  # "system": the gateway's own notice


class ChatMessageCreate(BaseModel):
    """One customer message arriving at the gateway.

    hold_after_ms: how long the caller can wait; a turn not answered by then is answered with a
    holding message (handled_by "holding") and its real reply is stored, pushed on the channel
    and returned to a retry with the same client_msg_id. Without it the call waits for the reply.
    """

    sender_id: str = Field(min_length=1, max_length=64, pattern=CONVERSATION_ID_PATTERN)
    text: str = Field(max_length=4000)  # trimmed and checked again by the gateway
    channel: Channel = "web"
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=64)
    hold_after_ms: int | None = Field(default=None, ge=200, le=60_000)


class ChatReply(BaseModel):
    """The answer to one customer message.

    handled_by: "bot"; "agent" (a person holds the chat and answers by a push, no messages now);
    "fallback" (the bot failed: the gateway's own answer, the chat queued for a person);
    "holding" (the reply is late: a holding message now, the reply when ready).
    """

    conversation_id: str
    messages: list[BotMessage]
    handled_by: Literal["bot", "agent", "fallback", "holding"]


class ChatIssued(BaseModel):
    """A new web conversation: its id and the secret that opens it (shown once, kept by the page)."""

    conversation_id: str
    secret: str


class QueueState(BaseModel):
    """Where a customer waiting for a person stands (sent to the bot as metadata["queue"])."""

    position: int  # 1 = next
    expected_wait_minutes: int | None  # None: no agent online or no recent chats to judge by
    agents_online: int
    office_hours: bool


class CallbackCreate(BaseModel):
    """A message left for a call-back instead of waiting for a person."""

    phone: str = Field(min_length=11, max_length=24, description="the mobile to call back")
    text: str = Field(default="", max_length=500, description="what the customer wants to ask")

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return normalize_mobile(value)  # ValueError → 422: "139 0000 0001" and "+86…" are fine


class CallbackRead(BaseModel):
    """The call-back ticket and what the customer is told."""

    ticket_number: str
    message: BotMessage


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
    text: str  # the article's answer, as the customer may be told it
    notice: str = ""  # the region's disclaimer when the answer quotes its figures: for the agent, not sent
    confident: bool  # the KB would answer this on its own


class TemplateSuggestion(BaseModel):
    """A reply template: for the intent, or for the conversation's state (`situation.*`), blanks filled
    where the system knows the answer (【…】 left are the agent's to fill)."""

    ref: str  # the template's key: an intent, or situation.<name>
    intent: str | None = None  # the intent it answers (None for a situation)
    title: str | None = None  # what a situation template is for, as the console labels it
    text: str


class SuggestionsRead(BaseModel):
    """Replies an agent can insert with one click and edit before sending."""

    text: str
    intent: str | None
    kb: list[KbSuggestion]
    templates: list[TemplateSuggestion]  # the conversation's situation first, then the intent's
    lead: Literal["templates", "kb"]  # after the situation's templates: the intent's template first for small talk
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


class AgentOverviewRead(BaseModel):
    """An agent as the supervisor sees them: status, whether the console is there, chats and the longest wait."""

    username: str
    display_name: str
    team: str | None
    status: str
    status_label: str
    present: bool  # the console was heard from within AGENT_PRESENCE_SECONDS
    open_chats: int
    max_chats: int
    longest_wait_seconds: int | None  # the longest a customer they hold has waited for an answer now


class TransferCreate(BaseModel):
    """A supervisor moves a chat to an agent."""

    to: str = Field(min_length=1, max_length=32)
    reason: str = Field(default="", max_length=200)


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
