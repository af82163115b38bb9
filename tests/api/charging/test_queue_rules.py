"""The queue under races and odd orders: one active entry per card even when two joins arrive at once, moves
that only happen from the state they expect, a stale `charging` entry that does not block the card, a car that
charges at another station, a charger that will not reserve not holding up the head of the line — and the
customer told their turn, a missed window and the end of the session where they queued."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.charging import queue, service
from api.charging.models import ChargePoint, Connector, QueueEntry, Transaction
from api.charging.ocpp_server import CentralSystem
from api.charging.simulator import Car
from api.customers.models import Customer
from api.flows.charging import tell_queue_event, tell_session_ended
from api.notify.models import OutboxMessage
from tests.api.charging.conftest import DC_CHARGER, GOOD_TAG, SECRET, STATION, piped_dc_charger
from tests.api.charging.test_queue import Clock, until
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)


def online(session, charge_point_id: str = "TEST-AC-01") -> None:
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == charge_point_id))
    charger.connected = True
    for connector in charger.connectors:
        connector.status = "Available"
    session.commit()


def test_the_database_holds_one_active_entry_per_card(session, charging_station):
    station_id = queue.station_id_of(session=session, station_code=STATION)
    now = Clock()()
    session.add(QueueEntry(station_id=station_id, id_tag=GOOD_TAG, status="done", joined_at=now))
    session.add(QueueEntry(station_id=station_id, id_tag=GOOD_TAG, status="waiting", joined_at=now))
    session.commit()  # a finished entry beside an active one is fine
    session.add(QueueEntry(station_id=station_id, id_tag=GOOD_TAG, status="called", joined_at=now))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_a_join_that_loses_the_race_answers_with_the_winners_entry(session, charging_station, monkeypatch):
    online(session)
    now = Clock()()
    station_id = queue.station_id_of(session=session, station_code=STATION)
    looked = []

    def blind_first_look(s, id_tag, at):  # the other request commits between our look and our insert
        looked.append(id_tag)
        if len(looked) == 1:
            s.add(QueueEntry(station_id=station_id, id_tag=id_tag, kind="AC", status="waiting", joined_at=at))
            s.commit()
            return None
        return s.scalar(select(QueueEntry).where(QueueEntry.id_tag == id_tag, QueueEntry.status.in_(queue.ACTIVE)))

    monkeypatch.setattr(queue, "_active_of", blind_first_look)
    entry = queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=now)
    rows = session.scalars(select(QueueEntry).where(QueueEntry.id_tag == GOOD_TAG)).all()
    assert [r.id for r in rows] == [entry.entry_id] and entry.status == "waiting"


def test_moves_happen_only_from_the_state_they_expect(session, charging_station):
    online(session)
    clock = Clock()
    entry = queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=clock())
    [offer] = queue.call_next(session=session, station_id=queue.station_id_of(session=session, station_code=STATION),
                              now=clock())
    assert offer.entry_id == entry.entry_id
    queue.cancel(session=session, entry_id=entry.entry_id, now=clock())  # the customer leaves …
    assert queue.expire(session=session, now=clock() + timedelta(hours=1)) == []  # … the window pass finds nothing
    queue.offer_refused(session=session, entry_id=entry.entry_id)  # a late refusal does not bring it back
    assert queue.read(session=session, entry_id=entry.entry_id, now=clock()).status == "cancelled"


def test_a_session_that_ended_without_its_stop_reaching_the_queue_does_not_block_the_card(session, charging_station):
    online(session)
    clock = Clock()
    entry = queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=clock())
    connector = session.scalar(select(Connector).join(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-01"))
    tx = Transaction(connector_id=connector.id, id_tag=GOOD_TAG, meter_start=0, meter_stop=5000,
                     started_at=clock(), stopped_at=clock() + timedelta(hours=1), energy_kwh=Decimal("5.000"),
                     cost_fen=600)
    session.add(tx)
    session.commit()
    queue.transaction_started(session=session, transaction_id=tx.id, reservation_id=None)
    assert queue.read(session=session, entry_id=entry.entry_id, now=clock()).status == "charging"
    # the StopTransaction was stored but the queue never heard of it: the card can queue again
    again = queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC",
                       now=clock() + timedelta(hours=2))
    assert again.entry_id != entry.entry_id and again.status == "waiting"
    assert queue.read(session=session, entry_id=entry.entry_id, now=clock()).status == "done"


def test_charging_at_another_station_ends_the_place_in_line(session, charging_station):
    online(session)
    clock = Clock()
    entry = queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=clock())
    service.create_station(session=session, code="TSTCS2", name="第二测试站", district="原州区", address="原州区测试路2号",
                           lat=36.02, lon=106.25, energy_fen_per_kwh=Decimal("80"), service_fen_per_kwh=Decimal("40"))
    service.create_charge_point(session=session, station_code="TSTCS2", charge_point_id="TEST-AC-02", secret=SECRET,
                                connectors=[("AC", 7)])
    elsewhere = session.scalar(select(Connector).join(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-02"))
    tx = Transaction(connector_id=elsewhere.id, id_tag=GOOD_TAG, meter_start=0, started_at=clock())
    session.add(tx)
    session.commit()
    queue.transaction_started(session=session, transaction_id=tx.id, reservation_id=None)
    assert queue.read(session=session, entry_id=entry.entry_id, now=clock()).status == "cancelled"
    assert queue.station_queue(session=session, station_code=STATION, now=clock()) == []


def test_a_connector_that_will_not_reserve_is_passed_over_for_a_while(central_sessions, session):
    clock = Clock()

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock)
        async with piped_dc_charger(central) as charger:
            charger.status_of[1] = "Preparing"  # occupied, though the central system believes it Available
            with central_sessions() as s:
                waiting = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=clock())
            station_id = queue.station_id_of(session=session, station_code=STATION)
            await central.serve_queue(station_id)
            asked = len(charger.received)
            await central.serve_queue(station_id)  # the next pass within five minutes leaves it alone
            again = len(charger.received)
            clock.now += timedelta(minutes=6)
            await central.serve_queue(station_id)  # then tries it again
            return waiting, asked, again, len(charger.received)

    waiting, asked, again, later = run_coroutine(play())
    assert (asked, again, later) == (1, 1, 2)


def test_the_customer_hears_their_turn_where_they_queued_and_the_end_by_sms_otherwise(central_sessions, session):
    account = session.scalar(select(Customer).order_by(Customer.id).limit(1))
    service.create_id_tag(session=session, id_tag="TAG-SMS-01", account_no=account.account_no)
    clock = Clock()
    told = []

    def on_queue_event(event, entry_id):
        told.append((event, entry_id))
        with central_sessions() as s:
            tell_queue_event(session=s, event=event, entry_id=entry_id, now=clock())

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock, on_queue_event=on_queue_event)
        async with piped_dc_charger(central) as charger:
            with central_sessions() as s:
                chat = queue.join(session=s, station_code=STATION, id_tag=GOOD_TAG, kind="DC", now=clock(),
                                  conversation_id="web-test-conversation")
                sms = queue.join(session=s, station_code=STATION, id_tag="TAG-SMS-01", kind="DC", now=clock())
            station_id = queue.station_id_of(session=session, station_code=STATION)
            clock.now += timedelta(minutes=1)  # they waited a while (called on joining, the join's answer tells)
            await central.serve_queue(station_id)
            assert await until(lambda: ("called", chat.entry_id) in told)
            clock.now += queue.ARRIVAL_WINDOW + timedelta(minutes=1)  # the chat customer does not come
            await charger.heartbeat()  # the charger kept its heartbeats meanwhile: still online
            await central.expire_queue()
            assert await until(lambda: ("called", sms.entry_id) in told)
            tx = await charger.start_transaction(Car(soc=0.5), id_tag="TAG-SMS-01", reservation_id=sms.entry_id)
            await until(lambda: False, seconds=0.3)
            await charger.stop_transaction(tx)
            assert await until(lambda: ("done", sms.entry_id) in told)
            return chat, sms

    chat, sms = run_coroutine(play())
    with central_sessions() as s:
        sent = {m.key: m for m in s.scalars(select(OutboxMessage).where(OutboxMessage.key.like("charging-queue:%")))}
    called = sent[f"charging-queue:{chat.entry_id}:called"]
    assert (called.channel, called.recipient) == ("web", "web-test-conversation")
    assert "轮到您充电了" in called.body and DC_CHARGER in called.body and "1号枪" in called.body
    assert "【" not in called.body  # no SMS signature in a chat
    assert sent[f"charging-queue:{chat.entry_id}:expired"].body.startswith("您在测试充电站的充电预留已过时")
    assert sent[f"charging-queue:{sms.entry_id}:called"].channel == "sms"
    done = sent[f"charging-queue:{sms.entry_id}:done"]
    assert (done.channel, done.recipient) == ("sms", account.mobile)
    with central_sessions() as s:
        tx = s.scalar(select(Transaction).where(Transaction.id_tag == "TAG-SMS-01"))
        assert f"本次充电{float(tx.energy_kwh):.2f}度，费用{tx.cost_fen / 100:.2f}元" in done.body


def test_a_customer_reads_their_cards_sessions_and_places_in_line(client, auth, session, charging_station):
    online(session)
    joined = client.post(f"/api/charging/stations/{STATION}/queue", headers=auth,
                         json={"id_tag": GOOD_TAG, "kind": "AC", "conversation_id": "web-abc"})
    assert joined.status_code == 200, joined.text
    mine = client.get("/api/charging/accounts/1234567890", headers=auth).json()
    assert mine["id_tags"] == [GOOD_TAG] and mine["sessions"] == []
    assert [(e["entry_id"], e["status"], e["position"]) for e in mine["queue"]] == [
        (joined.json()["entry_id"], "waiting", 1)]
    nobody = client.get("/api/charging/accounts/0000000000", headers=auth).json()
    assert nobody == {"account_no": "0000000000", "id_tags": [], "sessions": [], "queue": []}
    assert client.get("/api/charging/accounts/12345", headers=auth).status_code == 422
    assert client.get("/api/charging/accounts/1234567890").status_code == 401
    assert client.post(f"/api/charging/stations/{STATION}/queue", headers=auth,
                       json={"id_tag": GOOD_TAG, "conversation_id": "x" * 65}).status_code == 422


def test_a_charger_left_marked_connected_by_a_process_that_died_goes_offline_once_silent(session, charging_station):
    online(session)  # connected, never heard from since: trusted (it has just connected)
    clock = Clock()
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-01"))
    service.record_heartbeat(session=session, charge_point_id="TEST-AC-01", now=clock())
    assert service.is_online(charger, clock() + service.ONLINE_GRACE)
    later = clock() + service.ONLINE_GRACE + timedelta(seconds=1)
    assert not service.is_online(charger, later)
    station = service.get_station(session=session, code=STATION, now=later)
    assert {c.online for c in station.connectors} == {False} and station.free_connectors == 0
    with pytest.raises(Exception, match="暂时没有可用的交流慢充桩"):
        queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=later)


def test_notices_go_to_the_channel_of_the_conversation_and_the_turn_by_sms_as_well(session, charging_station):
    account = session.scalar(select(Customer).order_by(Customer.id).limit(1))
    service.create_id_tag(session=session, id_tag="TAG-WX-01", account_no=account.account_no)
    online(session)
    clock = Clock()
    entry = queue.join(session=session, station_code=STATION, id_tag="TAG-WX-01", kind="AC", now=clock(),
                       conversation_id="wx-oAbCdEfGhIjKlMnOpQrStUvWxYz0")
    queue.call_next(session=session, station_id=queue.station_id_of(session=session, station_code=STATION),
                    now=clock())
    tell_queue_event(session=session, event="called", entry_id=entry.entry_id, now=clock())
    sent = {m.key: (m.channel, m.recipient) for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like(f"charging-queue:{entry.entry_id}:%")))}
    assert sent == {f"charging-queue:{entry.entry_id}:called": ("wechat", "oAbCdEfGhIjKlMnOpQrStUvWxYz0"),
                    f"charging-queue:{entry.entry_id}:called:sms": ("sms", account.mobile)}


def test_a_card_that_is_charging_cannot_queue_and_a_cancel_releases_what_the_entry_holds_now(session,
                                                                                            charging_station):
    online(session)
    clock = Clock()
    connector = session.scalar(select(Connector).join(ChargePoint).where(ChargePoint.charge_point_id == "TEST-AC-01"))
    session.add(Transaction(connector_id=connector.id, id_tag=GOOD_TAG, meter_start=0, started_at=clock()))
    session.commit()
    with pytest.raises(Exception, match="这张充电卡正在充电"):
        queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=clock())
    service.create_id_tag(session=session, id_tag="TAG-OTHER-01")
    entry = queue.join(session=session, station_code=STATION, id_tag="TAG-OTHER-01", kind="AC", now=clock())
    [offer] = queue.call_next(session=session, station_id=queue.station_id_of(session=session, station_code=STATION),
                              now=clock())  # called after the customer looked (waiting) and before they cancel
    cancelled, release = queue.cancel(session=session, entry_id=entry.entry_id, now=clock())
    assert cancelled.status == "cancelled" and release is not None and release.entry_id == offer.entry_id


def test_only_chargers_connected_to_this_process_are_offered(session, charging_station):
    online(session)
    clock = Clock()
    queue.join(session=session, station_code=STATION, id_tag=GOOD_TAG, kind="AC", now=clock())
    station_id = queue.station_id_of(session=session, station_code=STATION)
    assert queue.call_next(session=session, station_id=station_id, now=clock(), local=frozenset({"OTHER"})) == []
    [offer] = queue.call_next(session=session, station_id=station_id, now=clock(), local=frozenset({"TEST-AC-01"}))
    assert offer.charge_point_id == "TEST-AC-01"


def test_a_busy_charger_sending_meter_values_but_no_heartbeat_stays_online(central_sessions, session):
    clock = Clock()

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock)
        async with piped_dc_charger(central) as charger:
            tx = await charger.start_transaction(Car(soc=0.2), id_tag=GOOD_TAG)
            clock.now += service.ONLINE_GRACE + timedelta(minutes=5)  # long past the last heartbeat
            await charger.sample(tx)

            def online_now():
                with central_sessions() as s:
                    found = s.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == DC_CHARGER))
                    return service.is_online(found, clock())
            return await until(online_now)

    assert run_coroutine(play())


def test_a_walk_in_session_that_ends_is_told_to_the_cards_owner_by_sms(central_sessions, session):
    """Not every car comes through the queue: a card tapped at a free charger hears the end of its session too."""
    account = session.scalar(select(Customer).order_by(Customer.id).limit(1))
    service.create_id_tag(session=session, id_tag="TAG-WALK-01", account_no=account.account_no)
    service.create_id_tag(session=session, id_tag="TAG-NOBODY-01")  # a card of no 户号: nobody to tell
    clock = Clock()
    told = []

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=clock,
                                on_queue_event=lambda event, ident: told.append((event, ident)))
        async with piped_dc_charger(central) as charger:
            ids = []
            for tag in ("TAG-WALK-01", "TAG-NOBODY-01"):
                tx = await charger.start_transaction(Car(soc=0.6), id_tag=tag)
                await until(lambda: False, seconds=0.2)
                await charger.stop_transaction(tx)
                ids.append(tx.transaction_id)
            assert await until(lambda: len([e for e in told if e[0] == "ended"]) == 2)
            return ids

    walk_in, nobody = run_coroutine(play())
    assert [e for e in told if e[0] != "ended"] == []  # no queue entry was involved
    with central_sessions() as s:
        for event, transaction_id in told:
            tell_session_ended(session=s, transaction_id=transaction_id, now=clock())
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.key.like("charging-session:%"))).all()
        tx = s.get(Transaction, walk_in)
        assert [(m.key, m.channel, m.recipient) for m in sent] == [
            (f"charging-session:{walk_in}:done", "sms", account.mobile)]
        assert sent[0].body == (f"【国网固原供电】您在测试充电站的充电已结束。本次充电{float(tx.energy_kwh):.2f}度，"
                                f"费用{tx.cost_fen / 100:.2f}元（含服务费）。请及时挪车，方便下一位车主充电。")
