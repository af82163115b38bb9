"""A command decided on one API process reaches a charger connected to another, through the live bus on Redis:
the charger's answer comes back to the asker; a charger nobody holds is offline after the timeout, and at once
when the bus does not cross processes."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from api.charging import service
from api.charging.ocpp_server import CentralSystem
from api.charging.relay import CommandRelay
from api.conversations.live import LiveBus
from api.core.errors import Conflict
from api.core.time import utcnow
from tests.api.charging.conftest import DC_CHARGER, GOOD_TAG, piped_dc_charger
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(60)


def test_a_command_from_another_process_reaches_the_charger_and_its_answer_comes_back(central_sessions, redis_url):
    channel = f"zhidian:test-relay:{uuid.uuid4().hex[:8]}"

    async def play():
        buses = [LiveBus(redis_url, channel=channel) for _ in range(2)]
        for bus in buses:
            await bus.start()
        holder, asker = (CentralSystem(sessionmaker=central_sessions, relay=CommandRelay(bus, timeout=2))
                         for bus in buses)
        relays = [asyncio.create_task(central.serve_relayed()) for central in (holder, asker)]
        try:
            async with piped_dc_charger(holder) as charger:
                await asyncio.sleep(0.3)  # both readers subscribed
                results = {
                    "asker_holds_it": asker.is_connected(DC_CHARGER),
                    "reserve": await asker.reserve_now(DC_CHARGER, connector_no=1, id_tag=GOOD_TAG, reservation_id=77,
                                                       expiry=utcnow() + timedelta(minutes=15)),
                    "cancel": await asker.cancel_reservation(DC_CHARGER, reservation_id=77),
                    "cancel_again": await asker.cancel_reservation(DC_CHARGER, reservation_id=77),
                }
                results["received"] = [action for action, _ in charger.received]
            started = time.monotonic()
            with pytest.raises(Conflict) as offline:
                await asker.remote_start(DC_CHARGER, id_tag=GOOD_TAG)  # hung up: offline, known at once
            results["offline"] = (offline.value.code, round(time.monotonic() - started))
            # the process holding it died without a word: the stored flag still says online for a while,
            # so the asker asks, nobody answers, and after the relay's timeout it is offline
            holder.run(service.record_seen, charge_point_id=DC_CHARGER, now=utcnow())
            started = time.monotonic()
            with pytest.raises(Conflict) as unanswered:
                await asker.remote_start(DC_CHARGER, id_tag=GOOD_TAG)
            results["unanswered"] = (unanswered.value.code, round(time.monotonic() - started))
            return results
        finally:
            for task in relays:
                task.cancel()
            for bus in buses:
                await bus.stop()

    results = run_coroutine(play())
    assert results["asker_holds_it"] is False
    assert (results["reserve"], results["cancel"], results["cancel_again"]) == ("Accepted", "Accepted", "Rejected")
    assert results["received"][-3:] == ["ReserveNow", "CancelReservation", "CancelReservation"]
    assert results["offline"] == ("charger_offline", 0)
    assert results["unanswered"] == ("charger_offline", 2)


def test_without_redis_a_charger_held_elsewhere_is_offline_at_once(central_sessions):
    async def play():
        central_run = CentralSystem(sessionmaker=central_sessions)
        central_run.run(service.record_seen, charge_point_id=DC_CHARGER, now=utcnow())  # "online" in the database
        bus = LiveBus(None)
        await bus.start()
        central = CentralSystem(sessionmaker=central_sessions, relay=CommandRelay(bus, timeout=30))
        started = time.monotonic()
        with pytest.raises(Conflict) as offline:
            await central.cancel_reservation(DC_CHARGER, reservation_id=1)
        return offline.value.code, time.monotonic() - started

    code, seconds = run_coroutine(play())
    assert code == "charger_offline" and seconds < 1
