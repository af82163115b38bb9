"""Finding a charger as a customer does: stations nearest to where they are (coordinates, or a place in their
words placed by the gazetteer) with the distance, what is free, and how long a connector would take if they
came now — counting the sessions running and the people already in line."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from api.charging import queue, service
from api.charging.models import ChargePoint, Connector, Transaction
from api.core.time import utcnow
from tests.api.charging.conftest import STATION
from tests.api.charging.test_queue_rules import online

FAR = "TSTCS2"


@pytest.fixture
def two_stations(session, charging_station):
    """The test station at (36.01, 106.24) with its AC charger online, and a station 20 km north with none."""
    online(session)
    service.create_station(session=session, code=FAR, name="北山充电站", district="原州区", address="原州区北山路9号",
                           lat=36.19, lon=106.24, energy_fen_per_kwh=Decimal("80"), service_fen_per_kwh=Decimal("40"))
    session.expunge_all()


def ours(stations: list[dict]) -> list[dict]:
    return [s for s in stations if s["code"] in (STATION, FAR)]


def test_nearest_first_with_the_distance_and_no_wait_while_a_connector_is_free(client, auth, two_stations):
    response = client.get("/api/charging/stations", params={"lat": 36.0, "lon": 106.24}, headers=auth)
    assert response.status_code == 200, response.text
    near, far = ours(response.json())
    assert (near["code"], far["code"]) == (STATION, FAR)
    assert near["distance_km"] == pytest.approx(1.1, abs=0.05) and far["distance_km"] == pytest.approx(21.1, abs=0.1)
    assert near["expected_wait_minutes"] == 0 and far["expected_wait_minutes"] is None  # nothing works there
    everywhere = client.get("/api/charging/stations", headers=auth).json()
    assert all(s["distance_km"] is None for s in everywhere)
    lonely = client.get("/api/charging/stations", params={"lat": 36.0}, headers=auth)
    assert lonely.status_code == 422 and lonely.json()["detail"]["code"] == "lat_lon_together"
    assert client.get("/api/charging/stations", params={"lat": 91, "lon": 106}, headers=auth).status_code == 422


def test_the_wait_counts_the_sessions_running_and_the_people_in_line(client, auth, session, two_stations):
    now = utcnow()
    ac = session.scalars(select(Connector).join(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-01")
                         .order_by(Connector.connector_no)).all()
    for connector, minutes_ago in zip(ac, (10, 30)):
        connector.status = "Charging"
        session.add(Transaction(connector_id=connector.id, id_tag=f"TAG-RUN-{minutes_ago}", meter_start=0,
                                started_at=now - timedelta(minutes=minutes_ago)))
    session.commit()
    typical = queue.TYPICAL_MINUTES["AC"]

    def wait() -> int:
        [station] = [s for s in client.get("/api/charging/stations", params={"kind": "AC"}, headers=auth).json()
                     if s["code"] == STATION]
        return station["expected_wait_minutes"]

    assert wait() == pytest.approx(typical - 30, abs=1)  # the older session ends first
    service.create_id_tag(session=session, id_tag="TAG-AHEAD-01")
    queue.join(session=session, station_code=STATION, id_tag="TAG-AHEAD-01", kind="AC", now=now)
    assert wait() == pytest.approx(typical - 10, abs=1)  # that connector is for the one ahead
    dc = client.get("/api/charging/stations", params={"kind": "DC"}, headers=auth).json()
    assert all(s["expected_wait_minutes"] is None for s in ours(dc))  # the DC charger is offline


def test_a_place_in_the_customers_words_is_placed_and_the_stations_sorted_by_distance(client, auth, two_stations):
    response = client.get("/api/charging/nearby", params={"place": "文化街附近有没有充电桩"}, headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["place"]["district"] == "原州区" and body["place"]["level"] == "road"
    distances = [s["distance_km"] for s in body["stations"]]
    assert distances == sorted(distances) and len(distances) >= 2
    unknown = client.get("/api/charging/nearby", params={"place": "火星基地"}, headers=auth)
    assert unknown.status_code == 422 and unknown.json()["detail"]["code"] == "place_not_found"
    assert "区县" in unknown.json()["detail"]["message"]
    assert client.get("/api/charging/nearby", params={"place": "文化街"}).status_code == 401
