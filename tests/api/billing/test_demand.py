"""Demand management on the seeded demo database: bill forecast, consumption analysis, the 峰谷
comparison, tips and segments. Synthetic customers are planted with readings whose numbers are
worked out by hand in the comments. Runs on SQLite, and on PostgreSQL when DATABASE_URL is set.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from sqlalchemy import func, insert, select

from api.billing import advice, tariffs
from api.billing.models import Bill
from api.core.errors import NotFound
from api.core.time import LOCAL_TZ
from api.customers import service as customers
from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.flows import billing
from api.metering.models import Meter, Reading

UTC = timezone.utc
NORMAL = SHOWCASE["normal"][0]
COMMERCIAL = SHOWCASE["commercial"][0]


@pytest.fixture
def now(session) -> datetime:
    """20 minutes after the demo's last hourly reading (the demo is seeded up to the current hour)."""
    return session.scalar(select(func.max(Reading.ts))) + timedelta(minutes=20)


@pytest.fixture
def demo_tariffs():
    return tariffs.schedule_for(region="nx-guyuan-demo", year=2026)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def plant(session, number: int, *, days: list[date], kwh: Callable[[date, int], str],
          tariff_code: str = "NX-RES-TIER", near: str = NORMAL) -> Customer:
    """A residential customer in `near`'s transformer area, with hourly kWh kwh(local day, local hour)."""
    neighbour = customers.get_by_account_no(session=session, account_no=near)
    c = Customer(account_no=f"0409{number:06d}", name="测试用户", mobile=f"1390909{number:04d}",
                 address=f"{neighbour.district}{neighbour.town}测试路{number}号", district=neighbour.district,
                 town=neighbour.town, area_class=neighbour.area_class, lat=neighbour.lat, lon=neighbour.lon,
                 customer_class="居民", tariff_code=tariff_code, contract_capacity_kva=D("8"),
                 transformer_area_id=neighbour.transformer_area_id, opened_on=date(2020, 1, 1))
    session.add(c)
    session.flush()
    meter = Meter(meter_no=f"6409{number:012d}", customer_id=c.id, transformer_area_id=c.transformer_area_id,
                  phases=1, installed_on=date(2020, 1, 1))
    session.add(meter)
    session.flush()
    rows = []
    for day in days:
        for hour in range(24):
            value = D(kwh(day, hour))
            rows.append({"meter_id": meter.id, "ts": local(day, hour), "kwh": value, "kw": value,
                         "voltage_a": D("220.0"), "current_a": (value * 1000 / 220).quantize(D("0.01"))})
    session.execute(insert(Reading), rows)
    session.commit()
    return c


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def ev_home(day: date, hour: int) -> str:
    """0.2 kWh every hour, +0.6 from 18 to 22 h, and a 7 kW car charger from 23:00 to 02:00.

    A day: 24 × 0.2 + 4 × 0.6 + 3 × 7.0 = 4.8 + 2.4 + 21 = 28.2 kWh; night (22–6 h):
    8 × 0.2 + 21 = 22.6 kWh (80.1 %).
    """
    if hour in (23, 0, 1):
        return "7.2"
    return "0.8" if 18 <= hour < 22 else "0.2"


def evening_home(day: date, hour: int) -> str:
    """0.15 kWh an hour, 1.0 from 18 to 22 h: 20 × 0.15 + 4 × 1.0 = 7.0 kWh a day."""
    return "1.0" if 18 <= hour < 22 else "0.15"


# ---------------------------------------------------------------------------- bill forecast

