"""Metering-anomaly rules of the marketing audit (营销稽查): what a 用电检查 engineer looks for in
metering data, run over every customer at once. Pure pandas/numpy: no database, no HTTP.

Input frames (timestamps tz-aware):
  customers  customer_id, contract_kva; optional class, ct_ratio (primary/secondary, "200/5" or 40;
             NaN = direct metering), ct_rated_a (CT secondary rating), pt_ratio (when voltages are
             read on a PT secondary), power_factor (the contract's 力率 value), contract_from (then
             several rows per customer, each the contract in force from that instant; the last is
             the current one, so a legitimate change of contract is judged by the right limit)
  readings   customer_id, ts (start of the interval, hourly or finer) and any of kw, kwh (energy of
             the interval), ia ib ic (A; on the CT secondary when ct_ratio is given), ua ub uc (V,
             any nominal), reverse_kwh. kw and kwh are primary (billing) values.
  events     customer_id, ts, event (English or Chinese: cover_open/开盖, voltage_loss/失压, …)
  bills      customer_id, period_start, period_end (local days, both included), billed_kwh

How it stays fast: readings are sorted once by customer and hour and binned to hours (means of
power, current and voltage; sums of energy). Each rule works on flat numpy arrays over the
customers' contiguous blocks: per-customer reductions (`ufunc.reduceat`) pick the candidates
before any per-row work, or it works on the (customers × local days) energy matrix. Violating
steps become runs, runs close together one episode. Only customers with a finding are visited one
by one, to draw their evidence.

An hourly episode ends at the end of its last violating hour, a daily one at the local midnight
after its last day, an event episode at its last event. Evidence series hold at most
`data.evidence_points` points, timestamps in UTC ISO 8601.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import get_type_hints

import numpy as np
import pandas as pd
import yaml

from api.core.time import LOCAL_TZ, UTC, UTC_OFFSET_HOURS

RULES: tuple[str, ...] = (
    "over_contract_capacity", "ct_over_limit", "voltage_loss", "phase_failure", "reverse_energy",
    "current_imbalance", "zero_consumption", "sudden_drop", "cover_open", "billing_mismatch",
    "low_power_factor",
)
RULE_LABELS: dict[str, str] = {
    "over_contract_capacity": "超合同容量用电",
    "ct_over_limit": "计量二次电流越限",
    "voltage_loss": "失压",
    "phase_failure": "断相",
    "reverse_energy": "反向电量",
    "current_imbalance": "三相电流不平衡",
    "zero_consumption": "零电量/近零电量",
    "sudden_drop": "电量突降",
    "cover_open": "开盖",
    "billing_mismatch": "抄表电量与计量电量不符",
    "low_power_factor": "功率因数偏低",
}
SEVERITIES = ("high", "medium", "low")
DEFAULTS_PATH = Path(__file__).with_name("rules.yml")

PHASES = ("a", "b", "c")
CURRENTS = ("ia", "ib", "ic")
VOLTAGES = ("ua", "ub", "uc")
VALUE_COLUMNS = ("kw", "kwh", *CURRENTS, *VOLTAGES, "reverse_kwh")
SUM_COLUMNS = frozenset({"kwh", "reverse_kwh"})  # energies add up within an hour; the rest average
EVENT_KINDS = ("cover_open", "voltage_loss", "phase_failure", "reverse_energy", "power_off", "power_on")
# Chinese event names seen in meter logs, matched as substrings (A相失压, 开表盖, 开端钮盖 …), in order.
EVENT_CHINESE = (("失压", "voltage_loss"), ("断相", "phase_failure"), ("反向", "reverse_energy"),
                 ("开盖", "cover_open"), ("表盖", "cover_open"), ("端钮", "cover_open"),
                 ("停电", "power_off"), ("掉电", "power_off"), ("上电", "power_on"), ("复电", "power_on"),
                 ("来电", "power_on"))
EVENT_ENGLISH = {**{k: k for k in EVENT_KINDS}, "meter_cover_open": "cover_open",
                 "terminal_cover_open": "cover_open", "cover open": "cover_open", "loss_of_voltage": "voltage_loss",
                 "phase_loss": "phase_failure", "reverse": "reverse_energy", "outage": "power_off",
                 "power_down": "power_off", "power_up": "power_on", "power_restored": "power_on"}
# Standard nominal phase voltages a median is snapped to (PT secondaries 57.7/63.5/100/110 V, LV 220–240 V).
NOMINALS = np.array([57.7, 63.5, 100.0, 110.0, 220.0, 230.0, 240.0], dtype=np.float32)
DEFAULT_NOMINAL = 220.0
SECONDARY_VOLTAGE_BELOW = 120.0  # a nominal under this is a PT secondary: primary power needs pt_ratio
NOMINAL_SAMPLES = 48  # readings per customer and phase the nominal voltage is the median of
BLOCK = 1 << 18  # rows per block where a long array is processed piecewise to stay in cache
STEADY_HOURS = 0.9  # share of hours registering energy for a low spell to hold a steady base load


# ---------------------------------------------------------------------------------------------
# Thresholds: one frozen dataclass per rule, filled from rules.yml (the single home of defaults)


@dataclass(frozen=True)
class DataKnobs:
    """What makes a day of data and how much evidence a finding carries."""

    min_hours_per_day: int
    evidence_points: int
    evidence_pad_hours: int
    evidence_pad_days: int


@dataclass(frozen=True)
class OverContractCapacity:
    """超合同容量用电: sustained kW above the contract capacity."""

    margin: float
    default_power_factor: float
    min_hours: int
    merge_gap_hours: int
    high_ratio: float
    severity: str


@dataclass(frozen=True)
class CtOverLimit:
    """计量二次电流越限: CT secondary current above its rating, or pinned at saturation."""

    default_rated_a: float
    overload: float
    min_hours: int
    merge_gap_hours: int
    high_overload: float
    flat_tolerance: float
    flat_min_level: float
    flat_min_hours: int
    flat_kw_rise: float
    severity: str


@dataclass(frozen=True)
class VoltageLoss:
    """失压: a phase voltage well under nominal while current flows."""

    ratio: float
    single_phase_ratio: float
    supply_ratio: float
    load_fraction: float
    min_hours: int
    merge_gap_hours: int
    event_window_hours: int
    power_event_hours: int
    severity: str
    corroborated_severity: str
    event_only_severity: str


@dataclass(frozen=True)
class PhaseFailure:
    """断相: a dead phase (no voltage, no current) while the others carry load."""

    ratio: float
    other_ratio: float
    load_fraction: float
    min_hours: int
    merge_gap_hours: int
    event_window_hours: int
    power_event_hours: int
    severity: str
    corroborated_severity: str
    event_only_severity: str


@dataclass(frozen=True)
class ReverseEnergy:
    """反向电量: energy flowing back through a consumer's meter."""

    min_kwh_per_hour: float
    min_total_kwh: float
    min_hours: int
    merge_gap_hours: int
    high_share: float
    event_window_hours: int
    generation_classes: tuple[str, ...]
    severity: str
    corroborated_severity: str
    event_only_severity: str


@dataclass(frozen=True)
class CurrentImbalance:
    """三相电流不平衡: one phase carrying far less than the others under load."""

    ratio: float
    load_fraction: float
    min_hours: int
    merge_gap_hours: int
    high_ratio: float
    high_min_hours: int
    severity: str


@dataclass(frozen=True)
class ZeroConsumption:
    """零电量: nothing registered for weeks at a premises that is energised and used to consume."""

    zero_kwh_per_day: float
    zero_share: float
    min_days: int
    baseline_days: int
    min_baseline_kwh_per_day: float
    seasonal_share: float
    voltage_present_ratio: float
    load_fraction: float
    min_rhythm: float
    idle_rhythm: float
    severity: str
    unknown_activity_severity: str


@dataclass(frozen=True)
class SuddenDrop:
    """电量突降: a sustained fall against the customer's own past and against its peers."""

    drop: float
    window_days: int
    baseline_days: int
    min_coverage: float
    min_baseline_kwh_per_day: float
    min_peers: int
    peer_kept: float
    peer_window_days: int
    high_drop: float
    recovered_ratio: float
    report_recovered: bool
    visit_level: float
    visit_share: float
    min_rhythm: float
    idle_rhythm: float
    same_level_days: int
    same_level_tolerance: float
    severity: str


@dataclass(frozen=True)
class CoverOpen:
    """开盖: the meter's cover opened, worse when consumption falls afterwards."""

    merge_gap_hours: int
    before_days: int
    after_days: int
    drop: float
    severity: str
    no_drop_severity: str


@dataclass(frozen=True)
class BillingMismatch:
    """抄表电量与计量电量不符: billed kWh against the metered sum of the bill period."""

    pct: float
    min_kwh: float
    min_coverage: float
    medium_pct: float
    high_pct: float
    severity: str


@dataclass(frozen=True)
class LowPowerFactor:
    """功率因数偏低: monthly energy-weighted PF under the contract's value."""

    default_power_factor: float
    min_contract_kva: float
    load_fraction: float
    min_hours: int
    tolerance: float
    medium_below: float
    high_below: float
    max_plausible: float
    severity: str


def _coerce(cls: type, section: str, values: dict, source: str):
    """Build one knob dataclass from a mapping, naming the file and key of any bad value."""
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{source}: unknown threshold {section}.{unknown[0]} (known: {', '.join(sorted(names))})")
    missing = sorted(names - set(values))
    if missing:
        raise ValueError(f"{source}: threshold {section}.{missing[0]} has no value")
    out = {}
    for name in names:
        value, hint = values[name], hints[name]
        try:
            if hint is bool:
                if not isinstance(value, bool):
                    raise ValueError
                out[name] = value
            elif hint is int:
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                out[name] = int(float(value))
            elif hint is float:
                if isinstance(value, bool):
                    raise ValueError
                out[name] = float(value)
            elif hint is str:
                out[name] = str(value)
                if name.endswith("severity") and out[name] not in SEVERITIES:
                    raise ValueError
            else:  # tuple[str, ...]
                if isinstance(value, str):
                    value = [value]
                out[name] = tuple(str(v) for v in value)
        except (TypeError, ValueError):
            expected = "one of high/medium/low" if name.endswith("severity") else getattr(hint, "__name__", str(hint))
            raise ValueError(f"{source}: threshold {section}.{name} = {value!r} is not {expected}") from None
    return cls(**out)


