"""Tariff arithmetic to the fen: 阶梯 tiers (monthly and yearly), 峰谷 bands across midnight, the YAML.

Every expected amount is worked out by hand in the comment next to it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from api.billing import tariffs
from api.billing.tariffs import (
    TariffError,
    amount_fen,
    kwh_left_in_tier,
    load_tariffs,
    schedule_for,
    split_by_band,
    tier_of,
    tier_slices,
    tiered_amount_fen,
    to_fen,
    tou_amount_fen,
)

UTC = timezone.utc


@pytest.fixture(scope="module")
def demo():
    """The demo region's schedule (170/260 kWh a month; 峰 8–22, 谷 22–8)."""
    return schedule_for(region="nx-guyuan-demo", year=2026)


@pytest.fixture
def yearly(tmp_path):
    """A region with yearly tiers (2,160 / 4,200 kWh a year) and a four-band 峰谷 plan."""
    path = tmp_path / "tariffs.yml"
    path.write_text("""
regions:
  test-yearly:
    name: 年度阶梯测试地区
    schedules:
      2025:
        source: 测试值
        residential:
          tier_period: year
          tiers:
            - {up_to_kwh: "2160", price: "0.4883"}
            - {up_to_kwh: "4200", price: "0.5383"}
            - {up_to_kwh: null, price: "0.7883"}
          tou:
            periods:
              - {band: valley, start: 23, end: 7}
              - {band: flat, start: 7, end: 10}
              - {band: peak, start: 10, end: 15}
              - {band: flat, start: 15, end: 18}
              - {band: peak, start: 18, end: 19}
              - {band: sharp, start: 19, end: 21}
              - {band: peak, start: 21, end: 23}
            prices: {sharp: "0.9000", peak: "0.6000", flat: 0.4500, valley: "0.2500"}
            tier_markup: true
        tariffs:
          Y-RES: {kind: residential_tiered, name: 居民阶梯}
          Y-TOU: {kind: residential_tou, name: 居民峰谷}
""", encoding="utf-8")
    return load_tariffs(path).schedule("test-yearly", 2026)


# ---------------------------------------------------------------------------- monthly tiers

@pytest.mark.parametrize("kwh, fen", [
    ("0", 0),
    ("100", 4486),      # 100 × 0.4486 = 44.86
    ("170", 7626),      # exactly at the first bound: 170 × 0.4486 = 76.262 → 76.26, all in 第一档
    ("170.01", 7627),   # 76.262 + 0.01 × 0.4986 = 76.266986 → 76.27
    ("260", 12114),     # 76.262 + 90 × 0.4986 = 121.136 → 121.14
    ("260.01", 12114),  # 121.136 + 0.01 × 0.7486 = 121.143486 → 121.14
    ("300", 15108),     # 121.136 + 40 × 0.7486 = 151.08
])
def test_monthly_tiers_to_the_fen(demo, kwh, fen):
    assert tiered_amount_fen(D(kwh), tiers=demo.residential.tiers) == fen


def test_rounding_is_half_up_once_at_the_end(demo):
    tiers = demo.residential.tiers
    # 75 × 0.4486 = 33.645 元 = 3364.5 fen: half-up gives 3365 (banker's rounding would give 3364)
    assert tiered_amount_fen(D("75"), tiers=tiers) == 3365
    # 225 kWh: 170 × 0.4486 + 55 × 0.4986 = 76.262 + 27.423 = 103.685 元 → 10369 fen
    assert tiered_amount_fen(D("225"), tiers=tiers) == 10369
    assert to_fen(D("0.005")) == 1 and to_fen(D("0.00499")) == 0 and to_fen(D("-0.005")) == -1


