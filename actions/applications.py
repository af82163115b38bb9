"""Online registration of a business application (业务办理) and of a complaint (投诉).

Two forms, one pattern (the one of fault_report_form):

- service_application_form: service_type → phone → preferred_time → application_confirmed,
  then action_create_service_ticket (POST /api/tickets, type 业务办理).
- complaint_form: complaint_details → phone → complaint_confirmed,
  then action_create_complaint_ticket (POST /api/tickets, type 投诉).

``phone`` and ``service_type`` are the conversation-wide slots: a number or a service named
earlier is reused (and validated again when the form starts). Every other slot belongs to one
run of a form and is cleared when a run starts, is submitted or is cancelled; a submission that
failed (API down or refused) keeps them, so that the next start submits the same run again
with the same idempotency key.
"""
from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import (
    PHONE_HELP,
    channel_of,
    events_since_user,
    fmt_time,
    known_account,
    latest_entity,
    mask_account,
    mask_phone,
    normalize,
    parse_contact,
    rejected_this_turn,
)
from actions.identity import bump_failures, clear_failures
from actions.other import SERVICES

logger = logging.getLogger(__name__)

APPLICATION = "业务办理"
COMPLAINT = "投诉"

APPLICATION_FORM_SLOTS = (
    "preferred_time",
    "application_confirmed",
    "application_failures",
    "application_pending",
)
COMPLAINT_FORM_SLOTS = (
    "complaint_details",
    "complaint_confirmed",
    "complaint_failures",
    "complaint_pending",
)

# Intents that interrupt a form (a rule answers them, then the form goes on) instead of being
# taken as the answer to its question. Mirrors the `not_intent` lists of bot/domain/services.yml.
_COMMON_INTERRUPTIONS = frozenset({
    "deny", "goodbye", "stop_report", "request_human", "greet", "thank", "bot_challenge",
    "out_of_scope", "faq", "kb_helpful", "kb_not_helpful", "query_bill", "query_balance",
    "query_usage", "pay_bill", "forecast_bill", "energy_advice", "query_outage_notice",
    "query_ticket_status", "report_outage", "report_hazard", "apply_service",
    "charging_find_station", "charging_book", "charging_status",
})
APPLICATION_INTERRUPTIONS = _COMMON_INTERRUPTIONS | {"complaint", "start_application"}
# More of the complaint said at the phone question is added to the details, not an interruption.
COMPLAINT_INTERRUPTIONS = _COMMON_INTERRUPTIONS

SERVICE_BUTTONS = [
    {"title": name, "payload": f'/inform{{"service_type":"{name}"}}'} for name in SERVICES
]

# Words customers use for a service → the service's name (most specific first).
SERVICE_WORDS = (
    ("充电桩报装", ("充电桩", "充电设施")),
    ("光伏并网", ("光伏", "并网", "太阳能")),
    ("峰谷电", ("峰谷", "分时")),
    ("销户", ("销户",)),
    ("减容", ("减容", "减少容量")),
    ("过户", ("过户", "更名", "改名", "换户主", "户名", "户主")),
    ("改类", ("改类", "用电类别", "用电性质", "改商业", "改居民")),
    ("暂停", ("暂停",)),
    ("增容", ("增容", "扩容", "加容量", "增加容量", "三相")),
    ("新装", ("新装", "装表", "新表", "新开户", "开户", "报装", "通电", "新电表")),
)


def normalize_service(text: Any) -> str | None:
    """'我想办扩容' → '增容'; None when no service the API registers is named."""
    t = normalize(text)
    if not t:
        return None
    if t in SERVICES:
        return t
    for name, words in SERVICE_WORDS:
        if any(w in t for w in words):
            return name
    return None


# ---------------------------------------------------------------------- complaint wording
# Generic complaint words: what is left after removing them tells whether the customer
# already said what happened ("营业厅的人态度太差了") or only that they want to complain.
_GENERIC = re.compile(
    r"我要|我想|我对|要|想|投诉|举报|意见|建议|提个|反映|你们的?|你们|给|一下|服务|不满意|很|非常|"
    r"太|差劲|差评|差|了|的|啊|吧|呢|吗|我|真是|一个|个|找|领导|这|[\s\W_]"
)

