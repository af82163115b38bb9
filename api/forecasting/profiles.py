"""Consumption analysis: a customer's daily load profile, its group among peers, base load,
峰谷 shares, trend, unusual days and how the customer compares with similar households nearby.

Readings are hourly (UTC start of hour, kWh in the hour = mean kW). Local hours and days are
Asia/Shanghai, a fixed UTC+8 (no daylight saving since 1991), so SQL shifts timestamps by 8 hours
to group peers by local hour or day on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
from sqlalchemy import Integer, String, and_, false, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from api.customers.models import Customer
from api.forecasting import tariffs
from api.forecasting.demand_schemas import (
    BandShare,
    ClusterRead,
    ConsumptionAnalysisRead,
    PeerComparison,
    TrendRead,
    UnusualDay,
)
from api.metering import service as metering
from api.metering.models import Meter, Reading

SHANGHAI = tariffs.SHANGHAI
FULL_DAY_HOURS = 20  # a local day with fewer hourly readings is incomplete (outage, meter gap)
UNUSUAL_Z = 3.5  # robust z-score (0.6745 · deviation / MAD) that marks an unusual day
STEADY_PCT = 10.0  # |change| below this % over the window is 平稳
CLUSTER_K = 4
CLUSTER_SEED = 20261125
MAX_PEERS = 300  # peers clustered at most (evenly spread over the class), the customer included

NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)
DAY_HOURS = tuple(range(8, 17))
EVENING_HOURS = tuple(range(17, 22))
FLAT_PEAKINESS = 1.4  # max hourly share ×24 below this is 平稳型
SHAPES = {
    "evening": ("晚高峰型", "用电集中在傍晚到晚上（17点到22点），下班回家后做饭、照明、看电视、洗澡用电多。"),
    "night": ("夜间用电型", "夜里（22点到次日6点）用电占比高，常见于夜间给电动汽车充电、电采暖或电热水器夜间加热。"),
    "day": ("白天用电型", "白天（8点到17点）用电为主，常见于白天有人在家、做生意或白天开空调、电暖器。"),
    "flat": ("平稳型", "一天中各时段用电比较平均，没有明显高峰，常见于冰箱、冷柜、养殖设备等全天运行的负荷。"),
}


# ------------------------------------------------------------------------------ SQL helpers

class local_hour_of(FunctionElement):
    """The Asia/Shanghai hour of day (0–23) of a UTC timestamp column."""

    type = Integer()
    name = "local_hour_of"
    inherit_cache = True


@compiles(local_hour_of, "sqlite")
def _local_hour_sqlite(element, compiler, **kw):
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text (UTC here): reading the
    # hour digits is several times cheaper than strftime() over millions of readings
    return "((CAST(substr(%s, 12, 2) AS INTEGER) + 8) %% 24)" % compiler.process(element.clauses, **kw)


@compiles(local_hour_of, "postgresql")
def _local_hour_postgresql(element, compiler, **kw):
    return "CAST(EXTRACT(HOUR FROM %s + interval '8 hours') AS INTEGER)" % compiler.process(element.clauses, **kw)


class local_day_of(FunctionElement):
    """The Asia/Shanghai calendar day of a UTC timestamp column, as 'YYYY-MM-DD' text."""

    type = String()
    name = "local_day_of"
    inherit_cache = True


@compiles(local_day_of, "sqlite")
def _local_day_sqlite(element, compiler, **kw):
    return "date(%s, '+8 hours')" % compiler.process(element.clauses, **kw)


@compiles(local_day_of, "postgresql")
def _local_day_postgresql(element, compiler, **kw):
    return "to_char(%s + interval '8 hours', 'YYYY-MM-DD')" % compiler.process(element.clauses, **kw)


# ------------------------------------------------------------------------------ small helpers

def local_midnight(day: date) -> datetime:
    """The UTC instant a local (Asia/Shanghai) day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(timezone.utc)


def window(now: datetime, days: int) -> tuple[date, date, datetime, datetime]:
    """The last `days` complete local days before `now`: (first day, last day, start, end) with end exclusive."""
    today = now.astimezone(SHANGHAI).date()
    first = today - timedelta(days=days)
    return first, today - timedelta(days=1), local_midnight(first), local_midnight(today)


def in_hours(hour, hours: Iterable[int]):
    """A SQL condition: the hour expression falls in `hours` (as ranges, cheaper than an IN list)."""
    wanted = sorted(set(hours))
    runs: list[tuple[int, int]] = []
    for h in wanted:
        if runs and runs[-1][1] == h:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    parts = []
    for lo, hi in runs:
        if lo == 0 and hi == 24:
            return true()
        if lo == 0:
            parts.append(hour < hi)
        elif hi == 24:
            parts.append(hour >= lo)
        else:
            parts.append(and_(hour >= lo, hour < hi))
    return or_(*parts) if parts else false()


