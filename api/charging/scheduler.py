"""Orderly charging (有序充电): power for the EV sessions under one transformer area, per 15 minutes.

Pure and database-free: the central system hands in the area's capacity, its forecast of the other
(base) load, a tariff and the sessions, and gets back a power set-point per session per step, which
it turns into SetChargingProfile messages. It calls `replan` on every arrival, departure and
forecast change with the energy already delivered.

Rules, in order of precedence:
1. Hard: base + the sum of the set-points ≤ capacity at every step; a set-point ≤ the session's
   max_kw and only while the car is plugged in (arrival ≤ t < departure); never more energy than
   was asked for.
2. The most energy by departure: a session whose energy cannot be met (its max_kw over its stay is
   too little, or the area has no room) is reported at planning time with its shortfall.
3. Sessions whose owners do not allow delay are served as early as the limit allows.
4. Sessions that allow delay (the default) go to the cheapest steps (谷 valley first) that still
   meet their energy; among equally cheap steps the area's peak is kept low, then earlier wins.

Two methods: "lp" — one linear programme (scipy.optimize.linprog, HiGHS) with those rules as
lexicographic weights — and "greedy" — earliest-deadline-first, each session water-filled into the
cheapest steps of its stay where the area's load is lowest (ASAP for no-delay sessions). "auto" is
the LP, falling back to the greedy one when scipy is missing, the problem is very large or the
solver fails. A set-point applies while the car is plugged in; a car arriving or leaving inside a
step gets energy for the part of the step it is there, and the capacity check uses the set-point
itself, so it holds at every instant of the step.
"""
from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

import numpy as np

from api.core.time import LOCAL_TZ, UTC

try:  # scipy is in requirements/app.txt; the greedy method keeps working without it
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix
except ImportError:  # pragma: no cover
    linprog = None
    coo_matrix = None

STEP = timedelta(minutes=15)
STEP_HOURS = 0.25
TOL_KWH = 1e-3  # energy closer than this to what was asked counts as served
LP_MAX_VARIABLES = 100_000  # above this (≈ 2,000 cars over a day) "auto" uses the greedy method

METHODS = ("auto", "lp", "greedy")


# ------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Session:
    """One car plugged in (or announced) under the area: its stay, its wish and its limit."""

    session_id: str
    arrival: datetime  # aware
    departure: datetime  # aware, after arrival
    kwh_requested: float
    max_kw: float
    allow_delay: bool = True  # the owner accepts charging later (in the valley) if it is done by departure


class Tariff(Protocol):
    """A price per kWh at any instant."""

    def price_at(self, at: datetime) -> Decimal:
        """Yuan per kWh at an instant."""


@dataclass(frozen=True)
class Band:
    """A daily time-of-use band in local (Asia/Shanghai) minutes [start, end); end ≤ start crosses midnight."""

    start_minute: int
    end_minute: int
    price: Decimal  # yuan per kWh
    name: str = ""


class TouTariff:
    """峰谷 time-of-use prices by local time of day; the bands must cover the day exactly once."""

    def __init__(self, bands: Sequence[Band]):
        owner = [-1] * 1440
        for i, band in enumerate(bands):
            if not (0 <= band.start_minute < 1440 and 0 <= band.end_minute <= 1440):
                raise ValueError(f"band {i + 1}: minutes must lie within 0–1440")
            if band.price < 0:
                raise ValueError(f"band {i + 1}: negative price")
            end = band.end_minute if band.end_minute > band.start_minute else band.end_minute + 1440
            for m in range(band.start_minute, end):
                if owner[m % 1440] != -1:
                    raise ValueError(f"band {i + 1} overlaps band {owner[m % 1440] + 1} at {m % 1440 // 60:02d}:{m % 60:02d}")
                owner[m % 1440] = i
        if -1 in owner:
            m = owner.index(-1)
            raise ValueError(f"no band covers {m // 60:02d}:{m % 60:02d}")
        self.bands = tuple(bands)
        self._owner = owner

    def band_at(self, at: datetime) -> Band:
        """The band in force at an instant."""
        local = at.astimezone(LOCAL_TZ)
        return self.bands[self._owner[local.hour * 60 + local.minute]]

    def price_at(self, at: datetime) -> Decimal:
        """Yuan per kWh at an instant."""
        return self.band_at(at).price