def test_bill_forecast_of_a_demo_household(session, now, demo_tariffs):
    c = customers.get_by_account_no(session=session, account_no=NORMAL)
    f = billing.forecast_bill(session=session, customer=c, now=now)
    first = now.astimezone(LOCAL_TZ).date().replace(day=1)
    meter = session.scalar(select(Meter).where(Meter.customer_id == c.id))
    read = sum(D(k) for k in session.scalars(select(Reading.kwh).where(
        Reading.meter_id == meter.id, Reading.ts >= local(first), Reading.ts < now)))
    assert f.month == f"{first:%Y-%m}" and f.tariff_code == "NX-RES-TIER" and f.tariff_name == "居民生活阶梯电价"
    assert f.kwh_so_far == pytest.approx(float(read), abs=0.001)
    p = f.projected_kwh
    assert f.kwh_so_far - 0.01 <= p.p10 <= p.p50 <= p.p90
    if f.days_left >= 1:
        assert p.p90 > p.p10  # a real spread: the household's days differ
    # the amount is the tariff applied to the projected kWh, to the fen
    tiers = demo_tariffs.residential.tiers
    for q in ("p10", "p50", "p90"):
        money = getattr(f.projected_amount, q)
        assert money.fen == tariffs.tiered_amount_fen(D(repr(getattr(p, q))), tiers=tiers)
        assert money.yuan == f"{money.fen // 100}.{money.fen % 100:02d}"
    assert f.amount_so_far.fen == tariffs.tiered_amount_fen(D(str(read)), tiers=tiers)
    t = f.tier
    assert t.current_tier == tariffs.tier_of(D(str(read)), tiers=tiers)
    if t.current_tier == 1:
        assert t.kwh_left_in_tier == pytest.approx(170 - float(read), abs=0.01)
        assert t.next_tier_price_yuan == "0.4986"
    assert 0.0 <= t.next_tier_probability <= 1.0
    assert t.projected_tier == tariffs.tier_of(D(repr(p.p50)), tiers=tiers)
    if f.days_left >= 1:
        assert {lever.kind for lever in f.levers} >= {"reduce_daily", "switch_to_tou"}
    assert f.summary.startswith("截至") and f"{p.p50:.0f}千瓦时" in f.summary and f.projected_amount.p50.yuan in f.summary


def test_bill_forecast_of_a_commercial_customer_has_no_tiers(session, now):
    c = customers.get_by_account_no(session=session, account_no=COMMERCIAL)
    f = billing.forecast_bill(session=session, customer=c, now=now)
    assert f.tier is None and f.tariff_code == "NX-GC"
    # 一般工商业 is one price: 0.6236 元/kWh
    assert f.projected_amount.p50.fen == tariffs.to_fen(D(repr(f.projected_kwh.p50)) * D("0.6236"))
    assert [lever.kind for lever in f.levers] == (["reduce_daily"] if f.days_left >= 1 else [])


def test_bill_forecast_hand_checked(session, demo_tariffs):
    """0.5 kWh every hour = 12 kWh a day. On 21 April 00:20, 20 days are read: 240 kWh; the 10 days
    left bring about 120 kWh more → P50 ≈ 360 kWh (the month-wide level shift is median ≈ 0.9992)."""
    c = plant(session, 1, days=days_between(date(2026, 3, 20), date(2026, 4, 20)), kwh=lambda d, h: "0.5")
    now = local(date(2026, 4, 21), 0, 20)
    f = billing.forecast_bill(session=session, customer=c, now=now)
    assert f.month == "2026-04" and f.days_in_month == 30 and f.hours_missing == 0
    assert f.kwh_so_far == 240.0
    assert f.daily_kwh_typical == 12.0 and f.trend_factor == 1.0
    assert f.projected_kwh.p50 == pytest.approx(359.9, abs=0.6)
    assert 350 < f.projected_kwh.p10 < f.projected_kwh.p50 < f.projected_kwh.p90 < 370
    assert f.projected_amount.p50.fen == tariffs.tiered_amount_fen(D(repr(f.projected_kwh.p50)),
                                                                   tiers=demo_tariffs.residential.tiers)
    # 240 kWh so far: 76.262 + 70 × 0.4986 = 111.164 → 111.16
    assert f.amount_so_far.fen == 11116
    t = f.tier
    assert (t.current_tier, t.kwh_left_in_tier, t.projected_tier, t.next_tier_probability) == (2, 20.0, 3, 1.0)
    levers = {lever.kind: lever for lever in f.levers}
    # staying in 第二档 would need ~10 kWh less a day out of 12: not realistic
    assert levers["stay_in_tier"].feasible is False and levers["stay_in_tier"].kwh_per_day == pytest.approx(10.0, abs=0.1)
    # 1 kWh a day for the 9.99 days left, all in 第三档: 9.99 × 0.7486 = 7.48 元
    assert levers["reduce_daily"].kwh == 9.99
    assert abs(levers["reduce_daily"].saving.fen - 748) <= 1


