"""One base for every form: fault report, verification, service application, complaint.

A form's own module holds its questions, wording and rules; this module holds what every form
does alike, so that a change to how forms talk (dialogue repair, say) is made once:

- ``FormSpec``: which form, its bookkeeping slots (``<prefix>_failures``, ``_run``, ``_pending``,
  ``_confirmed``, ``_ticket_no``), the slots of one run, the way out it offers and its wording.
- ``FormValidation`` (``validate_<form>``): every rejected answer goes through ``reject`` and
  every accepted one through ``accept``; ``answer_text`` is what the customer typed at a question.
- ``AskSlot`` (``action_ask_<slot>``): a question, silent right after a rejection already said
  what is needed.
- ``StartForm``, ``SubmitForm``, ``CancelForm``: a run starts, is submitted to the API with an
  idempotency key per run (one retry when the API is unreachable), or is dropped. A failed
  submission keeps the run's answers, so that the next start submits the same run again.

Dialogue repair, the same for every slot of every form (``FormValidation.get_validation_events``
and ``reject``):

- an answer that points back at something known ("同上", "就是登记的", "这个地址", "刚才说的")
  becomes that value (``recall``, per form);
- an answer nothing could be read from (an unclear "嗯嗯好的吧" at a yes/no question, "!!!") is a
  failed attempt with a short explanation (``unclear``), never silence;
- the second failed attempt at a slot in a row gets a plain explanation (``explain``) with buttons
  that fit the slot (``repair_buttons``) and the form's way out;
- the third one ends the form and hands the conversation to a person (``give_up``): no slot is
  asked more than three times in a row;
- at the read-back, more words about the problem are kept or added to the report (``detail_slot``),
  not taken as a new report.
"""
from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import channel_of, events_since_user, normalize, readable, rejected_this_turn

logger = logging.getLogger(__name__)

Buttons = List[Dict[str, str]]
Events = List[Dict[Text, Any]]

HANDOFF_BUTTON = {"title": "转人工", "payload": "/request_human"}
REQUESTED_SLOT = "requested_slot"

# Intents a rule answers in the middle of every form, after which the form asks its question again
# (or which end or pause it). Each form adds its own; bot/domain mirrors them in the `not_intent`
# lists of the form's free-text slots (tests/actions/test_forms.py keeps the two in step).
COMMON_INTERRUPTIONS = frozenset({
    "deny", "goodbye", "stop_report", "request_human", "greet", "thank", "bot_challenge",
    "out_of_scope", "other_language", "ask_wait", "faq", "query_bill", "query_balance",
    "query_usage", "pay_bill", "forecast_bill", "energy_advice", "query_outage_notice",
    "query_ticket_status", "ask_bill_increase",
})
# The gateway queues a conversation for a person when a reply carries this payload.
GIVE_UP_HANDOFF = {"handoff": True, "reason": "repeated_fallback"}

# Words that point back at something the conversation already holds ("同上", "就是登记的那个").
_REFERENCE = re.compile(
    r"同上|同前|一样|刚才|刚刚|上面|前面|之前|原来|登记的|预留的|留的那个|档案|这个地址|这个号|这个手机|"
    r"就是这|就是那|就这个|就那个|还是这|还是那|没变|不变"
)
# …unless the customer says it is not that ("不是这个地址", "换个", "刚才说错了").
_NOT = re.compile(r"不是|不对|不在|换|改|错|别的|另外|其他|其它|新的|重新")


# A yes that leads an answer ("对，就在我家门口", "是的，没错"): the rest only says more about it.
_YES_LEAD = re.compile(r"^(?:对|是|嗯|没错|没问题|正确|就是|确认|可以|好)[的啊呀呢吧嗯对是了]*(?:[，,。.！!~～\s]|$)")


def leading_yes(text: Any) -> bool:
    """'对，就在我家门口', '是的，没错' — but not '对，不过地址换了' or '是不是…'."""
    t = normalize(text)
    return (bool(_YES_LEAD.match(t)) and not _NOT.search(re.sub("没错|不错", "", t))
            and not t.startswith("是不是"))


def refers_back(text: Any) -> bool:
    """'对，就是这个地址', '同上', '就是登记的', '和刚才说的一样' — but not '不是这个地址'."""
    t = normalize(text)
    return bool(t) and bool(_REFERENCE.search(t)) and not _NOT.search(t)


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
    # The free-text slot that more words about the problem at the read-back go to.
    detail_slot: str | None = None
    # What the form is doing, in "我们试了几次还是没能完成{topic}" (said when it gives up).
    topic: str = "登记"

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


def merge_buttons(*groups: Buttons) -> Buttons:
    """The buttons of ``groups`` in order, each payload once."""
    seen: set[str] = set()
    out: Buttons = []
    for group in groups:
        for button in group:
            if button["payload"] not in seen:
                seen.add(button["payload"])
                out.append(button)
    return out


