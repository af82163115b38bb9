"""Marketing-audit (营销稽查) cases in the demo: what each rule should find, and look-alikes it should not.

Generated customers of the showcase areas (never a showcase customer, never an area with planned or
live outages) become named cases with fixed 户号 (serials 000101 up, so no seed can collide with them):
a metering fault, a theft or a load of their own, written into the hourly readings through
`Plan.faults`, plus the meter events and bill rows a real system would hold. Every case starts a
fixed number of days after the first reading, so `refresh_live` rebuilds the same plan from the
database alone. With fewer customers than a case needs, that case is left out (`placed`).

Large customers (大工业, 一般工商业 from 100 kVA) are metered through CTs: their stored currents are
the meter's, on the CT secondary (primary = secondary × ct_ratio); nothing else in the API reads
currents, and the audit rules read them as the meter does.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np

from api.core.time import local_day, local_midnight
from api.demo.bills import bill_amount_fen
from api.demo.hashing import grid_hash, normals, uniforms
from api.demo.showcase import fixed_accounts
from api.demo.simulation import Axis, MeterFault, Plan, Profiles, from_epoch, simulate, temperatures
from api.demo.situations import event
from api.demo.world import AREA_ROLES, DISTRICT_CODE, World

CT_PRIMARIES = (150, 200, 250, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500)  # A, secondaries of 5 A
CT_FROM_KVA = 100  # 一般工商业 from this contract capacity (and every 大工业) is metered through CTs
AGRICULTURE = ("养殖", "种植", "苗木", "合作社")  # 农业 contracts: power-factor standard 0.80
STANDARD_KVA = (200, 250, 315, 400, 500, 630)
NIGHT = (22, 8)  # local hours [22, 8) a shop is closed


@dataclass(frozen=True)
class Case:
    """One named audit case: where it lives, what it is, which rules must (and may) fire on it."""

    serial: int  # the 户号 is "04" + district code + f"{serial:06d}"
    area_role: str  # an area of api.demo.world.AREA_ROLES
    klass: str
    phases: int
    contract_kva: int
    kind: str  # business kind for its name ("" keeps a household's name)
    rules: tuple[str, ...]  # must fire; () for look-alikes and line-loss-only thieves
    also: tuple[str, ...]  # may fire too (the same anomaly seen by another rule)
    description: str
    lookalike: bool = False
    metered_share: float | None = None  # theft: the share of the energy the meter still records


CASES: dict[str, Case] = {
    "swapped_transformer": Case(
        101, "normal", "一般工商业", 3, 100, "建材加工厂", ("over_contract_capacity", "ct_over_limit"), (),
        "合同容量100kVA（高供低计，CT 150/5），私自更换大容量变压器后实测负荷达234.2kW；二次电流超过5A额定并在饱和处削顶",
    ),
    "night_shop": Case(
        102, "normal", "一般工商业", 3, 20, "便民超市", (), (),
        "夜间（22时至次日8时）关门的商店：每晚近零用电，白天正常", lookalike=True,
    ),
    "billing_mismatch": Case(
        103, "normal", "居民", 1, 8, "", ("billing_mismatch",), (),
        "最近一个整月的账单按估抄计费，账单电量只有计量电量的55%",
    ),
    "current_imbalance": Case(
        104, "hh_urban", "一般工商业", 3, 50, "汽车修理厂", ("current_imbalance",), (),
        "电焊机等单相负荷集中在A相：三相电流长期严重不平衡（约64%/24%/12%）",
    ),
    "low_power_factor": Case(
        105, "hh_urban", "一般工商业", 3, 200, "冷库", ("low_power_factor",), (),
        "冷库压缩机，无功补偿电容器组损坏：功率因数约0.72，低于合同考核标准0.85",
    ),
    "near_contract": Case(
        106, "arrears", "大工业", 3, 400, "食品有限公司", (), (),
        "400kVA大工业用户，负荷常年接近但不超过合同容量（峰值约为容量×力率的93%），CT二次电流低于5A", lookalike=True,
    ),
    "phase_failure": Case(
        107, "arrears", "一般工商业", 3, 50, "面粉加工坊", ("phase_failure",), ("current_imbalance",),
        "C相熔断器熔断：C相电压、电流均为零，持续5天后修复（断相）",
    ),
    "seasonal": Case(
        108, "arrears", "一般工商业", 3, 160, "马铃薯粉条加工厂", (), (),
        "季节性生产：每年10月10日至次年3月底加工马铃薯粉条，其余月份只有值守用电", lookalike=True,
    ),
    "holiday_home": Case(
        109, "lowv", "居民", 1, 6, "", (), (),
        "六盘山下的度假房：节假日和隔周周末有人住，其余时间连续十多天只有冰箱待机", lookalike=True,
    ),
    "sudden_drop": Case(
        110, "xiji_b", "一般工商业", 3, 50, "粮油加工坊", ("sudden_drop",), (),
        "绕越电能表接线窃电：某日起计量电量只剩实际用电的35%，负荷曲线形状不变", metered_share=0.35,
    ),
    "voltage_loss": Case(
        111, "xiji_b", "一般工商业", 3, 80, "肉牛养殖专业合作社", ("voltage_loss",), ("sudden_drop",),
        "B相电压连接片被断开（欠压法窃电）：B相电压约15V而电流照常，少计约三分之一电量",
    ),
    "zero_consumption": Case(
        112, "xiji_b", "一般工商业", 3, 30, "农机修理厂", ("zero_consumption",), ("sudden_drop",),
        "电能表被改动后停走：电压、电流照常，电量为零（扩差法窃电）",
    ),
    "steady_thief_xiji": Case(
        113, "xiji_b", "一般工商业", 3, 30, "农家乐", (), ("sudden_drop",),
        "数据开始前就已绕表窃电：计量电量一直只有实际的40%（只有台区线损能看出来）", metered_share=0.40,
    ),
    "cover_open": Case(
        114, "pengyang_b", "一般工商业", 3, 30, "清真饭馆", ("cover_open",), ("sudden_drop",),
        "电能表开盖后计量电量降到实际的45%（开盖窃电）", metered_share=0.45,
    ),
    "reverse_energy": Case(
        115, "pengyang_b", "一般工商业", 3, 80, "砖厂", ("reverse_energy",), (),
        "装表时A相电流进出线接反：A相电量计为反向，每天冻结反向有功电量，正向只计约三分之一",
    ),
    "steady_thief_pengyang": Case(
        116, "pengyang_b", "一般工商业", 3, 30, "农资店", (), ("sudden_drop",),
        "数据开始前就已绕表窃电：计量电量一直只有实际的40%（只有台区线损能看出来）", metered_share=0.40,
    ),
}

# Showcase customers that are look-alikes too (their behaviour is the showcase's, unchanged).
SHOWCASE_LOOKALIKES: dict[str, str] = {
    "0401000005": "城区单相居民，用电正常：三相规则不适用，任何规则都不应命中",
    "0404000006": "线路末端低电压居民（约185V）：电压偏低不是失压",
    "0401000003": "单户停电（最近一小时）：停电不是失压，也不是零电量",
    "0401000001": "台区故障停电中的居民：全台区失电不是失压",
    "0401000008": "三相一般工商业用户（50kVA，直接接入），用电正常",
}

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FREEZE = timedelta(seconds=20)  # the daily freeze (日冻结) just after local midnight
# Days after the first local midnight of the data when each case starts (a 90-day demo: the default).
ONSET_DAYS = {"zero_consumption": 55, "sudden_drop": 56, "cover_open": 60, "voltage_loss": 62,
              "swapped_transformer": 62, "phase_failure": 64}
ONSET_HOURS = {"cover_open": 14.6, "voltage_loss": 10.3, "swapped_transformer": 8.0, "phase_failure": 11.2}
PHASE_FAILURE_DAYS = 5
SWAP_BEFORE_KW, SWAP_AFTER_KW, SWAP_MEASURED_MAX_KW = 35.0, 130.0, 234.2  # mean kW before/after the swap
SHARES_IMBALANCED = np.array([0.64, 0.24, 0.12])
LOW_PF = 0.72
HOLIDAY_HOME_KW = 0.35  # mean load while the holiday home is lived in
SEASON = ((10, 10), (3, 31))  # (month, day) the season starts and ends, every year
# Line loss: where the theft raises it, where the supply meter is recorded wrong, where it fails to report.
HIGH_LOSS_AREA_ROLES = ("xiji_b", "pengyang_b")
NEGATIVE_LOSS_AREA_ROLE = "hh_rural"  # 台区总表 CT recorded as 150/5, really 200/5: recorded supply × 0.75
SUPPLY_RECORDED_FACTOR = {"hh_rural": 0.75}
MISSING_SUPPLY = {"lowv": (20, 21)}  # days after the first full local day without a 台区总表 reading
BILLED_SHARE = Decimal("0.55")  # the estimated bill of the billing-mismatch case


def account_of(name: str) -> str:
    """The fixed 户号 of a case: its area's district, its serial."""
    case = CASES[name]
    return f"04{DISTRICT_CODE[AREA_ROLES[case.area_role][0]]:02d}{case.serial:06d}"


