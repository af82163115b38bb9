"""Fault reports: power outage (停电) and safety hazard (安全隐患), one form for both."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import (
    ACCOUNT_HELP,
    PHONE_HELP,
    RE_ACCOUNT,
    RE_MOBILE,
    channel_of,
    fmt_time,
    latest_intent,
    mask_account,
    mask_phone,
    normalize,
    parse_contact,
    rejected_this_turn,
    sounds_like_cancel,
)
from actions.identity import bump_failures, clear_failures

logger = logging.getLogger(__name__)

KIND_NAMES = {"outage": "停电故障", "hazard": "安全隐患"}
SAFETY = "请远离断线、倾倒电杆或冒火设备至少8米，不要触碰，也别让老人孩子靠近。"

# Slots of one run of the form; cleared when a run starts, ends or is cancelled.
FORM_SLOTS = (
    "fault_contact",
    "fault_account",
    "fault_phone",
    "fault_masked_address",
    "fault_district",
    "fault_area_class",
    "fault_address_confirmed",
    "fault_address",
    "fault_description",
    "fault_confirmed",
    "fault_failures",
    "fault_pending",
)

EXIT_BUTTONS = [
    {"title": "退出报修", "payload": "/stop_report"},
    {"title": "转人工", "payload": "/request_human"},
]


def reset_form_slots(keep: tuple[str, ...] = ()) -> List[Dict[Text, Any]]:
    """SlotSet(None) for every per-run slot except ``keep``."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS if slot not in keep]


def kind_of(tracker: Tracker) -> str:
    """'outage' or 'hazard' (outage when unknown)."""
    return "hazard" if tracker.get_slot("fault_kind") == "hazard" else "outage"


def idempotency_key(tracker: Tracker) -> str:
    """Conversation id + form run: a retried submission reuses the same key."""
    return f"{tracker.sender_id}:fault:{int(tracker.get_slot('fault_run') or 1)}"


def arrival_sentence(sla: Dict[str, Any] | None) -> str:
    """'按城区标准，抢修人员将在45分钟内到达现场（预计11月23日 10:45前）。'"""
    if not sla:
        return "抢修人员会尽快到达现场。"
    minutes = sla.get("arrive_minutes")
    area = sla.get("area_class") or ""
    by = fmt_time(sla.get("arrive_by")) if sla.get("arrive_by") else ""
    sentence = f"按{area}标准，抢修人员将在{minutes}分钟内到达现场" if area else (
        f"抢修人员将在{minutes}分钟内到达现场"
    )
    return sentence + (f"（预计{by}前）。" if by else "。")


def ticket_confirmation(result: Dict[str, Any], kind: str) -> str:
    """The customer-facing wording of a created (or attached) fault ticket."""
    number = result.get("number", "")
    diagnosis = (result.get("diagnosis") or {}).get("summary") or ""
    lines: List[str] = []
    if result.get("attached_to_existing"):
        parent = result.get("parent_number") or number
        lines.append(
            f"您反映的情况属于所在区域的停电故障，我们已经在抢修中（工单号 {parent}），"
            f"您的报修已并入该工单，登记编号 {number}，不需要重复报修。"
        )
    else:
        lines.append(f"您的{KIND_NAMES.get(kind, '故障')}报修已受理，工单号：{number}。")
    if diagnosis:
        lines.append(f"初步判断：{diagnosis}")
    lines.append(arrival_sentence(result.get("sla")))
    if kind == "hazard":
        lines.append("在抢修人员到达前，" + SAFETY)
    lines.append(f"想了解进度，随时对我说“查工单 {number}”，或拨打95598。")
    return "\n".join(lines)


