"""A late reply to a customer who chats by SMS is sent as one SMS through the outbox, once."""
from __future__ import annotations

import time

from sqlalchemy import select

from api.channels.sms import queue_sms_reply, sms_text
from api.conversations.schemas import BotMessage, Button
from api.notify.models import OutboxMessage
from tests.conftest import TEST_TOKEN

ADAPTER = {"Authorization": f"Bearer {TEST_TOKEN}"}


def test_the_late_reply_goes_out_as_an_sms(chat, rasa, session):
    chat.app.state.gateway.outbound = queue_sms_reply
    rasa.mode, rasa.delay = "slow", 1.0
    body = {"sender_id": "sms-13900000005", "text": "查一下电费", "channel": "sms", "client_msg_id": "SM1",
            "hold_after_ms": 300}
    held = chat.post("/api/chat/messages", headers=ADAPTER, json=body)
    assert held.json()["handled_by"] == "holding"
    for _ in range(50):  # the turn finishes in the background
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.audience == "customer")).all()
        if sent:
            break
        time.sleep(0.1)
        session.expire_all()
    assert [(m.recipient, m.body) for m in sent] == [("13900000005", "收到：查一下电费\n可回复：是的")]
    assert chat.post("/api/chat/messages", headers=ADAPTER, json=body).json()["handled_by"] == "bot"
    session.expire_all()
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.audience == "customer")).all()) == 1


def test_sms_text_keeps_texts_and_offers_the_buttons():
    assert sms_text([BotMessage(text="请确认报修信息"), BotMessage(buttons=[Button(title="确认", payload="/affirm"),
                                                                     Button(title="修改", payload="/deny")])]) == \
        "请确认报修信息\n可回复：确认 / 修改"
