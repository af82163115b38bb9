"""Line loss (线损) arithmetic per transformer area (台区) and 10 kV feeder: pure functions, no database.

Definitions (one unit = an area or a feeder, one period = a local day or a local month):
- supplied: energy into the unit, from its supply meter (台区总表 / the feeder's 关口表);
- sold: daily, the sum of the metered kWh of the unit's customers; monthly, the sum of their billed kWh
  (the month's metered sum when no bills are given);
- loss = supplied − sold, loss rate = loss / supplied;
- status: "missing" when there is no supply reading or too few of the unit's meters reported a full day
  (no rate is computed: it would mislead), else "negative" when the loss is below zero (负损: a data
  problem — a wrong CT ratio on the supply meter, customers filed under the wrong unit), else "high"
  above the unit's limit (高损), else "ok";
- power factor from the supplied active and reactive energy: PF = P / √(P² + Q²).
Energy is Decimal kWh to the Wh (supplied = sold + loss exactly); rates and power factors are floats.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

WH = Decimal("0.001")
STATUSES = ("ok", "high", "negative", "missing")
SEVERITY_WEIGHT = {"high": 3.0, "medium": 2.0, "low": 1.0}


@dataclass(frozen=True)
class Limits:
    """Where a loss rate becomes 高损, and how much data a rate needs."""

    area_high: float = 0.07  # 台区 above 7 %
    feeder_high: float = 0.05  # 10 kV feeder above 5 %
    negative_below: float = 0.0  # a rate below this is 负损
    min_reporting: float = 0.9  # share of the unit's meters with a full day of readings


@dataclass(frozen=True)
class Supplied:
    """Energy into one unit on one local day (from its supply meter)."""

    unit: str
    day: date
    kwh: Decimal
    kvarh: Decimal | None = None


@dataclass(frozen=True)
class Sold:
    """The metered energy of one unit's customers on one local day, and how many of its meters reported."""

    unit: str
    day: date
    kwh: Decimal
    meters: int  # meters of the unit
    reporting: int  # of them, with a full day of readings


@dataclass(frozen=True)
class LossRow:
    """Line loss of one unit over one period (a day 'YYYY-MM-DD' or a month 'YYYY-MM')."""

    unit: str
    period: str
    supplied_kwh: Decimal | None
    sold_kwh: Decimal | None
    loss_kwh: Decimal | None
    loss_rate: float | None
    status: str
    power_factor: float | None = None
    kvarh: Decimal | None = None
    meters: int = 0
    reporting: int = 0
    days: int = 1  # days with a usable figure (monthly rows)
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _kwh(value) -> Decimal:
    return Decimal(str(value)).quantize(WH)


def power_factor(kwh, kvarh) -> float | None:
    """PF = P / √(P² + Q²) from active and reactive energy; None without reactive data or energy."""
    if kvarh is None or kwh is None:
        return None
    p, q = float(kwh), float(kvarh)
    if p <= 0 and q == 0:
        return None
    return round(abs(p) / math.hypot(p, q), 4)


def judge(supplied, sold, *, limit: float, limits: Limits = Limits(), meters: int = 0, reporting: int = 0,
          kvarh=None, unit: str = "", period: str = "", days: int = 1) -> LossRow:
    """One unit and period: loss, rate and status (missing data gives no rate)."""
    reasons = []
    if supplied is None:
        reasons.append("no_supply")
    if sold is None:
        reasons.append("no_sales")
    elif meters and reporting < limits.min_reporting * meters:
        reasons.append("few_readings")
    if supplied is not None and Decimal(str(supplied)) <= 0:
        reasons.append("no_supply")
    if reasons:
        return LossRow(unit, period, None if supplied is None else _kwh(supplied), None if sold is None else _kwh(sold),
                       None, None, "missing", None, None if kvarh is None else _kwh(kvarh), meters, reporting, days,
                       tuple(dict.fromkeys(reasons)))
    supplied, sold = _kwh(supplied), _kwh(sold)
    loss = supplied - sold
    rate = float(loss / supplied)
    status = "negative" if rate < limits.negative_below else "high" if rate > limit else "ok"
    return LossRow(unit, period, supplied, sold, loss, rate, status, power_factor(supplied, kvarh),
                   None if kvarh is None else _kwh(kvarh), meters, reporting, days)


def daily_loss(supplied: Iterable[Supplied], sold: Iterable[Sold], *, units: Iterable[str], days: Iterable[date],
               limit: float, limits: Limits = Limits()) -> list[LossRow]:
    """A row for every unit and day asked for, missing ones included (so a gap shows as a gap)."""
    sup = {(s.unit, s.day): s for s in supplied}
    out = {(s.unit, s.day): s for s in sold}
    rows = []
    for unit in units:
        for day in days:
            s, o = sup.get((unit, day)), out.get((unit, day))
            rows.append(judge(None if s is None else s.kwh, None if o is None else o.kwh, limit=limit, limits=limits,
                              meters=o.meters if o else 0, reporting=o.reporting if o else 0,
                              kvarh=None if s is None else s.kvarh, unit=unit, period=day.isoformat()))
    return rows


