"""Advice: would 峰谷 pricing pay, concrete tips from the customer's own pattern, and customer
segments staff can export for targeted outreach."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from api.customers import service as customers
from api.customers.models import Bill, Customer
from api.forecasting import tariffs
from api.forecasting.bills import forecast_bill, next_month, split_total, used_before_in_year
from api.forecasting.demand_schemas import (
    AdviceRead,
    Money,
    SegmentColumn,
    SegmentRead,
    SegmentRow,
    Tip,
    TouComparisonRead,
    TouMonth,
)
from api.forecasting.profiles import (
    FULL_DAY_HOURS,
    in_hours,
    NIGHT_HOURS,
    analyse,
    daily_totals,
    hourly_readings,
    local_hour_of,
    local_midnight,
    window,
)
from api.metering import service as metering
from api.metering.models import Meter, Reading, TransformerArea
from api.text import mask_name

ZERO = Decimal(0)
CENT = Decimal("0.01")
FULL_MONTH_SHARE = 0.95  # a month whose hourly readings cover this share is priced from them
NOT_WORTH_FEN = 1000  # 峰谷 and 阶梯 differ by less than 10 元 a year: "no real difference"
RECENT_DAYS = 30
DAYS_PER_MONTH = Decimal("30.4")  # 365 / 12, to turn a daily average into a month
MIN_HOURS = 7 * 24  # a customer needs a week of readings in the window to be segmented
EV_KW = Decimal("3.0")  # an hour at or above this kWh at night looks like a car charging (or an electric heater)
NIGHT_SHARE = 0.45  # night (22–6 h, a third of the day) share of kWh that makes a night-heavy household
EV_JUMP_KW = 1.5  # the mean load jumps by this much from one evening hour to the next (a charger starts)
EV_HOURS_PER_WEEK = 3  # or this many night hours a week at or above EV_KW
SEGMENT_KINDS = ("tou_beneficiaries", "night_heavy", "high_growth", "near_tier_2")


def _yuan(fen: int) -> str:
    return tariffs.yuan_text(fen)


def _q(value: Decimal, places: Decimal = CENT) -> Decimal:
    return Decimal(value).quantize(places, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------ 峰谷 comparison

def _month_hours(period: str) -> int:
    first = date(int(period[:4]), int(period[5:7]), 1)
    return (next_month(first) - first).days * 24


def _shares(split: dict[str, Decimal]) -> dict[str, float]:
    total = sum(split.values(), ZERO)
    return {b: float(v / total) if total else 0.0 for b, v in split.items()}


def tou_comparison(*, session: Session, customer: Customer, now: datetime, region: str = tariffs.DEFAULT_REGION,
                   months: int = 12) -> TouComparisonRead:
    """The last `months` billed months priced both ways: 阶梯 alone and 峰谷 (+ 阶梯加价 as the region applies it).

    Each month's billed kWh is split into 峰谷 bands. A month whose hourly readings cover at least
    95 % of its hours is split by those readings (method "readings"); otherwise the hourly
    readings cover only part of the period and the customer's own average hourly shape (every
    reading of the last year before this month) is scaled to the month's billed kWh
    ("shape_scaled"); "mixed" when both happen. Without any billed month, the last complete local
    days of readings are scaled to one month ("recent_days_scaled"). Tiers follow the region's
    tier period (kWh already billed this year count for yearly tiers).
    """
    first_now = customers.local_today(now).replace(day=1)
    current = f"{first_now:%Y-%m}"
    schedule = tariffs.schedule_for(region=region, year=first_now.year)
    product = schedule.tariff(customer.tariff_code)
    on_tou = product.kind == "residential_tou"

    def empty(reason: str) -> TouComparisonRead:
        zero = Money.of(0)
        return TouComparisonRead(
            account_no=customer.account_no, applicable=False, reason=reason, tariff_code=customer.tariff_code,
            on_tou=on_tou, months=[], months_covered=0, flat_total=zero, tou_total=zero, saving_total=zero,
            annual_saving_estimate=zero, valley_share=None, method="none", method_note=reason, recommendation=reason)

    if not tariffs.is_residential(product) or schedule.residential.tou is None:
        return empty("峰谷电价测算只适用于居民生活用电。")
    meter = metering.get_meter_by_customer(session=session, customer_id=customer.id)
    if meter is None:
        return empty("这个户号没有智能电表数据，暂时无法测算峰谷电费。")
    bills = sorted((b for b in customers.list_bills(session=session, customer_id=customer.id, months=months + 1)
                    if b.period < current), key=lambda b: b.period)[-months:]
    end = local_midnight(first_now)
    start = local_midnight(date(first_now.year - 1, first_now.month, 1))
    if bills:
        start = min(start, local_midnight(date(int(bills[0].period[:4]), int(bills[0].period[5:7]), 1)))
    hourly = hourly_readings(session=session, meter_id=meter.id, start=start, end=end)
    if not hourly:
        recent_start = local_midnight(customers.local_today(now) - timedelta(days=RECENT_DAYS))
        hourly = hourly_readings(session=session, meter_id=meter.id, start=recent_start, end=now)
    if not hourly:
        return empty("暂无分时用电数据，无法测算峰谷电费。")
    tou = schedule.residential.tou
    by_month: dict[str, list] = defaultdict(list)
    for ts, kwh in hourly:
        by_month[f"{ts.astimezone(tariffs.SHANGHAI):%Y-%m}"].append((ts, kwh))
    shape = _shares(tariffs.split_by_band(hourly, tou=tou))

    # (period, kWh, band weights, method, billed fen)
    plan: list[tuple[str, Decimal, dict[str, float], str, int | None]] = []
    for bill in bills:
        rows = by_month.get(bill.period, [])
        if len(rows) >= FULL_MONTH_SHARE * _month_hours(bill.period):
            plan.append((bill.period, Decimal(bill.kwh), _shares(tariffs.split_by_band(rows, tou=tou)), "readings",
                         bill.amount_fen))
        else:
            plan.append((bill.period, Decimal(bill.kwh), shape, "shape_scaled", bill.amount_fen))
    if not plan:
        for period in sorted(by_month):
            rows = by_month[period]
            if period < current and len(rows) >= FULL_MONTH_SHARE * _month_hours(period):
                kwh = _q(sum((k for _, k in rows), ZERO))
                plan.append((period, kwh, _shares(tariffs.split_by_band(rows, tou=tou)), "readings", None))
        plan = plan[-months:]
    if not plan:
        days = [d for d in daily_totals(hourly) if d.hours >= FULL_DAY_HOURS][-RECENT_DAYS:]
        if not days:
            return empty("分时用电数据不足一天，暂时无法测算峰谷电费。")
        kwh = _q(Decimal(repr(sum(d.kwh for d in days))) / len(days) * DAYS_PER_MONTH)
        plan.append((f"近{len(days)}天折算", kwh, shape, "recent_days_scaled", None))

    out: list[TouMonth] = []
    for period, kwh, weights, method, billed in plan:
        year = int(period[:4]) if period[:4].isdigit() else first_now.year
        sched = tariffs.schedule_for(region=region, year=year)
        res = sched.residential
        bands = split_total(kwh, {b: ZERO for b in res.tou.bands()}, weights)
        used = ZERO
        if res.tier_period == "year" and method != "recent_days_scaled":
            used = used_before_in_year(session=session, customer=customer, month=period)
        flat = tariffs.tiered_amount_fen(kwh, tiers=res.tiers, used_before=used)
        tou_fen = tariffs.tou_amount_fen(bands, tou=res.tou, tiers=res.tiers, used_before=used)
        out.append(TouMonth(period=period, kwh=float(kwh), band_kwh={b: float(v) for b, v in bands.items()},
                            flat=Money.of(flat), tou=Money.of(tou_fen), saving=Money.of(flat - tou_fen),
                            billed=Money.of(billed) if billed is not None else None, method=method))

    flat_total = sum(m.flat.fen for m in out)
    tou_total = sum(m.tou.fen for m in out)
    saving = flat_total - tou_total
    annual = int(_q(Decimal(saving) * 12 / len(out), Decimal(1)))
    total_kwh = sum(Decimal(repr(m.kwh)) for m in out)
    valley = sum(Decimal(repr(m.band_kwh.get("valley", 0.0))) for m in out)
    valley_share = round(float(valley / total_kwh), 4) if total_kwh else None
    methods = {m.method for m in out}
    method = methods.pop() if len(methods) == 1 else "mixed"
    notes = {
        "readings": "按每个月实际的分时电量计算。",
        "shape_scaled": "这段时间的分时读数不全：按您已有读数的平均用电时段分布，折算到每个月的账单电量。",
        "mixed": "读数完整的月份按实际分时电量计算，其余月份按您的平均用电时段分布折算到账单电量。",
        "recent_days_scaled": f"暂无整月账单：按近{RECENT_DAYS}天内的分时用电折算为一个月。",
    }
    result = TouComparisonRead(
        account_no=customer.account_no, applicable=True, reason=None, tariff_code=customer.tariff_code,
        on_tou=on_tou, months=out, months_covered=len(out), flat_total=Money.of(flat_total),
        tou_total=Money.of(tou_total), saving_total=Money.of(saving), annual_saving_estimate=Money.of(annual),
        valley_share=valley_share, method=method, method_note=notes[method], recommendation="",
    )
    result.recommendation = _recommendation(result, tou)
    return result


def _recommendation(r: TouComparisonRead, tou: tariffs.TouPlan) -> str:
    n = r.months_covered
    basis = f"按您近{n}个月的用电测算" if r.method != "recent_days_scaled" else "按您近期的用电折算"
    annual = r.annual_saving_estimate.fen
    valley = f"谷段（{tou.span('valley')}）用电占{(r.valley_share or 0) * 100:.0f}%"
    if abs(annual) < NOT_WORTH_FEN:
        return (f"{basis}，{valley}，峰谷电价和普通阶梯电价每年相差不到10元，差别不大；"
                "如果以后夜间用电增多（比如添了电动汽车），可以再算一算。")
    if not r.on_tou:
        if annual > 0:
            return (f"{basis}，{valley}，改用峰谷电价每年约可省{_yuan(annual)}元，建议办理。"
                    "可在网上国网App、营业厅或拨打95598申请。")
        return f"{basis}，{valley}，改用峰谷电价每年反而多花约{_yuan(-annual)}元，暂不建议办理。"
    if annual > 0:
        return f"{basis}，{valley}，峰谷电价比普通阶梯电价每年约省{_yuan(annual)}元，建议继续执行。"
    return (f"{basis}，{valley}，峰谷电价比普通阶梯电价每年多花约{_yuan(-annual)}元。把洗衣、烧热水等用电"
            f"挪到谷段可以缩小差距；执行期满后也可以申请改回普通阶梯电价。")


# ------------------------------------------------------------------------------ tips

@dataclass
class _Candidate:
    priority: float
    tip: Tip


def tips(*, session: Session, customer: Customer, now: datetime, region: str = tariffs.DEFAULT_REGION) -> AdviceRead:
    """3–5 concrete tips in Chinese built from the customer's own hours, kWh and 元 (LookupError without a meter)."""
    analysis = analyse(session=session, customer=customer, now=now, days=RECENT_DAYS, region=region,
                       with_cluster=False)
    forecast = forecast_bill(session=session, customer=customer, now=now, region=region)
    schedule = tariffs.schedule_for(region=region, year=customers.local_today(now).year)
    product = schedule.tariff(customer.tariff_code)
    residential = tariffs.is_residential(product)
    comparison = tou_comparison(session=session, customer=customer, now=now, region=region) if residential else None
    tou = tariffs.tou_plan_of(schedule=schedule, tariff_code=customer.tariff_code)
    p50 = Decimal(repr(forecast.projected_kwh.p50))
    unit_price = (Decimal(forecast.projected_amount.p50.fen) / 100 / p50) if p50 > 0 else schedule.residential.tiers[0].price
    profile = analysis.profile_kw
    days = analysis.days_with_data
    found: list[_Candidate] = []

    # 1. move the evening's load to 谷 hours
    if tou is not None and "valley" in tou.prices and sum(profile) > 0 and (residential or product.kind == "tou"):
        peak_band = "peak" if "peak" in tou.prices else next(b for b in tou.bands() if b != "valley")
        peak_hours = set(tou.hours_of(peak_band))
        best = max((h for h in range(22) if {h, h + 1, h + 2} <= peak_hours),
                   key=lambda h: sum(profile[h:h + 3]), default=None)
        if best is not None:
            used = Decimal(repr(sum(profile[best:best + 3])))
            move = min(used, max(Decimal("0.5"), _q(used * Decimal("0.3") * 2, Decimal(1)) / 2))
            diff = tou.prices[peak_band] - tou.prices["valley"]  # type: ignore[index]
            saving = tariffs.to_fen(move * diff * 30)
            valley_start = next(p.start for p in tou.periods if p.band == "valley")
            if used >= 1 and saving > 0:
                head = f"您每天{best}—{best + 3}点平均用电{used:.1f}千瓦时，"
                if product.kind in ("residential_tou", "tou"):
                    text = (f"{head}若把其中{move:.1f}千瓦时（如洗衣、烧热水、给电动车充电）挪到{valley_start}点以后，"
                            f"每月约省{_yuan(saving)}元。")
                else:
                    text = (f"{head}如果办理峰谷电价，再把其中{move:.1f}千瓦时（如洗衣、烧热水）挪到{valley_start}点以后，"
                            f"每月还能再省约{_yuan(saving)}元。")
                found.append(_Candidate(saving, Tip(kind="shift_evening", text=text,
                                                    saving_per_month=Money.of(saving))))

    # 2. 峰谷 or not, from the months billed both ways
    if comparison is not None and comparison.applicable:
        annual = comparison.annual_saving_estimate.fen
        monthly = int(_q(Decimal(annual) / 12, Decimal(1)))
        worth = abs(annual) >= NOT_WORTH_FEN
        saving = Money.of(monthly) if worth and annual > 0 and not comparison.on_tou else None
        found.append(_Candidate(abs(monthly) + (50 if worth else 0),
                                Tip(kind="tou_decision", text=comparison.recommendation, saving_per_month=saving)))

    # 3. this month's tier
    tier = forecast.tier
    stay = next((lever for lever in forecast.levers if lever.kind == "stay_in_tier"), None)
    if stay is not None and stay.saving.fen > 0 and stay.feasible:
        found.append(_Candidate(stay.saving.fen + 100, Tip(kind="stay_in_tier", text=stay.text,
                                                           saving_per_month=stay.saving)))
    elif (tier is not None and tier.kwh_left_in_tier is not None and tier.kwh_left_in_tier > 0
          and (tier.next_tier_probability or 0) >= 0.3):
        nxt = tariffs.tier_name(tier.current_tier + 1)
        per_day = forecast.daily_kwh_typical
        span = f"（按您每天约{per_day:.1f}千瓦时，约{tier.kwh_left_in_tier / per_day:.0f}天的用量）" if per_day > 0 else ""
        found.append(_Candidate(80, Tip(kind="near_next_tier", saving_per_month=None, text=(
            f"{'本月' if tier.tier_period == 'month' else '今年'}距{nxt}只剩{tier.kwh_left_in_tier:.0f}千瓦时{span}，"
            f"本月进入{nxt}的可能性约{(tier.next_tier_probability or 0) * 100:.0f}%，超出部分每千瓦时"
            f"{tier.next_tier_price_yuan}元。用电多的电器错开用、随手关，能少进{nxt}。"))))

    # 4. base load (standby)
    home = customer.customer_class == "居民"
    who = "您家" if home else "您单位"
    base = Decimal(repr(analysis.base_load_kw))
    if base >= Decimal("0.1"):
        month_kwh = _q(base * 24 * 30, Decimal(1))
        cut = max(Decimal("0.03"), _q(base * Decimal("0.3")))
        cut_kwh = _q(cut * 24 * 30, Decimal(1))
        saving = tariffs.to_fen(cut_kwh * unit_price)
        causes, fixes = (("冰箱、待机电器、热水器保温等", "把长期不用的电器拔掉插头、热水器改成定时加热") if home else
                         ("夜间和节假日仍在运行的照明、空调、冷柜和待机设备", "下班后关掉不用的照明、空调和设备电源"))
        found.append(_Candidate(saving, Tip(kind="base_load", saving_per_month=Money.of(saving), text=(
            f"{who}用电最少的时候也有{base:.2f}千瓦，一个月光这部分就约{month_kwh}千瓦时，多是{causes}。"
            f"{fixes}，若能降低{cut:.2f}千瓦，每月约省{cut_kwh}千瓦时、{_yuan(saving)}元。"))))

    # 5. against the neighbours
    cmp = analysis.comparison
    where = "本台区" if cmp is not None and cmp.scope == "台区" else (cmp.area_name if cmp is not None else "")
    if cmp is not None and cmp.percentile_rank >= 70 and cmp.average_daily_kwh > 1.2 * cmp.peer_median_daily_kwh:
        more = (cmp.average_daily_kwh / cmp.peer_median_daily_kwh - 1) * 100 if cmp.peer_median_daily_kwh else 0
        advice_text = ("天冷时电暖器、电热水器往往是大头：电暖器调低1—2度、热水器设在50度左右，都能明显少用电。" if home else
                       "可以查一查空调、照明和设备有没有在无人时空转。")
        found.append(_Candidate(60, Tip(kind="peers", saving_per_month=None, text=(
            f"{who}日均用电{cmp.average_daily_kwh:.1f}千瓦时，比{where}同类用户的中位数{cmp.peer_median_daily_kwh:.1f}"
            f"千瓦时高{more:.0f}%。{advice_text}"))))
    elif cmp is not None and cmp.percentile_rank <= 30 and home:
        fewer = "是" + where + "同类用户中最少的" if cmp.percentile_rank == 0 else \
            f"比{where}{100 - cmp.percentile_rank:.0f}%的同类用户都少"
        found.append(_Candidate(5, Tip(kind="peers", saving_per_month=None, text=(
            f"您家日均用电{cmp.average_daily_kwh:.1f}千瓦时，{fewer}，用电很节约，继续保持。"))))

    # 6. a rising trend
    trend = analysis.trend
    if trend is not None and trend.direction == "上升" and trend.change_pct >= 15:
        half = trend.slope_kwh_per_day * (days - 1) / 2
        a, b = analysis.average_daily_kwh - half, analysis.average_daily_kwh + half
        cause = ("如果最近添了电暖器、电热毯等大功率电器，建议错开使用，人离开房间随手关掉。" if home else
                 "如果不是生产经营增加，建议检查设备是否有异常耗电。")
        found.append(_Candidate(40, Tip(kind="trend", saving_per_month=None, text=(
            f"近{days}天{who}日均用电从约{a:.1f}千瓦时升到{b:.1f}千瓦时（{trend.change_pct:+.0f}%）。{cause}"))))

    # 7. an unusual day
    high = [d for d in analysis.unusual_days if d.direction == "偏高"]
    if high:
        d = max(high, key=lambda u: u.z)
        check = "热水器、电暖器是否长时间没关" if home else "设备、空调是否整天未关"
        found.append(_Candidate(30, Tip(kind="unusual_day", saving_per_month=None, text=(
            f"{d.date.month}月{d.date.day}日{who}用电{d.kwh:.1f}千瓦时，是平时的{d.ratio_to_median:.1f}倍。"
            f"如果那天没有特别的用电，建议检查{check}，必要时请电工查一查有没有漏电。"))))

    # 8. the highest load against the contract capacity (non-residential)
    if not home and sum(profile) > 0:
        top = max(range(24), key=lambda h: profile[h])
        capacity = Decimal(customer.contract_capacity_kva)
        share = Decimal(repr(profile[top])) / capacity * 100 if capacity else ZERO
        text = (f"近{days}天您单位{top}点前后用电最多，平均负荷约{profile[top]:.1f}千瓦，"
                f"约为合同容量{capacity:.0f}千伏安的{share:.0f}%。")
        saving = None
        if product.kind == "two_part" and product.capacity_yuan_per_kva_month is not None:
            fee = tariffs.to_fen(capacity * product.capacity_yuan_per_kva_month)
            text += f"基本电费按容量每月{_yuan(fee)}元，如果设备长期用不满，可以咨询95598办理减容或暂停。"
        else:
            text += "错开大功率设备的启动时间，可以避免负荷过于集中。"
        found.append(_Candidate(3, Tip(kind="peak_load", saving_per_month=saving, text=text)))

    # fallbacks that always hold: the 峰谷 split (when 峰谷 can matter) and the month's outlook
    valley = next((b for b in analysis.bands if b.band == "valley"), None)
    if valley is not None and (residential or product.kind == "tou"):
        others = 100 - valley.share * 100
        found.append(_Candidate(2, Tip(kind="band_share", saving_per_month=None, text=(
            f"近{days}天{who}谷段（{valley.hours}）用电占{valley.share * 100:.0f}%，其余{others:.0f}%在白天和晚上。"
            f"洗衣机、洗碗机、热水器等能定时的电器，尽量设在谷段运行。"))))
    found.append(_Candidate(1, Tip(kind="outlook", saving_per_month=None, text=(
        f"{who}近{days}天日均用电{analysis.average_daily_kwh:.1f}千瓦时，预计本月用电约{forecast.projected_kwh.p50:.0f}"
        f"千瓦时、电费约{forecast.projected_amount.p50.yuan}元，可在网上国网App随时查看每天的用电。"))))

    chosen = sorted(found, key=lambda c: -c.priority)[:5]
    return AdviceRead(account_no=customer.account_no, as_of=now, tips=[c.tip for c in chosen])


