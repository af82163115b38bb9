"""The crews' mobile page (/crew) in headless Chromium against the real API and a seeded demo DB."""
from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete

from api.core.time import LOCAL_TZ, utcnow
from api.dispatch.models import CrewShift

from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser

PHONE = "13900000003"


@pytest.fixture
def phone(browser):
    """A fresh phone-sized browser (390×844, touch) with its own cookies."""
    context = new_context(browser, viewport={"width": 390, "height": 844}, device_scale_factor=1,
                          is_mobile=True, has_touch=True)
    yield context
    context.close()


def service(api_server) -> httpx.Client:
    return httpx.Client(base_url=api_server.url, timeout=10,
                        headers={"Authorization": f"Bearer {api_server.token}"})


def fault_ticket_for_yz01(api_server) -> str:
    """A fresh outage ticket, given to crew YZ-01 (the demo crew that can sign in)."""
    with service(api_server) as http:
        response = http.post("/api/tickets/faults", json={
            "kind": "outage", "description": "家里没电", "channel": "hotline",
            "account_no": "0401000003", "phone": PHONE})
        assert response.status_code == 201, response.text
        ticket = response.json()
        if (ticket.get("crew") or {}).get("id") != "YZ-01":
            moved = http.post(f"/api/tickets/{ticket['number']}/reassign",
                              json={"crew_id": "YZ-01", "reason": "班组就在附近"})
            assert moved.status_code == 200, moved.text
            assert moved.json()["status"] == "已派单"
        return ticket["number"]


def open_crew(context, api_server) -> Page:
    return open_staff_page(context, api_server.url, "/crew")


def test_crew_works_a_ticket_from_accept_to_resolved(phone, api_server, screenshots):
    number = fault_ticket_for_yz01(api_server)
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")

    expect(page.get_by_role("heading", name="我的工单")).to_be_visible()
    card = page.locator(f'article[data-number="{number}"]')
    expect(card).to_be_visible()
    expect(card.locator(".number")).to_have_text(number)
    expect(card.locator(".status")).to_have_text("已派单")
    expect(card.locator(f'a[href="tel:{PHONE}"]')).to_have_text(PHONE)
    expect(card.locator(".deadline")).to_have_text(re.compile(r"^\d{2}:\d{2}（(剩余|已超时) \d+ 分钟）$"))
    expect(card.get_by_role("button", name="接单")).to_be_visible()
    expect(card.get_by_role("button", name="退单")).to_be_visible()
    expect(card.locator("dd").filter(has_text="“家里没电”")).to_be_visible()  # the customer's own words
    navigate = card.locator("a.nav-link")  # the phone's map app, at the premises
    expect(navigate).to_have_text("打开地图导航")
    expect(navigate).to_have_attribute("href", re.compile(r"^geo:\d+\.\d{6},\d+\.\d{6}\?q="))
    expect(card.locator(".coords")).to_have_text(re.compile(r"^（\d+\.\d{5}, \d+\.\d{5}）$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "crew-tickets.png"), full_page=True)

    card.get_by_role("button", name="接单").click()
    expect(card.locator(".status")).to_have_text("已接单")
    card.get_by_role("button", name="到达现场").click()
    expect(card.locator(".status")).to_have_text("已到达")
    expect(card.locator("dt").filter(has_text="已到达")).to_be_visible()  # when, not a countdown any more
    expect(card.locator(".deadline")).to_have_count(0)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "crew-on-site.png"), full_page=True)

    card.get_by_role("button", name="处理完成").click()
    card.get_by_label("处理说明（选填）").fill("更换了进户线熔断器")
    card.get_by_role("button", name="确认处理完成").click()
    expect(card).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]

    with service(api_server) as http:
        ticket = http.get(f"/api/tickets/{number}").json()
    assert ticket["status"] == "已处理"
    last = ticket["events"][-1]
    assert last["actor"] == "crew:crew.yz01"
    assert last["note"] == "更换了进户线熔断器"


def test_crew_sees_the_diagnosis_written_for_them_not_the_customers_sentence(phone, api_server, screenshots):
    number = fault_ticket_for_yz01(api_server)  # the showcase household outage
    with service(api_server) as http:
        diagnosis = http.get(f"/api/tickets/{number}").json()["diagnosis"]
    assert diagnosis["code"] == "household_outage"
    mine = crew_diagnosis(api_server, number)
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")
    card = page.locator(f'article[data-number="{number}"]')
    expect(card).to_be_visible()

    def value(label: str):
        return card.locator(f'dt:text-is("{label}") + dd')

    expect(card.locator("dt")).to_contain_text(["故障研判", "计量数据", "携带", "先查"])
    expect(value("故障研判")).to_have_text(mine["likely_cause"])
    expect(value("故障研判")).to_contain_text("表前")
    facts = value("计量数据").locator("ul.facts > li")
    expect(facts).to_have_text(mine["meter_facts"])  # the meter, its events with times, readings, its area
    expect(facts.first).to_have_text(re.compile(r"^电表 \d+"))
    expect(facts.filter(has_text="最近读数")).to_have_text(re.compile(r"最近读数 (\d+月\d+日 )?\d{2}:\d{2}：A相 \d+V"))
    expect(facts.filter(has_text="块表失压")).to_have_count(1)
    expect(value("携带").locator("ul.bring > li")).to_have_text(mine["bring"])
    expect(value("携带")).to_contain_text("电能表（同型号备表）")
    expect(value("先查")).to_have_text(diagnosis["crew_note"])
    expect(card).not_to_contain_text(diagnosis["summary"])  # what the customer was told
    expect(card).not_to_contain_text("您")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "crew-diagnosis.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


