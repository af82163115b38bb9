"""The supervisor's dispatch screen (/dispatch) in headless Chromium under the strict policy, on the real API and
a seeded demo: the open tickets (a waiting one, a late one highlighted) and the crews holding them; a reassignment
refused by the API (the crew got there meanwhile) and one that goes through, the ticket then under its new crew;
a crew taken out of dispatch and its ticket handed on (the move shown); the crew brought back; a re-plan that gives
the waiting ticket a crew and says so; an agent refused."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import expect

from api.demo.showcase import SHOWCASE
from api.demo.staff import DEMO_STAFF
from tests.api.dispatch.test_dispatch_screen_api import everybody_off_shift, restore_shifts
from tests.api.dispatch.test_dispatch_service import ticket_row
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}


@pytest.fixture
def desktop(browser):
    """A desktop browser, 1440 × 900, that obeys the page's Content-Security-Policy."""
    context = new_context(browser, strict_csp=True, viewport={"width": 1440, "height": 900})
    yield context
    context.close()


def fault(http, key: str) -> dict:
    account_no, phone = SHOWCASE[key]
    response = http.post("/api/tickets/faults", json={"kind": "outage", "description": "家里没电了",
                                                      "channel": "hotline", "account_no": account_no, "phone": phone})
    assert response.status_code == 201, response.text
    return response.json()


