"""The agent console's transcript and ticket view (issue 18) in headless Chromium, the console under
the page's real Content-Security-Policy: the bot's chart shown as an image (not an empty bubble) with
the buttons the customer was offered, the "N条新消息 ↓" pill while the agent reads further up, unread
marks in the lists, and the 客户360's ticket with its status, what the customer was told and the
area ticket it is attached to.

A customer chats on the real chat page (/) in one browser context while an agent works in the
console in another; the bot is the local FakeRasa (no knowledge base: suggestions are not the point).
"""
from __future__ import annotations

import re
import struct
import zlib

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from api.billing import charts
from api.conversations import handoff
from api.conversations import service as conversations
from api.core.time import utcnow
from api.core.vocabulary import TICKET_STATUS_TOLD
from api.demo.showcase import SHOWCASE
from api.settings import Settings
from tests.browser.conftest import fake_bot_settings, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser

ACCOUNT = "0401000003"  # has a meter with readings: its profile chart has a curve
MOBILE = "13900000003"
CHART_QUESTION = "我家用电情况怎么样"
CHART_TEXT = "这是您近30天的平均日负荷曲线（按小时）："
OFFERED = ["要节能建议", "不用了"]


# ---------- fixtures ----------

@pytest.fixture
def settings(db_url, kb_home, rasa) -> Settings:
    """As tests/conftest.py, but the bot is the FakeRasa (echoes, handoff on 人工); no knowledge base."""
    return fake_bot_settings(db_url, kb_home, rasa)


@pytest.fixture
def agent_ctx(browser):
    """The agent's browser obeys the page's Content-Security-Policy (img-src included)."""
    context = new_context(browser, strict_csp=True, viewport={"width": 1366, "height": 768})
    yield context
    context.close()


@pytest.fixture
def customer_ctx(browser):
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


# ---------- helpers ----------

def console(context: BrowserContext, api_server, username: str = "agent01", password: str = "Demo-agent-01") -> Page:
    """The console signed in, with its live socket up; script errors and CSP refusals collected."""
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.errors.append(msg.text))
    page.goto(api_server.url + "/agent")
    expect(page.locator("#login-view")).to_be_visible()
    sign_in(page, username, password)
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "online")
    return page


def open_chat(context: BrowserContext, api_server) -> Page:
    page = context.new_page()
    page.goto(api_server.url + "/")
    page.wait_for_function("window.zhidian && window.zhidian.isConnected()")
    return page


def say(chat: Page, text: str) -> None:
    chat.locator("#input").fill(text)
    chat.locator("#input").press("Enter")


def say_to_bot(chat: Page, text: str) -> None:
    """Send and wait for the bot's echo (FakeRasa answers 收到：<text>)."""
    echoes = chat.locator(".row--bot:not(.typing) .bubble").filter(has_text="收到：")
    before = echoes.count()
    say(chat, text)
    expect(echoes).to_have_count(before + 1)


def service(api_server) -> httpx.Client:
    return httpx.Client(base_url=api_server.url, timeout=10,
                        headers={"Authorization": f"Bearer {api_server.token}"})


def at_bottom(page: Page) -> bool:
    return page.locator("#transcript").evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 4")


def save_screenshot(page: Page, name: str, screenshots) -> None:
    page.screenshot(path=str(screenshots / name))


# ---------- the transcript: chart, offered buttons, new lines below ----------

