"""Bulk import of readings and meter events from CSV files: the API's rules, a faster write.

Why a path of its own: the API takes at most MAX_BATCH_ROWS rows a call and looks at every batch
for outages; a backfill is months of history, millions of rows. Here every row is still validated
exactly as the API does it (intake.prepare: the same pydantic models, meter lookup and phase rules),
chunk by chunk, and written
- on PostgreSQL with COPY into a temporary table, then INSERT … SELECT … ON CONFLICT DO NOTHING;
- on SQLite with executemany of INSERT … ON CONFLICT DO NOTHING,
one transaction per chunk. Sub-hourly readings (interval_minutes 15 or 30) go through intake.store_intervals
as the API's do, since each one recomputes its hour. A file of any size streams in constant memory, and an import that was
interrupted (or run twice) stores only what is missing: rows already held are counted as duplicates.
No detection runs here (that is api.flows, above this domain): a backfill is history.
"""
from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter

from sqlalchemy import Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from api.metering import intake
from api.metering.models import MeterEvent, Reading

CHUNK_ROWS = intake.MAX_BATCH_ROWS
KINDS = {
    "readings": (intake.READING_FIELDS, intake.ReadingIn, Reading.__table__),
    "events": (intake.EVENT_FIELDS, intake.EventIn, MeterEvent.__table__),
}


class InputError(Exception):
    """The file cannot be imported at all (missing, not UTF-8, wrong header): nothing to do row by row."""


@dataclass
class FileResult:
    """What became of one file: rows read, stored, already held, refused (rows, not errors)."""

    path: str
    kind: str
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _lines(path: str, on_bytes: Callable[[int], None] | None) -> Iterator[str]:
    """The file's lines, decoded; reading bytes lets the progress bar follow the file's size."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if on_bytes:
                on_bytes(len(raw))
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path} 第{number}行不是UTF-8编码（此前的数据块已导入，修正后重新运行即可）") from exc


@dataclass
class CsvSource:
    """A CSV file whose header has been checked against the API's columns for its kind."""

    path: str
    kind: str
    size: int
    fieldnames: list[str]

    def chunks(self, rows: int, on_bytes: Callable[[int], None] | None = None) -> Iterator[list[tuple[int, dict]]]:
        """(line number in the file, raw row) in chunks; the header is line 1."""
        with closing(_lines(self.path, on_bytes)) as lines:
            reader = csv.DictReader(lines)
            if reader.fieldnames is None:  # reading the names consumes the header line
                return
            reader.fieldnames = self.fieldnames  # as checked (trimmed)
            chunk: list[tuple[int, dict]] = []
            for raw in reader:
                chunk.append((reader.line_num, raw))
                if len(chunk) >= rows:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk


def open_csv(path: str, kind: str) -> CsvSource:
    """Check that the file exists and that its header names the API's columns (required ones present)."""
    allowed, model, _ = KINDS[kind]
    try:
        size = os.path.getsize(path)
        with closing(_lines(path, None)) as lines:
            header = next(csv.reader(lines), None)
    except FileNotFoundError as exc:
        raise InputError(f"文件不存在：{path}") from exc
    except OSError as exc:
        raise InputError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc
    if not header:
        raise InputError(f"{path} 是空文件：第1行须为表头（{','.join(allowed)}）")
    fields = [name.strip() for name in header]
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    problems = []
    if unknown := [f for f in fields if f not in allowed]:
        problems.append(f"未知列 {','.join(unknown) or '（空列名）'}")
    if missing := [f for f in required if f not in fields]:
        problems.append(f"缺少必填列 {','.join(missing)}")
    if repeated := sorted({f for f in fields if fields.count(f) > 1}):
        problems.append(f"重复列 {','.join(repeated)}")
    if problems:
        raise InputError(f"{path} 的表头不对（{'；'.join(problems)}）。{kind} 文件的列为：{','.join(allowed)}")
    return CsvSource(path=path, kind=kind, size=size, fieldnames=fields)


def _naive_utc(value: datetime) -> datetime:
    """How UTCDateTime stores times (timestamp without time zone, in UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None)


def _write_postgresql(session: Session, table: Table, rows: list[dict]) -> int:
    """COPY into a temporary table, then one INSERT … SELECT that skips rows already held; rows stored."""
    columns = [c.name for c in table.columns if c.name != "id"]
    names = ", ".join(columns)
    staging = f"bulk_{table.name}"
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                         f"SELECT {names} FROM {table.name} WITH NO DATA"))
    driver = session.connection().connection.driver_connection  # psycopg 3
    with driver.cursor() as cursor, cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_naive_utc(row[c]) if c == "ts" else row[c] for c in columns])
    return session.execute(text(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
                                "ON CONFLICT DO NOTHING")).rowcount


def _write_sqlite(session: Session, table: Table, rows: list[dict]) -> int:
    """executemany of INSERT … ON CONFLICT DO NOTHING (the API's statement, without its pre-query); rows stored."""
    return session.execute(sqlite.insert(table).on_conflict_do_nothing(), rows).rowcount


def import_file(*, session: Session, source: CsvSource, now: datetime,
                on_error: Callable[[intake.RowError], None],
                on_bytes: Callable[[int], None] | None = None,
                on_chunk: Callable[[FileResult], None] | None = None,
                chunk_rows: int = CHUNK_ROWS) -> FileResult:
    """Validate and store one file chunk by chunk, committing each; errors carry the file's line numbers."""
    _, _, table = KINDS[source.kind]
    write = _write_postgresql if session.get_bind().dialect.name == "postgresql" else _write_sqlite
    meters: dict[str, tuple[int, int] | None] = {}  # looked up once per file, not once per chunk
    result = FileResult(path=source.path, kind=source.kind)
    started = perf_counter()
    for chunk in source.chunks(chunk_rows, on_bytes):
        prepared = intake.prepare(session=session, kind=source.kind, raws=[raw for _, raw in chunk], now=now,
                                  first_row=0, meters=meters)
        if source.kind == "readings":
            hourly, intervals = prepared.split_readings()
            rows = list(hourly.values())
        else:
            rows, intervals = list(prepared.rows.values()), []
        stored = write(session, table, rows) if rows else 0
        if intervals:
            stored += intake.store_intervals(session, intervals)[0]
        session.commit()
        result.rows += len(chunk)
        result.stored += stored
        result.duplicates += prepared.duplicates + len(rows) + len(intervals) - stored
        result.rejected += len({error.row for error in prepared.errors})  # a row may have several errors
        for error in prepared.errors:
            error.row = chunk[error.row][0]
            on_error(error)
        result.seconds = perf_counter() - started
        if on_chunk:
            on_chunk(result)
    result.seconds = perf_counter() - started
    return result
