"""The supervisor dashboard (/supervisor) in headless Chromium against the real API on a seeded demo
database plus 30 days of ticket and conversation history; the figures on the page are checked
against SQL run here, straight on the test database."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import and_, case, func, or_, select, update

from api.core.time import LOCAL_TZ
from api.conversations.models import Conversation, Message
from api.core.vocabulary import ON_SITE_TYPES, OPEN_STATUSES
from api.demo.history import FALLBACK_TEXTS, seed_history
from api.tickets.models import Ticket
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser


@pytest.fixture
def kb_home(built_kb):
    """The built knowledge base, so the KB table shows the articles' titles."""
    return built_kb.kb_dir


@pytest.fixture
def desktop(browser):
    """A desktop browser, 1366 px wide, with its own cookies."""
    context = new_context(browser, viewport={"width": 1366, "height": 900}, accept_downloads=True)
    yield context
    context.close()


class Sql:
    """The dashboard's figures counted straight in SQL on the test database."""

    def __init__(self, session, now: datetime, days: int = 30):
        self.session = session
        today = now.astimezone(LOCAL_TZ).date()
        self.start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), LOCAL_TZ)
        self.end = datetime.combine(today + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
        self.now = now

    def _scope(self, district=None, type_=None):
        scope = [Ticket.created_at >= self.start, Ticket.created_at < self.end]
        if district:
            scope.append(Ticket.district == district)
        if type_:
            scope.append(Ticket.type == type_)
        return scope

    def tickets(self, district=None, type_=None) -> int:
        return self.session.scalar(select(func.count()).select_from(Ticket).where(*self._scope(district, type_)))

    def sla(self, district=None, type_=None) -> tuple[int, int]:
        """(met, breached) of work tickets."""
        done = case((Ticket.type.in_(ON_SITE_TYPES), Ticket.arrived_at), else_=Ticket.resolved_at)
        work = [*self._scope(district, type_), Ticket.parent_id.is_(None)]
        breached = self.session.scalar(select(func.count()).select_from(Ticket).where(
            *work, or_(Ticket.sla_breached_at.is_not(None), done > Ticket.arrive_by)))
        met = self.session.scalar(select(func.count()).select_from(Ticket).where(
            *work, Ticket.sla_breached_at.is_(None), done <= Ticket.arrive_by))
        return met, breached

    def backlog(self, district=None, type_=None) -> int:
        scope = [Ticket.parent_id.is_(None), Ticket.status.in_(OPEN_STATUSES), Ticket.created_at < self.end]
        if district:
            scope.append(Ticket.district == district)
        if type_:
            scope.append(Ticket.type == type_)
        return self.session.scalar(select(func.count()).select_from(Ticket).where(*scope))

    def conversations(self) -> tuple[int, int]:
        """(all, contained)."""
        scope = [Conversation.created_at >= self.start, Conversation.created_at < self.end]
        total = self.session.scalar(select(func.count()).select_from(Conversation).where(*scope))
        contained = self.session.scalar(select(func.count()).select_from(Conversation).where(
            *scope, and_(Conversation.human_involved.is_(False), Conversation.handoff_requested.is_(False))))
        return total, contained

    def by_district(self) -> dict[str, int]:
        return dict(self.session.execute(select(Ticket.district, func.count()).where(*self._scope())
                                         .group_by(Ticket.district)).all())


def pct(part: int, whole: int) -> str:
    return "—" if not whole else f"{round(100 * part / whole + 1e-9, 1):.1f}%"


def open_dashboard(context, api_server) -> Page:
    return open_staff_page(context, api_server.url, "/supervisor")


def kpi(page: Page, key: str) -> str:
    return page.locator(f'[data-kpi="{key}"] .kpi-value').inner_text()


def wait_loaded(page: Page, **params) -> None:
    """Until the dashboard shows the answer to a query with these parameters."""
    board = page.locator("#board")
    expect(board).to_have_attribute("data-loaded", _contains(params))


def _contains(params: dict):
    import re
    from urllib.parse import urlencode

    return re.compile(re.escape(urlencode(params)) if params else r"date_from=")


def painted_pixels(page: Page, table: str) -> int:
    """Non-transparent pixels of the chart's canvas (0 when there is no canvas)."""
    return page.evaluate("""(name) => {
        const canvas = document.querySelector(`.panel[data-table="${name}"] .chart canvas`);
        if (!canvas || !canvas.width || !canvas.height) return 0;
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return painted;
    }""", table)


CHARTED = ("volume_by_day", "volume_by_type", "volume_by_district", "sla_by_type", "durations", "backlog_ageing",
           "satisfaction", "crew_utilisation", "fallbacks", "transfers_by_reason", "top_intents", "kb_feedback")


def test_dashboard_charts_and_figures_match_sql(desktop, api_server, session, screenshots):
    now = datetime.now(timezone.utc)
    seed_history(session, now=now)
    with httpx.Client(base_url=api_server.url, timeout=20,  # two tickets through the real intake and dispatch
                      headers={"Authorization": f"Bearer {api_server.token}"}) as http:
        for account in ("0401000003", "0404000006"):
            created = http.post("/api/tickets/faults", json={"kind": "outage", "description": "家里没电",
                                                             "channel": "hotline", "account_no": account})
            assert created.status_code == 201, created.text
    long_text = "我家那个电表从上个月开始就一直在响，" * 50  # a customer who wrote a whole letter
    first = session.scalar(select(Message.id).where(Message.intent == "nlu_fallback").order_by(Message.id))
    session.execute(update(Message).where(Message.id == first).values(text=long_text))
    session.commit()
    sql = Sql(session, now)

    page = open_dashboard(desktop, api_server)
    sign_in(page, "supervisor01", "Demo-supervisor-01")
    wait_loaded(page)
    expect(page.locator("#who")).to_contain_text("主管")

    tickets = sql.tickets()
    met, breached = sql.sla()
    conversations, contained = sql.conversations()
    assert tickets >= 900 and breached > 0 and conversations == 320
    assert kpi(page, "tickets") == f"{tickets:,}"
    assert kpi(page, "sla_breaches") == f"{breached:,}"
    assert kpi(page, "sla_compliance") == pct(met, met + breached)
    assert kpi(page, "backlog") == f"{sql.backlog():,}"
    assert kpi(page, "containment_rate") == pct(contained, conversations)
    expect(page.locator('[data-kpi="containment_rate"] .kpi-note')).to_contain_text(f"{conversations} 个会话")

    for table in CHARTED:
        assert painted_pixels(page, table) > 2000, f"{table} chart is empty"
        expect(page.locator(f'.panel[data-table="{table}"] .chart-empty')).to_be_hidden()
    texts = page.locator('.panel[data-table="fallback_texts"] tbody tr')
    long_cell = page.locator('.panel[data-table="fallback_texts"] td.long')
    expect(long_cell).to_have_attribute("title", long_text)  # whole on hover, cut short in the card
    assert len(long_cell.inner_text()) <= 61 and long_cell.inner_text().endswith("…")
    shown = texts.count()
    assert 0 < shown <= len(FALLBACK_TEXTS) + 1  # and the long one
    district_panel = page.locator('.panel[data-table="volume_by_district"]')
    district_panel.locator("summary").click()
    shown = {row.locator('[data-key="district"]').inner_text(): int(row.locator('[data-key="tickets"]').inner_text())
             for row in district_panel.locator("tbody tr").all()}
    assert shown == sql.by_district()
    kb_panel = page.locator('.panel[data-table="kb_feedback"]')
    kb_panel.locator("summary").click()
    expect(kb_panel.locator("tbody")).to_contain_text("居民阶梯电价怎么计算")
    district_panel.locator("summary").click()
    kb_panel.locator("summary").click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "supervisor-dashboard.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert page.errors == []  # type: ignore[attr-defined]


def test_filters_change_the_figures_as_sql_does(desktop, api_server, session):
    now = datetime.now(timezone.utc)
    seed_history(session, now=now)
    sql = Sql(session, now)
    page = open_dashboard(desktop, api_server)
    sign_in(page, "supervisor01", "Demo-supervisor-01")
    wait_loaded(page)

    page.locator("#district").select_option("西吉县")
    page.get_by_role("button", name="查询").click()
    wait_loaded(page, district="西吉县")
    met, breached = sql.sla(district="西吉县")
    assert kpi(page, "tickets") == f"{sql.tickets(district='西吉县'):,}"
    assert kpi(page, "sla_breaches") == f"{breached:,}"
    assert kpi(page, "sla_compliance") == pct(met, met + breached)
    assert kpi(page, "backlog") == f"{sql.backlog(district='西吉县'):,}"
    for bot_figure in ("containment_rate", "transfers", "fallback_rate"):  # only chats known to be the district's
        expect(page.locator(f'[data-kpi="{bot_figure}"] .kpi-note--scope')).to_have_text("仅统计已识别客户或已报工单的会话")
    expect(page.locator('[data-kpi="tickets"] .kpi-note--scope')).to_have_count(0)

    page.locator("#type").select_option("故障报修")
    page.get_by_role("button", name="查询").click()
    wait_loaded(page, district="西吉县", type="故障报修")
    met, breached = sql.sla(district="西吉县", type_="故障报修")
    assert kpi(page, "tickets") == f"{sql.tickets(district='西吉县', type_='故障报修'):,}"
    assert kpi(page, "sla_compliance") == pct(met, met + breached)
    assert page.locator('.panel[data-table="volume_by_type"] tbody tr').count() == 1

    page.locator("#district").select_option("")
    page.locator("#type").select_option("")
    page.get_by_role("button", name="近7天").click()
    seven = Sql(session, now, days=7)
    today = now.astimezone(LOCAL_TZ).date()
    wait_loaded(page, date_from=(today - timedelta(days=6)).isoformat())
    assert kpi(page, "tickets") == f"{seven.tickets():,}"
    assert page.locator('.panel[data-table="volume_by_day"] tbody tr').count() == 7
    assert page.errors == []  # type: ignore[attr-defined]


def test_csv_export_downloads_the_rows_sql_counts(desktop, api_server, session):
    now = datetime.now(timezone.utc)
    seed_history(session, now=now)
    sql = Sql(session, now)
    page = open_dashboard(desktop, api_server)
    sign_in(page, "supervisor01", "Demo-supervisor-01")
    wait_loaded(page)
    with page.expect_download() as info:
        page.locator('.panel[data-table="volume_by_district"] a.csv').click()
    download = info.value
    today = now.astimezone(LOCAL_TZ).date()
    assert download.suggested_filename == (
        f"analytics-volume_by_district-{(today - timedelta(days=29)).isoformat()}_{today.isoformat()}.csv")
    with open(download.path(), "rb") as handle:
        raw = handle.read()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0] == [f"工单量（按区县）（筛选条件：{(today - timedelta(days=29)).isoformat()} 至 {today.isoformat()}；"
                        "区县 全部；工单类型 全部）"]
    assert lines[1] == ["区县", "工单数", "占比（%）", "超时工单", "时限达标率（%）"]
    assert {row[0]: int(row[1]) for row in lines[2:]} == sql.by_district()


