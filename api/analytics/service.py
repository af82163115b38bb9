"""Supervisor analytics: every figure is a SQL aggregation (GROUP BY in the database) over tickets,
crew shifts, conversations and knowledge-base votes; nothing is counted row by row in Python. Where
several tables group the same rows differently, one query groups by all their dimensions and the
tables add up its (few) groups, so each range is read once.

Definitions (the dashboard's notes say the same in Chinese):
- Range: Asia/Shanghai calendar days [date_from, date_to]. Tickets and conversations by their
  created_at, messages by their own time too, KB votes by created_at. Days are bucketed by
  shifting UTC by +8 h in SQL (China keeps no daylight saving time).
- Ticket volume counts every report. Work measures (SLA, durations, backlog, crews) count only
  tickets that are work of their own (parent_id NULL): a report attached to an area ticket shares
  that ticket's crew and clock.
- SLA: the commitment is arrival on site for the on-site types (api.core.vocabulary.ON_SITE_TYPES),
  resolution for the others. Breached: a breach was recorded, or the commitment was done after the
  due time. Met: done by the due time, no breach recorded. Compliance = met / (met + breached);
  tickets not decided yet (open and not due, or cancelled) count in neither.
- Durations: creation → latest dispatch, → arrival on site, → resolved, each averaged over the same
  tickets: work tickets resolved with every stage recorded (dispatched; on site too for the on-site
  types), so for every type dispatch ≤ arrival ≤ resolution. The headline figures are those of the
  on-site types (the field service); a ticket still on its way counts once it is resolved.
- Backlog: work tickets open now (OPEN_STATUSES) created before the end of the range, aged from
  creation to now.
- Crew utilisation: busy minutes (accepted → resolved, closed or now; the part inside the range)
  over on-shift minutes (CrewShift, the part inside the range). Tickets held at the same time add
  up, so a crew can pass 100 %. With a district filter: the crews based in that district.
- Conversations: contained = no handoff asked and no agent joined; transfers = conversations with a
  "queued" event, by its note (the reason). With a district filter, the conversations of that district's
  customers (the account the chat verified, or a ticket it filed in the district); with a type filter,
  those that filed a ticket of that type; a chat whose customer is unknown counts only without filters.
  KB votes follow their conversation.
- Suggestions: agents' replies sent in the range (in conversations started in it), by the suggestion each
  started from (a template for the conversation's state, a KB answer, the intent's template) or typed;
  "as is" = sent with the suggestion's words unchanged.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Float, and_, case, func, literal, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from api.analytics.schemas import (
    ColumnRead, DashboardRead, FilterOptionsRead, FiltersRead, KpisRead, TableRead,
)
from api.conversations.handoff import REASONS as HANDOFF_REASONS
from api.conversations.models import Conversation, ConversationEvent, Message, SuggestionUse
from api.core.errors import Invalid, NotFound
from api.core.exports import csv_document
from api.core.headers import attachment
from api.core.ids import DISTRICT_NAMES
from api.core.time import local_day, local_day_sql, local_midnight, to_local
from api.core.vocabulary import ON_SITE_TYPES, OPEN_STATUSES, TICKET_TYPES
from api.customers.models import Customer
from api.db import UTCDateTime
from api.dispatch.models import Crew, CrewShift
from api.kb.models import KbFeedback
from api.tickets.models import Ticket

DEFAULT_DAYS = 30
MAX_DAYS = 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
FALLBACK_INTENT = "nlu_fallback"
TOP_INTENTS, TOP_TEXTS, TOP_ARTICLES = 15, 20, 20
NO_DISTRICT = "未识别区县"

# Chinese names of the handoff reasons (api/conversations/handoff.py REASONS) and of the intents
# (actions/common.py INTENT_TITLES; the API does not import the action server). Unknown codes show as is.
REASON_LABELS = HANDOFF_REASONS
# Where an agent's reply came from, in the order the dashboard lists them.
SUGGESTION_SOURCES = {"situation": "按当前情况的话术", "kb": "知识库答案", "template": "意图话术模板", "typed": "坐席自行输入"}
INTENT_LABELS = {
    "nlu_fallback": "未能识别",
    "greet": "打招呼", "goodbye": "结束咨询", "thank": "表示感谢", "affirm": "肯定", "deny": "否定",
    "bot_challenge": "询问是否机器人", "request_human": "转人工客服", "inform": "提供户号/地址等信息",
    "out_of_scope": "其他问题", "faq": "用电常见问题", "query_bill": "查电费账单",
    "query_balance": "查余额/是否欠费", "query_usage": "查用电量", "pay_bill": "交电费",
    "report_outage": "报停电故障", "report_hazard": "报安全隐患", "query_outage_notice": "查停电通知",
    "query_ticket_status": "查工单进度", "apply_service": "办理用电业务", "complaint": "投诉/意见",
    "charging_find_station": "找充电站", "charging_book": "排队充电", "charging_status": "查充电状态",
    "charging_cancel": "取消排队", "report_charger_fault": "充电桩报修",
    "forecast_bill": "电费走势", "energy_advice": "节电建议", "change_address": "修改报修地址",
    "stop_report": "退出报修", "start_application": "在线登记业务申请",
    "ask_bill_increase": "电费为什么变高/电表准不准", "report_theft": "举报窃电/私拉乱接",
}
AGE_BUCKETS = ("1小时内", "1–4小时", "4–24小时", "1–3天", "3天以上")
LONG_DIGITS = re.compile(r"\d{7,}")


class InvalidFilters(Invalid):
    """Filters the dashboard cannot use (a bad date, a reversed or too long range, an unknown type)."""


class UnknownTable(NotFound):
    """No dashboard table has that name."""

    def __init__(self, name: str) -> None:
        super().__init__("table_not_found", f"没有名为 {name} 的统计表")


@dataclass(frozen=True)
class Filters:
    """Asia/Shanghai calendar days [date_from, date_to] and optional district and ticket type."""

    date_from: date
    date_to: date
    district: str | None = None
    type: str | None = None

    @property
    def start(self) -> datetime:
        """The range's first instant (local midnight of date_from), UTC."""
        return local_midnight(self.date_from)

    @property
    def end(self) -> datetime:
        """The instant after the range (local midnight after date_to), UTC."""
        return local_midnight(self.date_to + timedelta(days=1))

    @property
    def days(self) -> int:
        """Calendar days in the range."""
        return (self.date_to - self.date_from).days + 1

    def read(self) -> FiltersRead:
        """The filters as the API returns them."""
        return FiltersRead(date_from=self.date_from, date_to=self.date_to, district=self.district,
                           type=self.type, days=self.days)


