"""Bills, balance, usage, payment channels, bill trend and energy advice.

Every action here answers only for ``verified_account``; without it, it says what is needed
and reveals nothing (not even whether the 户号 exists).
"""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.charging import ActionChargingBook, ActionChargingCancel, ActionChargingStatus
from actions.client import ApiError, ApiRejected, ZhidianClient
from actions.knowledge import answer as kb_answer
from actions.knowledge import search_kb
from actions.tickets import ActionQueryTicketStatus
from actions.common import (
    API_DOWN,
    BILLING_INTENTS,
    drop_said_figures,
    fmt_kwh,
    fmt_period,
    latest_entity,
    latest_intent,
    normalize,
    now_local,
    parse_period,
    parse_time,
    verified_account,
    yuan,
)

WHAT = {
    "query_bill": "电费账单",
    "query_balance": "账户余额",
    "query_usage": "用电量",
    "pay_bill": "待缴金额",
    "forecast_bill": "电费走势",
    "energy_advice": "用电情况",
    "ask_bill_increase": "电费变化的原因",
}

PAY_CHANNELS = (
    "缴费渠道（任选其一）：\n"
    "1. 网上国网App：首页点“交费”，选择户号后输入金额即可，支持微信、支付宝和银行卡；\n"
    "2. 微信/支付宝：搜索“生活缴费”→“电费”，缴费单位选“国网宁夏电力”，输入户号缴费；\n"
    "3. 银行代扣：在网上国网App“代扣签约”或带身份证、银行卡到开户银行办理，每月自动扣费；\n"
    "4. 营业厅：带上户号到就近的供电营业厅，现金或刷卡缴费。"
)


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)


def previous_total(data: Dict[str, Any]) -> Decimal:
    """The previous period's kWh: `previous_total_kwh` or `previous: {total_kwh}`."""
    if data.get("previous_total_kwh") is not None:
        return _dec(data.get("previous_total_kwh"))
    previous = data.get("previous")
    if isinstance(previous, dict):
        return _dec(previous.get("total_kwh"))
    return Decimal(0)


def not_verified_message(tracker: Tracker, intent: str) -> str:
    """What to say instead of data when the customer is not verified."""
    what = WHAT.get(intent, "账户信息")
    loop = (tracker.active_loop or {}).get("name")
    if loop == "verify_form":
        return f"好的，核验通过后我马上为您查询{what}。"
    if loop in ("fault_report_form", "theft_report_form"):
        doing = "报修" if loop == "fault_report_form" else "举报登记"
        return (
            f"查询{what}需要先核验身份。我们先把{doing}办完，"
            "之后您再问我一次，我马上帮您查。"
        )
    return f"查询{what}需要先核验身份，请告诉我您的10位户号和登记手机号的后四位。"


def change_sentence(current: Decimal, previous: Decimal, unit: str = "千瓦时") -> str:
    """'比前30天增加了12.5%（多用了20千瓦时）'."""
    if previous <= 0:
        return ""
    diff = current - previous
    pct = (abs(diff) / previous * 100).quantize(Decimal("0.1"))
    if diff > 0:
        return f"比前30天增加了{pct}%（多用了{fmt_kwh(diff)}{unit}）"
    if diff < 0:
        return f"比前30天减少了{pct}%（少用了{fmt_kwh(-diff)}{unit}）"
    return "和前30天基本持平"


def sorted_bills(bills: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Oldest first."""
    return sorted(bills, key=lambda b: str(b.get("period", "")))


def date_asked(tracker: Tracker) -> Optional[str]:
    """The `date` entity of the latest billing question (not of the verification answers)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        if (parse.get("intent") or {}).get("name") not in BILLING_INTENTS:
            continue
        for entity in parse.get("entities") or []:
            if entity.get("entity") == "date":
                return str(entity.get("value"))
        return None
    return latest_entity(tracker, "date")


class _VerifiedAction(Action, ABC):
    """Base: check verification, call ``answer`` with the account, apologise on API errors."""

    intent = ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        account = verified_account(tracker)
        if not account:
            dispatcher.utter_message(text=not_verified_message(tracker, self.intent))
            return []
        try:
            return await self.answer(dispatcher, tracker, account) or []
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, account: str
    ) -> List[Dict[Text, Any]]:
        """Word the answer for the verified ``account``."""