ACCOUNTS: dict[str, str] = {name: account_of(name) for name in CASES}
CASE_OF_ACCOUNT: dict[str, str] = {a: n for n, a in ACCOUNTS.items()}
# account -> the rules that must fire on it
PLANTED_CASES: dict[str, tuple[str, ...]] = {ACCOUNTS[n]: c.rules for n, c in CASES.items() if c.rules}
# account -> rules that may fire too without being wrong (the same anomaly seen by another rule)
ALSO_FIRING: dict[str, tuple[str, ...]] = {ACCOUNTS[n]: c.also for n, c in CASES.items() if c.also}
LOOKALIKES: dict[str, str] = {**{ACCOUNTS[n]: c.description for n, c in CASES.items() if c.lookalike},
                              **SHOWCASE_LOOKALIKES}
THEFT: dict[str, float] = {ACCOUNTS[n]: c.metered_share for n, c in CASES.items() if c.metered_share}
DESCRIPTIONS: dict[str, str] = {ACCOUNTS[n]: c.description for n, c in CASES.items()}
# area role -> a showcase account living there (to find the area in a stored demo)
AREA_ANCHOR: dict[str, str] = {"normal": "0401000005", "hh_urban": "0401000003", "arrears": "0403000009",
                               "lowv": "0404000006", "xiji_b": "0402000015", "hh_rural": "0402000004",
                               "pengyang_b": "0405000014"}


