"""Billing shapes: bills and balances, and the demand figures (bill forecast, consumption analysis,
峰谷 comparison, advice, segments).

Money is fen (int) with its 元 string; energy kWh, power kW (floats rounded for display, computed
exactly where it is priced); dates and hours are Asia/Shanghai.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from api.billing.tariffs import format_yuan
from api.core.time import LocalDateTime


class BillRead(BaseModel):
    """A monthly bill; money in fen and as a 元 string."""

    period: str
    kwh: float
    amount_fen: int
    amount_yuan: str
    due_date: date
    paid: bool
    paid_at: LocalDateTime | None


class BillsRead(BaseModel):
    account_no: str
    bills: list[BillRead]  # newest first
    unpaid_count: int
    unpaid_fen: int
    unpaid_yuan: str


class BalanceRead(BaseModel):
    """Prepaid balance; negative means arrears (欠费)."""

    model_config = ConfigDict(from_attributes=True)

    account_no: str
    balance_fen: int
    balance_yuan: str
    in_arrears: bool
    arrears_fen: int
    arrears_yuan: str
    updated_at: LocalDateTime


# ---------------------------------------------------------------------------- what billing is given

@dataclass(frozen=True)
class Account:
    """What billing needs to know of a customer (the flows fill it in from the customers domain)."""

    customer_id: int
    account_no: str
    customer_class: str  # 居民 / 一般工商业 / 大工业
    tariff_code: str
    contract_capacity_kva: Decimal
    district: str


@dataclass(frozen=True)
class Peers:
    """Average daily kWh of the customer's meter and of its peers' (same class nearby), by meter id."""

    scope: str  # 台区 (same transformer area) or 区县
    area_code: str | None
    area_name: str
    averages: dict[int, float]


@dataclass(frozen=True)
class SegmentMember:
    """A customer as a segment row shows them (name masked later), with its transformer area."""

    account_no: str
    name: str
    customer_class: str
    district: str
    town: str
    area_code: str
    area_name: str
    tariff_code: str


# ---------------------------------------------------------------------------- money

class Money(BaseModel):
    """An amount in fen and as a 元 string ("82.35")."""

    fen: int
    yuan: str

    @classmethod
    def of(cls, fen: int) -> Money:
        """The amount of `fen` fen."""
        return cls(fen=int(fen), yuan=format_yuan(int(fen)))


class KwhRange(BaseModel):
    """A projected energy: 10th, 50th and 90th percentile (kWh)."""

    p10: float
    p50: float
    p90: float


class MoneyRange(BaseModel):
    """A projected amount at P10, P50 and P90."""

    p10: Money
    p50: Money
    p90: Money


# ---------------------------------------------------------------------------- bill forecast

class TierStatus(BaseModel):
    """Where the customer stands on the 阶梯 ladder this billing period."""

    tier_period: str  # "month" | "year"
    used_before_kwh: float  # kWh of the tier period before this month (yearly tiers), else 0
    current_tier: int  # 1-based, by the kWh used so far
    current_tier_name: str  # 第一档 …
    current_tier_upper_kwh: float | None  # None in the last tier
    kwh_left_in_tier: float | None  # before the next tier starts (None in the last tier)
    projected_tier: int  # at P50
    projected_tier_name: str
    next_tier_probability: float | None  # chance of passing the current tier's bound this month (0–1)
    next_tier_price_yuan: str | None  # 元/kWh of the next tier


class Lever(BaseModel):
    """One thing the customer can change, with its effect on this month's bill (at P50)."""

    kind: str  # "stay_in_tier" | "reduce_daily" | "shift_to_valley" | "switch_to_tou"
    title: str
    kwh: float  # kWh saved or moved over the rest of the month
    kwh_per_day: float
    saving: Money  # positive: the bill goes down by this much
    feasible: bool = True  # False when it asks for more than half of a typical day's kWh
    text: str


class BillForecastRead(BaseModel):
    """This month's bill projected from the readings so far and the customer's daily pattern."""

    account_no: str
    tariff_code: str
    tariff_name: str
    region: str
    month: str  # "2026-11"
    as_of: LocalDateTime
    days_in_month: int
    days_elapsed: float  # local days of the month gone by
    days_left: float  # local days still to come
    hours_missing: int  # hours gone by without a reading (estimated like the days to come)
    kwh_so_far: float
    amount_so_far: Money
    daily_kwh_typical: float  # the expected kWh of a coming day (workday/rest-day mix, trend included)
    trend_factor: float  # recent level against the window's (1.0: steady)
    projected_kwh: KwhRange
    projected_amount: MoneyRange
    tier: TierStatus | None  # None for non-residential tariffs
    levers: list[Lever]
    method: str  # "daily_pattern_bootstrap"
    method_note: str
    summary: str


# ---------------------------------------------------------------------------- consumption analysis

