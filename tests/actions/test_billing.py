"""Billing answers: nothing without verification; real numbers after it."""
from __future__ import annotations

import re

import pytest

from actions.billing import (
    ActionAnswerVerifiedQuery,
    ActionEnergyAdvice,
    ActionForecastBill,
    ActionPayBill,
    ActionQueryBalance,
    ActionQueryBill,
    ActionQueryUsage,
)
from actions.client import ZhidianClient
from actions.common import parse_period
from actions.identity import ValidateVerifyForm
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn

ALL = [ActionQueryBill, ActionQueryBalance, ActionQueryUsage, ActionPayBill, ActionForecastBill,
       ActionEnergyAdvice]



@pytest.mark.parametrize("action", ALL)
def test_typing_a_account_number_reveals_nothing(action, api_down):
    # The 户号 is known but not verified: no API call (it would fail: API down), no figures.
    messages, events = run(run_action(action(), snapshot("idle_unverified")))
    text = texts(messages)
    assert "核验" in text
    assert "繁忙" not in text
    assert not re.search(r"\d+(\.\d+)?\s*(元|千瓦时)", text)
    assert events == []


def test_verify_form_reuses_the_account_given_earlier():
    state = user_turn(snapshot("idle_unverified"), "查一下电费", "query_bill")
    _, events = run(run_action(ValidateVerifyForm(), state))
    slots = slot_events(events)
    assert slots["verify_account"] == "0401000005"


def test_verify_account_format():
    state = user_turn(snapshot("verify_form_last4", verify_account=None, requested_slot="verify_account"),
                      "13995541234", candidates={"verify_account": "13995541234"})
    messages, events = run(run_action(ValidateVerifyForm(), state))
    assert "手机号不能代替户号" in texts(messages)
    assert slot_events(events)["verify_account"] is None


def test_parse_period():
    from datetime import date

    today = date(2026, 11, 24)
    assert parse_period("上个月", today) == "2026-10"
    assert parse_period("10月份", today) == "2026-10"
    assert parse_period("十二月", today) == "2025-12"
    assert parse_period("去年12月", today) == "2025-12"
    assert parse_period("2026年9月", today) == "2026-09"
    assert parse_period("本月", today) == "2026-11"
    assert parse_period("最近", today) is None


# ---------------------------------------------------------------- with the real API
def _verify(last4: str, account: str):
    state = user_turn(snapshot("verify_form_last4", verify_account=account), last4,
                      candidates={"verify_last4": last4})
    return run(run_action(ValidateVerifyForm(), state))


def test_wrong_last4_is_refused_and_counted(api, showcase):
    account, mobile = showcase["normal"]
    wrong = "0000" if mobile[-4:] != "0000" else "1111"
    messages, events = _verify(wrong, account)
    slots = slot_events(events)
    assert slots.get("verified") is not True
    assert slots["verify_failures"] == {"verify_last4": 1}
    assert "核验未通过" in texts(messages)


def test_right_last4_verifies_and_the_bill_has_real_figures(api, showcase):
    account, mobile = showcase["normal"]
    messages, events = _verify(mobile[-4:], account)
    slots = slot_events(events)
    assert slots["verified"] is True and slots["verified_account"] == account
    state = snapshot("verify_form_last4", verify_account=account, verified=True,
                     verified_account=account, requested_slot=None)
    messages, _ = run(run_action(ActionAnswerVerifiedQuery(), state))
    # The answer agrees with the API (the shared test demo covers only a few days, so it may
    # hold no complete month yet).
    bills = run(ZhidianClient().bills(account_no=account, months=24))
    if bills:
        latest = max(bills, key=lambda b: b["period"])
        assert f"电费{latest['amount_yuan']}元" in texts(messages) or "千瓦时" in texts(messages)
    else:
        assert "还没有出账" in texts(messages)


def test_arrears_balance(api, showcase):
    account, _ = showcase["arrears"]
    state = snapshot("idle_unverified", verified=True, verified_account=account, account_no=account)
    messages, _ = run(run_action(ActionQueryBalance(), state))
    assert "欠费" in texts(messages)


@pytest.mark.parametrize("action", [ActionQueryUsage, ActionPayBill, ActionForecastBill, ActionEnergyAdvice])
def test_other_answers_use_the_customers_numbers(action, api, showcase):
    account, _ = showcase["normal"]
    state = snapshot("idle_unverified", verified=True, verified_account=account, account_no=account)
    messages, _ = run(run_action(action(), state))
    text = texts(messages)
    assert "繁忙" not in text
    assert re.search(r"\d", text) or "还没有出账" in text
