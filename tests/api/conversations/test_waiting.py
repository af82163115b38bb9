"""Waiting for a person: position and expected wait, no-agent and out-of-hours notices, leaving a message,
the queue state the bot gets with every message while the customer waits."""
from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from api.conversations.models import AgentPresence, Conversation, ConversationEvent
from api.core.time import local_hour, utcnow
from tests.api.conversations.conftest import new_customer
from tests.api.staff.test_staff_auth import bearer


def buttons(message: dict) -> list[str]:
    return [b["title"] for b in message["buttons"]]


def test_with_nobody_online_the_customer_can_leave_a_message_or_keep_chatting(chat):
    customer = new_customer(chat)
    reply = customer.say("转人工")
    notice = reply["messages"][-1]
    assert notice["text"].startswith("现在暂时没有空闲的人工客服在线")
    assert buttons(notice) == ["留言，等回电", "继续问智能客服"]
    kept = customer.say("/keep_bot")
    assert kept["messages"][0]["text"].startswith("好的，您可以继续向智能客服提问")
    assert [t["text"] for t in customer.history() if t["sender"] == "customer"] == ["转人工", "继续问智能客服"]


def test_out_of_hours_the_notice_says_when_agents_answer(chat):
    hour = (local_hour(utcnow()) + 12) % 24  # a one-minute window far from now
    chat.app.state.desk.office_hours = (time(hour), time(hour, 1))
    notice = new_customer(chat).say("转人工")["messages"][-1]
    assert notice["text"].startswith(f"人工客服的服务时间是每天{hour:02d}:00至{hour:02d}:01，现在不在服务时间")
    assert "95598" in notice["text"] and buttons(notice) == ["留言，等回电", "继续问智能客服"]


def test_position_and_expected_wait_come_from_recent_handling_times(chat, session):
    agent = bearer(chat, "agent01")
    session.add(AgentPresence(username="agent01", max_chats=1))
    now = utcnow()
    for i in range(3):  # three recent chats of 10 minutes each
        session.add_all([
            Conversation(id=f"web-old-{i}", channel="web", owner="bot", created_at=now, last_active_at=now),
            ConversationEvent(conversation_id=f"web-old-{i}", at=now - timedelta(hours=1, minutes=10),
                              actor="agent:agent01", action="joined"),
            ConversationEvent(conversation_id=f"web-old-{i}", at=now - timedelta(hours=1),
                              actor="agent:agent01", action="handed_back")])
    session.commit()
    assert chat.put("/api/agent/me/status", headers=agent, json={"status": "online"}).status_code == 200
    served, first, second = new_customer(chat), new_customer(chat), new_customer(chat)
    assert served.say("转人工")["messages"][-1]["text"] == "收到：转人工"  # taken at once: agent01 had room
    assert first.say("转人工")["messages"][-1]["text"] == (
        "已为您排队，您是下一位，预计等待约10分钟。等候期间您可以继续向智能客服提问，人工客服接入时会在这里通知您。")
    waiting = second.say("我要转人工")["messages"][-1]
    assert waiting["text"].startswith("已为您排队，您前面还有1位客户，预计等待约20分钟。")
    assert buttons(waiting) == ["留言，等回电"]
    again = second.say("转人工")["messages"][-1]  # asking again: where they stand, not queued twice
    assert again["text"].startswith("已为您排队，您前面还有1位客户")


def test_the_bot_gets_the_queue_state_while_the_customer_waits(chat, rasa):
    customer = new_customer(chat)
    customer.say("转人工")
    assert "queue" not in (rasa.received[-1].get("metadata") or {})
    customer.say("还要等多久")
    assert rasa.received[-1]["metadata"] == {"channel": "web", "queue": {
        "position": 1, "expected_wait_minutes": None, "agents_online": 0, "office_hours": True}}


def test_leaving_a_message_opens_one_call_back_ticket_and_leaves_the_queue(chat, auth, session):
    customer = new_customer(chat)
    customer.say("我想问一下电表校验怎么申请")
    customer.say("转人工")
    path = f"/api/chat/conversations/{customer.id}/callback"
    body = {"phone": "139 0000 0005", "text": ""}
    assert chat.post(path, json=body).status_code == 404  # the secret is needed
    left = chat.post(path, json=body, headers=customer.headers)
    assert left.status_code == 201, left.text
    number = left.json()["ticket_number"]
    assert left.json()["message"]["text"].startswith(f"已为您登记留言，工单号{number}。我们会在1个工作日内给您回电")
    ticket = chat.get(f"/api/tickets/{number}", headers=auth).json()
    assert (ticket["type"], ticket["contact_phone_masked"], ticket["channel"]) == ("咨询回访", "139****0005", "web")
    assert "电表校验" in ticket["description"]
    assert session.scalar(select(Conversation.queued_at).where(Conversation.id == customer.id)) is None
    assert customer.history()[-1]["text"] == left.json()["message"]["text"]
    again = chat.post(path, json=body, headers=customer.headers)
    assert again.json()["ticket_number"] == number
    assert [t["text"] for t in customer.history()].count(left.json()["message"]["text"]) == 1
    bad = chat.post(path, json={"phone": "12345"}, headers=customer.headers)
    assert bad.status_code == 422
