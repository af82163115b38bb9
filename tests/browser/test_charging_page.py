"""The charging staff page (/charging) in headless Chromium on the real API and a seeded demo database: the live
board of the demo's 固原市民大厅充电站 (connector chips, a called and a waiting customer, a faulted connector, the
area's power and the scheduler's allocation), the analytics table and segments of a hand-built history matching
api/charging/analytics.py, the CSV download; a crew account refused; the page under the strict CSP."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.charging import analytics, orderly, queue, service
from api.charging.models import Connector, QueueEntry, Station
from api.charging.service import Sample
from api.core.time import utcnow
from api.demo.staff import DEMO_STAFF
from tests.api.charging import analytics_data as data
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}
STATION = "GYCS01"  # the demo's 固原市民大厅充电站: chargers GY-CP001 … GY-CP008


@pytest.fixture
def desktop(browser):
    """A desktop browser, 1366 × 900, with its own cookies."""
    context = new_context(browser, viewport={"width": 1366, "height": 900}, accept_downloads=True)
    yield context
    context.close()


def plant_live(session) -> dict:
    """GYCS01 as chargers would have reported it: two sessions running, a fault, a reservation for a called
    customer, a car plugged in, a charger offline; and a customer waiting for a DC connector."""
    now = utcnow().replace(microsecond=0)
    for n in range(1, 8):
        service.set_connected(session=session, charge_point_id=f"GY-CP{n:03d}", connected=True)  # 008 stays offline

    def status(charger, no, what, error="NoError", minutes=30):
        service.record_status(session=session, charge_point_id=charger, connector_no=no, status=what, error_code=error,
                              at=now - timedelta(minutes=minutes))

    for charger, no, what in (("GY-CP002", 1, "Available"), ("GY-CP003", 2, "Available"), ("GY-CP006", 1, "Available"),
                              ("GY-CP006", 2, "Available"), ("GY-CP007", 1, "Available"), ("GY-CP007", 2, "Available")):
        status(charger, no, what, minutes=90)
    status("GY-CP003", 1, "Faulted", "GroundFailure", minutes=25)
    status("GY-CP005", 1, "Preparing", minutes=2)
    status("GY-CP004", 1, "Reserved", minutes=5)
    running = {}
    for charger, no, tag, minutes, watts, wh, soc in (("GY-CP001", 1, "DEMO0001", 40, 45_200, 30_100, 62),
                                                       ("GY-CP002", 2, "DEMO0002", 120, 6_800, 13_600, None)):
        status(charger, no, "Charging", minutes=minutes)
        started = now - timedelta(minutes=minutes)
        tx = service.start_transaction(session=session, charge_point_id=charger, connector_no=no, id_tag=tag,
                                       meter_start=1_000_000, started_at=started, now=started).transaction_id
        samples = [Sample(now - timedelta(minutes=1), service.POWER, Decimal(watts), "W"),
                   Sample(now - timedelta(minutes=1), service.ENERGY, Decimal(1_000_000 + wh), "Wh")]
        if soc is not None:
            samples.append(Sample(now - timedelta(minutes=1), service.SOC, Decimal(soc), "Percent"))
        service.store_meter_values(session=session, charge_point_id=charger, transaction_id=tx, samples=samples)
        running[f"{charger}-{no}"] = tx
    # the AC driver told us when they leave and how much they want, and may charge later
    orderly.set_wish(session=session, transaction_id=running["GY-CP002-2"], departure_at=now + timedelta(hours=10),
                     kwh_requested=Decimal(30), allow_delay=True, now=now)
    station = session.scalar(select(Station).where(Station.code == STATION))
    reserved = session.scalar(select(Connector).where(Connector.charger.has(charge_point_id="GY-CP004")))
    session.add(QueueEntry(station_id=station.id, id_tag="DEMO0004", kind="DC", status="called",
                           joined_at=now - timedelta(minutes=12), called_at=now - timedelta(minutes=5),
                           window_until=now + timedelta(minutes=10), connector_id=reserved.id))
    session.commit()
    queue.join(session=session, station_code=STATION, id_tag="DEMO0003", kind="DC", now=now - timedelta(minutes=3))
    session.expunge_all()
    return running


def shoot(page: Page, path) -> None:
    """A full-page screenshot from the top (the header is sticky)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)


