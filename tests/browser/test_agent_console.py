"""The hotline agent console (/agent) in headless Chromium against the real API and a seeded demo DB.

A customer chats on the real chat page (/) in one browser context while an agent works in the
console in another; the bot is the local FakeRasa, the knowledge base the session's built one.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from api.conversations.models import SuggestionUse
from api.billing.models import Bill
from api.customers.models import Customer
from api.settings import Settings
from api.tickets.models import Ticket
from tests.browser.conftest import fake_bot_settings, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser

ACCOUNT = "0401000003"
MOBILE = "13900000003"
TARIFF_QUESTION = "峰谷电价几点开始算谷电？"


# ---------- fixtures ----------

@pytest.fixture
def kb_home(built_kb, tmp_path):
    """The API serves a private copy of the session's built knowledge base (KB suggestions)."""
    return built_kb.copy(tmp_path / "kb")


@pytest.fixture
def settings(db_url, kb_home, rasa) -> Settings:
    """As tests/conftest.py, but the bot is the FakeRasa (echoes, intents, handoff on 人工)."""
    return fake_bot_settings(db_url, kb_home, rasa)


@pytest.fixture
def agent_ctx(browser):
    context = new_context(browser, viewport={"width": 1366, "height": 768})
    yield context
    context.close()


@pytest.fixture
def customer_ctx(browser):
    context = new_context(browser, viewport={"width": 1280, "height": 800})
    yield context
    context.close()


# ---------- helpers ----------

def watch_errors(page: Page) -> Page:
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def open_agent(context: BrowserContext, api_server) -> Page:
    page = watch_errors(context.new_page())
    page.goto(api_server.url + "/agent")
    expect(page.locator("#login-view")).to_be_visible()
    return page


def console(context: BrowserContext, api_server, username: str, password: str) -> Page:
    """The console signed in, with its live socket up."""
    page = open_agent(context, api_server)
    sign_in(page, username, password)
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "online")
    return page


def open_chat(context: BrowserContext, api_server) -> Page:
    """The customer's chat page with its socket up."""
    page = watch_errors(context.new_page())
    page.goto(api_server.url + "/")
    page.wait_for_function("window.zhidian && window.zhidian.isConnected()")
    return page


def sender_of(chat: Page) -> str:
    return chat.evaluate("window.zhidian.senderId")


def say(chat: Page, text: str) -> None:
    chat.locator("#input").fill(text)
    chat.locator("#input").press("Enter")


def bot_bubbles(chat: Page):
    return chat.locator(".row--bot:not(.typing) .bubble")


def say_to_bot(chat: Page, text: str) -> None:
    """Send and wait for the bot's echo (FakeRasa answers 收到：<text>)."""
    before = bot_bubbles(chat).filter(has_text="收到：").count()
    say(chat, text)
    expect(bot_bubbles(chat).filter(has_text="收到：")).to_have_count(before + 1)


def service(api_server) -> httpx.Client:
    return httpx.Client(base_url=api_server.url, timeout=10,
                        headers={"Authorization": f"Bearer {api_server.token}"})


@contextmanager
def staff_client(api_server, username: str, password: str):
    """An HTTP client signed in as a staff member (session cookie)."""
    with httpx.Client(base_url=api_server.url, timeout=10) as http:
        response = http.post("/api/staff/login", json={"username": username, "password": password})
        assert response.is_success, response.text
        yield http


def conv_item(page: Page, list_id: str, conversation_id: str):
    return page.locator(f'#{list_id} .conv[data-id="{conversation_id}"]')


# ---------- 1. handoff requested by the customer ----------

