"""What the conversation set (tests/e2e/conversations, issue 12) asked of the actions.

Progress questions that start the verification themselves, a 户号 and last four digits in one
message, usage averaged over the days with meter data, "对，就在我家门口" as a yes at the address
read-back, a planned outage told instead of a repair, an angry report or a complaint queued for a
person by the bot itself (in words that fit the questions that follow), a stated voltage judged
against the standard.
"""
from __future__ import annotations

import re

import pytest

from actions.applications import ActionNoteComplaint, ActionStartComplaint
from actions.billing import ActionQueryUsage
from actions.client import ZhidianClient
from actions.faults import ActionStartFaultReport, ValidateFaultReportForm
from actions.forms import leading_yes
from actions.identity import ValidateVerifyForm
from actions.outages import ActionQueryOutageNotice
from actions.knowledge import (
    ActionAnswerFaq,
    asking_clause,
    corrected,
    stated_voltage,
    voltage_sentence,
)
from actions.tickets import ActionQueryTicketStatus
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn
from tests.actions.test_repair import at_address_question, customs

TRANSFERRING = re.compile(r"正在为您转接|正在转接")


def followups(events) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


# ---------------------------------------------------------------- no API
@pytest.mark.parametrize(("text", "yes"), [("对，就在我家门口", True), ("是的，没错", True), ("对对对", True),
                                           ("对，不过地址换了", False), ("是不是欠费了", False),
                                           ("嗯嗯好的吧", False), ("对，错了", False)])
def test_a_leading_yes(text, yes):
    assert leading_yes(text) is yes


def test_yes_with_more_words_at_the_address_read_back_confirms_the_address_on_file():
    messages, events = run(run_action(ValidateFaultReportForm(), at_address_question("对，就在我家门口")))
    assert slot_events(events)["fault_address_confirmed"] is True
    assert "没太明白" not in texts(messages)


def test_a_stated_voltage_is_judged_against_the_standard_range():
    assert stated_voltage("我家电压只有180V正常吗，热水器都烧不热") == 180
    assert stated_voltage("一度电0.5元") is None
    assert "偏低" in voltage_sentence(180) and "198" in voltage_sentence(180)
    assert "正常" in voltage_sentence(220)


def test_typos_dialect_words_and_the_asking_clause_of_a_question():
    assert corrected("阶体电价咋算的") == "阶梯电价怎么算的"
    assert asking_clause("我怀疑电表走得太快了，想申请校验电表") == "想申请校验电表"
    assert asking_clause("租了别人家厂子的房顶搞光伏，要房东出什么手续") is None
    assert asking_clause("电表黑屏了咋回事") is None


def test_a_statement_at_the_description_question_is_the_description_not_a_knowledge_question():
    state = snapshot("fault_form_started", fault_contact="0404000016", fault_account="0404000016",
                     fault_address_confirmed=True, requested_slot="fault_description")
    state = user_turn(state, "电压只有180伏，热水器烧不热", "faq")
    messages, events = run(run_action(ActionAnswerFaq(), state))
    assert not messages and slot_events(events) == {"fault_description": "电压只有180伏，热水器烧不热"}


def test_an_angry_report_asks_for_a_person_itself_and_goes_on_with_the_report():
    state = user_turn(snapshot("idle_unverified", account_no=None), "你们什么破系统，停电半天了都没人管",
                      "report_outage")
    messages, events = run(run_action(ActionStartFaultReport(), state))
    assert {"handoff": True, "reason": "angry"} in customs(messages)
    assert "人工客服" in texts(messages) and not TRANSFERRING.search(texts(messages))
    assert slot_events(events)["fault_kind"] == "outage"


def test_a_report_while_already_waiting_asks_for_no_second_person():
    state = user_turn(snapshot("idle_unverified", account_no=None), "什么破系统，又停电了", "report_outage")
    state["latest_message"]["metadata"] = {"channel": "web", "queue": {"position": 1}}
    messages, _ = run(run_action(ActionStartFaultReport(), state))
    assert not customs(messages)


@pytest.mark.parametrize(("text", "reason"), [("我要投诉，师傅态度特别差", "complaint"),
                                              ("我要投诉到12398，你们太过分了", "angry")])
def test_a_complaint_is_queued_by_the_bot_in_words_that_fit_the_form(text, reason):
    state = user_turn(snapshot("idle_unverified"), text, "complaint")
    messages, _ = run(run_action(ActionStartComplaint(), state))
    assert {"handoff": True, "reason": reason} in customs(messages)
    assert not TRANSFERRING.search(texts(messages))


