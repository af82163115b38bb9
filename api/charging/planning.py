"""`plan`: replay charging sessions uncontrolled and under the orderly-charging scheduler, side by side.

    python -m api.charging plan --sessions FILE --capacity-kw N [--base-load FILE] [--tariff FILE]
    python -m api.charging.planning --sessions FILE --capacity-kw N [...]      (the same)

Files (UTF-8 CSV with a header; ISO 8601 times with any offset, naive times are Asia/Shanghai):
  sessions   session_id, arrival, departure, kwh_requested, max_kw [, allow_delay]
             allow_delay: true/false, 1/0, yes/no, 是/否 (default true)
  base load  ts, kw — the area's other load; each value holds until the next row
  tariff     either daily bands  start, end, price_yuan_per_kwh   (local HH:MM; end ≤ start crosses
             midnight, 24:00 allowed; the bands must cover the day once)
             or a series         ts, price_yuan_per_kwh           (each price holds until the next)
             default: scheduler.DEFAULT_TARIFF (谷 22–08, 峰 08–11 and 17–22, 平 otherwise)

Both replays run on 15-minute steps over the same sessions:
  uncontrolled  every car at its max_kw from arrival until full or gone
  orderly       online, as the central system would run it: at the start of every step in which a
                car arrives or leaves, `scheduler.replan` with the cars plugged in then and the
                energy they have had; the plan is followed until the next re-plan (no knowledge
                of cars still to come; a car arriving within a step is known from that step on)
Each prints peak_kw (base + charging, mean over a step), minutes_over_capacity, energy_requested_kwh,
energy_delivered_kwh (all of it by departure), sessions_fully_served and cost_yuan (charging energy
at the tariff). Exit 0; 2 on a bad file or row (file and line named).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from api.charging.scheduler import (
    DEFAULT_TARIFF,
    METHODS,
    STEP,
    STEP_HOURS,
    TOL_KWH,
    Band,
    BaseLoad,
    SeriesTariff,
    Session,
    Tariff,
    TouTariff,
    ceil_step,
    floor_step,
    replan,
    step_function,
)
from api.core.time import LOCAL_TZ, UTC

METRIC_KEYS = ("peak_kw", "minutes_over_capacity", "energy_requested_kwh", "energy_delivered_kwh",
               "sessions_fully_served", "cost_yuan")


class InputError(ValueError):
    """A bad input file or row; the message names the file and the line."""


# ------------------------------------------------------------------------------------ reading


def _parse_time(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=LOCAL_TZ)
    return at.astimezone(UTC)


def _parse_float(text: str) -> float:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}


def _rows(path: Path, required: Sequence[str]):
    """(line number, row) of a CSV file whose header has the required columns."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(f"{path}: line 1: missing column(s) {', '.join(missing)} "
                             f"(header: {', '.join(header) or 'empty'})")
        try:
            for row in reader:
                if not any((v or "").strip() for k, v in row.items() if k is not None):
                    continue  # blank line
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num}: {exc}") from None


def _field(path: Path, line: int, row: dict, name: str) -> str:
    value = row.get(name)
    if value is None or not value.strip():
        raise InputError(f"{path}: line {line}: {name} is empty")
    return value


def read_sessions(path: str | Path) -> list[Session]:
    """Sessions from a CSV file (see the module docstring); InputError on a bad row."""
    path = Path(path)
    out: list[Session] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, ("session_id", "arrival", "departure", "kwh_requested", "max_kw")):
        sid = _field(path, line, row, "session_id").strip()
        if sid in seen:
            raise InputError(f"{path}: line {line}: session_id {sid!r} repeats line {seen[sid]}")
        seen[sid] = line
        times = {}
        for name in ("arrival", "departure"):
            text = _field(path, line, row, name)
            try:
                times[name] = _parse_time(text)
            except ValueError:
                raise InputError(f"{path}: line {line}: {name} {text.strip()!r} is not an ISO 8601 time") from None
        if times["departure"] <= times["arrival"]:
            raise InputError(f"{path}: line {line}: departure {row['departure'].strip()} is not after "
                             f"arrival {row['arrival'].strip()}")
        numbers = {}
        for name in ("kwh_requested", "max_kw"):
            text = _field(path, line, row, name)
            try:
                numbers[name] = _parse_float(text)
            except ValueError:
                raise InputError(f"{path}: line {line}: {name} {text.strip()!r} is not a number") from None
        if numbers["kwh_requested"] < 0:
            raise InputError(f"{path}: line {line}: kwh_requested {numbers['kwh_requested']:g} is negative")
        if numbers["max_kw"] <= 0:
            raise InputError(f"{path}: line {line}: max_kw {numbers['max_kw']:g} must be positive")
        delay = True
        raw = (row.get("allow_delay") or "").strip().lower()
        if raw:
            if raw in _TRUE:
                delay = True
            elif raw in _FALSE:
                delay = False
            else:
                raise InputError(f"{path}: line {line}: allow_delay {raw!r} is not true/false")
        out.append(Session(sid, times["arrival"], times["departure"], numbers["kwh_requested"], numbers["max_kw"],
                           delay))
    return out


