"""The chat gateway: every channel's messages pass here on their way to the bot or an agent.

A turn is one call to the bot between two transactions: the customer's words are stored (or
recognised as a retry) before the bot is asked, and the answers with the desk's bookkeeping
(intent, queue, assignment) after it. No transaction stays open while the bot thinks.
"""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import service
from api.conversations.desk import AgentDesk, transaction
from api.conversations.models import Conversation, Message
from api.conversations.rasa import BotAnswer, BotUnavailable, RasaClient
from api.conversations.schemas import BotMessage, ChatReply
from api.core.errors import Invalid
from api.core.ids import normalize_text
from api.core.time import utcnow

log = logging.getLogger(__name__)

MAX_TEXT = 1000
FALLBACK_REPLY = BotMessage(text=(
    "抱歉，智能客服暂时有点忙，您刚才说的内容我们已经记下了，稍后会有人跟进。"
    "如果遇到停电、电线断落等紧急情况，请直接拨打95598供电服务热线。"
))


class InvalidMessage(Invalid):
    """A message the gateway will not pass on; `message` is the Chinese reason."""

    code = "invalid_message"


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
            raise InvalidMessage(message="请输入您要咨询的内容。")
        if len(text) > MAX_TEXT:
            raise InvalidMessage(message=f"消息有点长，请分几次发送，每条不超过{MAX_TEXT}字。")
        message_id, reply = await run_in_threadpool(self._receive, sender_id, channel, text, client_msg_id)
        if reply is not None:
            return reply
        answer = await self._ask_bot(sender_id, text, channel)
        return await run_in_threadpool(self._answer, sender_id, message_id, text, answer)

    async def _ask_bot(self, sender_id: str, text: str, channel: str) -> BotAnswer | None:
        """The bot's answer; None when it is down or says nothing, and the gateway answers instead."""
        try:
            answer = await self._bot.send(sender_id=sender_id, text=text, channel=channel)
        except BotUnavailable as exc:
            log.warning("bot unavailable for conversation %s: %s", sender_id, exc)
            return None
        if not answer.messages and not answer.handoff_reason:
            # Rasa answered nothing: typically its action server is down. Never leave silence.
            log.warning("bot gave no answer for conversation %s", sender_id)
            return None
        return answer

    def _receive(self, sender_id: str, channel: str, text: str,
                 client_msg_id: str | None) -> tuple[int, ChatReply | None]:
        """Store the customer's turn; the reply too when the bot is not to be asked (a retry, an agent)."""
        with transaction(self._sessionmaker, self._desk.bus) as changes:
            session = changes.session
            turn = None
            if client_msg_id:
                turn = service.find_customer_turn(session=session, conversation_id=sender_id,
                                                  client_msg_id=client_msg_id)
            if turn is not None and turn.delivery != "pending":  # answered already: the same answer again
                return turn.id, ChatReply(
                    conversation_id=sender_id, handled_by="fallback" if turn.delivery == "fallback" else "bot",
                    messages=service.replies_to(session=session, message_id=turn.id))
            if turn is None:
                conversation, turn = service.record_customer_turn(
                    session=session, conversation_id=sender_id, channel=channel, text=text,
                    client_msg_id=client_msg_id, now=utcnow())
            else:  # still pending: ask again rather than store it twice
                conversation = session.get(Conversation, sender_id)
            if conversation.owner == "bot":
                return turn.id, None
            # an agent holds it: the bot stays silent, the agent sees it live
            turn.delivery = "ok"
            self._desk.turns_stored(changes, conversation, [turn])
            return turn.id, ChatReply(conversation_id=sender_id, messages=[], handled_by="agent")

    def _answer(self, sender_id: str, message_id: int, text: str, answer: BotAnswer | None) -> ChatReply:
        """Store the bot's answer (or the gateway's fallback) with the desk's bookkeeping."""
        with transaction(self._sessionmaker, self._desk.bus) as changes:
            session = changes.session
            message = session.get(Message, message_id)
            if answer is None:
                replies, sender, delivery, handled_by = [FALLBACK_REPLY], "system", "fallback", "fallback"
                notice = None
            else:
                notice = self._desk.review_turn(changes, message=message, text=text, intent=answer.intent,
                                                confidence=answer.confidence, bot_reason=answer.handoff_reason)
                replies = answer.messages + ([BotMessage(text=notice)] if notice else [])
                sender, delivery, handled_by = "bot", "ok", "bot"
            rows = service.record_replies(session=session, customer_message=message, sender=sender,
                                          replies=replies, delivery=delivery, now=utcnow())
            self._desk.turns_stored(changes, session.get(Conversation, sender_id), [message, *rows])
            if answer is not None and (answer.handoff_reason or notice):
                self._desk.assign(changes)
            return ChatReply(conversation_id=sender_id, messages=replies, handled_by=handled_by)
