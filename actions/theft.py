"""Reports of electricity theft and illegal wiring (有人偷电, 私拉乱接): a lead for 用电检查, not a repair.

theft_report_form: theft_address → theft_description → theft_phone → theft_confirmed, then
action_create_theft_lead (POST /api/audit/leads: a 稽查任务 for the 用电检查 crews). The place is
asked for, never taken from the reporter's own account (the report is usually about someone else);
the first message usually already says what was seen and is then not asked again. A contact mobile
is required by the API: a verified reporter may use the one on file; one who will not leave a number
is told why it is needed and that 95598 takes reports too, and nothing is filed.

Cable theft (有人偷电缆) or a wire down is a hazard (report_hazard → fault_report_form), not this.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.applications import PHONE_MESSAGES, check_phone
from actions.client import ApiError, ZhidianClient
from actions.common import normalize, verified_account
from actions.faults import PLACE, new_address
from actions.forms import (
    COMMON_INTERRUPTIONS,
    HANDOFF_BUTTON,
    AskSlot,
    Buttons,
    CancelForm,
    Events,
    FormSpec,
    FormValidation,
    StartForm,
    SubmitForm,
    latest_intent_name,
    refers_back,
    words_before,
)
from api.core.ids import mask_account, mask_phone

CONFIDENTIAL = "举报人信息严格保密，不会透露给被举报人。"
# Said when the reporter will not leave a number: the API files no lead without one.
PHONE_NEEDED = ("留个联系电话，是为了方便用电检查人员向您核实情况，" + CONFIDENTIAL
                + "在线登记举报需要留一个手机号；如果不方便留，也可以直接拨打95598举报。")
STOP_BUTTON = {"title": "不举报了", "payload": "/stop_report"}
CHANNELS = ("web", "wechat", "hotline", "sms")  # the channels a lead is accepted from

# A fault or a hazard leaves this form for the fault report; the description of what was seen is an
# answer here whatever the NLU calls it (report_theft, report_hazard …). bot/domain/theft.yml has the
# same list as `not_intent`.
THEFT_INTERRUPTIONS = COMMON_INTERRUPTIONS | {
    "kb_helpful", "kb_not_helpful", "report_outage", "apply_service", "complaint",
    "charging_find_station", "charging_book", "charging_status", "charging_cancel", "report_charger_fault", "change_address",
}

THEFT_FORM = FormSpec(
    name="theft_report_form",
    prefix="theft",
    form_slots=("theft_address", "theft_description", "theft_phone", "theft_phone_on_file",
                "theft_confirmed", "theft_failures", "theft_pending"),
    interruptions=THEFT_INTERRUPTIONS,
    exit_hint="如果不方便在这里登记，可以转人工客服，或者拨打95598举报，" + CONFIDENTIAL,
    exit_buttons=[HANDOFF_BUTTON, STOP_BUTTON],
    start_text=("感谢您反映情况！窃电、私拉乱接电线的线索由用电检查人员到现场核查，我来帮您登记，"
                + CONFIDENTIAL + "私接的电线请不要自己去拆或触碰，注意安全。"),
    resume_text="您上次填写的举报信息我还保留着，请再核对一下。",
    rejected_text="抱歉，举报信息没能通过系统校验{api}。您反映的情况我先保存着，可以转人工客服为您登记，"
    "或者拨打95598举报。",
    busy_text="非常抱歉，系统暂时繁忙，举报没能提交成功。您填写的信息我已保存，稍后点“重新提交”"
    "或再对我说一次“我要举报”就能直接提交；也可以拨打95598举报。",
    retry_buttons=[{"title": "重新提交", "payload": "/report_theft"}, HANDOFF_BUTTON],
    key_label="theft",
    detail_slot="theft_description",
    topic="举报登记",
)

# Words around a report that say nothing of what was seen: what is left tells whether the first
# message already describes it ("邻居从电线杆上私拉电线") or only that there is one ("我要举报窃电").
_GENERIC = re.compile(
    r"你好|您好|请问|我要|我想|我来|想|要|举报|反映|报告|一下|一个|个|情况|线索|窃电|偷电|的|了|啊|吧|呢|吗|"
    r"你们|管不管|管一管|管管|[\s\W_]"
)
# "不想留电话", "能匿名吗": the reporter will not leave a number.
_NO_PHONE = re.compile(r"不想留|不方便留|不留|不能留|不给|不想给|不愿|匿名|不想透露|不要留|不用留|不想说|保密")


def theft_details_from(text: Any) -> str | None:
    """The reporter's own words when they say what was seen; None for a bare '我要举报窃电'."""
    t = normalize(text)
    if not t or t.startswith("/"):
        return None
    return t[:1000] if len(_GENERIC.sub("", t)) >= 4 else None


