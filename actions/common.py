"""Helpers shared by the actions: reading what customers type, wording numbers and times.

Formats, masking and the time zone are api.core's (api.core.ids, api.core.time), not copied here.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from rasa_sdk import Tracker

from api.core.ids import ACCOUNT_NO, MOBILE, normalize_text
from api.core.time import LOCAL_TZ, to_local
from api.core.vocabulary import ANGRY_WORDS

API_DOWN = (
    "非常抱歉，系统暂时繁忙，没能完成查询。请稍后再试，"
    "或拨打95598供电服务热线，我们的客服会为您处理。"
)

ACCOUNT_HELP = "户号是10位数字，您可以在电费单或网上国网App里找到，请再输入一次。"
PHONE_HELP = "手机号是11位数字、以1开头（例如139开头），请再输入一次。"

BILLING_INTENTS = (
    "query_bill",
    "query_balance",
    "query_usage",
    "pay_bill",
    "forecast_bill",
    "energy_advice",
    "ask_bill_increase",
)

# Chinese titles of intents, for clarification buttons.
INTENT_TITLES = {
    "greet": "打个招呼",
    "goodbye": "结束咨询",
    "thank": "表示感谢",
    "affirm": "是的",
    "deny": "不是",
    "bot_challenge": "了解智电助手",
    "request_human": "转人工客服",
    "inform": "提供户号/地址等信息",
    "out_of_scope": "其他问题",
    "faq": "咨询用电常见问题",
    "query_bill": "查电费账单",
    "query_balance": "查余额/是否欠费",
    "query_usage": "查用电量",
    "pay_bill": "交电费",
    "report_outage": "报停电故障",
    "report_hazard": "报安全隐患",
    "query_outage_notice": "查停电通知",
    "query_ticket_status": "查工单进度",
    "apply_service": "办理用电业务",
    "complaint": "投诉/意见",
    "charging_find_station": "找充电站",
    "charging_book": "排队充电",
    "charging_status": "查充电状态",
    "charging_cancel": "取消排队",
    "report_charger_fault": "充电桩报修",
    "forecast_bill": "电费走势",
    "energy_advice": "节电建议",
    "change_address": "修改报修地址",
    "stop_report": "退出报修",
    "start_application": "在线登记业务申请",
    "ask_bill_increase": "电费为什么变高/电表准不准",
    "report_theft": "举报窃电/私拉乱接",
}


# ---------------------------------------------------------------------- text
# Chinese characters, letters of any script and digits: text without any of them says nothing.
_MEANINGFUL = re.compile(r"[^\W_]")
_TAG = re.compile(r"<[^>]{0,200}>")


def readable(text: Any) -> bool:
    """False for input that says nothing: only symbols, punctuation, emoji, invisible characters or
    markup ("!!!", "<script>", zero-width spaces). The bot's NLU guard (bot/input_guard.py, in the
    bot's own virtualenv) files the same input under nlu_fallback."""
    visible = "".join(ch for ch in str(text or "") if unicodedata.category(ch) not in ("Cf", "Cc"))
    return bool(_MEANINGFUL.search(_TAG.sub("", visible)))


def normalize(text: Any) -> str:
    """The API's normalisation (full-width digits → ASCII, Chinese punctuation kept); '' for None."""
    return "" if text is None else normalize_text(str(text))


def digit_runs(text: Any) -> list[str]:
    """Runs of digits, ignoring spaces and dashes people put inside numbers."""
    compact = re.sub(r"[\s\-—_]", "", normalize(text))
    return re.findall(r"\d+", compact)


def parse_contact(text: Any) -> tuple[str, str]:
    """Classify what the customer typed as an identifier.

    Returns (kind, value): ("account", "6403001234"), ("phone", "13995541234"), or
    ("invalid", reason) with reason "no_digits", "account_format" or "phone_format".
    """
    runs = digit_runs(text)
    for run in runs:
        if MOBILE.match(run):
            return "phone", run
    for run in runs:
        if ACCOUNT_NO.match(run):
            return "account", run
    if not runs:
        return "invalid", "no_digits"
    longest = max(runs, key=len)
    if len(longest) == 11:
        return "invalid", "phone_format"
    return "invalid", "account_format"


