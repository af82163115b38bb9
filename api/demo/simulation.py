"""Weather, load and voltages of the demo's meters, hour by hour (pure functions, numpy).

A meter's readings depend only on what is stored about it (meter number, customer class, tariff,
area, district) and on the hour, bent by a `Plan` (dark intervals, overload factors): so
`refresh_live` can extend the series later from the database alone, without the seed.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from statistics import NormalDist

import numpy as np

from api.core.ids import DISTRICT_NAMES
from api.core.time import UTC, UTC_OFFSET_HOURS, day_info, local_day, local_midnight
from api.demo.hashing import grid_hash, mix, normals, text_key, uniforms

HOUR = timedelta(hours=1)
Interval = tuple[float, float]  # epoch seconds [start, end), end may be +inf


def from_epoch(seconds: float) -> datetime:
    """The UTC instant of epoch seconds, to the whole second."""
    return datetime.fromtimestamp(round(seconds), UTC)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


# ------------------------------------------------------------------------------ the time axis

@cache
def day_type(day: date) -> int:
    """0 workday, 1 weekend/rest day, 2 statutory holiday, 3 Spring Festival."""
    info = day_info(day)
    if info.is_workday:
        return 0
    return 3 if info.is_spring_festival else 2 if info.is_holiday else 1


@dataclass
class Axis:
    """The hourly time axis [first, last] with its local-calendar features."""

    first: datetime
    n: int
    eh: np.ndarray  # epoch hours (int64)
    lh: np.ndarray  # local hour of day
    lday: np.ndarray  # local day number since the epoch
    daytype: np.ndarray
    month: np.ndarray  # local month 1..12

    @classmethod
    def between(cls, first: datetime, last: datetime) -> Axis:
        n = int((last - first) / HOUR) + 1
        eh0 = int(first.timestamp()) // 3600
        eh = np.arange(eh0, eh0 + n, dtype=np.int64)
        local = eh + UTC_OFFSET_HOURS
        lday = local // 24
        days = {int(d): day_type(date(1970, 1, 1) + timedelta(days=int(d))) for d in np.unique(lday)}
        daytype = np.array([days[int(d)] for d in lday], dtype=np.int64)
        month = (local.astype("datetime64[h]").astype("datetime64[M]").astype(np.int64) % 12) + 1
        return cls(first, n, eh, local % 24, lday, daytype, month)

    def datetimes(self) -> list[datetime]:
        return [self.first + i * HOUR for i in range(self.n)]


def months(axis: Axis) -> list[tuple[str, int, int]]:
    """(period, first index, stop index) of every local month fully inside the axis."""
    out = []
    first_local = local_day(axis.first)
    day = date(first_local.year, first_local.month, 1)
    last = axis.first + (axis.n - 1) * HOUR
    while True:
        begin, stop = local_midnight(day), local_midnight(next_month(day))
        if begin > last:
            break
        if begin >= axis.first and stop - HOUR <= last:
            out.append((f"{day:%Y-%m}", int((begin - axis.first) / HOUR), int((stop - axis.first) / HOUR)))
        day = next_month(day)
    return out


# ------------------------------------------------------------------------------ weather

TEMP_OFFSET = {"原州区": 0.0, "西吉县": -0.6, "隆德县": -1.0, "泾源县": -1.6, "彭阳县": 0.6}


def temperatures(axis: Axis) -> np.ndarray:
    """Hourly air temperature (°C) per district, shape (5, n): season, day cycle, weather, noise."""
    t_days = axis.eh / 24.0
    seasonal = 5.5 - 13.5 * np.cos(2 * np.pi * (t_days - 14.0) / 365.2425)
    diurnal = 6.0 * np.cos(2 * np.pi * (axis.lh - 15) / 24.0)
    day0 = np.floor(t_days).astype(np.int64)
    frac = t_days - day0

    def smooth(salt: int, scale: float) -> np.ndarray:
        a0 = normals(mix(day0.astype(np.uint64) ^ np.uint64(salt)))
        a1 = normals(mix((day0 + 1).astype(np.uint64) ^ np.uint64(salt)))
        return scale * (a0 * (1 - frac) + a1 * frac)

    regional = smooth(0x5EA5, 3.0)
    out = np.empty((len(DISTRICT_NAMES), axis.n))
    for i, district in enumerate(DISTRICT_NAMES):
        local = smooth(0xD15 + i, 0.8)
        noise = 0.4 * normals(mix(axis.eh.astype(np.uint64) * np.uint64(8) + np.uint64(i) ^ np.uint64(0x7E)))
        out[i] = seasonal + diurnal + regional + local + noise + TEMP_OFFSET[district]
    return out


def conditions(axis: Axis, temps: np.ndarray) -> list[list[str]]:
    """Sky per district and hour, decided per local six-hour block."""
    block = ((axis.eh + UTC_OFFSET_HOURS) // 6).astype(np.uint64)
    result = []
    for i in range(len(DISTRICT_NAMES)):
        h = mix(block * np.uint64(8) + np.uint64(i) ^ np.uint64(0xC0D))
        wet = uniforms(h) < 0.16
        cloudy = uniforms(mix(h)) < 0.45
        summer = (axis.month >= 6) & (axis.month <= 8) & (axis.lh >= 12) & (axis.lh <= 19)
        row = np.where(cloudy, "多云", "晴").astype(object)
        row[wet] = "雨"
        row[wet & summer] = "雷雨"
        row[wet & (temps[i] < 0.5)] = "雪"
        result.append(row.tolist())
    return result


def weather_rows(axis: Axis, temps: np.ndarray, skip_before: datetime | None = None) -> list[dict]:
    """WeatherHour rows per district and hour (those after `skip_before` only, when given)."""
    sky = conditions(axis, temps)
    stamps = axis.datetimes()
    rows = []
    for i, district in enumerate(DISTRICT_NAMES):
        values = np.round(temps[i], 1).tolist()
        for h, ts in enumerate(stamps):
            if skip_before is not None and ts <= skip_before:
                continue
            rows.append({"district": district, "ts": ts, "temperature_c": Decimal(str(values[h])),
                         "condition": sky[i][h]})
    return rows


# ------------------------------------------------------------------------------ load model

def _norm(values) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    return arr / arr.mean()


RES_WORK = _norm([.55, .48, .45, .44, .45, .52, .75, 1.05, 1.10, .90, .82, .88,
                  1.00, .92, .80, .78, .85, 1.05, 1.45, 1.75, 1.80, 1.60, 1.20, .80])
RES_OFF = _norm([.60, .52, .47, .45, .45, .48, .58, .78, 1.00, 1.15, 1.15, 1.10,
                 1.12, 1.05, .98, .95, .98, 1.10, 1.45, 1.72, 1.78, 1.60, 1.25, .85])
_VALLEY = np.array([1.3 if (h < 8 or h >= 22) else 0.9 for h in range(24)])
COM_WORK = _norm([.32, .30, .30, .30, .30, .32, .40, .65, 1.00, 1.35, 1.50, 1.55,
                  1.50, 1.40, 1.45, 1.50, 1.50, 1.45, 1.50, 1.55, 1.45, 1.25, .85, .50])
COM_OFF = _norm([.35, .32, .30, .30, .30, .32, .38, .55, .85, 1.20, 1.40, 1.50,
                 1.50, 1.45, 1.45, 1.50, 1.50, 1.50, 1.55, 1.55, 1.45, 1.25, .85, .52])
IND_WORK = _norm([.96, .95, .95, .95, .95, .96, .98, .92, .88, 1.04, 1.06, 1.06,
                  1.00, 1.05, 1.06, 1.06, 1.04, 1.00, .98, .90, .96, .98, .97, .96])
IND_OFF = IND_WORK * 0.97
# rows: res-work, res-off, tou-work, tou-off, com-work, com-off, ind-work, ind-off
SHAPES = np.vstack([RES_WORK, RES_OFF, _norm(RES_WORK * _VALLEY), _norm(RES_OFF * _VALLEY),
                    COM_WORK, COM_OFF, IND_WORK, IND_OFF])
# class x day type (workday, rest day, statutory holiday, Spring Festival)
DAY_FACTOR = np.array([[1.00, 1.06, 1.10, 1.18],
                       [1.00, 0.90, 0.78, 0.62],
                       [1.00, 0.92, 0.72, 0.45]])
CLASS_INDEX = {"居民": 0, "一般工商业": 1, "大工业": 2}
_NORMAL = NormalDist()

SALT_HOUR, SALT_DAY, SALT_VA, SALT_VB, SALT_VC, SALT_DEAD = 11, 12, 13, 14, 15, 16


@dataclass
class Profiles:
    """Per-meter load and voltage parameters, derived only from stored fields."""

    meter_id: np.ndarray
    key: np.ndarray
    klass: np.ndarray
    phases: np.ndarray
    didx: np.ndarray
    level: np.ndarray
    floor: np.ndarray
    heat: np.ndarray
    cool: np.ndarray
    shape_base: np.ndarray
    hour_sigma: np.ndarray
    day_sigma: np.ndarray
    v0: np.ndarray
    vlo: np.ndarray
    vhi: np.ndarray
    pf: np.ndarray
    share: np.ndarray  # (M, 3)
    voff: np.ndarray  # (M, 3) phase offsets
    ct: np.ndarray  # CT ratio (1 for direct metering): stored currents are the meter's, on the CT secondary

    def __len__(self) -> int:
        return len(self.meter_id)

    def subset(self, rows: np.ndarray) -> Profiles:
        return Profiles(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def profiles(rows: list[dict], low_voltage_accounts: set[str]) -> Profiles:
    """Build meter parameters from rows of (meter, customer, area) fields."""
    cols: dict[str, list] = defaultdict(list)
    area_offsets: dict[str, float] = {}
    for r in rows:
        rnd = random.Random(f"meter:{r['meter_no']}")
        klass = CLASS_INDEX[r["customer_class"]]
        contract = float(r["contract_capacity_kva"])
        area_class = r["area_class"]
        if klass == 0:
            median = {"城区": 0.24, "农村": 0.17, "边远": 0.13}.get(area_class, 0.17)
            level = min(1.2, max(0.05, median * math.exp(0.45 * _NORMAL.inv_cdf(rnd.uniform(0.001, 0.999)))))
            electric_heating = rnd.random() < {"城区": 0.05, "农村": 0.2, "边远": 0.25}.get(area_class, 0.1)
            heat = rnd.uniform(0.05, 0.08) if electric_heating else rnd.uniform(0.008, 0.02)
            cool, floor, pf = rnd.uniform(0.01, 0.03), 0.02, 0.95
            hour_sigma, day_sigma = 0.28, 0.18
            shape = 2 if r["tariff_code"] == "NX-RES-TOU" else 0
        elif klass == 1:
            level = contract * rnd.uniform(0.06, 0.16)
            heat, cool, floor, pf = 0.012, 0.025, 0.05, 0.90
            hour_sigma, day_sigma, shape = 0.12, 0.08, 4
        else:
            level = contract * rnd.uniform(0.30, 0.40)
            heat, cool, floor, pf = 0.002, 0.003, contract * 0.05, 0.92
            hour_sigma, day_sigma, shape = 0.05, 0.06, 6
        code = r["area_code"]
        if code not in area_offsets:
            area_offsets[code] = random.Random(f"area:{code}").uniform(-2.5, 3.5)
        if r["account_no"] in low_voltage_accounts:
            v0, vlo, vhi = 186.0 + rnd.uniform(-1.5, 1.5), 179.0, 191.5
        else:
            class_off = {"城区": 1.5, "农村": -1.5, "边远": -3.5}.get(area_class, 0.0)
            v0 = 221.0 + area_offsets[code] + class_off + rnd.uniform(-2.0, 2.0)
            vlo, vhi = 209.5, 230.5
        weights = [rnd.uniform(0.8, 1.2) for _ in range(3)]
        cols["meter_id"].append(r["meter_id"])
        cols["key"].append(text_key(f"meter:{r['meter_no']}"))
        cols["klass"].append(klass)
        cols["phases"].append(int(r["phases"]))
        cols["didx"].append(DISTRICT_NAMES.index(r["district"]))
        cols["level"].append(level)
        cols["floor"].append(floor)
        cols["heat"].append(heat)
        cols["cool"].append(cool)
        cols["shape_base"].append(shape)
        cols["hour_sigma"].append(hour_sigma)
        cols["day_sigma"].append(day_sigma)
        cols["v0"].append(v0)
        cols["vlo"].append(vlo)
        cols["vhi"].append(vhi)
        cols["pf"].append(pf)
        cols["share"].append([w / sum(weights) for w in weights])
        cols["voff"].append([rnd.uniform(-1.2, 1.2) for _ in range(3)])
        cols["ct"].append(float(r.get("ct_ratio") or 1))
    dtypes = {"meter_id": np.int64, "key": np.uint64, "klass": np.int64, "phases": np.int64,
              "didx": np.int64, "shape_base": np.int64}
    return Profiles(**{
        name: np.array(cols[name], dtype=dtypes.get(name, np.float64)).reshape((len(rows), 3))
        if name in ("share", "voff") else np.array(cols[name], dtype=dtypes.get(name, np.float64))
        for name in Profiles.__dataclass_fields__
    })


# Rewrites one meter's row of a simulation in place: (out, row, axis, meters); see api.demo.audit_cases.
MeterFault = Callable[[dict[str, np.ndarray], int, Axis, "Profiles"], None]


@dataclass
class Plan:
    """What bends the base load: dark intervals per meter, overload factors per meter and hour, and the
    audit cases (a meter that records something other than the load, or a load of its own)."""

    dark: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    overload: dict[int, np.ndarray] = field(default_factory=dict)  # meter -> factor per axis hour
    faults: dict[int, MeterFault] = field(default_factory=dict)  # meter -> its audit case


def simulate(p: Profiles, axis: Axis, temps: np.ndarray, plan: Plan) -> dict[str, np.ndarray]:
    """Hourly kWh (as Wh), voltages and currents for the meters in `p` over `axis`.

    "wh" is what the meter records, "true_wh" what the premises used (they differ only for audit
    cases that under-record: the supply meters of line loss see the true energy).
    """
    m = len(p)
    off = (axis.daytype >= 1).astype(np.int64)
    shape = SHAPES[p.shape_base[:, None] + off[None, :], axis.lh[None, :]]
    day_factor = DAY_FACTOR[p.klass[:, None], axis.daytype[None, :]]
    t = temps[p.didx]
    tf = 1.0 + p.heat[:, None] * np.maximum(14.0 - t, 0.0) + p.cool[:, None] * np.maximum(t - 24.0, 0.0)
    nh = normals(grid_hash(p.key, axis.eh, SALT_HOUR))
    nd = normals(grid_hash(p.key, axis.lday, SALT_DAY))
    hs, ds = p.hour_sigma[:, None], p.day_sigma[:, None]
    noise = np.exp(hs * nh - hs * hs / 2) * np.exp(ds * nd - ds * ds / 2)
    kw = np.maximum(p.level[:, None] * shape * day_factor * tf * noise, p.floor[:, None])

    sag = np.zeros((m, axis.n))
    for i, meter_id in enumerate(p.meter_id.tolist()):
        factor = plan.overload.get(meter_id)
        if factor is not None:
            kw[i] *= factor
            sag[i] = np.where(factor > 1.0, 9.0, 0.0)

    drop = 2.5 * (RES_WORK[axis.lh] - 1.0)
    volts = []
    for phase, salt in enumerate((SALT_VA, SALT_VB, SALT_VC)):
        v = (p.v0[:, None] + p.voff[:, phase][:, None] - drop[None, :] - sag
             + 0.9 * normals(grid_hash(p.key, axis.eh, salt)))
        volts.append(np.clip(v, p.vlo[:, None], p.vhi[:, None]))

    dark = np.zeros((m, axis.n))
    hour_start = axis.eh.astype(np.float64) * 3600.0
    for i, meter_id in enumerate(p.meter_id.tolist()):
        for start, end in plan.dark.get(meter_id, ()):
            overlap = np.minimum(end, hour_start + 3600.0) - np.maximum(start, hour_start)
            dark[i] += np.clip(overlap, 0.0, 3600.0) / 3600.0
    np.minimum(dark, 1.0, out=dark)
    kw *= 1.0 - dark
    dead = dark >= 0.5
    if dead.any():
        residual = 0.2 + 1.6 * uniforms(grid_hash(p.key, axis.eh, SALT_DEAD))
        for v in volts:
            v[dead] = residual[dead]

    wh = np.rint(kw * 1000.0).astype(np.int64)
    kwh = wh / 1000.0
    out = {"wh": wh, "kwh": kwh, "true_wh": wh}
    three = p.phases[:, None] == 3
    for phase, v in enumerate(volts):
        share = np.where(three, p.share[:, phase][:, None], 1.0)
        amps = np.where(dead, 0.0, kwh * 1000.0 * share / (np.maximum(v, 1.0) * p.pf[:, None] * p.ct[:, None]))
        out[f"v{phase}"] = np.round(v, 1)
        out[f"i{phase}"] = np.round(amps, 2)
    faulty = [(i, plan.faults[m]) for i, m in enumerate(p.meter_id.tolist()) if m in plan.faults]
    if faulty:
        out["true_wh"] = wh.copy()
        for i, fault in faulty:
            fault(out, i, axis, p)
    return out


def simulate_in_chunks(p: Profiles, axis: Axis, temps: np.ndarray, plan: Plan,
                       ) -> Iterator[tuple[Profiles, dict[str, np.ndarray]]]:
    """(meters, their simulation) in chunks of about 200,000 readings, to bound the memory used."""
    chunk = max(1, 200_000 // max(axis.n, 1))
    for lo in range(0, len(p), chunk):
        sub = p.subset(np.arange(lo, min(lo + chunk, len(p))))
        yield sub, simulate(sub, axis, temps, plan)
