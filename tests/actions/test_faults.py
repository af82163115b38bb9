"""fault_report_form: validation wording, two failures → exit offer, reuse, ticket wording."""
from __future__ import annotations

import re

from actions.faults import (
    ActionAskFaultContact,
    ActionCreateFaultTicket,
    ActionStartFaultReport,
    ValidateFaultReportForm,
    ticket_confirmation,
)
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn


def contact_turn(text: str, **slots):
    return user_turn(snapshot("fault_form_started", **slots), text, candidates={"fault_contact": text})


# ---------------------------------------------------------------- formats (no API call)
def test_short_account_number_is_re_asked_with_where_to_find_it():
    messages, events = run(run_action(ValidateFaultReportForm(), contact_turn("12345")))
    assert "户号是10位数字，您可以在电费单或网上国网App里找到，请再输入一次" in texts(messages)
    assert not any(m.get("buttons") for m in messages)
    slots = slot_events(events)
    assert slots["fault_contact"] is None
    assert slots["fault_failures"] == {"fault_contact": 1}
    assert slots["prompted_slot"] == "fault_contact"
    assert slots["requested_slot"] == "fault_contact"


def test_eleven_digits_not_a_mobile_is_re_asked_as_a_phone_number():
    messages, events = run(run_action(ValidateFaultReportForm(), contact_turn("12345678901")))
    assert "手机号是11位数字、以1开头" in texts(messages)
    assert slot_events(events)["fault_contact"] is None


def test_full_width_digits_and_spaces_are_normalised_before_the_format_check(api_down):
    # '１３９ ９５５４ １２３４' is a valid mobile once normalised: it passes the format check
    # (the lookup then fails because the API is down, which must not block the report).
    messages, events = run(run_action(ValidateFaultReportForm(), contact_turn("１３９ ９５５４ １２３４")))
    slots = slot_events(events)
    assert slots["fault_contact"] == "13995541234"
    assert slots["fault_phone"] == "13995541234"
    assert "不影响报修" in texts(messages)
    assert slots["requested_slot"] == "fault_address"


def test_second_failure_of_the_same_slot_offers_exit_and_human():
    state = contact_turn("640300123", fault_failures={"fault_contact": 1})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert "户号是10位数字" in texts(messages)
    buttons = [b for m in messages for b in (m.get("buttons") or [])]
    assert {"title": "退出报修", "payload": "/stop_report"} in buttons
    assert {"title": "转人工", "payload": "/request_human"} in buttons
    assert slot_events(events)["fault_failures"] == {"fault_contact": 2}


def test_question_stays_silent_right_after_a_failed_answer_but_is_asked_otherwise():
    state = contact_turn("12345")
    state["events"] += [{"event": "slot", "name": "fault_contact", "value": None},
                        {"event": "slot", "name": "prompted_slot", "value": "fault_contact"}]
    messages, _ = run(run_action(ActionAskFaultContact(), state))
    assert messages == []
    messages, _ = run(run_action(ActionAskFaultContact(), snapshot("fault_form_started")))
    assert "10位户号" in texts(messages)


def test_cancel_words_at_the_address_question_ask_what_is_meant():
    state = user_turn(snapshot("fault_form_started", fault_contact="0401000003",
                               fault_account="0401000003", fault_masked_address="原州区古雁街道古雁路**号",
                               requested_slot="fault_address_confirmed"),
                      "算了", "deny", candidates={"fault_address_confirmed": False})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/change_address", "/stop_report"]
    slots = slot_events(events)
    assert slots["fault_address_confirmed"] is None
    assert slots["requested_slot"] == "fault_address_confirmed"


def test_plain_no_at_the_address_question_asks_for_another_address():
    state = user_turn(snapshot("fault_form_started", fault_contact="0401000003",
                               fault_account="0401000003", fault_masked_address="原州区古雁街道古雁路**号",
                               requested_slot="fault_address_confirmed"),
                      "不是", "deny", candidates={"fault_address_confirmed": False})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert messages == []
    slots = slot_events(events)
    assert slots["fault_address_confirmed"] is False
    # Required slots equal the domain's list here, so Rasa picks the next one: fault_address.
    assert slots.get("requested_slot", "fault_address") == "fault_address"


# ---------------------------------------------------------------- reuse
def _start_state(intent: str, **slots):
    state = snapshot("idle_unverified", **slots)
    return user_turn(state, "我家停电了" if intent == "report_outage" else "电线断了", intent)


def test_start_reuses_the_verified_account_and_counts_the_run():
    state = _start_state("report_outage", verified=True, verified_account="0401000005",
                         account_no="0401000005", fault_run=2.0)
    _, events = run(run_action(ActionStartFaultReport(), state))
    slots = slot_events(events)
    assert slots["fault_contact"] == "0401000005"
    assert slots["fault_kind"] == "outage"
    assert slots["fault_run"] == 3.0


def test_start_reuses_the_phone_given_earlier_and_sets_hazard():
    state = _start_state("report_hazard", account_no=None, phone="13995541234")
    _, events = run(run_action(ActionStartFaultReport(), state))
    slots = slot_events(events)
    assert slots["fault_contact"] == "13995541234"
    assert slots["fault_kind"] == "hazard"