class ActionQueryBill(_VerifiedAction):
    """The bill of the month asked for (the `date` entity), last month by default."""

    intent = "query_bill"

    def name(self) -> Text:
        return "action_query_bill"

    async def answer(self, dispatcher, tracker, account):
        asked = date_asked(tracker)
        period = parse_period(asked) if asked else None
        today = now_local().date()
        default = period is None
        if default:
            y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
            period = f"{y:04d}-{m:02d}"
        months_back = (today.year - int(period[:4])) * 12 + today.month - int(period[5:7])
        months = max(6, min(months_back + 1, 24))
        bills = sorted_bills(await ZhidianClient().bills(account_no=account, months=months))
        if not bills:
            dispatcher.utter_message(text="您的户号下暂时还没有出账的电费账单。")
            return []
        bill = next((b for b in bills if str(b.get("period", "")).startswith(period)), None)
        prefix = ""
        if bill is None:
            latest = bills[-1]
            prefix = f"{fmt_period(period)}的账单还没有生成或不在可查范围内，最近一期是{fmt_period(latest['period'])}。\n"
            bill = latest
        if bill.get("paid"):
            state = "已缴清"
        else:
            due = bill.get("due_date")
            state = "尚未缴纳" + (f"，请在{due}前缴费" if due else "")
        dispatcher.utter_message(
            text=f"{prefix}您{fmt_period(bill.get('period', ''))}的电费账单："
            f"用电{fmt_kwh(bill.get('kwh'))}千瓦时（度），电费{yuan(bill.get('amount_yuan'))}元，{state}。"
        )
        return []


class ActionQueryBalance(_VerifiedAction):
    """Balance and arrears."""

    intent = "query_balance"

    def name(self) -> Text:
        return "action_query_balance"

    async def answer(self, dispatcher, tracker, account):
        data = await ZhidianClient().balance(account_no=account)
        balance = _dec(data.get("balance_yuan"))
        if data.get("in_arrears") or balance < 0:
            owed = yuan(data["arrears_yuan"]) if data.get("arrears_yuan") else (
                yuan(abs(balance)) if balance < 0 else None
            )
            text = (
                "您的电费账户目前处于欠费状态" + (f"，欠费{owed}元" if owed else "") + "。"
                "为避免影响正常用电，请尽快缴费，可以说“怎么交电费”查看缴费方式。"
            )
        else:
            text = f"您的电费账户余额为{yuan(balance)}元，目前没有欠费。"
        dispatcher.utter_message(text=text)
        return []


class ActionQueryUsage(_VerifiedAction):
    """Usage of the last 30 days and the change against the 30 days before."""

    intent = "query_usage"

    def name(self) -> Text:
        return "action_query_usage"

    async def answer(self, dispatcher, tracker, account):
        data = await ZhidianClient().usage(account_no=account, days=30)
        days = data.get("days") or []
        total = _dec(data.get("total_kwh"))
        previous = previous_total(data)
        if not days and total == 0:
            dispatcher.utter_message(text="近30天暂时没有查到您的用电数据，可能是电表数据还在采集中。")
            return []
        # Days without meter data (None) are no days of zero use: the average is over the days
        # with data (the API's own average_daily_kwh), and the customer is told how many there were.
        covered = [d for d in days if d.get("kwh") is not None]
        span = len(days) or 30
        n = len(covered) or span
        avg = _dec(data.get("average_daily_kwh")) if data.get("average_daily_kwh") is not None else total / n
        avg = avg.quantize(Decimal("0.1"))
        if covered and n < span:
            parts = [f"近{span}天里电表采集到{n}天的数据，这{n}天您共用电{fmt_kwh(total)}千瓦时，"
                     f"日均{fmt_kwh(avg)}千瓦时"]
        else:
            parts = [f"近{span}天您共用电{fmt_kwh(total)}千瓦时，日均{fmt_kwh(avg)}千瓦时"]
        # A change against the 30 days before only means something over a full period of data.
        change = change_sentence(total, previous) if n == span else ""
        if change:
            parts.append(change)
        text = "，".join(parts) + "。"
        if covered:
            peak = max(covered, key=lambda d: _dec(d.get("kwh")))
            text += f"用电最多的一天是{_md(peak.get('date'))}，用了{fmt_kwh(peak.get('kwh'))}千瓦时。"
        dispatcher.utter_message(text=text)
        await utter_analysis(dispatcher, account, said=text)
        return []


