"""Business applications (业务办理) and complaints (投诉): what to bring, and two online forms.

- action_apply_service: where to apply for a service and what to bring (``SERVICES``).
- service_application_form: service_type → phone → preferred_time → application_confirmed,
  then action_create_service_ticket (POST /api/tickets, type 业务办理).
- complaint_form: complaint_details → phone → complaint_confirmed,
  then action_create_complaint_ticket (POST /api/tickets, type 投诉).

``phone`` and ``service_type`` are the conversation-wide slots: a number or a service named
earlier is reused (and validated again when the form starts). Every other slot belongs to one
run of a form (actions.forms keeps the run's bookkeeping, as for every form).
"""
from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ZhidianClient
from actions.common import (
    PHONE_HELP,
    fmt_promise,
    known_account,
    latest_entity,
    normalize,
    parse_contact,
    sounds_angry,
    waiting_for_person,
)
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
    words_before,
)
from actions.knowledge import answer, kb_hits
from api.core.ids import mask_account, mask_phone

APPLICATION = "业务办理"
COMPLAINT = "投诉"

# Service types the API registers → (the name customers read, what to bring).
SERVICES = {
    "新装": ("新装用电", "户主身份证、房产证明（房产证、购房合同或宅基地证明）"),
    "增容": ("增容", "户主身份证、房产证明，以及需要增加的用电容量和主要用电设备清单"),
    "减容": ("减容", "户主身份证、户号，以及减容后的容量"),
    "过户": ("过户（更名）", "新户主身份证、房产证明（房产证或购房合同），原户主须结清电费"),
    "销户": ("销户", "户主身份证、户号，须先结清全部电费"),
    "峰谷电": ("峰谷分时电价", "户主身份证、户号（通常需要具备分时计量的智能电表，不需要另外准备材料）"),
    "暂停": ("暂停用电", "户主身份证、户号，以及暂停的起止时间"),
    "改类": ("用电类别变更", "户主身份证、房产证明和变更后的用电性质说明（如营业执照）"),
    "光伏并网": ("分布式光伏并网", "户主身份证、房产证明，以及光伏组件和逆变器的技术参数"),
    "充电桩报装": ("家用充电桩报装", "户主身份证、车位产权或使用证明、物业同意安装的证明、购车合同"),
    "校表": ("电能表校验", "户号、户主身份证"),
}
# What happens after the registration, for the services where the customer should know it.
SERVICE_NOTES = {
    "校表": "工作人员会上门在现场校验电表，必要时把电表拆回检定，拆回期间会装上临时电表，不影响正常用电；"
            "拆表时会当面记录表上的读数，建议您在场。",
}

# Intents that interrupt a form (a rule answers them, then the form goes on) instead of being
# taken as the answer to its question. Mirrors the `not_intent` lists of bot/domain/services.yml.
_COMMON_INTERRUPTIONS = COMMON_INTERRUPTIONS | {
    "kb_helpful", "kb_not_helpful", "report_outage", "report_hazard", "report_theft", "apply_service",
    "charging_find_station", "charging_book", "charging_status", "charging_cancel", "report_charger_fault",
}
APPLICATION_INTERRUPTIONS = _COMMON_INTERRUPTIONS | {"complaint", "start_application"}
# More of the complaint said at the phone question is added to the details, not an interruption.
COMPLAINT_INTERRUPTIONS = _COMMON_INTERRUPTIONS

SERVICE_BUTTONS = [
    {"title": name, "payload": f'/inform{{"service_type":"{name}"}}'} for name in SERVICES
]