def test_bill_forecast_of_a_tou_household_prices_the_bands(session, now, demo_tariffs):
    tou_customer = session.scalar(select(Customer).where(Customer.tariff_code == "NX-RES-TOU").order_by(Customer.id))
    f = billing.forecast_bill(session=session, customer=tou_customer, now=now)
    assert f.projected_kwh.p10 <= f.projected_kwh.p50 <= f.projected_kwh.p90
    assert f.tier is not None  # 峰谷 households pay the 阶梯加价 too in this region
    if f.days_left >= 1:
        shift = next(lever for lever in f.levers if lever.kind == "shift_to_valley")
        # moving kWh from 峰 to 谷 saves the price difference 0.4786 − 0.2486 = 0.23 元 each (±1 fen rounding)
        assert abs(shift.saving.fen - tariffs.to_fen(D(repr(shift.kwh)) * D("0.23"))) <= 1
    # between everything at the 谷 price and everything at the 峰 price (plus the markup)
    kwh = D(repr(f.projected_kwh.p50))
    markup = tariffs.tier_markup_yuan(kwh, tiers=demo_tariffs.residential.tiers)
    assert tariffs.to_fen(kwh * D("0.2486") + markup) <= f.projected_amount.p50.fen <= tariffs.to_fen(kwh * D("0.4786") + markup)


# ---------------------------------------------------------------------------- 峰谷 comparison

def test_tou_comparison_night_heavy_saves_evening_peak_costs_more(session):
    """March 2026 read every hour (31 days), February billed without readings.

    Night-heavy: 0.5 kWh an hour from 22 to 6 h, 0.1 otherwise: 5.6 kWh a day, 173.6 in March;
    谷 (22–8 h) 8 × 0.5 + 2 × 0.1 = 4.2 a day = 130.2, 峰 43.4.
      阶梯: 170 × 0.4486 + 3.6 × 0.4986 = 76.262 + 1.79496 = 78.05696 → 78.06
      峰谷: 43.4 × 0.4786 + 130.2 × 0.2486 = 20.77124 + 32.36772 = 53.13896, + 3.6 × 0.05 = 53.31896 → 53.32
    February 150 kWh billed, split by the March shape (谷 75 %): 112.5 谷, 37.5 峰.
      阶梯: 150 × 0.4486 = 67.29; 峰谷: 37.5 × 0.4786 + 112.5 × 0.2486 = 17.9475 + 27.9675 = 45.915 → 45.92
    Evening-peak: 1.0 kWh an hour from 18 to 22 h, 0.05 otherwise: 5.0 kWh a day, 155 in March;
    谷 10 × 0.05 = 0.5 a day = 15.5, 峰 139.5.
      阶梯: 155 × 0.4486 = 69.533 → 69.53; 峰谷: 139.5 × 0.4786 + 15.5 × 0.2486 = 66.7647 + 3.8533 = 70.618 → 70.62
    """
    march = days_between(date(2026, 3, 1), date(2026, 3, 31))
    night = plant(session, 11, days=march, kwh=lambda d, h: "0.5" if (h >= 22 or h < 6) else "0.1")
    evening = plant(session, 12, days=march, kwh=lambda d, h: "1.0" if 18 <= h < 22 else "0.05")
    for c, kwh in ((night, "173.60"), (evening, "155.00")):
        session.add(Bill(customer_id=c.id, period="2026-03", kwh=D(kwh), amount_fen=1, due_date=date(2026, 4, 25),
                         paid=True, paid_at=local(date(2026, 4, 2))))
    session.add(Bill(customer_id=night.id, period="2026-02", kwh=D("150.00"), amount_fen=6729,
                     due_date=date(2026, 3, 25), paid=True, paid_at=local(date(2026, 3, 2))))
    session.commit()
    now = local(date(2026, 4, 10), 9)

    r = billing.tou_comparison(session=session, customer=night, now=now)
    assert r.applicable and not r.on_tou and r.method == "mixed" and r.months_covered == 2
    feb, mar = r.months
    assert (feb.period, feb.method, feb.band_kwh) == ("2026-02", "shape_scaled", {"peak": 37.5, "valley": 112.5})
    assert (feb.flat.fen, feb.tou.fen, feb.saving.fen) == (6729, 4592, 2137)
    assert (mar.period, mar.method, mar.band_kwh) == ("2026-03", "readings", {"peak": 43.4, "valley": 130.2})
    assert (mar.flat.fen, mar.tou.fen, mar.saving.fen, mar.billed.fen) == (7806, 5332, 2474, 1)
    assert (r.flat_total.fen, r.tou_total.fen, r.saving_total.fen) == (14535, 9924, 4611)
    assert r.annual_saving_estimate.fen == 27666  # 4611 × 12 / 2
    assert r.annual_saving_estimate.yuan == "276.66"
    assert r.valley_share == 0.75  # (112.5 + 130.2) / 323.6
    assert "每年约可省276.66元" in r.recommendation and "建议办理" in r.recommendation

    r = billing.tou_comparison(session=session, customer=evening, now=now)
    assert r.method == "readings" and r.months_covered == 1
    (mar,) = r.months
    assert mar.band_kwh == {"peak": 139.5, "valley": 15.5}
    assert (mar.flat.fen, mar.tou.fen, mar.saving.fen) == (6953, 7062, -109)
    assert r.annual_saving_estimate.fen == -1308  # −1.09 元 × 12
    assert "多花约13.08元" in r.recommendation and "不建议" in r.recommendation


