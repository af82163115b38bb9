"""The chat gateway: every channel's messages pass here on their way to the bot or an agent.

A turn is one call to the bot between two transactions: the customer's words are stored (the
turn is *claimed*) before the bot is asked, and the answers with the desk's bookkeeping (intent,
queue, assignment) after it. No transaction stays open while the bot thinks.

A turn is never cut off. The bot call runs as a task of its own, which no caller's cancellation
(a closed socket, an impatient HTTP client) can stop, so an action with side effects (a ticket
created, a crew dispatched) always finishes and its answer is always stored. A caller that cannot
wait gets a holding message after `hold_seconds` ("正在为您提交报修，请稍候…"); the reply then
reaches the customer on the web chat socket that waits on, by the channel's push (`Outbound`,
SMS), from the history after a reload, or from a retry with the same client_msg_id. Only a bot
that is down or hung past `deadline_seconds` (RasaClient's deadline) gets the fallback answer; the
turn is then marked undelivered ("fallback") and the conversation queued for a person, so that
"稍后会有人跟进" is true.

Exactly once per client_msg_id: the first request stores the turn (a unique key on the
conversation and client_msg_id decides who is first, across processes too); a concurrent
duplicate waits for that turn's answer (in process on its task, otherwise by reading the
database) and returns the same answer. A turn left pending by a process that died is answered
with the fallback once it is older than the deadline (a retry or `sweep_stale`), never asked twice.

Web conversations are opened by the API (`issue`: a long random id and a secret); writing to one
or reading it back needs the secret. Other channels (WeChat, SMS, the hotline) come through their
adapters, which hold the service token. Every message is counted against rate limits per
conversation and, for anonymous callers, per address (api.core.ratelimit).

Contract with the bot (bot/channels.py, read by the actions): the gateway posts each message with
    metadata = {"channel": "web" | "wechat" | "hotline" | "sms",
                "queue": {"position": int,                      # 1 = next to be served
                          "expected_wait_minutes": int | None,  # None: cannot be estimated
                          "agents_online": int,
                          "office_hours": bool}}
"queue" is present only while the conversation waits for a person (queued, not yet taken); the
actions read tracker.latest_message["metadata"]["queue"] and answer questions asked while waiting
("还要等多久", other questions) with "还在为您排队" context instead of starting over.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.conversations import service
from api.conversations.desk import AgentDesk, Changes, Outbound, transaction
from api.conversations.models import Conversation, Message
from api.conversations.rasa import BotAnswer, BotUnavailable, RasaClient
from api.conversations.schemas import BotMessage, Button, ChatIssued, ChatReply
from api.core.errors import DomainError, Invalid, NotFound, TooMany, Unauthorized, Unavailable
from api.core.ids import normalize_text
from api.core.ratelimit import RateLimiter, Rule, SqlRateLimiter, enforce
from api.core.time import to_local, utcnow

log = logging.getLogger(__name__)

MAX_TEXT = 1000
WATCH_SECONDS = 0.2  # how often a duplicate waiting on another process's turn reads the database
STALE_MARGIN = timedelta(seconds=15)  # past the deadline, a pending turn's process is gone
FALLBACK_REPLY = BotMessage(sender="system", text=(
    "抱歉，智能客服暂时有点忙，您刚才说的内容我们已经记下了，稍后会有人跟进。"
    "如果遇到停电、电线断落等紧急情况，请直接拨打95598供电服务热线。"
))
# Rasa answered with nothing at all: the bot did not understand; say so and show what it can do.
NOT_UNDERSTOOD = BotMessage(text=(
    "抱歉，没太看懂您的意思。您可以换个说法再说一次，比如“查电费”“我家停电了”“查工单进度”，"
    "也可以点下面的常用服务；需要人工帮助请回复“转人工”。"),
    buttons=[Button(title=t, payload=t) for t in ("查电费", "报停电", "工单进度", "转人工")])
KEEP_BOT_REPLY = "好的，您可以继续向智能客服提问。人工客服接入时，会在这里第一时间通知您。"
HOLDING = "正在为您处理，请稍候…"
HOLDING_BY_TICKET = {"故障报修": "正在为您提交报修，请稍候…", "投诉": "正在为您提交投诉，请稍候…",
                     "业务办理": "正在为您登记业务申请，请稍候…", "充电设施故障": "正在为您提交报修，请稍候…"}
SECRET_REFUSED = "这段对话已失效，请刷新页面开始新的对话。"
CHANNEL_REFUSED = "该渠道的消息需通过渠道接入服务发送。"
TOO_MANY_MESSAGES = "您发送消息太频繁了，请稍等一会儿再发。如遇停电、电线断落等紧急情况，请直接拨打95598供电服务热线。"
TOO_MANY_CHATS = "当前网络发起的新对话太多了，请稍后再试，或拨打95598供电服务热线。"
RESENDS = Rule("chat.resend", 30, 3600)  # sends of one client_msg_id: the first counts, resends are free up to this
# The bot is up but an action it ran failed (the action server down): what could not be done, by
# the report the bot had read back; nothing was filed, and what the customer said is kept.
NOT_DONE_BY_TICKET = {"故障报修": "您的报修暂时没能提交", "投诉": "您的投诉暂时没能提交",
                      "业务办理": "您的业务申请暂时没能登记", "充电设施故障": "您的报修暂时没能提交"}
NOT_DONE = ("抱歉，系统暂时出了点故障，{what}，您已经提供的信息都还保留着。请过几分钟再发一次刚才的话，"
            "或回复“转人工”；遇到停电、电线断落等紧急情况，请直接拨打95598供电服务热线。")
MSG_UNAVAILABLE = "客服系统暂时繁忙，您的消息未能处理，请稍后再试，或拨打95598供电服务热线。"


class InvalidMessage(Invalid):
    """A message the gateway will not pass on; `message` is the Chinese reason."""

    code = "invalid_message"


class ChatForbidden(NotFound):
    """No such web conversation for this caller (unknown id or wrong secret: the same answer)."""

    code = "conversation_not_found"

    def __init__(self) -> None:
        super().__init__(message=SECRET_REFUSED)


@dataclass(frozen=True)
class ChatLimits:
    """Messages per conversation and per address a minute, new web conversations per address an hour.

    (`minute` and `hour` are the windows' lengths in seconds; tests stretch them.)
    """

    per_sender_minute: int = 20
    per_address_minute: int = 200  # generous: many customers share one address behind a carrier's NAT
    new_per_address_hour: int = 200
    minute: int = 60
    hour: int = 3600

    def rules(self) -> tuple[Rule, Rule, Rule]:
        return (Rule("chat.sender", self.per_sender_minute, self.minute),
                Rule("chat.address", self.per_address_minute, self.minute),
                Rule("chat.new", self.new_per_address_hour, self.hour))


OnHold = Callable[[ChatReply], Awaitable[None]]


def bot_takes_metadata(bot: RasaClient) -> bool:
    """Whether the bot client passes metadata on (RasaClient.send(metadata=…) does; a stand-in bot of
    the page tests may not): without it the queue state is left out rather than failing the turn."""
    parameters = inspect.signature(bot.send).parameters
    return "metadata" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def edge_text(text: str) -> str:
    """The customer's words as the bot should read them: invisible format and control characters
    (zero-width spaces, BOM, direction marks) dropped, then NFKC, full-width digits to ASCII, trimmed."""
    visible = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co"))
    return normalize_text(visible)


@dataclass
class _Claim:
    """The outcome of storing a customer turn: an answer already there, or a turn to run or wait for."""

    message_id: int | None = None
    reply: ChatReply | None = None
    fresh: bool = False  # this request stored the turn and runs it
    hold_text: str = HOLDING
    metadata: dict = field(default_factory=dict)


@dataclass
class _Turn:
    """A turn being answered in this process; duplicates of its message wait on the same task."""

    message_id: int
    sender_id: str
    channel: str
    text: str
    client_msg_id: str | None
    hold_text: str
    task: asyncio.Task | None = None
    push: bool = False  # a caller was given the holding message: push the reply when it is ready
    asks_bot: bool = False  # this process stored the turn and asks the bot (else it watches the database)


class ChatGateway:
    """Stores each turn, asks the bot (or leaves it to the agent), and always answers."""

    def __init__(self, *, sessionmaker: sessionmaker[Session], bot: RasaClient, desk: AgentDesk,
                 limiter: RateLimiter | None = None, limits: ChatLimits = ChatLimits(),
                 hold_seconds: float = 2.0, deadline_seconds: float = 30.0, outbound: Outbound | None = None):
        self._sessionmaker = sessionmaker
        self._bot = bot
        self._desk = desk
        self._limiter = limiter or SqlRateLimiter(sessionmaker)
        self.limits = limits
        self.hold_seconds = hold_seconds
        self._stale = timedelta(seconds=deadline_seconds) + STALE_MARGIN
        self.outbound = outbound
        self._turns: dict[int, _Turn] = {}

    # ---- who may write ----

    async def issue(self, *, address: str) -> ChatIssued:
        """A new web conversation (id and secret), at most `new_per_address_hour` per address."""
        await run_in_threadpool(enforce, self._limiter, [(self.limits.rules()[2], address)], message=TOO_MANY_CHATS,
                                code="too_many_chats")
        return await run_in_threadpool(self._issue, address)

    def _issue(self, address: str) -> ChatIssued:
        with self._sessionmaker() as session:
            conversation_id, secret = service.issue_key(session=session, now=utcnow(), address=address)
            session.commit()
        return ChatIssued(conversation_id=conversation_id, secret=secret)

    def check_secret(self, *, conversation_id: str, secret: str | None) -> None:
        """ChatForbidden unless `secret` opens the web conversation."""
        with self._sessionmaker() as session:
            if not service.key_matches(session=session, conversation_id=conversation_id, secret=secret):
                raise ChatForbidden()

    async def admit(self, *, sender_id: str, channel: str, secret: str | None, trusted: bool,
                    address: str | None, client_msg_id: str | None = None) -> None:
        """May this message come in? Web chats need their secret unless the caller is a channel
        adapter (service token); other channels need the token. Then the rate limits, spent once
        per client_msg_id (a page resending after a reconnect is not flooding)."""
        if not trusted:
            if channel != "web":
                raise Unauthorized("channel_needs_token", CHANNEL_REFUSED)
            await run_in_threadpool(self.check_secret, conversation_id=sender_id, secret=secret)
        await run_in_threadpool(self._spend, sender_id, None if trusted else address, client_msg_id)

    def _spend(self, sender_id: str, address: str | None, client_msg_id: str | None) -> None:
        if client_msg_id:
            seen = self._limiter.hit(RESENDS, f"{sender_id}\n{client_msg_id}")
            if seen.count > 1:  # a resend of a message already counted
                if not seen.allowed:
                    raise TooMany("too_many_messages", TOO_MANY_MESSAGES,
                                  headers={"Retry-After": str(seen.retry_after)}, retry_after=seen.retry_after)
                return
        per_sender, per_address, _ = self.limits.rules()
        checks = [(per_sender, sender_id)] + ([(per_address, address)] if address else [])
        enforce(self._limiter, checks, message=TOO_MANY_MESSAGES, code="too_many_messages")

    # ---- one turn ----

    async def handle(self, *, sender_id: str, text: str, channel: str, client_msg_id: str | None = None,
                     hold_seconds: float | None = None, on_hold: OnHold | None = None) -> ChatReply:
        """One customer message in, the replies out; a retried client_msg_id is answered once.

        hold_seconds: answer with a holding message if the reply takes longer. With `on_hold`
        (a socket) the holding message goes there and the reply is still returned when ready;
        without it the holding reply is returned and the real one pushed on the channel later.
        """
        cleaned = edge_text(text or "")
        if not cleaned:
            if (text or "").strip():  # only invisible characters: nothing the bot could read
                return ChatReply(conversation_id=sender_id, messages=[NOT_UNDERSTOOD], handled_by="bot")
            raise InvalidMessage(message="请输入您要咨询的内容。")
        if len(cleaned) > MAX_TEXT:
            raise InvalidMessage(message=f"消息有点长，请分几次发送，每条不超过{MAX_TEXT}字。")
        try:
            claim = await run_in_threadpool(self._claim, sender_id, channel, cleaned, client_msg_id)
            if claim.reply is not None:
                return claim.reply
            turn = self._turns.get(claim.message_id)
            # The copy that stored the turn always asks the bot, even when a duplicate's claim came back
            # first and is already watching the database for the answer (it then finds it there).
            if turn is None or (claim.fresh and not turn.asks_bot):
                turn = _Turn(claim.message_id, sender_id, channel, cleaned, client_msg_id, claim.hold_text,
                             asks_bot=claim.fresh)
                self._turns[turn.message_id] = turn
                turn.task = asyncio.create_task(self._run(turn, claim.metadata) if claim.fresh else self._watch(turn))
                turn.task.add_done_callback(partial(self._forget, turn))
            return await self._wait(turn, hold_seconds, on_hold)
        except (DomainError, asyncio.CancelledError):
            raise
        except Exception as exc:  # the database is down: a clear answer, never a 500
            log.exception("gateway: the turn of %s failed", sender_id)
            raise Unavailable("chat_unavailable", MSG_UNAVAILABLE) from exc

    def _forget(self, turn: _Turn, task: asyncio.Task) -> None:
        if self._turns.get(turn.message_id) is turn:  # not a newer task of the same turn
            del self._turns[turn.message_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway: turn %s failed", turn.message_id, exc_info=task.exception())

    async def _wait(self, turn: _Turn, hold_seconds: float | None, on_hold: OnHold | None) -> ChatReply:
        """The turn's reply; past `hold_seconds` a holding message first (to `on_hold`, or as the answer)."""
        if hold_seconds is None:
            return await asyncio.shield(turn.task)
        try:
            return await asyncio.wait_for(asyncio.shield(turn.task), hold_seconds)
        except TimeoutError:
            pass
        if turn.task.done():  # finished as the wait ran out
            return turn.task.result()
        holding = ChatReply(conversation_id=turn.sender_id, handled_by="holding",
                            messages=[BotMessage(text=turn.hold_text, sender="system")])
        if on_hold is None:
            turn.push = True  # read by the task after its answer is stored (same loop: no race)
            return holding
        await on_hold(holding)
        return await asyncio.shield(turn.task)

    async def _run(self, turn: _Turn, metadata: dict) -> ChatReply:
        """Ask the bot and store its answer: runs to the end whoever still waits for it."""
        answer = await self._ask_bot(turn.sender_id, turn.text, turn.channel, metadata)
        reply = await run_in_threadpool(self._answer, turn, answer)
        if turn.push:
            await self._push(turn, reply)
        return reply

    async def _watch(self, turn: _Turn) -> ChatReply:
        """Wait for a turn another process (or a dead one) claimed: its stored answer, or the fallback once stale."""
        while True:
            reply = await run_in_threadpool(self._settled, turn)
            if reply is not None:
                return reply
            await asyncio.sleep(WATCH_SECONDS)

    async def _ask_bot(self, sender_id: str, text: str, channel: str, metadata: dict) -> BotAnswer | None:
        """The bot's answer; None when it is down or hung past the deadline (the gateway answers instead)."""
        extra = {"metadata": metadata} if metadata and bot_takes_metadata(self._bot) else {}
        for attempt in (1, 2):
            try:
                return await self._bot.send(sender_id=sender_id, text=text, channel=channel, **extra)
            except BotUnavailable as exc:
                refused = "connect" in type(exc.__cause__).__name__.lower()
                if attempt == 1 and refused:  # never reached Rasa (restarting): one retry is safe
                    await asyncio.sleep(0.5)
                    continue
                log.warning("bot unavailable for conversation %s: %s", sender_id, exc)
                return None
        return None

    # ---- the two transactions ----

    def _claim(self, sender_id: str, channel: str, text: str, client_msg_id: str | None) -> _Claim:
        """Store the customer's turn, or find it stored already (a retry or a concurrent duplicate)."""
        for attempt in (1, 2):
            try:
                with transaction(self._sessionmaker, self._desk.bus) as changes:
                    return self._store_turn(changes, sender_id, channel, text, client_msg_id)
            except IntegrityError:  # a duplicate stored the same client_msg_id first: read its turn
                if attempt == 2 or not client_msg_id:
                    raise
        raise AssertionError("unreachable")

    def _store_turn(self, changes: Changes, sender_id: str, channel: str, text: str,
                    client_msg_id: str | None) -> _Claim:
        session = changes.session
        if client_msg_id:
            earlier = service.find_customer_turn(session=session, conversation_id=sender_id,
                                                 client_msg_id=client_msg_id)
            if earlier is not None:
                return self._existing(session, earlier)
        now = utcnow()
        conversation, turn = service.record_customer_turn(
            session=session, conversation_id=sender_id, channel=channel, text=text,
            client_msg_id=client_msg_id, now=now)
        if conversation.owner != "bot":  # an agent holds it: the bot stays silent, the agent sees it live
            turn.delivery = "ok"
            self._desk.turns_stored(changes, conversation, [turn])
            return _Claim(message_id=turn.id, reply=ChatReply(conversation_id=sender_id, messages=[],
                                                              handled_by="agent"))
        if text == "/keep_bot":  # the customer chose the bot while waiting: the gateway's own answer
            turn.delivery = "ok"
            rows = service.record_replies(session=session, customer_message=turn, now=now,
                                          replies=[BotMessage(text=KEEP_BOT_REPLY)])
            self._desk.turns_stored(changes, conversation, [turn, *rows])
            return _Claim(message_id=turn.id, reply=ChatReply(conversation_id=sender_id, handled_by="bot",
                                                              messages=[BotMessage(text=KEEP_BOT_REPLY)]))
        metadata = {}
        state = self._desk.queue_state(session, conversation, now)
        if state is not None:
            metadata = {"channel": channel, "queue": state.model_dump()}
        kind = service.pending_form(session=session, conversation_id=sender_id)
        return _Claim(message_id=turn.id, fresh=True, metadata=metadata,
                      hold_text=HOLDING_BY_TICKET.get(kind or "", HOLDING))

    def _existing(self, session: Session, turn: Message) -> _Claim:
        """A turn stored before: its answer, or (still pending) the turn to wait for."""
        if turn.delivery == "pending":
            kind = service.pending_form(session=session, conversation_id=turn.conversation_id)
            return _Claim(message_id=turn.id, hold_text=HOLDING_BY_TICKET.get(kind or "", HOLDING))
        return _Claim(message_id=turn.id, reply=self._stored_reply(session, turn))

    @staticmethod
    def _stored_reply(session: Session, turn: Message) -> ChatReply:
        messages = service.replies_to(session=session, message_id=turn.id)
        conversation = session.get(Conversation, turn.conversation_id)
        handled_by = ("fallback" if turn.delivery == "fallback" else
                      "agent" if not messages and conversation.owner != "bot" else "bot")
        return ChatReply(conversation_id=turn.conversation_id, messages=messages, handled_by=handled_by)

    def _answer(self, turn: _Turn, answer: BotAnswer | None) -> ChatReply:
        """Store the bot's answer (or the gateway's fallback) with the desk's bookkeeping, once."""
        with transaction(self._sessionmaker, self._desk.bus) as changes:
            session = changes.session
            message = session.get(Message, turn.message_id)
            if not service.settle_turn(session=session, message_id=message.id,
                                       delivery="ok" if answer is not None else "fallback"):
                session.refresh(message)
                return self._stored_reply(session, message)  # answered as stale meanwhile
            return self._record(changes, message, turn.text, answer)

    def _settled(self, turn: _Turn) -> ChatReply | None:
        """A claimed turn's answer once stored; the fallback for one pending past the deadline (its process died)."""
        with transaction(self._sessionmaker, self._desk.bus) as changes:
            session = changes.session
            message = session.get(Message, turn.message_id)
            if message.delivery != "pending":
                return self._stored_reply(session, message)
            if message.at > utcnow() - self._stale:
                return None
            if not service.settle_turn(session=session, message_id=message.id, delivery="fallback"):
                session.refresh(message)
                return self._stored_reply(session, message)
            log.warning("gateway: turn %s of %s was left pending; answered with the fallback",
                        message.id, message.conversation_id)
            return self._record(changes, message, message.text or "", None)

    def _record(self, changes: Changes, message: Message, text: str, answer: BotAnswer | None) -> ChatReply:
        """The replies to a settled turn: the bot's, "没太看懂" for an empty answer, or the fallback
        (and a person asked for); plus where the customer stands when the chat waits for one."""
        session, now = changes.session, utcnow()
        conversation = session.get(Conversation, message.conversation_id)
        if answer is None:
            self._desk.review_turn(changes, message=message, text=text, intent=None, confidence=None,
                                   bot_reason="bot_unavailable")
            replies, wants_person, handled_by = [FALLBACK_REPLY], True, "fallback"
        else:
            apology, wants_person = self._desk.review_turn(
                changes, message=message, text=text, intent=answer.intent, confidence=answer.confidence,
                bot_reason=answer.handoff_reason)
            said = answer.messages or ([] if answer.handoff_reason or answer.failed_actions else [NOT_UNDERSTOOD])
            replies = said + ([BotMessage(text=apology)] if apology else [])
            if answer.failed_actions:
                log.warning("gateway: actions %s failed for %s", answer.failed_actions, conversation.id)
                kind = service.pending_form(session=session, conversation_id=conversation.id)
                replies.append(BotMessage(sender="system", text=NOT_DONE.format(
                    what=NOT_DONE_BY_TICKET.get(kind or "", "您刚才的请求暂时没能办理"))))
            handled_by = "bot"
        rows = service.record_replies(session=session, customer_message=message, replies=replies, now=now)
        if wants_person:  # an agent free now joins (their notice comes after these replies), else the wait
            self._desk.assign(changes)
            session.refresh(conversation)
            state = self._desk.queue_state(session, conversation, now)
            if state is not None:
                replies.append(self._desk.queue_notice(state))
                rows += service.record_replies(session=session, customer_message=message, replies=replies[-1:],
                                               now=now)
        self._desk.turns_stored(changes, conversation, [message, *rows])
        return ChatReply(conversation_id=conversation.id, messages=replies, handled_by=handled_by)

    # ---- late replies ----

    async def _push(self, turn: _Turn, reply: ChatReply) -> None:
        """A reply whose caller got the holding message: to the customer's sockets, or the channel's push."""
        if turn.channel == "web":
            await self._desk.bus.publish({"topic": "customer", "sender_id": turn.sender_id, "frame": {
                "type": "reply", "client_msg_id": turn.client_msg_id, "conversation_id": turn.sender_id,
                "handled_by": reply.handled_by, "messages": [m.model_dump(mode="json") for m in reply.messages],
                "at": to_local(utcnow()).isoformat(timespec="milliseconds")}})
        elif self.outbound is not None:
            await run_in_threadpool(self._push_to_channel, turn, reply)

    def _push_to_channel(self, turn: _Turn, reply: ChatReply) -> None:
        with self._sessionmaker() as session:
            self.outbound(session=session, conversation_id=turn.sender_id, channel=turn.channel,
                          messages=reply.messages, key=f"chat-reply:{turn.message_id}")
            session.commit()

    def sweep_stale(self, *, now: datetime | None = None) -> int:
        """Answer turns left pending by a process that died (fallback, a person asked for); how many."""
        cutoff = (now or utcnow()) - self._stale
        with self._sessionmaker() as session:
            stale = service.pending_turns(session=session, before=cutoff)
        for message in stale:
            if message.id not in self._turns:
                self._settled(_Turn(message.id, message.conversation_id, "", message.text or "", None, HOLDING))
        return len(stale)

    async def run_sweeper(self, every_seconds: float = 60.0) -> None:
        """Sweep stale turns now and then (run as a task by the app's lifespan)."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await run_in_threadpool(self.sweep_stale)
            except Exception:
                log.exception("gateway: sweeping stale turns failed")