def parse_last4(text: Any) -> str | None:
    """The 4 digits of '后四位1234', '1234', or the tail of a full mobile number."""
    runs = digit_runs(text)
    for run in runs:
        if len(run) == 4:
            return run
    for run in runs:
        if MOBILE.match(run):
            return run[-4:]
    return None


# ---------------------------------------------------------------------- money, time
def yuan(amount: Any) -> str:
    """'123.45' from a yuan string/Decimal; never via float."""
    try:
        return f"{Decimal(str(amount)).quantize(Decimal('0.01'))}"
    except (InvalidOperation, ValueError):
        return str(amount)


def fen_to_yuan(fen: Any) -> str:
    """Integer fen → '123.45'."""
    try:
        return f"{(Decimal(int(fen)) / 100).quantize(Decimal('0.01'))}"
    except (TypeError, ValueError, InvalidOperation):
        return str(fen)


def parse_time(value: Any) -> datetime | None:
    """ISO timestamp (with offset, or UTC when naive) → aware datetime in Beijing time."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_local(dt)


def fmt_time(value: Any) -> str:
    """'11月25日 08:00' in Beijing time."""
    dt = parse_time(value)
    if dt is None:
        return str(value or "")
    return f"{dt.month}月{dt.day}日 {dt:%H:%M}"


def fmt_span(start: Any, end: Any) -> str:
    """'11月25日 08:00 至 18:00' (or with the end date when it differs)."""
    s, e = parse_time(start), parse_time(end)
    if s is None or e is None:
        return f"{fmt_time(start)} 至 {fmt_time(end)}"
    if s.date() == e.date():
        return f"{s.month}月{s.day}日 {s:%H:%M} 至 {e:%H:%M}"
    return f"{s.month}月{s.day}日 {s:%H:%M} 至 {e.month}月{e.day}日 {e:%H:%M}"


WEEKDAYS = "一二三四五六日"


def fmt_promise(value: Any) -> str:
    """A deadline as a person would promise it: '12月8日（周二）上午', '12月7日（周一）下班前', or the
    date alone for a deadline outside office hours — never a minute like '23:13'.

    Never later than the deadline: one before 9:00 is promised for the day before.
    """
    dt = parse_time(value)
    if dt is None:
        return str(value or "")
    day, part = dt.date(), ""
    if dt.hour < 9:
        day -= timedelta(days=1)
    elif dt.hour < 12:
        part = "上午"
    elif dt.hour < 17:
        part = "下午"
    elif dt.hour < 18:
        part = "下班前"
    return f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）{part}"


def fmt_period(period: str) -> str:
    """'2026-10' → '2026年10月'."""
    m = re.match(r"^(\d{4})-(\d{1,2})", str(period))
    return f"{m.group(1)}年{int(m.group(2))}月" if m else str(period)


def fmt_kwh(value: Any) -> str:
    """A kWh figure without float noise: 12.5 → '12.5', 120.0 → '120'."""
    try:
        d = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{d:f}".rstrip("0").rstrip(".") if "." in f"{d:f}" else f"{d:f}"


# A figure the customer reads: an amount of energy, power, money or a share.
_FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:千瓦时|千瓦|度|元|%)")


def figures(text: Any) -> set[str]:
    """The figures in ``text``: {'10.8千瓦时', '30%'}."""
    return {re.sub(r"\s+", "", f) for f in _FIGURE.findall(str(text or ""))}


def drop_said_figures(text: str, said: str) -> str:
    """``text`` without the clauses that only repeat figures already said (in ``said`` or before).

    "近30天日均用电10.8千瓦时，本台区…中位数是8.3千瓦时，您比其中83%的用户用电多。" after a tip
    that gave 10.8 and 8.3 keeps "您比其中83%的用户用电多。". Clauses without figures stay.
    """
    known = figures(said)
    kept: list[str] = []
    for clause in re.findall(r"[^，；。]+[，；。]?", text):
        found = figures(clause)
        if found and found <= known:
            if clause.endswith("。") and kept and kept[-1][-1:] in "，；":
                kept[-1] = kept[-1][:-1] + "。"
            continue
        known |= found
        kept.append(clause)
    return "".join(kept)


def now_local() -> datetime:
    """Current time in Beijing."""
    return datetime.now(LOCAL_TZ)


_CN_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9, "十": 10, "十一": 11, "十二": 12}


def parse_period(text: Any, today: date | None = None) -> str | None:
    """A month asked for in Chinese → 'YYYY-MM'; None when the text names no month.

    Handles 上个月/上月, 这个月/本月, 前两个月, 10月(份), 十月, 2026年10月, 去年12月.
    """
    t = normalize(text)
    if not t:
        return None
    today = today or now_local().date()

    def shift(months: int) -> str:
        y, m = today.year, today.month - months
        while m <= 0:
            y, m = y - 1, m + 12
        return f"{y:04d}-{m:02d}"

    if re.search(r"上上个?月", t):
        return shift(2)
    if re.search(r"上个?月", t):
        return shift(1)
    if re.search(r"(这个|本|当)月", t):
        return shift(0)
    m = re.search(r"(\d{4})\s*年\s*(\d{1,2})\s*月", t) or re.search(r"(\d{4})-(\d{1,2})", t)
    if m:
        return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
    last_year = "去年" in t
    m = re.search(r"(\d{1,2})\s*月", t)
    month = int(m.group(1)) if m else None
    if month is None:
        m = re.search(r"(十二|十一|十|[一二两三四五六七八九])\s*月", t)
        month = _CN_NUM.get(m.group(1)) if m else None
    if month is None or not 1 <= month <= 12:
        return None
    year = today.year - 1 if last_year or month > today.month else today.year
    return f"{year:04d}-{month:02d}"


# ---------------------------------------------------------------------- tracker
def latest_entity(tracker: Tracker, entity: str) -> str | None:
    """Value of an entity in the latest user message, if any."""
    value = next(tracker.get_latest_entity_values(entity), None)
    return normalize(value) if value else None


def latest_intent(tracker: Tracker, among: Iterable[str] | None = None) -> str | None:
    """The most recent user intent (optionally the most recent one among ``among``)."""
    wanted = set(among) if among is not None else None
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if wanted is None or name in wanted:
            return name
    return None


def events_since_user(tracker: Tracker) -> list[dict[str, Any]]:
    """Events after the latest user message."""
    out: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        out.append(event)
    return list(reversed(out))


def rejected_this_turn(tracker: Tracker, slot: str) -> bool:
    """True when a validation (or the change-address action) already spoke about ``slot``.

    It then said what is needed, so the form's question for the slot stays silent instead of
    repeating it. The marker is a ``prompted_slot`` SlotSet since the customer's last message.
    """
    return any(
        e.get("event") == "slot" and e.get("name") == "prompted_slot" and e.get("value") == slot
        for e in events_since_user(tracker)
    )


def sounds_angry(text: Any) -> bool:
    """'你们什么破系统…', '我要投诉到12398': the customer is upset (see ANGRY_WORDS)."""
    return bool(ANGRY_WORDS.search(str(text or "")))


def waiting_for_person(tracker: Tracker) -> bool:
    """The gateway sent a queue state with the latest message: a person was asked for already."""
    return isinstance(latest_metadata(tracker).get("queue"), dict)


CANCEL_WORDS = ("算了", "取消", "不报", "不修", "不用了", "退出", "不要了")


def sounds_like_cancel(text: Any) -> bool:
    """'算了/取消/不报了…' (NLU calls these `deny`, like a plain '不是')."""
    t = normalize(text)
    return any(w in t for w in CANCEL_WORDS)


def verified_account(tracker: Tracker) -> str | None:
    """The account verified in this conversation, if any: the only one whose data may be shown."""
    if tracker.get_slot("verified") and tracker.get_slot("verified_account"):
        return str(tracker.get_slot("verified_account"))
    return None


def known_account(tracker: Tracker) -> str | None:
    """An account number given in this conversation (verified or not)."""
    for slot in ("verified_account", "account_no", "fault_account"):
        value = tracker.get_slot(slot)
        if value and ACCOUNT_NO.match(str(value)):
            return str(value)
    return None


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    """The metadata the gateway sent with the latest message (channel, queue state …)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata if isinstance(metadata, dict) else {}


def channel_of(tracker: Tracker) -> str:
    """The channel the gateway put in the message metadata (default 'web')."""
    metadata = latest_metadata(tracker)
    if not metadata:
        for event in reversed(tracker.events):
            if event.get("event") == "user" and event.get("metadata"):
                metadata = event["metadata"]
                break
    return str(metadata.get("channel") or "web")