@pytest.mark.parametrize("username, password", [
    ("agent01", "Demo-agent-01"), ("crew.yz01", "Demo-crew-yz01"), ("auditor01", "Demo-auditor-01")])
def test_other_roles_are_refused_with_the_api_message(desktop, api_server, screenshots, username, password):
    with httpx.Client(base_url=api_server.url, timeout=10) as http:  # what the API says to this account
        assert http.post("/api/staff/login", json={"username": username, "password": password}).is_success
        refused = http.get("/api/analytics/dashboard")
        assert http.get("/api/analytics/filters").status_code == 403
    assert refused.status_code == 403
    page = open_dashboard(desktop, api_server)
    sign_in(page, username, password)
    expect(page.locator("#dash-error")).to_have_text(refused.json()["detail"]["message"])
    expect(page.locator("#refused")).to_contain_text("请退出后使用主管账号登录")
    expect(page.locator("#board")).to_be_hidden()
    assert page.locator("canvas").count() == 0
    if username == "agent01":
        page.screenshot(path=str(screenshots / "supervisor-refused.png"), full_page=True)
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login-view")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_wrong_password_and_admin(desktop, api_server):
    page = open_dashboard(desktop, api_server)
    sign_in(page, "supervisor01", "not-the-password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码不正确")
    sign_in(page, "admin", "Demo-admin-0001")
    wait_loaded(page)
    expect(page.locator('[data-kpi="tickets"] .kpi-value')).to_have_text("0")
    expect(page.locator('.panel[data-table="volume_by_day"] .chart-empty')).to_be_visible()


