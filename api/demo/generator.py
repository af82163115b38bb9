"""Deterministic demo data for 固原市: grid, customers, hourly readings, bills and live situations.

Same seed + same `end` hour give identical rows. Everything a reading depends on is a pure
function of what is stored (meter number, customer class, tariff, area, district, the hour),
so `refresh_live` can extend the series later from the database alone, without the seed.

Layout of the live situations at `end` (the hour of the last reading, UTC):
- one transformer area in a fault outage (every meter dark, ≥ 90 % report 停电/失压),
- single-household outages in five other areas (one dark meter each),
- one overloaded area (load 112–127 % of its capacity over the last three hours),
- two low-voltage households (~185 V all the time: end of a long rural line),
- one planned outage in progress on another area, scheduled notices before and after `end`.
The fixed customers of `api.demo.showcase` sit in those places whatever the seed.
"""
from __future__ import annotations

import hashlib
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import repeat
from statistics import NormalDist
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from api.customers.models import AccountBalance, Bill, Customer
from api.demo.crews import AHEAD, crew_rows, local_day, shift_rows
from api.demo.staff import ensure_demo_staff
from api.dispatch.models import Crew, CrewMember, CrewShift
from api.tickets.sla import calendar_years
from api.demo.showcase import HOUSEHOLD_OUTAGE_ROLES, LOW_VOLTAGE_ROLES, SHOWCASE, fixed_accounts
from api.geo.gazetteer import TOWNS, Town
from api.metering.models import Feeder, Meter, MeterEvent, Reading, TransformerArea, WeatherHour
from api.outages.models import PlannedOutage

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
LIVE_HOURS = 3  # the live situations rewrite at most the last three hourly readings
Progress = Callable[[str], None]

# Tariff codes of the demo customers. Their prices and 峰谷 hours live in ONE place,
# api/forecasting/tariffs.yml (region "nx-guyuan-demo", the KB_REGION default), read when a bill
# is priced — never at import time.
DEMO_REGION = "nx-guyuan-demo"
DEMO_TARIFFS: tuple[str, ...] = ("NX-RES-TIER", "NX-RES-TOU", "NX-GC", "NX-LI")


def _schedule(period: str | None):
    from api.forecasting import tariffs

    if period is None:
        return tariffs.load_tariffs().latest(DEMO_REGION)
    return tariffs.schedule_for(region=DEMO_REGION, year=int(period[:4]))


def peak_hours(period: str | None = None) -> tuple[int, ...]:
    """Local hours that are not 谷 (valley) under the residential 峰谷 plan in force in `period`."""
    tou = _schedule(period).residential.tou
    return tuple(h for h in range(24) if tou.band_of_hour(h) != "valley")


def bill_amount_fen(
    tariff_code: str, *, kwh: Decimal, peak_kwh: Decimal | None = None,
    contract_kva: Decimal | None = None, period: str | None = None,
) -> int:
    """Price one month of energy with api/forecasting/tariffs.yml; half-up to the fen once, at the end.

    The demo's 峰谷 bills charge the non-valley kWh at the 峰 price and the rest at the 谷 price,
    plus the 阶梯加价 on the month's total as the region applies it (knowledge base: 峰谷与阶梯).
    """
    from api.forecasting import tariffs

    schedule = _schedule(period)
    bands = None
    if schedule.tariff(tariff_code).kind == "residential_tou":
        peak = peak_kwh if peak_kwh is not None else Decimal(0)
        bands = {"peak": peak, "valley": kwh - peak}
    return tariffs.amount_fen(schedule=schedule, tariff_code=tariff_code, kwh=kwh, band_kwh=bands,
                              contract_kva=contract_kva)


# ------------------------------------------------------------------------------ places

DISTRICT_ORDER = ("原州区", "西吉县", "隆德县", "泾源县", "彭阳县")
DISTRICT_CODE = {d: i + 1 for i, d in enumerate(DISTRICT_ORDER)}  # account prefix "04" + "0N"
SEAT_NAME = {"原州区": "固原", "西吉县": "西吉", "隆德县": "隆德", "泾源县": "泾源", "彭阳县": "彭阳"}
DISTRICT_WEIGHT = {"原州区": 0.32, "西吉县": 0.24, "隆德县": 0.14, "泾源县": 0.11, "彭阳县": 0.19}
DISTRICT_MIN_AREAS = {"原州区": 4, "西吉县": 2, "隆德县": 2, "泾源县": 2, "彭阳县": 2}
TEMP_OFFSET = {"原州区": 0.0, "西吉县": -0.6, "隆德县": -1.0, "泾源县": -1.6, "彭阳县": 0.6}
URBAN_FEEDER_NAMES = ("城南", "城北", "城东", "城西", "城中", "开发区", "新区", "东郊")
CN_NUM = "一二三四五六七八九十"

# Areas the fixed customers need: role -> (district, area classes in order of preference).
AREA_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fault": ("原州区", ("城区",)),
    "normal": ("原州区", ("城区",)),
    "hh_urban": ("原州区", ("城区",)),
    "planned": ("原州区", ("城区", "农村")),
    "hh_rural": ("西吉县", ("农村", "边远")),
    "xiji_b": ("西吉县", ("农村", "城区", "边远")),
    "arrears": ("隆德县", ("城区", "农村", "边远")),
    "lowv": ("泾源县", ("边远", "农村")),
    "overload": ("彭阳县", ("农村", "边远")),
    "pengyang_b": ("彭阳县", ("城区", "农村", "边远")),
}
# Fixed customer role -> (area role, customer class, phases, contract kVA).
FIXED_PLAN: dict[str, tuple[str, str, int, int]] = {
    "area_outage": ("fault", "居民", 1, 8),
    "area_outage_neighbour": ("fault", "居民", 1, 8),
    "household_outage": ("hh_urban", "居民", 1, 8),
    "household_outage_rural": ("hh_rural", "居民", 1, 6),
    "normal": ("normal", "居民", 1, 8),
    "low_voltage": ("lowv", "居民", 1, 6),
    "overloaded_area": ("overload", "居民", 1, 8),
    "commercial": ("normal", "一般工商业", 3, 50),
    "arrears": ("arrears", "居民", 1, 8),
    "planned_outage": ("planned", "居民", 1, 8),
    "multi_account": ("normal", "居民", 1, 8),
    "multi_account_second": ("pengyang_b", "居民", 1, 6),
    "household_outage_3": ("arrears", "居民", 1, 6),
    "household_outage_4": ("pengyang_b", "居民", 1, 6),
    "household_outage_5": ("xiji_b", "居民", 1, 6),
    "low_voltage_2": ("lowv", "居民", 1, 6),
}

SURNAMES = (
    "马" * 14 + "王" * 8 + "李" * 8 + "张" * 6 + "杨" * 6 + "刘" * 5 + "海" * 2 + "田" * 2
    + "何" * 2 + "苏" * 2 + "周" * 2 + "赵" * 2 + "陈" * 2 + "吴郭韩丁穆虎冯高罗牛拓禹景魏"
    "黑撒金董姚白任胡安兰孙朱锁冶买余沙"
)
MALE_CHARS = "建国军伟强明志文海平福春宝德成华勇斌林东忠义学俊峰鹏飞龙涛辉超亮兵虎生贵彦云山仁"
FEMALE_CHARS = "秀兰英梅芳花玲娟霞丽燕红萍琴慧静艳娜婷雪莲凤桂珍琳月晓丹"
SHOP_KINDS = ("便民超市", "百货商店", "清真饭馆", "牛肉面馆", "理发店", "药店", "五金店",
              "农资店", "烧烤店", "宾馆", "干洗店", "手机店", "面粉店", "诊所")
RURAL_BUSINESS = ("肉牛养殖专业合作社", "冷库", "粮油加工坊", "农家乐", "种植专业合作社",
                  "砖厂", "苗木合作社", "村卫生室")