def _merge(base: dict, extra: dict, source: str, path: str = "") -> dict:
    """Deep-merge an override mapping into the defaults; a key the defaults lack is an error."""
    out = dict(base)
    for key, value in (extra or {}).items():
        where = f"{path}{key}"
        if key not in base:
            raise ValueError(f"{source}: unknown threshold section or key {where!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"{source}: {where} must be a mapping")
            out[key] = _merge(base[key], value, source, where + ".")
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Thresholds:
    """Every rule's knobs and severities; `load` reads rules.yml and an optional override."""

    data: DataKnobs
    over_contract_capacity: OverContractCapacity
    ct_over_limit: CtOverLimit
    voltage_loss: VoltageLoss
    phase_failure: PhaseFailure
    reverse_energy: ReverseEnergy
    current_imbalance: CurrentImbalance
    zero_consumption: ZeroConsumption
    sudden_drop: SuddenDrop
    cover_open: CoverOpen
    billing_mismatch: BillingMismatch
    low_power_factor: LowPowerFactor

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict | None = None) -> Thresholds:
        """The defaults of rules.yml, with the keys of an override YAML file and/or mapping on top."""
        merged = yaml.safe_load(DEFAULTS_PATH.read_text(encoding="utf-8"))
        if path is not None:
            path = Path(path)
            try:
                extra = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not valid YAML ({exc})") from None
            if not isinstance(extra, dict):
                raise ValueError(f"{path}: must be a mapping of rule → knobs")
            merged = _merge(merged, extra, str(path))
        if overrides:
            merged = _merge(merged, overrides, "overrides")
        return cls._build(merged, str(path) if path is not None else DEFAULTS_PATH.name)

    def with_overrides(self, overrides: dict) -> Thresholds:
        """A copy with some knobs changed ({"sudden_drop": {"drop": 0.3}})."""
        return self._build(_merge(asdict(self), overrides, "overrides"), "overrides")

    @classmethod
    def _build(cls, merged: dict, source: str) -> Thresholds:
        hints = get_type_hints(cls)
        return cls(**{f.name: _coerce(hints[f.name], f.name, merged.get(f.name) or {}, source) for f in fields(cls)})


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Finding:
    """One episode of one rule on one customer, with chart-ready evidence."""

    customer_id: str
    rule: str
    severity: str  # "high" | "medium" | "low"
    start: datetime  # tz-aware UTC
    end: datetime
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON line of the scan command."""
        return {"customer_id": self.customer_id, "rule": self.rule, "severity": self.severity,
                "start": self.start.isoformat(), "end": self.end.isoformat(), "evidence": self.evidence}


@dataclass(frozen=True)
class DailyEnergy:
    """kWh per customer and local (Beijing) day; NaN where the day has too few hours of data."""

    customer_ids: np.ndarray
    first_day: date
    kwh: np.ndarray  # (customers, days) float32

    @property
    def days(self) -> list[date]:
        """The local days of the columns."""
        return [self.first_day + timedelta(days=i) for i in range(self.kwh.shape[1])]


@dataclass
class ScanResult:
    """Findings, the rules that could not run and why, and the daily energy the rules used."""

    findings: list[Finding]
    disabled: dict[str, str]
    daily: DailyEnergy | None = None


# ---------------------------------------------------------------------------------------------
# Small helpers


def _num(value, digits: int = 3):
    """A JSON number (None for NaN), rounded for display."""
    value = float(value)
    return None if not np.isfinite(value) else round(value, digits)


def _iso_hours(hours: np.ndarray) -> list[str]:
    """UTC ISO 8601 strings of hour indexes (hours since the epoch)."""
    stamps = np.datetime_as_string((np.asarray(hours, dtype=np.int64) * 3600).astype("datetime64[s]"), unit="s")
    return [f"{s}+00:00" for s in stamps]


def _hour_time(hour) -> datetime:
    return datetime.fromtimestamp(int(hour) * 3600, UTC)


def _day_time(day) -> datetime:
    """The UTC instant of local midnight starting a local day index (days since 1970-01-01 local)."""
    return datetime.fromtimestamp(int(day) * 86400 - UTC_OFFSET_HOURS * 3600, UTC)


def _day_date(day) -> date:
    return date(1970, 1, 1) + timedelta(days=int(day))


def _local_days(hour: np.ndarray) -> np.ndarray:
    """Local day (int32) of many hour indexes: float32 division, exact with the half-hour offset
    (integer division is several times slower)."""
    day = np.empty(len(hour), dtype=np.int32)
    shift = np.float32(UTC_OFFSET_HOURS + 0.5)
    for lo in range(0, len(hour), BLOCK):
        part = hour[lo:lo + BLOCK].astype(np.float32)
        part += shift
        part /= np.float32(24)
        np.floor(part, out=part)
        day[lo:lo + BLOCK] = part
    return day


def _local_day_of_hour(hour: np.ndarray) -> np.ndarray:
    return (hour.astype(np.int64) + UTC_OFFSET_HOURS) // 24


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else float("nan")


def nan_quantile(matrix: np.ndarray, q: float, axis: int) -> np.ndarray:
    """Quantile (lower nearest rank) along an axis ignoring NaN: one sort, no per-row Python calls
    (np.nanmedian falls back to a loop per row when NaN are present)."""
    ordered = np.sort(matrix, axis=axis)  # NaN sort last
    count = (~np.isnan(matrix)).sum(axis=axis)
    index = np.expand_dims(np.maximum(((count - 1) * q).astype(np.int64), 0), axis)
    picked = np.take_along_axis(ordered, index, axis=axis).squeeze(axis)
    return np.where(count > 0, picked, np.nan)


def ratio_values(column: pd.Series) -> np.ndarray:
    """CT/PT ratios as numbers: 40, "40" or "200/5" → 40.0; blank → NaN."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    text = column.astype("string").str.strip()
    parts = text.str.split("/", n=1, expand=True)
    primary = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if parts.shape[1] > 1:
        secondary = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        primary = np.where(np.isnan(secondary), primary, primary / secondary)
    return primary


def _seconds(column: pd.Series, what: str) -> np.ndarray:
    """Epoch seconds (int64) of an aware timestamp column; NaT → INT64 min."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        column = pd.to_datetime(column)
        if not isinstance(column.dtype, pd.DatetimeTZDtype):
            raise ValueError(f"{what} must be tz-aware (UTC); naive timestamps are ambiguous")
    unit = column.dt.unit
    raw = column.array.asi8
    nat = raw == np.iinfo(np.int64).min
    out = raw // {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    if nat.any():
        out[nat] = np.iinfo(np.int64).min
    return out


def _hours(column: pd.Series, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Hour index (hours since the epoch, int32) of an aware timestamp column, and the rows that are
    NaT (None if none). A float division: exact for these magnitudes, and much faster than integer //."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        column = pd.to_datetime(column)
        if not isinstance(column.dtype, pd.DatetimeTZDtype):
            raise ValueError(f"{what} must be tz-aware (UTC); naive timestamps are ambiguous")
    raw = column.array.asi8
    per_hour = {"s": 3600.0, "ms": 3.6e6, "us": 3.6e9, "ns": 3.6e12}[column.dt.unit]
    hours = np.empty(len(raw), dtype=np.int32)
    nat = None
    for lo in range(0, len(raw), BLOCK):  # blocks that stay in cache: one read, one write per row
        part = raw[lo:lo + BLOCK] / per_hour
        np.floor(part, out=part)
        if part.min(initial=0) < -1e8:  # NaT is the smallest int64
            if nat is None:
                nat = np.zeros(len(raw), dtype=bool)
            nat[lo:lo + BLOCK] = part < -1e8
            part[part < -1e8] = 0
        hours[lo:lo + BLOCK] = part
    return hours, nat


def _codes(index: pd.Index, column: pd.Series) -> np.ndarray:
    """Customer positions of an id column (-1 for unknown ids); categoricals cost one gather."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = index.get_indexer(column.cat.categories.astype(str))
        codes = column.cat.codes.to_numpy()
        if np.array_equal(cats, np.arange(len(cats))) and (len(codes) == 0 or codes.min() >= 0):
            return codes.astype(np.int32)  # the categories are the customers, in order
        return np.where(codes >= 0, cats[codes], -1).astype(np.int32)
    return index.get_indexer(column.astype(str)).astype(np.int32)


def event_kinds(names: pd.Series) -> np.ndarray:
    """Canonical event kind per row ('' for unknown), mapping each distinct name once."""
    mapping = {}
    for name in pd.unique(names.astype("string").fillna("")):
        text = str(name).strip()
        kind = EVENT_ENGLISH.get(text.lower().replace("-", "_"), "")
        if not kind:
            kind = next((k for word, k in EVENT_CHINESE if word in text), "")
        mapping[name] = kind
    return names.astype("string").fillna("").map(mapping).to_numpy(dtype=object)


# ---------------------------------------------------------------------------------------------
# Episodes: runs of violating steps (hours or days) of one customer, merged when close


@dataclass
class _Episodes:
    """Episodes over flagged positions: `pos` sorted, `first[i]` the first position index of episode i."""

    pos: np.ndarray
    step: np.ndarray
    first: np.ndarray
    cust: np.ndarray
    start: np.ndarray  # first step
    end: np.ndarray  # last step + 1
    steps: np.ndarray  # flagged steps in the episode
    longest: np.ndarray  # longest run of consecutive steps

    def __len__(self) -> int:
        return len(self.first)

    def reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """Per-episode reduction of values aligned with `pos`."""
        if not len(self.first):
            return np.zeros(0, dtype=values.dtype)
        return ufunc.reduceat(values, self.first)

    @property
    def episode_of(self) -> np.ndarray:
        """Episode index of every position."""
        return np.repeat(np.arange(len(self.first)), np.diff(np.append(self.first, len(self.pos))))

    def longest_where(self, mask: np.ndarray) -> np.ndarray:
        """Per episode, the longest run of consecutive steps where `mask` (aligned with `pos`) holds."""
        out = np.zeros(len(self.first), dtype=np.int64)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return out
        step = self.step[idx]
        new = np.ones(len(idx), dtype=bool)
        new[1:] = (idx[1:] != idx[:-1] + 1) | (step[1:] != step[:-1] + 1)
        boundary = np.zeros(len(self.pos), dtype=bool)
        boundary[self.first] = True
        new |= boundary[idx]
        starts = np.flatnonzero(new)
        lengths = np.diff(np.append(starts, len(idx)))
        np.maximum.at(out, self.episode_of[idx[starts]], lengths)
        return out


def _runs(pos: np.ndarray, cust: np.ndarray, step: np.ndarray, min_run: int, merge_gap: int) -> _Episodes:
    """Runs of consecutive steps (same customer) at least `min_run` long, merged into episodes when
    no more than `merge_gap` steps apart. `pos`, `cust`, `step` are aligned and sorted by (cust, step)."""
    pos, cust, step = np.asarray(pos), np.asarray(cust), np.asarray(step).astype(np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if not len(pos):
        return _Episodes(pos, step, empty, empty, empty, empty, empty, empty)
    new = np.ones(len(pos), dtype=bool)
    new[1:] = (cust[1:] != cust[:-1]) | (step[1:] != step[:-1] + 1)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, len(pos)))
    if min_run > 1:
        keep = np.repeat(lengths >= min_run, lengths)
        pos, cust, step = pos[keep], cust[keep], step[keep]
        lengths = lengths[lengths >= min_run]
        if not len(pos):
            return _Episodes(pos, step, empty, empty, empty, empty, empty, empty)
        new = np.zeros(len(pos), dtype=bool)
        new[np.cumsum(lengths) - lengths] = True
    ep_new = new.copy()
    ep_new[1:] &= (cust[1:] != cust[:-1]) | (step[1:] - step[:-1] - 1 > merge_gap)
    first = np.flatnonzero(ep_new)
    last = np.append(first[1:], len(pos)) - 1
    run_len = np.repeat(lengths, lengths)
    return _Episodes(pos, step, first, cust[first].astype(np.int64), step[first], step[last] + 1,
                     np.diff(np.append(first, len(pos))), np.maximum.reduceat(run_len, first))


# ---------------------------------------------------------------------------------------------
# The hourly panel and the rows of chosen customers


