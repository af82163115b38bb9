"""The agent console's API: queue and reasons, takeover, replies to the customer, hand back,
auto-assignment, suggestions and their use, the customer 360 view, roles.

The bot is the local FakeRasa (tests/fakes/rasa.py): it echoes "收到：…", asks for a human on 人工
and reports intents (投诉 → complaint, ？？ → nlu_fallback, 电费 → query_bill).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.conversations.models import AgentPresence, Conversation, ConversationEvent, Message, SuggestionUse
from api.core.time import utcnow
from tests.api.conversations.conftest import new_customer
from tests.api.staff.test_staff_auth import bearer
from tests.conftest import TEST_TOKEN

ADAPTER = {"Authorization": f"Bearer {TEST_TOKEN}"}  # a channel adapter may use its own sender ids


@pytest.fixture
def kb_home(built_kb, tmp_path):
    return built_kb.copy(tmp_path / "kb")


@pytest.fixture
def app_client(chat):
    """The gateway tests' app (conftest.chat), here with the built knowledge base for suggestions."""
    return chat


@pytest.fixture
def agent01(app_client):
    return bearer(app_client, "agent01")


@pytest.fixture
def agent02(app_client):
    return bearer(app_client, "agent02")


def say(client, sender, text):
    response = client.post("/api/chat/messages", headers=ADAPTER,
                           json={"sender_id": sender, "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return response.json()


def queue_ids(client, headers):
    response = client.get("/api/agent/queue", headers=headers)
    assert response.status_code == 200, response.text
    return [c["conversation_id"] for c in response.json()]


def history(client, sender):
    return client.get(f"/api/chat/{sender}/history", headers=ADAPTER).json()["turns"]


@pytest.mark.parametrize("texts,reason,label", [
    (["我要转人工"], "request_human", "客户要求转人工"),
    (["你们这什么破系统，气死我了"], "angry", "客户情绪激动"),
    (["？？这是啥", "？？还是不懂"], "repeated_fallback", "机器人连续未能理解"),
    (["我要投诉抄表员"], "complaint", "客户投诉"),
])
def test_each_reason_puts_the_conversation_in_the_queue(app_client, agent01, texts, reason, label):
    for text in texts:
        say(app_client, "web-reason", text)
    [item] = [c for c in app_client.get("/api/agent/queue", headers=agent01).json()
              if c["conversation_id"] == "web-reason"]
    assert (item["reason"], item["reason_label"]) == (reason, label)
    assert item["last_text"] == texts[-1] and item["waited_seconds"] >= 0


def test_one_fallback_or_plain_words_do_not_queue(app_client, agent01):
    say(app_client, "web-calm", "？？这是啥")
    say(app_client, "web-calm", "我家滚筒洗衣机用电多吗")
    assert "web-calm" not in queue_ids(app_client, agent01)


def test_gateway_detected_reasons_tell_the_customer_a_person_is_coming(app_client):
    reply = say(app_client, "web-angry", "太差劲了，什么破服务")
    apology, waiting = reply["messages"][-2:]
    assert apology["text"].startswith("非常抱歉给您带来不便，正在为您转接人工客服")
    assert waiting["text"].startswith("现在暂时没有空闲的人工客服在线")  # nobody online in this test


def test_queue_is_oldest_first(app_client, agent01, session):
    say(app_client, "web-first", "转人工")
    say(app_client, "web-second", "转人工")
    ids = queue_ids(app_client, agent01)
    assert ids.index("web-first") < ids.index("web-second")


def test_intents_are_recorded_on_customer_turns(app_client, session):
    say(app_client, "web-intent", "这个月电费多少")
    message = session.scalar(select(Message).where(Message.conversation_id == "web-intent",
                                                   Message.sender == "customer"))
    assert (message.intent, message.intent_confidence) == ("query_bill", 0.9)


def test_takeover_silences_the_bot_and_hand_back_restores_it(app_client, rasa, agent01):
    say(app_client, "web-take", "转人工")
    joined = app_client.post("/api/agent/conversations/web-take/join", headers=agent01)
    assert joined.status_code == 200, joined.text
    assert joined.json()["owner"] == "agent:agent01"
    assert "web-take" not in queue_ids(app_client, agent01)
    assert history(app_client, "web-take")[-1] == {
        **history(app_client, "web-take")[-1], "sender": "system",
        "text": "您好，人工客服王丽已接入，很高兴为您服务，请问有什么可以帮您？"}

    before = len(rasa.received)
    reply = say(app_client, "web-take", "我家停电两个小时了")
    assert reply == {"conversation_id": "web-take", "messages": [], "handled_by": "agent"}
    assert len(rasa.received) == before  # the bot never saw it

    sent = app_client.post("/api/agent/conversations/web-take/messages", headers=agent01,
                           json={"text": "您好，我这边马上为您查询。", "client_msg_id": "m-1"})
    assert sent.status_code == 201 and sent.json()["sender"] == "agent"
    again = app_client.post("/api/agent/conversations/web-take/messages", headers=agent01,
                            json={"text": "您好，我这边马上为您查询。", "client_msg_id": "m-1"})
    assert again.json()["id"] == sent.json()["id"]  # a retry is stored once
    assert [t["text"] for t in history(app_client, "web-take")].count("您好，我这边马上为您查询。") == 1

    released = app_client.post("/api/agent/conversations/web-take/release", headers=agent01)
    assert released.status_code == 200 and released.json()["owner"] == "bot"
    assert history(app_client, "web-take")[-1]["text"].startswith("人工客服已结束本次服务")
    assert say(app_client, "web-take", "好的谢谢")["messages"][0]["text"] == "收到：好的谢谢"
    actions = [e["action"] for e in released.json()["events"]]
    assert actions == ["queued", "joined", "handed_back"]


def test_an_agent_can_take_over_a_live_bot_conversation(app_client, agent01):
    say(app_client, "web-live", "峰谷电怎么收费")
    live = app_client.get("/api/agent/conversations", params={"scope": "bot"}, headers=agent01).json()
    assert "web-live" in [c["conversation_id"] for c in live]
    joined = app_client.post("/api/agent/conversations/web-live/join", headers=agent01).json()
    assert joined["reason"] == "agent_takeover" and joined["owner"] == "agent:agent01"
    mine = app_client.get("/api/agent/conversations", params={"scope": "mine"}, headers=agent01).json()
    assert [c["conversation_id"] for c in mine] == ["web-live"]


def test_agent_replies_keep_their_lines(app_client, agent01):
    say(app_client, "web-lines", "转人工")
    app_client.post("/api/agent/conversations/web-lines/join", headers=agent01)
    sent = app_client.post("/api/agent/conversations/web-lines/messages", headers=agent01,
                           json={"text": "办理步骤：\n１．登录网上国网  \n\n2. 选择峰谷电变更"})
    assert sent.json()["text"] == "办理步骤：\n1.登录网上国网\n2. 选择峰谷电变更"


def test_second_agent_gets_409_and_cannot_reply_or_release(app_client, agent01, agent02):
    say(app_client, "web-409", "转人工")
    assert app_client.post("/api/agent/conversations/web-409/join", headers=agent01).status_code == 200
    taken = app_client.post("/api/agent/conversations/web-409/join", headers=agent02)
    assert taken.status_code == 409 and taken.json()["detail"]["code"] == "already_taken"
    refused = app_client.post("/api/agent/conversations/web-409/messages", headers=agent02, json={"text": "你好"})
    assert refused.status_code == 409 and refused.json()["detail"]["message"] == "请先接入该会话再回复客户"
    assert app_client.post("/api/agent/conversations/web-409/release", headers=agent02).status_code == 409
    supervisor = bearer(app_client, "supervisor01")  # a supervisor may hand any chat back
    assert app_client.post("/api/agent/conversations/web-409/release", headers=supervisor).status_code == 200


def test_agent_message_reaches_the_customers_socket(app_client, agent01):
    chat = new_customer(app_client)
    chat.say("转人工")
    with app_client.websocket_connect(f"/ws/chat/{chat.id}") as customer:
        customer.send_json({"type": "hello", "secret": chat.secret})
        assert customer.receive_json() == {"type": "ready", "conversation_id": chat.id}
        app_client.post(f"/api/agent/conversations/{chat.id}/join", headers=agent01)
        joined = customer.receive_json()
        assert joined["handled_by"] == "system" and "已接入" in joined["messages"][0]["text"]
        app_client.post(f"/api/agent/conversations/{chat.id}/messages", headers=agent01,
                        json={"text": "您好，请问您的户号是多少？"})
        frame = customer.receive_json()
        assert frame["type"] == "reply" and frame["handled_by"] == "agent"
        assert frame["messages"][0]["text"] == "您好，请问您的户号是多少？"
        app_client.post(f"/api/agent/conversations/{chat.id}/release", headers=agent01)
        left = customer.receive_json()
        assert left["handled_by"] == "system" and left["messages"][0]["text"].startswith("人工客服已结束本次服务")


def test_console_socket_gets_queue_and_turn_events(app_client):
    assert app_client.post("/api/staff/login", json={"username": "agent01", "password": "Demo-agent-01"}).is_success
    with app_client.websocket_connect("/api/agent/live") as console:
        say(app_client, "web-ws", "转人工")
        seen, turns = [], []
        expected = {("customer", "转人工"), ("bot", "收到：转人工")}  # and the waiting notice, in any order
        while not (any(e.get("type") == "queue" for e in seen) and expected <= set(turns)):
            seen.append(console.receive_json())
            turns = [(e["turn"]["sender"], e["turn"]["text"]) for e in seen if e.get("type") == "turn"]
        assert turns.index(("customer", "转人工")) < turns.index(("bot", "收到：转人工"))
        console.send_json({"type": "ping"})
        while console.receive_json().get("type") != "pong":
            pass


def test_console_socket_refuses_non_agents(app_client):
    from starlette.websockets import WebSocketDisconnect

    assert app_client.post("/api/staff/login", json={"username": "crew.yz01", "password": "Demo-crew-yz01"}).is_success
    with pytest.raises(WebSocketDisconnect) as closed:
        with app_client.websocket_connect("/api/agent/live") as console:
            console.receive_json()
    assert closed.value.code == 1008


def go_online(client, headers):
    response = client.put("/api/agent/me/status", headers=headers, json={"status": "online"})
    assert response.status_code == 200, response.text
    return response.json()


def test_auto_assignment_goes_to_the_online_agent_with_fewest_chats_under_the_limit(app_client, agent01, agent02,
                                                                                      session):
    session.add_all([AgentPresence(username="agent01", max_chats=2), AgentPresence(username="agent02", max_chats=2)])
    session.commit()
    go_online(app_client, agent01)
    say(app_client, "web-a1", "转人工")
    assert app_client.get("/api/agent/me", headers=agent01).json()["open_chats"] == 1
    go_online(app_client, agent02)
    say(app_client, "web-a2", "转人工")  # agent02 has none: it goes there
    owners = {c.id: c.owner for c in session.scalars(select(Conversation).where(Conversation.id.like("web-a%")))}
    assert owners == {"web-a1": "agent:agent01", "web-a2": "agent:agent02"}
    for sender in ("web-a3", "web-a4", "web-a5"):
        say(app_client, sender, "转人工")
    session.expire_all()
    loads = {u: app_client.get("/api/agent/me", headers=h).json()["open_chats"]
             for u, h in (("agent01", agent01), ("agent02", agent02))}
    assert loads == {"agent01": 2, "agent02": 2}  # both at their limit
    assert queue_ids(app_client, agent01) == ["web-a5"]  # the last one waits
    assert "已接入" in history(app_client, "web-a1")[-1]["text"]
    # a freed place goes to the waiting customer at once
    app_client.post("/api/agent/conversations/web-a1/release", headers=agent01)
    assert queue_ids(app_client, agent01) == []
    assert session.scalar(select(Conversation.owner).where(Conversation.id == "web-a5")) == "agent:agent01"
    event = session.scalar(select(ConversationEvent).where(ConversationEvent.conversation_id == "web-a5",
                                                           ConversationEvent.action == "joined"))
    assert event.actor == "system:auto_assign"


def test_no_auto_assignment_when_the_team_switch_is_off_or_the_agent_is_away_or_gone(app_client, agent01, session):
    supervisor = bearer(app_client, "supervisor01")
    assert app_client.put("/api/agent/teams/95598一组", headers=agent01, json={"auto_assign": False}).status_code == 403
    off = app_client.put("/api/agent/teams/95598一组", headers=supervisor, json={"auto_assign": False})
    assert off.json() == {"team": "95598一组", "auto_assign": False}
    go_online(app_client, agent01)
    say(app_client, "web-off", "转人工")
    assert queue_ids(app_client, agent01) == ["web-off"]
    app_client.put("/api/agent/teams/95598一组", headers=supervisor, json={"auto_assign": True})
    assert queue_ids(app_client, agent01) == []  # switching it on hands out the waiting ones

    app_client.put("/api/agent/me/status", headers=agent01, json={"status": "away"})
    say(app_client, "web-away", "转人工")
    assert "web-away" in queue_ids(app_client, agent01)

    go_online(app_client, agent01)  # takes web-away at once
    session.execute(update(AgentPresence).where(AgentPresence.username == "agent01")
                    .values(last_seen_at=utcnow() - timedelta(minutes=5)))  # console closed long ago
    session.commit()
    say(app_client, "web-gone", "转人工")
    assert "web-gone" in queue_ids(app_client, agent01)


def test_suggestions_give_kb_answers_and_the_intent_template(app_client, agent01):
    response = app_client.get("/api/agent/suggestions", headers=agent01,
                              params={"text": "峰谷电价几点开始算谷电？", "intent": "faq"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kb_available"] is True and len(body["kb"]) == 3
    assert [s["rank"] for s in body["kb"]] == [1, 2, 3]
    assert "峰谷" in body["kb"][0]["title"]
    assert body["template"]["intent"] == "faq" and "【答复内容】" in body["template"]["text"]


def test_hotline_suggestions_read_the_intent_with_the_nlu(app_client, agent01):
    body = app_client.get("/api/agent/suggestions", headers=agent01, params={"text": "我家电费怎么这么高"}).json()
    assert body["intent"] == "query_bill" and body["template"]["text"].startswith("您好，已为您查询到户号")
    empty = app_client.get("/api/agent/suggestions", headers=agent01, params={"text": "   "})
    assert empty.status_code == 422 and empty.json()["detail"]["message"] == "请输入客户的问题"


def test_which_suggestion_was_used_is_recorded_with_whether_it_was_edited(app_client, agent01, session):
    say(app_client, "web-sugg", "转人工")
    app_client.post("/api/agent/conversations/web-sugg/join", headers=agent01)
    offered = "您好，关于您咨询的问题：【答复内容】。"
    for text, client_id in ((offered, "s-1"), ("您好，关于您咨询的问题：谷段从22点开始。", "s-2")):
        response = app_client.post("/api/agent/conversations/web-sugg/messages", headers=agent01, json={
            "text": text, "client_msg_id": client_id,
            "suggestion": {"kind": "template", "ref": "faq", "rank": 0, "text": offered}})
        assert response.status_code == 201, response.text
    app_client.post("/api/agent/conversations/web-sugg/messages", headers=agent01, json={"text": "还有别的问题吗？"})
    uses = session.scalars(select(SuggestionUse).where(SuggestionUse.conversation_id == "web-sugg")
                           .order_by(SuggestionUse.id)).all()
    assert [(u.kind, u.ref, u.rank, u.edited, u.agent) for u in uses] == [
        ("template", "faq", 0, False, "agent01"), ("template", "faq", 0, True, "agent01")]


def test_console_needs_an_agent_or_supervisor(app_client):
    assert app_client.get("/api/agent/queue").status_code == 401
    for user in ("crew.yz01", "auditor01"):
        refused = app_client.get("/api/agent/queue", headers=bearer(app_client, user))
        assert refused.status_code == 403 and refused.json()["detail"]["message"] == "您的账号没有权限进行此操作"
    assert app_client.get("/api/agent/queue", headers=bearer(app_client, "supervisor01")).status_code == 200


def test_customer_360_for_an_agent(app_client, agent01, auth):
    ticket = app_client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电了", "channel": "hotline", "account_no": "0401000003"})
    assert ticket.status_code == 201, ticket.text
    found = app_client.get("/api/customers/search", headers=agent01, params={"q": "139 0000 0003"}).json()
    assert "0401000003" in [c["account_no"] for c in found]
    overview = app_client.get("/api/customers/0401000003/overview", headers=agent01)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["customer"]["account_no"] == "0401000003"
    assert 150 <= len(body["load"]) <= 168 and all(p["kw"] >= 0 for p in body["load"])
    assert len(body["daily"]) == 7
    assert body["bills"] == app_client.get("/api/customers/0401000003/bills", headers=agent01).json()
    assert body["balance"] == app_client.get("/api/customers/0401000003/balance", headers=agent01).json()
    [brief] = [t for t in body["tickets"] if t["number"] == ticket.json()["number"]]
    assert brief["open"] is True and brief["summary"] == ticket.json()["diagnosis"]["summary"]
    bad = app_client.get("/api/customers/search", headers=agent01, params={"q": "张三"})
    assert bad.status_code == 422 and bad.json()["detail"]["message"] == "请输入10位户号或11位手机号"
    crew = bearer(app_client, "crew.yz01")
    assert app_client.get("/api/customers/0401000003/overview", headers=crew).status_code == 403


def test_ticket_draft_is_filled_from_the_conversation(app_client, agent01):
    say(app_client, "web-draft", "我家停电了，户号0401000003，电话13900000003")
    draft = app_client.get("/api/agent/conversations/web-draft/ticket-draft", headers=agent01).json()
    assert draft == {"type": "故障报修", "account_no": "0401000003", "contact_phone": "13900000003",
                     "description": "我家停电了，户号0401000003，电话13900000003",
                     "conversation_id": "web-draft", "channel": "web"}
    assert app_client.get("/api/agent/conversations/nobody/ticket-draft", headers=agent01).status_code == 404


def test_verification_links_the_conversation_to_the_account(app_client, auth, agent01):
    say(app_client, "web-verified", "查电费")
    verified = app_client.post("/api/customers/verify", headers=auth, json={
        "account_no": "0401000003", "phone_last4": "0003", "conversation_id": "web-verified"})
    assert verified.json() == {"verified": True}
    conversation = app_client.get("/api/agent/conversations/web-verified", headers=agent01).json()
    assert conversation["account_no"] == "0401000003"