# ---------------------------------------------------------------- 经营成果 and 工作质量

BUSINESS_DAYS = 100  # the default 30 days and the 30 before them, with the bills of the months they issue


@pytest.fixture(scope="module")
def business_server(tmp_path_factory):
    """The real API on its own demo (160 customers, 100 days up to this hour, 30 days of tickets) with
    reading gaps, a frozen meter and open audit findings planted: the 经营成果 and 工作质量 sections have something to show."""
    from api.audit.models import AuditFinding
    from api.customers.models import Customer
    from api.db import make_engine, make_sessionmaker
    from api.demo.generator import generate
    from api.metering.models import Meter, Reading
    from api.migrate import upgrade
    from api.settings import Settings
    from sqlalchemy import delete, update
    from tests.conftest import TEST_TOKEN, demo_end, start_api

    url = f"sqlite:///{tmp_path_factory.mktemp('business') / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    end = demo_end()
    generate(engine, seed=7, customers=160, days=BUSINESS_DAYS, end=end)
    hour = timedelta(hours=1)
    with make_sessionmaker(engine)() as s:
        seed_history(s, now=end)  # as `make demo` does: tickets in every district, so the filter offers them
        meters = s.execute(select(Meter.id, Customer.account_no, Customer.district, Customer.customer_class,
                                  Customer.id.label("customer_id"))
                           .join(Customer, Customer.id == Meter.customer_id).order_by(Meter.id)).all()
        silent = next(m for m in meters if m.district == "原州区" and m.customer_class == "居民")
        frozen = next(m for m in meters if m.district == "彭阳县" and m.customer_class == "居民")
        collector = [m.id for m in meters if m.district == "西吉县"][:20]
        start = end - timedelta(days=4)
        s.execute(delete(Reading).where(Reading.meter_id == silent.id, Reading.ts >= start, Reading.ts < start + 30 * hour))
        start = end - timedelta(days=6)
        s.execute(delete(Reading).where(Reading.meter_id.in_(collector), Reading.ts >= start, Reading.ts < start + 5 * hour))
        start = end - timedelta(days=10)
        s.execute(update(Reading).where(Reading.meter_id == frozen.id, Reading.ts >= start, Reading.ts < start + 36 * hour)
                  .values(kwh=1.234))
        for m, rule, status in ((silent, "cover_open", "待核查"), (frozen, "billing_mismatch", "已派查"),
                                (meters[5], "zero_consumption", "待核查"), (meters[6], "zero_consumption", "误报")):
            s.add(AuditFinding(customer_id=m.customer_id, account_no=m.account_no, district=m.district, area_code="TA",
                               customer_class=m.customer_class, rule=rule, severity="low", start=end - 48 * hour,
                               end=end - 24 * hour, evidence={}, status=status, detected_at=end, updated_at=end))
        s.commit()
    server, running = start_api(Settings(database_url=url, service_token=TEST_TOKEN, rasa_url="http://127.0.0.1:9",
                                         rasa_timeout_seconds=1.0, kb_dir=tmp_path_factory.mktemp("no-kb"),
                                         background_workers=False))
    running.engine = engine
    running.planted = {"silent": silent.account_no, "frozen": frozen.account_no}
    yield running
    server.stop()
    engine.dispose()


