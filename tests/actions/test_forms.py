"""actions.forms: every form on one base, bound to the domain by name; what the base does alike."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import ActionExecutor

from actions.applications import (
    APPLICATION_FORM,
    COMPLAINT_FORM,
    ValidateComplaintForm,
    ValidateServiceApplicationForm,
)
from actions.faults import FAULT_FORM, ValidateFaultReportForm
from actions.forms import AskSlot, FormValidation, bump_failures, clear_failures
from actions.identity import VERIFY_FORM, ActionAskVerifyAccount, ValidateVerifyForm
from actions.theft import THEFT_FORM, ValidateTheftReportForm
from tests.actions.conftest import DOMAIN, run, run_action, slot_events, snapshot, texts, user_turn

VALIDATIONS = (ValidateFaultReportForm, ValidateVerifyForm, ValidateServiceApplicationForm,
               ValidateComplaintForm, ValidateTheftReportForm)


def registered_actions() -> dict:
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor.actions


def test_the_action_server_registers_exactly_the_domains_custom_actions():
    custom = {a for a in DOMAIN["actions"] if not a.startswith("utter_")}
    assert set(registered_actions()) == custom


def test_every_form_of_the_domain_has_one_spec_and_one_validation():
    specs = {v.form.name: v.form for v in VALIDATIONS}
    assert set(specs) == set(DOMAIN["forms"])
    assert [FAULT_FORM, VERIFY_FORM, APPLICATION_FORM, COMPLAINT_FORM, THEFT_FORM] == list(specs.values())
    for validation in VALIDATIONS:
        assert issubclass(validation, FormValidation)
        assert validation().form_name() == validation.form.name


@pytest.mark.parametrize("form", [FAULT_FORM, VERIFY_FORM, APPLICATION_FORM, COMPLAINT_FORM, THEFT_FORM],
                         ids=lambda f: f.name)
def test_a_forms_bookkeeping_slots_are_in_the_domain(form):
    assert form.slot("failures") in DOMAIN["slots"]
    assert set(form.form_slots) <= set(DOMAIN["slots"])
    if form.form_slots:  # a form whose run ends in a submission
        for what in ("run", "pending", "confirmed", "ticket_no"):
            assert form.slot(what) in DOMAIN["slots"], form.slot(what)
        assert form.start_text or form.name == "fault_report_form"  # faults word it per kind
        assert form.resume_text and form.busy_text and "{api}" in form.rejected_text


def test_every_question_action_is_on_the_base_and_asks_for_a_slot_of_the_domain():
    asks = {name: run.__self__ for name, run in registered_actions().items()
            if name.startswith("action_ask_")}
    assert len(asks) == 17  # every slot of every form: its question can be repaired
    for ask in asks.values():
        assert isinstance(ask, AskSlot)
        assert ask.slot in DOMAIN["slots"]


def test_failures_are_counted_per_slot_and_forgotten_once_accepted():
    failures, count = bump_failures(None, "phone")
    assert (failures, count) == ({"phone": 1}, 1)
    failures, count = bump_failures({"phone": 1, "service_type": 1}, "phone")
    assert (failures, count) == ({"phone": 2, "service_type": 1}, 2)
    assert clear_failures(failures, "phone") == {"service_type": 1}


def test_verify_second_wrong_account_offers_to_leave_or_a_human():
    state = user_turn(snapshot("verify_form_last4", verify_account=None, requested_slot="verify_account",
                               verify_failures={"verify_account": 1}),
                      "12345", candidates={"verify_account": "12345"})
    messages, events = run(run_action(ValidateVerifyForm(), state))
    assert "户号是10位数字" in texts(messages) and "先退出核验" in texts(messages)
    assert [b["payload"] for m in messages for b in m.get("buttons") or []] == \
        ["/deny", "/request_human"]
    slots = slot_events(events)
    assert slots["verify_failures"] == {"verify_account": 2}
    assert slots["prompted_slot"] == "verify_account"


def test_verify_question_is_silent_right_after_a_rejected_answer():
    state = user_turn(snapshot("verify_form_last4", verify_account=None, requested_slot="verify_account"),
                      "12345")
    messages, _ = run(run_action(ActionAskVerifyAccount(), state))
    assert "10位户号" in texts(messages)
    state["events"] += [{"event": "slot", "name": "verify_account", "value": None},
                        {"event": "slot", "name": "prompted_slot", "value": "verify_account"}]
    messages, _ = run(run_action(ActionAskVerifyAccount(), state))
    assert messages == []