# ------------------------------------------------------------------------------ the world

def ct_ratio(contract_kva: float) -> int:
    """The CT ratio for a contract: the smallest standard primary above its rated current at 0.4 kV, over 5 A."""
    rated = contract_kva / (math.sqrt(3) * 0.4)
    return next((p for p in CT_PRIMARIES if p >= rated), CT_PRIMARIES[-1]) // 5


def power_factor_standard(customer_class: str, contract_kva: float, name: str) -> Decimal | None:
    """力率调整电费的考核标准: 0.90 大工业, 0.85 other businesses from 100 kVA, 0.80 farming; none below."""
    if customer_class == "大工业":
        return Decimal("0.90")
    if customer_class == "一般工商业" and contract_kva >= CT_FROM_KVA:
        return Decimal("0.80") if any(w in name for w in AGRICULTURE) else Decimal("0.85")
    return None


def plant_world(world: World) -> dict[str, int]:
    """Turn generated customers of the showcase areas into the cases, then give every large customer its
    CT and every business its power-factor standard. Returns case name -> customer index (the placed)."""
    fixed_numbers = {a for a, _ in fixed_accounts().values()}
    taken: set[int] = set()
    placed: dict[str, int] = {}
    for name, case in CASES.items():
        area = world.role_area.get(case.area_role)
        if area is None:
            continue
        free = sorted((k for k, c in enumerate(world.customers)
                       if c["area_index"] == area and k not in taken and c["account_no"] not in fixed_numbers),
                      key=lambda k: (world.customers[k]["customer_class"] != case.klass,
                                     world.customers[k]["account_no"]))
        if not free:
            continue
        k = free[0]
        taken.add(k)
        placed[name] = k
        c, m, a = world.customers[k], world.meters[k], world.areas[area]
        c["account_no"] = ACCOUNTS[name]
        if case.kind:
            c["name"] = f"{a['place']}{case.kind}"
            c["address"] = re.sub(r"^(.*?\d+号)\d+号楼.*$", r"\1", c["address"])
        c["customer_class"] = case.klass
        c["contract_capacity_kva"] = Decimal(case.contract_kva)
        c["tariff_code"] = {"居民": "NX-RES-TIER", "一般工商业": "NX-GC", "大工业": "NX-LI"}[case.klass]
        m["phases"] = case.phases
    for c, m in zip(world.customers, world.meters):
        kva = float(c["contract_capacity_kva"])
        if c["customer_class"] == "大工业" or (c["customer_class"] == "一般工商业" and kva >= CT_FROM_KVA):
            m["ct_ratio"], m["ct_rated_a"] = ct_ratio(kva), Decimal(5)
        c["power_factor_standard"] = power_factor_standard(c["customer_class"], kva, c["name"])
    return placed