def _parse_day(value: str | None, what: str) -> date | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise InvalidFilters("bad_date", f"{what}格式不正确，请使用“年-月-日”格式，例如 2026-11-25")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidFilters("bad_date", f"{what}不是有效的日期：{value}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidFilters("bad_date", f"{what}超出可统计的范围（2000年至2099年）")
    return day


def make_filters(*, date_from: str | None, date_to: str | None, district: str | None, type: str | None,
                 today: date) -> Filters:
    """Validated filters; by default the last 30 days up to today (Asia/Shanghai)."""
    end = _parse_day(date_to, "结束日期") or today
    start = _parse_day(date_from, "开始日期") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidFilters("bad_range", "开始日期不能晚于结束日期")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidFilters("range_too_long", f"统计时段最长 {MAX_DAYS} 天，请缩短日期范围")
    district = (district or "").strip() or None
    type = (type or "").strip() or None
    if type is not None and type not in TICKET_TYPES:
        raise InvalidFilters("bad_type", f"没有这种工单类型：{type}")
    return Filters(date_from=start, date_to=end, district=district, type=type)


# ---------------------------------------------------------------- SQL that differs by dialect

class _Minutes(FunctionElement):
    """Minutes from the first timestamp to the second (NULL when either is NULL)."""

    type = Float()
    name = "minutes_between"
    inherit_cache = True


@compiles(_Minutes, "sqlite")
def _minutes_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 1440.0)"


@compiles(_Minutes, "postgresql")
def _minutes_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION) / 60.0)"


class _Later(FunctionElement):
    """The later of two non-NULL timestamps."""

    type = UTCDateTime()
    name = "later_of"
    inherit_cache = True


class _Earlier(FunctionElement):
    """The earlier of two non-NULL timestamps."""

    type = UTCDateTime()
    name = "earlier_of"
    inherit_cache = True


@compiles(_Later, "sqlite")
def _later_sqlite(element, compiler, **kw):
    return "max(%s)" % compiler.process(element.clauses, **kw)


@compiles(_Later, "postgresql")
def _later_postgresql(element, compiler, **kw):
    return "GREATEST(%s)" % compiler.process(element.clauses, **kw)


@compiles(_Earlier, "sqlite")
def _earlier_sqlite(element, compiler, **kw):
    return "min(%s)" % compiler.process(element.clauses, **kw)


@compiles(_Earlier, "postgresql")
def _earlier_postgresql(element, compiler, **kw):
    return "LEAST(%s)" % compiler.process(element.clauses, **kw)


def _at(instant: datetime):
    """A timestamp parameter stored the way the columns are (naive UTC)."""
    return literal(instant, UTCDateTime())


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


WORK = Ticket.parent_id.is_(None)
# the tickets every duration is averaged over: work resolved with each of its stages recorded
DURATION_COHORT = and_(Ticket.parent_id.is_(None), Ticket.assigned_at.is_not(None), Ticket.resolved_at.is_not(None),
                       or_(Ticket.type.notin_(ON_SITE_TYPES), Ticket.arrived_at.is_not(None)))
