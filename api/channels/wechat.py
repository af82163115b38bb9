"""WeChat official account: the server URL WeChat calls, in plain or safe (AES) mode, and the way back.

GET /wechat answers WeChat's URL check (signature over token, timestamp, nonce). POST /wechat takes a
message: the signature is checked, a timestamp more than 5 minutes off is refused, and a (timestamp,
nonce) seen before is a replay and refused. Text, voice (WeChat's recognition text), location and menu
clicks become a customer turn of the conversation ``wx-<openid>`` through the gateway; its answer is the
passive reply when ready within WeChat's 5 seconds, else the passive reply is a holding message and the
answer follows as a customer-service message (through the outbox, so it is sent once and retried).
Account commands (我的户号, 切换N, 解绑N, 绑定新户号) are answered by wechat_accounts.py before the bot.
Images are fetched from WeChat's media API (its copy expires after three days) and kept in the
conversation (api.conversations: customer_images), where the agent console shows them; subscribing gets
the welcome. The access token is cached in Redis when
REDIS_URL is set, in the database otherwise: either way shared by every process and refreshed under a
lock a minute before expiry.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import redis as redis_lib
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from wechatpy import WeChatClient, create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.utils import check_signature

from api.channels import wechat_accounts as accounts
from api.conversations import service as conversations
from api.conversations.desk import AgentDesk
from api.conversations.gateway import ChatGateway
from api.conversations.rasa import RasaClient
from api.conversations.schemas import BotMessage
from api.core.deps import app_part
from api.core.errors import Forbidden, Invalid, NotFound
from api.core.ratelimit import RateLimiter, Rule
from api.core.time import to_local, utcnow
from api.db import make_engine, make_sessionmaker
from api.notify import service as notify
from api.settings import Settings

log = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300  # a message signed further from now is stale (or replayed later)
NONCES = Rule("wechat.nonce", 1, 2 * MAX_SKEW_SECONDS)  # each (timestamp, nonce) once while it could be valid
PASSIVE_SECONDS = 4.0  # WeChat waits 5 s for the passive reply, then retries the message
REFRESH_AHEAD = 60  # seconds before expiry when a token is no longer handed out
NOTICE_CHARS = 200  # a template field's text, as WeChat takes it
WELCOME = ("您好，欢迎关注国网固原供电！我是智能客服，可以帮您查电费、余额和用电量，报修停电等故障，"
           "查询停电信息和工单进度，也可以随时回复“人工客服”。直接发文字或语音就行。")
IMAGE_RECEIVED = "已收到您的图片。如果是报修，请再用文字或语音简单说说情况和地址，我马上为您登记。"
IMAGE_NOT_RECEIVED = "抱歉，这张图片没有接收成功，请稍后再发一次，或者直接用文字、语音说说情况。"
IMAGE_DOWNLOAD_SECONDS = 3.5  # within WeChat's 5 seconds for the passive reply
UNSUPPORTED = "抱歉，这类消息我暂时看不了，请直接发文字或语音告诉我您要办的事。"
# The menu (python -m api.channels.wechat menu): each click is said to the bot as these words.
MENU_CLICKS = {"BILL": "查电费", "REPAIR": "我要报修", "OUTAGE": "最近有停电吗", "HUMAN": "转人工",
               "ACCOUNTS": "我的户号"}
MENU = {"button": [{"type": "click", "name": "查电费", "key": "BILL"},
                   {"type": "click", "name": "故障报修", "key": "REPAIR"},
                   {"name": "更多服务", "sub_button": [{"type": "click", "name": "停电信息", "key": "OUTAGE"},
                                                   {"type": "click", "name": "人工客服", "key": "HUMAN"},
                                                   {"type": "click", "name": "我的户号", "key": "ACCOUNTS"}]}]}

wechat_router = APIRouter(tags=["wechat"])


def conversation_of(openid: str) -> str:
    """The conversation id of a WeChat user (an openid is 28 URL-safe characters)."""
    return f"wx-{openid}"


def reply_text(messages: list[BotMessage]) -> str:
    """The bot's replies as one WeChat text: the texts, then the buttons as words to reply with."""
    lines = [m.text for m in messages if m.text]
    choices = [b.title for m in messages for b in m.buttons]
    if choices:
        lines.append("您可以回复：" + " / ".join(choices))
    return "\n".join(lines)[:2000]  # WeChat's limit for a text message


