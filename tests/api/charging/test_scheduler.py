"""Orderly charging scheduler: the limit holds, energy is met when it can be, valley first, re-plans."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from api.charging.planning import evening_base_load, replay_orderly, replay_uncontrolled, synthetic_sessions
from api.charging.scheduler import (
    DEFAULT_TARIFF,
    STEP,
    Band,
    Session,
    TouTariff,
    plan,
    replan,
    step_function,
)
from api.core.time import LOCAL_TZ

DAY = datetime(2026, 3, 2, tzinfo=LOCAL_TZ)  # a fixed Monday; nothing depends on today's date
METHODS = ["lp", "greedy"]


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def alone_feasible(s: Session) -> bool:
    return s.max_kw * (s.departure - s.arrival).total_seconds() / 3600 >= s.kwh_requested - 1e-3


def check_plan_limits(p, sessions, capacity_kw):
    """Hard rules of any plan: capacity, max_kw, presence, never more than asked."""
    assert (p.load_kw() <= capacity_kw + 1e-6).all() or (np.asarray(p.base_kw) > capacity_kw).any()
    ev = p.ev_kw()
    headroom = np.maximum(capacity_kw - np.asarray(p.base_kw), 0)
    assert (ev <= headroom + 1e-6).all()
    by_id = {s.session_id: s for s in sessions}
    for sid, sp in p.sessions.items():
        s = by_id[sid]
        kw = np.asarray(sp.kw)
        assert (kw >= 0).all() and (kw <= s.max_kw + 1e-9).all()
        for i, v in enumerate(kw):
            if v > 0:
                step_start = p.step_start(i)
                assert step_start + STEP > s.arrival and step_start < s.departure
        assert sp.planned_kwh <= sp.remaining_kwh + 1e-6


# ------------------------------------------------------------------------------------ the acceptance simulation


@pytest.mark.parametrize("method", METHODS)
def test_200_evs_on_4_areas_never_over_the_limit_in_24_hours(method):
    capacities = [400.0, 320.0, 500.0, 360.0]
    for area, capacity in enumerate(capacities):
        rng = np.random.default_rng([20261205, area])
        base = evening_base_load(rng, day_start=DAY, capacity_kw=capacity)
        sessions = synthetic_sessions(rng, n=50, day_start=DAY, prefix=f"a{area}")

        free = replay_uncontrolled(sessions, base_kw=base)
        ordered = replay_orderly(sessions, capacity_kw=capacity, base_kw=base, method=method)
        assert free.load_kw().max() > capacity  # the test means something: uncontrolled overloads the area
        load = ordered.load_kw()
        assert len(load) >= 96
        for k, kw in enumerate(load):  # at every step of the day
            assert kw <= capacity + 1e-6, f"area {area} step {k}: {kw:.1f} kW > {capacity} kW"
        assert ordered.plans > 10  # it re-planned as cars came and went

        delivered = ordered.kwh.sum(axis=1)
        for j, s in enumerate(sessions):
            if alone_feasible(s):  # every session that its own charger can serve is served by departure
                assert delivered[j] >= s.kwh_requested - 1e-3, s
            # never charging outside the stay
            k_arr = int((s.arrival - ordered.start) / STEP)
            assert ordered.kwh[j, :k_arr].sum() == 0


@pytest.mark.parametrize("method", METHODS)
def test_full_plan_of_200_evs_keeps_every_hard_rule(method):
    rng = np.random.default_rng(7)
    capacity = 1300.0
    base = evening_base_load(rng, day_start=DAY, capacity_kw=capacity)
    sessions = synthetic_sessions(rng, n=200, day_start=DAY)
    p = plan(sessions, capacity_kw=capacity, base_kw=base, method=method)
    assert p.method == method
    check_plan_limits(p, sessions, capacity)
    for s in sessions:
        sp = p.sessions[s.session_id]
        if alone_feasible(s):
            assert sp.status == "ok" and sp.shortfall_kwh == 0
            assert sp.finish is not None and sp.finish <= s.departure
        else:
            assert sp.status == "cannot_meet" and sp.reason == "max_power"
            own = s.max_kw * (s.departure - s.arrival).total_seconds() / 3600
            assert sp.shortfall_kwh == pytest.approx(s.kwh_requested - own, abs=1e-3)


# ------------------------------------------------------------------------------------ feasibility


@pytest.mark.parametrize("method", METHODS)
def test_tight_but_feasible_is_served(method):
    # 10 kW for two cars: B must have 5 kWh in the first hour, A 10 kWh over two hours
    sessions = [Session("A", at(10), at(12), 10, 10, allow_delay=True),
                Session("B", at(10), at(11), 5, 10, allow_delay=True)]
    p = plan(sessions, capacity_kw=10, method=method)
    check_plan_limits(p, sessions, 10)
    assert all(sp.status == "ok" for sp in p.sessions.values())
    assert p.sessions["A"].planned_kwh == pytest.approx(10, abs=1e-3)
    assert p.sessions["B"].planned_kwh == pytest.approx(5, abs=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_infeasible_sessions_are_reported_at_planning_time_with_the_shortfall(method):
    sessions = [
        Session("slow", at(10), at(12), 50, 7),  # 7 kW × 2 h = 14 kWh at most
        Session("c1", at(14), at(15), 15, 20),  # c1 + c2 want 30 kWh in an hour under 10 kW
        Session("c2", at(14), at(15), 15, 20),
        Session("fine", at(16), at(18), 6, 7),
    ]
    p = plan(sessions, capacity_kw=10, method=method)
    check_plan_limits(p, sessions, 10)
    slow = p.sessions["slow"]
    assert slow.status == "cannot_meet" and slow.reason == "max_power"
    assert slow.shortfall_kwh == pytest.approx(36, abs=1e-3)
    c = [p.sessions["c1"], p.sessions["c2"]]
    assert sum(sp.planned_kwh for sp in c) == pytest.approx(10, abs=1e-3)  # all the room there is
    assert sum(sp.shortfall_kwh for sp in c) == pytest.approx(20, abs=1e-3)
    assert all(sp.reason == "capacity" for sp in c if sp.status == "cannot_meet")
    assert p.sessions["fine"].status == "ok"
    assert {sp.session_id for sp in p.cannot_meet()} >= {"slow"}


@pytest.mark.parametrize("method", METHODS)
def test_base_load_over_the_limit_leaves_no_room_for_charging(method):
    base = step_function([(at(0), 50.0), (at(19), 120.0), (at(20), 50.0)])  # 19:00–20:00 over 100 kW
    sessions = [Session("x", at(18), at(22), 20, 11, allow_delay=False)]
    p = plan(sessions, capacity_kw=100, base_kw=base, method=method)
    for i in range(p.steps):
        if at(19) <= p.step_start(i) < at(20):
            assert p.ev_kw()[i] == 0
    assert p.sessions["x"].status == "ok"


# ------------------------------------------------------------------------------------ valley and delay


@pytest.mark.parametrize("method", METHODS)
def test_delay_allowed_goes_to_the_valley_and_no_delay_starts_at_once(method):
    sessions = [Session("home", at(18), at(31), 20, 7, allow_delay=True),  # 18:00 → 07:00 next day
                Session("hurry", at(18), at(31), 20, 7, allow_delay=False)]
    p = plan(sessions, capacity_kw=100, method=method)
    valley = DEFAULT_TARIFF.price_at(at(23))
    home, hurry = p.sessions["home"], p.sessions["hurry"]
    for i, kwh in enumerate(home.kwh):
        if kwh > 0:
            assert p.prices[i] == valley
    assert home.planned_kwh == pytest.approx(20, abs=1e-3)
    # the no-delay car charges at full power from arrival: 20 kWh at 7 kW → done at 20:51, in the 20:45 step
    assert hurry.kw[0] == pytest.approx(7)
    assert hurry.finish == at(21)
    assert hurry.planned_kwh == pytest.approx(20, abs=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_valley_shifting_costs_less_than_uncontrolled_on_the_same_sessions(method):
    rng = np.random.default_rng(11)
    base = evening_base_load(rng, day_start=DAY, capacity_kw=400)
    sessions = synthetic_sessions(rng, n=50, day_start=DAY)
    free = replay_uncontrolled(sessions, base_kw=base).metrics(sessions, 400)
    ordered = replay_orderly(sessions, capacity_kw=400, base_kw=base, method=method).metrics(sessions, 400)
    assert ordered["energy_delivered_kwh"] == pytest.approx(free["energy_delivered_kwh"], abs=0.01)
    assert ordered["cost_yuan"] < 0.8 * free["cost_yuan"]
    assert ordered["peak_kw"] < free["peak_kw"]
    assert ordered["minutes_over_capacity"] == 0 < free["minutes_over_capacity"]


@pytest.mark.parametrize("method", METHODS)
def test_when_the_valley_is_too_short_the_energy_still_wins(method):
    # 30 kWh at 7 kW needs 4.3 h; the car stays 20:00–02:00, only 4 h of it in the valley
    sessions = [Session("late", at(20), at(26), 30, 7, allow_delay=True)]
    p = plan(sessions, capacity_kw=100, method=method)
    sp = p.sessions["late"]
    assert sp.status == "ok" and sp.planned_kwh == pytest.approx(30, abs=1e-3)
    valley = DEFAULT_TARIFF.price_at(at(23))
    assert sum(k for k, price in zip(sp.kwh, p.prices) if price == valley) == pytest.approx(28, abs=1e-3)


def test_a_custom_tariff_is_followed():
    # one cheap hour at 13:00–14:00 local; all else dear
    tariff = TouTariff([Band(0, 13 * 60, Decimal("1.0")), Band(13 * 60, 14 * 60, Decimal("0.1")),
                        Band(14 * 60, 0, Decimal("1.0"))])
    sessions = [Session("s", at(10), at(18), 7, 7)]
    p = plan(sessions, capacity_kw=50, tariff=tariff, method="lp")
    assert p.cost_yuan() == Decimal("0.70")
    assert p.profile("s")[1:] == [(at(13), 7.0), (at(14), 0.0)]


def test_tariff_bands_must_cover_the_day_once():
    with pytest.raises(ValueError, match="no band covers"):
        TouTariff([Band(0, 600, Decimal(1))])
    with pytest.raises(ValueError, match="overlaps"):
        TouTariff([Band(0, 800, Decimal(1)), Band(600, 0, Decimal(1))])


@pytest.mark.parametrize("method", METHODS)
def test_partial_steps_at_arrival_and_departure(method):
    sessions = [Session("odd", at(10) + timedelta(minutes=7), at(10) + timedelta(minutes=52), 3, 4,
                        allow_delay=False)]
    p = plan(sessions, capacity_kw=10, method=method)
    sp = p.sessions["odd"]
    assert sp.status == "ok" and sp.planned_kwh == pytest.approx(3, abs=1e-3)  # 4 kW × 45 min = 3 kWh exactly
    assert sp.finish == at(10) + timedelta(minutes=52)


# ------------------------------------------------------------------------------------ re-planning


@pytest.mark.parametrize("method", METHODS)
def test_replan_after_partial_delivery(method):
    rng = np.random.default_rng(5)
    capacity = 400.0
    base = evening_base_load(rng, day_start=DAY, capacity_kw=capacity)
    sessions = synthetic_sessions(rng, n=50, day_start=DAY)
    first = plan(sessions, capacity_kw=capacity, base_kw=base, method=method)
    now = at(21)
    k = int((now - first.start) / STEP)
    delivered = {sid: float(sum(sp.kwh[:k])) for sid, sp in first.sessions.items()}
    assert sum(delivered.values()) > 0

    # the forecast went up by 15 % from now on
    def higher(t):
        return base(t) * (1.15 if t >= now else 1.0)

    again = replan(sessions, now=now, delivered=delivered, capacity_kw=capacity, base_kw=higher, method=method)
    assert again.start == now
    check_plan_limits(again, sessions, capacity)
    for s in sessions:
        sp = again.sessions[s.session_id]
        left = max(0.0, s.kwh_requested - delivered[s.session_id])
        assert sp.remaining_kwh == pytest.approx(left, abs=1e-6)
        if s.departure <= now:
            assert sp.planned_kwh == 0
            assert sp.status in ("done", "cannot_meet")
        elif alone_feasible(s) and first.sessions[s.session_id].status == "ok":
            assert sp.status in ("ok", "done")
            assert delivered[s.session_id] + sp.planned_kwh == pytest.approx(s.kwh_requested, abs=2e-3)


def test_replan_mid_step_and_departed_session():
    sessions = [Session("gone", at(8), at(9), 20, 7), Session("here", at(8), at(12), 10, 7)]
    now = at(10) + timedelta(minutes=5)
    p = replan(sessions, now=now, delivered={"gone": 7.0, "here": 1.0}, capacity_kw=20)
    gone, here = p.sessions["gone"], p.sessions["here"]
    assert gone.status == "cannot_meet" and gone.reason == "departed" and gone.shortfall_kwh == pytest.approx(13)
    assert here.status == "ok" and here.planned_kwh == pytest.approx(9, abs=1e-3)
    assert p.start == at(10)  # the step holding `now`; the first step counts only from now
    assert here.kwh[0] <= 7 * 10 / 60 + 1e-9


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        plan([Session("n", datetime(2026, 3, 2, 18), datetime(2026, 3, 2, 20), 5, 7)], capacity_kw=10)


def test_no_sessions_is_an_empty_plan():
    p = plan([], capacity_kw=100, now=at(10))
    assert p.sessions == {} and p.cannot_meet() == [] and p.cost_yuan() == Decimal("0.00")