def feeder_sales(area_sales: Iterable[Sold], feeder_of: Mapping[str, str]) -> list[Sold]:
    """A feeder's daily sales: the sum over its areas (kWh, meters, reporting meters)."""
    sums: dict[tuple[str, date], list] = defaultdict(lambda: [Decimal(0), 0, 0])
    for s in area_sales:
        feeder = feeder_of.get(s.unit)
        if feeder is None:
            continue
        cell = sums[(feeder, s.day)]
        cell[0] += _kwh(s.kwh)
        cell[1] += s.meters
        cell[2] += s.reporting
    return [Sold(f, d, kwh, meters, reporting) for (f, d), (kwh, meters, reporting) in sorted(sums.items())]


def month_days(month: str) -> list[date]:
    """The local days of 'YYYY-MM'."""
    year, number = map(int, month.split("-"))
    first = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    return [first + timedelta(days=k) for k in range((following - first).days)]


def monthly_loss(daily: Iterable[LossRow], *, months: Iterable[str], limit: float,
                 billed: Mapping[tuple[str, str], Decimal] | None = None, limits: Limits = Limits()) -> list[LossRow]:
    """Months from the daily rows: supplied = the sum of the month's days; sold = billed kWh (or the days'
    metered sum when `billed` is None). A month with any day missing has no rate."""
    by_unit: dict[str, dict[str, LossRow]] = defaultdict(dict)
    for row in daily:
        by_unit[row.unit][row.period] = row
    rows = []
    for unit, days in by_unit.items():
        for month in months:
            wanted = [d.isoformat() for d in month_days(month)]
            have = [days[d] for d in wanted if d in days]
            usable = [r for r in have if r.status != "missing"]
            supplied = sum((r.supplied_kwh for r in have if r.supplied_kwh is not None), Decimal(0))
            kvarh = None if any(r.kvarh is None for r in usable) or not usable else sum(r.kvarh for r in usable)
            if billed is not None:
                sold = billed.get((unit, month))
            else:
                sold = sum((r.sold_kwh for r in have if r.sold_kwh is not None), Decimal(0))
            row = judge(supplied, sold, limit=limit, limits=limits, kvarh=kvarh, unit=unit, period=month,
                        days=len(usable), meters=max((r.meters for r in have), default=0),
                        reporting=max((r.reporting for r in have), default=0))
            if len(usable) < len(wanted):
                row = LossRow(unit, month, row.supplied_kwh, row.sold_kwh, None, None, "missing", None, row.kvarh,
                              row.meters, row.reporting, len(usable), ("incomplete_days",) + row.reasons)
            rows.append(row)
    return rows


def summarise(rows: Iterable[LossRow], *, limit: float, limits: Limits = Limits()) -> list[LossRow]:
    """One row per unit over all its usable periods (the missing ones are left out and counted)."""
    by_unit: dict[str, list[LossRow]] = defaultdict(list)
    for row in rows:
        by_unit[row.unit].append(row)
    out = []
    for unit, items in by_unit.items():
        usable = [r for r in items if r.status != "missing"]
        if not usable:
            out.append(LossRow(unit, "", None, None, None, None, "missing", days=0, reasons=("no_usable_days",)))
            continue
        supplied = sum(r.supplied_kwh for r in usable)
        sold = sum(r.sold_kwh for r in usable)
        kvarh = None if any(r.kvarh is None for r in usable) else sum(r.kvarh for r in usable)
        out.append(judge(supplied, sold, limit=limit, limits=limits, kvarh=kvarh, unit=unit,
                         period=f"{usable[0].period}/{usable[-1].period}", days=len(usable),
                         meters=max(r.meters for r in usable), reporting=min(r.reporting for r in usable)))
    return out


def evidence_scores(findings: Iterable[tuple[str, str]], theft: Mapping[str, float] | None = None) -> dict[str, float]:
    """Per-customer evidence: the severity weights of their findings ((customer, severity) pairs, high 3 ·
    medium 2 · low 1), plus a theft score in [0, 1] when given."""
    scores: dict[str, float] = defaultdict(float)
    for customer, severity in findings:
        scores[customer] += SEVERITY_WEIGHT.get(severity, 1.0)
    for customer, value in (theft or {}).items():
        scores[customer] += float(value)
    return dict(scores)


def rank_customers(members: Iterable[str], evidence: Mapping[str, float]) -> list[tuple[str, float]]:
    """The customers of a high-loss unit, most evidence first (ties and the unflagged by id): where to look."""
    return sorted(((m, float(evidence.get(m, 0.0))) for m in set(members)), key=lambda item: (-item[1], item[0]))
