"""HTTP of load forecasting: who may read, the error bodies, overload warnings and their ticket."""
from __future__ import annotations

from api.demo.showcase import SHOWCASE
from tests.api.staff.test_staff_auth import bearer


def test_load_forecast_for_supervisors_and_the_bot_not_agents(client, auth):
    system = client.get("/api/forecasting/load/system", headers=auth)
    assert system.status_code == 200, system.text
    body = system.json()
    assert body["level"] == "system" and body["key"] == "all" and len(body["points"]) == 48
    customer = client.get("/api/forecasting/load/customer", params={"key": SHOWCASE["normal"][0]},
                          headers=bearer(client, "supervisor01"))
    assert customer.status_code == 200 and customer.json()["key"] == SHOWCASE["normal"][0]
    assert client.get("/api/forecasting/load/system", headers=bearer(client, "agent01")).status_code == 403


def test_unknown_level_and_key_are_404_with_their_codes(client, auth):
    level = client.get("/api/forecasting/load/district", headers=auth)
    assert level.status_code == 404
    assert level.json() == {"detail": {"code": "unknown_level", "message": "预测对象应为客户、台区、线路或全网",
                                       "levels": ["customer", "area", "feeder", "system"]}}
    key = client.get("/api/forecasting/load/area", params={"key": "TA9999"}, headers=auth)
    assert key.status_code == 404
    assert key.json() == {"detail": {"code": "not_found", "message": "没有找到预测对象：TA9999"}}


def test_targets_overloads_and_the_overload_ticket(client, auth):
    targets = client.get("/api/forecasting/targets", headers=auth).json()
    assert targets["area"] and targets["feeder"]
    assert set(targets["area"][0]) == {"key", "name", "district", "capacity_kva"}
    warnings = client.get("/api/forecasting/overloads", headers=auth).json()
    assert warnings and all(w["load_ratio"] >= 0.9 for w in warnings)
    supervisor = bearer(client, "supervisor01")
    healthy = next(t["key"] for t in targets["area"] if t["key"] not in {w["area_code"] for w in warnings})
    refused = client.post(f"/api/forecasting/overloads/{healthy}/ticket", headers=supervisor)
    assert refused.status_code == 409
    assert refused.json() == {"detail": {"code": "no_warning", "message": "该台区目前没有重过载预警，无需派单"}}
    ticket = client.post(f"/api/forecasting/overloads/{warnings[0]['area_code'].lower()}/ticket", headers=supervisor)
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["type"] == "安全隐患"
    assert client.post(f"/api/forecasting/overloads/{healthy}/ticket", headers=auth).status_code == 401  # staff only
    assert client.post(f"/api/forecasting/overloads/{healthy}/ticket",
                       headers=bearer(client, "agent01")).status_code == 403


def test_impossible_weather_is_refused_not_a_500(client, auth):
    """Year 1, NaN and ±Infinity temperatures used to give a 500 or change the forecast (issue 13)."""
    good = {"ts": "2026-11-04T00:00:00+08:00", "temperature_c": -5.0}
    for point in ({"ts": "0001-01-01T00:00:00", "temperature_c": 1.0}, {"ts": good["ts"], "temperature_c": 1e9}):
        response = client.post("/api/forecasting/load/system", headers=auth, json={"weather": [point]})
        assert response.status_code == 422 and response.json()["detail"]["code"] == "validation_error"
    for token in ("NaN", "Infinity", "-Infinity"):  # JSON as Python's json writes them
        raw = '{"weather": [{"ts": "2026-11-04T00:00:00+08:00", "temperature_c": %s}]}' % token
        response = client.post("/api/forecasting/load/system", headers={**auth, "Content-Type": "application/json"},
                               content=raw)
        assert response.status_code == 422, (token, response.text)
    assert client.post("/api/forecasting/load/system", headers=auth, json={"weather": [good]}).status_code == 200



def test_each_warning_agrees_with_the_forecast_the_page_shows_for_its_area(client, auth):
    """The forecast page once warned of 250.4 kW for an area whose 48-hour chart peaked at 165.5 kW (issue 18): a
    warning's figure is the chart's P50 peak, or the measured hour when that is higher, and the warning says which."""
    warnings = client.get("/api/forecasting/overloads", headers=auth).json()
    assert warnings
    for warning in warnings:
        shown = client.get("/api/forecasting/load/area", params={"key": warning["area_code"]}, headers=auth).json()
        chart_peak = max(shown["points"], key=lambda p: p["p50"])
        assert shown["capacity_kva"] == warning["capacity_kva"]
        if warning["basis"] == "forecast":
            assert warning["forecast_peak_kw"] == round(chart_peak["p50"], 1), warning["area_code"]
            assert warning["peak_at"] == chart_peak["ts"]
            assert f"{warning['forecast_peak_kw']:.0f}千瓦" in warning["message"] and "预计" in warning["message"]
        else:  # measured above anything forecast: the warning says so and gives the measured figure
            assert warning["forecast_peak_kw"] == warning["current_kw"] >= round(chart_peak["p50"], 1)
            assert "当前实测负荷" in warning["message"]
        assert warning["load_ratio"] == round(warning["forecast_peak_kw"] / (shown["capacity_kva"] * 0.9), 3)
