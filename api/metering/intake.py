"""Readings and meter events from the metering system (用电信息采集系统), validated row by row.

One batch may hold good and bad rows: every good row is kept, every bad one comes back with its row
number and why (never a silent drop). A row already held — same meter and time for a reading, same
meter, time, kind and phase for an event — is a duplicate: a re-sent batch changes nothing. Late
and out-of-order rows are stored like any other. The API and the bulk CLI share these rules; the
CLI adds PostgreSQL's COPY for backfills.

Readings come hourly or, from meters collected at 96 points a day, every 15 (or 30) minutes. The
sub-hourly ones are kept as they came (`reading_intervals`) and the meter's hour in `readings` —
what bills, forecasts, audit and detection read — is recomputed from the intervals held each time
one arrives: exact once the hour is complete, scaled up from the quarters received until then.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.core.time import LOCAL_TZ
from api.metering.models import METER_EVENT_KINDS, Meter, MeterEvent, Reading, ReadingInterval

MAX_BATCH_ROWS = 10_000  # one API call; the CLI streams files of any size in chunks of this
FUTURE_SKEW = timedelta(minutes=5)  # a meter clock slightly ahead is accepted, more is refused
OLDEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_VOLTS, MAX_AMPS, MAX_KW = 1000.0, 10_000.0, 100_000.0  # beyond any meter behind a 10 kV/0.4 kV transformer
INTERVALS = (15, 30, 60)  # minutes a reading covers; 60 (hourly) unless the row says otherwise
READING_FIELDS = ("meter_no", "ts", "kwh", "kw", "voltage_a", "current_a", "voltage_b", "current_b",
                  "voltage_c", "current_c", "interval_minutes")
PHASE_VALUES = ("voltage_a", "current_a", "voltage_b", "current_b", "voltage_c", "current_c")
EVENT_FIELDS = ("meter_no", "ts", "kind", "phase", "detail")


def _aware(value: datetime) -> datetime:
    """Times without a zone are Beijing time (how the metering system writes them); stored in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(timezone.utc)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    meter_no: str = Field(min_length=1, max_length=24)
    ts: datetime

    @field_validator("ts")
    @classmethod
    def _sane_time(cls, value: datetime) -> datetime:
        value = _aware(value)
        if value < OLDEST:
            raise ValueError("时间早于2000年，不是有效的采集时间")
        return value

    def time_problem(self) -> str | None:
        """What is wrong with the time given the rest of the row (e.g. a reading not at its interval's start)."""
        return None


class ReadingIn(_Row):
    """One reading over its interval (an hour unless interval_minutes says 15 or 30): energy in it (kWh),
    mean power (kW), per-phase voltage (V) and current (A); ts is the start of the interval."""

    kwh: float = Field(ge=0, le=MAX_KW, allow_inf_nan=False)
    kw: float = Field(ge=0, le=MAX_KW, allow_inf_nan=False)
    voltage_a: float = Field(ge=0, le=MAX_VOLTS, allow_inf_nan=False)
    current_a: float = Field(ge=0, le=MAX_AMPS, allow_inf_nan=False)
    voltage_b: float | None = Field(None, ge=0, le=MAX_VOLTS, allow_inf_nan=False)
    current_b: float | None = Field(None, ge=0, le=MAX_AMPS, allow_inf_nan=False)
    voltage_c: float | None = Field(None, ge=0, le=MAX_VOLTS, allow_inf_nan=False)
    current_c: float | None = Field(None, ge=0, le=MAX_AMPS, allow_inf_nan=False)
    interval_minutes: int = 60

    @field_validator("ts")
    @classmethod
    def _on_a_quarter(cls, value: datetime) -> datetime:
        """Any reading starts on a quarter hour; whether it fits its own interval is time_problem's question."""
        if value.minute % 15 or value.second or value.microsecond:
            raise ValueError("读数时间须为整点或整刻钟（时间为该小时或该15/30分钟时段的开始）")
        return value

    @field_validator("interval_minutes", mode="before")
    @classmethod
    def _hourly_unless_said(cls, value: Any) -> Any:
        return 60 if value is None else value  # a CSV without the column, or with it blank

    @field_validator("interval_minutes")
    @classmethod
    def _known_interval(cls, value: int) -> int:
        if value not in INTERVALS:
            raise ValueError("采集间隔只能是15、30或60分钟")
        return value

    def time_problem(self) -> str | None:
        ts, minutes = self.ts, self.interval_minutes
        if minutes == 60 and (ts.minute or ts.second or ts.microsecond):
            return "读数时间须为整点（每小时一个点，时间为该小时的开始；15分钟数据请注明 interval_minutes）"
        if ts.minute % minutes or ts.second or ts.microsecond:
            return f"{minutes}分钟读数的时间须为该时段的开始（整点起每{minutes}分钟一个点）"
        return None