class SeriesTariff:
    """Prices as a time series: each price holds from its timestamp until the next one."""

    def __init__(self, points: Sequence[tuple[datetime, Decimal]]):
        if not points:
            raise ValueError("a price series needs at least one point")
        self._points = sorted(points, key=lambda p: p[0])
        self._times = [p[0] for p in self._points]

    def price_at(self, at: datetime) -> Decimal:
        """Yuan per kWh at an instant (the first price before the series starts)."""
        i = bisect_right(self._times, at) - 1
        return self._points[max(i, 0)][1]


def _hm(h: int, m: int = 0) -> int:
    return h * 60 + m


# 演示值, in the 宁夏 pattern for charging (一般工商业 shape): 谷 22:00–08:00, 峰 08:00–11:00 and
# 17:00–22:00, 平 otherwise; 平 equals the region's 一般工商业 price in api/billing/tariffs.yml.
DEFAULT_TARIFF = TouTariff([
    Band(_hm(0), _hm(8), Decimal("0.3236"), "valley"),
    Band(_hm(8), _hm(11), Decimal("0.8236"), "peak"),
    Band(_hm(11), _hm(17), Decimal("0.6236"), "flat"),
    Band(_hm(17), _hm(22), Decimal("0.8236"), "peak"),
    Band(_hm(22), _hm(24), Decimal("0.3236"), "valley"),
])

BaseLoad = Callable[[datetime], float]


def step_function(points: Sequence[tuple[datetime, float]]) -> BaseLoad:
    """A load forecast from (timestamp, kW) points: each value holds until the next (the first before)."""
    ordered = sorted(points, key=lambda p: p[0])
    if not ordered:
        return lambda at: 0.0
    times = [p[0] for p in ordered]

    def at_time(at: datetime) -> float:
        return float(ordered[max(bisect_right(times, at) - 1, 0)][1])

    return at_time


def _base_fn(base_kw: BaseLoad | float | None) -> BaseLoad:
    if base_kw is None:
        return lambda at: 0.0
    if isinstance(base_kw, (int, float)):
        value = float(base_kw)
        return lambda at: value
    return base_kw


# ------------------------------------------------------------------------------------ time grid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_step(at: datetime) -> datetime:
    """The start of the 15-minute step holding an instant (steps are aligned to the quarter hour)."""
    seconds = (at - _EPOCH).total_seconds()
    return _EPOCH + timedelta(seconds=math.floor(seconds / 900) * 900)


def ceil_step(at: datetime) -> datetime:
    """The first step boundary at or after an instant."""
    seconds = (at - _EPOCH).total_seconds()
    return _EPOCH + timedelta(seconds=math.ceil(seconds / 900) * 900)


# ------------------------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class SessionPlan:
    """What one session gets: a set-point per step of the plan, and whether its energy will be met."""

    session_id: str
    kw: tuple[float, ...]  # set-point per step (0 when not plugged in)
    kwh: tuple[float, ...]  # energy per step (the set-point times the part of the step it is plugged in)
    remaining_kwh: float  # still wanted when the plan was made
    planned_kwh: float
    shortfall_kwh: float
    status: str  # "ok" (will be met by departure) | "cannot_meet" | "done" (nothing left to deliver)
    reason: str | None  # for cannot_meet: "max_power" (its own limit over its stay), "capacity", "departed"
    finish: datetime | None  # end of the last step with energy


@dataclass(frozen=True)
class Plan:
    """A plan for one area from `start` on, `steps` steps of 15 minutes."""

    start: datetime
    steps: int
    capacity_kw: float
    base_kw: tuple[float, ...]
    prices: tuple[Decimal, ...]
    sessions: dict[str, SessionPlan]
    method: str  # the method that produced it ("lp" or "greedy")
    solve_seconds: float

    def step_start(self, i: int) -> datetime:
        """Start of step i."""
        return self.start + i * STEP

    def ev_kw(self) -> np.ndarray:
        """Sum of the set-points per step."""
        total = np.zeros(self.steps)
        for sp in self.sessions.values():
            total += np.asarray(sp.kw)
        return total

    def load_kw(self) -> np.ndarray:
        """Base load plus the set-points per step: what the transformer may see at worst."""
        return np.asarray(self.base_kw) + self.ev_kw()

    def cannot_meet(self) -> list[SessionPlan]:
        """The sessions whose energy will not be met by departure."""
        return [sp for sp in self.sessions.values() if sp.status == "cannot_meet"]

    def cost_yuan(self) -> Decimal:
        """Cost of the planned energy at the tariff, to the fen."""
        total = Decimal(0)
        for sp in self.sessions.values():
            for kwh, price in zip(sp.kwh, self.prices):
                if kwh > 0:
                    total += Decimal(repr(round(kwh, 6))) * price
        return total.quantize(Decimal("0.01"))

    def profile(self, session_id: str) -> list[tuple[datetime, float]]:
        """The session's set-points as (start, kW) at each change — a SetChargingProfile schedule."""
        out: list[tuple[datetime, float]] = []
        for i, kw in enumerate(self.sessions[session_id].kw):
            kw = round(kw, 3)
            if not out or out[-1][1] != kw:
                out.append((self.step_start(i), kw))
        return out


