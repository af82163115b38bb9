"""Handing conversations to people: why a chat needs one, the queue, assignment, takeover, hand back.

Ownership is one column, ``Conversation.owner`` ("bot" or "agent:<username>"); the gateway reads
it before every turn, so the bot stops the moment an agent joins. Changes of owner are
conditional UPDATEs, so two agents (or two API processes) never both get a conversation.
Every change is a ConversationEvent; the customer is told in the chat when a person joins or
leaves.

Who the agents are (username, name, team) the staff domain knows; the desk passes them in
(`Agent`). Their presence at the console (在线/小休, heartbeat, chat limit) is kept here, in
AgentPresence. These functions write through the caller's session and never commit: the desk
and the gateway commit each step as one transaction (desk.py).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.conversations import service
from api.conversations.models import (
    AgentPresence,
    AgentTeam,
    Conversation,
    ConversationEvent,
    Message,
    SuggestionUse,
)
from api.conversations.schemas import (
    AgentConversationRead,
    AgentMeRead,
    AgentOverviewRead,
    AgentTurn,
    BotMessage,
    Button,
    ConversationEventRead,
    ConversationSummary,
    QueueState,
)
from api.core.errors import Conflict, NotFound
from api.core.time import to_local
from api.core.vocabulary import ANGRY_WORDS

REASONS = {
    "request_human": "客户要求转人工",
    "repeated_fallback": "机器人连续未能理解",
    "angry": "客户情绪激动",
    "complaint": "客户投诉",
    "agent_takeover": "坐席主动接入",
    "bot_unavailable": "智能客服暂时无法应答",
}
FALLBACK_INTENT = "nlu_fallback"
COMPLAINT_INTENTS = {"complaint"}
STATUSES = {"online": "在线", "away": "小休", "offline": "离线"}

JOINED_NOTICE = "您好，人工客服{name}已接入，很高兴为您服务，请问有什么可以帮您？"
LEFT_NOTICE = "人工客服已结束本次服务，接下来由智能客服继续为您服务。如需人工帮助，随时回复“转人工”。"
QUEUED_NOTICE = "非常抱歉给您带来不便，正在为您转接人工客服，请稍候。"
REQUEUED_NOTICE = ("非常抱歉，刚才为您服务的客服暂时离开了。已为您排在等待队列的最前面，"
                   "其他人工客服会尽快接入，请稍候；您也可以先把问题留言给我们。")
UNANSWERED_NOTICE = ("非常抱歉让您久等了。已为您排在等待队列的最前面，"
                     "马上为您转接其他人工客服，请稍候；您也可以先把问题留言给我们。")
DEFAULT_OFFICE_HOURS = (time(8, 0), time(20, 0))  # when agents answer chats, Beijing time, every day
HANDLING_SAMPLE_DAYS, HANDLING_SAMPLE_SIZE = 7, 50  # recent chats whose length estimates the wait
# The customer's two ways out of a queue nobody is working: a call-back ticket, or the bot.
LEAVE_MESSAGE = Button(title="留言，等回电", payload="/leave_message")
KEEP_BOT = Button(title="继续问智能客服", payload="/keep_bot")


class Agent(Protocol):
    """An agent as the staff domain describes one (api.core.deps.StaffRead is one)."""

    username: str
    display_name: str
    team: str | None


class NotOwner(Conflict):
    """The agent does not own the conversation (someone else took it, or it went back to the bot)."""

    code = "not_owner"


class AlreadyTaken(Conflict):
    """Another agent owns the conversation."""

    code = "already_taken"

    def __init__(self, owner: str):
        super().__init__(message="该会话已由其他坐席接入", owner=owner)
        self.owner = owner


class TeamNotFound(NotFound):
    """No agent belongs to that team."""

    code = "team_not_found"

    def __init__(self) -> None:
        super().__init__(message="没有这个班组")


@dataclass
class AgentLoad:
    username: str
    display_name: str
    open_chats: int
    limit: int


def agent_owner(username: str) -> str:
    """The owner value of a conversation an agent holds."""
    return f"agent:{username}"


# ---- why a conversation needs a person ----

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


def record_intent(*, session: Session, message: Message, intent: str, confidence: float | None) -> str | None:
    """Store what the bot understood of a customer turn; return the turn before's intent."""
    message.intent = intent[:64]
    message.intent_confidence = confidence
    return session.scalar(select(Message.intent).where(
        Message.conversation_id == message.conversation_id, Message.sender == "customer",
        Message.id < message.id).order_by(Message.id.desc()).limit(1))


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
    return bool(changed)


