"""Session start: a new session (30 idle minutes) keeps only who the customer is."""
from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# The verified account and the customer's own identifiers; nothing else survives.
CARRIED_OVER = ("verified", "verified_account", "account_no", "phone")


class ActionSessionStart(Action):
    """Like Rasa's default, but carries over the verification and the customer's ids."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        for slot in CARRIED_OVER:
            value = tracker.get_slot(slot)
            if value is not None:
                events.append(SlotSet(slot, value))
        # Keep the slot of the hand-off visible to the gateway only within its session.
        events.append(ActionExecuted("action_listen"))
        return events
