"""Session start: a new session (30 idle minutes, or /session_start) keeps only who the customer is.

A WeChat user is served for the 户号 they bound (verified once in WeChat, chosen with 切换N; see
api/channels/wechat_accounts.py): their identity comes from the binding, not from the old session.
"""
from __future__ import annotations

import logging
from typing import Any, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient

log = logging.getLogger(__name__)

# The verified account and the customer's own identifiers; nothing else survives.
CARRIED_OVER = ("verified", "verified_account", "account_no", "phone")
BOUND_BY_CHANNEL = ("wx-",)  # conversations of users who bind accounts (WeChat)


async def bound_identity(sender_id: str) -> dict[str, Any] | None:
    """The identity slots from a WeChat user's default binding; None when not such a user or unknown now."""
    if not sender_id.startswith(BOUND_BY_CHANNEL):
        return None
    try:
        bound = await ZhidianClient().bound_accounts(conversation_id=sender_id)
    except (ApiUnavailable, ApiRejected) as exc:  # keep what the old session knew
        log.warning("bindings of %s unknown at session start: %s", sender_id[:8], exc)
        return None
    account = bound.get("default")
    return {"verified": bool(account), "verified_account": account, "account_no": account}


class ActionSessionStart(Action):
    """Like Rasa's default, but carries over the verification and the customer's ids (for a WeChat
    user, the verification is their default bound account)."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        slots = {slot: tracker.get_slot(slot) for slot in CARRIED_OVER}
        slots.update(await bound_identity(tracker.sender_id) or {})
        events += [SlotSet(slot, value) for slot, value in slots.items() if value is not None]
        # Keep the slot of the hand-off visible to the gateway only within its session.
        events.append(ActionExecuted("action_listen"))
        return events