# Words customers use for a service → the service's name (most specific first).
SERVICE_WORDS = (
    ("校表", ("校表", "校验", "验表", "检定", "表不准", "测电表", "检测电表")),
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


# ---------------------------------------------------------------------- what the forms share
def check_phone(value: Any) -> tuple[str | None, str | None, str | None]:
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


def _read_back(tracker: Tracker, head: List[str], tail: List[str]) -> str:
    """The answers read back before submitting: ``head``, the known 户号, the phone, ``tail``."""
    lines = list(head)
    account = known_account(tracker)
    if account:
        lines.append(f"户号：{mask_account(account)}")
    lines.append(f"联系电话：{mask_phone(tracker.get_slot('phone'))}")
    return "\n".join(lines + tail)


def _contact_by(result: Dict[str, Any]) -> str:
    """'最迟在12月8日（周二）上午' from the ticket's SLA, as a person would promise it (a day and a
    part of it, never a minute like 23:13); '尽快' when the API gave none."""
    sla = result.get("sla") or {}
    return f"最迟在{fmt_promise(sla['arrive_by'])}" if sla.get("arrive_by") else "尽快"


def _crew(result: Dict[str, Any]) -> str:
    """'，已交由客户服务班处理' when the ticket was given to a team at once, else ''."""
    name = (result.get("crew") or {}).get("name")
    return f"，已交由{name}处理" if name else ""


class _ValidateContactForm(FormValidation):
    """Both forms ask for the contact mobile (``phone``) alike (abstract: never registered)."""

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"就用刚才那个号码" → a mobile given earlier (the phone slot itself is asked only when empty);
        "同上/就这样" at the read-back → confirmed."""
        if slot == "phone":
            return {"phone": tracker.get_slot("fault_phone")}
        if slot == self.form.slot("confirmed"):
            return {slot: True}
        return {}

    def repair_buttons(self, slot: str, tracker: Tracker) -> Buttons:
        if slot == self.form.slot("confirmed"):
            return [{"title": "确认提交", "payload": "/affirm"}]
        return []

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Whatever was typed at the phone question, so that a wrong number gets a re-prompt."""
        text = self.answer_text(tracker, "phone")
        return {"phone": text} if text else {}

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        mobile, account, problem = check_phone(value)
        if mobile:
            return self.accept(tracker, "phone", mobile)
        if problem == "account":
            return self.reject(dispatcher, tracker, "phone",
                               f"好的，户号 {mask_account(account)} 我记下了。"
                               "还需要一个能联系到您的11位手机号，请再输入一次。", account_no=account)
        other = self.not_a_phone(value, problem, dispatcher, tracker)
        if other is not None:
            return other
        return self.reject(dispatcher, tracker, "phone", PHONE_MESSAGES[problem])

    def not_a_phone(
        self, value: Any, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any] | None:
        """Another reading of an answer that is no mobile number; None: it is a wrong number."""
        return None


class _CreateTicket(SubmitForm):
    """POST /api/tickets with the form's ticket type (abstract: never registered)."""

    ticket_type: str

    def payload(self, tracker: Tracker) -> Dict[str, Any]:
        return {
            "type": self.ticket_type,
            "phone": tracker.get_slot("phone"),
            "account_no": known_account(tracker),
            **self.details(tracker),
        }

    async def post(self, client: ZhidianClient, payload: Dict[str, Any]) -> Dict[str, Any]:
        return await client.create_ticket(payload)

    @abstractmethod
    def details(self, tracker: Tracker) -> Dict[str, Any]:
        """The fields of this ticket type."""


class ActionAskPhone(AskSlot):
    """The contact mobile, worded for the active form."""

    def name(self) -> Text:
        return "action_ask_phone"

    def question(self, tracker: Tracker) -> str:
        if (tracker.active_loop or {}).get("name") == COMPLAINT_FORM.name:
            return "请留一个能联系到您的11位手机号，处理人员会通过这个号码和您核实情况。"
        return "请留一个能联系到您的11位手机号，工作人员会通过这个号码和您确认上门时间。"


# ====================================================================== 业务办理
APPLICATION_FORM = FormSpec(
    name="service_application_form",
    prefix="application",
    form_slots=("preferred_time", "application_confirmed", "application_failures",
                "application_pending"),
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
    retry_buttons=[{"title": "重新提交", "payload": "/start_application"}, HANDOFF_BUTTON],
    key_label=APPLICATION,
    topic="业务登记",
)


def service_name(service_type: str | None) -> str:
    """'过户（更名）' for the customer; the type itself when unknown."""
    known = SERVICES.get(service_type or "")
    return known[0] if known else (service_type or "")


class ActionApplyService(Action):
    """Where to apply and what to bring, for the recognised service type."""

    def name(self) -> Text:
        return "action_apply_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        service = latest_entity(tracker, "service_type") or tracker.get_slot("service_type")
        known = SERVICES.get(service or "")
        topics: Buttons = []
        if known:
            name, materials = known
            text = (
                f"办理{name}有两种方式：\n"
                f"1. 网上国网App：首页“办电”里选择“{name}”，按提示填写信息、上传材料照片即可，进度可在App里随时查看；\n"
                f"2. 到就近的供电营业厅办理。\n"
                f"需要准备：{materials}。\n"
                + (f"{SERVICE_NOTES[service]}\n" if service in SERVICE_NOTES else "")
                + "受理后工作人员会联系您确认现场勘查时间；有疑问可以拨打95598。"
            )
        else:
            # No service named, or one this form does not register ("临时用电"): the knowledge base first.
            asked = normalize((tracker.latest_message or {}).get("text"))
            hits = await kb_hits(asked) if asked and not asked.startswith("/") else None
            if hits and hits.get("answerable") and hits.get("hits"):
                return answer(dispatcher, tracker, hits["hits"][0], query=asked)
            topics = [{"title": h["title"], "payload": f'/faq{{"kb_article":"{h["article_id"]}"}}'}
                      for h in ((hits or {}).get("hits") or [])[:2]]
            text = (
                "用电业务（新装、增容、过户、销户、峰谷电、光伏并网、充电桩报装等）都可以在网上国网App首页“办电”里在线办理，"
                "也可以到就近的供电营业厅办理。一般需要准备户主身份证和房产证明（房产证或购房合同）。"
                "请问您想办理哪一项？告诉我业务名称，我把具体材料告诉您。"
            )
        if (tracker.active_loop or {}).get("name"):
            # Asked in the middle of a form: answer only, the form goes on.
            dispatcher.utter_message(text=text, buttons=topics)
        else:
            dispatcher.utter_message(
                text=text + "\n不方便跑营业厅的话，点“在线登记申请”，我现在就帮您登记，"
                "工作人员会联系您确认上门时间。",
                buttons=[{"title": "在线登记申请", "payload": "/start_application"}] + topics,
            )
        return []


class ActionStartServiceApplication(StartForm):
    """Starts a run of service_application_form (answers of a failed submission are kept)."""

    form = APPLICATION_FORM

    def name(self) -> Text:
        return "action_start_service_application"


class ValidateServiceApplicationForm(_ValidateContactForm):
    """Normalises the service, checks the mobile number, takes any non-empty time."""

    form = APPLICATION_FORM
    validate_application_confirmed = FormValidation.validate_confirmed

    def name(self) -> Text:
        return "validate_service_application_form"

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"就是刚才说的那个业务" → the service named earlier in the conversation."""
        if slot == "service_type":
            return {"service_type": service_named_earlier(tracker)}
        return super().recall(slot, tracker)

    def unclear(self, slot: str, tracker: Tracker) -> str:
        if slot == "application_confirmed":
            return "抱歉，我没太明白。登记信息没问题请回复“确认”；要修改请说“取消登记”后重新登记，或转人工客服。"
        return super().unclear(slot, tracker)

    async def extract_service_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Free text at the service question (the entity mapping covers buttons and names)."""
        if latest_entity(tracker, "service_type"):
            return {}
        text = self.answer_text(tracker, "service_type")
        return {"service_type": text} if text else {}

    async def validate_service_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        service = normalize_service(value)
        if service is None:
            return self.reject(
                dispatcher, tracker, "service_type",
                "这项业务暂时不能在线登记，或者我没听明白。请从下面选一项；"
                "其他业务可以到供电营业厅或网上国网App办理。",
                buttons=SERVICE_BUTTONS,
            )
        return self.accept(tracker, "service_type", service)

    async def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = latest_entity(tracker, "preferred_time") or normalize(value)
        if not text or text.startswith("/"):
            return {"preferred_time": None}
        return {"preferred_time": text[:64]}


class ActionAskPreferredTime(AskSlot):
    """When the customer can take a call or a visit, with three common answers as buttons."""

    def name(self) -> Text:
        return "action_ask_preferred_time"

    def question(self, tracker: Tracker) -> str:
        return "您一般什么时间方便接听电话、接待上门？例如“工作日上午”“周六下午”，也可以直接说。"

    def buttons(self, tracker: Tracker) -> Buttons:
        return [{"title": t, "payload": f'/inform{{"preferred_time":"{t}"}}'}
                for t in ("工作日上午", "工作日下午", "周末均可")]


def service_named_earlier(tracker: Tracker) -> str | None:
    """The latest service the customer named in this conversation (entity or words)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "service_type" and normalize_service(entity.get("value")):
                return normalize_service(entity.get("value"))
        named = normalize_service(event.get("text"))
        if named:
            return named
    return None


class ActionAskServiceType(AskSlot):
    """Which service, with buttons."""

    def name(self) -> Text:
        return "action_ask_service_type"

    def question(self, tracker: Tracker) -> str:
        return "请问您要办理哪项业务？"

    def buttons(self, tracker: Tracker) -> Buttons:
        return SERVICE_BUTTONS


class ActionAskApplicationConfirmed(AskSlot):
    """Reads the application back before anything is submitted."""

    def name(self) -> Text:
        return "action_ask_application_confirmed"

    def question(self, tracker: Tracker) -> str:
        return _read_back(
            tracker,
            ["请您核对一下登记信息：", f"业务：{service_name(tracker.get_slot('service_type'))}"],
            [f"方便的时间：{tracker.get_slot('preferred_time')}", "确认无误就提交吗？"],
        )

    def buttons(self, tracker: Tracker) -> Buttons:
        return [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "取消登记", "payload": "/stop_report"},
        ]


def application_confirmation(result: Dict[str, Any], *, service_type: str, phone: str,
                             preferred_time: str | None) -> str:
    """The customer-facing wording of a registered application."""
    number = result.get("number", "")
    wish = f"（您方便的时间：{preferred_time}）" if preferred_time else ""
    first = (
        f"已为您登记【{service_type}】申请，工单号 {number}{_crew(result)}。"
        f"工作人员会{_contact_by(result)}与您联系确认上门时间{wish}，请保持电话 {mask_phone(phone)} 畅通。"
    )
    lines = [first]
    known = SERVICES.get(service_type)
    if known:
        lines.append(f"请提前准备好：{known[1]}。")
    if service_type in SERVICE_NOTES:
        lines.append(SERVICE_NOTES[service_type])
    lines.append(f"想了解进度，随时对我说“查工单 {number}”，或拨打95598。")
    return "\n".join(lines)


def _service_type(tracker: Tracker) -> str:
    """The service as the API registers it (the slot as typed when it is none of them)."""
    return normalize_service(tracker.get_slot("service_type")) or str(
        tracker.get_slot("service_type") or "")


class ActionCreateServiceTicket(_CreateTicket):
    """POST /api/tickets (业务办理) and give the number, the contact deadline and the phone."""

    form = APPLICATION_FORM
    ticket_type = APPLICATION

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


class ActionCancelServiceApplication(CancelForm):
    """After utter_application_cancelled: nothing is submitted, the run's answers are dropped."""

    form = APPLICATION_FORM

    def name(self) -> Text:
        return "action_cancel_service_application"


# ====================================================================== 投诉
COMPLAINT_FORM = FormSpec(
    name="complaint_form",
    prefix="complaint",
    form_slots=("complaint_details", "complaint_confirmed", "complaint_failures",
                "complaint_pending"),
    interruptions=COMPLAINT_INTERRUPTIONS,
    exit_hint="如果不方便留手机号，可以转人工客服为您登记，或拨打95598。",
    exit_buttons=[
        {"title": "转人工", "payload": "/request_human"},
        {"title": "先不投诉了", "payload": "/stop_report"},
    ],
    start_text="非常抱歉给您带来了不好的体验。我来为您登记投诉，会有专人联系您核实处理。",
    resume_text="您上次反映的情况我还保留着，请再核对一下。",
    rejected_text="抱歉，投诉信息没能通过系统校验{api}。您反映的情况我先保存着，可以转人工客服为您登记，"
    "或拨打95598。",
    busy_text="非常抱歉，系统暂时繁忙，投诉没能提交成功。您反映的情况我已保存，"
    "稍后点“重新提交”或对我说“我要投诉”就能直接提交；也可以转人工客服或拨打95598。",
    retry_buttons=[{"title": "重新提交", "payload": "/complaint"}, HANDOFF_BUTTON],
    done_buttons=[HANDOFF_BUTTON],
    key_label=COMPLAINT,
    detail_slot="complaint_details",
    topic="投诉登记",
)


class ActionStartComplaint(StartForm):
    """Starts a run of complaint_form; a message that already describes the problem is kept."""

    form = COMPLAINT_FORM

    def name(self) -> Text:
        return "action_start_complaint"

    def prefilled(self, tracker: Tracker) -> Events:
        details = complaint_details_from((tracker.latest_message or {}).get("text"))
        return [SlotSet("complaint_details", details)] if details else []

    def opening(self, tracker: Tracker, resuming: bool) -> str | None:
        if resuming or waiting_for_person(tracker):
            return super().opening(tracker, resuming)
        return COMPLAINT_QUEUED

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        events = await super().run(dispatcher, tracker, domain)
        if not waiting_for_person(tracker):
            ask_for_person(dispatcher, tracker)
            events.append(SlotSet("handoff_requested", True))
        return events


# A complaint goes to a person's queue (the desk's rule); the bot asks for the person itself, so that
# the customer hears one story: a person will follow up, and meanwhile the complaint is written down.
COMPLAINT_QUEUED = ("非常抱歉给您带来了不好的体验。您的投诉我已同步转给人工客服，客服接入后会跟进处理；"
                    "在等待的同时，我先把您反映的情况登记下来，会有专人联系您核实处理。")
COMPLAINT_NOTED = ("非常抱歉给您带来了不好的体验，您的意见我们一定认真对待。我已为您申请人工客服，客服接入后会跟进；"
                   "在等待的同时，我们先把眼前这件事办完。")


def ask_for_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Queue the conversation for a person as a complaint (as angry when the words are)."""
    angry = sounds_angry((tracker.latest_message or {}).get("text"))
    dispatcher.utter_message(json_message={"handoff": True, "reason": "angry" if angry else "complaint"})


class ActionNoteComplaint(Action):
    """A complaint in the middle of another form: a person is asked for, and the form goes on."""

    def name(self) -> Text:
        return "action_note_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if waiting_for_person(tracker):
            dispatcher.utter_message(text="您的意见我记下了，人工客服接入后会一并跟进。我们先把眼前这件事办完。")
            return []
        dispatcher.utter_message(text=COMPLAINT_NOTED)
        ask_for_person(dispatcher, tracker)
        return [SlotSet("handoff_requested", True)]


class ValidateComplaintForm(_ValidateContactForm):
    """Keeps the customer's own words; checks the mobile number."""

    form = COMPLAINT_FORM
    validate_complaint_confirmed = FormValidation.validate_confirmed

    def name(self) -> Text:
        return "validate_complaint_form"

    def recall(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        """"就是刚才说的" at the details question → what the customer said before the complaint started."""
        if slot == "complaint_details":
            return {"complaint_details": said_before_complaint(tracker)}
        return super().recall(slot, tracker)

    def unclear(self, slot: str, tracker: Tracker) -> str:
        if slot == "complaint_confirmed":
            return "抱歉，我没太明白。记录没问题请回复“确认”，我马上提交；要补充情况，直接说就可以。"
        return super().unclear(slot, tracker)

    async def validate_complaint_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = normalize(value)
        if len(text) < 2 or text.startswith("/"):
            return self.reject(dispatcher, tracker, "complaint_details",
                               "请具体说一下遇到了什么问题，例如时间、地点、涉及的工作人员或工单号。")
        return self.accept(tracker, "complaint_details", text[:1000])

    def not_a_phone(
        self, value: Any, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any] | None:
        """More of the complaint, not a number: add it to what the customer said."""
        text = normalize(value)
        details = tracker.get_slot("complaint_details")
        more = latest_intent_name(tracker) in ("complaint", "inform", "nlu_fallback")
        if not (problem == "no_digits" and details and more and len(text) >= 4):
            return None
        return self.reject(dispatcher, tracker, "phone",
                           "好的，您补充的情况我也记下了。请再留一个11位手机号，方便我们联系您。",
                           complaint_details=f"{details}；{text}"[:1000])


def said_before_complaint(tracker: Tracker) -> str | None:
    """The customer's words before the complaint started, when they describe a problem."""
    return next((d for d in map(complaint_details_from, words_before(tracker, "action_start_complaint")) if d),
                None)


class ActionAskComplaintDetails(AskSlot):
    """What happened, in the customer's own words."""

    def name(self) -> Text:
        return "action_ask_complaint_details"

    def question(self, tracker: Tracker) -> str:
        return "请您说一下具体遇到了什么问题，比如时间、地点、涉及的工作人员或工单号，我会原话记录下来。"

    def buttons(self, tracker: Tracker) -> Buttons:
        return [HANDOFF_BUTTON]


class ActionAskComplaintConfirmed(AskSlot):
    """Reads the complaint back in the customer's own words before it is submitted."""

    def name(self) -> Text:
        return "action_ask_complaint_confirmed"

    def question(self, tracker: Tracker) -> str:
        details = tracker.get_slot("complaint_details") or ""
        shown = details if len(details) <= 120 else details[:120] + "…"
        return _read_back(tracker, ["我把您反映的情况记录如下：", f"“{shown}”"],
                          ["确认无误就提交投诉吗？"])

    def buttons(self, tracker: Tracker) -> Buttons:
        return [
            {"title": "确认提交", "payload": "/affirm"},
            {"title": "转人工", "payload": "/request_human"},
            {"title": "先不投诉了", "payload": "/stop_report"},
        ]


def complaint_confirmation(result: Dict[str, Any], *, phone: str) -> str:
    """The customer-facing wording of a registered complaint."""
    number = result.get("number", "")
    return (
        f"非常抱歉给您带来不便。您的投诉已登记，工单号 {number}{_crew(result)}，"
        f"我们会{_contact_by(result)}通过电话 {mask_phone(phone)} 联系您，核实情况后给您答复。\n"
        f"想了解进度，随时对我说“查工单 {number}”；需要马上和人工客服沟通，请点“转人工”。"
    )


class ActionCreateComplaintTicket(_CreateTicket):
    """POST /api/tickets (投诉) and give the number and the contact deadline."""

    form = COMPLAINT_FORM
    ticket_type = COMPLAINT

    def name(self) -> Text:
        return "action_create_complaint_ticket"

    def details(self, tracker: Tracker) -> Dict[str, Any]:
        details = tracker.get_slot("complaint_details") or ""
        return {"description": details[:1000], "subject": complaint_subject(details)}

    def confirmation(self, tracker: Tracker, result: Dict[str, Any]) -> str:
        return complaint_confirmation(result, phone=tracker.get_slot("phone"))


class ActionCancelComplaint(CancelForm):
    """After utter_complaint_cancelled: nothing is submitted, the run's answers are dropped."""

    form = COMPLAINT_FORM

    def name(self) -> Text:
        return "action_cancel_complaint"
