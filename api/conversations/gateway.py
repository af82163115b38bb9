"""The chat gateway: every channel's messages pass here on their way to the bot or an agent."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import service
from api.conversations.desk import AgentDesk
from api.conversations.rasa import BotUnavailable, RasaClient
from api.conversations.schemas import BotMessage, ChatReply
from api.db import utcnow
from api.text import normalize_text

log = logging.getLogger(__name__)

MAX_TEXT = 1000
FALLBACK_REPLY = BotMessage(text=(
    "抱歉，智能客服暂时有点忙，您刚才说的内容我们已经记下了，稍后会有人跟进。"
    "如果遇到停电、电线断落等紧急情况，请直接拨打95598供电服务热线。"
))


class InvalidMessage(ValueError):
    """A message the gateway will not pass on; `message` is the Chinese reason."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ChatGateway:
    """Stores each turn, asks the bot (or leaves it to the agent), and always answers."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], bot: RasaClient, desk: AgentDesk):
        self._sessionmaker = sessionmaker
        self._bot = bot
        self._desk = desk

    async def handle(self, *, sender_id: str, text: str, channel: str,
                     client_msg_id: str | None = None) -> ChatReply:
        """One customer message in, the replies out; a retried client_msg_id is answered once."""
        text = normalize_text(text or "")
        if not text:
            raise InvalidMessage("请输入您要咨询的内容。")
        if len(text) > MAX_TEXT:
            raise InvalidMessage(f"消息有点长，请分几次发送，每条不超过{MAX_TEXT}字。")

        if client_msg_id:
            earlier = await run_in_threadpool(self._earlier_reply, sender_id, client_msg_id)
            if earlier is not None:
                return earlier
        conversation_owner, message_id = await run_in_threadpool(
            self._record_customer_turn, sender_id, channel, text, client_msg_id)
        if conversation_owner != "bot":  # an agent holds it: the bot stays silent, the agent sees it live
            await run_in_threadpool(self._record, message_id, "agent", [], "ok")
            await run_in_threadpool(self._desk.turns_stored, sender_id, [message_id])
            return ChatReply(conversation_id=sender_id, messages=[], handled_by="agent")
        try:
            answer = await self._bot.send(sender_id=sender_id, text=text, channel=channel)
        except BotUnavailable as exc:
            log.warning("bot unavailable for conversation %s: %s", sender_id, exc)
            return await self._fall_back(sender_id, message_id)
        if not answer.messages and not answer.handoff_reason:
            # Rasa answered nothing: typically its action server is down. Never leave silence.
            log.warning("bot gave no answer for conversation %s", sender_id)
            return await self._fall_back(sender_id, message_id)
        understood = await self._bot.understood(sender_id=sender_id)
        notice = await run_in_threadpool(
            self._desk.after_bot_turn, conversation_id=sender_id, message_id=message_id, text=text,
            intent=understood[0] if understood else None, confidence=understood[1] if understood else None,
            bot_reason=answer.handoff_reason)
        messages = answer.messages + ([BotMessage(text=notice)] if notice else [])
        reply_ids = await run_in_threadpool(self._record, message_id, "bot", messages, "ok")
        await run_in_threadpool(self._desk.turns_stored, sender_id, [message_id, *reply_ids])
        if answer.handoff_reason or notice:
            await self._desk.assign_waiting_async()
        return ChatReply(conversation_id=sender_id, messages=messages, handled_by="bot")

    async def _fall_back(self, sender_id: str, message_id: int) -> ChatReply:
        reply_ids = await run_in_threadpool(self._record, message_id, "system", [FALLBACK_REPLY], "fallback")
        await run_in_threadpool(self._desk.turns_stored, sender_id, [message_id, *reply_ids])
        return ChatReply(conversation_id=sender_id, messages=[FALLBACK_REPLY], handled_by="fallback")

    def _earlier_reply(self, sender_id: str, client_msg_id: str) -> ChatReply | None:
        with self._sessionmaker() as session:
            turn = service.find_customer_turn(session=session, conversation_id=sender_id,
                                              client_msg_id=client_msg_id)
            if turn is None or turn.delivery == "pending":
                return None
            handled_by = "fallback" if turn.delivery == "fallback" else "bot"
            return ChatReply(conversation_id=sender_id, handled_by=handled_by,
                             messages=service.replies_to(session=session, message_id=turn.id))

    def _record_customer_turn(self, sender_id: str, channel: str, text: str,
                              client_msg_id: str | None) -> tuple[str, int]:
        with self._sessionmaker() as session:
            if client_msg_id:
                turn = service.find_customer_turn(session=session, conversation_id=sender_id,
                                                  client_msg_id=client_msg_id)
                if turn is not None:  # still pending: answer it again rather than store it twice
                    return service.owner_of(session=session, conversation_id=sender_id), turn.id
            conversation, message = service.record_customer_turn(
                session=session, conversation_id=sender_id, channel=channel, text=text,
                client_msg_id=client_msg_id, now=utcnow())
            return conversation.owner, message.id

    def _record(self, message_id: int, sender: str, replies: list[BotMessage], delivery: str) -> list[int]:
        with self._sessionmaker() as session:
            return service.record_replies(session=session, customer_message_id=message_id, sender=sender,
                                          replies=replies, delivery=delivery, now=utcnow())