def test_reassign_take_a_crew_out_and_replan(desktop, api_server, session, screenshots):
    http = httpx.Client(base_url=api_server.url, timeout=30, headers={"Authorization": f"Bearer {api_server.token}"})
    saved = everybody_off_shift(session)
    waiting = fault(http, "household_outage_rural")  # nobody on shift: it waits for a crew
    restore_shifts(session, saved)
    late, other = fault(http, "household_outage"), fault(http, "normal")
    assert waiting["crew"] is None and late["crew"] and other["crew"]
    row = ticket_row(session, late["number"])
    row.arrive_by = datetime.now(timezone.utc) - timedelta(minutes=12)
    session.commit()

    violations = []
    page = open_staff_page(desktop, api_server.url, "/dispatch")
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
    sign_in(page, "supervisor01", PASSWORDS["supervisor01"])
    rows = page.locator("#dp-rows tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#dp-ticket-count")).to_have_text("（3 张，超时 1 张）")
    expect(rows.first).to_have_attribute("data-number", late["number"])  # the late one first
    late_row = page.locator(f'#dp-rows tr[data-number="{late["number"]}"]')
    expect(late_row).to_have_class(re.compile(r"\bis-overdue\b"))
    expect(late_row.locator(".dp-late")).to_have_text("已超时 12 分钟")
    expect(late_row.locator(".dp-crew-cell")).to_contain_text(late["crew"]["name"])
    waiting_row = page.locator(f'#dp-rows tr[data-number="{waiting["number"]}"]')
    expect(waiting_row.locator(".dp-crew-cell")).to_have_text("待派")
    crew_item = page.locator(f'#dp-crews li[data-crew="{late["crew"]["id"]}"]')
    expect(crew_item.locator(f'.dp-crew-tickets li[data-number="{late["number"]}"]')).to_have_text(
        f"{late['number']} · 已派单")
    expect(page.locator("#dp-map canvas").first).to_be_visible()

    # the API says no: the crew got to the other ticket while the dialog was open
    page.locator(f'#dp-rows tr[data-number="{other["number"]}"]').get_by_role("button", name="改派").click()
    expect(page.locator("#dp-reassign")).to_be_visible()
    for action in ("accept", "arrive"):
        http.post(f"/api/tickets/{other['number']}/transitions", json={"action": action}).raise_for_status()
    page.locator("#dp-reassign-submit").click()
    expect(page.locator("#dp-reassign-error")).to_have_text("请填写改派原因")
    page.locator("#dp-reassign-reason").fill("就近调整")
    page.locator("#dp-reassign-submit").click()
    expect(page.locator("#dp-reassign-error")).to_have_text("工单当前状态为“已到达”，不能改派")
    page.locator("#dp-reassign-cancel").click()

    # reassign the late ticket to another crew that can do it: it is then under that crew
    crews = http.get("/api/dispatch/crews").json()
    target = next(c for c in crews if c["id"] != late["crew"]["id"] and c["on_shift"] and "低压抢修" in c["skills"]
                  and late["district"] in c["districts"])
    late_row.get_by_role("button", name="改派").click()
    options = page.locator("#dp-reassign-crew optgroup").first
    expect(options).to_have_attribute("label", f"可派班组（具备低压抢修技能、覆盖{late['district']}）")
    expect(options.locator(f'option[value="{target["id"]}"]')).to_have_count(1)
    page.locator("#dp-reassign-crew").select_option(target["id"])
    page.locator("#dp-reassign-reason").fill("就近调整，原班组在处理其他故障")
    page.locator("#dp-reassign-submit").click()
    expect(page.locator("#dp-reassign")).to_be_hidden()
    expect(page.locator("#dp-result-title")).to_have_text("改派完成")
    expect(page.locator(f'#dp-moves li[data-number="{late["number"]}"]')).to_contain_text(
        f"{late['crew']['name']} → {target['name']}")
    expect(late_row.locator(".dp-crew-cell")).to_contain_text(target["name"])
    target_item = page.locator(f'#dp-crews li[data-crew="{target["id"]}"]')
    expect(target_item.locator(f'.dp-crew-tickets li[data-number="{late["number"]}"]')).to_be_visible()
    expect(crew_item.locator(f'.dp-crew-tickets li[data-number="{late["number"]}"]')).to_have_count(0)
    ticket = http.get(f"/api/tickets/{late['number']}").json()
    assert ticket["crew"]["id"] == target["id"] and ticket["events"][-1]["actor"] == "supervisor:supervisor01"
    assert "就近调整，原班组在处理其他故障" in ticket["events"][-1]["note"]

    # take that crew out: the late ticket goes on to a third crew, and the page says where
    target_item.get_by_role("button", name="暂停派单").click()
    expect(page.locator("#dp-crew-action-title")).to_have_text(f"暂停派单：{target['name']}")
    page.locator("#dp-crew-reason").fill("抢修车故障")
    page.locator("#dp-crew-submit").click()
    expect(page.locator("#dp-result-title")).to_have_text(f"暂停派单：{target['name']}")
    expect(page.locator("#dp-result-summary")).to_have_text("原因：抢修车故障。共 1 张工单改派。")
    handed = http.get(f"/api/tickets/{late['number']}").json()["crew"]
    assert handed["id"] not in (target["id"], None)
    expect(page.locator(f'#dp-moves li[data-number="{late["number"]}"]')).to_have_text(
        f"{late['number']} 故障报修 · {late['district']}：{target['name']} → {handed['name']}")
    expect(target_item.locator(".dp-badge")).to_have_text("暂停派单")
    expect(late_row.locator(".dp-crew-cell")).to_contain_text(handed["name"])

    # re-plan: the ticket that was waiting gets a crew; the page lists it and the row shows the crew
    page.locator("#dp-replan").click()
    expect(page.locator("#dp-replan-error")).to_have_text("请填写重新规划的原因")
    page.locator("#dp-replan-reason").fill("暴雨，抢修力量重新统筹")
    page.locator("#dp-replan").click()
    expect(page.locator("#dp-result-title")).to_have_text("重新规划完成")
    moved = page.locator(f'#dp-moves li[data-number="{waiting["number"]}"]')
    expect(moved.locator(".dp-from")).to_have_text("待派")
    given = http.get(f"/api/tickets/{waiting['number']}").json()
    assert given["status"] == "已派单" and given["crew"]["id"] != target["id"]
    expect(moved.locator(".dp-to")).to_have_text(given["crew"]["name"])
    expect(waiting_row.locator(".dp-crew-cell")).to_contain_text(given["crew"]["name"])
    count = page.locator("#dp-moves li").count()
    expect(page.locator("#dp-result-summary")).to_contain_text(f"共 {count} 张工单改派")
    page.screenshot(path=str(screenshots / "dispatch-screen.png"), full_page=True)

    # and the crew comes back
    target_item.get_by_role("button", name="恢复派单").click()
    page.locator("#dp-crew-reason").fill("车辆已修复")
    page.locator("#dp-crew-submit").click()
    expect(target_item.locator(".dp-badge")).to_have_text("在班")
    expect(target_item.get_by_role("button", name="暂停派单")).to_be_visible()
    assert violations == [] and page.errors == []

    page.get_by_role("button", name="退出登录").click()
    sign_in(page, "agent01", PASSWORDS["agent01"])
    expect(page.locator("#dp-refused")).to_contain_text("调度指挥仅供班长/主管和管理员使用")
    expect(page.locator("#dp-board")).to_be_hidden()
    http.close()