def test_tou_comparison_is_for_residents_only(session, now):
    c = customers.get_by_account_no(session=session, account_no=COMMERCIAL)
    r = billing.tou_comparison(session=session, customer=c, now=now)
    assert not r.applicable and r.months == [] and "居民" in r.reason


def test_tou_comparison_without_bills_scales_recent_days(session, now):
    c = customers.get_by_account_no(session=session, account_no=NORMAL)
    r = billing.tou_comparison(session=session, customer=c, now=now)
    assert r.applicable and r.method == "recent_days_scaled" and r.months_covered == 1
    (month,) = r.months
    assert month.period.startswith("近") and month.billed is None
    assert sum(month.band_kwh.values()) == pytest.approx(month.kwh, abs=0.001)
    assert month.saving.fen == month.flat.fen - month.tou.fen
    assert r.annual_saving_estimate.fen == 12 * month.saving.fen


# ---------------------------------------------------------------------------- consumption analysis

@pytest.fixture
def planted(session, now):
    """Three EV homes, an evening home with one unusual day, and a home whose use grows every day,
    over the 7 complete local days before `now` (the growing one over 14 days)."""
    today = now.astimezone(LOCAL_TZ).date()
    week = days_between(today - timedelta(days=7), today - timedelta(days=1))
    evs = [plant(session, 21 + i, days=week, kwh=ev_home) for i in range(3)]
    spike_day = week[3]
    # daily 7.0 kWh with small wobbles, and four times as much on the spike day (index 3)
    wobble = {0: "1", 1: "1", 2: "0.9", 3: "1", 4: "1.1", 5: "1", 6: "1.2"}

    def spiky(day: date, hour: int) -> str:
        factor = D(wobble[week.index(day)]) if day != spike_day else D("4")
        return str(D(evening_home(day, hour)) * factor)

    spiky_home = plant(session, 31, days=week, kwh=spiky)
    fortnight = days_between(today - timedelta(days=14), today - timedelta(days=1))
    growing = plant(session, 41, days=fortnight,
                    kwh=lambda d, h: "0.25" if fortnight.index(d) < 7 else "0.5")  # 6 kWh a day, then 12
    return {"evs": evs, "spiky": spiky_home, "spike_day": spike_day, "growing": growing, "week": week}


