"""Dialogue repair, the same for every form (actions/forms.py), and the issue's reproductions.

The address loop (对，就是这个地址 answered seven times with 换个地址), a repeated description at
the read-back (a brand-new report), and input nothing can be read from (silence → "busy").
"""
from __future__ import annotations

import pytest
import yaml

from actions.applications import (
    APPLICATION_FORM,
    COMPLAINT_FORM,
    ActionCreateComplaintTicket,
    ValidateComplaintForm,
    ValidateServiceApplicationForm,
)
from actions.faults import (
    FAULT_FORM,
    ActionAskFaultAddressConfirmed,
    ActionChangeFaultAddress,
    ActionCreateFaultTicket,
    ValidateFaultReportForm,
)
from actions.fallback import ActionAnswerStray
from actions.forms import refers_back, similar
from actions.identity import VERIFY_FORM, ValidateVerifyForm
from actions.theft import THEFT_FORM
from tests.actions.conftest import DOMAIN, ROOT, run, run_action, slot_events, snapshot, texts, user_turn

ON_FILE = "原州区南关街道民主街**号***"
HANDOFF = {"handoff": True, "reason": "repeated_fallback"}


def at_address_question(text: str, intent: str = "inform", *, candidates=None, **slots):
    """The fault form reading back the address on file, and the customer's answer."""
    state = snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                     fault_masked_address=ON_FILE, requested_slot="fault_address_confirmed", **slots)
    return user_turn(state, text, intent, candidates=candidates)


def buttons(messages) -> list[str]:
    return [b["title"] for m in messages for b in m.get("buttons") or []]


def customs(messages) -> list[dict]:
    return [m["custom"] for m in messages if m.get("custom")]


def requested(events) -> list:
    return [e["value"] for e in events if e.get("event") == "slot" and e["name"] == "requested_slot"]


# ---------------------------------------------------------------- answers that refer back
@pytest.mark.parametrize("text", ["对，就是这个地址", "就是登记的", "同上", "和刚才说的一样", "就是这个地址没变"])
def test_references_are_recognised(text):
    assert refers_back(text)


@pytest.mark.parametrize("text", ["不是这个地址", "换个地址", "刚才说错了", "新的地址是文化街5号", "原州区文化街28号"])
def test_a_correction_or_a_new_answer_is_no_reference(text):
    assert not refers_back(text)


def test_the_address_loop_this_address_keeps_the_address_on_file():
    """The issue's loop: 对，就是这个地址 (NLU: change_address) got 好的，换个地址 seven times."""
    state = at_address_question("对，就是这个地址", "change_address")
    for _ in range(7):
        messages, events = run(run_action(ActionChangeFaultAddress(), state))
        slots = slot_events(events)
        assert slots["fault_address_confirmed"] is True and slots["fault_address"] is None
        assert "换个地址" not in texts(messages) and "登记的地址" in texts(messages)


def test_a_real_change_of_address_still_asks_for_the_new_one():
    messages, events = run(run_action(ActionChangeFaultAddress(), at_address_question("地址不对 换一个", "change_address")))
    assert "换个地址" in texts(messages)
    assert slot_events(events)["fault_address_confirmed"] is False


def test_registered_address_named_at_the_free_address_question_confirms_it():
    state = at_address_question("就是登记的地址", fault_address_confirmed=False,
                                candidates={"fault_address": "就是登记的地址"})
    state["slots"]["requested_slot"] = "fault_address"
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    slots = slot_events(events)
    assert slots["fault_address_confirmed"] is True and slots["fault_address"] is None
    assert slots["requested_slot"] == "fault_description"
    assert messages == []


def test_just_said_at_the_description_question_takes_the_words_that_started_the_report():
    state = snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                     fault_address_confirmed=True, fault_masked_address=ON_FILE,
                     requested_slot="fault_description")
    state["events"][3]["text"] = "家里全屋没电了，邻居家也没电"  # the message that started the report
    state = user_turn(state, "刚才说的", candidates={"fault_description": "刚才说的"})
    _, events = run(run_action(ValidateFaultReportForm(), state))
    slots = slot_events(events)
    assert slots["fault_description"] == "家里全屋没电了，邻居家也没电"
    assert slots["requested_slot"] == "fault_confirmed"