class ActionStartFaultReport(Action):
    """Starts a run of fault_report_form: kind from the intent, slots reset, contact reused."""

    def name(self) -> Text:
        return "action_start_fault_report"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        intent = latest_intent(tracker, ("report_outage", "report_hazard"))
        kind = "hazard" if intent == "report_hazard" else "outage"
        if kind == "hazard":
            # The rule has just uttered utter_hazard_safety.
            dispatcher.utter_message(text="我来帮您登记安全隐患，请配合回答几个问题。")
        else:
            dispatcher.utter_message(text="收到，我来帮您报修停电故障，请配合回答几个问题。")

        run = int(tracker.get_slot("fault_run") or 0)
        if tracker.get_slot("fault_pending") and tracker.get_slot("fault_kind") == kind:
            # The last submission failed (API down): same run, same key, same answers.
            dispatcher.utter_message(text="您上次填写的报修信息我还保留着，请再核对一下。")
            return [SlotSet("fault_confirmed", None)]

        events: List[Dict[Text, Any]] = reset_form_slots()
        events += [SlotSet("fault_kind", kind), SlotSet("fault_run", float(run + 1))]
        contact = None
        for slot in ("verified_account", "account_no", "phone"):
            value = tracker.get_slot(slot)
            if value and (RE_ACCOUNT.match(str(value)) or RE_MOBILE.match(str(value))):
                contact = str(value)
                break
        if contact:
            events.append(SlotSet("fault_contact", contact))
        return events


class ValidateFaultReportForm(FormValidationAction):
    """Validates and enriches the answers of fault_report_form."""

    def name(self) -> Text:
        return "validate_fault_report_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        slots = ["fault_contact"]
        if tracker.get_slot("fault_masked_address"):
            slots.append("fault_address_confirmed")
            if tracker.get_slot("fault_address_confirmed") is False:
                slots.append("fault_address")
        else:
            # No address on file (or not identified yet): ask for it in free text.
            slots.append("fault_address")
        return slots + ["fault_description", "fault_confirmed"]

    def _fail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, message: str
    ) -> Dict[Text, Any]:
        failures, count = bump_failures(tracker.get_slot("fault_failures"), slot)
        if count >= 2:
            dispatcher.utter_message(
                text=message
                + "如果手边暂时没有这些信息，可以先退出报修，或者转人工客服为您登记；"
                "情况紧急请直接拨打95598。",
                buttons=EXIT_BUTTONS,
            )
        else:
            dispatcher.utter_message(text=message)
        return {slot: None, "fault_failures": failures, "prompted_slot": slot}

    async def validate_fault_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        kind, number = parse_contact(value)
        if kind == "invalid":
            message = {
                "no_digits": "请告诉我您的10位户号，或者登记的11位手机号。",
                "phone_format": PHONE_HELP,
                "account_format": ACCOUNT_HELP,
            }[number]
            if number == "account_format":
                message += "也可以告诉我您登记的11位手机号。"
            return self._fail(dispatcher, tracker, "fault_contact", message)

        ok = {
            "fault_contact": number,
            "fault_failures": clear_failures(tracker.get_slot("fault_failures"), "fault_contact"),
        }
        try:
            if kind == "account":
                customers = await ZhidianClient().identify(account_no=number)
            else:
                customers = await ZhidianClient().identify(phone=number)
        except (ApiUnavailable, ApiRejected):
            # Keep going: the report matters more than the lookup.
            dispatcher.utter_message(
                text="暂时查不到您的登记信息，不影响报修，我们先把情况记下来。"
            )
            return {
                **ok,
                "fault_account": number if kind == "account" else None,
                "fault_phone": number if kind == "phone" else None,
                "fault_masked_address": None,
            }

        if not customers:
            if kind == "account":
                return self._fail(
                    dispatcher,
                    tracker,
                    "fault_contact",
                    f"没有查到户号 {mask_account(number)} 的用电信息，请核对后再输入一次；"
                    "也可以告诉我您登记的11位手机号。",
                )
            dispatcher.utter_message(
                text=f"手机号 {mask_phone(number)} 没有绑定户号，没关系，我会把它作为联系电话，"
                "抢修人员会通过这个号码联系您。"
            )
            return {**ok, "fault_phone": number, "fault_account": None, "fault_masked_address": None}

        customer = customers[0]
        if len(customers) > 1:
            dispatcher.utter_message(
                text=f"这个手机号登记了{len(customers)}个户号，我先按其中一个地址和您确认。"
            )
        return {
            **ok,
            "fault_account": customer.get("account_no"),
            "fault_phone": number if kind == "phone" else tracker.get_slot("fault_phone"),
            "fault_masked_address": customer.get("masked_address"),
            "fault_district": customer.get("district"),
            "fault_area_class": customer.get("area_class"),
            "account_no": customer.get("account_no"),
            **({"phone": number} if kind == "phone" else {}),
        }

    async def validate_fault_address_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is False and sounds_like_cancel((tracker.latest_message or {}).get("text")):
            # '算了/取消' here may mean "not this address" or "forget it": ask which.
            dispatcher.utter_message(
                text="您是想换一个报修地址，还是这次先不报修了？",
                buttons=[
                    {"title": "换个地址", "payload": "/change_address"},
                    {"title": "不报了", "payload": "/stop_report"},
                ],
            )
            return {"fault_address_confirmed": None, "prompted_slot": "fault_address_confirmed"}
        return {"fault_address_confirmed": bool(value)}

    async def validate_fault_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 4:
            return self._fail(
                dispatcher,
                tracker,
                "fault_address",
                "地址请再说具体一些，包括区县、乡镇或街道、村或小区、门牌号，"
                "例如“原州区文化街28号3单元”或“西吉县吉强镇龙王坝村二组”。",
            )
        return {
            "fault_address": text,
            "fault_failures": clear_failures(tracker.get_slot("fault_failures"), "fault_address"),
        }

    async def validate_fault_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 2:
            return self._fail(
                dispatcher,
                tracker,
                "fault_description",
                "请简单描述一下现场情况，例如“全屋没电，邻居家也没电”或“电线掉在路边”。",
            )
        return {
            "fault_description": text,
            "fault_failures": clear_failures(tracker.get_slot("fault_failures"), "fault_description"),
        }

    async def validate_fault_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {"fault_confirmed": True if value else None}