DONE_AT = case((Ticket.type.in_(ON_SITE_TYPES), Ticket.arrived_at), else_=Ticket.resolved_at)
BREACHED = and_(WORK, or_(Ticket.sla_breached_at.is_not(None), DONE_AT > Ticket.arrive_by))
MET = and_(WORK, Ticket.sla_breached_at.is_(None), DONE_AT.is_not(None), DONE_AT <= Ticket.arrive_by)


def _ticket_scope(f: Filters) -> list:
    conditions = [Ticket.created_at >= f.start, Ticket.created_at < f.end]
    if f.district:
        conditions.append(Ticket.district == f.district)
    if f.type:
        conditions.append(Ticket.type == f.type)
    return conditions


def _conversation_scope(f: Filters) -> list:
    """Conversations started in the range; with a district, those of its customers (the account the chat
    verified, or a ticket it filed there); with a type, those that filed a ticket of that type."""
    conditions = [Conversation.created_at >= f.start, Conversation.created_at < f.end]
    if f.district:
        customers = select(Customer.account_no).where(Customer.district == f.district)
        filed = select(Ticket.conversation_id).where(Ticket.district == f.district, Ticket.conversation_id.is_not(None))
        conditions.append(or_(Conversation.account_no.in_(customers), Conversation.id.in_(filed)))
    if f.type:
        conditions.append(Conversation.id.in_(select(Ticket.conversation_id).where(
            Ticket.type == f.type, Ticket.conversation_id.is_not(None))))
    return conditions


def _conversation_ids(f: Filters):
    """The conversations in scope, for rows that only name one (KB votes)."""
    return select(Conversation.id).where(*_conversation_scope(f))


def _message_scope(f: Filters) -> list:
    """Customer turns the bot classified, in conversations started in the range, said in the range."""
    return [*_conversation_scope(f), Message.at >= f.start, Message.at < f.end,
            Message.sender == "customer", Message.intent.is_not(None)]


# ---------------------------------------------------------------- presentation helpers

def _round(value: float, digits: int) -> float:
    """Half up, the same on every backend: SQLite's julianday() arithmetic leaves float noise that
    PostgreSQL's exact intervals do not, so the noise is cut (6 decimals) before rounding."""
    exact = Decimal(repr(round(value, 6)))
    return float(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _pct(part: float | None, whole: float | None) -> float | None:
    return _round(100.0 * float(part or 0) / float(whole), 1) if whole else None


def _num(value: Any, digits: int = 1) -> float | None:
    return None if value is None else _round(float(value), digits)


def _mean(total: Any, n: Any, digits: int = 1) -> float | None:
    return _round(float(total) / float(n), digits) if n else None


def _table(title: str, columns: list[tuple], rows: list[dict[str, Any]]) -> TableRead:
    """A table from (key, label) or (key, label, format) columns."""
    return TableRead(title=title, columns=[ColumnRead(key=c[0], label=c[1], format=c[2] if len(c) > 2 else None)
                                           for c in columns], rows=rows)


def _days(f: Filters) -> list[str]:
    return [(f.date_from + timedelta(days=i)).isoformat() for i in range(f.days)]


def _mask_digits(text: str | None) -> str:
    """Long digit runs (phone, account numbers) in customers' words: first 3 and last 2 kept."""
    return LONG_DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 5) + m.group()[-2:], text or "")


@dataclass
class QueryContext:
    """What every dashboard query needs: the session, the filters, now, and where KB titles come from."""

    session: Session
    f: Filters
    now: datetime
    article_title: Callable[[str], str | None] | None = None


Part = tuple[dict[str, TableRead], dict[str, Any]]


# ---------------------------------------------------------------- tickets

SCORES = (5, 4, 3, 2, 1)
SUMMED = ("tickets", "work", "met", "breached", "dispatch_sum", "dispatch_n", "arrive_sum", "arrive_n",
          "resolve_sum", "resolve_n", *(f"score_{s}" for s in SCORES))


def _rollup(cells: list, key: str) -> dict[Any, dict[str, float]]:
    """Sums of the cube's measures per value of one of its dimensions."""
    out: dict[Any, dict[str, float]] = {}
    for cell in cells:
        sums = out.setdefault(getattr(cell, key), dict.fromkeys(SUMMED, 0))
        for name in SUMMED:
            sums[name] += getattr(cell, name) or 0
    return out


