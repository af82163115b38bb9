"""The agent console's API: queue and reasons, takeover, replies to the customer, hand back,
auto-assignment, suggestions and their use, the customer 360 view, roles.

The bot is the local FakeRasa (tests/fakes/rasa.py): it echoes "收到：…", asks for a human on 人工
and reports intents (投诉 → complaint, ？？ → nlu_fallback, 电费 → query_bill).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from api.conversations import handoff
from api.conversations.models import AgentPresence, Conversation, ConversationEvent, Message, SuggestionUse
from api.notify.models import OutboxMessage
from api.tickets.models import Ticket
from api.core.time import utcnow
from api.demo.showcase import SHOWCASE
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


@pytest.mark.parametrize("sender,channel,outbox_channel,recipient", [
    ("sms-13900000007", "sms", "sms", "13900000007"),
    ("wx-oAbCdEfGhIjKlMnOpQrStUvWxYz7", "wechat", "wechat", "oAbCdEfGhIjKlMnOpQrStUvWxYz7"),
])
def test_an_agents_replies_reach_customers_on_sms_and_wechat(app_client, agent01, session, sender, channel,
                                                             outbox_channel, recipient):
    """Customers on SMS or WeChat have no socket: the agent's joining and replies are queued to their channel."""
    said = app_client.post("/api/chat/messages", headers=ADAPTER,
                           json={"sender_id": sender, "text": "转人工", "channel": channel})
    assert said.status_code == 200, said.text
    assert app_client.post(f"/api/agent/conversations/{sender}/join", headers=agent01).status_code == 200
    reply = {"text": "您好，我是人工客服，请问您家是整栋楼都停电了吗？", "client_msg_id": "agent-1"}
    for _ in range(2):  # a retried send is one reply and one message out
        sent = app_client.post(f"/api/agent/conversations/{sender}/messages", headers=agent01, json=reply)
        assert sent.status_code == 201, sent.text
    session.expire_all()
    out = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                          .order_by(OutboxMessage.id)).all()
    assert [(m.channel, m.audience) for m in out] == [(outbox_channel, "customer")] * 2
    assert "人工客服" in out[0].body and "接入" in out[0].body  # who joined
    assert out[1].body == reply["text"]


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


def test_signing_out_puts_the_agents_chats_at_the_front_of_the_queue_and_tells_the_customers(
        app_client, agent01, agent02, session):
    go_online(app_client, agent01)
    say(app_client, "web-held", "转人工")  # agent01 takes it
    app_client.put("/api/agent/me/status", headers=agent01, json={"status": "away"})
    say(app_client, "web-waiting", "转人工")  # nobody online: it waits
    assert app_client.post("/api/staff/logout", headers=agent01).status_code == 204
    assert queue_ids(app_client, agent02) == ["web-held", "web-waiting"]  # the one already served goes first
    assert history(app_client, "web-held")[-1]["text"] == handoff.REQUEUED_NOTICE
    assert session.get(AgentPresence, "agent01").status == "offline"
    go_online(app_client, agent02)  # the next agent present gets them, the front one first
    session.expire_all()
    assert session.get(Conversation, "web-held").owner == "agent:agent02"


def test_a_console_gone_silent_gives_its_chats_back_but_a_break_with_the_console_open_does_not(
        app_client, agent01, session):
    desk = app_client.app.state.desk
    go_online(app_client, agent01)
    say(app_client, "web-silent", "转人工")
    app_client.put("/api/agent/me/status", headers=agent01, json={"status": "away"})  # 小休, console open
    assert desk.sweep_absent() == 0
    assert session.get(Conversation, "web-silent").owner == "agent:agent01"
    session.execute(update(AgentPresence).where(AgentPresence.username == "agent01")
                    .values(last_seen_at=utcnow() - timedelta(seconds=desk._presence + 5)))  # the console went quiet
    session.commit()
    assert desk.sweep_absent() == 1 and desk.sweep_absent() == 0
    session.expire_all()
    assert session.get(Conversation, "web-silent").owner == "bot"
    assert "web-silent" in queue_ids(app_client, agent01)
    assert history(app_client, "web-silent")[-1]["text"] == handoff.REQUEUED_NOTICE
    event = session.scalar(select(ConversationEvent).where(ConversationEvent.conversation_id == "web-silent",
                                                           ConversationEvent.action == "requeued"))
    assert event.note == "agent01: lost"


