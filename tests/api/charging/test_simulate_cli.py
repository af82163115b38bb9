"""`python -m api.charging simulate-chargers` plays the demo's chargers (seeded with the demo) against the API."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from api.charging.__main__ import main, parser
from api.charging.models import ChargePoint, Station, Transaction
from api.demo.charging import DEMO_CHARGER_SECRET, STATIONS
from tests.conftest import start_api

pytestmark = pytest.mark.timeout(180)


def test_the_demo_seeds_stations_and_chargers(session):
    assert session.scalar(select(func.count()).select_from(Station)) == len(STATIONS)
    ids = session.scalars(select(ChargePoint.charge_point_id).order_by(ChargePoint.charge_point_id)).all()
    assert ids[:2] == ["GY-CP001", "GY-CP002"] and len(ids) == sum(s[5] for s in STATIONS)
    assert all(s.transformer_area_id is not None for s in session.scalars(select(Station)))


def test_simulated_demo_chargers_play_their_sessions(settings, session):
    server, api = start_api(settings)
    try:
        argv = ["simulate-chargers", "--url", api.url.replace("http://", "ws://") + "/ocpp", "--count", "2",
                "--secret", DEMO_CHARGER_SECRET, "--meter-interval", "0.005", "--speed", "40000", "--sessions", "1",
                "--fault-rate", "0", "--drop-rate", "1"]
        with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop
            assert pool.submit(main, argv).result() == 0
    finally:
        server.stop()
    transactions = session.scalars(select(Transaction)).all()
    assert len(transactions) == 2 and all(t.stopped_at is not None and t.energy_kwh > 0 for t in transactions)
    chargers = session.scalars(select(ChargePoint).where(ChargePoint.booted_at.is_not(None))).all()
    assert sorted(c.charge_point_id for c in chargers) == ["GY-CP001", "GY-CP002"]


def test_the_plan_command_is_there():
    args = parser().parse_args(["plan", "--sessions", "s.csv", "--capacity-kw", "100"])
    assert args.command == "plan" and args.capacity_kw == 100
    assert main(["simulate-chargers", "--url", "ws://127.0.0.1:9/ocpp", "--secret", ""]) == 2