def test_agent_takes_over_a_queued_chat_answers_with_a_suggestion_and_hands_back(
        agent_ctx, customer_ctx, api_server, rasa, session, screenshots):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    expect(agent.locator("#who")).to_contain_text("王丽")
    expect(agent.locator("#status-switch [aria-checked='true']")).to_have_text("离线")
    expect(agent.locator("#queue-list")).to_contain_text("暂无排队客户")

    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, TARIFF_QUESTION)
    say_to_bot(chat, "我要转人工")

    # live, without a reload: the customer is waiting, with why and for how long
    waiting = conv_item(agent, "queue-list", sender)
    expect(waiting).to_be_visible()
    expect(waiting.locator(".reason")).to_have_text("客户要求转人工")
    expect(waiting.locator(".wait")).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
    expect(waiting.locator(".conv-text")).to_have_text("我要转人工")

    # the bot verified the caller meanwhile: the conversation knows its 户号 (客户360)
    with service(api_server) as http:
        verified = http.post("/api/customers/verify", json={
            "account_no": ACCOUNT, "phone_last4": MOBILE[-4:], "conversation_id": sender})
        assert verified.json() == {"verified": True}

    waiting.get_by_role("button", name=re.compile("^接入")).click()
    expect(chat.locator(".notice--system").filter(has_text="人工客服王丽已接入")).to_be_visible()
    expect(conv_item(agent, "mine-list", sender)).to_be_visible()
    expect(conv_item(agent, "queue-list", sender)).to_have_count(0)
    expect(agent.locator("#load-count")).to_have_text("1/5")

    # the whole transcript, customer / bot / system kept apart
    transcript = agent.locator("#transcript")
    expect(transcript.locator(".turn--customer .bubble")).to_have_text(
        [re.compile("^峰谷电价几点开始算谷电"), "我要转人工"])
    expect(transcript.locator(".turn--bot .bubble")).to_have_text(  # and the waiting notice (no agent online)
        [re.compile("^收到：峰谷电价"), "收到：我要转人工", re.compile("^现在暂时没有空闲的人工客服在线")])
    expect(transcript.locator(".turn--system")).to_contain_text("人工客服王丽已接入")
    expect(agent.locator("#chat-sub")).to_contain_text("由我接待")
    expect(agent.locator("#c360-body .c360-name")).to_contain_text("马兵仁")

    # the suggestions for the tariff question: nothing said to the customer yet, so the greeting that fits the
    # handoff comes first (in the agent's own name), then the KB answers, then the intent's template
    question = transcript.locator(".turn--customer").filter(has_text="峰谷电价")
    question.get_by_role("button", name="建议回复").click()
    suggest = question.locator(".suggest")
    expect(suggest.locator(".sugg--kb")).to_have_count(3)
    expect(suggest.locator(".sugg--template")).to_have_count(2)
    expect(suggest.locator(".sugg").first).to_have_class(re.compile("sugg--situation"))
    expect(suggest.locator(".sugg").first.locator(".sugg-text")).to_contain_text("您好，我是人工客服王丽")
    expect(suggest.locator(".sugg").last).to_have_attribute("data-kind", "template")
    best = suggest.locator(".sugg--kb").first
    expect(best).to_have_attribute("data-ref", "price-tou-periods-prices")
    answer = best.locator(".sugg-text").text_content()
    assert "22:00" in answer

    best.get_by_role("button", name="插入").first.click()
    expect(agent.locator("#reply")).to_have_value(answer)
    expect(agent.locator("#source")).to_contain_text("知识库建议 1")
    expect(agent.locator("#source")).to_contain_text("未修改")
    expect(agent.locator("#c360-body canvas").first).to_be_visible()
    assert agent.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
    agent.screenshot(path=str(screenshots / "agent-console-takeover.png"))
    agent.locator("#send").click()
    expect(agent.locator("#reply")).to_have_value("")
    expect(transcript.locator(".turn--agent .bubble")).to_have_text([answer])
    first_line = answer.split("\n")[0]
    expect(chat.locator(".row--agent .bubble")).to_contain_text(first_line[:30])

    # the customer answers: the agent sees it live and the bot stays silent
    asked_bot = len(rasa.received)
    bot_lines = bot_bubbles(chat).count()
    say(chat, "好的，我明白了，谢谢")
    expect(transcript.locator(".turn--customer .bubble").last).to_have_text(re.compile("^好的.我明白了.谢谢$"))
    expect(conv_item(agent, "mine-list", sender).locator(".conv-text")).to_have_text(re.compile("^好的"))
    assert len(rasa.received) == asked_bot
    expect(bot_bubbles(chat)).to_have_count(bot_lines)
    chat.screenshot(path=str(screenshots / "agent-customer-chat.png"))

    # one click hands it back; the customer is told, and the bot answers again
    agent.get_by_role("button", name="交还机器人").click()
    expect(chat.locator(".notice--system").filter(has_text="已结束本次服务")).to_be_visible()
    expect(agent.locator("#chat-sub")).to_contain_text("智能客服接待中")
    expect(agent.locator("#reply")).to_be_disabled()
    expect(conv_item(agent, "mine-list", sender)).to_have_count(0)
    say_to_bot(chat, "再问一下电费")
    expect(bot_bubbles(chat).last).to_have_text("收到：再问一下电费")
    assert len(rasa.received) == asked_bot + 1

    uses = session.scalars(select(SuggestionUse).where(SuggestionUse.conversation_id == sender)).all()
    assert [(u.kind, u.ref, u.rank, u.edited, u.agent) for u in uses] == [
        ("kb", "price-tou-periods-prices", 1, False, "agent01")]
    assert agent.errors == [] and chat.errors == []  # type: ignore[attr-defined]


