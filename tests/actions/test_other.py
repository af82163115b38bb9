"""Fallback clarification, handoff, session start, outage notices, ticket status."""
from __future__ import annotations

import httpx
from sqlalchemy import select

from actions.fallback import ActionClarifyIntent
from actions.handoff import ActionRequestHuman
from actions.outages import ActionQueryOutageNotice
from actions.session import ActionSessionStart
from actions.tickets import ActionQueryTicketStatus
from api.customers.models import Customer
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn


def test_clarification_offers_the_two_likeliest_intents_and_none_of_these():
    state = user_turn(snapshot("idle_unverified"), "那个灯一闪一闪", "nlu_fallback",
                      ranking=[("nlu_fallback", 0.45), ("report_outage", 0.31), ("faq", 0.2),
                               ("query_usage", 0.1)])
    messages, _ = run(run_action(ActionClarifyIntent(), state))
    assert messages[0]["text"].startswith("抱歉，我不太确定您的意思。您是想")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/report_outage", "/faq", "/deny"]
    assert [b["title"] for b in messages[0]["buttons"]][-1] == "都不是"


def test_second_fallback_in_a_row_gives_the_help_and_human():
    state = user_turn(snapshot("idle_unverified"), "啊", "nlu_fallback",
                      ranking=[("nlu_fallback", 0.45), ("greet", 0.3), ("faq", 0.2)])
    state["events"] += [{"event": "action", "name": "action_clarify_intent"},
                        {"event": "bot", "text": "您是想…"},
                        {"event": "action", "name": "action_listen"}]
    state = user_turn(state, "嗯嗯那个", "nlu_fallback",
                      ranking=[("nlu_fallback", 0.45), ("greet", 0.3), ("faq", 0.2)])
    messages, _ = run(run_action(ActionClarifyIntent(), state))
    assert messages[0]["response"] == "utter_fallback_help"


def test_handoff_tells_the_gateway_and_sets_the_slot():
    messages, events = run(run_action(ActionRequestHuman(), snapshot("idle_unverified")))
    assert "正在为您转接人工客服" in messages[0]["text"]
    assert messages[1]["custom"] == {"handoff": True, "reason": "request_human"}
    assert slot_events(events) == {"handoff_requested": True}


def test_session_start_carries_over_only_who_the_customer_is():
    state = snapshot("idle_unverified", verified=True, verified_account="0401000005",
                     phone="13900000005", fault_description="全屋没电", date="上个月")
    _, events = run(run_action(ActionSessionStart(), state))
    assert events[0]["event"] == "session_started"
    assert slot_events(events) == {"verified": True, "verified_account": "0401000005",
                                   "account_no": "0401000005", "phone": "13900000005"}
    assert events[-1] == {"event": "action", "name": "action_listen", "policy": None,
                          "confidence": None, "action_text": None, "hide_rule_turn": False} or \
        events[-1]["name"] == "action_listen"


def test_a_wechat_users_new_session_is_served_for_their_default_bound_account(api, session):
    first, second = session.scalars(select(Customer).order_by(Customer.id).limit(2))
    user = "wx-oAbCdEfGhIjKlMnOpQrStUvWx001"
    state = snapshot("idle_unverified", verified=True, verified_account=first.account_no, phone="13900000005")
    state["sender_id"] = user
    _, events = run(run_action(ActionSessionStart(), state))  # nothing bound: the old verification goes
    assert slot_events(events) == {"verified": False, "phone": "13900000005"}
    verified = httpx.post(f"{api.url}/api/customers/verify", headers={"Authorization": f"Bearer {api.token}"},
                          json={"account_no": second.account_no, "phone_last4": second.mobile[-4:],
                                "conversation_id": user})
    assert verified.json() == {"verified": True}
    _, events = run(run_action(ActionSessionStart(), state))
    assert slot_events(events) == {"verified": True, "verified_account": second.account_no,
                                   "account_no": second.account_no, "phone": "13900000005"}


def test_a_wechat_users_session_keeps_its_identity_while_the_api_is_down(api_down):
    state = snapshot("idle_unverified", verified=True, verified_account="0401000005")
    state["sender_id"] = "wx-oAbCdEfGhIjKlMnOpQrStUvWx002"
    _, events = run(run_action(ActionSessionStart(), state))
    kept = slot_events(events)
    assert (kept["verified"], kept["verified_account"]) == (True, "0401000005")


def test_outage_notice_asks_for_a_district_when_nothing_is_known(api_down):
    state = user_turn(snapshot("idle_unverified", account_no=None), "有停电通知吗", "query_outage_notice")
    messages, _ = run(run_action(ActionQueryOutageNotice(), state))
    assert "区县" in texts(messages)
    assert any(b["title"] == "原州区" for b in messages[0]["buttons"])


def test_outage_notice_api_down(api_down):
    state = user_turn(snapshot("idle_unverified", account_no=None), "原州区", "inform",
                      entities=[{"entity": "district", "value": "原州区"}])
    messages, _ = run(run_action(ActionQueryOutageNotice(), state))
    assert "95598" in texts(messages)


def test_outage_notice_for_the_area_outage_account(api, showcase):
    account, _ = showcase["area_outage"]
    state = user_turn(snapshot("idle_unverified", account_no=account), "我这停电了是计划停电吗",
                      "query_outage_notice")
    messages, _ = run(run_action(ActionQueryOutageNotice(), state))
    assert "区域性停电" in texts(messages)


def test_outage_notice_for_a_planned_outage_shows_beijing_times(api, showcase):
    account, _ = showcase["planned_outage"]
    state = user_turn(snapshot("idle_unverified", account_no=account), "有停电通知吗", "query_outage_notice")
    messages, _ = run(run_action(ActionQueryOutageNotice(), state))
    text = texts(messages)
    assert "计划停电" in text and "至" in text


def test_unknown_ticket_number(api):
    state = user_turn(snapshot("idle_unverified"), "查工单GD20200101-9999", "query_ticket_status",
                      entities=[{"entity": "ticket_no", "value": "GD20200101-9999"}])
    messages, _ = run(run_action(ActionQueryTicketStatus(), state))
    assert "没有查到工单 GD20200101-9999" in texts(messages)