def _tickets(ctx: QueryContext) -> Part:
    """Volume, SLA, durations and scores per type × district × local day: one GROUP BY over the range.

    That cube has at most 7 × 6 × 366 cells; the six ticket tables and the headline figures add up its
    cells per dimension, so the range is read once (not once per table).
    """
    day = local_day_sql(Ticket.created_at)
    dispatch = _Minutes(Ticket.created_at, Ticket.assigned_at)
    arrive = _Minutes(Ticket.created_at, Ticket.arrived_at)
    resolve = _Minutes(Ticket.created_at, Ticket.resolved_at)
    cells = ctx.session.execute(
        select(Ticket.type, Ticket.district, day.label("day"), func.count().label("tickets"),
               _count_if(WORK).label("work"), _count_if(MET).label("met"),
               _count_if(BREACHED).label("breached"),
               func.sum(case((DURATION_COHORT, dispatch))).label("dispatch_sum"),
               _count_if(DURATION_COHORT).label("dispatch_n"),
               func.sum(case((and_(DURATION_COHORT, Ticket.arrived_at.is_not(None)), arrive))).label("arrive_sum"),
               _count_if(and_(DURATION_COHORT, Ticket.arrived_at.is_not(None))).label("arrive_n"),
               func.sum(case((DURATION_COHORT, resolve))).label("resolve_sum"),
               _count_if(DURATION_COHORT).label("resolve_n"),
               *(_count_if(Ticket.satisfaction == score).label(f"score_{score}") for score in SCORES))
        .where(*_ticket_scope(ctx.f)).group_by(Ticket.type, Ticket.district, day)).all()
    types, districts = _rollup(cells, "type"), _rollup(cells, "district")
    days = {str(k): v for k, v in _rollup(cells, "day").items()}
    total = dict.fromkeys(SUMMED, 0)
    for sums in types.values():
        for name in SUMMED:
            total[name] += sums[name]
    type_order = {t: i for i, t in enumerate(TICKET_TYPES)}
    canonical = sorted(types.items(), key=lambda kv: (type_order.get(kv[0], len(type_order)), kv[0]))
    district_order = {d: i for i, d in enumerate(DISTRICT_NAMES)}
    tables = {
        "volume_by_type": _table("工单量（按类型）", [("type", "工单类型"), ("tickets", "工单数"), ("share", "占比（%）")], [
            {"type": t, "tickets": v["tickets"], "share": _pct(v["tickets"], total["tickets"])}
            for t, v in sorted(types.items(),
                               key=lambda kv: (-kv[1]["tickets"], type_order.get(kv[0], len(type_order))))]),
        "volume_by_district": _table("工单量（按区县）", [
            ("district", "区县"), ("tickets", "工单数"), ("share", "占比（%）"), ("breached", "超时工单"),
            ("compliance", "时限达标率（%）")], [
            {"district": d or NO_DISTRICT, "tickets": v["tickets"],
             "share": _pct(v["tickets"], total["tickets"]), "breached": v["breached"],
             "compliance": _pct(v["met"], v["met"] + v["breached"])}
            for d, v in sorted(districts.items(), key=lambda kv: (
                -kv[1]["tickets"], district_order.get(kv[0], len(district_order)), kv[0] or ""))]),
        "volume_by_day": _table("每日新建工单", [("day", "日期"), ("tickets", "新建工单"), ("breached", "其中超时")], [
            {"day": d, "tickets": days[d]["tickets"] if d in days else 0,
             "breached": days[d]["breached"] if d in days else 0} for d in _days(ctx.f)]),
        "sla_by_type": _table("服务时限达标（按类型）", [
            ("type", "工单类型"), ("work", "工单数"), ("met", "按时完成"), ("breached", "超时"),
            ("pending", "未到期/未办结"), ("compliance", "达标率（%）")], [
            {"type": t, "work": v["work"], "met": v["met"], "breached": v["breached"],
             "pending": v["work"] - v["met"] - v["breached"],
             "compliance": _pct(v["met"], v["met"] + v["breached"])}
            for t, v in canonical]),
        "durations": _table("平均处理时长（按类型，分钟）", [
            ("type", "工单类型"), ("dispatch", "创建→派单"), ("arrive", "创建→到达现场"), ("resolve", "创建→办结"),
            ("resolved", "已办结工单数")], [
            {"type": t, "dispatch": _mean(v["dispatch_sum"], v["dispatch_n"]),
             "arrive": _mean(v["arrive_sum"], v["arrive_n"]),
             "resolve": _mean(v["resolve_sum"], v["resolve_n"]),
             "resolved": v["resolve_n"]} for t, v in canonical]),
    }
    responses = sum(total[f"score_{s}"] for s in SCORES)
    tables["satisfaction"] = _table("满意度评分分布", [("score", "评分"), ("tickets", "工单数"), ("share", "占比（%）")], [
        {"score": f"{s} 分", "tickets": total[f"score_{s}"], "share": _pct(total[f"score_{s}"], responses)}
        for s in SCORES])
    met, breached, work = total["met"], total["breached"], total["work"]
    site = dict.fromkeys(SUMMED, 0)  # the headline durations: the field service's (on-site types)
    for t in ON_SITE_TYPES:
        for name in SUMMED:
            site[name] += types.get(t, {}).get(name, 0)
    kpis = {"tickets": total["tickets"], "work_tickets": work, "sla_met": met, "sla_breaches": breached,
            "sla_pending": work - met - breached, "sla_compliance": _pct(met, met + breached),
            "mean_dispatch_minutes": _mean(site["dispatch_sum"], site["dispatch_n"]),
            "mean_arrive_minutes": _mean(site["arrive_sum"], site["arrive_n"]),
            "mean_resolve_minutes": _mean(site["resolve_sum"], site["resolve_n"]),
            "satisfaction_mean": _mean(sum(s * total[f"score_{s}"] for s in SCORES), responses, 2),
            "satisfaction_responses": responses}
    return tables, kpis