INDUSTRY_WORDS = ("六盘山", "清河", "葫芦河", "茹河", "泾河", "须弥", "萧关", "宝中")
INDUSTRY_KINDS = ("马铃薯淀粉有限公司", "建材有限公司", "水泥制品有限公司", "食品有限公司",
                  "冷链物流有限公司", "中药材加工有限公司", "牧业有限公司", "新型材料有限公司")
OVERLOAD_BUSINESS = ("肉牛养殖专业合作社", "冷库", "粮油加工坊")
PLANNED_REASONS = ("10kV线路检修", "配电变压器检修", "配网改造工程施工", "线路通道树障清理",
                   "新建线路接火", "开关设备更换", "杆塔迁改")
STANDARD_KVA = (200, 250, 315, 400, 500, 630)


# ------------------------------------------------------------------------------ hashing

_U = np.uint64
_INV53 = 1.0 / 9007199254740992.0


def _mix(x) -> np.ndarray:
    """splitmix64 finaliser over uint64 arrays (wraps on overflow by design)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _U(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
        return z ^ (z >> _U(31))


def _uniform(h: np.ndarray) -> np.ndarray:
    return ((h >> _U(11)).astype(np.float64) + 0.5) * _INV53


def _normal(h: np.ndarray) -> np.ndarray:
    """Standard normals from hashes (Box–Muller with a second, derived hash)."""
    return np.sqrt(-2.0 * np.log(_uniform(h))) * np.cos(2.0 * np.pi * _uniform(_mix(h)))


def _grid_hash(keys: np.ndarray, cols: np.ndarray, salt: int) -> np.ndarray:
    """A (len(keys), len(cols)) array of hashes of (key, column, salt)."""
    with np.errstate(over="ignore"):
        k = _mix(keys.astype(np.uint64) ^ _U(salt))
        return _mix(k[:, None] + cols.astype(np.int64).astype(np.uint64)[None, :])


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _u(*parts) -> float:
    """A uniform [0, 1) value fixed by its parts (for single jitters and choices)."""
    return (_key("|".join(map(str, parts))) >> 11) * _INV53


# ------------------------------------------------------------------------------ time helpers

def _hour_floor(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _epoch_s(dt: datetime) -> float:
    return dt.timestamp()


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds), UTC)


def _local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


@lru_cache(maxsize=None)
def _day_type(day: date) -> int:
    """0 workday, 1 weekend/rest day, 2 statutory holiday, 3 Spring Festival (chinese_calendar)."""
    import chinese_calendar

    if day.year not in calendar_years():  # the package has no table for it: plain weekends
        return 1 if day.weekday() >= 5 else 0
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    if not on_holiday:
        return 0
    if name is None:
        return 1
    return 3 if "Spring" in str(name) else 2


@dataclass
class _Axis:
    """The hourly time axis [first, last] with its local-calendar features."""

    first: datetime
    n: int
    eh: np.ndarray  # epoch hours (int64)
    lh: np.ndarray  # local hour of day
    lday: np.ndarray  # local day number since the epoch
    daytype: np.ndarray
    month: np.ndarray  # local month 1..12

    @classmethod
    def between(cls, first: datetime, last: datetime) -> _Axis:
        n = int((last - first) / HOUR) + 1
        eh0 = int(first.timestamp()) // 3600
        eh = np.arange(eh0, eh0 + n, dtype=np.int64)
        local = eh + 8
        lday = local // 24
        days = {int(d): _day_type(date(1970, 1, 1) + timedelta(days=int(d))) for d in np.unique(lday)}
        daytype = np.array([days[int(d)] for d in lday], dtype=np.int64)
        month = (local.astype("datetime64[h]").astype("datetime64[M]").astype(np.int64) % 12) + 1
        return cls(first, n, eh, local % 24, lday, daytype, month)

    def datetimes(self) -> list[datetime]:
        return [self.first + i * HOUR for i in range(self.n)]


# ------------------------------------------------------------------------------ weather

def _temperatures(axis: _Axis) -> np.ndarray:
    """Hourly air temperature (°C) per district, shape (5, n): season, day cycle, weather, noise."""
    t_days = axis.eh / 24.0
    seasonal = 5.5 - 13.5 * np.cos(2 * np.pi * (t_days - 14.0) / 365.2425)
    diurnal = 6.0 * np.cos(2 * np.pi * (axis.lh - 15) / 24.0)
    day0 = np.floor(t_days).astype(np.int64)
    frac = t_days - day0

    def smooth(salt: int, scale: float) -> np.ndarray:
        a0 = _normal(_mix(day0.astype(np.uint64) ^ _U(salt)))
        a1 = _normal(_mix((day0 + 1).astype(np.uint64) ^ _U(salt)))
        return scale * (a0 * (1 - frac) + a1 * frac)

    regional = smooth(0x5EA5, 3.0)
    out = np.empty((len(DISTRICT_ORDER), axis.n))
    for i, district in enumerate(DISTRICT_ORDER):
        local = smooth(0xD15 + i, 0.8)
        noise = 0.4 * _normal(_mix(axis.eh.astype(np.uint64) * _U(8) + _U(i) ^ _U(0x7E)))
        out[i] = seasonal + diurnal + regional + local + noise + TEMP_OFFSET[district]
    return out


def _conditions(axis: _Axis, temps: np.ndarray) -> list[list[str]]:
    """Sky per district and hour, decided per local six-hour block."""
    block = ((axis.eh + 8) // 6).astype(np.uint64)
    result = []
    for i in range(len(DISTRICT_ORDER)):
        h = _mix(block * _U(8) + _U(i) ^ _U(0xC0D))
        wet = _uniform(h) < 0.16
        cloudy = _uniform(_mix(h)) < 0.45
        summer = (axis.month >= 6) & (axis.month <= 8) & (axis.lh >= 12) & (axis.lh <= 19)
        row = np.where(cloudy, "多云", "晴").astype(object)
        row[wet] = "雨"
        row[wet & summer] = "雷雨"
        row[wet & (temps[i] < 0.5)] = "雪"
        result.append(row.tolist())
    return result


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
class _Profiles:
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

    def __len__(self) -> int:
        return len(self.meter_id)

    def subset(self, rows: np.ndarray) -> _Profiles:
        return _Profiles(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def _profiles(rows: list[dict], low_voltage_accounts: set[str]) -> _Profiles:
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
        cols["key"].append(_key(f"meter:{r['meter_no']}"))
        cols["klass"].append(klass)
        cols["phases"].append(int(r["phases"]))
        cols["didx"].append(DISTRICT_ORDER.index(r["district"]))
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
    dtypes = {"meter_id": np.int64, "key": np.uint64, "klass": np.int64, "phases": np.int64,
              "didx": np.int64, "shape_base": np.int64}
    return _Profiles(**{
        name: np.array(cols[name], dtype=dtypes.get(name, np.float64)).reshape((len(rows), 3))
        if name in ("share", "voff") else np.array(cols[name], dtype=dtypes.get(name, np.float64))
        for name in _Profiles.__dataclass_fields__
    })


Interval = tuple[float, float]  # epoch seconds [start, end), end may be +inf


@dataclass
class _Plan:
    """What bends the base load: dark intervals per meter, overload factors per meter and hour."""

    dark: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    overload: dict[int, np.ndarray] = field(default_factory=dict)  # meter -> factor per axis hour


def _simulate(p: _Profiles, axis: _Axis, temps: np.ndarray, plan: _Plan) -> dict[str, np.ndarray]:
    """Hourly kWh (as Wh), voltages and currents for the meters in `p` over `axis`."""
    m = len(p)
    off = (axis.daytype >= 1).astype(np.int64)
    shape = SHAPES[p.shape_base[:, None] + off[None, :], axis.lh[None, :]]
    day_factor = DAY_FACTOR[p.klass[:, None], axis.daytype[None, :]]
    t = temps[p.didx]
    tf = 1.0 + p.heat[:, None] * np.maximum(14.0 - t, 0.0) + p.cool[:, None] * np.maximum(t - 24.0, 0.0)
    nh = _normal(_grid_hash(p.key, axis.eh, SALT_HOUR))
    nd = _normal(_grid_hash(p.key, axis.lday, SALT_DAY))
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
             + 0.9 * _normal(_grid_hash(p.key, axis.eh, salt)))
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
        residual = 0.2 + 1.6 * _uniform(_grid_hash(p.key, axis.eh, SALT_DEAD))
        for v in volts:
            v[dead] = residual[dead]

    wh = np.rint(kw * 1000.0).astype(np.int64)
    kwh = wh / 1000.0
    out = {"wh": wh, "kwh": kwh}
    three = p.phases[:, None] == 3
    for phase, v in enumerate(volts):
        share = np.where(three, p.share[:, phase][:, None], 1.0)
        amps = np.where(dead, 0.0, kwh * 1000.0 * share / (np.maximum(v, 1.0) * p.pf[:, None]))
        out[f"v{phase}"] = np.round(v, 1)
        out[f"i{phase}"] = np.round(amps, 2)
    return out


# ------------------------------------------------------------------------------ the world

@dataclass
class DemoSummary:
    """What `generate` wrote, with the places of the live situations."""

    seed: int
    start: datetime
    end: datetime
    feeders: int
    transformer_areas: int
    customers: int
    meters: int
    readings: int
    events: int
    bills: int
    planned_outages: int
    weather_hours: int
    seconds: float
    fault_area_code: str
    overloaded_area_code: str
    planned_area_code: str
    household_outage_accounts: tuple[str, ...]


@dataclass
class RefreshSummary:
    """What `refresh_live` changed."""

    previous_end: datetime
    end: datetime
    readings: int
    events: int
    planned_outages: int
    bills: int
    weather_hours: int
    seconds: float


def _stem(town: Town) -> str:
    for suffix in ("街道", "镇", "乡"):
        if town.name.endswith(suffix):
            return town.name[: -len(suffix)]
    return town.name


def _places(town: Town) -> tuple[str, ...]:
    """Streets for urban towns, villages otherwise (never empty)."""
    if town.area_class == "城区" and town.roads:
        return town.roads
    return town.villages or town.roads or (f"{_stem(town)}村",)


def _jitter(rng: random.Random, value: float, spread: float) -> float:
    return round(value + rng.uniform(-spread, spread), 6)


def _person_name(rng: random.Random) -> str:
    chars = MALE_CHARS if rng.random() < 0.55 else FEMALE_CHARS
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.72 else "")
    return rng.choice(SURNAMES) + given


def _mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        if not number.startswith("1390000") and number not in taken:
            taken.add(number)
            return number


def _address(rng: random.Random, area: dict, town: Town, customer_class: str) -> str:
    head = f"{town.district}{town.name}"
    place = area["place"] if rng.random() < 0.85 else rng.choice(_places(town))
    if area["urban"]:
        number = rng.randint(1, 160)
        if customer_class != "居民" or rng.random() < 0.18:
            return f"{head}{place}{number}号"
        return (f"{head}{place}{number}号{rng.randint(1, 12)}号楼{rng.randint(1, 4)}单元"
                f"{rng.randint(1, 6)}{rng.randint(1, 2):02d}")
    group = CN_NUM[rng.randint(0, 7)]
    return f"{head}{place}{group}组{rng.randint(1, 60)}号"


def _business_name(rng: random.Random, area: dict, town: Town, customer_class: str,
                   overload: bool = False) -> str:
    if customer_class == "大工业":
        prefix = rng.choice(("宁夏", "固原", SEAT_NAME[town.district]))
        return f"{prefix}{rng.choice(INDUSTRY_WORDS)}{rng.choice(INDUSTRY_KINDS)}"
    if overload:
        return f"{area['place']}{rng.choice(OVERLOAD_BUSINESS)}"
    if area["urban"]:
        return f"{area['place']}{rng.choice(SHOP_KINDS)}"
    return f"{_stem(town)}{area['place'].removesuffix('村')}{rng.choice(RURAL_BUSINESS)}"


@dataclass
class _World:
    feeders: list[dict]
    areas: list[dict]
    customers: list[dict]
    meters: list[dict]  # parallel to customers
    role_area: dict[str, int]  # area role -> index in areas


def _area_counts(n_areas: int) -> dict[str, int]:
    counts = {d: max(DISTRICT_MIN_AREAS[d], round(n_areas * DISTRICT_WEIGHT[d])) for d in DISTRICT_ORDER}
    while sum(counts.values()) > n_areas and counts["原州区"] > DISTRICT_MIN_AREAS["原州区"]:
        counts["原州区"] -= 1
    while sum(counts.values()) < n_areas:
        counts["原州区"] += 1
    return counts


def _build_world(seed: int, n_customers: int) -> _World:
    """Feeders, areas, customers and meters as plain rows (no ids yet)."""
    if n_customers < 40:
        raise ValueError("the demo needs at least 40 customers")
    rng = random.Random(f"zhidian-demo:{seed}")
    n_areas = max(12, min(200, n_customers // 45))
    per_district = _area_counts(n_areas)
    towns_by_district = {d: [t for t in TOWNS if t.district == d] for d in DISTRICT_ORDER}
    missing = [d for d in DISTRICT_ORDER if not towns_by_district[d]]
    if missing:
        raise RuntimeError(f"gazetteer has no towns for {missing}")

    areas: list[dict] = []
    role_area: dict[str, int] = {}
    name_count: dict[str, int] = defaultdict(int)
    for district in DISTRICT_ORDER:
        towns = towns_by_district[district]
        roles = [r for r, (d, _) in AREA_ROLES.items() if d == district]
        used_towns: list[str] = []
        for slot in range(per_district[district]):
            role = roles[slot] if slot < len(roles) else None
            if role is not None:
                town = None
                for wanted in AREA_ROLES[role][1]:
                    options = [t for t in towns if t.area_class == wanted]
                    fresh = [t for t in options if t.name not in used_towns] or options
                    if fresh:
                        town = rng.choice(fresh)
                        break
                town = town or rng.choice(towns)
            else:
                weights = [{"城区": 3.0, "农村": 1.0, "边远": 0.5}.get(t.area_class, 1.0) for t in towns]
                town = rng.choices(towns, weights=weights)[0]
            used_towns.append(town.name)
            place = rng.choice(_places(town))
            name_count[place] += 1
            urban = town.area_class == "城区" and bool(town.roads)
            spread = 0.008 if urban else 0.025
            areas.append({
                "district": district, "town": town.name, "town_obj": town, "area_class": town.area_class,
                "place": place, "urban": urban, "role": role,
                "name": f"{place}{name_count[place]}号台区",
                "code": f"TA{DISTRICT_CODE[district]:02d}{slot + 1:02d}",
                "lat": _jitter(rng, town.lat, spread), "lon": _jitter(rng, town.lon, spread),
            })
            if role is not None:
                role_area[role] = len(areas) - 1

    # feeders: per district, urban areas first, split into contiguous groups
    n_feeders = max(8, n_areas // 4)
    feeders_per = {d: 1 for d in DISTRICT_ORDER}
    while sum(feeders_per.values()) < n_feeders:
        d = max(DISTRICT_ORDER, key=lambda x: per_district[x] / (feeders_per[x] + 1) - feeders_per[x] * 1e-9)
        if feeders_per[d] >= per_district[d]:
            break
        feeders_per[d] += 1
    feeders: list[dict] = []
    number = 511
    for district in DISTRICT_ORDER:
        members = sorted((i for i, a in enumerate(areas) if a["district"] == district),
                         key=lambda i: (not areas[i]["urban"], areas[i]["town"], areas[i]["code"]))
        k = feeders_per[district]
        urban_names = iter(URBAN_FEEDER_NAMES)
        seen: dict[str, int] = defaultdict(int)
        for g in range(k):
            group = members[g * len(members) // k:(g + 1) * len(members) // k]
            if not group:
                continue
            first = areas[group[0]]
            town = first["town_obj"]
            if first["urban"]:
                if district == "原州区":
                    base = next(urban_names, _stem(town))
                else:
                    base = _stem(town)
                substation = f"110kV{SEAT_NAME[district]}变"
            else:
                base = _stem(town)
                substation = f"35kV{_stem(town)}变"
            seen[base] += 1
            label = base if seen[base] == 1 else f"{base}{CN_NUM[seen[base] - 1]}"
            feeders.append({"code": f"F{number}", "name": f"10kV{label}线{number}",
                            "substation": substation, "district": district})
            for i in group:
                areas[i]["feeder"] = len(feeders) - 1
            number += 1

    # customers per area
    fixed = fixed_accounts()
    fixed_by_area: dict[int, list[str]] = defaultdict(list)
    for role, (area_role, *_rest) in FIXED_PLAN.items():
        fixed_by_area[role_area[area_role]].append(role)
    minimum = []
    for i, a in enumerate(areas):
        low = len(fixed_by_area[i]) + 2
        if a["role"] == "fault":
            low = max(low, max(6, min(40, n_customers // 12)))
        if a["role"] == "overload":
            low = max(low, max(10, min(150, int(n_customers * 0.06))) + 3)
        minimum.append(low)
    weights = [{"城区": 1.5, "农村": 1.0, "边远": 0.6}.get(a["area_class"], 1.0) * rng.uniform(0.7, 1.3)
               for a in areas]
    spare = n_customers - sum(minimum)
    if spare < 0:
        raise ValueError("too few customers for the number of areas")
    raw = [spare * w / sum(weights) for w in weights]
    counts = [minimum[i] + int(raw[i]) for i in range(len(areas))]
    order = sorted(range(len(areas)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in order[: n_customers - sum(counts)]:
        counts[i] += 1

    # 大工业: at most two per ordinary area
    n_industry = max(1, n_customers // 200)
    plain = [i for i, a in enumerate(areas) if a["role"] is None] or \
            [i for i, a in enumerate(areas) if a["role"] in ("pengyang_b", "xiji_b", "arrears")]
    rng.shuffle(plain)
    industry_slots: dict[int, int] = defaultdict(int)
    for k in range(n_industry):
        industry_slots[plain[(k // 2) % len(plain)]] += 1

    serials = {d: iter(rng.sample(range(100000, 1000000), n_customers)) for d in DISTRICT_ORDER}
    taken_mobiles = {m for _, m in fixed.values()}
    meter_nos: set[str] = set()
    by_district_mobiles: dict[str, list[str]] = defaultdict(list)
    customers: list[dict] = []
    meters: list[dict] = []
    for i, a in enumerate(areas):
        town = a["town_obj"]
        plan: list[tuple[str | None, str, int, int]] = []  # (fixed role, class, phases, contract)
        for role in fixed_by_area[i]:
            _, klass, phases, contract = FIXED_PLAN[role]
            plan.append((role, klass, phases, contract))
        n_generated = counts[i] - len(plan)
        n_ind = min(industry_slots.get(i, 0), n_generated)
        n_overload_business = 3 if a["role"] == "overload" else 0
        com_share = {"城区": 0.14, "农村": 0.06, "边远": 0.04}.get(a["area_class"], 0.06)
        for g in range(n_generated):
            if g < n_ind:
                plan.append((None, "大工业", 3, rng.choice((315, 400))))
            elif g < n_ind + n_overload_business:
                plan.append(("_overload_business", "一般工商业", 3, 100))
            elif rng.random() < com_share:
                contract = rng.choice((10, 15, 20, 30, 50, 80))
                plan.append((None, "一般工商业", 3 if contract >= 20 else 1, contract))
            else:
                plan.append((None, "居民", 1, rng.choice((4, 6, 8, 8, 10))))
        for role, klass, phases, contract in plan:
            district = a["district"]
            if role in fixed:
                account_no, mobile = fixed[role]
            else:
                account_no = f"04{DISTRICT_CODE[district]:02d}{next(serials[district]):06d}"
                pool = by_district_mobiles[district]
                if pool and rng.random() < 0.03:
                    mobile = rng.choice(pool)
                else:
                    mobile = _mobile(rng, taken_mobiles)
                    pool.append(mobile)
            if klass == "居民":
                name = _person_name(rng)
                urban_tou = 0.15 if a["urban"] else 0.08
                tariff = "NX-RES-TOU" if role not in fixed and rng.random() < urban_tou else "NX-RES-TIER"
            else:
                name = _business_name(rng, a, town, klass, overload=role == "_overload_business")
                tariff = "NX-GC" if klass == "一般工商业" else "NX-LI"
            opened = date(rng.randint(1996, 2023), rng.randint(1, 12), rng.randint(1, 28))
            installed = max(opened, date(rng.randint(2016, 2024), rng.randint(1, 12), rng.randint(1, 28)))
            spread = 0.004 if a["urban"] else 0.012
            customers.append({
                "account_no": account_no, "name": name, "mobile": mobile,
                "address": _address(rng, a, town, klass),
                "district": district, "town": a["town"], "area_class": a["area_class"],
                "lat": _jitter(rng, a["lat"], spread), "lon": _jitter(rng, a["lon"], spread),
                "customer_class": klass, "tariff_code": tariff,
                "contract_capacity_kva": Decimal(contract), "area_index": i, "opened_on": opened,
            })
            while True:
                meter_no = f"64{DISTRICT_CODE[district]:02d}" + "".join(rng.choice("0123456789") for _ in range(12))
                if meter_no not in meter_nos:
                    meter_nos.add(meter_no)
                    break
            meters.append({"meter_no": meter_no, "phases": phases, "installed_on": installed})
    return _World(feeders=feeders, areas=areas, customers=customers, meters=meters, role_area=role_area)


def _capacity(rng: random.Random, area_rows: list[dict], profile_level: dict[int, float]) -> None:
    """Pick each area's transformer size from its expected peak (the overloaded one gets 200 kVA)."""
    for a in area_rows:
        if a["role"] == "overload":
            a["capacity_kva"] = Decimal(200)
            continue
        need = profile_level.get(a["index"], 0.0) / 0.7
        fitting = [k for k in STANDARD_KVA if k >= need] or [STANDARD_KVA[-1]]
        pick = rng.choice(STANDARD_KVA[:4] if not a["urban"] else STANDARD_KVA[1:])
        a["capacity_kva"] = Decimal(max(fitting[0], pick))


