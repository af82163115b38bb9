"""Load forecasting: accuracy of each model against seasonal naive, and the cost of 10,000 series.

(a) Synthetic hourly series whose truth is known: a daily shape of one of three kinds (residential
    evening peak, commercial daytime, industrial flat), a weekly rest-day factor, Chinese statutory
    holidays from chinese_calendar (the Spring Festival deepest), 调休 working weekends, a heating
    and cooling response to a synthetic temperature, and noise (per hour lognormal σ 0.06–0.15 and
    per day σ 0.04). 10 weeks up to 2026-10-12 (Shanghai), so the evaluated week holds the end of
    National Day and the 调休 Saturday of 10 October. Rolling-origin day-ahead backtest (horizon
    24 h, 7 origins, every model refitted at every origin, the observed temperature as the weather
    forecast).
(b) The demo data (api.demo: 2,000 customers, 44 areas, 11 feeders, 90 days; seeded into a
    temporary SQLite file, or --db for an existing one): the same backtest per level on the last
    8 weeks, the load summed in SQL as the service does (customers: an evenly spaced sample).
    Then the service's customer forecast on demand with the stored global model: latency.
(c) Train + forecast time for 10,000 synthetic series of 8 weeks hourly (48-hour forecast), each
    model, LightGBM on 2 threads. The global model samples 200,000 training rows however many
    series there are, so its training time stays flat; feature building and prediction grow with
    the series.

Reported per model: MAPE and sMAPE (%), RMSE, MASE (season 24), P10–P90 coverage, and each
model's ratio to seasonal naive in the same run. The acceptance bar: the global model's MAPE at
day-ahead at most 0.8 × seasonal naive's (≥ 20 % better).
Run: .venv/bin/python bench/forecasting.py   [--series 10000] [--synthetic 200] [--origins 7]
     [--customers 300] [--db var/zhidian.db] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from api.forecasting import backtest as bt  # noqa: E402
from api.forecasting.features import Panel, calendar_features  # noqa: E402
from api.forecasting.forecasters import GlobalGBM, SeasonalNaive, Statistical  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "forecasting.json"
SYNTH_END = "2026-10-12T15:00:00"  # 23:00 on 12 October in Shanghai
HORIZON = 24
TARGET_RATIO = 0.8


def synthetic_panel(n_series: int, days: int, *, end: str = SYNTH_END, seed: int = 0) -> tuple[Panel, dict]:
    """Known daily + weekly shape, holidays, temperature response and noise (see the module doc)."""
    rng = np.random.default_rng(seed)
    T = days * 24
    times = np.datetime64(end, "s") - np.timedelta64(3600, "s") * np.arange(T)[::-1]
    cal = calendar_features(times)
    hour = cal["hour"]
    rest = cal["is_workday"] == 0
    holiday = cal["is_holiday"] > 0
    spring = cal["is_spring_festival"] > 0
    h = np.arange(24)
    shapes = np.vstack([
        1 + 0.25 * np.cos(2 * np.pi * (h - 8) / 24) + 0.6 * np.exp(-0.5 * ((h - 20) / 2.0) ** 2),  # residential
        0.4 + 1.0 * np.exp(-0.5 * ((h - 13) / 3.5) ** 2),  # commercial
        1 - 0.05 * np.cos(2 * np.pi * h / 24),  # industrial
    ])
    shapes /= shapes.mean(axis=1, keepdims=True)
    kind = rng.integers(0, 3, n_series)
    level = rng.lognormal(1.0, 1.2, n_series)
    rest_factor = np.array([1.08, 0.7, 0.9])[kind]
    holiday_factor = np.array([1.12, 0.55, 0.6])[kind]
    spring_factor = np.array([1.2, 0.35, 0.3])[kind]
    heat = rng.uniform(0.0, 0.04, n_series)
    cool = rng.uniform(0.0, 0.05, n_series)
    sigma_h = rng.uniform(0.06, 0.15, n_series)
    day_index = np.arange(T) // 24
    t_days = np.arange(T) / 24.0
    temp = (16 + 9 * np.cos(2 * np.pi * (t_days - 20) / 120) + 5 * np.cos(2 * np.pi * (hour - 15) / 24)
            + np.repeat(rng.normal(0, 2.0, days), 24)[:T])
    y = np.empty((n_series, T))
    for start in range(0, n_series, 2000):  # blocks keep the memory of 10,000 × 1,344 modest
        rows = slice(start, min(n_series, start + 2000))
        n = rows.stop - rows.start
        base = shapes[kind[rows]][:, hour]
        day = np.where(rest[None, :], rest_factor[rows, None], 1.0)
        day = np.where(holiday[None, :], holiday_factor[rows, None], day)
        day = np.where(spring[None, :], spring_factor[rows, None], day)
        weather = 1 + heat[rows, None] * np.maximum(14 - temp, 0) + cool[rows, None] * np.maximum(temp - 24, 0)
        noise = (rng.lognormal(0, 1, (n, T)) ** sigma_h[rows, None]
                 * np.exp(rng.normal(0, 0.04, (n, days))[:, day_index]))
        y[rows] = level[rows, None] * base * day * weather * noise
    panel = Panel(keys=[f"syn{i:05d}" for i in range(n_series)], times=times, y=y,
                  temperature=np.broadcast_to(temp, (n_series, T)).copy())
    truth = {"series": n_series, "days": days, "end_utc": end, "kinds": ["residential", "commercial", "industrial"],
             "noise_hourly_sigma": [0.06, 0.15], "noise_daily_sigma": 0.04,
             "holidays_in_data": int(np.unique(cal["local_day"][holiday]).size),
             "workday_weekends_in_data": int(np.unique(cal["local_day"][(cal["is_workday"] > 0)
                                                                        & (cal["dow"] >= 5)]).size)}
    return panel, truth


def summarize(result: dict) -> dict:
    """The backtest JSON with the global model's ratio to seasonal naive checked against the bar."""
    gbm = result["vs_baseline"].get("global_gbm", {})
    ratio = gbm.get("MAPE")
    return {**result, "global_vs_naive_MAPE": ratio,
            "meets_target": ratio is not None and ratio <= TARGET_RATIO}


