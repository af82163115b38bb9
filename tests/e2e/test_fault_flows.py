"""Fault reports through the gateway with the real Rasa server, action server and API."""
from __future__ import annotations

import re
import uuid

import pytest

from api.demo.showcase import SHOWCASE

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict]) -> list[str]:
    return [b["title"] for m in messages for b in m.get("buttons") or []]


def new_sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def tickets_of(stack, account_no: str) -> list[dict]:
    response = stack.http.get("/api/tickets", params={"account_no": account_no}, headers=stack.auth)
    response.raise_for_status()
    return response.json()["items"]


def report_by_account(stack, account_no: str, symptom: str) -> str:
    """Walk the whole form with a 户号 and the address on file; returns the bot's last words."""
    sender = new_sender()
    asked = texts(stack.say(sender, "我家停电了"))
    assert "户号" in asked
    confirm_address = texts(stack.say(sender, account_no))
    assert "是这个地址停电吗" in confirm_address
    assert "*" in confirm_address, "the address read back is partly masked"
    stack.say(sender, "是的")
    summary = texts(stack.say(sender, symptom))
    assert "请您核对报修信息" in summary and symptom in summary
    return texts(stack.say(sender, "确认"))


def test_area_outage_reports_attach_to_the_area_ticket(stack):
    first_words = report_by_account(stack, SHOWCASE["area_outage"][0], "全屋都没电了，邻居家也没电")
    first_number = TICKET.search(first_words).group(0)
    assert "分钟内到达现场" in first_words
    ticket = tickets_of(stack, SHOWCASE["area_outage"][0])[0]
    assert ticket["number"] == first_number
    assert ticket["diagnosis"]["code"] == "area_outage"
    assert ticket["metering_snapshot"]["area_state"]["share"] >= 0.8
    assert ticket["channel"] == "web"

    second_words = report_by_account(stack, SHOWCASE["area_outage_neighbour"][0], "我们这一片都停电了")
    second = tickets_of(stack, SHOWCASE["area_outage_neighbour"][0])[0]
    assert second["parent_number"] == first_number
    # one number per report: the customer's own, with the area repair explained in words
    assert "并入" in second_words and second["number"] in second_words and first_number not in second_words


def test_household_outage_by_phone_gets_its_own_ticket(stack):
    account_no, mobile = SHOWCASE["household_outage"]
    sender = new_sender()
    stack.say(sender, "家里没电了，快来修")
    assert "是这个地址停电吗" in texts(stack.say(sender, mobile))
    stack.say(sender, "对")
    stack.say(sender, "就我家没电，别人家都有电")
    words = texts(stack.say(sender, "确认"))
    number = TICKET.search(words).group(0)
    ticket = tickets_of(stack, account_no)[0]
    assert ticket["number"] == number
    assert ticket["diagnosis"]["code"] == "household_outage"
    assert ticket["parent_number"] is None
    assert "45分钟" in words


def test_wrong_account_number_twice_then_right(stack):
    sender = new_sender()
    stack.say(sender, "我家停电了")
    first = texts(stack.say(sender, "12345"))
    assert "10位" in first
    second = stack.say(sender, "98765")
    assert {"退出报修", "转人工"} & set(buttons(second)), texts(second)
    assert "是这个地址停电吗" in texts(stack.say(sender, SHOWCASE["normal"][0]))


def test_cancel_in_the_middle_opens_no_ticket(stack):
    account_no = SHOWCASE["normal"][0]
    before = len(tickets_of(stack, account_no))
    sender = new_sender()
    stack.say(sender, "停电了")
    stack.say(sender, account_no)
    asked = texts(stack.say(sender, "算了"))
    assert "还要继续吗" in asked or "不报" in asked or "换个地址" in asked
    assert "取消" in texts(stack.say(sender, "不报了"))
    assert len(tickets_of(stack, account_no)) == before


def test_change_of_address_at_confirmation(stack):
    account_no = SHOWCASE["normal"][0]
    sender = new_sender()
    stack.say(sender, "我家停电了")
    stack.say(sender, account_no)
    stack.say(sender, "是的")
    stack.say(sender, "屋里灯都不亮了")
    asked = texts(stack.say(sender, "地址不对，换个地址"))
    assert "地址" in asked
    summary = texts(stack.say(sender, "原州区文化街28号3号楼2单元401"))
    assert "文化街28号" in summary
    words = texts(stack.say(sender, "确认"))
    number = TICKET.search(words).group(0)
    ticket = next(t for t in tickets_of(stack, account_no) if t["number"] == number)
    assert ticket["address"]["road"] == "文化街"
    assert ticket["address_needs_review"] is False


def test_every_turn_is_stored_in_the_conversation(stack):
    sender = new_sender()
    stack.say(sender, "你好")
    stack.say(sender, "西吉县最近有停电通知吗")
    transcript = stack.http.get(f"/api/conversations/{sender}", headers=stack.auth).json()
    customer_turns = [t["text"] for t in transcript["turns"] if t["sender"] == "customer"]
    assert customer_turns == ["你好", "西吉县最近有停电通知吗"]
    assert any(t["sender"] == "bot" for t in transcript["turns"])


def test_request_for_a_person_is_flagged_on_the_conversation(stack):
    sender = new_sender()
    answer = texts(stack.say(sender, "我要转人工"))
    assert "人工" in answer
    conversation = stack.http.get(f"/api/conversations/{sender}", headers=stack.auth).json()
    assert conversation["handoff_requested"] is True
    assert conversation["handoff_reason"] == "request_human"