def test_start_without_any_identifier_asks_nothing_in_advance():
    state = _start_state("report_outage", account_no=None)
    _, events = run(run_action(ActionStartFaultReport(), state))
    assert "fault_contact" not in {k for k, v in slot_events(events).items() if v}


# ---------------------------------------------------------------- wording of the confirmation
RESULT = {
    "number": "GD20261123-0042",
    "type": "fault",
    "priority": "normal",
    "status": "dispatched",
    "attached_to_existing": False,
    "parent_number": None,
    "diagnosis": {"code": "household_outage", "summary": "只有您家停电，可能是户内开关或表后线路故障。"},
    "sla": {"area_class": "城区", "arrive_minutes": 45, "arrive_by": "2026-11-23T02:45:00+00:00"},
    "address": {"normalized": "原州区文化街28号", "matched": True, "needs_review": False},
}


def test_ticket_confirmation_gives_number_diagnosis_and_arrival_commitment():
    text = ticket_confirmation(RESULT, "outage")
    assert "工单号：GD20261123-0042" in text
    assert "初步判断：只有您家停电" in text
    # 02:45 UTC is 10:45 Beijing time.
    assert "按城区标准，抢修人员将在45分钟内到达现场（预计11月23日 10:45前）" in text
    assert "95598" in text


def test_ticket_confirmation_when_attached_to_the_area_repair():
    attached = {**RESULT, "number": "GD20261123-0050", "attached_to_existing": True,
                "parent_number": "GD20261123-0040",
                "diagnosis": {"code": "area_outage", "summary": "您所在台区整体停电，抢修中。"},
                "sla": {"area_class": "农村", "arrive_minutes": 90, "arrive_by": None}}
    text = ticket_confirmation(attached, "outage")
    # One number for the customer, their own: the area ticket is another conversation's.
    assert "GD20261123-0040" not in text
    assert "并入这次区域抢修" in text and "工单号：GD20261123-0050" in text
    assert text.count("GD20261123-0050") == 2  # the number, and 查工单 with it
    assert "90分钟内到达现场" in text


def test_hazard_confirmation_repeats_the_safety_advice():
    text = ticket_confirmation({**RESULT, "diagnosis": {"code": "hazard", "summary": "已按安全隐患优先处理。"}}, "hazard")
    assert "至少8米" in text and "不要触碰" in text


# ---------------------------------------------------------------- API down
def _confirmed_state():
    return user_turn(
        snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                 fault_masked_address="原州区文化街**号", fault_address_confirmed=True,
                 fault_description="全屋没电，邻居家有电", fault_confirmed=True,
                 requested_slot=None),
        "确认", "affirm",
    )


def test_api_down_apologises_with_95598_and_keeps_the_answers(api_down):
    messages, events = run(run_action(ActionCreateFaultTicket(), _confirmed_state()))
    assert "95598" in texts(messages)
    assert "信息我已保存" in texts(messages)
    slots = slot_events(events)
    assert slots == {"fault_confirmed": None, "fault_pending": True}


def test_a_retry_after_a_failed_submission_keeps_the_same_run():
    state = user_turn(snapshot("idle_unverified", fault_pending=True, fault_kind="outage",
                               fault_run=1.0, fault_description="全屋没电"), "停电了", "report_outage")
    _, events = run(run_action(ActionStartFaultReport(), state))
    slots = slot_events(events)
    assert "fault_run" not in slots and "fault_description" not in slots
    assert slots == {"fault_confirmed": None}


# ---------------------------------------------------------------- with the real API
def test_identified_by_account_reads_back_only_the_masked_address(api, showcase):
    account, mobile = showcase["household_outage"]
    messages, events = run(run_action(ValidateFaultReportForm(), contact_turn(account)))
    slots = slot_events(events)
    assert slots["fault_account"] == account
    assert "*" in slots["fault_masked_address"]
    assert slots["requested_slot"] == "fault_address_confirmed"


def test_identified_by_mobile(api, showcase):
    account, mobile = showcase["normal"]
    _, events = run(run_action(ValidateFaultReportForm(), contact_turn(f"我手机号是{mobile}")))
    slots = slot_events(events)
    assert slots["fault_account"] == account
    assert slots["fault_phone"] == mobile


def test_unknown_account_is_said_and_re_asked(api):
    messages, events = run(run_action(ValidateFaultReportForm(), contact_turn("0499999999")))
    assert "没有查到户号" in texts(messages)
    assert slot_events(events)["fault_contact"] is None


def test_ticket_is_created_once_per_run(api, showcase):
    account, _ = showcase["household_outage"]
    state = _confirmed_state()
    state["slots"].update(fault_contact=account, fault_account=account)
    messages, events = run(run_action(ActionCreateFaultTicket(), state))
    text = texts(messages)
    number = re.search(r"GD\d{8}-\d{4}", text).group(0)
    assert "分钟内到达现场" in text
    assert slot_events(events)["fault_ticket_no"] == number
    # Same conversation, same run: the API returns the same ticket.
    messages, _ = run(run_action(ActionCreateFaultTicket(), state))
    assert number in texts(messages)
