"""Fault reports: power outage (停电) and safety hazard (安全隐患), one form for both.

fault_report_form: fault_contact → (fault_address_confirmed | fault_address) → fault_description
→ fault_confirmed, then action_create_fault_ticket (POST /api/tickets/faults). The run's
bookkeeping (failures, run, pending submission) is actions.forms'.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiRejected, ApiUnavailable, ZhidianClient
from actions.common import (
    ACCOUNT_HELP,
    PHONE_HELP,
    fmt_span,
    fmt_time,
    latest_intent,
    normalize,
    parse_contact,
    sounds_angry,
    sounds_like_cancel,
    waiting_for_person,
)
from actions.forms import (
    COMMON_INTERRUPTIONS,
    AskSlot,
    Buttons,
    CancelForm,
    Events,
    FormSpec,
    FormValidation,
    StartForm,
    SubmitForm,
    clear_slots,
    refers_back,
    words_before,
)
from api.core.ids import ACCOUNT_NO, MOBILE, mask_account, mask_phone

KIND_NAMES = {"outage": "停电故障", "hazard": "安全隐患"}
ANGRY_OPENING = ("非常抱歉让您着急了，您的心情我理解。我已经为您申请了人工客服，客服接入后会继续跟进；"
                 "在等待的同时，我先帮您把报修登记上，抢修不耽误，请配合回答几个问题。")
SAFETY = "请远离断线、倾倒电杆或冒火设备至少8米，不要触碰，也别让老人孩子靠近。"

FAULT_FORM = FormSpec(
    name="fault_report_form",
    prefix="fault",
    form_slots=(
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
    ),
    exit_hint="如果手边暂时没有这些信息，可以先退出报修，或者转人工客服为您登记；"
    "情况紧急请直接拨打95598。",
    exit_buttons=[
        {"title": "转人工", "payload": "/request_human"},
        {"title": "退出报修", "payload": "/stop_report"},
    ],
    # The description of the problem is an answer here (report_outage/report_hazard are not
    # interruptions); bot/domain/faults.yml has the same list as `not_intent`.
    interruptions=COMMON_INTERRUPTIONS | {
        "change_address", "complaint", "apply_service", "charging_find_station", "charging_book",
        "charging_status", "charging_cancel", "report_charger_fault"},
    detail_slot="fault_description",
    topic="报修登记",
    resume_text="您上次填写的报修信息我还保留着，请再核对一下。",
    rejected_text="抱歉，报修信息没能通过系统校验{api}。请说“换个地址”核对一下地址，"
    "或者拨打95598由人工为您受理。",
    busy_text="非常抱歉，系统暂时繁忙，报修没能提交成功。您填写的信息我已保存，"
    "稍后再对我说一次“报修”就能直接提交；情况紧急请立即拨打95598。",
)


def kind_of(tracker: Tracker) -> str:
    """'outage' or 'hazard' (outage when unknown)."""
    return "hazard" if tracker.get_slot("fault_kind") == "hazard" else "outage"


def reported_kind(tracker: Tracker) -> str:
    """The kind the customer is reporting now, from the latest report_… intent."""
    intent = latest_intent(tracker, ("report_outage", "report_hazard"))
    return "hazard" if intent == "report_hazard" else "outage"


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
        # One number for the customer: their own report's. The area repair it joined is an
        # internal ticket of another customer's conversation; its progress shows on this one.
        lines.append(
            "您反映的情况属于所在区域的停电故障，抢修人员已经在处理，"
            f"您的报修已并入这次区域抢修，不需要重复报修。工单号：{number}。"
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


class ActionStartFaultReport(StartForm):
    """Starts a run of fault_report_form: kind from the intent, slots reset, contact reused."""

    form = FAULT_FORM

    def name(self) -> Text:
        return "action_start_fault_report"

    def opening(self, tracker: Tracker, resuming: bool) -> str:
        if self.upset(tracker):
            return ANGRY_OPENING
        if reported_kind(tracker) == "hazard":
            # The rule has just uttered utter_hazard_safety.
            return "我来帮您登记安全隐患，请配合回答几个问题。"
        return "收到，我来帮您报修停电故障，请配合回答几个问题。"

    @staticmethod
    def upset(tracker: Tracker) -> bool:
        """An angry report not yet waiting for a person: the bot asks for one and goes on."""
        return sounds_angry((tracker.latest_message or {}).get("text")) and not waiting_for_person(tracker)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        events = await super().run(dispatcher, tracker, domain)
        if self.upset(tracker):
            # The gateway queues the conversation for a person (reason: angry) and adds no
            # "正在为您转接" of its own beside the questions that follow.
            dispatcher.utter_message(json_message={"handoff": True, "reason": "angry"})
            events.append(SlotSet("handoff_requested", True))
        return events

    def resumes(self, tracker: Tracker) -> bool:
        """Only a report of the same kind takes up the failed submission."""
        return super().resumes(tracker) and tracker.get_slot("fault_kind") == reported_kind(tracker)

    def reset(self, tracker: Tracker) -> Events:
        return clear_slots(self.form.form_slots)

    def prefilled(self, tracker: Tracker) -> Events:
        """The kind, and a 户号 or mobile the conversation already knows as the contact."""
        events: Events = [SlotSet("fault_kind", reported_kind(tracker))]
        for slot in ("verified_account", "account_no", "phone"):
            value = tracker.get_slot(slot)
            if value and (ACCOUNT_NO.match(str(value)) or MOBILE.match(str(value))):
                events.append(SlotSet("fault_contact", str(value)))
                break
        return events


CONTACT_MESSAGES = {
    "no_digits": "请告诉我您的10位户号，或者登记的11位手机号。",
    "phone_format": PHONE_HELP,
    "account_format": ACCOUNT_HELP + "也可以告诉我您登记的11位手机号。",
}


class ValidateFaultReportForm(FormValidation):
    """Validates and enriches the answers of fault_report_form."""

    form = FAULT_FORM
    validate_fault_confirmed = FormValidation.validate_confirmed

    def name(self) -> Text:
        return "validate_fault_report_form"

    # ------------------------------------------------------------------ repair
    def more_detail(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> Dict[Text, Any]:
        """An address typed at the read-back changes the address; other words go to the description."""
        address = new_address(tracker)
        if address:
            dispatcher.utter_message(text=f"好的，报修地址改为：{address}。")
            return {"fault_address": address, "fault_address_confirmed": False}
        return super().more_detail(dispatcher, tracker, text)

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"这个地址 / 就是登记的" → the address on file; "刚才说的" → the words that started the report."""
        on_file = bool(tracker.get_slot("fault_masked_address"))
        if slot == "fault_contact":
            return {"fault_contact": known_contact(tracker)}
        if slot in ("fault_address_confirmed", "fault_address"):
            if on_file:
                return {"fault_address_confirmed": True}
            return {"fault_address": tracker.get_slot("address")}
        if slot == "fault_description":
            return {"fault_description": opening_words(tracker)}
        if slot == "fault_confirmed":
            return {"fault_confirmed": True}
        return {}

    def yes_value(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"对，就在我家门口" at the address read-back: yes (unless another address comes with it)."""
        if slot == "fault_address_confirmed":
            address = new_address(tracker)
            if address and PLACE.search(address):
                return {}
            return {"fault_address_confirmed": True}
        return super().yes_value(slot, tracker)

    def unclear(self, slot: str, tracker: Tracker) -> str:
        if slot == "fault_address_confirmed":
            return (f"抱歉，我没太明白。{where_of(tracker)}是登记的地址"
                    f"{tracker.get_slot('fault_masked_address')}吗？是的话回复“是”，"
                    "不是的话请直接告诉我地址。")
        if slot == "fault_confirmed":
            return ("抱歉，我没太明白。报修信息没问题请回复“确认”；要换地址请说“换个地址”；"
                    "不报了请说“取消报修”。")
        return super().unclear(slot, tracker)

    def explain(self, slot: str, tracker: Tracker) -> str:
        if slot == "fault_contact":
            return ("\n户号或手机号用来查您登记的地址，抢修人员也会用它联系您。手边没有户号，"
                    "告诉我手机号也可以；都不方便的话，可以转人工客服登记，紧急情况请拨打95598。")
        if slot in ("fault_address_confirmed", "fault_address"):
            return ("\n我需要知道抢修人员该去哪里：就是登记的地址，点“就是登记地址”；"
                    "是别的地方，请说区县、街道或村、门牌号。也可以转人工客服为您登记。")
        return "\n" + self.form.exit_hint

    def repair_buttons(self, slot: str, tracker: Tracker) -> Buttons:
        on_file = bool(tracker.get_slot("fault_masked_address"))
        if slot == "fault_address_confirmed":
            return [{"title": "就是登记地址", "payload": "/affirm"},
                    {"title": "换个地址", "payload": "/change_address"}]
        if slot == "fault_address" and on_file:
            # A text payload: read like a typed answer, which the repair recalls.
            return [{"title": "就是登记地址", "payload": "就是登记的地址"}]
        if slot == "fault_confirmed":
            return [{"title": "确认提交", "payload": "/affirm"},
                    {"title": "修改地址", "payload": "/change_address"}]
        return []

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

    async def validate_fault_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        kind, number = parse_contact(value)
        if kind == "invalid":
            message = CONTACT_MESSAGES[number]
            if number == "no_digits" and latest_intent(tracker) in ("report_outage", "report_hazard"):
                # "你们能不能派人来看一下" at this question: that is what the report is for.
                message = "好的，登记好报修就给您派人。" + message
            return self.reject(dispatcher, tracker, "fault_contact", message)

        ok = self.accept(tracker, "fault_contact", number)
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
                return self.reject(
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
        planned = await running_planned_outage(customer.get("account_no")) if kind_of(tracker) == "outage" else None
        if planned:
            # Planned work, not a fault: a utility tells the notice and its end, and sends no crew.
            dispatcher.utter_message(text=planned_outage_text(planned))
            return self.stop({**ok, "fault_account": customer.get("account_no"),
                              "account_no": customer.get("account_no"), "fault_confirmed": None})
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
        return self.accept(tracker, "fault_address_confirmed", bool(value))

    async def validate_fault_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 4:
            return self.reject(
                dispatcher,
                tracker,
                "fault_address",
                "地址请再说具体一些，包括区县、乡镇或街道、村或小区、门牌号，"
                "例如“原州区文化街28号3单元”或“西吉县吉强镇龙王坝村二组”。",
            )
        return self.accept(tracker, "fault_address", text)

    async def validate_fault_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 2:
            return self.reject(
                dispatcher,
                tracker,
                "fault_description",
                "请简单描述一下现场情况，例如“全屋没电，邻居家也没电”或“电线掉在路边”。",
            )
        return self.accept(tracker, "fault_description", text)


async def running_planned_outage(account: str | None) -> Dict[str, Any] | None:
    """The planned outage in progress now for the account's area, if there is one."""
    if not account:
        return None
    try:
        data = await ZhidianClient().outages(account_no=account)
    except (ApiUnavailable, ApiRejected):
        return None  # the report goes on: the crew will find out
    return next((p for p in data.get("planned") or [] if p.get("status") == "in_progress"), None)


def planned_outage_text(notice: Dict[str, Any]) -> str:
    """The running planned outage the customer's power is off for, and when it ends."""
    reason = f"（{notice['reason']}）" if notice.get("reason") else ""
    return (f"查到您所在的区域正在进行计划停电检修{reason}：{fmt_span(notice.get('start_at'), notice.get('end_at'))}，"
            f"范围：{notice.get('scope', '')}，通知编号{notice.get('notice_no', '')}。\n"
            f"您家现在停电是这次计划检修造成的，不是故障，不需要报修，检修完成后会恢复供电，"
            f"按通知预计{fmt_time(notice.get('end_at'))}前恢复供电。停电期间请关闭大功率电器，来电后再逐一打开。\n"
            "如果过了预计时间还没来电，或者看到电线断落、冒火等危险情况，请随时告诉我或拨打95598。")


def new_address(tracker: Tracker) -> str | None:
    """An address the latest message gives, if it is one to go to.

    From where the NLU's `address` entity starts to the end of that phrase: the entity itself is
    often cut short ("原州区文化街" of "原州区文化街28号3号楼2单元401，不是登记的那个").
    """
    message = tracker.latest_message or {}
    text = str(message.get("text") or "")
    for entity in message.get("entities") or []:
        if entity.get("entity") != "address":
            continue
        start = entity.get("start")
        value = str(entity.get("value") or "")
        if isinstance(start, int) and text[start:start + len(value)] == value:
            value = _PHRASE.match(text[start:]).group(0)
        value = normalize(value)
        if len(value) >= 4:
            return value
    return None


_PHRASE = re.compile(r"[^，。；,;！？!?\s]*")
# What makes words an address to go to rather than "我家门口": a district, road, village, number …
PLACE = re.compile(r"[区县镇乡村路街巷号栋组]")


def known_contact(tracker: Tracker) -> str | None:
    """A 户号 or mobile the conversation already holds, for "就是刚才那个" at the contact question."""
    for slot in ("verified_account", "account_no", "fault_account", "phone", "fault_phone"):
        value = tracker.get_slot(slot)
        if value and (ACCOUNT_NO.match(str(value)) or MOBILE.match(str(value))):
            return str(value)
    return None


def opening_words(tracker: Tracker) -> str | None:
    """What the customer said when starting this report ("家里没电了，邻居家也没电"), if it says anything."""
    said = words_before(tracker, "action_start_fault_report")[:1]
    return said[0] if said and len(said[0]) >= 4 and not said[0].startswith("/") else None


def address_line(tracker: Tracker) -> str:
    """The address as the customer will recognise it in the summary."""
    if tracker.get_slot("fault_address_confirmed") and tracker.get_slot("fault_masked_address"):
        return f"{tracker.get_slot('fault_masked_address')}（登记地址）"
    return tracker.get_slot("fault_address") or ""


def where_of(tracker: Tracker) -> str:
    """What the address question asks for: the hazard's position or the outage's address."""
    return "隐患所在的位置" if kind_of(tracker) == "hazard" else "停电的详细地址"


class ActionAskFaultContact(AskSlot):
    """户号 or mobile; the hazard wording stresses contact, not account."""

    def name(self) -> Text:
        return "action_ask_fault_contact"

    def question(self, tracker: Tracker) -> str:
        if kind_of(tracker) == "hazard":
            return "请留下您的11位手机号（或10位户号），方便抢修人员和您联系。"
        return "请告诉我您的10位户号，或者登记的11位手机号，我来查一下您的用电地址。"


class ActionAskFaultAddressConfirmed(AskSlot):
    """Reads back the masked address on file and asks whether that is the place."""

    def name(self) -> Text:
        return "action_ask_fault_address_confirmed"

    def question(self, tracker: Tracker) -> str:
        address = tracker.get_slot("fault_masked_address")
        if kind_of(tracker) == "hazard":
            return f"您登记的用电地址是：{address}。隐患就在这个地址附近吗？"
        return f"查到您登记的用电地址是：{address}。是这个地址停电吗？"

    def buttons(self, tracker: Tracker) -> Buttons:
        return [
            {"title": "是", "payload": "/affirm"},
            {"title": "不是，换个地址", "payload": "/deny"},
        ]


class ActionAskFaultAddress(AskSlot):
    """Free-text address of the fault."""

    def name(self) -> Text:
        return "action_ask_fault_address"

    def question(self, tracker: Tracker) -> str:
        return (f"请告诉我{where_of(tracker)}：区县、乡镇或街道、村或小区、门牌号，"
                "附近有明显的参照物也可以说一下。")


class ActionAskFaultDescription(AskSlot):
    """What the customer sees (free text)."""

    def name(self) -> Text:
        return "action_ask_fault_description"

    def question(self, tracker: Tracker) -> str:
        if kind_of(tracker) == "hazard":
            return "请描述一下现场情况，例如“电线断了掉在路边”“电杆倾斜”“变压器冒烟”。"
        return ("请描述一下停电情况，例如“全屋没电，邻居家也没电”“只有几个插座没电”"
                "或“灯忽明忽暗、电压低”。")


class ActionAskFaultConfirmed(AskSlot):
    """Reads back the whole report before anything is submitted."""

    def name(self) -> Text:
        return "action_ask_fault_confirmed"

    def question(self, tracker: Tracker) -> str:
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
        return "\n".join(lines)

    def buttons(self, tracker: Tracker) -> Buttons:
        return [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "修改地址", "payload": "/change_address"},
            {"title": "取消报修", "payload": "/stop_report"},
        ]


