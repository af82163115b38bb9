"""The supervisor dashboard (/supervisor) in headless Chromium against the real API on a seeded demo
database plus 30 days of ticket and conversation history; the figures on the page are checked
against SQL run here, straight on the test database."""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import and_, case, func, or_, select

from api.conversations.models import Conversation, ConversationEvent, Message
from api.demo.crews import CREWS, local_day, shift_rows
from api.dispatch.models import CrewShift
from api.kb.models import KbFeedback
from api.tickets.models import Ticket
from tests.conftest import new_context

pytestmark = pytest.mark.browser

SH = ZoneInfo("Asia/Shanghai")
ON_SITE = ("故障报修", "安全隐患", "充电设施故障")
OPEN = ("新建", "已派单", "已接单", "已到达", "挂起", "退单")
TYPES = {"故障报修": 46, "咨询回访": 14, "业务办理": 14, "投诉": 8, "安全隐患": 6, "充电设施故障": 8, "稽查任务": 4}
DISTRICTS = {"原州区": 34, "西吉县": 22, "彭阳县": 20, "隆德县": 13, "泾源县": 11}
DUE_MINUTES = {"故障报修": 90, "安全隐患": 45, "充电设施故障": 90, "投诉": 1440, "咨询回访": 1440, "业务办理": 2700,
               "稽查任务": 14400}
INTENTS = ("query_bill", "report_outage", "query_balance", "faq", "query_outage_notice", "pay_bill",
           "query_ticket_status", "apply_service", "charging_find_station", "complaint")
FALLBACK_TEXTS = ("那个东西又不行了", "你们这个怎么弄", "我要找上次那个师傅", "电老是一闪一闪的咋回事", "表上红灯亮")
REASONS = ("request_human", "request_human", "repeated_fallback", "angry", "complaint")
ARTICLES = ("price-tiered-residential", "price-tou-apply", "biz-capacity-increase", "price-tier-cycle-reset",
            "biz-account-close")


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


def plant_history(session, now: datetime, days: int = 30, seed: int = 11) -> None:
    """30 days of tickets (through their lifecycle, some late), conversations and KB votes."""
    rng = random.Random(seed)
    repair_crews = {d: [c[0] for c in CREWS if d in c[3] and "低压抢修" in c[4]] for d in DISTRICTS}
    first = datetime.combine((now.astimezone(SH) - timedelta(days=days - 1)).date(), datetime.min.time(), SH)
    seeded_from = session.scalar(select(func.min(CrewShift.starts_at)))  # the demo seeds 8 days of shifts
    session.add_all(CrewShift(**row) for row in shift_rows(first.date(), local_day(seeded_from) - timedelta(days=1)))
    span = (now - first).total_seconds()
    tickets = []
    for i in range(900):
        created = first + timedelta(seconds=rng.random() * span)
        type_ = rng.choices(list(TYPES), weights=list(TYPES.values()))[0]
        district = rng.choices(list(DISTRICTS), weights=list(DISTRICTS.values()))[0]
        due = created + timedelta(minutes=DUE_MINUTES[type_])
        age = (now - created).total_seconds() / 60
        steps = {}
        t = 0.0
        for name, (lo, hi) in (("assigned_at", (1, 12)), ("accepted_at", (2, 20)), ("arrived_at", (15, 120)),
                               ("resolved_at", (20, 240)), ("closed_at", (60, 2000))):
            if name == "arrived_at" and type_ not in ON_SITE:
                continue
            t += rng.uniform(lo, hi)
            if t > age or (name in ("assigned_at", "accepted_at") and rng.random() < 0.01):  # a few stuck
                break
            steps[name] = created + timedelta(minutes=t)
        status = {0: "新建", 1: "已派单", 2: "已接单"}.get(len(steps), None)
        if status is None:
            last = list(steps)[-1]
            status = {"arrived_at": "已到达", "resolved_at": "已处理", "closed_at": "已关闭"}[last]
        if status == "新建" and rng.random() < 0.15:
            status = "挂起"
        done = steps.get("arrived_at" if type_ in ON_SITE else "resolved_at")
        late = (done or now) > due
        breached = due + timedelta(seconds=30) if late and rng.random() < 0.85 else None
        tickets.append(Ticket(
            number=f"GD{created.astimezone(SH):%Y%m%d}-{9000 - i:04d}", type=type_, priority=rng.choice((1, 2, 2, 3)),
            status=status, channel=rng.choice(("web", "hotline", "wechat")), description="历史工单",
            address_text=f"{district}某地", address={}, district=district, area_class="城区",
            diagnosis_code="none", diagnosis_summary="", crew_note="", arrive_by=due, created_at=created,
            updated_at=created, crew_id=crew_for(rng, type_, district, repair_crews) if steps else None,
            sla_breached_at=breached if breached and breached < now else None,
            satisfaction=rng.choices((5, 4, 3, 2, 1), weights=(50, 25, 12, 8, 5))[0]
            if status in ("已处理", "已关闭") and rng.random() < 0.6 else None, **steps))
    session.add_all(tickets)
    conversations, rows = [], []
    for i in range(320):
        cid = f"web-hist-{i:04d}"
        created = first + timedelta(seconds=rng.random() * span)
        queued = rng.random() < 0.3
        conversations.append(Conversation(id=cid, channel=rng.choice(("web", "wechat")), owner="bot",
                                          handoff_requested=queued and rng.random() < 0.7,
                                          human_involved=queued and rng.random() < 0.8, created_at=created,
                                          last_active_at=created + timedelta(minutes=10)))
        for k in range(rng.randint(1, 5)):
            fallback = rng.random() < 0.14
            rows.append(Message(conversation_id=cid, at=created + timedelta(minutes=k), sender="customer",
                                text=rng.choice(FALLBACK_TEXTS) if fallback else "问题",
                                intent="nlu_fallback" if fallback else rng.choice(INTENTS),
                                intent_confidence=round(rng.uniform(0.2, 0.45) if fallback else rng.uniform(0.6, 0.99), 3)))
        if queued:
            rows.append(ConversationEvent(conversation_id=cid, at=created + timedelta(minutes=6), actor="system",
                                          action="queued", note=rng.choice(REASONS)))
        if i % 4 == 0:
            rows.append(KbFeedback(article_id=rng.choice(ARTICLES), conversation_id=cid, helpful=rng.random() < 0.7,
                                   created_at=created + timedelta(minutes=5)))
    session.add_all(conversations)
    session.flush()
    session.add_all(rows)
    session.commit()