def _backlog(ctx: QueryContext) -> Part:
    """Open work tickets by age, and how many of them are past their due time."""
    now = ctx.now
    bucket = case((Ticket.created_at > _at(now - timedelta(hours=1)), 0),
                  (Ticket.created_at > _at(now - timedelta(hours=4)), 1),
                  (Ticket.created_at > _at(now - timedelta(hours=24)), 2),
                  (Ticket.created_at > _at(now - timedelta(days=3)), 3), else_=4)
    overdue = or_(Ticket.sla_breached_at.is_not(None),
                  and_(Ticket.status != "挂起", DONE_AT.is_(None), Ticket.arrive_by < _at(now)))
    # Only the status range is a filter; work, district and type are counted, not filtered: SQLite's
    # statistics cannot tell that open statuses are rare and parent_id IS NULL is nearly every row, and
    # would read the parent_id or district index instead of the few open tickets.
    counted = [WORK]
    if ctx.f.district:
        counted.append(Ticket.district == ctx.f.district)
    if ctx.f.type:
        counted.append(Ticket.type == ctx.f.type)
    open_tickets = (select(bucket.label("bucket"), case((and_(*counted), 1), else_=0).label("work"),
                           case((and_(*counted, overdue), 1), else_=0).label("overdue"))
                    .where(Ticket.status.in_(OPEN_STATUSES), Ticket.created_at < ctx.f.end).subquery())
    by_bucket = {r.bucket: r for r in ctx.session.execute(
        select(open_tickets.c.bucket, func.sum(open_tickets.c.work).label("tickets"),
               func.sum(open_tickets.c.overdue).label("overdue"))
        .group_by(open_tickets.c.bucket).having(func.sum(open_tickets.c.work) > 0)).all()}
    rows = [{"bucket": label, "tickets": int(by_bucket[i].tickets) if i in by_bucket else 0,
             "overdue": int(by_bucket[i].overdue or 0) if i in by_bucket else 0}
            for i, label in enumerate(AGE_BUCKETS)]
    return {"backlog_ageing": _table("积压工单账龄（当前未办结）", [
        ("bucket", "已等待时长"), ("tickets", "工单数"), ("overdue", "其中已超时")], rows)}, {
        "backlog": sum(r["tickets"] for r in rows), "backlog_over_3d": rows[-1]["tickets"]}


def _crews(ctx: QueryContext) -> Part:
    """Busy minutes over on-shift minutes per crew, both cut to the range."""
    f = ctx.f
    start, end = _at(f.start), _at(f.end)
    shifts = (select(CrewShift.crew_id.label("crew_id"),
                     func.sum(_Minutes(_Later(CrewShift.starts_at, start), _Earlier(CrewShift.ends_at, end)))
                     .label("minutes"))
              .where(CrewShift.starts_at < f.end, CrewShift.ends_at > f.start)
              .group_by(CrewShift.crew_id).subquery())
    # Tickets held at some time in the range: resolved since its start, or never resolved (open, or
    # cancelled since its start). Two index range scans on resolved_at, as UNION ALL: written as one OR,
    # neither SQLite nor a cold PostgreSQL plan uses the index. WORK is counted, not filtered (see _backlog).
    stop = func.coalesce(Ticket.resolved_at, Ticket.closed_at, _at(ctx.now))
    columns = (Ticket.crew_id.label("crew_id"), Ticket.accepted_at.label("accepted_at"), stop.label("stop"),
               case((WORK, 1), else_=0).label("work"))
    common = [Ticket.accepted_at < f.end, *([Ticket.type == f.type] if f.type else [])]
    held = union_all(
        select(*columns).where(Ticket.resolved_at >= f.start, *common),
        select(*columns).where(Ticket.resolved_at.is_(None), *common,
                               or_(Ticket.closed_at.is_(None), Ticket.closed_at >= f.start))).subquery()
    in_range = and_(held.c.work == 1, held.c.stop > start)
    held_minutes = _Minutes(_Later(held.c.accepted_at, start), _Earlier(held.c.stop, end))
    busy = (select(held.c.crew_id, _count_if(in_range).label("tickets"),
                   func.sum(case((in_range, held_minutes))).label("minutes"))
            .where(held.c.crew_id.is_not(None)).group_by(held.c.crew_id)
            .having(_count_if(in_range) > 0).subquery())
    query = (select(Crew.id, Crew.name, Crew.home_district, func.coalesce(busy.c.tickets, 0).label("tickets"),
                    func.coalesce(busy.c.minutes, 0.0).label("busy"),
                    func.coalesce(shifts.c.minutes, 0.0).label("shift"))
             .outerjoin(shifts, shifts.c.crew_id == Crew.id).outerjoin(busy, busy.c.crew_id == Crew.id)
             .where(or_(shifts.c.minutes.is_not(None), busy.c.tickets.is_not(None))))
    if f.district:
        query = query.where(Crew.home_district == f.district)
    rows = ctx.session.execute(query).all()
    table_rows = [{"crew_id": r.id, "crew": r.name, "district": r.home_district, "tickets": r.tickets,
                   "on_shift_hours": _num(float(r.shift) / 60), "busy_hours": _num(float(r.busy) / 60),
                   "utilisation": _pct(r.busy, r.shift)} for r in rows]
    table_rows.sort(key=lambda r: (-(r["utilisation"] or 0), r["crew_id"]))
    busy_total, shift_total = sum(float(r.busy) for r in rows), sum(float(r.shift) for r in rows)
    return {"crew_utilisation": _table("班组占用率", [
        ("crew_id", "班组编号"), ("crew", "班组"), ("district", "所属区县"), ("tickets", "作业工单数"),
        ("on_shift_hours", "在班时长（小时）"), ("busy_hours", "作业时长（小时）"), ("utilisation", "占用率（%）")],
        table_rows)}, {"crew_utilisation": _pct(busy_total, shift_total)}


