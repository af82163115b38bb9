"""经营成果 and 工作质量 (GET /api/analytics/business and /quality) on `make demo`-sized data, SQLite and PostgreSQL.

Data. The demo as `make demo` seeds it: 2,000 customers × 90 days of hourly readings (4.32 million rows),
their monthly bills and the audit demo's planted cases, up to a fixed hour (END) so reruns read the same
rows; on PostgreSQL then VACUUM ANALYZE, as autovacuum would leave it (the generator ANALYZEs both).
A database given with --sqlite that already holds the demo is reused.

Timing. api.analytics.business.business and api.analytics.quality.quality (every query of each section)
for the default range (the last 30 days), the last 30 days of one district and the last 90 days; RUNS runs
after one warm-up: p50 / p95 wall time, and the process CPU time (on SQLite the queries run in this
process; on PostgreSQL in the server), plus the p50 of each part of 工作质量.

Baseline, measured in the same run on the default range: the straightforward SQL for the same figures
— readings GROUP BY meter and local day, LAG windows over every meter's readings for the stuck
stretches, GROUP BY meter for the metered kWh of the month — checked against the sections' figures,
reported as baseline / section.

Run: .venv/bin/python bench/business_quality.py [--customers 2000] [--days 90] [--runs 5]
     [--sqlite PATH] [--postgres URL | --no-postgres] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from bench.kb_search import LoadMeter  # noqa: E402
from api.analytics import business, quality, service  # noqa: E402
from api.analytics.service import QueryContext  # noqa: E402
from api.billing.models import Bill  # noqa: E402
from api.core.time import local_day, local_day_sql  # noqa: E402
from api.customers.models import Customer  # noqa: E402
from api.db import make_engine, make_sessionmaker  # noqa: E402
from api.demo.generator import generate, has_demo_data  # noqa: E402
from api.metering.models import Meter, Reading  # noqa: E402
from api.migrate import upgrade  # noqa: E402
from api.settings import Settings  # noqa: E402

END = datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)   # 10:00 in 固原
NOW = END + timedelta(minutes=20)
RESULTS = ROOT / "bench" / "results" / "business_quality.json"


def log(message: str) -> None:
    print(message, flush=True)


def seed(url: str, customers: int, days: int) -> dict:
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    if not has_demo_data(engine):
        generate(engine, seed=Settings().demo_seed, customers=customers, days=days, end=END, progress=None)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("customers", "meters", "readings", "bills")}
    engine.dispose()
    return {**counts, "seed_s": round(time.perf_counter() - started, 1)}


def scenarios() -> dict[str, service.Filters]:
    today = local_day(NOW)

    def last(days: int, district: str | None = None) -> service.Filters:
        return service.make_filters(date_from=(today - timedelta(days=days - 1)).isoformat(),
                                    date_to=today.isoformat(), district=district, type=None, today=today)
    return {"30d": last(30), "30d_district": last(30, "原州区"), "90d": last(90)}


def timed(fn, runs: int) -> dict:
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        c, t = time.process_time(), time.perf_counter()
        fn()
        walls.append(1000 * (time.perf_counter() - t))
        cpus.append(1000 * (time.process_time() - c))
    return {"p50_ms": round(percentile(walls, 0.5), 1), "p95_ms": round(percentile(walls, 0.95), 1),
            "cpu_mean_ms": round(statistics.mean(cpus), 1), "runs_ms": [round(w, 1) for w in walls]}


def time_quality_parts(sessionmaker, f: service.Filters, runs: int) -> dict:
    out = {}
    for name, part in quality.QUERIES.items():
        def run(part=part):
            with sessionmaker() as s:
                part(QueryContext(session=s, f=f, now=NOW))
        out[name] = timed(run, runs)["p50_ms"]
    return out


# ---------------------------------------------------------------- the straightforward SQL, for comparison

def baseline_quality(session, f: service.Filters) -> dict:
    """The figures of the default range by the obvious queries: GROUP BY local day, windows over everything."""
    cutoff = quality.cutoff(f, NOW)
    day = local_day_sql(Reading.ts)
    cells = session.execute(select(Reading.meter_id, day.label("day"), func.count().label("n"))
                            .where(Reading.ts >= f.start, Reading.ts < cutoff).group_by(Reading.meter_id, day)).all()
    received = sum(c.n for c in cells)
    w = {"partition_by": Reading.meter_id, "order_by": Reading.ts}
    lagged = select(Reading.meter_id, Reading.ts, Reading.kwh, func.lag(Reading.kwh).over(**w).label("prev")).where(
        Reading.ts >= f.start, Reading.ts < cutoff).subquery()
    brk = func.sum(func.coalesce((lagged.c.kwh != lagged.c.prev).cast(Reading.meter_id.type), 1)).over(
        partition_by=lagged.c.meter_id, order_by=lagged.c.ts, rows=(None, 0))
    runs = select(lagged.c.meter_id, brk.label("run")).subquery()
    stuck = {r.meter_id for r in session.execute(select(runs.c.meter_id).group_by(runs.c.meter_id, runs.c.run)
                                                 .having(func.count() >= quality.STUCK_HOURS))}
    anomalies = set()
    for month in business.billing_months(f.date_from, f.date_to):
        sums = dict(session.execute(select(Reading.meter_id, func.sum(Reading.kwh)).where(
            Reading.ts >= month.start, Reading.ts < min(month.end, cutoff)).group_by(Reading.meter_id)).all())
        for account, meter_id, billed in session.execute(
                select(Customer.account_no, Meter.id, Bill.kwh).join(Customer, Customer.id == Bill.customer_id)
                .join(Meter, Meter.customer_id == Customer.id).where(Bill.period == month.period)):
            metered = Decimal(repr(float(sums.get(meter_id) or 0)))
            diff = abs(Decimal(repr(float(billed))) - metered)
            if diff > quality.MISMATCH_KWH and diff > quality.MISMATCH_SHARE * metered:
                anomalies.add(account)
    return {"received": received, "stuck_meters": len(stuck), "anomalies": sorted(anomalies)}


def bench_backend(name: str, url: str, *, customers: int, days: int, runs: int) -> dict:
    log(f"{name}: seeding {customers} customers × {days} days …")
    data = seed(url, customers, days)
    log(f"  {data}")
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    load = LoadMeter()
    out: dict = {"data": data, "scenarios": {}}
    for label, f in scenarios().items():
        def run_business(f=f):
            with sessionmaker() as s:
                return business.business(session=s, filters=f, now=NOW)

        def run_quality(f=f):
            with sessionmaker() as s:
                return quality.quality(session=s, filters=f, now=NOW)
        out["scenarios"][label] = {"business": timed(run_business, runs), "quality": timed(run_quality, runs),
                                   "quality_parts_p50_ms": time_quality_parts(sessionmaker, f, runs)}
        b, q = run_business(), run_quality()
        out["scenarios"][label]["figures"] = {
            "periods": b.current.periods, "energy_kwh": str(b.current.energy_kwh), "billed_yuan": str(b.current.billed_yuan),
            "collection_rate": b.current.collection_rate, "arrears_customers": b.current.arrears_customers,
            "completeness": q.kpis.completeness, "expected_hours": q.kpis.expected_hours,
            "stuck_meters": q.kpis.stuck_meters, "billing_anomalies": q.kpis.billing_anomalies}
        s = out["scenarios"][label]
        log(f"  {label}: business p50 {s['business']['p50_ms']} ms, quality p50 {s['quality']['p50_ms']} ms "
            f"(cpu {s['quality']['cpu_mean_ms']} ms; parts {s['quality_parts_p50_ms']})")
    f = scenarios()["30d"]
    with sessionmaker() as session:
        started = time.perf_counter()
        base = baseline_quality(session, f)
        base_ms = 1000 * (time.perf_counter() - started)
        q = quality.quality(session=session, filters=f, now=NOW)
    shown = sorted(r["account_no"] for r in q.tables["billing_anomalies"].rows)
    agree = (base["received"] == q.kpis.received_hours and base["anomalies"] == shown
             and base["stuck_meters"] == q.kpis.zero_meters + q.kpis.frozen_meters)
    section_ms = out["scenarios"]["30d"]["quality"]["p50_ms"]
    out["baseline_30d"] = {"ms": round(base_ms, 1), "ratio_baseline_over_section": round(base_ms / section_ms, 2),
                           "figures_agree": agree, **base}
    log(f"  baseline (straightforward SQL) 30d: {base_ms:.0f} ms, {base_ms / section_ms:.1f}× the section; agree: {agree}")
    out["machine_load_during_run"] = load.report()
    engine.dispose()
    return out


def postgres_database(url: str):
    admin = create_engine(make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)), isolation_level="AUTOCOMMIT")
    name = f"zhidian_bq_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sqlite", default="", help="a SQLite file to seed (or reuse when it holds the demo)")
    parser.add_argument("--postgres", default=os.environ.get("DATABASE_URL", ""),
                        help="server URL (default DATABASE_URL); a throw-away database is created there")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    report = {"benchmark": "supervisor 经营成果 and 工作质量 on make-demo data", "generated_at": datetime.now(timezone.utc)
              .isoformat(timespec="seconds"), "machine": machine(), "customers": args.customers, "days": args.days,
              "runs": args.runs, "now": NOW.isoformat(), "backends": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.sqlite) if args.sqlite else Path(tmp) / "demo.db"
        report["backends"]["sqlite"] = bench_backend("SQLite", f"sqlite:///{path}", customers=args.customers,
                                                     days=args.days, runs=args.runs)
    if args.postgres and not args.no_postgres:
        url, drop = postgres_database(args.postgres)
        try:
            report["backends"]["postgresql"] = bench_backend("PostgreSQL", url, customers=args.customers,
                                                             days=args.days, runs=args.runs)
        finally:
            drop()
    else:
        report["backends"]["postgresql"] = {"skipped": "no PostgreSQL URL (--postgres or DATABASE_URL)"
                                            if not args.no_postgres else "--no-postgres"}
    report["seconds"] = round(time.perf_counter() - started, 1)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
