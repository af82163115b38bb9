"""Complaints and service applications become tickets through the real dialogue."""
from __future__ import annotations

import re
import uuid

import pytest

from api.demo.showcase import SHOWCASE

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def ticket(stack, number: str) -> dict:
    response = stack.http.get(f"/api/tickets/{number}", headers=stack.auth)
    response.raise_for_status()
    return response.json()


def test_a_complaint_is_registered_as_a_ticket_with_the_customers_words(stack):
    sender = f"e2e-cmp-{uuid.uuid4().hex[:8]}"
    mobile = SHOWCASE["normal"][1]
    asked = texts(stack.say(sender, "我要投诉，昨天来修电的师傅态度很差，还乱收费"))
    assert "手机" in asked
    check = texts(stack.say(sender, mobile))
    assert "确认无误就提交投诉吗" in check and "态度很差" in check
    done = texts(stack.say(sender, "确认"))
    number = TICKET.search(done).group(0)
    assert "投诉已登记" in done and mobile[:3] + "****" + mobile[-4:] in done
    created = ticket(stack, number)
    assert created["type"] == "投诉" and "态度很差" in created["description"]
    assert created["sla"]["what"] == "联系客户"


def test_a_service_application_is_registered_with_the_preferred_time(stack):
    sender = f"e2e-app-{uuid.uuid4().hex[:8]}"
    mobile = SHOWCASE["normal"][1]
    stack.say(sender, "帮我登记一个增容申请")
    stack.say(sender, mobile)
    check = texts(stack.say(sender, "周六上午"))
    assert "核对" in check and "增容" in check and "周六上午" in check
    done = texts(stack.say(sender, "确认"))
    number = TICKET.search(done).group(0)
    created = ticket(stack, number)
    assert created["type"] == "业务办理"
    assert created["details"] == {"service_type": "增容", "preferred_time": "周六上午"}
