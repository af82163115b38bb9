"""Bill forecast: this month's kWh and amount under the customer's tariff, the tier outlook and
what would change it.

Method ("daily_pattern_bootstrap"): the kWh read since the 1st (Asia/Shanghai) plus the rest of the
month estimated day by day. A coming day is expected to use the median kWh of the customer's
complete days of the last four weeks of the same kind (working day or rest day, by the official
calendar), times a trend factor (the median of the last seven days against that pattern, bounded
to 0.8–1.25); the rest of today and the hours the meter has not reported yet are weighted by the
customer's average hourly shape. The spread comes from 4,000 scenarios (fixed seed) that draw each
coming day's ratio from the customer's own past days and add a month-wide level shift: P10/P50/P90
are their percentiles, the chance of passing the tier bound is the share of scenarios above it.
The load-forecast models (api.forecasting) are not needed for this. The meter's readings come from
the flow (api.flows.billing): `history_start` says from when.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from sqlalchemy.orm import Session

from api.billing import service, tariffs
from api.billing.profiles import FULL_DAY_HOURS, daily_totals, hour_profile
from api.billing.schemas import Account, BillForecastRead, KwhRange, Lever, Money, MoneyRange, TierStatus
from api.core.time import is_working_day, local_day, local_midnight, to_local

HISTORY_DAYS = 28
TREND_DAYS = 7
TREND_BOUNDS = (0.8, 1.25)
SCENARIOS = 4000
DEFAULT_SIGMA = 0.25  # spread of a day's kWh (log) when there are fewer than 5 past days
LEVEL_SIGMA = 0.04  # month-wide uncertainty (weather, occupancy) on top of the daily noise
SHIFT_KWH_PER_DAY = Decimal("1")  # the "save or move 1 kWh a day" levers
CENT = Decimal("0.01")
ZERO = Decimal(0)
HOUR = timedelta(hours=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _kwh(value: float | Decimal) -> Decimal:
    """kWh to two decimals, half-up."""
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


def _num(value: Decimal | float, digits: int = 2) -> float:
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def split_total(total: Decimal, base: dict[str, Decimal], weights: dict[str, float]) -> dict[str, Decimal]:
    """Bands of `total` kWh: `base` per band plus the rest by `weights`; 0.01 kWh, adding up exactly."""
    bands = list(base)
    extra = total - sum(base.values(), ZERO)
    weight_sum = sum(weights.get(b, 0.0) for b in bands)
    raw = {}
    for b in bands:
        share = weights.get(b, 0.0) / weight_sum if weight_sum > 0 else (1.0 / len(bands))
        raw[b] = base[b] + extra * Decimal(repr(share))
    out = {b: max(ZERO, raw[b].quantize(CENT, rounding=ROUND_HALF_UP)) for b in bands[:-1]}
    out[bands[-1]] = total - sum(out.values(), ZERO)
    if out[bands[-1]] < 0:  # rounding pushed the last band below zero: take it from the largest
        largest = max(bands[:-1], key=lambda b: out[b])
        out[largest] += out[bands[-1]]
        out[bands[-1]] = ZERO
    return out


class _Pricer:
    """Prices a month's kWh for one customer (bands split by the projected shape)."""

    def __init__(self, *, schedule: tariffs.Schedule, account: Account, tou: tariffs.TouPlan | None,
                 base: dict[str, Decimal], weights: dict[str, float], used_before: Decimal):
        self.schedule, self.account, self.tou = schedule, account, tou
        self.base, self.weights, self.used_before = base, weights, used_before
        self.product = schedule.tariff(account.tariff_code)

    def bands(self, kwh: Decimal) -> dict[str, Decimal] | None:
        return split_total(kwh, self.base, self.weights) if self.tou is not None else None

    def fen(self, kwh: Decimal, bands: dict[str, Decimal] | None = None) -> int:
        if self.product.kind in ("residential_tou", "tou"):
            bands = bands if bands is not None else self.bands(kwh)
        else:
            bands = None
        return tariffs.amount_fen(schedule=self.schedule, tariff_code=self.account.tariff_code, kwh=kwh,
                                  band_kwh=bands, used_before=self.used_before,
                                  contract_kva=Decimal(self.account.contract_capacity_kva))

    def tou_fen(self, bands: dict[str, Decimal]) -> int:
        """The amount under the residential 峰谷 tariff (with the region's 阶梯加价 rule)."""
        res = self.schedule.residential
        return tariffs.tou_amount_fen(bands, tou=res.tou, tiers=res.tiers, used_before=self.used_before)


def history_start(now: datetime) -> datetime:
    """From when the forecast needs the meter's hourly kWh (up to `now`): this month and four weeks."""
    today = local_day(now)
    return min(local_midnight(today.replace(day=1)), local_midnight(today - timedelta(days=HISTORY_DAYS)))