def crew_for(rng: random.Random, type_: str, district: str, repair_crews: dict[str, list[str]]) -> str:
    """The demo crew that would take the ticket: by skill, then by district."""
    if type_ == "充电设施故障":
        return "CD-01"
    if type_ == "稽查任务":
        return "YZ-04"
    if type_ in ("投诉", "咨询回访", "业务办理") and rng.random() < 0.6:
        return "KF-01"
    return rng.choice(repair_crews[district])


class Sql:
    """The dashboard's figures counted straight in SQL on the test database."""

    def __init__(self, session, now: datetime, days: int = 30):
        self.session = session
        today = now.astimezone(SH).date()
        self.start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), SH)
        self.end = datetime.combine(today + timedelta(days=1), datetime.min.time(), SH)
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
        done = case((Ticket.type.in_(ON_SITE), Ticket.arrived_at), else_=Ticket.resolved_at)
        work = [*self._scope(district, type_), Ticket.parent_id.is_(None)]
        breached = self.session.scalar(select(func.count()).select_from(Ticket).where(
            *work, or_(Ticket.sla_breached_at.is_not(None), done > Ticket.arrive_by)))
        met = self.session.scalar(select(func.count()).select_from(Ticket).where(
            *work, Ticket.sla_breached_at.is_(None), done <= Ticket.arrive_by))
        return met, breached

    def backlog(self, district=None, type_=None) -> int:
        scope = [Ticket.parent_id.is_(None), Ticket.status.in_(OPEN), Ticket.created_at < self.end]
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
    """Open /supervisor and collect script errors."""
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(api_server.url + "/supervisor")
    expect(page.locator("#login-view")).to_be_visible()
    return page


def sign_in(page: Page, username: str, password: str) -> None:
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="登录").click()


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
    plant_history(session, now)
    with httpx.Client(base_url=api_server.url, timeout=20,  # two tickets through the real intake and dispatch
                      headers={"Authorization": f"Bearer {api_server.token}"}) as http:
        for account in ("0401000003", "0404000006"):
            created = http.post("/api/tickets/faults", json={"kind": "outage", "description": "家里没电",
                                                             "channel": "hotline", "account_no": account})
            assert created.status_code == 201, created.text
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
    assert 1 <= texts.count() <= len(FALLBACK_TEXTS)
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
    plant_history(session, now)
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
    today = now.astimezone(SH).date()
    wait_loaded(page, date_from=(today - timedelta(days=6)).isoformat())
    assert kpi(page, "tickets") == f"{seven.tickets():,}"
    assert page.locator('.panel[data-table="volume_by_day"] tbody tr').count() == 7
    assert page.errors == []  # type: ignore[attr-defined]


def test_csv_export_downloads_the_rows_sql_counts(desktop, api_server, session):
    now = datetime.now(timezone.utc)
    plant_history(session, now)
    sql = Sql(session, now)
    page = open_dashboard(desktop, api_server)
    sign_in(page, "supervisor01", "Demo-supervisor-01")
    wait_loaded(page)
    with page.expect_download() as info:
        page.locator('.panel[data-table="volume_by_district"] a.csv').click()
    download = info.value
    today = now.astimezone(SH).date()
    assert download.suggested_filename == (
        f"analytics-volume_by_district-{(today - timedelta(days=29)).isoformat()}_{today.isoformat()}.csv")
    with open(download.path(), "rb") as handle:
        raw = handle.read()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0] == ["区县", "工单数", "占比（%）", "超时工单", "时限达标率（%）"]
    assert {row[0]: int(row[1]) for row in lines[1:]} == sql.by_district()


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