@dataclass
class _Rows:
    """The rows of some customers (ascending codes): `rows` None means every row of the panel."""

    codes: np.ndarray
    starts: np.ndarray  # where each customer begins within the selection
    lens: np.ndarray
    rows: np.ndarray | None

    def take(self, values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        return values if self.rows is None else values[self.rows]

    def panel_rows(self, pos: np.ndarray) -> np.ndarray:
        return pos if self.rows is None else self.rows[pos]

    def reduce(self, ufunc: np.ufunc, values: np.ndarray, dtype=None) -> np.ndarray:
        """One value per customer of the selection."""
        if not len(self.codes):
            return np.zeros(0, dtype=dtype or values.dtype)
        return ufunc.reduceat(values, self.starts, dtype=dtype)

    def count(self, mask: np.ndarray) -> np.ndarray:
        return self.reduce(np.add, mask, dtype=np.int64)

    def spread(self, per_code: np.ndarray) -> np.ndarray:
        """A per-customer value repeated over its rows."""
        return np.repeat(per_code, self.lens)

    @property
    def size(self) -> int:
        return int(self.lens.sum())


class _Panel:
    """Readings binned to hours, sorted by customer then hour, as flat numpy arrays."""

    def __init__(self, n: int, cust: np.ndarray, hour: np.ndarray, cols: dict[str, np.ndarray]):
        self.n = n
        self.cust = cust
        self.hour = hour
        self.cols = cols
        self.offsets = np.searchsorted(cust, np.arange(n + 1)).astype(np.int64)
        self.lens = np.diff(self.offsets)

    def col(self, name: str) -> np.ndarray | None:
        return self.cols.get(name)

    def all(self) -> _Rows:
        codes = np.flatnonzero(self.lens)
        return _Rows(codes, self.offsets[codes], self.lens[codes], None)

    def rows_of(self, codes: np.ndarray) -> _Rows:
        """The rows of the given customers (codes ascending), empty blocks dropped."""
        codes = np.asarray(codes, dtype=np.int64)
        codes = codes[self.lens[codes] > 0]
        lens = self.lens[codes]
        if len(codes) == len(self.lens[self.lens > 0]):
            return self.all()
        begin = self.offsets[codes]
        local = np.cumsum(lens) - lens
        rows = np.repeat(begin - local, lens) + np.arange(int(lens.sum()), dtype=np.int64)
        return _Rows(codes, local, lens, rows)


def _block_order(codes: np.ndarray, n: int) -> np.ndarray | None:
    """A customer order that makes `codes` nondecreasing when readings come grouped by customer in an
    order of their own; None when already in order or not grouped (then they are sorted)."""
    if len(codes) < 2:
        return None
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    blocks = codes[np.concatenate(([0], change))]
    if (np.diff(blocks) > 0).all() or len(np.unique(blocks)) != len(blocks):
        return None
    absent = np.setdiff1d(np.arange(n), blocks)
    return np.concatenate((blocks, absent)).astype(np.int64)


def _all_nan(values: np.ndarray) -> bool:
    """All NaN? A sparse sample answers most columns without a full pass."""
    if (~np.isnan(values[:: max(1, len(values) // 1024)])).any():
        return False
    return bool(np.isnan(values).all())


def _bin_hours(codes: np.ndarray, hour: np.ndarray, cols: dict[str, np.ndarray]):
    """Sort by (customer, hour) if needed, then one row per customer and hour."""
    dc = np.diff(codes)
    dh = np.diff(hour)
    same = dc == 0
    if (dc < 0).any() or (same & (dh < 0)).any():  # order within an hour does not matter: it is binned
        order = np.lexsort((hour, codes))
        codes, hour = codes[order], hour[order]
        cols = {k: v[order] for k, v in cols.items()}
        same = np.diff(codes) == 0
        dh = np.diff(hour)
    dup = same & (dh == 0)
    if dup.any():
        starts = np.flatnonzero(np.concatenate(([True], ~dup)))
        binned = {}
        for name, values in cols.items():
            ok = ~np.isnan(values)
            total = np.add.reduceat(np.where(ok, values, 0), starts, dtype=np.float64)
            count = np.add.reduceat(ok, starts, dtype=np.int32)
            if name in SUM_COLUMNS:
                binned[name] = np.where(count > 0, total, np.nan).astype(np.float32)
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    binned[name] = (total / count).astype(np.float32)
        codes, hour, cols = codes[starts], hour[starts], binned
    return codes, hour, cols


# ---------------------------------------------------------------------------------------------
# One scan: the inputs in array form and what several rules share, computed once when needed


class _Scan:
    """Inputs as arrays plus the shared, lazily computed figures (nominal voltage, phases, daily kWh)."""

    def __init__(self, customers: pd.DataFrame, readings: pd.DataFrame, events: pd.DataFrame | None,
                 bills: pd.DataFrame | None, th: Thresholds):
        self.th = th
        for name in ("customer_id", "contract_kva"):
            if name not in customers.columns:
                raise ValueError(f"customers lack the column {name!r}")
        for name in ("customer_id", "ts"):
            if name not in readings.columns:
                raise ValueError(f"readings lack the column {name!r}")
        self._customers(customers)
        self._readings(readings)
        self.events = self._events(events)
        self.bills = bills

    # -- inputs

    def _customers(self, frame: pd.DataFrame) -> None:
        frame = frame.copy()
        frame["customer_id"] = frame["customer_id"].astype(str)
        self.history: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        has_from = "contract_from" in frame.columns and frame["contract_from"].notna().any()
        if has_from:
            since = pd.to_datetime(frame["contract_from"], utc=True)
            frame["_from"] = np.where(since.isna(), np.iinfo(np.int64).min, _seconds(since.fillna(pd.Timestamp(0, tz=UTC)), "contract_from"))
            frame = frame.sort_values(["customer_id", "_from"], kind="stable")
        current = frame.drop_duplicates("customer_id", keep="last").reset_index(drop=True)
        self.ids = current["customer_id"].to_numpy(dtype=object)
        self.n = len(self.ids)
        self.index = pd.Index(self.ids)

        def number(name: str, default=np.nan) -> np.ndarray:
            if name not in current.columns:
                return np.full(self.n, default, dtype=np.float64)
            return pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

        self.contract_kva = number("contract_kva")
        self.contract_pf = number("power_factor")
        self.ct_rated = number("ct_rated_a")
        self.has_ct_ratio_column = "ct_ratio" in current.columns and current["ct_ratio"].notna().any()
        self.ct_ratio = ratio_values(current["ct_ratio"]) if "ct_ratio" in current.columns else np.full(self.n, np.nan)
        self.pt_ratio = ratio_values(current["pt_ratio"]) if "pt_ratio" in current.columns else np.full(self.n, np.nan)
        if self.has_ct_ratio_column:
            self.is_ct = np.isfinite(self.ct_ratio) & (self.ct_ratio > 0)
        else:  # only ratings given: those customers' currents are on a CT secondary
            self.is_ct = np.isfinite(self.ct_rated)
        self.has_ct_info = bool(self.is_ct.any())
        self.classes = (current["class"].astype("string").fillna("").to_numpy(dtype=object)
                        if "class" in current.columns else np.full(self.n, "", dtype=object))
        if has_from:
            counts = frame.groupby("customer_id", sort=False).size()
            for cid in counts.index[counts.to_numpy() > 1]:
                rows = frame[frame["customer_id"] == cid]
                pf = pd.to_numeric(rows["power_factor"], errors="coerce").to_numpy(dtype=np.float64) \
                    if "power_factor" in rows.columns else np.full(len(rows), np.nan)
                self.history[int(self.index.get_loc(cid))] = (
                    rows["_from"].to_numpy(dtype=np.int64) // 3600,
                    pd.to_numeric(rows["contract_kva"], errors="coerce").to_numpy(dtype=np.float64), pf)

    def _readings(self, frame: pd.DataFrame) -> None:
        codes = _codes(self.index, frame["customer_id"])
        hour, nat = _hours(frame["ts"], "readings.ts")
        cols = {}
        for name in VALUE_COLUMNS:
            if name in frame.columns:
                values = frame[name]
                if not pd.api.types.is_numeric_dtype(values.dtype):
                    values = pd.to_numeric(values, errors="coerce")
                cols[name] = values.to_numpy(dtype=np.float32, na_value=np.nan)
        keep = codes >= 0
        if nat is not None:
            keep &= ~nat
        if not keep.all():
            codes, hour = codes[keep], hour[keep]
            cols = {k: v[keep] for k, v in cols.items()}
        order = _block_order(codes, self.n)
        if order is not None:  # readings grouped by customer in another order: follow theirs, no sort
            self._permute(order)
            inverse = np.empty(self.n, dtype=np.int32)
            inverse[order] = np.arange(self.n, dtype=np.int32)
            codes = inverse[codes]
        codes, hour, cols = _bin_hours(codes, hour, cols)
        cols = {k: v for k, v in cols.items() if len(v) and not _all_nan(v)}
        self.panel = _Panel(self.n, codes, hour, cols)

    def _permute(self, order: np.ndarray) -> None:
        """Reorder the customers (codes follow)."""
        for name in ("ids", "contract_kva", "contract_pf", "ct_rated", "ct_ratio", "pt_ratio", "is_ct", "classes"):
            setattr(self, name, getattr(self, name)[order])
        self.index = pd.Index(self.ids)
        position = np.empty(self.n, dtype=np.int64)
        position[order] = np.arange(self.n)
        self.history = {int(position[code]): value for code, value in self.history.items()}

    def _events(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        for name in ("customer_id", "ts", "event"):
            if name not in frame.columns:
                raise ValueError(f"events lack the column {name!r}")
        out = pd.DataFrame({"code": _codes(self.index, frame["customer_id"]),
                            "sec": _seconds(frame["ts"], "events.ts"), "kind": event_kinds(frame["event"])})
        out = out[(out["code"] >= 0) & (out["kind"] != "") & (out["sec"] != np.iinfo(np.int64).min)]
        return out.sort_values(["code", "sec"], kind="stable").reset_index(drop=True)

    # -- shared figures

    @cached_property
    def power(self) -> np.ndarray | None:
        """Mean kW of each hour: kw, else the hour's kWh."""
        kw, kwh = self.panel.col("kw"), self.panel.col("kwh")
        if kw is not None and kwh is not None and np.isnan(kw).any():
            return np.where(np.isnan(kw), kwh, kw)
        return kw if kw is not None else kwh

    @cached_property
    def energy(self) -> np.ndarray | None:
        """kWh of each hour: kwh, else the hour's mean kW (negative power is not consumption)."""
        kw, kwh = self.panel.col("kw"), self.panel.col("kwh")
        if kw is not None and kwh is not None and np.isnan(kwh).any():
            return np.where(np.isnan(kwh), np.maximum(kw, 0), kwh)
        return kwh if kwh is not None else (None if kw is None else np.maximum(kw, 0))

    @cached_property
    def reverse(self) -> np.ndarray | None:
        """Reverse kWh of each hour: reverse_kwh, else the negative part of kW."""
        rev = self.panel.col("reverse_kwh")
        if rev is not None:
            return rev
        kw = self.panel.col("kw")
        return None if kw is None else np.maximum(-kw, 0)

    @cached_property
    def _samples(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Up to NOMINAL_SAMPLES readings per customer spread over its block, per voltage/current column."""
        allrows = self.panel.all()
        k = NOMINAL_SAMPLES
        idx = allrows.starts[:, None] + (np.arange(k)[None, :] * allrows.lens[:, None]) // k
        out = {name: self.panel.cols[name][idx] for name in (*VOLTAGES, *CURRENTS) if name in self.panel.cols}
        return allrows.codes, out

    @cached_property
    def three_phase(self) -> np.ndarray:
        """Customers with phase B or C data in at least 10 % of the sampled readings."""
        codes, samples = self._samples
        out = np.zeros(self.n, dtype=bool)
        seen = np.zeros((len(codes), NOMINAL_SAMPLES), dtype=bool)
        for name in ("ib", "ic", "ub", "uc"):
            if name in samples:
                seen |= ~np.isnan(samples[name])
        out[codes] = seen.mean(axis=1) >= 0.1
        return out

    @cached_property
    def nominal(self) -> np.ndarray:
        """Nominal phase voltage: the median of sampled voltages, snapped to a standard value within 15 %."""
        codes, samples = self._samples
        out = np.full(self.n, np.nan, dtype=np.float32)
        volts = [samples[name] for name in VOLTAGES if name in samples]
        if not volts:
            return out
        stacked = np.concatenate(volts, axis=1)
        stacked = np.where(stacked > 0, stacked, np.nan)  # a dead phase says nothing of the nominal
        median = nan_quantile(stacked, 0.5, axis=1)
        near = np.abs(median[:, None] - NOMINALS[None, :]) / NOMINALS[None, :]
        best = near.argmin(axis=1)
        snapped = np.where(near[np.arange(len(best)), best] <= 0.15, NOMINALS[best], median)
        out[codes] = snapped
        return out

    @cached_property
    def rated_a(self) -> np.ndarray:
        """Rated current per phase as the meter sees it: the CT secondary rating, or the contract's
        full-load current for direct metering."""
        nominal = np.where(np.isfinite(self.nominal), self.nominal, DEFAULT_NOMINAL)
        phases = np.where(self.three_phase, 3, 1)
        direct = self.contract_kva * 1000 / (phases * nominal)
        rated = np.where(np.isfinite(self.ct_rated), self.ct_rated, self.th.ct_over_limit.default_rated_a)
        return np.where(self.is_ct, rated, direct)

    def contract_power_factor(self, default: float) -> np.ndarray:
        return np.where(np.isfinite(self.contract_pf), self.contract_pf, default)

    @cached_property
    def daily(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """(first local day, kWh with gaps as NaN, raw kWh sums, hours of data), matrices (customers, days)."""
        energy = self.energy
        hour, cust = self.panel.hour, self.panel.cust
        day = _local_days(hour)
        day0 = int(day.min()) if len(day) else 0
        n_days = int(day.max()) - day0 + 1 if len(day) else 1
        raw = np.zeros((self.n, n_days), dtype=np.float32)
        hours = np.zeros((self.n, n_days), dtype=np.int16)
        if len(day):  # rows are sorted by customer and hour: each (customer, day) is a contiguous slice
            starts = np.flatnonzero((day[1:] != day[:-1]) | (cust[1:] != cust[:-1])) + 1
            starts = np.concatenate(([0], starts))
            ok = ~np.isnan(energy)
            if ok.all():
                sums = np.add.reduceat(energy, starts, dtype=np.float64)
                counts = np.diff(np.append(starts, len(day)))
            else:
                sums = np.add.reduceat(np.where(ok, energy, 0), starts, dtype=np.float64)
                counts = np.add.reduceat(ok, starts, dtype=np.int32)
            at = (cust[starts], day[starts] - day0)
            raw[at], hours[at] = sums, counts
        kwh = np.where(hours >= self.th.data.min_hours_per_day, raw, np.nan).astype(np.float32)
        return day0, kwh, raw, hours

    def daily_energy(self) -> DailyEnergy:
        day0, kwh, _, _ = self.daily
        return DailyEnergy(self.ids, _day_date(day0), kwh)

    @cached_property
    def lowest_voltage(self) -> np.ndarray:
        """Per customer with readings (panel.all() order), its lowest phase voltage."""
        allrows = self.panel.all()
        low = np.full(len(allrows.codes), np.inf, dtype=np.float32)
        for name in VOLTAGES:
            if name in self.panel.cols:
                low = np.fmin(low, allrows.reduce(np.fmin, self.panel.cols[name]))
        return low

    def is_generation(self, words: tuple[str, ...]) -> np.ndarray:
        lowered = [w.lower() for w in words]
        names = pd.Series(self.classes, dtype=object)
        verdict = {c: any(w in str(c).lower() for w in lowered) for c in names.unique()}
        return names.map(verdict).to_numpy(dtype=bool)

    def events_of(self, kind: str) -> pd.DataFrame:
        if self.events is None:
            return pd.DataFrame({"code": [], "sec": []})
        return self.events[self.events["kind"] == kind]

    # -- what a rule needs

    def missing(self, rule: str) -> str | None:
        """Why a rule cannot run on these inputs, or None."""
        cols = self.panel.cols
        has_events = lambda kind: self.events is not None and bool((self.events["kind"] == kind).any())
        no_power = "readings have no kw or kwh values"
        volts = [v for v in VOLTAGES if v in cols]
        amps = [a for a in CURRENTS if a in cols]
        if rule == "over_contract_capacity":
            return no_power if self.power is None else None
        if rule == "ct_over_limit":
            if not amps:
                return "readings have no phase currents (ia, ib, ic)"
            if not self.has_ct_info:
                return "customers have no ct_ratio or ct_rated_a (no CT-metered customer)"
            return None
        if rule == "voltage_loss":
            if (volts and (amps or self.power is not None)) or has_events("voltage_loss"):
                return None
            return "readings have no phase voltages (ua, ub, uc) with current or power, and no 失压 events"
        if rule == "phase_failure":
            if (len(volts) == 3 and len(amps) == 3) or has_events("phase_failure"):
                return None
            return "readings lack three-phase voltages and currents (ua ub uc, ia ib ic), and no 断相 events"
        if rule == "reverse_energy":
            if self.reverse is not None or has_events("reverse_energy"):
                return None
            return "readings have no reverse_kwh or kw values, and no 反向电量 events"
        if rule == "current_imbalance":
            return None if len(amps) == 3 else "readings lack the three phase currents (ia, ib, ic)"
        if rule in ("zero_consumption", "sudden_drop"):
            return "readings have no kwh or kw values" if self.energy is None else None
        if rule == "cover_open":
            return "no events given" if self.events is None else None
        if rule == "billing_mismatch":
            if self.bills is None:
                return "no bills given"
            return "readings have no kwh or kw values" if self.energy is None else None
        if rule == "low_power_factor":
            if self.power is None:
                return no_power
            if not volts or not amps:
                return "readings lack phase voltages and currents to compute apparent power"
            return None
        raise ValueError(f"unknown rule {rule!r}")

    # -- evidence

    def finding(self, code: int, rule: str, severity: str, start: datetime, end: datetime, evidence: dict) -> Finding:
        return Finding(str(self.ids[code]), rule, severity, start, end, {"label": RULE_LABELS[rule], **evidence})

    def hourly_series(self, code: int, start_h: int, end_h: int, specs: list[tuple]) -> list[dict]:
        """Chart series around an hourly episode: specs are (name, unit, panel column array, how)."""
        lo, hi = self.panel.offsets[code], self.panel.offsets[code + 1]
        hours = self.panel.hour[lo:hi]
        pad = max(self.th.data.evidence_pad_hours, (end_h - start_h) // 4)
        a = lo + int(np.searchsorted(hours, start_h - pad))
        b = lo + int(np.searchsorted(hours, end_h + pad))
        n = b - a
        if n <= 0:
            return []
        bins = min(n, self.th.data.evidence_points)
        edges = np.unique((np.arange(bins) * n) // bins)
        stamps = _iso_hours(self.panel.hour[a:b][edges])
        out = []
        for name, unit, values, how in specs:
            if values is None:
                continue
            out.append({"name": name, "unit": unit, "points": [
                [t, _num(v)] for t, v in zip(stamps, _aggregate(values[a:b], edges, how))]})
        return out

    def daily_series(self, code: int, start_d: int, end_d: int, specs: list[tuple] | None = None) -> list[dict]:
        """Chart series of daily kWh (and other (customers × days) matrices) around a daily episode."""
        day0, kwh, _, _ = self.daily
        pad = max(self.th.data.evidence_pad_days, (end_d - start_d) // 4)
        a = max(0, start_d - pad - day0)
        b = min(kwh.shape[1], end_d + pad - day0)
        if b <= a:
            return []
        n = b - a
        bins = min(n, self.th.data.evidence_points)
        edges = np.unique((np.arange(bins) * n) // bins)
        stamps = [_day_time(day0 + a + e).isoformat() for e in edges]
        specs = specs or [("日电量", "kWh", kwh[code], "mean")]
        return [{"name": name, "unit": unit, "points": [[t, _num(v)] for t, v in zip(stamps, _aggregate(row[a:b], edges, how))]}
                for name, unit, row, how in specs]


def _aggregate(values: np.ndarray, edges: np.ndarray, how: str) -> np.ndarray:
    """Reduce consecutive slices starting at `edges` (NaN-aware)."""
    values = np.asarray(values, dtype=np.float64)
    if len(edges) == len(values):
        return values
    ok = ~np.isnan(values)
    if how == "max":
        return np.fmax.reduceat(values, edges)
    if how == "min":
        return np.fmin.reduceat(values, edges)
    total = np.add.reduceat(np.where(ok, values, 0), edges)
    count = np.add.reduceat(ok, edges, dtype=np.int64)
    if how == "sum":
        return np.where(count > 0, total, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _limit(name: str, value, unit: str) -> dict:
    return {"name": name, "value": _num(value), "unit": unit}


# ---------------------------------------------------------------------------------------------
# Event helpers (失压 / 断相 / 反向电量 corroboration, 开盖)


def _event_groups(events: pd.DataFrame, merge_gap_hours: int) -> list[tuple[int, np.ndarray]]:
    """Events of one kind grouped per customer into episodes no more than merge_gap apart."""
    if not len(events):
        return []
    code = events["code"].to_numpy()
    sec = events["sec"].to_numpy()
    new = np.ones(len(code), dtype=bool)
    new[1:] = (code[1:] != code[:-1]) | (sec[1:] - sec[:-1] > merge_gap_hours * 3600)
    starts = np.flatnonzero(new)
    return [(int(code[s]), sec[s:e]) for s, e in zip(starts, np.append(starts[1:], len(code)))]


def _outside_power_events(s: _Scan, events: pd.DataFrame, hours: int) -> pd.DataFrame:
    """Drop events within `hours` of a 停电/上电 event of the same customer (the outage, not tampering)."""
    power = s.events[s.events["kind"].isin(("power_off", "power_on"))] if s.events is not None else None
    if power is None or not len(power) or not len(events):
        return events
    pkey = np.sort(power["code"].to_numpy(np.int64) << 40 | (power["sec"].to_numpy(np.int64) + (1 << 39)))
    ekey = events["code"].to_numpy(np.int64) << 40 | (events["sec"].to_numpy(np.int64) + (1 << 39))
    window = hours * 3600
    lo = np.searchsorted(pkey, ekey - window, side="left")
    hi = np.searchsorted(pkey, ekey + window, side="right")
    return events[hi <= lo]


def _with_events(s: _Scan, rule: str, kind: str, measured: list[tuple[int, int, int, dict]], th, exempt=None) -> list[Finding]:
    """Measured episodes (code, start hour, end hour, figures) corroborated by meter events of `kind`
    when near one; events far from any measured episode become findings of their own (low)."""
    events = s.events_of(kind)
    if hasattr(th, "power_event_hours") and s.events is not None:
        events = _outside_power_events(s, events, th.power_event_hours)
    if exempt is not None and len(events):
        events = events[~exempt[events["code"].to_numpy()]]
    window = th.event_window_hours
    groups = _event_groups(events, th.merge_gap_hours)
    by_code: dict[int, list[int]] = {}
    for i, (code, _) in enumerate(groups):
        by_code.setdefault(code, []).append(i)
    used = set()
    findings = []
    for code, start_h, end_h, (severity, evidence, series) in measured:
        near = []
        for i in by_code.get(code, ()):
            secs = groups[i][1]
            if secs[-1] >= (start_h - window) * 3600 and secs[0] < (end_h + window) * 3600:
                near.append(i)
        if near:
            used.update(near)
            severity = th.corroborated_severity
            stamps = np.concatenate([groups[i][1] for i in near])
            evidence = {**evidence, "events": len(stamps),
                        "event_times": _iso_seconds(stamps[:50])}
        else:
            evidence = {**evidence, "events": 0}
        findings.append(s.finding(code, rule, severity, _hour_time(start_h), _hour_time(end_h),
                                  {**evidence, "source": "readings+events" if near else "readings", **series}))
    for i, (code, secs) in enumerate(groups):
        if i in used:
            continue
        start, end = datetime.fromtimestamp(int(secs[0]), UTC), datetime.fromtimestamp(int(secs[-1]), UTC)
        evidence = {"source": "events", "events": len(secs), "event_times": _iso_seconds(secs[:50])}
        if s.energy is not None and s.panel.lens[code]:
            evidence["series"] = s.daily_series(code, _local_day_of_hour(np.array([secs[0] // 3600]))[0],
                                                _local_day_of_hour(np.array([secs[-1] // 3600]))[0] + 1)
        findings.append(s.finding(code, rule, th.event_only_severity, start, end, evidence))
    return findings


def _iso_seconds(secs: np.ndarray) -> list[str]:
    stamps = np.datetime_as_string(np.asarray(secs, dtype=np.int64).astype("datetime64[s]"), unit="s")
    return [f"{t}+00:00" for t in stamps]


# ---------------------------------------------------------------------------------------------
# The rules


def _over_contract_capacity(s: _Scan) -> list[Finding]:
    """Sustained kW above contract_kva × pf × margin (私自增容, a transformer swapped for a bigger one)."""
    th = s.th.over_contract_capacity
    power, panel = s.power, s.panel
    contract_kw = s.contract_kva * s.contract_power_factor(th.default_power_factor)
    limit = contract_kw * th.margin
    prune = limit.copy()
    for code, (_, kva, pf) in s.history.items():
        prune[code] = np.nanmin(kva * np.where(np.isfinite(pf), pf, th.default_power_factor)) * th.margin
    allrows = panel.all()
    peak = allrows.reduce(np.fmax, power)
    candidates = allrows.codes[peak > prune[allrows.codes]]
    rows = panel.rows_of(candidates)
    p = rows.take(power)
    limit_rows = rows.spread(limit[rows.codes])
    contract_rows = rows.spread(contract_kw[rows.codes])
    for j, code in enumerate(rows.codes):  # customers whose contract changed: the limit of each hour
        if code in s.history:
            since, kva, pf = s.history[code]
            lo, hi = rows.starts[j], rows.starts[j] + rows.lens[j]
            at = np.searchsorted(since, panel.hour[rows.panel_rows(np.arange(lo, hi))], side="right") - 1
            ckw = (kva * np.where(np.isfinite(pf), pf, th.default_power_factor))[np.maximum(at, 0)]
            ckw = np.where(at >= 0, ckw, np.inf)  # before the first contract: nothing to judge against
            contract_rows[lo:hi], limit_rows[lo:hi] = ckw, ckw * th.margin
    flag = np.flatnonzero(p > limit_rows)
    prow = rows.panel_rows(flag)
    ep = _runs(flag, panel.cust[prow], panel.hour[prow], th.min_hours, th.merge_gap_hours)
    if not len(ep):
        return []
    pv = p[ep.pos]
    peaks = ep.reduce(np.fmax, pv)
    high = ep.longest_where(pv >= th.high_ratio * contract_rows[ep.pos])
    energy_over = ep.reduce(np.add, (pv - limit_rows[ep.pos]).astype(np.float64))
    out = []
    for i in range(len(ep)):
        code = int(ep.cust[i])
        ckw = float(contract_rows[ep.pos[ep.first[i]]])
        lim = ckw * th.margin
        severity = "high" if high[i] >= th.min_hours else th.severity
        evidence = {
            "contract_kva": _num(ckw / s.contract_power_factor(th.default_power_factor)[code]),
            "power_factor": _num(s.contract_power_factor(th.default_power_factor)[code]),
            "contract_kw": _num(ckw), "limit_kw": _num(lim), "peak_kw": _num(peaks[i]),
            "peak_ratio": _num(peaks[i] / ckw if ckw else np.nan), "hours_over": int(ep.steps[i]),
            "longest_hours": int(ep.longest[i]), "hours_at_high_ratio": int(high[i]),
            "energy_over_limit_kwh": _num(energy_over[i], 1),
            "series": s.hourly_series(code, ep.start[i], ep.end[i], [("有功功率", "kW", power, "max")]),
            "limits": [_limit("合同容量限值", lim, "kW"), _limit("合同容量", ckw, "kW")],
        }
        out.append(s.finding(code, "over_contract_capacity", severity, _hour_time(ep.start[i]), _hour_time(ep.end[i]), evidence))
    return out


def _ct_over_limit(s: _Scan) -> list[Finding]:
    """CT secondary current above rated × overload, or flat-topped at saturation while kW keeps rising."""
    th = s.th.ct_over_limit
    panel = s.panel
    amps = [name for name in CURRENTS if name in panel.cols]
    rows = panel.rows_of(np.flatnonzero(s.is_ct))
    if not len(rows.codes):
        return []
    rated = np.where(np.isfinite(s.ct_rated), s.ct_rated, th.default_rated_a)
    rated_rows = rows.spread(rated[rows.codes])
    currents = [rows.take(panel.cols[name]) for name in amps]
    over = np.zeros(rows.size, dtype=bool)
    very = np.zeros(rows.size, dtype=bool)
    pinned = np.zeros(rows.size, dtype=bool)
    for current in currents:
        over |= current > th.overload * rated_rows
        very |= current > th.high_overload * rated_rows
        top = rows.reduce(np.fmax, current)
        level = np.where(top >= th.flat_min_level * rated[rows.codes], top * (1 - th.flat_tolerance), np.inf)
        pinned |= current >= rows.spread(level)
    power = rows.take(s.power)
    saturated = {}
    pinned_count = rows.count(pinned)
    for j in np.flatnonzero(pinned_count >= th.flat_min_hours):
        lo, hi = rows.starts[j], rows.starts[j] + rows.lens[j]
        verdict = _saturation(th, pinned[lo:hi], [c[lo:hi] for c in currents], None if power is None else power[lo:hi])
        if verdict is not None:
            saturated[int(rows.codes[j])] = verdict
    if saturated:
        pinned &= rows.spread(np.isin(rows.codes, list(saturated)))
    else:
        pinned[:] = False

    def episodes(mask, min_run):
        pos = np.flatnonzero(mask)
        prow = rows.panel_rows(pos)
        return _runs(pos, panel.cust[prow], panel.hour[prow], min_run, th.merge_gap_hours)

    over_ep = episodes(over, th.min_hours)
    very_long = over_ep.longest_where(very[over_ep.pos]) if len(over_ep) else np.zeros(0)
    sat_ep = episodes(pinned, 1)
    spans = [(int(over_ep.cust[i]), int(over_ep.start[i]), int(over_ep.end[i]), "over", i) for i in range(len(over_ep))]
    spans += [(int(sat_ep.cust[i]), int(sat_ep.start[i]), int(sat_ep.end[i]), "sat", i) for i in range(len(sat_ep))
              if sat_ep.steps[i] >= th.flat_min_hours]
    spans.sort()
    merged: list[list] = []
    for code, start, end, kind, i in spans:
        if merged and merged[-1][0] == code and start <= merged[-1][2] + th.merge_gap_hours:
            merged[-1][2] = max(merged[-1][2], end)
            merged[-1][3].append((kind, i))
        else:
            merged.append([code, start, end, [(kind, i)]])
    out = []
    for code, start, end, parts in merged:
        hours_over = sum(int(over_ep.steps[i]) for k, i in parts if k == "over")
        hours_pinned = sum(int(sat_ep.steps[i]) for k, i in parts if k == "sat")
        high_run = max([int(very_long[i]) for k, i in parts if k == "over"] or [0])
        mode = "+".join(sorted({"over_limit" if k == "over" else "saturation" for k, _ in parts}))
        severity = "high" if hours_pinned or high_run >= th.min_hours else th.severity
        lo, hi = panel.offsets[code], panel.offsets[code + 1]
        window = slice(lo + np.searchsorted(panel.hour[lo:hi], start), lo + np.searchsorted(panel.hour[lo:hi], end))
        peak = max(float(np.nanmax(panel.cols[a][window])) if np.isfinite(panel.cols[a][window]).any() else 0.0 for a in amps)
        rated_a = float(rated[code])
        evidence = {"mode": mode, "ct_ratio": _num(s.ct_ratio[code]), "ct_rated_a": _num(rated_a),
                    "limit_a": _num(rated_a * th.overload), "peak_secondary_a": _num(peak),
                    "peak_primary_a": _num(peak * s.ct_ratio[code]) if np.isfinite(s.ct_ratio[code]) else None,
                    "peak_ratio": _num(peak / rated_a), "hours_over": hours_over, "hours_pinned": hours_pinned,
                    "longest_hours_at_high_overload": high_run}
        if hours_pinned:
            evidence["saturation"] = saturated[code]
        specs = [(f"{p.upper()}相二次电流", "A", panel.cols[a], "max") for p, a in zip(PHASES, CURRENTS) if a in panel.cols]
        specs.append(("有功功率", "kW", s.power, "max"))
        evidence["series"] = s.hourly_series(code, start, end, specs)
        evidence["limits"] = [_limit("额定二次电流", rated_a, "A"), _limit("过载限值", rated_a * th.overload, "A")]
        out.append(s.finding(code, "ct_over_limit", severity, _hour_time(start), _hour_time(end), evidence))
    return out


def _saturation(th: CtOverLimit, pinned: np.ndarray, currents: list[np.ndarray], power: np.ndarray | None) -> dict | None:
    """Is a customer's flat top saturation? kW at the pinned hours well above what its current implies
    (the current-vs-power line flattens), or, without enough unpinned hours to fit that line, kW still
    spreading widely while the current stays pinned."""
    if power is None:
        return None
    total = np.nansum(np.stack(currents), axis=0)
    ok = np.isfinite(power) & (total > 0)
    at_top = pinned & ok
    if at_top.sum() < th.flat_min_hours:
        return None
    top_kw = power[at_top]
    top_amps = float(np.median(total[at_top]))
    fit = ok & ~pinned & (total >= 0.3 * top_amps) & (total <= 0.95 * top_amps)
    kw_low, kw_high = np.percentile(top_kw, [10, 90])
    result = {"pinned_level_a": _num(top_amps / len(currents)), "pinned_hours": int(at_top.sum()),
              "kw_at_pinned_p10": _num(kw_low), "kw_at_pinned_p90": _num(kw_high)}
    if fit.sum() >= 24:
        kw_per_amp = float(np.median(power[fit] / total[fit]))
        expected = kw_per_amp * top_amps
        observed = float(np.median(top_kw))
        result.update({"kw_expected_at_level": _num(expected), "kw_observed_at_level": _num(observed)})
        return result if observed >= (1 + th.flat_kw_rise) * expected else None
    return result if kw_low > 0 and kw_high >= (1 + th.flat_kw_rise) * kw_low else None


def _phase_arrays(s: _Scan, rows: _Rows) -> tuple[list, list]:
    volts = [rows.take(s.panel.cols.get(v)) for v in VOLTAGES]
    amps = [rows.take(s.panel.cols.get(a)) for a in CURRENTS]
    return volts, amps


def _voltage_loss(s: _Scan) -> list[Finding]:
    """失压: a phase under ratio × nominal while current flows on it (or, three-phase, on another phase),
    another phase healthy (all phases low together is the supply, not the meter)."""
    th = s.th.voltage_loss
    panel = s.panel
    measured = []
    volt_names = [v for v in VOLTAGES if v in panel.cols]
    if volt_names and ([a for a in CURRENTS if a in panel.cols] or s.power is not None):
        allrows = panel.all()
        low = s.lowest_voltage
        three = s.three_phase
        threshold = np.where(three, th.ratio, th.single_phase_ratio) * s.nominal
        candidates = allrows.codes[low < threshold[allrows.codes]]
        rows = panel.rows_of(candidates)
        if len(rows.codes):
            volts, amps = _phase_arrays(s, rows)
            un = rows.spread(s.nominal[rows.codes])
            thr = rows.spread(threshold[rows.codes])
            load = rows.spread(th.load_fraction * s.rated_a[rows.codes])
            three_rows = rows.spread(three[rows.codes])
            power = rows.take(s.power)
            loaded = [(a >= load) if a is not None else (power > 0 if power is not None else np.zeros(rows.size, bool))
                      for a in amps]
            any_loaded = loaded[0] | loaded[1] | loaded[2]
            fail_ratio = s.th.phase_failure.ratio
            phase_bits = np.zeros(rows.size, dtype=np.int8)
            for x in range(3):
                if volts[x] is None:
                    continue
                others = [volts[y] for y in range(3) if y != x and volts[y] is not None]
                healthy = np.zeros(rows.size, dtype=bool)
                for other in others:
                    healthy |= other >= th.supply_ratio * un
                dead_unloaded = (volts[x] < fail_ratio * un) & ~loaded[x]
                hit = (volts[x] < thr) & ~dead_unloaded & np.where(three_rows, any_loaded & healthy, loaded[x])
                phase_bits |= hit.astype(np.int8) << x
            pos = np.flatnonzero(phase_bits)
            prow = rows.panel_rows(pos)
            ep = _runs(pos, panel.cust[prow], panel.hour[prow], th.min_hours, th.merge_gap_hours)
            bits = ep.reduce(np.bitwise_or, phase_bits[ep.pos]) if len(ep) else []
            for i in range(len(ep)):
                code = int(ep.cust[i])
                phases = [PHASES[x].upper() for x in range(3) if bits[i] >> x & 1]
                lo, hi = panel.offsets[code], panel.offsets[code + 1]
                window = slice(lo + np.searchsorted(panel.hour[lo:hi], ep.start[i]), lo + np.searchsorted(panel.hour[lo:hi], ep.end[i]))
                min_v = min(float(np.nanmin(panel.cols[v][window])) for x, v in enumerate(VOLTAGES)
                            if v in panel.cols and bits[i] >> x & 1)
                figures = {"phases": phases, "three_phase": bool(three[code]), "nominal_v": _num(s.nominal[code], 1),
                           "threshold_v": _num(threshold[code], 1), "min_v": _num(min_v, 1),
                           "hours": int(ep.steps[i]), "longest_hours": int(ep.longest[i])}
                specs = [(f"{p.upper()}相电压", "V", panel.cols.get(v), "min") for p, v in zip(PHASES, VOLTAGES)]
                specs += [(f"{p.upper()}相电流", "A", panel.cols.get(a), "mean") for p, a in zip(PHASES, CURRENTS)]
                series = {"series": s.hourly_series(code, ep.start[i], ep.end[i], specs),
                          "limits": [_limit("失压阈值", threshold[code], "V"), _limit("额定电压", s.nominal[code], "V")]}
                measured.append((code, int(ep.start[i]), int(ep.end[i]), (th.severity, figures, series)))
    return _with_events(s, "voltage_loss", "voltage_loss", measured, th)


def _phase_failure(s: _Scan) -> list[Finding]:
    """断相 (three-phase): a phase with ~no voltage and no current while another phase has voltage and load."""
    th = s.th.phase_failure
    panel = s.panel
    measured = []
    if all(v in panel.cols for v in VOLTAGES) and all(a in panel.cols for a in CURRENTS):
        allrows = panel.all()
        low = s.lowest_voltage
        candidates = allrows.codes[(low < th.ratio * s.nominal[allrows.codes]) & s.three_phase[allrows.codes]]
        rows = panel.rows_of(candidates)
        if len(rows.codes):
            volts, amps = _phase_arrays(s, rows)
            un = rows.spread(s.nominal[rows.codes])
            load = rows.spread(th.load_fraction * s.rated_a[rows.codes])
            live = [(volts[y] >= th.other_ratio * un) & (amps[y] >= load) for y in range(3)]
            phase_bits = np.zeros(rows.size, dtype=np.int8)
            for x in range(3):
                others_live = np.zeros(rows.size, dtype=bool)
                for y in range(3):
                    if y != x:
                        others_live |= live[y]
                hit = (volts[x] < th.ratio * un) & ~(amps[x] >= load) & others_live
                phase_bits |= hit.astype(np.int8) << x
            pos = np.flatnonzero(phase_bits)
            prow = rows.panel_rows(pos)
            ep = _runs(pos, panel.cust[prow], panel.hour[prow], th.min_hours, th.merge_gap_hours)
            bits = ep.reduce(np.bitwise_or, phase_bits[ep.pos]) if len(ep) else []
            for i in range(len(ep)):
                code = int(ep.cust[i])
                figures = {"phases": [PHASES[x].upper() for x in range(3) if bits[i] >> x & 1],
                           "nominal_v": _num(s.nominal[code], 1), "threshold_v": _num(th.ratio * s.nominal[code], 1),
                           "hours": int(ep.steps[i]), "longest_hours": int(ep.longest[i])}
                specs = [(f"{p.upper()}相电压", "V", panel.cols[v], "min") for p, v in zip(PHASES, VOLTAGES)]
                specs += [(f"{p.upper()}相电流", "A", panel.cols[a], "mean") for p, a in zip(PHASES, CURRENTS)]
                series = {"series": s.hourly_series(code, ep.start[i], ep.end[i], specs),
                          "limits": [_limit("断相阈值", th.ratio * s.nominal[code], "V"), _limit("额定电压", s.nominal[code], "V")]}
                measured.append((code, int(ep.start[i]), int(ep.end[i]), (th.severity, figures, series)))
    return _with_events(s, "phase_failure", "phase_failure", measured, th)


def _reverse_energy(s: _Scan) -> list[Finding]:
    """反向电量 on a consumer's meter (CT polarity reversed, wiring swapped); generation classes exempt."""
    th = s.th.reverse_energy
    panel = s.panel
    exempt = s.is_generation(th.generation_classes)
    measured = []
    if s.reverse is not None:
        allrows = panel.all()
        top = allrows.reduce(np.fmax, s.reverse)
        candidates = allrows.codes[(top > th.min_kwh_per_hour) & ~exempt[allrows.codes]]
        rows = panel.rows_of(candidates)
        rev = rows.take(s.reverse)
        pos = np.flatnonzero(rev > th.min_kwh_per_hour)
        prow = rows.panel_rows(pos)
        ep = _runs(pos, panel.cust[prow], panel.hour[prow], th.min_hours, th.merge_gap_hours)
        totals = ep.reduce(np.add, rev[ep.pos].astype(np.float64)) if len(ep) else []
        for i in range(len(ep)):
            if totals[i] < th.min_total_kwh:
                continue
            code = int(ep.cust[i])
            lo, hi = panel.offsets[code], panel.offsets[code + 1]
            window = slice(lo + np.searchsorted(panel.hour[lo:hi], ep.start[i]), lo + np.searchsorted(panel.hour[lo:hi], ep.end[i]))
            forward = float(np.nansum(s.energy[window])) if s.energy is not None else float("nan")
            share = totals[i] / forward if forward > 0 else float("inf")
            severity = "high" if share >= th.high_share else th.severity
            figures = {"reverse_kwh": _num(totals[i], 2), "forward_kwh": _num(forward, 2),
                       "reverse_share": _num(share) if np.isfinite(share) else None,
                       "hours": int(ep.steps[i]), "class": str(s.classes[code])}
            series = {"series": s.hourly_series(code, ep.start[i], ep.end[i], [("反向电量", "kWh", s.reverse, "sum"),
                                                                              ("正向电量", "kWh", s.energy, "sum")]),
                      "limits": [_limit("反向电量阈值", th.min_kwh_per_hour, "kWh")]}
            measured.append((code, int(ep.start[i]), int(ep.end[i]), (severity, figures, series)))
    return _with_events(s, "reverse_energy", "reverse_energy", measured, th, exempt=exempt)


def _current_imbalance(s: _Scan) -> list[Finding]:
    """(max − min) / max of three phase currents above the ratio while the largest phase is loaded."""
    th = s.th.current_imbalance
    panel = s.panel
    rows = panel.rows_of(np.flatnonzero(s.three_phase))
    if not len(rows.codes):
        return []
    ia, ib, ic = (rows.take(panel.cols[a]) for a in CURRENTS)
    top = np.maximum(np.maximum(ia, ib), ic)  # NaN if any phase is missing: not judged
    bottom = np.minimum(np.minimum(ia, ib), ic)
    with np.errstate(invalid="ignore", divide="ignore"):
        imbalance = (top - bottom) / top
    load = rows.spread(th.load_fraction * s.rated_a[rows.codes])
    judged = (top >= load) & (imbalance >= th.ratio)
    if all(v in panel.cols for v in VOLTAGES):  # a dead phase is 断相 (phase_failure), not imbalance
        dead_level = rows.spread(s.th.phase_failure.ratio * s.nominal[rows.codes])
        for v in VOLTAGES:
            judged &= ~(rows.take(panel.cols[v]) < dead_level)
    pos = np.flatnonzero(judged)
    prow = rows.panel_rows(pos)
    ep = _runs(pos, panel.cust[prow], panel.hour[prow], th.min_hours, th.merge_gap_hours)
    if not len(ep):
        return []
    mean_imb = ep.reduce(np.add, imbalance[ep.pos].astype(np.float64)) / ep.steps
    max_imb = ep.reduce(np.fmax, imbalance[ep.pos])
    low_phase = np.argmin(np.stack([ia[ep.pos], ib[ep.pos], ic[ep.pos]]), axis=0)
    out = []
    for i in range(len(ep)):
        code = int(ep.cust[i])
        counts = np.bincount(low_phase[ep.first[i]:ep.first[i] + ep.steps[i]], minlength=3)
        severity = "high" if mean_imb[i] >= th.high_ratio and ep.steps[i] >= th.high_min_hours else th.severity
        evidence = {"mean_imbalance": _num(mean_imb[i]), "max_imbalance": _num(max_imb[i]),
                    "lowest_phase": PHASES[int(counts.argmax())].upper(), "hours": int(ep.steps[i]),
                    "longest_hours": int(ep.longest[i]), "load_threshold_a": _num(th.load_fraction * s.rated_a[code])}
        specs = [(f"{p.upper()}相电流", "A", panel.cols[a], "mean") for p, a in zip(PHASES, CURRENTS)]
        evidence["series"] = s.hourly_series(code, ep.start[i], ep.end[i], specs)
        evidence["limits"] = [_limit("不平衡率阈值", th.ratio, "")]
        out.append(s.finding(code, "current_imbalance", severity, _hour_time(ep.start[i]), _hour_time(ep.end[i]), evidence))
    return out


def _day_profile(s: _Scan, code: int, names: Iterable[str], how: str = "mean") -> dict[str, np.ndarray]:
    """Per local day of one customer, the mean of some panel columns (NaN without data)."""
    day0, kwh, _, _ = s.daily
    lo, hi = s.panel.offsets[code], s.panel.offsets[code + 1]
    day = _local_day_of_hour(s.panel.hour[lo:hi]) - day0
    out = {}
    for name in names:
        values = s.panel.cols.get(name) if name != "_power" else s.power
        if values is None:
            continue
        v = values[lo:hi].astype(np.float64)
        ok = ~np.isnan(v)
        total = np.bincount(day, weights=np.where(ok, v, 0), minlength=kwh.shape[1])
        count = np.bincount(day, weights=ok, minlength=kwh.shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = total / count
    return out


def _hour_of_day_profile(s: _Scan, code: int, days: np.ndarray) -> tuple[np.ndarray, float]:
    """One customer's mean kWh per local hour of the day (24 values, NaN without data) over some
    local days (column indexes of `s.daily`), and the share of those hours that registered energy."""
    day0 = s.daily[0]
    lo, hi = s.panel.offsets[code], s.panel.offsets[code + 1]
    local = s.panel.hour[lo:hi].astype(np.int64) + UTC_OFFSET_HOURS
    energy = s.energy[lo:hi].astype(np.float64)
    take = np.isin(local // 24 - day0, days) & ~np.isnan(energy)
    hod = local[take] % 24
    total = np.bincount(hod, weights=energy[take], minlength=24)
    count = np.bincount(hod, minlength=24)
    registering = float((energy[take] > 0).mean()) if take.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count, registering


def _day_rhythm(profile: np.ndarray) -> float:
    """How much of a day's load comes and goes: (max − min) / mean of its hour-of-day profile
    (NaN when nothing registers)."""
    mean = _nanmean(profile)
    if not mean > 0:
        return float("nan")
    return float((np.nanmax(profile) - np.nanmin(profile)) / mean)


def _shape_kept(s: _Scan, code: int, before: np.ndarray, during: np.ndarray, min_rhythm: float) -> float:
    """The day rhythm left during a low spell as a share of the rhythm before it. A bypass, a shunt
    or a slowed register scales every hour alike, so the shape stays (≈ 1); an empty home or a
    closed plant keeps only its steady base load (fridge, 值守), so the rhythm goes (≪ 1). NaN when
    it cannot tell: no steady load registers during the spell (a bypass or a stopped register
    leaves nothing, or a creeping one ticks now and then) or the load had no rhythm of `min_rhythm`
    to lose (a round-the-clock plant)."""
    profile_before, _ = _hour_of_day_profile(s, code, before)
    rhythm_before = _day_rhythm(profile_before)
    if not rhythm_before >= min_rhythm:
        return float("nan")
    profile, registering = _hour_of_day_profile(s, code, during)
    if registering < STEADY_HOURS:
        return float("nan")
    return _day_rhythm(profile) / rhythm_before


def _zero_consumption(s: _Scan) -> list[Finding]:
    """Near-zero kWh for min_days at a premises that is energised and used to consume; quiet for
    customers with repeated long empty spells (a holiday home), for the same empty season a year
    earlier (a seasonal business) and for a steady base load without the day's rhythm (an idle
    premises: a stopped register or a bypass leaves nothing, a slowed one keeps the shape)."""
    th = s.th.zero_consumption
    day0, kwh, _, _ = s.daily
    n, n_days = kwh.shape
    usual = nan_quantile(kwh, 0.75, axis=1)
    threshold = np.maximum(th.zero_kwh_per_day, th.zero_share * np.nan_to_num(usual))
    gap = np.isnan(kwh)
    zero = kwh <= threshold[:, None]
    flat = np.flatnonzero((zero | gap).ravel())
    ep = _runs(flat, flat // n_days, flat % n_days, 1, 0)  # gaps neither count nor break
    if not len(ep):
        return []
    zero_flat = zero.ravel()[ep.pos]
    zero_days = ep.reduce(np.add, zero_flat.astype(np.int64))
    first_zero = ep.reduce(np.fmin, np.where(zero_flat, ep.step, np.iinfo(np.int64).max))
    last_zero = ep.reduce(np.fmax, np.where(zero_flat, ep.step, -1))
    spells = zero_days >= max(1, th.min_days // 2)
    repeated = np.bincount(ep.cust[spells], minlength=n) >= 2
    out = []
    for i in np.flatnonzero(zero_days >= th.min_days):
        code = int(ep.cust[i])
        if repeated[code]:
            continue
        start, end = int(first_zero[i]), int(last_zero[i]) + 1
        before = kwh[code, max(0, start - th.baseline_days):start]
        if np.isfinite(before).sum() < th.baseline_days // 2:
            continue  # not enough history to call it a change
        baseline = _nanmean(before)
        if not baseline >= th.min_baseline_kwh_per_day:
            continue
        year_ago = (start - 364, end - 364)
        last_year = float("nan")
        if year_ago[0] >= 0:
            last_year = _nanmean(kwh[code, year_ago[0]:year_ago[1]])
            if last_year <= th.seasonal_share * baseline:
                continue  # the same season was empty last year
        days = np.arange(start, end)
        on_zero = zero[code, start:end]
        shape_kept = _shape_kept(s, code, np.arange(max(0, start - th.baseline_days), start), days[on_zero],
                                 th.min_rhythm)
        if shape_kept <= th.idle_rhythm:
            continue  # a steady base load still registers hour after hour, the day's rhythm gone (值守 at a
            # plant out of season, a closed shop): idle, not a bypass or a stopped register
        profile = _day_profile(s, code, (*VOLTAGES, *CURRENTS, "kw"))
        volts = [profile[v][days][on_zero] for v in VOLTAGES if v in profile]
        evidence = {"zero_days": int(zero_days[i]), "days": end - start, "baseline_kwh_per_day": _num(baseline, 2),
                    "threshold_kwh_per_day": _num(threshold[code], 2),
                    "kwh_in_episode": _num(np.nansum(kwh[code, start:end]), 2),
                    "same_days_last_year_kwh_per_day": _num(last_year, 2), "day_shape_kept": _num(shape_kept)}
        if volts:
            nominal = s.nominal[code] if np.isfinite(s.nominal[code]) else DEFAULT_NOMINAL
            present = np.nanmax(np.stack(volts), axis=0) >= th.voltage_present_ratio * nominal
            evidence["voltage_present_share"] = _num(present.mean())
            if present.mean() < 0.8:
                continue  # no voltage: disconnected (停电/拆表), not a premises in use
            severity = th.severity
        else:
            severity = th.unknown_activity_severity
        amps = [profile[a][days][on_zero] for a in CURRENTS if a in profile]
        if amps:
            mean_current = float(np.nanmean(np.nansum(np.stack(amps), axis=0)))
            evidence["mean_current_a"] = _num(mean_current)
            if mean_current >= th.load_fraction * s.rated_a[code]:
                severity = "high"  # current flows, nothing is registered
        if "kw" in profile and s.panel.col("kwh") is not None:
            mean_kw = _nanmean(profile["kw"][days][on_zero])
            evidence["mean_kw"] = _num(mean_kw)
            if mean_kw * 24 > max(threshold[code] * 5, th.zero_kwh_per_day * 10):
                severity = "high"
        evidence["series"] = s.daily_series(code, day0 + start, day0 + end)
        evidence["limits"] = [_limit("近零阈值", threshold[code], "kWh"), _limit("基线日均电量", baseline, "kWh")]
        out.append(s.finding(code, "zero_consumption", severity, _day_time(day0 + start), _day_time(day0 + end), evidence))
    return out


def _window_means(matrix: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of valid values over [t, t + length) for every t (columns 0 … D − length)."""
    ok = np.isfinite(matrix)
    total = np.zeros((matrix.shape[0], matrix.shape[1] + 1), dtype=np.float64)
    np.cumsum(np.where(ok, matrix, 0), axis=1, out=total[:, 1:])
    count = np.zeros_like(total, dtype=np.int32)
    np.cumsum(ok, axis=1, out=count[:, 1:])
    sums = total[:, length:] - total[:, :-length]
    counts = count[:, length:] - count[:, :-length]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts


def _sudden_drop(s: _Scan) -> list[Finding]:
    """Daily kWh over window_days falls to ≤ (1 − drop) of the preceding baseline_days, while peers of
    the same class kept theirs (a holiday or cold snap moves everyone). Repeated drops are a pattern
    (holiday home), not tampering; a drop around a change of contract is explained. So is a drop to a
    steady base load (vacancy, closure: tampering scales the whole day, its shape stays) or back to a
    level the premises already sat at for a week (a baseline inflated by a long holiday stay)."""
    th = s.th.sudden_drop
    day0, kwh, _, _ = s.daily
    n, n_days = kwh.shape
    b, w = th.baseline_days, th.window_days
    if n_days < b + w:
        return []
    width = n_days - b - w + 1  # column j: baseline over days [j, j + b), window over [j + b, j + b + w)
    base_means, base_counts = _window_means(kwh, b)
    win_means, win_counts = _window_means(kwh, w)
    base, base_n = base_means[:, :width], base_counts[:, :width]
    win, win_n = win_means[:, b:b + width], win_counts[:, b:b + width]
    ok = (base_n >= th.min_coverage * b) & (win_n >= th.min_coverage * w) & (base >= th.min_baseline_kwh_per_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ok, win / base, np.nan)
    groups = pd.Series(np.arange(n)).groupby(pd.Series(s.classes).to_numpy()).indices
    # one peer curve per class (every customer when the class is small): median ratio of its members
    group_of = np.zeros(n, dtype=np.int64)
    curves = [nan_quantile(ratio, 0.5, axis=0)]
    for members in groups.values():
        if len(members) >= th.min_peers:
            group_of[members] = len(curves)
            curves.append(nan_quantile(ratio[members], 0.5, axis=0))
    curves = np.stack(curves)
    # peers must have kept their level around that time too: a class dropping within peer_window_days
    # (a holiday, the end of an irrigation season) explains the customer's drop
    half = th.peer_window_days
    padded = np.pad(np.where(np.isnan(curves), np.inf, curves), ((0, 0), (half, half)), constant_values=np.inf)
    bands = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=1).min(axis=2)
    peer, peer_band = curves[group_of], bands[group_of]
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = ratio / peer
    limit = 1 - th.drop
    flagged = ok & (ratio <= limit) & (relative <= limit) & (peer_band >= th.peer_kept)
    flat = np.flatnonzero(flagged.ravel())
    ep = _runs(flat, flat // width, flat % width, 1, 0)
    if not len(ep):
        return []
    worst = ep.reduce(np.fmin, ratio.ravel()[ep.pos])
    drops: dict[int, list[tuple[int, int, int, int]]] = {}  # code → (episode, column, first day, end day)
    for i in range(len(ep)):
        code, t = int(ep.cust[i]), int(ep.start[i])
        if drops.get(code) and t + b < drops[code][-1][3]:
            continue  # still inside the drop found before
        level = limit * base[code, t]
        start = t + b
        low_days = np.flatnonzero(kwh[code, start:start + w] <= level)
        if len(low_days):  # the window opens a little before the fall: start at its first low day
            start += int(low_days[0])
        # the drop lasts until consumption comes back: the first w days whose mean is above the level
        back = np.flatnonzero(win_means[code, start:] > level)
        stop = start + int(back[0]) + w if len(back) else n_days
        low = np.flatnonzero(kwh[code, start:min(stop, n_days)] <= level)
        end = start + int(low[-1]) + 1 if len(low) else start + w
        drops.setdefault(code, []).append((i, t, start, end))
    out = []
    profiles: dict = {}  # class → peers' daily kWh relative to their usual level, for the chart
    for code, found in drops.items():
        if len(found) >= 2:
            continue  # drops that come and go: its own rhythm (a holiday home), not tampering
        i, t, start, end = found[0]
        if code in s.history:
            change_days = _local_day_of_hour(s.history[code][0]) - day0
            if ((change_days >= t) & (change_days < end)).any():
                continue  # the contract changed: a legitimate reason
        baseline = _nanmean(kwh[code, start - b:start])  # measured again from the first low day
        during = _nanmean(kwh[code, start:end])
        span = kwh[code, start:end]
        span = span[np.isfinite(span)]
        if len(span) and (span >= th.visit_level * baseline).mean() >= th.visit_share:
            continue  # full days keep coming back (visits to a holiday home): fewer people, not a bypass,
            # which scales every day down
        low_days = start + np.flatnonzero(kwh[code, start:end] <= limit * baseline)
        shape_kept = float("nan")
        if len(low_days) >= w // 2:  # enough low days for an hour-of-day profile
            shape_kept = _shape_kept(s, code, np.arange(start - b, start), low_days, th.min_rhythm)
        if shape_kept <= th.idle_rhythm:
            continue  # only a steady base load is left (vacancy, closure, the season's end), not the
            # same day scaled down
        if _been_this_low(kwh[code, :start], kwh[code, low_days], limit * baseline, th.same_level_days,
                          th.same_level_tolerance):
            continue  # back to a level it already sat at for a week: its own empty spells, not new
        j = min(start - b, width - 1)
        after = _nanmean(kwh[code, end:end + w])
        recovered = np.isfinite(after) and after >= th.recovered_ratio * baseline
        if recovered and not th.report_recovered:
            continue  # back to normal: an absence (vacation, 春节返乡) far more often than tampering
        if recovered:
            severity = "low"
        elif worst[i] <= 1 - th.high_drop:
            severity = "high"
        else:
            severity = th.severity
        evidence = {"baseline_kwh_per_day": _num(baseline, 2), "drop_kwh_per_day": _num(during, 2),
                    "ratio": _num(during / baseline), "worst_window_ratio": _num(worst[i]),
                    "peer_ratio": _num(peer[code, j]), "class": str(s.classes[code]),
                    "days": end - start, "recovered": bool(recovered), "after_kwh_per_day": _num(after, 2),
                    "day_shape_kept": _num(shape_kept)}
        cls = s.classes[code] if len(groups.get(s.classes[code], ())) >= th.min_peers else None
        if cls not in profiles:
            profiles[cls] = _peer_profile(kwh, np.asarray(groups[cls]) if cls is not None else np.arange(n))
        peer_median = profiles[cls]
        specs = [("日电量", "kWh", kwh[code], "mean")]
        if peer_median is not None:
            specs.append(("同类用户（按基线折算）", "kWh", peer_median * baseline, "mean"))
        evidence["series"] = s.daily_series(code, day0 + start, day0 + end, specs)
        evidence["limits"] = [_limit("基线日均电量", baseline, "kWh"), _limit("突降阈值", baseline * limit, "kWh")]
        out.append(s.finding(code, "sudden_drop", severity, _day_time(day0 + start), _day_time(day0 + end), evidence))
    return out


def _been_this_low(before: np.ndarray, low: np.ndarray, level: float, days: int, tolerance: float) -> bool:
    """Whether the days before a drop hold `days` consecutive days, each at or below the drop's
    `level`, whose median is within `tolerance` of the drop's median low day: the premises has sat
    at this level before (a holiday home between stays). A bypass brings a level of its own: an
    earlier vacation sits far below a share of the whole load."""
    target = float(np.nanmedian(low)) if np.isfinite(low).any() else float("nan")
    if not target > 0 or len(before) < days:
        return False
    at_level = np.where(np.isnan(before), False, before <= level)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], at_level.astype(np.int8), [0]))))
    for first, stop in zip(edges[::2], edges[1::2]):
        if stop - first >= days and abs(float(np.median(before[first:stop])) / target - 1) <= tolerance:
            return True
    return False


def _peer_profile(kwh: np.ndarray, members: np.ndarray) -> np.ndarray | None:
    """The peers' daily kWh relative to their own median day (median over peers), for the chart."""
    level = nan_quantile(kwh[members], 0.5, axis=1)
    good = np.isfinite(level) & (level > 0)
    if not good.any():
        return None
    return nan_quantile(kwh[members[good]] / level[good, None], 0.5, axis=0)


def _cover_open(s: _Scan) -> list[Finding]:
    """开盖 events, one finding per burst; high when consumption falls afterwards, low when it did not."""
    th = s.th.cover_open
    out = []
    daily = s.daily if s.energy is not None else None
    for code, secs in _event_groups(s.events_of("cover_open"), th.merge_gap_hours):
        first_day = int(_local_day_of_hour(np.array([secs[0] // 3600]))[0])
        last_day = int(_local_day_of_hour(np.array([secs[-1] // 3600]))[0])
        evidence = {"events": len(secs), "event_times": _iso_seconds(secs[:50])}
        severity = th.severity
        if daily is not None and s.panel.lens[code]:
            day0, kwh, _, _ = daily
            a, z = first_day - day0, last_day - day0 + 1
            before = kwh[code, max(0, a - th.before_days):max(0, a)]
            after = kwh[code, max(0, z):max(0, z + th.after_days)]
            if np.isfinite(before).sum() >= th.before_days // 2 and np.isfinite(after).sum() >= th.after_days // 2:
                mb, ma = _nanmean(before), _nanmean(after)
                evidence.update({"before_kwh_per_day": _num(mb, 2), "after_kwh_per_day": _num(ma, 2),
                                 "change": _num(ma / mb - 1) if mb > 0 else None})
                severity = "high" if mb > 0 and ma <= (1 - th.drop) * mb else th.no_drop_severity
            evidence["series"] = s.daily_series(code, first_day - th.before_days, last_day + 1 + th.after_days)
        out.append(s.finding(code, "cover_open", severity, datetime.fromtimestamp(int(secs[0]), UTC),
                             datetime.fromtimestamp(int(secs[-1]), UTC), evidence))
    return out


def _bill_days(column: pd.Series) -> np.ndarray:
    """Local day indexes of bill period bounds: aware instants in Beijing time, naive values as local."""
    values = pd.to_datetime(column)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    days = values.dt.floor("D").to_numpy(dtype="datetime64[D]").astype(np.int64)
    return days


def _billing_mismatch(s: _Scan) -> list[Finding]:
    """Billed kWh against the metered sum over the bill period (local days, both included), judged only
    when the period is covered by data; the metered sum is scaled up for the few missing hours."""
    th = s.th.billing_mismatch
    bills = s.bills
    for name in ("customer_id", "period_start", "period_end", "billed_kwh"):
        if name not in bills.columns:
            raise ValueError(f"bills lack the column {name!r}")
    day0, kwh, raw, hours = s.daily
    n, n_days = kwh.shape
    code = _codes(s.index, bills["customer_id"])
    first = _bill_days(bills["period_start"]) - day0
    last = _bill_days(bills["period_end"]) - day0
    billed = pd.to_numeric(bills["billed_kwh"], errors="coerce").to_numpy(dtype=np.float64)
    ok = (code >= 0) & (first >= 0) & (last < n_days) & (last >= first) & np.isfinite(billed)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    total = np.zeros((n, n_days + 1))
    np.cumsum(raw, axis=1, out=total[:, 1:])
    hours_total = np.zeros((n, n_days + 1))
    np.cumsum(hours, axis=1, out=hours_total[:, 1:])
    c, f, z = code[idx], first[idx], last[idx] + 1
    metered = total[c, z] - total[c, f]
    coverage = (hours_total[c, z] - hours_total[c, f]) / ((z - f) * 24)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = metered / coverage
    diff = billed[idx] - estimate
    tolerance = np.maximum(th.pct * estimate, th.min_kwh)
    hit = np.flatnonzero((coverage >= th.min_coverage) & (np.abs(diff) > tolerance))
    out = []
    for j in hit:
        rel = abs(diff[j]) / max(estimate[j], th.min_kwh)
        severity = "high" if rel >= th.high_pct else "medium" if rel >= th.medium_pct else th.severity
        cc, ff, zz = int(c[j]), int(f[j]) + day0, int(z[j]) + day0
        evidence = {"period_start": _day_date(ff).isoformat(), "period_end": _day_date(zz - 1).isoformat(),
                    "billed_kwh": _num(billed[idx][j], 2), "metered_kwh": _num(metered[j], 2),
                    "metered_estimate_kwh": _num(estimate[j], 2), "coverage": _num(coverage[j]),
                    "difference_kwh": _num(diff[j], 2), "difference_pct": _num(diff[j] / estimate[j]) if estimate[j] else None,
                    "series": s.daily_series(cc, ff, zz),
                    "limits": [_limit("账单日均电量", billed[idx][j] / (zz - ff), "kWh")]}
        out.append(s.finding(cc, "billing_mismatch", severity, _day_time(ff), _day_time(zz), evidence))
    return out


def _month_of_hour(hour) -> np.ndarray:
    """Local calendar month index (months since 1970-01) of hour indexes."""
    local = (np.asarray(hour, dtype=np.int64) + UTC_OFFSET_HOURS) * 3600
    return local.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)


def _month_start(month: int) -> datetime:
    first = np.datetime64(int(month), "M").astype("datetime64[D]").astype(object)
    return datetime(first.year, first.month, 1, tzinfo=LOCAL_TZ).astimezone(UTC)


def _low_power_factor(s: _Scan) -> list[Finding]:
    """Monthly PF = Σ kWh / Σ kVAh over loaded hours (S from phase U·I, times the CT and PT ratios)
    below the contract's value; customers under min_contract_kva only with an explicit contract PF."""
    th = s.th.low_power_factor
    panel = s.panel
    target = s.contract_power_factor(th.default_power_factor)
    eligible = np.isfinite(s.contract_pf) | (s.contract_kva >= th.min_contract_kva)
    secondary_v = np.isfinite(s.nominal) & (s.nominal < SECONDARY_VOLTAGE_BELOW) & ~np.isfinite(s.pt_ratio)
    eligible &= ~secondary_v & np.isfinite(s.nominal)
    rows = panel.rows_of(np.flatnonzero(eligible))
    if not len(rows.codes):
        return []
    volts, amps = _phase_arrays(s, rows)
    three = rows.spread(s.three_phase[rows.codes])
    va = np.zeros(rows.size, dtype=np.float64)
    for x in range(3):
        if volts[x] is None or amps[x] is None:
            if x == 0:
                va[:] = np.nan
            else:
                va = np.where(three, np.nan, va)
            continue
        term = volts[x].astype(np.float64) * amps[x]
        va = va + (term if x == 0 else np.where(three, term, 0))
    scale = np.where(s.is_ct, s.ct_ratio, 1.0) * np.where(np.isfinite(s.pt_ratio), s.pt_ratio, 1.0)
    scale = np.where(np.isfinite(scale), scale, 1.0)
    kva = va * rows.spread(scale[rows.codes]) / 1000
    power = rows.take(s.power)
    loaded = np.isfinite(kva) & np.isfinite(power) & (kva >= rows.spread(th.load_fraction * s.contract_kva[rows.codes]))
    pos = np.flatnonzero(loaded)
    if not len(pos):
        return []
    prow = rows.panel_rows(pos)
    hours = panel.hour[prow]
    m0 = int(_month_of_hour(hours.min()))
    n_months = int(_month_of_hour(hours.max())) - m0 + 1
    edges = np.array([int(_month_start(m0 + k).timestamp()) // 3600 for k in range(n_months + 1)])
    month = np.searchsorted(edges, hours, side="right") - 1 + m0
    local_code = np.repeat(np.arange(len(rows.codes)), rows.lens)[pos]
    key = local_code * n_months + (month - m0)
    size = len(rows.codes) * n_months
    kwh = np.bincount(key, weights=power[pos], minlength=size).reshape(-1, n_months)
    kvah = np.bincount(key, weights=kva[pos], minlength=size).reshape(-1, n_months)
    count = np.bincount(key, minlength=size).reshape(-1, n_months)
    with np.errstate(invalid="ignore", divide="ignore"):
        pf = kwh / kvah
    want = target[rows.codes][:, None]
    low = (count >= th.min_hours) & (pf < want - th.tolerance) & (pf <= th.max_plausible)
    flat = np.flatnonzero(low.ravel())
    ep = _runs(flat, flat // n_months, flat % n_months, 1, 0)
    out = []
    for i in range(len(ep)):
        local = int(ep.cust[i])
        code = int(rows.codes[local])
        months = np.arange(ep.start[i], ep.end[i])
        shortfall = float(target[code] - pf[local, months].min())
        severity = "high" if shortfall >= th.high_below else "medium" if shortfall >= th.medium_below else th.severity
        total_pf = kwh[local, months].sum() / kvah[local, months].sum()
        start, end = _month_start(m0 + months[0]), _month_start(m0 + months[-1] + 1)
        evidence = {"power_factor": _num(total_pf), "contract_power_factor": _num(target[code]),
                    "contract_kva": _num(s.contract_kva[code]),
                    "months": [{"month": str(np.datetime64(int(m0 + m), "M")), "power_factor": _num(pf[local, m]),
                                "kwh": _num(kwh[local, m], 1), "kvah": _num(kvah[local, m], 1),
                                "loaded_hours": int(count[local, m])} for m in months]}
        day0 = s.daily[0] if s.energy is not None else None
        start_d = int((start.timestamp() + UTC_OFFSET_HOURS * 3600) // 86400)
        end_d = int((end.timestamp() + UTC_OFFSET_HOURS * 3600) // 86400)
        evidence["series"] = _daily_pf_series(s, code, rows, local, pos, power, kva, start_d, end_d) if day0 is not None else []
        evidence["limits"] = [_limit("力率考核标准", target[code], "")]
        out.append(s.finding(code, "low_power_factor", severity, start, end, evidence))
    return out


def _daily_pf_series(s: _Scan, code: int, rows: _Rows, local: int, pos: np.ndarray, power, kva, start_d: int, end_d: int) -> list[dict]:
    """Daily PF over the loaded hours of the episode's months."""
    lo, hi = rows.starts[local], rows.starts[local] + rows.lens[local]
    sel = pos[(pos >= lo) & (pos < hi)]
    day = _local_day_of_hour(s.panel.hour[rows.panel_rows(sel)])
    keep = (day >= start_d) & (day < end_d)
    sel, day = sel[keep], day[keep]
    if not len(sel):
        return []
    size = end_d - start_d
    p = np.bincount(day - start_d, weights=power[sel], minlength=size)
    q = np.bincount(day - start_d, weights=kva[sel], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        pf = np.where(q > 0, p / q, np.nan)
    n = len(pf)
    bins = min(n, s.th.data.evidence_points)
    edges = np.unique((np.arange(bins) * n) // bins)
    values = _aggregate(pf, edges, "mean")
    return [{"name": "日功率因数", "unit": "", "points": [[_day_time(start_d + e).isoformat(), _num(v)] for e, v in zip(edges, values)]}]


RULE_FUNCTIONS: dict[str, Callable[[_Scan], list[Finding]]] = {
    "over_contract_capacity": _over_contract_capacity,
    "ct_over_limit": _ct_over_limit,
    "voltage_loss": _voltage_loss,
    "phase_failure": _phase_failure,
    "reverse_energy": _reverse_energy,
    "current_imbalance": _current_imbalance,
    "zero_consumption": _zero_consumption,
    "sudden_drop": _sudden_drop,
    "cover_open": _cover_open,
    "billing_mismatch": _billing_mismatch,
    "low_power_factor": _low_power_factor,
}
DAILY_RULES = frozenset({"zero_consumption", "sudden_drop", "billing_mismatch", "cover_open"})


def scan(customers: pd.DataFrame, readings: pd.DataFrame, events: pd.DataFrame | None = None,
         bills: pd.DataFrame | None = None, *, thresholds: Thresholds | None = None,
         rules: Iterable[str] | None = None, workers: int | None = None) -> ScanResult:
    """Run the rules over every customer; a rule whose inputs are missing is listed in `disabled`.

    The hourly rules and the daily ones run in two threads (`workers`, default 2 when the machine has
    two cores): numpy releases the GIL in its loops, so both cores work."""
    th = thresholds or Thresholds.load()
    wanted = RULES if rules is None else tuple(rules)
    unknown = [r for r in wanted if r not in RULE_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown rule {unknown[0]!r} (rules: {', '.join(RULES)})")
    s = _Scan(customers, readings, events, bills, th)
    disabled = {rule: reason for rule in wanted if (reason := s.missing(rule))}
    runnable = [rule for rule in wanted if rule not in disabled]
    for shared in ("power", "energy", "reverse", "nominal", "three_phase", "rated_a", "lowest_voltage"):
        getattr(s, shared)  # computed once here, before the threads share them
    groups = [[r for r in runnable if r not in DAILY_RULES], [r for r in runnable if r in DAILY_RULES]]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)

    def run(group: list[str]) -> dict[str, list[Finding]]:
        return {rule: RULE_FUNCTIONS[rule](s) for rule in group}

    if workers > 1 and all(groups):
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(run, group) for group in groups]
            results = {rule: found for future in done for rule, found in future.result().items()}
    else:
        results = run(runnable)
    findings = [f for rule in runnable for f in results[rule]]
    findings.sort(key=lambda f: (f.customer_id, f.start, f.rule))
    daily = s.daily_energy() if s.energy is not None and DAILY_RULES & set(runnable) else None
    return ScanResult(findings, disabled, daily)