def hourly_readings(*, session: Session, meter_id: int, start: datetime, end: datetime) -> list[tuple[datetime, Decimal]]:
    """The meter's hourly (UTC start of hour, kWh) with start <= ts < end, oldest first."""
    return [(ts, Decimal(kwh)) for ts, kwh in session.execute(
        select(Reading.ts, Reading.kwh).where(Reading.meter_id == meter_id, Reading.ts >= start, Reading.ts < end)
        .order_by(Reading.ts))]


@dataclass
class DayTotal:
    """A local day's kWh and how many hourly readings it has."""

    day: date
    kwh: float
    hours: int


def daily_totals(hourly: Iterable[tuple[datetime, Decimal]]) -> list[DayTotal]:
    """kWh per local day, oldest first."""
    kwh: dict[date, float] = defaultdict(float)
    hours: dict[date, int] = defaultdict(int)
    for ts, value in hourly:
        day = ts.astimezone(SHANGHAI).date()
        kwh[day] += float(value)
        hours[day] += 1
    return [DayTotal(d, kwh[d], hours[d]) for d in sorted(kwh)]


def hour_profile(hourly: Iterable[tuple[datetime, Decimal]]) -> np.ndarray:
    """Mean kW per local hour 0–23 (NaN for an hour never read)."""
    sums, counts = np.zeros(24), np.zeros(24)
    for ts, value in hourly:
        h = ts.astimezone(SHANGHAI).hour
        sums[h] += float(value)
        counts[h] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def shape_label(profile: np.ndarray) -> str:
    """The Chinese name of a 24-hour shape: 晚高峰型, 夜间用电型, 白天用电型 or 平稳型."""
    return SHAPES[_shape_key(profile)][0]


def _shape_key(profile: np.ndarray) -> str:
    p = np.nan_to_num(np.asarray(profile, dtype=float))
    total = p.sum()
    if total <= 0:
        return "flat"
    s = p / total
    if s.max() * 24 < FLAT_PEAKINESS:
        return "flat"
    ratios = {
        "night": s[list(NIGHT_HOURS)].sum() / (len(NIGHT_HOURS) / 24),
        "day": s[list(DAY_HOURS)].sum() / (len(DAY_HOURS) / 24),
        "evening": s[list(EVENING_HOURS)].sum() / (len(EVENING_HOURS) / 24),
    }
    return max(ratios, key=ratios.get)


def robust_unusual(values: list[float], threshold: float = UNUSUAL_Z) -> list[tuple[int, float]]:
    """(index, robust z) of values whose z = 0.6745·(x − median)/MAD passes the threshold."""
    if len(values) < 5:
        return []
    x = np.asarray(values, dtype=float)
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median)))
    if mad <= 1e-9:  # more than half the days identical: fall back to the mean absolute deviation
        mad = float(np.mean(np.abs(x - median))) / 1.2533
    if mad <= 1e-9:
        return []
    z = 0.6745 * (x - median) / mad
    return [(i, float(z[i])) for i in range(len(x)) if abs(z[i]) >= threshold]


def trend_of(values: list[float]) -> TrendRead | None:
    """Least-squares slope of daily kWh and the fitted change across the window."""
    if len(values) < 3:
        return None
    y = np.asarray(values, dtype=float)
    x = np.arange(len(y), dtype=float)
    slope = float(np.polyfit(x, y, 1)[0])
    mean = float(y.mean())
    change = 100.0 * slope * (len(y) - 1) / mean if mean > 0 else 0.0
    direction = "平稳" if abs(change) < STEADY_PCT else ("上升" if change > 0 else "下降")
    return TrendRead(slope_kwh_per_day=round(slope, 3), change_pct=round(change, 1), direction=direction)


def band_shares(hourly: list[tuple[datetime, Decimal]], *, tou: tariffs.TouPlan) -> list[BandShare]:
    """kWh and share per 峰谷 band of the hourly readings."""
    split = tariffs.split_by_band(hourly, tou=tou)
    total = sum(split.values(), Decimal(0))
    return [BandShare(band=b, name=tariffs.BAND_NAMES[b], hours=tou.span(b), kwh=round(float(v), 2),
                      share=round(float(v / total), 4) if total else 0.0) for b, v in split.items()]


# ------------------------------------------------------------------------------ peers