def leave_queue(*, session: Session, conversation_id: str, now: datetime, actor: str, note: str) -> bool:
    """Take a waiting conversation out of the queue (the customer left a message instead); False if not queued."""
    changed = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner == "bot", Conversation.queued_at.is_not(None))
        .values(queued_at=None)
    ).rowcount
    if changed:
        session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor, action="left_queue",
                                      note=note))
    return bool(changed)


# ---- what a waiting customer is told ----

def parse_hours(text: str) -> tuple[time, time]:
    """Office hours written "08:00-20:00" (Beijing time); ValueError when malformed or empty."""
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    if start >= end:
        raise ValueError("office hours must start before they end")
    return start, end


def in_office_hours(now: datetime, hours: tuple[time, time]) -> bool:
    """Whether agents answer chats at this instant."""
    local = to_local(now).time()
    return hours[0] <= local < hours[1]


def queue_position(*, session: Session, conversation: Conversation) -> int:
    """1 for the customer waiting longest, and so on (0 when not waiting)."""
    if conversation.queued_at is None or conversation.owner != "bot":
        return 0
    return session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.owner == "bot", Conversation.queued_at.is_not(None),
        (Conversation.queued_at < conversation.queued_at)
        | ((Conversation.queued_at == conversation.queued_at) & (Conversation.id <= conversation.id)))) or 0


def handling_minutes(*, session: Session, now: datetime) -> float | None:
    """Mean minutes an agent spent on one of the recent chats (joined → handed back); None without any."""
    rows = session.execute(select(ConversationEvent.conversation_id, ConversationEvent.action, ConversationEvent.at)
                           .where(ConversationEvent.action.in_(("joined", "handed_back")),
                                  ConversationEvent.at >= now - timedelta(days=HANDLING_SAMPLE_DAYS))
                           .order_by(ConversationEvent.at.desc()).limit(HANDLING_SAMPLE_SIZE * 4)).all()
    ended: dict[str, datetime] = {}
    spans: list[float] = []
    for conversation_id, action, at in rows:  # newest first: a hand-back, then the join before it
        if action == "handed_back":
            ended.setdefault(conversation_id, at)
        elif conversation_id in ended and len(spans) < HANDLING_SAMPLE_SIZE:
            spans.append((ended.pop(conversation_id) - at).total_seconds() / 60)
    return sum(spans) / len(spans) if spans else None


def present_agents(*, session: Session, agents: Sequence[Agent], now: datetime,
                   presence_seconds: int) -> list[AgentPresence]:
    """Agents 在线 at the console now (heartbeat fresh), busy or not."""
    names = {agent.username for agent in agents}
    fresh = now - timedelta(seconds=presence_seconds)
    return [row for row in session.scalars(select(AgentPresence).where(
        AgentPresence.status == "online", AgentPresence.last_seen_at >= fresh)) if row.username in names]


def queue_state(*, session: Session, conversation: Conversation, agents: Sequence[Agent], now: datetime,
                presence_seconds: int, default_limit: int, office_hours: tuple[time, time]) -> QueueState | None:
    """Where a waiting customer stands: position, expected wait, agents online, office hours; None if not waiting.

    The wait is the position times the recent mean handling time, shared by the chats the online
    agents can hold at once; unknown (None) without agents online or without recent chats.
    """
    position = queue_position(session=session, conversation=conversation)
    if not position:
        return None
    online = present_agents(session=session, agents=agents, now=now, presence_seconds=presence_seconds)
    capacity = sum(row.max_chats or default_limit for row in online)
    handling = handling_minutes(session=session, now=now) if capacity else None
    wait = None if handling is None else max(1, math.ceil(position * handling / capacity))
    return QueueState(position=position, expected_wait_minutes=wait, agents_online=len(online),
                      office_hours=in_office_hours(now, office_hours))


