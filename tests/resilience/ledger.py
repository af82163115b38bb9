"""What a client sent and what the API acknowledged, and the database checked against it afterwards.

Shared by the API-crash test and bench/soak.py. A client that loses its connection (the API was
killed) keeps the request as unacknowledged and sends it again, with the same idempotency key,
once the API is back, as a real client would. Afterwards:
- every report acknowledged or retried exists as exactly one ticket (by key and by its unique text);
- no ticket step happened twice (one event per status reached);
- every SMS in the outbox went to Twilio exactly once (the fake's record against the outbox rows).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

import api.models  # noqa: F401 (every table, so foreign keys resolve)
from api.conversations.service import record_notice
from api.core.time import utcnow
from api.db import make_sessionmaker
from api.notify.models import OutboxMessage
from api.notify.service import LEASE, RETRYABLE
from api.notify.sms import TwilioSms, e164
from api.notify.worker import OutboxWorker
from api.tickets.lifecycle import ACTIONS
from api.tickets.models import Ticket, TicketEvent
from tests.conftest import TEST_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CREW_STEPS = ("accept", "arrive", "resolve")


@dataclass
class Ledger:
    """The client's side: reports by idempotency key, transitions, and what was acknowledged."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    reports: dict[str, dict] = field(default_factory=dict)  # key -> the request body
    acked: dict[str, str] = field(default_factory=dict)  # key -> ticket number
    dispatched: list[str] = field(default_factory=list)  # numbers given to a crew at once (steps to take)
    unacked: set[str] = field(default_factory=set)  # keys sent without an answer (connection lost, 5xx)
    sent_again: set[str] = field(default_factory=set)  # keys that needed another try
    steps_acked: list[tuple[str, str]] = field(default_factory=list)  # (number, action)
    steps_unacked: list[tuple[str, str]] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # kind -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_report(self, account_no: str, mobile: str) -> str:
        key = f"res-{self.run}-{len(self.reports):05d}"
        with self.lock:
            self.reports[key] = {"kind": "outage", "account_no": account_no, "phone": mobile, "channel": "hotline",
                                 "description": f"客户来电报修：家里没电了（{key}）", "idempotency_key": key}
        return key

    def send_report(self, http: httpx.Client, key: str) -> str:
        """POST the report; "" when acknowledged, else what went wrong (the key is kept to retry)."""
        try:
            response = http.post("/api/tickets/faults", json=self.reports[key], headers=AUTH)
        except httpx.TransportError:
            return self._failed(key, "connection lost (report)")
        with self.lock:
            if response.status_code == 201:
                ticket = response.json()
                self.acked[key] = ticket["number"]
                self.unacked.discard(key)
                if ticket["status"] == "已派单" and ticket["number"] not in self.dispatched:
                    self.dispatched.append(ticket["number"])
                return ""
        return self._failed(key, f"report {response.status_code} {_code(response)}")

    def _failed(self, key: str, what: str) -> str:
        with self.lock:
            self.unacked.add(key)
            self.sent_again.add(key)
            self.errors[what] += 1
        return what

    def send_step(self, http: httpx.Client, number: str, action: str) -> str:
        """POST a crew step; "" when taken, else what went wrong (cut off or 5xx: kept to retry)."""
        try:
            response = http.post(f"/api/tickets/{number}/transitions", json={"action": action}, headers=AUTH)
        except httpx.TransportError:
            what = "connection lost (step)"
        else:
            if response.status_code == 200:
                with self.lock:
                    self.steps_acked.append((number, action))
                return ""
            what = f"step {response.status_code} {_code(response)}"
        with self.lock:
            self.errors[what] += 1
            if not what.startswith("step 4"):  # not taken: the client tries again later
                self.steps_unacked.append((number, action))
        return what

    def retry(self, http: httpx.Client) -> None:
        """After a restart: send every unanswered request again (same keys), as a client would."""
        with self.lock:
            keys = sorted(self.unacked)
            pending, self.steps_unacked = self.steps_unacked, []
        for key in keys:
            self.send_report(http, key)
        for number, action in pending:
            try:
                ticket = http.get(f"/api/tickets/{number}", headers=AUTH)
            except httpx.TransportError:
                ticket = None
            if ticket is None or ticket.status_code != 200:  # still down: keep it for the next retry
                with self.lock:
                    self.steps_unacked.append((number, action))
            elif ticket.json()["status"] != ACTIONS[action].to:  # not taken before the crash: take it now
                self.send_step(http, number, action)


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"]["code"])
    except (ValueError, KeyError, TypeError):
        return "-"


