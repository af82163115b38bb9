"""The gateway stores every turn and always answers, whatever state the bot is in."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.fakes.rasa import FakeRasa


@pytest.fixture
def rasa():
    with FakeRasa() as fake:
        yield fake


@pytest.fixture
def chat(settings, rasa):
    settings = settings.model_copy(update={"rasa_url": rasa.url, "rasa_timeout_seconds": 2.5})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def send(chat, text, sender="web-abc", **extra):
    return chat.post("/api/chat/messages", json={"sender_id": sender, "text": text, "channel": "web", **extra})


def test_message_goes_to_the_bot_and_both_turns_are_stored(chat, rasa, auth):
    reply = send(chat, "  我家停电了  ")
    assert reply.status_code == 200
    body = reply.json()
    assert body["handled_by"] == "bot"
    assert body["messages"][0]["text"] == "收到：我家停电了"
    assert body["messages"][0]["buttons"] == [{"title": "是的", "payload": "/affirm"}]
    assert rasa.received[-1] == {"sender": "web-abc", "message": "我家停电了", "metadata": {"channel": "web"}}
    transcript = chat.get("/api/conversations/web-abc", headers=auth).json()
    assert [(t["sender"], t["text"]) for t in transcript["turns"]] == [
        ("customer", "我家停电了"), ("bot", "收到：我家停电了")]
    assert transcript["turns"][0]["at"].endswith("+08:00")


def test_full_width_digits_are_normalised_before_the_bot_sees_them(chat, rasa):
    send(chat, "户号０４０１０００００１，停电了？")
    assert rasa.received[-1]["message"] == "户号0401000001，停电了？"


def test_button_click_is_sent_as_payload_but_stored_as_its_title(chat, rasa, auth):
    send(chat, "我家停电了", sender="web-btn")
    send(chat, "/affirm", sender="web-btn")
    assert rasa.received[-1]["message"] == "/affirm"
    turns = chat.get("/api/conversations/web-btn", headers=auth).json()["turns"]
    assert [t["text"] for t in turns if t["sender"] == "customer"] == ["我家停电了", "是的"]


def test_slow_bot_gets_a_chinese_fallback_within_three_seconds_and_nothing_is_lost(chat, rasa, auth):
    rasa.mode = "slow"
    started = time.monotonic()
    body = send(chat, "电线杆倒了", sender="web-slow").json()
    assert time.monotonic() - started < 3.0
    assert body["handled_by"] == "fallback"
    assert "95598" in body["messages"][0]["text"]
    turns = chat.get("/api/conversations/web-slow", headers=auth).json()["turns"]
    assert turns[0] == {**turns[0], "sender": "customer", "text": "电线杆倒了"}


def test_bot_down_gets_a_fallback(settings):
    with TestClient(create_app(settings)) as down:  # settings point Rasa at a closed port
        body = send(down, "查电费").json()
    assert body["handled_by"] == "fallback"


def test_bot_error_gets_a_fallback(chat, rasa):
    rasa.mode = "error"
    assert send(chat, "查电费").json()["handled_by"] == "fallback"


def test_bot_with_no_answer_gets_a_fallback_rather_than_silence(chat, rasa, auth):
    rasa.mode = "empty"
    body = send(chat, "查一下我的电费", sender="web-empty").json()
    assert body["handled_by"] == "fallback"
    assert "95598" in body["messages"][0]["text"]
    turns = chat.get("/api/conversations/web-empty", headers=auth).json()["turns"]
    assert [t["sender"] for t in turns] == ["customer", "system"]


def test_retry_with_the_same_client_id_is_answered_once(chat, rasa, auth):
    first = send(chat, "我要查余额", sender="web-retry", client_msg_id="m-1").json()
    again = send(chat, "我要查余额", sender="web-retry", client_msg_id="m-1").json()
    assert again == first
    assert len(rasa.received) == 1
    turns = chat.get("/api/conversations/web-retry", headers=auth).json()["turns"]
    assert [t["sender"] for t in turns] == ["customer", "bot"]


def test_handoff_request_from_the_bot_is_recorded(chat, auth):
    send(chat, "转人工", sender="web-human")
    conversation = chat.get("/api/conversations/web-human", headers=auth).json()
    assert conversation["handoff_requested"] is True
    assert conversation["handoff_reason"] == "request_human"


@pytest.mark.parametrize("text,expected", [("   ", "请输入您要咨询的内容。"), ("电" * 1001, "不超过1000字")])
def test_empty_and_overlong_messages_get_a_clear_error(chat, rasa, text, expected):
    response = send(chat, text)
    assert response.status_code == 422
    assert expected in response.json()["detail"]["message"]
    assert rasa.received == []


def test_malformed_request_is_a_structured_422(chat):
    response = chat.post("/api/chat/messages", json={"sender_id": "bad id with spaces", "text": "你好"})
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "validation_error"


def test_history_is_public_by_conversation_id_but_transcripts_need_the_token(chat):
    send(chat, "你好", sender="web-hist")
    history = chat.get("/api/chat/web-hist/history")
    assert history.status_code == 200
    assert history.json()["turns"][0]["text"] == "你好"
    fresh = chat.get("/api/chat/nobody/history")
    assert fresh.status_code == 200 and fresh.json()["turns"] == []
    assert chat.get("/api/conversations/web-hist").status_code == 401
