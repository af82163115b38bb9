"""A local stand-in for Twilio: the Messages REST API the real `twilio` SDK talks to, and its webhooks.

Point the real client at it with `TwilioSms(..., base_url=fake.url)`. It speaks Twilio's wire
format: form-encoded POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic auth,
201 + the Message JSON, Twilio's error JSON ({"code", "message", "more_info", "status"}).

Failure injection:
- `fail_next(n, status=500)`: the next n requests to the API answer that status with Twilio's
  error body (500 → 20500, 503 → 20503, 429 → 20429), before authentication.
- `reject_numbers({...})`: those To numbers get 400 / 21211 "… is not a valid phone number".
- `down()` / `up()`: down CLOSES THE LISTENING SOCKET, so connections are refused at once; up
  listens again on the same port (same `url`).
- `delay(seconds)`: every request stalls that long before it is handled (a client timeout
  shorter than that gives up; the request is still handled afterwards, as a slow Twilio would).
- `fail_delivery({...}, status="undelivered" | "failed")`: status callbacks for those numbers.

Status callbacks: a message sent with StatusCallback is followed, in one background thread and in
order, by form POSTs of "sent" then "delivered" ("sent" then "undelivered", or just "failed"),
signed with the auth token like Twilio does. `valid_callback_signatures = False` signs them with
a wrong key. `wait_for_callbacks(n)` waits until n have been posted; `callbacks` lists them.

`post_inbound(url, from_=…, to=…, body=…)` posts an incoming SMS webhook as Twilio does.
"""
from __future__ import annotations

