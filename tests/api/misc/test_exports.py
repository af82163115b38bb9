"""CSV exports (issue 13): no role gets a customer's mobile, ID or house number from a download, and the audit
findings name the customer (户号, name) in full for auditors only — supervisors and admins get them masked."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from sqlalchemy import select

from api.analytics import service as analytics
from api.analytics.export import TABLES
from api.analytics.schemas import ColumnRead, TableRead
from api.audit import service as audit
from api.audit.schemas import FindingRead
from api.billing.advice import SEGMENT_KINDS
from api.core.exports import csv_cell, csv_document
from api.core.ids import mask_account, mask_name
from api.customers.models import Customer
from tests.api.staff.test_staff_auth import bearer

AT = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
FINDING = FindingRead(id=7, account_no="0401000001", customer_name="马建国", district="原州区", area_code="YZ-TA-001",
                      customer_class="居民", rule="over_contract", rule_label="超合同容量", severity="high", start=AT,
                      end=AT, evidence={}, status="待核查", detected_at=AT)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_cells_mask_mobiles_ids_and_house_numbers_and_quote_formulas():
    assert csv_cell("客户13912345678家在文化街12号3号楼2单元501，身份证640402199001011234") == \
        "客户139****5678家在文化街**号**号楼**单元**，身份证640402********1234"
    assert csv_cell("龙王坝村三组12号") == "龙王坝村**组**号"
    # not personal: a 户号, a 台区 named after its street, a date, a ticket number
    for kept in ("0401000001", "文化街1号台区", "12月10号", "GD20261204-0007"):
        assert csv_cell(kept) == kept
    assert [csv_cell(v) for v in ("=HYPERLINK(1)", "-1+2", "@x", None, 3, 1.5)] == [
        "'=HYPERLINK(1)", "'-1+2", "'@x", "", 3, 1.5]
    assert csv_document([["户号", "次数"], ["0401000001", 2]]) == "\ufeff户号,次数\r\n0401000001,2\r\n"


def test_the_supervisors_tables_mask_what_customers_typed():
    table = TableRead(title="常见未识别问句", columns=[ColumnRead(key="text", label="客户原话"),
                                                ColumnRead(key="times", label="次数")],
                      rows=[{"text": "我家龙王坝村三组12号没电了，电话13912345678", "times": 2}])
    assert rows_of(analytics.to_csv(table))[1] == ["我家龙王坝村**组**号没电了，电话139****5678", "2"]


def test_findings_name_the_customer_in_full_for_auditors_only():
    filters = {"rule": None, "account_no": "0401000001"}
    for role, account_no, name in (("auditor", "0401000001", "马建国"), ("supervisor", "0401****01", "马*国"),
                                   ("admin", "0401****01", "马*国")):
        rows = rows_of(audit.findings_csv([FINDING], filters=filters, role=role))
        assert rows[0] == [f"# 筛选条件：account_no={account_no}"]  # the filter line too
        assert rows[1] == list(audit.FINDINGS_CSV_COLUMNS)
        assert rows[2][:4] == ["7", account_no, name, "原州区"]


def test_no_download_carries_a_customers_mobile_or_address(client, session):
    customers = session.scalars(select(Customer)).all()
    personal = {c.mobile for c in customers} | {c.address for c in customers}
    auditor, supervisor, agent = (bearer(client, u) for u in ("auditor01", "supervisor01", "agent01"))
    assert client.post("/api/audit/scan", json={"days": 8}, headers=auditor).status_code == 200
    downloads = [("/api/audit/findings.csv", auditor), ("/api/audit/findings.csv", supervisor),
                 ("/api/charging/segments.csv", agent), ("/api/charging/segments.csv", supervisor),
                 *((f"/api/forecasting/segments/{kind}.csv", who) for kind in SEGMENT_KINDS
                   for who in (supervisor, auditor)),
                 *((f"/api/analytics/export/{name}.csv", supervisor) for name in TABLES)]
    for path, headers in downloads:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        body = response.content.decode("utf-8-sig")
        assert not [value for value in personal if value in body], path

    names = {c.account_no: c.name for c in customers}
    by_auditor = rows_of(client.get("/api/audit/findings.csv", headers=auditor).text)[2:]
    by_supervisor = rows_of(client.get("/api/audit/findings.csv", headers=supervisor).text)[2:]
    assert by_auditor and all(names[row[1]] == row[2] for row in by_auditor)  # in full for the auditor
    assert [row[0] for row in by_supervisor] == [row[0] for row in by_auditor]  # the same findings, by id
    assert all(s[1] == mask_account(a[1]) and s[2] == mask_name(a[2]) and s[1] != a[1]
               for s, a in zip(by_supervisor, by_auditor))
