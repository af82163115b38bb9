"""The audit API over the stored demo data: a scan keeps its findings once, the findings page and CSV,
line loss per area and feeder with its flags, and the customers of a high-loss area ranked."""
from __future__ import annotations

from decimal import Decimal

from api.audit.rules import RULES
from tests.api.staff.test_staff_auth import bearer


def test_a_scan_keeps_each_finding_once_and_the_page_filters_them(client):
    auditor = bearer(client, "auditor01")
    first = client.post("/api/audit/scan", json={"days": 8}, headers=auditor)
    assert first.status_code == 200, first.text
    first = first.json()
    assert first["customers"] > 100 and first["findings"] > 0 and first["new"] == first["findings"]
    assert set(first["by_rule"]) <= {*RULES, "theft_score"}
    again = client.post("/api/audit/scan", json={"days": 8}, headers=auditor).json()
    assert again["new"] == 0 and again["findings"] == first["findings"]  # a re-scan adds nothing

    page = client.get("/api/audit/findings", params={"limit": 500}, headers=auditor).json()
    assert page["total"] == first["findings"]
    severities = [i["severity"] for i in page["items"]]
    assert severities == sorted(severities, key=["high", "medium", "low"].index)
    rule = page["items"][0]["rule"]
    only = client.get("/api/audit/findings", params={"rule": rule}, headers=auditor).json()
    assert only["total"] == first["by_rule"][rule] and {i["rule"] for i in only["items"]} == {rule}
    one = client.get(f"/api/audit/findings/{only['items'][0]['id']}", headers=auditor).json()
    assert one["rule_label"] and one["customer_name"] and one["status"] == "待核查"
    assert isinstance(one["evidence"], dict)

    exported = client.get("/api/audit/findings.csv", params={"rule": rule}, headers=auditor)
    assert exported.status_code == 200 and exported.text.startswith("\ufeff# 筛选条件：rule=" + rule)
    assert f"rule-{rule}" in exported.headers["content-disposition"]
    assert len(exported.text.strip().splitlines()) == 2 + first["by_rule"][rule]
    # whatever a filter holds (Chinese, quotes, line breaks) cannot break the download's header
    odd = client.get("/api/audit/findings.csv", params={"district": '西吉县"\r\nX-Evil: 1'}, headers=auditor)
    assert odd.status_code == 200 and "x-evil" not in odd.headers
    assert odd.headers["content-disposition"].startswith('attachment; filename="audit-findings_district-_X-Evil_1.csv"')
    assert "filename*=UTF-8''audit-findings_district-%E8%A5%BF%E5%90%89%E5%8E%BF%22%0D%0AX-Evil%3A%201.csv" in \
        odd.headers["content-disposition"]

    assert client.get("/api/audit/findings", headers=bearer(client, "agent01")).status_code == 403
    assert client.post("/api/audit/scan", json={"days": 0}, headers=auditor).status_code == 422


def test_line_loss_adds_up_and_flags_high_negative_and_missing(client):
    auditor = bearer(client, "auditor01")
    day = client.get("/api/audit/line-loss", headers=auditor)
    assert day.status_code == 200, day.text
    day = day.json()
    assert day["level"] == "area" and day["period"] == "day" and day["limit_rate"] == 0.07
    rows = day["rows"]
    assert rows and {r["flag"] for r in rows} <= {"high", "negative", "missing", "normal"}
    for r in rows:
        if r["flag"] != "missing":
            assert Decimal(r["supplied_kwh"]) == Decimal(r["sold_kwh"]) + Decimal(r["loss_kwh"])
            assert abs(r["loss_rate"] - float(Decimal(r["loss_kwh"]) / Decimal(r["supplied_kwh"]))) < 1e-6
            assert (r["flag"] == "high") == (r["loss_rate"] > 0.07) or r["flag"] == "negative"
    rates = [r["loss_rate"] for r in rows if r["loss_rate"] is not None]
    assert rates == sorted(rates, reverse=True)  # worst first
    assert "high" in {r["flag"] for r in rows}  # the demo plants theft in some areas

    feeders = client.get("/api/audit/line-loss", params={"level": "feeder", "date": day["date"]}, headers=auditor).json()
    assert feeders["limit_rate"] == 0.05 and all(r["code"].startswith("F") for r in feeders["rows"])

    worst = rows[0]["code"]
    ranked = client.get(f"/api/audit/line-loss/areas/{worst}/customers", headers=auditor).json()
    scores = [c["evidence_score"] for c in ranked]
    assert ranked and scores == sorted(scores, reverse=True)

    assert client.get("/api/audit/line-loss", params={"date": "2026-13-01"}, headers=auditor).status_code == 422
    assert client.get("/api/audit/line-loss", params={"period": "month", "date": "2026-11-05"},
                      headers=auditor).status_code == 422
    assert client.get("/api/audit/line-loss/areas/TA9999/customers", headers=auditor).status_code == 404