def _peer_meters(*, session: Session, customer: Customer, scope: str) -> list[int]:
    """Meters of the customer's class: in its transformer area ("area"), district or everywhere ("class")."""
    query = select(Meter.id).join(Customer, Customer.id == Meter.customer_id).where(
        Customer.customer_class == customer.customer_class)
    if scope == "area":
        query = query.where(Customer.transformer_area_id == customer.transformer_area_id)
    elif scope == "district":
        query = query.where(Customer.district == customer.district)
    return list(session.scalars(query.order_by(Meter.id)))


def peer_profiles(*, session: Session, meter_ids: list[int], start: datetime, end: datetime) -> dict[int, np.ndarray]:
    """Mean kW per local hour for each meter with a reading in every hour of day (SQL GROUP BY)."""
    hour = local_hour_of(Reading.ts)
    rows = session.execute(
        select(Reading.meter_id, hour, func.avg(Reading.kwh))
        .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
        .group_by(Reading.meter_id, hour))
    out: dict[int, np.ndarray] = {}
    seen: dict[int, int] = defaultdict(int)
    for meter_id, h, avg in rows:
        out.setdefault(meter_id, np.zeros(24))[int(h)] = float(avg)
        seen[meter_id] += 1
    return {m: p for m, p in out.items() if seen[m] == 24}


def peer_daily_average(*, session: Session, meter_ids: list[int], start: datetime, end: datetime) -> dict[int, float]:
    """Average kWh per complete local day for each meter (daily sums GROUP BY in SQL)."""
    day = local_day_of(Reading.ts)
    daily = (select(Reading.meter_id.label("meter_id"), day.label("day"), func.sum(Reading.kwh).label("kwh"))
             .where(Reading.meter_id.in_(meter_ids), Reading.ts >= start, Reading.ts < end)
             .group_by(Reading.meter_id, day)
             .having(func.count() >= FULL_DAY_HOURS)).subquery()
    return {m: float(v) for m, v in session.execute(
        select(daily.c.meter_id, func.avg(daily.c.kwh)).group_by(daily.c.meter_id))}


def _spread(ids: list[int], limit: int, keep: int) -> list[int]:
    """At most `limit` ids evenly spread over the sorted list, always with `keep`."""
    if len(ids) <= limit:
        return ids
    step = len(ids) / limit
    chosen = {ids[int(i * step)] for i in range(limit)}
    chosen.add(keep)
    return sorted(chosen)


