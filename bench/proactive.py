"""How long the proactive service's every-minute pass takes, and one batch's detection on arrival.

Seeds the demo (its planted area outage, households without supply, low voltage, overload) with
--customers meters and 2 days of hourly data, then times:
  pass      proactive.run over every area at once (what the worker does each minute), after a first
            pass has raised the planted alerts (so the timed passes find nothing new: the steady state);
  baseline  the same areas looked at one area per call (how the intake looks at a batch), summed;
  arrival   one intake batch of 停电 events for a whole area through api.flows.routes' path
            (store + detection), median over areas.
Writes bench/results/proactive.json.

    .venv/bin/python -m bench.proactive [--customers 2000 8000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from api.db import make_engine, make_sessionmaker
from api.demo.generator import generate
from api.flows import proactive
from api.metering import intake
from api.metering.models import Meter, Reading, TransformerArea
from api.migrate import upgrade
from api.monitoring.models import Alert
from api.settings import Settings
from bench.common import machine

RESULTS = Path(__file__).resolve().parent / "results" / "proactive.json"


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(customers: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        generate(engine, seed=7, customers=customers, days=2, end=datetime.now(timezone.utc))
        settings = Settings(database_url=url, demo_mode=True)
        maker = make_sessionmaker(engine)
        with maker() as session:
            now = session.scalar(select(func.max(Reading.ts))) + timedelta(minutes=20)
            areas = list(session.scalars(select(TransformerArea.id).order_by(TransformerArea.id)))
            meters = session.scalar(select(func.count()).select_from(Meter))
            first = timed(lambda: proactive.run(session=session, settings=settings, now=now))
            raised = session.scalar(select(func.count()).select_from(Alert))
            passes = [timed(lambda: proactive.run(session=session, settings=settings, now=now))
                      for _ in range(repeat)]
            per_area = [sum(timed(lambda a=a: proactive.run(session=session, settings=settings, now=now,
                                                            area_ids=[a])) for a in areas) for _ in range(repeat)]
            quiet = [a for a in areas if not session.scalar(
                select(func.count()).select_from(Alert).where(Alert.transformer_area_id == a))][:5]
            arrivals = []
            for area_id in quiet:
                rows = [{"meter_no": m, "ts": (now - timedelta(minutes=3)).isoformat(), "kind": "停电"}
                        for m in session.scalars(select(Meter.meter_no).where(Meter.transformer_area_id == area_id))]

                def arrive(rows=rows):
                    result = intake.store(session=session, kind="events", raws=rows, now=now)
                    session.commit()
                    proactive.run_for_meters(session=session, settings=settings, now=now,
                                             meter_ids=sorted({k[0] for k in result.stored_keys}))
                arrivals.append((len(rows), timed(arrive)))
        engine.dispose()
    pass_s, base_s = statistics.median(passes), statistics.median(per_area)
    return {"customers": customers, "meters": meters, "areas": len(areas), "alerts_raised_first_pass": raised,
            "first_pass_s": round(first, 3), "pass_s": round(pass_s, 3), "baseline_per_area_s": round(base_s, 3),
            "speedup_vs_per_area": round(base_s / pass_s, 1) if pass_s else None,
            "arrival_batch_meters": [n for n, _ in arrivals],
            "arrival_batch_s_median": round(statistics.median(s for _, s in arrivals), 3) if arrivals else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in args.customers:
        print(f"seeding and timing {n} customers …", flush=True)
        runs.append(measure(n, args.repeat))
        print(json.dumps(runs[-1], ensure_ascii=False), flush=True)
    result = {"benchmark": "proactive", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "method": __doc__.strip().splitlines()[2:10], "runs": runs}
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