async def utter_analysis(dispatcher: CollectingDispatcher, account: str, *, said: str = "",
                         skip: frozenset[str] = frozenset()) -> None:
    """The analysis side of usage: when the customer uses power, against similar homes, with the chart.

    Figures already ``said`` in this answer are not repeated; ``skip`` leaves out parts a tip
    already covered ("comparison", "unusual_day").
    """
    try:
        analysis = await ZhidianClient().consumption_analysis(account_no=account)
    except ApiError:
        return  # the figures above stand on their own
    lines = [analysis.get("summary") or ""]
    comparison = analysis.get("comparison") or {}
    if comparison.get("text") and "comparison" not in skip:
        lines.append(comparison["text"])
    unusual = analysis.get("unusual_days") or []
    if unusual and "unusual_day" not in skip and f"{fmt_kwh(unusual[0].get('kwh'))}千瓦时" not in said:
        day = unusual[0]
        lines.append(f"{_md(day.get('date'))}用了{fmt_kwh(day.get('kwh'))}千瓦时，"
                     f"比平时{day.get('direction', '偏高')}较多，可以回想一下那天的用电情况。")
    text = drop_said_figures("".join(line for line in lines if line), said)
    if text or analysis.get("chart_url"):
        dispatcher.utter_message(text=text or "您家一天中各时段的平均用电见下图。",
                                 image=analysis.get("chart_url"))


def _md(value: Any) -> str:
    """'2026-11-03' → '11月3日'."""
    s = str(value or "")
    try:
        return f"{int(s[5:7])}月{int(s[8:10])}日"
    except ValueError:
        return s


class ActionPayBill(_VerifiedAction):
    """The amount due and the real payment channels."""

    intent = "pay_bill"

    def name(self) -> Text:
        return "action_pay_bill"

    async def answer(self, dispatcher, tracker, account):
        client = ZhidianClient()
        balance = await client.balance(account_no=account)
        bills = sorted_bills(await client.bills(account_no=account, months=6))
        unpaid = [b for b in bills if not b.get("paid")]
        due = sum((_dec(b.get("amount_yuan")) for b in unpaid), Decimal(0))
        if unpaid:
            periods = "、".join(fmt_period(b.get("period", "")) for b in unpaid)
            head = f"您目前待缴电费{yuan(due)}元（{periods}账单）。"
        elif balance.get("in_arrears") or _dec(balance.get("balance_yuan")) < 0:
            head = f"您的账户欠费{yuan(abs(_dec(balance.get('balance_yuan'))))}元，请尽快缴纳。"
        else:
            head = (
                f"您的账单都已缴清，账户余额{yuan(balance.get('balance_yuan'))}元；"
                "如需预存电费，也可以通过下面的渠道缴纳。"
            )
        dispatcher.utter_message(text=head + "\n" + PAY_CHANNELS)
        return []


class ActionForecastBill(_VerifiedAction):
    """This month's projected bill from the meter's readings, the tier outlook and what would change it."""

    intent = "forecast_bill"

    def name(self) -> Text:
        return "action_forecast_bill"

    async def answer(self, dispatcher, tracker, account):
        try:
            forecast = await ZhidianClient().bill_forecast(account_no=account)
        except ApiRejected as exc:
            if exc.status != 404:
                raise
            dispatcher.utter_message(text="您的户号暂时没有智能电表的用电数据，暂时无法预测本月电费，"
                                          "可以在出账后查询账单。")
            return []
        lines = [forecast.get("summary") or ""]
        levers = [lever for lever in forecast.get("levers") or [] if lever.get("feasible")]
        if levers:
            lines.append("如果想少交一些：")
            lines += [f"{i}. {lever['text']}" for i, lever in enumerate(levers[:2], 1)]
        lines.append("以上为按您的用电规律所做的预测，实际电费以抄表结算为准。")
        dispatcher.utter_message(text="\n".join(line for line in lines if line))
        return []


