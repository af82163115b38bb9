"""What happens on the demo's grid: past incidents, planned outages and the live situations at `end`.

Each turns into dark intervals in the simulation `Plan` and the meter events (停电, 失压, 上电, …)
a real metering system would log. Layout of the live situations at `end` (the hour of the last
reading, UTC):
- one transformer area in a fault outage (every meter dark, ≥ 90 % report 停电/失压),
- single-household outages in five other areas (one dark meter each),
- one overloaded area (load 112–127 % of its capacity over the last three hours),
- two low-voltage households (~185 V all the time: end of a long rural line),
- one planned outage in progress on another area, scheduled notices before and after `end`.
The fixed customers of `api.demo.showcase` sit in those places whatever the seed.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from api.core.time import LOCAL_TZ, UTC
from api.demo.hashing import fixed_uniform
from api.demo.showcase import HOUSEHOLD_OUTAGE_ROLES, fixed_accounts
from api.demo.simulation import HOUR, Axis, Plan, Profiles, from_epoch, simulate

LIVE_HOURS = 3  # the live situations rewrite at most the last three hourly readings
PLANNED_REASONS = ("10kV线路检修", "配电变压器检修", "配网改造工程施工", "线路通道树障清理",
                   "新建线路接火", "开关设备更换", "杆塔迁改")


@dataclass
class Roles:
    """Where the live situations are, found from the fixed accounts."""

    meter_of: dict[str, int]  # fixed role -> meter id
    area_of: dict[str, int]  # fixed role -> area id
    members: dict[int, list[int]]  # area id -> meter ids
    feeder_of_area: dict[int, int]
    capacity: dict[int, float]

    @property
    def fault_area(self) -> int:
        return self.area_of["area_outage"]

    @property
    def overload_area(self) -> int:
        return self.area_of["overloaded_area"]

    @property
    def planned_area(self) -> int:
        return self.area_of["planned_outage"]

    @property
    def household_meters(self) -> list[int]:
        return [self.meter_of[r] for r in HOUSEHOLD_OUTAGE_ROLES]

    @property
    def role_areas(self) -> set[int]:
        return set(self.area_of.values())


def find_roles(rows: list[dict]) -> Roles:
    """Locate the fixed accounts' meters and areas among the stored meter rows."""
    by_account = {r["account_no"]: r for r in rows}
    meter_of, area_of = {}, {}
    for role, (account_no, _mobile) in fixed_accounts().items():
        r = by_account.get(account_no)
        if r is None:
            raise RuntimeError(f"demo customer {account_no} ({role}) is missing")
        meter_of[role], area_of[role] = r["meter_id"], r["area_id"]
    members: dict[int, list[int]] = defaultdict(list)
    feeder_of_area, capacity = {}, {}
    for r in rows:
        members[r["area_id"]].append(r["meter_id"])
        feeder_of_area[r["area_id"]] = r["feeder_id"]
        capacity[r["area_id"]] = float(r["capacity_kva"])
    return Roles(meter_of, area_of, dict(members), feeder_of_area, capacity)


def event(meter_id: int, at: datetime, kind: str, phase: str | None = None, detail: str | None = None) -> dict:
    """A MeterEvent row."""
    return {"meter_id": meter_id, "ts": at, "kind": kind, "phase": phase, "detail": detail}