# ------------------------------------------------------------------------------ segments

SEGMENT_TITLES = {
    "tou_beneficiaries": ("适合峰谷电价的用户", "按近{days}天的分时用电测算，改用峰谷电价每年可省{min}元以上的阶梯电价居民用户。"),
    "night_heavy": ("夜间用电多的用户（疑似家用电动汽车）",
                    "夜间（22点至次日6点）用电占比高，且夜里有明显的大功率用电或晚间负荷跳升的居民用户。"),
    "high_growth": ("用电增长快的用户", "近{half}天日均用电比之前{half}天增长30%以上、且每天多用2千瓦时以上的用户。"),
    "near_tier_2": ("本月可能进入第二档的用户", "本月仍在第一档、但按最近一周的用电推算全月将接近或超过第一档上限的居民用户。"),
}
BASE_HEADERS = (("account_no", "户号"), ("masked_name", "户名"), ("customer_class", "用电类别"), ("district", "区县"),
                ("town", "乡镇（街道）"), ("area_code", "台区编号"), ("area_name", "台区名称"),
                ("tariff_name", "电价"))


def _info(session: Session, meter_ids: list[int]) -> dict[int, tuple[Customer, TransformerArea]]:
    if not meter_ids:
        return {}
    rows = session.execute(
        select(Meter.id, Customer, TransformerArea)
        .join(Customer, Customer.id == Meter.customer_id)
        .join(TransformerArea, TransformerArea.id == Customer.transformer_area_id)
        .where(Meter.id.in_(meter_ids)))
    return {m: (c, a) for m, c, a in rows}