_FILLER = re.compile(r"[\s\W_]|了|的|啊|呀|吧|呢|吗|嘛|哦|也|都|我家|家里")


def similar(new: str, old: str) -> tuple[bool, bool]:
    """(the same thing said again, the new words say more): for a description repeated at the read-back.

    Compared without punctuation and particles; "the same" when one contains the other or when
    nearly every character of the shorter one is in the other.
    """
    a, b = _FILLER.sub("", normalize(new)), _FILLER.sub("", normalize(old))
    if not b:
        return False, bool(a)
    if a in b:
        return True, False
    if b in a:
        return False, True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    overlap = sum(1 for ch in shorter if ch in longer) / max(len(shorter), 1)
    return overlap >= 0.85 and len(longer) - len(shorter) <= 2, False


def words_before(tracker: Tracker, action: str) -> list[str]:
    """What the customer sent before ``action`` last ran (the message that started a form's run,
    then older ones; button payloads included), newest first: what "刚才说的" can refer to."""
    out: list[str] = []
    started = False
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == action and not started:
            started = True
        elif started and event.get("event") == "user":
            out.append(normalize(event.get("text")))
    return out


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
        **also: Any,
    ) -> Dict[Text, Any]:
        """Say what is wrong with the answer for ``slot``, counting the failed attempt.

        First failure: ``message``. Second in a row: ``message``, a plain explanation and buttons
        that fit the slot. Third: the form gives up (no fourth question). ``also``: more slot
        values to set. The ``prompted_slot`` marker keeps the form's own question silent this turn.
        """
        failures_slot = self.form.slot("failures")
        failures, count = bump_failures(tracker.get_slot(failures_slot), slot)
        if count >= 3:
            return {**also, **self.give_up(dispatcher, tracker, slot)}
        if count == 2:
            dispatcher.utter_message(
                text=message + self.explain(slot, tracker),
                buttons=merge_buttons(buttons or [], self.repair_buttons(slot, tracker),
                                      self.form.exit_buttons))
        else:
            dispatcher.utter_message(text=message, buttons=buttons or [])
        return {**also, slot: None, failures_slot: failures, "prompted_slot": slot}

    def explain(self, slot: str, tracker: Tracker) -> str:
        """The plain explanation added at the second failed attempt: the form's way out by default."""
        return self.form.exit_hint

    def repair_buttons(self, slot: str, tracker: Tracker) -> Buttons:
        """Buttons that answer ``slot`` in one tap, offered with the explanation: none by default."""
        return []

    def give_up(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> Dict[Text, Any]:
        """Third failure in a row: stop asking, end the form and hand the conversation to a person.

        The run's answers stay visible to the agent in the transcript; the form's submission
        action sees the run unconfirmed and submits nothing (``SubmitForm``).
        """
        dispatcher.utter_message(
            text=f"抱歉，我们试了几次还是没能完成{self.form.topic}，不再让您反复输入了。"
            "我已为您转接人工客服，客服接入后会看到您刚才说的内容，请稍候；"
            "情况紧急请直接拨打95598供电服务热线。")
        dispatcher.utter_message(json_message=GIVE_UP_HANDOFF)
        return self.stop({"handoff_requested": True})

    def stop(self, also: Dict[Text, Any] | None = None) -> Dict[Text, Any]:
        """Slot values that end the form now, without its remaining questions (see ``run``)."""
        return {**(also or {}), self.form.slot("failures"): {}, REQUESTED_SLOT: None}

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """What "同上 / 就是登记的 / 刚才说的" at the question for ``slot`` refers to, as slot values.

        Empty when the conversation holds nothing it could mean; a form overrides it per slot.
        """
        return {}

    def yes_value(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """What an answer that starts with a yes ("对，…") means at the question for ``slot``, as
        slot values; empty when a yes does not answer it. The form's read-back: confirmed."""
        if slot == self.form.slot("confirmed"):
            return {slot: True}
        return {}

    def unclear(self, slot: str, tracker: Tracker) -> str:
        """Said when nothing could be read from an answer to the question for ``slot``."""
        return "抱歉，我没太看懂您的回答，请再说一次。"

    def accept(self, tracker: Tracker, slot: str, value: Any) -> Dict[Text, Any]:
        """``value`` for ``slot``, whose earlier failed answers are forgotten."""
        failures_slot = self.form.slot("failures")
        return {slot: value, failures_slot: clear_failures(tracker.get_slot(failures_slot), slot)}

    def answer_text(self, tracker: Tracker, slot: str) -> str | None:
        """The raw text of the customer's answer to the question for ``slot``, or None.

        None when the form did not just ask for ``slot`` (another action ran since the message:
        the form started with it or a rule answered it first), when the message is a button
        payload or when its intent interrupts the form (a rule answers it, then the form asks
        again). Rasa runs the validation on a copy of the tracker that ends with the form's own
        action, so "just asked" means: no action but this form since the customer's message.
        """
        if tracker.get_slot(REQUESTED_SLOT) != slot:
            return None
        actions = {e.get("name") for e in events_since_user(tracker) if e.get("event") == "action"}
        if actions - {self.form.name}:
            return None
        if latest_intent_name(tracker) in self.form.interruptions:
            return None
        text = normalize((tracker.latest_message or {}).get("text"))
        if not text or text.startswith("/"):
            return None
        return text

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """The SDK's run; a form that ``stop``-ped this turn asks nothing more.

        The SDK appends the next slot to ask for after the validation; a validation that set
        ``requested_slot`` to None (``stop``) must have the last word, so that Rasa ends the form.
        """
        events = await super().run(dispatcher, tracker, domain)
        asked = [e for e in events if e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT]
        if asked and any(e.get("value") is None for e in asked):
            events = [e for e in events if e not in asked] + [SlotSet(REQUESTED_SLOT, None)]
        return events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Repair the answer to the question just asked, then the SDK's ``validate_<slot>`` calls.

        - an answer that refers back ("同上", "就是这个地址") becomes what it refers to;
        - unreadable text ("!!!", only symbols) is a failed attempt, whatever a mapping took from it;
        - at the read-back, more words about the problem go to the form's ``detail_slot``;
        - an answer nothing was taken from is a failed attempt with ``unclear``'s explanation.
        Interruptions (a rule answers them) and button payloads are left to Rasa as before.
        """
        slot = tracker.get_slot(REQUESTED_SLOT)
        text = self.answer_text(tracker, slot) if slot else None
        if text is None:
            return await super().get_validation_events(dispatcher, tracker, domain)
        if not readable(text):
            return [SlotSet(k, v) for k, v in
                    self.reject(dispatcher, tracker, slot, self.unclear(slot, tracker)).items()]
        if refers_back(text):
            recalled = {k: v for k, v in self.recall(slot, tracker).items() if v is not None}
            if recalled:
                return await self.validate_recalled(slot, recalled, dispatcher, tracker, domain)
        extracted = slot in tracker.slots_to_validate()
        if not extracted and leading_yes(text):
            yes = self.yes_value(slot, tracker)
            if yes:
                return await self.validate_recalled(slot, yes, dispatcher, tracker, domain)
        if not extracted and slot == self.form.slot("confirmed") and self.form.detail_slot:
            return [SlotSet(k, v) for k, v in self.more_detail(dispatcher, tracker, text).items()]
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if not extracted:
            events += [SlotSet(k, v) for k, v in
                       self.reject(dispatcher, tracker, slot, self.unclear(slot, tracker)).items()]
        return events

    async def validate_recalled(
        self, slot: str, recalled: Dict[Text, Any], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """The values an answer referred to, through their ``validate_<slot>``, instead of the words."""
        values: Dict[Text, Any] = {} if slot in recalled else {slot: None}
        for name, value in recalled.items():
            method = getattr(self, f"validate_{name}", None)
            result = await method(value, dispatcher, tracker, domain) if method else {name: value}
            values.update(result)
            tracker.slots.update(result)
        return [SlotSet(k, v) for k, v in values.items()]

    def more_detail(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> Dict[Text, Any]:
        """Words about the problem said at the read-back: kept (same), replacing (says more), or added.

        The read-back is then asked again with the report as it stands; repeated, it counts as a
        failed attempt, so the read-back too is asked at most three times in a row.
        """
        detail_slot, confirmed = self.form.detail_slot, self.form.slot("confirmed")
        failures_slot = self.form.slot("failures")
        failures, count = bump_failures(tracker.get_slot(failures_slot), confirmed)
        if count >= 3:
            return self.give_up(dispatcher, tracker, confirmed)
        old = normalize(tracker.get_slot(detail_slot))
        same, says_more = similar(text, old)
        if same:
            dispatcher.utter_message(text="这个情况已经记下了，不用重复说。")
            return {failures_slot: failures}
        if says_more:
            dispatcher.utter_message(text="好的，情况描述按您刚才说的更新了。")
            return {detail_slot: text[:1000], failures_slot: failures}
        dispatcher.utter_message(text="好的，您补充的情况也记上了。")
        return {detail_slot: f"{old}；{text}"[:1000] if old else text[:1000], failures_slot: failures}

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
        if tracker.get_slot(form.slot("confirmed")) is not True:
            # The form ended without the read-back confirmed (it gave up and handed over, which
            # was said then): nothing is submitted and the run's answers are dropped.
            return clear_slots(form.form_slots)
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