SUBJECTS = (
    ("员工廉洁", ("红包", "吃拿卡要", "收我钱", "好处费", "回扣", "不给票")),
    ("服务态度", ("态度", "爱答不理", "说话", "恶劣", "难听", "推来推去", "敷衍", "不负责", "不作为",
                  "太冲")),
    ("抢修不及时", ("抢修", "报修", "没人来", "不来", "迟到", "没修好", "修了", "维修", "跳闸")),
    ("停电未提前通知", ("不通知", "没通知", "不提前通知", "通知贴", "没有通知")),
    ("停电频繁", ("停电",)),
    ("电费争议", ("电费", "账单", "多收", "多扣", "扣费", "收费", "违约金", "抄表", "估", "算错",
                  "多算", "计费", "服务费")),
    ("电压质量", ("电压", "忽明忽暗")),
    ("业务办理拖延", ("业务", "装表", "过户", "跑了", "拖了")),
    ("服务效率", ("效率", "排队", "等了", "打不通", "没人接", "没人管", "没人回复")),
)


def complaint_details_from(text: Any) -> str | None:
    """The customer's own words when they describe a problem; None for a bare '我要投诉'."""
    t = normalize(text)
    if not t or t.startswith("/"):
        return None
    return t if len(_GENERIC.sub("", t)) >= 4 else None


def complaint_subject(details: Any) -> str:
    """A short subject for the complaint queue: a keyword class, else 其他 and the first words."""
    t = normalize(details)
    for subject, words in SUBJECTS:
        if any(w in t for w in words):
            return subject
    return f"其他：{t[:20]}" if t else "其他"


# ---------------------------------------------------------------------- shared helpers
def _reset(slots: tuple[str, ...], tracker: Tracker) -> List[Dict[Text, Any]]:
    """SlotSet(None) for the run's slots, except those the customer filled in this very message."""
    this_turn = {
        e.get("name") for e in events_since_user(tracker)
        if e.get("event") == "slot" and e.get("value") not in (None, "")
    }
    return [SlotSet(slot, None) for slot in slots if slot not in this_turn]


def _clear(slots: tuple[str, ...]) -> List[Dict[Text, Any]]:
    """SlotSet(None) for every one of the run's slots."""
    return [SlotSet(slot, None) for slot in slots]