def test_the_chart_turn_shows_its_image_and_new_lines_below_show_a_pill(
        agent_ctx, customer_ctx, api_server, rasa, screenshots):
    link = charts.link(secret=api_server.settings.staff_secret, account_no=ACCOUNT)

    def answer(body):
        if body["message"] == CHART_QUESTION:  # as action_consumption_analysis answers: words, the chart, a choice
            return [{"recipient_id": body["sender"], "text": CHART_TEXT},
                    {"recipient_id": body["sender"], "image": link},
                    {"recipient_id": body["sender"], "text": "需要为您分析节能建议吗？",
                     "buttons": [{"title": OFFERED[0], "payload": "/energy_advice"},
                                 {"title": OFFERED[1], "payload": "/deny"}]}]
        return None

    rasa.on_message = answer
    agent = console(agent_ctx, api_server)
    chat = open_chat(customer_ctx, api_server)
    sender = chat.evaluate("window.zhidian.senderId")
    say(chat, CHART_QUESTION)
    expect(chat.locator(".bubble--image img")).to_be_visible()
    with service(api_server) as http:  # the bot verified the account (before the chart): the 360 shows it
        verified = http.post("/api/customers/verify", json={
            "account_no": ACCOUNT, "phone_last4": MOBILE[-4:], "conversation_id": sender})
        assert verified.json() == {"verified": True}
    for i in range(4):  # a transcript longer than the console's view
        say_to_bot(chat, f"再问一个问题，第{i + 1}个：峰谷电价怎么算？")
    say_to_bot(chat, "我要转人工")

    waiting = agent.locator(f'#queue-list .conv[data-id="{sender}"]')
    expect(waiting).to_be_visible()
    # the waiting customer writes again while the agent has another chat open: the list marks it
    say(chat, "有人吗？")
    expect(waiting.locator(".unread")).to_have_text("1")
    waiting.get_by_role("button", name=re.compile("^接入")).click()
    expect(agent.locator("#chat-sub")).to_contain_text("由我接待")
    expect(agent.locator(f'#mine-list .conv[data-id="{sender}"] .unread')).to_have_count(0)  # open: read

    # the chart turn: the image the customer saw, loaded under the page's policy, opening full size
    transcript = agent.locator("#transcript")
    chart_turn = transcript.locator(".turn--bot").filter(has=agent.locator(".turn-image"))
    expect(chart_turn).to_have_count(1)
    expect(chart_turn.locator(".bubble")).to_have_count(0)  # no empty grey bubble any more
    image = chart_turn.locator(".turn-image img")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0
    assert image.evaluate("img => img.getBoundingClientRect().width") > 200
    opener = chart_turn.locator("a.turn-image")
    expect(opener).to_have_attribute("href", api_server.url + link)
    expect(opener).to_have_attribute("target", "_blank")
    # the buttons the customer was offered: shown as chips, not something the agent can press
    offered = transcript.locator(".turn--bot").filter(has_text="需要为您分析节能建议吗")
    expect(offered.locator(".turn-buttons .chip")).to_have_text(OFFERED)
    expect(offered.locator(".turn-buttons button")).to_have_count(0)
    expect(transcript.locator(".turn--bot .bubble").filter(has_text=re.compile(r"^\s*$"))).to_have_count(0)

    # the agent reads further up; the customer writes: a pill says how many lines wait below
    pill = agent.locator("#new-below")
    expect(pill).to_be_hidden()
    transcript.evaluate("el => { el.scrollTop = 0; }")
    say(chat, "我家的曲线为什么晚上这么高？")
    expect(pill).to_be_visible()
    expect(pill).to_have_text("1条新消息 ↓")
    say(chat, "是不是热水器的原因")
    expect(pill).to_have_text("2条新消息 ↓")
    assert not at_bottom(agent)  # the agent's reading place is kept
    expect(agent.locator("#c360-body .c360-name")).to_contain_text("马兵仁")
    save_screenshot(agent, "agent-console-transcript.png", screenshots)
    pill.click()
    expect(pill).to_be_hidden()
    last = transcript.locator(".turn--customer .bubble").last
    expect(last).to_have_text("是不是热水器的原因")
    expect(last).to_be_in_viewport()

    # reaching the bottom by scrolling also clears it
    transcript.evaluate("el => { el.scrollTop = 0; }")
    say(chat, "在线等")
    expect(pill).to_have_text("1条新消息 ↓")
    transcript.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(pill).to_be_hidden()
    # while at the bottom a new line keeps the view at the end and shows no pill
    say(chat, "谢谢")
    expect(last).to_have_text("谢谢")
    expect(last).to_be_in_viewport()
    expect(pill).to_be_hidden()
    assert agent.errors == []  # type: ignore[attr-defined]


# ---------- the 客户360: status words and the area ticket ----------

