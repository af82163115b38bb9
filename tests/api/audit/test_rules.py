"""The metering-anomaly rules on hand-built data: each rule fires on an injected case (rule, severity,
episode, key figures) and stays quiet on its clean look-alikes; thresholds and missing columns."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from api.audit import rules
from api.audit.rules import RULES, Thresholds, scan

START = pd.Timestamp("2026-03-02 00:00", tz="Asia/Shanghai")  # a Monday; every case counts days from here
PF = 0.95


# ---------------------------------------------------------------------------------------------
# A small deterministic generator


def at(day: float, hour: float = 0) -> pd.Timestamp:
    """UTC instant of local (Beijing) day `day` from START at `hour`."""
    return (START + pd.Timedelta(days=day, hours=hour)).tz_convert("UTC")


def grid(days: int) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=days * 24, freq="h").tz_convert("UTC")


def local(ts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(day from START, local hour) of each timestamp."""
    offset = (pd.DatetimeIndex(ts) - START.tz_convert("UTC")) / pd.Timedelta(hours=1)
    hours = np.asarray(offset, dtype=np.int64)
    return hours // 24, hours % 24


def residential(cid: str, days: int, seed: int, kwh_day: float = 8.0) -> pd.DataFrame:
    """Single-phase home: morning and evening peaks, kw/kwh/ia/ua (ib … NaN)."""
    rng = np.random.default_rng(seed)
    ts = grid(days)
    _, h = local(ts)
    shape = 0.5 + 0.8 * np.exp(-((h - 8) / 1.5) ** 2) + 1.5 * np.exp(-((h - 20) / 2) ** 2)
    kw = kwh_day / 24 * shape / shape.mean() * rng.lognormal(0, 0.15, len(ts))
    ua = 220 + rng.normal(0, 1.5, len(ts))
    nan = np.full(len(ts), np.nan)
    return pd.DataFrame({"customer_id": cid, "ts": ts, "kw": kw, "kwh": kw, "ia": kw * 1000 / (ua * PF), "ua": ua,
                         "ib": nan, "ic": nan, "ub": nan, "uc": nan})


def business(cid: str, days: int, seed: int, kw_mean: float, ct_ratio: float | None = None,
             night: float = 0.25, pf: float = PF) -> pd.DataFrame:
    """Three-phase business open 08–20 local, `night` share at night; currents on the CT secondary if any."""
    rng = np.random.default_rng(seed)
    ts = grid(days)
    _, h = local(ts)
    shape = np.where((h >= 8) & (h < 20), 1.0, night)
    kw = kw_mean * shape / shape.mean() * rng.lognormal(0, 0.08, len(ts))
    out = {"customer_id": cid, "ts": ts, "kw": kw, "kwh": kw}
    for p in "abc":
        u = 220 + rng.normal(0, 1.5, len(ts))
        share = (1 + rng.normal(0, 0.03, len(ts))) / 3
        out["u" + p] = u
        out["i" + p] = kw * share * 1000 / (u * pf) / (ct_ratio or 1)
    return pd.DataFrame(out)


def currents_for(kw, ct_ratio: float | None = None, pf: float = PF, volts: float = 220.0):
    """Per-phase current of a balanced three-phase load."""
    return np.asarray(kw) / 3 * 1000 / (volts * pf) / (ct_ratio or 1)


def when(frame: pd.DataFrame, days, hours=range(24)) -> np.ndarray:
    d, h = local(frame["ts"])
    return np.isin(d, list(days)) & np.isin(h, list(hours))


def scale(frame: pd.DataFrame, mask: np.ndarray, factor: float, columns=("kw", "kwh", "ia", "ib", "ic")) -> None:
    for c in columns:
        if c in frame.columns:
            frame.loc[mask, c] = frame.loc[mask, c] * factor


