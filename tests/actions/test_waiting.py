"""Waiting for a person (issue 12) and whose ticket is shown (issue 13), verification limits.

The gateway sends the queue state in the message metadata while a conversation waits for an
agent; "还要等多久 / 有人吗 / 转人工" are answered from it. A ticket's details go only to the
customer it belongs to (GET /api/tickets/{number}/for-customer); the API limits wrong
verification answers (429 too_many_attempts) and the form then stops and offers a person.
"""
from __future__ import annotations

import copy

import httpx
import pytest

from actions.billing import ActionAnswerVerifiedQuery
from actions.client import ZhidianClient
from actions.handoff import ActionAnswerWait, ActionRequestHuman, queue_text
from actions.identity import ValidateVerifyForm
from actions.tickets import ActionQueryTicketStatus
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn

# The gateway's contract (api/conversations/gateway.py): position 1 is the next to be served.
QUEUE = {"position": 3, "expected_wait_minutes": 6, "agents_online": 3, "office_hours": True}


def waiting(text: str, intent: str, queue: dict | None = QUEUE, **slots):
    state = user_turn(snapshot("idle_unverified", **slots), text, intent)
    if queue is not None:
        state["latest_message"]["metadata"] = {"channel": "web", "queue": queue}
        state["events"][-1]["metadata"] = state["latest_message"]["metadata"]
    return state


def customs(messages) -> list[dict]:
    return [m["custom"] for m in messages if m.get("custom")]


# ---------------------------------------------------------------- the queue
def test_how_long_while_waiting_is_answered_from_the_queue():
    """The issue: 还要等多久 while waiting got "请告诉我您的10位户号…查停电信息"."""
    messages, events = run(run_action(ActionAnswerWait(), waiting("还要等多久", "ask_wait")))
    text = texts(messages)
    assert "还在为您排队，您前面还有2位，预计还需等待约6分钟" in text
    assert "户号" not in text and events == []


def test_asking_for_a_person_again_while_waiting_does_not_queue_twice():
    messages, events = run(run_action(ActionRequestHuman(), waiting("转人工", "request_human")))
    assert "您前面还有2位" in texts(messages)
    assert customs(messages) == [] and events == []


@pytest.mark.parametrize(("queue", "said"), [
    ({"position": 1, "expected_wait_minutes": 1, "agents_online": 2, "office_hours": True}, "马上就轮到您了"),
    ({"position": 4, "expected_wait_minutes": None, "agents_online": 2, "office_hours": True}, "您前面还有3位。"),
    ({"position": 3, "expected_wait_minutes": None, "agents_online": 0, "office_hours": True}, "人工客服都不在线"),
    ({"position": 1, "expected_wait_minutes": 30, "agents_online": 0, "office_hours": False}, "非工作时间"),
    ({"position": 1, "agents_online": 0, "office_hours": {"open": False, "text": "每天8:00—20:00"}},
     "服务时间：每天8:00—20:00"),
])
def test_the_queue_wording(queue, said):
    text = queue_text(queue)
    assert said in text and "95598" in text


def test_not_waiting_the_bot_says_it_is_here():
    messages, _ = run(run_action(ActionAnswerWait(), waiting("有人吗", "ask_wait", queue=None)))
    assert "我在的" in texts(messages) and "转人工" in texts(messages)


def test_not_waiting_after_a_report_how_long_is_the_reports_progress(api_down):
    state = waiting("还要等多久", "ask_wait", queue=None, ticket_no="GD20261204-0007")
    messages, _ = run(run_action(ActionAnswerWait(), state))
    assert "繁忙" in texts(messages)  # it asked the API for the ticket (down here), not the queue


# ---------------------------------------------------------------- whose ticket
def report(api, conversation_id: str, account_no: str) -> str:
    """A fault ticket reported from ``conversation_id`` (straight to the API: a busy machine may take
    longer than the action's own deadline to diagnose and dispatch)."""
    payload = {"kind": "outage", "account_no": account_no, "description": "全屋没电",
               "conversation_id": conversation_id, "channel": "web",
               "idempotency_key": f"{conversation_id}:fault:1"}
    response = httpx.post(f"{api.url}/api/tickets/faults", json=payload, timeout=60,
                          headers={"Authorization": f"Bearer {api.token}"})
    response.raise_for_status()
    return response.json()["number"]


def ask_ticket(number: str, sender: str, **slots):
    state = user_turn(snapshot("idle_unverified", **slots), f"查工单{number}", "query_ticket_status",
                      entities=[{"entity": "ticket_no", "value": number}])
    state["sender_id"] = sender
    return run(run_action(ActionQueryTicketStatus(), state))