def plant_live(roles: Roles, phases: dict[int, int], end: datetime, plan: Plan) -> list[dict]:
    """The fault outage and the household outages at `end`: dark intervals and their events."""
    events: list[dict] = []
    end_s = end.timestamp()
    stamp = end.isoformat()
    start = end_s - (20 + 20 * fixed_uniform("fault", stamp)) * 60
    meters = sorted(roles.members[roles.fault_area], key=lambda m: fixed_uniform("silent", m, stamp))
    silent = set(meters[: len(meters) // 10])
    for meter_id in meters:
        plan.dark[meter_id].append((start, math.inf))
        if meter_id in silent:
            continue  # its terminal lost power too: no event, only the dead readings
        at = start + 5 + 115 * fixed_uniform("fault-at", meter_id, stamp)
        if fixed_uniform("fault-loss", meter_id, stamp) < 0.5:
            for phase in ("A", "B", "C")[: phases[meter_id]]:
                events.append(event(meter_id, from_epoch(at - 3), "失压", phase, "电压低于临界值"))
        events.append(event(meter_id, from_epoch(at), "停电", None, "台区失电"))
    for meter_id in roles.household_meters:
        at = end_s - (10 + 40 * fixed_uniform("household", meter_id, stamp)) * 60
        plan.dark[meter_id].append((at, math.inf))
        events.append(event(meter_id, from_epoch(at), "失压", "A", "电压低于临界值"))
        events.append(event(meter_id, from_epoch(at + 2), "停电", None, "电能表掉电"))
    return events


def restore_previous(roles: Roles, old_end: datetime, plan: Plan) -> list[dict]:
    """Power comes back after the previous run's live outages (used when moving to a later end)."""
    events = []
    first = (old_end + HOUR).timestamp()
    stamp = old_end.isoformat()
    for meter_id in roles.members[roles.fault_area] + roles.household_meters:
        back = first + (5 + 45 * fixed_uniform("restore", meter_id, stamp)) * 60
        plan.dark[meter_id].append((first, back))
        events.append(event(meter_id, from_epoch(back), "上电", None, "恢复供电"))
    return events


def overload_factors(p: Profiles, roles: Roles, axis: Axis, temps: np.ndarray, end: datetime) -> dict[int, np.ndarray]:
    """Factors that lift the overloaded area to 112–127 % of its capacity in the last hours."""
    rows = np.flatnonzero(np.isin(p.meter_id, roles.members[roles.overload_area]))
    live = axis.eh >= (int(end.timestamp()) // 3600 - (LIVE_HOURS - 1))
    if not live.any() or rows.size == 0:
        return {}
    base = simulate(p.subset(rows), axis, temps, Plan())
    totals = base["kwh"].sum(axis=0)
    target = (1.12 + 0.15 * fixed_uniform("overload", end.isoformat())) * roles.capacity[roles.overload_area]
    factor = np.where(live, np.maximum(target / np.maximum(totals, 1e-6), 1.05), 1.0)
    return {int(p.meter_id[r]): factor for r in rows}


# ------------------------------------------------------------------------------ planned outages

def _notice_targets(roles: Roles, feeders: dict) -> list[tuple[str, int]]:
    """Where scheduled planned outages may fall: areas and feeders without any fixed customer."""
    busy = roles.role_areas
    busy_feeders = {roles.feeder_of_area[a] for a in busy}
    targets: list[tuple[str, int]] = []
    for feeder_id in sorted(feeders):
        if feeder_id not in busy_feeders:
            targets.append(("feeder", feeder_id))
    for area_id in sorted(roles.members):
        if area_id not in busy:
            targets.append(("area", area_id))
    return targets


def scheduled_notices(roles: Roles, areas: dict, feeders: dict, first_day: date, last_day: date) -> list[dict]:
    """The scheduled 计划停电 on every other local day: a pure function of the day and the grid."""
    targets = _notice_targets(roles, feeders)
    if not targets:
        return []
    notices = []
    day = first_day
    while day <= last_day:
        if day.toordinal() % 2 == 0:
            on_feeders = [t for t in targets if t[0] == "feeder"]
            pool = on_feeders if on_feeders and fixed_uniform("notice-kind", day.isoformat()) < 0.3 else \
                [t for t in targets if t[0] == "area"] or on_feeders
            kind, target = pool[int(fixed_uniform("notice-target", day.isoformat()) * len(pool))]
            start_local = datetime(day.year, day.month, day.day, 8, tzinfo=LOCAL_TZ) + \
                timedelta(minutes=30 * int(fixed_uniform("notice-start", day.isoformat()) * 3))
            hours = 4 + 0.5 * int(fixed_uniform("notice-hours", day.isoformat()) * 11)
            reason = PLANNED_REASONS[int(fixed_uniform("notice-reason", day.isoformat()) * len(PLANNED_REASONS))]
            notices.append(_notice(f"JH{day:%Y%m%d}01", kind, target, areas, feeders,
                                   start_local.astimezone(UTC), timedelta(hours=hours), reason))
        day += timedelta(days=1)
    return notices


def _notice(number: str, kind: str, target: int, areas: dict, feeders: dict, start: datetime,
            length: timedelta, reason: str) -> dict:
    """A PlannedOutage row on one area or on every area of one feeder."""
    if kind == "area":
        a = areas[target]
        scope = f"{a.district}{a.town}{a.name}（{a.code}）供电范围内全部用户"
        return {"notice_no": number, "district": a.district, "feeder_id": None,
                "transformer_area_id": target, "scope": scope, "reason": reason,
                "start_at": start, "end_at": start + length}
    f = feeders[target]
    names = [a.name for a in areas.values() if a.feeder_id == target]
    listed = "、".join(names[:6]) + (f"等{len(names)}个台区" if len(names) > 6 else "")
    return {"notice_no": number, "district": f.district, "feeder_id": target,
            "transformer_area_id": None, "scope": f"{f.name}所带台区：{listed}",
            "reason": reason, "start_at": start, "end_at": start + length}


def anchored_notice(roles: Roles, areas: dict, end: datetime) -> dict:
    """A planned outage in progress at `end` on the planned-outage showcase area."""
    start = end - 2 * HOUR
    number = f"LS{start.astimezone(LOCAL_TZ):%Y%m%d%H}"
    return _notice(number, "area", roles.planned_area, areas, {}, start, 6 * HOUR, "配电变压器检修")


def _notice_meters(notice: dict, roles: Roles) -> list[int]:
    if notice["transformer_area_id"] is not None:
        return roles.members.get(notice["transformer_area_id"], [])
    return [m for a, ms in roles.members.items() if roles.feeder_of_area[a] == notice["feeder_id"] for m in ms]


def apply_notices(notices: Iterable[dict], roles: Roles, plan: Plan, lo: float, hi: float) -> list[dict]:
    """Dark intervals for every notice, and its 停电/上电 events that fall in (lo, hi]."""
    events = []
    for n in notices:
        start, end = n["start_at"].timestamp(), n["end_at"].timestamp()
        for meter_id in _notice_meters(n, roles):
            plan.dark[meter_id].append((start, end))
            off = start + 90 * fixed_uniform("notice-off", n["notice_no"], meter_id)
            on = end + 90 * fixed_uniform("notice-on", n["notice_no"], meter_id)
            if lo < off <= hi:
                events.append(event(meter_id, from_epoch(off), "停电", None, f"计划停电 {n['notice_no']}"))
            if lo < on <= hi:
                events.append(event(meter_id, from_epoch(on), "上电", None, f"计划停电结束 {n['notice_no']}"))
    return events


# ------------------------------------------------------------------------------ past incidents

def past_events(seed: int, rows: list[dict], roles: Roles, start: datetime, end: datetime, plan: Plan) -> list[dict]:
    """Past events over the period (never in the last two days): 开盖, 断相, 反向电量, 停电/上电."""
    rng = random.Random(f"zhidian-history:{seed}")
    lo, hi = start.timestamp() + 3600, end.timestamp() - 2 * 86400
    if hi - lo < 6 * 3600:
        return []
    fixed = set(roles.meter_of.values())
    events: list[dict] = []

    def when() -> float:
        return round(rng.uniform(lo, hi))

    for r in rows:
        meter_id = r["meter_id"]
        if meter_id in fixed:
            continue
        phases = ("A", "B", "C")[: int(r["phases"])]
        if rng.random() < 0.04:
            t, length = when(), rng.uniform(0.4, 5.0) * 3600
            plan.dark[meter_id].append((t, t + length))
            if rng.random() < 0.5:
                events.append(event(meter_id, from_epoch(t - 2), "失压", "A", "电压低于临界值"))
            events.append(event(meter_id, from_epoch(t), "停电", None, "电能表掉电"))
            events.append(event(meter_id, from_epoch(t + length), "上电", None, "恢复供电"))
        if rng.random() < 0.012:
            events.append(event(meter_id, from_epoch(when()), "开盖", None,
                                rng.choice(("表盖开启", "端钮盒盖开启"))))
        if rng.random() < (0.02 if r["customer_class"] != "居民" else 0.005):
            events.append(event(meter_id, from_epoch(when()), "反向电量", None,
                                f"检测到反向电量{rng.uniform(0.2, 6.0):.2f}kWh"))
        if len(phases) == 3 and rng.random() < 0.3:
            events.append(event(meter_id, from_epoch(when()), "断相", rng.choice(phases),
                                f"断相，约{rng.randint(3, 55)}分钟后恢复"))
        if rng.random() < 0.02:
            events.append(event(meter_id, from_epoch(when()), "失压", rng.choice(phases),
                                f"电压跌落，{rng.randint(2, 50)}秒后恢复"))
    quiet = sorted(a for a in roles.members if a not in roles.role_areas)
    if quiet:
        area = rng.choice(quiet)
        t, length = when(), rng.uniform(1.5, 4.0) * 3600
        for meter_id in roles.members[area]:
            plan.dark[meter_id].append((t, t + length))
            if rng.random() < 0.9:
                events.append(event(meter_id, from_epoch(t + rng.uniform(0, 90)), "停电", None, "台区失电"))
            events.append(event(meter_id, from_epoch(t + length + rng.uniform(0, 90)), "上电", None, "恢复供电"))
    return events

