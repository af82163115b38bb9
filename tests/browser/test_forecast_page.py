"""The load-forecast page (/forecast) in headless Chromium on the real API and a seeded demo DB:
forecast vs actual chart, the overload list, and a ticket opened from it."""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser
SLOW = 60_000  # the first forecasts are computed on demand (no nightly job in tests)


@pytest.fixture
def desktop(browser):
    context = new_context(browser, viewport={"width": 1366, "height": 900})
    yield context
    context.close()


def open_page(context, api_server, username, password):
    page = open_staff_page(context, api_server.url, "/forecast")
    sign_in(page, username, password)
    return page


def test_forecast_chart_overloads_and_a_ticket_from_the_page(desktop, api_server, screenshots):
    with httpx.Client(base_url=api_server.url, timeout=120,
                      headers={"Authorization": f"Bearer {api_server.token}"}) as http:
        warnings = http.get("/api/forecasting/overloads").json()
        areas = http.get("/api/forecasting/targets").json()["area"]
    assert warnings, "the demo has an overloaded transformer area"
    page = open_page(desktop, api_server, "supervisor01", "Demo-supervisor-01")
    expect(page.locator("#fc-title")).to_have_text("全网 · 负荷预测", timeout=SLOW)
    expect(page.locator("#fc-chart canvas")).to_have_count(1)
    expect(page.locator("#fc-figures")).to_contain_text("未来48小时预测峰值")
    expect(page.locator("#fc-figures")).to_have_text(re.compile(r"预计用电 \d{1,3}(,\d{3})+ 千瓦时"))  # grouped

    page.locator("#fc-level").select_option("area")
    page.locator("#fc-key").select_option(warnings[0]["area_code"])
    name = next(a["name"] for a in areas if a["key"] == warnings[0]["area_code"])
    expect(page.locator("#fc-title")).to_have_text(f"{name} · 负荷预测", timeout=SLOW)

    rows = page.locator("#ov-rows tr")
    expect(rows).to_have_count(len(warnings), timeout=SLOW)
    row = page.locator(f'#ov-rows tr[data-area="{warnings[0]["area_code"]}"]')
    expect(row.locator(".sev")).to_have_text(warnings[0]["severity"])
    basis = "实测" if warnings[0]["basis"] == "measured" else "预测"
    expect(row.locator("td").nth(3)).to_have_text(re.compile(rf"^[\d,]+\.\d kW（{basis}）$"))
    page.screenshot(path=str(screenshots / "forecast-page.png"), full_page=True)
    row.get_by_role("button", name="派单").click()
    expect(row.locator(".done")).to_contain_text("已派单 GD", timeout=SLOW)
    number = row.locator(".done").inner_text().split()[1]
    with httpx.Client(base_url=api_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {api_server.token}"}) as http:
        ticket = http.get(f"/api/tickets/{number}").json()
    assert ticket["type"] == "安全隐患" and "重过载预警" in ticket["description"]
    assert page.errors == []


def test_agents_are_refused_with_the_api_message(desktop, api_server):
    page = open_page(desktop, api_server, "agent01", "Demo-agent-01")
    expect(page.locator("#fc-error")).to_have_text("您的账号没有权限进行此操作", timeout=SLOW)
    expect(page.locator("#fc-chart canvas")).to_have_count(0)
