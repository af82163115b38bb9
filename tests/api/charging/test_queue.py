"""The charging queue: customers called in turn with a reserved connector and an arrival window, a no-show
passing the turn on, the session that serves an entry, and the API's answers to joins it cannot take."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.charging import queue, service
from api.charging.models import ChargePoint
from api.charging.ocpp_server import CentralSystem
from api.charging.simulator import Car
from api.core.time import utcnow
from tests.api.charging.conftest import BLOCKED_TAG, DC_CHARGER, GOOD_TAG, STATION, piped_dc_charger
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)
SECOND_TAG = "TAG-SECOND-01"


class Clock:
    """The central system's clock, moved by the test."""

    def __init__(self):
        self.now = utcnow().replace(microsecond=0)

    def __call__(self):
        return self.now


async def until(check, seconds: float = 15):
    """Wait for something the central system does after answering a charger."""
    for _ in range(int(seconds * 20)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


def test_customers_are_called_in_turn_and_a_no_show_passes_the_turn_on(central_sessions, session):
    service.create_id_tag(session=session, id_tag=SECOND_TAG, account_no="0403000009")
    station_id = queue.station_id_of(session=session, station_code=STATION)

    def entry(entry_id):
        with central_sessions() as s:
            return queue.read(session=s, entry_id=entry_id, now=clock())

    def join(id_tag):
        with central_sessions() as s:
            return queue.join(session=s, station_code=STATION, id_tag=id_tag, kind="DC", now=clock())

    clock = Clock()

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock)
        async with piped_dc_charger(central) as charger:
            seen = {}

            first = join(GOOD_TAG)
            await central.serve_queue(station_id)
            seen["first_called"] = entry(first.entry_id)
            assert await until(lambda: charger.status_of.get(1) == "Reserved")
            second = join(SECOND_TAG)
            seen["second_waiting"], seen["second_again"] = second, join(SECOND_TAG)

            clock.now += queue.ARRIVAL_WINDOW + timedelta(minutes=1)  # the first customer does not come
            await charger.heartbeat()  # the charger kept its heartbeats meanwhile: still online
            await central.expire_queue()
            assert await until(lambda: entry(second.entry_id).status == "called")
            seen["first_after"], seen["second_called"] = entry(first.entry_id), entry(second.entry_id)

            tx = await charger.start_transaction(Car(soc=0.5), id_tag=SECOND_TAG, reservation_id=second.entry_id)
            assert await until(lambda: entry(second.entry_id).status == "charging")
            seen["charging"] = entry(second.entry_id)
            await charger.stop_transaction(tx)
            assert await until(lambda: entry(second.entry_id).status == "done")
            seen["tx"] = tx.transaction_id
            seen["received"] = [(action, message.get("reservation_id")) for action, message in charger.received]
        return first, second, seen

    first, second, seen = run_coroutine(play())
    called = seen["first_called"]
    assert (called.status, called.charge_point_id, called.connector_no) == ("called", DC_CHARGER, 1)
    assert called.window_until is not None and called.position is None
    waiting = seen["second_waiting"]
    assert (waiting.status, waiting.position) == ("waiting", 1)
    # the connector is held for the first customer for 15 minutes, then a DC session takes 50 minutes
    assert waiting.expected_wait_minutes == 65
    assert seen["second_again"].entry_id == second.entry_id  # joining again is the same place in line
    assert seen["first_after"].status == "expired"
    assert seen["second_called"].connector_no == 1
    assert seen["charging"].transaction_id == seen["tx"]
    assert seen["received"] == [("ReserveNow", first.entry_id), ("CancelReservation", first.entry_id),
                                ("ReserveNow", second.entry_id)]


# The fast charger gets a generous wait (a loaded CI machine must not turn "answered at once" into a notice);
# the slow one answers long after the short wait, so the notice is the only way the customer hears.
@pytest.mark.parametrize("delay,wait_seconds,told_by_notice", [(0.0, 5.0, False), (2.0, 0.3, True)])
def test_joining_waits_for_a_slow_charger_only_so_long_then_a_notice_tells_the_customer(
        central_sessions, session, delay, wait_seconds, told_by_notice):
    station_id = queue.station_id_of(session=session, station_code=STATION)
    notices = []

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, on_queue_event=lambda *event: notices.append(event))
        async with piped_dc_charger(central) as charger:
            charger.reserve_delay = delay
            with central_sessions() as s:
                entry = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=utcnow())
            started = asyncio.get_running_loop().time()
            await central.join_answered(station_id, entry.entry_id, wait_seconds=wait_seconds)
            waited = asyncio.get_running_loop().time() - started
            reserved = await until(lambda: any(action == "ReserveNow" for action, _ in charger.received),
                                   seconds=delay + 5)
            await until(lambda: notices, seconds=delay + 5 if told_by_notice else 0.5)
            return entry, waited, reserved

    entry, waited, reserved = run_coroutine(play())
    assert reserved
    # the caller is never held past its wait, and the slow charger's answer is not waited for
    assert waited < (wait_seconds + 1.0 if told_by_notice else wait_seconds)
    with central_sessions() as s:
        assert queue.read(session=s, entry_id=entry.entry_id, now=utcnow()).status == "called"
    assert notices == ([("called", entry.entry_id)] if told_by_notice else [])


