"""Light verification (verify_form): 户号 + the last 4 digits of the phone on file.

Until ``verified`` is true no account data (bills, balance, usage) is ever shown. The API limits
wrong answers per conversation and per account (429 ``too_many_attempts``): the form then stops,
says why and offers a person instead of asking again.
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import (
    ACCOUNT_HELP,
    API_DOWN,
    digit_runs,
    events_since_user,
    known_account,
    parse_contact,
    parse_last4,
)
from actions.forms import COMMON_INTERRUPTIONS, HANDOFF_BUTTON, AskSlot, FormSpec, FormValidation
from api.core.ids import ACCOUNT_NO, mask_account

VERIFY_FORM = FormSpec(
    name="verify_form",
    prefix="verify",
    exit_hint="如果一时找不到，可以先退出核验，在网上国网App里自助查询，或者转人工客服帮您处理。",
    exit_buttons=[
        {"title": "退出核验", "payload": "/deny"},
        {"title": "转人工", "payload": "/request_human"},
    ],
    # A report started in the middle leaves the verification (bot/data/rules/billing.yml).
    interruptions=COMMON_INTERRUPTIONS | {"report_outage", "report_hazard", "report_theft"},
    topic="身份核验",
)
TOO_MANY = ("验证失败次数较多，为保护账户安全，暂时不能继续验证。请稍后再试，"
            "或转人工客服帮您核实身份；也可以登录网上国网App查询。")


class ValidateVerifyForm(FormValidation):
    """Checks the 户号 format, then asks the API whether the last 4 digits match."""

    form = VERIFY_FORM

    def name(self) -> Text:
        return "validate_verify_form"

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"就是刚才那个户号" → the 户号 given earlier in the conversation."""
        if slot == "verify_account":
            return {"verify_account": known_account(tracker)}
        return {}

    async def extract_verify_account(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Reuse a 户号 the customer already gave in this conversation."""
        if tracker.get_slot("verify_account"):
            return {}
        account = known_account(tracker)
        return {"verify_account": account} if account else {}

    async def validate_verify_account(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        kind, number = parse_contact(value)
        if kind == "account":
            accepted = self.accept(tracker, "verify_account", number)
            # "户号0402000004 尾号0004": the last four digits came with it, checked at once.
            four = [r for r in digit_runs(value) if len(r) == 4]
            if four:
                return {**accepted, **await self.check_last4(number, four[0], dispatcher, tracker)}
            return accepted
        if kind == "phone":
            return self.reject(
                dispatcher,
                tracker,
                "verify_account",
                "查询账户信息需要用户号来核验，手机号不能代替户号。" + ACCOUNT_HELP,
            )
        return self.reject(dispatcher, tracker, "verify_account", ACCOUNT_HELP)

    async def validate_verify_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # A corrected 户号 typed at this step replaces the previous one.
        runs = digit_runs(value)
        if any(ACCOUNT_NO.match(r) for r in runs) and not any(len(r) == 4 for r in runs):
            account = next(r for r in runs if ACCOUNT_NO.match(r))
            same = account == tracker.get_slot("verify_account")
            dispatcher.utter_message(
                text=f"户号 {mask_account(account)} 我已经记下了，还需要登记手机号的后四位（4位数字）。" if same
                else f"好的，户号改为 {mask_account(account)}。请再告诉我登记手机号的后四位。"
            )
            return {"verify_account": account, "verify_last4": None, "prompted_slot": "verify_last4"}
        last4 = parse_last4(value)
        if last4 is None:
            return self.reject(
                dispatcher, tracker, "verify_last4", "请输入登记手机号的后四位数字，例如“1234”。"
            )
        account = tracker.get_slot("verify_account")
        if not account:
            return {"verify_last4": None}
        return await self.check_last4(account, last4, dispatcher, tracker)

    async def check_last4(
        self, account: str, last4: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """Ask the API whether ``last4`` are the last digits of the phone on file for ``account``."""
        try:
            ok = await ZhidianClient().verify(account_no=account, phone_last4=last4,
                                              conversation_id=tracker.sender_id)
        except ApiRejected as exc:
            if exc.status == 429:
                # Too many wrong answers: no more guesses here, a person can check who is asking.
                dispatcher.utter_message(text=exc.message if exc.message and not exc.message.isascii()
                                         else TOO_MANY, buttons=[HANDOFF_BUTTON])
                return self.stop({"verify_last4": None, "verify_account": None})
            ok = False if exc.status in (404, 422) else None
        except ApiUnavailable:
            ok = None
        if ok is None:
            return self.reject(dispatcher, tracker, "verify_last4", API_DOWN)
        if not ok:
            return self.reject(
                dispatcher,
                tracker,
                "verify_last4",
                f"户号 {mask_account(account)} 和手机后四位没有对上，核验未通过。"
                "请核对后再输入一次后四位；如果户号输错了，也可以直接输入正确的10位户号。",
            )
        dispatcher.utter_message(text="核验通过，谢谢您的配合。")
        return {
            "verify_last4": last4,
            "verified": True,
            "verified_account": account,
            "account_no": account,
            "verify_failures": {},
        }


EXPLAINING = ("action_query_ticket_status", "action_explain_bill_increase")


def explained_by(tracker: Tracker) -> str | None:
    """The answer that just said why verification is needed and started the form (a ticket's progress,
    the reasons of a high bill), if one did this turn."""
    return next((e.get("name") for e in events_since_user(tracker)
                 if e.get("event") == "action" and e.get("name") in EXPLAINING), None)


def explained_this_turn(tracker: Tracker) -> bool:
    """An answer just said why verification is needed (it started the form)."""
    return explained_by(tracker) is not None


# Why a charging question needs verification: it uses the charging cards of the customer's 户号.
CHARGING_WHY = {"charging_book": "排队充电要用您户号下的充电卡", "charging_cancel": "取消排队要先确认是您本人的排队",
                "charging_status": "查询充电进度和排队情况要用您户号下的充电卡"}


class ActionAskVerifyAccount(AskSlot):
    """Asks for the 户号."""

    def name(self) -> Text:
        return "action_ask_verify_account"

    def question(self, tracker: Tracker) -> str:
        if explained_by(tracker) == "action_query_ticket_status":
            return "请告诉我报修时登记的10位户号（电费单上或网上国网App“户号管理”里可以找到）。"
        if explained_this_turn(tracker):
            return "请告诉我您的10位户号（电费单上或网上国网App“户号管理”里可以找到）。"
        why = CHARGING_WHY.get(tracker.latest_message.get("intent", {}).get("name"))
        if why:
            return f"{why}，需要先做个简单的身份核验。请告诉我您的10位户号（电费单上或网上国网App“户号管理”里可以找到）。"
        return ("为保护您的用电信息，查询前需要先做个简单的身份核验。"
                "请告诉我您的10位户号（电费单上或网上国网App“户号管理”里可以找到）。")


class ActionAskVerifyLast4(AskSlot):
    """Asks for the last 4 digits of the phone on file for the 户号."""

    def name(self) -> Text:
        return "action_ask_verify_last4"

    def question(self, tracker: Tracker) -> str:
        account = tracker.get_slot("verify_account")
        asked_account = any(
            e.get("event") == "slot" and e.get("name") == "requested_slot"
            and e.get("value") == "verify_account"
            for e in tracker.events
        )
        intro = "" if asked_account or explained_this_turn(tracker) else "为保护您的用电信息，查询前需要先做个简单的身份核验。"
        return f"{intro}户号 {mask_account(account)} 登记的手机号，请告诉我它的后四位。"
