"""工作质量 (work quality) for supervisors: how complete the hourly meter readings are, which meters
are stuck or silent, which bills disagree with their meter, and how many audit findings are open.

Definitions (the page's notes say the same in Chinese):
- Cutoff: the end of the range, or the start of the current hour if the range has not ended (an hour is
  expected once it is over). Days are Asia/Shanghai calendar days.
- 采集完整率: every meter is expected to report every hour of every day from the day it was installed
  (Meter.installed_on) up to the cutoff; completeness = readings received ÷ readings expected, per day
  and district (the customer's district), and per meter (the meters missing the most hours listed).
- Stuck meters, 24 hours or more in a row within the range: 连续零电量 (0 kWh every hour), 电量不变
  (the same non-zero kWh every hour: the data froze) and 无采集数据 (no reading at all).
- 账单电量异常: the bills of the billing months counted by 经营成果 (bills issued in the range),
  compared with the sum of their meter's hourly kWh over the month; anomalous when they differ by
  more than 10 % of the metered kWh and by more than 20 kWh. Bills whose month has under 95 % of its
  hourly readings are not judged (a gap is not a billing error). The comparison is made here from the
  bills and readings, not read from the audit findings (which exist only after an audit scan).
- 稽查线索: audit findings not settled yet (待核查, 已派查) per rule, from api.audit's figures: all
  districts and all time (the period and district filters do not apply).
- The ticket type filter does not apply.

Cost: readings are counted by correlated subqueries, one per meter and day (or half-day), each a range
of the (meter_id, ts) unique index; a GROUP BY over the local day of millions of readings would sort
them all. Only meters that may be stuck (a whole half-day with one value, or 24 hours missing between
their first and last reading) go through the window functions that find the exact stretches.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, Integer, String, and_, case, column, func, literal, or_, select, union_all, values
from sqlalchemy.orm import Session

from api.analytics.business import Month, billing_months, kwh
from api.analytics.schemas import QualityKpisRead, QualityRead, TableRead
from api.analytics.service import Filters, Part, QueryContext, UnknownTable, _at, _Minutes, _pct, _table
from api.audit import service as audit_service
from api.billing.models import Bill
from api.core.ids import DISTRICT_NAMES
from api.core.time import local_midnight, to_local
from api.customers.models import Customer
from api.db import UTCDateTime
from api.metering.models import Meter, Reading, TransformerArea

HOUR = timedelta(hours=1)
HALF_DAY = timedelta(hours=12)
STUCK_HOURS = 24
TOP_MISSING = 20
TOP_STUCK = 50
TOP_ANOMALIES = 100
MIN_COVERAGE = Decimal("0.95")
MISMATCH_SHARE, MISMATCH_KWH = Decimal("0.10"), Decimal(20)
ZERO_RUN, FROZEN_RUN, SILENT = "连续零电量", "电量不变（疑似数据冻结）", "无采集数据"
OPEN_FINDINGS = ("待核查", "已派查")
TYPE_IGNORED = "工单类型筛选不适用于工作质量，已按全部电表统计。"
NOTES = (
    "采集完整率 = 实际收到的整点数据 ÷ 应采数据：每块电表自安装日起每小时应有一条数据，统计到时段结束（当天只统计已过去的整点）。",
    "零电量/数据冻结/无数据：时段内连续 24 小时及以上电量为 0、每小时电量完全相同，或没有任何数据的电表。",
    "账单电量异常：时段内发行的电费账单（与经营成果相同），账单电量与该月采集电量之差超过采集电量的 10% 且超过 20 千瓦时；"
    "当月采集完整率不足 95% 的账单不作比对。由账单与采集数据直接比对得出，未使用稽查线索。",
    "稽查线索为当前尚未处理（待核查、已派查）的线索，不受时段和区县筛选。",
)


def cutoff(f: Filters, now: datetime) -> datetime:
    """Hours are expected up to the end of the range, or up to the start of the current hour."""
    return min(f.end, now.replace(minute=0, second=0, microsecond=0))


def _stamp(at: datetime | None) -> str:
    return "" if at is None else f"{to_local(at):%Y-%m-%d %H:%M}"


def _in_district(f: Filters) -> list:
    return [Customer.district == f.district] if f.district else []


COMPOUND_TERMS = 400  # SQLite refuses a UNION of more than 500 SELECTs: longer lists are nested


def _windows(session: Session, spans: list[tuple[Any, datetime, datetime]], name: str):
    """A CTE of (day, start, stop, hours) rows: the days (or half-days) the counts are made over.

    PostgreSQL gets a VALUES list (one node to plan; a UNION of hundreds of SELECTs takes it seconds);
    SQLite, which cannot name the columns of a VALUES list in FROM, a UNION ALL of one-row SELECTs.
    """
    if session.get_bind().dialect.name == "postgresql":
        table = values(column("day", Date()), column("start", UTCDateTime()), column("stop", UTCDateTime()),
                       column("hours", Integer()), name=f"{name}_values").data(
            [(day, start, stop, int((stop - start) / HOUR)) for day, start, stop in spans])
        return select(*table.c).cte(name)
    rows = [select(literal(day, Date()).label("day"), _at(start).label("start"), _at(stop).label("stop"),
                   literal(int((stop - start) / HOUR), Integer()).label("hours")) for day, start, stop in spans]
    chunks = [union_all(*rows[i:i + COMPOUND_TERMS]) if len(rows[i:i + COMPOUND_TERMS]) > 1 else rows[i]
              for i in range(0, len(rows), COMPOUND_TERMS)]
    if len(chunks) == 1:
        return chunks[0].cte(name)
    return union_all(*(select(*chunk.subquery().c) for chunk in chunks)).cte(name)


def _day_spans(f: Filters, until: datetime) -> list:
    spans = []
    for i in range(f.days):
        day = f.date_from + timedelta(days=i)
        start, stop = local_midnight(day), min(local_midnight(day + timedelta(days=1)), until)
        if stop <= start:
            break
        spans.append((day, start, stop))
    return spans


def _half_day_spans(f: Filters, until: datetime) -> list:
    """Whole half-days (local 00–12 and 12–24) before `until`: a stretch of 24 h covers at least one."""
    spans = []
    for i in range(2 * f.days):
        start = f.start + i * HALF_DAY
        if start + HALF_DAY > until:
            break
        spans.append(((f.date_from + timedelta(days=i // 2)), start, start + HALF_DAY))
    return spans


@dataclass
class _Scope:
    """What the parts share: the days counted and the cutoff."""

    ctx: QueryContext
    until: datetime
    days: list

    @property
    def f(self) -> Filters:
        return self.ctx.f


def _scope(ctx: QueryContext) -> _Scope:
    until = cutoff(ctx.f, ctx.now)
    return _Scope(ctx=ctx, until=until, days=_day_spans(ctx.f, until))


def _district_order(name: str) -> tuple:
    order = {d: i for i, d in enumerate(DISTRICT_NAMES)}
    return order.get(name, len(order)), name


# ---------------------------------------------------------------- reading completeness and stuck meters

def _readings(ctx: QueryContext) -> Part:
    """Completeness per district and day and per meter, meters missing the most hours, stuck meters.

    One statement: a cell per meter and day (a counting subquery on the unique index), materialised
    once and added up twice, by district × day and by meter (only meters missing readings come back).
    """
    s = _scope(ctx)
    f = s.f
    meters = ctx.session.scalar(select(func.count()).select_from(Meter).join(Customer, Customer.id == Meter.customer_id)
                                .where(Meter.installed_on <= f.date_to, *_in_district(f))) or 0
    groups = []
    if s.days:
        days = _windows(ctx.session, s.days, "days")
        received = (select(func.count()).select_from(Reading)
                    .where(Reading.meter_id == Meter.id, Reading.ts >= days.c.start, Reading.ts < days.c.stop)
                    .scalar_subquery())
        cells = (select(Meter.id.label("meter_id"), Customer.district, days.c.day, days.c.hours.label("expected"),
                        received.label("received"))
                 .select_from(Meter).join(Customer, Customer.id == Meter.customer_id)
                 .join(days, days.c.day >= Meter.installed_on).where(*_in_district(f)).cte("cells"))
        expected, got = func.sum(cells.c.expected), func.sum(cells.c.received)
        groups = ctx.session.execute(union_all(
            select(cells.c.district, cells.c.day, literal(None, Integer()).label("meter_id"),
                   func.count().label("meters"), expected.label("expected"), got.label("received"))
            .group_by(cells.c.district, cells.c.day),
            select(literal(None, String()), literal(None, Date()), cells.c.meter_id, literal(1, Integer()), expected, got)
            .group_by(cells.c.meter_id).having(got < expected))).all()
    cells_by_day = [g for g in groups if g.meter_id is None]
    missing = [{"meter_id": g.meter_id, "expected": int(g.expected), "received": int(g.received or 0),
                "missing": int(g.expected) - int(g.received or 0)} for g in groups if g.meter_id is not None]
    tables, kpis = _completeness_tables(f, cells_by_day)
    stretches = _silent_edges(ctx, s, missing) + _stretches(ctx, s, missing)
    top = missing[:TOP_MISSING]  # sorted by _silent_edges
    stretches.sort(key=lambda r: (-r["hours"], r["meter_id"], r["start"]))
    who = _who(ctx.session, {r["meter_id"] for r in top} | {r["meter_id"] for r in stretches[:TOP_STUCK]})
    kinds = defaultdict(set)
    for r in stretches:
        kinds[r["kind"]].add(r["meter_id"])
    tables["missing_meters"] = _table(f"缺失数据最多的电表（前 {TOP_MISSING} 块）", [
        ("account_no", "户号"), ("meter_no", "表号"), ("district", "区县"), ("area", "台区"),
        ("expected", "应采（条）"), ("received", "实采（条）"), ("missing", "缺失（小时）"), ("rate", "完整率（%）"),
        ("last", "最后一条数据")], [
        {**who[r["meter_id"]], "expected": r["expected"], "received": r["received"], "missing": r["missing"],
         "rate": _pct2(r["received"], r["expected"]), "last": _stamp(r.get("last")) or "无"} for r in top])
    tables["stuck_meters"] = _table(f"零电量、数据冻结和无数据电表（连续 {STUCK_HOURS} 小时及以上）", [
        ("account_no", "户号"), ("meter_no", "表号"), ("district", "区县"), ("area", "台区"), ("kind", "情况"),
        ("start", "开始"), ("end", "结束"), ("hours", "持续（小时）"), ("kwh", "每小时电量（千瓦时）")], [
        {**who[r["meter_id"]], "kind": r["kind"], "start": _stamp(r["start"]), "end": _stamp(r["end"]),
         "hours": r["hours"], "kwh": r["kwh"]} for r in stretches[:TOP_STUCK]])
    kpis.update({"cutoff": to_local(s.until), "meters": meters, "meters_incomplete": len(missing),
                 "stuck_meters": len({r["meter_id"] for r in stretches}), "zero_meters": len(kinds[ZERO_RUN]),
                 "frozen_meters": len(kinds[FROZEN_RUN]), "silent_meters": len(kinds[SILENT])})
    return tables, kpis


def _completeness_tables(f: Filters, cells: list) -> Part:
    """The per-day (one column per district) and per-district tables, and the totals."""
    districts = sorted({c.district for c in cells}, key=_district_order)
    by_day: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    by_district: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in cells:
        by_day[str(c.day)][c.district] = (int(c.expected), int(c.received or 0))
        sums = by_district[c.district]
        sums[0] = max(sums[0], c.meters)
        sums[1] += int(c.expected)
        sums[2] += int(c.received or 0)
    day_rows = []
    for i in range(f.days):
        day = (f.date_from + timedelta(days=i)).isoformat()
        cell = by_day.get(day, {})
        expected = sum(v[0] for v in cell.values())
        received = sum(v[1] for v in cell.values())
        row = {"day": day, "expected": expected, "received": received, "rate": _pct2(received, expected)}
        for d in districts:
            row[f"rate:{d}"] = _pct2(cell[d][1], cell[d][0]) if d in cell else None
        day_rows.append(row)
    expected = sum(v[1] for v in by_district.values())
    received = sum(v[2] for v in by_district.values())
    return {
        "completeness_by_day": _table("每日采集完整率（按区县）", [
            ("day", "日期"), ("expected", "应采数据（条）"), ("received", "实采数据（条）"), ("rate", "完整率（%）"),
            *((f"rate:{d}", f"{d}（%）") for d in districts)], day_rows),
        "completeness_by_district": _table("采集完整率（按区县）", [
            ("district", "区县"), ("meters", "电表数"), ("expected", "应采数据（条）"), ("received", "实采数据（条）"),
            ("missing", "缺失数据（条）"), ("rate", "完整率（%）")], [
            {"district": d, "meters": v[0], "expected": v[1], "received": v[2], "missing": v[1] - v[2],
             "rate": _pct2(v[2], v[1])} for d, v in ((d, by_district[d]) for d in districts)]),
    }, {"expected_hours": expected, "received_hours": received, "missing_hours": expected - received,
        "completeness": _pct2(received, expected)}


def _pct2(part: float, whole: float) -> float | None:
    """Completeness is near 100 %: two decimals show what one would round away."""
    if not whole:
        return None
    exact = Decimal(int(part)) * 100 / Decimal(int(whole))
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _silent_edges(ctx: QueryContext, s: _Scope, missing: list[dict]) -> list[dict]:
    """Silent stretches at the start or the end of the range (or all of it), from the first and last
    reading of the meters missing 24 hours or more; also fills in the last reading of the meters listed."""
    f = s.f
    missing.sort(key=lambda r: (-r["missing"], r["meter_id"]))
    wanted = missing[:TOP_MISSING] + [r for r in missing[TOP_MISSING:] if r["missing"] >= STUCK_HOURS]
    if not wanted:
        return []
    ids = [r["meter_id"] for r in wanted]
    ends = {r.meter_id: r for r in ctx.session.execute(
        select(Reading.meter_id, func.min(Reading.ts).label("first"), func.max(Reading.ts).label("last"))
        .where(Reading.meter_id.in_(ids), Reading.ts >= f.start, Reading.ts < s.until)
        .group_by(Reading.meter_id))}
    installed = dict(ctx.session.execute(select(Meter.id, Meter.installed_on).where(Meter.id.in_(ids))).all())
    out = []
    for r in wanted:
        seen = ends.get(r["meter_id"])
        r["last"] = seen.last if seen is not None else None
        if r["missing"] < STUCK_HOURS:
            continue
        begin = max(f.start, local_midnight(installed[r["meter_id"]]))
        if seen is None:
            out.append(_stretch(r["meter_id"], SILENT, begin, s.until, None))
            continue
        # hours missing between the first and the last reading: only then may a silent day hide inside
        r["inner_gap"] = int((seen.last - seen.first) / HOUR) + 1 - r["received"] >= STUCK_HOURS
        if seen.first - begin >= STUCK_HOURS * HOUR:
            out.append(_stretch(r["meter_id"], SILENT, begin, seen.first, None))
        if s.until - (seen.last + HOUR) >= STUCK_HOURS * HOUR:
            out.append(_stretch(r["meter_id"], SILENT, seen.last + HOUR, s.until, None))
    return out


def _stretch(meter_id: int, kind: str, start: datetime, end: datetime, value: Decimal | None) -> dict:
    return {"meter_id": meter_id, "kind": kind, "start": start, "end": end, "hours": int((end - start) / HOUR),
            "kwh": value}


def _stretches(ctx: QueryContext, s: _Scope, missing: list[dict]) -> list[dict]:
    """Zero, unchanged and silent stretches of 24 h inside the range, exactly, on the candidate meters:
    those with a whole half-day of one value (a stretch of 24 h covers one) or 24 hours missing between
    their first and last reading (set by _silent_edges)."""
    f = s.f
    candidates = {r["meter_id"] for r in missing if r.get("inner_gap")}
    halves = _half_day_spans(f, s.until)
    if halves:
        half = _windows(ctx.session, halves, "halves")
        flat = (select(and_(func.count() == int(HALF_DAY / HOUR), func.max(Reading.kwh) == func.min(Reading.kwh)))
                .where(Reading.meter_id == Meter.id, Reading.ts >= half.c.start, Reading.ts < half.c.stop)
                .scalar_subquery())
        query = select(Meter.id).distinct().join(half, half.c.day >= Meter.installed_on).where(flat)
        if f.district:
            query = query.join(Customer, Customer.id == Meter.customer_id).where(*_in_district(f))
        candidates |= set(ctx.session.scalars(query))
    if not candidates:
        return []
    window = {"partition_by": Reading.meter_id, "order_by": Reading.ts}
    readings = (select(Reading.meter_id, Reading.ts, Reading.kwh,
                       func.lag(Reading.ts, type_=UTCDateTime()).over(**window).label("prev_ts"),
                       func.lag(Reading.kwh, type_=Reading.kwh.type).over(**window).label("prev_kwh"))
                .where(Reading.meter_id.in_(sorted(candidates)), Reading.ts >= f.start, Reading.ts < s.until)
                .subquery())
    gap = _Minutes(readings.c.prev_ts, readings.c.ts)
    steps = select(readings.c.meter_id, readings.c.ts, readings.c.kwh, readings.c.prev_ts, gap.label("gap"), case(
        (or_(readings.c.prev_ts.is_(None), readings.c.kwh != readings.c.prev_kwh, gap > 61), 1), else_=0
    ).label("brk")).subquery()
    runs = select(steps.c.meter_id, steps.c.ts, steps.c.kwh, steps.c.prev_ts, steps.c.gap, func.sum(steps.c.brk).over(
        partition_by=steps.c.meter_id, order_by=steps.c.ts, rows=(None, 0)).label("run")).subquery()
    n = func.count()
    silent_minutes = (STUCK_HOURS + 1) * 60 - 1  # readings 25 h apart leave 24 hours without one
    out = []
    for r in ctx.session.execute(
            select(runs.c.meter_id, func.min(runs.c.ts).label("first"), func.max(runs.c.ts).label("last"),
                   n.label("n"), func.min(runs.c.kwh).label("kwh"), func.min(runs.c.prev_ts).label("prev_ts"),
                   func.max(runs.c.gap).label("gap"))
            .group_by(runs.c.meter_id, runs.c.run)
            .having(or_(n >= STUCK_HOURS, func.max(runs.c.gap) >= silent_minutes))):
        if r.n >= STUCK_HOURS:
            value = Decimal(repr(float(r.kwh))).quantize(Decimal("0.001"))  # as the meter reads it
            out.append(_stretch(r.meter_id, ZERO_RUN if value == 0 else FROZEN_RUN, r.first, r.last + HOUR, value))
        if r.prev_ts is not None and r.gap is not None and r.gap >= silent_minutes:
            out.append(_stretch(r.meter_id, SILENT, r.prev_ts + HOUR, r.first, None))
    return out


def _who(session: Session, meter_ids: set[int]) -> dict[int, dict[str, str]]:
    """户号, 表号, district and area of some meters."""
    if not meter_ids:
        return {}
    rows = session.execute(
        select(Meter.id, Meter.meter_no, Customer.account_no, Customer.district, TransformerArea.code)
        .join(Customer, Customer.id == Meter.customer_id)
        .join(TransformerArea, TransformerArea.id == Meter.transformer_area_id)
        .where(Meter.id.in_(sorted(meter_ids)))).all()
    return {r.id: {"account_no": r.account_no, "meter_no": r.meter_no, "district": r.district, "area": r.code}
            for r in rows}


# ---------------------------------------------------------------- bills against meters

def _months_cte(months: list[Month], until: datetime):
    rows = [select(literal(m.period, String()).label("period"), _at(m.start).label("start"),
                   _at(min(m.end, until)).label("stop"), literal(m.hours, Integer()).label("hours"))
            for m in months]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("months")


def judge_bill(*, billed: Decimal, metered: Decimal, hours: int, month_hours: int) -> str:
    """"unchecked" (under 95 % of the month's readings), "anomaly" (off by > 10 % and > 20 kWh) or "ok"."""
    if Decimal(hours) < MIN_COVERAGE * month_hours:
        return "unchecked"
    diff = abs(billed - metered)
    return "anomaly" if diff > MISMATCH_KWH and diff > MISMATCH_SHARE * metered else "ok"


def _billing(ctx: QueryContext) -> Part:
    """Each bill of the months counted against the sum of its meter's readings over the month (two
    correlated subqueries per bill, on the unique index), judged here."""
    f = ctx.f
    until = cutoff(f, ctx.now)
    months = billing_months(f.date_from, f.date_to)
    rows = []
    if months:
        mo = _months_cte(months, until)
        in_month = [Reading.meter_id == Meter.id, Reading.ts >= mo.c.start, Reading.ts < mo.c.stop]
        metered = select(func.sum(Reading.kwh)).where(*in_month).scalar_subquery()
        hours = select(func.count()).select_from(Reading).where(*in_month).scalar_subquery()
        rows = ctx.session.execute(
            select(Bill.period, Bill.kwh.label("billed"), Customer.account_no, Customer.district,
                   Customer.customer_class, metered.label("metered"), hours.label("hours"),
                   mo.c.hours.label("month_hours"))
            .join(mo, mo.c.period == Bill.period).join(Customer, Customer.id == Bill.customer_id)
            .join(Meter, Meter.customer_id == Bill.customer_id).where(*_in_district(f))).all()
    judged: dict[str, int] = defaultdict(int)
    anomalies = []
    for r in rows:
        billed, measured = kwh(r.billed), kwh(r.metered)
        verdict = judge_bill(billed=billed, metered=measured, hours=r.hours, month_hours=r.month_hours)
        judged[verdict] += 1
        if verdict == "anomaly":
            anomalies.append({"period": r.period, "account_no": r.account_no, "district": r.district,
                              "customer_class": r.customer_class, "billed": billed, "metered": measured,
                              "diff": billed - measured,
                              "diff_pct": _pct(float(billed - measured), float(measured)) if measured else None,
                              "coverage": _pct2(r.hours, r.month_hours)})
    anomalies.sort(key=lambda a: (-abs(a["diff"]), a["period"], a["account_no"]))
    return {"billing_anomalies": _table("账单电量与采集电量不符（差额超过 10% 且超过 20 千瓦时）", [
        ("period", "电费月份"), ("account_no", "户号"), ("district", "区县"), ("customer_class", "用电类别"),
        ("billed", "账单电量（千瓦时）", "kwh"), ("metered", "采集电量（千瓦时）", "kwh"), ("diff", "差额（千瓦时）", "kwh"),
        ("diff_pct", "差额占采集电量（%）"), ("coverage", "当月采集完整率（%）")], anomalies[:TOP_ANOMALIES])}, {
        "bills_checked": judged["ok"] + judged["anomaly"], "bills_unchecked": judged["unchecked"],
        "billing_anomalies": judged["anomaly"]}


# ---------------------------------------------------------------- audit findings

def _audit(ctx: QueryContext) -> Part:
    """Open audit findings per rule, as api.audit counts them (all districts, all time)."""
    rules = audit_service.stats(session=ctx.session, now=ctx.now).rules
    rows = [{"rule_label": r.rule_label, "rule": r.rule, "open": r.open, "findings": r.findings,
             "confirmed": r.confirmed, "precision": None if r.precision is None else round(100 * r.precision, 1)}
            for r in rules]
    rows.sort(key=lambda r: -r["open"])
    return {"audit_open_by_rule": _table("未处理的稽查线索（按规则，全部区县）", [
        ("rule_label", "规则"), ("rule", "规则代码"), ("open", "未处理线索"), ("findings", "累计线索"),
        ("confirmed", "已确认"), ("precision", "核查准确率（%）")], rows)}, {
        "audit_open": sum(r["open"] for r in rows)}


# ---------------------------------------------------------------- the module's verbs

QUERIES = {"readings": _readings, "billing": _billing, "audit": _audit}
TABLE_PART = {"completeness_by_day": _readings, "completeness_by_district": _readings,
              "missing_meters": _readings, "stuck_meters": _readings, "billing_anomalies": _billing,
              "audit_open_by_rule": _audit}
TABLES = tuple(TABLE_PART)


def quality(*, session: Session, filters: Filters, now: datetime) -> QualityRead:
    """工作质量 for the filters."""
    ctx = QueryContext(session=session, f=filters, now=now)
    tables: dict[str, TableRead] = {}
    kpis: dict[str, Any] = {}
    for query in QUERIES.values():
        part_tables, part_kpis = query(ctx)
        tables.update(part_tables)
        kpis.update(part_kpis)
    return QualityRead(filters=filters.read(), generated_at=to_local(now),
                       notes=[*([TYPE_IGNORED] if filters.type else []), *NOTES],
                       ignored_filters=["type"] if filters.type else [], billing_source="readings",
                       kpis=QualityKpisRead(**kpis), tables={name: tables[name] for name in TABLES})


def table(*, session: Session, name: str, filters: Filters, now: datetime) -> TableRead:
    """One 工作质量 table (runs only the query that makes it); UnknownTable for other names."""
    part = TABLE_PART.get(name)
    if part is None:
        raise UnknownTable(name)
    return part(QueryContext(session=session, f=filters, now=now))[0][name]