def test_a_reference_with_nothing_known_is_an_ordinary_answer():
    state = user_turn(snapshot("fault_form_started", account_no=None), "同上", candidates={"fault_contact": "同上"})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert "户号" in texts(messages)
    assert slot_events(events)["fault_failures"] == {"fault_contact": 1}


# ---------------------------------------------------------------- unclear answers, limits
def test_an_unclear_answer_to_a_yes_no_question_is_a_counted_failure_not_silence():
    messages, events = run(run_action(ValidateFaultReportForm(), at_address_question("嗯嗯好的吧那个")))
    assert "没太明白" in texts(messages) and ON_FILE in texts(messages)
    slots = slot_events(events)
    assert slots["fault_failures"] == {"fault_address_confirmed": 1}
    assert slots["prompted_slot"] == "fault_address_confirmed"
    assert slots["requested_slot"] == "fault_address_confirmed"


def test_the_second_failure_explains_with_buttons_that_fit_the_slot():
    state = at_address_question("嗯嗯好的吧那个", fault_failures={"fault_address_confirmed": 1})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert "抢修人员该去哪里" in texts(messages)
    assert buttons(messages) == ["就是登记地址", "换个地址", "转人工", "退出报修"]
    assert slot_events(events)["fault_failures"] == {"fault_address_confirmed": 2}


def test_the_third_failure_ends_the_form_and_hands_over_instead_of_asking_again():
    state = at_address_question("嗯嗯好的吧那个", fault_failures={"fault_address_confirmed": 2})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert customs(messages) == [HANDOFF]
    assert "转接人工客服" in texts(messages)
    assert requested(events)[-1] is None  # Rasa ends the form: no fourth question
    assert slot_events(events)["handoff_requested"] is True


@pytest.mark.parametrize("text", ["!!!", "<script>", "\u200b\u200b", "？？？"])
def test_unreadable_text_is_never_taken_as_an_answer(text):
    state = snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                     fault_address_confirmed=True, fault_masked_address=ON_FILE,
                     requested_slot="fault_description")
    state = user_turn(state, text, "nlu_fallback", candidates={"fault_description": text})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    slots = slot_events(events)
    assert slots["fault_description"] is None
    assert slots["fault_failures"] == {"fault_description": 1}
    assert "没太看懂" in texts(messages)


def test_an_unreadable_answer_at_a_yes_no_question_gets_a_reply_too():
    messages, events = run(run_action(ValidateFaultReportForm(), at_address_question("!!!", "nlu_fallback")))
    assert messages and slot_events(events)["fault_failures"] == {"fault_address_confirmed": 1}


def test_an_interruption_is_left_to_its_rule():
    state = at_address_question("电费怎么交", "pay_bill")
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert messages == []
    assert "fault_failures" not in slot_events(events)


def test_the_question_after_a_rule_answered_an_interruption_is_no_answer():
    # After an interruption (a rule answered it) the form asks again: the message is not its answer.
    state = at_address_question("嗯嗯好的吧那个")
    state["events"].append({"event": "action", "name": "action_answer_faq"})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert messages == [] and "fault_failures" not in slot_events(events)


def test_the_address_question_is_silent_after_the_explanation():
    state = at_address_question("嗯嗯好的吧那个")
    state["events"] += [{"event": "slot", "name": "prompted_slot", "value": "fault_address_confirmed"}]
    messages, _ = run(run_action(ActionAskFaultAddressConfirmed(), state))
    assert messages == []


# ---------------------------------------------------------------- the read-back
def at_read_back(text: str, intent: str, description: str = "全屋没电", **slots):
    state = snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                     fault_address_confirmed=True, fault_masked_address=ON_FILE,
                     fault_description=description, requested_slot="fault_confirmed", **slots)
    return user_turn(state, text, intent)


def test_a_description_repeated_at_the_read_back_updates_the_report_not_a_new_one():
    """The issue: 全屋没电了，邻居家也没电 at the read-back started a brand-new report."""
    messages, events = run(run_action(ValidateFaultReportForm(), at_read_back("全屋没电了，邻居家也没电", "report_outage")))
    slots = slot_events(events)
    assert slots["fault_description"] == "全屋没电了，邻居家也没电"
    assert slots.get("fault_confirmed") is None and "fault_contact" not in slots
    assert requested(events)[-1] == "fault_confirmed"  # the read-back again, with the update
    assert "更新" in texts(messages)


