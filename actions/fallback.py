"""Low NLU confidence: offer the two likeliest intents, then the polite fallback + 转人工."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import INTENT_TITLES

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
