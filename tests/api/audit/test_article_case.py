"""The source article's case end to end, on the demo where it is planted: a customer contracted for 100 kVA
measured at 234.2 kW (transformer swapped: 私自增容). The scan finds it, a theme is approved and published,
the task goes to the 用电检查 crew, the crew records 私自增容 on site, and the customer's flag and the rule's
precision follow."""
from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.demo.audit_cases import ACCOUNTS
from api.main import create_app
from api.settings import Settings
from tests.api.audit.conftest import END
from tests.api.staff.test_staff_auth import bearer
from tests.conftest import TEST_TOKEN

CASE = ACCOUNTS["swapped_transformer"]


@pytest.fixture
def client(audit_demo, tmp_path):
    settings = Settings(database_url=audit_demo.url.render_as_string(hide_password=False), service_token=TEST_TOKEN,
                        rasa_url="http://127.0.0.1:9", rasa_timeout_seconds=1.0, kb_dir=tmp_path / "no-kb",
                        background_workers=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_100_kva_customer_measured_at_234_kw_is_found_checked_and_confirmed(client):
    staff = {u: bearer(client, u) for u in ("auditor01", "supervisor01", "crew.yz04", "agent01")}
    client.app.state.clock = lambda: END + timedelta(minutes=5)  # 10:05 in 固原: the 用电检查 crew is on shift

    scan = client.post("/api/audit/scan", json={"days": 60}, headers=staff["auditor01"])
    assert scan.status_code == 200, scan.text
    found = client.get("/api/audit/findings", params={"account_no": CASE}, headers=staff["auditor01"]).json()["items"]
    over = next(f for f in found if f["rule"] == "over_contract_capacity")
    assert over["severity"] == "high" and over["evidence"]["contract_kva"] == 100
    assert over["evidence"]["peak_kw"] == pytest.approx(234.2, abs=0.05)
    assert "ct_over_limit" in {f["rule"] for f in found}
    before = client.get(f"/api/customers/{CASE}/overview", headers=staff["agent01"]).json()["audit"]
    assert "over_contract_capacity" in before["rules"] and before["open_task"] is None

    theme = client.post("/api/audit/themes", headers=staff["auditor01"], json={
        "title": "高供低计专变客户超容量与计量二次电流越限专项稽查", "rules": ["over_contract_capacity", "ct_over_limit"],
        "districts": [over["district"]], "customer_classes": ["一般工商业", "大工业"],
        "period_start": "2026-10-01", "period_end": "2026-12-01"}).json()
    for action in ("approve", "publish"):
        moved = client.post(f"/api/audit/themes/{theme['number']}/transitions", json={"action": action},
                            headers=staff["supervisor01"])
        assert moved.status_code == 200, moved.text
    task = next(t for t in client.get("/api/audit/tasks", params={"theme": theme["number"]},
                                      headers=staff["auditor01"]).json() if t["account_no"] == CASE)
    assert {f["rule"] for f in task["findings"]} >= {"over_contract_capacity", "ct_over_limit"}
    ticket = client.get(f"/api/tickets/{task['ticket_number']}", headers=staff["supervisor01"]).json()
    assert ticket["type"] == "稽查任务" and ticket["crew"]["id"] == "YZ-04"

    for step in ("accept", "arrive"):
        client.post(f"/api/tickets/{task['ticket_number']}/transitions", json={"action": step}, headers=staff["crew.yz04"])
    result = client.post(f"/api/audit/tasks/{task['ticket_number']}/result", headers=staff["crew.yz04"], json={
        "outcome": "私自增容", "notes": "现场100kVA变压器被更换为315kVA，未办理增容手续，CT 150/5 二次侧过载",
        "recovered_kwh": "0", "recovered_fee_yuan": "28600.00", "rectify_days": 30})
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "待整改"

    after = client.get(f"/api/customers/{CASE}/overview", headers=staff["agent01"]).json()["audit"]
    assert after["confirmed"] == ["私自增容"] and after["open_task"] == task["ticket_number"]
    assert "over_contract_capacity" not in after["rules"]  # confirmed, no longer an open suspicion
    stats = {r["rule"]: r for r in client.get("/api/audit/stats", headers=staff["auditor01"]).json()["rules"]}
    assert stats["over_contract_capacity"]["confirmed"] >= 1
    assert stats["over_contract_capacity"]["precision"] == stats["over_contract_capacity"]["confirmed"] / \
        stats["over_contract_capacity"]["checked"]