def test_the_360_shows_the_status_what_the_customer_was_told_and_the_area_ticket(
        agent_ctx, api_server, screenshots):
    area_account = SHOWCASE["area_outage"][0]
    account, mobile = SHOWCASE["area_outage_neighbour"]
    with service(api_server) as http:
        def report(account_no: str) -> dict:
            response = http.post("/api/tickets/faults", json={
                "kind": "outage", "description": "家里突然没电了", "channel": "web", "account_no": account_no})
            assert response.status_code == 201, response.text
            return response.json()

        area = report(area_account)
        mine = report(account)
        area = http.get(f"/api/tickets/{area['number']}").json()
    assert mine["parent_number"] == area["number"] and area["status"] == "已派单" and area["crew"]

    agent = console(agent_ctx, api_server)
    agent.locator("#tab-hotline").click()
    agent.locator("#lookup").fill(mobile)
    agent.locator("#lookup-submit").click()
    body = agent.locator("#c360-body")
    expect(body).to_have_attribute("data-account", account)

    ticket = body.locator(f'.tickets li[data-number="{mine["number"]}"]')
    expect(ticket.locator(".ticket-row .tag--open")).to_have_text("新建")
    expect(ticket.locator(".ticket-told").first).to_have_text("客户看到：" + TICKET_STATUS_TOLD["新建"])
    parent = ticket.locator(".ticket-parent")
    expect(parent).to_have_attribute("data-parent", area["number"])
    expect(parent.locator(".ticket-parent-head")).to_contain_text("已并入区域抢修工单")
    expect(parent.locator(".ticket-parent-head .tag")).to_have_text("已派单")
    expect(parent.locator(".ticket-told")).to_have_text("客户看到：" + TICKET_STATUS_TOLD["已派单"])
    expect(parent.locator(".ticket-parent-line")).to_contain_text("处理班组：" + area["crew"]["name"])
    expect(parent.locator(".ticket-parent-line")).to_contain_text(re.compile(r"最迟 \d{2}/\d{2} \d{2}:\d{2} 到场"))

    # the area ticket's number opens its progress: dispatched, and this customer's report attached
    number = parent.get_by_role("button", name=area["number"])
    expect(number).to_have_attribute("aria-expanded", "false")
    number.click()
    expect(number).to_have_attribute("aria-expanded", "true")
    progress = parent.locator(".ticket-parent-events li")
    expect(progress.filter(has_text="派单")).to_have_count(1)
    expect(progress.filter(has_text="关联报修")).to_contain_text(mine["number"])
    save_screenshot(agent, "agent-console-area-ticket.png", screenshots)
    number.click()
    expect(parent.locator(".ticket-parent-events")).to_have_count(0)
    assert agent.errors == []  # type: ignore[attr-defined]


# ---------- a picture the customer sent on WeChat ----------

def png(width: int = 48, height: int = 32) -> bytes:
    """A real PNG (a red block), small enough to build here."""
    rows = b"".join(b"\x00" + bytes((200, 40, 30)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_a_picture_the_customer_sent_on_wechat_shows_in_the_transcript(agent_ctx, api_server, session, screenshots):
    conversation_id = "wx-oPictureSender0123456789ab"
    now = utcnow()
    _, words = conversations.record_customer_turn(session=session, conversation_id=conversation_id, channel="wechat",
                                                  text="表箱里冒烟了，我拍了照片", client_msg_id="wx-1", now=now)
    words.delivery = "ok"
    conversations.record_customer_image(session=session, conversation_id=conversation_id, channel="wechat",
                                        data=png(), source_ref="media-1", client_msg_id="wx-2", now=now)
    handoff.enqueue(session=session, conversation_id=conversation_id, reason="customer_asked", now=now)
    session.commit()

    agent = console(agent_ctx, api_server)
    waiting = agent.locator(f'#queue-list .conv[data-id="{conversation_id}"]')
    expect(waiting).to_contain_text("[图片]")  # what the customer sent last
    waiting.click()
    picture = agent.locator('#transcript .turn--customer img[alt="客户发来的图片"]')
    expect(picture).to_be_visible()
    agent.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    assert picture.evaluate("img => img.naturalWidth") == 48  # served to the agent's session, under the CSP
    expect(agent.locator("#transcript .turn--customer .bubble").first).to_have_text("表箱里冒烟了，我拍了照片")
    save_screenshot(agent, "agent-console-customer-picture.png", screenshots)
    assert agent.errors == []