def test_a_ticket_is_shown_to_the_conversation_that_reported_it(api, showcase):
    account, _ = showcase["household_outage"]
    number = report(api, "conv-owner-0001", account)
    messages, events = ask_ticket(number, "conv-owner-0001")
    assert f"工单 {number}" in texts(messages) and "当前状态" in texts(messages)
    assert slot_events(events)["ticket_no"] == number


def test_another_chat_learns_only_that_the_number_exists_and_how_to_see_it(api, showcase):
    """Issue 13: 查工单 GD… in any chat showed another customer's ticket."""
    account, _ = showcase["household_outage"]
    number = report(api, "conv-owner-0002", account)
    messages, events = ask_ticket(number, "conv-stranger-0002")
    text = texts(messages)
    assert number in text and "存在" in text and "核验" in text and "95598" in text
    assert "当前状态" not in text and "初步判断" not in text and "全屋没电" not in text
    # …and the verification starts at once (verify_form asks for the 户号, then the answer follows).
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["verify_form"]


def test_the_verified_account_sees_its_ticket_from_another_chat(api, showcase):
    account, _ = showcase["household_outage"]
    number = report(api, "conv-owner-0003", account)
    messages, _ = ask_ticket(number, "conv-later-0003", verified=True, verified_account=account)
    assert "当前状态" in texts(messages)
    # …but an account typed without verification is not enough.
    messages, _ = ask_ticket(number, "conv-later-0004", account_no=account)
    assert "当前状态" not in texts(messages)


def test_tickets_by_account_need_that_account_verified(api, showcase):
    account, _ = showcase["household_outage"]
    report(api, "conv-owner-0005", account)
    state = user_turn(snapshot("idle_unverified"), f"查一下户号{account}的工单", "query_ticket_status",
                      entities=[{"entity": "account_no", "value": account}])
    messages, _ = run(run_action(ActionQueryTicketStatus(), state))
    assert "核验身份" in texts(messages) and "当前状态" not in texts(messages)
    state["slots"].update(verified=True, verified_account=account)
    messages, _ = run(run_action(ActionQueryTicketStatus(), state))
    assert "当前状态" in texts(messages)


def test_after_verifying_the_ticket_asked_about_is_answered(api, showcase):
    account, _ = showcase["household_outage"]
    number = report(api, "conv-owner-0006", account)
    _, events = ask_ticket(number, "conv-later-0006")
    state = user_turn(snapshot("idle_unverified", ticket_no=slot_events(events)["ticket_no"],
                               verified=True, verified_account=account), f"查工单{number}", "query_ticket_status")
    state = user_turn(state, "0003", "inform")  # the verification's last answer
    state["sender_id"] = "conv-later-0006"
    messages, _ = run(run_action(ActionAnswerVerifiedQuery(), state))
    assert f"工单 {number}" in texts(messages) and "当前状态" in texts(messages)


def test_unknown_ticket_number(api):
    messages, _ = ask_ticket("GD20200101-9999", "conv-any-0007")
    assert "没有查到工单 GD20200101-9999" in texts(messages)


# ---------------------------------------------------------------- verification limits
def test_too_many_wrong_answers_stop_the_form_and_offer_a_person(api, showcase):
    """Issue 13: the API answers 429 after too many tries; the form must not loop on it."""
    account, mobile = showcase["normal"]
    wrong = "0000" if mobile[-4:] != "0000" else "1111"
    sender = "conv-guess-0008"
    client = ZhidianClient()
    for _ in range(5):  # the API's limit per conversation
        assert run(client.verify(account_no=account, phone_last4=wrong, conversation_id=sender)) is False
    state = user_turn(snapshot("verify_form_last4", verify_account=account), mobile[-4:],
                      candidates={"verify_last4": mobile[-4:]})
    state["sender_id"] = sender
    messages, events = run(run_action(ValidateVerifyForm(), state))
    text = texts(messages)
    assert "验证失败次数较多" in text and "转人工" in text
    assert [b["payload"] for m in messages for b in m.get("buttons") or []] == ["/request_human"]
    slots = slot_events(events)
    assert slots.get("verified") is not True
    assert [e["value"] for e in events if e.get("name") == "requested_slot"][-1] is None
    after = copy.deepcopy(state)
    after["slots"].update(slots)
    messages, _ = run(run_action(ActionAnswerVerifiedQuery(), after))
    assert messages == []  # nothing more: no "请告诉我户号" loop