def test_profile_cluster_and_peers_of_an_ev_home(session, now, planted):
    ev = planted["evs"][0]
    a = billing.analyse(session=session, customer=ev, now=now, days=7)
    assert a.days_with_data == 7 and a.start == planted["week"][0] and a.end == planted["week"][-1]
    assert a.average_daily_kwh == 28.2
    assert a.profile_kw[23] == 7.2 and a.profile_kw[12] == 0.2 and a.profile_kw[19] == 0.8
    assert a.base_load_kw == 0.2  # 5th percentile of the hours
    bands = {b.band: b for b in a.bands}
    # 谷 22–8 h: 10 × 0.2 + 21 = 23 kWh a day of 28.2 → 81.56 %
    assert bands["valley"].kwh == 161.0 and bands["valley"].share == pytest.approx(23 / 28.2, abs=1e-4)
    assert bands["peak"].kwh == 36.4
    assert a.cluster.own_label == "夜间用电型"
    assert a.cluster.label == "夜间用电型"
    assert a.cluster.cluster_size >= 3 and a.cluster.peers > 100
    assert a.trend.direction == "平稳" and a.trend.slope_kwh_per_day == 0.0
    assert a.unusual_days == []
    cmp = a.comparison
    # the other two EV homes of the area use as much (each counts half), every demo household less
    others = cmp.peers
    assert cmp.scope == "台区" and cmp.percentile_rank == round(100 * (others - 2 + 1) / others, 1)
    assert cmp.peer_median_daily_kwh < 28.2
    assert "28.2千瓦时" in cmp.text
    # a demo household is an evening-peak home, like most of its class
    normal = customers.get_by_account_no(session=session, account_no=NORMAL)
    b = billing.analyse(session=session, customer=normal, now=now, days=7)
    assert b.cluster.label == "晚高峰型" and b.cluster.own_label == "晚高峰型"


def test_unusual_day_and_trend(session, now, planted):
    a = billing.analyse(session=session, customer=planted["spiky"], now=now, days=7)
    # days: 7.0 × (1, 1, 0.9, 4, 1.1, 1, 1.2) = 7, 7, 6.3, 28, 7.7, 7, 8.4 → median 7.0; deviations
    # 0, 0, 0.7, 21, 0.7, 0, 1.4 → MAD 0.7; z = 0.6745 × 21 / 0.7 = 20.235 (8.4 gives only 1.349)
    (day,) = a.unusual_days
    assert day.date == planted["spike_day"] and day.kwh == 28.0 and day.direction == "偏高"
    assert day.ratio_to_median == 4.0
    assert day.z == pytest.approx(20.235, abs=0.01)
    assert a.cluster.own_label == "晚高峰型"

    g = billing.analyse(session=session, customer=planted["growing"], now=now, days=14)
    # 6 kWh a day for a week, then 12: slope = Σ(x − 6.5)·y / Σ(x − 6.5)² = 6 × 24.5 / 227.5 = 0.6462 kWh/day;
    # across the 13 steps that is 8.4 kWh on a mean of 9 → +93.3 %
    assert g.trend.direction == "上升"
    assert g.trend.slope_kwh_per_day == pytest.approx(0.646, abs=0.001)
    assert g.trend.change_pct == pytest.approx(93.3, abs=0.05)


# ---------------------------------------------------------------------------- tips

