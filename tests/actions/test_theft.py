"""theft_report_form (issue 14): a report of theft or illegal wiring becomes a lead for 用电检查.

The place is asked (never the reporter's own address), what was seen is taken from the first message
when it says it, a mobile is required (the one on file offered to a verified reporter; a refusal is
told why and pointed to 95598, and nothing is filed), the read-back, then POST /api/audit/leads once
per run. The answer thanks, gives the number, says 用电检查人员 check on site and that the reporter is
kept confidential; it promises no reward and no time.
"""
from __future__ import annotations

import copy
import re

from actions.client import ZhidianClient
from actions.theft import (
    ActionAskTheftConfirmed,
    ActionAskTheftPhone,
    ActionChangeTheftAddress,
    ActionCreateTheftLead,
    ActionPauseTheftReport,
    ActionStartTheftReport,
    ValidateTheftReportForm,
    theft_details_from,
)
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn
from tests.actions.test_applications import buttons_of, form_state

FORM = "theft_report_form"
NUMBER = re.compile(r"GD\d{8}-\d{4}")


def theft(requested: str | None, **slots):
    """The theft report having just asked for ``requested``."""
    return form_state(FORM, requested, sender="conv-theft-0001", **{"theft_run": 1.0, **slots})


def ready(**slots):
    """A confirmed report, as the form leaves it for action_create_theft_lead."""
    state = theft(None, **{"theft_address": "原州区文化街28号后面的小院", "theft_description": "邻居从电线杆上私拉电线用电",
                           "theft_phone": "13812345678", "theft_confirmed": True, **slots})
    state["active_loop"] = {}
    return user_turn(state, "确认", "affirm")


# ---------------------------------------------------------------- the start
def test_what_was_seen_is_taken_from_the_first_message_but_a_bare_report_is_not():
    assert theft_details_from("邻居从电线杆上私拉电线偷电") == "邻居从电线杆上私拉电线偷电"
    assert theft_details_from("某个厂子晚上偷偷用电") == "某个厂子晚上偷偷用电"
    for bare in ("我要举报窃电", "举报一下", "有人偷电", "/report_theft"):
        assert theft_details_from(bare) is None, bare


def test_the_start_thanks_keeps_the_description_and_never_assumes_the_reporters_address():
    state = user_turn(snapshot("idle_unverified"), "原州区文化街有个厂子晚上偷偷用电", "report_theft",
                      entities=[{"entity": "address", "value": "原州区文化街", "start": 0, "end": 6}])
    messages, events = run(run_action(ActionStartTheftReport(), state))
    slots = slot_events(events)
    assert slots["theft_description"] == "原州区文化街有个厂子晚上偷偷用电"
    assert slots["theft_address"] == "原州区文化街"  # the place the message names, not the account's
    assert slots["theft_run"] == 1.0 and slots.get("theft_phone_on_file") is None
    text = texts(messages)
    assert "用电检查" in text and "严格保密" in text


def test_the_account_on_file_is_not_the_place():
    state = user_turn(snapshot("idle_unverified"), "我要举报窃电", "report_theft")  # 户号 0401000005 known
    _, events = run(run_action(ActionStartTheftReport(), state))
    slots = slot_events(events)
    assert slots.get("theft_address") is None and slots.get("theft_description") is None


def test_a_verified_reporter_is_offered_the_mobile_on_file(api, showcase):
    account, mobile = showcase["normal"]
    state = user_turn(snapshot("idle_unverified", verified=True, verified_account=account), "有人偷电",
                      "report_theft")
    _, events = run(run_action(ActionStartTheftReport(), state))
    on_file = slot_events(events)["theft_phone_on_file"]
    assert on_file == mobile
    asked = theft("theft_phone", theft_phone_on_file=on_file)
    messages, _ = run(run_action(ActionAskTheftPhone(), user_turn(asked, "x")))
    assert "139****0005" in texts(messages) and mobile not in texts(messages)
    assert buttons_of(messages) == [{"title": "用登记的手机号", "payload": "/affirm"}]