def _latest_intent_name(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _answer_text(tracker: Tracker, slot: str, interruptions: frozenset[str] | set[str]) -> str | None:
    """The raw text of the customer's answer to the question for ``slot``, or None.

    None when the form did not just ask for ``slot``, when the message is a button payload or
    when its intent interrupts the form (a rule answers it, then the form asks again).
    """
    if tracker.get_slot("requested_slot") != slot or tracker.latest_action_name != "action_listen":
        return None
    if _latest_intent_name(tracker) in interruptions:
        return None
    text = normalize((tracker.latest_message or {}).get("text"))
    if not text or text.startswith("/"):
        return None
    return text


def _check_phone(value: Any) -> tuple[str | None, str | None, str | None]:
    """(mobile, account, problem): the mobile when valid; an account typed instead; the reason."""
    kind, number = parse_contact(value)
    if kind == "phone":
        return number, None, None
    if kind == "account":
        return None, number, "account"
    digits = "".join(re.findall(r"\d", normalize(value)))
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        return None, None, "landline"
    return None, None, number  # "no_digits", "phone_format", "account_format"


PHONE_MESSAGES = {
    "no_digits": "请留一个能联系到您的11位手机号，方便工作人员和您联系。",
    "phone_format": PHONE_HELP,
    "account_format": PHONE_HELP,
    "landline": "暂时只能登记手机号，请留一个11位手机号（以1开头）。",
}

HANDOFF_BUTTON = {"title": "转人工", "payload": "/request_human"}


def _read_back(tracker: Tracker, head: List[str], tail: List[str]) -> str:
    """The answers read back before submitting: ``head``, the known 户号, the phone, ``tail``."""
    lines = list(head)
    account = known_account(tracker)
    if account:
        lines.append(f"户号：{mask_account(account)}")
    lines.append(f"联系电话：{mask_phone(tracker.get_slot('phone'))}")
    return "\n".join(lines + tail)


def _contact_by(result: Dict[str, Any]) -> str:
    """'会在 11月30日 17:00 前' from the ticket's SLA, '会尽快' when the API gave none."""
    sla = result.get("sla") or {}
    return f"会在 {fmt_time(sla['arrive_by'])} 前" if sla.get("arrive_by") else "会尽快"


def _crew(result: Dict[str, Any]) -> str:
    """'，已交由客户服务班处理' when the ticket was given to a team at once, else ''."""
    name = (result.get("crew") or {}).get("name")
    return f"，已交由{name}处理" if name else ""


def _api_message(exc: ApiRejected) -> str:
    """The API's own Chinese message in brackets, if it has one."""
    return f"（{exc.message}）" if exc.message and not exc.message.isascii() else ""


async def _create(payload: Dict[str, Any]) -> tuple[Dict[str, Any] | None, ApiRejected | None]:
    """POST /api/tickets with one retry (same idempotency key) when the API is unreachable."""
    client = ZhidianClient()
    for attempt in (1, 2):
        try:
            return await client.create_ticket(payload), None
        except ApiUnavailable:
            logger.warning("%s ticket attempt %d failed", payload.get("type"), attempt)
        except ApiRejected as exc:
            logger.info("%s ticket rejected: %s", payload.get("type"), exc)
            return None, exc
    return None, None


# ---------------------------------------------------------------------- what the forms share
@dataclass(frozen=True)
class FormSpec:
    """What differs between the two forms: the slot-name prefix, the ticket type and the wording.

    The run's bookkeeping slots are named after ``prefix``: ``application_failures``,
    ``application_run``, ``application_pending``, ``application_confirmed`` and
    ``application_ticket_no`` (``complaint_…`` likewise).
    """

    prefix: str
    ticket_type: str
    form_slots: tuple[str, ...]  # cleared when a run starts, is submitted or is cancelled
    interruptions: frozenset[str]
    exit_hint: str  # added to a message at the second failure of the same slot
    exit_buttons: List[Dict[str, str]]
    start_text: str
    resume_text: str  # when the last submission failed and its answers are kept
    rejected_text: str  # the API refused the ticket; "{api}" is its own message, if any
    busy_text: str  # the API could not be reached
    retry_payload: str
    done_buttons: List[Dict[str, str]] = field(default_factory=list)

    def slot(self, what: str) -> str:
        """The run's bookkeeping slot: slot("failures") → "application_failures"."""
        return f"{self.prefix}_{what}"

    def key(self, tracker: Tracker) -> str:
        """Conversation + type + run of the form: a retried submission reuses the same key."""
        run = int(tracker.get_slot(self.slot("run")) or 1)
        return f"{tracker.sender_id}:{self.ticket_type}:{run}"


class _FormAction(Action, ABC):
    """Base of an action both forms have; ``form`` says which (abstract, so never registered)."""

    form: FormSpec

    @abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""


class _StartFormAction(_FormAction):
    """Starts a run of the form (the answers of a failed submission are kept)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        form = self.form
        if tracker.get_slot(form.slot("pending")):
            dispatcher.utter_message(text=form.resume_text)
            return [SlotSet(form.slot("confirmed"), None)]
        dispatcher.utter_message(text=form.start_text)
        run = int(tracker.get_slot(form.slot("run")) or 0)
        return (_reset(form.form_slots, tracker) + [SlotSet(form.slot("run"), float(run + 1))]
                + self.prefilled(tracker))

    def prefilled(self, tracker: Tracker) -> List[Dict[Text, Any]]:
        """Slots of the new run that the starting message already fills: none by default."""
        return []


class _ValidateForm(FormValidationAction):
    """What both forms validate alike: the mobile number, the confirmation, failure counting."""

    form: FormSpec

    @abstractmethod
    def name(self) -> Text:
        """validate_<form name> (abstract, so this base is never registered)."""

    def _fail(self, dispatcher, tracker, slot, message, buttons=None) -> Dict[Text, Any]:
        """Say what is wrong; at the second failure of the same slot also offer to leave."""
        failures_slot = self.form.slot("failures")
        failures, count = bump_failures(tracker.get_slot(failures_slot), slot)
        if count >= 2:
            dispatcher.utter_message(text=message + self.form.exit_hint,
                                     buttons=(buttons or []) + self.form.exit_buttons)
        elif buttons:
            dispatcher.utter_message(text=message, buttons=buttons)
        else:
            dispatcher.utter_message(text=message)
        return {slot: None, failures_slot: failures, "prompted_slot": slot}

    def _accept(self, tracker: Tracker, slot: str, value: Any) -> Dict[Text, Any]:
        """``value`` for ``slot``, whose earlier failed answers are forgotten."""
        failures_slot = self.form.slot("failures")
        return {slot: value, failures_slot: clear_failures(tracker.get_slot(failures_slot), slot)}

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Whatever was typed at the phone question, so that a wrong number gets a re-prompt."""
        text = _answer_text(tracker, "phone", self.form.interruptions)
        return {"phone": text} if text else {}

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        mobile, account, problem = _check_phone(value)
        if mobile:
            return self._accept(tracker, "phone", mobile)
        if problem == "account":
            dispatcher.utter_message(
                text=f"好的，户号 {mask_account(account)} 我记下了。"
                "还需要一个能联系到您的11位手机号，请再输入一次。"
            )
            return {"phone": None, "account_no": account, "prompted_slot": "phone"}
        other = self.not_a_phone(value, problem, dispatcher, tracker)
        if other is not None:
            return other
        return self._fail(dispatcher, tracker, "phone", PHONE_MESSAGES[problem])

    def not_a_phone(
        self, value: Any, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any] | None:
        """Another reading of an answer that is no mobile number; None: it is a wrong number."""
        return None

    async def _validate_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The form's <prefix>_confirmed slot: True once confirmed, else asked again."""
        return {self.form.slot("confirmed"): True if value else None}


class _CreateTicketAction(_FormAction):
    """POST /api/tickets; a failed submission keeps the run's answers for the next start."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        form = self.form
        payload = {
            "type": form.ticket_type,
            "phone": tracker.get_slot("phone"),
            "account_no": known_account(tracker),
            **self.details(tracker),
            "channel": channel_of(tracker),
            "conversation_id": tracker.sender_id,
            "idempotency_key": form.key(tracker),
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        result, rejected = await _create(payload)
        if result is None:
            if rejected is not None:
                text = form.rejected_text.format(api=_api_message(rejected))
            else:
                text = form.busy_text
            dispatcher.utter_message(text=text, buttons=[
                {"title": "重新提交", "payload": form.retry_payload}, HANDOFF_BUTTON,
            ])
            return [SlotSet(form.slot("confirmed"), None), SlotSet(form.slot("pending"), True)]

        number = result.get("number")
        dispatcher.utter_message(text=self.confirmation(tracker, result),
                                 buttons=form.done_buttons)
        return [SlotSet(form.slot("ticket_no"), number), SlotSet("ticket_no", number)] + _clear(
            form.form_slots
        )

    @abstractmethod
    def details(self, tracker: Tracker) -> Dict[str, Any]:
        """The fields of this ticket type (between account_no and channel in the payload)."""

    @abstractmethod
    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        """The customer-facing wording of the created ticket."""


class _CancelFormAction(_FormAction):
    """After the form's utter_…_cancelled: nothing is submitted, the run's answers are dropped."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        return _clear(self.form.form_slots) + [SlotSet("requested_slot", None)]


# ====================================================================== 业务办理
APPLICATION_FORM = FormSpec(
    prefix="application",
    ticket_type=APPLICATION,
    form_slots=APPLICATION_FORM_SLOTS,
    interruptions=APPLICATION_INTERRUPTIONS,
    exit_hint="如果不方便，可以先退出登记，或者转人工客服为您办理；也可以拨打95598。",
    exit_buttons=[
        {"title": "退出登记", "payload": "/stop_report"},
        {"title": "转人工", "payload": "/request_human"},
    ],
    start_text="好的，我来帮您在线登记业务申请，登记后工作人员会和您联系确认上门时间。",
    resume_text="您上次填写的登记信息我还保留着，请再核对一下。",
    rejected_text="抱歉，登记信息没能通过系统校验{api}。您填写的信息我先保存着，可以转人工客服为您办理，"
    "或拨打95598。",
    busy_text="非常抱歉，系统暂时繁忙，申请没能提交成功。您填写的信息我已保存，"
    "稍后点“重新提交”或对我说“在线登记”就能直接提交；也可以拨打95598办理。",
    retry_payload="/start_application",
)


def service_name(service_type: str | None) -> str:
    """'过户（更名）' for the customer; the type itself when unknown."""
    known = SERVICES.get(service_type or "")
    return known[0] if known else (service_type or "")


class ActionStartServiceApplication(_StartFormAction):
    """Starts a run of service_application_form (answers of a failed submission are kept)."""

    form = APPLICATION_FORM

    def name(self) -> Text:
        return "action_start_service_application"


class ValidateServiceApplicationForm(_ValidateForm):
    """Normalises the service, checks the mobile number, takes any non-empty time."""

    form = APPLICATION_FORM
    validate_application_confirmed = _ValidateForm._validate_confirmed

    def name(self) -> Text:
        return "validate_service_application_form"

    async def extract_service_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Free text at the service question (the entity mapping covers buttons and names)."""
        if latest_entity(tracker, "service_type"):
            return {}
        text = _answer_text(tracker, "service_type", APPLICATION_INTERRUPTIONS)
        return {"service_type": text} if text else {}

    async def validate_service_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        service = normalize_service(value)
        if service is None:
            return self._fail(
                dispatcher, tracker, "service_type",
                "这项业务暂时不能在线登记，或者我没听明白。请从下面选一项；"
                "其他业务可以到供电营业厅或网上国网App办理。",
                buttons=SERVICE_BUTTONS,
            )
        return self._accept(tracker, "service_type", service)

    async def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = latest_entity(tracker, "preferred_time") or normalize(value)
        if not text or text.startswith("/"):
            return {"preferred_time": None}
        return {"preferred_time": text[:64]}


class ActionAskServiceType(Action):
    """Which service, with buttons (silent right after a rejected answer: already asked)."""

    def name(self) -> Text:
        return "action_ask_service_type"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "service_type"):
            return []
        dispatcher.utter_message(text="请问您要办理哪项业务？", buttons=SERVICE_BUTTONS)
        return []


class ActionAskPhone(Action):
    """The contact mobile, worded for the active form."""

    def name(self) -> Text:
        return "action_ask_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "phone"):
            return []
        if (tracker.active_loop or {}).get("name") == "complaint_form":
            text = "请留一个能联系到您的11位手机号，处理人员会通过这个号码和您核实情况。"
        else:
            text = "请留一个能联系到您的11位手机号，工作人员会通过这个号码和您确认上门时间。"
        dispatcher.utter_message(text=text)
        return []


class ActionAskApplicationConfirmed(Action):
    """Reads the application back before anything is submitted."""

    def name(self) -> Text:
        return "action_ask_application_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        text = _read_back(
            tracker,
            ["请您核对一下登记信息：", f"业务：{service_name(tracker.get_slot('service_type'))}"],
            [f"方便的时间：{tracker.get_slot('preferred_time')}", "确认无误就提交吗？"],
        )
        dispatcher.utter_message(
            text=text,
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "取消登记", "payload": "/stop_report"},
            ],
        )
        return []


def application_confirmation(result: Dict[str, Any], *, service_type: str, phone: str,
                             preferred_time: str | None) -> str:
    """The customer-facing wording of a registered application."""
    number = result.get("number", "")
    wish = f"（您方便的时间：{preferred_time}）" if preferred_time else ""
    first = (
        f"已为您登记【{service_type}】申请，工单号 {number}{_crew(result)}。"
        f"工作人员{_contact_by(result)}与您联系确认上门时间{wish}，请保持电话 {mask_phone(phone)} 畅通。"
    )
    lines = [first]
    known = SERVICES.get(service_type)
    if known:
        lines.append(f"请提前准备好：{known[1]}。")
    lines.append(f"想了解进度，随时对我说“查工单 {number}”，或拨打95598。")
    return "\n".join(lines)


def _service_type(tracker: Tracker) -> str:
    """The service as the API registers it (the slot as typed when it is none of them)."""
    return normalize_service(tracker.get_slot("service_type")) or str(
        tracker.get_slot("service_type") or "")


class ActionCreateServiceTicket(_CreateTicketAction):
    """POST /api/tickets (业务办理) and give the number, the contact deadline and the phone."""

    form = APPLICATION_FORM

    def name(self) -> Text:
        return "action_create_service_ticket"

    def details(self, tracker: Tracker) -> Dict[str, Any]:
        service_type = _service_type(tracker)
        preferred_time = tracker.get_slot("preferred_time")
        return {
            "service_type": service_type,
            "preferred_time": preferred_time,
            "description": f"客户通过智能客服在线登记{service_name(service_type)}申请，"
            f"方便联系/上门的时间：{preferred_time or '未说明'}。",
        }

    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        return application_confirmation(
            result, service_type=_service_type(tracker), phone=tracker.get_slot("phone"),
            preferred_time=tracker.get_slot("preferred_time"))


class ActionCancelServiceApplication(_CancelFormAction):
    """After utter_application_cancelled: nothing is submitted, the run's answers are dropped."""

    form = APPLICATION_FORM

    def name(self) -> Text:
        return "action_cancel_service_application"


# ====================================================================== 投诉
COMPLAINT_FORM = FormSpec(
    prefix="complaint",
    ticket_type=COMPLAINT,
    form_slots=COMPLAINT_FORM_SLOTS,
    interruptions=COMPLAINT_INTERRUPTIONS,
    exit_hint="如果不方便留手机号，可以转人工客服为您登记，或拨打95598。",
    exit_buttons=[
        {"title": "转人工", "payload": "/request_human"},
        {"title": "先不投诉了", "payload": "/stop_report"},
    ],
    start_text="非常抱歉给您带来了不好的体验。我来为您登记投诉，会有专人联系您核实处理；"
    "如果您想直接和人工客服沟通，随时说“转人工”。",
    resume_text="您上次反映的情况我还保留着，请再核对一下。",
    rejected_text="抱歉，投诉信息没能通过系统校验{api}。您反映的情况我先保存着，可以转人工客服为您登记，"
    "或拨打95598。",
    busy_text="非常抱歉，系统暂时繁忙，投诉没能提交成功。您反映的情况我已保存，"
    "稍后点“重新提交”或对我说“我要投诉”就能直接提交；也可以转人工客服或拨打95598。",
    retry_payload="/complaint",
    done_buttons=[HANDOFF_BUTTON],
)


class ActionStartComplaint(_StartFormAction):
    """Starts a run of complaint_form; a message that already describes the problem is kept."""

    form = COMPLAINT_FORM

    def name(self) -> Text:
        return "action_start_complaint"

    def prefilled(self, tracker: Tracker) -> List[Dict[Text, Any]]:
        details = complaint_details_from((tracker.latest_message or {}).get("text"))
        return [SlotSet("complaint_details", details)] if details else []


class ValidateComplaintForm(_ValidateForm):
    """Keeps the customer's own words; checks the mobile number."""

    form = COMPLAINT_FORM
    validate_complaint_confirmed = _ValidateForm._validate_confirmed

    def name(self) -> Text:
        return "validate_complaint_form"

    async def validate_complaint_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 2 or text.startswith("/"):
            return {"complaint_details": None}
        return {"complaint_details": text[:1000]}

    def not_a_phone(
        self, value: Any, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any] | None:
        """More of the complaint, not a number: add it to what the customer said."""
        text = normalize(value)
        details = tracker.get_slot("complaint_details")
        more = _latest_intent_name(tracker) in ("complaint", "inform", "nlu_fallback")
        if not (problem == "no_digits" and details and more and len(text) >= 4):
            return None
        dispatcher.utter_message(
            text="好的，您补充的情况我也记下了。请再留一个11位手机号，方便我们联系您。"
        )
        return {"phone": None, "complaint_details": f"{details}；{text}"[:1000],
                "prompted_slot": "phone"}


class ActionAskComplaintConfirmed(Action):
    """Reads the complaint back in the customer's own words before it is submitted."""

    def name(self) -> Text:
        return "action_ask_complaint_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        details = tracker.get_slot("complaint_details") or ""
        shown = details if len(details) <= 120 else details[:120] + "…"
        text = _read_back(tracker, ["我把您反映的情况记录如下：", f"“{shown}”"],
                          ["确认无误就提交投诉吗？"])
        dispatcher.utter_message(
            text=text,
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "转人工", "payload": "/request_human"},
                {"title": "先不投诉了", "payload": "/stop_report"},
            ],
        )
        return []