def test_crossing_a_tier_in_the_middle_of_the_month(demo):
    tiers = demo.residential.tiers
    # 150 kWh used already this month; the next 40: 20 in 第一档 and 20 in 第二档
    slices = tier_slices(D("40"), tiers=tiers, used_before=D("150"))
    assert [(s.tier, s.kwh, s.price, s.markup) for s in slices] == [
        (1, D("20"), D("0.4486"), D("0")), (2, D("20"), D("0.4986"), D("0.0500"))]
    # 20 × 0.4486 + 20 × 0.4986 = 8.972 + 9.972 = 18.944 → 18.94
    assert tiered_amount_fen(D("40"), tiers=tiers, used_before=D("150")) == 1894
    # the two parts add up to the month priced at once: 150 × 0.4486 = 67.29; 67.29 + 18.944 = 86.234
    # = 190 kWh at once: 170 × 0.4486 + 20 × 0.4986 = 76.262 + 9.972
    assert tariffs.tiered_yuan(D("150"), tiers=tiers) + tariffs.tiered_yuan(D("40"), tiers=tiers, used_before=D("150")) \
        == tariffs.tiered_yuan(D("190"), tiers=tiers) == D("86.234")


@pytest.mark.parametrize("used, tier, left", [
    ("0", 1, "170"), ("169.99", 1, "0.01"), ("170", 1, "0"), ("170.01", 2, "89.99"),
    ("260", 2, "0"), ("261", 3, None),
])
def test_tier_and_kwh_left_at_the_bounds(demo, used, tier, left):
    tiers = demo.residential.tiers
    assert tier_of(D(used), tiers=tiers) == tier
    assert kwh_left_in_tier(D(used), tiers=tiers) == (None if left is None else D(left))


# ---------------------------------------------------------------------------- yearly tiers

def test_the_years_first_month_starts_in_the_first_tier(yearly):
    tiers = yearly.residential.tiers
    assert yearly.residential.tier_period == "year"
    # January, nothing used yet: 200 × 0.4883 = 97.66
    assert tiered_amount_fen(D("200"), tiers=tiers, used_before=D("0")) == 9766


def test_yearly_tiers_count_the_kwh_already_used_this_year(yearly):
    tiers = yearly.residential.tiers
    # 2,100 kWh used before this month; 150 more: 60 × 0.4883 + 90 × 0.5383 = 29.298 + 48.447
    # = 77.745 元 = 7774.5 fen → 7775 half-up
    assert tiered_amount_fen(D("150"), tiers=tiers, used_before=D("2100")) == 7775
    # the same 150 kWh in a month with nothing used before: 150 × 0.4883 = 73.245 → 73.25
    assert tiered_amount_fen(D("150"), tiers=tiers) == 7325
    # crossing two bounds at once: 4,100 used; 300 more = 100 × 0.5383 + 200 × 0.7883 = 53.83 + 157.66
    assert tiered_amount_fen(D("300"), tiers=tiers, used_before=D("4100")) == 21149
    # exactly reaching the yearly bound keeps the month in 第一档: 60 × 0.4883 = 29.298 → 29.30
    assert tiered_amount_fen(D("60"), tiers=tiers, used_before=D("2100")) == 2930
    assert tier_of(D("2160"), tiers=tiers) == 1 and tier_of(D("2160.01"), tiers=tiers) == 2


# ---------------------------------------------------------------------------- 峰谷

def test_tou_bands_cross_midnight(demo):
    tou = demo.residential.tou
    assert [tou.band_of_hour(h) for h in (7, 8, 21, 22, 23, 0)] == ["valley", "peak", "peak", "valley", "valley", "valley"]
    assert tou.hours_of("valley") == (0, 1, 2, 3, 4, 5, 6, 7, 22, 23)
    assert tou.span("valley") == "22:00—次日8:00" and tou.span("peak") == "8:00—22:00"
    # readings are stamped at the start of the hour in UTC; Asia/Shanghai is UTC+8
    hourly = [
        (datetime(2026, 11, 3, 13, tzinfo=UTC), D("1.0")),   # 21:00 local → 峰
        (datetime(2026, 11, 3, 14, tzinfo=UTC), D("2.0")),   # 22:00 → 谷
        (datetime(2026, 11, 3, 15, tzinfo=UTC), D("3.0")),   # 23:00 → 谷
        (datetime(2026, 11, 3, 16, tzinfo=UTC), D("4.0")),   # 00:00 next day → 谷
        (datetime(2026, 11, 3, 23, tzinfo=UTC), D("0.5")),   # 07:00 → 谷
        (datetime(2026, 11, 4, 0, tzinfo=UTC), D("0.25")),   # 08:00 → 峰
    ]
    assert split_by_band(hourly, tou=tou) == {"peak": D("1.25"), "valley": D("9.5")}


