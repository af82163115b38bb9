"""Shared fixtures: a seeded database per backend, cloned for every test, and a running API.

SQLite always; PostgreSQL as well when DATABASE_URL is set (CI sets it). Each test gets its own
copy of a seeded template database, so tests never see each other's writes.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.db import make_engine, make_sessionmaker
from api.migrate import upgrade
from api.settings import Settings

# Secrets as production has them (long, not the demo defaults): the API refuses anything weaker
# outside demo mode. The environment carries the staff secret to every Settings() of the tests.
TEST_TOKEN = "test-service-token-0123456789abcdefghij"
TEST_STAFF_SECRET = "test-staff-secret-0123456789abcdefghijkl"
os.environ.setdefault("STAFF_SECRET", TEST_STAFF_SECRET)
os.environ.setdefault("RASA_TOKEN", "test-rasa-token-for-apps-without-rasa-000000")
TEST_METERING_TOKEN = "test-metering-token-0123456789abcdefghij"
os.environ.setdefault("METERING_TOKEN", TEST_METERING_TOKEN)
DEMO_CUSTOMERS = 160
DEMO_DAYS = 8
# Office hours that hold whatever the clock says: tests of the out-of-hours notice set their own.
ALL_DAY = "00:00-23:59:59.999999"
os.environ.setdefault("AGENT_OFFICE_HOURS", ALL_DAY)


def run_coroutine(coro):
    """Run a coroutine to completion in its own thread: works even when this thread already runs
    an event loop (Playwright's sync API keeps one open once a browser test has run)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("DATABASE_URL", "").startswith("postgres") else ["sqlite"]


# Pages and the bot's actions are clients of the API: the SQL they reach is tested on both databases
# by tests/api, so with both configured they run once, on SQLite (the database of `make demo`);
# running them twice was a quarter of CI's time. The skipped copies show as "deselected".
ONE_DATABASE = ("tests/browser/", "tests/actions/")


def pytest_collection_modifyitems(config, items):
    if len(backends()) < 2:
        return
    twice = [item for item in items if item.nodeid.startswith(ONE_DATABASE)
             and getattr(item, "callspec", None) is not None
             and item.callspec.params.get("template_db") == "postgresql"]
    if twice:
        config.hook.pytest_deselected(items=twice)
        dropped = set(twice)
        items[:] = [item for item in items if item not in dropped]


def demo_end() -> datetime:
    """The demo's live situations are planted at the current hour, as in `make demo`."""
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


class PostgresDatabases:
    """Creates and drops throw-away databases on the server named by DATABASE_URL."""

    def __init__(self, url: str):
        self.url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def create(self, template: str | None = None) -> str:
        name = f"zhidian_t_{uuid.uuid4().hex[:12]}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{clause}"))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def postgres() -> PostgresDatabases | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None
        return
    databases = PostgresDatabases(url)
    yield databases
    databases.admin.dispose()


