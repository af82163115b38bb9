"""One base for every form: fault report, verification, service application, complaint.

A form's own module holds its questions, wording and rules; this module holds what every form
does alike, so that a change to how forms talk (dialogue repair, say) is made once:

- ``FormSpec``: which form, its bookkeeping slots (``<prefix>_failures``, ``_run``, ``_pending``,
  ``_confirmed``, ``_ticket_no``), the slots of one run, the way out it offers and its wording.
- ``FormValidation`` (``validate_<form>``): every rejected answer goes through ``reject``
  (counted per slot; at the second failure in a row the way out is offered too) and every
  accepted one through ``accept``; ``answer_text`` is what the customer typed at a question.
- ``AskSlot`` (``action_ask_<slot>``): a question, silent right after a rejection already said
  what is needed.
- ``StartForm``, ``SubmitForm``, ``CancelForm``: a run starts, is submitted to the API with an
  idempotency key per run (one retry when the API is unreachable), or is dropped. A failed
  submission keeps the run's answers, so that the next start submits the same run again.

Repair of the answers to a slot (understanding "同上", explaining after failed attempts, a limit
on asks in a row) belongs to ``FormValidation`` (before ``validate_<slot>``, and in ``reject``)
and ``AskSlot``: every form's slots pass through them.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import channel_of, events_since_user, normalize, rejected_this_turn

logger = logging.getLogger(__name__)

Buttons = List[Dict[str, str]]
Events = List[Dict[Text, Any]]

HANDOFF_BUTTON = {"title": "转人工", "payload": "/request_human"}


@dataclass(frozen=True)
class FormSpec:
    """What one form is: its name, its bookkeeping slots and its wording."""

    name: str  # the form in the domain, e.g. "fault_report_form"
    prefix: str  # of the bookkeeping slots: "fault" → fault_failures, fault_run, …
    exit_hint: str  # added to a rejection at the second failure of the same slot
    exit_buttons: Buttons
    form_slots: tuple[str, ...] = ()  # one run's slots: cleared when it starts, ends or is cancelled
    # Intents that interrupt the form (a rule answers them) rather than answer its question.
    interruptions: frozenset[str] = frozenset()
    # The wording of a run that ends in a submission (every form but verify_form).
    start_text: str = ""
    resume_text: str = ""  # when the last submission failed and its answers are kept
    rejected_text: str = ""  # the API refused the submission; "{api}" is its own message, if any
    busy_text: str = ""  # the API could not be reached
    retry_buttons: Buttons = field(default_factory=list)  # with a failed submission's message
    done_buttons: Buttons = field(default_factory=list)  # with the confirmation
    key_label: str = ""  # the submission's kind in its idempotency key (default: prefix)

    def slot(self, what: str) -> str:
        """A bookkeeping slot: slot("failures") → "fault_failures"."""
        return f"{self.prefix}_{what}"

    def key(self, tracker: Tracker) -> str:
        """Conversation + kind + run of the form: a retried submission reuses the same key."""
        run = int(tracker.get_slot(self.slot("run")) or 1)
        return f"{tracker.sender_id}:{self.key_label or self.prefix}:{run}"


# ---------------------------------------------------------------------- slots of a run
def bump_failures(failures: Any, slot: str) -> tuple[dict[str, int], int]:
    """Count one more failed validation of ``slot``; returns (new dict, count)."""
    new = dict(failures or {})
    new[slot] = int(new.get(slot, 0)) + 1
    return new, new[slot]


def clear_failures(failures: Any, slot: str) -> dict[str, int]:
    """Forget the failures of ``slot`` after it was accepted."""
    new = dict(failures or {})
    new.pop(slot, None)
    return new


def clear_slots(slots: tuple[str, ...]) -> Events:
    """SlotSet(None) for every one of ``slots``."""
    return [SlotSet(slot, None) for slot in slots]


def reset_slots(slots: tuple[str, ...], tracker: Tracker) -> Events:
    """SlotSet(None) for ``slots``, except those the customer filled in this very message."""
    this_turn = {
        e.get("name") for e in events_since_user(tracker)
        if e.get("event") == "slot" and e.get("value") not in (None, "")
    }
    return [SlotSet(slot, None) for slot in slots if slot not in this_turn]


def latest_intent_name(tracker: Tracker) -> str | None:
    """The intent of the latest user message."""
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


# ---------------------------------------------------------------------- validation
class FormValidation(FormValidationAction, ABC):
    """validate_<form>: what every form's validation does alike."""

    form: FormSpec

    @abstractmethod
    def name(self) -> Text:
        """validate_<form name> (abstract, so this base is never registered)."""

    def reject(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        slot: str,
        message: str,
        buttons: Buttons | None = None,
    ) -> Dict[Text, Any]:
        """Say what is wrong with the answer for ``slot``; at its second failure offer the way out.

        The ``prompted_slot`` marker keeps the form's own question silent this turn.
        """
        failures_slot = self.form.slot("failures")
        failures, count = bump_failures(tracker.get_slot(failures_slot), slot)
        if count >= 2:
            dispatcher.utter_message(text=message + self.form.exit_hint,
                                     buttons=(buttons or []) + self.form.exit_buttons)
        else:
            dispatcher.utter_message(text=message, buttons=buttons or [])
        return {slot: None, failures_slot: failures, "prompted_slot": slot}

    def accept(self, tracker: Tracker, slot: str, value: Any) -> Dict[Text, Any]:
        """``value`` for ``slot``, whose earlier failed answers are forgotten."""
        failures_slot = self.form.slot("failures")
        return {slot: value, failures_slot: clear_failures(tracker.get_slot(failures_slot), slot)}

    def answer_text(self, tracker: Tracker, slot: str) -> str | None:
        """The raw text of the customer's answer to the question for ``slot``, or None.

        None when the form did not just ask for ``slot``, when the message is a button payload
        or when its intent interrupts the form (a rule answers it, then the form asks again).
        """
        if (tracker.get_slot("requested_slot") != slot
                or tracker.latest_action_name != "action_listen"):
            return None
        if latest_intent_name(tracker) in self.form.interruptions:
            return None
        text = normalize((tracker.latest_message or {}).get("text"))
        if not text or text.startswith("/"):
            return None
        return text

    async def validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The <prefix>_confirmed slot: True once confirmed, else the read-back is asked again.

        A form binds it by name: ``validate_fault_confirmed = FormValidation.validate_confirmed``.
        """
        return {self.form.slot("confirmed"): True if value else None}


# ---------------------------------------------------------------------- questions
class AskSlot(Action, ABC):
    """action_ask_<slot>: the form's question for one slot.

    Silent right after a validation (or another action) already said what the slot needs,
    which it marks with ``prompted_slot``: the customer hears one message, not two.
    """

    @abstractmethod
    def name(self) -> Text:
        """action_ask_<slot> (abstract, so this base is never registered)."""

    @property
    def slot(self) -> str:
        """The slot asked for, from the action's name."""
        return self.name().removeprefix("action_ask_")

    @abstractmethod
    def question(self, tracker: Tracker) -> str:
        """The question's text."""

    def buttons(self, tracker: Tracker) -> Buttons:
        """Buttons with the question: none by default."""
        return []

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        if rejected_this_turn(tracker, self.slot):
            return []
        dispatcher.utter_message(text=self.question(tracker), buttons=self.buttons(tracker))
        return []


