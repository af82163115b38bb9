"""The 主动发现告警 card of the supervisor dashboard (/supervisor) in headless Chromium: meter events posted
through the real intake API (METERING_TOKEN) on the seeded demo raise alerts — a household outage that
clears by itself before anyone is sent, then an outage of a whole transformer area — and the card shows
what was detected, the policy applied, the ticket, the customers told and what was done, as the feed says."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import select, update

from api.core.time import LOCAL_TZ
from api.flows import proactive
from api.metering import service as metering
from api.monitoring import service as monitoring
from api.monitoring.models import Alert
from api.tickets.models import Ticket
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import TEST_METERING_TOKEN, RunningServer, ThreadedUvicorn, free_port, new_context

pytestmark = pytest.mark.browser

ACTIONS = {"detected": "发现", "ticket": "开单", "dispatched": "已派单", "queued": "待派", "held": "挂起待确认",
           "notified": "已通知", "cleared": "已清除", "reopened": "再次出现", "restored": "已恢复", "closed": "已撤销"}
AREA_POLICY = "开故障报修工单（1级），立即派单，通知受影响客户，短信告知值班长"


class Clock:
    """The app's clock (app.state.clock), moved by the test: the alerts are raised at known times."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def alert_server(settings):
    """The real API on a private seeded demo, its clock a whole minute of now, under the test's control."""
    from api.main import create_app

    clock = Clock(datetime.now(timezone.utc).replace(second=0, microsecond=0))
    app = create_app(settings)
    app.state.clock = clock
    port = free_port()
    server = ThreadedUvicorn(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    server.start()
    running = RunningServer(url=f"http://127.0.0.1:{port}", token=settings.service_token, settings=settings)
    running.clock = clock  # type: ignore[attr-defined]
    yield running
    server.stop()


def beijing(at: datetime) -> str:
    """As the page writes a time: MM/DD HH:MM:SS, Beijing time."""
    return at.astimezone(LOCAL_TZ).strftime("%m/%d %H:%M:%S")


def calm_readings(session, settings, now: datetime) -> set[int]:
    """Areas whose recent readings show no low/high voltage, overload or imbalance at `now`: the demo's data
    follows the hour of the day, and at some hours some areas do (the detection on arrival would raise it)."""
    t = proactive.thresholds(settings)
    areas = metering.list_areas(session=session)
    span = max(t.sustained_hours, t.overload_hours) + 1
    hours = metering.area_hours(session=session, area_ids=[a.id for a in areas], start=now - timedelta(hours=span + 1),
                                end=now, low_volts=t.low_volts, high_volts=t.high_volts)
    return {a.id for a in areas
            if not [*monitoring.voltage(area=a, hours=hours.get(a.id, []), t=t),
                    *[d for d in (monitoring.overload(area=a, hours=hours.get(a.id, []), t=t),
                                  monitoring.imbalance(area=a, hours=hours.get(a.id, []), t=t)) if d is not None]]}


def post_events(http: httpx.Client, rows: list[dict]) -> dict:
    answer = http.post("/api/metering/events", json={"events": rows})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 0, answer.text
    return answer.json()


def test_alert_feed_card(browser, alert_server, session, screenshots):
    clock: Clock = alert_server.clock  # type: ignore[attr-defined]
    now = clock.now
    # two transformer areas of the demo where every meter has supply: one for a household, one for the area
    supply = metering.meter_supply(session=session, now=now, lookback=timedelta(hours=24))
    calm = calm_readings(session, alert_server.settings, now)  # a detection on arrival would raise those too
    quiet = [a for a in metering.list_areas(session=session)
             if 6 <= len(supply.get(a.id, [])) <= 12 and not any(m.off_since for m in supply[a.id]) and a.id in calm]
    assert len(quiet) >= 2
    area, other = quiet[0], quiet[1]
    area_meters = supply[area.id]
    household = supply[other.id][0]

    context = new_context(browser, strict_csp=True, viewport={"width": 1366, "height": 900})
    violations: list[str] = []
    try:
        context.clock.install()  # the card's 30 s refresh, fast-forwarded below
        page = open_staff_page(context, alert_server.url, "/supervisor")
        page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
        sign_in(page, "supervisor01", "Demo-supervisor-01")
        card = page.locator("#alerts")

        # nothing detected yet: the card says so in plain words
        expect(card).to_have_attribute("data-loaded", now.astimezone(LOCAL_TZ).isoformat())
        expect(card.locator("[data-empty]")).to_be_visible()
        expect(card.locator("[data-empty]")).to_have_text("最近24小时没有主动发现的告警。")
        expect(card.locator(".alerts-count")).to_have_text("0")
        assert card.locator(".alert").count() == 0

        with httpx.Client(base_url=alert_server.url, timeout=30,
                          headers={"Authorization": f"Bearer {TEST_METERING_TOKEN}"}) as intake:
            # a household without supply for 15 minutes (held for the supervisor), back before anyone went
            clock.now = now - timedelta(minutes=30)
            raised = post_events(intake, [{"meter_no": household.meter_no, "kind": "停电",
                                           "ts": (now - timedelta(minutes=45)).isoformat()}])
            assert raised["alerts_raised"] == 1
            clock.now = now - timedelta(minutes=20)
            post_events(intake, [{"meter_no": household.meter_no, "kind": "上电",
                                  "ts": (now - timedelta(minutes=22)).isoformat()}])
            # then every meter of one area reports 停电 within a minute and a half, four minutes before now
            clock.now = now
            raised = post_events(intake, [
                {"meter_no": m.meter_no, "kind": "停电", "ts": (now - timedelta(minutes=4, seconds=-10 * i)).isoformat()}
                for i, m in enumerate(area_meters)])
            assert raised["alerts_raised"] == 1

        # what the feed says, for the page to show
        session.expire_all()
        area_alert = session.scalars(select(Alert).where(Alert.kind == "area_outage", Alert.subject == area.code)).one()
        home_alert = session.scalars(select(Alert).where(Alert.kind == "household_outage",
                                                         Alert.subject == household.meter_no)).one()
        ticket = session.scalars(select(Ticket).where(Ticket.number == area_alert.ticket_number)).one()
        assert ticket.type == "故障报修" and ticket.transformer_area_id == area.id
        with httpx.Client(base_url=alert_server.url, timeout=10) as staff:
            assert staff.post("/api/staff/login", json={"username": "supervisor01",
                                                        "password": "Demo-supervisor-01"}).is_success
            feed = staff.get("/api/monitoring/alerts").json()
        assert {a["id"] for a in feed["alerts"]} >= {area_alert.id, home_alert.id}

        # the next refresh (every 30 s) shows them
        page.clock.fast_forward(31_000)
        expect(card.locator(".alert")).to_have_count(len(feed["alerts"]))
        expect(card.locator("[data-empty]")).to_be_hidden()
        expect(card.locator(".alerts-count")).to_have_text(str(feed["active"]))
        assert feed["active"] >= 1
        expect(card.locator("[data-updated]")).to_contain_text("更新于 " + beijing(now))

        item = card.locator(f'.alert[data-alert-id="{area_alert.id}"]')
        expect(item.locator(".alert-kind")).to_have_text("台区停电")
        expect(item.locator(".alert-status")).to_have_text("进行中")
        expect(item.locator(".alert-subject")).to_have_text(f"{area.code} · {area.district}")
        expect(item.locator(".alert-time")).to_have_text("发现于 " + beijing(now))
        expect(item.locator(".alert-summary")).to_have_text(area_alert.summary)
        expect(item.locator(".alert-summary")).to_contain_text(f"{len(area_meters)}/{len(area_meters)}户表计停电")
        expect(item.locator('[data-field="policy"] dd')).to_have_text(AREA_POLICY)
        expect(item.locator('[data-field="ticket"] dd')).to_have_text(ticket.number)
        expect(item.locator('[data-field="notified"] dd')).to_have_text(f"{len(area_meters)} 户")
        expect(item.locator('[data-field="started"] dd')).to_have_text(beijing(now - timedelta(minutes=4)))
        expect(item.locator('[data-field="cleared"]')).to_have_count(0)

        # what was done, folded until asked for; in Chinese, in order
        log = item.locator("details.alert-log")
        expect(log.locator("table")).to_be_hidden()
        log.locator("summary").click()
        shown = next(a for a in feed["alerts"] if a["id"] == area_alert.id)["actions"]
        rows = log.locator("tbody tr")
        expect(rows).to_have_count(len(shown))
        assert rows.locator("td.action-name").all_inner_texts() == [ACTIONS[a["action"]] for a in shown]
        assert [a["action"] for a in shown][:2] == ["detected", "ticket"] and "notified" in [a["action"] for a in shown]
        assert shown[2]["action"] in ("dispatched", "queued")
        expect(rows.nth(1)).to_contain_text(f"开工单 {ticket.number}")
        expect(rows.nth(0).locator("td").nth(0)).to_have_text(beijing(now))
        expect(rows.nth(0).locator("td").nth(2)).to_have_text("系统")

        home = card.locator(f'.alert[data-alert-id="{home_alert.id}"]')
        expect(home.locator(".alert-kind")).to_have_text("单户停电")
        expect(home.locator(".alert-status")).to_have_text("已恢复")
        expect(home.locator(".alert-summary")).to_have_text(home_alert.summary)
        expect(home.locator('[data-field="ticket"] dd')).to_have_text(home_alert.ticket_number)
        expect(home.locator('[data-field="policy"] dd')).to_have_text("开故障报修工单（2级），待值班长派单，通知受影响客户")
        expect(home.locator('[data-field="cleared"] dd')).to_have_text(beijing(now - timedelta(minutes=20)))
        expect(home.locator('[data-field="notified"] dd')).to_have_text("1 户")
        home_log = home.locator("details.alert-log")
        home_log.locator("summary").click()
        for word in ("挂起待确认", "已清除", "已撤销"):
            expect(home_log.locator("td.action-name", has_text=word)).to_have_count(1)

        # the unfolded log stays unfolded across the next refresh
        page.clock.fast_forward(31_000)
        expect(log.locator("table")).to_be_visible()
        # the newest first: the area outage above the household
        ids = [int(i) for i in card.locator(".alert").evaluate_all("els => els.map(e => e.dataset.alertId)")]
        assert ids.index(area_alert.id) < ids.index(home_alert.id)

        home_log.locator("summary").click()  # the screenshot: the area's log open, the household's folded
        expect(home_log.locator("table")).to_be_hidden()
        page.evaluate("window.scrollTo(0, 0)")
        box = card.bounding_box()
        page.screenshot(path=str(screenshots / "supervisor-alert-feed.png"),
                        clip={"x": 0, "y": 0, "width": 1366, "height": box["y"] + box["height"] + 16})
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366

        # the texts are the API's: markup in them is shown as text, never run
        marked_up = home_alert.summary + "<img src=x onerror=alert(1)>"
        session.execute(update(Alert).where(Alert.id == home_alert.id).values(summary=marked_up))
        session.commit()
        page.clock.fast_forward(31_000)
        expect(home.locator(".alert-summary")).to_have_text(marked_up)
        assert card.locator("img").count() == 0
        assert violations == [] and page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def test_refused_account_stops_asking_for_the_feed(browser, alert_server):
    """A crew account may see neither the dashboard nor the feed: the page refuses as before and does not
    keep asking for the feed every 30 s."""
    context = new_context(browser, viewport={"width": 1366, "height": 900})
    try:
        context.clock.install()
        page = open_staff_page(context, alert_server.url, "/supervisor")
        asked: list[str] = []
        page.on("request", lambda r: "/api/monitoring/alerts" in r.url and asked.append(r.url))
        sign_in(page, "crew.yz01", "Demo-crew-yz01")
        expect(page.locator("#refused")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        page.wait_for_timeout(300)
        before = len(asked)
        page.clock.fast_forward(95_000)
        page.wait_for_timeout(300)
        assert len(asked) == before <= 2
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