def queue_notice(state: QueueState, office_hours: tuple[time, time]) -> BotMessage:
    """What a waiting customer is told: the wait, or why nobody will answer soon and the ways out."""
    if not state.office_hours:
        start, end = (t.strftime("%H:%M") for t in office_hours)
        return BotMessage(text=(
            f"人工客服的服务时间是每天{start}至{end}，现在不在服务时间。您可以留言并留下联系电话，我们上班后尽快给您回电；"
            "也可以继续向智能客服咨询。遇到停电、电线断落等紧急情况，请直接拨打95598供电服务热线。"),
            buttons=[LEAVE_MESSAGE, KEEP_BOT])
    if not state.agents_online:
        return BotMessage(text=(
            "现在暂时没有空闲的人工客服在线，您可以继续排队等候，也可以留言并留下联系电话，我们尽快给您回电；"
            "等候期间智能客服可以继续为您解答。"), buttons=[LEAVE_MESSAGE, KEEP_BOT])
    ahead = state.position - 1
    where = f"您前面还有{ahead}位客户" if ahead else "您是下一位"
    wait = f"，预计等待约{state.expected_wait_minutes}分钟" if state.expected_wait_minutes else ""
    return BotMessage(text=f"已为您排队，{where}{wait}。等候期间您可以继续向智能客服提问，人工客服接入时会在这里通知您。",
                      buttons=[LEAVE_MESSAGE])


# ---- takeover and hand back ----

def open_chats(*, session: Session, username: str) -> int:
    """How many conversations an agent holds now."""
    return session.scalar(select(func.count()).select_from(Conversation)
                          .where(Conversation.owner == agent_owner(username))) or 0


def join(*, session: Session, conversation_id: str, agent: Agent, now: datetime,
         actor: str | None = None) -> Message | None:
    """An agent takes the conversation from the bot or the queue; the notice telling the customer who joined.

    None when the agent holds it already; AlreadyTaken when someone else does.
    """
    conversation = service.get_row(session=session, conversation_id=conversation_id)
    owner = agent_owner(agent.username)
    if conversation.owner == owner:
        return None
    was_queued = conversation.queued_at is not None
    changed = session.execute(
        update(Conversation).where(Conversation.id == conversation_id, Conversation.owner == "bot")
        .values(owner=owner, queued_at=None, human_involved=True)
    ).rowcount
    if not changed:
        raise AlreadyTaken(session.scalar(select(Conversation.owner).where(Conversation.id == conversation_id)))
    if not was_queued:  # taken from a live bot conversation: it counts as a transfer too
        session.execute(update(Conversation).where(Conversation.id == conversation_id)
                        .values(handoff_requested=True, handoff_reason="agent_takeover"))
        session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=owner,
                                      action="queued", note="agent_takeover"))
    session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor or owner,
                                  action="joined", note=agent.username))
    return service.record_notice(session=session, conversation_id=conversation_id, now=now,
                                 text=JOINED_NOTICE.format(name=agent.display_name))


def release(*, session: Session, conversation_id: str, username: str, actor: str, now: datetime,
            force: bool = False) -> Message:
    """Hand the conversation back to the bot (its agent, or a supervisor with force); the customer is told."""
    where = [Conversation.id == conversation_id, Conversation.owner.like("agent:%")]
    if not force:
        where.append(Conversation.owner == agent_owner(username))
    changed = session.execute(update(Conversation).where(*where).values(
        owner="bot", handoff_requested=False, queued_at=None)).rowcount
    if not changed:
        raise NotOwner(message="您当前没有接入这段会话")
    session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor, action="handed_back"))
    return service.record_notice(session=session, conversation_id=conversation_id, text=LEFT_NOTICE, now=now)


def send_agent_message(*, session: Session, conversation_id: str, username: str, text: str, now: datetime,
                       client_msg_id: str | None = None, suggestion: dict | None = None) -> tuple[Message, bool]:
    """Store an agent's reply (once per client_msg_id) and which suggestion it came from; (message, new).

    `suggestion`: kind, ref, rank and whether the agent edited it before sending.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.owner != agent_owner(username):
        raise NotOwner(message="请先接入该会话再回复客户")
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
            ref=suggestion["ref"][:120], rank=suggestion["rank"], edited=suggestion["edited"], at=now))
    conversation.last_active_at = now
    return message, True


# ---- presence and assignment ----

def presence(*, session: Session, username: str) -> AgentPresence:
    """The agent's presence row (an agent never seen at the console is offline)."""
    return session.get(AgentPresence, username) or AgentPresence(username=username, status="offline")