class ActionCreateFaultTicket(SubmitForm):
    """POST /api/tickets/faults and tell the customer the number, diagnosis and arrival time."""

    form = FAULT_FORM

    def name(self) -> Text:
        return "action_create_fault_ticket"

    def payload(self, tracker: Tracker) -> Dict[str, Any]:
        confirmed_on_file = bool(tracker.get_slot("fault_address_confirmed")) and bool(
            tracker.get_slot("fault_masked_address")
        )
        return {
            "kind": kind_of(tracker),
            "account_no": tracker.get_slot("fault_account"),
            "phone": tracker.get_slot("fault_phone"),
            # Empty when the customer confirmed the address on file: the API uses the
            # account's own address then (the masked one is not an address).
            "address_text": "" if confirmed_on_file else (tracker.get_slot("fault_address") or ""),
            "description": tracker.get_slot("fault_description") or "",
        }

    async def post(self, client: ZhidianClient, payload: Dict[str, Any]) -> Dict[str, Any]:
        return await client.create_fault_ticket(payload)

    def failure_text(self, tracker: Tracker, rejected: ApiRejected | None) -> str:
        """The form's wording; for an unsubmitted hazard, the safety advice again."""
        text = super().failure_text(tracker, rejected)
        if rejected is None and kind_of(tracker) == "hazard":
            text += "\n" + SAFETY
        return text

    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        return ticket_confirmation(result, kind_of(tracker))

    def remembered(self, tracker: Tracker) -> Events:
        """The 户号 the report was made for is the conversation's from now on."""
        account = tracker.get_slot("fault_account")
        return [SlotSet("account_no", account)] if account else []