def crew_diagnosis(api_server, number: str) -> dict:
    """The ticket's diagnosis as the crew's list gives it (signed in over the API as crew.yz01)."""
    with httpx.Client(base_url=api_server.url, timeout=10) as http:
        response = http.post("/api/staff/login", json={"username": "crew.yz01", "password": "Demo-crew-yz01"})
        assert response.status_code == 200, response.text
        items = http.get("/api/tickets/crew", headers={"Authorization": f"Bearer {response.json()['token']}"}).json()
    [diagnosis] = [i["ticket"]["diagnosis"] for i in items if i["ticket"]["number"] == number]
    return diagnosis


def test_reject_needs_a_reason(phone, api_server):
    number = fault_ticket_for_yz01(api_server)
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")
    card = page.locator(f'article[data-number="{number}"]')
    card.get_by_role("button", name="退单").click()
    card.get_by_role("button", name="确认退单").click()
    expect(card.locator(".error")).to_have_text("请填写退单原因")
    card.get_by_label("退单原因（必填）").fill("车辆故障，无法出车")
    card.get_by_role("button", name="确认退单").click()
    expect(card).to_have_count(0)
    with service(api_server) as http:
        ticket = http.get(f"/api/tickets/{number}").json()
    reject = [e for e in ticket["events"] if e["to_status"] == "退单"][-1]
    assert (reject["actor"], reject["note"]) == ("crew:crew.yz01", "车辆故障，无法出车")
    assert ticket["crew"]["id"] != "YZ-01"  # dispatched again to another crew


def test_session_survives_reload_and_logout_ends_it(phone, api_server):
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")
    expect(page.locator("#tickets-view")).to_be_visible()
    page.reload()
    expect(page.locator("#tickets-view")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("原州城区抢修一班")
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login-view")).to_be_visible()
    page.reload()
    expect(page.locator("#login-view")).to_be_visible()


def test_agent_account_is_refused(phone, api_server, screenshots):
    with httpx.Client(base_url=api_server.url, timeout=10) as http:  # what the API says to an agent
        assert http.post("/api/staff/login", json={"username": "agent01", "password": "Demo-agent-01"}).is_success
        refused = http.get("/api/tickets/crew")
    assert refused.status_code == 403
    page = open_crew(phone, api_server)
    sign_in(page, "agent01", "Demo-agent-01")
    expect(page.locator("#list-error")).to_have_text(refused.json()["detail"]["message"])
    expect(page.locator("#list .empty")).to_contain_text("请退出后使用班组账号登录")
    expect(page.locator("article.ticket")).to_have_count(0)
    page.screenshot(path=str(screenshots / "crew-signed-in-wrong-role.png"), full_page=True)


def test_wrong_password_is_shown(phone, api_server):
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "wrong-password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码不正确")
    expect(page.locator("#tickets-view")).to_be_hidden()


def test_a_crew_off_shift_is_told_why_no_new_work_comes_and_when_the_next_shift_starts(
        phone, api_server, session, screenshots):
    now = utcnow()
    session.execute(delete(CrewShift).where(CrewShift.crew_id == "YZ-01", CrewShift.ends_at > now))
    starts = now + timedelta(hours=10)
    session.add(CrewShift(crew_id="YZ-01", starts_at=starts, ends_at=starts + timedelta(hours=12)))
    session.commit()
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")
    duty = page.locator("#duty")
    expect(duty).to_contain_text("您的班组当前不在值班时间，系统不会派来新工单；下一班")
    local = starts.astimezone(LOCAL_TZ)
    expect(duty).to_contain_text(f"{local.month}月{local.day}日 {local:%H:%M} 开始")
    page.screenshot(path=str(screenshots / "crew-off-shift.png"), full_page=True)
    with service(api_server) as http:  # the service token is no crew: the route is the crew's own
        assert http.get("/api/dispatch/crews/me").status_code in (401, 403)


def test_a_crew_on_shift_sees_no_duty_notice(phone, api_server, session):
    now = utcnow()
    session.add(CrewShift(crew_id="YZ-01", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=11)))
    session.commit()  # on shift whatever the hour the test runs
    page = open_crew(phone, api_server)
    sign_in(page, "crew.yz01", "Demo-crew-yz01")
    expect(page.get_by_role("heading", name="我的工单")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.locator("#duty")).to_be_hidden()
