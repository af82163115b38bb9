"""A fault reported in the web chat, accepted by the crew by SMS, and the customer sees it.

Real Rasa, action server and API (with its outbox worker); Twilio is a local fake that the real
SDK sends to and that posts signed webhooks back, as Twilio does.
"""
from __future__ import annotations

import re
import time
import uuid

import pytest

from api.demo.showcase import EXTRA_ACCOUNTS

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def wait_for(predicate, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_fault_in_chat_crew_accepts_by_sms_customer_sees_it_in_status_and_chat(stack, twilio):
    account_no, mobile = EXTRA_ACCOUNTS["household_outage_4"]
    sender = f"e2e-sms-{uuid.uuid4().hex[:8]}"
    stack.say(sender, "家里没电了")
    assert "是这个地址停电吗" in texts(stack.say(sender, account_no))
    stack.say(sender, "是的")
    stack.say(sender, "就我家没电，邻居家都有电")
    number = TICKET.search(texts(stack.say(sender, "确认"))).group(0)

    # the outbox worker in the API sends the crew leader the assignment through Twilio
    assignment = wait_for(lambda: next((m for m in twilio.messages if number in m["body"]), None))
    assert "新工单" in assignment["body"] and mobile in assignment["body"]

    answer = twilio.post_inbound(f"{stack.api_url}/api/notify/twilio/inbound", from_=assignment["to"],
                                 to="+8610695598", body=f"1 {number}")
    assert answer.status_code == 200
    wait_for(lambda: any("已接单，请尽快出发" in m["body"] for m in twilio.messages))

    status = texts(stack.say(sender, f"查一下工单{number}的进度"))
    assert "处理人员已接单" in status and "处理班组：彭阳抢修" in status
    assert "预计" in status and "处理人员已接单" in status.split("办理进展：")[1]

    def notice():  # the customer's chat got the progress notice too
        history = stack.http.get(f"/api/chat/{sender}/history", headers=stack.auth).json()  # as its channel
        return [t for t in history["turns"] if t["sender"] == "system"]
    [progress] = wait_for(notice)
    assert number in progress["text"] and "正在赶往现场" in progress["text"]
