"""EV charging benchmarks. Writes bench/results/charging.json, one key per section.

Section "scheduler" — orderly charging (有序充电) against uncontrolled charging on the same sessions.
  Data (seeded, NOT timed): residential transformer areas on 2026-03-02 (a fixed day; nothing depends
  on today's date), each with an evening-peak base load reaching ~78 % of its capacity near 19:30
  (planning.evening_base_load) and a day of EV sessions (planning.synthetic_sessions: 70 % home
  charging arriving ~18:30 and leaving the next morning at 7–11 kW, most allowing delay; 20 % daytime
  visits of 1–4 h; 10 % DC top-ups of 30–60 kW that allow no delay; some ask more than their stay
  allows). Tariff: scheduler.DEFAULT_TARIFF (谷 22–08 0.3236, 峰 08–11 / 17–22 0.8236, 平 0.6236 元/kWh).
  Cases: 4 areas × 50 EVs (capacities 400/320/500/360 kW), 4 areas × 250 EVs = 1,000 EVs
  (capacities ×5), and a dense one: 4 × 120 EVs on the first case's transformers, where the valley
  is too small for everyone and the limit costs energy.
  Baseline, in the same run: uncontrolled — every car at its max_kw from arrival until full or gone.
  Ours: the scheduler run online as the central system would (planning.replay_orderly: re-plan at
  every step in which a car arrives or leaves, with only the cars plugged in and what they have had),
  with the LP and with the greedy method. Figures per case, summed over areas: peak (per area, as
  a ratio to capacity and orderly / uncontrolled), minutes over capacity, energy delivered by
  departure, sessions fully served, cost of the charging energy; and the ratios orderly / uncontrolled.
  "Deliverable" is what each car's own max_kw over its stay allows (the most any scheduler can give).
  Plan time: one full 24-hour plan of one area with all sessions known (50, 200, 1,000 EVs; median of
  3), LP and greedy; and per re-plan in the online replays (mean, p95, count).

Section "chargers" — 1,000 simulated OCPP chargers connected at once to one API process (messages/s,
round-trip p95 against a lone charger's, memory): see bench/charging_connections.py.
`main` keeps the sections already in the JSON that it did not run.

Run: .venv/bin/python bench/charging.py [--section scheduler|chargers] [--chargers 1000] [--seed 20261205] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.charging.planning import (
    evening_base_load,
    replay_orderly,
    replay_uncontrolled,
    synthetic_sessions,
)
from api.charging.scheduler import DEFAULT_TARIFF, plan
from api.core.time import LOCAL_TZ
from bench.charging_connections import bench_chargers
from bench.common import machine, percentile

RESULTS = ROOT / "bench" / "results" / "charging.json"
DAY = datetime(2026, 3, 2, tzinfo=LOCAL_TZ)
SEED = 20261205
AREA_CAPACITIES_KW = (400.0, 320.0, 500.0, 360.0)
# EVs per area, capacity scale; the dense case packs 2.4× the cars on the same transformers (the limit binds)
CASES = {"4_areas_x_50_evs": (50, 1), "4_areas_x_250_evs": (250, 5), "dense_4_areas_x_120_evs": (120, 1)}
PLAN_SIZES = ((50, 400.0), (200, 1300.0), (1000, 6000.0))  # EVs on one area, its capacity


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _area(seed: int, case: str, area: int, evs: int, capacity: float):
    rng = np.random.default_rng([seed, area, evs])
    base = evening_base_load(rng, day_start=DAY, capacity_kw=capacity)
    sessions = synthetic_sessions(rng, n=evs, day_start=DAY, prefix=f"{case}-{area}")
    return base, sessions


def _case(seed: int, case: str, evs: int, scale: float) -> dict:
    """Uncontrolled vs orderly (LP, greedy) on the same areas and sessions."""
    sides = {"uncontrolled": [], "orderly_lp": [], "orderly_greedy": []}
    replan_seconds = {"orderly_lp": [], "orderly_greedy": []}
    replay_seconds = {"orderly_lp": 0.0, "orderly_greedy": 0.0}
    deliverable = 0.0
    for area, cap0 in enumerate(AREA_CAPACITIES_KW):
        capacity = cap0 * scale
        base, sessions = _area(seed, case, area, evs, capacity)
        deliverable += sum(min(s.kwh_requested, s.max_kw * (s.departure - s.arrival).total_seconds() / 3600)
                           for s in sessions)
        free = replay_uncontrolled(sessions, base_kw=base)
        m = free.metrics(sessions, capacity)
        sides["uncontrolled"].append({**m, "capacity_kw": capacity, "base_peak_kw": round(float(free.base.max()), 3)})
        for method in ("lp", "greedy"):
            t0 = time.perf_counter()
            ordered = replay_orderly(sessions, capacity_kw=capacity, base_kw=base, method=method)
            replay_seconds[f"orderly_{method}"] += time.perf_counter() - t0
            replan_seconds[f"orderly_{method}"] += ordered.plan_seconds or []
            m = ordered.metrics(sessions, capacity)
            sides[f"orderly_{method}"].append({**m, "capacity_kw": capacity, "plans": ordered.plans})

    def total(rows: list[dict]) -> dict:
        return {
            "peak_kw_per_area": [r["peak_kw"] for r in rows],
            "peak_over_capacity_max": round(max(r["peak_kw"] / r["capacity_kw"] for r in rows), 4),
            "minutes_over_capacity": sum(r["minutes_over_capacity"] for r in rows),
            "energy_requested_kwh": round(sum(r["energy_requested_kwh"] for r in rows), 3),
            "energy_delivered_on_time_kwh": round(sum(r["energy_delivered_kwh"] for r in rows), 3),
            "sessions_fully_served": sum(r["sessions_fully_served"] for r in rows),
            "cost_yuan": round(sum(r["cost_yuan"] for r in rows), 2),
        }

    out: dict = {"areas": len(AREA_CAPACITIES_KW), "evs_per_area": evs, "evs": evs * len(AREA_CAPACITIES_KW),
                 "capacity_kw_per_area": [c * scale for c in AREA_CAPACITIES_KW],
                 "base_peak_kw_per_area": [r["base_peak_kw"] for r in sides["uncontrolled"]],
                 "deliverable_kwh": round(deliverable, 3)}
    totals = {name: total(rows) for name, rows in sides.items()}
    out.update(totals)
    free = totals["uncontrolled"]
    for method in ("lp", "greedy"):
        ours = totals[f"orderly_{method}"]
        peaks = [o / u for o, u in zip(ours["peak_kw_per_area"], free["peak_kw_per_area"])]
        out[f"orderly_{method}_over_uncontrolled"] = {
            "peak_kw_mean_over_areas": round(statistics.fmean(peaks), 4),
            "peak_kw_max_over_areas": round(max(peaks), 4),
            "minutes_over_capacity": _ratio(ours["minutes_over_capacity"], free["minutes_over_capacity"]),
            "energy_delivered_on_time": _ratio(ours["energy_delivered_on_time_kwh"], free["energy_delivered_on_time_kwh"]),
            "sessions_fully_served": _ratio(ours["sessions_fully_served"], free["sessions_fully_served"]),
            "cost_yuan": _ratio(ours["cost_yuan"], free["cost_yuan"]),
            "cost_per_kwh": _ratio(ours["cost_yuan"] / ours["energy_delivered_on_time_kwh"],
                                   free["cost_yuan"] / free["energy_delivered_on_time_kwh"]),
        }
        secs = replan_seconds[f"orderly_{method}"]
        out[f"orderly_{method}"]["replans"] = len(secs)
        out[f"orderly_{method}"]["replan_seconds_mean"] = round(statistics.fmean(secs), 4) if secs else None
        out[f"orderly_{method}"]["replan_seconds_p95"] = round(percentile(secs, 0.95), 4) if secs else None
        out[f"orderly_{method}"]["replay_seconds_total"] = round(replay_seconds[f"orderly_{method}"], 2)
    return out


def _plan_times(seed: int) -> list[dict]:
    """One full 24-hour plan of one area, all sessions known: seconds (median of 3) and what it gives."""
    rows = []
    for evs, capacity in PLAN_SIZES:
        rng = np.random.default_rng([seed, 99, evs])
        base = evening_base_load(rng, day_start=DAY, capacity_kw=capacity)
        sessions = synthetic_sessions(rng, n=evs, day_start=DAY)
        row: dict = {"evs": evs, "capacity_kw": capacity}
        for method in ("lp", "greedy"):
            times, p = [], None
            for _ in range(3):
                t0 = time.perf_counter()
                p = plan(sessions, capacity_kw=capacity, base_kw=base, method=method)
                times.append(time.perf_counter() - t0)
            load = p.load_kw()
            row[method] = {"seconds_median": round(statistics.median(times), 4), "steps": p.steps,
                           "max_load_over_capacity": round(float(load.max()) / capacity, 4),
                           "planned_kwh": round(sum(sp.planned_kwh for sp in p.sessions.values()), 3),
                           "cannot_meet": len(p.cannot_meet()), "cost_yuan": float(p.cost_yuan())}
        rows.append(row)
    return rows


def bench_scheduler(seed: int = SEED) -> dict:
    """Orderly vs uncontrolled on the same sessions, and plan times."""
    cases = {}
    for name, (evs, scale) in CASES.items():
        print(f"scheduler: {name} …", flush=True)
        cases[name] = _case(seed, name, evs, scale)
    print("scheduler: plan times …", flush=True)
    return {
        "parameters": {
            "day_local": DAY.date().isoformat(), "timezone": "Asia/Shanghai", "seed": seed, "step_minutes": 15,
            "tariff_yuan_per_kwh": {b.name + f" {b.start_minute // 60:02d}-{b.end_minute // 60:02d}": str(b.price)
                                    for b in DEFAULT_TARIFF.bands},
            "base_load": "evening peak ~78 % of capacity near 19:30, night ~37 %, 3 % noise (evening_base_load)",
            "sessions": "70 % home (arrive ~18:30, leave ~07:30, 7–11 kW, 85 % allow delay), 20 % daytime 1–4 h, "
                        "10 % DC 30–60 kW no delay (synthetic_sessions)",
            "baseline": "uncontrolled: max_kw from arrival until full or departure",
            "orderly": "online: re-plan at each step with an arrival or departure, plugged-in cars only",
            "peak": "highest 15-minute mean of base + charging",
        },
        "cases": cases,
        "plan_time_one_area_24h": _plan_times(seed),
    }


def _print_scheduler(result: dict) -> None:
    for name, c in result["cases"].items():
        free = c["uncontrolled"]
        print(f"\n{name}: {c['evs']} EVs, requested {free['energy_requested_kwh']:.0f} kWh, "
              f"deliverable {c['deliverable_kwh']:.0f} kWh")
        for side in ("uncontrolled", "orderly_lp", "orderly_greedy"):
            r = c[side]
            extra = (f"  re-plans {r['replans']} (mean {r['replan_seconds_mean'] * 1000:.0f} ms, "
                     f"p95 {r['replan_seconds_p95'] * 1000:.0f} ms)") if "replans" in r else ""
            print(f"  {side:15} peak/cap max {r['peak_over_capacity_max']:.2f}  over cap {r['minutes_over_capacity']:4d} min  "
                  f"on time {r['energy_delivered_on_time_kwh']:8.1f} kWh  served {r['sessions_fully_served']:4d}  "
                  f"cost {r['cost_yuan']:9.2f} 元{extra}")
        for method in ("lp", "greedy"):
            q = c[f"orderly_{method}_over_uncontrolled"]
            print(f"  orderly_{method}/uncontrolled: peak {q['peak_kw_mean_over_areas']:.3f} (mean of areas)  "
                  f"energy on time {q['energy_delivered_on_time']:.3f}  served {q['sessions_fully_served']:.3f}  "
                  f"cost {q['cost_yuan']:.3f}  cost/kWh {q['cost_per_kwh']:.3f}")
    print("\nfull 24 h plan of one area:")
    for row in result["plan_time_one_area_24h"]:
        print(f"  {row['evs']:5d} EVs  LP {row['lp']['seconds_median']:.3f} s  greedy {row['greedy']['seconds_median']:.3f} s  "
              f"(cost LP {row['lp']['cost_yuan']:.2f} / greedy {row['greedy']['cost_yuan']:.2f} 元)")


def _print_chargers(result: dict) -> None:
    lone, real, sat = (result["baseline_lone_charger_back_to_back"], result["realistic_pace"],
                       result["saturation_back_to_back"])
    print(f"\n{result['chargers']} chargers on one API process: connected and started in "
          f"{real['connect_and_start_seconds']} s; RSS {result['api_rss_mb']['idle']} → "
          f"{result['api_rss_mb']['chargers_connected']} MB ({result['api_rss_mb']['per_charger_kb']} kB each)")
    print(f"  realistic (MeterValues every {result['pace_seconds']:.0f} s): {real['messages_per_second']} msg/s, "
          f"p50 {real['round_trip_ms']['p50']} ms, p95 {real['round_trip_ms']['p95']} ms")
    print(f"  saturation: {sat['messages_per_second']} msg/s, p95 {sat['round_trip_ms']['p95']} ms")
    print(f"  lone charger: p95 {lone['round_trip_ms']['p95']} ms; ratio p95 realistic / lone "
          f"{result['ratio_p95_realistic_vs_lone']}")


SECTIONS = {"scheduler": (bench_scheduler, _print_scheduler), "chargers": (bench_chargers, _print_chargers)}


def main(argv: list[str] | None = None) -> int:
    """Run the sections asked for and merge them into bench/results/charging.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS),
                        help="run only this section (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chargers", type=int, default=1000, help="chargers connected at once (section chargers)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    report: dict = {}
    if RESULTS.exists():
        try:
            report = json.loads(RESULTS.read_text(encoding="utf-8"))
        except ValueError:
            report = {}
    report.update({"benchmark": "charging", "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "machine": machine(numpy=np.__version__, scipy=scipy.__version__)})
    for name in args.section or sorted(SECTIONS):
        run, show = SECTIONS[name]
        report[name] = run(args.seed) if name == "scheduler" else run(chargers=args.chargers)
        show(report[name])
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwritten {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
