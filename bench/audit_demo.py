"""Per-rule precision and recall of the audit rules on the demo's planted cases, and the line-loss flags.

Seeds the `make demo` data (2000 customers, 90 days; or --database for an existing demo), loads it
through api.flows.audit_scan, runs every rule over the whole period and judges each finding per
customer and rule:
  true   the rule is planted on that customer (must fire) or is the same anomaly seen by another
         rule (api.demo.audit_cases.ALSO_FIRING);
  false  anything else — split into "background" (the customer's meter logged an event of that kind:
         the demo's scattered 失压/断相/反向电量/开盖 events, real but short) and "unexplained".
Baseline in the same run: the metering system's own alarms, every customer whose meter logged an
event of the rule's kind (only the event rules have one). Writes bench/results/audit_demo.json.

    .venv/bin/python -m bench.audit_demo [--customers 2000] [--days 90] [--database URL]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from api.audit import lineloss, rules
from api.db import make_engine, make_sessionmaker
from api.demo.audit_cases import (
    ACCOUNTS,
    ALSO_FIRING,
    AREA_ANCHOR,
    DESCRIPTIONS,
    HIGH_LOSS_AREA_ROLES,
    LOOKALIKES,
    NEGATIVE_LOSS_AREA_ROLE,
    PLANTED_CASES,
    THEFT,
)
from api.demo.generator import generate
from api.flows.audit_scan import area_members, line_loss, load_frames
from api.metering.models import Reading
from api.migrate import upgrade
from bench.common import machine

RESULTS = Path(__file__).resolve().parent / "results" / "audit_demo.json"
END = datetime.fromisoformat("2026-12-05T02:00:00+00:00")  # fixed, so reruns judge the same data
EVENT_OF_RULE = {"voltage_loss": "失压", "phase_failure": "断相", "reverse_energy": "反向电量", "cover_open": "开盖"}


def judge(findings: list[rules.Finding], events: pd.DataFrame) -> dict:
    """Per rule: planted, found, true/false positives (false split by a logged event), precision, recall."""
    fired: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        fired[f.rule].add(f.customer_id)
    logged: dict[str, set[str]] = {rule: set(events.loc[events["event"] == kind, "customer_id"])
                                   for rule, kind in EVENT_OF_RULE.items()}
    out = {}
    for rule in rules.RULES:
        planted = {a for a, wanted in PLANTED_CASES.items() if rule in wanted}
        allowed = planted | {a for a, also in ALSO_FIRING.items() if rule in also}
        hits = fired[rule]
        true = hits & allowed
        false = hits - allowed
        background = false & logged.get(rule, set())
        found = planted & hits
        row = {
            "planted": len(planted), "found": len(found), "missed": sorted(planted - hits),
            "findings": len(hits), "true_positives": len(true), "false_positives": len(false),
            "false_with_a_logged_event": len(background), "false_unexplained": sorted(false - background),
            "recall": _ratio(len(found), len(planted)), "precision": _ratio(len(true), len(hits)),
            "precision_without_background": _ratio(len(true), len(hits) - len(background)),
        }
        if rule in logged:  # the meter's own alarm as the detector
            alarms = logged[rule]
            row["baseline_meter_alarms"] = {"flagged": len(alarms), "recall": _ratio(len(planted & alarms), len(planted)),
                                            "precision": _ratio(len(alarms & allowed), len(alarms))}
        out[rule] = row
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def line_loss_flags(session, start: datetime, end: datetime) -> dict:
    """Areas and feeders flagged over the last 28 full days, against where the demo planted them."""
    result = line_loss(session, start=start, end=end)
    since = (end - timedelta(days=28)).date().isoformat()
    areas = {r.unit: r for r in lineloss.summarise([r for r in result.areas_daily if r.period >= since], limit=0.07)}
    feeders = {r.unit: r for r in lineloss.summarise([r for r in result.feeders_daily if r.period >= since], limit=0.05)}
    members = area_members(session, area_codes=sorted(areas))
    code_of = {role: next(c for c, accounts in members.items() if account in accounts)
               for role, account in AREA_ANCHOR.items()}
    expected_high = {code_of[r] for r in HIGH_LOSS_AREA_ROLES}
    flagged_high = {u for u, r in areas.items() if r.status == "high"}
    flagged_negative = {u for u, r in areas.items() if r.status == "negative"}
    missing_days = sorted(f"{r.unit} {r.period}" for r in result.areas_daily if r.status == "missing")
    rates = sorted(r.loss_rate for u, r in areas.items() if u not in expected_high and r.loss_rate is not None
                   and r.status != "negative")
    return {
        "areas": len(areas), "expected_high": sorted(expected_high), "flagged_high": sorted(flagged_high),
        "expected_negative": [code_of[NEGATIVE_LOSS_AREA_ROLE]], "flagged_negative": sorted(flagged_negative),
        "missing_area_days": missing_days,
        "high_rates": {u: round(areas[u].loss_rate, 4) for u in sorted(expected_high)},
        "negative_rate": round(areas[code_of[NEGATIVE_LOSS_AREA_ROLE]].loss_rate, 4),
        "other_areas_rate_min_median_max": [round(rates[0], 4), round(float(np.median(rates)), 4), round(rates[-1], 4)],
        "feeders_flagged_high": sorted(u for u, r in feeders.items() if r.status == "high"),
        "feeders_of_high_areas": sorted({result.feeder_of_area[a] for a in expected_high}),
        "feeder_rate_median": round(float(np.median([r.loss_rate for r in feeders.values()])), 4),
    }


def ranking(session, findings: list[rules.Finding], codes: list[str]) -> dict:
    """Where the planted cases land when a high-loss area's customers are ranked by evidence."""
    evidence = lineloss.evidence_scores((f.customer_id, f.severity) for f in findings)
    out = {}
    for code, members in area_members(session, area_codes=codes).items():
        ranked = [c for c, _ in lineloss.rank_customers(members, evidence)]
        out[code] = {"customers": len(members),
                     "planted_rule_cases_at": [ranked.index(a) + 1 for a in PLANTED_CASES if a in members],
                     "steady_thieves_at": [ranked.index(a) + 1 for a in THEFT if a in members and a not in PLANTED_CASES]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--database", help="an existing demo (default: seed a fresh one in a temporary file)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/audit_demo.db"
        seeded = None
        if not args.database:
            upgrade(url)
            engine = make_engine(url)
            summary = generate(engine, seed=args.seed, customers=args.customers, days=args.days, end=END)
            seeded = {"customers": args.customers, "days": args.days, "seed": args.seed, "end": END.isoformat(),
                      "seconds": summary.seconds}
            print(f"seeded {args.customers} customers × {args.days} days in {summary.seconds}s")
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            first, last = session.execute(select(func.min(Reading.ts), func.max(Reading.ts))).one()
            end = last + timedelta(hours=1)
            started = time.perf_counter()
            frames = load_frames(session, start=first, end=end)
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            result = rules.scan(frames.customers, frames.readings, frames.events, frames.bills)
            scan_s = time.perf_counter() - started
            per_rule = judge(result.findings, frames.events)
            fired = defaultdict(set)
            for f in result.findings:
                fired[f.customer_id].add(f.rule)
            lookalikes = {a: {"description": LOOKALIKES[a], "fired": sorted(fired[a])} for a in LOOKALIKES}
            planted = {a: {"case": next(n for n, acc in ACCOUNTS.items() if acc == a), "description": DESCRIPTIONS[a],
                           "must": list(want), "fired": sorted(fired[a])} for a, want in PLANTED_CASES.items()}
            losses = line_loss_flags(session, first, end)
            ranks = ranking(session, result.findings, losses["expected_high"])
        engine.dispose()

    found = sum(r["found"] for r in per_rule.values())
    total = sum(r["planted"] for r in per_rule.values())
    report = {
        "benchmark": "audit rules on the demo's planted cases",
        "machine": machine(numpy=np.__version__, pandas=pd.__version__),
        "seeded": seeded, "customers": len(frames.customers), "readings": len(frames.readings),
        "events": len(frames.events), "bills": len(frames.bills), "load_seconds": round(load_s, 2),
        "scan_seconds": round(scan_s, 2), "findings": len(result.findings), "disabled": result.disabled,
        "planted_found": f"{found}/{total}",
        "lookalikes_quiet": f"{sum(not v['fired'] for v in lookalikes.values())}/{len(lookalikes)}",
        "per_rule": per_rule, "planted": planted, "lookalikes": lookalikes, "line_loss": losses,
        "high_loss_ranking": ranks,
    }
    print(f"planted cases found {found}/{total}; look-alikes quiet {report['lookalikes_quiet']}; "
          f"load {load_s:.1f}s, scan {scan_s:.1f}s, {len(result.findings)} findings")
    print(f"{'rule':<24}{'recall':>8}{'precision':>11}{'w/o bg':>8}{'FP bg':>7}{'FP other':>9}{'alarms P/R':>14}")
    for rule, r in per_rule.items():
        base = r.get("baseline_meter_alarms")
        alarms = f"{base['precision']}/{base['recall']}" if base else "-"
        print(f"{rule:<24}{r['recall']!s:>8}{r['precision']!s:>11}{r['precision_without_background']!s:>8}"
              f"{r['false_with_a_logged_event']:>7}{len(r['false_unexplained']):>9}{alarms:>14}")
    print("line loss:", json.dumps({k: losses[k] for k in ("flagged_high", "expected_high", "flagged_negative",
                                                             "feeders_flagged_high")}, ensure_ascii=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