# ---------- 2. taking over a chat the bot is having ----------

def test_agent_takes_over_a_live_bot_chat(agent_ctx, customer_ctx, api_server, rasa):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, "我家停电了怎么办")

    live = conv_item(agent, "bot-list", sender)
    expect(live).to_be_visible()
    expect(live.locator(".conv-text")).to_have_text("我家停电了怎么办")
    expect(conv_item(agent, "queue-list", sender)).to_have_count(0)

    # a look first (read only), then 接入 from the list
    live.locator(".conv-open").click()
    expect(agent.locator("#chat-sub")).to_contain_text("智能客服接待中")
    expect(agent.locator("#reply")).to_be_disabled()
    expect(agent.locator("#transcript .turn--customer .turn-meta .intent")).to_have_text("停电报修")
    live.get_by_role("button", name=re.compile("^接入")).click()

    expect(chat.locator(".notice--system").filter(has_text="人工客服王丽已接入")).to_be_visible()
    expect(agent.locator("#chat-sub")).to_contain_text("坐席主动接入")
    expect(conv_item(agent, "bot-list", sender)).to_have_count(0)
    expect(conv_item(agent, "mine-list", sender)).to_be_visible()

    reply = agent.locator("#reply")
    expect(reply).to_be_enabled()
    reply.fill("您好，我是人工客服，马上帮您查询停电原因。")
    reply.press("Enter")
    expect(chat.locator(".row--agent .bubble")).to_have_text(re.compile("^您好，我是人工客服，马上帮您查询停电原因"))

    asked_bot = len(rasa.received)
    say(chat, "好的")
    expect(agent.locator("#transcript .turn--customer .bubble").last).to_have_text("好的")
    assert len(rasa.received) == asked_bot
    assert agent.errors == [] and chat.errors == []  # type: ignore[attr-defined]


# ---------- 3. hotline mode ----------

def add_bills(session, account_no: str) -> None:
    """Two monthly bills (the short test demo has no complete month yet)."""
    customer = session.scalar(select(Customer).where(Customer.account_no == account_no))
    today = date.today()
    last = today.replace(day=1) - timedelta(days=1)
    before = last.replace(day=1) - timedelta(days=1)
    session.add_all([
        Bill(customer_id=customer.id, period=before.strftime("%Y-%m"), kwh=Decimal("231.40"), amount_fen=10671,
             due_date=before + timedelta(days=15), paid=True),
        Bill(customer_id=customer.id, period=last.strftime("%Y-%m"), kwh=Decimal("286.00"), amount_fen=15237,
             due_date=last + timedelta(days=15), paid=False),
    ])
    session.commit()