def complaint_confirmation(result: Dict[str, Any], *, phone: str) -> str:
    """The customer-facing wording of a registered complaint."""
    number = result.get("number", "")
    return (
        f"非常抱歉给您带来不便。您的投诉已登记，工单号 {number}{_crew(result)}，"
        f"我们{_contact_by(result)}通过电话 {mask_phone(phone)} 联系您，核实情况后给您答复。\n"
        f"想了解进度，随时对我说“查工单 {number}”；需要马上和人工客服沟通，请点“转人工”。"
    )


class ActionCreateComplaintTicket(_CreateTicketAction):
    """POST /api/tickets (投诉) and give the number and the contact deadline."""

    form = COMPLAINT_FORM

    def name(self) -> Text:
        return "action_create_complaint_ticket"

    def details(self, tracker: Tracker) -> Dict[str, Any]:
        details = tracker.get_slot("complaint_details") or ""
        return {"description": details[:1000], "subject": complaint_subject(details)}

    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        return complaint_confirmation(result, phone=tracker.get_slot("phone"))


class ActionCancelComplaint(_CancelFormAction):
    """After utter_complaint_cancelled: nothing is submitted, the run's answers are dropped."""

    form = COMPLAINT_FORM

    def name(self) -> Text:
        return "action_cancel_complaint"
