"""经营成果 (business results) for supervisors: energy sold, bills issued against money collected, and
arrears, for a range and for the range of the same length just before it. Every figure is a GROUP BY
over the bills (joined to the customers for the district and the customer class).

Definitions (the page's notes say the same in Chinese):
- Billing months counted: the months whose bills are issued in the range. Bills carry no issue date; the
  utility (and the demo) issues a month's bills on the 1st of the next month, so month M counts when the
  1st of M+1 is in the range. A calendar month selected shows the bills issued and collected in it (the
  previous month's energy), and a month belongs to exactly one of two adjacent ranges.
- 售电量: Σ billed kWh of those months' bills. 应收电费: Σ their amounts.
- as_of: the end of the range, or now if it has not ended. 实收电费: those bills paid before as_of (by
  paid_at; a bill marked paid without a time counts as paid). 未收 = 应收 − 实收 (so 实收 + 未收 = 应收).
  电费回收率 = 实收 ÷ 应收.
- 期内到账: every bill paid inside the range (by paid_at), whatever its month.
- 欠费: bills of any month unpaid at as_of whose due date has passed (due before as_of's local day);
  days overdue = that day − due date, in bands 1–30, 31–60, 61–90 and over 90 days.
- District: the customer's district. The ticket type filter does not apply.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from api.analytics.schemas import BusinessFiguresRead, BusinessRead, TableRead
from api.analytics.service import Filters, _pct, _table, UnknownTable
from api.billing.models import Bill
from api.billing.tariffs import format_yuan
from api.core.time import local_day, local_midnight, to_local
from api.core.vocabulary import CUSTOMER_CLASSES
from api.customers.models import Customer

AGEING_BANDS = ((30, "逾期1–30天"), (60, "逾期31–60天"), (90, "逾期61–90天"), (None, "逾期90天以上"))
TYPE_IGNORED = "工单类型筛选不适用于经营成果，已按全部用电客户统计。"
NOTES = (
    "售电量、应收电费按电费月份统计：每月1日发行上月电费账单，发行日落在所选时段内的月份计入（时段内没有1日时，本期没有账单）。",
    "实收电费 = 这些账单在时段结束前（时段未结束时为当前时刻）已缴的金额；未收 = 应收 − 实收；电费回收率 = 实收 ÷ 应收。",
    "期内到账 = 时段内缴费到账的全部账单金额（按缴费时间，不分电费月份）。",
    "欠费 = 时段结束时仍未缴清且已过缴费截止日的账单（不分电费月份），按逾期天数分段。",
    "与上期比较：上期为紧接本期之前、天数相同的时段。",
)
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Month:
    """A billing month: its period ("2026-10") and its first and last local days."""

    period: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """Local midnight of the first day, UTC."""
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day, UTC."""
        return local_midnight(self.last + timedelta(days=1))

    @property
    def hours(self) -> int:
        """Hours in the month (China keeps no daylight saving time)."""
        return ((self.last - self.first).days + 1) * 24


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def billing_months(first: date, last: date) -> list[Month]:
    """The billing months whose bills are issued (the 1st of the next month) in [first, last], oldest first."""
    months, issued = [], first if first.day == 1 else _next_month(first)
    while issued <= last:
        month_first = date(issued.year - (issued.month == 1), (issued.month - 2) % 12 + 1, 1)
        months.append(Month(period=f"{month_first:%Y-%m}", first=month_first, last=issued - timedelta(days=1)))
        issued = _next_month(issued)
    return months


def previous(f: Filters) -> Filters:
    """The range of the same length just before `f`, with the same district and type."""
    return replace(f, date_from=f.date_from - timedelta(days=f.days), date_to=f.date_from - timedelta(days=1))


def yuan(fen: Any) -> Decimal:
    """Fen (an integer, or a SUM that may come back as a float or None) as yuan with two decimals."""
    return Decimal(format_yuan(int(round(float(fen or 0)))))


def kwh(value: Any) -> Decimal:
    """kWh with two decimals, half up (SQLite sums Numeric columns as floats)."""
    return Decimal(repr(float(value or 0))).quantize(CENT, rounding=ROUND_HALF_UP)


