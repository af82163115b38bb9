"""The supply side of line loss in the demo: daily energy into every transformer area (台区总表) and
every 10 kV feeder (关口表).

An area's supply is what its customers really used (before any theft or metering fault lowered
what their meters recorded) plus the area's technical loss, about 1.5–4 % depending on the area and
its load that day; a feeder's is the sum of its areas' real supply plus the line's own 0.5–1.2 %
(so a clean feeder, its areas' losses included, stays under the 5 % limit). Reactive energy follows
each customer's real power factor; the feeder's also carries the transformers' magnetising power
(the 台区总表 sits on their low-voltage side and does not see it). The audit cases add the rest
(api.demo.audit_cases): high loss where they steal, one area whose 台区总表 is recorded with the
wrong CT ratio (negative loss), one area whose 总表 fails to report on two days.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from api.core.time import local_day_sql, local_midnight
from api.demo.audit_cases import (
    AREA_ANCHOR,
    MISSING_SUPPLY,
    SUPPLY_RECORDED_FACTOR,
    case_meters,
    faults,
    first_day,
    true_power_factor,
)
from api.demo.hashing import fixed_uniform
from api.demo.simulation import HOUR, Axis, Plan, Profiles, simulate, temperatures
from api.demo.storage import insert_rows
from api.metering.models import AreaSupply, FeederSupply, Reading

LOSS_BASE = {"城区": 0.016, "农村": 0.021, "边远": 0.025}  # fixed part of the technical loss, by area class
LOSS_PER_LOAD = 0.02  # variable part: × the day's mean load / transformer capacity
LOSS_NOISE = 0.003  # collection-time mismatch between the 总表 and the customers' meters
FEEDER_LOSS = (0.005, 0.012)
MAGNETISING = 0.008  # transformer no-load reactive power, share of its capacity
DAY = timedelta(days=1)
MILLI = Decimal("0.001")

DailyTrue = dict[int, dict[date, tuple[float, float]]]  # meter id -> local day -> (kWh, kvarh)


class SupplyLedger:
    """Each meter's true daily kWh and kvarh, gathered chunk by chunk while the readings are simulated."""

    def __init__(self, axis: Axis, rows: list[dict], meters: Profiles):
        self.axis = axis
        self.tan = dict(zip(meters.meter_id.tolist(), np.tan(np.arccos(true_power_factor(rows, meters))).tolist()))
        cuts = np.flatnonzero(np.diff(axis.lday)) + 1
        self.starts = np.r_[0, cuts]
        counts = np.diff(np.r_[self.starts, axis.n])
        self.days = [date(1970, 1, 1) + timedelta(days=int(d)) for d in axis.lday[self.starts]]
        self.full = counts == 24
        self.by_meter: DailyTrue = {}

    def add(self, meters: Profiles, sim: dict[str, np.ndarray]) -> None:
        """Add one chunk of simulated meters."""
        sums = np.add.reduceat(sim["true_wh"], self.starts, axis=1) / 1000.0
        for k, meter_id in enumerate(meters.meter_id.tolist()):
            tan = self.tan[meter_id]
            self.by_meter[meter_id] = {day: (kwh, kwh * tan) for day, kwh, full in
                                       zip(self.days, sums[k].tolist(), self.full) if full}


