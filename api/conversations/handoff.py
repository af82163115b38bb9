"""Handing conversations to people: why a chat needs one, the queue, assignment, takeover, hand back.

Ownership is one column, ``Conversation.owner`` ("bot" or "agent:<username>"); the gateway reads
it before every turn, so the bot stops the moment an agent joins. Changes of owner are
conditional UPDATEs, so two agents (or two API processes) never both get a conversation.
Every change is a ConversationEvent; the customer is told in the chat when a person joins or
leaves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.conversations.models import AgentTeam, Conversation, ConversationEvent, Message, SuggestionUse
from api.staff.models import StaffUser
from api.text import normalize_text

REASONS = {
    "request_human": "客户要求转人工",
    "repeated_fallback": "机器人连续未能理解",
    "angry": "客户情绪激动",
    "complaint": "客户投诉",
    "agent_takeover": "坐席主动接入",
}
FALLBACK_INTENT = "nlu_fallback"
COMPLAINT_INTENTS = {"complaint"}
# Wording that tells a 95598 agent the customer is upset: insults, threats to escalate, venting.
ANGRY_WORDS = re.compile(
    "垃圾|骗子|坑人|太差|差劲|气死|恶心|滚蛋|滚开|混蛋|他妈|妈的|什么破|破系统|投诉你们|投诉到底|"
    r"(?<!\d)(?:12398|12345)(?!\d)|曝光|媒体|记者|市长热线|告你们|起诉|忍无可忍|受够|太过分|废物|听不懂人话")
STATUSES = {"online": "在线", "away": "小休", "offline": "离线"}

JOINED_NOTICE = "您好，人工客服{name}已接入，很高兴为您服务，请问有什么可以帮您？"
LEFT_NOTICE = "人工客服已结束本次服务，接下来由智能客服继续为您服务。如需人工帮助，随时回复“转人工”。"
QUEUED_NOTICE = "非常抱歉给您带来不便，正在为您转接人工客服，请稍候。"


class NotOwner(PermissionError):
    """The agent does not own the conversation (someone else took it, or it went back to the bot)."""


class AlreadyTaken(RuntimeError):
    """Another agent owns the conversation."""

    def __init__(self, owner: str):
        super().__init__(owner)
        self.owner = owner


@dataclass
class AgentLoad:
    username: str
    display_name: str
    open_chats: int
    limit: int


def agent_owner(username: str) -> str:
    """The owner value of a conversation an agent holds."""
    return f"agent:{username}"


def detect_reason(*, text: str, intent: str | None, previous_intent: str | None,
                  bot_reason: str | None) -> str | None:
    """Why this turn needs a person, if it does (the bot's own request first)."""
    if bot_reason:
        return bot_reason
    if ANGRY_WORDS.search(text):
        return "angry"
    if intent in COMPLAINT_INTENTS:
        return "complaint"
    if intent == FALLBACK_INTENT and previous_intent == FALLBACK_INTENT:
        return "repeated_fallback"
    return None


def record_intent(*, session: Session, message_id: int, intent: str, confidence: float | None) -> str | None:
    """Store what the bot understood of a customer turn; return the turn before's intent."""
    message = session.get(Message, message_id)
    message.intent = intent[:64]
    message.intent_confidence = confidence
    previous = session.scalar(select(Message.intent).where(
        Message.conversation_id == message.conversation_id, Message.sender == "customer",
        Message.id < message_id).order_by(Message.id.desc()).limit(1))
    session.commit()
    return previous


def enqueue(*, session: Session, conversation_id: str, reason: str, now: datetime,
            actor: str = "system") -> bool:
    """Put a bot-owned conversation in the queue for a person; False if it is queued or held already."""
    changed = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner == "bot", Conversation.queued_at.is_(None))
        .values(queued_at=now, handoff_requested=True, handoff_reason=reason)
    ).rowcount
    if changed:
        session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor, action="queued",
                                      note=reason))
    session.commit()
    return bool(changed)


def add_notice(*, session: Session, conversation_id: str, text: str, now: datetime) -> Message:
    """A system line in the transcript, shown to the customer and the agent."""
    message = Message(conversation_id=conversation_id, at=now, sender="system", text=text)
    session.add(message)
    session.flush()
    return message