def test_hotline_lookup_shows_the_customer_360_and_suggestions(agent_ctx, api_server, session, screenshots):
    add_bills(session, ACCOUNT)
    with service(api_server) as http:
        ticket = http.post("/api/tickets/faults", json={
            "kind": "outage", "description": "家里没电了", "channel": "hotline", "account_no": ACCOUNT,
            "phone": MOBILE})
        assert ticket.status_code == 201, ticket.text
    number = ticket.json()["number"]

    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    agent.get_by_role("tab", name="热线模式").click()
    expect(agent.locator("#hotline-pane")).to_be_visible()
    agent.get_by_label("来电号码 / 户号").fill("139 0000 0003")
    agent.get_by_role("button", name="查询客户").click()

    body = agent.locator("#c360-body")
    expect(body.locator(".c360-name")).to_contain_text("马兵仁")
    expect(body).to_have_attribute("data-account", ACCOUNT)
    expect(body.locator(".money-box").first).to_contain_text(re.compile(r"\d+\.\d{2} 元"))
    expect(body.locator(".bills tbody tr")).to_have_count(2)
    expect(body.locator(".bills tbody tr").first).to_contain_text("152.37 元")
    expect(body.locator(".bills tbody tr").first).to_contain_text("未缴")
    expect(body.locator(".money-box").nth(1)).to_contain_text("152.37 元")
    expect(body.locator("#load-chart canvas")).to_have_count(1)
    expect(body.locator(".events li").first).to_be_visible()
    expect(body.locator(f'.tickets li[data-number="{number}"]')).to_contain_text("故障报修")

    agent.get_by_label("客户问题").fill("电费怎么交")
    agent.get_by_role("button", name="获取建议").click()
    suggest = agent.locator("#hotline-suggestions .suggest")
    expect(suggest.locator(".sugg--kb").first).to_be_visible()
    expect(suggest.locator(".suggest-head .intent")).to_have_text("意图：查询电费")
    # the caller's account is known: the template says it, leaving the month and amounts to the agent
    expect(suggest.locator(".sugg--template")).to_contain_text(f"户号{ACCOUNT}【月份】")
    first = suggest.locator(".sugg--kb").first
    text = first.locator(".sugg-text").text_content()
    first.get_by_role("button", name="插入").first.click()
    expect(agent.locator("#script")).to_have_value(text)
    agent.screenshot(path=str(screenshots / "agent-hotline-360.png"))

    # a 户号 works as well as a mobile number; anything else is explained
    agent.get_by_label("来电号码 / 户号").fill("12345")
    agent.get_by_role("button", name="查询客户").click()
    expect(agent.locator("#lookup-error")).to_have_text("请输入10位户号或11位手机号")
    agent.get_by_label("来电号码 / 户号").fill(ACCOUNT)
    agent.get_by_role("button", name="查询客户").click()
    expect(body.locator(".c360-name")).to_contain_text("马兵仁")
    expect(agent.locator("#lookup-error")).to_be_hidden()
    assert agent.errors == []  # type: ignore[attr-defined]


# ---------- 4. a ticket from the console ----------