EXTRA_PEAK_KW = {"swapped_transformer": 260.0, "near_contract": 345.0, "low_power_factor": 50.0,
                 "seasonal": 80.0}


def size_for_cases(world: World, placed: dict[str, int]) -> None:
    """A transformer big enough for the large cases' real load (the swapped transformer's too)."""
    extra: dict[int, float] = {}
    for name, k in placed.items():
        area = world.customers[k]["area_index"]
        extra[area] = extra.get(area, 0.0) + EXTRA_PEAK_KW.get(name, 0.0)
    for area, kw in extra.items():
        need = kw / 0.6
        fitting = [s for s in STANDARD_KVA if s >= need] or [STANDARD_KVA[-1]]
        world.areas[area]["capacity_kva"] = max(world.areas[area]["capacity_kva"], Decimal(fitting[0]))


# ------------------------------------------------------------------------------ the readings

def first_day(data_start: datetime) -> date:
    """The first full local day of the data: the cases count their days from its midnight."""
    day = local_day(data_start)
    return day if local_midnight(day) >= data_start else day + DAY


def _onset_hour(name: str, data_start: datetime) -> int:
    """The epoch hour a case starts."""
    at = local_midnight(first_day(data_start) + ONSET_DAYS[name] * DAY) + timedelta(hours=ONSET_HOURS.get(name, 0.0))
    return int(at.timestamp()) // 3600


def _phases(out: dict[str, np.ndarray], i: int) -> np.ndarray:
    return np.vstack([out["v0"][i], out["v1"][i], out["v2"][i]]).astype(np.float64)


def _shares(p: Profiles, i: int) -> np.ndarray:
    return p.share[i] if p.phases[i] == 3 else np.array([1.0, 0.0, 0.0])


def _amps(phase_kw: np.ndarray, volts: np.ndarray, pf: float) -> np.ndarray:
    """Primary current per phase (A) for the power on each phase."""
    return np.abs(phase_kw) * 1000.0 / (np.maximum(volts, 1.0) * pf)


def _store(out: dict[str, np.ndarray], i: int, p: Profiles, *, true_kw: np.ndarray, metered_kw: np.ndarray,
           volts: np.ndarray, amps: np.ndarray) -> None:
    """Write one meter's row back: true and recorded energy, voltages, currents on the CT secondary."""
    out["true_wh"][i] = np.rint(np.maximum(true_kw, 0.0) * 1000.0).astype(np.int64)
    wh = np.rint(np.maximum(metered_kw, 0.0) * 1000.0).astype(np.int64)
    out["wh"][i] = wh
    out["kwh"][i] = wh / 1000.0
    for k in range(3):
        out[f"v{k}"][i] = np.round(volts[k], 1)
        out[f"i{k}"][i] = np.round(amps[k] / p.ct[i], 2)


def _plain(out, i, p, true_kw, *, shares=None, pf=None, metered_kw=None, volts=None) -> None:
    """Store a load the meter records faithfully (or as `metered_kw`), currents from the power."""
    shares = _shares(p, i) if shares is None else shares
    volts = _phases(out, i) if volts is None else volts
    amps = _amps(true_kw * shares[:, None], volts, p.pf[i] if pf is None else pf)
    if metered_kw is not None:  # a bypass or a slowed meter: the current through it falls with what it records
        amps = amps * np.where(true_kw > 0, metered_kw / np.maximum(true_kw, 1e-9), 1.0)
    _store(out, i, p, true_kw=true_kw, metered_kw=true_kw if metered_kw is None else metered_kw,
           volts=volts, amps=amps)


