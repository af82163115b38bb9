"""Advice: would 峰谷 pricing pay, concrete tips from the customer's own pattern, and customer
segments staff can export for targeted outreach."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from api.billing import service, tariffs
from api.billing.bills import next_month, split_total
from api.billing.models import Bill
from api.billing.profiles import FULL_DAY_HOURS, NIGHT_HOURS, daily_totals
from api.billing.schemas import (
    Account,
    AdviceRead,
    BillForecastRead,
    ConsumptionAnalysisRead,
    Money,
    SegmentColumn,
    SegmentMember,
    SegmentRead,
    SegmentRow,
    Tip,
    TouComparisonRead,
    TouMonth,
)
from api.core.errors import NotFound
from api.core.exports import csv_document
from api.core.ids import mask_name
from api.core.time import local_day, local_midnight, to_local

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
    return tariffs.format_yuan(fen)


def _q(value: Decimal, places: Decimal = CENT) -> Decimal:
    return Decimal(value).quantize(places, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------ 峰谷 comparison

def _month_hours(period: str) -> int:
    first = date(int(period[:4]), int(period[5:7]), 1)
    return (next_month(first) - first).days * 24


def _shares(split: dict[str, Decimal]) -> dict[str, float]:
    total = sum(split.values(), ZERO)
    return {b: float(v / total) if total else 0.0 for b, v in split.items()}


def tou_applies(*, account: Account, now: datetime, region: str = tariffs.DEFAULT_REGION) -> bool:
    """Whether the 峰谷 comparison means anything for the account: residential, in a region with 峰谷."""
    schedule = tariffs.schedule_for(region=region, year=local_day(now).year)
    return tariffs.is_residential(schedule.tariff(account.tariff_code)) and schedule.residential.tou is not None


def billed_months(*, session: Session, account: Account, now: datetime, months: int = 12) -> list[Bill]:
    """The last `months` bills before this month, oldest first."""
    current = f"{local_day(now):%Y-%m}"
    return sorted((b for b in service.list_bills(session=session, customer_id=account.customer_id, months=months + 1)
                   if b.period < current), key=lambda b: b.period)[-months:]


def tou_windows(*, now: datetime, bills: list[Bill]) -> list[tuple[datetime, datetime]]:
    """Where to read the meter's hourly kWh for the comparison, in order until one has readings: the
    billed months and the year before this month, else the last RECENT_DAYS days."""
    today = local_day(now)
    first_now = today.replace(day=1)
    start = local_midnight(date(first_now.year - 1, first_now.month, 1))
    if bills:
        start = min(start, local_midnight(date(int(bills[0].period[:4]), int(bills[0].period[5:7]), 1)))
    return [(start, local_midnight(first_now)), (local_midnight(today - timedelta(days=RECENT_DAYS)), now)]


def tou_comparison(*, session: Session, account: Account, now: datetime, bills: list[Bill],
                   hourly: list[tuple[datetime, Decimal]] | None, region: str = tariffs.DEFAULT_REGION,
                   months: int = 12) -> TouComparisonRead:
    """The last `months` billed months priced both ways: 阶梯 alone and 峰谷 (+ 阶梯加价 as the region applies it).

    Each month's billed kWh is split into 峰谷 bands. A month whose hourly readings cover at least
    95 % of its hours is split by those readings (method "readings"); otherwise the hourly
    readings cover only part of the period and the customer's own average hourly shape (every
    reading of the last year before this month) is scaled to the month's billed kWh
    ("shape_scaled"); "mixed" when both happen. Without any billed month, the last complete local
    days of readings are scaled to one month ("recent_days_scaled"). Tiers follow the region's
    tier period (kWh already billed this year count for yearly tiers).

    `bills` are `billed_months`; `hourly` the meter's readings in the first of `tou_windows` that has
    any (None: the customer has no meter).
    """
    first_now = local_day(now).replace(day=1)
    current = f"{first_now:%Y-%m}"
    schedule = tariffs.schedule_for(region=region, year=first_now.year)
    product = schedule.tariff(account.tariff_code)
    on_tou = product.kind == "residential_tou"

    def empty(reason: str) -> TouComparisonRead:
        zero = Money.of(0)
        return TouComparisonRead(
            account_no=account.account_no, applicable=False, reason=reason, tariff_code=account.tariff_code,
            on_tou=on_tou, months=[], months_covered=0, flat_total=zero, tou_total=zero, saving_total=zero,
            annual_saving_estimate=zero, valley_share=None, method="none", method_note=reason, recommendation=reason)

    if not tariffs.is_residential(product) or schedule.residential.tou is None:
        return empty("峰谷电价测算只适用于居民生活用电。")
    if hourly is None:
        return empty("这个户号没有智能电表数据，暂时无法测算峰谷电费。")
    if not hourly:
        return empty("暂无分时用电数据，无法测算峰谷电费。")
    tou = schedule.residential.tou
    by_month: dict[str, list] = defaultdict(list)
    for ts, kwh in hourly:
        by_month[f"{to_local(ts):%Y-%m}"].append((ts, kwh))
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
            used = service.kwh_billed_before(session=session, customer_id=account.customer_id, month=period)
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
        account_no=account.account_no, applicable=True, reason=None, tariff_code=account.tariff_code,
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


def tips(*, account: Account, now: datetime, analysis: ConsumptionAnalysisRead, forecast: BillForecastRead,
         comparison: TouComparisonRead | None, region: str = tariffs.DEFAULT_REGION) -> AdviceRead:
    """3–5 concrete tips in Chinese built from the customer's own hours, kWh and 元: its analysis over
    RECENT_DAYS (no cluster needed), this month's bill forecast and, for residents, the 峰谷 comparison."""
    schedule = tariffs.schedule_for(region=region, year=local_day(now).year)
    product = schedule.tariff(account.tariff_code)
    residential = tariffs.is_residential(product)
    comparison = comparison if residential else None
    tou = tariffs.tou_plan_of(schedule=schedule, tariff_code=account.tariff_code)
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
    home = account.customer_class == "居民"
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
        capacity = Decimal(account.contract_capacity_kva)
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
    return AdviceRead(account_no=account.account_no, as_of=now, tips=[c.tip for c in chosen])


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


