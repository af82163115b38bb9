"""From the chat to the charger and back, over real WebSockets: a verified customer queues through the bot's
action, the connector is reserved on the simulated charger (ReserveNow), the car charges on that reservation,
and when it stops the energy and cost are right and the customer is told in the chat they queued from."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from actions.charging import ActionChargingBook, ActionChargingStatus
from api.charging.models import QueueEntry, Transaction
from api.charging.simulator import Car
from api.notify.models import OutboxMessage
from tests.actions.conftest import run_action, snapshot, texts, user_turn
from tests.api.charging.test_ocpp_sessions import PRICE, dc_charger
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)
ACCOUNT = "1234567890"  # the 户号 of the test station's GOOD_TAG card


def asked(text: str, intent: str, **entities: str) -> dict:
    state = snapshot("idle_unverified", verified=True, verified_account=ACCOUNT, account_no=ACCOUNT)
    return user_turn(state, text, intent, entities=[{"entity": k, "value": v} for k, v in entities.items()])


def test_a_bot_booking_reserves_the_connector_and_the_session_ends_with_its_energy_cost_and_notice(
        charging_api, session, monkeypatch):
    monkeypatch.setenv("ZHIDIAN_API_URL", charging_api.url)
    monkeypatch.setenv("ZHIDIAN_SERVICE_TOKEN", charging_api.token)

    async def play():
        charger = dc_charger(charging_api)
        await charger.connect()
        await charger.boot()
        await charger.available()
        booked, _ = await run_action(ActionChargingBook(), asked(
            "/charging_book", "charging_book", charging_station="TSTCS1", charging_kind="DC", charging_time="now",
            charging_choice="confirm"))
        for _ in range(100):  # ReserveNow reaches the charger right after the join is answered
            if charger.status_of.get(1) == "Reserved":
                break
            await asyncio.sleep(0.05)
        reserved = charger.status_of.get(1)
        entry_id = session.scalar(select(QueueEntry.id).where(QueueEntry.conversation_id == "conv-idle-0002"))
        tx = await charger.start_transaction(Car(battery_kwh=60, soc=0.5, max_kw=120), id_tag="TAG-GOOD-01",
                                             reservation_id=entry_id)
        for _ in range(4):
            await charger.sample(tx)
        status, _ = await run_action(ActionChargingStatus(), asked("我的充电进度", "charging_status"))
        await charger.stop_transaction(tx)
        await asyncio.sleep(0.5)  # the notice is queued after the charger has its answer
        await charger.close()
        return texts(booked), reserved, entry_id, tx.transaction_id, texts(status)

    booked, reserved, entry_id, transaction_id, status = run_coroutine(play())
    assert booked.startswith("好的，测试充电站的TEST-DC-01号桩1号枪已为您预留，请在") and reserved == "Reserved"
    assert status.startswith("您正在测试充电站的TEST-DC-01号桩1号枪充电：已充4度，费用约4.82元")
    session.expire_all()
    tx = session.get(Transaction, transaction_id)
    assert (tx.reservation_id, tx.energy_kwh, tx.cost_fen) == (entry_id, Decimal("4.000"), round(4 * PRICE))
    assert session.get(QueueEntry, entry_id).status == "done"
    notices = {m.key.rsplit(":", 1)[1]: m for m in session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like(f"charging-queue:{entry_id}:%")))}
    assert set(notices) == {"done"}  # called at once while joining: the bot's answer said so, no second message
    assert all((m.channel, m.recipient) == ("web", "conv-idle-0002") for m in notices.values())
    assert notices["done"].body == "您在测试充电站的充电已结束。本次充电4.00度，费用4.82元（含服务费）。请及时挪车，方便下一位车主充电。"