def test_tou_amount_with_and_without_the_tier_markup(demo):
    res = demo.residential
    bands = {"peak": D("120"), "valley": D("80")}
    # 120 × 0.4786 + 80 × 0.2486 = 57.432 + 19.888 = 77.32; 30 kWh above 170 × 0.05 = 1.50 → 78.82
    assert res.tou.tier_markup is True
    assert tou_amount_fen(bands, tou=res.tou, tiers=res.tiers) == 7882
    assert tou_amount_fen(bands, tou=res.tou, tiers=res.tiers, tier_markup=False) == 7732
    # 300 kWh: 180 × 0.4786 + 120 × 0.2486 = 86.148 + 29.832 = 115.98; markup 90 × 0.05 + 40 × 0.30 = 16.50
    assert tou_amount_fen({"peak": D("180"), "valley": D("120")}, tou=res.tou, tiers=res.tiers) == 13248
    assert amount_fen(schedule=demo, tariff_code="NX-RES-TOU", kwh=D("300"),
                      band_kwh={"peak": D("180"), "valley": D("120")}) == 13248


def test_four_band_plan_across_midnight(yearly):
    tou = yearly.residential.tou
    assert [tou.band_of_hour(h) for h in (22, 23, 0, 6, 7, 10, 18, 19, 20, 21)] == [
        "peak", "valley", "valley", "valley", "flat", "peak", "peak", "sharp", "sharp", "peak"]
    assert tou.bands() == ("sharp", "peak", "flat", "valley")
    assert tou.span("valley") == "23:00—次日7:00" and tou.span("flat") == "7:00—10:00、15:00—18:00"
    assert tou.prices["flat"] == D("0.45")  # an unquoted YAML number is still an exact decimal
    bands = {"sharp": D("10"), "peak": D("50"), "flat": D("40"), "valley": D("100")}
    # 10 × 0.90 + 50 × 0.60 + 40 × 0.45 + 100 × 0.25 = 9 + 30 + 18 + 25 = 82.00, all in 第一档
    assert tou_amount_fen(bands, tou=tou, tiers=yearly.residential.tiers) == 8200
    # with 2,100 kWh used this year, 140 of the 200 fall in 第二档: markup 140 × 0.05 = 7.00
    assert tou_amount_fen(bands, tou=tou, tiers=yearly.residential.tiers, used_before=D("2100")) == 8900


def test_non_residential_tariffs(demo):
    # 一般工商业 1,000 kWh × 0.6236 = 623.60
    assert amount_fen(schedule=demo, tariff_code="NX-GC", kwh=D("1000")) == 62360
    # 大工业 10,000 × 0.4412 + 400 kVA × 21.00 = 4,412 + 8,400 = 12,812.00
    assert amount_fen(schedule=demo, tariff_code="NX-LI", kwh=D("10000"), contract_kva=D("400")) == 1281200
    assert amount_fen(schedule=demo, tariff_code="NX-RES-TIER", kwh=D("300")) == 15108


def test_a_tou_tariff_needs_bands_that_add_up(demo):
    with pytest.raises(ValueError, match="band"):
        amount_fen(schedule=demo, tariff_code="NX-RES-TOU", kwh=D("100"))
    with pytest.raises(ValueError, match="add up"):
        amount_fen(schedule=demo, tariff_code="NX-RES-TOU", kwh=D("100"),
                   band_kwh={"peak": D("60"), "valley": D("30")})
    with pytest.raises(ValueError, match="negative"):
        tiered_amount_fen(D("-1"), tiers=demo.residential.tiers)


# ---------------------------------------------------------------------------- the book

