"""The customer chat page in headless Chromium: rendering, the socket protocol, reloads, phones."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from starlette.websockets import WebSocketDisconnect

from tests.browser.conftest import SLOW_BOT_SECONDS

pytestmark = pytest.mark.browser

QUICK_REPLIES = ["查电费", "报停电", "停电通知", "工单进度", "转人工"]


# ---------- helpers ----------

def open_chat(context, server) -> Page:
    """Open the page, fail on any script error, and wait until the socket is up."""
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: _console_error(page, msg))
    page.goto(server.url + "/")
    wait_connected(page)
    return page


def _console_error(page: Page, msg) -> None:
    # A new customer has no history yet: the history route answers 404, which is expected.
    if msg.type == "error" and not msg.location.get("url", "").endswith("/history"):
        page.errors.append(msg.text)


def wait_connected(page: Page) -> None:
    page.wait_for_function("() => !!window.zhidian && window.zhidian.isConnected()")
    expect(page.locator("#status")).to_have_attribute("data-state", "online")


def send_text(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def customer_bubbles(page: Page):
    return page.locator(".row--customer .bubble")


def bot_bubbles(page: Page):
    return page.locator(".row--bot:not(.typing) .bubble")


def post(url: str, body: dict | None = None) -> dict:
    request = Request(url, data=json.dumps(body or {}).encode(), method="POST",
                      headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def no_horizontal_overflow(page: Page) -> dict:
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const list = document.getElementById('messages');
        const outside = [...document.querySelectorAll('body *')]
            .filter(el => el.getClientRects().length && getComputedStyle(el).position !== 'absolute')
            .filter(el => { const r = el.getBoundingClientRect(); return r.right > width + 0.5 || r.left < -0.5; })
            .map(el => el.className || el.tagName);
        return {
            page: document.documentElement.scrollWidth - width,
            list: list.scrollWidth - list.clientWidth,
            outside: outside,
        };
    }""")


# ---------- the page ----------

