"""Line-loss arithmetic (api.audit.lineloss) on hand-made numbers: supplied = sold + loss for areas and
feeders, rates, 高损/负损/missing flags, monthly = the sum of the month's days, power factor, ranking."""
from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from api.audit import lineloss as ll
from api.audit.lineloss import Limits, Sold, Supplied

DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)


def sold(unit, day, kwh, meters=10, reporting=10):
    return Sold(unit, day, D(kwh), meters, reporting)


def test_supplied_is_sold_plus_loss_with_the_rate_per_area():
    rows = ll.daily_loss(
        [Supplied("TA01", DAY1, D("1000.000"), D("300")), Supplied("TA02", DAY1, D("500.000"))],
        [sold("TA01", DAY1, "960.500"), sold("TA02", DAY1, "400.000")],
        units=["TA01", "TA02"], days=[DAY1], limit=0.07)
    a, b = rows
    assert a.supplied_kwh == a.sold_kwh + a.loss_kwh and a.loss_kwh == D("39.500")
    assert a.loss_rate == pytest.approx(0.0395) and a.status == "ok"
    assert b.loss_kwh == D("100.000") and b.loss_rate == pytest.approx(0.2) and b.status == "high"
    assert a.power_factor == pytest.approx(1000 / math.hypot(1000, 300), abs=1e-4)  # 0.9578
    assert b.power_factor is None  # no reactive energy recorded


def test_limit_is_strictly_above_and_configurable():
    at_limit = ll.judge(D("100"), D("93"), limit=0.07)
    assert at_limit.loss_rate == pytest.approx(0.07) and at_limit.status == "ok"
    assert ll.judge(D("100"), D("92.9"), limit=0.07).status == "high"
    assert ll.judge(D("100"), D("97"), limit=0.02).status == "high"


def test_negative_loss_is_flagged_as_a_data_problem():
    row = ll.judge(D("750"), D("1000"), limit=0.07, unit="TA03")
    assert row.loss_kwh == D("-250.000") and row.loss_rate == pytest.approx(-1 / 3, abs=1e-6)
    assert row.status == "negative"
    assert ll.judge(D("1000"), D("1000"), limit=0.07).status == "ok"  # zero loss is not negative
    assert ll.judge(D("1000"), D("1003"), limit=0.07, limits=Limits(negative_below=-0.005)).status == "ok"


def test_missing_supply_or_too_few_readings_give_no_rate():
    rows = ll.daily_loss([Supplied("TA01", DAY1, D("1000"))],
                         [sold("TA01", DAY1, "900", reporting=8), sold("TA01", DAY2, "950")],
                         units=["TA01"], days=[DAY1, DAY2], limit=0.07)
    few, no_supply = rows
    assert few.status == "missing" and few.loss_rate is None and few.loss_kwh is None
    assert few.reasons == ("few_readings",)
    assert no_supply.status == "missing" and no_supply.loss_rate is None and no_supply.reasons == ("no_supply",)
    assert no_supply.sold_kwh == D("950.000")  # what is known is still shown
    enough = ll.daily_loss([Supplied("TA01", DAY1, D("1000"))], [sold("TA01", DAY1, "900", reporting=9)],
                           units=["TA01"], days=[DAY1], limit=0.07)[0]
    assert enough.status == "high" and enough.loss_rate == pytest.approx(0.1)
    nothing_sold = ll.daily_loss([Supplied("TA01", DAY1, D("1000"))], [], units=["TA01"], days=[DAY1], limit=0.07)[0]
    assert nothing_sold.status == "missing" and nothing_sold.reasons == ("no_sales",)
    assert ll.judge(D("0"), D("0"), limit=0.07).status == "missing"  # nothing supplied: no rate either


def test_feeder_sales_sum_its_areas_and_the_feeder_balances():
    feeder_of = {"TA01": "F511", "TA02": "F511", "TA03": "F512"}
    area_sales = [sold("TA01", DAY1, "960.5"), sold("TA02", DAY1, "400", meters=5, reporting=5),
                  sold("TA03", DAY1, "100", meters=3, reporting=2)]
    feeders = ll.feeder_sales(area_sales, feeder_of)
    assert feeders == [Sold("F511", DAY1, D("1360.500"), 15, 15), Sold("F512", DAY1, D("100.000"), 3, 2)]
    rows = ll.daily_loss([Supplied("F511", DAY1, D("1420.000"), D("500")), Supplied("F512", DAY1, D("104"))],
                         feeders, units=["F511", "F512"], days=[DAY1], limit=0.05)
    f511, f512 = rows
    assert f511.supplied_kwh == f511.sold_kwh + f511.loss_kwh and f511.loss_kwh == D("59.500")
    assert f511.loss_rate == pytest.approx(59.5 / 1420) and f511.status == "ok"  # 4.19 % under 5 %
    assert f512.status == "missing" and f512.reasons == ("few_readings",)  # 2 of 3 meters reported