def customers(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def found(result, rule: str, customer_id: str | None = None) -> list:
    return [f for f in result.findings if f.rule == rule and (customer_id is None or f.customer_id == customer_id)]


def only(result, rule: str, customer_id: str):
    hits = found(result, rule, customer_id)
    assert len(hits) == 1, [(f.rule, f.customer_id, f.start, f.end) for f in result.findings]
    return hits[0]


# ---------------------------------------------------------------------------------------------
# over_contract_capacity and ct_over_limit: the article's 100 kVA customer at 234.2 kW


def article_case(saturate_at: float = 6.6, seed: int = 7) -> pd.DataFrame:
    """100 kVA, CT 200/5; days 20–29, 09–17 local: 160 → 234.2 kW (a bigger transformer), the CT
    secondary over its 5 A rating and flat-topped where the CT saturates."""
    frame = business("ART", 45, seed, kw_mean=40, ct_ratio=40)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(160, 234.2, 9)
    for day in range(20, 30):
        mask = when(frame, [day], range(9, 18))
        frame.loc[mask, "kw"] = frame.loc[mask, "kwh"] = ramp
        true = currents_for(ramp, ct_ratio=40)
        for p in "abc":
            frame.loc[mask, "i" + p] = np.minimum(true, saturate_at) + rng.normal(0, 0.005, 9)
    return frame


def test_article_case_fires_capacity_and_ct_with_saturation():
    result = scan(customers({"customer_id": "ART", "contract_kva": 100, "ct_ratio": "200/5"}), article_case())
    capacity = only(result, "over_contract_capacity", "ART")
    assert capacity.severity == "high"
    assert (capacity.start, capacity.end) == (at(20, 9), at(29, 18))
    ev = capacity.evidence
    assert ev["contract_kva"] == 100 and ev["limit_kw"] == 108 and ev["peak_kw"] == 234.2
    assert ev["hours_over"] == 90 and ev["longest_hours"] == 9
    assert ev["series"][0]["name"] == "有功功率" and ev["series"][0]["unit"] == "kW"
    assert max(p[1] for p in ev["series"][0]["points"]) == 234.2
    assert ev["limits"][0] == {"name": "合同容量限值", "value": 108.0, "unit": "kW"}

    ct = only(result, "ct_over_limit", "ART")
    assert ct.severity == "high"
    assert (ct.start, ct.end) == (at(20, 9), at(29, 18))
    assert ct.evidence["mode"] == "over_limit+saturation"
    assert ct.evidence["ct_ratio"] == 40 and ct.evidence["limit_a"] == 6.0
    assert ct.evidence["peak_secondary_a"] == pytest.approx(6.6, abs=0.05)
    sat = ct.evidence["saturation"]
    assert sat["kw_observed_at_level"] > 1.15 * sat["kw_expected_at_level"]
    assert ct.evidence["hours_pinned"] >= 60


def test_ct_saturation_below_the_overload_limit():
    frame = article_case(saturate_at=5.4)
    result = scan(customers({"customer_id": "ART", "contract_kva": 100, "ct_ratio": 40}), frame, rules=["ct_over_limit"])
    ct = only(result, "ct_over_limit", "ART")
    assert ct.evidence["mode"] == "saturation" and ct.severity == "high"


def test_constant_load_pinned_at_its_maximum_is_not_saturation():
    frame = business("PUMP", 40, 3, kw_mean=140, ct_ratio=40, night=1.0)
    rng = np.random.default_rng(3)
    frame["kw"] = frame["kwh"] = 140 * rng.lognormal(0, 0.002, len(frame))
    for p in "abc":
        frame["i" + p] = currents_for(frame["kw"], ct_ratio=40)
    result = scan(customers({"customer_id": "PUMP", "contract_kva": 200, "ct_ratio": 40}), frame)
    assert found(result, "ct_over_limit") == [] and found(result, "over_contract_capacity") == []


def test_legitimate_change_of_contract_is_judged_by_the_contract_in_force():
    frame = business("CHG", 70, 5, kw_mean=150)
    scale(frame, when(frame, range(35, 70)), 0.3)  # 减容 on day 35: 315 kVA → 100 kVA, load follows
    history = customers({"customer_id": "CHG", "contract_kva": 315, "contract_from": at(-400)},
                        {"customer_id": "CHG", "contract_kva": 100, "contract_from": at(35)})
    quiet = scan(history, frame, rules=["over_contract_capacity", "sudden_drop"])
    assert quiet.findings == []
    current_only = scan(customers({"customer_id": "CHG", "contract_kva": 100}), frame, rules=["over_contract_capacity"])
    assert only(current_only, "over_contract_capacity", "CHG").start < at(35)


def test_night_closed_shop_and_homes_are_quiet():
    shop = business("SHOP", 60, 11, kw_mean=12, night=0.02)
    homes = [residential(f"H{i}", 60, 20 + i) for i in range(3)]
    result = scan(customers({"customer_id": "SHOP", "contract_kva": 50},
                            *({"customer_id": f"H{i}", "contract_kva": 8} for i in range(3))),
                  pd.concat([shop, *homes]))
    assert result.findings == []


# ---------------------------------------------------------------------------------------------
# voltage_loss and phase_failure


def voltage_fleet():
    frames, rows = [], []

    def add(cid, frame, kva=50):
        frames.append(frame)
        rows.append({"customer_id": cid, "contract_kva": kva})

    v1 = business("V1", 50, 1, kw_mean=20)
    v1.loc[when(v1, [20, 21, 22]), "ua"] = 110.0  # 失压 on A, current still flowing
    add("V1", v1)
    v2 = business("V2", 50, 2, kw_mean=20)
    v2.loc[when(v2, [20, 21, 22]), "ua"] = 110.0
    add("V2", v2)
    add("V3", business("V3", 50, 3, kw_mean=20))  # only the meter's events say so
    v4 = business("V4", 50, 4, kw_mean=20)  # an outage: everything at zero, 停电 … 上电
    v4.loc[when(v4, [30], range(10, 15)), ["ua", "ub", "uc", "ia", "ib", "ic", "kw", "kwh"]] = 0.0
    add("V4", v4)
    v5 = business("V5", 50, 5, kw_mean=20)  # the supply sagging on all phases: not the meter
    v5.loc[when(v5, [20, 21, 22]), ["ua", "ub", "uc"]] = 165.0
    add("V5", v5)
    f1 = business("F1", 50, 6, kw_mean=20)  # 断相 on B: no voltage, no current
    f1.loc[when(f1, range(20, 25)), ["ub", "ib"]] = 0.0
    add("F1", f1)
    f2 = business("F2", 50, 7, kw_mean=20)
    f2.loc[when(f2, range(20, 25)), ["ub", "ib"]] = 0.0
    add("F2", f2)
    s1 = residential("S1", 50, 8)  # weak rural line: 150 V at the evening peak
    s1.loc[when(s1, range(10, 20), range(18, 23)), "ua"] = 150.0
    add("S1", s1, kva=8)
    s2 = residential("S2", 50, 9)  # single-phase 失压: 90 V with the current flowing
    s2.loc[when(s2, range(10, 13)), "ua"] = 90.0
    add("S2", s2, kva=8)
    events = pd.DataFrame([
        ("V1", at(20, 1), "A相失压"), ("V3", at(40, 3), "voltage_loss"), ("V3", at(40, 5), "失压"),
        ("V4", at(30, 10), "停电"), ("V4", at(30, 10.1), "失压"), ("V4", at(30, 15), "上电"),
        ("F2", at(22, 4), "断相"),
    ], columns=["customer_id", "ts", "event"])
    return customers(*rows), pd.concat(frames), events


def test_voltage_loss_measured_corroborated_and_event_only():
    cust, readings, events = voltage_fleet()
    result = scan(cust, readings, events, rules=["voltage_loss"])
    v1 = only(result, "voltage_loss", "V1")
    assert v1.severity == "high" and v1.evidence["events"] == 1
    assert (v1.start, v1.end) == (at(20), at(23))
    assert v1.evidence["phases"] == ["A"] and v1.evidence["nominal_v"] == 220.0 and v1.evidence["min_v"] == 110.0
    assert v1.evidence["hours"] == 72 and v1.evidence["source"] == "readings+events"
    v2 = only(result, "voltage_loss", "V2")
    assert v2.severity == "medium" and v2.evidence["source"] == "readings"
    v3 = only(result, "voltage_loss", "V3")
    assert v3.severity == "low" and v3.evidence["source"] == "events" and v3.evidence["events"] == 2
    assert (v3.start, v3.end) == (at(40, 3), at(40, 5))
    s2 = only(result, "voltage_loss", "S2")
    assert s2.severity == "medium" and s2.evidence["three_phase"] is False and s2.evidence["threshold_v"] == 132.0
    assert s2.start >= at(10) and s2.end <= at(13)
    # the outage, the sagging supply, the weak single-phase line and the dead phase (断相) are not 失压
    assert {f.customer_id for f in result.findings} == {"V1", "V2", "V3", "S2"}


def test_phase_failure_three_phase_only():
    cust, readings, events = voltage_fleet()
    result = scan(cust, readings, events, rules=["phase_failure"])
    f1 = only(result, "phase_failure", "F1")
    assert f1.severity == "medium" and f1.evidence["phases"] == ["B"]
    assert (f1.start, f1.end) == (at(20), at(25)) and f1.evidence["hours"] == 120
    f2 = only(result, "phase_failure", "F2")
    assert f2.severity == "high" and f2.evidence["events"] == 1
    assert {f.customer_id for f in result.findings} == {"F1", "F2"}  # single-phase S1/S2, outage V4: quiet


# ---------------------------------------------------------------------------------------------
# reverse_energy and current_imbalance


def test_reverse_energy_on_a_consumer_not_on_solar():
    rev = business("REV", 40, 1, kw_mean=20)
    rev["reverse_kwh"] = 0.0
    rev.loc[when(rev, range(15, 20)), "reverse_kwh"] = 1.0
    pv = business("PV", 40, 2, kw_mean=20)
    pv["reverse_kwh"] = np.where(when(pv, range(40), range(10, 15)), 5.0, 0.0)
    cust = customers({"customer_id": "REV", "contract_kva": 50, "class": "商业"},
                     {"customer_id": "PV", "contract_kva": 50, "class": "分布式光伏"})
    result = scan(cust, pd.concat([rev, pv]), rules=["reverse_energy"])
    hit = only(result, "reverse_energy", "REV")
    assert (hit.start, hit.end) == (at(15), at(20))
    assert hit.evidence["reverse_kwh"] == 120.0 and hit.evidence["hours"] == 120
    assert hit.severity == "medium" and 0.04 < hit.evidence["reverse_share"] < 0.07
    assert found(result, "reverse_energy", "PV") == []


def test_current_imbalance_fires_and_spares_a_shop_with_a_fridge_and_homes():
    imb = business("IMB", 40, 1, kw_mean=20)
    imb.loc[when(imb, range(10, 20)), "ic"] *= 0.05  # phase C bypassed
    shop = business("SHOP", 40, 2, kw_mean=15, night=0.0)
    night = when(shop, range(40), [*range(8), *range(20, 24)])
    shop.loc[night, "ia"], shop.loc[night, ["ib", "ic"]] = 1.5, 0.05  # a fridge on A at night
    home = residential("HOME", 40, 3)
    cust = customers({"customer_id": "IMB", "contract_kva": 50}, {"customer_id": "SHOP", "contract_kva": 50},
                     {"customer_id": "HOME", "contract_kva": 8})
    result = scan(cust, pd.concat([imb, shop, home]), rules=["current_imbalance"])
    hit = only(result, "current_imbalance", "IMB")
    assert (hit.start, hit.end) == (at(10), at(20))
    assert hit.severity == "high" and hit.evidence["lowest_phase"] == "C" and hit.evidence["mean_imbalance"] > 0.9
    assert hit.evidence["hours"] == 240
    assert {f.customer_id for f in result.findings} == {"IMB"}


# ---------------------------------------------------------------------------------------------
# zero_consumption


def zero_fleet():
    frames, rows = [], []
    z1 = residential("Z1", 200, 1)  # bypassed: nothing through the meter for 50 days, voltage present
    scale(z1, when(z1, range(120, 170)), 0.0)
    z2 = residential("Z2", 200, 2)  # register stuck: current flows, kWh stays 0
    z2.loc[when(z2, range(120, 170)), "kwh"] = 0.0
    holiday = residential("HOL", 200, 3)  # always had long empty spells
    for days in (range(20, 60), range(100, 140), range(170, 200)):
        scale(holiday, when(holiday, days), 0.002)
    gap = residential("GAP", 200, 4)  # 40 days of no data at all
    gap = gap[~when(gap, range(120, 160))]
    cut = residential("CUT", 200, 5)  # disconnected: no voltage either
    cut.loc[when(cut, range(120, 170)), ["kw", "kwh", "ia", "ua"]] = 0.0
    seasonal = business("SEA", 730, 6, kw_mean=30)  # empty in the same 60 days of both years
    for start in (150, 515):
        scale(seasonal, when(seasonal, range(start, start + 60)), 0.001)
    for cid, frame, kva in (("Z1", z1, 8), ("Z2", z2, 8), ("HOL", holiday, 8), ("GAP", gap, 8), ("CUT", cut, 8),
                            ("SEA", seasonal, 80)):
        frames.append(frame)
        rows.append({"customer_id": cid, "contract_kva": kva})
    return customers(*rows), pd.concat(frames)


def test_zero_consumption_fires_on_bypass_and_stuck_register_only():
    cust, readings = zero_fleet()
    result = scan(cust, readings, rules=["zero_consumption"])
    z1 = only(result, "zero_consumption", "Z1")
    assert z1.severity == "medium"
    assert (z1.start, z1.end) == (at(120), at(170))
    assert z1.evidence["zero_days"] == 50 and z1.evidence["voltage_present_share"] == 1.0
    assert 7 < z1.evidence["baseline_kwh_per_day"] < 9
    assert z1.evidence["series"][0]["name"] == "日电量" and len(z1.evidence["series"][0]["points"]) <= 200
    z2 = only(result, "zero_consumption", "Z2")
    assert z2.severity == "high" and z2.evidence["mean_current_a"] > 1
    # holiday home, data gap, disconnected premises, seasonal business: quiet
    assert {f.customer_id for f in result.findings} == {"Z1", "Z2"}


def test_seasonal_business_with_only_last_years_season_empty():
    """One empty season a year earlier (the repeat guard alone would not catch it at 25 days)."""
    seasonal = business("SEA", 500, 6, kw_mean=30)
    scale(seasonal, when(seasonal, range(100, 135)), 0.001)
    scale(seasonal, when(seasonal, range(464, 499)), 0.001)
    th = Thresholds.load().with_overrides({"zero_consumption": {"min_days": 34}})  # min_days // 2 = 17: both count
    cust = customers({"customer_id": "SEA", "contract_kva": 80})
    assert scan(cust, seasonal, thresholds=th, rules=["zero_consumption"]).findings == []
    # same spell without last year's: fires
    fresh = business("SEA", 500, 6, kw_mean=30)
    scale(fresh, when(fresh, range(464, 499)), 0.001)
    assert len(scan(cust, fresh, thresholds=th, rules=["zero_consumption"]).findings) == 1


# ---------------------------------------------------------------------------------------------
# sudden_drop


def peers(n: int, days: int) -> list[pd.DataFrame]:
    return [residential(f"P{i:02d}", days, 100 + i) for i in range(n)]


def test_sudden_drop_against_own_past_and_peers():
    frames = peers(12, 120)
    scale(frames[0], when(frames[0], range(60, 120)), 0.3)
    cust = customers(*({"customer_id": f"P{i:02d}", "contract_kva": 8, "class": "居民"} for i in range(12)))
    result = scan(cust, pd.concat(frames), rules=["sudden_drop"])
    hit = only(result, "sudden_drop", "P00")
    assert (hit.start, hit.end) == (at(60), at(120))
    assert hit.severity == "medium" and hit.evidence["recovered"] is False
    assert hit.evidence["ratio"] == pytest.approx(0.3, abs=0.05)
    assert hit.evidence["peer_ratio"] == pytest.approx(1.0, abs=0.1)
    names = [s["name"] for s in hit.evidence["series"]]
    assert names == ["日电量", "同类用户（按基线折算）"]
    assert len(result.findings) == 1


def test_fleet_wide_holiday_drop_is_quiet():
    frames = peers(12, 120)
    for frame in frames:
        scale(frame, when(frame, range(60, 80)), 0.4)
    cust = customers(*({"customer_id": f"P{i:02d}", "contract_kva": 8, "class": "居民"} for i in range(12)))
    assert scan(cust, pd.concat(frames), rules=["sudden_drop"]).findings == []


# The idle-premises explanations switched off (a steady base load, the premises' own empty level).
WITHOUT_IDLE = {"sudden_drop": {"idle_rhythm": -1.0, "same_level_days": 10_000},
                "zero_consumption": {"idle_rhythm": -1.0}}


def holiday_home(days: int, seed: int, occupied: set[int]) -> pd.DataFrame:
    """A fridge (~1 kWh/day, flat) on empty days, a family's 12 kWh/day on the occupied ones."""
    frame = residential("HH", days, seed, kwh_day=12.0)
    d, _ = local(frame["ts"])
    fridge = 0.04 * np.random.default_rng(seed).lognormal(0, 0.2, len(frame))
    for c in ("kw", "kwh"):
        frame[c] = np.where(np.isin(d, list(occupied)), frame[c], fridge)
    frame["ia"] = frame["kw"] * 1000 / (frame["ua"] * PF)
    return frame


# Every other weekend, a 10-day stay (国庆), then one day (the other was a 调休 workday) and back to
# every other weekend: the demo's holiday home around 国庆 2026.
HOLIDAY_HOME_DAYS = {5, 6, 19, 20, 33, 34, 47, 48, *range(52, 62), 66, 77, 78, 91, 92, 105, 106, 119}


def test_holiday_home_back_to_its_fridge_after_a_long_stay_is_quiet():
    """The 28 days before include a 10-day stay (国庆): the fall back to the fridge halves the baseline,
    but the day's rhythm is gone (a fridge, not the family's day scaled down) and the home sat at the
    fridge's level for 12 days at a time before the stay. Each explanation alone keeps it quiet."""
    frames = [holiday_home(120, 3, HOLIDAY_HOME_DAYS), *peers(12, 120)]
    cust = customers({"customer_id": "HH", "contract_kva": 6, "class": "居民"},
                     *({"customer_id": f"P{i:02d}", "contract_kva": 8, "class": "居民"} for i in range(12)))
    readings = pd.concat(frames)
    base = Thresholds.load()
    gap = only(scan(cust, readings, thresholds=base.with_overrides(WITHOUT_IDLE), rules=["sudden_drop"]),
               "sudden_drop", "HH")
    assert gap.start == at(62)  # the case is one the old rule got wrong
    assert scan(cust, readings, rules=["sudden_drop"]).findings == []
    shape_only = base.with_overrides({"sudden_drop": {"same_level_days": 10_000}})
    level_only = base.with_overrides({"sudden_drop": {"idle_rhythm": -1.0}})
    assert scan(cust, readings, thresholds=shape_only, rules=["sudden_drop"]).findings == []
    assert scan(cust, readings, thresholds=level_only, rules=["sudden_drop"]).findings == []


def test_season_end_to_a_steady_standby_is_quiet_and_a_bypass_is_not():
    """A plant whose season ends on day 60 keeps only a steady 值守 load (≈ 1 % of its season, flat);
    a bypass leaving 1 % keeps the day's shape. Without last year's data only the shape tells them apart."""
    plants = [business(f"B{i:02d}", 120, 200 + i, kw_mean=30) for i in range(8)]
    season, bypass = plants[0], plants[1]
    after = when(season, range(60, 120))
    standby = 0.3 * np.random.default_rng(5).lognormal(0, 0.1, int(after.sum()))
    season.loc[after, "kw"] = season.loc[after, "kwh"] = standby
    for p in "abc":
        season.loc[after, "i" + p] = currents_for(standby)
    scale(bypass, when(bypass, range(60, 120)), 0.01)
    cust = customers(*({"customer_id": f"B{i:02d}", "contract_kva": 80, "class": "一般工商业"} for i in range(8)))
    readings = pd.concat(plants)
    both = ["sudden_drop", "zero_consumption"]
    result = scan(cust, readings, rules=both)
    assert {(f.customer_id, f.rule) for f in result.findings} == {("B01", "sudden_drop"), ("B01", "zero_consumption")}
    assert only(result, "sudden_drop", "B01").evidence["day_shape_kept"] == pytest.approx(1.0, abs=0.1)
    old = scan(cust, readings, thresholds=Thresholds.load().with_overrides(WITHOUT_IDLE), rules=both)
    assert {f.rule for f in old.findings if f.customer_id == "B00"} == set(both)  # what the old rules said


# ---------------------------------------------------------------------------------------------
# cover_open, billing_mismatch, low_power_factor


def test_cover_open_severity_follows_consumption():
    drop = residential("C1", 60, 1)
    scale(drop, when(drop, range(31, 60)), 0.4)
    steady = residential("C2", 60, 2)
    events = pd.DataFrame([("C1", at(30, 10), "开盖"), ("C1", at(30, 10.5), "开表盖"), ("C2", at(30, 10), "cover_open"),
                           ("C3", at(30, 10), "开端钮盖")], columns=["customer_id", "ts", "event"])
    cust = customers(*({"customer_id": c, "contract_kva": 8} for c in ("C1", "C2", "C3")))
    result = scan(cust, pd.concat([drop, steady]), events, rules=["cover_open"])
    c1 = only(result, "cover_open", "C1")
    assert c1.severity == "high" and c1.evidence["events"] == 2
    assert (c1.start, c1.end) == (at(30, 10), at(30, 10.5))
    assert c1.evidence["change"] == pytest.approx(-0.6, abs=0.05)
    assert only(result, "cover_open", "C2").severity == "low"
    assert only(result, "cover_open", "C3").severity == "medium"  # no readings to judge the effect


def test_billing_mismatch_judged_only_on_covered_periods():
    homes = [residential(f"B{i}", 65, 30 + i) for i in range(4)]
    homes[3] = homes[3][~when(homes[3], range(10, 20))]  # a gap inside the period
    metered = [float(h.loc[when(h, range(30)), "kwh"].sum()) for h in homes]
    bills = pd.DataFrame({"customer_id": ["B0", "B1", "B2", "B3"],
                          "period_start": ["2026-03-02"] * 4, "period_end": ["2026-03-31"] * 4,
                          "billed_kwh": [metered[0] * 1.4, metered[1], metered[2] * 1.03, metered[3] * 1.4]})
    bills["period_start"] = pd.to_datetime(bills["period_start"])  # naive dates: local days
    bills["period_end"] = pd.to_datetime(bills["period_end"])
    cust = customers(*({"customer_id": f"B{i}", "contract_kva": 8} for i in range(4)))
    result = scan(cust, pd.concat(homes), bills=bills, rules=["billing_mismatch"])
    hit = only(result, "billing_mismatch", "B0")
    assert hit.severity == "high" and (hit.start, hit.end) == (at(0), at(30))
    assert hit.evidence["metered_kwh"] == pytest.approx(metered[0], abs=0.01)
    assert hit.evidence["difference_pct"] == pytest.approx(0.4, abs=0.001) and hit.evidence["coverage"] == 1.0
    assert len(result.findings) == 1


def test_low_power_factor_by_month_for_large_customers_only():
    big = business("PF", 75, 1, kw_mean=60, ct_ratio=80)
    april = when(big, range(30, 60))  # 2026-04-01 … 04-30 local
    for p in "abc":
        big.loc[april, "i" + p] *= PF / 0.75
    home = residential("HOME", 75, 2)
    home["ia"] *= 1.6  # a home at PF 0.6 is not 力率-assessed
    cust = customers({"customer_id": "PF", "contract_kva": 200, "ct_ratio": 80},
                     {"customer_id": "HOME", "contract_kva": 8})
    result = scan(cust, pd.concat([big, home]), rules=["low_power_factor"])
    hit = only(result, "low_power_factor", "PF")
    assert (hit.start, hit.end) == (at(30), at(60))
    assert hit.severity == "high" and hit.evidence["power_factor"] == pytest.approx(0.75, abs=0.01)
    assert [m["month"] for m in hit.evidence["months"]] == ["2026-04"]
    assert hit.evidence["limits"][0]["value"] == 0.9
    assert len(result.findings) == 1


# ---------------------------------------------------------------------------------------------
# Inputs, thresholds, evidence


def test_sub_hourly_shuffled_readings_give_the_same_findings():
    hourly = article_case()
    quarter = pd.concat([hourly.assign(ts=hourly["ts"] + pd.Timedelta(minutes=m)) for m in (0, 15, 30, 45)])
    quarter["kwh"] = quarter["kwh"] / 4
    quarter = quarter.sample(frac=1.0, random_state=3)
    cust = customers({"customer_id": "ART", "contract_kva": 100, "ct_ratio": 40})
    a, b = scan(cust, hourly), scan(cust, quarter)
    assert [(f.rule, f.start, f.end, f.severity) for f in a.findings] == [(f.rule, f.start, f.end, f.severity) for f in b.findings]


def test_thresholds_override_changes_the_outcome(tmp_path):
    cust = customers({"customer_id": "ART", "contract_kva": 100, "ct_ratio": 40})
    frame = article_case()
    override = tmp_path / "override.yml"
    override.write_text("over_contract_capacity:\n  margin: 2.7\nct_over_limit:\n  overload: 2.0\n  flat_min_hours: 1000\n")
    th = Thresholds.load(override)
    assert th.over_contract_capacity.margin == 2.7 and th.over_contract_capacity.min_hours == 3
    assert scan(cust, frame, thresholds=th).findings == []
    lowered = Thresholds.load(overrides={"over_contract_capacity": {"high_ratio": 3.0}})
    assert only(scan(cust, frame, thresholds=lowered), "over_contract_capacity", "ART").severity == "medium"
    (tmp_path / "bad.yml").write_text("over_contract_capacity:\n  margn: 2\n")
    with pytest.raises(ValueError, match="margn"):
        Thresholds.load(tmp_path / "bad.yml")
    with pytest.raises(ValueError, match="severity"):
        Thresholds.load(overrides={"cover_open": {"severity": "urgent"}})


def test_missing_columns_disable_rules_with_a_reason():
    frame = residential("R", 30, 1)[["customer_id", "ts", "kwh", "ia"]]
    frame["ia"] = np.nan  # all-NaN is missing
    result = scan(customers({"customer_id": "R", "contract_kva": 8}), frame)
    assert set(result.disabled) == {"ct_over_limit", "voltage_loss", "phase_failure", "reverse_energy",
                                    "current_imbalance", "cover_open", "billing_mismatch", "low_power_factor"}
    assert "ia, ib, ic" in result.disabled["ct_over_limit"]
    assert "no events" in result.disabled["cover_open"]
    assert result.daily is not None and result.daily.kwh.shape == (1, 30)
    only_events = scan(customers({"customer_id": "R", "contract_kva": 8}), frame,
                       pd.DataFrame({"customer_id": ["R"], "ts": [at(3)], "event": ["失压"]}), rules=["voltage_loss"])
    assert only_events.disabled == {} and only(only_events, "voltage_loss", "R").severity == "low"
    with pytest.raises(ValueError, match="unknown rule"):
        scan(customers({"customer_id": "R", "contract_kva": 8}), frame, rules=["no_such_rule"])


def test_every_rule_has_a_label_and_the_evidence_is_json():
    assert set(rules.RULE_LABELS) == set(RULES) and len(RULES) == 11
    cust, readings, events = voltage_fleet()
    art = article_case()
    result = scan(pd.concat([cust, customers({"customer_id": "ART", "contract_kva": 100, "ct_ratio": 40})]),
                  pd.concat([readings, art]), events)
    assert {f.rule for f in result.findings} >= {"over_contract_capacity", "ct_over_limit", "voltage_loss", "phase_failure"}
    for f in result.findings:
        line = json.loads(json.dumps(f.to_json(), allow_nan=False, ensure_ascii=False))
        assert set(line) == {"customer_id", "rule", "severity", "start", "end", "evidence"}
        assert f.start.tzinfo is not None and f.start <= f.end
        for series in line["evidence"].get("series", []):
            assert len(series["points"]) <= 200 and {"name", "unit", "points"} <= set(series)


def test_naive_timestamps_are_refused():
    frame = residential("R", 3, 1)
    frame["ts"] = frame["ts"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="tz-aware"):
        scan(customers({"customer_id": "R", "contract_kva": 8}), frame)
