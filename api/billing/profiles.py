"""Consumption analysis: a customer's daily load profile, its group among peers, base load,
峰谷 shares, trend, unusual days and how the customer compares with similar households nearby.

Readings are hourly (UTC start of hour, kWh in the hour = mean kW); local hours and days are Beijing
time. The metering domain owns the readings: the flow (api.flows.billing) passes in the customer's
hourly kWh and the peers' per-hour and per-day figures, which metering groups in SQL.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

from api.billing import tariffs
from api.billing.schemas import (
    Account,
    BandShare,
    ClusterRead,
    ConsumptionAnalysisRead,
    PeerComparison,
    Peers,
    TrendRead,
    UnusualDay,
)
from api.core.time import local_day, local_hour, local_midnight

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


# ------------------------------------------------------------------------------ small helpers

def window(now: datetime, days: int) -> tuple[date, date, datetime, datetime]:
    """The last `days` complete local days before `now`: (first day, last day, start, end) with end exclusive."""
    today = local_day(now)
    first = today - timedelta(days=days)
    return first, today - timedelta(days=1), local_midnight(first), local_midnight(today)


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
        day = local_day(ts)
        kwh[day] += float(value)
        hours[day] += 1
    return [DayTotal(d, kwh[d], hours[d]) for d in sorted(kwh)]


def hour_profile(hourly: Iterable[tuple[datetime, Decimal]]) -> np.ndarray:
    """Mean kW per local hour 0–23 (NaN for an hour never read)."""
    sums, counts = np.zeros(24), np.zeros(24)
    for ts, value in hourly:
        h = local_hour(ts)
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

PEER_SCOPES = ("台区", "区县")  # compare within the transformer area, else the district
MIN_PEERS = 3  # fewer peers than this in a scope say nothing


def full_day_profiles(rows: Iterable[tuple[int, int, float]]) -> dict[int, np.ndarray]:
    """Mean kW per local hour of each meter from (meter id, hour, mean kWh) rows, keeping the meters
    read in every hour of the day."""
    out: dict[int, np.ndarray] = {}
    seen: dict[int, int] = defaultdict(int)
    for meter_id, h, avg in rows:
        out.setdefault(meter_id, np.zeros(24))[int(h)] = float(avg)
        seen[meter_id] += 1
    return {m: p for m, p in out.items() if seen[m] == 24}


def peer_sample(ids: list[int], keep: int, limit: int = MAX_PEERS) -> list[int]:
    """The peers to cluster: at most `limit` meter ids evenly spread over the sorted list, always with `keep`."""
    if len(ids) > limit:
        step = len(ids) / limit
        chosen = {ids[int(i * step)] for i in range(limit)}
        chosen.add(keep)
        ids = sorted(chosen)
    return sorted(set(ids) | {keep})


def cluster_of(*, profiles: dict[int, np.ndarray], meter_id: int, k: int = CLUSTER_K) -> ClusterRead | None:
    """k-means (fixed seed) over normalised 24-hour profiles of the customer's class; its group's label."""
    from scipy.cluster.vq import kmeans2  # lazy: scipy is slow to import and only this needs it

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


def compare_with_peers(*, account: Account, meter_id: int, peers: Peers, days: int) -> PeerComparison | None:
    """Average daily kWh against the same class in a scope; None without the customer's own
    average or with fewer than MIN_PEERS peers (then the caller tries the next scope)."""
    averages = dict(peers.averages)
    own = averages.pop(meter_id, None)
    if own is None or len(averages) < MIN_PEERS:
        return None
    others = np.asarray(list(averages.values()))
    below = float((others < own).sum() + 0.5 * (others == own).sum())
    rank = round(100.0 * below / len(others), 1)
    median = float(np.median(others))
    where = f"本台区（{peers.area_name}）" if peers.scope == "台区" else peers.area_name
    kind = "居民" if account.customer_class == "居民" else account.customer_class
    relation = "多" if own > median else "少"
    text = (f"您近{days}天日均用电{own:.1f}千瓦时，{where}{len(others)}户同类{kind}用户日均用电的中位数是"
            f"{median:.1f}千瓦时，您比其中{rank:.0f}%的用户用电多。")
    if abs(own - median) >= 0.05 * max(median, 0.1):
        text += f"比中位水平{relation}{abs(own - median) / max(median, 0.01) * 100:.0f}%。"
    return PeerComparison(scope=peers.scope, area_code=peers.area_code, area_name=peers.area_name,
                          peers=len(others), average_daily_kwh=round(own, 2), peer_median_daily_kwh=round(median, 2),
                          percentile_rank=rank, text=text)


# ------------------------------------------------------------------------------ the analysis

def analyse(*, account: Account, hourly: list[tuple[datetime, Decimal]], now: datetime, days: int = 30,
            region: str = tariffs.DEFAULT_REGION, cluster: ClusterRead | None = None,
            comparison: PeerComparison | None = None) -> ConsumptionAnalysisRead:
    """The customer's consumption over the last `days` complete local days (`window`), from the meter's
    hourly kWh in that window, with its group among peers and the comparison when known."""
    first, last, _start, _end = window(now, days)
    schedule = tariffs.schedule_for(region=region, year=last.year)
    tou = tariffs.tou_plan_of(schedule=schedule, tariff_code=account.tariff_code)

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
        account_no=account.account_no, customer_class=account.customer_class, start=first, end=last,
        days_with_data=len(full), average_daily_kwh=round(average, 2),
        profile_kw=[round(float(v), 3) for v in filled], base_load_kw=round(base, 3), bands=bands,
        cluster=cluster, trend=trend, unusual_days=unusual, comparison=comparison, summary=summary,
    )