def test_tips_quote_the_customers_own_numbers(session, now, planted):
    ev = planted["evs"][0]
    advice_read = billing.tips(session=session, customer=ev, now=now)
    assert 3 <= len(advice_read.tips) <= 5
    kinds = [t.kind for t in advice_read.tips]
    assert len(set(kinds)) == len(kinds)
    decision = next(t for t in advice_read.tips if t.kind == "tou_decision")
    assert "建议办理" in decision.text and decision.saving_per_month.fen > 0
    assert all("千瓦" in t.text or "元" in t.text or "%" in t.text for t in advice_read.tips)
    normal = customers.get_by_account_no(session=session, account_no=NORMAL)
    tips = billing.tips(session=session, customer=normal, now=now).tips
    assert 3 <= len(tips) <= 5
    shift = next(t for t in tips if t.kind == "shift_evening")
    assert shift.text.startswith("您每天") and "点平均用电" in shift.text and "挪到22点以后" in shift.text


# ---------------------------------------------------------------------------- segments

def test_night_heavy_segment_finds_the_ev_homes(session, now, planted):
    seg = billing.segments(session=session, now=now, kind="night_heavy")
    accounts = [r.account_no for r in seg.rows]
    assert {c.account_no for c in planted["evs"]} <= set(accounts)
    assert planted["spiky"].account_no not in accounts and planted["growing"].account_no not in accounts
    row = next(r for r in seg.rows if r.account_no == planted["evs"][0].account_no)
    assert row.masked_name == "测**户" and row.district and row.area_code.startswith("TA")
    # hand-checked above: 28.2 kWh a day, 22.6 at night (80.1 %), +7.0 kW at 23:00, 21 high hours a week
    assert row.figures == {"daily_kwh": 28.2, "night_share_pct": 80.1, "night_kwh_per_day": 22.6, "jump_kw": 7.0,
                           "jump_at": "23:00", "high_hours_per_week": 21.0}
    assert seg.count == len(seg.rows) and seg.title.startswith("夜间用电多")

    data = advice.segments_csv(seg)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("户号,户名,用电类别,区县,乡镇（街道）,台区编号,台区名称,电价,日均用电(千瓦时)")
    assert len(lines) == 1 + seg.count
    assert f"{row.account_no},测**户,居民,{row.district}" in text and "居民生活阶梯电价" in text


def test_tou_beneficiaries_and_growth_segments(session, now, planted):
    seg = billing.segments(session=session, now=now, kind="tou_beneficiaries")
    row = next(r for r in seg.rows if r.account_no == planted["evs"][0].account_no)
    # 28.2 kWh a day → 857.28 kWh a month (× 30.4); 峰 5.2 / 28.2 of it = 158.08, 谷 699.20
    #   阶梯: 76.262 + 44.874 + 597.28 × 0.7486 (447.123808) = 568.259808 → 568.26
    #   峰谷: 158.08 × 0.4786 + 699.20 × 0.2486 = 75.657088 + 173.82112 = 249.478208,
    #         + 90 × 0.05 + 597.28 × 0.30 = 183.684 → 433.162208 → 433.16
    #   a year: 12 × (568.26 − 433.16) = 1621.20
    assert row.figures["annual_flat_yuan"] == "6819.12" and row.figures["annual_tou_yuan"] == "5197.92"
    assert row.figures["annual_saving_yuan"] == "1621.20"
    assert row.figures["valley_share_pct"] == 81.6
    assert all(D(r.figures["annual_saving_yuan"]) >= 30 for r in seg.rows)
    assert [r.score for r in seg.rows] == sorted((r.score for r in seg.rows), reverse=True)
    assert all(r.tariff_code == "NX-RES-TIER" for r in seg.rows)

    growth = billing.segments(session=session, now=now, kind="high_growth", days=14)
    row = next(r for r in growth.rows if r.account_no == planted["growing"].account_no)
    assert row.figures == {"earlier_daily_kwh": 6.0, "recent_daily_kwh": 12.0, "growth_pct": 100.0,
                           "increase_kwh_per_day": 6.0}

    near = billing.segments(session=session, now=now, kind="near_tier_2")
    assert all(r.figures["kwh_so_far"] < 170 <= r.figures["projected_kwh"] / 0.9 for r in near.rows)
    with pytest.raises(NotFound) as unknown:
        billing.segments(session=session, now=now, kind="everyone")
    assert unknown.value.code == "segment_not_found" and "tou_beneficiaries" in unknown.value.extra["kinds"]