# ---------------------------------------------------------------------- a run of a form
class FormRunAction(Action, ABC):
    """An action on a run of the form ``form`` (abstract, so never registered)."""

    form: FormSpec

    @abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""


class StartForm(FormRunAction):
    """action_start_<form>: a new run, or the kept run of a failed submission."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        form = self.form
        resuming = self.resumes(tracker)
        opening = self.opening(tracker, resuming)
        if opening:
            dispatcher.utter_message(text=opening)
        if resuming:
            # The last submission failed: same run, same idempotency key, same answers.
            dispatcher.utter_message(text=form.resume_text)
            return [SlotSet(form.slot("confirmed"), None)]
        run = int(tracker.get_slot(form.slot("run")) or 0)
        return (self.reset(tracker) + [SlotSet(form.slot("run"), float(run + 1))]
                + self.prefilled(tracker))

    def resumes(self, tracker: Tracker) -> bool:
        """Whether the last submission failed and its run is taken up again."""
        return bool(tracker.get_slot(self.form.slot("pending")))

    def opening(self, tracker: Tracker, resuming: bool) -> str | None:
        """Said first: the form's start text for a new run, nothing when resuming."""
        return None if resuming else self.form.start_text

    def reset(self, tracker: Tracker) -> Events:
        """The new run's slots emptied, except those the starting message filled."""
        return reset_slots(self.form.form_slots, tracker)

    def prefilled(self, tracker: Tracker) -> Events:
        """Slots of the new run known from the start: none by default."""
        return []