class BandShare(BaseModel):
    """kWh of one 峰谷 band in the window and its share."""

    band: str  # "peak" | "valley" | "flat" | "sharp"
    name: str  # 峰 / 谷 / 平 / 尖峰
    hours: str  # "8:00—22:00"
    kwh: float
    share: float  # 0–1


class ClusterRead(BaseModel):
    """The load-shape group the customer falls in among peers of the same customer class."""

    label: str  # 晚高峰型 / 夜间用电型 / 白天用电型 / 平稳型
    own_label: str  # the same rule applied to the customer's own profile
    description: str
    peers: int  # customers clustered (same customer class)
    cluster_size: int  # of them, in a group with this label
    k: int
    centroid: list[float]  # the group's normalised 24-hour shape (shares, sum 1)


class TrendRead(BaseModel):
    """Least-squares slope of daily kWh over the window."""

    slope_kwh_per_day: float  # change of daily kWh per day
    change_pct: float  # fitted change across the window relative to the mean
    direction: str  # 上升 / 下降 / 平稳


class UnusualDay(BaseModel):
    """A day whose kWh is far from the customer's usual (robust z-score)."""

    date: date
    kwh: float
    z: float
    ratio_to_median: float
    direction: str  # 偏高 / 偏低


class PeerComparison(BaseModel):
    """Average daily kWh against similar customers nearby."""

    scope: str  # 台区 (same transformer area) or 区县 (too few peers in the area)
    area_code: str | None
    area_name: str
    peers: int
    average_daily_kwh: float
    peer_median_daily_kwh: float
    percentile_rank: float  # % of peers using less per day
    text: str


class ConsumptionAnalysisRead(BaseModel):
    """Load profile, its group, base load, 峰谷 shares, trend, unusual days and peers."""

    account_no: str
    customer_class: str
    start: date  # first local day of the window
    end: date  # last local day of the window
    days_with_data: int
    average_daily_kwh: float
    profile_kw: list[float]  # mean kW per local hour 0–23
    base_load_kw: float  # 5th percentile of hourly kW (hours with a dark meter left out)
    bands: list[BandShare]
    cluster: ClusterRead | None  # None when too few peers have data
    trend: TrendRead | None  # None with fewer than 3 full days
    unusual_days: list[UnusualDay]
    comparison: PeerComparison | None
    summary: str
    chart_url: str | None = None  # a signed link to the profile chart (set by the HTTP layer)


# ---------------------------------------------------------------------------- 峰谷 comparison

class TouMonth(BaseModel):
    """One billed month priced both ways."""

    period: str
    kwh: float
    band_kwh: dict[str, float]
    flat: Money  # 阶梯 only
    tou: Money  # 峰谷 (+ 阶梯加价 where the region adds it)
    saving: Money  # flat − tou: positive when 峰谷 is cheaper
    billed: Money | None  # what the bill said, when there is one
    method: str  # "readings" | "shape_scaled" | "recent_days_scaled"


class TouComparisonRead(BaseModel):
    """The last months billed both ways, 阶梯 against 峰谷+阶梯."""

    account_no: str
    applicable: bool
    reason: str | None
    tariff_code: str
    on_tou: bool
    months: list[TouMonth]  # oldest first
    months_covered: int
    flat_total: Money
    tou_total: Money
    saving_total: Money  # positive when 峰谷 would have been (or was) cheaper
    annual_saving_estimate: Money  # saving_total scaled to 12 months
    valley_share: float | None  # of the kWh compared
    method: str  # "readings" | "shape_scaled" | "mixed" | "recent_days_scaled" | "none"
    method_note: str
    recommendation: str


# ---------------------------------------------------------------------------- advice

class Tip(BaseModel):
    """One concrete tip in Chinese, with the saving it is worth when it can be priced."""

    kind: str
    text: str
    saving_per_month: Money | None


class AdviceRead(BaseModel):
    """3–5 tips tied to the customer's own pattern."""

    account_no: str
    as_of: LocalDateTime
    tips: list[Tip]


# ---------------------------------------------------------------------------- segments

class SegmentColumn(BaseModel):
    """A figure column: its key in SegmentRow.figures and its Chinese header."""

    key: str
    header: str


class SegmentRow(BaseModel):
    """One customer of a segment, for targeted outreach (name masked)."""

    account_no: str
    masked_name: str
    customer_class: str
    district: str
    town: str
    area_code: str
    area_name: str
    tariff_code: str
    tariff_name: str
    score: float  # what the rows are sorted by (descending)
    figures: dict[str, float | int | str]


class SegmentRead(BaseModel):
    """A list of customers staff can contact, with the figures that put them there."""

    kind: str
    title: str
    description: str
    as_of: LocalDateTime
    start: date
    end: date
    columns: list[SegmentColumn]
    rows: list[SegmentRow]
    count: int