# ------------------------------------------------------------------------------------ planning


@dataclass
class _Problem:
    ids: list[str]
    remaining: np.ndarray  # kWh, per active session
    max_kw: np.ndarray
    allow_delay: np.ndarray
    first: np.ndarray  # first step index of the stay
    hours: list[np.ndarray]  # plugged-in hours in each step of the stay
    departure: list[datetime]
    arrival: list[datetime]
    headroom: np.ndarray  # capacity − base per step, ≥ 0
    base: np.ndarray
    price: np.ndarray  # float yuan/kWh per step


def plan(sessions: Sequence[Session], *, capacity_kw: float, base_kw: BaseLoad | float | None = None,
         tariff: Tariff = DEFAULT_TARIFF, now: datetime | None = None,
         delivered: Mapping[str, float] | None = None, end: datetime | None = None,
         method: str = "auto") -> Plan:
    """Plan the area's sessions from `now` (default: the first arrival) to the last departure (or `end`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    if capacity_kw <= 0:
        raise ValueError("capacity_kw must be positive")
    t0 = time.perf_counter()
    if any(s.arrival.tzinfo is None or s.departure.tzinfo is None for s in sessions) or (
            now is not None and now.tzinfo is None):
        raise ValueError("times must be aware (with a UTC offset)")
    delivered = delivered or {}
    base_at = _base_fn(base_kw)
    if now is None:
        now = min((s.arrival for s in sessions), default=floor_step(datetime.now(UTC)))
    start = floor_step(now)
    last = max((s.departure for s in sessions), default=now)
    if end is not None:
        last = min(last, end) if sessions else end
    steps = max(1, round((ceil_step(max(last, now)) - start) / STEP))
    step_starts = [start + i * STEP for i in range(steps)]
    base = np.array([float(base_at(t)) for t in step_starts])
    prices = tuple(tariff.price_at(t) for t in step_starts)
    headroom = np.maximum(capacity_kw - base, 0.0)
    horizon_end = start + steps * STEP

    problem = _Problem([], np.zeros(0), np.zeros(0), np.zeros(0, bool), np.zeros(0, int), [], [], [], headroom, base,
                       np.array([float(p) for p in prices]))
    idle: dict[str, SessionPlan] = {}
    zeros = tuple(0.0 for _ in range(steps))
    rem_l, kw_l, delay_l, first_l = [], [], [], []
    for s in sessions:
        remaining = max(0.0, float(s.kwh_requested) - float(delivered.get(s.session_id, 0.0)))
        begin = max(s.arrival, now)
        stop = min(s.departure, horizon_end)
        if remaining <= TOL_KWH:
            idle[s.session_id] = SessionPlan(s.session_id, zeros, zeros, remaining, 0.0, 0.0, "done", None, None)
            continue
        if stop <= begin or s.max_kw <= 0:
            idle[s.session_id] = SessionPlan(s.session_id, zeros, zeros, remaining, 0.0, remaining, "cannot_meet",
                                             "departed" if s.departure <= now else "max_power", None)
            continue
        a = int((floor_step(begin) - start) / STEP)
        b = int((ceil_step(stop) - start) / STEP)
        edges = np.arange(a, b + 1) * 900.0  # step boundaries in seconds from `start`
        lo = np.maximum(edges[:-1], (begin - start).total_seconds())
        hi = np.minimum(edges[1:], (stop - start).total_seconds())
        hours = (hi - lo) / 3600
        problem.ids.append(s.session_id)
        problem.hours.append(np.maximum(hours, 0.0))
        problem.departure.append(s.departure)
        problem.arrival.append(s.arrival)
        rem_l.append(remaining)
        kw_l.append(float(s.max_kw))
        delay_l.append(bool(s.allow_delay))
        first_l.append(a)
    problem.remaining = np.array(rem_l, dtype=float)
    problem.max_kw = np.array(kw_l, dtype=float)
    problem.allow_delay = np.array(delay_l, dtype=bool)
    problem.first = np.array(first_l, dtype=int)

    used = method
    x: list[np.ndarray] | None = None
    if problem.ids:
        n_vars = sum(len(h) for h in problem.hours)
        if method in ("auto", "lp") and linprog is not None and (method == "lp" or n_vars <= LP_MAX_VARIABLES):
            x = _solve_lp(problem)
            used = "lp"
        if x is None:
            if method == "lp" and linprog is None:
                raise RuntimeError("scipy is not installed: use method='greedy'")
            x = _solve_greedy(problem)
            used = "greedy"
        x = _repair(problem, x)
    else:
        used = "lp" if method == "auto" and linprog is not None else ("greedy" if method == "auto" else method)

    out: dict[str, SessionPlan] = {}
    for s in sessions:
        if s.session_id in idle:
            out[s.session_id] = idle[s.session_id]
    for j, sid in enumerate(problem.ids):
        a = problem.first[j]
        kw = np.zeros(steps)
        kw[a:a + len(x[j])] = x[j]
        kwh = np.zeros(steps)
        kwh[a:a + len(x[j])] = x[j] * problem.hours[j]
        planned = float(kwh.sum())
        remaining = float(problem.remaining[j])
        shortfall = max(0.0, remaining - planned)
        if shortfall <= TOL_KWH:
            status, reason, shortfall = "ok", None, 0.0
        else:
            own_limit = float(problem.max_kw[j] * problem.hours[j].sum())
            status = "cannot_meet"
            reason = "max_power" if own_limit < remaining - TOL_KWH else "capacity"
        nz = np.flatnonzero(kwh > 1e-9)
        finish = min(start + (int(nz[-1]) + 1) * STEP, problem.departure[j]) if len(nz) else None
        out[sid] = SessionPlan(sid, tuple(float(v) for v in kw), tuple(float(v) for v in kwh), remaining,
                               planned, shortfall, status, reason, finish)
    return Plan(start, steps, float(capacity_kw), tuple(float(b) for b in base), prices, out, used,
                time.perf_counter() - t0)


def replan(sessions: Sequence[Session], *, now: datetime, delivered: Mapping[str, float], capacity_kw: float,
           base_kw: BaseLoad | float | None = None, tariff: Tariff = DEFAULT_TARIFF,
           method: str = "auto") -> Plan:
    """Re-plan the remaining horizon from `now`, given the energy each session has had so far.

    Call it on every arrival (add the session), departure (drop it or leave it: a departed session
    gets nothing), and change of the base-load forecast. Sessions still to arrive may be included.
    """
    return plan(sessions, capacity_kw=capacity_kw, base_kw=base_kw, tariff=tariff, now=now, delivered=delivered,
                method=method)


# ------------------------------------------------------------------------------------ the LP


def _solve_lp(p: _Problem) -> list[np.ndarray] | None:
    """min Σ price·kWh + lateness + peak tie-breaker + M·shortfall, under the hard limits; None if it fails."""
    m = len(p.ids)
    n = len(p.headroom)
    lens = np.array([len(h) for h in p.hours])
    K = int(lens.sum())
    sess = np.repeat(np.arange(m), lens)
    step = np.concatenate([p.first[j] + np.arange(lens[j]) for j in range(m)])
    hrs = np.concatenate(p.hours)
    rel = step - p.first[sess]  # steps since the start of the stay

    prices = p.price
    levels = np.unique(prices)
    spread = float(levels[-1] - levels[0]) if len(levels) > 1 else 0.0
    min_gap = float(np.diff(levels).min()) if len(levels) > 1 else 0.1
    w_early = spread + 0.01  # per kWh per step: one step earlier beats any price difference (no-delay sessions)
    eps_late = 1e-6  # per kWh per step: among equal prices and peaks, earlier (delay sessions)
    gamma = 0.1 * STEP_HOURS * min_gap  # per kW of the area's peak: below any price difference
    big_m = 10.0 * (n * w_early + float(levels[-1]) + 1.0)  # per kWh short: above everything else

    late = np.where(p.allow_delay[sess], eps_late * step, w_early * rel)
    c = np.concatenate([hrs * (prices[step] + late), np.full(m, big_m), [gamma]])

    # energy: Σ_t h·x + u = remaining
    a_eq = coo_matrix((np.concatenate([hrs, np.ones(m)]),
                       (np.concatenate([sess, np.arange(m)]), np.concatenate([np.arange(K), K + np.arange(m)]))),
                      shape=(m, K + m + 1)).tocsr()
    # capacity: Σ_s x ≤ headroom; peak: Σ_s x − P ≤ −base
    rows = np.concatenate([step, n + step, n + np.arange(n)])
    cols = np.concatenate([np.arange(K), np.arange(K), np.full(n, K + m)])
    vals = np.concatenate([np.ones(K), np.ones(K), -np.ones(n)])
    a_ub = coo_matrix((vals, (rows, cols)), shape=(2 * n, K + m + 1)).tocsr()
    b_ub = np.concatenate([p.headroom, -p.base])
    upper = np.minimum(p.max_kw[sess], p.headroom[step])
    bounds = np.column_stack([np.zeros(K + m + 1), np.concatenate([upper, p.remaining, [np.inf]])])
    bounds[-1, 0] = -np.inf
    try:
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=p.remaining, bounds=bounds, method="highs")
    except Exception:  # noqa: BLE001 — any solver failure falls back to the greedy method
        return None
    if res.status != 0 or res.x is None:
        return None
    x = res.x[:K]
    return np.split(x, np.cumsum(lens)[:-1])


# ------------------------------------------------------------------------------------ greedy


def _solve_greedy(p: _Problem) -> list[np.ndarray]:
    """Earliest deadline first; each session water-filled into its cheapest, least loaded steps."""
    m = len(p.ids)
    ev = np.zeros(len(p.headroom))
    out: list[np.ndarray] = [np.zeros(len(h)) for h in p.hours]
    order = sorted(range(m), key=lambda j: (p.departure[j], p.arrival[j], p.ids[j]))
    for j in order:
        a = p.first[j]
        h = p.hours[j]
        idx = a + np.arange(len(h))
        need = float(p.remaining[j])
        room = np.clip(np.minimum(p.max_kw[j], p.headroom[idx] - ev[idx]), 0.0, None)
        room[h <= 0] = 0.0
        x = np.zeros(len(h))
        if not p.allow_delay[j]:
            energy = room * h
            cum = np.cumsum(energy)
            full = cum <= need + 1e-12
            x[full] = room[full]
            k = int(np.argmin(full)) if not full.all() else len(h)
            if k < len(h):
                got = cum[k - 1] if k > 0 else 0.0
                x[k] = (need - got) / h[k] if h[k] > 0 else 0.0
        else:
            price = p.price[idx]
            for level in np.unique(price):
                if need <= 1e-12:
                    break
                sel = np.flatnonzero((price == level) & (room > 0))
                if not len(sel):
                    continue
                avail = float((room[sel] * h[sel]).sum())
                if avail <= need:
                    x[sel] = room[sel]
                    need -= avail
                    continue
                load = p.base[idx[sel]] + ev[idx[sel]]
                lo, hi = float(load.min()), float((load + room[sel]).max())
                for _ in range(40):  # water level L: Σ clip(L − load, 0, room)·h = need
                    mid = (lo + hi) / 2
                    if (np.clip(mid - load, 0.0, room[sel]) * h[sel]).sum() < need:
                        lo = mid
                    else:
                        hi = mid
                x[sel] = np.clip(hi - load, 0.0, room[sel])
                need = 0.0
        ev[idx] += x
        out[j] = x
    return out


def _repair(p: _Problem, x: list[np.ndarray]) -> list[np.ndarray]:
    """Clip solver round-off so the hard limits hold exactly: bounds, capacity per step, energy asked."""
    n = len(p.headroom)
    ev = np.zeros(n)
    for j in range(len(x)):
        x[j] = np.clip(x[j], 0.0, p.max_kw[j])
        x[j][p.hours[j] <= 0] = 0.0
        x[j][x[j] < 1e-7] = 0.0
        energy = float((x[j] * p.hours[j]).sum())
        if energy > p.remaining[j] > 0:
            x[j] *= p.remaining[j] / energy
        ev[p.first[j]:p.first[j] + len(x[j])] += x[j]
    over = ev > p.headroom
    if over.any():
        scale = np.ones(n)
        scale[over] = p.headroom[over] / ev[over]
        for j in range(len(x)):
            x[j] *= scale[p.first[j]:p.first[j] + len(x[j])]
    return x
