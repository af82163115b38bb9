"""A flood of fault reports from one address does not flood the crews: the chat's rate limits bound the
tickets, and so the crews' SMS. The fake bot opens a real fault ticket (POST /api/tickets/faults, as
the action does) on every 确认, each for another customer, so nothing but the limits holds them back."""
from __future__ import annotations

import itertools

import httpx
import pytest
from sqlalchemy import func, select

from api.conversations.gateway import ChatLimits
from api.customers.models import Customer
from api.notify.models import OutboxMessage
from tests.conftest import TEST_TOKEN, start_api
from tests.fakes.rasa import FakeRasa

# one window for the whole test (windows are aligned to multiples of their length since 1970)
LIMITS = ChatLimits(per_sender_minute=3, per_address_minute=7, new_per_address_hour=4, minute=10**9, hour=10**9)


@pytest.fixture
def flood_target(settings, session):
    accounts = itertools.cycle(session.scalars(select(Customer.account_no).order_by(Customer.id).limit(40)).all())
    with FakeRasa() as rasa:
        server, api = start_api(settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 10}))

        def report(body):  # the fault form's last step, as action_create_fault_ticket does it
            if body["message"] != "确认":
                return None
            created = httpx.post(f"{api.url}/api/tickets/faults", timeout=10,
                                 headers={"Authorization": f"Bearer {TEST_TOKEN}"},
                                 json={"kind": "outage", "account_no": next(accounts), "description": "家里停电了",
                                       "conversation_id": body["sender"]})
            created.raise_for_status()
            return [{"text": f"已为您登记报修，工单号{created.json()['number']}。"}]

        rasa.on_message = report
        server.config.app.state.gateway.limits = LIMITS
        try:
            yield api
        finally:
            server.stop()


def test_many_reports_from_one_address_are_limited_and_crews_get_at_most_that_many_sms(flood_target, session):
    answered, refused = 0, 0
    with httpx.Client(base_url=flood_target.url, timeout=30) as http:
        for _ in range(8):  # new conversations: 4 an hour from one address
            issued = http.post("/api/chat/conversations")
            if issued.status_code == 429:
                refused += 1
                continue
            chat = issued.json()
            for i in range(6):  # each conversation confirms report after report
                sent = http.post("/api/chat/messages", headers={"X-Chat-Secret": chat["secret"]},
                                 json={"sender_id": chat["conversation_id"], "text": "确认", "client_msg_id": f"f-{i}"})
                assert sent.status_code in (200, 429), sent.text
                answered += sent.status_code == 200
                refused += sent.status_code == 429
    # refused messages count against the address too: a flooder's budget only shrinks
    assert 0 < answered <= LIMITS.per_address_minute and refused > answered
    crew_sms = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.audience == "crew"))
    assert 0 < crew_sms <= answered