def _residential_meters(schedule: tariffs.Schedule, kinds: tuple[str, ...]):
    codes = [code for code, t in schedule.tariffs.items() if t.kind in kinds]
    return (select(Meter.id).join(Customer, Customer.id == Meter.customer_id)
            .where(Customer.customer_class == "居民", Customer.tariff_code.in_(codes)))


@dataclass
class _Sums:
    """One meter's readings in the window: kWh, hours read, kWh per hour group, high-power hours."""

    kwh: float
    hours: int
    groups: dict[str, float]
    high: int


def _group_sums(session: Session, meters, start: datetime, end: datetime, groups: dict[str, tuple[int, ...]],
                high_hours: tuple[int, ...] = ()) -> dict[int, _Sums]:
    """Per meter: kWh, hours read, kWh in each group of local hours and hours at or above EV_KW among
    `high_hours` — one pass in SQL grouped by meter only (the (meter_id, ts) index order, no sort)."""
    hour = local_hour_of(Reading.ts)
    columns = [func.sum(case((in_hours(hour, hours), Reading.kwh), else_=0)) for hours in groups.values()]
    if high_hours:
        columns.append(func.sum(case((and_(in_hours(hour, high_hours), Reading.kwh >= EV_KW), 1), else_=0)))
    rows = session.execute(
        select(Reading.meter_id, func.sum(Reading.kwh), func.count(), *columns)
        .where(Reading.meter_id.in_(meters), Reading.ts >= start, Reading.ts < end)
        .group_by(Reading.meter_id))
    out = {}
    names = list(groups)
    for meter_id, kwh, n, *rest in rows:
        values = {name: float(rest[i] or 0) for i, name in enumerate(names)}
        out[meter_id] = _Sums(float(kwh or 0), int(n), values, int(rest[len(names)] or 0) if high_hours else 0)
    return out