def test_the_slots_emptied_by_the_start_are_no_failed_answers():
    """At activation Rasa validates every slot set since the message, the start's emptied ones too."""
    state = user_turn(snapshot("idle_unverified", account_no=None, theft_run=1.0), "有人偷电", "report_theft")
    state["events"] += [{"event": "action", "name": "action_start_theft_report"},
                        {"event": "slot", "name": "requested_slot", "value": "theft_address"},
                        {"event": "action", "name": FORM}]
    state["events"] += [{"event": "slot", "name": name, "value": None}
                        for name in ("theft_address", "theft_description", "theft_phone", "theft_confirmed")]
    state["active_loop"] = {"name": FORM}
    messages, events = run(run_action(ValidateTheftReportForm(), state))
    assert messages == [] and "theft_failures" not in slot_events(events)


# ---------------------------------------------------------------- the answers
def test_a_yes_at_the_phone_question_takes_the_mobile_on_file():
    state = user_turn(theft("theft_phone", theft_phone_on_file="13900000005"), "/affirm", "affirm",
                      candidates={"theft_phone": "/affirm"})
    _, events = run(run_action(ValidateTheftReportForm(), state))
    assert slot_events(events)["theft_phone"] == "13900000005"


def test_a_mobile_is_validated_like_the_other_forms():
    state = user_turn(theft("theft_phone"), "我电话 138-1234-5678", candidates={"theft_phone": "我电话 138-1234-5678"})
    _, events = run(run_action(ValidateTheftReportForm(), state))
    assert slot_events(events)["theft_phone"] == "13812345678"
    for typed, said in (("1381234567", "手机号是11位"), ("0401000005", "是户号")):
        state = user_turn(theft("theft_phone"), typed, candidates={"theft_phone": typed})
        messages, events = run(run_action(ValidateTheftReportForm(), state))
        assert said in texts(messages) and slot_events(events)["theft_phone"] is None


def test_a_reporter_who_will_not_leave_a_number_is_told_why_and_pointed_to_95598():
    state = user_turn(theft("theft_phone"), "我不想留电话，能匿名举报吗", "inform",
                      candidates={"theft_phone": "我不想留电话，能匿名举报吗"})
    messages, events = run(run_action(ValidateTheftReportForm(), state))
    text = texts(messages)
    assert "核实" in text and "严格保密" in text and "95598" in text and "需要留一个手机号" in text
    assert {"title": "不举报了", "payload": "/stop_report"} in buttons_of(messages)
    assert slot_events(events)["theft_phone"] is None  # nothing filed without a number


def test_a_no_at_the_phone_question_explains_then_asks_whether_to_go_on():
    state = theft("theft_phone")
    state["events"] += [{"event": "user", "text": "不想留电话", "parse_data": {"intent": {"name": "deny"}}},
                        {"event": "action", "name": "action_deactivate_loop"},
                        {"event": "active_loop", "name": None},
                        {"event": "slot", "name": "requested_slot", "value": None}]
    messages, _ = run(run_action(ActionPauseTheftReport(), state))
    text = texts(messages)
    assert "95598" in text and "严格保密" in text and "还要继续" in text
    assert [b["payload"] for b in buttons_of(messages)] == ["/affirm", "/deny"]
    messages, _ = run(run_action(ActionPauseTheftReport(), theft("theft_address")))
    assert texts(messages).startswith("好的，举报先暂停。")


def test_a_vague_place_is_asked_again():
    state = user_turn(theft("theft_address"), "那边", candidates={"theft_address": "那边"})
    messages, events = run(run_action(ValidateTheftReportForm(), state))
    assert "具体" in texts(messages) and slot_events(events)["theft_address"] is None