def open_chats(*, session: Session, username: str) -> int:
    """How many conversations an agent holds now."""
    return session.scalar(select(func.count()).select_from(Conversation)
                          .where(Conversation.owner == agent_owner(username))) or 0


def join(*, session: Session, conversation_id: str, agent: StaffUser, now: datetime,
         actor: str | None = None) -> Message:
    """An agent takes the conversation from the bot or the queue; the customer is told who joined."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    owner = agent_owner(agent.username)
    if conversation.owner == owner:
        raise AlreadyTaken(owner)
    was_queued = conversation.queued_at is not None
    changed = session.execute(
        update(Conversation).where(Conversation.id == conversation_id, Conversation.owner == "bot")
        .values(owner=owner, queued_at=None, human_involved=True)
    ).rowcount
    if not changed:
        session.rollback()
        raise AlreadyTaken(session.get(Conversation, conversation_id).owner)
    if not was_queued:  # taken from a live bot conversation: it counts as a transfer too
        session.execute(update(Conversation).where(Conversation.id == conversation_id)
                        .values(handoff_requested=True, handoff_reason="agent_takeover"))
        session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=agent_owner(agent.username),
                                      action="queued", note="agent_takeover"))
    session.add(ConversationEvent(conversation_id=conversation_id, at=now,
                                  actor=actor or agent_owner(agent.username), action="joined",
                                  note=agent.username))
    notice = add_notice(session=session, conversation_id=conversation_id, now=now,
                        text=JOINED_NOTICE.format(name=agent.display_name))
    session.commit()
    return notice


def release(*, session: Session, conversation_id: str, username: str, actor: str, now: datetime,
            force: bool = False) -> Message:
    """Hand the conversation back to the bot (its agent, or a supervisor with force); the customer is told."""
    where = [Conversation.id == conversation_id, Conversation.owner.like("agent:%")]
    if not force:
        where.append(Conversation.owner == agent_owner(username))
    changed = session.execute(update(Conversation).where(*where).values(
        owner="bot", handoff_requested=False, queued_at=None)).rowcount
    if not changed:
        session.rollback()
        raise NotOwner(conversation_id)
    session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor, action="handed_back"))
    notice = add_notice(session=session, conversation_id=conversation_id, text=LEFT_NOTICE, now=now)
    session.commit()
    return notice


def send_agent_message(*, session: Session, conversation_id: str, username: str, text: str, now: datetime,
                       client_msg_id: str | None = None, suggestion: dict | None = None) -> tuple[Message, bool]:
    """Store an agent's reply (once per client_msg_id) and which suggestion it came from; (message, new)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.owner != agent_owner(username):
        raise NotOwner(conversation_id)
    if client_msg_id:
        earlier = session.scalar(select(Message).where(
            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id))
        if earlier is not None:
            return earlier, False
    message = Message(conversation_id=conversation_id, at=now, sender="agent", text=text, agent=username,
                      client_msg_id=client_msg_id)
    session.add(message)
    session.flush()
    if suggestion:
        session.add(SuggestionUse(
            message_id=message.id, conversation_id=conversation_id, agent=username, kind=suggestion["kind"],
            ref=suggestion["ref"][:120], rank=suggestion["rank"],
            edited=normalize_text(suggestion["text"]) != normalize_text(text), at=now))
    conversation.last_active_at = now
    session.commit()
    return message, True


def set_status(*, session: Session, agent: StaffUser, status: str, now: datetime) -> None:
    """在线 / 小休 / 离线 as the agent sets it in the console."""
    agent.agent_status = status
    agent.last_seen_at = now
    session.commit()


def seen(*, session: Session, username: str, now: datetime) -> None:
    """The console's heartbeat: the agent is still there."""
    session.execute(update(StaffUser).where(StaffUser.username == username).values(last_seen_at=now))
    session.commit()


def auto_assign_on(*, session: Session, team: str | None) -> bool:
    """Whether the team's conversations are handed out automatically (on unless a supervisor turned it off)."""
    if team is None:
        return True
    row = session.get(AgentTeam, team)
    return row.auto_assign if row else True