def test_ticket_created_from_a_conversation_is_prefilled(agent_ctx, customer_ctx, api_server, session):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, f"我家停电了，户号{ACCOUNT}，电话{MOBILE}")
    say_to_bot(chat, "转人工")
    conv_item(agent, "queue-list", sender).get_by_role("button", name=re.compile("^接入")).click()
    expect(chat.locator(".notice--system").filter(has_text="已接入")).to_be_visible()

    # the numbers the customer typed are one click from the 360 view
    agent.locator("#c360-detected").get_by_role("button", name=f"查询 {ACCOUNT}").click()
    expect(agent.locator("#c360-body .c360-name")).to_contain_text("马兵仁")

    agent.get_by_role("button", name="创建工单").click()
    dialog = agent.locator("#ticket-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("工单类型")).to_have_value("故障报修")
    expect(dialog.get_by_label("故障类别")).to_have_value("outage")
    expect(dialog.get_by_label("户号")).to_have_value(ACCOUNT)
    expect(dialog.get_by_label("联系电话")).to_have_value(MOBILE)
    expect(dialog.get_by_label("问题描述")).to_have_value(re.compile("^我家停电了"))
    expect(dialog.get_by_label("地址")).to_have_value("原州区南关街道民主街73号9号楼1单元202")  # from the 360 view
    expect(dialog.get_by_label("业务类型")).to_be_hidden()
    dialog.get_by_role("button", name="提交工单").click()

    number_el = dialog.locator("#ticket-number")
    expect(number_el).to_have_text(re.compile(r"^GD\d{8}-\d{4}$"))
    number = number_el.text_content()
    expect(dialog.get_by_role("button", name="提交工单")).to_be_hidden()
    with service(api_server) as http:
        ticket = http.get(f"/api/tickets/{number}")
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    assert (body["type"], body["channel"], body["account_no"]) == ("故障报修", "web", ACCOUNT)
    assert body["description"].startswith("我家停电了")
    stored = session.scalar(select(Ticket).where(Ticket.number == number))
    assert stored.conversation_id == sender

    dialog.get_by_role("button", name="关闭").last.click()
    expect(dialog).to_be_hidden()
    expect(agent.locator(f'#c360-body .tickets li[data-number="{number}"]')).to_be_visible()
    assert agent.errors == [] and chat.errors == []  # type: ignore[attr-defined]


# ---------- 5. who may use the console ----------

@pytest.mark.parametrize("username,password", [("crew.yz01", "Demo-crew-yz01"), ("auditor01", "Demo-auditor-01")])
def test_other_roles_see_the_api_refusal_and_no_console(agent_ctx, api_server, username, password):
    with staff_client(api_server, username, password) as http:
        refused = http.get("/api/agent/me")
    assert refused.status_code == 403
    page = open_agent(agent_ctx, api_server)
    sign_in(page, username, password)
    expect(page.locator("#denied-error")).to_have_text(refused.json()["detail"]["message"])
    expect(page.locator("#denied-view .empty")).to_contain_text("请退出后使用坐席账号登录")
    expect(page.locator("#console")).to_be_hidden()
    expect(page.locator("#desk-controls")).to_be_hidden()
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#denied-view")).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


def test_wrong_password_is_shown(agent_ctx, api_server):
    page = open_agent(agent_ctx, api_server)
    sign_in(page, "agent01", "wrong-password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码不正确")
    expect(page.locator("#console")).to_be_hidden()


def test_supervisor_switches_team_auto_assignment(agent_ctx, api_server):
    agent = console(agent_ctx, api_server, "supervisor01", "Demo-supervisor-01")
    switch = agent.get_by_role("switch", name="95598一组 自动分配")
    expect(switch).to_be_checked()
    switch.click()
    expect(switch).not_to_be_checked()
    expect(switch).to_be_enabled()
    with staff_client(api_server, "supervisor01", "Demo-supervisor-01") as http:
        assert http.get("/api/agent/teams").json() == [{"team": "95598一组", "auto_assign": False}]
    switch.click()
    expect(switch).to_be_checked()
    expect(switch).to_be_enabled()
    with staff_client(api_server, "supervisor01", "Demo-supervisor-01") as http:
        assert http.get("/api/agent/teams").json() == [{"team": "95598一组", "auto_assign": True}]
    assert agent.errors == []  # type: ignore[attr-defined]


def test_agents_do_not_see_the_team_switch(agent_ctx, api_server):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    expect(agent.locator("#teams")).to_be_hidden()


# ---------- 6. auto-assignment ----------

def test_online_agent_gets_waiting_customers_automatically(agent_ctx, customer_ctx, api_server):
    agent = console(agent_ctx, api_server, "agent02", "Demo-agent-02")
    agent.locator("#status-switch").get_by_role("radio", name="在线").click()
    expect(agent.locator("#status-switch").get_by_role("radio", name="在线")).to_have_attribute("aria-checked", "true")

    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, "我要转人工")

    expect(conv_item(agent, "mine-list", sender)).to_be_visible()
    expect(chat.locator(".notice--system").filter(has_text="人工客服李娜已接入")).to_be_visible()
    expect(agent.locator("#load-count")).to_have_text("1/5")
    expect(agent.locator("#chat-sub")).to_contain_text("由我接待")  # opened for the agent at once
    expect(conv_item(agent, "queue-list", sender)).to_have_count(0)
    assert agent.errors == [] and chat.errors == []  # type: ignore[attr-defined]


# ---------- an agent who signs out leaves no customer behind ----------

