"""The agent desk: handoff rules (handoff.py) plus the live events that keep consoles and chats current.

The gateway tells the desk about every turn; routes ask it to join, release and send. Each step
is one transaction (`transaction`), and its live events go out on the LiveBus once it is
committed: "console" events make every agent's console refetch or append, "customer" events
carry a frame to the customer's chat socket on whichever API process holds it.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import handoff
from api.conversations.handoff import Agent
from api.conversations.live import LiveBus
from api.conversations.models import Conversation, Message
from api.conversations.schemas import AgentOverviewRead, AgentTurn, BotMessage, QueueState, SuggestionRef, TeamRead
from api.core.errors import Invalid, NotFound
from api.core.ids import normalize_text
from api.core.time import to_local, utcnow

log = logging.getLogger(__name__)


class AgentRoster(Protocol):
    """Who the agents are: the active staff with the agent role (the app factory passes the staff domain's)."""

    def __call__(self, *, session: Session) -> Sequence[Agent]: ...


class Outbound(Protocol):
    """A channel's push of lines to a customer not on a socket (SMS, WeChat), queued in the caller's
    transaction (`session`) so it goes out exactly when the lines are stored; idempotent by `key`."""

    def __call__(self, *, session: Session, conversation_id: str, channel: str, messages: list[BotMessage],
                 key: str) -> None: ...


def no_agents(*, session: Session) -> Sequence[Agent]:
    """The roster of an app without agents (the chat page's own tests)."""
    return []


@dataclass
class Changes:
    """A transaction's session and the live events to publish once it is committed."""

    session: Session
    events: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, event: dict[str, Any]) -> None:
        self.events.append(event)


@contextmanager
def transaction(sessionmaker: sessionmaker[Session], bus: LiveBus) -> Iterator[Changes]:
    """One transaction: committed at the end, then its events published (none if it failed)."""
    with sessionmaker() as session:
        changes = Changes(session)
        yield changes
        session.commit()
    for event in changes.events:
        bus.publish_soon(event)


def turn_payload(message: Message) -> dict:
    """A transcript line as consoles receive it."""
    return {"id": message.id, "at": to_local(message.at).isoformat(), "sender": message.sender,
            "text": message.text, "buttons": message.buttons or [], "image": message.image, "intent": message.intent,
            "agent": message.agent}


def agent_text(text: str) -> str:
    """An agent's reply normalised line by line: a knowledge-base answer with steps keeps its lines."""
    return "\n".join(line for line in (normalize_text(part) for part in text.splitlines()) if line)