# ---------------------------------------------------------------- conversations and the KB

def _containment(ctx: QueryContext) -> Part:
    """Conversations, and those finished by the bot alone."""
    row = ctx.session.execute(
        select(func.count().label("conversations"),
               _count_if(and_(Conversation.human_involved.is_(False),
                              Conversation.handoff_requested.is_(False))).label("contained"))
        .where(*_conversation_scope(ctx.f))).one()
    return {}, {"conversations": row.conversations, "contained": row.contained,
                "containment_rate": _pct(row.contained, row.conversations)}


def _transfers(ctx: QueryContext) -> Part:
    """Conversations queued for an agent, by reason (a conversation queued twice counts once overall)."""
    queued = [ConversationEvent.action == "queued", *_conversation_scope(ctx.f)]
    joined = ConversationEvent.__table__.join(Conversation.__table__,
                                              Conversation.id == ConversationEvent.conversation_id)
    conversations = func.count(func.distinct(ConversationEvent.conversation_id))
    total = ctx.session.execute(select(conversations).select_from(joined).where(*queued)).scalar_one()
    all_conversations = ctx.session.execute(
        select(func.count()).select_from(Conversation).where(*_conversation_scope(ctx.f))).scalar_one()
    rows = ctx.session.execute(
        select(ConversationEvent.note, conversations.label("conversations")).select_from(joined)
        .where(*queued).group_by(ConversationEvent.note)
        .order_by(conversations.desc(), ConversationEvent.note)).all()
    return {"transfers_by_reason": _table("转人工原因", [
        ("reason", "原因"), ("code", "原因代码"), ("conversations", "会话数"), ("share", "占转人工（%）")], [
        {"reason": REASON_LABELS.get(r.note or "", r.note or "未注明"), "code": r.note or "",
         "conversations": r.conversations, "share": _pct(r.conversations, total)} for r in rows])}, {
        "transfers": total, "transfer_rate": _pct(total, all_conversations)}


def _message_join():
    return Message.__table__.join(Conversation.__table__, Conversation.id == Message.conversation_id)


def _turns(ctx: QueryContext) -> Part:
    """Customer turns per local day and intent, in one pass over the messages: the top intents and the
    daily fallbacks are sums over its groups (at most days × intents of them)."""
    day = local_day_sql(Message.at)
    groups = ctx.session.execute(
        select(day.label("day"), Message.intent, func.count().label("turns"),
               func.sum(Message.intent_confidence).label("confidence_sum"),
               func.count(Message.intent_confidence).label("confidence_n"))
        .select_from(_message_join()).where(*_message_scope(ctx.f)).group_by(day, Message.intent)).all()
    intents: dict[str, list] = defaultdict(lambda: [0, 0.0, 0])
    days: dict[str, list] = defaultdict(lambda: [0, 0])
    for g in groups:
        totals = intents[g.intent]
        totals[0] += g.turns
        totals[1] += float(g.confidence_sum or 0)
        totals[2] += g.confidence_n
        per_day = days[str(g.day)]
        per_day[0] += g.turns
        per_day[1] += g.turns if g.intent == FALLBACK_INTENT else 0
    top = sorted(intents.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_INTENTS]
    rows = []
    for d in _days(ctx.f):
        turns, fallbacks = days.get(d, (0, 0))
        rows.append({"day": d, "turns": turns, "fallbacks": fallbacks, "rate": _pct(fallbacks, turns)})
    turns = sum(r["turns"] for r in rows)
    fallbacks = sum(r["fallbacks"] for r in rows)
    return {
        "top_intents": _table("客户意图排行", [
            ("intent", "意图"), ("label", "含义"), ("messages", "消息数"), ("confidence", "平均置信度")], [
            {"intent": intent, "label": INTENT_LABELS.get(intent, intent), "messages": n,
             "confidence": _mean(total, with_confidence, 3)} for intent, (n, total, with_confidence) in top]),
        "fallbacks": _table("每日未识别（兜底）", [
            ("day", "日期"), ("turns", "客户消息数"), ("fallbacks", "未识别次数"), ("rate", "未识别率（%）")], rows),
    }, {"customer_turns": turns, "fallbacks": fallbacks, "fallback_rate": _pct(fallbacks, turns)}


