"""The API killed with kill -9 in the middle of a burst of fault reports and ticket steps (issue 13).

The API runs as its own process (uvicorn, as the Procfile starts it) with its outbox worker sending
through the fake Twilio, on a SQLite file and, when DATABASE_URL is set, on PostgreSQL. Clients
report faults with idempotency keys and crews step tickets on, from several threads; the API is
killed while the worker is in the middle of sending an SMS (Twilio slowed so the kill lands there).
After a restart the clients send again what was never answered. Then: every acknowledged report
exists exactly once, no step happened twice, and every SMS reached Twilio exactly once.
"""
from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import select

from api.customers.models import Customer
from api.db import make_engine, make_sessionmaker
from api.notify.models import OutboxMessage
from tests.resilience.ledger import CREW_STEPS, Ledger, audit, take_over_stale_claims, wait_for_outbox
from tests.resilience.processes import ApiProcess

REPORTERS = 3


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def customers(engine, n: int) -> list[tuple[str, str]]:
    with make_sessionmaker(engine)() as session:
        return [tuple(row) for row in session.execute(
            select(Customer.account_no, Customer.mobile).order_by(Customer.id).limit(n))]


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def sending_now(engine) -> bool:
    with make_sessionmaker(engine)() as session:
        return session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "sending").limit(1)) is not None


def test_kill_9_during_a_burst_loses_and_doubles_nothing(db_url, engine, tmp_path, twilio):
    api = ApiProcess(tmp_path, database_url=db_url, twilio=twilio)
    api.start()
    ledger, stop = Ledger(), threading.Event()
    accounts = customers(engine, 40)

    def reporter(offset: int) -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for i in range(offset, 10_000, REPORTERS):
                account_no, mobile = accounts[i % len(accounts)]
                if stop.is_set() or ledger.send_report(http, ledger.new_report(account_no, mobile)):
                    return

    def crew() -> None:  # walks acknowledged tickets through 接单 → 到达 → 处理完成
        done: set[str] = set()
        with httpx.Client(base_url=api.url, timeout=30) as http:
            while not stop.is_set():
                todo = [n for n in list(ledger.dispatched) if n not in done]
                if not todo:
                    time.sleep(0.05)
                    continue
                done.add(todo[0])
                for action in CREW_STEPS:
                    if ledger.send_step(http, todo[0], action):
                        return

    try:
        threads = [threading.Thread(target=reporter, args=(i,)) for i in range(REPORTERS)]
        threads.append(threading.Thread(target=crew))
        for thread in threads:
            thread.start()
        wait_until(lambda: len(ledger.acked) >= 12 and len(ledger.steps_acked) >= 3, 60, "a burst under way")
        twilio.delay(3.0)  # the worker's next SMS stalls at Twilio: kill while it is on the wire
        wait_until(lambda: sending_now(engine), 30, "an SMS being sent")
        api.kill()
        twilio.delay(0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert set(ledger.errors) <= {"connection lost (report)", "connection lost (step)"}, ledger.errors
        assert ledger.unacked or ledger.steps_unacked, "the kill cut no request off"
        assert sending_now(engine)  # the SMS cut off on the wire: claimed, maybe sent, never marked

        api.start()
        with httpx.Client(base_url=api.url, timeout=30) as http:
            ledger.retry(http)
        assert not ledger.unacked and not ledger.steps_unacked, (ledger.unacked, ledger.errors)
        wait_for_outbox(engine)
    finally:
        stop.set()
        api.stop()
    assert take_over_stale_claims(engine, twilio) <= 2

    result = audit(engine, ledger, twilio)
    print(f"acked {len(ledger.acked)} reports, {len(ledger.steps_acked)} steps; errors {dict(ledger.errors)}; "
          f"{len(twilio.messages)} SMS")
    assert result.problems() == {}, result
    assert len(ledger.acked) >= 12 and twilio.messages  # the burst and its SMS happened
