"""A small seeded demo at a fixed hour, shared by the customers, metering, outages and demo tests.

Self-contained (the lead may merge it into tests/conftest.py): its own database file, schema from
the models, and a minimal app with only the customers, metering and outages routers. The demo is
seeded once per session and treated as read-only; tests that write build their own demo or roll
back. SQLite always; PostgreSQL too when DATABASE_URL points at a server (throw-away database).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.settings import Settings
from tests.conftest import backends

DEMO_SEED = 7
DEMO_CUSTOMERS = 150
DEMO_DAYS = 35  # covers the whole of October 2026 in Asia/Shanghai, so there are bills
DEMO_END = datetime(2026, 11, 3, 2, 0, tzinfo=timezone.utc)  # Tue 3 Nov 2026, 10:00 in 固原
DEMO_NOW = DEMO_END + timedelta(minutes=20)
DEMO_TOKEN = "test-token"


def build_demo_database(url: str, **kwargs):
    """Migrate `url` to the latest schema and seed a demo; returns (engine, summary)."""
    from api.demo.generator import generate

    upgrade(url)
    engine = make_engine(url)
    params = {"seed": DEMO_SEED, "customers": DEMO_CUSTOMERS, "days": DEMO_DAYS, "end": DEMO_END, **kwargs}
    return engine, generate(engine, **params)


@pytest.fixture(scope="session")
def demo_database_factory(tmp_path_factory, postgres):
    """Makes private demo databases (SQLite files, or PostgreSQL databases when configured)."""
    created: list[tuple[str, str]] = []
    server = postgres

    def make(backend: str = "sqlite") -> str:
        if backend == "postgresql":
            url = server.create()
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
        created.append((backend, url))
        return url

    yield make
    for backend, url in created:
        if backend == "postgresql":
            server.drop(url)


@pytest.fixture(scope="session", params=backends())
def demo_seeded(request, demo_database_factory):
    """(engine, DemoSummary) of the shared demo: 150 customers, 35 days up to DEMO_END."""
    url = demo_database_factory(request.param)
    engine, summary = build_demo_database(url)
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="session")
def demo_engine(demo_seeded):
    """Engine on the shared, read-only demo database."""
    return demo_seeded[0]


@pytest.fixture(scope="session")
def demo_summary(demo_seeded):
    """What the shared demo's generate() reported (area codes of the live situations, counts)."""
    return demo_seeded[1]


@pytest.fixture
def demo_session(demo_engine):
    """A session on the shared demo; whatever a test writes is rolled back."""
    connection = demo_engine.connect()
    transaction = connection.begin()
    session = make_sessionmaker(demo_engine)(bind=connection)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture(scope="session")
def demo_app(demo_engine):
    """A minimal app with the customers (and customer view), metering and outages routers on the shared demo."""
    from fastapi import FastAPI

    from api.core.errors import install_error_handler
    from api.customers.routes import router as customers_router
    from api.flows.routes.customers import customers_router as flows_customers_router
    from api.metering.routes import router as metering_router
    from api.flows.routes.outages import outages_router

    app = FastAPI()
    install_error_handler(app)
    for router in (customers_router, flows_customers_router, metering_router, outages_router):
        app.include_router(router)
    app.state.settings = Settings(database_url=demo_engine.url.render_as_string(hide_password=False),
                                  service_token=DEMO_TOKEN)
    app.state.sessionmaker = make_sessionmaker(demo_engine)
    app.state.clock = lambda: DEMO_NOW
    return app


@pytest.fixture
def demo_client(demo_app):
    """HTTP client on the demo app."""
    from fastapi.testclient import TestClient

    with TestClient(demo_app) as client:
        yield client


@pytest.fixture
def demo_auth() -> dict[str, str]:
    """The bearer header the demo app accepts."""
    return {"Authorization": f"Bearer {DEMO_TOKEN}"}
