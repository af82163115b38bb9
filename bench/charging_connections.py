"""Section "chargers" of bench/charging.py: many simulated OCPP chargers connected at once to one API process.

The API runs in its own uvicorn process on a fresh SQLite database holding one station with N chargers
(one 60 kW DC connector each, all with the same secret; the central system checks it per connection with
PBKDF2 as in production). One client process plays the chargers with the `ocpp` package over real
WebSockets: connect (Basic auth), BootNotification, StatusNotification Available, StartTransaction, then
MeterValues. Figures:
- connect: how long N chargers take to connect and boot, all at once;
- load at a realistic pace: every charger sends MeterValues every `pace` seconds (15 s, four times the
  usual 60 s) for `seconds` seconds — messages/s handled and round-trip time per message (p50/p95/max,
  seen by the chargers, so it includes the client's own scheduling on the same cores);
- saturation: every charger sends MeterValues back to back — the most messages/s the process handles;
- memory: the API process's resident set before the chargers and with all of them connected.
Baseline, in the same run: one charger alone, back to back (the handling time with nothing else going on);
the ratio is p95 at N chargers (realistic pace) over p95 of the lone charger.
"""
from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from api.charging import service
from api.charging.models import ChargePoint, Connector, IdTag, Station
from api.charging.simulator import Car, SimulatedCharger
from api.db import make_engine
from api.migrate import upgrade
from bench.common import percentile
from tests.resilience.processes import ApiProcess

SECRET = "bench-charger-secret-0123456789"
TAG = "BENCH-TAG-01"


def seed(url: str, chargers: int) -> list[str]:
    """One station with `chargers` DC chargers sharing one secret (hashed once)."""
    upgrade(url)
    engine = make_engine(url)
    secret_hash = service.hash_secret(SECRET)
    ids = [f"BENCH-{i:05d}" for i in range(1, chargers + 1)]
    with engine.begin() as conn:
        station_id = conn.execute(insert(Station).returning(Station.id), {
            "code": "BENCH1", "name": "压测充电站", "district": "原州区", "address": "原州区压测路1号",
            "lat": 36.0, "lon": 106.2, "energy_fen_per_kwh": 80, "service_fen_per_kwh": 40}).scalar_one()
        conn.execute(insert(ChargePoint), [{"charge_point_id": cp, "station_id": station_id,
                                            "secret_hash": secret_hash, "connected": False} for cp in ids])
        rows = conn.execute(ChargePoint.__table__.select()).all()
        conn.execute(insert(Connector), [{"charger_id": r.id, "connector_no": 1, "kind": "DC", "rated_kw": 60,
                                          "status": "Unavailable", "error_code": "NoError"} for r in rows])
        conn.execute(insert(IdTag), {"id_tag": TAG, "status": "Accepted"})
    engine.dispose()
    return ids


def rss_kb(pid: int) -> int:
    """Resident set of a process in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _timed(latencies: list[float], work) -> None:
    t0 = time.perf_counter()
    await work
    latencies.append(time.perf_counter() - t0)


async def _play(ocpp_url: str, ids: list[str], *, pace: float | None, seconds: float, api_pid: int) -> dict:
    """Connect the chargers, start a session on each, then send MeterValues for `seconds` (every `pace`
    seconds each, or back to back when pace is None)."""
    chargers = [SimulatedCharger(ocpp_url, cp, SECRET, connectors=[("DC", 60.0)], meter_interval=0,
                                 sample_seconds=1, response_timeout=120) for cp in ids]
    t0 = time.perf_counter()

    async def bring_up(charger: SimulatedCharger):
        await charger.connect()
        await charger.boot()
        await charger.available()
        return await charger.start_transaction(Car(battery_kwh=80, soc=0.2, max_kw=120), id_tag=TAG)

    sessions = await asyncio.gather(*(bring_up(c) for c in chargers))
    connect_seconds = time.perf_counter() - t0
    connected_kb = rss_kb(api_pid)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def run(charger: SimulatedCharger, tx) -> None:
        if pace is not None:
            await asyncio.sleep(random.uniform(0, pace))  # spread the chargers over the interval
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await _timed(latencies, charger.sample(tx))
            if pace is not None:
                await asyncio.sleep(max(0.0, pace - (time.perf_counter() - started)))

    t1 = time.perf_counter()
    await asyncio.gather(*(run(c, tx) for c, tx in zip(chargers, sessions)))
    elapsed = time.perf_counter() - t1
    await asyncio.gather(*(c.close() for c in chargers), return_exceptions=True)
    return {"chargers": len(ids), "connect_and_start_seconds": round(connect_seconds, 2),
            "api_rss_mb_connected": round(connected_kb / 1024, 1),
            "messages": len(latencies), "messages_per_second": round(len(latencies) / elapsed, 1),
            "round_trip_ms": {"p50": round(percentile(latencies, 0.5) * 1000, 1),
                              "p95": round(percentile(latencies, 0.95) * 1000, 1),
                              "max": round(max(latencies) * 1000, 1)}}


def bench_chargers(chargers: int = 1000, pace: float = 15.0, seconds: float = 60.0) -> dict:
    """The section's figures (see the module docstring)."""
    random.seed(20261205)
    with tempfile.TemporaryDirectory(prefix="bench-chargers-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.db'}"
        ids = seed(url, chargers + 1)
        api = ApiProcess(work, database_url=url, background_workers="false", proactive_jobs="false")
        api.start()
        try:
            ocpp_url = api.url.replace("http://", "ws://") + "/ocpp"
            idle_kb = rss_kb(api.pid)
            lone = asyncio.run(_play(ocpp_url, ids[:1], pace=None, seconds=10, api_pid=api.pid))
            realistic = asyncio.run(_play(ocpp_url, ids[1:], pace=pace, seconds=seconds, api_pid=api.pid))
            saturated = asyncio.run(_play(ocpp_url, ids[1:], pace=None, seconds=20, api_pid=api.pid))
        finally:
            api.stop()
    return {
        "method": __doc__.split("\n\n", 1)[1].strip(),
        "chargers": chargers, "pace_seconds": pace, "seconds": seconds,
        "baseline_lone_charger_back_to_back": lone,
        "realistic_pace": realistic,
        "saturation_back_to_back": saturated,
        "api_rss_mb": {"idle": round(idle_kb / 1024, 1), "chargers_connected": realistic["api_rss_mb_connected"],
                       "per_charger_kb": round((realistic["api_rss_mb_connected"] * 1024 - idle_kb) / chargers, 1)},
        "ratio_p95_realistic_vs_lone": round(realistic["round_trip_ms"]["p95"] / lone["round_trip_ms"]["p95"], 2),
    }