def test_the_same_description_again_is_kept():
    messages, events = run(run_action(ValidateFaultReportForm(), at_read_back("全屋都没电了", "report_outage")))
    assert "已经记下了" in texts(messages)
    assert "fault_description" not in slot_events(events)


def test_something_else_at_the_read_back_is_added_to_the_report():
    state = at_read_back("还闻到一股焦糊味", "inform", description="全屋没电")
    _, events = run(run_action(ValidateFaultReportForm(), state))
    assert slot_events(events)["fault_description"] == "全屋没电；还闻到一股焦糊味"


def test_the_read_back_is_asked_at_most_three_times():
    state = at_read_back("还闻到一股焦糊味", "inform", fault_failures={"fault_confirmed": 2})
    messages, events = run(run_action(ValidateFaultReportForm(), state))
    assert customs(messages) == [HANDOFF] and requested(events)[-1] is None


@pytest.mark.parametrize(("new", "old", "expected"), [
    ("全屋没电", "全屋没电了", (True, False)),
    ("全屋没电了，邻居家也没电", "全屋没电", (False, True)),
    ("闻到焦糊味", "全屋没电", (False, False)),
])
def test_similar_descriptions(new, old, expected):
    assert similar(new, old) == expected


def test_a_run_that_ended_unconfirmed_is_not_submitted(api_down):
    state = user_turn(snapshot("fault_form_started", fault_contact="0401000003", fault_account="0401000003",
                               fault_description="全屋没电", fault_confirmed=None, requested_slot=None),
                      "嗯嗯", "inform")
    messages, events = run(run_action(ActionCreateFaultTicket(), state))
    assert messages == []  # the form said why when it gave up; nothing submitted, no "busy"
    assert slot_events(events)["fault_description"] is None


# ---------------------------------------------------------------- every form, the same base
def complaint_at(slot: str, text: str, intent: str = "inform", candidates=None, **slots):
    state = snapshot("idle_unverified", requested_slot=slot, **slots)
    state["active_loop"] = {"name": "complaint_form"}
    return user_turn(state, text, intent, candidates=candidates)


def test_complaint_details_referring_to_what_was_said_before():
    state = snapshot("idle_unverified", requested_slot="complaint_details")
    state = user_turn(state, "营业厅的人说话太冲了，推来推去没人管", "complaint")
    state["events"].append({"event": "action", "name": "action_start_complaint"})
    state = user_turn(state, "就是刚才说的", "inform", candidates={"complaint_details": "就是刚才说的"})
    _, events = run(run_action(ValidateComplaintForm(), state))
    assert slot_events(events)["complaint_details"] == "营业厅的人说话太冲了，推来推去没人管"


def test_complaint_more_words_at_the_read_back_are_added_not_a_new_complaint():
    state = complaint_at("complaint_confirmed", "而且打了三次95598都没人回复", "complaint",
                         complaint_details="营业厅的人态度太差了", phone="13900000005")
    _, events = run(run_action(ValidateComplaintForm(), state))
    slots = slot_events(events)
    assert slots["complaint_details"] == "营业厅的人态度太差了；而且打了三次95598都没人回复"
    assert None not in requested(events)  # the form goes on: Rasa reads the complaint back again


