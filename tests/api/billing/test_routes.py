"""HTTP of demand management: who may read what, the signed chart link, segment CSV."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.api.staff.test_staff_auth import bearer

ACCOUNT = "0401000005"


def test_bill_forecast_for_the_bot_and_agents_not_crews(client, auth):
    response = client.get(f"/api/forecasting/customers/{ACCOUNT}/bill", headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    low, mid, high = (body["projected_kwh"][k] for k in ("p10", "p50", "p90"))
    assert low <= mid <= high and body["account_no"] == ACCOUNT
    assert client.get(f"/api/forecasting/customers/{ACCOUNT}/bill",
                      headers=bearer(client, "agent01")).status_code == 200
    refused = client.get(f"/api/forecasting/customers/{ACCOUNT}/bill", headers=bearer(client, "crew.yz01"))
    assert refused.status_code == 403
    assert client.get("/api/forecasting/customers/0000000000/bill", headers=auth).status_code == 404


def test_analysis_links_a_signed_chart_that_expires_with_its_signature(client, auth):
    analysis = client.get(f"/api/forecasting/customers/{ACCOUNT}/analysis", headers=auth).json()
    assert len(analysis["profile_kw"]) == 24
    url = analysis["chart_url"]
    chart = client.get(url)  # no session: the customer's browser
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.startswith("<svg") and chart.text.count("<rect") >= 24 and "峰段" in chart.text
    query = parse_qs(urlsplit(url).query)
    path = urlsplit(url).path
    forged = client.get(path, params={"exp": query["exp"][0], "sig": "0" * 32})
    assert forged.status_code == 403 and forged.json()["detail"]["message"] == "图表链接无效或已过期"
    other = client.get(path.replace(ACCOUNT, "0401000003"), params={"exp": query["exp"][0], "sig": query["sig"][0]})
    assert other.status_code == 403  # a link for one account does not open another's
    expired = client.get(path, params={"exp": "1000", "sig": query["sig"][0]})
    assert expired.status_code == 403


def test_tou_comparison_and_tips(client, auth):
    tou = client.get(f"/api/forecasting/customers/{ACCOUNT}/tou", headers=auth).json()
    assert tou["saving_total"]["fen"] == tou["flat_total"]["fen"] - tou["tou_total"]["fen"]
    tips = client.get(f"/api/forecasting/customers/{ACCOUNT}/advice", headers=auth).json()
    assert 3 <= len(tips["tips"]) <= 5 and all(t["text"] for t in tips["tips"])


def test_segments_are_for_supervisors_and_auditors_with_a_csv(client):
    supervisor = bearer(client, "supervisor01")
    segment = client.get("/api/forecasting/segments/night_heavy", headers=supervisor)
    assert segment.status_code == 200, segment.text
    csv = client.get("/api/forecasting/segments/night_heavy.csv", headers=supervisor)
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert len(csv.content.decode("utf-8-sig").strip().splitlines()) == len(segment.json()["rows"]) + 1
    assert client.get("/api/forecasting/segments/night_heavy", headers=bearer(client, "agent01")).status_code == 403
    unknown = client.get("/api/forecasting/segments/everyone", headers=supervisor)
    assert unknown.status_code == 404 and "tou_beneficiaries" in unknown.json()["detail"]["kinds"]