def figures_of(f) -> list[str]:
    """A row of the page's station table as charging.js formats it."""
    def fixed(v, d):
        return f"{float(v):,.{d}f}"

    def minutes(v):
        return "—" if v is None else f"{v:.1f} 分钟"
    return [str(f.connectors), str(f.sessions), fixed(f.energy_kwh, 1), fixed(f.revenue_fen / 100, 2),
            f"{f.utilisation * 100:.1f}%", minutes(f.wait_avg_minutes), minutes(f.wait_p90_minutes),
            str(f.faulted_now), str(f.fault_stops)]


def test_supervisor_sees_the_live_board_areas_analytics_and_segments(desktop, api_server, session, screenshots):
    data.build(session)
    running = plant_live(session)
    page = open_staff_page(desktop, api_server.url, "/charging")
    sign_in(page, "supervisor01", PASSWORDS["supervisor01"])
    expect(page.locator("#cg-board")).to_be_visible()

    # 站点实时状态: the chips say what each connector does
    card = page.locator(f'.cg-station[data-station="{STATION}"]')
    expect(card).to_contain_text("固原市民大厅充电站")
    for connector, state, text in (("GY-CP001-1", "charging", "45.2 kW"), ("GY-CP002-2", "charging", "6.8 kW"),
                                   ("GY-CP002-1", "free", "空闲"), ("GY-CP003-1", "faulted", "GroundFailure"),
                                   ("GY-CP004-1", "reserved", "已预约"), ("GY-CP005-1", "occupied", "占用"),
                                   ("GY-CP008-1", "offline", "离线")):
        chip = card.locator(f'.chip[data-connector="{connector}"]')
        expect(chip).to_have_attribute("data-state", state)
        expect(chip).to_contain_text(text)
    expect(card.locator('.chip[data-connector="GY-CP001-1"]')).to_contain_text("62%")
    expect(card.locator(".cg-free")).to_contain_text("空闲 6/")
    expect(page.locator("#live-kpis")).to_contain_text("排队客户")

    # 排队: the called customer with the connector held, then the one waiting
    rows = page.locator(f'#queue-rows tr[data-station="{STATION}"]')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("已叫号")
    expect(rows.nth(0)).to_contain_text("保留至")
    expect(rows.nth(0)).to_contain_text("GY-CP004 1号枪")
    expect(rows.nth(1)).to_contain_text("排队中")
    expect(rows.nth(1)).to_contain_text("DEMO0003")
    expect(rows.nth(1)).to_contain_text("预计等待")

    # 故障: the connector with its error in words and since when
    fault = page.locator('#faults-rows tr[data-connector="GY-CP003-1"]')
    expect(fault).to_contain_text("接地故障")
    expect(fault).to_contain_text("GroundFailure")
    expect(fault).to_contain_text("25分钟前")

    # 台区功率: the area feeding GYCS01, its two sessions with the scheduler's allocation
    for tx in running.values():
        expect(page.locator(f'.cg-area tr[data-transaction="{tx}"]')).to_be_visible(timeout=20_000)
    untold = page.locator(f'.cg-area tr[data-transaction="{running["GY-CP001-1"]}"]')
    expect(untold).to_contain_text("未告知 · 尽快充满")
    expect(untold).to_contain_text("尽快充电")
    told = page.locator(f'.cg-area tr[data-transaction="{running["GY-CP002-2"]}"]')
    expect(told).to_contain_text("前离开 · 可谷段充")
    expect(told).to_contain_text("13.6 / 30.0 kWh")
    expect(told.locator(".tag")).to_have_text("可按时充满")
    area = page.locator(".cg-area", has=page.locator(f'tr[data-transaction="{running["GY-CP001-1"]}"]'))
    expect(area).to_contain_text("限额")
    expect(area.locator(".cg-bar-limit")).to_have_count(1)
    page.wait_for_timeout(300)
    shoot(page, screenshots / "charging-live.png")

    # 充电分析: the hand-built fortnight in 测试区, figures as api/charging/analytics.py gives them
    page.locator("#an-start").fill(data.START.isoformat())
    page.locator("#an-end").fill(data.END.isoformat())
    page.locator("#an-district").select_option(data.DISTRICT)
    page.get_by_role("button", name="查询").click()
    expected = analytics.analytics(session=session, start=data.START, end=data.END, now=utcnow(),
                                   district=data.DISTRICT)
    for station in expected.stations:
        row = page.locator(f'#an-rows tr[data-station="{station.code}"]')
        expect(row.locator("td")).to_have_text([f"{station.name}{station.code} · {station.district}",
                                                *figures_of(station)])
    expect(page.locator("#an-foot td")).to_have_text(["合计", *figures_of(expected.total)])
    assert figures_of(expected.stations[0])[1:5] == ["8", "195.0", "234.00", "2.4%"]
    expect(page.locator("#an-area-rows tr")).to_have_count(1)
    page.locator(f'#an-rows tr[data-station="{data.STATION_A}"]').click()
    expect(page.locator("#hour-title")).to_have_text("分时利用率 · 测试甲充电站")
    expect(page.locator("#hour-chart canvas")).to_have_count(1)

    # 客户充电习惯: one customer in each segment, and the CSV for offers
    for segment in expected.segments:
        expect(page.locator(f'.cg-segment[data-segment="{segment.segment}"] .cg-segment-count')).to_have_text(
            str(segment.customers))
    expect(page.locator("#seg-count")).to_have_text("（5 位客户）")
    link = page.locator("#seg-csv")
    expect(link).to_have_attribute("href", "/api/charging/segments.csv?start=2025-03-01&end=2025-03-14&district="
                                   "%E6%B5%8B%E8%AF%95%E5%8C%BA")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "充电客户分群_测试区_2025-03-01至2025-03-14.csv"
    with open(download.value.path(), "rb") as downloaded:
        content = downloaded.read()
    habits = analytics.customer_habits(session=session, start=data.START, end=data.END, district=data.DISTRICT)
    assert content == analytics.segments_csv(habits, start=data.START, end=data.END, district=data.DISTRICT)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[1][0] == "户号" and [r[2] for r in rows[2:]] == [h[0] for h in data.HABITS.values()]
    page.evaluate("document.getElementById('an-title').scrollIntoView(); window.scrollBy(0, -70)")
    page.screenshot(path=str(screenshots / "charging-analytics.png"), full_page=False)
    shoot(page, screenshots / "charging-page.png")
    assert page.errors == []