def set_status(*, session: Session, username: str, status: str, now: datetime) -> None:
    """在线 / 小休 / 离线 as the agent sets it in the console."""
    row = presence(session=session, username=username)
    row.status, row.last_seen_at = status, now
    session.add(row)


def seen(*, session: Session, username: str, now: datetime) -> None:
    """The console's heartbeat: the agent is still there."""
    session.execute(update(AgentPresence).where(AgentPresence.username == username).values(last_seen_at=now))


def overview(*, session: Session, agents: Sequence[Agent], now: datetime, presence_seconds: int,
             default_limit: int) -> list[AgentOverviewRead]:
    """Every agent for the supervisor: status, present or not, chats held and the longest unanswered wait."""
    rows = {r.username: r for r in session.scalars(select(AgentPresence))}
    fresh = now - timedelta(seconds=presence_seconds)
    waits: dict[str, int] = {}
    for conversation in unanswered(session=session, now=now, minutes=0):
        username = conversation.owner.removeprefix("agent:")
        since = session.scalar(select(func.max(Message.at)).where(Message.conversation_id == conversation.id))
        waits[username] = max(waits.get(username, 0), int((now - since).total_seconds()))
    out = []
    for agent in agents:
        row = rows.get(agent.username) or AgentPresence(username=agent.username, status="offline")
        out.append(AgentOverviewRead(
            username=agent.username, display_name=agent.display_name, team=agent.team, status=row.status,
            status_label=STATUSES.get(row.status, row.status),
            present=row.last_seen_at is not None and row.last_seen_at >= fresh,
            open_chats=open_chats(session=session, username=agent.username),
            max_chats=row.max_chats or default_limit, longest_wait_seconds=waits.get(agent.username)))
    return sorted(out, key=lambda a: (a.status != "online", -(a.longest_wait_seconds or 0), a.username))


TRANSFERRED_NOTICE = "已为您转接人工客服{name}，请稍候，马上为您服务。"


def transfer(*, session: Session, conversation_id: str, to: Agent, actor: str, now: datetime,
             reason: str = "") -> Message:
    """A supervisor moves a chat (held by an agent, or waiting) to another agent; the customer is told."""
    conversation = service.get_row(session=session, conversation_id=conversation_id)
    target = agent_owner(to.username)
    if conversation.owner == target:
        raise Conflict("already_there", f"该会话已由{to.display_name}接待")
    if not (conversation.owner.startswith("agent:") or conversation.queued_at is not None):
        raise Conflict("not_with_a_person", "该会话正由机器人接待，请先接入或等客户转人工")
    holder = conversation.owner  # read before the update changes it in the session too
    changed = session.execute(update(Conversation).where(
        Conversation.id == conversation_id, Conversation.owner == holder).values(
        owner=target, queued_at=None, human_involved=True)).rowcount
    if not changed:
        raise AlreadyTaken(session.scalar(select(Conversation.owner).where(Conversation.id == conversation_id)))
    session.add(ConversationEvent(conversation_id=conversation_id, at=now, actor=actor, action="transferred",
                                  note=f"{holder} → {to.username}" + (f"：{reason}" if reason else "")))
    return service.record_notice(session=session, conversation_id=conversation_id, now=now,
                                 text=TRANSFERRED_NOTICE.format(name=to.display_name))


def me(*, session: Session, agent: Agent, default_limit: int) -> AgentMeRead:
    """An agent's status, load and limit as the console shows them."""
    row = presence(session=session, username=agent.username)
    return AgentMeRead(username=agent.username, display_name=agent.display_name, team=agent.team,
                       status=row.status, status_label=STATUSES.get(row.status, row.status),
                       open_chats=open_chats(session=session, username=agent.username),
                       max_chats=row.max_chats or default_limit,
                       auto_assign=auto_assign_on(session=session, team=agent.team))


def auto_assign_on(*, session: Session, team: str | None) -> bool:
    """Whether the team's conversations are handed out automatically (on unless a supervisor turned it off)."""
    if team is None:
        return True
    row = session.get(AgentTeam, team)
    return row.auto_assign if row else True