def place_from(tracker: Tracker) -> str | None:
    """A place the first message names (the NLU's address entity, when it reads as a place)."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "address":
            value = normalize(entity.get("value"))
            if len(value) >= 4 and PLACE.search(value):
                return value[:256]
    return None


async def phone_on_file(account: str) -> str | None:
    """The mobile registered for the verified reporter's account (None when it cannot be read)."""
    try:
        return (await ZhidianClient().customer(account_no=account)).get("mobile") or None
    except ApiError:
        return None


class ActionStartTheftReport(StartForm):
    """Starts a run of theft_report_form: what was seen and a place from the first message, the
    verified reporter's mobile to offer."""

    form = THEFT_FORM

    def name(self) -> Text:
        return "action_start_theft_report"

    def prefilled(self, tracker: Tracker) -> Events:
        events: Events = []
        details = theft_details_from((tracker.latest_message or {}).get("text"))
        if details:
            events.append(SlotSet("theft_description", details))
        place = place_from(tracker)
        if place:
            events.append(SlotSet("theft_address", place))
        return events

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        events = await super().run(dispatcher, tracker, domain)
        account = verified_account(tracker)
        if account and not self.resumes(tracker):
            mobile = await phone_on_file(account)
            if mobile:
                events.append(SlotSet("theft_phone_on_file", mobile))
        return events