def test_welcome_message_and_quick_reply_chips_render(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    expect(page.locator(".header h1")).to_have_text("智电客服")
    expect(bot_bubbles(page).first).to_contain_text("我是智电客服")
    chips = page.locator(".buttons--menu .chip")
    expect(chips).to_have_text(QUICK_REPLIES)
    expect(page.locator("#send")).to_be_disabled()
    page.locator("#input").fill("   ")
    expect(page.locator("#send")).to_be_disabled()
    page.locator("#input").fill("你好")
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#banner")).to_be_hidden()
    assert page.errors == []


def test_typed_chinese_message_shows_the_customer_bubble_then_the_bot_reply(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    send_text(page, "我家停电了，怎么办？")
    expect(customer_bubbles(page).last).to_have_text("我家停电了，怎么办？")
    # (the gateway's NFKC normalisation may turn the full-width punctuation into ASCII)
    expect(bot_bubbles(page).last).to_have_text(re.compile(r"^收到：我家停电了.怎么办.$"))
    expect(page.locator("#input")).to_have_value("")
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator(".typing")).to_have_count(0)
    # a time under both bubbles, shown in Beijing time
    expect(page.locator(".row--customer .meta time").last).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
    expect(page.locator(".row--bot .meta time").last).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
    # the send button works as well as Enter
    page.locator("#input").fill("第二条")
    page.locator("#send").click()
    expect(bot_bubbles(page).last).to_have_text("收到：第二条")
    assert page.errors == []


def test_reply_button_sends_its_payload_and_shows_its_title(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    page.locator(".buttons--menu .chip", has_text="查电费").click()
    expect(customer_bubbles(page).last).to_have_text("查电费")
    yes = page.locator(".chip", has_text="是的，查询本户")
    expect(yes).to_be_enabled()
    yes.click()
    expect(customer_bubbles(page).last).to_have_text("是的，查询本户")
    expect(bot_bubbles(page).filter(has_text="电费 152.37 元")).to_have_count(1)
    assert chat_server.bot.received[-1] == "/affirm"
    # the raw payload is never shown; the answered buttons are closed, the chosen one marked
    expect(page.locator(".bubble", has_text="/affirm")).to_have_count(0)
    expect(yes).to_be_disabled()
    expect(yes).to_have_class(re.compile(r"chip--chosen"))
    expect(page.locator(".chip", has_text="换一个户号")).to_be_disabled()
    # the newest answer's buttons are live; the welcome menu always is
    expect(page.locator(".chip", has_text="缴费方式")).to_be_enabled()
    expect(page.locator(".buttons--menu .chip").first).to_be_enabled()
    assert page.errors == []


def stored_chat(page: Page) -> dict:
    return json.loads(page.evaluate("localStorage.getItem('zhidian.chat')"))


def test_reload_keeps_the_conversation(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    stored = stored_chat(page)
    assert re.fullmatch(r"web-[A-Za-z0-9_-]{32}", stored["id"]) and len(stored["secret"]) >= 40
    page.locator(".buttons--menu .chip", has_text="查电费").click()
    page.locator(".chip", has_text="是的，查询本户").click()
    expect(bot_bubbles(page).filter(has_text="还有其他可以帮您的吗？")).to_have_count(1)
    send_text(page, "谢谢")
    expect(bot_bubbles(page).last).to_have_text("收到：谢谢")

    page.reload()
    wait_connected(page)
    assert stored_chat(page) == stored
    expect(customer_bubbles(page)).to_have_text(["查电费", "是的，查询本户", "谢谢"])
    expect(bot_bubbles(page).filter(has_text="电费 152.37 元")).to_have_count(1)
    expect(bot_bubbles(page).filter(has_text="收到：谢谢")).to_have_count(1)
    expect(page.locator(".divider")).to_have_text("以上为历史消息")
    # history times (ISO with microseconds and +08:00) are parsed, not replaced by "now"
    assert page.evaluate("Date.parse('2026-11-23T09:05:07.123456+08:00')") == 1795395907123
    expect(page.locator(".bubble", has_text="/affirm")).to_have_count(0)
    # buttons answered before the reload stay answered
    expect(page.locator(".chip", has_text="是的，查询本户")).to_be_disabled()
    expect(page.locator(".chip", has_text="是的，查询本户")).to_have_class(re.compile(r"chip--chosen"))
    # and the conversation goes on where it was
    send_text(page, "还在吗")
    expect(bot_bubbles(page).last).to_have_text("收到：还在吗")
    assert page.errors == []


def test_an_error_frame_is_shown_as_a_notice_and_the_message_kept(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    send_text(page, "电" * 1001)
    notice = page.locator(".notice--error")
    expect(notice).to_contain_text("消息有点长")
    expect(customer_bubbles(page)).to_have_count(1)
    expect(page.locator(".row--customer .state")).to_have_text("未送达")
    expect(page.locator(".typing")).to_have_count(0)
    # the page keeps working after an error
    send_text(page, "好的")
    expect(bot_bubbles(page).last).to_have_text("收到：好的")
    assert page.errors == []


def test_bot_outage_gets_the_gateway_fallback_answer(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    send_text(page, "系统故障")
    # shown as a system notice, as the history shows it after a reload
    fallback = page.locator(".notice--system")
    expect(fallback).to_contain_text("95598")
    expect(page.locator(".typing")).to_have_count(0)
    page.reload()
    wait_connected(page)
    expect(page.locator(".notice--system")).to_contain_text("95598")
    expect(customer_bubbles(page)).to_have_text(["系统故障"])
    assert page.errors == []


def test_slow_reply_shows_typing_then_a_holding_message_and_keeps_the_message(mobile, chat_server, screenshots):
    page = open_chat(mobile, chat_server)
    send_text(page, "慢一点")
    expect(page.locator(".typing")).to_contain_text("正在输入…")
    slow = page.locator(".notice--slow")
    expect(slow).to_have_text("正在为您处理，请稍候…", timeout=SLOW_BOT_SECONDS * 1000)  # the gateway's, at 2 s
    expect(customer_bubbles(page).last).to_have_text("慢一点")
    page.screenshot(path=str(screenshots / "chat-mobile-waiting.png"))
    expect(bot_bubbles(page).last).to_have_text("让您久等了，已为您查到结果。")
    expect(slow).to_have_count(0)
    expect(page.locator(".typing")).to_have_count(0)
    assert page.errors == []


def test_an_agent_message_pushed_later_appears(desktop, chat_server):
    page = open_chat(desktop, chat_server)
    sender_id = page.evaluate("window.zhidian.senderId")
    delivered = post(f"{chat_server.url}/test/push/{sender_id}", {
        "type": "reply", "handled_by": "agent",
        "messages": [{"text": "您好，我是人工客服小王，请问您家是整栋楼停电还是只有您家？", "buttons": []}]})
    assert delivered == {"delivered": 1}
    agent = page.locator(".row--agent")
    expect(agent.locator(".who")).to_have_text("人工客服")
    expect(agent.locator(".bubble")).to_contain_text("人工客服小王")
    assert page.errors == []


def test_socket_drop_shows_the_banner_reconnects_and_sends_what_was_typed(mobile, chat_server, screenshots):
    page = open_chat(mobile, chat_server)
    sender_id = page.evaluate("window.zhidian.senderId")
    mobile.set_offline(True)
    post(f"{chat_server.url}/test/drop/{sender_id}")
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("连接中断，正在重连…")
    expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    send_text(page, "断网时发的")
    expect(page.locator(".row--customer .state").last).to_have_text("等待网络")
    expect(page.locator(".typing")).to_have_count(0)
    page.wait_for_timeout(250)
    page.screenshot(path=str(screenshots / "chat-mobile-reconnecting.png"))
    mobile.set_offline(False)
    expect(banner).to_be_hidden(timeout=15_000)
    expect(bot_bubbles(page).last).to_have_text("收到：断网时发的")
    expect(customer_bubbles(page).filter(has_text="断网时发的")).to_have_count(1)
    assert page.errors == []


def test_everything_is_served_locally(desktop, chat_server):
    page = desktop.new_page()
    origins: set[str] = set()
    page.on("request", lambda r: origins.add(urlsplit(r.url).netloc) if r.url.startswith("http") else None)
    page.goto(chat_server.url + "/")
    wait_connected(page)
    assert origins == {urlsplit(chat_server.url).netloc}
    assert "@font-face" not in page.evaluate("[...document.styleSheets].map(s => [...s.cssRules].map(r => r.cssText).join('')).join('')")


# ---------- layout and screenshots ----------

def _fill_demo_conversation(page: Page, chat_server) -> None:
    page.locator(".buttons--menu .chip", has_text="查电费").click()
    page.locator(".chip", has_text="是的，查询本户").click()
    expect(bot_bubbles(page).filter(has_text="还有其他可以帮您的吗？")).to_have_count(1)
    send_text(page, "户号3701234567890123456789012345678901234567890 https://example.invalid/a/very/long/path/without/any/breaks/at/all")
    expect(bot_bubbles(page).last).to_contain_text("收到：户号")
    sender_id = page.evaluate("window.zhidian.senderId")
    post(f"{chat_server.url}/test/push/{sender_id}", {
        "type": "reply", "handled_by": "agent",
        "messages": [{"text": "您好，我是人工客服小王，已看到您的查询记录，还有什么可以帮您？"}]})
    expect(page.locator(".row--agent")).to_have_count(1)
    page.locator("#input").fill("缴费方式有哪些")
    page.wait_for_timeout(300)  # let the entry animations finish before the picture


def test_mobile_layout_fits_390x844(mobile, chat_server, screenshots):
    page = open_chat(mobile, chat_server)
    page.screenshot(path=str(screenshots / "chat-mobile-welcome.png"))
    _fill_demo_conversation(page, chat_server)
    overflow = no_horizontal_overflow(page)
    assert overflow == {"page": 0, "list": 0, "outside": []}
    composer = page.locator(".composer").bounding_box()
    header = page.locator(".header").bounding_box()
    assert header["y"] == 0 and composer["y"] + composer["height"] <= 844 + 0.5
    assert page.locator("#send").bounding_box()["x"] + page.locator("#send").bounding_box()["width"] <= 390
    bubble = page.locator(".row--customer .bubble").last.bounding_box()
    assert bubble["x"] + bubble["width"] <= 390
    page.screenshot(path=str(screenshots / "chat-mobile.png"))
    assert page.errors == []


def test_desktop_screenshot(desktop, chat_server, screenshots):
    page = open_chat(desktop, chat_server)
    _fill_demo_conversation(page, chat_server)
    assert no_horizontal_overflow(page) == {"page": 0, "list": 0, "outside": []}
    page.screenshot(path=str(screenshots / "chat-desktop.png"))
    assert page.errors == []


# ---------- the router without a browser ----------

def _bare_app() -> FastAPI:
    from api.channels.web import router

    app = FastAPI()
    app.include_router(router)
    return app


def test_page_defaults_to_an_eight_second_reply_notice_and_serves_only_its_assets():
    with TestClient(_bare_app()) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert 'data-reply-timeout-ms="8000"' in page.text
        assert client.get("/static/chat.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/static/chat.css").headers["content-type"].startswith("text/css")
        assert client.get("/static/..%2Fsecret").status_code == 404
        assert client.get("/static/other.js").status_code == 404


def test_socket_protocol_frames_without_a_browser():
    app = _bare_app()
    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/ws/chat/bad id!") as ws:
                ws.receive_text()
        assert closed.value.code == 1008
        with client.websocket_connect("/ws/chat/web-protocol") as ws:
            ws.send_text("not json")
            assert ws.receive_json() == {"type": "error", "client_msg_id": None,
                                         "message": "消息格式有误，请刷新页面后重试。"}
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
            # no gateway on this app: no hello can succeed, and messages get a polite error
            ws.send_json({"type": "hello", "secret": "anything"})
            assert "95598" in ws.receive_json()["message"]
            ws.send_json({"type": "message", "text": "你好", "client_msg_id": "m1"})
            assert ws.receive_json() == {"type": "typing", "client_msg_id": "m1"}
            error = ws.receive_json()
            assert error["type"] == "error" and error["client_msg_id"] == "m1" and "95598" in error["message"]
            assert not app.state.connections.is_online("web-protocol")  # never opened: no pushes reach it


def test_a_message_resent_after_a_reconnect_is_answered_once(tmp_path):
    from api.migrate import upgrade
    from tests.browser.conftest import build_app

    url = f"sqlite:///{tmp_path / 'resend.db'}"
    upgrade(url)
    app = build_app(url)
    frame = {"type": "message", "text": "我家停电了", "client_msg_id": "c-1"}
    with TestClient(app) as client:
        chat = client.post("/api/chat/conversations").json()
        hello = {"type": "hello", "secret": chat["secret"]}
        with client.websocket_connect(f"/ws/chat/{chat['conversation_id']}") as ws:
            ws.send_json(hello)
            assert ws.receive_json()["type"] == "ready"
            ws.send_json(frame)
            assert ws.receive_json()["type"] == "typing"
            first = ws.receive_json()
        with client.websocket_connect(f"/ws/chat/{chat['conversation_id']}") as ws:  # the page came back
            ws.send_json(hello)
            assert ws.receive_json()["type"] == "ready"
            ws.send_json(frame)
            assert ws.receive_json()["type"] == "typing"
            again = ws.receive_json()
        turns = client.get(f"/api/chat/{chat['conversation_id']}/history",
                           headers={"X-Chat-Secret": chat["secret"]}).json()["turns"]
    assert first["messages"] == again["messages"] == [
        {"text": "收到：我家停电了", "buttons": [], "image": None, "sender": "bot"}]
    assert app.state.bot.received == ["我家停电了"]
    assert [t["sender"] for t in turns] == ["customer", "bot"]


# ---------- the whole API: conversations issued with a secret, waiting for a person ----------

@pytest.fixture
def full_server(settings):
    """The real app (all routers) with the fake Rasa, on its own database."""
    from tests.api.conversations.conftest import ALL_DAY, make_app
    from tests.conftest import ThreadedUvicorn, free_port
    from tests.fakes.rasa import FakeRasa
    import uvicorn

    with FakeRasa() as rasa:
        app = make_app(settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 5}))
        port = free_port()
        server = ThreadedUvicorn(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                lifespan="on"))
        server.start()
        app.state.desk.office_hours = ALL_DAY
        try:
            yield type("Server", (), {"url": f"http://127.0.0.1:{port}", "app": app})
        finally:
            server.stop()


def test_an_old_id_without_a_secret_starts_a_new_conversation(desktop, full_server):
    page = desktop.new_page()
    page.goto(full_server.url + "/")
    page.evaluate("localStorage.clear(); localStorage.setItem('zhidian.sender_id', 'web-1234')")
    page.reload()
    wait_connected(page)
    assert page.evaluate("localStorage.getItem('zhidian.sender_id')") is None
    assert stored_chat(page)["id"] != "web-1234"
    # a secret the API does not know: the page starts over instead of failing
    page.evaluate("localStorage.setItem('zhidian.chat', JSON.stringify({id: 'web-unknown-0001', secret: 'x'}))")
    page.reload()
    wait_connected(page)
    assert stored_chat(page)["id"] not in ("web-unknown-0001", "web-1234")
    send_text(page, "你好")
    expect(bot_bubbles(page).last).to_have_text("收到：你好")


def test_waiting_for_a_person_offers_a_call_back(mobile, full_server, screenshots):
    page = open_chat(mobile, full_server)
    send_text(page, "转人工")
    waiting = bot_bubbles(page).filter(has_text="现在暂时没有空闲的人工客服在线")
    expect(waiting).to_have_count(1)
    page.locator(".chip", has_text="留言，等回电").click()
    form = page.locator(".leave-message")
    expect(form).to_be_visible()
    form.locator("input").fill("1390000")
    form.get_by_role("button", name="提交留言").click()
    expect(form.locator(".leave-error")).to_have_text("请填写11位手机号，方便我们回电。")
    form.locator("input").fill("139 0000 0005")
    form.locator("textarea").fill("想问一下电表校验怎么申请")
    page.screenshot(path=str(screenshots / "chat-mobile-leave-message.png"))
    form.get_by_role("button", name="提交留言").click()
    done = page.locator(".notice--system").filter(has_text="已为您登记留言")
    expect(done).to_contain_text(re.compile(r"工单号GD\d{8}-\d{4}"), timeout=30_000)  # first use loads the address parser
    expect(form).to_have_count(0)
    page.reload()
    wait_connected(page)
    expect(page.locator(".notice--system").filter(has_text="已为您登记留言")).to_have_count(1)
    assert page.errors == []