def cluster_of(*, session: Session, customer: Customer, meter_id: int, start: datetime, end: datetime,
               k: int = CLUSTER_K, max_peers: int = MAX_PEERS) -> ClusterRead | None:
    """k-means (fixed seed) over normalised 24-hour profiles of the customer's class; its group's label."""
    from scipy.cluster.vq import kmeans2

    ids = _spread(_peer_meters(session=session, customer=customer, scope="class"), max_peers, meter_id)
    ids = sorted(set(ids) | {meter_id})
    profiles = peer_profiles(session=session, meter_ids=ids, start=start, end=end)
    profiles = {m: p for m, p in profiles.items() if p.sum() > 0}
    if meter_id not in profiles or len(profiles) < 4:
        return None
    order = sorted(profiles)
    x = np.vstack([profiles[m] / profiles[m].sum() for m in order])
    k = max(1, min(k, len(order) // 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        centroids, labels = kmeans2(x, k, minit="++", rng=np.random.default_rng(CLUSTER_SEED))
    names = [_shape_key(c) for c in centroids]
    mine = names[int(labels[order.index(meter_id)])]
    size = sum(1 for lab in labels if names[int(lab)] == mine)
    own = _shape_key(profiles[meter_id])
    centroid = centroids[int(labels[order.index(meter_id)])]
    return ClusterRead(label=SHAPES[mine][0], own_label=SHAPES[own][0], description=SHAPES[mine][1],
                       peers=len(order), cluster_size=size, k=k,
                       centroid=[round(float(v), 4) for v in centroid])


def compare_with_peers(*, session: Session, customer: Customer, meter_id: int, start: datetime,
                       end: datetime, days: int) -> PeerComparison | None:
    """Average daily kWh against the same class in the transformer area (the district if the area has < 3)."""
    for same_area in (True, False):
        ids = _peer_meters(session=session, customer=customer, scope="area" if same_area else "district")
        averages = peer_daily_average(session=session, meter_ids=sorted(set(ids) | {meter_id}), start=start, end=end)
        own = averages.pop(meter_id, None)
        if own is None:
            return None
        if len(averages) >= 3:
            break
    else:
        return None
    others = np.asarray(list(averages.values()))
    below = float((others < own).sum() + 0.5 * (others == own).sum())
    rank = round(100.0 * below / len(others), 1)
    median = float(np.median(others))
    if same_area:
        area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
        scope, code, name = "台区", area.code if area else None, area.name if area else "本台区"
        where = f"本台区（{name}）"
    else:
        scope, code, name = "区县", None, customer.district
        where = f"{customer.district}"
    kind = "居民" if customer.customer_class == "居民" else customer.customer_class
    relation = "多" if own > median else "少"
    text = (f"您近{days}天日均用电{own:.1f}千瓦时，{where}{len(others)}户同类{kind}用户日均用电的中位数是"
            f"{median:.1f}千瓦时，您比其中{rank:.0f}%的用户用电多。")
    if abs(own - median) >= 0.05 * max(median, 0.1):
        text += f"比中位水平{relation}{abs(own - median) / max(median, 0.01) * 100:.0f}%。"
    return PeerComparison(scope=scope, area_code=code, area_name=name, peers=len(others),
                          average_daily_kwh=round(own, 2), peer_median_daily_kwh=round(median, 2),
                          percentile_rank=rank, text=text)


# ------------------------------------------------------------------------------ the analysis

def analyse(*, session: Session, customer: Customer, now: datetime, days: int = 30,
            region: str = tariffs.DEFAULT_REGION, with_cluster: bool = True) -> ConsumptionAnalysisRead:
    """The customer's consumption over the last `days` complete local days (LookupError without a meter)."""
    meter = metering.get_meter_by_customer(session=session, customer_id=customer.id)
    if meter is None:
        raise LookupError(f"customer {customer.account_no} has no meter")
    first, last, start, end = window(now, days)
    hourly = hourly_readings(session=session, meter_id=meter.id, start=start, end=end)
    schedule = tariffs.schedule_for(region=region, year=last.year)
    tou = tariffs.tou_plan_of(schedule=schedule, tariff_code=customer.tariff_code)

    profile = hour_profile(hourly)
    kw = np.asarray([float(v) for _, v in hourly]) if hourly else np.zeros(0)
    lit = kw[kw > 0]  # an hour at exactly zero is a dark meter (outage), not the base load
    base = float(np.percentile(lit, 5)) if len(lit) else 0.0
    full = [d for d in daily_totals(hourly) if d.hours >= FULL_DAY_HOURS]
    values = [d.kwh for d in full]
    average = float(np.mean(values)) if values else (float(kw.sum()) / len(kw) * 24 if len(kw) else 0.0)
    median = float(np.median(values)) if values else 0.0
    unusual = [UnusualDay(date=full[i].day, kwh=round(full[i].kwh, 2), z=round(z, 2),
                          ratio_to_median=round(full[i].kwh / median, 2) if median else 0.0,
                          direction="偏高" if z > 0 else "偏低")
               for i, z in robust_unusual(values)]
    bands = band_shares(hourly, tou=tou) if tou is not None else []
    cluster = cluster_of(session=session, customer=customer, meter_id=meter.id, start=start, end=end) \
        if with_cluster else None
    comparison = compare_with_peers(session=session, customer=customer, meter_id=meter.id, start=start,
                                    end=end, days=days)
    trend = trend_of(values)

    filled = np.nan_to_num(profile)
    summary = f"近{len(full)}天日均用电{average:.1f}千瓦时"
    if filled.sum() > 0:
        top = int(np.argmax(filled))
        summary += f"，一天中{top}点到{top + 1}点用电最多（平均{filled[top]:.2f}千瓦）"
    if cluster is not None:
        summary += f"，属于{cluster.label}"
    valley = next((b for b in bands if b.band == "valley"), None)
    if valley is not None:
        summary += f"；谷段（{valley.hours}）用电占{valley.share * 100:.0f}%"
    if trend is not None and trend.direction != "平稳":
        summary += f"；近期用电呈{trend.direction}趋势（{trend.change_pct:+.0f}%）"
    if unusual:
        summary += f"；有{len(unusual)}天用电明显异常"
    summary += "。"
    return ConsumptionAnalysisRead(
        account_no=customer.account_no, customer_class=customer.customer_class, start=first, end=last,
        days_with_data=len(full), average_daily_kwh=round(average, 2),
        profile_kw=[round(float(v), 3) for v in filled], base_load_kw=round(base, 3), bands=bands,
        cluster=cluster, trend=trend, unusual_days=unusual, comparison=comparison, summary=summary,
    )