class ActionEnergyAdvice(_VerifiedAction):
    """Tips tied to the customer's own load pattern (priced where possible), with the day-profile chart."""

    intent = "energy_advice"

    def name(self) -> Text:
        return "action_energy_advice"

    async def answer(self, dispatcher, tracker, account):
        client = ZhidianClient()
        try:
            advice = await client.energy_advice(account_no=account)
        except ApiRejected as exc:
            if exc.status != 404:
                raise
            dispatcher.utter_message(text="您的户号暂时没有智能电表的用电数据，等采集到数据后我再为您做针对性的节电分析。")
            return []
        given = [tip for tip in advice.get("tips") or [] if tip.get("text")]
        lines = ["根据您家近期的用电情况，给您几条省电建议："]
        lines += [f"{i}. {tip['text']}" for i, tip in enumerate(given, 1)]
        text = "\n".join(lines)
        dispatcher.utter_message(text=text)
        kinds = {tip.get("kind") for tip in given}
        skip = frozenset({"comparison"} if "peers" in kinds else set()) | (
            {"unusual_day"} if "unusual_day" in kinds else set())
        await utter_analysis(dispatcher, account, said=text, skip=skip)
        return []


# ---------------------------------------------------------------------- 电费为什么变高 / 电表准不准
CHECK_DAYS = 60  # the meter's record looked at
VOLTAGE_RANGE = (198, 235)  # 220 V single phase, +7 % / −10 % (GB/T 12325)
# The general articles a high bill or a doubted meter may be answered with before verification;
# otherwise the one that fits the words (a meter named → the self-check, else the bill article).
GENERAL_ARTICLES = ("price-bill-sudden-increase", "meter-fast-self-check", "meter-calibration-apply",
                    "meter-calibration-fee", "meter-error-refund", "price-bill-reading")
GENERAL_WITHOUT_KB = ("电费突然变高，常见的原因有：天气变化（冬季取暖、夏季空调）用电增加，家里添了电器或用电习惯变了，"
                      "用电量进入了更高的阶梯档位，或者这期抄表的天数比上期多；电表本身走快的情况比较少。")
OWN_DATA_OFFER = ("想知道您家的电费具体为什么变高，我可以调出您家的账单、每天的用电量和电表的运行记录，帮您逐项对比。"
                  "为保护您的用电信息，需要先做个简单的身份核验。")
CALIBRATION = ("如果您仍然觉得电表不准，可以预约校表（电能表校验）：工作人员会上门在现场校验电表，"
               "必要时把电表拆回检定，拆回期间会装上临时电表，不影响正常用电。")
BILL_INCREASE_BUTTONS = [
    {"title": "预约校表", "payload": '/start_application{"service_type":"校表"}'},
    {"title": "转人工", "payload": "/request_human"},
    {"title": "没问题了", "payload": "/thank"},
]
WINDOW_HOURS = 4  # "晚上6点到10点": the hours an increase or the use is told in


def _clock(hour: int) -> tuple[str, int]:
    """(part of the day, the hour on a 12-hour clock) as people say it: 18 → ('晚上', 6)."""
    h = hour % 24
    if h == 0:
        return "夜里", 12
    part = ("凌晨" if h < 6 else "早上" if h < 9 else "上午" if h < 12 else "中午" if h < 14
            else "下午" if h < 18 else "晚上")
    return part, h if h <= 12 else h - 12


def hours_text(start: int, length: int = WINDOW_HOURS) -> str:
    """'晚上6点到10点', '下午2点到晚上6点', '夜里11点到凌晨3点'."""
    (p1, h1), (p2, h2) = _clock(start), _clock(start + length)
    return f"{p1}{h1}点到{'' if p2 == p1 else p2}{h2}点"


def best_window(values: List[float], length: int = WINDOW_HOURS) -> tuple[int, float]:
    """(first hour, sum) of the ``length`` consecutive hours (across midnight) with the largest sum."""
    sums = [(h, sum(values[(h + i) % 24] for i in range(length))) for h in range(24)]
    return max(sums, key=lambda item: item[1])