def test_a_customer_an_agent_leaves_unanswered_goes_back_to_the_front_of_the_queue(app_client, agent01, session):
    desk = app_client.app.state.desk
    go_online(app_client, agent01)
    say(app_client, "web-unanswered", "转人工")  # agent01 takes it
    say(app_client, "web-answered", "转人工")
    app_client.post("/api/agent/conversations/web-answered/messages", headers=agent01,
                    json={"text": "您好，请讲。", "client_msg_id": "a-1"})
    say(app_client, "web-unanswered", "有人吗？我家停电了")
    assert desk.sweep_unanswered() == 0  # not yet
    late = utcnow() - timedelta(minutes=desk.reply_minutes, seconds=5)
    session.execute(update(Message).where(Message.conversation_id.in_(["web-unanswered", "web-answered"]))
                    .values(at=late))
    session.commit()
    app_client.put("/api/agent/me/status", headers=agent01, json={"status": "away"})  # nobody to hand it to
    assert desk.sweep_unanswered() == 1 and desk.sweep_unanswered() == 0  # the answered one stays
    session.expire_all()
    assert session.get(Conversation, "web-answered").owner == "agent:agent01"
    assert queue_ids(app_client, agent01)[0] == "web-unanswered"
    assert history(app_client, "web-unanswered")[-1]["text"] == handoff.UNANSWERED_NOTICE
    event = session.scalar(select(ConversationEvent).where(ConversationEvent.conversation_id == "web-unanswered",
                                                           ConversationEvent.action == "requeued"))
    assert event.note == f"agent01: unanswered {desk.reply_minutes} min"


