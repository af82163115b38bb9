"""Orderly charging on live chargers: a session under a transformer area is held to the room the area's other
load leaves (SetChargingProfile on start), and the owner's wish is checked at the edge."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from api.charging import orderly, scheduler, service
from api.charging.models import Station
from api.charging.ocpp_server import CentralSystem
from api.charging.simulator import Car
from api.core.time import utcnow
from api.customers.models import Customer
from api.flows.orderly_charging import tell_shortfalls, area_base_load, plan_area, replan_for_charger
from api.forecasting.service import POWER_FACTOR
from api.metering.models import TransformerArea
from api.notify.models import OutboxMessage
from tests.api.charging.conftest import DC_CHARGER, GOOD_TAG, STATION, piped_dc_charger
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)
ROOM_KW = 20.0  # what the area's other load leaves for charging in the first quarter hour


def feed_station_from_a_small_area(session, now) -> float:
    """Put the test station under a demo area sized so its first step leaves about ROOM_KW; the room in kW."""
    area = session.scalar(select(TransformerArea).order_by(TransformerArea.id).limit(1))
    session.scalar(select(Station).where(Station.code == STATION)).transformer_area_id = area.id
    points, _ = area_base_load(session=session, code=area.code, now=now)
    base_now = scheduler.step_function(points)(scheduler.floor_step(now)) if points else 0.0
    area.capacity_kva = Decimal(str(round((base_now + ROOM_KW) / POWER_FACTOR, 1)))
    session.commit()
    return float(area.capacity_kva) * POWER_FACTOR - base_now


def test_a_session_is_held_to_the_room_its_area_leaves(central_sessions, session):
    now = utcnow()
    room = feed_station_from_a_small_area(session, now)

    async def play():
        central = CentralSystem(sessionmaker=central_sessions, clock=lambda: now)
        central.on_session_change = lambda charger: replan_for_charger(central, central_sessions, charger)
        async with piped_dc_charger(central) as charger:
            tx = await charger.start_transaction(Car(battery_kwh=60, soc=0.2, max_kw=120), id_tag=GOOD_TAG)
            for _ in range(200):
                if charger.limits.get(1) is not None:
                    break
                await asyncio.sleep(0.05)
            limit, power = charger.limits.get(1), charger.power_kw(tx)
            profile = next(message for action, message in charger.received if action == "SetChargingProfile")
        return limit, power, profile, tx.transaction_id

    limit, power, profile, transaction_id = run_coroutine(play())
    assert limit == pytest.approx(room, abs=0.01) and limit < 60  # the 60 kW charger is held to the area's room
    assert power == pytest.approx(room, abs=0.01)
    charging_profile = profile["cs_charging_profiles"]
    assert charging_profile["transaction_id"] == transaction_id
    assert charging_profile["charging_profile_purpose"] == "TxProfile"


def test_a_wish_is_checked_at_the_edge(client, auth, charging_station):
    url = "/api/charging/transactions/2147483647/wish"
    later = (utcnow() + timedelta(hours=3)).isoformat()
    assert client.post(url, headers=auth, json={"departure_at": later, "kwh_requested": 20}).status_code == 404
    naive = client.post(url, headers=auth, json={"departure_at": "2026-12-05T20:00:00", "kwh_requested": 20})
    assert naive.status_code == 422  # a time without its offset is ambiguous
    assert client.post(url, headers=auth, json={"departure_at": later, "kwh_requested": 0}).status_code == 422
    assert client.post(url, headers=auth, json={"departure_at": later, "kwh_requested": 500}).status_code == 422


def test_a_told_wish_is_planned_to_its_energy_by_departure(session, charging_station):
    now = utcnow()
    feed_station_from_a_small_area(session, now)
    area = session.scalar(select(TransformerArea).order_by(TransformerArea.id).limit(1))
    area.capacity_kva += Decimal(1000)  # room to spare all day: the wish decides
    session.commit()
    started = service.start_transaction(session=session, charge_point_id=DC_CHARGER, connector_no=1, id_tag=GOOD_TAG,
                                        meter_start=0, started_at=now, now=now)
    read = orderly.set_wish(session=session, transaction_id=started.transaction_id,
                            departure_at=now + timedelta(hours=3), kwh_requested=Decimal(10), allow_delay=False,
                            now=now)
    assert read.kwh_requested == Decimal(10) and read.departure_at is not None
    planned = plan_area(session=session, transformer_area_id=area.id, now=now)
    [one] = planned.sessions
    result = planned.plan.sessions[str(started.transaction_id)]
    assert one.told and result.status == "ok" and result.planned_kwh == pytest.approx(10, abs=0.01)
    assert max(result.kw) <= 60 and result.kw[0] > 0  # no delay allowed: it starts now, within the charger's rating


def test_an_owner_whose_wish_cannot_be_met_is_told_early_and_once(central_sessions, session, charging_station):
    now = utcnow()
    feed_station_from_a_small_area(session, now)
    area = session.scalar(select(TransformerArea).order_by(TransformerArea.id).limit(1))
    area.capacity_kva += Decimal(1000)  # the area has room: the 60 kW charger is what limits
    customer = session.scalar(select(Customer).order_by(Customer.id).limit(1))
    service.create_id_tag(session=session, id_tag="TAG-WISH-01", account_no=customer.account_no)
    started = service.start_transaction(session=session, charge_point_id=DC_CHARGER, connector_no=1,
                                        id_tag="TAG-WISH-01", meter_start=0, started_at=now, now=now)
    orderly.set_wish(session=session, transaction_id=started.transaction_id, departure_at=now + timedelta(hours=1),
                     kwh_requested=Decimal(100), allow_delay=False, now=now)  # 100 kWh in an hour at 60 kW: no
    for _ in range(2):  # every re-plan shows it; the owner hears it once
        planned = plan_area(session=session, transformer_area_id=area.id, now=now)
        tell_shortfalls(central_sessions, planned, now)
    session.expire_all()
    [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.key.like("charging-session:%"))).all()
    assert (sms.key, sms.channel, sms.recipient) == (f"charging-session:{started.transaction_id}:short", "sms",
                                                    customer.mobile)
    assert "受车辆和充电桩的最大充电功率所限" in sms.body and "达不到您需要的100.0度" in sms.body
    reachable = float(sms.body.split("预计能充到约")[1].split("度")[0])
    assert 55 <= reachable <= 60.5  # about an hour at 60 kW
