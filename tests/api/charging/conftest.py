"""A test station with one DC charger (60 kW) and one AC charger (2 × 7 kW), cards, and the API in uvicorn."""
from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest

from api.charging import service
from api.charging.ocpp_server import CentralSystem, ConnectionClosed
from api.charging.simulator import SimulatedCharger
from api.db import make_engine, make_sessionmaker
from tests.conftest import start_api

SECRET = "test-charger-secret-0123456789"
STATION = "TSTCS1"
DC_CHARGER, AC_CHARGER = "TEST-DC-01", "TEST-AC-01"
ENERGY_FEN, SERVICE_FEN = Decimal("80.00"), Decimal("40.50")  # 120.50 fen per kWh
GOOD_TAG, BLOCKED_TAG = "TAG-GOOD-01", "TAG-BLOCKED-01"


@pytest.fixture
def charging_station(session):
    """The test station and its chargers, in the test's own database."""
    service.create_station(session=session, code=STATION, name="测试充电站", district="原州区",
                           address="原州区测试路1号", lat=36.01, lon=106.24, energy_fen_per_kwh=ENERGY_FEN,
                           service_fen_per_kwh=SERVICE_FEN)
    service.create_charge_point(session=session, station_code=STATION, charge_point_id=DC_CHARGER, secret=SECRET,
                                connectors=[("DC", 60)])
    service.create_charge_point(session=session, station_code=STATION, charge_point_id=AC_CHARGER, secret=SECRET,
                                connectors=[("AC", 7), ("AC", 7)])
    service.create_id_tag(session=session, id_tag=GOOD_TAG, account_no="1234567890")
    service.create_id_tag(session=session, id_tag=BLOCKED_TAG, status="Blocked")
    # The API writes to these rows from its own process; a test that later reads them through this session must load
    # them afresh, not get the objects it created here back from the identity map (kept only while not collected).
    session.expunge_all()
    return STATION


@pytest.fixture
def charging_api(settings, charging_station):
    """The API in uvicorn (real WebSockets); `.ocpp` is its OCPP base URL."""
    server, api = start_api(settings)
    api.ocpp = api.url.replace("http://", "ws://") + "/ocpp"
    try:
        yield api
    finally:
        server.stop()


class Pipe:
    """One end of an in-memory connection between the central system and a simulated charger."""

    def __init__(self, inbox: asyncio.Queue, outbox: asyncio.Queue):
        self.inbox, self.outbox = inbox, outbox

    async def recv(self) -> str:
        message = await self.inbox.get()
        if message is None:
            raise ConnectionClosed()
        return message

    async def send(self, message: str) -> None:
        await self.outbox.put(message)

    async def close(self) -> None:
        await self.outbox.put(None)
        await self.inbox.put(None)


@pytest.fixture
def central_sessions(db_url, charging_station):
    """Sessions on the test's database for a CentralSystem run in the test (no API process)."""
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@contextlib.asynccontextmanager
async def piped_dc_charger(central: CentralSystem):
    """DC_CHARGER (one 60 kW connector) booted and Available, talking to `central` over an in-memory pipe;
    on exit it hangs up and the central system has finished serving it."""
    to_charger, to_central = asyncio.Queue(), asyncio.Queue()
    serving = asyncio.create_task(central.serve(DC_CHARGER, Pipe(to_central, to_charger)))
    charger = SimulatedCharger("ws://unused", DC_CHARGER, SECRET, connectors=[("DC", 60.0)], meter_interval=0,
                               sample_seconds=60)
    charger.attach(Pipe(to_charger, to_central))
    await charger.boot()
    await charger.available()
    try:
        yield charger
    finally:
        await charger.close()
        await serving
