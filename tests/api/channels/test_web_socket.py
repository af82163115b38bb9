"""The web chat socket: the secret opens it, a late reply gets a holding frame first and is never lost."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from api.conversations.models import Message
from tests.api.conversations.conftest import new_customer


def open_socket(client, customer):
    ws = client.websocket_connect(f"/ws/chat/{customer.id}")
    socket = ws.__enter__()
    socket.send_json({"type": "hello", "secret": customer.secret})
    assert socket.receive_json() == {"type": "ready", "conversation_id": customer.id}
    return ws, socket


@pytest.mark.parametrize("secret", ["wrong", None])
def test_a_socket_without_the_secret_is_closed(chat, secret):
    customer = new_customer(chat)
    with pytest.raises(WebSocketDisconnect) as closed:
        with chat.websocket_connect(f"/ws/chat/{customer.id}") as ws:
            ws.send_json({"type": "hello", "secret": secret})
            error = ws.receive_json()
            assert error["code"] == "conversation_not_found" and "刷新页面" in error["message"]
            ws.receive_json()
    assert closed.value.code == 1008


@pytest.mark.parametrize("sender,code", [(".", None), ("..", None), ("--", 1008), ("_.:", 1008)])
def test_ids_without_a_letter_or_digit_are_closed(chat, sender, code):
    with pytest.raises(WebSocketDisconnect) as closed:  # "." and ".." name no socket at all
        with chat.websocket_connect(f"/ws/chat/{sender}") as ws:
            ws.receive_json()
    assert code is None or closed.value.code == code


def test_messages_before_the_hello_are_refused(chat, rasa):
    customer = new_customer(chat)
    with chat.websocket_connect(f"/ws/chat/{customer.id}") as ws:
        ws.send_json({"type": "message", "text": "你好", "client_msg_id": "m-0"})
        assert ws.receive_json()["type"] == "typing"
        assert ws.receive_json()["message"] == "正在连接客服，请稍候再发送。"
    assert rasa.received == []


def test_a_late_reply_comes_after_a_holding_frame_and_a_resend_gets_it_once(chat, rasa, session):
    chat.app.state.gateway.hold_seconds = 0.3
    rasa.mode, rasa.delay = "slow", 1.0
    customer = new_customer(chat)
    ws, socket = open_socket(chat, customer)
    try:
        socket.send_json({"type": "message", "text": "查一下电费", "client_msg_id": "c-1"})
        assert socket.receive_json()["type"] == "typing"
        holding = socket.receive_json()
        assert (holding["type"], holding["client_msg_id"]) == ("holding", "c-1")
        assert holding["messages"][0]["text"] == "正在为您处理，请稍候…"
        reply = socket.receive_json()
        assert (reply["type"], reply["handled_by"]) == ("reply", "bot")
        assert reply["messages"][0]["text"] == "收到：查一下电费"
        socket.send_json({"type": "message", "text": "查一下电费", "client_msg_id": "c-1"})  # a resend
        assert socket.receive_json()["type"] == "typing"
        assert socket.receive_json()["messages"] == reply["messages"]
    finally:
        ws.__exit__(None, None, None)
    assert len(rasa.received) == 1
    assert len(session.scalars(select(Message).where(Message.conversation_id == customer.id)).all()) == 2


def test_a_reply_ready_after_the_socket_closed_is_kept_for_the_page(chat, rasa):
    chat.app.state.gateway.hold_seconds = 0.2
    rasa.mode, rasa.delay = "slow", 1.0
    customer = new_customer(chat)
    ws, socket = open_socket(chat, customer)
    socket.send_json({"type": "message", "text": "确认", "client_msg_id": "c-2"})
    assert socket.receive_json()["type"] == "typing"
    ws.__exit__(None, None, None)  # the page went away while the bot was working
    again = customer.say("确认", client_msg_id="c-2")  # the page's resend (here over HTTP) gets the reply
    assert again["messages"][0]["text"] == "收到：确认"
    assert [t["text"] for t in customer.history()] == ["确认", "收到：确认"]
    assert len(rasa.received) == 1


def test_too_many_messages_get_an_error_frame(chat, rasa):
    from api.conversations.gateway import ChatLimits

    gateway = chat.app.state.gateway
    gateway.limits = ChatLimits(per_sender_minute=2, minute=10**9)  # one window for the whole test
    customer = new_customer(chat)
    ws, socket = open_socket(chat, customer)
    try:
        for i in range(3):
            socket.send_json({"type": "message", "text": f"第{i}条", "client_msg_id": f"r-{i}"})
            assert socket.receive_json()["type"] == "typing"
            frame = socket.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "too_many_messages")
        assert frame["message"].startswith("您发送消息太频繁了")
    finally:
        ws.__exit__(None, None, None)
    assert len(rasa.received) == 2