def test_a_crew_account_is_refused_and_bad_dates_are_explained(desktop, api_server, screenshots):
    page = open_staff_page(desktop, api_server.url, "/charging")
    sign_in(page, "crew.yz01", PASSWORDS["crew.yz01"])
    expect(page.locator("#cg-refused")).to_be_visible()
    expect(page.locator("#cg-refused")).to_contain_text("没有查看充电运营的权限")
    expect(page.locator("#cg-board")).to_be_hidden()
    shoot(page, screenshots / "charging-refused.png")
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, "agent01", PASSWORDS["agent01"])
    expect(page.locator("#cg-board")).to_be_visible()
    page.locator("#an-start").fill("2024-01-01")
    page.locator("#an-end").fill("2025-06-30")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#an-error")).to_have_text("统计区间最长366天，请缩短日期范围")
    assert page.errors == []


def test_the_page_works_under_the_strict_policy(browser, api_server):
    context = new_context(browser, strict_csp=True, viewport={"width": 1280, "height": 800})
    try:
        violations = []
        page = open_staff_page(context, api_server.url, "/charging")
        page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
        sign_in(page, "admin", PASSWORDS["admin"])
        expect(page.locator(".cg-station").first).to_be_visible()
        expect(page.locator("#hour-chart canvas")).to_have_count(1)
        assert violations == [] and page.errors == []
    finally:
        context.close()
