"""Delivers the outbox: SMS through Twilio, chat notices into the customer's conversation.

Runs in the API process by default (embedded mode) and as its own process in production; any
number of workers may run, because each message is claimed before it is sent. A chat notice is stored
in the conversation and published on the live bus, so whichever API process holds the customer's
socket pushes it (with Redis the bus crosses processes; without it, only the worker's own process).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Callable, Protocol

from wechatpy.exceptions import WeChatClientException

from api.core.ids import mask_phone
from api.core.time import utcnow
from api.notify import service
from api.notify.messages import SIGN
from api.notify.models import OutboxMessage
from api.notify.sms import SmsPermanentError, SmsTemporaryError

log = logging.getLogger(__name__)
# WeChat errors no retry will fix: outside the 48-hour window, user unfollowed, openid invalid
PERMANENT_WECHAT_ERRORS = {45015, 45047, 43004, 40003}
# Refusals that mean "WeChat cannot reach this user now": outside the 48-hour window (45015), too many
# messages in it (45047), unfollowed (43004). A customer's message then goes by SMS when a phone is known.
UNREACHABLE_BY_WECHAT = {45015, 45047, 43004}
# Outside the window, or its message limit: a following user can still get a template message.
OUTSIDE_WINDOW = {45015, 45047}
# Notices (by their outbox key's first part) a template message may carry, and what WeChat shows them as;
# conversation lines (an agent's reply, a late answer) are not notices: they go by SMS.
NOTICE_KINDS = {"ticket": "工单进度通知", "alert": "停电通知", "planned": "计划停电通知", "charging-queue": "充电提醒"}
SMS_FALLBACK_CHARS = 300
# WeChat lets an account send customer-service messages for 48 hours after the user last wrote; a little less
# here, so that a message queued at the edge is not refused on the way
WECHAT_WINDOW = timedelta(hours=48) - timedelta(minutes=10)


class Bus(Protocol):
    """The live bus (conversations' LiveBus): publish an event to every process's subscribers."""

    async def publish(self, event: dict) -> None: ...


class WeChatSend(Protocol):
    """Sends a WeChat customer-service text, or a notice as a template message (api/channels/wechat.WeChatSender)."""

    def send(self, *, openid: str, text: str) -> None: ...

    def send_notice(self, *, openid: str, kind: str, text: str, at: datetime) -> bool: ...


class PhoneOfWeChatUser(Protocol):
    """The mobile on file for a WeChat user (by the 户号 they bound), or None."""

    def __call__(self, *, session, openid: str) -> str | None: ...


class WeChatUserLastWrote(Protocol):
    """When a WeChat user last wrote to the account (their conversation's last message), or None."""

    def __call__(self, *, session, openid: str) -> datetime | None: ...


class ChatTranscript(Protocol):
    """Stores a notice in a customer's conversation (the conversations domain's record_notice);
    returns None when there is no such conversation."""

    def __call__(self, *, session, conversation_id: str, text: str, now: datetime) -> object | None: ...


class OutboxWorker:
    """One delivery pass at a time; `run` repeats it."""

    def __init__(self, *, sessionmaker, sms, chat: ChatTranscript, status_callback_url: str | None = None,
                 bus: Bus | None = None, wechat: WeChatSend | None = None,
                 phone_of_wechat_user: PhoneOfWeChatUser | None = None,
                 wechat_user_last_wrote: WeChatUserLastWrote | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessionmaker = sessionmaker
        self.sms = sms  # TwilioSms, or None when SMS is not configured (messages wait in the outbox)
        self.chat = chat
        self.status_callback_url = status_callback_url
        self.bus = bus
        self.wechat = wechat  # None: WeChat not configured (its messages wait in the outbox)
        self.phone_of_wechat_user = phone_of_wechat_user  # for the SMS a WeChat user can't be sent
        # the 48-hour window kept here (None: learnt from WeChat's refusal, errcode 45015)
        self.wechat_user_last_wrote = wechat_user_last_wrote
        self.clock = clock

    def deliver_once(self) -> list[tuple[str, dict]]:
        """Deliver what is due; returns the chat pushes for the event loop to make."""
        pushes: list[tuple[str, dict]] = []
        with self.sessionmaker() as session:
            for message in service.due(session=session, now=self.clock()):
                if (message.channel == "sms" and self.sms is None) or (message.channel == "wechat"
                                                                       and self.wechat is None):
                    continue
                stale = message.status == "sending"
                if not service.claim(session=session, message=message, now=self.clock()):
                    continue
                try:
                    if message.channel == "web":
                        push = self._deliver_web(session, message)
                        if push:
                            pushes.append(push)
                    elif message.channel == "wechat":
                        self._deliver_wechat(session, message)
                    else:
                        self._deliver_sms(session, message, check_provider_first=stale or message.attempts > 1)
                except Exception as exc:  # one bad message must not stop the others: retry it later
                    log.exception("outbox message %s failed unexpectedly", message.id)
                    session.rollback()
                    service.mark_failed(session=session, message=message, now=self.clock(),
                                        error=f"{type(exc).__name__}: {exc}", permanent=False)
        return pushes

    def _deliver_sms(self, session, message: OutboxMessage, *, check_provider_first: bool) -> None:
        now = self.clock()
        try:
            if check_provider_first:  # a retry: did the earlier attempt reach the provider after all?
                earlier = self.sms.find_sent(to=message.recipient, body=message.body, since=message.created_at)
                if earlier is not None:
                    service.mark_sent(session=session, message=message, now=now, provider_sid=earlier.sid,
                                      provider_status=earlier.status)
                    return
            sent = self.sms.send(to=message.recipient, body=message.body, status_callback=self.status_callback_url)
        except SmsPermanentError as exc:
            log.warning("SMS %s to %s refused: %s", message.id, mask_phone(message.recipient), exc)
            service.mark_failed(session=session, message=message, now=now, error=str(exc), permanent=True)
            return
        except SmsTemporaryError as exc:
            log.info("SMS %s to %s will be retried: %s", message.id, mask_phone(message.recipient), exc)
            service.mark_failed(session=session, message=message, now=now, error=str(exc), permanent=False)
            return
        service.mark_sent(session=session, message=message, now=now, provider_sid=sent.sid,
                          provider_status=sent.status)

    def _deliver_wechat(self, session, message: OutboxMessage) -> None:
        """A customer-service message. WeChat refuses one outside the 48 hours after the user last wrote
        (errcode 45015) or to someone who unfollowed (43004): permanent, said in the error. Outside the window a
        notice goes as the account's template message when it has one; otherwise (and to someone who unfollowed)
        a customer's message goes by SMS to the mobile on file of the 户号 they bound, when there is one."""
        now = self.clock()
        if self.wechat_user_last_wrote is not None:
            wrote = self.wechat_user_last_wrote(session=session, openid=message.recipient)
            if wrote is None or now - wrote > WECHAT_WINDOW:  # WeChat would refuse it: not even tried
                if self._send_as_template(message):
                    service.mark_sent(session=session, message=message, now=now, provider_sid=None,
                                      provider_status="template")
                    return
                error = "outside WeChat's 48-hour window" + (
                    f" (the user last wrote {wrote:%Y-%m-%d %H:%M} UTC)" if wrote else " (the user never wrote)")
                if self._fall_back_to_sms(session, message, now):
                    error += "; sent by SMS instead"
                service.mark_failed(session=session, message=message, now=now, permanent=True, error=error)
                return
        try:
            self.wechat.send(openid=message.recipient, text=message.body)
        except WeChatClientException as exc:
            permanent = exc.errcode in PERMANENT_WECHAT_ERRORS
            log.warning("WeChat message %s refused (%s): %s", message.id, exc.errcode, exc.errmsg)
            if exc.errcode in OUTSIDE_WINDOW and self._send_as_template(message):
                service.mark_sent(session=session, message=message, now=now, provider_sid=None,
                                  provider_status="template")
                return
            error = f"wechat {exc.errcode}: {exc.errmsg}"
            if exc.errcode in UNREACHABLE_BY_WECHAT and self._fall_back_to_sms(session, message, now):
                error += "; sent by SMS instead"
            service.mark_failed(session=session, message=message, now=now, permanent=permanent, error=error)
            return
        service.mark_sent(session=session, message=message, now=now, provider_sid=None, provider_status="sent")

    def _send_as_template(self, message: OutboxMessage) -> bool:
        """A customer's notice as the account's template message; whether it went."""
        kind = NOTICE_KINDS.get(message.key.split(":", 1)[0])
        if message.audience != "customer" or kind is None:
            return False
        try:
            return self.wechat.send_notice(openid=message.recipient, kind=kind, text=message.body,
                                           at=message.created_at)
        except WeChatClientException as exc:
            log.warning("WeChat template for message %s refused (%s): %s", message.id, exc.errcode, exc.errmsg)
            return False

    def _fall_back_to_sms(self, session, message: OutboxMessage, now: datetime) -> bool:
        """Queue the message as an SMS to the WeChat user's phone on file; whether one was queued."""
        if message.audience != "customer" or self.phone_of_wechat_user is None:
            return False
        phone = self.phone_of_wechat_user(session=session, openid=message.recipient)
        if not phone:
            return False
        body = message.body if message.body.startswith(SIGN) else SIGN + message.body  # an SMS carries the sender
        service.enqueue(session=session, key=f"{message.key}:sms"[:160], channel="sms", recipient=phone,
                        audience="customer", body=body[:SMS_FALLBACK_CHARS], now=now, ticket_id=message.ticket_id)
        log.info("WeChat message %s sent by SMS to %s instead", message.id, mask_phone(phone))
        return True

    def _deliver_web(self, session, message: OutboxMessage) -> tuple[str, dict] | None:
        now = self.clock()
        notice = self.chat(session=session, conversation_id=message.recipient, text=message.body, now=now)
        if notice is None:
            service.mark_failed(session=session, message=message, now=now, permanent=True,
                                error="conversation not found")
            return None
        service.mark_sent(session=session, message=message, now=now, provider_sid=None, provider_status="stored")
        return message.recipient, {"type": "reply", "handled_by": "system", "at": now.isoformat(),
                                   "messages": [{"text": message.body, "buttons": [], "image": None}]}

    async def deliver_and_push(self) -> int:
        """One pass: deliver what is due, then publish the chat notices for the customers' sockets; how many."""
        pushes = await asyncio.to_thread(self.deliver_once)
        if self.bus is not None:
            for conversation_id, payload in pushes:
                await self.bus.publish({"topic": "customer", "sender_id": conversation_id, "frame": payload})
        return len(pushes)

    async def run(self, every_seconds: float = 1.0) -> None:
        """Deliver forever; a failing pass is logged and the next one tries again."""
        while True:
            try:
                await self.deliver_and_push()
            except Exception:
                log.exception("outbox pass failed")
            await asyncio.sleep(every_seconds)