def test_signing_out_hands_the_agents_chat_to_the_front_of_the_queue_and_the_customer_is_told(
        agent_ctx, customer_ctx, browser, api_server, rasa, screenshots):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, "我要转人工")
    conv_item(agent, "queue-list", sender).get_by_role("button", name=re.compile("^接入")).click()
    expect(chat.locator(".notice--system").filter(has_text="人工客服王丽已接入")).to_be_visible()

    agent.locator("#logout").click()  # without choosing 离线 first
    expect(agent.locator("#login-view")).to_be_visible()
    expect(chat.locator(".notice--system").filter(has_text="刚才为您服务的客服暂时离开了")).to_be_visible()

    other_ctx = new_context(browser, viewport={"width": 1366, "height": 768})
    try:
        other = console(other_ctx, api_server, "agent02", "Demo-agent-02")
        waiting = conv_item(other, "queue-list", sender)
        expect(waiting).to_be_visible()
        expect(other.locator("#queue-list .conv").first).to_have_attribute("data-id", sender)  # at the front
        chat.screenshot(path=str(screenshots / "chat-agent-signed-out.png"))
    finally:
        other_ctx.close()
    assert not agent.errors and not chat.errors


# ---------- a customer the agent leaves unanswered goes back to the queue ----------

def test_a_customer_left_unanswered_goes_to_the_front_of_the_queue_and_is_told(
        agent_ctx, customer_ctx, api_server, rasa, screenshots):
    agent = console(agent_ctx, api_server, "agent01", "Demo-agent-01")
    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, "我要转人工")
    conv_item(agent, "queue-list", sender).get_by_role("button", name=re.compile("^接入")).click()
    expect(chat.locator(".notice--system").filter(has_text="人工客服王丽已接入")).to_be_visible()
    say(chat, "有人吗？我家停电了")
    expect(agent.locator("#transcript .turn--customer .bubble").last).to_have_text("有人吗？我家停电了")

    desk = api_server.app.state.desk  # the sweep the API runs every 15 s, run now instead of waiting
    assert desk.sweep_unanswered() == 0, "just said: within AGENT_REPLY_MINUTES"
    desk.reply_minutes = 0  # as if AGENT_REPLY_MINUTES had gone by with no answer
    assert desk.sweep_unanswered() == 1

    expect(chat.locator(".notice--system").filter(has_text="非常抱歉让您久等了")).to_be_visible()
    expect(agent.locator("#queue-list .conv").first).to_have_attribute("data-id", sender)  # at the front
    expect(agent.locator("#load-count")).to_have_text("0/5")
    chat.screenshot(path=str(screenshots / "chat-agent-unanswered.png"))
    assert not agent.errors and not chat.errors


# ---------- the supervisor sees every agent and moves a chat ----------

def test_the_supervisor_sees_the_agents_and_moves_a_waiting_chat_to_one(
        agent_ctx, customer_ctx, api_server, rasa, screenshots):
    supervisor = console(agent_ctx, api_server, "supervisor01", "Demo-supervisor-01")
    agents = supervisor.locator("#agents-list")
    expect(agents.locator('[data-username="agent02"] .agent-status')).to_have_text("离线")
    chat = open_chat(customer_ctx, api_server)
    sender = sender_of(chat)
    say_to_bot(chat, "我要转人工")
    conv_item(supervisor, "queue-list", sender).click()
    expect(supervisor.locator("#transfer")).to_be_visible()
    supervisor.locator("#transfer-to").select_option("agent02")
    supervisor.locator("#transfer-go").click()
    expect(chat.locator(".notice--system").filter(has_text="已为您转接人工客服李娜")).to_be_visible()
    expect(agents.locator('[data-username="agent02"] .agent-load')).to_have_text("1/5")
    expect(conv_item(supervisor, "queue-list", sender)).to_have_count(0)
    expect(supervisor.locator("#chat-sub")).to_contain_text("坐席 李娜 接待中")
    expect(supervisor.locator(".toast").last).to_contain_text("已转给 李娜")
    supervisor.screenshot(path=str(screenshots / "agent-console-supervisor-transfer.png"))
    assert not supervisor.errors and not chat.errors