def bills_sentence(bills: List[Dict[str, Any]]) -> str:
    """The last bill against the one before: kWh and money, and the tiers when money rose faster."""
    bills = [b for b in sorted_bills(bills) if b.get("period")]
    if not bills:
        return ""
    last = bills[-1]
    month = fmt_period(last["period"])[5:]
    kwh, amount = _dec(last.get("kwh")), _dec(last.get("amount_yuan"))
    if len(bills) < 2 or _dec(bills[-2].get("kwh")) <= 0 or _dec(bills[-2].get("amount_yuan")) <= 0:
        return f"您{month}的电费是{yuan(amount)}元，用电{fmt_kwh(kwh)}千瓦时。"
    before = bills[-2]
    month0 = fmt_period(before["period"])[5:]
    kwh0, amount0 = _dec(before.get("kwh")), _dec(before.get("amount_yuan"))
    d_kwh, d_amount = kwh - kwh0, amount - amount0
    pct = (abs(d_kwh) / kwh0 * 100).quantize(Decimal("0.1"))
    head = f"您{month}的电费{yuan(amount)}元、用电{fmt_kwh(kwh)}千瓦时，{month0}是{yuan(amount0)}元、{fmt_kwh(kwh0)}千瓦时"
    if d_kwh > 0:
        text = f"{head}：{month}多用了{fmt_kwh(d_kwh)}千瓦时（多{pct}%），电费多了{yuan(d_amount)}元。"
        amount_pct = d_amount / amount0 * 100
        if d_amount > 0 and amount_pct - d_kwh / kwh0 * 100 >= 5:
            text += "电费涨得比电量多，一般是因为用电量进入了更高的阶梯档位，超出部分的电价更高。"
        return text
    if d_kwh < 0:
        return (f"{head}：{month}的用电量其实比{month0}少了{fmt_kwh(-d_kwh)}千瓦时（少{pct}%）"
                + (f"，电费少了{yuan(-d_amount)}元。" if d_amount < 0 else "。"))
    return f"{head}，两个月的用电量差不多。"


def usage_sentence(usage: Dict[str, Any]) -> str:
    """The last 30 days against the 30 before (only over a full period of meter data)."""
    days = usage.get("days") or []
    covered = [d for d in days if d.get("kwh") is not None]
    total = _dec(usage.get("total_kwh"))
    if not covered or total <= 0:
        return ""
    span = len(days) or 30
    if len(covered) < span:
        return f"近{span}天里电表采集到{len(covered)}天的数据，这{len(covered)}天共用电{fmt_kwh(total)}千瓦时。"
    change = change_sentence(total, previous_total(usage))
    return f"近{span}天用电{fmt_kwh(total)}千瓦时" + (f"，{change}" if change else "") + "。"


def when_sentences(recent: Dict[str, Any] | None, longer: Dict[str, Any] | None) -> List[str]:
    """When the power is used, from the consumption analysis: the hours that grew (recent 30 days against
    the 30 before, taken out of the 60-day profile), else the busiest hours; a high standing load; an
    unusual day."""
    if not recent or not recent.get("days_with_data"):
        return []
    out: List[str] = []
    profile = [float(v or 0) for v in recent.get("profile_kw") or []]
    n30 = int(recent.get("days_with_data") or 0)
    n60 = int((longer or {}).get("days_with_data") or 0)
    grew = False
    if len(profile) == 24 and longer and len(longer.get("profile_kw") or []) == 24 and n60 - n30 >= 14:
        p60 = [float(v or 0) for v in longer["profile_kw"]]
        before = [(p60[h] * n60 - profile[h] * n30) / (n60 - n30) for h in range(24)]
        diff = [profile[h] - before[h] for h in range(24)]
        per_day, usual = sum(diff), sum(before)
        if per_day > 0.3 and usual > 0 and per_day / usual >= 0.05:
            start, extra = best_window(diff)
            if extra >= 0.5 * per_day:
                out.append(f"多用的电主要在{hours_text(start)}：这几个小时比之前平均每天多用了"
                           f"{fmt_kwh(extra)}千瓦时。")
            else:
                out.append(f"平均每天多用了{fmt_kwh(per_day)}千瓦时，一天中各个时段都多用了一些，不集中在某几个小时；"
                           "这种情况常见于天冷后取暖、热水器等长时间开着的电器用得多了。")
            grew = True
    if not grew and len(profile) == 24 and sum(profile) > 0:
        start, used = best_window(profile)
        out.append(f"您家用电最多的是{hours_text(start)}，占全天用电的{used / sum(profile) * 100:.0f}%。")
    base = float(recent.get("base_load_kw") or 0)
    average = float(recent.get("average_daily_kwh") or 0)
    if base >= 0.1 and average > 0 and base * 24 / average >= 0.4:
        out.append(f"另外，即使在用电最少的时候，也一直有约{base:.2f}千瓦的用电（一天约{fmt_kwh(base * 24)}千瓦时），"
                   "可能是热水器保温、冰箱或待机的电器，也可能是线路漏电：可以关掉所有电器后看看电表是否还在走。")
    high = [d for d in recent.get("unusual_days") or [] if d.get("direction") == "偏高"]
    if high:
        day = high[0]
        out.append(f"{_md(day.get('date'))}用了{fmt_kwh(day.get('kwh'))}千瓦时，明显比平时多，可以回想一下那天的用电情况。")
    return out