class RedisTokens(MemoryStorage):
    """wechatpy's token storage in Redis with an expiry, so every process uses one token."""

    def __init__(self, redis, prefix: str):
        super().__init__()
        self.redis, self.prefix = redis, prefix

    def get(self, key, default=None):
        value = self.redis.get(f"{self.prefix}:{key}")
        return value.decode() if value is not None else default

    def set(self, key, value, ttl=None):
        self.redis.set(f"{self.prefix}:{key}", value, ex=max(1, int(ttl) - REFRESH_AHEAD) if ttl else None)

    def delete(self, key):
        self.redis.delete(f"{self.prefix}:{key}")


class DatabaseTokens(MemoryStorage):
    """wechatpy's token storage in the database (no Redis), so every process uses one token."""

    def __init__(self, sessionmaker: sessionmaker, prefix: str):
        super().__init__()
        self._sessionmaker, self.prefix = sessionmaker, prefix

    def get(self, key, default=None):
        with self._sessionmaker() as session:
            return notify.get_token(session=session, key=f"{self.prefix}:{key}", now=utcnow()) or default

    def set(self, key, value, ttl=None):
        expires = utcnow() + timedelta(seconds=max(1, int(ttl) - REFRESH_AHEAD)) if ttl else None
        with self._sessionmaker() as session:
            notify.put_token(session=session, key=f"{self.prefix}:{key}", value=str(value), expires_at=expires)
            session.commit()

    def delete(self, key):
        with self._sessionmaker() as session:
            notify.put_token(session=session, key=f"{self.prefix}:{key}", value=None, expires_at=None)
            session.commit()


class DatabaseLock:
    """The token refresh lock through the database: a row held for at most 30 s (a holder that dies
    frees it by running out), waited for up to 30 s."""

    def __init__(self, sessionmaker: sessionmaker, key: str):
        self._sessionmaker, self.key = sessionmaker, key

    def __enter__(self):
        deadline = time.monotonic() + 30
        while True:
            with self._sessionmaker() as session:
                if notify.take_lock(session=session, key=self.key, now=utcnow(), hold=timedelta(seconds=30)):
                    return self
            if time.monotonic() > deadline:
                raise TimeoutError("the WeChat token refresh lock is held by another process")
            time.sleep(0.1)

    def __exit__(self, *exc):
        with self._sessionmaker() as session:
            notify.release_lock(session=session, key=self.key)