def read_base_load(path: str | Path) -> BaseLoad:
    """The area's other load from a `ts, kw` CSV file, as a step function of time."""
    path = Path(path)
    points = []
    for line, row in _rows(path, ("ts", "kw")):
        text = _field(path, line, row, "ts")
        try:
            at = _parse_time(text)
        except ValueError:
            raise InputError(f"{path}: line {line}: ts {text.strip()!r} is not an ISO 8601 time") from None
        text = _field(path, line, row, "kw")
        try:
            kw = _parse_float(text)
        except ValueError:
            raise InputError(f"{path}: line {line}: kw {text.strip()!r} is not a number") from None
        points.append((at, kw))
    if not points:
        raise InputError(f"{path}: no rows")
    return step_function(points)


def _parse_clock(text: str) -> int:
    value = text.strip()
    if ":" in value:
        h, m = value.split(":", 1)
        hours, minutes = int(h), int(m)
    else:
        hours, minutes = int(value), 0
    if not (0 <= minutes < 60 and 0 <= hours * 60 + minutes <= 1440):
        raise ValueError(value)
    return hours * 60 + minutes


def _parse_price(text: str) -> Decimal:
    try:
        price = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None
    if not price.is_finite() or price < 0:
        raise ValueError(text)
    return price


def read_tariff(path: str | Path) -> Tariff:
    """A tariff CSV: daily bands `start, end, price_yuan_per_kwh` or a series `ts, price_yuan_per_kwh`."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = [h.strip() for h in next(csv.reader(handle), [])]
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if "ts" in header:
        points = []
        for line, row in _rows(path, ("ts", "price_yuan_per_kwh")):
            text = _field(path, line, row, "ts")
            try:
                at = _parse_time(text)
            except ValueError:
                raise InputError(f"{path}: line {line}: ts {text.strip()!r} is not an ISO 8601 time") from None
            text = _field(path, line, row, "price_yuan_per_kwh")
            try:
                points.append((at, _parse_price(text)))
            except ValueError:
                raise InputError(f"{path}: line {line}: price {text.strip()!r} is not a price ≥ 0") from None
        if not points:
            raise InputError(f"{path}: no rows")
        return SeriesTariff(points)
    bands = []
    lines = []
    for line, row in _rows(path, ("start", "end", "price_yuan_per_kwh")):
        clock = {}
        for name in ("start", "end"):
            text = _field(path, line, row, name)
            try:
                clock[name] = _parse_clock(text)
            except ValueError:
                raise InputError(f"{path}: line {line}: {name} {text.strip()!r} is not a time of day HH:MM") from None
        text = _field(path, line, row, "price_yuan_per_kwh")
        try:
            price = _parse_price(text)
        except ValueError:
            raise InputError(f"{path}: line {line}: price {text.strip()!r} is not a price ≥ 0") from None
        bands.append(Band(clock["start"] % 1440, clock["end"], price, (row.get("name") or "").strip()))
        lines.append(line)
    if not bands:
        raise InputError(f"{path}: no rows")
    try:
        return TouTariff(bands)
    except ValueError as exc:
        text = str(exc)
        if text.startswith("band "):
            number = int(text.split()[1])
            text = f"line {lines[number - 1]}: {text}"
        raise InputError(f"{path}: {text}") from None


# ------------------------------------------------------------------------------------ replays


@dataclass
class Replay:
    """Energy per session per step of a replay on the common grid, and what it adds up to."""

    start: datetime
    kwh: np.ndarray  # (sessions, steps)
    base: np.ndarray  # per step
    prices: list[Decimal]
    plans: int = 0  # how many times the scheduler planned
    plan_seconds: list[float] | None = None

    def load_kw(self) -> np.ndarray:
        """Mean load of each step: base plus charging."""
        return self.base + self.kwh.sum(axis=0) / STEP_HOURS

    def metrics(self, sessions: Sequence[Session], capacity_kw: float) -> dict:
        """The six figures the CLI prints."""
        load = self.load_kw()
        delivered = self.kwh.sum(axis=1)
        requested = np.array([s.kwh_requested for s in sessions])
        per_step = self.kwh.sum(axis=0)
        cost = sum((Decimal(repr(round(float(e), 6))) * p for e, p in zip(per_step, self.prices) if e > 0),
                   Decimal(0))
        return {
            "peak_kw": round(float(load.max()), 3) if len(load) else 0.0,
            "minutes_over_capacity": int(15 * int((load > capacity_kw + 1e-6).sum())),
            "energy_requested_kwh": round(float(requested.sum()), 3),
            "energy_delivered_kwh": round(float(delivered.sum()), 3),
            "sessions_fully_served": int((delivered >= requested - TOL_KWH).sum()),
            "cost_yuan": float(cost.quantize(Decimal("0.01"))),
        }


def _grid(sessions: Sequence[Session], base_kw: BaseLoad | None, tariff: Tariff):
    start = floor_step(min(s.arrival for s in sessions))
    steps = round((ceil_step(max(s.departure for s in sessions)) - start) / STEP)
    starts = [start + i * STEP for i in range(steps)]
    base = np.array([float(base_kw(t)) if base_kw else 0.0 for t in starts])
    return start, steps, base, [tariff.price_at(t) for t in starts]


def _presence_hours(s: Session, start: datetime, steps: int) -> np.ndarray:
    hours = np.zeros(steps)
    a = int((floor_step(s.arrival) - start) / STEP)
    b = int((ceil_step(s.departure) - start) / STEP)
    for i in range(a, b):
        lo = max(s.arrival, start + i * STEP)
        hi = min(s.departure, start + (i + 1) * STEP)
        hours[i] = max(0.0, (hi - lo).total_seconds() / 3600)
    return hours


def replay_uncontrolled(sessions: Sequence[Session], *, base_kw: BaseLoad | None = None,
                        tariff: Tariff = DEFAULT_TARIFF) -> Replay:
    """Every car at max_kw from arrival until full or gone."""
    start, steps, base, prices = _grid(sessions, base_kw, tariff)
    kwh = np.zeros((len(sessions), steps))
    for j, s in enumerate(sessions):
        can = s.max_kw * _presence_hours(s, start, steps)
        cum = np.cumsum(can)
        kwh[j] = np.clip(np.minimum(cum, s.kwh_requested) - np.concatenate([[0.0], np.minimum(cum, s.kwh_requested)[:-1]]),
                         0.0, None)
    return Replay(start, kwh, base, prices)


def replay_orderly(sessions: Sequence[Session], *, capacity_kw: float, base_kw: BaseLoad | None = None,
                   tariff: Tariff = DEFAULT_TARIFF, method: str = "auto") -> Replay:
    """The scheduler run online: re-plan at each step where a car arrives or leaves, follow the plan between."""
    start, steps, base, prices = _grid(sessions, base_kw, tariff)
    kwh = np.zeros((len(sessions), steps))
    index = {s.session_id: j for j, s in enumerate(sessions)}
    arrive_step = np.array([int((floor_step(s.arrival) - start) / STEP) for s in sessions])
    leave_step = np.array([int((ceil_step(s.departure) - start) / STEP) for s in sessions])  # capacity freed
    events = set(arrive_step.tolist()) | set(leave_step.tolist())
    delivered = np.zeros(len(sessions))
    current = None
    plans, seconds = 0, []
    for k in range(steps):
        now = start + k * STEP
        if k in events:
            present = [s for j, s in enumerate(sessions)
                       if arrive_step[j] <= k and s.departure > now and delivered[j] < s.kwh_requested - TOL_KWH]
            if present:
                t0 = time.perf_counter()
                current = replan(present, now=now, delivered={s.session_id: delivered[index[s.session_id]]
                                                               for s in present},
                                 capacity_kw=capacity_kw, base_kw=base_kw, tariff=tariff, method=method)
                seconds.append(time.perf_counter() - t0)
                plans += 1
            else:
                current = None
        if current is None:
            continue
        rel = int((now - current.start) / STEP)
        if rel >= current.steps:
            current = None
            continue
        for sid, sp in current.sessions.items():
            e = sp.kwh[rel]
            if e > 0:
                j = index[sid]
                kwh[j, k] += e
                delivered[j] += e
    return Replay(start, kwh, base, prices, plans, seconds)


def compare(sessions: Sequence[Session], *, capacity_kw: float, base_kw: BaseLoad | None = None,
            tariff: Tariff = DEFAULT_TARIFF, method: str = "auto") -> dict:
    """{"uncontrolled": {...}, "orderly": {...}} for the same sessions."""
    if not sessions:
        empty = dict(zip(METRIC_KEYS, (0.0, 0, 0.0, 0.0, 0, 0.0)))
        return {"uncontrolled": dict(empty), "orderly": dict(empty)}
    free = replay_uncontrolled(sessions, base_kw=base_kw, tariff=tariff)
    ordered = replay_orderly(sessions, capacity_kw=capacity_kw, base_kw=base_kw, tariff=tariff, method=method)
    return {"uncontrolled": free.metrics(sessions, capacity_kw), "orderly": ordered.metrics(sessions, capacity_kw)}


# ------------------------------------------------------------------------------------ synthetic areas


def evening_base_load(rng: np.random.Generator, *, day_start: datetime, capacity_kw: float, days: int = 2,
                      peak_share: float = 0.78) -> BaseLoad:
    """A residential area's other load: night trough, morning bump, evening peak near 19:30 reaching
    about `peak_share` of capacity, with noise; 15-minute points from `day_start` (local midnight)."""
    n = days * 96
    hour = (np.arange(n) % 96) / 4
    shape = 0.38 + 0.14 * np.exp(-((hour - 8) / 1.5) ** 2) + 0.40 * np.exp(-((hour - 19.5) / 2.2) ** 2)
    shape = shape / shape.max() * peak_share
    kw = capacity_kw * shape * rng.normal(1.0, 0.03, n)
    kw = np.minimum(kw, capacity_kw * 0.97)
    return step_function([(day_start + i * STEP, float(v)) for i, v in enumerate(kw)])


def synthetic_sessions(rng: np.random.Generator, *, n: int, day_start: datetime, prefix: str = "ev") -> list[Session]:
    """A day of EV sessions under a residential area (arrivals within 24 h of `day_start`):
    70 % home charging (arrive ~18:30, leave next morning, 7 kW, most allow delay), 20 % daytime
    visits (1–4 h, 7–11 kW), 10 % quick DC top-ups (30–60 kW, 20–60 min, no delay); energies from
    the car's need (lognormal), some more than the stay allows."""
    out = []
    for i in range(n):
        kind = rng.choice(3, p=[0.7, 0.2, 0.1])
        if kind == 0:
            arrive_h = float(np.clip(rng.normal(18.5, 1.6), 12, 23.9))
            leave_h = 24 + float(np.clip(rng.normal(7.5, 0.8), 5.5, 10))
            max_kw = float(rng.choice([7.0, 7.0, 7.0, 11.0]))
            kwh = float(np.clip(rng.lognormal(np.log(18), 0.5), 4, 70))
            delay = bool(rng.random() < 0.85)
        elif kind == 1:
            arrive_h = float(rng.uniform(8, 17))
            leave_h = arrive_h + float(rng.uniform(1, 4))
            max_kw = float(rng.choice([7.0, 11.0]))
            kwh = float(np.clip(rng.lognormal(np.log(12), 0.5), 2, 60))
            delay = bool(rng.random() < 0.4)
        else:
            arrive_h = float(rng.uniform(7, 23))
            leave_h = arrive_h + float(rng.uniform(0.33, 1.0))
            max_kw = float(rng.choice([30.0, 60.0]))
            kwh = float(np.clip(rng.lognormal(np.log(20), 0.4), 5, 50))
            delay = False
        arrival = day_start + timedelta(minutes=round(arrive_h * 60))
        departure = day_start + timedelta(minutes=round(leave_h * 60))
        out.append(Session(f"{prefix}-{i:04d}", arrival, departure, round(kwh, 2), max_kw, delay))
    return out


