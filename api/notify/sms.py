"""SMS through Twilio: the one sender notify uses, and the check of Twilio's webhook signatures.

`SmsSender` is the interface; `TwilioSms` its one real implementation, built on the official
`twilio` SDK. Tests point it at a local fake Twilio (`base_url`); nothing here runs at import.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from api.core.ids import mask_phone

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class SmsError(Exception):
    """Twilio did not take the message; `status` (HTTP) and `code` (Twilio's) when it answered."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class SmsTemporaryError(SmsError):
    """Network error, timeout, 5xx or 429: send again later."""


class SmsPermanentError(SmsError):
    """Any other 4xx (bad credentials, invalid number 21211, …): dead-letter, do not retry."""


@dataclass(frozen=True)
class SmsSent:
    sid: str     # SM…
    status: str  # "queued" (from a number) or "accepted" (through a messaging service)


class SmsSender(Protocol):
    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsSent: ...

    def valid_signature(self, url: str, params: dict[str, str], signature: str | None) -> bool: ...


class _RebasedHttpClient(TwilioHttpClient):
    """Twilio's documented hook for another host: an HTTP client that rewrites the URL.

    The SDK always builds https://api.twilio.com/2010-04-01/…; this keeps the path and query and
    swaps the origin for `base_url` (which may carry a path prefix of its own).
    """

    def __init__(self, base_url: str, *, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args, **kwargs) -> Response:
        parts = urlsplit(url)
        if (parts.hostname or "").endswith("twilio.com"):
            url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def e164(number: str) -> str:
    """Mainland mobile numbers as Twilio wants them: 13900000001 → +8613900000001."""
    digits = number.strip()
    if digits.startswith("+"):
        return digits
    return f"+86{digits}" if len(digits) == 11 and digits.startswith("1") else digits


def national(number: str) -> str:
    """What Twilio gives back, as numbers are stored: +8613900000001 → 13900000001."""
    digits = number.strip()
    return digits[3:] if digits.startswith("+86") else digits


class TwilioSms:
    """Sends SMS with Twilio's Messages API and checks X-Twilio-Signature on its webhooks."""

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str | None = None,
                 messaging_service_sid: str | None = None, base_url: str | None = None,
                 timeout: float = 10.0):
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not from_number and not messaging_service_sid:
            raise ValueError("Twilio needs a from number or a messaging service SID")
        self.account_sid = account_sid
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.base_url = (base_url or TWILIO_API).rstrip("/")
        http = (_RebasedHttpClient(base_url, timeout=timeout) if base_url
                else TwilioHttpClient(timeout=timeout))
        # An explicit environment: the SDK must not pick up TWILIO_EDGE / TWILIO_REGION (which
        # rewrite the host) or fall back to TWILIO_AUTH_TOKEN; settings are the only source.
        self._client = Client(account_sid, auth_token, http_client=http,
                              environment={"TWILIO_ACCOUNT_SID": account_sid})
        self._validator = RequestValidator(auth_token)

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsSent:
        """Hand one SMS to Twilio; raises SmsTemporaryError (retry) or SmsPermanentError (don't)."""
        masked = mask_phone(to)
        try:
            message = self._client.api.v2010.accounts(self.account_sid).messages.create(
                to=e164(to),
                body=body,
                from_=self.from_number or values.unset,
                messaging_service_sid=self.messaging_service_sid or values.unset,
                status_callback=status_callback or values.unset,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._rejected(exc, to) from exc
        except requests.RequestException as exc:  # refused, reset, DNS, connect/read timeout
            log.warning("sms to %s not sent, Twilio unreachable: %s", masked, type(exc).__name__)
            raise SmsTemporaryError(f"Twilio unreachable: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a 2xx whose body is not Twilio's JSON
            log.warning("sms to %s: unreadable answer from Twilio", masked)
            raise SmsTemporaryError(f"unreadable answer from Twilio: {exc}") from exc
        log.info("sms to %s accepted by Twilio: %s %s", masked, message.sid, message.status)
        return SmsSent(sid=message.sid, status=message.status)

    def find_sent(self, *, to: str, body: str, since: datetime) -> SmsSent | None:
        """A message with this text to this number that Twilio accepted since `since`, if any.

        Asked before a retry: when an earlier attempt reached Twilio but its answer was lost
        (the worker died, the connection broke), the message is not sent a second time.
        """
        try:
            found = self._client.api.v2010.accounts(self.account_sid).messages.list(to=e164(to), limit=50)
        except (TwilioException, TwilioServiceException, requests.RequestException, ValueError) as exc:
            raise SmsTemporaryError(f"cannot check earlier attempts: {type(exc).__name__}") from exc
        for message in found:
            created = message.date_created
            if message.body == body and (created is None or created >= since - timedelta(minutes=1)):
                return SmsSent(sid=message.sid, status=message.status)
        return None

    def valid_signature(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        """True when X-Twilio-Signature matches the exact URL Twilio requested and its form fields."""
        if not signature:
            return False
        return self._validator.validate(url, params or {}, signature)

    def close(self) -> None:
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()

    def _rejected(self, exc: TwilioRestException | TwilioServiceException, to: str) -> SmsError:
        status = exc.status
        if isinstance(exc, TwilioServiceException):
            text = exc.detail or exc.title
        else:
            text = exc.msg
        text = str(text or "").replace(to, mask_phone(to) or "")  # Twilio repeats the number
        temporary = status is None or status >= 500 or status == 429
        log.warning("sms to %s refused by Twilio: HTTP %s code %s (%s)", mask_phone(to), status,
                    exc.code, "will retry" if temporary else "permanent")
        kind = SmsTemporaryError if temporary else SmsPermanentError
        return kind(f"Twilio HTTP {status}, code {exc.code}: {text}", status=status, code=exc.code)
