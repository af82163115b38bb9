"""Browser fixtures: the chat page on a real uvicorn server, driven by headless Chromium.

The app here is small on purpose: the web channel router, the real conversation routes
(history) and the real ChatGateway on a private SQLite database — only the bot is replaced by
an in-process stand-in with deterministic answers. These tests are about the page and the
socket protocol; the e2e tests run the real Rasa.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from api.conversations.rasa import BotAnswer, BotUnavailable
from api.conversations.schemas import BotMessage, Button
from api.settings import Settings
from tests.conftest import ALL_DAY, TEST_TOKEN, ThreadedUvicorn, free_port, new_context
from tests.fakes.rasa import FakeRasa

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
REPLY_TIMEOUT_MS = 1500  # the page's "slow reply" notice, shortened for the tests (default 8 s)
SLOW_BOT_SECONDS = 2.5


class ScriptedBot:
    """Stands in for RasaClient.send with fixed answers, so every run shows the same page."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def send(self, *, sender_id: str, text: str, channel: str) -> BotAnswer:
        self.received.append(text)
        if text == "查电费":
            return BotAnswer(messages=[
                BotMessage(text="好的，为您查询电费。检测到您绑定的户号 3701****67，是否查询该户号本月电费？",
                           buttons=[Button(title="是的，查询本户", payload="/affirm"),
                                    Button(title="换一个户号", payload="/deny")]),
            ], handoff_reason=None)
        if text == "/affirm":
            return BotAnswer(messages=[
                BotMessage(text="户号 3701****67 本月（11月）用电 286 kWh，电费 152.37 元，"
                                "缴费截止日期 12月15日。"),
                BotMessage(text="还有其他可以帮您的吗？",
                           buttons=[Button(title="缴费方式", payload="/ask_payment"),
                                    Button(title="没有了，谢谢", payload="/goodbye")]),
            ], handoff_reason=None)
        if text == "/deny":
            return BotAnswer(messages=[BotMessage(text="请告诉我要查询的10位户号。")], handoff_reason=None)
        if text == "慢一点":
            await asyncio.sleep(SLOW_BOT_SECONDS)
            return BotAnswer(messages=[BotMessage(text="让您久等了，已为您查到结果。")], handoff_reason=None)
        if text == "系统故障":
            raise BotUnavailable("scripted outage")
        return BotAnswer(messages=[BotMessage(text=f"收到：{text}")], handoff_reason=None)


def build_app(database_url: str) -> FastAPI:
    """The chat page, its socket, the history route and two test-only controls."""
    from api.channels.web import ChatConnections
    from api.channels.web import router as web_router
    from api.conversations.desk import AgentDesk
    from api.conversations.handoff import parse_hours
    from api.conversations.gateway import ChatGateway
    from api.conversations.live import LiveBus
    from api.conversations.routes import chat_router
    from api.db import make_engine, make_sessionmaker

    bot = ScriptedBot()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(database_url)
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.bus = LiveBus()
        await app.state.bus.start()
        app.state.gateway = ChatGateway(sessionmaker=app.state.sessionmaker, bot=bot,
                                        desk=AgentDesk(sessionmaker=app.state.sessionmaker, bus=app.state.bus,
                                                       office_hours=parse_hours(ALL_DAY)))
        app.state.connections = ChatConnections()
        app.state.settings = Settings(database_url=database_url, chat_reply_timeout_ms=REPLY_TIMEOUT_MS)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(lifespan=lifespan)
    app.state.bot = bot
    app.include_router(chat_router)
    app.include_router(web_router)

    @app.post("/test/push/{sender_id}")
    async def push(sender_id: str, body: dict) -> dict:
        """What the agent console will do: push an agent's message to the customer's page."""
        delivered = await app.state.connections.push(sender_id, body)
        return {"delivered": delivered}

    @app.post("/test/drop/{sender_id}")
    async def drop(sender_id: str) -> dict:
        """Close the customer's sockets as a restart or a flaky network would."""
        await app.state.connections.close(sender_id, code=1012)
        return {"ok": True}

    return app


@dataclass
class ChatServer:
    url: str
    app: FastAPI

    @property
    def bot(self) -> ScriptedBot:
        return self.app.state.bot


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory) -> ChatServer:
    """The browser-test app running in uvicorn on a free port."""
    from api.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'chat.db'}"
    upgrade(url)
    port = free_port()
    app = build_app(url)
    server = ThreadedUvicorn(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning", lifespan="on"))
    server.start()
    yield ChatServer(url=f"http://127.0.0.1:{port}", app=app)
    server.stop()


@pytest.fixture
def desktop(browser):
    """A fresh desktop browser (its own localStorage, so its own customer)."""
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def mobile(browser):
    """A fresh phone-sized browser (390×844, touch)."""
    context = new_context(browser, viewport={"width": 390, "height": 844}, device_scale_factor=1,
                       is_mobile=True, has_touch=True)
    yield context
    context.close()


@pytest.fixture
def rasa():
    """The local FakeRasa (tests/fakes/rasa.py): echoes, intents, a handoff on 人工."""
    with FakeRasa() as fake:
        yield fake


def fake_bot_settings(db_url: str, kb_home: Path, rasa) -> Settings:
    """As tests/conftest.py's settings, but the bot is the FakeRasa."""
    return Settings(database_url=db_url, service_token=TEST_TOKEN, rasa_url=rasa.url,
                    rasa_timeout_seconds=1.0, kb_dir=kb_home, background_workers=False)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def open_staff_page(context, base_url: str, path: str):
    """Open a staff page at its sign-in form, collecting script errors in page.errors."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(base_url + path)
    expect(page.locator("#login-view")).to_be_visible()
    return page


def sign_in(page, username: str, password: str) -> None:
    """Fill and submit the shared staff sign-in form (api/web/templates/_staff.html)."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录").click()