def test_a_pass_a_charger_started_calls_a_joining_customer_told_in_the_answer_not_by_a_notice(
        central_sessions, session):
    station_id = queue.station_id_of(session=session, station_code=STATION)
    notices = []

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, on_queue_event=lambda *event: notices.append(event))
        async with piped_dc_charger(central) as charger:
            with central_sessions() as s:
                entry = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=utcnow())
            # a status message's pass is already scheduled when the customer's own pass starts, and wins the lock
            central.later(central.serve_queue_of(DC_CHARGER))
            await central.join_answered(station_id, entry.entry_id, wait_seconds=10)
            reserved = [message.get("reservation_id") for action, message in charger.received
                        if action == "ReserveNow"]
            await until(lambda: notices, seconds=0.5)
            return entry, reserved

    entry, reserved = run_coroutine(play())
    assert reserved == [entry.entry_id]
    with central_sessions() as s:
        assert queue.read(session=s, entry_id=entry.entry_id, now=utcnow()).status == "called"
    assert notices == []


def test_a_booking_is_called_when_its_time_comes_and_walk_ins_before_it_are_served_first(central_sessions, session):
    service.create_id_tag(session=session, id_tag=SECOND_TAG, account_no="0403000009")
    station_id = queue.station_id_of(session=session, station_code=STATION)
    clock = Clock()

    def entry(entry_id):
        with central_sessions() as s:
            return queue.read(session=s, entry_id=entry_id, now=clock())

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock)
        async with piped_dc_charger(central) as charger:
            seen = {}
            with central_sessions() as s:
                booked = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=clock(),
                                    arrive_at=clock() + timedelta(hours=2))
            seen["booked"] = booked
            await central.expire_queue()  # the periodic pass: the connector is free, but the booking is not due
            seen["before"] = entry(booked.entry_id)
            with central_sessions() as s:
                walk_in = queue.join(session=s, station_code=STATION, id_tag=SECOND_TAG, kind="DC", now=clock())
            await central.serve_queue(station_id)
            seen["walk_in"] = entry(walk_in.entry_id)  # joined later, but it is here now: served first
            with central_sessions() as s:
                queue.cancel(session=s, entry_id=walk_in.entry_id, now=clock())
            await central.cancel_reservation(DC_CHARGER, reservation_id=walk_in.entry_id)
            # the booked customer tops up now, without the booking: it is kept for the booked time
            tx = await charger.start_transaction(Car(soc=0.5), id_tag=GOOD_TAG)
            await charger.stop_transaction(tx)
            await asyncio.sleep(0.3)
            seen["after_top_up"] = entry(booked.entry_id)
            clock.now += timedelta(hours=2, seconds=30)  # the booked time has come
            await charger.heartbeat()
            await central.expire_queue()
            assert await until(lambda: [a for a, _ in charger.received].count("ReserveNow") == 2)
            seen["due"] = entry(booked.entry_id)
            seen["reserved_for"] = [m.get("reservation_id") for a, m in charger.received if a == "ReserveNow"]
        return seen

    seen = run_coroutine(play())
    booked, before, due = seen["booked"], seen["before"], seen["due"]
    assert (booked.status, booked.position, booked.expected_wait_minutes) == ("waiting", None, None)
    assert booked.arrive_at is not None and (before.status, before.position) == ("waiting", None)
    assert seen["walk_in"].status == "called"
    assert (seen["after_top_up"].status, seen["after_top_up"].transaction_id) == ("waiting", None)
    assert due.connector_no == 1 and due.window_until == due.arrive_at + timedelta(seconds=30) + queue.ARRIVAL_WINDOW
    assert seen["reserved_for"] == [seen["walk_in"].entry_id, booked.entry_id]