def _noise(p: Profiles, i: int, axis: Axis, salt: int) -> np.ndarray:
    return normals(grid_hash(p.key[i:i + 1], axis.eh, salt))[0]


def _true_kw(out, i) -> np.ndarray:
    return out["true_wh"][i] / 1000.0


def _swapped_transformer(onset: int) -> MeterFault:
    def fault(out, i, axis, p):
        base = _true_kw(out, i) / p.level[i]
        true_kw = base * np.where(axis.eh >= onset, SWAP_AFTER_KW, SWAP_BEFORE_KW)
        metered = np.minimum(true_kw, SWAP_MEASURED_MAX_KW)  # the CT saturates: the meter sees no more
        volts = _phases(out, i)
        amps = _amps(metered * _shares(p, i)[:, None], volts, p.pf[i])
        _store(out, i, p, true_kw=true_kw, metered_kw=metered, volts=volts, amps=amps)
    return fault


def _metered_share(share: float, onset: int | None) -> MeterFault:
    def fault(out, i, axis, p):
        true_kw = _true_kw(out, i)
        factor = share if onset is None else np.where(axis.eh >= onset, share, 1.0)
        _plain(out, i, p, true_kw, metered_kw=true_kw * factor)
    return fault


def _stopped(onset: int) -> MeterFault:
    def fault(out, i, axis, p):
        true_kw = _true_kw(out, i)
        volts = _phases(out, i)
        amps = _amps(true_kw * _shares(p, i)[:, None], volts, p.pf[i])  # current still flows
        _store(out, i, p, true_kw=true_kw, metered_kw=np.where(axis.eh >= onset, 0.0, true_kw), volts=volts, amps=amps)
    return fault


def _voltage_loss(onset: int, phase: int = 1) -> MeterFault:
    def fault(out, i, axis, p):
        true_kw = _true_kw(out, i)
        shares = _shares(p, i)
        volts = _phases(out, i)
        amps = _amps(true_kw * shares[:, None], volts, p.pf[i])
        lost = axis.eh >= onset
        volts[phase] = np.where(lost, 15.0 + 4.0 * _noise(p, i, axis, 0xA51), volts[phase])
        metered = np.where(lost, true_kw * (1.0 - shares[phase]), true_kw)
        _store(out, i, p, true_kw=true_kw, metered_kw=metered, volts=volts, amps=amps)
    return fault


def _phase_failure(onset: int, phase: int = 2) -> MeterFault:
    def fault(out, i, axis, p):
        shares = _shares(p, i)
        out_ = (axis.eh >= onset) & (axis.eh < onset + PHASE_FAILURE_DAYS * 24)
        true_kw = _true_kw(out, i) * np.where(out_, 1.0 - shares[phase], 1.0)  # the load on that phase stops
        volts = _phases(out, i)
        phase_kw = _true_kw(out, i) * shares[:, None]
        phase_kw[phase] = np.where(out_, 0.0, phase_kw[phase])
        volts[phase] = np.where(out_, 1.0 + 0.5 * uniforms(grid_hash(p.key[i:i + 1], axis.eh, 0xB52))[0], volts[phase])
        _store(out, i, p, true_kw=true_kw, metered_kw=true_kw, volts=volts, amps=_amps(phase_kw, volts, p.pf[i]))
    return fault


def _reversed_phase(phase: int = 0) -> MeterFault:
    def fault(out, i, axis, p):
        true_kw = _true_kw(out, i)
        shares = _shares(p, i)
        volts = _phases(out, i)
        amps = _amps(true_kw * shares[:, None], volts, p.pf[i])
        metered = true_kw * (1.0 - 2.0 * shares[phase])  # the reversed phase counts against the others
        _store(out, i, p, true_kw=true_kw, metered_kw=metered, volts=volts, amps=amps)
    return fault