def test_a_complaint_in_the_middle_of_a_report_is_queued_and_the_report_goes_on():
    state = user_turn(snapshot("fault_form_started"), "你们这效率也太低了", "complaint")
    messages, _ = run(run_action(ActionNoteComplaint(), state))
    assert {"handoff": True, "reason": "complaint"} in customs(messages)
    assert not TRANSFERRING.search(texts(messages))


# ---------------------------------------------------------------- with the API
def test_usage_is_averaged_over_the_days_with_meter_data(api, showcase):
    account, _ = showcase["normal"]
    data = run(ZhidianClient().usage(account_no=account, days=30))
    state = snapshot("idle_unverified", verified=True, verified_account=account, account_no=account)
    messages, _ = run(run_action(ActionQueryUsage(), state))
    said = re.search(r"日均(\d+(?:\.\d+)?)千瓦时", texts(messages))
    assert said and abs(float(said.group(1)) - data["average_daily_kwh"]) <= 0.06


def test_a_ticket_of_another_chat_starts_the_verification(api, showcase):
    account, mobile = showcase["household_outage"]
    number = run(ZhidianClient().create_fault_ticket({
        "kind": "outage", "account_no": account, "description": "全屋没电", "channel": "hotline",
        "idempotency_key": "conv-set-0001:fault:1"}))["number"]
    state = user_turn(snapshot("idle_unverified"), f"帮我查下工单{number.lower()}的进度", "query_ticket_status",
                      entities=[{"entity": "ticket_no", "value": number.lower()}])
    state["sender_id"] = "conv-set-0002"
    messages, events = run(run_action(ActionQueryTicketStatus(), state))
    assert "核验" in texts(messages) and "当前状态" not in texts(messages)
    assert followups(events) == ["verify_form"] and slot_events(events)["ticket_no"] == number


def test_tickets_by_account_start_the_verification_with_that_account(api, showcase):
    account, _ = showcase["low_voltage"]
    state = user_turn(snapshot("idle_unverified"), f"我昨天报修的，到现在都没人来，户号{account}",
                      "query_ticket_status", entities=[{"entity": "account_no", "value": account}])
    messages, events = run(run_action(ActionQueryTicketStatus(), state))
    assert followups(events) == ["verify_form"]
    assert slot_events(events)["verify_account"] == account and "当前状态" not in texts(messages)


def test_account_and_last_four_in_one_message_verify_at_once(api, showcase):
    account, mobile = showcase["normal"]
    state = snapshot("verify_form_last4", requested_slot="verify_account", verify_account=None)
    state = user_turn(state, f"好的，户号{account}，手机后四位{mobile[-4:]}",
                      candidates={"verify_account": f"好的，户号{account}，手机后四位{mobile[-4:]}"})
    state["sender_id"] = "conv-set-0003"
    messages, events = run(run_action(ValidateVerifyForm(), state))
    slots = slot_events(events)
    assert slots["verified"] is True and slots["verified_account"] == account
    assert "核验通过" in texts(messages)


def test_a_planned_outage_is_told_instead_of_taking_a_repair(api, showcase):
    account, _ = showcase["planned_outage"]
    state = user_turn(snapshot("fault_form_started"), account, candidates={"fault_contact": account})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    text = texts(messages)
    assert "计划停电" in text and "不需要报修" in text and re.search(r"通知编号\S+", text)
    assert [e["value"] for e in events if e.get("name") == "requested_slot"][-1] is None


def test_an_area_dark_for_planned_work_is_not_said_to_be_under_repair(api, showcase):
    account, _ = showcase["planned_outage"]
    state = user_turn(snapshot("idle_unverified", account_no=account), "家里没电了，是不是你们在检修",
                      "query_outage_notice")
    messages, _ = run(run_action(ActionQueryOutageNotice(), state))
    text = texts(messages)
    assert "计划停电" in text and "抢修人员正在全力处理" not in text


def test_the_same_account_again_at_the_last_four_question_is_no_change(showcase):
    account, _ = showcase["normal"]
    state = user_turn(snapshot("verify_form_last4", verify_account=account), account,
                      candidates={"verify_last4": account})
    messages, events = run(run_action(ValidateVerifyForm(), state))
    assert "改为" not in texts(messages) and "后四位" in texts(messages)
    assert slot_events(events)["verify_account"] == account