class EventIn(_Row):
    """One event the meter reported."""

    kind: str
    phase: str | None = Field(None, pattern="^[ABC]$")
    detail: str | None = Field(None, max_length=128)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in METER_EVENT_KINDS:
            raise ValueError(f"未知事件类型，可选：{'、'.join(METER_EVENT_KINDS)}")
        return value


@dataclass
class RowError:
    """Why one row was not kept: its 1-based row number in the batch (or file), the field, the reason."""

    row: int
    message: str
    field: str | None = None
    meter_no: str | None = None

    def as_dict(self) -> dict:
        return {"row": self.row, "meter_no": self.meter_no, "field": self.field, "message": self.message}


@dataclass
class IntakeResult:
    """What became of a batch: rows stored, rows already held, rows refused with their errors."""

    stored: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    stored_keys: list[tuple[int, datetime, str | None]] = field(default_factory=list)  # (meter_id, ts, kind)

    @property
    def rejected(self) -> int:
        """Rows refused (a row with two bad fields has two errors but is one row)."""
        return len({e.row for e in self.errors})

    def add(self, other: IntakeResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.errors.extend(other.errors)
        self.stored_keys.extend(other.stored_keys)


def _field_errors(exc: ValidationError, row: int, meter_no: Any) -> list[RowError]:
    out = []
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or None
        message = err["msg"].removeprefix("Value error, ")
        out.append(RowError(row=row, field=name, message=message,
                            meter_no=meter_no if isinstance(meter_no, str) else None))
    return out


def _blank_to_none(raw: dict) -> dict:
    return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in raw.items() if k is not None}


def parse_rows(raws: Iterable[Any], model: type[_Row], *, first_row: int = 1,
               now: datetime) -> tuple[list[tuple[int, _Row]], list[RowError]]:
    """Validate each row on its own: (row number, model) for the good ones, errors for the rest."""
    good, errors = [], []
    latest = now + FUTURE_SKEW
    for number, raw in enumerate(raws, start=first_row):
        if not isinstance(raw, dict):
            errors.append(RowError(row=number, message="每一行须为一个对象（字段名: 值）"))
            continue
        raw = _blank_to_none(raw)
        try:
            parsed = model.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_field_errors(exc, number, raw.get("meter_no")))
            continue
        problem = "时间晚于当前时间，请检查采集终端的时钟" if parsed.ts > latest else parsed.time_problem()
        if problem:
            errors.append(RowError(row=number, field="ts", meter_no=parsed.meter_no, message=problem))
            continue
        good.append((number, parsed))
    return good, errors


def meters_by_no(*, session: Session, meter_nos: Iterable[str]) -> dict[str, tuple[int, int]]:
    """meter_no → (meter id, phases) for the meters that exist."""
    wanted = sorted(set(meter_nos))
    found: dict[str, tuple[int, int]] = {}
    for i in range(0, len(wanted), 900):  # stay under SQLite's bound-parameter limit
        chunk = wanted[i:i + 900]
        for meter_no, meter_id, phases in session.execute(
                select(Meter.meter_no, Meter.id, Meter.phases).where(Meter.meter_no.in_(chunk))):
            found[meter_no] = (meter_id, phases)
    return found


def _reading_row(meter_id: int, phases: int, r: ReadingIn) -> dict | str:
    if phases == 3 and None in (r.voltage_b, r.current_b, r.voltage_c, r.current_c):
        return "三相表须报送B、C相电压和电流"
    if phases == 1 and any(v is not None for v in (r.voltage_b, r.current_b, r.voltage_c, r.current_c)):
        return "单相表不应有B、C相数据"
    row = {"meter_id": meter_id, "ts": r.ts, "kwh": r.kwh, "kw": r.kw, "voltage_a": r.voltage_a,
           "current_a": r.current_a, "voltage_b": r.voltage_b, "current_b": r.current_b,
           "voltage_c": r.voltage_c, "current_c": r.current_c}
    if r.interval_minutes < 60:
        row["minutes"] = r.interval_minutes
    return row


def _event_row(meter_id: int, phases: int, e: EventIn) -> dict | str:
    if e.phase in ("B", "C") and phases == 1:
        return "单相表只有A相"
    return {"meter_id": meter_id, "ts": e.ts, "kind": e.kind, "phase": e.phase, "detail": e.detail}


