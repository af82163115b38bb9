"""The demo's audit cases through the real loader and rule engine: every planted case fires its rules,
no look-alike fires any; CT-metered currents are the meter's secondary amps; line loss flags the
high-loss areas (planted theft), the negative one (a wrong CT ratio on the 台区总表) and the days the
总表 did not report; the customers of a high-loss area rank by evidence; refresh_live keeps it all going.

A demo of 150 customers over 90 days (the rules look back up to 60 days), seeded once for the module.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from api.audit import lineloss, rules
from api.customers.models import Customer
from api.db import make_sessionmaker
from api.demo.audit_cases import (
    ACCOUNTS,
    ALSO_FIRING,
    AREA_ANCHOR,
    HIGH_LOSS_AREA_ROLES,
    LOOKALIKES,
    MISSING_SUPPLY,
    NEGATIVE_LOSS_AREA_ROLE,
    PLANTED_CASES,
    THEFT,
    first_day,
)
from api.demo.generator import refresh_live
from api.flows.audit_scan import area_members, line_loss, load_frames
from api.metering.models import AreaSupply, FeederSupply, Meter, MeterEvent, Reading, TransformerArea

from tests.api.audit.conftest import DAYS, END, START
from tests.api.conftest import build_demo_database
# Rules the current engine gets wrong on a look-alike (see the issue note); strict: a fix shows as XPASS.
KNOWN_RULE_GAPS: dict[str, str] = {}


@pytest.fixture(scope="module")
def scanned(audit_demo):
    with make_sessionmaker(audit_demo)() as s:
        frames = load_frames(s, start=START, end=END + timedelta(hours=1))
    result = rules.scan(frames.customers, frames.readings, frames.events, frames.bills)
    fired: dict[str, set[str]] = defaultdict(set)
    for f in result.findings:
        fired[f.customer_id].add(f.rule)
    return frames, result, fired


@pytest.fixture
def session(audit_demo):
    with make_sessionmaker(audit_demo)() as s:
        yield s


def area_of(session, account_no: str) -> TransformerArea:
    return session.scalar(select(TransformerArea).join(Customer, Customer.transformer_area_id == TransformerArea.id)
                          .where(Customer.account_no == account_no))


# ---------------------------------------------------------------------------- the frames

def test_frames_hold_every_customer_the_readings_events_and_the_full_months_bills(scanned, session):
    frames, result, _ = scanned
    assert len(frames.customers) == 150 and result.disabled == {}
    assert len(frames.readings) == 150 * DAYS * 24
    assert frames.readings["ts"].min() == START and str(frames.readings["ts"].dt.tz) == "UTC"
    assert set(frames.bills["period_start"].astype(str)) == {"2026-10-01", "2026-11-01"}  # September began earlier
    assert (frames.bills.groupby("period_start").size() == 150).all()
    reverse = frames.readings[frames.readings["customer_id"] == ACCOUNTS["reverse_energy"]]
    assert (reverse["reverse_kwh"] > 0).sum() >= DAYS - 2  # one daily freeze a day, in the hour it was recorded
    assert frames.events["event"].isin(["失压", "断相", "停电", "上电", "开盖", "反向电量"]).all()


def test_ct_metered_customers_store_secondary_amps(scanned, session):
    frames, _, _ = scanned
    c = frames.customers.set_index("customer_id")
    art = c.loc[ACCOUNTS["swapped_transformer"]]
    assert (art["contract_kva"], art["ct_ratio"], art["ct_rated_a"], art["power_factor"]) == (100, 30, 5, 0.85)
    assert c.loc[ACCOUNTS["near_contract"], "ct_ratio"] == 120 and c.loc[ACCOUNTS["near_contract"], "power_factor"] == 0.9
    assert math.isnan(c.loc["0401000008", "ct_ratio"]) and math.isnan(c.loc["0401000008", "power_factor"])  # 50 kVA
    assert c[c["class"] == "居民"]["power_factor"].isna().all()
    big = c[(c["class"] == "大工业") | ((c["class"] == "一般工商业") & (c["contract_kva"] >= 100))]
    assert big["ct_ratio"].notna().all() and (big["ct_rated_a"] == 5).all() and big["power_factor"].notna().all()
    # primary power from secondary amps: Σ U·I × ratio × pf = kW (pf 0.92 for 大工业, 0.90 for 一般工商业)
    r = frames.readings.set_index("customer_id")
    for account in big.index:
        pf = 0.92 if big.loc[account, "class"] == "大工业" else 0.90
        rows = r.loc[[account]]
        rows = rows[(rows["kw"] > 1) & (rows["ua"] > 150)]
        va = (rows["ua"] * rows["ia"] + rows["ub"] * rows["ib"] + rows["uc"] * rows["ic"]) * big.loc[account, "ct_ratio"]
        if account == ACCOUNTS["low_power_factor"]:
            pf = 0.72
        assert (va * pf / 1000 / rows["kw"]).median() == pytest.approx(1.0, abs=0.02), account
        assert rows["ia"].max() < 100  # secondary amps, not hundreds of primary amps


# ---------------------------------------------------------------------------- rules on the cases

@pytest.mark.parametrize("account_no", sorted(PLANTED_CASES))
def test_every_planted_case_fires_its_rules(scanned, account_no):
    _, _, fired = scanned
    assert set(PLANTED_CASES[account_no]) <= fired[account_no], (account_no, sorted(fired[account_no]))
    unexpected = fired[account_no] - set(PLANTED_CASES[account_no]) - set(ALSO_FIRING.get(account_no, ()))
    assert not unexpected, (account_no, unexpected)


@pytest.mark.parametrize("account_no", sorted(LOOKALIKES))
def test_no_lookalike_fires_any_rule(scanned, account_no, request):
    _, result, fired = scanned
    if account_no in KNOWN_RULE_GAPS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_RULE_GAPS[account_no], strict=True))
    hits = [(f.rule, f.severity, f.start.isoformat()) for f in result.findings if f.customer_id == account_no]
    assert not fired[account_no], (account_no, LOOKALIKES[account_no], hits)


def test_the_articles_case_100_kva_measured_at_234_2_kw_with_the_ct_signature(scanned):
    frames, result, _ = scanned
    account = ACCOUNTS["swapped_transformer"]
    rows = frames.readings[frames.readings["customer_id"] == account]
    assert rows["kw"].max() == pytest.approx(234.2, abs=1e-3)
    pinned = rows[rows["kw"] >= 234.2 - 1e-3]
    assert len(pinned) >= 6  # flat-topped: the CT saturates, the meter sees no more
    assert (pinned[["ia", "ib", "ic"]].min(axis=1) > 5 * 1.2).all()  # secondary above the 5 A rating
    recent = rows[rows["ts"] >= END - timedelta(days=21)]
    assert recent["kw"].quantile(0.75) > 100 * 0.85 * 1.2  # weeks over the contract, not an hour
    over = [f for f in result.findings if f.customer_id == account and f.rule == "over_contract_capacity"]
    assert over and over[0].start >= END - timedelta(days=35)
    assert max(f.evidence["peak_kw"] for f in over) == pytest.approx(234.2, abs=0.01)


def test_steady_thieves_are_only_visible_to_line_loss(scanned):
    _, _, fired = scanned
    steady = [ACCOUNTS["steady_thief_xiji"], ACCOUNTS["steady_thief_pengyang"]]
    assert all(not fired[a] for a in steady)
    assert set(steady) <= set(THEFT)


# ---------------------------------------------------------------------------- line loss

@pytest.fixture(scope="module")
def losses(audit_demo):
    with make_sessionmaker(audit_demo)() as s:
        return line_loss(s, start=START, end=END + timedelta(hours=1))


def test_line_loss_balances_on_every_row(losses):
    assert len(losses.days) == DAYS - 1 and losses.months == ["2026-10", "2026-11"]
    for row in losses.areas_daily + losses.feeders_daily + losses.areas_monthly + losses.feeders_monthly:
        if row.status != "missing":
            assert row.supplied_kwh == row.sold_kwh + row.loss_kwh, row
            assert row.loss_rate == pytest.approx(float(row.loss_kwh / row.supplied_kwh))


def test_high_loss_negative_and_missing_areas_are_flagged(losses, session):
    code = {role: area_of(session, account).code for role, account in AREA_ANCHOR.items()}
    recent = [r for r in losses.areas_daily if r.period >= (END - timedelta(days=28)).date().isoformat()]
    summary = {r.unit: r for r in lineloss.summarise(recent, limit=0.07)}
    high = {code[role] for role in HIGH_LOSS_AREA_ROLES}
    assert {u for u, r in summary.items() if r.status == "high"} == high
    assert {u for u, r in summary.items() if r.status == "negative"} == {code[NEGATIVE_LOSS_AREA_ROLE]}
    assert all(r.status == "ok" and 0.008 < r.loss_rate < 0.05 for u, r in summary.items()
               if u not in high | {code[NEGATIVE_LOSS_AREA_ROLE]})
    assert all(summary[u].loss_rate > 0.15 for u in high)
    assert summary[code[NEGATIVE_LOSS_AREA_ROLE]].loss_rate < -0.2
    # the 总表 that did not report: those days are missing, not a 100 % or 0 % loss
    first = first_day(START)
    for role, offsets in MISSING_SUPPLY.items():
        gaps = [r for r in losses.areas_daily if r.unit == code[role] and r.status == "missing"]
        assert [r.period for r in gaps] == [(first + timedelta(days=k)).isoformat() for k in offsets]
        assert all(r.loss_rate is None and r.reasons == ("no_supply",) for r in gaps)
        month = gaps[0].period[:7]
        assert all(r.status == "missing" for r in losses.areas_monthly if r.unit == code[role] and r.period == month)
    # every other day of every area has its supply
    assert sum(r.status == "missing" for r in losses.areas_daily) == sum(len(o) for o in MISSING_SUPPLY.values())


def test_feeders_of_the_high_loss_areas_are_high_and_the_rest_plausible(losses, session):
    high_areas = {area_of(session, AREA_ANCHOR[role]).code for role in HIGH_LOSS_AREA_ROLES}
    summary = {r.unit: r for r in lineloss.summarise(losses.feeders_daily, limit=0.05)}
    high_feeders = {losses.feeder_of_area[a] for a in high_areas}
    assert {u for u, r in summary.items() if r.status == "high"} >= high_feeders
    assert all(0.0 < r.loss_rate < 0.5 for r in summary.values())
    assert all(r.status != "missing" for r in losses.feeders_daily)


def test_monthly_supply_is_the_sum_of_the_days_and_sales_are_billed(losses, session):
    area = area_of(session, ACCOUNTS["billing_mismatch"]).code
    november = [r for r in losses.areas_daily if r.unit == area and r.period.startswith("2026-11")]
    month = next(r for r in losses.areas_monthly if r.unit == area and r.period == "2026-11")
    assert month.supplied_kwh == sum(r.supplied_kwh for r in november)
    metered = sum(r.sold_kwh for r in november)
    # the estimated bill (55 % of a household's month) sells less than was metered
    assert Decimal(0) < metered - month.sold_kwh < Decimal(300)
    assert month.power_factor is not None and 0.8 < month.power_factor < 1


def test_reactive_energy_shows_the_low_power_factor_area(losses, session):
    low = area_of(session, ACCOUNTS["low_power_factor"]).code
    summary = {r.unit: r for r in lineloss.summarise(losses.areas_daily, limit=0.07)}
    for r in summary.values():
        assert r.power_factor == pytest.approx(float(r.supplied_kwh) / math.hypot(r.supplied_kwh, r.kvarh), abs=1e-4)
    assert summary[low].power_factor < 0.85 < min(r.power_factor for u, r in summary.items() if u != low)


def test_customers_of_a_high_loss_area_rank_by_evidence(scanned, session):
    _, result, _ = scanned
    evidence = lineloss.evidence_scores((f.customer_id, f.severity) for f in result.findings)
    for role in HIGH_LOSS_AREA_ROLES:
        code = area_of(session, AREA_ANCHOR[role]).code
        members = area_members(session, area_codes=[code])[code]
        ranked = [c for c, _ in lineloss.rank_customers(members, evidence)]
        planted_here = [a for a in PLANTED_CASES if a in members]
        assert planted_here and set(ranked[:len(planted_here)]) == set(planted_here), (code, ranked[:6])


# ---------------------------------------------------------------------------- refresh

def test_refresh_keeps_the_cases_and_adds_supply_days(demo_database_factory):
    end = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)
    engine, _ = build_demo_database(demo_database_factory(), customers=150, days=12, end=end)
    try:
        Session = make_sessionmaker(engine)
        with Session() as s:
            days_before = s.scalar(select(func.count(func.distinct(FeederSupply.day))))
            last_day = s.scalar(select(func.max(AreaSupply.day)))
        refresh_live(engine, end=end + timedelta(days=2))
        with Session() as s:
            assert s.scalar(select(func.count(func.distinct(FeederSupply.day)))) == days_before + 2
            assert s.scalar(select(func.max(AreaSupply.day))) == last_day + timedelta(days=2)
            reverse = s.scalars(select(MeterEvent.ts).join(Meter, Meter.id == MeterEvent.meter_id)
                                .join(Customer, Customer.id == Meter.customer_id)
                                .where(Customer.account_no == ACCOUNTS["reverse_energy"])).all()
            assert len(reverse) == len(set(reverse)) == days_before + 2  # one freeze a day, none twice
            frames = load_frames(s, start=end - timedelta(days=3), end=end + timedelta(days=2, hours=1))
            unbalanced = frames.readings[frames.readings["customer_id"] == ACCOUNTS["current_imbalance"]]
            assert len(unbalanced) == 3 * 24 + 48 + 1
            assert (unbalanced["ia"] > 2 * unbalanced["ic"]).mean() > 0.9  # still imbalanced after the refresh
            # the new days balance: a clean area's supply is its metered sales plus 1–5 % technical loss
            normal = area_of(s, "0401000005").id
            day = last_day + timedelta(days=2)
            supplied = s.scalar(select(AreaSupply.kwh).where(AreaSupply.transformer_area_id == normal,
                                                              AreaSupply.day == day))
            sold = losses_of_day(s, normal, day)
            assert 0.008 < float((supplied - sold) / supplied) < 0.05
    finally:
        engine.dispose()


def losses_of_day(s, area_id: int, day) -> Decimal:
    lo = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(hours=8)
    return s.scalar(select(func.sum(Reading.kwh)).join(Meter, Meter.id == Reading.meter_id).where(
        Meter.transformer_area_id == area_id, Reading.ts >= lo, Reading.ts < lo + timedelta(days=1)))