def test_the_supervisor_sees_every_agent_and_moves_a_chat(app_client, agent01, agent02, session):
    supervisor = bearer(app_client, "supervisor01")
    go_online(app_client, agent01)
    say(app_client, "web-moved", "转人工")  # agent01 takes it
    say(app_client, "web-moved", "有人吗？我家停电了")
    assert app_client.get("/api/agent/agents", headers=agent01).status_code == 403
    agents = {a["username"]: a for a in app_client.get("/api/agent/agents", headers=supervisor).json()}
    first = agents["agent01"]
    assert (first["status_label"], first["present"], first["open_chats"]) == ("在线", True, 1)
    assert first["longest_wait_seconds"] is not None and first["longest_wait_seconds"] >= 0
    assert (agents["agent02"]["status"], agents["agent02"]["open_chats"]) == ("offline", 0)

    moved = app_client.post("/api/agent/conversations/web-moved/transfer", headers=supervisor,
                            json={"to": "agent02", "reason": "王丽忙不过来"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner"] == "agent:agent02"
    assert history(app_client, "web-moved")[-1]["text"] == handoff.TRANSFERRED_NOTICE.format(name="李娜")
    event = session.scalar(select(ConversationEvent).where(ConversationEvent.conversation_id == "web-moved",
                                                           ConversationEvent.action == "transferred"))
    assert event.note == "agent:agent01 → agent02：王丽忙不过来" and event.actor == "supervisor:supervisor01"
    again = app_client.post("/api/agent/conversations/web-moved/transfer", headers=supervisor, json={"to": "agent02"})
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_there"
    nobody = app_client.post("/api/agent/conversations/web-moved/transfer", headers=supervisor, json={"to": "crew.yz01"})
    assert nobody.status_code == 404
    say(app_client, "web-bot-only", "查电费")
    with_bot = app_client.post("/api/agent/conversations/web-bot-only/transfer", headers=supervisor,
                               json={"to": "agent01"})
    assert with_bot.status_code == 409 and with_bot.json()["detail"]["code"] == "not_with_a_person"


def suggestions(client, headers, **params):
    response = client.get("/api/agent/suggestions", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_suggestions_give_kb_answers_and_the_intent_template(app_client, agent01):
    body = suggestions(app_client, agent01, text="峰谷电价几点开始算谷电？", intent="faq")
    assert body["kb_available"] is True and len(body["kb"]) == 3 and body["lead"] == "kb"
    assert [s["rank"] for s in body["kb"]] == [1, 2, 3]
    assert "峰谷" in body["kb"][0]["title"]
    [template] = body["templates"]
    assert template["ref"] == "faq" and "【答复内容】" in template["text"]
    # what the agent may send is the article's answer; the region's disclaimer is a note for the agent
    quoting = [k for k in body["kb"] if k["notice"]]
    assert quoting and all(k["notice"] not in k["text"] for k in body["kb"])


def test_hotline_suggestions_read_the_intent_with_the_nlu_and_fill_the_callers_account(app_client, agent01):
    body = suggestions(app_client, agent01, text="我家电费怎么这么高")
    assert body["intent"] == "query_bill" and body["templates"][0]["text"].startswith("您好，已为您查询到户号【户号】")
    account = SHOWCASE["normal"][0]
    filled = suggestions(app_client, agent01, text="我家电费怎么这么高", account_no=account)
    assert filled["templates"][0]["text"].startswith(f"您好，已为您查询到户号{account}【月份】")
    empty = app_client.get("/api/agent/suggestions", headers=agent01, params={"text": "   "})
    assert empty.status_code == 422 and empty.json()["detail"]["message"] == "请输入客户的问题"
    bad = app_client.get("/api/agent/suggestions", headers=agent01, params={"text": "电费", "account_no": "12"})
    assert bad.status_code == 422


def know_account(session, conversation_id, role):
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(account_no=SHOWCASE[role][0]))
    session.commit()


def test_after_a_handoff_the_agents_first_words_greet_and_social_words_get_no_unrelated_articles(
        app_client, agent01, session):
    say(app_client, "web-greet", "我要转人工")
    body = suggestions(app_client, agent01, text="我要转人工", intent="request_human", conversation_id="web-greet")
    assert body["lead"] == "templates" and body["templates"][0]["ref"] == "situation.handoff"
    assert body["templates"][0]["text"].startswith("您好，我是人工客服王丽，刚才您和智能客服的对话我都看过了")
    assert all(k["confident"] for k in body["kb"])  # no 销户退费 or 临时用电 for asking for a person
    app_client.post("/api/agent/conversations/web-greet/join", headers=agent01)
    app_client.post("/api/agent/conversations/web-greet/messages", headers=agent01, json={"text": "您好，请讲。"})
    later = suggestions(app_client, agent01, text="我要转人工", intent="request_human", conversation_id="web-greet")
    assert "situation.handoff" not in [t["ref"] for t in later["templates"]]  # greeted once
    say(app_client, "web-upset", "你们这什么破系统，气死我了")
    upset = suggestions(app_client, agent01, text="气死我了", intent="complaint", conversation_id="web-upset")
    assert upset["templates"][0]["ref"] == "situation.handoff_upset"


def test_an_outage_question_gets_the_reply_for_the_customers_supply(app_client, agent01, session):
    for conversation_id, role in (("web-dark", "area_outage"), ("web-lit", "normal"),
                                  ("web-planned", "planned_outage")):
        say(app_client, conversation_id, "我家停电了")
        know_account(session, conversation_id, role)
    dark = suggestions(app_client, agent01, text="我家停电了", intent="report_outage", conversation_id="web-dark")
    refs = [t["ref"] for t in dark["templates"]]
    assert refs[0].startswith("situation.area_fault_outage") and "situation.planned_outage" not in refs
    assert "台区目前整片停电，是线路或台区设备故障" in dark["templates"][0]["text"]
    assert "【台区】" not in dark["templates"][0]["text"]
    filed = app_client.post("/api/tickets/faults", headers=ADAPTER, json={
        "kind": "outage", "account_no": SHOWCASE["area_outage"][0], "description": "家里停电了",
        "conversation_id": "web-dark"})
    assert filed.status_code == 201, filed.text
    area_ticket = filed.json()["parent_number"] or filed.json()["number"]
    known = suggestions(app_client, agent01, text="还没来电", intent="report_outage", conversation_id="web-dark")
    assert known["templates"][0]["ref"] == "situation.area_fault_outage"  # dispatched at once in the seeded world
    assert f"抢修工单{area_ticket}已由" in known["templates"][0]["text"] and "到达现场" in known["templates"][0]["text"]
    lit = suggestions(app_client, agent01, text="明天停电吗", intent="query_outage_notice", conversation_id="web-lit")
    assert lit["templates"][0]["ref"] == "situation.no_outage"
    assert "供电正常，近期也没有计划停电安排" in lit["templates"][0]["text"]
    planned = suggestions(app_client, agent01, text="停电了", intent="query_outage_notice",
                          conversation_id="web-planned")
    [notice] = [t for t in planned["templates"] if t["ref"] == "situation.planned_outage"]
    assert "【停电原因】" not in notice["text"] and "【停电时段】" not in notice["text"] and "月" in notice["text"]


def test_an_open_ticket_fills_the_progress_reply_with_its_number_crew_and_deadline(app_client, agent01, session):
    say(app_client, "web-ticket", "我家没电了")
    know_account(session, "web-ticket", "household_outage")
    filed = app_client.post("/api/tickets/faults", headers=ADAPTER, json={
        "kind": "outage", "account_no": SHOWCASE["household_outage"][0], "description": "总闸推不上去",
        "conversation_id": "web-ticket"})
    assert filed.status_code == 201, filed.text
    ticket = filed.json()
    deadline = datetime.fromisoformat(ticket["sla"]["arrive_by"])

    def progress_reply(status, crew_id):
        session.execute(update(Ticket).where(Ticket.number == ticket["number"]).values(status=status, crew_id=crew_id))
        session.commit()
        body = suggestions(app_client, agent01, text="我报修的到哪了", intent="query_ticket_status",
                           conversation_id="web-ticket")
        assert "【工单号】" not in body["templates"][-1]["text"]  # the intent's template is filled too
        return next(t for t in body["templates"] if t["ref"].startswith("situation.ticket_"))

    given = progress_reply("已派单", "YZ-01")
    assert given["ref"] == "situation.ticket_crew" and ticket["number"] in given["text"]
    assert "原州城区抢修一班" in given["text"] and f"{deadline:%H:%M}前到达现场" in given["text"]
    waiting = progress_reply("新建", None)
    assert waiting["ref"] == "situation.ticket_new" and "正在安排处理人员" in waiting["text"]
    assert f"{deadline:%H:%M}前到达现场" in waiting["text"]


def test_a_customer_who_waited_long_for_a_person_hears_an_apology_first(app_client, agent01, session):
    say(app_client, "web-waited", "我要转人工")
    session.execute(update(ConversationEvent).where(ConversationEvent.conversation_id == "web-waited",
                                                    ConversationEvent.action == "queued")
                    .values(at=utcnow() - timedelta(minutes=8)))
    session.commit()
    app_client.post("/api/agent/conversations/web-waited/join", headers=agent01)  # joining clears queued_at
    body = suggestions(app_client, agent01, text="我要转人工", intent="request_human", conversation_id="web-waited")
    assert body["templates"][0]["ref"] == "situation.handoff_waited"
    assert body["templates"][0]["text"].startswith("您好，我是人工客服王丽，让您久等了，非常抱歉。")


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