def list_teams(*, session: Session, agents: Sequence[Agent]) -> list[tuple[str, bool]]:
    """Every agent team with its auto-assignment switch."""
    teams = sorted({agent.team for agent in agents if agent.team})
    return [(team, auto_assign_on(session=session, team=team)) for team in teams]


def set_team_auto_assign(*, session: Session, agents: Sequence[Agent], team: str, enabled: bool, actor: str,
                         now: datetime) -> AgentTeam:
    """A supervisor turns a team's auto-assignment on or off (TeamNotFound for a team without agents)."""
    if team not in {agent.team for agent in agents}:
        raise TeamNotFound()
    row = session.get(AgentTeam, team) or AgentTeam(team=team)
    row.auto_assign, row.updated_by, row.updated_at = enabled, actor, now
    session.add(row)
    return row


def available_agents(*, session: Session, agents: Sequence[Agent], now: datetime, presence_seconds: int,
                     default_limit: int) -> list[AgentLoad]:
    """Online agents of auto-assigning teams with room for another chat, fewest open chats first."""
    fresh = now - timedelta(seconds=presence_seconds)
    present = {row.username: row for row in session.scalars(select(AgentPresence).where(
        AgentPresence.status == "online", AgentPresence.last_seen_at >= fresh))}
    loads = []
    for agent in agents:
        row = present.get(agent.username)
        if row is None or not auto_assign_on(session=session, team=agent.team):
            continue
        limit = row.max_chats or default_limit
        count = open_chats(session=session, username=agent.username)
        if count < limit:
            loads.append(AgentLoad(agent.username, agent.display_name, count, limit))
    return sorted(loads, key=lambda a: (a.open_chats, a.username))


def assign_waiting(*, session: Session, agents: Sequence[Agent], now: datetime, presence_seconds: int,
                   default_limit: int) -> list[tuple[str, Message]]:
    """Give queued conversations, oldest first, to the least busy online agents; (conversation, notice) each."""
    assigned = []
    for conversation in queue(session=session):
        free = available_agents(session=session, agents=agents, now=now, presence_seconds=presence_seconds,
                                default_limit=default_limit)
        if not free:
            break
        try:
            notice = join(session=session, conversation_id=conversation.id, agent=free[0], now=now,
                          actor="system:auto_assign")
        except AlreadyTaken:
            continue
        assigned.append((conversation.id, notice))
    return assigned


def absent_agents(*, session: Session, now: datetime, presence_seconds: int) -> list[str]:
    """Agents whose console has not been heard from for `presence_seconds` (closed, the network lost) while
    they are marked 在线 or hold chats. An agent on 小休 with the console open keeps the chats they hold."""
    stale = now - timedelta(seconds=presence_seconds)
    holding = select(func.substr(Conversation.owner, 7)).where(Conversation.owner.like("agent:%"))
    return sorted(session.scalars(select(AgentPresence.username).where(
        (AgentPresence.last_seen_at.is_(None)) | (AgentPresence.last_seen_at < stale),
        (AgentPresence.status == "online") | AgentPresence.username.in_(holding))))


def requeue_held(*, session: Session, username: str, now: datetime, reason: str) -> list[tuple[str, Message]]:
    """An agent has gone: their chats go back to the front of the queue, each customer told; (id, notice) each."""
    waiting_longest_first = list(reversed(held_by(session=session, username=username)))
    return _to_front(session=session, conversations=waiting_longest_first, now=now, reason=reason,
                     notice=REQUEUED_NOTICE)


def unanswered(*, session: Session, now: datetime, minutes: int) -> list[Conversation]:
    """Conversations an agent holds whose customer has waited `minutes` since their last message, unanswered."""
    held = select(Conversation.id).where(Conversation.owner.like("agent:%"))
    last = (select(Message.conversation_id, func.max(Message.id).label("last_id"))
            .where(Message.conversation_id.in_(held)).group_by(Message.conversation_id).subquery())
    return list(session.scalars(
        select(Conversation).join(last, last.c.conversation_id == Conversation.id)
        .join(Message, Message.id == last.c.last_id)
        .where(Conversation.owner.like("agent:%"), Message.sender == "customer",
               Message.at < now - timedelta(minutes=minutes))
        .order_by(Message.at)))