def require_segment_kind(kind: str) -> None:
    """NotFound ("segment_not_found", with the known kinds) unless `kind` is a segment."""
    if kind not in SEGMENT_KINDS:
        raise NotFound("segment_not_found", f"没有这个客户分群：{kind}", kinds=list(SEGMENT_KINDS))


def tariff_codes(schedule: tariffs.Schedule, kinds: tuple[str, ...]) -> list[str]:
    """The schedule's tariff codes of these kinds (segments look at residential customers on them)."""
    return [code for code, t in schedule.tariffs.items() if t.kind in kinds]


# Scored meters: (meter id, score, figures), best first once ranked.
Scored = list[tuple[int, float, dict]]
Columns = list[tuple[str, str]]
# Per meter (kWh, hours read, kWh per group of local hours, high-power hours), as metering sums them.
GroupSums = dict[int, tuple[float, int, dict[str, float], int]]


def rank(scored: Scored, limit: int | None = None) -> Scored:
    """Best score first (then meter id), at most `limit`."""
    ranked = sorted(scored, key=lambda item: (-item[1], item[0]))
    return ranked if limit is None else ranked[:limit]


def segment_read(*, kind: str, now: datetime, start: date, end: date, days: int, min_saving_yuan: Decimal,
                 schedule: tariffs.Schedule, columns: Columns, scored: Scored,
                 members: dict[int, SegmentMember]) -> SegmentRead:
    """The segment's rows in `scored` order; `members` gives each scored meter's customer and area."""
    rows = []
    for meter_id, score, figures in scored:
        c = members[meter_id]
        product = schedule.tariffs.get(c.tariff_code)
        rows.append(SegmentRow(
            account_no=c.account_no, masked_name=mask_name(c.name), customer_class=c.customer_class,
            district=c.district, town=c.town, area_code=c.area_code, area_name=c.area_name,
            tariff_code=c.tariff_code, tariff_name=product.name if product else c.tariff_code,
            score=round(score, 4), figures=figures))
    title, description = SEGMENT_TITLES[kind]
    description = description.format(days=days, min=min_saving_yuan, half=days // 2)
    return SegmentRead(kind=kind, title=title, description=description, as_of=now, start=start, end=end,
                       columns=[SegmentColumn(key=k, header=h) for k, h in columns], rows=rows, count=len(rows))


TOU_COLUMNS = [("daily_kwh", "日均用电(千瓦时)"), ("valley_share_pct", "谷段用电占比(%)"),
               ("annual_flat_yuan", "现行阶梯电价年电费(元)"), ("annual_tou_yuan", "峰谷电价年电费(元)"),
               ("annual_saving_yuan", "测算年节省(元)")]
TOU_KINDS = ("residential_tiered",)  # who could switch to 峰谷


def tou_groups(schedule: tariffs.Schedule) -> dict[str, tuple[int, ...]] | None:
    """The local hours of each 峰谷 band but the last (that one is the rest), None without a plan."""
    tou = schedule.residential.tou
    return None if tou is None else {b: tou.hours_of(b) for b in tou.bands()[:-1]}


def tou_beneficiaries(*, schedule: tariffs.Schedule, sums: GroupSums,
                      min_saving_yuan: Decimal) -> tuple[Columns, Scored]:
    """阶梯 households who would save at least `min_saving_yuan` a year on 峰谷 (sums by `tou_groups`)."""
    res = schedule.residential
    tou = res.tou
    if tou is None:
        return TOU_COLUMNS, []
    bands = tou.bands()
    out = []
    threshold = tariffs.to_fen(min_saving_yuan)
    for meter_id, (kwh, hours, groups, _high) in sums.items():
        if hours < MIN_HOURS or kwh <= 0:
            continue
        weights = dict(groups)
        weights[bands[-1]] = max(0.0, kwh - sum(weights.values()))
        daily = Decimal(repr(round(kwh, 3))) * 24 / hours
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
        valley = weights.get("valley", 0.0) / kwh
        out.append((meter_id, saving / 100, {
            "daily_kwh": round(float(daily), 2), "valley_share_pct": round(valley * 100, 1),
            "annual_flat_yuan": _yuan(flat), "annual_tou_yuan": _yuan(tou_fen), "annual_saving_yuan": _yuan(saving)}))
    return TOU_COLUMNS, out


NIGHT_COLUMNS = [("daily_kwh", "日均用电(千瓦时)"), ("night_share_pct", "夜间(22—6点)用电占比(%)"),
                 ("night_kwh_per_day", "夜间日均用电(千瓦时)"), ("jump_kw", "晚间负荷最大跳升(千瓦)"),
                 ("jump_at", "跳升时刻"), ("high_hours_per_week", "夜间≥3千瓦的小时数(每周)")]
NIGHT_GROUPS = {"night": NIGHT_HOURS}


def night_candidates(sums: GroupSums) -> GroupSums:
    """First pass, over every residential meter (sums by NIGHT_GROUPS, high hours at night at EV_KW):
    those with a week of readings whose night share is high."""
    return {m: s for m, s in sums.items()
            if s[1] >= MIN_HOURS and s[0] > 0 and s[2]["night"] / s[0] >= NIGHT_SHARE}


def night_heavy(*, candidates: GroupSums, by_hour: dict[int, dict[int, tuple[float, int, int]]]) -> tuple[Columns, Scored]:
    """Second pass, candidates only: their hourly profile (`by_hour`: hour → (kWh, hours, high hours))
    shows an evening jump or enough high-power night hours — likely an EV charging at home."""
    out = []
    for meter_id, (kwh, hours, groups, high) in candidates.items():
        hourly = by_hour.get(meter_id)
        if hourly is None or len(hourly) < 24 or any(hourly[h][1] == 0 for h in range(24)):
            continue
        mean_kw = [hourly[h][0] / hourly[h][1] for h in range(24)]
        jumps = {h: float(mean_kw[h] - mean_kw[h - 1]) for h in (20, 21, 22, 23, 0, 1)}
        jump_at = max(jumps, key=jumps.get)
        per_week = high * 7 * 24 / hours
        if not (jumps[jump_at] >= EV_JUMP_KW or per_week >= EV_HOURS_PER_WEEK):
            continue
        days = hours / 24
        night = groups["night"]
        out.append((meter_id, night / days, {
            "daily_kwh": round(kwh / days, 2), "night_share_pct": round(night / kwh * 100, 1),
            "night_kwh_per_day": round(night / days, 2), "jump_kw": round(jumps[jump_at], 2),
            "jump_at": f"{jump_at}:00", "high_hours_per_week": round(per_week, 1)}))
    return NIGHT_COLUMNS, out


GROWTH_COLUMNS = [("earlier_daily_kwh", "前期日均用电(千瓦时)"), ("recent_daily_kwh", "近期日均用电(千瓦时)"),
                  ("growth_pct", "增长(%)"), ("increase_kwh_per_day", "每天多用(千瓦时)")]


def growth_windows(start: datetime, end: datetime) -> dict[str, tuple[datetime, datetime]]:
    """The two halves of the window high_growth compares."""
    mid = start + (end - start) / 2
    return {"recent": (mid, end), "earlier": (start, mid)}


def high_growth(sums: dict[int, dict[str, tuple[float, int]]]) -> tuple[Columns, Scored]:
    """Meters whose daily kWh grew 30 % and 2 kWh or more from the earlier to the recent half
    (`sums`: per meter, (kWh, hours) in each of `growth_windows`)."""
    out = []
    half_hours = MIN_HOURS / 2
    for meter_id, halves in sums.items():
        (r_kwh, r_n), (e_kwh, e_n) = halves["recent"], halves["earlier"]
        if not r_n or not e_n or r_n < half_hours or e_n < half_hours:
            continue
        before = e_kwh * 24 / e_n
        after = r_kwh * 24 / r_n
        if before <= 0:
            continue
        growth = (after - before) / before
        if growth < 0.3 or after - before < 2:
            continue
        out.append((meter_id, growth * 100, {
            "earlier_daily_kwh": round(before, 2), "recent_daily_kwh": round(after, 2),
            "growth_pct": round(growth * 100, 1), "increase_kwh_per_day": round(after - before, 2)}))
    return GROWTH_COLUMNS, out


TIER_COLUMNS = [("kwh_so_far", "本月已用电(千瓦时)"), ("projected_kwh", "预计全月用电(千瓦时)"),
                ("tier1_kwh", "第一档上限(千瓦时)"), ("kwh_left", "距第二档剩余(千瓦时)"),
                ("projected_over_kwh", "预计超出(千瓦时)"), ("days_left", "本月剩余天数")]


def near_tier_kinds(schedule: tariffs.Schedule) -> tuple[str, ...]:
    """Tariff kinds whose households pay the 阶梯 tiers (峰谷 ones too where the markup applies)."""
    tou = schedule.residential.tou
    return ("residential_tiered", "residential_tou") if tou is not None and tou.tier_markup \
        else ("residential_tiered",)


def near_tier_windows(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """This month so far and the last seven days, the windows near_tier_2 reads."""
    first = local_day(now).replace(day=1)
    return {"month": (local_midnight(first), now), "week": (now - timedelta(days=7), now)}


def near_tier_2(*, schedule: tariffs.Schedule, now: datetime, sums: dict[int, dict[str, tuple[float, int]]],
                billed_before: dict[int, Decimal]) -> tuple[Columns, Scored]:
    """Households still in the first tier whom last week's pace takes near or past it this month
    (`sums`: per meter, (kWh, hours) in `near_tier_windows`; `billed_before`: per meter, kWh billed
    earlier this year, for yearly tiers)."""
    res = schedule.residential
    first = local_day(now).replace(day=1)
    month_start, month_end = local_midnight(first), local_midnight(next_month(first))
    used = billed_before if res.tier_period == "year" else {}
    tier1 = res.tiers[0].up_to_kwh
    month_hours = int((month_end - month_start).total_seconds() // 3600)
    days_left = max(0.0, (month_end - now).total_seconds() / 86400)
    out = []
    for meter_id, windows in sums.items():
        (m_kwh, m_n), (w_kwh, w_n) = windows["month"], windows["week"]
        if not w_n or w_n < 24:
            continue
        so_far = Decimal(repr(m_kwh))
        rate = Decimal(repr(w_kwh)) / w_n
        projected = so_far + rate * max(0, month_hours - m_n)
        before = used.get(meter_id, ZERO)
        if before + so_far >= tier1 or before + projected < Decimal("0.9") * tier1:
            continue
        out.append((meter_id, float((before + projected) / tier1), {
            "kwh_so_far": float(_q(so_far)), "projected_kwh": float(_q(projected)), "tier1_kwh": float(tier1),
            "kwh_left": float(_q(tier1 - before - so_far)),
            "projected_over_kwh": float(_q(max(ZERO, before + projected - tier1))),
            "days_left": round(days_left, 1)}))
    return TIER_COLUMNS, out


def segments_csv(segment: SegmentRead) -> bytes:
    """The segment as CSV for Excel: UTF-8 with a BOM, Chinese headers, one row per customer. Outreach goes by
    户号 (kept) through the usual channels: the name is masked, and no mobile, ID or address is in it (any
    such number in a cell would be masked, api.core.exports)."""
    header = [h for _, h in BASE_HEADERS] + [c.header for c in segment.columns]
    rows = ([getattr(row, k) for k, _ in BASE_HEADERS] + [row.figures.get(c.key, "") for c in segment.columns]
            for row in segment.rows)
    return csv_document([header, *rows]).encode("utf-8")