class SubmitForm(FormRunAction):
    """action_create_<…>: submits the confirmed run; a failed submission keeps its answers."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        form = self.form
        payload = {
            **self.payload(tracker),
            "channel": channel_of(tracker),
            "conversation_id": tracker.sender_id,
            "idempotency_key": form.key(tracker),
        }
        result, rejected = await self.submit({k: v for k, v in payload.items() if v is not None})
        if result is None:
            dispatcher.utter_message(text=self.failure_text(tracker, rejected),
                                     buttons=form.retry_buttons)
            return [SlotSet(form.slot("confirmed"), None), SlotSet(form.slot("pending"), True)]

        number = result.get("number")
        dispatcher.utter_message(text=self.confirmation(tracker, result), buttons=form.done_buttons)
        return ([SlotSet(form.slot("ticket_no"), number), SlotSet("ticket_no", number)]
                + self.remembered(tracker) + clear_slots(form.form_slots))

    async def submit(
        self, payload: Dict[str, Any]
    ) -> tuple[Dict[str, Any] | None, ApiRejected | None]:
        """(result, None), or (None, the refusal), or (None, None) when twice unreachable.

        The one retry carries the same idempotency key, so the API creates one ticket.
        """
        client = ZhidianClient()
        for attempt in (1, 2):
            try:
                return await self.post(client, payload), None
            except ApiUnavailable:
                logger.warning("%s: submission attempt %d failed", self.name(), attempt)
            except ApiRejected as exc:
                logger.info("%s: submission rejected: %s", self.name(), exc)
                return None, exc
        return None, None

    def failure_text(self, tracker: Tracker, rejected: ApiRejected | None) -> str:
        """The form's wording of a refused (with the API's reason) or unreachable submission."""
        if rejected is not None:
            return self.form.rejected_text.format(api=api_reason(rejected))
        return self.form.busy_text

    def remembered(self, tracker: Tracker) -> Events:
        """Conversation-wide slots set after a successful submission: none by default."""
        return []

    @abstractmethod
    def payload(self, tracker: Tracker) -> Dict[str, Any]:
        """The run's fields (channel, conversation and idempotency key are added; None dropped)."""

    @abstractmethod
    async def post(self, client: ZhidianClient, payload: Dict[str, Any]) -> Dict[str, Any]:
        """The API call that submits the payload."""

    @abstractmethod
    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        """The customer-facing wording of the created ticket."""


class CancelForm(FormRunAction):
    """action_cancel_<form>, after its utter_…_cancelled: nothing is submitted, answers dropped."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return clear_slots(self.form.form_slots) + [SlotSet("requested_slot", None)]


def api_reason(exc: ApiRejected) -> str:
    """The API's own Chinese message in brackets, if it has one."""
    return f"（{exc.message}）" if exc.message and not exc.message.isascii() else ""