import base64
import json
import math
import queue
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
PHONE = re.compile(r"\+?[1-9]\d{6,14}")
SERVICE_FROM = "+15005550006"  # the pool number a messaging service "picks" in callbacks
ERROR_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
ERROR_TEXTS = {
    401: "Authenticate",
    404: "The requested resource was not found",
    429: "Too Many Requests",
    500: "An internal server error has occurred",
    503: "Service is unavailable. Please try again",
}
DELIVERY_ERRORS = {"undelivered": 30003, "failed": 30008}  # unreachable handset / unknown error


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def segments(body: str) -> int:
    """GSM-7 (160, 153 per part) when ASCII, else UCS-2 (70, 67 per part): Chinese is UCS-2."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / part)


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> dict:
    code = code or ERROR_CODES.get(status, 20500 if status >= 500 else 21000)
    return {"code": code, "message": message or ERROR_TEXTS.get(status, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # down()/stop() never wait for a stalled request
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout): fine
        pass


class FakeTwilio:
    """Twilio's Messages API and webhooks on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None):
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.valid_callback_signatures = True
        self.callback_interval = 0.0  # seconds before each status callback
        self._lock = threading.Condition()
        self._messages: list[dict] = []
        self._callbacks: list[dict] = []
        self._failures: list[tuple[int, dict]] = []
        self._rejected: set[str] = set()
        self._outcomes: dict[str, str] = {}
        self._delay = 0.0
        self._port = 0
        self._server: _Server | None = None
        self._serving: threading.Thread | None = None
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        self.up()
        self._stopping = False
        self._worker = threading.Thread(target=self._deliver_callbacks, name="fake-twilio-callbacks",
                                        daemon=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        self.down()
        self._stopping = True
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout=10)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the REST API (what TwilioSms takes as base_url); stable across down/up."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        """Listen (again, on the same port once it has one)."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self._port), self._handler())
        self._port = self._server.server_address[1]
        self._serving = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                         name="fake-twilio", daemon=True)
        self._serving.start()

    def down(self) -> None:
        """Close the listening socket: new connections are refused until up()."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    # ---- what was sent, what to do next ----------------------------------------------------

    @property
    def messages(self) -> list[dict]:
        """Every accepted message as Twilio returned it, plus its `status_callback`; a copy."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def callbacks(self) -> list[dict]:
        """Status callbacks posted so far: url, params, signature, status_code (None: unreachable)."""
        with self._lock:
            return [dict(c) for c in self._callbacks]

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[dict]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._callbacks) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._callbacks)} of {count} status callbacks posted")
            return [dict(c) for c in self._callbacks]

    def fail_next(self, n: int = 1, status: int = 500, *, code: int | None = None,
                  message: str | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, twilio_error(status, code, message))] * n)

    def reject_numbers(self, numbers) -> None:
        """Answer 400 / 21211 for these numbers from now on."""
        with self._lock:
            self._rejected |= set(numbers)

    def accept_numbers(self, numbers) -> None:
        """Stop rejecting these numbers (the supervisor fixed the cause)."""
        with self._lock:
            self._rejected -= set(numbers)

    def fail_delivery(self, numbers, status: str = "undelivered") -> None:
        if status not in DELIVERY_ERRORS:
            raise ValueError(f"status must be one of {sorted(DELIVERY_ERRORS)}")
        with self._lock:
            self._outcomes.update({number: status for number in numbers})

    def delay(self, seconds: float) -> None:
        self._delay = float(seconds)

    def reset(self) -> None:
        """Forget failures, rejections, delay and records (keeps credentials and port)."""
        with self._lock:
            self._messages.clear()
            self._callbacks.clear()
            self._failures.clear()
            self._rejected.clear()
            self._outcomes.clear()
        self._delay = 0.0
        self.valid_callback_signatures = True

    # ---- webhooks to the application -------------------------------------------------------

    def signature(self, url: str, params: dict[str, str], *, valid: bool = True) -> str:
        """X-Twilio-Signature for a POST of `params` to `url` (or a well-formed wrong one)."""
        key = self.auth_token if valid else "not-" + self.auth_token
        return RequestValidator(key).compute_signature(url, params)

    def post_inbound(self, url: str, *, from_: str, to: str, body: str,
                     valid_signature: bool = True) -> httpx.Response:
        """An incoming SMS as Twilio posts it to the number's messaging webhook."""
        sid = new_sid("SM")
        params = {
            "ToCountry": "CN", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
            "SmsStatus": "received", "Body": body, "To": to, "NumSegments": str(segments(body)),
            "MessageSid": sid, "AccountSid": self.account_sid, "From": from_,
            "ApiVersion": API_VERSION,
        }
        return httpx.post(url, data=params, timeout=30, headers=self._webhook_headers(
            self.signature(url, params, valid=valid_signature)))

    # ---- internals -------------------------------------------------------------------------

    def _webhook_headers(self, signature: str) -> dict[str, str]:
        return {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": str(uuid.uuid4())}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer(*fake._handle("GET", self.path, self.headers.get("Authorization"), {}))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                self._answer(*fake._handle("POST", self.path, self.headers.get("Authorization"), form))

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _authorized(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and secrets.compare_digest(password, self.auth_token)

    def _handle(self, method: str, path: str, authorization: str | None, form: dict) -> tuple[int, dict]:
        if self._delay:
            time.sleep(self._delay)
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
        if not self._authorized(authorization):
            return 401, twilio_error(401)
        match = MESSAGES_PATH.match(path.split("?", 1)[0])
        if not match or match["account"] != self.account_sid:
            return 404, twilio_error(404)
        if method == "GET":
            return self._list_messages(dict(parse_qsl(path.partition("?")[2])))
        return self._create_message(form)

    def _list_messages(self, query: dict) -> tuple[int, dict]:
        """GET Messages.json?To=…: what the SDK's messages.list(to=…) reads (one page, newest first)."""
        with self._lock:
            found = [m for m in reversed(self._messages) if not query.get("To") or m["to"] == query["To"]]
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        public = [{k: v for k, v in m.items() if k != "status_callback"} for m in found]
        return 200, {"messages": public, "page": 0, "page_size": 50, "start": 0,
                     "end": max(len(found) - 1, 0), "uri": uri, "first_page_uri": uri,
                     "next_page_uri": None, "previous_page_uri": None}

    def _create_message(self, form: dict) -> tuple[int, dict]:
        to, from_ = form.get("To", ""), form.get("From", "")
        service, body = form.get("MessagingServiceSid", ""), form.get("Body", "")
        if not to:
            return 400, twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            return 400, twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return 400, twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return 400, twilio_error(400, 21617, "The concatenated message body exceeds the 1600 "
                                                 "character limit.")
        with self._lock:
            rejected = to in self._rejected
        if rejected or not PHONE.fullmatch(to):
            return 400, twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")

        sid, now = new_sid("SM"), format_datetime(datetime.now(timezone.utc))
        resource = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        message = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": from_ or None,
            "messaging_service_sid": service or None, "num_media": "0",
            "num_segments": str(segments(body)), "price": None, "price_unit": "USD", "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": f"{resource}/Media.json"}, "to": to,
            "uri": f"{resource}.json",
        }
        callback = form.get("StatusCallback") or None
        with self._lock:
            self._messages.append({**message, "status_callback": callback})
            outcome = self._outcomes.get(to, "delivered")
        if callback:
            self._enqueue_callbacks(callback, message, outcome)
        return 201, message

    def _enqueue_callbacks(self, url: str, message: dict, outcome: str) -> None:
        steps = {"delivered": ["sent", "delivered"], "undelivered": ["sent", "undelivered"],
                 "failed": ["failed"]}[outcome]
        for status in steps:
            params = {"SmsSid": message["sid"], "SmsStatus": status, "MessageStatus": status,
                      "To": message["to"], "MessageSid": message["sid"],
                      "AccountSid": self.account_sid, "From": message["from"] or SERVICE_FROM,
                      "ApiVersion": API_VERSION}
            if message["messaging_service_sid"]:
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            if status in DELIVERY_ERRORS:
                params["ErrorCode"] = str(DELIVERY_ERRORS[status])
            # signed now, so flipping valid_callback_signatures affects later messages only
            self._queue.put((url, params, self.signature(url, params, valid=self.valid_callback_signatures)))

    def _deliver_callbacks(self) -> None:
        with httpx.Client(timeout=5) as http:
            while True:
                item = self._queue.get()
                if item is None or self._stopping:
                    return
                url, params, signature = item
                if self.callback_interval:
                    time.sleep(self.callback_interval)
                try:
                    status_code = http.post(url, data=params,
                                            headers=self._webhook_headers(signature)).status_code
                except httpx.HTTPError:
                    status_code = None
                with self._lock:
                    self._callbacks.append({"url": url, "params": params, "signature": signature,
                                            "status_code": status_code})
                    self._lock.notify_all()