def _ratio_change(current: Decimal | int, before: Decimal | int) -> float | None:
    if not before:
        return None
    exact = (Decimal(current) - Decimal(before)) * 100 / Decimal(before)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _point_change(current: float | None, before: float | None) -> float | None:
    if current is None or before is None:
        return None
    return float((Decimal(repr(current)) - Decimal(repr(before))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _in_district(f: Filters) -> list:
    return [Customer.district == f.district] if f.district else []


@dataclass
class _Range:
    """One range's figures and the groups its tables are made from."""

    figures: BusinessFiguresRead
    cells: list   # (period, class, bills, kWh, billed fen, collected fen)
    bands: list   # (band, customers, bills, fen)


def _figures(session: Session, f: Filters, now: datetime) -> _Range:
    """Three GROUP BYs over the bills: the months' bills by month × class, the range's payments, arrears."""
    months = billing_months(f.date_from, f.date_to)
    as_of = min(f.end, now)
    paid_by_then = and_(Bill.paid.is_(True), or_(Bill.paid_at.is_(None), Bill.paid_at < as_of))
    cells = []
    if months:
        cells = session.execute(
            select(Bill.period, Customer.customer_class, func.count().label("bills"),
                   func.sum(Bill.kwh).label("kwh"), func.sum(Bill.amount_fen).label("billed"),
                   func.sum(case((paid_by_then, Bill.amount_fen), else_=0)).label("collected"))
            .join(Customer, Customer.id == Bill.customer_id)
            .where(Bill.period.in_([m.period for m in months]), *_in_district(f))
            .group_by(Bill.period, Customer.customer_class)).all()
    received = session.scalar(
        select(func.sum(Bill.amount_fen)).join(Customer, Customer.id == Bill.customer_id)
        .where(Bill.paid_at >= f.start, Bill.paid_at < as_of, *_in_district(f))) if as_of > f.start else 0

    as_of_day = local_day(as_of)
    unpaid = and_(or_(Bill.paid.is_(False), Bill.paid_at >= as_of), Bill.due_date < as_of_day)
    band = case(*((Bill.due_date >= as_of_day - timedelta(days=limit), i)
                  for i, (limit, _) in enumerate(AGEING_BANDS) if limit is not None), else_=len(AGEING_BANDS) - 1)
    arrears = (select(Bill.customer_id, Bill.amount_fen, band.label("band"))
               .join(Customer, Customer.id == Bill.customer_id).where(unpaid, *_in_district(f)).subquery())
    bands = session.execute(
        select(arrears.c.band, func.count(func.distinct(arrears.c.customer_id)).label("customers"),
               func.count().label("bills"), func.sum(arrears.c.amount_fen).label("fen"))
        .group_by(arrears.c.band)).all()
    arrears_customers = session.scalar(select(func.count(func.distinct(arrears.c.customer_id))))

    billed = sum(int(c.billed or 0) for c in cells)
    collected = sum(int(c.collected or 0) for c in cells)
    figures = BusinessFiguresRead(
        date_from=f.date_from, date_to=f.date_to, periods=[m.period for m in months], as_of=to_local(as_of),
        bills=sum(c.bills for c in cells), energy_kwh=kwh(sum(float(c.kwh or 0) for c in cells)),
        billed_yuan=yuan(billed), collected_yuan=yuan(collected), outstanding_yuan=yuan(billed - collected),
        collection_rate=_pct(collected, billed), received_yuan=yuan(received),
        arrears_customers=arrears_customers or 0, arrears_bills=sum(b.bills for b in bands),
        arrears_yuan=yuan(sum(int(b.fen or 0) for b in bands)))
    return _Range(figures=figures, cells=cells, bands=bands)


def _by(cells: list, key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"bills": 0, "kwh": 0.0, "billed": 0, "collected": 0})
    for c in cells:
        sums = out[getattr(c, key)]
        sums["bills"] += c.bills
        sums["kwh"] += float(c.kwh or 0)
        sums["billed"] += int(c.billed or 0)
        sums["collected"] += int(c.collected or 0)
    return out


def _money_row(sums: dict[str, Any]) -> dict[str, Any]:
    return {"bills": sums["bills"], "kwh": kwh(sums["kwh"]), "billed": yuan(sums["billed"]),
            "collected": yuan(sums["collected"]), "outstanding": yuan(sums["billed"] - sums["collected"]),
            "rate": _pct(sums["collected"], sums["billed"])}


MONEY_COLUMNS = [("bills", "账单数"), ("kwh", "售电量（千瓦时）", "kwh"), ("billed", "应收电费（元）", "yuan"),
                 ("collected", "实收电费（元）", "yuan"), ("outstanding", "未收电费（元）", "yuan"),
                 ("rate", "电费回收率（%）")]
COMPARED = (("energy_kwh", "售电量", "千瓦时"), ("billed_yuan", "应收电费", "元"), ("collected_yuan", "实收电费", "元"),
            ("collection_rate", "电费回收率", "%"), ("received_yuan", "期内到账", "元"),
            ("arrears_yuan", "欠费金额", "元"), ("arrears_customers", "欠费户数", "户"))


def _tables(current: _Range, before: _Range, change: dict[str, float | None]) -> dict[str, TableRead]:
    months = _by(current.cells, "period")
    classes = _by(current.cells, "customer_class")
    order = {c: i for i, c in enumerate(CUSTOMER_CLASSES)}
    total_kwh = sum(v["kwh"] for v in classes.values())
    arrears_fen = sum(int(b.fen or 0) for b in current.bands)
    bands = {b.band: b for b in current.bands}
    now, then = current.figures, before.figures
    return {
        "business_by_month": _table("售电量与电费回收（按电费月份）", [("period", "电费月份"), *MONEY_COLUMNS], [
            {"period": m, **_money_row(months[m])} for m in now.periods]),
        "business_by_class": _table("售电量与电费回收（按用电类别）", [
            ("customer_class", "用电类别"), *MONEY_COLUMNS[:2], ("share", "售电量占比（%）"), *MONEY_COLUMNS[2:]], [
            {"customer_class": c, **_money_row(v), "share": _pct(v["kwh"], total_kwh)}
            for c, v in sorted(classes.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))]),
        "arrears_ageing": _table("欠费账龄（按逾期天数）", [
            ("band", "逾期天数"), ("customers", "欠费户数"), ("bills", "欠费账单数"), ("amount", "欠费金额（元）", "yuan"),
            ("share", "金额占比（%）")], [
            {"band": label, "customers": bands[i].customers if i in bands else 0,
             "bills": bands[i].bills if i in bands else 0, "amount": yuan(bands[i].fen if i in bands else 0),
             "share": _pct(int(bands[i].fen or 0) if i in bands else 0, arrears_fen)}
            for i, (_, label) in enumerate(AGEING_BANDS)]),
        "business_comparison": _table(
            f"本期与上期对比（上期 {then.date_from:%Y-%m-%d} 至 {then.date_to:%Y-%m-%d}）", [
                ("figure", "指标"), ("unit", "单位"), ("current", "本期", "unit"), ("previous", "上期", "unit"),
                ("change", "变化（%，回收率为百分点）")], [
                {"figure": label, "unit": unit, "current": getattr(now, key), "previous": getattr(then, key),
                 "change": change[key]} for key, label, unit in COMPARED]),
    }


TABLES = ("business_by_month", "business_by_class", "arrears_ageing", "business_comparison")


def business(*, session: Session, filters: Filters, now: datetime) -> BusinessRead:
    """经营成果 for the filters and for the range of the same length before them (six GROUP BYs)."""
    current = _figures(session, filters, now)
    before = _figures(session, previous(filters), now)
    a, b = current.figures, before.figures
    change = {key: (_point_change(a.collection_rate, b.collection_rate) if key == "collection_rate"
                    else _ratio_change(getattr(a, key), getattr(b, key))) for key, _, _ in COMPARED}
    ignored = ["type"] if filters.type else []
    notes = [*([TYPE_IGNORED] if filters.type else []), *NOTES]
    return BusinessRead(filters=filters.read(), generated_at=to_local(now), notes=notes, ignored_filters=ignored,
                        current=a, previous=b, change=change, tables=_tables(current, before, change))


def table(*, session: Session, name: str, filters: Filters, now: datetime) -> TableRead:
    """One 经营成果 table; UnknownTable for other names."""
    if name not in TABLES:
        raise UnknownTable(name)
    return business(session=session, filters=filters, now=now).tables[name]