def test_a_booking_must_be_ten_minutes_to_a_day_ahead(client, auth, charging_station, session):
    with_charger_online(session)
    url = f"/api/charging/stations/{STATION}/queue"
    now = utcnow()
    for ahead in (timedelta(minutes=5), timedelta(hours=25), -timedelta(hours=1)):
        refused = client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "kind": "AC",
                                                       "arrive_at": (now + ahead).isoformat()})
        assert refused.status_code == 422 and refused.json()["detail"]["code"] == "booking_time"
        assert "10分钟以后、24小时以内" in refused.json()["detail"]["message"]
    naive = client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "arrive_at": "2026-12-06T20:00:00"})
    assert naive.status_code == 422  # a time without its offset could be any zone's
    booked = client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "kind": "AC",
                                                  "arrive_at": (now + timedelta(hours=3)).isoformat()})
    assert booked.status_code == 200, booked.text
    body = booked.json()
    assert (body["status"], body["position"], body["expected_wait_minutes"]) == ("waiting", None, None)
    assert body["arrive_at"].endswith("+08:00")
    again = client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "kind": "AC"})
    assert again.json()["entry_id"] == body["entry_id"]  # one place per card: the booking


def test_a_charger_that_will_not_reserve_keeps_the_customer_in_line(central_sessions, session):
    clock = Clock()

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock)
        async with piped_dc_charger(central) as charger:
            charger.status_of[1] = "Preparing"  # someone plugged in just now; the central system does not know yet
            with central_sessions() as s:
                waiting = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=clock())
            await central.serve_queue(queue.station_id_of(session=session, station_code=STATION))
            with central_sessions() as s:
                after = queue.read(session=s, entry_id=waiting.entry_id, now=clock())
        return after, [action for action, _ in charger.received]

    after, received = run_coroutine(play())
    assert received and set(received) == {"ReserveNow"}  # asked (once per connector turning free), refused
    assert (after.status, after.position, after.connector_no) == ("waiting", 1, None)


def test_joins_the_queue_cannot_take_are_refused_clearly(client, auth, charging_station):
    url = f"/api/charging/stations/{STATION}/queue"
    offline = client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "kind": "DC"})
    assert offline.status_code == 409 and offline.json()["detail"]["code"] == "no_working_connector"
    assert "直流快充" in offline.json()["detail"]["message"]
    blocked = client.post(url, headers=auth, json={"id_tag": BLOCKED_TAG})
    assert blocked.status_code == 409 and blocked.json()["detail"]["code"] == "id_tag_not_accepted"
    assert client.post("/api/charging/stations/NOPE/queue", headers=auth,
                       json={"id_tag": GOOD_TAG}).status_code == 404
    assert client.post(url, headers=auth, json={"id_tag": "含中文", "kind": "DC"}).status_code == 422
    assert client.post(url, headers=auth, json={"id_tag": GOOD_TAG, "kind": "XX"}).status_code == 422
    assert client.post(url, json={"id_tag": GOOD_TAG}).status_code == 401
    assert client.get("/api/charging/queue/99999", headers=auth).status_code == 404
    assert client.post("/api/charging/queue/99999/cancel", headers=auth).status_code == 404


def test_leaving_the_queue_releases_the_place_once(client, auth, charging_station, session):
    with_charger_online(session)
    joined = client.post(f"/api/charging/stations/{STATION}/queue", headers=auth,
                         json={"id_tag": GOOD_TAG, "kind": "AC"})
    assert joined.status_code == 200, joined.text
    body = joined.json()
    # the AC charger is marked online but not connected to this process: the reservation cannot be sent, so the
    # customer keeps waiting first in line rather than being told a connector is held
    assert (body["status"], body["position"]) == ("waiting", 1)
    assert body["expected_wait_minutes"] == 0
    listed = client.get(f"/api/charging/stations/{STATION}/queue", headers=auth).json()
    assert [e["entry_id"] for e in listed] == [body["entry_id"]]
    cancelled = client.post(f"/api/charging/queue/{body['entry_id']}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/charging/queue/{body['entry_id']}/cancel", headers=auth)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "queue_entry_closed"
    assert client.get(f"/api/charging/stations/{STATION}/queue", headers=auth).json() == []


def with_charger_online(session):
    """Mark the AC charger online with both connectors Available, as its StatusNotifications would."""
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-01"))
    charger.connected = True
    for connector in charger.connectors:
        connector.status = "Available"
    session.commit()