def money(value) -> str:
    return f"{value:,.2f}"


def test_business_and_quality_sections(browser, business_server, screenshots):
    from decimal import Decimal

    from api.billing.models import Bill
    from api.db import make_sessionmaker
    from api.metering.models import Meter, Reading

    context = new_context(browser, strict_csp=True, viewport={"width": 1366, "height": 900}, accept_downloads=True)
    violations: list[str] = []
    try:
        page = open_staff_page(context, business_server.url, "/supervisor")
        page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
        sign_in(page, "supervisor01", "Demo-supervisor-01")
        now = datetime.now(timezone.utc)
        today = now.astimezone(LOCAL_TZ).date()
        if today.day == 31:  # the default 30 days hold no 1st: no bills issued; 90 days hold two
            wait_loaded(page)
            page.get_by_role("button", name="近90天").click()
        days = 90 if today.day == 31 else 30
        first = today - timedelta(days=days - 1)
        expect(page.locator("#business")).to_have_attribute("data-loaded", _contains({"date_from": first.isoformat()}),
                                                            timeout=30_000)
        expect(page.locator("#quality")).to_have_attribute("data-loaded", _contains({"date_from": first.isoformat()}),
                                                           timeout=30_000)

        # the figures, counted here in SQL: bills issued (the 1st of the next month) in the range
        issued = [first + timedelta(days=i) for i in range(days) if (first + timedelta(days=i)).day == 1]
        periods = [f"{(d - timedelta(days=1)):%Y-%m}" for d in issued]
        with make_sessionmaker(business_server.engine)() as s:
            bills = s.scalars(select(Bill).where(Bill.period.in_(periods))).all()
            cutoff = now.replace(minute=0, second=0, microsecond=0)
            start = datetime.combine(first, datetime.min.time(), LOCAL_TZ)
            received = s.scalar(select(func.count()).select_from(Reading).where(Reading.ts >= start, Reading.ts < cutoff))
            meters = s.scalar(select(func.count()).select_from(Meter))
        assert bills and periods
        billed = sum(b.amount_fen for b in bills)
        collected = sum(b.amount_fen for b in bills if b.paid and b.paid_at < now)
        expected = meters * int((cutoff - start) / timedelta(hours=1))
        assert 0 < received < expected

        business = page.locator("#business")
        assert kpi(page, "energy_kwh") == money(sum((b.kwh for b in bills), Decimal(0)))
        assert kpi(page, "billed_yuan") == money(Decimal(billed) / 100)
        assert kpi(page, "collected_yuan") == money(Decimal(collected) / 100)
        assert kpi(page, "collection_rate") == pct(collected, billed)
        expect(business.locator("[data-scope]")).to_contain_text("工单类型筛选不适用")
        expect(business.locator('[data-kpi="energy_kwh"]')).to_contain_text("电费月份 " + periods[-1])
        assert kpi(page, "completeness") == f"{round(100 * received / expected + 1e-9, 2):.2f}%"
        assert kpi(page, "audit_open") == "3"
        stuck = page.locator('.panel[data-table="stuck_meters"] tbody')
        expect(stuck).to_contain_text(business_server.planted["silent"])
        expect(stuck).to_contain_text("无采集数据")
        expect(stuck).to_contain_text(business_server.planted["frozen"])
        expect(stuck).to_contain_text("电量不变（疑似数据冻结）")
        expect(page.locator('.panel[data-table="stuck_meters"] tbody tr').filter(
            has_text=business_server.planted["frozen"]).locator('[data-key="hours"]')).to_have_text("36")
        expect(page.locator('.panel[data-table="missing_meters"] tbody tr').first).to_contain_text(
            business_server.planted["silent"])
        expect(page.locator('.panel[data-table="billing_anomalies"] tbody')).to_contain_text("0401000103")
        comparison = page.locator('.panel[data-table="business_comparison"] tbody tr').first
        expect(comparison.locator('[data-key="current"]')).to_have_text(kpi(page, "energy_kwh"))
        for table in ("business_by_month", "business_by_class", "arrears_ageing", "completeness_by_day",
                      "completeness_by_district", "audit_open_by_rule"):
            assert painted_pixels(page, table) > 2000, f"{table} chart is empty"

        page.evaluate("window.scrollTo(0, 0)")
        top = page.locator("#business").bounding_box()
        bottom = page.locator("#quality").bounding_box()
        page.screenshot(path=str(screenshots / "supervisor-business.png"), full_page=True,
                        clip={"x": 0, "y": top["y"] - 8, "width": 1366, "height": bottom["y"] + bottom["height"] - top["y"] + 16})
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366

        # a district: both sections follow it, and say so
        page.locator("#district").select_option("西吉县")
        page.locator("#type").select_option("故障报修")
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#quality")).to_have_attribute("data-loaded", _contains({"district": "西吉县"}), timeout=30_000)
        expect(page.locator("#quality [data-scope]")).to_contain_text("西吉县")
        expect(page.locator("#business [data-scope]")).to_contain_text("已忽略所选的“故障报修”")
        assert page.locator('.panel[data-table="completeness_by_district"] tbody tr').count() == 1
        with page.expect_download() as info:
            page.locator('.panel[data-table="arrears_ageing"] a.csv').click()
        lines = list(csv.reader(io.StringIO(open(info.value.path(), "rb").read().decode("utf-8-sig"))))
        assert lines[0][0].startswith("欠费账龄（按逾期天数）（筛选条件：") and len(lines) == 6
        assert lines[1] == ["逾期天数", "欠费户数", "欠费账单数", "欠费金额（元）", "金额占比（%）"]
        assert violations == [] and page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
