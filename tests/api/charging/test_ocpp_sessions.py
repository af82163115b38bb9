"""Simulated chargers over real WebSockets against the API in uvicorn: boot, a whole session with its energy
and cost, live status while charging, faults, and a charger dropping and reconnecting mid-session."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from api.charging.models import ChargePoint, Connector, MeterValue, Transaction
from api.charging.simulator import Car, SimulatedCharger
from api.tickets.models import Ticket
from tests.api.charging.conftest import AC_CHARGER, DC_CHARGER, GOOD_TAG, SECRET, STATION
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)

PRICE = Decimal("120.50")  # fen per kWh: 电费 80 + 服务费 40.50


def dc_charger(api) -> SimulatedCharger:
    # 60 kW for 60 s per sample: exactly 1,000 Wh per sample while the car is below 80 %
    return SimulatedCharger(api.ocpp, DC_CHARGER, SECRET, connectors=[("DC", 60.0)], meter_interval=0,
                            sample_seconds=60, meter_start_wh=2_000_000)


def test_a_whole_session_has_the_right_energy_and_cost(charging_api, session):
    async def play():
        charger = dc_charger(charging_api)
        headers = {"Authorization": f"Bearer {charging_api.token}"}
        async with httpx.AsyncClient(base_url=charging_api.url, headers=headers, timeout=30) as http:
            await charger.connect()
            boot = await charger.boot()
            await charger.heartbeat()
            await charger.available()
            before = (await http.get(f"/api/charging/stations/{STATION}")).json()
            car = Car(battery_kwh=60, soc=0.5, max_kw=120, target_soc=1.0)
            tx = await charger.start_transaction(car, id_tag=GOOD_TAG)
            for _ in range(3):
                await charger.sample(tx)
            live = (await http.get(f"/api/charging/transactions/{tx.transaction_id}")).json()
            for _ in range(3):
                await charger.sample(tx)
            await charger.stop_transaction(tx)
            done = (await http.get(f"/api/charging/transactions/{tx.transaction_id}")).json()
            await charger.close()
            return boot, tx, before, live, done

    boot, tx, before, live, done = run_coroutine(play())
    assert boot == "Accepted" and tx.id_tag_status == "Accepted"
    dc = next(c for c in before["connectors"] if c["charge_point_id"] == DC_CHARGER)
    assert dc["status"] == "Available" and dc["online"] and dc["free"] and dc["kind"] == "DC"
    assert before["free_dc"] == 1 and before["free_ac"] == 0  # the AC charger is not connected
    assert Decimal(live["energy_kwh"]) == Decimal("3.000") and live["cost_fen"] == 362  # 3 × 120.50 = 361.5 → 362
    assert Decimal(live["power_kw"]) == Decimal("60.00") and Decimal(live["soc_percent"]) == Decimal("55.0")
    assert live["stopped_at"] is None
    assert Decimal(done["energy_kwh"]) == Decimal("6.000") and done["cost_fen"] == int(6 * PRICE)  # 723
    assert done["meter_start"] == 2_000_000 and done["meter_stop"] == 2_006_000
    assert done["stop_reason"] == "EVDisconnected" and done["meter_values"] == 18
    charger = session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == DC_CHARGER))
    assert (charger.vendor, charger.model, charger.firmware_version) == ("Zhidian", "SIM-60", "sim-1.0")
    assert charger.booted_at is not None and charger.last_heartbeat_at is not None
    assert charger.connectors[0].status == "Available"


def test_a_fault_is_stored_with_its_error_code(charging_api, session):
    async def play():
        charger = SimulatedCharger(charging_api.ocpp, AC_CHARGER, SECRET, connectors=[("AC", 7.0), ("AC", 7.0)],
                                   meter_interval=0)
        await charger.connect()
        await charger.boot()
        await charger.available()
        await charger.fault(2, "GroundFailure", info="接地故障")
        async with httpx.AsyncClient(base_url=charging_api.url, timeout=30,
                                     headers={"Authorization": f"Bearer {charging_api.token}"}) as http:
            station = (await http.get("/api/charging/stations", params={"district": "原州区", "free_only": True,
                                                                         "kind": "AC"})).json()
        await charger.close()
        return station

    stations = run_coroutine(play())
    ours = next(s for s in stations if s["code"] == STATION)
    assert [(c["connector_no"], c["status"], c["free"]) for c in ours["connectors"]
            if c["charge_point_id"] == AC_CHARGER] == [(1, "Available", True), (2, "Faulted", False)]
    assert ours["free_ac"] == 1
    faulted = session.scalar(select(Connector).join(ChargePoint)
                             .where(ChargePoint.charge_point_id == AC_CHARGER, Connector.connector_no == 2))
    assert (faulted.status, faulted.error_code, faulted.info) == ("Faulted", "GroundFailure", "接地故障")
    repairs = list(session.scalars(select(Ticket).where(Ticket.type == "充电设施故障")))
    assert len(repairs) == 1, "the fault opens one repair ticket"
    assert AC_CHARGER in repairs[0].description and "接地故障" in repairs[0].description
    # given to the 充电设施运维 crew when one is on shift (the demo's is a day shift), else waiting for one
    assert (repairs[0].status, (repairs[0].crew_id or "CD")[:2]) in (("已派单", "CD"), ("新建", "CD"))


def test_a_charger_dropping_mid_session_loses_no_meter_values(charging_api, session):
    async def play():
        charger = dc_charger(charging_api)
        await charger.connect()
        await charger.boot()
        await charger.available()
        car = Car(battery_kwh=60, soc=0.2, max_kw=120, target_soc=1.0)
        # 4 samples, the connection drops, 3 samples queued offline, reconnect (the last batch before the
        # drop is sent again, its answer having been lost), 3 more samples, stop
        tx = await charger.charge(car, id_tag=GOOD_TAG, max_samples=10, drop_after=4, offline_samples=3)
        await charger.close()
        return tx

    tx = run_coroutine(play())
    assert tx.samples == 10
    values = session.scalars(select(MeterValue).where(MeterValue.transaction_id == tx.transaction_id,
                                                      MeterValue.measurand == "Energy.Active.Import.Register")
                             .order_by(MeterValue.ts)).all()
    assert [int(v.value) for v in values] == [2_000_000 + 1000 * n for n in range(1, 11)]  # each once, none lost
    assert session.scalar(select(func.count()).select_from(MeterValue)
                          .where(MeterValue.transaction_id == tx.transaction_id)) == 30
    stored = session.get(Transaction, tx.transaction_id)
    assert stored.energy_kwh == Decimal("10.000") and stored.cost_fen == 1205 and stored.stopped_at is not None


def test_a_stop_queued_offline_closes_the_transaction_after_reconnecting(charging_api, session):
    async def play():
        charger = dc_charger(charging_api)
        await charger.connect()
        await charger.boot()
        await charger.available()
        tx = await charger.start_transaction(Car(soc=0.3), id_tag=GOOD_TAG)
        await charger.sample(tx)
        await charger.disconnect()
        await charger.sample(tx)
        await charger.sample(tx)
        await charger.stop_transaction(tx, reason="Local")  # queued: the charger is offline
        queued = len(charger.outbox)
        await charger.reconnect(resend_last=False)
        await charger.close()
        return tx, queued

    tx, queued = run_coroutine(play())
    assert queued == 3
    stored = session.get(Transaction, tx.transaction_id)
    assert (stored.meter_stop, stored.energy_kwh, stored.stop_reason) == (2_003_000, Decimal("3.000"), "Local")
    assert session.scalar(select(func.count()).select_from(MeterValue)
                          .where(MeterValue.transaction_id == tx.transaction_id)) == 9


def test_a_new_connection_of_a_charger_replaces_its_old_one(charging_api, session):
    async def play():
        old, new = dc_charger(charging_api), dc_charger(charging_api)
        await old.connect()
        await old.boot()
        tx = await old.start_transaction(Car(soc=0.3), id_tag=GOOD_TAG)
        await old.sample(tx)
        await new.connect()  # the charger came back before the central system noticed the old socket die
        await asyncio.wait_for(old._ws.wait_closed(), timeout=30)  # the central system closed the old one
        new.registers[1] = tx.meter_now
        new.sessions[1] = tx
        await new.sample(tx)
        await new.stop_transaction(tx)
        await new.heartbeat()  # answered after the old connection's end was handled
        online = session.scalar(select(ChargePoint.connected).where(ChargePoint.charge_point_id == DC_CHARGER))
        await old.close()
        await new.close()
        return tx, online

    tx, online = run_coroutine(play())
    assert online is True
    stored = session.get(Transaction, tx.transaction_id)
    assert stored.energy_kwh == Decimal("2.000") and stored.stopped_at is not None