def _event_text(event: Dict[str, Any]) -> str:
    """'11月20日C相断相' / '11月2日反向电量'."""
    ts = parse_time(event.get("ts"))
    day = f"{ts.month}月{ts.day}日" if ts else ""
    phase = f"{event['phase']}相" if event.get("phase") and event.get("kind") != "反向电量" else ""
    return f"{day}{phase}{event.get('kind', '')}"


def meter_sentences(check: Dict[str, Any] | None) -> List[str]:
    """What the meter itself recorded: metering-fault events, hourly completeness, voltage."""
    if not check:
        return ["电表的运行记录暂时没能查到。"]
    days = check.get("days") or CHECK_DAYS
    events = check.get("events") or []
    coverage = check.get("coverage") or {}
    out: List[str] = []
    if events:
        shown = "、".join(_event_text(e) for e in events[-3:])
        more = f"等{len(events)}次" if len(events) > 3 else ""
        out.append(f"电表在近{days}天记录到{shown}{more}异常，这类情况可能影响计量的准确性，建议预约校表核实。")
    else:
        out.append(f"电表近{days}天没有记录到失压、断相、反向电量等计量异常")
    expected, reported = int(coverage.get("hours_expected") or 0), int(coverage.get("hours_reported") or 0)
    if expected and reported >= expected:
        tail = "，每个小时的数据都按时上传了"
    elif expected:
        tail = (f"；有{expected - reported}个小时的数据没有采集到，一般是通信原因，不影响电表的累计读数")
    else:
        tail = ""
    low, high = coverage.get("voltage_min"), coverage.get("voltage_max")
    volts = ""
    if low is not None and high is not None:
        if low < VOLTAGE_RANGE[0]:
            volts = (f"；电压最低到过{low:g}伏，低于国家标准的下限{VOLTAGE_RANGE[0]}伏，电压偏低不会让电表多计电量，"
                     "但会影响电器使用，需要的话可以报修")
        elif high > VOLTAGE_RANGE[1]:
            volts = f"；电压最高到过{high:g}伏，高于国家标准的上限{VOLTAGE_RANGE[1]}伏，需要的话可以报修"
        else:
            volts = f"；电压在{low:g}—{high:g}伏之间，正常"
    if events:
        if tail or volts:
            out.append(("另外" + (tail + volts).lstrip("，；") + "。"))
    else:
        out[0] += tail + volts + "。"
        if reported >= expected and (low is None or VOLTAGE_RANGE[0] <= low) and (
                high is None or high <= VOLTAGE_RANGE[1]):
            out.append("从这些记录看，电表运行正常。")
    return out