def address_line(tracker: Tracker) -> str:
    """The address as the customer will recognise it in the summary."""
    if tracker.get_slot("fault_address_confirmed") and tracker.get_slot("fault_masked_address"):
        return f"{tracker.get_slot('fault_masked_address')}（登记地址）"
    return tracker.get_slot("fault_address") or ""


class ActionAskFaultContact(Action):
    """户号 or mobile; the hazard wording stresses contact, not account."""

    def name(self) -> Text:
        return "action_ask_fault_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "fault_contact"):
            return []
        if kind_of(tracker) == "hazard":
            text = "请留下您的11位手机号（或10位户号），方便抢修人员和您联系。"
        else:
            text = "请告诉我您的10位户号，或者登记的11位手机号，我来查一下您的用电地址。"
        dispatcher.utter_message(text=text)
        return []


class ActionAskFaultAddressConfirmed(Action):
    """Reads back the masked address on file and asks whether that is the place."""

    def name(self) -> Text:
        return "action_ask_fault_address_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "fault_address_confirmed"):
            return []
        address = tracker.get_slot("fault_masked_address")
        if kind_of(tracker) == "hazard":
            question = f"您登记的用电地址是：{address}。隐患就在这个地址附近吗？"
        else:
            question = f"查到您登记的用电地址是：{address}。是这个地址停电吗？"
        dispatcher.utter_message(
            text=question,
            buttons=[
                {"title": "是", "payload": "/affirm"},
                {"title": "不是，换个地址", "payload": "/deny"},
            ],
        )
        return []


class ActionAskFaultAddress(Action):
    """Free-text address of the fault."""

    def name(self) -> Text:
        return "action_ask_fault_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "fault_address"):
            return []
        where = "隐患所在的位置" if kind_of(tracker) == "hazard" else "停电的详细地址"
        dispatcher.utter_message(
            text=f"请告诉我{where}：区县、乡镇或街道、村或小区、门牌号，"
            "附近有明显的参照物也可以说一下。"
        )
        return []


class ActionAskFaultDescription(Action):
    """What the customer sees (free text)."""

    def name(self) -> Text:
        return "action_ask_fault_description"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if rejected_this_turn(tracker, "fault_description"):
            return []
        if kind_of(tracker) == "hazard":
            text = "请描述一下现场情况，例如“电线断了掉在路边”“电杆倾斜”“变压器冒烟”。"
        else:
            text = (
                "请描述一下停电情况，例如“全屋没电，邻居家也没电”“只有几个插座没电”"
                "或“灯忽明忽暗、电压低”。"
            )
        dispatcher.utter_message(text=text)
        return []


