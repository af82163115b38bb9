"""The gateway stores every turn and always answers, whatever state the bot is in; no turn is cut off."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.conversations.models import Conversation, Message
from api.core.time import utcnow
from tests.api.conversations.conftest import new_customer


@pytest.fixture
def customer(chat):
    return new_customer(chat)


def test_message_goes_to_the_bot_and_both_turns_are_stored(chat, rasa, auth, customer):
    body = customer.say("  我家停电了  ")
    assert body["handled_by"] == "bot"
    assert body["messages"][0]["text"] == "收到：我家停电了"
    assert body["messages"][0]["buttons"] == [{"title": "是的", "payload": "/affirm"}]
    assert rasa.received[-1]["sender"] == customer.id and rasa.received[-1]["message"] == "我家停电了"
    assert "queue" not in rasa.received[-1].get("metadata", {})  # not waiting for a person
    transcript = chat.get(f"/api/conversations/{customer.id}", headers=auth).json()
    assert [(t["sender"], t["text"]) for t in transcript["turns"]] == [
        ("customer", "我家停电了"), ("bot", "收到：我家停电了")]
    assert transcript["turns"][0]["at"].endswith("+08:00")


def test_text_is_normalised_once_at_the_edge(rasa, customer):
    customer.say("户号０４０１０００００１，停电了？")
    assert rasa.received[-1]["message"] == "户号0401000001，停电了？"
    customer.say("\u200b查\u200b电费\ufeff\u200e")  # zero-width spaces, a BOM and a direction mark
    assert rasa.received[-1]["message"] == "查电费"


def test_invisible_input_gets_a_polite_not_understood_without_asking_the_bot(rasa, customer):
    body = customer.say("\u200b\u200b\u200c")
    assert body["handled_by"] == "bot"
    assert body["messages"][0]["text"].startswith("抱歉，没太看懂")
    assert "转人工" in [b["title"] for b in body["messages"][0]["buttons"]]
    assert rasa.received == []


def test_an_empty_answer_from_the_bot_is_not_understood_not_busy(rasa, customer):
    rasa.mode = "empty"
    body = customer.say("!!!")
    assert body["handled_by"] == "bot"
    assert body["messages"][0]["text"].startswith("抱歉，没太看懂")
    assert "忙" not in body["messages"][0]["text"]
    assert [t["sender"] for t in customer.history()] == ["customer", "bot"]


def test_button_click_is_sent_as_payload_but_stored_as_its_title(rasa, customer):
    customer.say("我家停电了")
    customer.say("/affirm")
    assert rasa.received[-1]["message"] == "/affirm"
    assert [t["text"] for t in customer.history() if t["sender"] == "customer"] == ["我家停电了", "是的"]


def test_a_hung_bot_gets_the_fallback_at_the_deadline_and_a_person_is_asked_for(chat, rasa, auth, customer, session):
    rasa.mode, rasa.delay = "slow", 5.0
    started = time.monotonic()
    body = customer.say("电线杆倒了")
    assert time.monotonic() - started < 4.5  # the 2.5 s deadline (one attempt: Rasa was reached)
    assert body["handled_by"] == "fallback"
    assert body["messages"][0]["sender"] == "system" and "95598" in body["messages"][0]["text"]
    conversation = chat.get(f"/api/conversations/{customer.id}", headers=auth).json()
    assert conversation["handoff_reason"] == "bot_unavailable"  # "稍后会有人跟进" is kept
    turn = session.scalar(select(Message).where(Message.conversation_id == customer.id, Message.sender == "customer"))
    assert (turn.text, turn.delivery) == ("电线杆倒了", "fallback")


def test_a_slow_reply_gets_a_holding_message_then_the_reply_is_stored_and_returned_once(rasa, customer):
    rasa.mode, rasa.delay = "slow", 1.2
    held = customer.say("查一下我家电费", client_msg_id="m-slow", hold_after_ms=300)
    assert held["handled_by"] == "holding"
    assert held["messages"] == [{"text": "正在为您处理，请稍候…", "buttons": [], "image": None, "sender": "system"}]
    again = customer.say("查一下我家电费", client_msg_id="m-slow")  # the retry waits for the same turn
    assert again["handled_by"] == "bot" and again["messages"][0]["text"] == "收到：查一下我家电费"
    assert len(rasa.received) == 1
    assert [t["text"] for t in customer.history()] == ["查一下我家电费", "收到：查一下我家电费"]


def test_the_holding_message_of_a_report_read_back_says_it_is_being_submitted(rasa, customer):
    def read_back(body):
        if body["message"] == "就我家没电":
            return [{"text": "请您核对报修信息：……确认无误请回复“确认”。"}]
        return None

    rasa.on_message = read_back
    customer.say("我家停电了")
    customer.say("就我家没电")
    rasa.mode, rasa.delay = "slow", 1.0
    held = customer.say("确认", hold_after_ms=300)
    assert held["messages"][0]["text"] == "正在为您提交报修，请稍候…"


def test_bot_down_gets_a_fallback(settings):
    from fastapi.testclient import TestClient

    from tests.api.conversations.conftest import make_app

    with TestClient(make_app(settings)) as down:  # settings point Rasa at a closed port
        body = new_customer(down).say("查电费")
    assert body["handled_by"] == "fallback"


def test_bot_error_gets_a_fallback(rasa, customer):
    rasa.mode = "error"
    assert customer.say("查电费")["handled_by"] == "fallback"


def test_retry_with_the_same_client_id_is_answered_once(rasa, customer):
    first = customer.say("我要查余额", client_msg_id="m-1")
    again = customer.say("我要查余额", client_msg_id="m-1")
    assert again == first
    assert len(rasa.received) == 1
    assert [t["sender"] for t in customer.history()] == ["customer", "bot"]


def test_a_turn_left_pending_by_a_dead_process_is_answered_once_never_asked_twice(chat, rasa, customer, session):
    customer.say("你好")
    session.add(Message(conversation_id=customer.id, at=utcnow() - timedelta(minutes=5), sender="customer",
                        text="我家停电了", client_msg_id="m-dead", delivery="pending"))
    session.add(Message(conversation_id=customer.id, at=utcnow() - timedelta(minutes=5), sender="customer",
                        text="还在吗", client_msg_id="m-swept", delivery="pending"))
    session.commit()
    retried = customer.say("我家停电了", client_msg_id="m-dead")
    assert retried["handled_by"] == "fallback"
    assert chat.app.state.gateway.sweep_stale() == 1  # the other one, nobody retried it
    assert [m["message"] for m in rasa.received] == ["你好"]
    session.expire_all()
    assert session.get(Conversation, customer.id).handoff_reason == "bot_unavailable"
    delivery = dict(session.execute(select(Message.client_msg_id, Message.delivery).where(
        Message.conversation_id == customer.id, Message.client_msg_id.is_not(None))).all())
    assert delivery == {"m-dead": "fallback", "m-swept": "fallback"}


def test_handoff_request_from_the_bot_is_recorded(chat, auth, customer):
    customer.say("转人工")
    conversation = chat.get(f"/api/conversations/{customer.id}", headers=auth).json()
    assert conversation["handoff_requested"] is True
    assert conversation["handoff_reason"] == "request_human"


@pytest.mark.parametrize("text,expected", [("   ", "请输入您要咨询的内容。"), ("电" * 1001, "不超过1000字")])
def test_empty_and_overlong_messages_get_a_clear_error(rasa, customer, text, expected):
    response = customer.post(text)
    assert response.status_code == 422
    assert expected in response.json()["detail"]["message"]
    assert rasa.received == []


# ---- who may write and read ----

def test_issued_conversations_are_long_random_ids_with_a_secret(chat):
    first, second = new_customer(chat), new_customer(chat)
    assert first.id != second.id and first.id.startswith("web-") and len(first.id) >= 32
    assert len(first.secret) >= 40 and first.secret != second.secret


@pytest.mark.parametrize("sender", [".", "..", "-", "_:-", "bad id with spaces", "x" * 65])
def test_sender_ids_without_a_letter_or_digit_are_refused(chat, auth, sender):
    response = chat.post("/api/chat/messages", headers=auth, json={"sender_id": sender, "text": "你好"})
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "validation_error"


def test_a_web_chat_needs_its_secret_to_write_or_read(chat, rasa, customer):
    customer.say("我的户号是0401000001")
    for headers in ({}, {"X-Chat-Secret": "guessed"}, {"X-Chat-Secret": new_customer(chat).secret}):
        written = chat.post("/api/chat/messages", headers=headers,
                            json={"sender_id": customer.id, "text": "查余额"})
        read = chat.get(f"/api/chat/{customer.id}/history", headers=headers)
        assert written.status_code == read.status_code == 404
        assert read.json()["detail"]["message"] == "这段对话已失效，请刷新页面开始新的对话。"
    made_up = chat.post("/api/chat/messages", json={"sender_id": "web-abc", "text": "你好"})
    assert made_up.status_code == 404
    assert [m["message"] for m in rasa.received] == ["我的户号是0401000001"]


def test_other_channels_need_the_adapters_token(chat, auth):
    anonymous = chat.post("/api/chat/messages", json={"sender_id": "wx-o6_abc", "text": "你好", "channel": "wechat"})
    assert anonymous.status_code == 401
    adapter = chat.post("/api/chat/messages", headers=auth,
                        json={"sender_id": "wx-o6_abc", "text": "你好", "channel": "wechat"})
    assert adapter.status_code == 200 and adapter.json()["handled_by"] == "bot"
    assert chat.get("/api/chat/wx-o6_abc/history", headers=auth).json()["turns"][0]["text"] == "你好"


def test_a_new_conversation_has_an_empty_history_and_staff_transcripts_need_the_token(chat, customer):
    assert customer.history() == []
    customer.say("你好")
    assert chat.get(f"/api/conversations/{customer.id}").status_code == 401


def test_messages_past_the_rate_limit_get_a_chinese_429(settings, rasa):
    from fastapi.testclient import TestClient

    from api.conversations.gateway import ChatLimits
    from api.core.ratelimit import SqlRateLimiter
    from tests.api.conversations.conftest import make_app

    settings = settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 2.5,
                                           "redis_url": None})  # the database's counters (Redis: test_ratelimit)
    with TestClient(make_app(settings)) as client:
        gateway = client.app.state.gateway
        gateway.limits = ChatLimits(per_sender_minute=3, per_address_minute=5, new_per_address_hour=3,
                                    minute=10**9, hour=10**9)  # one window for the whole test
        assert isinstance(gateway._limiter, SqlRateLimiter)
        first, second = new_customer(client), new_customer(client)
        assert [first.post(f"第{i}条").status_code for i in range(4)] == [200, 200, 200, 429]
        refused = first.post("再来一条")
        assert refused.json()["detail"]["message"].startswith("您发送消息太频繁了")
        assert 0 < int(refused.headers["Retry-After"]) <= 10**9
        # the address's budget (5 a minute) is shared by its conversations
        assert [second.post(f"第{i}条").status_code for i in range(3)] == [429, 429, 429]
        new_customer(client)
        too_many = client.post("/api/chat/conversations")
        assert too_many.status_code == 429 and "新对话太多" in too_many.json()["detail"]["message"]
    assert len(rasa.received) == 3


def test_resends_of_one_message_do_not_spend_the_budget_but_are_bounded(rasa, customer):
    codes = [customer.post("查电费", client_msg_id="same").status_code for _ in range(31)]
    assert codes == [200] * 30 + [429]  # 20 messages a minute would have stopped at 21
    assert len(rasa.received) == 1
