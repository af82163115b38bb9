"""Each detection the meters' data can raise, driven as production drives it: readings and events posted
through the metering intake (detection on arrival), and the every-minute pass where only time passes.
For each: the ticket it opens (type, priority, the metering snapshot), its policy (a crew at once or held
for a supervisor; who is told), one alert however often the condition is seen again, and clearing when
the data says the condition is over."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.flows import proactive
from api.metering.models import Meter
from api.tickets.models import Ticket
from tests.api.monitoring.conftest import (
    alerts_of,
    alerts_of_area,
    at,
    events,
    meters_of,
    outbox,
    reading,
    readings,
    ticket_of,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def monitoring_tickets(session, kind: str) -> list[Ticket]:
    session.expire_all()
    return list(session.scalars(select(Ticket).where(Ticket.channel == "monitoring", Ticket.diagnosis_code == kind)))


def hour_of(now):
    return now.replace(minute=0, second=0, microsecond=0)


# ------------------------------------------------------------------ feeder outage

def test_a_feeder_outage_is_one_line_ticket_dispatched_at_once_and_clears_with_its_areas(client, session, clock,
                                                                                         quiet_feeder):
    now = clock["now"]
    feeder, areas = quiet_feeder
    meters = [m for a in areas for m in meters_of(session, a)]
    rows = [{"meter_no": m.meter_no, "ts": at(now - timedelta(minutes=6) + timedelta(seconds=10 * i)), "kind": "停电"}
            for i, m in enumerate(meters)]
    result = events(client, rows)
    assert result["alerts_raised"] == len(areas) + 1  # each area, and the line they hang on

    [line] = alerts_of(session, "feeder_outage", feeder.code)
    assert line.status == "active" and line.feeder_id == feeder.id and line.transformer_area_id is None
    assert sorted(line.evidence["areas"]) == sorted(a.code for a in areas)
    ticket = ticket_of(session, line)
    assert (ticket.type, ticket.priority, ticket.diagnosis_code) == ("故障报修", 1, "feeder_outage")
    assert ticket.metering_snapshot["detection"] == "feeder_outage"
    assert sorted(ticket.metering_snapshot["areas"]) == sorted(a.code for a in areas)
    assert ticket.status == "已派单" and ticket.crew_id, "policy: a crew at once"
    assert {a.action for a in line.actions} >= {"detected", "ticket", "dispatched"}
    # the customers hear of it through their areas' alerts, once each; the supervisors through the line's
    assert line.customers_notified == 0 and not outbox(session, f"alert:{line.id}:outage:%")
    assert outbox(session, f"alert:{line.id}:supervisor:%")
    for area in areas:
        [area_alert] = alerts_of(session, "area_outage", area.code)
        assert area_alert.status == "active" and area_alert.customers_notified > 0

    again = events(client, rows)  # the batch re-sent
    assert (again["stored"], again["alerts_raised"]) == (0, 0)
    clock["now"] = now + timedelta(minutes=3)
    late = events(client, [{"meter_no": meters[0].meter_no, "ts": at(now + timedelta(minutes=1)), "kind": "失压"}])
    assert (late["stored"], late["alerts_raised"]) == (1, 0)  # the same outage seen again
    assert len(alerts_of(session, "feeder_outage")) == 1 and len(monitoring_tickets(session, "feeder_outage")) == 1

    clock["now"] = now + timedelta(minutes=40)
    events(client, [{"meter_no": m.meter_no, "ts": at(now + timedelta(minutes=35)), "kind": "上电"} for m in meters])
    [line] = alerts_of(session, "feeder_outage", feeder.code)
    assert line.status == "cleared" and line.open_key is None
    assert all(a.status == "cleared" for area in areas for a in alerts_of(session, "area_outage", area.code))
    ticket = ticket_of(session, line)
    assert ticket.status == "已派单" and ticket.events[-1].action == "监测恢复"  # the crew verifies on site


# ------------------------------------------------------------------ measured transformer overload

def overloaded_hour(meters: list[Meter], ts, capacity_kva: float) -> list[dict]:
    """One hour of the area's readings whose load adds up to 125 % of its transformer's capacity, carried
    mostly by its three-phase meters (balanced, at normal voltage)."""
    single = [m for m in meters if m.phases == 1]
    three = [m for m in meters if m.phases == 3]
    rest = capacity_kva * 1.25 - 3.0 * len(single)
    return ([reading(m, ts, kw=3.0) for m in single] +
            [reading(m, ts, kw=round(rest / len(three), 2)) for m in three])


def test_a_measured_overload_is_a_hazard_ticket_dispatched_at_once_and_clears_when_the_load_drops(
        client, session, clock, quiet_area):
    now = clock["now"]
    meters = meters_of(session, quiet_area)
    assert any(m.phases == 3 for m in meters)
    capacity = float(quiet_area.capacity_kva)
    top = hour_of(now)
    first = readings(client, overloaded_hour(meters, top - timedelta(hours=2), capacity))
    assert first["alerts_raised"] == 0  # one hour over capacity is not yet an overload
    second = readings(client, overloaded_hour(meters, top - timedelta(hours=1), capacity))
    assert second["alerts_raised"] == 1

    [alert] = alerts_of(session, "overload", quiet_area.code)
    assert alert.status == "active" and alert.evidence["capacity_kva"] == capacity
    assert len(alert.evidence["load_kw"]) == 2 and min(alert.evidence["load_kw"]) > capacity
    ticket = ticket_of(session, alert)
    assert (ticket.type, ticket.priority, ticket.diagnosis_code) == ("安全隐患", 2, "overload")
    assert ticket.transformer_area_id == quiet_area.id
    assert ticket.metering_snapshot["detection"] == "overload" and ticket.metering_snapshot["capacity_kva"] == capacity
    assert ticket.status == "已派单" and ticket.crew_id, "policy: a crew at once"
    assert outbox(session, f"alert:{alert.id}:supervisor:%") and not outbox(session, f"alert:{alert.id}:outage:%")
    assert not alerts_of(session, "imbalance", quiet_area.code), "balanced phases are no imbalance"

    clock["now"] = now + timedelta(hours=1)  # a third hour over capacity: the same overload
    assert readings(client, overloaded_hour(meters, top, capacity))["alerts_raised"] == 0
    assert len(alerts_of(session, "overload", quiet_area.code)) == 1 and len(monitoring_tickets(session, "overload")) == 1

    clock["now"] = now + timedelta(hours=2)  # the load back under capacity
    readings(client, [reading(m, top + timedelta(hours=1)) for m in meters])
    [alert] = alerts_of(session, "overload", quiet_area.code)
    assert alert.status == "cleared" and alert.open_key is None
    ticket = ticket_of(session, alert)
    assert ticket.status == "已派单" and ticket.events[-1].action == "监测恢复"
    assert "供电" not in ticket.events[-1].note, "an overload is over, not a supply restored"


# ------------------------------------------------------------------ sustained voltage, three-phase imbalance

def low_volts(meter: Meter, ts, bad: set[str]) -> dict:
    return reading(meter, ts, volts=190.0 if meter.meter_no in bad else 222.0)


def high_volts(meter: Meter, ts, bad: set[str]) -> dict:
    return reading(meter, ts, volts=241.0 if meter.meter_no in bad else 222.0)


def unbalanced(meter: Meter, ts, bad: set[str]) -> dict:
    if meter.meter_no not in bad:
        return reading(meter, ts)
    return reading(meter, ts, kw=18.0, amps=(80.0, 6.0, 5.0))  # nearly all the load on phase A


READING_DETECTIONS = [  # kind, the bad hour, the meters it is bad on, ticket type, priority, supervisors told
    pytest.param("low_voltage", low_volts, 1, "故障报修", 3, True, id="low_voltage"),
    pytest.param("high_voltage", high_volts, 1, "故障报修", 2, True, id="high_voltage"),
    pytest.param("imbalance", unbalanced, 3, "安全隐患", 3, False, id="imbalance"),
]


@pytest.mark.parametrize("kind, bad_hour, phases, ticket_type, priority, supervisors_told", READING_DETECTIONS)
def test_a_sustained_reading_condition_is_held_for_a_supervisor_and_closed_when_it_clears_by_itself(
        client, session, clock, quiet_area, kind, bad_hour, phases, ticket_type, priority, supervisors_told):
    now = clock["now"]
    meters = meters_of(session, quiet_area)
    bad = {m.meter_no for m in meters if m.phases == phases}
    bad = set(sorted(bad)[:2]) if phases == 1 else bad
    assert bad
    top = hour_of(now)
    raised = [readings(client, [bad_hour(m, top - timedelta(hours=h), bad) for m in meters])["alerts_raised"]
              for h in (3, 2, 1)]
    assert raised == [0, 0, 1], "three hours in a row, not fewer"

    [alert] = alerts_of(session, kind, quiet_area.code)
    assert alert.status == "active" and len(alert.evidence["hours"]) == 3
    if kind != "imbalance":
        assert alert.evidence["meters"] == sorted(bad)
    ticket = ticket_of(session, alert)
    assert (ticket.type, ticket.priority, ticket.diagnosis_code) == (ticket_type, priority, kind)
    assert ticket.metering_snapshot["detection"] == kind and ticket.metering_snapshot["hours"]
    assert ticket.status == "挂起" and ticket.crew_id is None, "policy: a supervisor decides"
    assert "held" in [a.action for a in alert.actions]
    assert bool(outbox(session, f"alert:{alert.id}:supervisor:%")) is supervisors_told
    assert not outbox(session, f"alert:{alert.id}:outage:%"), "customers are not told of it"
    others = {a.kind for a in alerts_of_area(session, quiet_area)} - {kind}
    assert not others, f"only {kind} was planted, not {others}"

    clock["now"] = now + timedelta(hours=1)  # a fourth bad hour: the same condition
    assert readings(client, [bad_hour(m, top, bad) for m in meters])["alerts_raised"] == 0
    assert len(alerts_of(session, kind, quiet_area.code)) == 1 and len(monitoring_tickets(session, kind)) == 1

    clock["now"] = now + timedelta(hours=2)  # back to normal before anyone was sent
    readings(client, [reading(m, top + timedelta(hours=1)) for m in meters])
    [alert] = alerts_of(session, kind, quiet_area.code)
    assert alert.status == "cleared" and alert.open_key is None
    assert [a.action for a in alert.actions][-2:] == ["cleared", "closed"]
    ticket = ticket_of(session, alert)
    assert ticket.status == "已关闭" and "自行恢复" in ticket.events[-1].note


# ------------------------------------------------------------------ one household without supply

def test_a_household_off_past_the_confirmation_time_is_held_for_a_supervisor_and_its_customer_told(
        client, session, settings, clock, quiet_area):
    now = clock["now"]
    meter = next(m for m in meters_of(session, quiet_area) if m.customer_id is not None)
    off = {"meter_no": meter.meter_no, "ts": at(now - timedelta(minutes=3)), "kind": "停电"}
    assert events(client, [off])["alerts_raised"] == 0, "three minutes off may still be a flap"

    # the every-minute pass: nothing new arrives, the meter is simply still off ten minutes later
    proactive.run(session=session, settings=settings, now=now + timedelta(minutes=8))
    [alert] = alerts_of(session, "household_outage", meter.meter_no)
    assert alert.status == "active" and alert.meter_id == meter.id and alert.transformer_area_id == quiet_area.id
    ticket = ticket_of(session, alert)
    assert (ticket.type, ticket.priority, ticket.diagnosis_code) == ("故障报修", 2, "household_outage")
    assert ticket.customer_id == meter.customer_id and ticket.account_no
    assert ticket.metering_snapshot["detection"] == "household_outage"
    assert ticket.metering_snapshot["meter_no"] == meter.meter_no
    assert ticket.status == "挂起" and ticket.crew_id is None, "policy: a supervisor decides (often the customer's switch)"
    notices = outbox(session, f"alert:{alert.id}:outage:%")
    assert len(notices) == alert.customers_notified == 1, "the household, and only it, is told"
    assert not outbox(session, f"alert:{alert.id}:supervisor:%")
    assert not alerts_of(session, "area_outage", quiet_area.code)

    clock["now"] = now + timedelta(minutes=9)
    assert events(client, [off])["stored"] == 0  # re-sent
    proactive.run(session=session, settings=settings, now=now + timedelta(minutes=9))  # the pass sees it again
    again = events(client, [{**off, "ts": at(now + timedelta(minutes=8)), "kind": "失压"}])
    assert (again["stored"], again["alerts_raised"]) == (1, 0)
    assert len(alerts_of(session, "household_outage", meter.meter_no)) == 1
    assert len(outbox(session, f"alert:{alert.id}:outage:%")) == 1

    clock["now"] = now + timedelta(minutes=20)
    events(client, [{"meter_no": meter.meter_no, "ts": at(now + timedelta(minutes=15)), "kind": "上电"}])
    [alert] = alerts_of(session, "household_outage", meter.meter_no)
    assert alert.status == "cleared"
    ticket = ticket_of(session, alert)
    assert ticket.status == "已关闭" and "自行恢复" in ticket.events[-1].note
    restored = outbox(session, f"alert:{alert.id}:restored:%")
    assert len(restored) == 1 and "恢复供电" in restored[0].body
    assert session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.channel == "monitoring", Ticket.customer_id == meter.customer_id)) == 1


# ------------------------------------------------------------------ meter faults

def test_a_meter_fault_is_one_held_ticket_and_is_closed_after_a_day_without_fault_events(client, session, settings,
                                                                                        clock, quiet_area):
    now = clock["now"]
    meter = next(m for m in meters_of(session, quiet_area) if m.phases == 3)
    first = events(client, [{"meter_no": meter.meter_no, "ts": at(now - timedelta(minutes=30)), "kind": "断相",
                             "phase": "B"}])
    assert first["alerts_raised"] == 1
    [alert] = alerts_of(session, "meter_fault", meter.meter_no)
    assert alert.meter_id == meter.id and alert.transformer_area_id == quiet_area.id
    ticket = ticket_of(session, alert)
    assert (ticket.type, ticket.priority, ticket.diagnosis_code) == ("故障报修", 3, "meter_fault")
    assert ticket.metering_snapshot["detection"] == "meter_fault"
    assert [(e["kind"], e["phase"]) for e in ticket.metering_snapshot["events"]] == [("断相", "B")]
    assert ticket.status == "挂起", "policy: a supervisor decides"
    assert not outbox(session, f"alert:{alert.id}:%"), "nobody is told by SMS"

    clock["now"] = now + timedelta(hours=1)  # the meter keeps reporting it, and a one-phase 失压 besides
    more = events(client, [
        {"meter_no": meter.meter_no, "ts": at(now + timedelta(minutes=20)), "kind": "断相", "phase": "B"},
        {"meter_no": meter.meter_no, "ts": at(now + timedelta(minutes=40)), "kind": "失压", "phase": "A"}])
    assert (more["stored"], more["alerts_raised"]) == (2, 0)
    assert len(alerts_of(session, "meter_fault", meter.meter_no)) == 1
    assert len(monitoring_tickets(session, "meter_fault")) == 1

    # the every-minute pass, a day after the last fault event: it stopped by itself before anyone went
    proactive.run(session=session, settings=settings, now=now + timedelta(hours=25))
    [alert] = alerts_of(session, "meter_fault", meter.meter_no)
    assert alert.status == "cleared" and alert.open_key is None
    ticket = ticket_of(session, alert)
    assert ticket.status == "已关闭" and "自行恢复" in ticket.events[-1].note