def _fallback_texts(ctx: QueryContext) -> Part:
    """The customers' words the bot most often did not understand (long numbers masked)."""
    n = func.count()
    rows = ctx.session.execute(
        select(Message.text, n.label("times")).select_from(_message_join())
        .where(*_message_scope(ctx.f), Message.intent == FALLBACK_INTENT)
        .group_by(Message.text).order_by(n.desc(), Message.text).limit(TOP_TEXTS)).all()
    return {"fallback_texts": _table("常见未识别问句", [("text", "客户原话"), ("times", "次数")], [
        {"text": _mask_digits(r.text), "times": r.times} for r in rows])}, {}


def _kb(ctx: QueryContext) -> Part:
    """有帮助 / 没解决 votes: totals, and the most voted articles."""
    scope = [KbFeedback.created_at >= ctx.f.start, KbFeedback.created_at < ctx.f.end]
    if ctx.f.district or ctx.f.type:
        scope.append(KbFeedback.conversation_id.in_(_conversation_ids(ctx.f)))
    helpful, unhelpful = KbFeedback.helpful.is_(True), KbFeedback.helpful.is_(False)
    totals = ctx.session.execute(
        select(_count_if(helpful).label("helpful"), _count_if(unhelpful).label("not_helpful"))
        .where(*scope)).one()
    n = func.count()
    rows = ctx.session.execute(
        select(KbFeedback.article_id, _count_if(helpful).label("helpful"),
               _count_if(unhelpful).label("not_helpful"), n.label("votes"))
        .where(*scope).group_by(KbFeedback.article_id).order_by(n.desc(), KbFeedback.article_id)
        .limit(TOP_ARTICLES)).all()
    title = ctx.article_title or (lambda _id: None)
    return {"kb_feedback": _table("知识库反馈（有帮助 / 没解决）", [
        ("article_id", "条目编号"), ("title", "标题"), ("helpful", "有帮助"), ("not_helpful", "没解决"),
        ("helpful_rate", "有帮助占比（%）")], [
        {"article_id": r.article_id, "title": title(r.article_id) or "", "helpful": r.helpful,
         "not_helpful": r.not_helpful, "helpful_rate": _pct(r.helpful, r.votes)} for r in rows])}, {
        "kb_helpful": totals.helpful, "kb_not_helpful": totals.not_helpful,
        "kb_helpful_rate": _pct(totals.helpful, totals.helpful + totals.not_helpful)}


def _suggestions(ctx: QueryContext) -> Part:
    """Agents' replies in the range and the suggestion each started from, if any: how often a suggestion is
    used, and sent as offered or edited first (the suggestions' quality as the agents judge it)."""
    source = case((SuggestionUse.id.is_(None), literal("typed")),
                  (SuggestionUse.ref.like("situation.%"), literal("situation")), else_=SuggestionUse.kind)
    replies = Message.__table__.join(Conversation.__table__, Conversation.id == Message.conversation_id) \
        .outerjoin(SuggestionUse.__table__, SuggestionUse.message_id == Message.id)
    rows = ctx.session.execute(
        select(source.label("source"), func.count().label("replies"),
               _count_if(SuggestionUse.edited.is_(False)).label("as_is"))
        .select_from(replies).where(*_conversation_scope(ctx.f), Message.at >= ctx.f.start, Message.at < ctx.f.end,
                                    Message.sender == "agent")
        .group_by(source)).all()
    by_source = {r.source: r for r in rows}
    total = sum(r.replies for r in rows)
    used = total - (by_source["typed"].replies if "typed" in by_source else 0)
    as_is = sum(r.as_is for r in rows if r.source != "typed")
    table = [{"source": SUGGESTION_SOURCES[key], "replies": by_source[key].replies,
              "share": _pct(by_source[key].replies, total),
              "as_is": by_source[key].as_is if key != "typed" else None,
              "edited": by_source[key].replies - by_source[key].as_is if key != "typed" else None,
              "as_is_rate": _pct(by_source[key].as_is, by_source[key].replies) if key != "typed" else None}
             for key in SUGGESTION_SOURCES if key in by_source]
    return {"suggestion_uses": _table("坐席回复与建议回复采用", [
        ("source", "回复来源"), ("replies", "坐席回复数"), ("share", "占坐席回复（%）"), ("as_is", "原样发送"),
        ("edited", "修改后发送"), ("as_is_rate", "原样发送占比（%）")], table)}, {
        "agent_replies": total, "suggestion_used_rate": _pct(used, total), "suggestion_as_is_rate": _pct(as_is, used)}