def _imbalanced(out, i, axis, p) -> None:
    _plain(out, i, p, _true_kw(out, i), shares=SHARES_IMBALANCED)


def _low_power_factor(out, i, axis, p) -> None:
    _plain(out, i, p, _true_kw(out, i), pf=LOW_PF)


def _night_shop(out, i, axis, p) -> None:
    closed = (axis.lh >= NIGHT[0]) | (axis.lh < NIGHT[1])
    standby = p.level[i] * (0.03 + 0.005 * _noise(p, i, axis, 0xC53))
    _plain(out, i, p, np.where(closed, np.maximum(standby, 0.0) * (_true_kw(out, i) > 0), _true_kw(out, i)))


def _holiday_home(out, i, axis, p) -> None:
    iso_week = (axis.lday + 3) // 7  # epoch day 0 was a Thursday: weeks from Monday
    occupied = (axis.daytype >= 2) | ((axis.daytype == 1) & (iso_week % 2 == 0))
    fridge = 0.04 + 0.008 * _noise(p, i, axis, 0xD54)
    family = _true_kw(out, i) * HOLIDAY_HOME_KW / p.level[i]  # a family from town: more than a village home
    _plain(out, i, p, np.where(occupied, family, np.maximum(fridge, 0.0) * (_true_kw(out, i) > 0)))


def in_season(days: np.ndarray) -> np.ndarray:
    """Whether local days (epoch day numbers) fall in the processing season (10 Oct – 31 Mar)."""
    dates = days.astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    start, end = SEASON
    return (month > start[0]) | ((month == start[0]) & (mday >= start[1])) | (month < end[0]) | \
        ((month == end[0]) & (mday <= end[1]))


def _seasonal(out, i, axis, p) -> None:
    busy = in_season(axis.lday)
    working = busy * 48.0 / p.level[i]  # about 0.3 × 160 kVA on average in season
    idle = 0.5 + 0.05 * _noise(p, i, axis, 0xE55)
    base = _true_kw(out, i)
    _plain(out, i, p, np.where(busy, base * working, np.maximum(idle, 0.0) * (base > 0)))


def _near_contract(out, i, axis, p) -> None:
    cap = 0.9 * 400  # contract kVA × its power-factor standard
    knee, top = 0.84 * cap, 0.95 * cap
    kw = _true_kw(out, i) * 300.0 / p.level[i]
    soft = np.where(kw <= knee, kw, knee + (top - knee) * np.tanh((kw - knee) / (top - knee)))
    _plain(out, i, p, soft)


def faults(rows: list[dict], data_start: datetime) -> dict[int, MeterFault]:
    """meter id -> its case's rewrite of the readings, for the placed cases among `rows`."""
    made: dict[str, Callable[[], MeterFault]] = {
        "swapped_transformer": lambda: _swapped_transformer(_onset_hour("swapped_transformer", data_start)),
        "night_shop": lambda: _night_shop,
        "current_imbalance": lambda: _imbalanced,
        "low_power_factor": lambda: _low_power_factor,
        "near_contract": lambda: _near_contract,
        "phase_failure": lambda: _phase_failure(_onset_hour("phase_failure", data_start)),
        "seasonal": lambda: _seasonal,
        "holiday_home": lambda: _holiday_home,
        "sudden_drop": lambda: _metered_share(CASES["sudden_drop"].metered_share, _onset_hour("sudden_drop", data_start)),
        "voltage_loss": lambda: _voltage_loss(_onset_hour("voltage_loss", data_start)),
        "zero_consumption": lambda: _stopped(_onset_hour("zero_consumption", data_start)),
        "steady_thief_xiji": lambda: _metered_share(CASES["steady_thief_xiji"].metered_share, None),
        "cover_open": lambda: _metered_share(CASES["cover_open"].metered_share, _onset_hour("cover_open", data_start)),
        "reverse_energy": lambda: _reversed_phase(),
        "steady_thief_pengyang": lambda: _metered_share(CASES["steady_thief_pengyang"].metered_share, None),
    }
    return {r["meter_id"]: made[CASE_OF_ACCOUNT[r["account_no"]]]() for r in rows
            if CASE_OF_ACCOUNT.get(r["account_no"]) in made}


