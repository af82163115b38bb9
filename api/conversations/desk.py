"""The agent desk: handoff rules (handoff.py) plus the live events that keep consoles and chats current.

The gateway tells the desk about every turn; routes ask it to join, release and send. Each step
changes the database first, then publishes on the LiveBus: "console" events make every agent's
console refetch or append, "customer" events carry a frame to the customer's chat socket on
whichever API process holds it.
"""
from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import handoff
from api.conversations.live import LiveBus
from api.conversations.models import Conversation, Message
from api.db import utcnow
from api.staff.models import StaffUser

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def turn_payload(message: Message) -> dict:
    """A transcript line as consoles receive it."""
    return {"id": message.id, "at": message.at.astimezone(SHANGHAI).isoformat(), "sender": message.sender,
            "text": message.text, "buttons": message.buttons or [], "image": message.image, "intent": message.intent,
            "agent": message.agent}


class AgentDesk:
    """Queue, assignment, takeover and agent replies, with their live events."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], bus: LiveBus, presence_seconds: int = 90,
                 default_limit: int = 5):
        self._sessionmaker = sessionmaker
        self.bus = bus
        self._presence = presence_seconds
        self._limit = default_limit

    # ---- from the gateway ----

    def turns_stored(self, conversation_id: str, message_ids: list[int]) -> None:
        """Tell consoles about new transcript lines (customer, bot, system)."""
        with self._sessionmaker() as session:
            for message_id in message_ids:
                message = session.get(Message, message_id)
                if message is not None:
                    self.bus.publish_soon({"topic": "console", "type": "turn", "conversation_id": conversation_id,
                                           "owner": session.get(Conversation, conversation_id).owner,
                                           "turn": turn_payload(message)})

    def after_bot_turn(self, *, conversation_id: str, message_id: int, text: str, intent: str | None,
                       confidence: float | None, bot_reason: str | None) -> str | None:
        """Record the intent, queue the conversation when it needs a person; the notice to add, if any."""
        with self._sessionmaker() as session:
            previous = None
            if intent:
                previous = handoff.record_intent(session=session, message_id=message_id, intent=intent,
                                                 confidence=confidence)
            reason = handoff.detect_reason(text=text, intent=intent, previous_intent=previous, bot_reason=bot_reason)
            if reason is None or not handoff.enqueue(session=session, conversation_id=conversation_id,
                                                     reason=reason, now=utcnow(),
                                                     actor="bot" if bot_reason else "system"):
                return None
        self.bus.publish_soon({"topic": "console", "type": "queue"})
        return None if bot_reason else handoff.QUEUED_NOTICE

    # ---- assignment ----

    def assign_waiting(self) -> int:
        """Hand queued conversations to free online agents; how many were assigned."""
        with self._sessionmaker() as session:
            assigned = handoff.assign_waiting(session=session, now=utcnow(), presence_seconds=self._presence,
                                              default_limit=self._limit)
            for conversation_id, agent, notice in assigned:
                self._owner_changed(session, conversation_id, notice)
        if assigned:
            self.bus.publish_soon({"topic": "console", "type": "queue"})
        return len(assigned)

    async def assign_waiting_async(self) -> int:
        """assign_waiting from async code."""
        return await run_in_threadpool(self.assign_waiting)

    def _owner_changed(self, session: Session, conversation_id: str, notice: Message) -> None:
        conversation = session.get(Conversation, conversation_id)
        self.bus.publish_soon({"topic": "console", "type": "owner", "conversation_id": conversation_id,
                               "owner": conversation.owner, "turn": turn_payload(notice)})
        self.push_to_customer(conversation, notice, handled_by="system")

    def push_to_customer(self, conversation: Conversation, message: Message, *, handled_by: str) -> None:
        """A stored line to the customer's chat page (web chat; other channels read the history)."""
        if conversation.channel != "web":
            return
        self.bus.publish_soon({"topic": "customer", "sender_id": conversation.id, "frame": {
            "type": "reply", "handled_by": handled_by, "messages": [{"text": message.text, "buttons": []}],
            "at": message.at.astimezone(SHANGHAI).isoformat(timespec="milliseconds")}})

    # ---- agents ----

    def join(self, *, conversation_id: str, username: str) -> None:
        """The agent takes the conversation over (handoff.AlreadyTaken, LookupError)."""
        with self._sessionmaker() as session:
            agent = _agent(session, username)
            notice = handoff.join(session=session, conversation_id=conversation_id, agent=agent, now=utcnow())
            self._owner_changed(session, conversation_id, notice)
        self.bus.publish_soon({"topic": "console", "type": "queue"})

    def release(self, *, conversation_id: str, username: str, actor: str, force: bool = False) -> None:
        """Back to the bot (handoff.NotOwner); the freed place goes to the next waiting customer."""
        with self._sessionmaker() as session:
            notice = handoff.release(session=session, conversation_id=conversation_id, username=username,
                                     actor=actor, now=utcnow(), force=force)
            self._owner_changed(session, conversation_id, notice)
        self.bus.publish_soon({"topic": "console", "type": "queue"})
        self.assign_waiting()

    def send(self, *, conversation_id: str, username: str, text: str, client_msg_id: str | None,
             suggestion: dict | None) -> dict:
        """An agent's reply: stored once, pushed to the customer and to consoles (handoff.NotOwner)."""
        with self._sessionmaker() as session:
            message, new = handoff.send_agent_message(
                session=session, conversation_id=conversation_id, username=username, text=text, now=utcnow(),
                client_msg_id=client_msg_id, suggestion=suggestion)
            payload = turn_payload(message)
            if new:
                conversation = session.get(Conversation, conversation_id)
                self.push_to_customer(conversation, message, handled_by="agent")
                self.bus.publish_soon({"topic": "console", "type": "turn", "conversation_id": conversation_id,
                                       "owner": conversation.owner, "turn": payload})
        return payload

    def set_status(self, *, username: str, status: str) -> None:
        """在线 / 小休 / 离线; going online may bring waiting customers at once."""
        with self._sessionmaker() as session:
            handoff.set_status(session=session, agent=_agent(session, username), status=status, now=utcnow())
        self.bus.publish_soon({"topic": "console", "type": "agents"})
        if status == "online":
            self.assign_waiting()

    def heartbeat(self, *, username: str) -> None:
        """The console is open: keep the agent counted as present."""
        with self._sessionmaker() as session:
            handoff.seen(session=session, username=username, now=utcnow())


def _agent(session: Session, username: str) -> StaffUser:
    from api.staff import service as staff_service

    agent = staff_service.get_by_username(session=session, username=username)
    if agent is None:
        raise LookupError(username)
    return agent


def now_local() -> datetime:
    """Now in Asia/Shanghai (for waiting times shown to agents)."""
    return datetime.now(SHANGHAI)