def test_monthly_is_the_sum_of_the_months_days():
    days = ll.month_days("2026-11")
    assert len(days) == 30 and days[0] == date(2026, 11, 1) and days[-1] == date(2026, 11, 30)
    supplied = [Supplied("TA01", d, D("100.5") + k, D("40")) for k, d in enumerate(days)]
    sales = [sold("TA01", d, D("95.25") + k) for k, d in enumerate(days)]
    daily = ll.daily_loss(supplied, sales, units=["TA01"], days=days, limit=0.07)
    metered = ll.monthly_loss(daily, months=["2026-11"], limit=0.07)[0]
    assert metered.supplied_kwh == sum(r.supplied_kwh for r in daily) == D("3450.000")  # 30×100.5 + 435
    assert metered.sold_kwh == sum(r.sold_kwh for r in daily) == D("3292.500")
    assert metered.loss_kwh == sum(r.loss_kwh for r in daily) == D("157.500")
    assert metered.loss_rate == pytest.approx(157.5 / 3450) and metered.days == 30
    assert metered.kvarh == D("1200.000") and metered.power_factor == pytest.approx(3450 / math.hypot(3450, 1200), abs=1e-4)
    billed = ll.monthly_loss(daily, months=["2026-11"], limit=0.07, billed={("TA01", "2026-11"): D("3000")})[0]
    assert billed.supplied_kwh == D("3450.000") and billed.sold_kwh == D("3000.000")
    assert billed.loss_kwh == D("450.000") and billed.status == "high"  # 13 %: billed less than metered


def test_a_month_with_a_missing_day_has_no_rate():
    days = ll.month_days("2026-11")
    supplied = [Supplied("TA01", d, D("100")) for d in days if d != date(2026, 11, 15)]
    daily = ll.daily_loss(supplied, [sold("TA01", d, "96") for d in days], units=["TA01"], days=days, limit=0.07)
    month = ll.monthly_loss(daily, months=["2026-11"], limit=0.07)[0]
    assert month.status == "missing" and month.loss_rate is None and month.days == 29
    assert month.reasons[0] == "incomplete_days"
    # the usable days still sum up over the period
    total = ll.summarise(daily, limit=0.07)[0]
    assert total.days == 29 and total.supplied_kwh == D("2900.000") and total.sold_kwh == D("2784.000")
    assert total.loss_rate == pytest.approx(0.04) and total.status == "ok"


def test_power_factor_arithmetic():
    assert ll.power_factor(D("800"), D("600")) == pytest.approx(0.8)
    assert ll.power_factor(D("100"), D("0")) == 1.0
    assert ll.power_factor(D("100"), None) is None
    assert ll.power_factor(D("0"), D("0")) is None
    assert ll.power_factor(D("720"), D("693.9")) == pytest.approx(0.72, abs=1e-3)  # tan(acos 0.72) = 0.9638


def test_customers_of_a_high_loss_area_are_ranked_by_evidence():
    evidence = ll.evidence_scores([("0402000110", "high"), ("0402000111", "medium"), ("0402000111", "low"),
                                   ("0402000112", "medium"), ("0401999999", "high")],
                                  theft={"0402000113": 0.9, "0402000110": 0.5})
    assert evidence == {"0402000110": 3.5, "0402000111": 3.0, "0402000112": 2.0, "0401999999": 3.0,
                        "0402000113": 0.9}
    members = ["0402100001", "0402000113", "0402000112", "0402000111", "0402000110", "0402000111"]
    ranked = ll.rank_customers(members, evidence)
    assert [c for c, _ in ranked] == ["0402000110", "0402000111", "0402000112", "0402000113", "0402100001"]
    assert ranked[-1] == ("0402100001", 0.0)  # no evidence: last, still listed
    assert "0401999999" not in dict(ranked)  # evidence elsewhere does not pull in another area's customer


def test_many_days_many_units_keep_the_identity():
    units = [f"TA{k:02d}" for k in range(5)]
    days = [DAY1 + timedelta(days=k) for k in range(10)]
    supplied = [Supplied(u, d, D(1000 + 37 * i + k)) for i, u in enumerate(units) for k, d in enumerate(days)]
    sales = [sold(u, d, D(960 + 31 * i) + D(k) / 3) for i, u in enumerate(units) for k, d in enumerate(days)]
    rows = ll.daily_loss(supplied, sales, units=units, days=days, limit=0.07)
    assert len(rows) == 50
    assert all(r.supplied_kwh == r.sold_kwh + r.loss_kwh for r in rows)
    assert all(r.loss_rate == pytest.approx(float(r.loss_kwh / r.supplied_kwh), abs=1e-6) for r in rows)