class ActionExplainBillIncrease(_VerifiedAction):
    """"电费怎么突然这么高 / 电表是不是不准": answered from the customer's own bills, usage, its pattern and
    the meter's record, with the offer of a 校表. Not verified outside a form: the general answer from
    the knowledge base, then the verification (the rule runs verify_form) for the meter's evidence."""

    intent = "ask_bill_increase"

    def name(self) -> Text:
        return "action_explain_bill_increase"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if verified_account(tracker) or (tracker.active_loop or {}).get("name"):
            return await super().run(dispatcher, tracker, domain)
        text = normalize((tracker.latest_message or {}).get("text"))
        events = await self.general_answer(dispatcher, tracker, text)
        dispatcher.utter_message(text=OWN_DATA_OFFER)
        # verify_form follows (the rule): the last four digits are asked afresh.
        return events + [SlotSet("verify_last4", None)]

    @staticmethod
    async def general_answer(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> List[Dict[Text, Any]]:
        """The knowledge base's article on high bills or a doubted meter (a short text without it)."""
        client = ZhidianClient()
        article = None
        try:
            if text and not text.startswith("/"):
                found = await search_kb(client, text)
                hits = found.get("hits") or []
                if found.get("answerable") and hits and hits[0].get("article_id") in GENERAL_ARTICLES:
                    article = hits[0]
            if article is None:
                meter = any(w in text for w in ("电表", "表走", "走字", "表不准", "校表"))
                article = await client.kb_article("meter-fast-self-check" if meter else "price-bill-sudden-increase")
        except ApiError:
            article = None
        if article is None:
            dispatcher.utter_message(text=GENERAL_WITHOUT_KB)
            return []
        return kb_answer(dispatcher, tracker, article, query=text or None, buttons=[])

    async def answer(self, dispatcher, tracker, account):
        client = ZhidianClient()
        bills, usage = await asyncio.gather(client.bills(account_no=account, months=3),
                                            client.usage(account_no=account, days=30))
        recent, longer, check = await asyncio.gather(
            client.consumption_analysis(account_no=account, days=30),
            client.consumption_analysis(account_no=account, days=CHECK_DAYS),
            client.meter_check(account_no=account, days=CHECK_DAYS), return_exceptions=True)
        for failed in (recent, longer, check):
            if isinstance(failed, BaseException) and not isinstance(failed, ApiError):
                raise failed
        # Without the analysis or the meter's record the answer is shorter, not lost.
        recent, longer, check = (None if isinstance(x, BaseException) else x for x in (recent, longer, check))
        usage_lines = [line for line in (bills_sentence(bills), usage_sentence(usage)) if line]
        usage_lines += when_sentences(recent, longer)
        if usage_lines:
            dispatcher.utter_message(text="我查了您家最近的用电情况：\n" + "\n".join(usage_lines))
        else:
            dispatcher.utter_message(text="您家最近还没有出账的账单，也暂时没有采集到足够的用电数据。")
        meter = meter_sentences(check)
        dispatcher.utter_message(text="\n".join(meter + [CALIBRATION]), buttons=BILL_INCREASE_BUTTONS)
        return []


ANSWERS = {
    cls.intent: cls
    for cls in (
        ActionQueryBill,
        ActionQueryBalance,
        ActionQueryUsage,
        ActionPayBill,
        ActionForecastBill,
        ActionEnergyAdvice,
        ActionExplainBillIncrease,
    )
}


CHARGING_ANSWERS = {"charging_book": ActionChargingBook, "charging_status": ActionChargingStatus,
                    "charging_cancel": ActionChargingCancel}


class ActionAnswerVerifiedQuery(Action):
    """After verify_form: answer the question that asked for the verification (a bill, a ticket …).

    A form that ended without verifying (the API's attempt limit, or it gave up) already said why
    and what to do instead: nothing more is said then.
    """

    def name(self) -> Text:
        return "action_answer_verified_query"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if not verified_account(tracker):
            return []
        intent = latest_intent(tracker, (*BILLING_INTENTS, "query_ticket_status", *CHARGING_ANSWERS))
        if intent == "query_ticket_status":
            return await ActionQueryTicketStatus().run(dispatcher, tracker, domain)
        if intent in CHARGING_ANSWERS:
            return await CHARGING_ANSWERS[intent]().run(dispatcher, tracker, domain)
        if intent is None:
            dispatcher.utter_message(text="请问您想查询什么？可以问我电费账单、余额、用电量或工单进度。")
            return []
        return await ANSWERS[intent]().run(dispatcher, tracker, domain)
