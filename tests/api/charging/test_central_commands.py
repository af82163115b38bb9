"""What the central system sends a charger: remote start and stop, reservations, charging profiles, availability.

The central system and a simulated charger talk over an in-memory pipe here (the WebSocket path has its own
tests); the database is the test's own.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.charging.models import ChargePoint
from api.charging.ocpp_server import CentralSystem
from api.charging.simulator import Car
from api.core.errors import Conflict
from api.core.time import utcnow
from tests.api.charging.conftest import DC_CHARGER, GOOD_TAG, piped_dc_charger
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)


def test_commands_reach_the_charger_and_its_answers_come_back(central_sessions, session):
    async def play():
        central = CentralSystem(sessionmaker=central_sessions)
        async with piped_dc_charger(central) as charger:
            results = {"online": central.is_connected(DC_CHARGER)}
            results["reserve"] = await central.reserve_now(DC_CHARGER, connector_no=1, expiry=utcnow() + timedelta(minutes=15),
                                                           id_tag=GOOD_TAG, reservation_id=41)
            results["cancel_unknown"] = await central.cancel_reservation(DC_CHARGER, reservation_id=999)
            results["cancel"] = await central.cancel_reservation(DC_CHARGER, reservation_id=41)
            results["remote_start"] = await central.remote_start(DC_CHARGER, id_tag=GOOD_TAG, connector_no=1)
            results["start_asked"] = charger.remote_starts.get_nowait()
            tx = await charger.start_transaction(Car(soc=0.3), id_tag=GOOD_TAG)
            results["profile"] = await central.set_charging_profile(DC_CHARGER, connector_no=1, periods=[(0, 11)],
                                                                    transaction_id=tx.transaction_id)
            await charger.sample(tx)
            results["power_kw"] = charger.power_kw(tx)
            results["remote_stop"] = await central.remote_stop(DC_CHARGER, transaction_id=tx.transaction_id)
            results["stop_requested"] = tx.stop_requested
            await charger.stop_transaction(tx, reason="Remote")
            results["availability"] = await central.change_availability(DC_CHARGER, connector_no=0, operative=False)
        results["online_after"] = central.is_connected(DC_CHARGER)
        with pytest.raises(Conflict):
            await central.remote_start(DC_CHARGER, id_tag=GOOD_TAG)
        results["received"] = [action for action, _ in charger.received]
        return results

    results = run_coroutine(play())
    assert results["online"] and not results["online_after"]
    assert (results["reserve"], results["cancel_unknown"], results["cancel"]) == ("Accepted", "Rejected", "Accepted")
    assert results["remote_start"] == "Accepted" and results["start_asked"] == (1, GOOD_TAG)
    assert results["profile"] == "Accepted" and results["power_kw"] == 11.0  # the 60 kW charger held at 11 kW
    assert results["remote_stop"] == "Accepted" and results["stop_requested"]
    assert results["availability"] == "Accepted"
    assert results["received"] == ["ReserveNow", "CancelReservation", "CancelReservation", "RemoteStartTransaction",
                                   "SetChargingProfile", "RemoteStopTransaction", "ChangeAvailability"]
    assert session.scalar(select(ChargePoint.connected).where(ChargePoint.charge_point_id == DC_CHARGER)) is False