# The dashboard's queries by name (bench/analytics.py times each), and which one makes each table.
QUERIES: dict[str, Callable[[QueryContext], Part]] = {
    "tickets": _tickets, "backlog": _backlog, "crews": _crews, "containment": _containment,
    "transfers": _transfers, "turns": _turns, "fallback_texts": _fallback_texts, "kb": _kb,
    "suggestions": _suggestions}
TABLE_PART: dict[str, Callable[[QueryContext], Part]] = {
    "volume_by_type": _tickets, "volume_by_district": _tickets, "volume_by_day": _tickets,
    "sla_by_type": _tickets, "durations": _tickets, "backlog_ageing": _backlog, "crew_utilisation": _crews,
    "transfers_by_reason": _transfers, "top_intents": _turns, "fallbacks": _turns,
    "fallback_texts": _fallback_texts, "kb_feedback": _kb, "satisfaction": _tickets,
    "suggestion_uses": _suggestions,
}
TABLES = tuple(TABLE_PART)


# ---------------------------------------------------------------- the service's verbs

def dashboard(*, session: Session, filters: Filters, now: datetime,
              article_title: Callable[[str], str | None] | None = None) -> DashboardRead:
    """Every headline figure and table for the filters (a dozen GROUP BY queries)."""
    ctx = QueryContext(session=session, f=filters, now=now, article_title=article_title)
    tables: dict[str, TableRead] = {}
    kpis: dict[str, Any] = {}
    for query in QUERIES.values():
        part_tables, part_kpis = query(ctx)
        tables.update(part_tables)
        kpis.update(part_kpis)
    return DashboardRead(filters=filters.read(), generated_at=to_local(now), kpis=KpisRead(**kpis),
                         tables={name: tables[name] for name in TABLES})


def table(*, session: Session, name: str, filters: Filters, now: datetime,
          article_title: Callable[[str], str | None] | None = None) -> TableRead:
    """One dashboard table (runs only the query that makes it); UnknownTable for other names."""
    part = TABLE_PART.get(name)
    if part is None:
        raise UnknownTable(name)
    return part(QueryContext(session=session, f=filters, now=now, article_title=article_title))[0][name]


def filter_options(*, session: Session, now: datetime) -> FilterOptionsRead:
    """Districts that have tickets (gazetteer order), every ticket type, and the default range.

    The districts come from a loose index scan (each step one seek in the district index for the next
    larger name), so the cost does not grow with the number of tickets. Ticket types are a closed
    list (TICKET_TYPES): the filter offers all of them.
    """
    first = select(func.min(Ticket.district).label("name")).cte("district_names", recursive=True)
    following = select(func.min(Ticket.district)).where(Ticket.district > first.c.name).scalar_subquery()
    names = first.union_all(select(following).where(first.c.name.is_not(None)))
    districts = session.execute(select(names.c.name).where(names.c.name.is_not(None))).scalars().all()
    order = {d: i for i, d in enumerate(DISTRICT_NAMES)}
    today = local_day(now)
    return FilterOptionsRead(districts=sorted(districts, key=lambda d: (order.get(d, len(order)), d)),
                             types=list(TICKET_TYPES), default_from=today - timedelta(days=DEFAULT_DAYS - 1),
                             default_to=today, max_days=MAX_DAYS)


def filters_line(filters: Filters) -> str:
    """The filters a figure was made with, in words: 2026-06-01 至 2026-06-07；区县 全部；工单类型 全部."""
    return (f"{filters.date_from.isoformat()} 至 {filters.date_to.isoformat()}；区县 {filters.district or '全部'}；"
            f"工单类型 {filters.type or '全部'}")


def to_csv(table: TableRead, filters: Filters | None = None) -> str:
    """The table as CSV with Chinese headers and a UTF-8 BOM (so Excel reads the Chinese right); with
    `filters`, a first line says which filters made it. Supervisors' figures need no customer's mobile, ID
    or house number: masked in every cell (api.core.exports); 户号 and 表号 stay, to follow a meter or a bill up."""
    title = [[f"{table.title}（筛选条件：{filters_line(filters)}）"]] if filters is not None else []
    return csv_document([*title, [c.label for c in table.columns],
                         *([row.get(c.key) for c in table.columns] for row in table.rows)])


def export_filename(*, name: str, filters: Filters) -> str:
    """analytics-<table>-<from>_<to>.csv (ASCII, safe in a Content-Disposition header)."""
    return f"analytics-{name}-{filters.date_from.isoformat()}_{filters.date_to.isoformat()}.csv"


def content_disposition(*, name: str, filters: Filters) -> str:
    """An attachment named for the table and every filter: the ASCII name, and (RFC 6266) the full name with
    the district and ticket type, which browsers prefer."""
    base = export_filename(name=name, filters=filters)
    full = base.removesuffix(".csv") + "".join(f"-{v}" for v in (filters.district, filters.type) if v) + ".csv"
    return attachment(full, fallback=base)