class ActionCancelFaultReport(CancelForm):
    """After utter_fault_cancelled: nothing is submitted, the run's answers are dropped."""

    form = FAULT_FORM

    def name(self) -> Text:
        return "action_cancel_fault_report"


class ActionChangeFaultAddress(Action):
    """'地址不对/换个地址': forget the address (and the confirmation) and ask again."""

    def name(self) -> Text:
        return "action_change_fault_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        text = (tracker.latest_message or {}).get("text")
        if refers_back(text) and tracker.get_slot("fault_masked_address"):
            # "对，就是这个地址" names the address but keeps it: the one on file is confirmed.
            dispatcher.utter_message(text="好的，就按您登记的地址报修。")
            return [SlotSet("fault_address_confirmed", True), SlotSet("fault_address", None)]
        new = new_address(tracker)
        if new:  # "地址不对，是文化街28号3号楼": the new address came with the correction
            dispatcher.utter_message(text=f"好的，报修地址改为：{new}。")
            return [SlotSet("fault_address_confirmed", False), SlotSet("fault_address", new),
                    SlotSet("fault_confirmed", None)]
        dispatcher.utter_message(
            text=f"好的，换个地址。请告诉我{where_of(tracker)}：区县、乡镇或街道、村或小区、门牌号。"
        )
        return [
            SlotSet("fault_address_confirmed", False),
            SlotSet("fault_address", None),
            SlotSet("fault_confirmed", None),
            SlotSet("prompted_slot", "fault_address"),
        ]
