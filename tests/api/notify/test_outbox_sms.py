"""The outbox and Twilio end to end: assignment SMS, crew replies, outages, no duplicates.

The real API listens on a port, the real twilio SDK talks to a local fake of Twilio, and the
fake posts signed webhooks back to the API, as Twilio does.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from api.db import make_engine, make_sessionmaker
from api.demo.showcase import SHOWCASE
from api.main import sms_sender
from api.notify.models import OutboxMessage
from api.notify.sms import e164
from api.conversations.service import record_notice
from api.notify.worker import OutboxWorker
from tests.api.notify.conftest import OUR_NUMBER

HOUSEHOLD = SHOWCASE["household_outage"]


class Clock:
    """The worker's now, movable by the test (to reach a retry's due time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


@pytest.fixture
def api(api_server):
    """The running API, with Twilio signatures checked against its real URL."""
    api_server.settings.public_base_url = api_server.url
    return api_server


@pytest.fixture
def db(api):
    engine = make_engine(api.settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(api, db, clock):
    sms = sms_sender(api.settings)
    yield OutboxWorker(sessionmaker=db, sms=sms, chat=record_notice, clock=clock,
                       status_callback_url=f"{api.url}/api/notify/twilio/status")
    sms.close()


def new_ticket(api) -> dict:
    response = httpx.post(f"{api.url}/api/tickets/faults", headers={"Authorization": f"Bearer {api.token}"}, timeout=30,
                          json={"kind": "outage", "description": "家里没电了", "channel": "hotline",
                                "account_no": HOUSEHOLD[0], "phone": HOUSEHOLD[1]})
    assert response.status_code == 201, response.text
    return response.json()


def get_ticket(api, number: str) -> dict:
    return httpx.get(f"{api.url}/api/tickets/{number}", headers={"Authorization": f"Bearer {api.token}"}, timeout=30).json()


def crew_leader(twilio) -> str:
    [assignment] = [m for m in twilio.messages if "新工单" in m["body"]]
    return assignment["to"]


def reply(api, twilio, sender: str, body: str, **kwargs) -> httpx.Response:
    return twilio.post_inbound(f"{api.url}/api/notify/twilio/inbound", from_=sender, to=OUR_NUMBER, body=body,
                               **kwargs)


def rows(db) -> list[OutboxMessage]:
    with db() as session:
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_round_trip_assignment_sms_crew_accepts_customer_is_told(api, twilio, worker):
    number = new_ticket(api)["number"]
    worker.deliver_once()
    leader = crew_leader(twilio)
    assert twilio.messages[0]["from"] == OUR_NUMBER and number in twilio.messages[0]["body"]

    answer = reply(api, twilio, leader, f"1 {number}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    ticket = get_ticket(api, number)
    assert ticket["status"] == "已接单"
    assert ticket["events"][-1]["actor"].startswith("crew:")

    worker.deliver_once()
    sent = {m["to"]: m["body"] for m in twilio.messages[1:]}
    assert sent[leader] == f"【国网固原供电】工单 {number} 已接单，请尽快出发。"
    assert "已由" in sent[e164(HOUSEHOLD[1])] and number in sent[e164(HOUSEHOLD[1])]


def test_arrived_and_done_by_sms_without_the_number_when_the_crew_has_one_ticket(api, twilio, worker):
    number = new_ticket(api)["number"]
    worker.deliver_once()
    leader = crew_leader(twilio)
    for text, status in (("1", "已接单"), ("２", "已到达"), ("3 更换了进户线熔断器", "已处理")):
        assert reply(api, twilio, leader, text).status_code == 200
        assert get_ticket(api, number)["status"] == status, text
    assert get_ticket(api, number)["events"][-1]["note"] == "更换了进户线熔断器"


def test_a_reply_we_cannot_read_gets_the_format_and_changes_nothing(api, twilio, worker):
    number = new_ticket(api)["number"]
    worker.deliver_once()
    leader = crew_leader(twilio)
    reply(api, twilio, leader, "收到，马上去")
    worker.deliver_once()
    assert "请按以下格式回复" in twilio.messages[-1]["body"] and twilio.messages[-1]["to"] == leader
    assert get_ticket(api, number)["status"] == "已派单"


def test_a_bad_signature_is_refused_and_a_retried_webhook_is_applied_once(api, twilio, worker):
    number = new_ticket(api)["number"]
    worker.deliver_once()
    leader = crew_leader(twilio)
    forged = reply(api, twilio, leader, f"1 {number}", valid_signature=False)
    assert forged.status_code == 403 and forged.json()["detail"]["code"] == "bad_signature"
    assert get_ticket(api, number)["status"] == "已派单"

    form = {"MessageSid": "SM" + "a" * 32, "AccountSid": twilio.account_sid, "From": leader, "To": OUR_NUMBER,
            "Body": f"1 {number}", "NumMedia": "0"}
    url = f"{api.url}/api/notify/twilio/inbound"
    for _ in range(2):  # Twilio retries when it did not hear back in time
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": twilio.signature(url, form)})
        assert response.status_code == 200
    assert [e["action"] for e in get_ticket(api, number)["events"]].count("接单") == 1
    worker.deliver_once()
    assert sum("已接单，请尽快出发" in m["body"] for m in twilio.messages) == 1


def test_reject_with_a_reason_goes_to_another_crew(api, twilio, worker):
    ticket = new_ticket(api)
    worker.deliver_once()
    leader = crew_leader(twilio)
    reply(api, twilio, leader, "0 车辆抛锚无法前往")
    after = get_ticket(api, ticket["number"])
    assert after["status"] == "已派单" and after["crew"]["id"] != ticket["crew"]["id"]
    assert [e["action"] for e in after["events"]][-2:] == ["退单", "派单"]
    worker.deliver_once()
    assert any("新工单" in m["body"] and m["to"] != leader for m in twilio.messages)


def test_provider_outage_is_retried_with_backoff_and_sent_exactly_once(api, twilio, worker, db, clock):
    new_ticket(api)
    twilio.down()
    worker.deliver_once()
    [message] = rows(db)
    assert (message.status, message.attempts) == ("failed", 1) and "unreachable" in message.last_error
    assert message.next_attempt_at > clock()
    worker.deliver_once()  # not due yet: nothing happens
    assert rows(db)[0].attempts == 1
    twilio.up()
    clock.offset = timedelta(minutes=1)
    worker.deliver_once()
    [message] = rows(db)
    assert message.status == "sent" and message.provider_sid.startswith("SM")
    assert len(twilio.messages) == 1


def test_a_message_the_provider_took_before_the_worker_died_is_not_sent_twice(api, twilio, worker, db, clock):
    new_ticket(api)
    with db() as session:  # the worker claimed it, Twilio accepted it, then the worker died
        message = session.scalars(select(OutboxMessage)).one()
        message.status, message.claimed_at, message.attempts = "sending", clock() - timedelta(minutes=5), 1
        session.commit()
        worker.sms.send(to=message.recipient, body=message.body)
    worker.deliver_once()  # the lease ran out: another worker takes over, asks Twilio first
    [message] = rows(db)
    assert message.status == "sent" and message.provider_sid == twilio.messages[0]["sid"]
    assert len(twilio.messages) == 1


def test_a_refused_number_ends_in_the_dead_letters_and_can_be_retried(api, twilio, worker, db):
    new_ticket(api)
    leader = e164(rows(db)[0].recipient)
    twilio.reject_numbers({leader})
    worker.deliver_once()
    assert rows(db)[0].status == "dead" and "21211" in rows(db)[0].last_error
    auth = {"Authorization": f"Bearer {api.token}"}
    [dead] = httpx.get(f"{api.url}/api/notify/dead-letters", headers=auth).json()
    assert dead["recipient"].count("*") == 4  # masked for supervisors
    twilio.accept_numbers({leader})
    assert httpx.post(f"{api.url}/api/notify/dead-letters/{dead['id']}/retry", headers=auth).status_code == 200
    worker.deliver_once()
    assert rows(db)[0].status == "sent" and len(twilio.messages) == 1
    assert httpx.get(f"{api.url}/api/notify/dead-letters", headers=auth).json() == []


def test_too_many_temporary_failures_end_in_the_dead_letters(api, twilio, worker, db, clock):
    new_ticket(api)
    twilio.fail_next(20, status=503)
    for attempt in range(6):
        clock.offset += timedelta(minutes=15)
        worker.deliver_once()
    [message] = rows(db)
    assert message.status == "dead" and message.attempts == 6 and twilio.messages == []


def test_delivery_reports_are_recorded_and_forged_ones_refused(api, twilio, worker, db):
    new_ticket(api)
    worker.deliver_once()
    twilio.wait_for_callbacks(2)
    [message] = rows(db)
    assert (message.status, message.provider_status) == ("delivered", "delivered")
    url = f"{api.url}/api/notify/twilio/status"
    form = {"MessageSid": message.provider_sid, "MessageStatus": "failed", "ErrorCode": "30008"}
    forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert forged.status_code == 403
    assert rows(db)[0].status == "delivered"


def test_the_customer_rates_the_work_by_sms_and_that_is_the_revisit(api, twilio, worker):
    number = new_ticket(api)["number"]
    worker.deliver_once()
    leader = crew_leader(twilio)
    for text in ("1", "2", "3 已修复"):
        reply(api, twilio, leader, text)
    worker.deliver_once()
    customer = e164(HOUSEHOLD[1])
    assert "回复数字1—5" in [m for m in twilio.messages if m["to"] == customer][-1]["body"]
    reply(api, twilio, customer, "5分，很满意")
    ticket = get_ticket(api, number)
    assert ticket["status"] == "已回访" and ticket["satisfaction"] == 5
    worker.deliver_once()
    assert twilio.messages[-1]["to"] == customer and twilio.messages[-1]["body"].startswith("感谢您的评价")
