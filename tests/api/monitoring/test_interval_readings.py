"""Meters collected at 96 points a day: 15-minute readings through the intake API make the same hour in
`readings` whatever order they come in and however often they are re-sent; an hour still missing quarters
is scaled up from those held; a time off its interval is refused with the reason."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.metering.models import Reading, ReadingInterval
from tests.api.monitoring.conftest import METERING, at, meters_of, reading

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

QUARTERS = [(0.10, 0.40, 220.0), (0.20, 0.80, 222.0), (0.30, 1.20, 224.0), (0.40, 1.60, 226.0)]  # kWh, kW, V


def post(client, rows) -> dict:
    response = client.post("/api/metering/readings", json={"readings": rows}, headers=METERING)
    assert response.status_code == 200, response.text
    return response.json()


def quarter(meter, hour, index: int) -> dict:
    kwh, kw, volts = QUARTERS[index]
    return {**reading(meter, hour + timedelta(minutes=15 * index), kw=kw, volts=volts), "kwh": kwh,
            "interval_minutes": 15}


def hour_row(session, meter, hour) -> Reading:
    session.expire_all()
    return session.scalar(select(Reading).where(Reading.meter_id == meter.id, Reading.ts == hour))


def test_quarter_hours_in_any_order_and_resent_make_the_same_hour(client, session, clock, quiet_area):
    meter = next(m for m in meters_of(session, quiet_area) if m.phases == 1)
    hour = (clock["now"] - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)  # before the demo's data
    assert hour_row(session, meter, hour) is None

    first = post(client, [quarter(meter, hour, 2), quarter(meter, hour, 0)])
    assert (first["stored"], first["duplicates"], first["rejected"]) == (2, 0, 0)
    partial = hour_row(session, meter, hour)
    assert float(partial.kwh) == pytest.approx((0.30 + 0.10) * 2), "half the hour held: scaled to the hour"
    assert float(partial.kw) == pytest.approx(0.80) and float(partial.voltage_a) == pytest.approx(222.0)

    rest = post(client, [quarter(meter, hour, 3), quarter(meter, hour, 1), quarter(meter, hour, 0)])
    assert (rest["stored"], rest["duplicates"]) == (2, 1)
    whole = hour_row(session, meter, hour)
    assert float(whole.kwh) == pytest.approx(1.0), "all four quarters: their sum, exactly"
    assert float(whole.kw) == pytest.approx(1.0) and float(whole.voltage_a) == pytest.approx(223.0)

    again = post(client, [quarter(meter, hour, i) for i in (3, 2, 1, 0)])
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 4, 0)
    assert float(hour_row(session, meter, hour).kwh) == pytest.approx(1.0)
    assert session.scalar(select(ReadingInterval.minutes).where(ReadingInterval.meter_id == meter.id,
                                                                ReadingInterval.ts == hour)) == 15


def test_a_three_phase_meters_quarters_average_every_phase(client, session, clock, quiet_area):
    meter = next(m for m in meters_of(session, quiet_area) if m.phases == 3)
    hour = (clock["now"] - timedelta(days=31)).replace(minute=0, second=0, microsecond=0)
    rows = [{**reading(meter, hour + timedelta(minutes=30 * i), kw=kw, amps=(a, a + 1, a + 2)), "kwh": kw / 2,
             "interval_minutes": 30} for i, (kw, a) in enumerate([(6.0, 3.0), (8.0, 5.0)])]
    assert post(client, rows)["stored"] == 2
    row = hour_row(session, meter, hour)
    assert float(row.kwh) == pytest.approx(7.0) and float(row.kw) == pytest.approx(7.0)
    assert [float(row.current_a), float(row.current_b), float(row.current_c)] == pytest.approx([4.0, 5.0, 6.0])


def test_a_time_off_its_interval_is_refused_with_the_reason(client, session, clock, quiet_area):
    meter = next(m for m in meters_of(session, quiet_area) if m.phases == 1)
    hour = (clock["now"] - timedelta(days=32)).replace(minute=0, second=0, microsecond=0)
    rows = [{**quarter(meter, hour, 0), "ts": at(hour + timedelta(minutes=7))},
            {**quarter(meter, hour, 1), "interval_minutes": 20},
            {**reading(meter, hour + timedelta(minutes=15))},  # hourly unless it says otherwise
            {**quarter(meter, hour, 1), "interval_minutes": 30},  # 10:15 is no half-hour start
            {**quarter(meter, hour, 2), "interval_minutes": 30, "ts": at(hour + timedelta(minutes=45))}]
    result = post(client, rows)
    assert (result["stored"], result["rejected"]) == (0, 5)
    by_row = {e["row"]: e for e in result["errors"]}
    assert by_row[1]["field"] == "ts" and "整刻钟" in by_row[1]["message"]
    assert by_row[2]["field"] == "interval_minutes" and "15、30或60分钟" in by_row[2]["message"]
    assert by_row[3]["field"] == "ts" and "整点" in by_row[3]["message"]
    assert by_row[4]["field"] == "ts" and "30分钟读数的时间须为该时段的开始" in by_row[4]["message"]
    assert by_row[5]["field"] == "ts" and "30分钟读数的时间须为该时段的开始" in by_row[5]["message"]
    assert hour_row(session, meter, hour) is None