def true_power_factor(rows: list[dict], p: Profiles) -> np.ndarray:
    """Each meter's real power factor (for the reactive energy the supply meters see)."""
    low = {r["meter_id"] for r in rows if r["account_no"] == ACCOUNTS["low_power_factor"]}
    return np.where(np.isin(p.meter_id, list(low)), LOW_PF, p.pf)


def case_meters(rows: list[dict]) -> set[int]:
    """Meter ids of the placed cases."""
    return {r["meter_id"] for r in rows if r["account_no"] in CASE_OF_ACCOUNT}


def keep_cases_clean(rows: list[dict], events: list[dict], dark: dict) -> list[dict]:
    """The cases keep no random past incident (an outage would blur what they show): their events and
    dark intervals are dropped, everyone else's are untouched."""
    mine = case_meters(rows)
    for meter_id in mine:
        dark.pop(meter_id, None)
    return [e for e in events if e["meter_id"] not in mine]


# ------------------------------------------------------------------------------ events and bills

def case_events(rows: list[dict], p: Profiles, data_start: datetime, lo: datetime, hi: datetime) -> list[dict]:
    """The meter events of the cases in (lo, hi]: 开盖, 失压, 断相 at their start, the daily 反向电量."""
    by_case = {CASE_OF_ACCOUNT[r["account_no"]]: r["meter_id"] for r in rows if r["account_no"] in CASE_OF_ACCOUNT}
    found: list[dict] = []

    def add(name: str, at: datetime, kind: str, phase: str | None, detail: str) -> None:
        if name in by_case and lo < at <= hi:
            found.append(event(by_case[name], at, kind, phase, detail))

    def start(name: str, seconds: int) -> datetime:
        return from_epoch(_onset_hour(name, data_start) * 3600 + seconds)

    add("cover_open", start("cover_open", 37 * 60 + 12), "开盖", None, "表盖开启")
    add("voltage_loss", start("voltage_loss", 18 * 60 + 5), "失压", "B", "B相失压，电压约15V，电流正常")
    add("phase_failure", start("phase_failure", 11 * 60 + 40), "断相", "C", "C相断相，电压电流均为零")
    if "reverse_energy" in by_case:
        found += _reverse_events(by_case["reverse_energy"], p, data_start, lo, hi)
    return found


def _reverse_events(meter_id: int, p: Profiles, data_start: datetime, lo: datetime, hi: datetime) -> list[dict]:
    """A 反向电量 event just after each local midnight in (lo, hi]: the reversed phase's energy of the day before."""
    first = first_day(data_start)
    days = [d - DAY for d in (local_day(lo) + k * DAY for k in range((local_day(hi) - local_day(lo)).days + 1))
            if lo < local_midnight(d) + FREEZE <= hi and d - DAY >= first]
    if not days:
        return []
    axis = Axis.between(local_midnight(days[0]), local_midnight(days[-1] + DAY) - HOUR)
    meter = p.subset(np.flatnonzero(p.meter_id == meter_id))
    sim = simulate(meter, axis, temperatures(axis), Plan())
    phase_kwh = sim["true_wh"][0] / 1000.0 * _shares(meter, 0)[0]
    found = []
    for k, day in enumerate(days):
        kwh = float(phase_kwh[24 * k:24 * (k + 1)].sum())
        if kwh > 0:
            found.append(event(meter_id, local_midnight(day + DAY) + FREEZE, "反向电量", "A",
                               f"A相日冻结反向有功电量{kwh:.2f}kWh"))
    return found


def mismatch_bills(bills: list[dict], rows: list[dict], period: str | None) -> None:
    """The billing-mismatch case's bill of `period` is an estimate: 55 % of what its meter recorded."""
    account = ACCOUNTS["billing_mismatch"]
    row = next((r for r in rows if r["account_no"] == account), None)
    if row is None or period is None:
        return
    for b in bills:
        if b["customer_id"] == row["customer_id"] and b["period"] == period:
            b["kwh"] = (b["kwh"] * BILLED_SHARE).quantize(Decimal("0.01"))
            b["amount_fen"] = bill_amount_fen(row["tariff_code"], kwh=b["kwh"], period=period)
