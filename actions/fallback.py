"""Low NLU confidence: offer the two likeliest intents, then the polite fallback + 转人工.

And answers that come with no question before them ("好的", "0401000005", "原州区文化街28号"):
outside a form nothing asked for them, and the bot used to say nothing (the gateway then told the
customer it was busy). They get what the bot can do with them.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import INTENT_TITLES, latest_entity, normalize, parse_contact
from api.core.ids import mask_account, mask_phone

# Never suggested as a clarification (meaningless as a button).
NOT_SUGGESTED = {"nlu_fallback", "affirm", "deny", "inform", "out_of_scope"}


def previous_bot_action(tracker: Tracker) -> str | None:
    """The last action before the latest user message (ignoring action_listen)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                continue
            seen_user = True
            continue
        if seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def top_intents(tracker: Tracker, n: int = 2) -> List[str]:
    """The n likeliest real intents of the latest message."""
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    names = [r.get("name") for r in ranking if r.get("name") not in NOT_SUGGESTED]
    return [name for name in names if name in INTENT_TITLES][:n]


class ActionClarifyIntent(Action):
    """'您是想问…？' with buttons; a second fallback in a row gets the help text instead."""

    def name(self) -> Text:
        return "action_clarify_intent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if (tracker.active_loop or {}).get("name"):
            dispatcher.utter_message(text="抱歉，我没太明白您的意思，我们先接着刚才的步骤来。")
            return []
        candidates = top_intents(tracker)
        if previous_bot_action(tracker) == self.name() or not candidates:
            dispatcher.utter_message(response="utter_fallback_help")
            return []
        buttons = [{"title": INTENT_TITLES[name], "payload": f"/{name}"} for name in candidates]
        buttons.append({"title": "都不是", "payload": "/deny"})
        options = "，还是".join(f"“{INTENT_TITLES[name]}”" for name in candidates)
        dispatcher.utter_message(text=f"抱歉，我不太确定您的意思。您是想{options}？", buttons=buttons)
        return []


MAIN_BUTTONS = [
    {"title": "查电费账单", "payload": "/query_bill"},
    {"title": "查余额", "payload": "/query_balance"},
    {"title": "报停电故障", "payload": "/report_outage"},
    {"title": "查工单进度", "payload": "/query_ticket_status"},
    {"title": "转人工", "payload": "/request_human"},
]
WHERE_BUTTONS = [
    {"title": "查停电通知", "payload": "/query_outage_notice"},
    {"title": "报停电故障", "payload": "/report_outage"},
]


class ActionAnswerStray(Action):
    """An answer with no question before it: what the bot can do with it, never silence."""

    def name(self) -> Text:
        return "action_answer_stray"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        text = normalize((tracker.latest_message or {}).get("text"))
        kind, number = parse_contact(text)
        if intent == "inform" and kind in ("account", "phone"):
            shown = mask_account(number) if kind == "account" else mask_phone(number)
            what = "户号" if kind == "account" else "手机号"
            dispatcher.utter_message(text=f"收到，{what} {shown}。请问您想办理什么？", buttons=MAIN_BUTTONS)
        elif intent == "inform" and (latest_entity(tracker, "address") or latest_entity(tracker, "district")):
            dispatcher.utter_message(text="收到这个地址。请问是想查询这里的停电通知，还是报修停电？",
                                     buttons=WHERE_BUTTONS + MAIN_BUTTONS[-1:])
        elif intent == "deny":
            dispatcher.utter_message(text="好的。如果还有其他问题，随时告诉我。", buttons=MAIN_BUTTONS)
        elif intent == "affirm":
            dispatcher.utter_message(text="好的。请问还有什么可以帮您？", buttons=MAIN_BUTTONS)
        else:
            dispatcher.utter_message(
                text="抱歉，我没太明白您想办理什么。我可以帮您查电费、余额和用电量，报停电故障，"
                "查停电通知和工单进度。请说一下您的问题，或者点下面的按钮。", buttons=MAIN_BUTTONS)
        return []