class AgentDesk:
    """Queue, assignment, takeover and agent replies, with their live events."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], bus: LiveBus, presence_seconds: int = 90,
                 default_limit: int = 5, roster: AgentRoster = no_agents,
                 office_hours: tuple[time, time] = handoff.DEFAULT_OFFICE_HOURS, outbound: Outbound | None = None,
                 reply_minutes: int = 5):
        self._sessionmaker = sessionmaker
        self.outbound = outbound  # agents' lines to customers on SMS and WeChat
        self.reply_minutes = reply_minutes  # a held customer unanswered this long goes back to the queue
        self.bus = bus
        self._presence = presence_seconds
        self._limit = default_limit
        self._roster = roster
        self.office_hours = office_hours

    def transaction(self) -> AbstractContextManager[Changes]:
        """One transaction whose live events go out once it is committed."""
        return transaction(self._sessionmaker, self.bus)

    # ---- within the gateway's transactions ----

    def turns_stored(self, changes: Changes, conversation: Conversation, messages: Sequence[Message]) -> None:
        """Tell consoles about new transcript lines (customer, bot, system)."""
        for message in messages:
            changes.publish({"topic": "console", "type": "turn", "conversation_id": conversation.id,
                             "owner": conversation.owner, "turn": turn_payload(message)})

    def review_turn(self, changes: Changes, *, message: Message, text: str, intent: str | None,
                    confidence: float | None, bot_reason: str | None) -> tuple[str | None, bool]:
        """Record the intent, queue the conversation when it needs a person.

        (the apology to add when the gateway, not the bot, saw the need; whether the turn asked for a person).
        """
        previous = None
        if intent:
            previous = handoff.record_intent(session=changes.session, message=message, intent=intent,
                                             confidence=confidence)
        reason = handoff.detect_reason(text=text, intent=intent, previous_intent=previous, bot_reason=bot_reason)
        if reason is None:
            return None, False
        if not handoff.enqueue(session=changes.session, conversation_id=message.conversation_id,
                               reason=reason, now=utcnow(), actor="bot" if bot_reason else "system"):
            return None, True  # waiting already (or with an agent): no second apology
        changes.publish({"topic": "console", "type": "queue"})
        return (None if bot_reason else handoff.QUEUED_NOTICE), True

    def queue_state(self, session: Session, conversation: Conversation, now: datetime) -> QueueState | None:
        """Where a waiting customer stands (None when the conversation is not waiting)."""
        return handoff.queue_state(session=session, conversation=conversation, agents=self._roster(session=session),
                                   now=now, presence_seconds=self._presence, default_limit=self._limit,
                                   office_hours=self.office_hours)

    def queue_notice(self, state: QueueState) -> BotMessage:
        """What a waiting customer is told about the wait (and the ways out when nobody will answer soon)."""
        return handoff.queue_notice(state, self.office_hours)

    def leave_queue(self, changes: Changes, *, conversation_id: str, note: str) -> None:
        """The customer left a message instead of waiting: out of the queue, consoles told."""
        if handoff.leave_queue(session=changes.session, conversation_id=conversation_id, now=utcnow(),
                               actor="customer", note=note):
            changes.publish({"topic": "console", "type": "queue"})

    def assign(self, changes: Changes) -> int:
        """Hand queued conversations to free online agents; how many were assigned."""
        assigned = handoff.assign_waiting(session=changes.session, agents=self._roster(session=changes.session),
                                          now=utcnow(), presence_seconds=self._presence, default_limit=self._limit)
        for conversation_id, notice in assigned:
            self._owner_changed(changes, conversation_id, notice)
        if assigned:
            changes.publish({"topic": "console", "type": "queue"})
        return len(assigned)

    def _owner_changed(self, changes: Changes, conversation_id: str, notice: Message) -> None:
        conversation = changes.session.get(Conversation, conversation_id)
        changes.publish({"topic": "console", "type": "owner", "conversation_id": conversation_id,
                         "owner": conversation.owner, "turn": turn_payload(notice)})
        self._push_to_customer(changes, conversation, notice, handled_by="system")

    def _push_to_customer(self, changes: Changes, conversation: Conversation, message: Message, *,
                          handled_by: str) -> None:
        """A stored line to the customer: to the chat page (web chat), or queued to the channel (SMS,
        WeChat) in the same transaction, so an agent's reply reaches customers on every channel."""
        if conversation.channel != "web":
            if self.outbound is not None:
                self.outbound(session=changes.session, conversation_id=conversation.id, channel=conversation.channel,
                              messages=[BotMessage(text=message.text)], key=f"chat-line:{message.id}")
            return
        changes.publish({"topic": "customer", "sender_id": conversation.id, "frame": {
            "type": "reply", "handled_by": handled_by, "messages": [{"text": message.text, "buttons": []}],
            "at": to_local(message.at).isoformat(timespec="milliseconds")}})

    # ---- agents: one transaction each ----

    def assign_waiting(self) -> int:
        """Hand queued conversations to free online agents; how many were assigned."""
        with self.transaction() as changes:
            return self.assign(changes)

    def join(self, *, conversation_id: str, agent: Agent) -> None:
        """The agent takes the conversation over (nothing when it is theirs already; AlreadyTaken)."""
        with self.transaction() as changes:
            notice = handoff.join(session=changes.session, conversation_id=conversation_id, agent=agent,
                                  now=utcnow())
            if notice is not None:
                self._owner_changed(changes, conversation_id, notice)
                changes.publish({"topic": "console", "type": "queue"})

    def release(self, *, conversation_id: str, username: str, actor: str, force: bool = False) -> None:
        """Back to the bot (NotOwner); the freed place goes to the next waiting customer."""
        with self.transaction() as changes:
            notice = handoff.release(session=changes.session, conversation_id=conversation_id, username=username,
                                     actor=actor, now=utcnow(), force=force)
            self._owner_changed(changes, conversation_id, notice)
            changes.publish({"topic": "console", "type": "queue"})
        self.assign_waiting()

    def send(self, *, conversation_id: str, username: str, text: str, client_msg_id: str | None,
             suggestion: SuggestionRef | None) -> AgentTurn:
        """An agent's reply: stored once, pushed to the customer and to consoles (NotOwner)."""
        text = agent_text(text)
        if not text:
            raise Invalid("empty_message", "请输入回复内容")
        used = None
        if suggestion is not None:  # edited: the words differ, whatever the line breaks
            used = {"kind": suggestion.kind, "ref": suggestion.ref, "rank": suggestion.rank,
                    "edited": normalize_text(suggestion.text) != normalize_text(text)}
        with self.transaction() as changes:
            message, new = handoff.send_agent_message(
                session=changes.session, conversation_id=conversation_id, username=username, text=text,
                now=utcnow(), client_msg_id=client_msg_id, suggestion=used)
            if new:
                conversation = changes.session.get(Conversation, conversation_id)
                self._push_to_customer(changes, conversation, message, handled_by="agent")
                self.turns_stored(changes, conversation, [message])
            return AgentTurn(**turn_payload(message))

    def set_status(self, *, username: str, status: str) -> None:
        """在线 / 小休 / 离线; going online may bring waiting customers at once."""
        for attempt in (1, 2):
            try:
                with self.transaction() as changes:
                    handoff.set_status(session=changes.session, username=username, status=status, now=utcnow())
                    changes.publish({"topic": "console", "type": "agents"})
                break
            except IntegrityError:  # the agent's first presence row, written twice at once (a double click)
                if attempt == 2:
                    raise
        if status == "online":
            self.assign_waiting()

    def agent_left(self, *, username: str, reason: str, status: str = "offline") -> int:
        """The agent signed out or their console went silent: marked `status`, their chats back at the front
        of the queue with each customer told, then handed to whoever is present; how many moved."""
        with self.transaction() as changes:
            handoff.set_status(session=changes.session, username=username, status=status, now=utcnow())
            moved = handoff.requeue_held(session=changes.session, username=username, now=utcnow(), reason=reason)
            for conversation_id, notice in moved:
                self._owner_changed(changes, conversation_id, notice)
            changes.publish({"topic": "console", "type": "agents"})
            changes.publish({"topic": "console", "type": "queue"})
        if moved:
            self.assign_waiting()
        return len(moved)

    def sweep_absent(self) -> int:
        """Agents whose console went silent (or who hold chats while away) leave; how many chats moved."""
        with self._sessionmaker() as session:
            gone = handoff.absent_agents(session=session, now=utcnow(), presence_seconds=self._presence)
        return sum(self.agent_left(username=username, reason="lost", status="away") for username in gone)

    def sweep_unanswered(self) -> int:
        """Customers an agent has left unanswered for `reply_minutes` go to the front of the queue, told, and
        to whoever is free (the supervisor sees the move in the conversation's timeline); how many."""
        with self.transaction() as changes:
            now = utcnow()
            late = handoff.unanswered(session=changes.session, now=now, minutes=self.reply_minutes)
            moved = handoff.requeue_unanswered(session=changes.session, conversations=late, now=now,
                                               minutes=self.reply_minutes)
            for conversation_id, notice in moved:
                self._owner_changed(changes, conversation_id, notice)
            if moved:
                changes.publish({"topic": "console", "type": "queue"})
        if moved:
            self.assign_waiting()
        return len(moved)

    async def run_presence_sweeper(self, every_seconds: float = 15.0) -> None:
        """Sweep absent agents and unanswered customers now and then (a task of the app's lifespan)."""
        while True:
            await asyncio.sleep(every_seconds)
            for sweep in (self.sweep_absent, self.sweep_unanswered):
                try:
                    await run_in_threadpool(sweep)
                except Exception:
                    log.exception("desk: %s failed", sweep.__name__)

    def heartbeat(self, *, username: str) -> None:
        """The console is open: keep the agent counted as present."""
        with self.transaction() as changes:
            handoff.seen(session=changes.session, username=username, now=utcnow())

    def agents(self) -> list[AgentOverviewRead]:
        """Every agent for the supervisor: status, console present, chats and the longest unanswered wait."""
        with self._sessionmaker() as session:
            return handoff.overview(session=session, agents=self._roster(session=session), now=utcnow(),
                                    presence_seconds=self._presence, default_limit=self._limit)

    def transfer(self, *, conversation_id: str, to: str, actor: str, reason: str) -> None:
        """A supervisor moves a chat to an agent (NotFound for someone who is not an agent)."""
        with self.transaction() as changes:
            agent = next((a for a in self._roster(session=changes.session) if a.username == to), None)
            if agent is None:
                raise NotFound("agent_not_found", "没有这位坐席")
            notice = handoff.transfer(session=changes.session, conversation_id=conversation_id, to=agent,
                                      actor=actor, now=utcnow(), reason=reason)
            self._owner_changed(changes, conversation_id, notice)
            changes.publish({"topic": "console", "type": "queue"})
            changes.publish({"topic": "console", "type": "agents"})

    def teams(self) -> list[TeamRead]:
        """Agent teams and whether their conversations are assigned automatically."""
        with self._sessionmaker() as session:
            return [TeamRead(team=team, auto_assign=on)
                    for team, on in handoff.list_teams(session=session, agents=self._roster(session=session))]

    def set_team_auto_assign(self, *, team: str, enabled: bool, actor: str) -> TeamRead:
        """A supervisor turns a team's auto-assignment on or off; on hands out the waiting ones at once."""
        with self.transaction() as changes:
            agents = self._roster(session=changes.session)
            row = handoff.set_team_auto_assign(session=changes.session, agents=agents, team=team, enabled=enabled,
                                               actor=actor, now=utcnow())
            result = TeamRead(team=row.team, auto_assign=row.auto_assign)
            changes.publish({"topic": "console", "type": "agents"})
        if enabled:
            self.assign_waiting()
        return result
