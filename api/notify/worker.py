"""Delivers the outbox: SMS through Twilio, chat notices into the customer's conversation.

Runs in the API process by default (embedded mode) and as its own process in production; any
number of workers may run, because each message is claimed before it is sent.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable, Protocol

from api.core.ids import mask_phone
from api.core.time import utcnow
from api.notify import service
from api.notify.models import OutboxMessage
from api.notify.sms import SmsPermanentError, SmsTemporaryError

log = logging.getLogger(__name__)


class ChatTranscript(Protocol):
    """Stores a notice in a customer's conversation (the conversations domain's record_notice);
    returns None when there is no such conversation."""

    def __call__(self, *, session, conversation_id: str, text: str, now: datetime) -> object | None: ...


class OutboxWorker:
    """One delivery pass at a time; `run` repeats it."""

    def __init__(self, *, sessionmaker, sms, chat: ChatTranscript, status_callback_url: str | None = None,
                 connections=None, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessionmaker = sessionmaker
        self.sms = sms  # TwilioSms, or None when SMS is not configured (messages wait in the outbox)
        self.chat = chat
        self.status_callback_url = status_callback_url
        self.connections = connections
        self.clock = clock

    def deliver_once(self) -> list[tuple[str, dict]]:
        """Deliver what is due; returns the chat pushes for the event loop to make."""
        pushes: list[tuple[str, dict]] = []
        with self.sessionmaker() as session:
            for message in service.due(session=session, now=self.clock()):
                if message.channel == "sms" and self.sms is None:
                    continue
                stale = message.status == "sending"
                if not service.claim(session=session, message=message, now=self.clock()):
                    continue
                try:
                    if message.channel == "web":
                        push = self._deliver_web(session, message)
                        if push:
                            pushes.append(push)
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

    async def run(self, every_seconds: float = 1.0) -> None:
        """Deliver forever; a failing pass is logged and the next one tries again."""
        while True:
            try:
                pushes = await asyncio.to_thread(self.deliver_once)
                if self.connections is not None:
                    for conversation_id, payload in pushes:
                        await self.connections.push(conversation_id, payload)
            except Exception:
                log.exception("outbox pass failed")
            await asyncio.sleep(every_seconds)