def test_unknown_region_year_and_tariff_code_are_clear_errors(demo):
    with pytest.raises(TariffError, match="region 'gd-nowhere'.*known: nx-guyuan-demo"):
        schedule_for(region="gd-nowhere", year=2026)
    with pytest.raises(TariffError, match="in 2019 .*schedules from 2024"):
        schedule_for(region="nx-guyuan-demo", year=2019)
    with pytest.raises(TariffError, match="'NX-XYZ'"):
        demo.tariff("NX-XYZ")
    # a schedule stays in force until a later one is listed
    assert schedule_for(region="nx-guyuan-demo", year=2031) is schedule_for(region="nx-guyuan-demo", year=2024)


def test_the_demo_region_matches_the_knowledge_base_values(demo):
    """tariffs.yml and knowledge_base/values/nx-guyuan-demo.yml quote the same figures."""
    import yaml

    values = yaml.safe_load(open(tariffs.TARIFFS_PATH.parents[2] / "knowledge_base" / "values" / "nx-guyuan-demo.yml",
                                 encoding="utf-8"))["values"]
    res = demo.residential
    assert [t.up_to_kwh for t in res.tiers] == [D(values["res_tier1_month_kwh"]["value"]),
                                                D(values["res_tier2_month_kwh"]["value"]), None]
    assert [t.price for t in res.tiers] == [D(values[f"res_tier{i}_price"]["value"]) for i in (1, 2, 3)]
    assert res.tiers[1].price - res.tiers[0].price == D(values["res_tier2_markup"]["value"])
    assert res.tiers[2].price - res.tiers[0].price == D(values["res_tier3_markup"]["value"])
    assert res.tou.prices == {"peak": D(values["tou_peak_price"]["value"]), "valley": D(values["tou_valley_price"]["value"])}
    assert res.tou.span("peak") == values["tou_peak_hours"]["value"]
    assert res.tou.span("valley") == values["tou_valley_hours"]["value"]
    assert demo.tariff("NX-GC").price == D(values["gc_price"]["value"])
    assert demo.tariff("NX-LI").price == D(values["li_energy_price"]["value"])
    assert demo.tariff("NX-LI").capacity_yuan_per_kva_month == D(values["li_capacity_price"]["value"])


@pytest.mark.parametrize("periods, prices, tiers, message", [
    ('[{band: peak, start: 8, end: 22}, {band: valley, start: 21, end: 8}]', '{peak: "1", valley: "1"}',
     '[{up_to_kwh: "170", price: "1"}, {up_to_kwh: null, price: "2"}]', "two"),
    ('[{band: peak, start: 8, end: 22}, {band: valley, start: 23, end: 8}]', '{peak: "1", valley: "1"}',
     '[{up_to_kwh: "170", price: "1"}, {up_to_kwh: null, price: "2"}]', "no 峰谷 period"),
    ('[{band: peak, start: 8, end: 22}, {band: valley, start: 22, end: 8}]', '{peak: "1"}',
     '[{up_to_kwh: "170", price: "1"}, {up_to_kwh: null, price: "2"}]', "without a price"),
    ('[{band: peak, start: 8, end: 22}, {band: valley, start: 22, end: 8}]', '{peak: "1", valley: "1"}',
     '[{up_to_kwh: "260", price: "1"}, {up_to_kwh: "170", price: "1"}, {up_to_kwh: null, price: "2"}]',
     "increasing"),
    ('[{band: peak, start: 8, end: 22}, {band: valley, start: 22, end: 8}]', '{peak: "1", valley: "1"}',
     '[{up_to_kwh: "170", price: "1"}]', "no upper bound"),
])
def test_a_broken_tariff_file_is_refused(tmp_path, periods, prices, tiers, message):
    path = tmp_path / "broken.yml"
    path.write_text(f"""
regions:
  broken:
    name: 错误示例
    schedules:
      2026:
        source: 测试值
        residential:
          tier_period: month
          tiers: {tiers}
          tou: {{periods: {periods}, prices: {prices}}}
        tariffs:
          B-RES: {{kind: residential_tiered, name: 居民}}
""", encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_tariffs(path)