def requeue_unanswered(*, session: Session, conversations: list[Conversation], now: datetime,
                       minutes: int) -> list[tuple[str, Message]]:
    """Customers left unanswered go to the front of the queue (another agent, or the same when back), told."""
    return _to_front(session=session, conversations=conversations, now=now, notice=UNANSWERED_NOTICE,
                     reason=f"unanswered {minutes} min")


def _to_front(*, session: Session, conversations: list[Conversation], now: datetime, reason: str,
              notice: str) -> list[tuple[str, Message]]:
    """Back to the bot, at the front of the queue in the given order, each customer told; (id, notice) each."""
    if not conversations:
        return []
    oldest = session.scalar(select(func.min(Conversation.queued_at)).where(
        Conversation.owner == "bot", Conversation.queued_at.is_not(None)))
    front = min(oldest, now) if oldest is not None else now
    moved = []
    for rank, conversation in enumerate(reversed(conversations), 1):  # the first given is first in line
        holder = conversation.owner
        changed = session.execute(update(Conversation).where(
            Conversation.id == conversation.id, Conversation.owner == holder).values(
            owner="bot", queued_at=front - timedelta(seconds=rank), handoff_requested=True)).rowcount
        if not changed:
            continue
        session.add(ConversationEvent(conversation_id=conversation.id, at=now, actor="system", action="requeued",
                                      note=f"{holder.removeprefix('agent:')}: {reason}"))
        moved.append((conversation.id, service.record_notice(session=session, conversation_id=conversation.id,
                                                             text=notice, now=now)))
    return moved


# ---- what the console lists and shows ----

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
    """What the customer said last (for the queue list); [图片] for a picture they sent."""
    last = session.execute(select(Message.text, Message.image).where(Message.conversation_id == conversation_id,
                                                                    Message.sender == "customer")
                           .order_by(Message.id.desc()).limit(1)).first()
    if last is None:
        return None
    return last.text if last.text or not last.image else "[图片]"


def events(*, session: Session, conversation_id: str) -> list[ConversationEvent]:
    """A conversation's handoff timeline."""
    return list(session.scalars(select(ConversationEvent).where(ConversationEvent.conversation_id == conversation_id)
                                .order_by(ConversationEvent.id)))


def summary(*, session: Session, conversation: Conversation, now: datetime) -> ConversationSummary:
    """A conversation as a line of the console's lists."""
    queued = conversation.queued_at
    return ConversationSummary(
        conversation_id=conversation.id, channel=conversation.channel, owner=conversation.owner,
        reason=conversation.handoff_reason, reason_label=REASONS.get(conversation.handoff_reason or ""),
        queued_at=queued, waited_seconds=int((now - queued).total_seconds()) if queued else None,
        last_active_at=conversation.last_active_at,
        last_text=last_customer_text(session=session, conversation_id=conversation.id),
        account_no=conversation.account_no)


def for_agent(*, session: Session, conversation_id: str) -> AgentConversationRead:
    """The whole conversation as an agent sees it: transcript with intents, handoff timeline."""
    conversation = service.get_row(session=session, conversation_id=conversation_id)
    return AgentConversationRead(
        conversation_id=conversation.id, channel=conversation.channel, owner=conversation.owner,
        account_no=conversation.account_no, reason=conversation.handoff_reason,
        reason_label=REASONS.get(conversation.handoff_reason or ""),
        turns=[AgentTurn(id=m.id, at=m.at, sender=m.sender, text=m.text, image=m.image,
                         buttons=[Button(**b) for b in (m.buttons or [])], intent=m.intent, agent=m.agent)
               for m in service.transcript(session=session, conversation_id=conversation_id)],
        events=[ConversationEventRead(at=e.at, actor=e.actor, action=e.action, note=e.note)
                for e in events(session=session, conversation_id=conversation_id)])


def link_account(*, session: Session, conversation_id: str, account_no: str) -> None:
    """Remember which customer the conversation is about (for the agent's 360 view)."""
    session.execute(update(Conversation).where(Conversation.id == conversation_id).values(account_no=account_no))
    session.commit()