def supply_rows(rows: list[dict], by_meter: DailyTrue, data_start: datetime) -> tuple[list[dict], list[dict]]:
    """AreaSupply and FeederSupply rows for every full local day in `by_meter`."""
    area_of = {r["meter_id"]: r["area_id"] for r in rows}
    info = {r["area_id"]: r for r in rows}
    anchors = {r["account_no"]: r["area_id"] for r in rows if r["account_no"] in AREA_ANCHOR.values()}
    role_area = {role: anchors.get(account) for role, account in AREA_ANCHOR.items()}
    recorded = {role_area[role]: f for role, f in SUPPLY_RECORDED_FACTOR.items() if role_area.get(role)}
    first = first_day(data_start)
    missing = {(role_area[role], first + k * DAY) for role, offsets in MISSING_SUPPLY.items()
               if role_area.get(role) for k in offsets}

    true_area: dict[tuple[int, date], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for meter_id, days in by_meter.items():
        for day, (kwh, kvarh) in days.items():
            cell = true_area[(area_of[meter_id], day)]
            cell[0] += kwh
            cell[1] += kvarh
    area_rows, true_feeder = [], defaultdict(lambda: [0.0, 0.0])
    for (area_id, day), (kwh, kvarh) in sorted(true_area.items()):
        a = info[area_id]
        capacity = float(a["capacity_kva"])
        load = kwh / 24.0 / capacity
        loss = (LOSS_BASE.get(a["area_class"], 0.021) * (0.8 + 0.4 * fixed_uniform("loss", a["area_code"]))
                + LOSS_PER_LOAD * load + LOSS_NOISE * (2 * fixed_uniform("loss-day", a["area_code"], day) - 1))
        supplied = kwh * (1 + loss)
        reactive = kvarh * (1 + 2 * loss)  # the 总表 is on the low-voltage side: no magnetising power
        cell = true_feeder[(a["feeder_id"], day)]
        cell[0] += supplied
        cell[1] += reactive + MAGNETISING * capacity * 24
        if (area_id, day) in missing:
            continue
        factor = recorded.get(area_id, 1.0)
        area_rows.append({"transformer_area_id": area_id, "day": day, "kwh": _milli(supplied * factor),
                          "kvarh": _milli(reactive * factor)})
    feeder_rows = []
    for (feeder_id, day), (kwh, kvarh) in sorted(true_feeder.items()):
        lo, hi = FEEDER_LOSS
        loss = lo + (hi - lo) * fixed_uniform("feeder-loss", feeder_id, day)
        feeder_rows.append({"feeder_id": feeder_id, "day": day, "kwh": _milli(kwh * (1 + loss)),
                            "kvarh": _milli(kvarh * (1 + 3 * loss))})
    return area_rows, feeder_rows


def write_supply(conn: Connection, rows: list[dict], by_meter: DailyTrue, data_start: datetime) -> int:
    """Insert the supply rows of the days in `by_meter`; returns the number of area rows."""
    areas, feeders = supply_rows(rows, by_meter, data_start)
    insert_rows(conn, AreaSupply, areas)
    insert_rows(conn, FeederSupply, feeders)
    return len(areas)


def refresh_supply(conn: Connection, rows: list[dict], meters: Profiles, data_start: datetime, end: datetime) -> int:
    """Supply rows for the local days completed since the last ones, from the stored readings (the cases'
    true energy simulated again: their meters record less than they use)."""
    last = conn.execute(select(func.max(FeederSupply.day))).scalar_one()
    day = (last + DAY) if last is not None else first_day(data_start)
    days = []
    while local_midnight(day + DAY) - HOUR <= end:
        days.append(day)
        day += DAY
    if not days:
        return 0
    lo, hi = local_midnight(days[0]), local_midnight(days[-1] + DAY)
    tan = dict(zip(meters.meter_id.tolist(), np.tan(np.arccos(true_power_factor(rows, meters))).tolist()))
    by_meter: DailyTrue = defaultdict(dict)
    stored = select(Reading.meter_id, local_day_sql(Reading.ts), func.sum(Reading.kwh), func.count()).where(
        Reading.ts >= lo, Reading.ts < hi).group_by(Reading.meter_id, local_day_sql(Reading.ts))
    for meter_id, local, kwh, hours in conn.execute(stored):
        local = local if isinstance(local, date) else date.fromisoformat(str(local))
        if hours == 24:
            by_meter[meter_id][local] = (float(kwh), float(kwh) * tan[meter_id])
    mine = case_meters(rows)
    if mine:
        axis = Axis.between(lo, hi - HOUR)
        sub = meters.subset(np.flatnonzero(np.isin(meters.meter_id, list(mine))))
        ledger = SupplyLedger(axis, rows, meters)
        ledger.add(sub, simulate(sub, axis, temperatures(axis), Plan(faults=faults(rows, data_start))))
        for meter_id in mine:
            by_meter[meter_id] = ledger.by_meter[meter_id]
    return write_supply(conn, rows, dict(by_meter), data_start)


def _milli(value: float) -> Decimal:
    return Decimal(repr(round(value, 3))).quantize(MILLI)
