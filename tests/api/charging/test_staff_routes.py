"""The staff charging page's API: analytics and the segments CSV (the figures of api/charging/analytics.py as they
are), the live board and the areas with the scheduler's allocation; who may read them; bad ranges answered 422."""
from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest

from api.charging import analytics, service
from api.core.time import utcnow
from api.forecasting.service import POWER_FACTOR
from api.metering.models import TransformerArea
from tests.api.charging import analytics_data as data
from tests.api.staff.test_staff_auth import bearer

RANGE = {"start": data.START.isoformat(), "end": data.END.isoformat(), "district": data.DISTRICT}


@pytest.fixture
def built(session):
    return data.build(session)


@pytest.fixture
def supervisor(client):
    return bearer(client, "supervisor01")


def test_analytics_answer_the_figures_of_the_rules(client, session, built, supervisor):
    response = client.get("/api/charging/analytics", params=RANGE, headers=supervisor)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = analytics.analytics(session=session, start=data.START, end=data.END, now=utcnow(),
                                   district=data.DISTRICT)
    assert body == expected.model_dump(mode="json")
    a = next(s for s in body["stations"] if s["code"] == data.STATION_A)
    assert (a["sessions"], a["energy_kwh"], a["wait_p90_minutes"]) == (8, "195.000", 45.0)


def test_the_segments_csv_says_its_range(client, built, supervisor):
    agent = bearer(client, "agent01")
    response = client.get("/api/charging/segments.csv", params=RANGE, headers=agent)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert 'filename="charging-segments_2025-03-01_2025-03-14.csv"' in disposition
    assert quote("充电客户分群_测试区_2025-03-01至2025-03-14.csv") in disposition
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["户号", "充电卡号", "客户分群"]
    assert [r[0] for r in rows[2:]] == list(data.HABITS)


@pytest.mark.parametrize("params, code", [
    ({"start": "2025-13-01"}, "validation_error"),
    ({"start": "yesterday"}, "validation_error"),
    ({"start": "2025-03-14", "end": "2025-03-01"}, "bad_range"),
    ({"start": "2024-01-01", "end": "2025-01-01"}, "range_too_long"),
    ({"district": "区" * 17}, "validation_error"),
])
def test_bad_ranges_are_refused_with_a_chinese_message(client, supervisor, params, code):
    for path in ("/api/charging/analytics", "/api/charging/segments.csv"):
        response = client.get(path, params=params, headers=supervisor)
        assert response.status_code == 422, (path, params)
        detail = response.json()["detail"]
        assert detail["code"] == code and detail["message"]


def test_only_agents_and_supervisors_read_the_charging_page_data(client, auth):
    crew, auditor = bearer(client, "crew.yz01"), bearer(client, "auditor01")
    client.cookies.clear()
    for path in ("/api/charging/analytics", "/api/charging/segments.csv", "/api/charging/board", "/api/charging/areas"):
        assert client.get(path, headers=crew).status_code == 403, path
        assert client.get(path, headers=auditor).status_code == 403, path
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=auth).status_code == 401, path  # the bot has no use for them


def test_the_board_and_the_areas(client, session, built, supervisor):
    service.set_connected(session=session, charge_point_id=data.AC_B, connected=True)
    service.record_status(session=session, charge_point_id=data.AC_B, connector_no=1, status="Charging",
                          error_code="NoError", at=utcnow())
    board = client.get("/api/charging/board", params={"district": data.DISTRICT}, headers=supervisor).json()
    stations = {s["code"]: s for s in board["stations"]}
    assert list(stations) == [data.STATION_A, data.STATION_B]
    [b_connector] = stations[data.STATION_B]["connectors"]
    assert b_connector["state"] == "charging" and b_connector["session"]["energy_kwh"] == "3.000"
    assert stations[data.STATION_A]["states"]["offline"] == 3  # its chargers never connected
    [fault] = board["faults"]
    assert (fault["charge_point_id"], fault["connector_no"], fault["error_code"], fault["error_text"]) == (
        data.AC_A, 2, "GroundFailure", "接地故障")

    areas = client.get("/api/charging/areas", params={"district": data.DISTRICT}, headers=supervisor).json()
    [area] = areas
    capacity = session.get(TransformerArea, built.area_id).capacity_kva
    assert area["stations"] == [data.STATION_A, data.STATION_B]
    assert area["capacity_kw"] == round(float(capacity) * POWER_FACTOR, 1)
    [allocation] = area["sessions"]  # the session still running at B, planned by the orderly scheduler
    assert allocation["station_code"] == data.STATION_B and allocation["told"] is False
    assert 0 <= allocation["allocated_kw"] <= 7.0
    assert area["allocated_kw"] == allocation["allocated_kw"]
    assert area["base_source"] in ("forecast", "yesterday") and area["method"] in ("lp", "greedy")