def set_team_auto_assign(*, session: Session, team: str, enabled: bool, actor: str, now: datetime) -> AgentTeam:
    """A supervisor turns a team's auto-assignment on or off."""
    row = session.get(AgentTeam, team) or AgentTeam(team=team)
    row.auto_assign, row.updated_by, row.updated_at = enabled, actor, now
    session.add(row)
    session.commit()
    return row


def list_teams(*, session: Session) -> list[tuple[str, bool]]:
    """Every agent team with its auto-assignment switch."""
    teams = session.scalars(select(StaffUser.team).where(StaffUser.role == "agent", StaffUser.team.is_not(None))
                            .distinct()).all()
    return [(team, auto_assign_on(session=session, team=team)) for team in sorted(teams)]


def available_agents(*, session: Session, now: datetime, presence_seconds: int, default_limit: int) -> list[AgentLoad]:
    """Online agents of auto-assigning teams with room for another chat, fewest open chats first."""
    fresh = now - timedelta(seconds=presence_seconds)
    agents = session.scalars(select(StaffUser).where(
        StaffUser.role == "agent", StaffUser.active.is_(True), StaffUser.agent_status == "online",
        StaffUser.last_seen_at >= fresh)).all()
    loads = []
    for agent in agents:
        if not auto_assign_on(session=session, team=agent.team):
            continue
        limit = agent.max_chats or default_limit
        count = open_chats(session=session, username=agent.username)
        if count < limit:
            loads.append(AgentLoad(agent.username, agent.display_name, count, limit))
    return sorted(loads, key=lambda a: (a.open_chats, a.username))


def assign_waiting(*, session: Session, now: datetime, presence_seconds: int,
                   default_limit: int) -> list[tuple[str, StaffUser, Message]]:
    """Give queued conversations, oldest first, to the least busy online agents; what was assigned."""
    assigned = []
    waiting = session.scalars(select(Conversation.id).where(Conversation.queued_at.is_not(None),
                                                            Conversation.owner == "bot")
                              .order_by(Conversation.queued_at, Conversation.id)).all()
    for conversation_id in waiting:
        agents = available_agents(session=session, now=now, presence_seconds=presence_seconds,
                                  default_limit=default_limit)
        if not agents:
            break
        agent = session.scalar(select(StaffUser).where(StaffUser.username == agents[0].username))
        try:
            notice = join(session=session, conversation_id=conversation_id, agent=agent, now=now,
                          actor="system:auto_assign")
        except AlreadyTaken:
            continue
        assigned.append((conversation_id, agent, notice))
    return assigned


def queue(*, session: Session) -> list[Conversation]:
    """Conversations waiting for a person, oldest first."""
    return list(session.scalars(select(Conversation).where(Conversation.queued_at.is_not(None),
                                                           Conversation.owner == "bot")
                                .order_by(Conversation.queued_at, Conversation.id)))


def held_by(*, session: Session, username: str) -> list[Conversation]:
    """The conversations an agent holds, most recently active first."""
    return list(session.scalars(select(Conversation).where(Conversation.owner == agent_owner(username))
                                .order_by(Conversation.last_active_at.desc())))


def live_with_bot(*, session: Session, now: datetime, minutes: int = 30, limit: int = 50) -> list[Conversation]:
    """Conversations the bot is having now (active in the last minutes), which an agent may take over."""
    return list(session.scalars(select(Conversation).where(
        Conversation.owner == "bot", Conversation.queued_at.is_(None),
        Conversation.last_active_at >= now - timedelta(minutes=minutes))
        .order_by(Conversation.last_active_at.desc()).limit(limit)))


def last_customer_text(*, session: Session, conversation_id: str) -> str | None:
    """What the customer said last (for the queue list)."""
    return session.scalar(select(Message.text).where(Message.conversation_id == conversation_id,
                                                     Message.sender == "customer")
                          .order_by(Message.id.desc()).limit(1))


def events(*, session: Session, conversation_id: str) -> list[ConversationEvent]:
    """A conversation's handoff timeline."""
    return list(session.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conversation_id)
                                .order_by(ConversationEvent.id)))


def link_account(*, session: Session, conversation_id: str, account_no: str) -> None:
    """Remember which customer the conversation is about (for the agent's 360 view)."""
    session.execute(update(Conversation).where(Conversation.id == conversation_id).values(account_no=account_no))
    session.commit()