def _hour_sums(session: Session, meters, start: datetime, end: datetime) -> dict[int, np.ndarray]:
    """Per meter and local hour: kWh, hours read and hours at or above EV_KW (SQL GROUP BY)."""
    hour = local_hour_of(Reading.ts)
    rows = session.execute(
        select(Reading.meter_id, hour, func.sum(Reading.kwh), func.count(),
               func.sum(case((Reading.kwh >= EV_KW, 1), else_=0)))
        .where(Reading.meter_id.in_(meters), Reading.ts >= start, Reading.ts < end)
        .group_by(Reading.meter_id, hour))
    out: dict[int, np.ndarray] = {}
    for meter_id, h, kwh, n, high in rows:
        out.setdefault(meter_id, np.zeros((3, 24)))[:, int(h)] = (float(kwh or 0), int(n), int(high or 0))
    return out


def segments(*, session: Session, now: datetime, kind: str, region: str = tariffs.DEFAULT_REGION,
             days: int = RECENT_DAYS, min_saving_yuan: Decimal = Decimal("30"), limit: int | None = None) -> SegmentRead:
    """Customers of one segment for outreach, best first (ValueError for an unknown kind)."""
    if kind not in SEGMENT_KINDS:
        raise ValueError(f"unknown segment {kind!r} (known: {', '.join(SEGMENT_KINDS)})")
    first, last, start, end = window(now, days)
    schedule = tariffs.schedule_for(region=region, year=last.year)
    if kind == "tou_beneficiaries":
        columns, scored = _tou_beneficiaries(session, schedule, start, end, Decimal(min_saving_yuan))
    elif kind == "night_heavy":
        columns, scored = _night_heavy(session, schedule, start, end)
    elif kind == "high_growth":
        columns, scored = _high_growth(session, start, end, days)
    else:
        columns, scored = _near_tier_2(session, schedule, now)
        first, last = customers.local_today(now).replace(day=1), customers.local_today(now)
    scored.sort(key=lambda item: (-item[1], item[0]))
    if limit is not None:
        scored = scored[:limit]
    info = _info(session, [m for m, _, _ in scored])
    rows = []
    for meter_id, score, figures in scored:
        c, area = info[meter_id]
        product = schedule.tariffs.get(c.tariff_code)
        rows.append(SegmentRow(
            account_no=c.account_no, masked_name=mask_name(c.name), customer_class=c.customer_class,
            district=c.district, town=c.town, area_code=area.code, area_name=area.name,
            tariff_code=c.tariff_code, tariff_name=product.name if product else c.tariff_code,
            score=round(score, 4), figures=figures))
    title, description = SEGMENT_TITLES[kind]
    description = description.format(days=days, min=min_saving_yuan, half=days // 2)
    return SegmentRead(kind=kind, title=title, description=description, as_of=now, start=first, end=last,
                       columns=[SegmentColumn(key=k, header=h) for k, h in columns], rows=rows, count=len(rows))


def _tou_beneficiaries(session, schedule, start, end, min_saving_yuan):
    res = schedule.residential
    tou = res.tou
    columns = [("daily_kwh", "日均用电(千瓦时)"), ("valley_share_pct", "谷段用电占比(%)"),
               ("annual_flat_yuan", "现行阶梯电价年电费(元)"), ("annual_tou_yuan", "峰谷电价年电费(元)"),
               ("annual_saving_yuan", "测算年节省(元)")]
    if tou is None:
        return columns, []
    bands = tou.bands()
    sums = _group_sums(session, _residential_meters(schedule, ("residential_tiered",)), start, end,
                       {b: tou.hours_of(b) for b in bands[:-1]})
    out = []
    threshold = tariffs.to_fen(min_saving_yuan)
    for meter_id, m in sums.items():
        if m.hours < MIN_HOURS or m.kwh <= 0:
            continue
        weights = dict(m.groups)
        weights[bands[-1]] = max(0.0, m.kwh - sum(weights.values()))
        daily = Decimal(repr(round(m.kwh, 3))) * 24 / m.hours
        if res.tier_period == "month":
            month = _q(daily * DAYS_PER_MONTH)
            split = split_total(month, {b: ZERO for b in bands}, weights)
            flat = tariffs.tiered_amount_fen(month, tiers=res.tiers) * 12
            tou_fen = tariffs.tou_amount_fen(split, tou=tou, tiers=res.tiers) * 12
        else:
            year = _q(daily * 365)
            split = split_total(year, {b: ZERO for b in bands}, weights)
            flat = tariffs.tiered_amount_fen(year, tiers=res.tiers)
            tou_fen = tariffs.tou_amount_fen(split, tou=tou, tiers=res.tiers)
        saving = flat - tou_fen
        if saving < threshold:
            continue
        valley = weights.get("valley", 0.0) / m.kwh
        out.append((meter_id, saving / 100, {
            "daily_kwh": round(float(daily), 2), "valley_share_pct": round(valley * 100, 1),
            "annual_flat_yuan": _yuan(flat), "annual_tou_yuan": _yuan(tou_fen), "annual_saving_yuan": _yuan(saving)}))
    return columns, out


def _night_heavy(session, schedule, start, end):
    columns = [("daily_kwh", "日均用电(千瓦时)"), ("night_share_pct", "夜间(22—6点)用电占比(%)"),
               ("night_kwh_per_day", "夜间日均用电(千瓦时)"), ("jump_kw", "晚间负荷最大跳升(千瓦)"),
               ("jump_at", "跳升时刻"), ("high_hours_per_week", "夜间≥3千瓦的小时数(每周)")]
    meters = _residential_meters(schedule, tariffs.RESIDENTIAL_KINDS)
    # first pass over everyone, grouped by meter only: the night's share and its high-power hours
    sums = _group_sums(session, meters, start, end, {"night": NIGHT_HOURS}, high_hours=NIGHT_HOURS)
    candidates = {m: s for m, s in sums.items()
                  if s.hours >= MIN_HOURS and s.kwh > 0 and s.groups["night"] / s.kwh >= NIGHT_SHARE}
    if not candidates:
        return columns, []
    # second pass, candidates only: the hourly profile, for the evening jump
    profiles = _hour_sums(session, sorted(candidates), start, end)
    out = []
    for meter_id, m in candidates.items():
        arr = profiles.get(meter_id)
        if arr is None or (arr[1] == 0).any():
            continue
        mean_kw = arr[0] / arr[1]
        jumps = {h: float(mean_kw[h] - mean_kw[h - 1]) for h in (20, 21, 22, 23, 0, 1)}
        jump_at = max(jumps, key=jumps.get)
        per_week = m.high * 7 * 24 / m.hours
        if not (jumps[jump_at] >= EV_JUMP_KW or per_week >= EV_HOURS_PER_WEEK):
            continue
        days = m.hours / 24
        night = m.groups["night"]
        out.append((meter_id, night / days, {
            "daily_kwh": round(m.kwh / days, 2), "night_share_pct": round(night / m.kwh * 100, 1),
            "night_kwh_per_day": round(night / days, 2), "jump_kw": round(jumps[jump_at], 2),
            "jump_at": f"{jump_at}:00", "high_hours_per_week": round(per_week, 1)}))
    return columns, out


def _high_growth(session, start, end, days):
    columns = [("earlier_daily_kwh", "前期日均用电(千瓦时)"), ("recent_daily_kwh", "近期日均用电(千瓦时)"),
               ("growth_pct", "增长(%)"), ("increase_kwh_per_day", "每天多用(千瓦时)")]
    mid = start + (end - start) / 2
    recent = Reading.ts >= mid
    rows = session.execute(
        select(Reading.meter_id,
               func.sum(case((recent, Reading.kwh), else_=0)), func.sum(case((recent, 1), else_=0)),
               func.sum(case((recent, 0), else_=Reading.kwh)), func.sum(case((recent, 0), else_=1)))
        .where(Reading.ts >= start, Reading.ts < end).group_by(Reading.meter_id))
    out = []
    half_hours = MIN_HOURS / 2
    for meter_id, r_kwh, r_n, e_kwh, e_n in rows:
        if not r_n or not e_n or r_n < half_hours or e_n < half_hours:
            continue
        before = float(e_kwh) * 24 / int(e_n)
        after = float(r_kwh) * 24 / int(r_n)
        if before <= 0:
            continue
        growth = (after - before) / before
        if growth < 0.3 or after - before < 2:
            continue
        out.append((meter_id, growth * 100, {
            "earlier_daily_kwh": round(before, 2), "recent_daily_kwh": round(after, 2),
            "growth_pct": round(growth * 100, 1), "increase_kwh_per_day": round(after - before, 2)}))
    return columns, out


def _near_tier_2(session, schedule, now):
    res = schedule.residential
    columns = [("kwh_so_far", "本月已用电(千瓦时)"), ("projected_kwh", "预计全月用电(千瓦时)"),
               ("tier1_kwh", "第一档上限(千瓦时)"), ("kwh_left", "距第二档剩余(千瓦时)"),
               ("projected_over_kwh", "预计超出(千瓦时)"), ("days_left", "本月剩余天数")]
    kinds = ("residential_tiered", "residential_tou") if res.tou is not None and res.tou.tier_markup \
        else ("residential_tiered",)
    today = customers.local_today(now)
    first = today.replace(day=1)
    month_start, month_end = local_midnight(first), local_midnight(next_month(first))
    week_start = now - timedelta(days=7)
    in_week = Reading.ts >= week_start
    in_month = Reading.ts >= month_start
    rows = session.execute(
        select(Reading.meter_id,
               func.sum(case((in_month, Reading.kwh), else_=0)), func.sum(case((in_month, 1), else_=0)),
               func.sum(case((in_week, Reading.kwh), else_=0)), func.sum(case((in_week, 1), else_=0)))
        .where(Reading.meter_id.in_(_residential_meters(schedule, kinds)),
               Reading.ts >= min(month_start, week_start), Reading.ts < now)
        .group_by(Reading.meter_id))
    used: dict[int, Decimal] = {}
    if res.tier_period == "year":
        used = {m: Decimal(v or 0) for m, v in session.execute(
            select(Meter.id, func.sum(Bill.kwh)).join(Bill, Bill.customer_id == Meter.customer_id)
            .where(Bill.period >= f"{first.year}-01", Bill.period < f"{first:%Y-%m}").group_by(Meter.id))}
    tier1 = res.tiers[0].up_to_kwh
    month_hours = int((month_end - month_start).total_seconds() // 3600)
    days_left = max(0.0, (month_end - now).total_seconds() / 86400)
    out = []
    for meter_id, m_kwh, m_n, w_kwh, w_n in rows:
        if not w_n or int(w_n) < 24:
            continue
        so_far = Decimal(repr(float(m_kwh or 0)))
        rate = Decimal(repr(float(w_kwh))) / int(w_n)
        projected = so_far + rate * max(0, month_hours - int(m_n or 0))
        before = used.get(meter_id, ZERO)
        if before + so_far >= tier1 or before + projected < Decimal("0.9") * tier1:
            continue
        out.append((meter_id, float((before + projected) / tier1), {
            "kwh_so_far": float(_q(so_far)), "projected_kwh": float(_q(projected)), "tier1_kwh": float(tier1),
            "kwh_left": float(_q(tier1 - before - so_far)),
            "projected_over_kwh": float(_q(max(ZERO, before + projected - tier1))),
            "days_left": round(days_left, 1)}))
    return columns, out


def segments_csv(segment: SegmentRead) -> bytes:
    """The segment as CSV for Excel: UTF-8 with a BOM, Chinese headers, one row per customer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([h for _, h in BASE_HEADERS] + [c.header for c in segment.columns])
    for row in segment.rows:
        data = row.model_dump()
        writer.writerow([data[k] for k, _ in BASE_HEADERS] + [row.figures.get(c.key, "") for c in segment.columns])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