def part_a(n_series: int, origins: int) -> dict:
    panel, truth = synthetic_panel(n_series, 70, seed=1)
    started = time.perf_counter()
    result = summarize(bt.backtest(panel, horizon=HORIZON, origins=origins))
    return {"data": truth, "seconds": round(time.perf_counter() - started, 1), **result}


def demo_database(path: str | None) -> tuple[str, str | None]:
    """URL of the demo database: the one given, else a fresh temporary seed (and its directory)."""
    if path:
        return f"sqlite:///{Path(path).resolve()}", None
    from api.db import make_engine
    from api.demo.generator import generate
    from api.migrate import upgrade

    folder = tempfile.mkdtemp(prefix="zhidian-bench-")
    url = f"sqlite:///{folder}/demo.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        generate(engine, seed=20261123, customers=2000, days=90, end=datetime.now(timezone.utc))
    finally:
        engine.dispose()
    return url, folder


def part_b(url: str, origins: int, customers: int) -> dict:
    from sqlalchemy import func, select

    from api.db import make_engine, make_sessionmaker
    from api.flows import load_forecasting
    from api.forecasting import service
    from api.metering.models import Reading

    engine = make_engine(url)
    out: dict = {"levels": {}}
    try:
        with make_sessionmaker(engine)() as session:
            now = session.scalar(select(func.max(Reading.ts)))
            out["data_end_utc"] = now.isoformat()
            for level in ("system", "feeder", "area", "customer"):
                members = load_forecasting.members(session=session, level=level)
                if level == "customer" and len(members) > customers:
                    step = len(members) / customers
                    members = [members[int(i * step)] for i in range(customers)]
                panel = load_forecasting.load_panel(session=session, level=level, members=members, now=now,
                                                    days=service.TRAIN_DAYS, only_keys=level == "customer")
                started = time.perf_counter()
                result = summarize(bt.backtest(panel, horizon=HORIZON, origins=origins))
                result["seconds"] = round(time.perf_counter() - started, 1)
                out["levels"][level] = result
                print(f"  (b) {level}: {panel.n_series} series done in {result['seconds']} s", file=sys.stderr)
            # the service: train the customers' global model as the nightly job does, then time forecasts
            started = time.perf_counter()
            load_forecasting.refresh_level(session=session, level="customer", now=now)
            out["customer_model_train_seconds"] = round(time.perf_counter() - started, 1)
            accounts = [m.key for m in load_forecasting.members(session=session, level="customer")]
            service._loaded.clear()  # measure the first request of a fresh process too
            first = time.perf_counter()
            load_forecasting.get_load_forecast(session=session, level="customer", key=accounts[0], now=now)
            first = time.perf_counter() - first
            timings = []
            for account in accounts[1:201]:
                t = time.perf_counter()
                fc = load_forecasting.get_load_forecast(session=session, level="customer", key=account, now=now)
                timings.append((time.perf_counter() - t) * 1000)
            out["customer_on_demand_ms"] = {
                "model": fc.model, "requests": len(timings), "first_request_ms": round(first * 1000, 1),
                "p50": round(percentile(timings, 0.5), 1), "p95": round(percentile(timings, 0.95), 1),
                "max": round(max(timings), 1), "target_ms": 200}
    finally:
        engine.dispose()
    return out


