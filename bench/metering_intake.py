"""Metering intake: readings per second through the API, through the bulk CLI, and a row-by-row ORM
insert as the baseline, on SQLite and on PostgreSQL, all in the same run and on the same data.

Database: a fresh migrated database with METERS meters from the demo generator (1 day of demo
readings, a few three-phase meters among them). Each path gets its own copy of it (SQLite: a file
copy; PostgreSQL: CREATE DATABASE … TEMPLATE), so each one starts from the same table size.

Data (not timed): ROWS hourly readings, hour after hour for every meter (as the metering system
sends them), starting 60 days before now — before the demo's data, so every row is new. Values
are seeded and in range (single-phase: A only; three-phase: A, B, C). Timestamps are Beijing time
without a zone, as the metering system writes them.

(a) API: the real app under uvicorn in its own process (`uvicorn api.main:create_app --factory`,
    one process, background workers off), one client posting JSON batches of BATCH rows one after
    the other (bodies encoded before timing). Each request runs everything the API does: the
    row-by-row validation, the meter lookup, the duplicate pre-query, INSERT … ON CONFLICT DO
    NOTHING, commit and detection on arrival for the touched areas.
(a') API, 15-minute readings: the same, with ROWS quarter-hour readings (interval_minutes 15,
    quarter after quarter for every meter, as a meter collected at 96 points a day reports): each
    request also recomputes the hours its quarters fall in.
(b) CLI: `python -m api.metering import --readings FILE` as a process (the CSV written before
    timing); wall time of the whole process, interpreter start included; the CLI's own figure
    (reading and validating the file, writing; no start-up) is reported next to it.
(c) Baseline: the plain ORM way, one row at a time: session.add(Reading(...)); session.commit()
    per row, meter ids resolved beforehand and no validation (both favour the baseline); timed on
    the first BASELINE_ROWS rows only, so its rate is measured on a sample and the time for ROWS
    is an EXTRAPOLATION (said so in the JSON).

Figures: rows/s of each path, ratios to the baseline, and how many meters one API process can take
at 96 points a day (= 15-minute API rows/s × 86400 / 96) and at 24 points a day (hourly API rows/s ×
86400 / 24).

Run: .venv/bin/python bench/metering_intake.py [--meters 2000] [--rows 200000] [--batch 5000]
     [--baseline-rows 5000] [--postgres URL | --postgres none] [--no-write]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.core.time import LOCAL_TZ
from api.db import make_engine, make_sessionmaker
from api.demo.generator import generate
from api.metering.intake import READING_FIELDS
from api.metering.models import Meter, Reading
from api.migrate import upgrade
from bench.common import machine
from tests.conftest import TEST_METERING_TOKEN, PostgresDatabases
from tests.resilience.processes import ApiProcess

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 20261215
POINTS_A_DAY = 96


def reading_rows(meters: list[tuple[str, int]], rows: int, seed: int = SEED, minutes: int = 60) -> list[dict]:
    """`rows` readings of `minutes` each, every meter interval after interval, from 60 days ago; seeded,
    physically sensible."""
    rng = random.Random(seed)
    start = (datetime.now(UTC) - timedelta(days=60)).replace(minute=0, second=0, microsecond=0)
    out: list[dict] = []
    step = 0
    while len(out) < rows:
        ts = (start + timedelta(minutes=minutes * step)).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
        for meter_no, phases in meters:
            kw = round(rng.uniform(0.1, 3.0) * (6 if phases == 3 else 1), 3)
            row = {"meter_no": meter_no, "ts": ts, "kwh": round(kw * minutes / 60, 3), "kw": kw,
                   "voltage_a": round(rng.gauss(224, 4), 1),
                   "current_a": round(kw * 1000 / 220 / (3 if phases == 3 else 1), 2)}
            if minutes != 60:
                row["interval_minutes"] = minutes
            if phases == 3:
                row.update(voltage_b=round(rng.gauss(224, 4), 1), current_b=row["current_a"],
                           voltage_c=round(rng.gauss(224, 4), 1), current_c=row["current_a"])
            out.append(row)
            if len(out) == rows:
                break
        step += 1
    return out


class Databases:
    """A migrated, seeded template per backend and private copies of it for each path."""

    def __init__(self, backend: str, work: Path, postgres_url: str | None):
        self.backend, self.work = backend, work
        self.server = PostgresDatabases(postgres_url) if backend == "postgresql" else None
        self.copies: list[str] = []
        self.template = self.server.create() if self.server else f"sqlite:///{work / 'template.db'}"

    def seed(self, meters: int) -> list[tuple[str, int]]:
        upgrade(self.template)
        engine = make_engine(self.template)
        try:
            generate(engine, seed=SEED, customers=meters, days=1)
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(select(Meter.meter_no, Meter.phases).order_by(Meter.id))]
        finally:
            engine.dispose()

    def copy(self, name: str) -> str:
        if self.server:
            url = self.server.create(template=sqlalchemy.engine.make_url(self.template).database)
        else:
            target = self.work / f"{name}.db"
            shutil.copyfile(self.template.split("///", 1)[1], target)
            url = f"sqlite:///{target}"
        self.copies.append(url)
        return url

    def drop(self) -> None:
        if self.server:
            for url in [*self.copies, self.template]:
                self.server.drop(url)
            self.server.admin.dispose()


def count_readings(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Reading))
    finally:
        engine.dispose()


def through_api(url: str, rows: list[dict], batch: int, work: Path, hours_made: int | None = None) -> dict:
    """Batches of JSON posted one after the other to the API in its own uvicorn process; `hours_made` is how
    many hourly readings the rows make (the rows themselves when they are hourly)."""
    before = count_readings(url)
    bodies = [json.dumps({"readings": rows[i:i + batch]}).encode() for i in range(0, len(rows), batch)]
    api = ApiProcess(work, database_url=url, background_workers="false", proactive_jobs="false",
                     metering_token=TEST_METERING_TOKEN)
    api.start()
    stored = duplicates = rejected = 0
    latencies = []
    try:
        with httpx.Client(base_url=api.url, timeout=300, headers={
                "Authorization": f"Bearer {TEST_METERING_TOKEN}", "Content-Type": "application/json"}) as http:
            started = time.perf_counter()
            for body in bodies:
                t0 = time.perf_counter()
                response = http.post("/api/metering/readings", content=body)
                latencies.append(time.perf_counter() - t0)
                response.raise_for_status()
                data = response.json()
                stored, duplicates, rejected = (stored + data["stored"], duplicates + data["duplicates"],
                                                rejected + data["rejected"])
            seconds = time.perf_counter() - started
    finally:
        api.stop()
    assert (stored, rejected) == (len(rows), 0), (stored, duplicates, rejected)
    assert count_readings(url) == before + (len(rows) if hours_made is None else hours_made)
    return {"rows": len(rows), "batch_rows": batch, "requests": len(bodies), "seconds": round(seconds, 2),
            "rows_per_second": round(len(rows) / seconds), "stored": stored,
            "request_seconds_min_median_max": [round(min(latencies), 3), round(sorted(latencies)[len(latencies) // 2], 3),
                                               round(max(latencies), 3)]}


def through_cli(url: str, rows: list[dict], work: Path) -> dict:
    """`python -m api.metering import` as its own process on a CSV of the same rows."""
    before = count_readings(url)
    path = work / "readings.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=READING_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "api.metering", "import", "--readings", str(path),
                           "--database-url", url, "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the CLI failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    own = re.search(r"新存 (\d+).*用时 ([\d.]+) 秒", done.stdout)
    assert int(own.group(1)) == len(rows), done.stdout
    assert count_readings(url) == before + len(rows)
    return {"rows": len(rows), "seconds": round(seconds, 2), "rows_per_second": round(len(rows) / seconds),
            "cli_own_seconds": float(own.group(2)),
            "cli_own_rows_per_second": round(len(rows) / float(own.group(2))),
            "csv_mb": round(path.stat().st_size / 1e6, 1), "summary": done.stdout.strip()}


def baseline(url: str, rows: list[dict], meters: dict[str, int]) -> dict:
    """The plain ORM: one Reading added and committed per row."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            prepared = [(meters[r["meter_no"]], datetime.strptime(r["ts"], "%Y-%m-%d %H:%M:%S")
                         .replace(tzinfo=LOCAL_TZ).astimezone(UTC), r) for r in rows]
            started = time.perf_counter()
            for meter_id, ts, r in prepared:
                session.add(Reading(meter_id=meter_id, ts=ts, kwh=r["kwh"], kw=r["kw"], voltage_a=r["voltage_a"],
                                    current_a=r["current_a"], voltage_b=r.get("voltage_b"),
                                    current_b=r.get("current_b"), voltage_c=r.get("voltage_c"),
                                    current_c=r.get("current_c")))
                session.commit()
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"rows_sampled": len(rows), "seconds": round(seconds, 2), "rows_per_second": round(len(rows) / seconds)}