def test_a_service_named_earlier_is_recalled():
    state = snapshot("idle_unverified", requested_slot="service_type")
    state = user_turn(state, "我想办峰谷电，要带什么", "apply_service")
    state["events"].append({"event": "action", "name": "action_apply_service"})
    state = user_turn(state, "就是刚才说的那个", "inform", candidates={"service_type": "就是刚才说的那个"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["service_type"] == "峰谷电"


def test_an_account_number_typed_again_and_again_at_the_phone_question_is_limited():
    state = complaint_at("phone", "0401000005", complaint_details="态度差",
                         complaint_failures={"phone": 2})
    messages, events = run(run_action(ValidateComplaintForm(), state))
    assert customs(messages) == [HANDOFF] and requested(events)[-1] is None


def test_an_unconfirmed_complaint_is_not_submitted(api_down):
    state = user_turn(snapshot("idle_unverified", complaint_details="态度差", phone="13900000005"), "嗯", "inform")
    messages, _ = run(run_action(ActionCreateComplaintTicket(), state))
    assert messages == []


@pytest.mark.parametrize("form", [FAULT_FORM, VERIFY_FORM, APPLICATION_FORM, COMPLAINT_FORM, THEFT_FORM],
                         ids=lambda f: f.name)
def test_a_forms_interruptions_are_the_intents_its_free_text_slots_do_not_take(form):
    """FormSpec.interruptions mirror the domain's not_intent lists (one place to read them)."""
    lists = [set(m.get("not_intent") or []) for slot, spec in DOMAIN["slots"].items()
             for m in spec.get("mappings") or [] if m.get("type") == "from_text"
             and any(c.get("active_loop") == form.name for c in m.get("conditions") or [])]
    assert lists
    for not_intent in lists:
        assert not_intent <= form.interruptions, not_intent - form.interruptions
    if form in (FAULT_FORM, VERIFY_FORM, THEFT_FORM):  # one list for all its slots
        assert lists[0] == form.interruptions


@pytest.mark.parametrize("form", [FAULT_FORM, VERIFY_FORM, APPLICATION_FORM, COMPLAINT_FORM, THEFT_FORM],
                         ids=lambda f: f.name)
def test_every_interruption_has_a_rule_in_the_form(form):
    """An interruption the form leaves alone must be answered by a rule, or the customer hears nothing."""
    rules = []
    for path in (ROOT / "bot" / "data" / "rules").glob("*.yml"):
        rules += yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []
    handled = {step["intent"] for rule in rules
               if {"active_loop": form.name} in (rule.get("condition") or [])
               for step in rule["steps"][:1] if "intent" in step}
    assert form.interruptions <= handled, form.interruptions - handled


def test_verify_third_wrong_last4_hands_over(api_down):
    state = user_turn(snapshot("verify_form_last4", verify_failures={"verify_last4": 2}), "abcd")
    messages, events = run(run_action(ValidateVerifyForm(), state))
    assert customs(messages) == [HANDOFF] and requested(events)[-1] is None


# ---------------------------------------------------------------- answers nothing asked for
@pytest.mark.parametrize(("text", "intent", "entities", "said"), [
    ("0401000005", "inform", [], "户号 0401****05"),
    ("原州区文化街28号", "inform", [{"entity": "address", "value": "原州区文化街28号"}], "停电通知"),
    ("好的", "affirm", [], "还有什么可以帮您"),
    ("不是", "deny", [], "随时告诉我"),
    ("随便", "inform", [], "没太明白"),
])
def test_an_answer_no_question_asked_for_gets_a_reply_not_silence(text, intent, entities, said):
    """Outside a form '0401000005' or '好的' got no reply, and the gateway said the system was busy."""
    state = user_turn(snapshot("idle_unverified"), text, intent, entities=entities)
    messages, events = run(run_action(ActionAnswerStray(), state))
    assert said in texts(messages) and buttons(messages) and events == []


def test_a_correction_that_names_the_new_address_takes_all_of_it():
    text = "地址不对，我现在住在原州区文化街28号3号楼2单元401，不是登记的那个"
    state = at_address_question(text, "change_address")
    # The NLU's entity is often cut short: the whole phrase from where it starts is the address.
    state["latest_message"]["entities"] = [{"entity": "address", "value": "原州区文化街",
                                            "start": text.index("原州区"), "end": text.index("原州区") + 6}]
    messages, events = run(run_action(ActionChangeFaultAddress(), state))
    assert slot_events(events) == {"fault_address_confirmed": False, "fault_address": "原州区文化街28号3号楼2单元401",
                                   "fault_confirmed": None}
    assert "改为：原州区文化街28号3号楼2单元401。" in texts(messages)


def test_an_address_at_the_read_back_changes_the_address_not_the_description():
    state = at_read_back("原州区文化街28号3号楼2单元", "inform")
    state["latest_message"]["entities"] = [{"entity": "address", "value": "原州区文化街28号3号楼2单元"}]
    _, events = run(run_action(ValidateFaultReportForm(), state))
    slots = slot_events(events)
    assert slots["fault_address"] == "原州区文化街28号3号楼2单元" and slots["fault_address_confirmed"] is False
    assert "fault_description" not in slots and None not in requested(events)  # read back again