class SharedTokenClient(WeChatClient):
    """A WeChatClient whose token refresh runs under a lock shared by processes (Redis, or the database)
    and first looks whether another process refreshed meanwhile, so processes don't invalidate each
    other's token."""

    def __init__(self, *args, lock=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = lock or threading.Lock()

    def fetch_access_token(self):
        """The token from API_BASE_URL (wechatpy hard-codes WeChat's host; a local fake replaces it in tests)."""
        return self._fetch_access_token(url=self.API_BASE_URL + "token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})

    @property
    def access_token(self):
        token = self.session.get(self.access_token_key)
        if token and (self.expires_at is None or self.expires_at - time.time() > REFRESH_AHEAD):
            return token
        with self._lock:
            token = self.session.get(self.access_token_key)  # refreshed by another process meanwhile?
            if token and (self.expires_at is None or self.expires_at - time.time() > REFRESH_AHEAD):
                return token
            self.fetch_access_token()
            return self.session.get(self.access_token_key)


def make_client(settings: Settings) -> WeChatClient | None:
    """The customer-service message client, or None when the account is not configured."""
    if not (settings.wechat_app_id and settings.wechat_app_secret):
        return None
    prefix = f"zhidian:wechat:{settings.wechat_app_id}"
    if settings.redis_url:
        redis = redis_lib.Redis.from_url(settings.redis_url, socket_timeout=5)
        session, lock = RedisTokens(redis, prefix=prefix), redis.lock(f"{prefix}:token-lock", timeout=30,
                                                                      blocking_timeout=30)
    else:  # the database every process shares
        database = make_sessionmaker(make_engine(settings.database_url))
        session, lock = DatabaseTokens(database, prefix=prefix), DatabaseLock(database, f"{prefix}:token-lock")
    client = SharedTokenClient(settings.wechat_app_id, settings.wechat_app_secret, session=session, lock=lock,
                               timeout=10)
    client.API_BASE_URL = settings.wechat_api_base
    return client


def user_last_wrote(*, session: Session, openid: str) -> datetime | None:
    """When a WeChat user last wrote to the account: the outbox keeps WeChat's 48-hour window by it."""
    return conversations.last_customer_message_at(session=session, conversation_id=conversation_of(openid))


def queue_wechat_reply(*, session: Session, conversation_id: str, channel: str, messages: list[BotMessage],
                       key: str) -> None:
    """Lines to a WeChat user (a late answer, an agent's reply) as a customer-service message, queued in
    the outbox in the caller's transaction (api.conversations.desk.Outbound)."""
    body = reply_text(messages)
    if channel != "wechat" or not conversation_id.startswith("wx-") or not body:
        return
    notify.enqueue(session=session, key=key, channel="wechat", recipient=conversation_id[3:],
                   audience="customer", body=body, now=utcnow())


class WeChatSender:
    """Sends a customer-service text (the outbox worker's channel "wechat") and, outside the 48-hour window, a
    notice as a template message when the official account has one (WECHAT_NOTICE_TEMPLATE_ID).

    The template is the account's own 服务进度提醒-style template with the fields first (the headline), keyword1
    (服务类型), keyword2 (通知时间) and remark (the notice itself), as WeChat's template library lays them out."""

    def __init__(self, client: WeChatClient, notice_template_id: str | None = None):
        self.client = client
        self.notice_template_id = notice_template_id

    def send(self, *, openid: str, text: str) -> None:
        self.client.message.send_text(openid, text)

    def send_notice(self, *, openid: str, kind: str, text: str, at: datetime) -> bool:
        """The notice as a template message; False when the account has no notice template."""
        if not self.notice_template_id:
            return False
        local = to_local(at)
        self.client.message.send_template(openid, self.notice_template_id, data={
            "first": {"value": f"您有一条{kind}"}, "keyword1": {"value": kind},
            "keyword2": {"value": f"{local.month}月{local.day}日 {local:%H:%M}"},
            "remark": {"value": text[:NOTICE_CHARS]}})
        return True


def _verify(settings: Settings, signature: str, timestamp: str, nonce: str) -> None:
    if not settings.wechat_token:
        raise NotFound("wechat_not_configured", "WeChat is not configured")
    try:
        check_signature(settings.wechat_token, signature, timestamp, nonce)
    except InvalidSignatureException as exc:
        raise Forbidden("bad_signature", "签名校验失败") from exc


def _fresh_once(limiter: RateLimiter, timestamp: str, nonce: str) -> None:
    """Refuse a stale message and one whose (timestamp, nonce) was seen: a replay."""
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError as exc:
        raise Forbidden("bad_timestamp", "时间戳无效") from exc
    if skew > MAX_SKEW_SECONDS:
        raise Forbidden("stale_message", "消息已过期")
    if not limiter.hit(NONCES, f"{timestamp}:{nonce}").allowed:
        raise Forbidden("replayed_message", "重复的消息")


@wechat_router.get("/wechat", response_class=Response)
def verify_url(request: Request, signature: str = Query(max_length=64), timestamp: str = Query(max_length=16),
               nonce: str = Query(max_length=64), echostr: str = Query(max_length=256)) -> Response:
    """WeChat's server URL check: the echo string back when the signature is ours."""
    _verify(request.app.state.settings, signature, timestamp, nonce)
    return Response(content=echostr, media_type="text/plain")


@wechat_router.post("/wechat", response_class=Response)
async def receive(request: Request, signature: str = Query(max_length=64), timestamp: str = Query(max_length=16),
                  nonce: str = Query(max_length=64), encrypt_type: str | None = Query(default=None, max_length=8),
                  msg_signature: str | None = Query(default=None, max_length=64),
                  gateway: ChatGateway | None = app_part("gateway"), bot: RasaClient | None = app_part("bot"),
                  sessions: sessionmaker | None = app_part("sessionmaker"), desk: AgentDesk | None = app_part("desk"),
                  client: WeChatClient | None = app_part("wechat_client")) -> Response:
    """A message from a WeChat user: checked, answered passively within 5 s (or held and pushed later)."""
    settings: Settings = request.app.state.settings
    _verify(settings, signature, timestamp, nonce)
    await run_in_threadpool(_fresh_once, request.app.state.limiter, timestamp, nonce)
    body = (await request.body())[:64_000]
    crypto = None
    if encrypt_type == "aes":
        if not settings.wechat_aes_key:
            raise Forbidden("aes_not_configured", "未配置消息加密密钥")
        crypto = WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_app_id)
        try:
            body = crypto.decrypt_message(body, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise Forbidden("bad_signature", "签名校验失败") from exc
    try:
        message = parse_message(body)
    except Exception as exc:  # noqa: BLE001 - malformed XML from whoever signed it: refused clearly
        raise Forbidden("bad_message", "消息格式无效") from exc
    if message.type == "image":
        text = await _keep_image(message, client=client, desk=desk)
    else:
        text = await _answer(message, gateway, bot, sessions)
    if text is None:
        return Response(content="success", media_type="text/plain")
    xml = create_reply(text, message, render=True)
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, timestamp)
    return Response(content=xml, media_type="application/xml")


async def _answer(message: Any, gateway: ChatGateway | None, bot: RasaClient | None,
                  sessions: sessionmaker | None) -> str | None:
    """The passive reply's text (None: nothing to say)."""
    said = _words(message)
    if said is None:
        if message.type == "event" and message.event == "subscribe":
            return WELCOME
        return None if message.type == "event" else UNSUPPORTED
    if gateway is None:
        return "客服系统正在启动，请稍后再发一次。"
    key = message_key(message)
    command = accounts.parse(said)
    if command is not None:  # 我的户号, 切换N, 解绑N, 绑定新户号: the user's bound accounts
        return reply_text(await accounts.answer(command=command, said=said, conversation_id=conversation_of(
            message.source), key=key, sessionmaker=sessions, bot=bot)) or None
    await gateway.admit(sender_id=conversation_of(message.source), channel="wechat", secret=None, trusted=True,
                        address=None, client_msg_id=key)
    reply = await gateway.handle(sender_id=conversation_of(message.source), text=said, channel="wechat",
                                 client_msg_id=key, hold_seconds=PASSIVE_SECONDS)
    return reply_text(reply.messages) or None


def message_key(message: Any) -> str:
    """The message's own id (WeChat pushes a message again when we were slow): the turn's client id."""
    return f"wx-{getattr(message, 'id', None) or f'{message.source}-{message.create_time}'}"[:64]


async def _keep_image(message: Any, *, client: WeChatClient | None, desk: AgentDesk | None) -> str:
    """Fetch the picture from WeChat and keep it as a line of the user's conversation (shown live to an agent
    who holds it); the reply says whether it arrived."""
    if client is None or desk is None:
        log.warning("wechat image from %s not kept: the account's API is not configured", message.source[:6])
        return IMAGE_NOT_RECEIVED
    try:
        response = await asyncio.wait_for(run_in_threadpool(client.media.download, message.media_id),
                                          IMAGE_DOWNLOAD_SECONDS)
        data = response.content
    except Exception as exc:  # noqa: BLE001 - WeChat slow, refusing or unreachable: the user is asked again
        log.warning("wechat image %s not fetched: %s", message.media_id, exc)
        return IMAGE_NOT_RECEIVED

    def keep() -> None:
        with desk.transaction() as changes:
            line = conversations.record_customer_image(
                session=changes.session, conversation_id=conversation_of(message.source), channel="wechat",
                data=data, source_ref=message.media_id, client_msg_id=message_key(message), now=utcnow())
            desk.turns_stored(changes, conversations.get_row(session=changes.session,
                                                             conversation_id=line.conversation_id), [line])

    try:
        await run_in_threadpool(keep)
    except Invalid:  # not a picture we can show (or over 5 MB)
        return UNSUPPORTED
    return IMAGE_RECEIVED


def _words(message: Any) -> str | None:
    """What the user said, as text for the bot: typed, spoken (WeChat's recognition), where they are, or
    the words of a menu click; None for anything else."""
    if message.type == "text":
        return message.content
    if message.type == "voice":
        return message.recognition or None
    if message.type == "location":
        return f"我在{message.label}" if message.label else None
    if message.type == "event" and message.event == "click":
        return MENU_CLICKS.get(message.key)
    return None


def create_menu(settings: Settings) -> None:
    """Create the official account's menu (查电费, 故障报修, 停电信息, 人工客服, 我的户号) through WeChat's API."""
    client = make_client(settings)
    if client is None:
        raise SystemExit("WECHAT_APP_ID and WECHAT_APP_SECRET must be set")
    client.menu.create(MENU)


if __name__ == "__main__":  # python -m api.channels.wechat menu
    import sys

    from api.settings import get_settings

    if sys.argv[1:] != ["menu"]:
        raise SystemExit("usage: python -m api.channels.wechat menu")
    create_menu(get_settings())
    print("微信公众号菜单已创建：查电费 / 故障报修 / 更多服务（停电信息、人工客服、我的户号）")