def run_backend(backend: str, args, postgres_url: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"zhidian-intake-{backend}-"))
    dbs = Databases(backend, work, postgres_url)
    try:
        t0 = time.perf_counter()
        meters = dbs.seed(args.meters)
        rows = reading_rows(meters, args.rows)
        print(f"[{backend}] {len(meters)} meters seeded, {len(rows):,} rows built ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        api = through_api(dbs.copy("api"), rows, args.batch, work)
        print(f"[{backend}] API  {api['rows_per_second']:>8,} rows/s ({api['seconds']} s)", flush=True)
        quarters = reading_rows(meters, args.rows, minutes=15)
        hours = len({(r["meter_no"], r["ts"][:13]) for r in quarters})
        api_q = through_api(dbs.copy("api_quarters"), quarters, args.batch, work, hours_made=hours)
        print(f"[{backend}] API  {api_q['rows_per_second']:>8,} rows/s, 15-minute readings ({api_q['seconds']} s)",
              flush=True)
        cli = through_cli(dbs.copy("cli"), rows, work)
        print(f"[{backend}] CLI  {cli['rows_per_second']:>8,} rows/s ({cli['seconds']} s; "
              f"{cli['cli_own_rows_per_second']:,} rows/s without start-up)", flush=True)
        base_url = dbs.copy("baseline")
        engine = make_engine(base_url)
        with engine.connect() as conn:
            ids = dict(conn.execute(select(Meter.meter_no, Meter.id)).tuples().all())
        engine.dispose()
        base = baseline(base_url, rows[:args.baseline_rows], ids)
        base["extrapolated_seconds_for_all_rows"] = round(len(rows) / base["rows_per_second"], 1)
        print(f"[{backend}] ORM  {base['rows_per_second']:>8,} rows/s (row by row, {base['rows_sampled']:,} rows)",
              flush=True)
        return {
            "meters": len(meters), "three_phase_meters": sum(1 for _, p in meters if p == 3),
            "api": api, "api_15_minute_readings": api_q, "cli": cli, "baseline_orm_row_by_row": base,
            "ratio_api_to_baseline": round(api["rows_per_second"] / base["rows_per_second"], 1),
            "ratio_cli_to_baseline": round(cli["rows_per_second"] / base["rows_per_second"], 1),
            "ratio_cli_to_api": round(cli["rows_per_second"] / api["rows_per_second"], 1),
            "ratio_api_15_minute_to_baseline": round(api_q["rows_per_second"] / base["rows_per_second"], 1),
            "meters_one_api_process_takes_at_96_points_a_day": int(api_q["rows_per_second"] * 86400 / POINTS_A_DAY),
            "meters_one_api_process_takes_at_24_points_a_day": int(api["rows_per_second"] * 86400 / 24),
        }
    finally:
        dbs.drop()
        shutil.rmtree(work, ignore_errors=True)


def postgres_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                                          connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 — any failure means: skip PostgreSQL, say why
        return str(exc).splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000, help="rows per API request")
    parser.add_argument("--baseline-rows", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES,
                        help=f"server for the PostgreSQL runs (default {DEFAULT_POSTGRES}; 'none' to skip)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    started = time.perf_counter()
    backends = {"sqlite": run_backend("sqlite", args, None)}
    postgres_note = None
    if args.postgres.lower() == "none" or not args.postgres.startswith("postgres"):
        postgres_note = "PostgreSQL not run (--postgres none)"
    elif why := postgres_reachable(args.postgres):
        postgres_note = f"PostgreSQL skipped: {args.postgres} not reachable ({why})"
    else:
        backends["postgresql"] = run_backend("postgresql", args, args.postgres)
    if postgres_note:
        print(postgres_note)
    report = {
        "benchmark": "metering_intake",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(sqlalchemy=sqlalchemy.__version__, httpx=httpx.__version__),
        "load_average_1_5_15_at_start": [round(v, 2) for v in load_at_start],
        "load_average_1_5_15_at_end": [round(v, 2) for v in os.getloadavg()],
        "note": ("2 cores shared with other work during the run (see the load averages); the API server, its "
                 "client and the database share them too"),
        "rows": args.rows, "api_batch_rows": args.batch,
        "how": {
            "api": "uvicorn process (background workers off), one client posting pre-encoded JSON batches "
                   "sequentially; full request: validation, meter lookup, duplicate pre-query, insert, commit, "
                   "detection on arrival",
            "cli": "python -m api.metering import as a process, wall time incl. interpreter start; PostgreSQL: "
                   "COPY into a temp table + INSERT … SELECT … ON CONFLICT DO NOTHING; SQLite: executemany "
                   "INSERT … ON CONFLICT DO NOTHING; 10,000 rows per transaction",
            "baseline": "ORM row by row: session.add(Reading(...)); session.commit() per row, no validation, meter "
                        "ids resolved beforehand; timed on the first baseline rows only — its rate is measured on "
                        "that sample and its time for all rows is an EXTRAPOLATION",
            "api_15_minute_readings": "as api, with 15-minute readings (interval_minutes 15): kept in "
                                      "reading_intervals, and each request recomputes the hours they fall in",
            "meters_per_api_process": "15-minute API rows/s × 86400 / 96 (one process, sequential batches; a "
                                      "reading every 15 minutes); the _24_ figure is hourly API rows/s × 86400 / 24",
        },
        "postgres_note": postgres_note,
        "backends": backends,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({k: v for k, v in report.items() if k != "how"}, ensure_ascii=False, indent=2))
    if not args.no_write:
        path = ROOT / "bench" / "results" / "metering_intake.json"
        path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
