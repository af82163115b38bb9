"""Bills, balance, usage, payment channels, bill trend and energy advice.

Every action here answers only for ``verified_account``; without it, it says what is needed
and reveals nothing (not even whether the 户号 exists).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ApiRejected, ZhidianClient
from actions.tickets import ActionQueryTicketStatus
from actions.common import (
    API_DOWN,
    BILLING_INTENTS,
    drop_said_figures,
    fmt_kwh,
    fmt_period,
    latest_entity,
    latest_intent,
    now_local,
    parse_period,
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
    if loop == "fault_report_form":
        return (
            f"查询{what}需要先核验身份。我们先把报修办完，"
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


ANSWERS = {
    cls.intent: cls
    for cls in (
        ActionQueryBill,
        ActionQueryBalance,
        ActionQueryUsage,
        ActionPayBill,
        ActionForecastBill,
        ActionEnergyAdvice,
    )
}


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
        intent = latest_intent(tracker, (*BILLING_INTENTS, "query_ticket_status"))
        if intent == "query_ticket_status":
            return await ActionQueryTicketStatus().run(dispatcher, tracker, domain)
        if intent is None:
            dispatcher.utter_message(text="请问您想查询什么？可以问我电费账单、余额、用电量或工单进度。")
            return []
        return await ANSWERS[intent]().run(dispatcher, tracker, domain)