def test_the_read_back_shows_the_report_with_the_number_masked():
    state = theft("theft_confirmed", theft_address="原州区文化街28号后面的小院", theft_description="绕过电表用电",
                  theft_phone="13812345678")
    messages, _ = run(run_action(ActionAskTheftConfirmed(), user_turn(state, "x")))
    text = texts(messages)
    assert "地点：原州区文化街28号后面的小院" in text and "情况：绕过电表用电" in text
    assert "138****5678" in text and "13812345678" not in text
    assert [b["payload"] for b in buttons_of(messages)] == ["/affirm", "/change_address", "/stop_report"]


def test_more_words_at_the_read_back_are_added_to_what_was_seen():
    state = theft("theft_confirmed", theft_address="原州区文化街28号", theft_description="绕过电表用电",
                  theft_phone="13812345678")
    state = user_turn(state, "每天晚上十点以后开始用", "inform")
    _, events = run(run_action(ValidateTheftReportForm(), state))
    assert slot_events(events)["theft_description"] == "绕过电表用电；每天晚上十点以后开始用"


def test_a_new_place_replaces_the_old_one():
    state = user_turn(theft("theft_confirmed", theft_address="文化街"), "地址不对，是西吉县吉强镇北大街5号",
                      "change_address", entities=[{"entity": "address", "value": "西吉县吉强镇北大街5号",
                                                   "start": 6, "end": 17}])
    messages, events = run(run_action(ActionChangeTheftAddress(), state))
    assert slot_events(events)["theft_address"] == "西吉县吉强镇北大街5号"
    assert "地点改为" in texts(messages)


# ---------------------------------------------------------------- the lead
def test_the_lead_is_filed_once_and_worded_without_promises(api):
    state = ready()
    messages, events = run(run_action(ActionCreateTheftLead(), state))
    text = texts(messages)
    number = NUMBER.search(text).group(0)
    assert text.startswith("感谢您的举报！")
    assert "用电检查人员到现场核查" in text and "举报人信息严格保密" in text and "138****5678" in text
    assert not re.search(r"奖|小时内|天内|\d+月\d+日|保证|一定", text)  # no reward, no result time
    slots = slot_events(events)
    assert slots["theft_ticket_no"] == number and slots["theft_address"] is None

    again, _ = run(run_action(ActionCreateTheftLead(), copy.deepcopy(state)))
    assert NUMBER.search(texts(again)).group(0) == number  # a retried confirmation files one lead

    ticket = run(ZhidianClient().get_ticket(number))
    assert ticket["type"] == "稽查任务"
    assert "私拉电线" in ticket["description"]
    assert ticket["address_text"] == "原州区文化街28号后面的小院" and ticket["channel"] == "web"
    assert ticket["contact_phone_masked"].endswith("5678")
    assert ticket["account_no"] is None  # nobody verified: no 户号, and never the place's customer


def test_a_verified_reporters_account_goes_with_the_lead(api, showcase):
    account, mobile = showcase["normal"]
    state = ready(verified=True, verified_account=account, account_no=account, theft_phone=mobile)
    messages, _ = run(run_action(ActionCreateTheftLead(), state))
    ticket = run(ZhidianClient().get_ticket(NUMBER.search(texts(messages)).group(0)))
    assert ticket["account_no"] == account


def test_an_unconfirmed_report_is_not_filed(api_down):
    state = ready()
    state["slots"]["theft_confirmed"] = None
    messages, events = run(run_action(ActionCreateTheftLead(), state))
    assert messages == [] and slot_events(events)["theft_address"] is None


def test_api_down_the_report_is_kept_for_a_retry(api_down):
    messages, events = run(run_action(ActionCreateTheftLead(), ready()))
    text = texts(messages)
    assert "系统暂时繁忙" in text and "95598" in text
    assert {"title": "重新提交", "payload": "/report_theft"} in buttons_of(messages)
    assert slot_events(events) == {"theft_confirmed": None, "theft_pending": True}
