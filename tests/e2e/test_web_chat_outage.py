"""Acceptance: a customer reports outages in the web chat page (headless Chromium) against the
real Rasa, action server and API, and the tickets appear in GET /api/tickets."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from api.db import make_engine, make_sessionmaker
from api.demo.showcase import EXTRA_ACCOUNTS, SHOWCASE
from api.metering.models import Meter, MeterEvent
from api.notify.models import OutboxMessage
from tests.conftest import TEST_METERING_TOKEN, new_context

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
TICKET = re.compile(r"GD\d{8}-\d{4}")


def open_chat(browser, url: str) -> Page:
    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_function("window.zhidian && window.zhidian.isConnected()")
    return page


def say(page: Page, text: str, expect_in_reply: str) -> str:
    """Type like a customer and wait for the bot's answer containing `expect_in_reply`."""
    before = page.locator(".row--bot:not(.typing) .bubble").count()
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")
    expect(page.locator(".row--customer .bubble").last).to_have_text(text)
    answer = page.locator(".row--bot:not(.typing) .bubble").nth(before)
    expect(answer).to_be_visible()
    expect(page.locator(".row--bot:not(.typing) .bubble").filter(has_text=expect_in_reply).last).to_be_visible()
    return "\n".join(page.locator(".row--bot:not(.typing) .bubble").all_inner_texts()[before:])


def click(page: Page, title: str, expect_in_reply: str) -> str:
    before = page.locator(".row--bot:not(.typing) .bubble").count()
    page.locator(".chip:not([disabled])", has_text=re.compile(f"^{re.escape(title)}$")).last.click()
    expect(page.locator(".row--bot:not(.typing) .bubble").filter(has_text=expect_in_reply).last).to_be_visible()
    return "\n".join(page.locator(".row--bot:not(.typing) .bubble").all_inner_texts()[before:])


def latest_ticket(stack, account_no: str) -> dict:
    items = stack.http.get("/api/tickets", params={"account_no": account_no}, headers=stack.auth).json()["items"]
    return items[0]


def area_master(stack) -> str:
    """The open area ticket of the outage area (a neighbour's hotline report opens it if needed)."""
    neighbour = SHOWCASE["area_outage_neighbour"][0]
    ticket = stack.http.post("/api/tickets/faults", headers=stack.auth, json={
        "kind": "outage", "account_no": neighbour, "description": "整栋楼都停电了", "channel": "hotline",
    }).json()
    return ticket["parent_number"] or ticket["number"]


def test_outage_in_the_outage_area_is_attached_to_the_area_ticket(stack, browser):
    master = area_master(stack)
    page = open_chat(browser, stack.api_url)
    say(page, "你好，我家停电了", "户号")
    asked = say(page, SHOWCASE["area_outage"][0], "是这个地址停电吗")
    assert "*" in asked
    click(page, "是", "情况")
    say(page, "全屋都没电了，楼道灯也不亮", "请您核对报修信息")
    done = say(page, "确认", "工单")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web-chat-area-outage.png"), full_page=True)
    assert "并入" in done and master not in done  # one number per report: the customer's own

    ticket = latest_ticket(stack, SHOWCASE["area_outage"][0])
    assert ticket["number"] in done
    assert ticket["parent_number"] == master
    assert ticket["diagnosis"]["code"] == "area_outage"
    snapshot = ticket["metering_snapshot"]
    assert snapshot["readings"] and snapshot["area_state"]["share"] >= 0.8
    page.context.close()


def test_household_outage_elsewhere_gets_its_own_ticket(stack, browser):
    account_no = EXTRA_ACCOUNTS["household_outage_3"][0]  # 隆德县, away from the outage area
    page = open_chat(browser, stack.api_url)
    say(page, "家里突然没电了", "户号")
    say(page, account_no, "是这个地址停电吗")
    click(page, "是", "情况")
    say(page, "就我家没电，邻居家都有电", "请您核对报修信息")
    done = say(page, "确认", "工单")
    page.screenshot(path=str(SCREENSHOTS / "web-chat-household-outage.png"), full_page=True)
    number = TICKET.search(done).group(0)
    ticket = latest_ticket(stack, account_no)
    assert ticket["number"] == number
    assert ticket["parent_number"] is None
    assert ticket["diagnosis"]["code"] == "household_outage"
    assert "分钟内到达现场" in done
    page.context.close()


def test_an_outage_the_meters_report_is_told_before_the_customer_reports_it(stack, browser):
    """Issue 15: the metering system posts an area's 停电 events; the customer opens the web chat from the
    notice's link and is told of the outage and its repair first, then a report attaches to that ticket."""
    now = datetime.now(timezone.utc)
    engine = make_engine(stack.settings.database_url)
    with make_sessionmaker(engine)() as session:
        busy = set(session.scalars(select(Meter.transformer_area_id).join(MeterEvent, MeterEvent.meter_id == Meter.id)
                                   .where(MeterEvent.ts >= now - timedelta(days=2))))
        sizes = session.execute(select(Meter.transformer_area_id, func.count()).group_by(Meter.transformer_area_id)
                                .order_by(Meter.transformer_area_id)).all()
        area_id = next(a for a, n in sizes if a not in busy and n >= 4)
        meters = session.scalars(select(Meter.meter_no).where(Meter.transformer_area_id == area_id)).all()
    rows = [{"meter_no": m, "ts": (now - timedelta(minutes=4)).isoformat(), "kind": "停电"} for m in meters]
    posted = stack.http.post("/api/metering/events", json={"events": rows},
                             headers={"Authorization": f"Bearer {TEST_METERING_TOKEN}"}).json()
    assert posted["alerts_raised"] == 1, posted
    with make_sessionmaker(engine)() as session:
        sms = session.scalar(select(OutboxMessage).where(OutboxMessage.key.like("alert:%:outage:%"),
                                                         OutboxMessage.body.contains("/?n=")).order_by(OutboxMessage.id.desc()))
    engine.dispose()
    link = sms.body.split("/?n=")[1].split(" ")[0]

    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    with page.expect_response(lambda r: r.url.endswith("/api/chat/notice"), timeout=30_000) as answered:
        page.goto(stack.api_url + "/?n=" + link)
    assert answered.value.status == 200, answered.value.text()
    greeting = page.locator(".row--bot .bubble").filter(has_text="无需再报修")
    expect(greeting).to_be_visible(timeout=15_000)
    assert "停电" in greeting.inner_text()
    page.wait_for_timeout(800)  # the bubble's fade-in
    page.screenshot(path=str(SCREENSHOTS / "web-chat-proactive-outage.png"))
