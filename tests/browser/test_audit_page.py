"""The marketing-audit page (/audit) in headless Chromium on the real API and a seeded demo database:
a scan from the page, a finding's evidence chart and key figures, a theme applied for by the auditor and
approved and published by a supervisor, the task's on-site result with a photo, and the figures of
稽查成效 after it; line loss by area with an area's customers; a crew account is refused."""
from __future__ import annotations

import re
import struct
import zlib
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.audit import service as audit
from api.audit.models import AuditFinding
from api.core.time import utcnow
from api.customers.models import Customer
from api.demo.staff import DEMO_STAFF
from api.metering.models import TransformerArea
from tests.browser.conftest import open_staff_page, sign_in
from tests.conftest import new_context

pytestmark = pytest.mark.browser
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}
RULE = "over_contract_capacity"
SLOW = 30_000


@pytest.fixture
def desktop(browser):
    """A desktop browser, 1366 × 900, with its own cookies."""
    context = new_context(browser, viewport={"width": 1366, "height": 900})
    yield context
    context.close()


def png(width: int = 120, height: int = 90) -> bytes:
    """A small valid PNG (a green-to-yellow gradient), as a site photo."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes((40 + x, 115 + y // 2, 106 - x // 2)) for x in range(width))
                    for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def plant_finding(session) -> AuditFinding:
    """An over-capacity finding with a load curve, as a scan keeps it (when the scan found none)."""
    customer, code = session.execute(
        select(Customer, TransformerArea.code).join(TransformerArea, TransformerArea.id == Customer.transformer_area_id)
        .where(Customer.customer_class != "居民").order_by(Customer.id).limit(1)).one()
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=3)
    points = [[(start - timedelta(hours=24) + timedelta(hours=h)).isoformat(), 200 + h if 24 <= h < 30 else 60 + h % 24]
              for h in range(60)]  # over the limit in the episode's six hours
    audit.record_findings(session=session, now=now, findings=[audit.FindingIn(
        customer_id=customer.id, account_no=customer.account_no, district=customer.district, area_code=code,
        customer_class=customer.customer_class, rule=RULE, severity="high", start=start, end=start + timedelta(hours=6),
        evidence={"contract_kva": 100, "power_factor": 0.9, "contract_kw": 90, "limit_kw": 108, "peak_kw": 234.2,
                  "peak_ratio": 2.6, "hours_over": 6, "longest_hours": 6, "energy_over_limit_kwh": 512.3,
                  "series": [{"name": "有功功率", "unit": "kW", "points": points}],
                  "limits": [{"name": "合同容量限值", "value": 108, "unit": "kW"},
                             {"name": "合同容量", "value": 90, "unit": "kW"}]})])
    session.commit()
    return session.scalars(select(AuditFinding).where(AuditFinding.rule == RULE,
                                                      AuditFinding.customer_id == customer.id)).one()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login-view")).to_be_visible()


def shoot(page: Page, path) -> None:
    """A full-page screenshot from the top (the header is sticky)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def test_auditor_and_supervisor_work_a_finding_to_a_result(desktop, api_server, session, screenshots):
    page = open_staff_page(desktop, api_server.url, "/audit")
    sign_in(page, "auditor01", PASSWORDS["auditor01"])
    expect(page.locator("#au-board")).to_be_visible()

    # a scan from the page; a finding planted as a scan would keep it if the demo data gave none
    page.get_by_role("button", name="立即扫描近30天数据").click()
    expect(page.locator("#f-scan-result")).to_contain_text("扫描完成", timeout=SLOW)
    finding = session.scalars(select(AuditFinding).where(AuditFinding.rule == RULE)
                              .order_by(AuditFinding.id)).first() or plant_finding(session)
    account, district = finding.account_no, finding.district

    page.locator("#f-rule").select_option(RULE)
    page.get_by_role("button", name="查询").first.click()
    row = page.locator(f'#f-rows tr[data-account="{account}"][data-rule="{RULE}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("超合同容量用电")
    expect(page.locator("#f-csv")).to_have_attribute("href", f"/api/audit/findings.csv?rule={RULE}")
    row.click()
    expect(page.locator("#e-title")).to_contain_text("超合同容量用电")
    expect(page.locator("#e-chart canvas")).to_have_count(1)
    peak = page.locator('#e-figures [data-key="peak_kw"]')
    expect(peak).to_contain_text("最大负荷")
    expect(peak).to_contain_text(f"{float(finding.evidence['peak_kw']):,.1f}".rstrip("0").rstrip(".") + " kW")
    shoot(page, screenshots / "audit-findings.png")

    # 稽查主题: the auditor applies
    tab(page, "稽查主题")
    page.get_by_role("button", name="申请稽查主题").click()
    page.get_by_label("主题名称").fill("专变客户超容量用电专项稽查")
    page.get_by_label("稽查说明").fill("高供低计专变客户，负荷持续超过合同容量，核查是否私自增容")
    page.locator("#t-rules").get_by_label("超合同容量用电").check()
    page.locator("#t-districts").get_by_label(district).check()
    shoot(page, screenshots / "audit-theme-form.png")
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#t-d-ok")).to_contain_text("稽查主题申请已提交")
    number = page.locator("#t-detail").get_attribute("data-theme")
    assert number
    theme_row = page.locator(f'#t-rows tr[data-theme="{number}"]')
    expect(theme_row).to_contain_text("待审批")
    expect(page.locator("#t-d-actions button")).to_have_text(["撤销申请"])  # an auditor cannot approve
    shoot(page, screenshots / "audit-themes.png")
    sign_out(page)

    # a supervisor approves and publishes (退回 asks for the reason first)
    sign_in(page, "supervisor01", PASSWORDS["supervisor01"])
    tab(page, "稽查主题")
    page.locator(f'#t-rows tr[data-theme="{number}"]').click()
    expect(page.locator("#t-d-actions button")).to_have_text(["批准", "退回", "撤销申请"])
    page.get_by_role("button", name="退回").click()
    expect(page.get_by_label("退回原因")).to_be_visible()
    page.get_by_role("button", name="取消").click()
    page.get_by_role("button", name="批准").click()
    expect(page.locator("#t-d-ok")).to_contain_text("已批准")
    page.get_by_role("button", name="发布并派发任务").click()
    expect(page.locator("#t-d-ok")).to_contain_text("已发布，已生成稽查任务", timeout=SLOW)
    expect(page.locator(f'#t-rows tr[data-theme="{number}"]')).to_contain_text("已发布")
    expect(page.locator("#t-d-events li")).to_have_count(3)  # 申请, 批准, 发布
    shoot(page, screenshots / "audit-themes-published.png")
    sign_out(page)

    # the auditor records the result of the task on site, with a photo
    sign_in(page, "auditor01", PASSWORDS["auditor01"])
    tab(page, "稽查任务")
    task_row = page.locator(f'#k-rows tr[data-account="{account}"]')
    expect(task_row).to_have_count(1)
    expect(task_row).to_contain_text("待核查")
    task_row.click()
    expect(page.locator("#k-detail")).to_have_attribute("data-status", "待核查")
    expect(page.locator("#k-d-findings li")).to_contain_text(["超合同容量用电"])
    page.locator("#k-photo").set_input_files(files=[{"name": "现场.png", "mimeType": "image/png", "buffer": png()}])
    expect(page.locator("#k-photos img")).to_have_count(1)
    page.get_by_label("核查结论", exact=True).select_option("私自增容")
    page.get_by_label("追补电量（千瓦时）").fill("12345.6")
    page.get_by_label("追补电费及违约使用电费（元）").fill("23456.78")
    page.get_by_label("现场情况", exact=True).fill("现场变压器已更换为250kVA，未办理增容手续，客户已签字确认")
    page.get_by_role("button", name="提交核查结果").click()
    expect(page.locator("#k-d-ok")).to_contain_text("核查结果已提交")
    expect(page.locator("#k-detail")).to_have_attribute("data-status", "待整改")
    expect(page.locator('#k-d-info [data-key="outcome"]')).to_contain_text("私自增容")
    expect(page.get_by_role("button", name="确认整改完成")).to_be_visible()
    expect(task_row).to_contain_text("私自增容")
    shoot(page, screenshots / "audit-tasks.png")

    # 稽查成效: the rule's precision, the energy and fees recovered
    tab(page, "稽查成效")
    expect(page.locator(f'#s-rule-rows tr[data-rule="{RULE}"] .precision')).to_have_text("100.0%")
    expect(page.locator('[data-kpi="kwh"] .au-kpi-value')).to_have_text("12,345.6 千瓦时")
    expect(page.locator('[data-kpi="fee"] .au-kpi-value')).to_have_text("23,456.78 元")
    expect(page.locator('[data-kpi="open"] .au-kpi-value')).not_to_have_text("0 张")
    expect(page.locator(f'#s-theme-rows tr[data-theme="{number}"]')).to_contain_text("已发布")
    expect(page.locator("#s-rules-chart canvas")).to_have_count(1)
    # the monthly evaluation: six months, newest first; this month holds the result just recorded
    months = page.locator("#s-month-rows tr")
    expect(months).to_have_count(6)
    this_month = months.first.locator("td")
    expect(this_month.nth(0)).to_have_text(re.compile(r"^\d{4}年\d{2}月$"))
    expect(this_month.nth(2)).to_have_text("1")  # 已核查
    expect(this_month.nth(3)).to_have_text("1")  # 查实
    expect(this_month.nth(5)).to_have_text("100.0%")
    expect(this_month.nth(6)).to_have_text("12,345.6 千瓦时")
    expect(this_month.nth(7)).to_have_text("23,456.78 元")
    shoot(page, screenshots / "audit-stats.png")
    assert page.errors == []


def test_line_loss_ranks_areas_and_lists_an_areas_customers(desktop, api_server, screenshots):
    with httpx.Client(base_url=api_server.url, timeout=60) as http:
        token = http.post("/api/staff/login", json={"username": "auditor01",
                                                    "password": PASSWORDS["auditor01"]}).json()["token"]
        auditor = {"Authorization": f"Bearer {token}"}
        answer = http.get("/api/audit/line-loss", params={"level": "area", "period": "day"}, headers=auditor)
        assert http.post("/api/audit/scan", json={"days": 30}, headers=auditor).status_code == 200  # evidence to rank by
    assert answer.status_code == 200, answer.text
    data = answer.json()
    page = open_staff_page(desktop, api_server.url, "/audit")
    sign_in(page, "auditor01", PASSWORDS["auditor01"])
    expect(page.locator("#au-board")).to_be_visible()
    tab(page, "线损分析")
    rows = page.locator("#l-rows tr")
    expect(rows).to_have_count(len(data["rows"]))
    expect(page.locator("#l-chart canvas")).to_have_count(1)
    words = {"high": "高损", "negative": "负损", "missing": "数据缺失", "normal": "正常"}
    for i, row in enumerate(data["rows"]):
        expect(rows.nth(i)).to_have_attribute("data-code", row["code"])
        expect(rows.nth(i).locator(".au-tag")).to_have_text(words[row["flag"]])
    worst = data["rows"][0]
    rows.first.click()
    expect(page.locator("#c-title")).to_contain_text(worst["name"] or worst["code"])
    expect(page.locator("#c-card")).to_have_attribute("data-area", worst["code"])
    expect(page.locator("#c-rows tr").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    shoot(page, screenshots / "audit-lineloss.png")
    assert page.errors == []


def test_a_crew_account_is_told_it_has_no_audit_permission(desktop, api_server, screenshots):
    page = open_staff_page(desktop, api_server.url, "/audit")
    sign_in(page, "crew.yz01", PASSWORDS["crew.yz01"])
    expect(page.locator("#au-refused")).to_be_visible()
    expect(page.locator("#au-refused")).to_contain_text("您的账号没有稽查权限")
    expect(page.locator("#au-board")).to_be_hidden()
    page.screenshot(path=str(screenshots / "audit-refused.png"))
    assert page.errors == []


def test_the_page_works_under_its_content_security_policy(browser, api_server):
    """As the security-header tests do for the other staff pages: no violation, an admin sees the data."""
    context = new_context(browser, strict_csp=True, viewport={"width": 1366, "height": 900})
    violations: list[str] = []
    try:
        page = open_staff_page(context, api_server.url, "/audit")
        page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
        sign_in(page, "admin", PASSWORDS["admin"])
        expect(page.locator("#f-count")).to_contain_text("共")
        for name in ("线损分析", "稽查主题", "稽查任务", "稽查成效"):
            tab(page, name)
        page.wait_for_load_state("networkidle")
        assert violations == [] and page.errors == []
    finally:
        context.close()