def forecast_bill(*, session: Session, account: Account, hourly: list[tuple[datetime, Decimal]], now: datetime,
                  region: str = tariffs.DEFAULT_REGION) -> BillForecastRead:
    """This month's projected kWh (P10/P50/P90) and amount, tier outlook and levers, from the meter's
    hourly kWh since `history_start(now)`."""
    local_now = to_local(now)
    today = local_now.date()
    first = today.replace(day=1)
    month = f"{first:%Y-%m}"
    month_start, month_end = local_midnight(first), local_midnight(next_month(first))
    days_in_month = (next_month(first) - first).days
    schedule = tariffs.schedule_for(region=region, year=first.year)
    product = schedule.tariff(account.tariff_code)
    residential = tariffs.is_residential(product)
    tou = tariffs.tou_plan_of(schedule=schedule, tariff_code=account.tariff_code) \
        if residential or product.kind == "tou" else None

    past_start = local_midnight(today - timedelta(days=HISTORY_DAYS))
    today_start = local_midnight(today)
    in_month = [(ts, v) for ts, v in hourly if ts >= month_start]
    past = [(ts, v) for ts, v in hourly if past_start <= ts < today_start]
    so_far = sum((v for _, v in in_month), ZERO)

    # the customer's daily pattern: median kWh of complete past days by day kind, and its hourly shape
    days = [d for d in daily_totals(past) if d.hours >= FULL_DAY_HOURS]
    scaled = [(d.day, d.kwh * 24.0 / d.hours) for d in days]
    work = [k for d, k in scaled if is_working_day(d)]
    rest = [k for d, k in scaled if not is_working_day(d)]
    overall = float(np.median([k for _, k in scaled])) if scaled else (
        24.0 * float(np.mean([float(v) for _, v in hourly])) if hourly else 0.0)
    level = {True: float(np.median(work)) if len(work) >= 2 else overall,
             False: float(np.median(rest)) if len(rest) >= 2 else overall}
    ratios = np.asarray([k / level[is_working_day(d)] for d, k in scaled if level[is_working_day(d)] > 0])
    recent = ratios[-TREND_DAYS:]
    trend = float(np.clip(np.median(recent), *TREND_BOUNDS)) if len(recent) >= 3 else 1.0
    profile = np.nan_to_num(hour_profile(past or hourly))
    shape = profile / profile.sum() if profile.sum() > 0 else np.full(24, 1 / 24)

    # every hour of the month without a reading (not reported yet, or still to come), by local day
    # and 峰谷 band, weighted by the customer's hourly shape
    covered = {ts for ts, _ in in_month}
    fraction: dict[date, float] = defaultdict(float)
    weights: dict[str, float] = defaultdict(float)
    missing_hours = 0
    now_hour = now.replace(minute=0, second=0, microsecond=0)
    at = month_start
    while at < month_end:
        if at not in covered:
            local = to_local(at)
            day = local.date()
            share = float(shape[local.hour])
            fraction[day] += share
            if tou is not None:
                weights[tou.band_of_hour(local.hour)] += share * level[is_working_day(day)]
            missing_hours += at < now_hour
        at += HOUR
    coming = sorted(fraction)
    expected = np.asarray([level[is_working_day(d)] * trend * fraction[d] for d in coming])
    days_left = max(0.0, (month_end - now).total_seconds() / 86400)

    # scenarios: each coming day's ratio drawn from the customer's own days, plus a month-wide level
    rng = np.random.default_rng([account.customer_id, first.year * 100 + first.month])
    if len(ratios) >= 5:
        draws = rng.choice(ratios, size=(SCENARIOS, len(coming)), replace=True) if len(coming) else \
            np.zeros((SCENARIOS, 0))
        sigma = float(np.std(np.log(np.maximum(ratios, 1e-6))))
    else:
        draws = np.exp(rng.normal(-DEFAULT_SIGMA ** 2 / 2, DEFAULT_SIGMA, size=(SCENARIOS, len(coming))))
        sigma = DEFAULT_SIGMA
    level_sigma = float(np.sqrt(LEVEL_SIGMA ** 2 + sigma ** 2 / max(len(ratios), 1)))
    shift = np.exp(rng.normal(-level_sigma ** 2 / 2, level_sigma, size=(SCENARIOS, 1)))
    totals = float(so_far) + (draws * expected[None, :] * shift).sum(axis=1) if len(coming) else \
        np.full(SCENARIOS, float(so_far))
    p10, p50, p90 = (_kwh(v) for v in np.percentile(totals, [10, 50, 90]))

    base = (tariffs.split_by_band(in_month, tou=tou) if tou is not None else {})
    used_before = service.kwh_billed_before(session=session, customer_id=account.customer_id, month=month) \
        if residential and schedule.residential.tier_period == "year" else ZERO
    pricer = _Pricer(schedule=schedule, account=account, tou=tou, base=base, weights=dict(weights),
                     used_before=used_before)
    amounts = {name: pricer.fen(kwh) for name, kwh in (("p10", p10), ("p50", p50), ("p90", p90))}
    so_far_fen = pricer.fen(so_far, base if product.kind in ("residential_tou", "tou") else None)

    tier = None
    if residential:
        tier = _tier_status(schedule=schedule, used_before=used_before, so_far=so_far, p50=p50,
                            totals=totals)
    typical = float(np.mean([level[is_working_day(d)] for d in coming])) * trend if coming else 0.0
    levers = _levers(pricer=pricer, product=product, schedule=schedule, tier=tier, p50=p50, so_far=so_far,
                     days_left=days_left, used_before=used_before, typical=typical)
    elapsed = days_in_month - days_left
    estimated = float(sum(fraction.values()))

    forecast = BillForecastRead(
        account_no=account.account_no, tariff_code=account.tariff_code, tariff_name=product.name,
        region=region, month=month, as_of=now, days_in_month=days_in_month,
        days_elapsed=round(elapsed, 2), days_left=round(days_left, 2), hours_missing=missing_hours,
        kwh_so_far=_num(so_far, 3),
        amount_so_far=Money.of(so_far_fen), daily_kwh_typical=round(typical, 2), trend_factor=round(trend, 3),
        projected_kwh=KwhRange(p10=float(p10), p50=float(p50), p90=float(p90)),
        projected_amount=MoneyRange(**{k: Money.of(v) for k, v in amounts.items()}),
        tier=tier, levers=levers, method="daily_pattern_bootstrap",
        method_note=(f"本月已抄读电量加上尚未抄读的{estimated:.1f}天的估算：按您近{len(scaled)}天的日用电量"
                     f"（分工作日和休息日）和最近一周的变化趋势推算，区间取{SCENARIOS}次模拟的10%和90%分位。"),
        summary="",
    )
    forecast.summary = _summary(forecast, local_now)
    return forecast