class ActionAskFaultConfirmed(Action):
    """Reads back the whole report before anything is submitted."""

    def name(self) -> Text:
        return "action_ask_fault_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        lines = ["请您核对报修信息：", f"类型：{KIND_NAMES[kind_of(tracker)]}"]
        account = tracker.get_slot("fault_account")
        phone = tracker.get_slot("fault_phone")
        if account:
            lines.append(f"户号：{mask_account(account)}")
        if phone:
            lines.append(f"联系电话：{mask_phone(phone)}")
        lines.append(f"地址：{address_line(tracker)}")
        lines.append(f"情况：{tracker.get_slot('fault_description')}")
        lines.append("确认无误就提交报修吗？")
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "修改地址", "payload": "/change_address"},
                {"title": "取消报修", "payload": "/stop_report"},
            ],
        )
        return []


class ActionCreateFaultTicket(Action):
    """POST /api/tickets/faults and tell the customer the number, diagnosis and arrival time."""

    def name(self) -> Text:
        return "action_create_fault_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        kind = kind_of(tracker)
        confirmed_on_file = bool(tracker.get_slot("fault_address_confirmed")) and bool(
            tracker.get_slot("fault_masked_address")
        )
        payload = {
            "kind": kind,
            "account_no": tracker.get_slot("fault_account"),
            "phone": tracker.get_slot("fault_phone"),
            # Empty when the customer confirmed the address on file: the API uses the
            # account's own address then (the masked one is not an address).
            "address_text": "" if confirmed_on_file else (tracker.get_slot("fault_address") or ""),
            "description": tracker.get_slot("fault_description") or "",
            "channel": channel_of(tracker),
            "conversation_id": tracker.sender_id,
            "idempotency_key": idempotency_key(tracker),
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        client = ZhidianClient()
        result = None
        for attempt in (1, 2):  # one retry with the same idempotency key
            try:
                result = await client.create_fault_ticket(payload)
                break
            except ApiUnavailable:
                logger.warning("fault ticket attempt %d failed", attempt)
            except ApiRejected as exc:
                logger.info("fault ticket rejected: %s", exc)
                dispatcher.utter_message(
                    text="抱歉，报修信息没能通过系统校验"
                    + (f"（{exc.message}）" if exc.message and not exc.message.isascii() else "")
                    + "。请说“换个地址”核对一下地址，或者拨打95598由人工为您受理。"
                )
                return [SlotSet("fault_confirmed", None), SlotSet("fault_pending", True)]
        if result is None:
            dispatcher.utter_message(
                text="非常抱歉，系统暂时繁忙，报修没能提交成功。您填写的信息我已保存，"
                "稍后再对我说一次“报修”就能直接提交；情况紧急请立即拨打95598。"
                + ("\n" + SAFETY if kind == "hazard" else "")
            )
            return [SlotSet("fault_confirmed", None), SlotSet("fault_pending", True)]

        dispatcher.utter_message(text=ticket_confirmation(result, kind))
        number = result.get("number")
        events: List[Dict[Text, Any]] = [
            SlotSet("fault_ticket_no", number),
            SlotSet("ticket_no", number),
        ]
        if tracker.get_slot("fault_account"):
            events.append(SlotSet("account_no", tracker.get_slot("fault_account")))
        events += reset_form_slots()
        return events


class ActionCancelFaultReport(Action):
    """After utter_fault_cancelled: nothing is submitted, the run's answers are dropped."""

    def name(self) -> Text:
        return "action_cancel_fault_report"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        return reset_form_slots() + [SlotSet("requested_slot", None)]


class ActionChangeFaultAddress(Action):
    """'地址不对/换个地址': forget the address (and the confirmation) and ask again."""

    def name(self) -> Text:
        return "action_change_fault_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        where = "隐患所在的位置" if kind_of(tracker) == "hazard" else "停电的详细地址"
        dispatcher.utter_message(
            text=f"好的，换个地址。请告诉我{where}：区县、乡镇或街道、村或小区、门牌号。"
        )
        return [
            SlotSet("fault_address_confirmed", False),
            SlotSet("fault_address", None),
            SlotSet("fault_confirmed", None),
            SlotSet("prompted_slot", "fault_address"),
        ]