# ------------------------------------------------------------------------------------ CLI


def add_plan_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The `plan` options, for a subcommand parser."""
    parser.add_argument("--sessions", required=True, help="CSV: session_id, arrival, departure, kwh_requested, max_kw")
    parser.add_argument("--capacity-kw", required=True, type=float, help="the area's limit in kW")
    parser.add_argument("--base-load", help="CSV: ts, kw (the area's other load)")
    parser.add_argument("--tariff", help="CSV: start, end, price_yuan_per_kwh (daily bands) or ts, price_yuan_per_kwh")
    parser.add_argument("--method", choices=METHODS, default="auto", help="scheduler method (default auto: the LP)")
    return parser


def main_plan(argv_or_args: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Run `plan`: print the two replays as JSON; 0, or 2 on a bad input."""
    if isinstance(argv_or_args, argparse.Namespace):
        args = argv_or_args
    else:
        parser = add_plan_arguments(argparse.ArgumentParser(
            prog="python -m api.charging plan", description="Replay sessions uncontrolled and orderly."))
        args = parser.parse_args(list(argv_or_args) if argv_or_args is not None else None)
    if not (args.capacity_kw > 0 and math.isfinite(args.capacity_kw)):
        print(f"error: --capacity-kw must be a positive number, not {args.capacity_kw:g}", file=sys.stderr)
        return 2
    try:
        sessions = read_sessions(args.sessions)
        base = read_base_load(args.base_load) if args.base_load else None
        tariff = read_tariff(args.tariff) if args.tariff else DEFAULT_TARIFF
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = compare(sessions, capacity_kw=args.capacity_kw, base_kw=base, tariff=tariff,
                     method=getattr(args, "method", "auto"))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main_plan())
