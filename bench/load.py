"""Load: simulated customers (locust, headless, bounded) against the whole stack in three layouts.

- embedded: what `make demo` runs — one API process on SQLite, one Rasa keeping trackers in a SQLite
  file, no Redis (behind nginx so every layout has the same front);
- scaled-1: PostgreSQL and Redis, nginx before one API process with one Rasa (trackers and locks in Redis);
- scaled-2: the same with two API processes, each with its own Rasa, both on one Redis
  (tests/scaleout.py, the layout of docker-compose.yml).

Every layout gets the same customers (bench/locust_customers.py: a web chat each, knowledge questions,
bill checks with verification, fault reports), the real Rasa, action server and knowledge base (var/kb
when `make kb` built it). Reported per layout: turns and requests served, failures, throughput, p50 / p95
/ p99 per kind; the ratios of scaled-2 to scaled-1 (the baseline, measured in the same run) and of
scaled-1 to embedded. Writes bench/results/load.json.

Run: .venv/bin/python bench/load.py [--users 30] [--seconds 90] [--layouts embedded scaled-1 scaled-2]
(scaled layouts need DATABASE_URL on PostgreSQL and REDIS_URL; nginx from `make system`).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from api.customers.models import Customer  # noqa: E402
from api.db import make_engine, make_sessionmaker  # noqa: E402
from bench.common import machine  # noqa: E402
from tests.conftest import PostgresDatabases  # noqa: E402
from tests.scaleout import missing, scaled_stack  # noqa: E402

LAYOUTS = {"embedded": (1, 1, False), "scaled-1": (1, 1, True), "scaled-2": (2, 2, True)}
KB_DIR = ROOT / "var" / "kb"
RESULTS = ROOT / "bench" / "results" / "load.json"


def accounts(database_url: str, count: int = 40) -> list[list[str]]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.execute(select(Customer.account_no, Customer.mobile).where(
                Customer.customer_class == "居民").order_by(Customer.id).limit(count)).all()
    finally:
        engine.dispose()
    return [[a, m] for a, m in rows]


def run_locust(url: str, workdir: Path, users: int, seconds: int, accounts_file: Path) -> dict:
    """Run the customers against `url`; locust's aggregated and per-kind figures."""
    prefix = workdir / "locust"
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locust_customers.py"), "--headless",
               "--users", str(users), "--spawn-rate", str(max(1, users // 10)), "--run-time", f"{seconds}s",
               "--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "30"]
    with (workdir / "locust.log").open("w") as log:
        subprocess.run(command, cwd=ROOT, env={**os.environ, "LOAD_ACCOUNTS": str(accounts_file)},
                       stdout=log, stderr=subprocess.STDOUT, check=False, timeout=seconds + 180)
    kinds = {}
    with open(f"{prefix}_stats.csv", encoding="utf-8") as stats:
        for row in csv.DictReader(stats):
            kinds[row["Name"]] = {
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "per_second": round(float(row["Requests/s"]), 2),
                "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]), "p99_ms": _ms(row["99%"]),
            }
    failures = {}
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with failures_csv.open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                failures[f"{row['Name']}: {row['Error'][:120]}"] = int(row["Occurrences"])
    total = kinds.pop("Aggregated")
    turns = {k: v for k, v in kinds.items() if k.startswith("turn:")}
    turn_count = sum(v["requests"] for v in turns.values())
    return {"users": users, "seconds": seconds, "total": total, "by_kind": kinds, "failures": failures,
            "turns": turn_count, "turns_per_second": round(turn_count / seconds, 2),
            "turn_p95_ms_worst_kind": max((v["p95_ms"] for v in turns.values()), default=None)}


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)


def run_layout(name: str, workdir: Path, users: int, seconds: int, postgres: PostgresDatabases | None) -> dict:
    apis, rasas, scaled = LAYOUTS[name]
    if scaled:
        database_url, redis_url = postgres.create(), os.environ["REDIS_URL"]
    else:
        database_url, redis_url = f"sqlite:///{workdir / 'embedded.db'}", None
    try:
        with scaled_stack(workdir, database_url=database_url, redis_url=redis_url, apis=apis, rasas=rasas,
                          customers=200, kb_dir=KB_DIR if (KB_DIR / "CURRENT").exists() else None) as stack:
            accounts_file = workdir / "accounts.json"
            accounts_file.write_text(json.dumps(accounts(database_url)), encoding="utf-8")
            figures = run_locust(stack.url, workdir, users, seconds, accounts_file)
    finally:
        if scaled:
            postgres.drop(database_url)
    return {"api_processes": apis, "rasa_processes": rasas,
            "database": "postgresql" if scaled else "sqlite", "redis": bool(redis_url), **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    args = parser.parse_args()
    why = missing()
    if why and any(LAYOUTS[name][2] for name in args.layouts):
        raise SystemExit(f"the scaled layouts {why}")
    postgres = PostgresDatabases(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") else None
    results = {}
    for name in args.layouts:
        with tempfile.TemporaryDirectory(prefix=f"load-{name}-") as tmp:
            print(f"==> {name}: {args.users} customers for {args.seconds} s", flush=True)
            results[name] = run_layout(name, Path(tmp), args.users, args.seconds, postgres)
            print(f"    {results[name]['turns_per_second']} turns/s, p95 {results[name]['total']['p95_ms']} ms, "
                  f"{results[name]['total']['failures']} failures", flush=True)
    ratios = {}
    if {"scaled-1", "scaled-2"} <= results.keys():
        ratios["scaled-2 / scaled-1 turns per second"] = round(
            results["scaled-2"]["turns_per_second"] / results["scaled-1"]["turns_per_second"], 2)
        ratios["scaled-2 / scaled-1 p95"] = round(results["scaled-2"]["total"]["p95_ms"]
                                                  / results["scaled-1"]["total"]["p95_ms"], 2)
    if {"embedded", "scaled-1"} <= results.keys():
        ratios["scaled-1 / embedded turns per second"] = round(
            results["scaled-1"]["turns_per_second"] / results["embedded"]["turns_per_second"], 2)
    run = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "layouts": results, "ratios": ratios}
    report = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    report.update({  # one run per number of customers, each with its own baseline
        "method": __doc__,
        "machine": machine(note="load generator, API, Rasa, action server, nginx, PostgreSQL and Redis share it"),
        "baseline": "scaled-1 (one API, one Rasa on PostgreSQL and Redis), measured in the same run",
    })
    report.setdefault("runs", {})[f"{args.users} customers, {args.seconds} s"] = run
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(ratios, ensure_ascii=False))


if __name__ == "__main__":
    main()