# ------------------------------------------------------------------------------ database I/O

def _ts_converter(conn: Connection) -> Callable[[datetime], object]:
    """How a UTC instant is written by raw inserts: SQLAlchemy's SQLite text or naive UTC."""
    if conn.dialect.name == "sqlite":
        return lambda dt: dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return lambda dt: dt.astimezone(UTC).replace(tzinfo=None)


READING_COLUMNS = ("meter_id", "ts", "kwh", "kw", "voltage_a", "current_a", "voltage_b",
                   "current_b", "voltage_c", "current_c")


def _bulk_rows(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Fast insert of pre-converted rows: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _insert(conn: Connection, model, rows: list[dict], chunk: int = 5000) -> None:
    for i in range(0, len(rows), chunk):
        conn.execute(insert(model), rows[i:i + chunk])


def _load_rows(conn: Connection) -> list[dict]:
    """Every meter with the customer and area fields the load model needs, by meter id."""
    query = (
        select(Meter.id.label("meter_id"), Meter.meter_no, Meter.phases, Meter.customer_id,
               Meter.transformer_area_id.label("area_id"), Customer.account_no,
               Customer.customer_class, Customer.tariff_code, Customer.contract_capacity_kva,
               Customer.district, TransformerArea.area_class, TransformerArea.code.label("area_code"),
               TransformerArea.feeder_id, TransformerArea.capacity_kva)
        .join(Customer, Customer.id == Meter.customer_id)
        .join(TransformerArea, TransformerArea.id == Meter.transformer_area_id)
        .order_by(Meter.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


# ------------------------------------------------------------------------------ situations

@dataclass
class _Roles:
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


def _roles(rows: list[dict]) -> _Roles:
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
    return _Roles(meter_of, area_of, dict(members), feeder_of_area, capacity)


def _event(meter_id: int, at: datetime, kind: str, phase: str | None = None, detail: str | None = None) -> dict:
    return {"meter_id": meter_id, "ts": at, "kind": kind, "phase": phase, "detail": detail}


def _plant_live(roles: _Roles, phases: dict[int, int], end: datetime, plan: _Plan) -> list[dict]:
    """The fault outage and the household outages at `end`: dark intervals and their events."""
    events: list[dict] = []
    end_s = _epoch_s(end)
    stamp = end.isoformat()
    start = end_s - (20 + 20 * _u("fault", stamp)) * 60
    meters = sorted(roles.members[roles.fault_area], key=lambda m: _u("silent", m, stamp))
    silent = set(meters[: len(meters) // 10])
    for meter_id in meters:
        plan.dark[meter_id].append((start, math.inf))
        if meter_id in silent:
            continue  # its terminal lost power too: no event, only the dead readings
        at = start + 5 + 115 * _u("fault-at", meter_id, stamp)
        if _u("fault-loss", meter_id, stamp) < 0.5:
            for phase in ("A", "B", "C")[: phases[meter_id]]:
                events.append(_event(meter_id, _from_epoch(at - 3), "失压", phase, "电压低于临界值"))
        events.append(_event(meter_id, _from_epoch(at), "停电", None, "台区失电"))
    for meter_id in roles.household_meters:
        at = end_s - (10 + 40 * _u("household", meter_id, stamp)) * 60
        plan.dark[meter_id].append((at, math.inf))
        events.append(_event(meter_id, _from_epoch(at), "失压", "A", "电压低于临界值"))
        events.append(_event(meter_id, _from_epoch(at + 2), "停电", None, "电能表掉电"))
    return events


def _restore_previous(roles: _Roles, old_end: datetime, plan: _Plan) -> list[dict]:
    """Power comes back after the previous run's live outages (used when moving to a later end)."""
    events = []
    first = _epoch_s(old_end + HOUR)
    stamp = old_end.isoformat()
    for meter_id in roles.members[roles.fault_area] + roles.household_meters:
        back = first + (5 + 45 * _u("restore", meter_id, stamp)) * 60
        plan.dark[meter_id].append((first, back))
        events.append(_event(meter_id, _from_epoch(back), "上电", None, "恢复供电"))
    return events


def _overload_factors(p: _Profiles, roles: _Roles, axis: _Axis, temps: np.ndarray, end: datetime) -> dict[int, np.ndarray]:
    """Factors that lift the overloaded area to 112–127 % of its capacity in the last hours."""
    rows = np.flatnonzero(np.isin(p.meter_id, roles.members[roles.overload_area]))
    live = axis.eh >= (int(end.timestamp()) // 3600 - (LIVE_HOURS - 1))
    if not live.any() or rows.size == 0:
        return {}
    base = _simulate(p.subset(rows), axis, temps, _Plan())
    totals = base["kwh"].sum(axis=0)
    target = (1.12 + 0.15 * _u("overload", end.isoformat())) * roles.capacity[roles.overload_area]
    factor = np.where(live, np.maximum(target / np.maximum(totals, 1e-6), 1.05), 1.0)
    return {int(p.meter_id[r]): factor for r in rows}


# ------------------------------------------------------------------------------ planned outages

def _notice_targets(conn: Connection, roles: _Roles) -> list[tuple[str, int]]:
    """Where scheduled planned outages may fall: areas and feeders without any fixed customer."""
    busy = roles.role_areas
    busy_feeders = {roles.feeder_of_area[a] for a in busy}
    targets: list[tuple[str, int]] = []
    for (feeder_id,) in conn.execute(select(Feeder.id).order_by(Feeder.id)):
        if feeder_id not in busy_feeders:
            targets.append(("feeder", feeder_id))
    for area_id in sorted(roles.members):
        if area_id not in busy:
            targets.append(("area", area_id))
    return targets


def _scheduled_notices(conn: Connection, roles: _Roles, first_day: date, last_day: date) -> list[dict]:
    """The scheduled 计划停电 on every other local day: a pure function of the day and the grid."""
    targets = _notice_targets(conn, roles)
    if not targets:
        return []
    areas = _area_rows(conn)
    feeders = {r.id: r for r in conn.execute(select(Feeder.id, Feeder.name, Feeder.district))}
    notices = []
    day = first_day
    while day <= last_day:
        if day.toordinal() % 2 == 0:
            on_feeders = [t for t in targets if t[0] == "feeder"]
            pool = on_feeders if on_feeders and _u("notice-kind", day.isoformat()) < 0.3 else \
                [t for t in targets if t[0] == "area"] or on_feeders
            kind, target = pool[int(_u("notice-target", day.isoformat()) * len(pool))]
            start_local = datetime(day.year, day.month, day.day, 8, tzinfo=SHANGHAI) + \
                timedelta(minutes=30 * int(_u("notice-start", day.isoformat()) * 3))
            hours = 4 + 0.5 * int(_u("notice-hours", day.isoformat()) * 11)
            reason = PLANNED_REASONS[int(_u("notice-reason", day.isoformat()) * len(PLANNED_REASONS))]
            notices.append(_notice(f"JH{day:%Y%m%d}01", kind, target, areas, feeders,
                                   start_local.astimezone(UTC), timedelta(hours=hours), reason))
        day += timedelta(days=1)
    return notices


def _area_rows(conn: Connection) -> dict:
    query = select(TransformerArea.id, TransformerArea.name, TransformerArea.code, TransformerArea.district,
                   TransformerArea.town, TransformerArea.feeder_id).order_by(TransformerArea.id)
    return {r.id: r for r in conn.execute(query)}


def _notice(number: str, kind: str, target: int, areas: dict, feeders: dict, start: datetime,
            length: timedelta, reason: str) -> dict:
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


def _anchored_notice(conn: Connection, roles: _Roles, end: datetime) -> dict:
    """A planned outage in progress at `end` on the planned-outage showcase area."""
    areas = _area_rows(conn)
    start = end - 2 * HOUR
    number = f"LS{start.astimezone(SHANGHAI):%Y%m%d%H}"
    return _notice(number, "area", roles.planned_area, areas, {}, start, 6 * HOUR, "配电变压器检修")


def _notice_meters(notice: dict, roles: _Roles) -> list[int]:
    if notice["transformer_area_id"] is not None:
        return roles.members.get(notice["transformer_area_id"], [])
    return [m for a, ms in roles.members.items() if roles.feeder_of_area[a] == notice["feeder_id"] for m in ms]


def _apply_notices(notices: Iterable[dict], roles: _Roles, plan: _Plan, lo: float, hi: float) -> list[dict]:
    """Dark intervals for every notice, and its 停电/上电 events that fall in (lo, hi]."""
    events = []
    for n in notices:
        start, end = _epoch_s(n["start_at"]), _epoch_s(n["end_at"])
        for meter_id in _notice_meters(n, roles):
            plan.dark[meter_id].append((start, end))
            off = start + 90 * _u("notice-off", n["notice_no"], meter_id)
            on = end + 90 * _u("notice-on", n["notice_no"], meter_id)
            if lo < off <= hi:
                events.append(_event(meter_id, _from_epoch(off), "停电", None, f"计划停电 {n['notice_no']}"))
            if lo < on <= hi:
                events.append(_event(meter_id, _from_epoch(on), "上电", None, f"计划停电结束 {n['notice_no']}"))
    return events


# ------------------------------------------------------------------------------ history

def _history(seed: int, rows: list[dict], roles: _Roles, start: datetime, end: datetime, plan: _Plan) -> list[dict]:
    """Past events over the period (never in the last two days): 开盖, 断相, 反向电量, 停电/上电."""
    rng = random.Random(f"zhidian-history:{seed}")
    lo, hi = _epoch_s(start) + 3600, _epoch_s(end) - 2 * 86400
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
                events.append(_event(meter_id, _from_epoch(t - 2), "失压", "A", "电压低于临界值"))
            events.append(_event(meter_id, _from_epoch(t), "停电", None, "电能表掉电"))
            events.append(_event(meter_id, _from_epoch(t + length), "上电", None, "恢复供电"))
        if rng.random() < 0.012:
            events.append(_event(meter_id, _from_epoch(when()), "开盖", None,
                                 rng.choice(("表盖开启", "端钮盒盖开启"))))
        if rng.random() < (0.02 if r["customer_class"] != "居民" else 0.005):
            events.append(_event(meter_id, _from_epoch(when()), "反向电量", None,
                                 f"检测到反向电量{rng.uniform(0.2, 6.0):.2f}kWh"))
        if len(phases) == 3 and rng.random() < 0.3:
            events.append(_event(meter_id, _from_epoch(when()), "断相", rng.choice(phases),
                                 f"断相，约{rng.randint(3, 55)}分钟后恢复"))
        if rng.random() < 0.02:
            events.append(_event(meter_id, _from_epoch(when()), "失压", rng.choice(phases),
                                 f"电压跌落，{rng.randint(2, 50)}秒后恢复"))
    quiet = sorted(a for a in roles.members if a not in roles.role_areas)
    if quiet:
        area = rng.choice(quiet)
        t, length = when(), rng.uniform(1.5, 4.0) * 3600
        for meter_id in roles.members[area]:
            plan.dark[meter_id].append((t, t + length))
            if rng.random() < 0.9:
                events.append(_event(meter_id, _from_epoch(t + rng.uniform(0, 90)), "停电", None, "台区失电"))
            events.append(_event(meter_id, _from_epoch(t + length + rng.uniform(0, 90)), "上电", None, "恢复供电"))
    return events


# ------------------------------------------------------------------------------ readings

def _months(axis: _Axis) -> list[tuple[str, int, int]]:
    """(period, first index, stop index) of every local month fully inside the axis."""
    out = []
    first_local = (axis.first.astimezone(SHANGHAI)).date()
    day = date(first_local.year, first_local.month, 1)
    last = axis.first + (axis.n - 1) * HOUR
    while True:
        begin, stop = _local_midnight_utc(day), _local_midnight_utc(_next_month(day))
        if begin > last:
            break
        if begin >= axis.first and stop - HOUR <= last:
            out.append((f"{day:%Y-%m}", int((begin - axis.first) / HOUR), int((stop - axis.first) / HOUR)))
        day = _next_month(day)
    return out


@contextmanager
def _bulk_session(conn: Connection):
    """On SQLite, skip per-row foreign-key lookups and use a large page cache while bulk loading.

    The pragmas only take effect outside a transaction, so the caller commits first; they are
    restored afterwards because the connection goes back to the pool.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.commit()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.exec_driver_sql("PRAGMA cache_size=-65536")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.exec_driver_sql("PRAGMA cache_size=-2000")
        conn.commit()


def _write_readings(conn: Connection, p: _Profiles, axis: _Axis, temps: np.ndarray, plan: _Plan,
                    progress: Progress | None, label: str = "readings", commit_chunks: bool = True,
                    ) -> tuple[int, dict]:
    """Simulate and insert readings in meter chunks; returns (rows, {meter: {period: (wh, peak wh)}})."""
    convert = _ts_converter(conn)
    ts_values = [convert(dt) for dt in axis.datetimes()]
    months = _months(axis)
    monthly: dict[int, dict[str, tuple[int, int]]] = {}
    chunk = max(1, 200_000 // max(axis.n, 1))
    total, started = len(p) * axis.n, time.monotonic()
    written = 0
    nothing = repeat(None)
    for lo in range(0, len(p), chunk):
        sub = p.subset(np.arange(lo, min(lo + chunk, len(p))))
        sim = _simulate(sub, axis, temps, plan)
        kwh = sim["kwh"].tolist()
        v = [sim[f"v{k}"].tolist() for k in range(3)]
        c = [sim[f"i{k}"].tolist() for k in range(3)]
        rows: list[tuple] = []
        for i, meter_id in enumerate(sub.meter_id.tolist()):
            ids = repeat(meter_id, axis.n)
            if sub.phases[i] == 3:
                rows.extend(zip(ids, ts_values, kwh[i], kwh[i], v[0][i], c[0][i], v[1][i], c[1][i], v[2][i], c[2][i]))
            else:
                rows.extend(zip(ids, ts_values, kwh[i], kwh[i], v[0][i], c[0][i], nothing, nothing, nothing, nothing))
        _bulk_rows(conn, "readings", READING_COLUMNS, rows)
        if commit_chunks:
            conn.commit()
        for period, a, b in months:
            peak = np.isin(axis.lh[a:b], peak_hours(period)).astype(np.int64)
            totals = sim["wh"][:, a:b].sum(axis=1).tolist()
            peaks = (sim["wh"][:, a:b] * peak).sum(axis=1).tolist()
            for i, meter_id in enumerate(sub.meter_id.tolist()):
                monthly.setdefault(meter_id, {})[period] = (totals[i], peaks[i])
        written += len(rows)
        if progress:
            elapsed = time.monotonic() - started
            progress(f"  {label}: {written:,}/{total:,} ({100 * written / total:.0f}%) {elapsed:.1f}s")
    return written, monthly


def _weather_rows(axis: _Axis, temps: np.ndarray, skip_before: datetime | None = None) -> list[dict]:
    sky = _conditions(axis, temps)
    stamps = axis.datetimes()
    rows = []
    for i, district in enumerate(DISTRICT_ORDER):
        values = np.round(temps[i], 1).tolist()
        for h, ts in enumerate(stamps):
            if skip_before is not None and ts <= skip_before:
                continue
            rows.append({"district": district, "ts": ts, "temperature_c": Decimal(str(values[h])),
                         "condition": sky[i][h]})
    return rows


# ------------------------------------------------------------------------------ bills

def _bill_rows(rows: list[dict], monthly: dict, paid_rule: Callable[[dict, str, int], tuple[bool, datetime | None]],
               last_period: str | None) -> list[dict]:
    bills = []
    for r in rows:
        for period, (wh, peak_wh) in sorted(monthly.get(r["meter_id"], {}).items()):
            kwh = (Decimal(wh) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            amount = bill_amount_fen(
                r["tariff_code"], kwh=kwh if r["tariff_code"] != "NX-RES-TOU" else Decimal(wh) / 1000,
                peak_kwh=Decimal(peak_wh) / 1000, contract_kva=Decimal(r["contract_capacity_kva"]), period=period,
            )
            year, month = map(int, period.split("-"))
            issued = _next_month(date(year, month, 1))
            paid, paid_at = paid_rule(r, period, amount)
            bills.append({"customer_id": r["customer_id"], "period": period, "kwh": kwh,
                          "amount_fen": amount, "due_date": issued.replace(day=25),
                          "paid": paid, "paid_at": paid_at})
    return bills


def _paid_rule(end: datetime, arrears: set[int], latest: str | None):
    def rule(r: dict, period: str, amount: int) -> tuple[bool, datetime | None]:
        year, month = map(int, period.split("-"))
        issued = _local_midnight_utc(_next_month(date(year, month, 1)))
        if r["customer_id"] in arrears:
            return False, None
        u = _u("paid", r["account_no"], period)
        unpaid_share = 0.2 if period == latest else 0.02
        if u < unpaid_share:
            return False, None
        later = _u("paid-day", r["account_no"], period)
        if u < 0.75:  # most accounts are settled by automatic deduction (费控) right after issue
            paid_at = issued + timedelta(hours=2 + 28 * later)
        else:
            paid_at = issued + timedelta(days=1 + 20 * later, hours=2)
        if paid_at > end:
            return False, None
        return True, paid_at
    return rule


# ------------------------------------------------------------------------------ entry points

def has_demo_data(engine: Engine) -> bool:
    """True when a complete demo is stored (its customers and their balances exist)."""
    with engine.connect() as conn:
        customer = conn.execute(select(Customer.id).where(Customer.account_no == SHOWCASE["normal"][0])).first()
        if customer is None:
            return False
        return conn.execute(select(AccountBalance.customer_id).where(
            AccountBalance.customer_id == customer.id)).first() is not None


def generate(
    engine: Engine, *, seed: int, customers: int = 2000, days: int = 90, end: datetime | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Write the whole demo into empty tables; same seed and end hour give identical rows."""
    started = time.monotonic()
    end = _hour_floor(end or datetime.now(UTC))
    start = end - (days * 24 - 1) * HOUR
    say = progress or (lambda _msg: None)
    world = _build_world(seed, customers)
    rng = random.Random(f"zhidian-capacity:{seed}")

    with engine.connect() as conn:
        if conn.execute(select(Customer.id).limit(1)).first() is not None:
            raise RuntimeError("the database already holds customers; use refresh_live or a fresh database")
        say(f"demo: {customers} customers, {days} days up to {end.isoformat()} (seed {seed})")

        _insert(conn, Feeder, world.feeders)
        feeder_ids = dict(conn.execute(select(Feeder.code, Feeder.id)).all())
        # transformer sizes need the expected peak of each area: estimate it from profiles
        pre_rows = []
        for k, (c, m) in enumerate(zip(world.customers, world.meters)):
            a = world.areas[c["area_index"]]
            pre_rows.append({"meter_id": k, "meter_no": m["meter_no"], "phases": m["phases"],
                             "customer_class": c["customer_class"], "tariff_code": c["tariff_code"],
                             "contract_capacity_kva": c["contract_capacity_kva"], "district": c["district"],
                             "area_class": a["area_class"], "area_code": a["code"],
                             "account_no": c["account_no"]})
        pre = _profiles(pre_rows, set())
        peak_of_class = np.array([3.2, 2.0, 1.35])
        expected: dict[int, float] = defaultdict(float)
        for k, c in enumerate(world.customers):
            expected[c["area_index"]] += float(pre.level[k] * peak_of_class[pre.klass[k]] * (1 + 20 * pre.heat[k]))
        for i, a in enumerate(world.areas):
            a["index"] = i
        _capacity(rng, world.areas, expected)
        _insert(conn, TransformerArea, [{
            "code": a["code"], "name": a["name"], "feeder_id": feeder_ids[world.feeders[a["feeder"]]["code"]],
            "district": a["district"], "town": a["town"], "area_class": a["area_class"],
            "capacity_kva": a["capacity_kva"], "lat": a["lat"], "lon": a["lon"],
        } for a in world.areas])
        area_ids = dict(conn.execute(select(TransformerArea.code, TransformerArea.id)).all())
        _insert(conn, Customer, [{
            **{k: v for k, v in c.items() if k != "area_index"},
            "transformer_area_id": area_ids[world.areas[c["area_index"]]["code"]],
        } for c in world.customers])
        customer_ids = dict(conn.execute(select(Customer.account_no, Customer.id)).all())
        _insert(conn, Meter, [{
            "meter_no": m["meter_no"], "customer_id": customer_ids[c["account_no"]],
            "transformer_area_id": area_ids[world.areas[c["area_index"]]["code"]],
            "phases": m["phases"], "installed_on": m["installed_on"],
        } for c, m in zip(world.customers, world.meters)])
        conn.commit()
        say(f"  grid: {len(world.feeders)} feeders, {len(world.areas)} areas, {len(world.customers)} customers")

        rows = _load_rows(conn)
        roles = _roles(rows)
        low_accounts = {fixed_accounts()[r][0] for r in LOW_VOLTAGE_ROLES}
        profiles = _profiles(rows, low_accounts)
        phases = {r["meter_id"]: int(r["phases"]) for r in rows}

        axis = _Axis.between(start, end)
        temps = _temperatures(axis)
        weather = _weather_rows(axis, temps)
        _insert(conn, WeatherHour, weather)

        notices = _scheduled_notices(conn, roles, start.astimezone(SHANGHAI).date(),
                                     (end + timedelta(days=7)).astimezone(SHANGHAI).date())
        notices.append(_anchored_notice(conn, roles, end))
        notices.sort(key=lambda n: n["start_at"])
        _insert(conn, PlannedOutage, notices)

        plan = _Plan()
        events = _history(seed, rows, roles, start, end, plan)
        events += _apply_notices(notices, roles, plan, _epoch_s(start) - 3600, _epoch_s(end))
        events += _plant_live(roles, phases, end, plan)
        plan.overload = _overload_factors(profiles, roles, axis, temps, end)
        conn.commit()

        with _bulk_session(conn):
            n_readings, monthly = _write_readings(conn, profiles, axis, temps, plan, progress)
        events.sort(key=lambda e: (e["ts"], e["meter_id"], e["kind"]))
        _insert(conn, MeterEvent, events)

        months = _months(axis)
        latest = months[-1][0] if months else None
        fixed_numbers = {account for account, _ in fixed_accounts().values()}
        arrears = {r["customer_id"] for r in rows
                   if r["account_no"] == fixed_accounts()["arrears"][0] or
                   (r["customer_class"] == "居民" and r["account_no"] not in fixed_numbers
                    and _u("arrears", r["account_no"]) < 0.02)}
        bill_rows = _bill_rows(rows, monthly, _paid_rule(end, arrears, latest), latest)
        _insert(conn, Bill, bill_rows)
        unpaid: dict[int, int] = defaultdict(int)
        for b in bill_rows:
            if not b["paid"]:
                unpaid[b["customer_id"]] += b["amount_fen"]
        balances = []
        for r in rows:
            u = _u("balance", r["account_no"])
            if r["customer_id"] in arrears:
                balance = -unpaid[r["customer_id"]] - int(2000 + 18000 * u)
            else:
                scale = {"居民": 30000, "一般工商业": 500000, "大工业": 20000000}[r["customer_class"]]
                balance = int(500 + scale * u)
            balances.append({"customer_id": r["customer_id"], "balance_fen": balance, "updated_at": end})
        _insert(conn, AccountBalance, balances)
        crews, members = crew_rows(seed)
        _insert(conn, Crew, crews)
        _insert(conn, CrewMember, members)
        _insert(conn, CrewShift, shift_rows(local_day(start), local_day(end + AHEAD)))
        ensure_demo_staff(conn, end)
        _analyze(conn)
        conn.commit()

    area_codes = {r["area_id"]: r["area_code"] for r in rows}
    summary = DemoSummary(
        seed=seed, start=start, end=end, feeders=len(world.feeders), transformer_areas=len(world.areas),
        customers=len(world.customers), meters=len(world.meters), readings=n_readings, events=len(events),
        bills=len(bill_rows), planned_outages=len(notices), weather_hours=len(weather),
        seconds=round(time.monotonic() - started, 1),
        fault_area_code=area_codes[roles.fault_area], overloaded_area_code=area_codes[roles.overload_area],
        planned_area_code=area_codes[roles.planned_area],
        household_outage_accounts=tuple(fixed_accounts()[r][0] for r in HOUSEHOLD_OUTAGE_ROLES),
    )
    say(f"demo ready in {summary.seconds}s: {summary.readings:,} readings, {summary.events:,} events, "
        f"{summary.bills:,} bills, {summary.planned_outages} planned outages")
    return summary


def _analyze(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE readings, meter_events, meters, customers, transformer_areas")


def _extend_shifts(conn: Connection, end: datetime, seed: int = 20261123) -> None:
    """Crews keep working while the live demo runs: shifts reach 30 days past `end`.

    A demo seeded before crews existed gets them now (its tickets could not be dispatched).
    """
    if conn.execute(select(Crew.id).limit(1)).first() is None:
        crews, members = crew_rows(seed)
        _insert(conn, Crew, crews)
        _insert(conn, CrewMember, members)
    ensure_demo_staff(conn, end)
    last = conn.execute(select(func.max(CrewShift.starts_at))).scalar_one()
    if last is None:
        last = end - timedelta(days=1)
    first_day, last_day = local_day(last) + timedelta(days=1), local_day(end + AHEAD)
    if first_day <= last_day:
        _insert(conn, CrewShift, shift_rows(first_day, last_day))
        conn.commit()


def refresh_live(engine: Engine, *, end: datetime | None = None, progress: Progress | None = None) -> RefreshSummary:
    """Extend the readings up to `end` and move the live situations there (no full re-seed)."""
    started = time.monotonic()
    new_end = _hour_floor(end or datetime.now(UTC))
    say = progress or (lambda _msg: None)
    with engine.connect() as conn:
        rows = _load_rows(conn)
        if not rows:
            raise RuntimeError("no demo data to refresh; run generate first")
        roles = _roles(rows)
        anchor = roles.meter_of["normal"]
        old_end = conn.execute(select(func.max(Reading.ts)).where(Reading.meter_id == anchor)).scalar_one()
        data_start = conn.execute(select(func.min(Reading.ts)).where(Reading.meter_id == anchor)).scalar_one()
        if old_end is None:
            raise RuntimeError("the demo has no readings; run generate first")
        if new_end < old_end:
            raise ValueError(f"end {new_end.isoformat()} is before the stored data ({old_end.isoformat()})")
        _extend_shifts(conn, new_end)
        if new_end == old_end:
            say(f"demo already current at {old_end.isoformat()}")
            return RefreshSummary(old_end, new_end, 0, 0, 0, 0, 0, round(time.monotonic() - started, 1))
        say(f"demo: moving live situations from {old_end.isoformat()} to {new_end.isoformat()}")

        regen_from = min(old_end + HOUR, new_end - (LIVE_HOURS - 1) * HOUR)
        plan = _Plan()
        events: list[dict] = []
        live_meters = roles.members[roles.fault_area] + roles.household_meters
        if regen_from <= old_end:
            # the new end overlaps the old live window: rewrite those hours and drop the live events
            conn.execute(delete(Reading).where(Reading.ts >= regen_from))
            conn.execute(delete(MeterEvent).where(
                MeterEvent.meter_id.in_(live_meters), MeterEvent.ts > old_end - HOUR, MeterEvent.ts <= old_end))
        else:
            events += _restore_previous(roles, old_end, plan)

        existing = {n.notice_no: n for n in conn.execute(select(PlannedOutage.__table__))}
        fresh = [n for n in _scheduled_notices(conn, roles, old_end.astimezone(SHANGHAI).date(),
                                               (new_end + timedelta(days=7)).astimezone(SHANGHAI).date())
                 if n["notice_no"] not in existing]
        anchored_running = any(
            n.notice_no.startswith("LS") and n.transformer_area_id == roles.planned_area
            and n.start_at <= new_end < n.end_at for n in existing.values())
        if not anchored_running:
            anchored = _anchored_notice(conn, roles, new_end)
            if anchored["notice_no"] not in existing:
                fresh.append(anchored)
        _insert(conn, PlannedOutage, fresh)
        all_notices = [
            {"notice_no": n.notice_no, "transformer_area_id": n.transformer_area_id, "feeder_id": n.feeder_id,
             "start_at": n.start_at, "end_at": n.end_at} for n in existing.values()
        ] + fresh
        relevant = [n for n in all_notices if n["end_at"] > regen_from - HOUR]
        events += _apply_notices(relevant, roles, plan, _epoch_s(old_end), _epoch_s(new_end))
        phases = {r["meter_id"]: int(r["phases"]) for r in rows}
        events += _plant_live(roles, phases, new_end, plan)

        low_accounts = {fixed_accounts()[r][0] for r in LOW_VOLTAGE_ROLES}
        profiles = _profiles(rows, low_accounts)
        axis = _Axis.between(regen_from, new_end)
        temps = _temperatures(axis)
        weather = _weather_rows(axis, temps, skip_before=old_end)
        _insert(conn, WeatherHour, weather)
        plan.overload = _overload_factors(profiles, roles, axis, temps, new_end)
        n_readings, _monthly = _write_readings(conn, profiles, axis, temps, plan, progress, commit_chunks=False)
        events.sort(key=lambda e: (e["ts"], e["meter_id"], e["kind"]))
        _insert(conn, MeterEvent, events)
        n_bills = _bill_new_months(conn, rows, data_start, new_end)
        conn.commit()
    summary = RefreshSummary(old_end, new_end, n_readings, len(events), len(fresh), n_bills, len(weather),
                             round(time.monotonic() - started, 1))
    say(f"demo current at {new_end.isoformat()} in {summary.seconds}s: {n_readings:,} readings, "
        f"{len(events)} events, {len(fresh)} new notices, {n_bills} new bills")
    return summary


def _bill_new_months(conn: Connection, rows: list[dict], data_start: datetime, end: datetime) -> int:
    """Bills for local months that became complete since the last run."""
    have = {p for (p,) in conn.execute(select(Bill.period).distinct())}
    day = data_start.astimezone(SHANGHAI).date().replace(day=1)
    created = 0
    while True:
        begin, stop = _local_midnight_utc(day), _local_midnight_utc(_next_month(day))
        if stop - HOUR > end:
            break
        period = f"{day:%Y-%m}"
        if begin >= data_start and period not in have:
            sums = {m: int(round(float(s) * 1000)) for m, s in conn.execute(
                select(Reading.meter_id, func.sum(Reading.kwh))
                .where(Reading.ts >= begin, Reading.ts < stop).group_by(Reading.meter_id))}
            tou = [r["meter_id"] for r in rows if r["tariff_code"] == "NX-RES-TOU"]
            peaks: dict[int, int] = defaultdict(int)
            peak_set = set(peak_hours(period))
            if tou:
                for meter_id, ts, kwh in conn.execute(
                        select(Reading.meter_id, Reading.ts, Reading.kwh)
                        .where(Reading.meter_id.in_(tou), Reading.ts >= begin, Reading.ts < stop)):
                    if ts.astimezone(SHANGHAI).hour in peak_set:
                        peaks[meter_id] += int(round(float(kwh) * 1000))
            monthly = {m: {period: (wh, peaks.get(m, 0))} for m, wh in sums.items()}
            arrears = {r["customer_id"] for r in rows if r["account_no"] == fixed_accounts()["arrears"][0]}
            bills = _bill_rows(rows, monthly, _paid_rule(end, arrears, period), period)
            _insert(conn, Bill, bills)
            created += len(bills)
        day = _next_month(day)
    return created