def part_c(n_series: int) -> dict:
    started = time.perf_counter()
    panel, truth = synthetic_panel(n_series, 56, seed=2)
    made = time.perf_counter() - started
    out = {"series": n_series, "hours_per_series": panel.length, "horizon": 48, "threads": 2,
           "data_seconds": round(made, 1), "models": {}}
    for name, factory in (("seasonal_naive", SeasonalNaive), ("statistical", Statistical),
                          ("global_gbm", lambda: GlobalGBM(horizon=48))):
        t0 = time.perf_counter()
        model = factory().fit(panel)
        t1 = time.perf_counter()
        fc = model.predict(48)
        t2 = time.perf_counter()
        assert fc.p50.shape == (n_series, 48) and np.isfinite(fc.p50).all()
        entry = {"fit_seconds": round(t1 - t0, 1), "predict_seconds": round(t2 - t1, 1),
                 "total_seconds": round(t2 - t0, 1)}
        if name == "global_gbm":
            entry["timings"] = {k: round(v, 1) for k, v in model.timings.items()}
        out["models"][name] = entry
        print(f"  (c) {name}: {entry['total_seconds']} s", file=sys.stderr)
    return out


def line(name: str, m: dict, ratio: dict | None) -> str:
    r = f"  ×{ratio['MAPE']:.2f} naive MAPE" if ratio and ratio.get("MAPE") is not None else ""
    return (f"    {name:<15} MAPE {m['MAPE']:6.2f}%  sMAPE {m['sMAPE']:6.2f}%  RMSE {m['RMSE']:10.3f}  "
            f"MASE {m['MASE']:.3f}  cover {m['coverage_p10_p90']:.2f}{r}")


def print_backtest(title: str, result: dict) -> None:
    print(f"{title}: {result['series']} series, {result['origins']} origins × {result['horizon']} h")
    for name, m in result["models"].items():
        if "error" in m:
            print(f"    {name:<15} failed: {m['error']}")
        else:
            print(line(name, m, result["vs_baseline"].get(name)))
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"    global / naive MAPE = {result['global_vs_naive_MAPE']} ({verdict} ≤ {TARGET_RATIO})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000, help="series for the timing run (c)")
    parser.add_argument("--synthetic", type=int, default=200, help="series in the synthetic backtest (a)")
    parser.add_argument("--origins", type=int, default=7)
    parser.add_argument("--customers", type=int, default=300, help="customers sampled for the demo backtest")
    parser.add_argument("--db", default=None, help="an existing demo SQLite file (default: seed a temporary one)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    print("(a) synthetic series …", file=sys.stderr)
    a = part_a(args.synthetic, args.origins)
    print("(b) demo data …", file=sys.stderr)
    url, folder = demo_database(args.db)
    try:
        b = part_b(url, args.origins, args.customers)
    finally:
        if folder:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(f"(c) {args.series:,} series …", file=sys.stderr)
    c = part_c(args.series)
    import lightgbm

    report = {
        "benchmark": "forecasting",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(lightgbm=lightgbm.__version__, numpy=np.__version__, threads=2),
        "target": f"global model MAPE ≤ {TARGET_RATIO} × seasonal naive at day-ahead (24 h)",
        "synthetic": a,
        "demo": b,
        "scale": c,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print_backtest("(a) synthetic", a)
    for level, result in b["levels"].items():
        print_backtest(f"(b) demo {level}", result)
    lat = b["customer_on_demand_ms"]
    print(f"    customer forecast on demand ({lat['model']}): p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
          f"first {lat['first_request_ms']} ms (target {lat['target_ms']} ms)")
    print(f"(c) {c['series']:,} series × {c['hours_per_series']} h, 48 h ahead, 2 threads:")
    for name, m in c["models"].items():
        print(f"    {name:<15} fit {m['fit_seconds']:6.1f} s  predict {m['predict_seconds']:5.1f} s  "
              f"total {m['total_seconds']:6.1f} s")
    print(f"total {report['seconds']} s")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