class ValidateTheftReportForm(FormValidation):
    """The place, what was seen, a valid mobile (the one on file on a yes)."""

    form = THEFT_FORM
    validate_theft_confirmed = FormValidation.validate_confirmed

    def name(self) -> Text:
        return "validate_theft_report_form"

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"就用登记的那个号" → the mobile on file (or one given earlier); "刚才说的" → the words before."""
        if slot == "theft_phone":
            return {"theft_phone": tracker.get_slot("theft_phone_on_file") or tracker.get_slot("phone")}
        if slot == "theft_description":
            said = words_before(tracker, "action_start_theft_report")
            return {"theft_description": next((d for d in map(theft_details_from, said) if d), None)}
        if slot == "theft_confirmed":
            return {"theft_confirmed": True}
        return {}

    def more_detail(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> Dict[Text, Any]:
        """A place typed at the read-back changes the place; other words go to the description."""
        place = new_address(tracker)
        if place and PLACE.search(place):
            dispatcher.utter_message(text=f"好的，地点改为：{place[:256]}。")
            return {"theft_address": place[:256]}
        return super().more_detail(dispatcher, tracker, text)

    def unclear(self, slot: str, tracker: Tracker) -> str:
        if slot == "theft_confirmed":
            return ("抱歉，我没太明白。举报信息没问题请回复“确认”；要改地点请说“换个地址”；"
                    "不举报了请说“取消”。")
        return super().unclear(slot, tracker)

    def explain(self, slot: str, tracker: Tracker) -> str:
        if slot == "theft_address":
            return ("\n地点说得越清楚，用电检查人员越容易找到现场：区县、乡镇或街道、村或小区，"
                    "或者附近明显的参照物都可以。" + self.form.exit_hint)
        if slot == "theft_phone":
            return "\n" + PHONE_NEEDED
        return "\n" + self.form.exit_hint

    def repair_buttons(self, slot: str, tracker: Tracker) -> Buttons:
        if slot == "theft_phone" and tracker.get_slot("theft_phone_on_file"):
            return [{"title": "用登记的手机号", "payload": "/affirm"}]
        if slot == "theft_confirmed":
            return [{"title": "确认提交", "payload": "/affirm"}]
        return []

    async def validate_theft_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the start of a run (Rasa validates it at activation): no answer yet
            return {"theft_address": None}
        text = normalize(value)
        if len(text) < 4 or text.startswith("/"):
            return self.reject(dispatcher, tracker, "theft_address",
                               "地点请再说具体一些，例如“原州区文化街28号后面的小院”"
                               "或“西吉县吉强镇龙王坝村二组村口的电线杆”。")
        return self.accept(tracker, "theft_address", text[:256])

    async def validate_theft_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the start of a run (Rasa validates it at activation): no answer yet
            return {"theft_description": None}
        text = normalize(value)
        if len(text) < 2 or text.startswith("/"):
            return self.reject(dispatcher, tracker, "theft_description",
                               "请简单描述一下您看到的情况，例如“有人从电线杆上私接电线”或“电表被人动过”。")
        return self.accept(tracker, "theft_description", text[:1000])

    async def validate_theft_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # emptied by the start of a run (Rasa validates it at activation): no answer yet
            return {"theft_phone": None}
        on_file = tracker.get_slot("theft_phone_on_file")
        text = normalize(value)
        if on_file and (latest_intent_name(tracker) == "affirm" or text == on_file):
            return self.accept(tracker, "theft_phone", on_file)
        mobile, account, problem = check_phone(value)
        if mobile:
            return self.accept(tracker, "theft_phone", mobile)
        if problem == "account" and account.startswith("1"):
            problem = "phone_format"  # a mobile short of a digit, not a 户号
        elif problem == "account":
            return self.reject(dispatcher, tracker, "theft_phone",
                               f"{mask_account(account)} 是户号。还需要一个能联系到您的11位手机号，请再输入一次。")
        if _NO_PHONE.search(text):
            return self.reject(dispatcher, tracker, "theft_phone", PHONE_NEEDED + "愿意留的话，请输入11位手机号。",
                               buttons=[STOP_BUTTON, HANDOFF_BUTTON])
        return self.reject(dispatcher, tracker, "theft_phone", PHONE_MESSAGES[problem])


class ActionAskTheftAddress(AskSlot):
    """Where it happens (never assumed to be the reporter's own address)."""

    def name(self) -> Text:
        return "action_ask_theft_address"

    def question(self, tracker: Tracker) -> str:
        return ("请告诉我发现问题的具体位置：区县、乡镇或街道、村或小区、门牌号，"
                "附近有明显的参照物（比如哪根电线杆、哪家店）也可以说一下。")


class ActionAskTheftDescription(AskSlot):
    """What the reporter saw."""

    def name(self) -> Text:
        return "action_ask_theft_description"

    def question(self, tracker: Tracker) -> str:
        return ("请描述一下您看到的情况，例如“有人从电线杆上私接电线到自家”“有人绕过电表用电”"
                "“电表被人动过手脚”，大概什么时候发现的也可以说一下。")


class ActionAskTheftPhone(AskSlot):
    """A mobile to reach the reporter: the one on file offered to a verified reporter."""

    def name(self) -> Text:
        return "action_ask_theft_phone"

    def question(self, tracker: Tracker) -> str:
        on_file = tracker.get_slot("theft_phone_on_file")
        if on_file:
            return (f"请留一个联系电话，方便用电检查人员向您核实情况，{CONFIDENTIAL}"
                    f"用您登记的手机号 {mask_phone(on_file)} 可以吗？也可以直接输入其他手机号。")
        return f"请留一个能联系到您的11位手机号，方便用电检查人员向您核实情况，{CONFIDENTIAL}"

    def buttons(self, tracker: Tracker) -> Buttons:
        if tracker.get_slot("theft_phone_on_file"):
            return [{"title": "用登记的手机号", "payload": "/affirm"}]
        return []


class ActionAskTheftConfirmed(AskSlot):
    """Reads the report back before anything is filed."""

    def name(self) -> Text:
        return "action_ask_theft_confirmed"

    def question(self, tracker: Tracker) -> str:
        description = tracker.get_slot("theft_description") or ""
        shown = description if len(description) <= 120 else description[:120] + "…"
        return "\n".join([
            "请您核对举报信息：",
            f"地点：{tracker.get_slot('theft_address') or ''}",
            f"情况：{shown}",
            f"联系电话：{mask_phone(tracker.get_slot('theft_phone'))}",
            "确认无误就提交吗？",
        ])

    def buttons(self, tracker: Tracker) -> Buttons:
        return [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "修改地点", "payload": "/change_address"},
            {"title": "取消举报", "payload": "/stop_report"},
        ]