def _insert_ignoring_duplicates(session: Session, table, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING: a row stored meanwhile by a concurrent copy of the batch is kept once."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).on_conflict_do_nothing(), rows)


def _existing_reading_keys(session: Session, keys: list[tuple[int, datetime]]) -> set[tuple[int, datetime]]:
    found = set()
    for i in range(0, len(keys), 400):
        chunk = keys[i:i + 400]
        found.update(session.execute(select(Reading.meter_id, Reading.ts).where(
            tuple_(Reading.meter_id, Reading.ts).in_(chunk))).tuples())
    return found


def _existing_event_keys(session: Session, keys: list[tuple]) -> set[tuple]:
    found = set()
    meter_ids = sorted({k[0] for k in keys})
    lo, hi = min(k[1] for k in keys), max(k[1] for k in keys)
    for i in range(0, len(meter_ids), 900):
        for meter_id, ts, kind, phase in session.execute(select(
                MeterEvent.meter_id, MeterEvent.ts, MeterEvent.kind, MeterEvent.phase).where(
                MeterEvent.meter_id.in_(meter_ids[i:i + 900]), MeterEvent.ts >= lo, MeterEvent.ts <= hi)):
            found.add((meter_id, ts, kind, phase))
    return found


@dataclass
class Prepared:
    """A validated batch, nothing written yet: rows to insert keyed by their unique key, errors, repeats inside it."""

    rows: dict[tuple, dict]
    errors: list[RowError]
    duplicates: int

    def split_readings(self) -> tuple[dict[tuple, dict], list[dict]]:
        """Hourly readings by (meter id, hour), and the sub-hourly ones (rows with "minutes")."""
        hourly = {key: row for key, row in self.rows.items() if "minutes" not in row}
        return hourly, [row for row in self.rows.values() if "minutes" in row]


def prepare(*, session: Session, kind: str, raws: Iterable[Any], now: datetime, first_row: int = 1,
            meters: dict[str, tuple[int, int] | None] | None = None) -> Prepared:
    """Validate a batch row by row and resolve its meters: the API and the bulk CLI share these rules.

    `meters` is the bulk CLI's cache across chunks (meter_no → (id, phases), None when absent);
    without it every batch looks its meters up.
    """
    model, build = (ReadingIn, _reading_row) if kind == "readings" else (EventIn, _event_row)
    good, errors = parse_rows(raws, model, first_row=first_row, now=now)
    wanted = {r.meter_no for _, r in good}
    if meters is None:
        meters = meters_by_no(session=session, meter_nos=wanted)
    elif missing := wanted - meters.keys():
        found = meters_by_no(session=session, meter_nos=missing)
        meters.update({no: found.get(no) for no in missing})
    rows: dict[tuple, dict] = {}
    duplicates = 0
    for number, parsed in good:
        meter = meters.get(parsed.meter_no)
        if meter is None:
            errors.append(RowError(row=number, field="meter_no", meter_no=parsed.meter_no,
                                   message="表号不存在（未在档案中登记）"))
            continue
        row = build(meter[0], meter[1], parsed)
        if isinstance(row, str):
            errors.append(RowError(row=number, meter_no=parsed.meter_no, message=row))
            continue
        if kind == "events":
            key: tuple = (row["meter_id"], row["ts"], row["kind"], row["phase"])
        else:  # an hourly and a quarter-hour reading may start at the same time
            key = (row["meter_id"], row["ts"], row.get("minutes", 60))
        if key in rows:
            duplicates += 1  # the same row twice in one batch
            continue
        rows[key] = row
    errors.sort(key=lambda e: e.row)
    return Prepared(rows=rows, errors=errors, duplicates=duplicates)


def store(*, session: Session, kind: str, raws: Iterable[Any], now: datetime, first_row: int = 1) -> IntakeResult:
    """Validate and store one batch of readings (kind="readings") or events (kind="events"); the caller commits."""
    prepared = prepare(session=session, kind=kind, raws=raws, now=now, first_row=first_row)
    result = IntakeResult(duplicates=prepared.duplicates, errors=prepared.errors)
    if kind == "events":
        rows = prepared.rows
        intervals: list[dict] = []
    else:
        hourly, intervals = prepared.split_readings()
        rows = {key[:2]: row for key, row in hourly.items()}
    if rows:
        held = (_existing_reading_keys(session, list(rows)) if kind == "readings"
                else _existing_event_keys(session, list(rows)))
        new = [row for key, row in rows.items() if key not in held]
        result.duplicates += len(rows) - len(new)
        _insert_ignoring_duplicates(session, (Reading if kind == "readings" else MeterEvent).__table__, new)
        result.stored = len(new)
        result.stored_keys = [(r["meter_id"], r["ts"], r.get("kind")) for r in new]
    if intervals:
        stored, hours = store_intervals(session, intervals)
        result.stored += stored
        result.duplicates += len(intervals) - stored
        result.stored_keys.extend((meter_id, hour, None) for meter_id, hour in sorted(hours))
    return result


def _hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def store_intervals(session: Session, rows: list[dict]) -> tuple[int, set[tuple[int, datetime]]]:
    """Keep sub-hourly readings not held yet and recompute the hours they fall in: (stored, {(meter, hour)}).

    The API and the bulk CLI both come here; the caller commits.
    """
    held = _existing_interval_keys(session, [(r["meter_id"], r["ts"]) for r in rows])
    new = [row for row in rows if (row["meter_id"], row["ts"]) not in held]
    _insert_ignoring_duplicates(session, ReadingInterval.__table__, new)
    hours = {(row["meter_id"], _hour_of(row["ts"])) for row in new}
    _recompute_hours(session, hours)
    return len(new), hours


def _existing_interval_keys(session: Session, keys: list[tuple[int, datetime]]) -> set[tuple[int, datetime]]:
    found = set()
    for i in range(0, len(keys), 400):
        chunk = keys[i:i + 400]
        found.update(session.execute(select(ReadingInterval.meter_id, ReadingInterval.ts).where(
            tuple_(ReadingInterval.meter_id, ReadingInterval.ts).in_(chunk))).tuples())
    return found


def hour_from_intervals(hour: datetime, meter_id: int, intervals: list[ReadingInterval]) -> dict:
    """The hourly reading the intervals held give: energy summed (scaled up to the hour while some
    intervals are still missing: an estimate until they come), power, voltages and currents averaged."""
    covered = min(60, sum(i.minutes for i in intervals))
    kwh = sum(float(i.kwh) for i in intervals) * 60 / covered
    row: dict = {"meter_id": meter_id, "ts": hour, "kwh": round(kwh, 3),
                 "kw": round(sum(float(i.kw) for i in intervals) / len(intervals), 3)}
    for name in PHASE_VALUES:
        values = [getattr(i, name) for i in intervals]
        row[name] = None if None in values else round(sum(float(v) for v in values) / len(values), 2)
    return row


def _recompute_hours(session: Session, hours: set[tuple[int, datetime]]) -> None:
    """Upsert each touched hour in `readings` from all of its intervals held (the new and the earlier ones)."""
    if not hours:
        return
    by_meter: dict[int, list[datetime]] = {}
    for meter_id, hour in hours:
        by_meter.setdefault(meter_id, []).append(hour)
    grouped: dict[tuple[int, datetime], list[ReadingInterval]] = {}
    meter_ids = sorted(by_meter)
    lo = min(hour for _, hour in hours)
    hi = max(hour for _, hour in hours) + timedelta(hours=1)
    for i in range(0, len(meter_ids), 900):
        for interval in session.scalars(select(ReadingInterval).where(
                ReadingInterval.meter_id.in_(meter_ids[i:i + 900]),
                ReadingInterval.ts >= lo, ReadingInterval.ts < hi)):
            key = (interval.meter_id, _hour_of(interval.ts))
            if key in hours:
                grouped.setdefault(key, []).append(interval)
    rows = [hour_from_intervals(hour, meter_id, grouped[(meter_id, hour)]) for meter_id, hour in sorted(hours)]
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Reading.__table__)
    session.execute(insert.on_conflict_do_update(
        index_elements=["meter_id", "ts"],
        set_={name: insert.excluded[name] for name in ("kwh", "kw", *PHASE_VALUES)}), rows)


class BatchError(ValueError):
    """The body as a whole cannot be read (not JSON, not CSV, no rows, too many rows)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def rows_from_body(body: bytes, content_type: str, key: str) -> list[Any]:
    """The rows of a request body: JSON (`{"<key>": [...]}` or a bare list) or CSV with a header line."""
    if not body.strip():
        raise BatchError("empty_batch", "请求体为空：请提交至少一行数据")
    if "csv" in content_type:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BatchError("bad_encoding", "CSV须为UTF-8编码") from exc
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise BatchError("bad_json", f"请求体不是有效的JSON：{exc}") from exc
        rows = data.get(key) if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise BatchError("bad_shape", f'请求体须为 {{"{key}": [ … ]}} 或一个数组')
    if not rows:
        raise BatchError("empty_batch", "批次中没有数据行")
    if len(rows) > MAX_BATCH_ROWS:
        raise BatchError("batch_too_large", f"一次最多提交{MAX_BATCH_ROWS}行，本次{len(rows)}行；请分批提交，"
                                            f"或用 python -m api.metering import 批量导入")
    return rows


def csv_rows(path: str) -> Iterator[dict]:
    """Rows of a CSV file with a header line (UTF-8, BOM allowed), streamed."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        yield from csv.DictReader(handle)