def _tier_status(*, schedule: tariffs.Schedule, used_before: Decimal, so_far: Decimal, p50: Decimal,
                 totals: np.ndarray) -> TierStatus:
    tiers = schedule.residential.tiers
    used = used_before + so_far
    current = tariffs.tier_of(used, tiers=tiers)
    upper = tariffs.tier_upper(current, tiers=tiers)
    left = tariffs.kwh_left_in_tier(used, tiers=tiers)
    projected = tariffs.tier_of(used_before + p50, tiers=tiers)
    probability = None
    if upper is not None:
        probability = round(float(np.mean(float(used_before) + totals > float(upper))), 2)
    return TierStatus(
        tier_period=schedule.residential.tier_period, used_before_kwh=float(used_before),
        current_tier=current, current_tier_name=tariffs.tier_name(current),
        current_tier_upper_kwh=float(upper) if upper is not None else None,
        kwh_left_in_tier=_num(left) if left is not None else None,
        projected_tier=projected, projected_tier_name=tariffs.tier_name(projected),
        next_tier_probability=probability,
        next_tier_price_yuan=str(tiers[current].price) if current < len(tiers) else None,
    )


def _levers(*, pricer: _Pricer, product: tariffs.TariffProduct, schedule: tariffs.Schedule,
            tier: TierStatus | None, p50: Decimal, so_far: Decimal, days_left: float,
            used_before: Decimal, typical: float) -> list[Lever]:
    """What changes the bill at P50: staying in the tier, saving 1 kWh a day, moving load to 谷 hours."""
    levers: list[Lever] = []
    if days_left < 0.5:
        return levers
    left_days = Decimal(repr(days_left))
    whole_days = max(1, round(days_left))
    now_fen = pricer.fen(p50)
    if tier is not None and tier.current_tier_upper_kwh is not None:
        upper = Decimal(repr(tier.current_tier_upper_kwh))
        excess = used_before + p50 - upper
        if excess > 0 and p50 - excess >= so_far:
            per_day = (excess / left_days).quantize(CENT, rounding=ROUND_HALF_UP)
            saving = now_fen - pricer.fen(p50 - excess)
            period = "本月" if tier.tier_period == "month" else "今年累计"
            feasible = float(per_day) <= 0.5 * typical
            head = (f"{period}预计用电{used_before + p50:.0f}千瓦时，会超出{tier.current_tier_name}上限"
                    f"{upper:.0f}千瓦时约{excess:.1f}千瓦时。")
            if feasible:
                text = (f"{head}接下来{whole_days}天每天少用{per_day:.1f}千瓦时，就能留在{tier.current_tier_name}，"
                        f"本月可少交约{tariffs.format_yuan(saving)}元。")
            else:
                text = (f"{head}剩下{whole_days}天要每天少用{per_day:.1f}千瓦时才能留在{tier.current_tier_name}，"
                        f"超过您平时每天用电的一半，不太现实；超出部分按{tariffs.tier_name(tier.current_tier + 1)}"
                        f"每千瓦时{tier.next_tier_price_yuan}元计费。")
            levers.append(Lever(
                kind="stay_in_tier", title=f"留在{tier.current_tier_name}", kwh=float(excess),
                kwh_per_day=float(per_day), saving=Money.of(saving), feasible=feasible, text=text,
            ))
    # a household saves 1 kWh a day; a business 5 % of a typical day (at least 1 kWh)
    step = SHIFT_KWH_PER_DAY if tariffs.is_residential(product) else Decimal(max(1, round(typical * 0.05)))
    less = (step * left_days).quantize(CENT, rounding=ROUND_HALF_UP)
    if p50 - less >= so_far and less > 0:
        saving = now_fen - pricer.fen(p50 - less)
        levers.append(Lever(
            kind="reduce_daily", title=f"每天少用{step}千瓦时", kwh=float(less), kwh_per_day=float(step),
            saving=Money.of(saving),
            text=(f"接下来{whole_days}天每天少用{step}千瓦时（共约{less:.0f}千瓦时），"
                  f"本月电费约少{tariffs.format_yuan(saving)}元。"),
        ))
    if pricer.tou is None:
        return levers
    bands = pricer.bands(p50)
    peak_band = "peak" if "peak" in bands else next(b for b in bands if b != "valley")
    if "valley" not in bands:
        return levers
    remaining_peak = max(ZERO, bands[peak_band] - pricer.base.get(peak_band, ZERO))
    moved = min(less, remaining_peak).quantize(CENT, rounding=ROUND_HALF_UP)
    if moved <= 0:
        return levers
    shifted = dict(bands)
    shifted[peak_band] -= moved
    shifted["valley"] += moved
    valley_hours = pricer.tou.span("valley")
    if product.kind in ("residential_tou", "tou"):
        saving = pricer.fen(p50, bands) - pricer.fen(p50, shifted)
        levers.append(Lever(
            kind="shift_to_valley", title="把用电挪到谷段", kwh=float(moved),
            kwh_per_day=float((moved / left_days).quantize(CENT, rounding=ROUND_HALF_UP)), saving=Money.of(saving),
            text=(f"把每天约1千瓦时的用电（如洗衣、烧热水、给电动车充电）从峰段挪到谷段（{valley_hours}），"
                  f"本月约省{tariffs.format_yuan(saving)}元。"),
        ))
    elif product.kind == "residential_tiered" and schedule.residential.tou is not None:
        as_is = pricer.tou_fen(bands)
        moved_fen = pricer.tou_fen(shifted)
        saving = now_fen - moved_fen
        levers.append(Lever(
            kind="switch_to_tou", title="改用峰谷电价并把用电挪到谷段", kwh=float(moved),
            kwh_per_day=float((moved / left_days).quantize(CENT, rounding=ROUND_HALF_UP)), saving=Money.of(saving),
            text=(f"如果执行峰谷电价，按您现在的用电习惯本月电费约{tariffs.format_yuan(as_is)}元"
                  f"（现在约{tariffs.format_yuan(now_fen)}元）；再把每天约1千瓦时挪到谷段（{valley_hours}），"
                  f"约{tariffs.format_yuan(moved_fen)}元。"),
        ))
    return levers


def _summary(f: BillForecastRead, local_now: datetime) -> str:
    kwh, amount = f.projected_kwh, f.projected_amount
    text = (f"截至{local_now.month}月{local_now.day}日{local_now.hour}点，本月已用电{f.kwh_so_far:.1f}千瓦时，"
            f"电费约{f.amount_so_far.yuan}元。按您平时的用电规律，预计全月用电约{kwh.p50:.0f}千瓦时"
            f"（大致在{kwh.p10:.0f}到{kwh.p90:.0f}千瓦时之间），电费约{amount.p50.yuan}元"
            f"（{amount.p10.yuan}—{amount.p90.yuan}元）。")
    t = f.tier
    if t is not None:
        if t.kwh_left_in_tier is not None:
            nxt = tariffs.tier_name(t.current_tier + 1)
            span = "本月" if t.tier_period == "month" else "今年"
            text += (f"目前处于{t.current_tier_name}，{span}距{nxt}还剩{t.kwh_left_in_tier:.1f}千瓦时，"
                     f"本月用电进入{nxt}的可能性约{(t.next_tier_probability or 0) * 100:.0f}%。")
        else:
            text += f"目前已处于{t.current_tier_name}。"
    return text