def lead_confirmation(number: str, phone: str | None) -> str:
    """Thanks, the number, who checks it, confidentiality: no reward and no result time promised."""
    reach = f"如需核实情况，会通过 {mask_phone(phone)} 和您联系。" if phone else ""
    return (f"感谢您的举报！已为您登记，编号 {number}。我们会安排用电检查人员到现场核查处理，{reach}"
            f"{CONFIDENTIAL}\n如需补充情况，随时告诉我，或拨打95598并提供这个编号。")


class ActionCreateTheftLead(SubmitForm):
    """POST /api/audit/leads with the reporter's answers; a retried confirmation files one lead."""

    form = THEFT_FORM

    def name(self) -> Text:
        return "action_create_theft_lead"

    def payload(self, tracker: Tracker) -> Dict[str, Any]:
        return {
            "phone": tracker.get_slot("theft_phone"),
            "account_no": verified_account(tracker),  # the reporter's own, if verified
            "address_text": tracker.get_slot("theft_address") or "",
            "description": tracker.get_slot("theft_description") or "",
        }

    async def post(self, client: ZhidianClient, payload: Dict[str, Any]) -> Dict[str, Any]:
        if payload.get("channel") not in CHANNELS:
            payload = {**payload, "channel": "web"}
        result = await client.lead(payload)
        return {**result, "number": result.get("ticket_number")}

    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        return lead_confirmation(result.get("number") or "", tracker.get_slot("theft_phone"))


class ActionPauseTheftReport(Action):
    """After a no (不/算了/不想留) in the middle of the report: why a number is needed when it was the phone
    question, then whether to go on."""

    def name(self) -> Text:
        return "action_pause_theft_report"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        asked = next((e.get("value") for e in reversed(tracker.events)
                      if e.get("event") == "slot" and e.get("name") == "requested_slot" and e.get("value")), None)
        head = PHONE_NEEDED if asked == "theft_phone" else "好的，举报先暂停。"
        dispatcher.utter_message(text=head + "请问这次举报还要继续登记吗？", buttons=[
            {"title": "继续登记", "payload": "/affirm"},
            {"title": "不举报了", "payload": "/deny"},
        ])
        return []


class ActionCancelTheftReport(CancelForm):
    """After utter_theft_cancelled: nothing is filed, the run's answers are dropped."""

    form = THEFT_FORM

    def name(self) -> Text:
        return "action_cancel_theft_report"


class ActionChangeTheftAddress(Action):
    """'地址不对/换个地方': the place is asked again (or taken from the same message)."""

    def name(self) -> Text:
        return "action_change_theft_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        text = (tracker.latest_message or {}).get("text")
        if refers_back(text) and tracker.get_slot("theft_address"):
            dispatcher.utter_message(text="好的，地点不变。")
            return []
        place = new_address(tracker)
        if place and PLACE.search(place):
            dispatcher.utter_message(text=f"好的，地点改为：{place[:256]}。")
            return [SlotSet("theft_address", place[:256]), SlotSet("theft_confirmed", None)]
        dispatcher.utter_message(text="好的，请重新告诉我发现问题的具体位置：区县、乡镇或街道、村或小区、门牌号，"
                                      "或者附近明显的参照物。")
        return [SlotSet("theft_address", None), SlotSet("theft_confirmed", None),
                SlotSet("prompted_slot", "theft_address")]