def seed_database(url: str, *, customers: int = DEMO_CUSTOMERS, days: int = DEMO_DAYS) -> None:
    """Migrate and seed a small but complete demo (outage area, household outages, …)."""
    from api.demo.generator import generate

    upgrade(url)
    engine = make_engine(url)
    try:
        generate(engine, seed=7, customers=customers, days=days, end=demo_end())
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=backends())
def template_db(request, tmp_path_factory, postgres) -> tuple[str, str]:
    """(backend, url) of a migrated and seeded template database."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        url = f"sqlite:///{path}"
        seed_database(url)
        yield "sqlite", url
    else:
        url = postgres.create()
        seed_database(url)
        yield "postgresql", url
        postgres.drop(url)


@pytest.fixture
def db_url(template_db, tmp_path, postgres) -> str:
    """A private copy of the seeded database for one test."""
    backend, url = template_db
    if backend == "sqlite":
        source = url.split("///", 1)[1]
        target = tmp_path / "test.db"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"
    else:
        clone = postgres.create(template=make_url(url).database)
        yield clone
        postgres.drop(clone)


@dataclass
class BuiltKb:
    """A knowledge base trained and built from the real corpus, once per test session."""

    kb_dir: Path
    encoder_dir: Path

    def copy(self, target: Path) -> Path:
        """A private copy (for tests that rebuild or swap versions)."""
        shutil.copytree(self.kb_dir, target)
        return target


@pytest.fixture(scope="session")
def built_kb(tmp_path_factory) -> BuiltKb:
    """Train the Chinese static encoder (held-out questions as in production) and build the index."""
    from knowledge_base.config import KbConfig
    from knowledge_base.encoder import SentenceTransformerEncoder, train_static_encoder, write_heldout
    from knowledge_base.index import build, corpus
    from knowledge_base.pairs import corpus_pairs, corpus_texts, hold_out

    kb_dir = tmp_path_factory.mktemp("kb")
    config = KbConfig(kb_dir=kb_dir)
    articles, held = hold_out(corpus(config))
    train_static_encoder(corpus_pairs(articles), corpus_texts(articles), config.encoder_dir, epochs=20)
    write_heldout(config.encoder_dir, held)
    build(config, encoder=SentenceTransformerEncoder(str(config.encoder_dir)))
    return BuiltKb(kb_dir=kb_dir, encoder_dir=config.encoder_dir)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """Redis for tests of what crosses processes: REDIS_URL when set (CI), else a private redis-server of
    this run (skipped, saying so, only where no redis-server is installed)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from tests.resilience.processes import RedisServer  # imports this module: not at the top

    if RedisServer.BINARY is None:
        pytest.skip("needs Redis: REDIS_URL is unset and no redis-server is installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.kill()


@pytest.fixture
def kb_home(tmp_path) -> Path:
    """The API's KB_DIR: empty by default (no index); KB tests override this fixture."""
    return tmp_path / "no-kb"


@pytest.fixture
def settings(db_url, kb_home) -> Settings:
    """Settings for one test: its own database, a closed port for Rasa unless a test says so."""
    return Settings(database_url=db_url, service_token=TEST_TOKEN, rasa_url="http://127.0.0.1:9",
                    rasa_timeout_seconds=1.0, kb_dir=kb_home, background_workers=False)


@pytest.fixture
def session(db_url):
    """A SQLAlchemy session on the test's database."""
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def client(settings):
    """FastAPI's test client on a fully started app (lifespan run)."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    token: str
    settings: Settings
    app: Any = None  # the app object when it runs in this process (its state reachable from the test)


class ThreadedUvicorn(uvicorn.Server):
    """A uvicorn server in a background thread, stopped when the fixture ends."""

    def install_signal_handlers(self) -> None:  # not the main thread
        pass

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("API server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=10)


def start_api(settings: Settings) -> tuple[ThreadedUvicorn, RunningServer]:
    """Run the real API app on a free port.

    Idle connections are kept for a minute, not uvicorn's 5 s: on a loaded machine a client's pooled
    connection could otherwise be closed by the server just as the client reuses it (httpx.ReadError)."""
    from api.main import create_app

    port = free_port()
    app = create_app(settings)
    server = ThreadedUvicorn(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="on", timeout_keep_alive=60))
    server.start()
    return server, RunningServer(url=f"http://127.0.0.1:{port}", token=settings.service_token,
                                 settings=settings, app=app)


@pytest.fixture
def api_server(settings) -> RunningServer:
    """The real API listening on a free port with a private seeded database."""
    server, running = start_api(settings)
    yield running
    server.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (`make test` installs it)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: `make chromium` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # assertions wait as long as actions (10 s): a ticket took over 5 s to come back once on a
    # 2-core CI machine running the rest of the suite (test_ticket_created_from_a_conversation_is_prefilled)
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_context(browser, *, strict_csp: bool = False, **options):
    """A fresh browser context in Chinese and Beijing time (its own localStorage).

    Playwright evaluates string predicates (wait_for_function) with eval in the page, which our
    Content-Security-Policy forbids; tests bypass the policy unless they test it (strict_csp).
    """
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=not strict_csp,
                                  **options)
    context.set_default_timeout(10_000)
    # loading a page (ECharts and all) on a 2-core CI machine running the rest of the suite took over 10 s once
    context.set_default_navigation_timeout(30_000)
    return context
