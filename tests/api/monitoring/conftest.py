"""Shared by the proactive-service tests: the API's clock after every stored reading, quiet transformer areas
(and a feeder of them), meter data posted through the intake API as the metering system sends it, and the
notices it led to."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from api.core.time import LOCAL_TZ
from api.metering.models import Feeder, Meter, MeterEvent, TransformerArea
from api.monitoring.models import Alert
from api.notify.models import OutboxMessage
from api.tickets.models import Ticket
from tests.api.staff.test_staff_auth import bearer
from tests.conftest import TEST_METERING_TOKEN

METERING = {"Authorization": f"Bearer {TEST_METERING_TOKEN}"}


@pytest.fixture
def clock(client):
    """The API's clock at 10:00 tomorrow (Beijing): day crews on shift, after every stored reading (the demo
    is seeded up to the current hour)."""
    state = {"now": datetime.combine(datetime.now(LOCAL_TZ).date() + timedelta(days=1), time(10),
                                     LOCAL_TZ).astimezone(timezone.utc)}
    client.app.state.clock = lambda: state["now"]
    return state


def quiet_areas(session) -> list[TransformerArea]:
    """Transformer areas of several meters with no meter event in the demo's last two days."""
    busy = set(session.scalars(select(Meter.transformer_area_id).join(MeterEvent, MeterEvent.meter_id == Meter.id)
                               .where(MeterEvent.ts >= datetime.now(timezone.utc) - timedelta(days=2))))
    sizes = dict(session.execute(select(Meter.transformer_area_id, func.count()).group_by(Meter.transformer_area_id)).all())
    return [a for a in session.scalars(select(TransformerArea).order_by(TransformerArea.id))
            if a.id not in busy and sizes.get(a.id, 0) >= 4]


@pytest.fixture
def quiet_area(session) -> TransformerArea:
    """A transformer area of several meters with no meter event in the demo's last two days."""
    return quiet_areas(session)[0]


@pytest.fixture
def quiet_feeder(session) -> tuple[Feeder, list[TransformerArea]]:
    """A feeder with two or more quiet areas (and no others, so their outage is the whole line's)."""
    quiet = quiet_areas(session)
    for feeder in session.scalars(select(Feeder).order_by(Feeder.id)):
        areas = list(session.scalars(select(TransformerArea).where(TransformerArea.feeder_id == feeder.id)
                                     .order_by(TransformerArea.id)))
        if len(areas) >= 2 and all(a in quiet for a in areas):
            return feeder, areas
    pytest.fail("the demo has no feeder of quiet areas")


@pytest.fixture
def supervisor(client) -> dict:
    """A supervisor's bearer header, signed in on the real clock (before the test moves the API's clock)."""
    return bearer(client, "supervisor01")


def meters_of(session, area) -> list[Meter]:
    return list(session.scalars(select(Meter).where(Meter.transformer_area_id == area.id).order_by(Meter.id)))


def at(moment: datetime) -> str:
    return moment.isoformat()


def events(client, rows):
    """Meter events posted by the metering system; the intake's answer."""
    response = client.post("/api/metering/events", json={"events": rows}, headers=METERING)
    assert response.status_code == 200, response.text
    return response.json()


def readings(client, rows):
    """Hourly readings posted by the metering system; the intake's answer (every row must be kept)."""
    response = client.post("/api/metering/readings", json={"readings": rows}, headers=METERING)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["rejected"] == 0, result["errors"]
    return result


def reading(meter: Meter, ts: datetime, *, kw: float = 0.6, volts: float = 222.0,
            amps: tuple[float, float, float] | None = None) -> dict:
    """One valid hourly reading for the meter (three phases for a three-phase meter, secondary amps behind a CT)."""
    if meter.phases == 1:
        return {"meter_no": meter.meter_no, "ts": at(ts), "kwh": kw, "kw": kw, "voltage_a": volts,
                "current_a": round(amps[0] if amps else kw * 1000 / volts, 2)}
    ct = meter.ct_ratio or 1
    a, b, c = amps if amps else (kw * 1000 / (3 * volts) / ct,) * 3
    return {"meter_no": meter.meter_no, "ts": at(ts), "kwh": kw, "kw": kw, "voltage_a": volts,
            "current_a": round(a, 2), "voltage_b": volts, "current_b": round(b, 2), "voltage_c": volts,
            "current_c": round(c, 2)}


def area_outage(client, session, area, now):
    """Every meter of the area reports 停电 within a few minutes; (rows, the intake's answer)."""
    rows = [{"meter_no": m.meter_no, "ts": at(now - timedelta(minutes=6) + timedelta(seconds=20 * i)), "kind": "停电"}
            for i, m in enumerate(meters_of(session, area))]
    return rows, events(client, rows)


def outbox(session, like: str) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.key.like(like)).order_by(OutboxMessage.id)))


def alerts_of(session, kind: str, subject: str | None = None) -> list[Alert]:
    """Every alert of this kind (on this subject), oldest first."""
    session.expire_all()
    query = select(Alert).where(Alert.kind == kind)
    if subject is not None:
        query = query.where(Alert.subject == subject)
    return list(session.scalars(query.order_by(Alert.id)))


def alerts_of_area(session, area) -> list[Alert]:
    """Every alert on the area, whatever its kind."""
    session.expire_all()
    return list(session.scalars(select(Alert).where(Alert.transformer_area_id == area.id).order_by(Alert.id)))


def ticket_of(session, alert: Alert) -> Ticket:
    assert alert.ticket_number, f"{alert.kind} opened no ticket"
    return session.scalar(select(Ticket).where(Ticket.number == alert.ticket_number))
