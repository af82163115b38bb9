"""Handoff to a person: the actions that tell the API gateway an agent is wanted."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionRequestHuman(Action):
    """Tells the API gateway a person is wanted (a custom payload it reads from the REST reply)."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(json_message={"handoff": True, "reason": "request_human"})
        return [SlotSet("handoff_requested", True)]