def wait_for_outbox(engine: Engine, *, seconds: float = 60) -> None:
    """Until the API's worker has sent what it can (claims of a killed worker wait for their lease)."""
    deadline = time.monotonic() + seconds
    with make_sessionmaker(engine)() as session:
        while time.monotonic() < deadline:
            waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == "sms", OutboxMessage.status.in_(RETRYABLE)))
            if not waiting:
                return
            session.expire_all()
            time.sleep(0.5)
    raise AssertionError(f"{waiting} SMS still waiting in the outbox after {seconds} s")


def take_over_stale_claims(engine: Engine, twilio) -> int:
    """What the restarted API's worker does once a dead worker's claim has run out of lease (2 min),
    without waiting for it: the real OutboxWorker with its clock past the lease. Returns passes run."""
    sms = TwilioSms(account_sid=twilio.account_sid, auth_token=twilio.auth_token, from_number="+8610695598",
                    base_url=twilio.url)
    later = utcnow() + LEASE + timedelta(minutes=1)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=sms, chat=record_notice,
                          clock=lambda: later)
    for passes in range(1, 11):
        worker.deliver_once()
        with make_sessionmaker(engine)() as session:
            if not session.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.channel == "sms", OutboxMessage.status.in_((*RETRYABLE, "sending")))):
                return passes
    return passes


@dataclass
class Audit:
    """What the database holds against the ledger: every figure must be 0."""

    reports_missing: list[str]
    reports_duplicated: list[str]
    steps_missing: list[tuple[str, str]]
    steps_duplicated: list[tuple[str, str]]
    sms_lost: list[tuple[str, str]]
    sms_duplicated: list[tuple[str, str]]
    sms_unsettled: int

    def problems(self) -> dict[str, int]:
        return {name: len(value) if isinstance(value, list) else value for name, value in vars(self).items()
                if value}


def audit(engine: Engine, ledger: Ledger, twilio) -> Audit:
    """Compare the database (and the fake Twilio's record) with what the client was told."""
    with make_sessionmaker(engine)() as session:
        by_key = Counter(session.scalars(select(Ticket.idempotency_key).where(
            Ticket.idempotency_key.like(f"res-{ledger.run}-%"))))
        by_text = Counter(session.scalars(select(Ticket.description).where(
            Ticket.description.like(f"%res-{ledger.run}-%"))))
        expected = set(ledger.acked) | ledger.unacked
        missing = sorted(k for k in expected if by_key[k] == 0)
        duplicated = sorted(k for k in by_key if by_key[k] > 1)
        duplicated += sorted(d for d in by_text if by_text[d] > 1)
        numbers = {number for number, _ in ledger.steps_acked}
        reached = Counter(session.execute(
            select(Ticket.number, TicketEvent.to_status).join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(Ticket.number.in_(numbers or {""}),
                   TicketEvent.to_status.in_([ACTIONS[a].to for a in CREW_STEPS]))).all())
        steps_missing = [(n, a) for n, a in ledger.steps_acked if reached[(n, ACTIONS[a].to)] == 0]
        steps_duplicated = [pair for pair, count in reached.items() if count > 1]
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")))
    outbox = Counter((e164(row.recipient), row.body) for row in rows if row.status not in RETRYABLE)
    sent = Counter((m["to"], m["body"]) for m in twilio.messages)
    return Audit(reports_missing=missing, reports_duplicated=duplicated, steps_missing=steps_missing,
                 steps_duplicated=steps_duplicated, sms_lost=sorted((outbox - sent).elements()),
                 sms_duplicated=sorted((sent - outbox).elements()),
                 sms_unsettled=sum(1 for row in rows if row.status in (*RETRYABLE, "sending")))
