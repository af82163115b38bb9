"""The WeChat channel against a local fake of WeChat, with the real `wechatpy`: the URL check, signed pushes
in plain and safe (AES) mode — forged, stale and replayed ones refused before the bot hears them — the
passive reply within 5 s or a holding reply and the answer as a customer-service message, voice, menu
clicks, images, subscribing, a token shared by processes, the 48-hour window, and the menu command."""
from __future__ import annotations

import time
from datetime import timedelta
import xml.etree.ElementTree as ET

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.channels.wechat import (IMAGE_NOT_RECEIVED, IMAGE_RECEIVED, MENU, UNSUPPORTED, WELCOME, DatabaseLock,
                                 WeChatSender, create_menu, make_client, user_last_wrote)
from api.conversations.models import Message
from api.customers.models import Customer
from api.flows.customers import phone_of_wechat_user
from api.conversations.service import record_customer_turn, record_notice
from api.core.time import to_local, utcnow
from api.notify import service as notify
from api.main import create_app
from api.notify.models import OutboxMessage
from api.notify.worker import OutboxWorker
from api.db import make_engine, make_sessionmaker
from api.demo.staff import DEMO_STAFF
from tests.fakes.wechat import (APP_ID, decrypted, encrypted,
                                signed_query, text_xml)

pytestmark = pytest.mark.timeout(90)
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}


def echo(said: str) -> str:
    """The fake bot's answer as one WeChat text: its words, then its button as a word to reply with."""
    return f"收到：{said}\n您可以回复：是的"


def push(app, xml: str, **query):
    return app.post("/wechat", params={**signed_query(), **query}, content=xml.encode())


def reply_of(response) -> dict:
    assert response.status_code == 200, response.text
    return {child.tag: child.text for child in ET.fromstring(response.text)}


def test_the_url_check_echoes_only_for_our_signature(app, wx_settings, settings):
    query = signed_query()
    assert app.get("/wechat", params={**query, "echostr": "4567"}).text == "4567"
    forged = {**query, "signature": "0" * 40, "echostr": "4567"}
    assert app.get("/wechat", params=forged).status_code == 403
    with TestClient(create_app(settings)) as unconfigured:  # no WECHAT_TOKEN: nothing is there
        assert unconfigured.get("/wechat", params={**query, "echostr": "1"}).status_code == 404


def test_a_text_is_answered_in_the_passive_reply_and_kept_in_its_conversation(app, rasa, session):
    answer = reply_of(push(app, text_xml(OPENID, "我家停电了", 1001)))
    assert (answer["ToUserName"], answer["MsgType"], answer["Content"]) == (OPENID, "text", echo("我家停电了"))
    assert [m["message"] for m in rasa.received] == ["我家停电了"]
    turns = session.scalars(select(Message.text).where(Message.conversation_id == f"wx-{OPENID}")
                            .order_by(Message.id)).all()
    assert turns == ["我家停电了", "收到：我家停电了"]


def test_forged_stale_and_replayed_pushes_are_refused_before_the_bot_hears_them(app, rasa):
    xml = text_xml(OPENID, "查电费", 1002)
    forged = {**signed_query(), "signature": "f" * 40}
    assert app.post("/wechat", params=forged, content=xml.encode()).status_code == 403
    stale = signed_query(timestamp=int(time.time()) - 400)
    response = app.post("/wechat", params=stale, content=xml.encode())
    assert response.status_code == 403 and response.json()["detail"]["code"] == "stale_message"
    query = signed_query()
    assert app.post("/wechat", params=query, content=xml.encode()).status_code == 200
    replay = app.post("/wechat", params=query, content=xml.encode())
    assert replay.status_code == 403 and replay.json()["detail"]["code"] == "replayed_message"
    assert [m["message"] for m in rasa.received] == ["查电费"]  # once, from the genuine push


def test_safe_mode_is_decrypted_and_answered_encrypted(app, rasa):
    body, query = encrypted(text_xml(OPENID, "我家停电了", 1003), signed_query())
    response = app.post("/wechat", params=query, content=body.encode())
    assert response.status_code == 200 and "<Encrypt>" in response.text and "收到" not in response.text
    answer = {child.tag: child.text for child in ET.fromstring(decrypted(response.text, query))}
    assert answer["Content"] == echo("我家停电了")
    tampered = {**query, "msg_signature": "0" * 40, **signed_query()}
    assert app.post("/wechat", params=tampered, content=body.encode()).status_code == 403


def test_a_slow_answer_is_held_then_sent_as_a_customer_service_message(app, rasa, wechat, wx_settings, session):
    rasa.mode, rasa.delay = "slow", 6.0  # longer than WeChat's 5 seconds
    held = reply_of(push(app, text_xml(OPENID, "我家停电了", 1004)))
    assert "请稍候" in held["Content"] or "正在" in held["Content"], held
    for _ in range(200):  # the bot answers later; the gateway queues the answer in the outbox
        queued = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "wechat"))
        if queued is not None:
            break
        time.sleep(0.05)
        session.expire_all()
    assert (queued.recipient, queued.body) == (OPENID, echo("我家停电了"))
    engine = make_engine(wx_settings.database_url)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                          wechat=WeChatSender(make_client(wx_settings)))
    worker.deliver_once()
    engine.dispose()
    assert wechat.sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": echo("我家停电了")}}]


def test_voice_menu_clicks_locations_and_subscribing(app, rasa):
    voice = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>"
             "<MsgType>voice</MsgType><MediaId>m1</MediaId><Format>amr</Format><Recognition>我家没电了</Recognition>"
             "<MsgId>1005</MsgId></xml>")
    assert reply_of(push(app, voice))["Content"] == echo("我家没电了")
    click = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>2</CreateTime>"
             "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>BILL</EventKey></xml>")
    assert reply_of(push(app, click))["Content"] == echo("查电费")
    place = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>3</CreateTime>"
             "<MsgType>location</MsgType><Location_X>36.0156</Location_X><Location_Y>106.2423</Location_Y>"
             "<Scale>15</Scale><Label><![CDATA[宁夏固原市原州区文化街]]></Label><MsgId>1009</MsgId></xml>")
    assert reply_of(push(app, place))["Content"] == echo("我在宁夏固原市原州区文化街")  # where, in words, to the bot
    follow = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>4</CreateTime>"
              "<MsgType>event</MsgType><Event>subscribe</Event></xml>")
    assert reply_of(push(app, follow))["Content"] == WELCOME
    unfollow = follow.replace("subscribe", "unsubscribe")
    assert push(app, unfollow).text == "success"
    assert [m["message"] for m in rasa.received] == ["我家没电了", "查电费", "我在宁夏固原市原州区文化街"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # a picture as far as its first bytes go


def image_xml(media_id: str, msg_id: int) -> str:
    return (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>3</CreateTime>"
            f"<MsgType>image</MsgType><PicUrl>http://mmbiz.example/p.jpg</PicUrl><MediaId>{media_id}</MediaId>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def test_a_picture_is_fetched_kept_in_the_conversation_and_served_to_staff_only(app, rasa, wechat, session):
    wechat.media["m2"] = (PNG, "image/png")
    assert reply_of(push(app, image_xml("m2", 1006)))["Content"] == IMAGE_RECEIVED
    assert reply_of(push(app, image_xml("m2", 1006)))["Content"] == IMAGE_RECEIVED  # WeChat's retry: kept once
    [line] = session.scalars(select(Message).where(Message.conversation_id == f"wx-{OPENID}")).all()
    assert (line.sender, line.text) == ("customer", None)
    assert line.image.startswith(f"/api/conversations/wx-{OPENID}/images/")
    assert rasa.received == []  # a picture is not a question for the bot
    agent = app.post("/api/staff/login", json={"username": "agent01", "password": PASSWORDS["agent01"]})
    assert agent.status_code == 200
    served = app.get(line.image)  # the agent's session cookie, as the console's <img> sends it
    assert served.status_code == 200 and served.content == PNG and served.headers["content-type"] == "image/png"
    app.post("/api/staff/logout")
    assert app.get(line.image).status_code == 401
    other = line.image.replace(f"wx-{OPENID}", "wx-someone-else")
    assert app.post("/api/staff/login", json={"username": "agent01", "password": PASSWORDS["agent01"]}).is_success
    assert app.get(other).status_code == 404


def test_a_picture_wechat_will_not_give_or_that_is_not_one_is_asked_for_again(app, rasa, wechat, session):
    assert reply_of(push(app, image_xml("gone", 1007)))["Content"] == IMAGE_NOT_RECEIVED  # expired at WeChat
    wechat.media["html"] = (b"<html><script>alert(1)</script></html>", "image/jpeg")  # says image, is not
    assert reply_of(push(app, image_xml("html", 1008)))["Content"] == UNSUPPORTED
    assert session.scalars(select(Message).where(Message.conversation_id == f"wx-{OPENID}")).all() == []


def test_a_message_outside_the_48_hour_window_fails_once_with_the_reason(wx_settings, wechat, session):
    wechat.refuse(OPENID, 45015)
    notify.enqueue(session=session, key="wx:late", channel="wechat", recipient=OPENID, audience="customer",
                   body="您的工单已派单", now=utcnow())
    session.commit()
    engine = make_engine(wx_settings.database_url)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                          wechat=WeChatSender(make_client(wx_settings)))
    worker.deliver_once()
    worker.deliver_once()
    engine.dispose()
    session.expire_all()
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "wx:late"))
    assert message.status == "dead"  # no retry can fix it
    assert message.last_error.startswith("wechat 45015") and message.attempts == 1


def test_outside_the_48_hours_a_bound_customer_gets_the_notice_by_sms(app, wx_settings, wechat, session):
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    verified = app.post("/api/customers/verify", headers={"Authorization": f"Bearer {wx_settings.service_token}"},
                        json={"account_no": customer.account_no, "phone_last4": customer.mobile[-4:],
                              "conversation_id": f"wx-{OPENID}"})
    assert verified.json() == {"verified": True}  # the WeChat user bound this 户号
    wechat.refuse(OPENID, 45015)
    notify.enqueue(session=session, key="wx:progress", channel="wechat", recipient=OPENID, audience="customer",
                   body="您的工单 GD20261206-0001 已派单，抢修人员正在赶往现场。", now=utcnow())
    session.commit()
    engine = make_engine(wx_settings.database_url)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                          wechat=WeChatSender(make_client(wx_settings)), phone_of_wechat_user=phone_of_wechat_user)
    worker.deliver_once()
    worker.deliver_once()
    engine.dispose()
    session.expire_all()
    refused = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "wx:progress"))
    assert (refused.status, refused.last_error.endswith("sent by SMS instead")) == ("dead", True)
    [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.key == "wx:progress:sms")).all()
    assert (sms.channel, sms.recipient, sms.body) == ("sms", customer.mobile, "【国网固原供电】" + refused.body)


def deliver(settings, *, template: str | None) -> None:
    """Two passes of the outbox worker with the account's notice template (or none)."""
    engine = make_engine(settings.database_url)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                          wechat=WeChatSender(make_client(settings), template),
                          phone_of_wechat_user=phone_of_wechat_user)
    worker.deliver_once()
    worker.deliver_once()
    engine.dispose()


def test_outside_the_48_hours_a_notice_goes_as_the_accounts_template_message(app, wx_settings, wechat, session):
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    app.post("/api/customers/verify", headers={"Authorization": f"Bearer {wx_settings.service_token}"},
             json={"account_no": customer.account_no, "phone_last4": customer.mobile[-4:],
                   "conversation_id": f"wx-{OPENID}"})
    wechat.refuse(OPENID, 45015)
    at = utcnow().replace(microsecond=0)
    for key, body in (("ticket:7:customer:accepted:3", "您的工单 GD20261206-0007 已由原州城区抢修一班接单，正在赶往现场。"),
                      ("agent-reply:web-1:9", "好的，我再帮您查一下。")):
        notify.enqueue(session=session, key=key, channel="wechat", recipient=OPENID, audience="customer", body=body,
                       now=at)
    session.commit()
    deliver(wx_settings, template="TPL-PROGRESS-01")
    session.expire_all()
    notice = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "ticket:7:customer:accepted:3"))
    assert (notice.status, notice.provider_status) == ("sent", "template")
    local = to_local(at)
    assert wechat.templates == [{
        "touser": OPENID, "template_id": "TPL-PROGRESS-01",
        "data": {"first": {"value": "您有一条工单进度通知"}, "keyword1": {"value": "工单进度通知"},
                 "keyword2": {"value": f"{local.month}月{local.day}日 {local:%H:%M}"},
                 "remark": {"value": notice.body}}}]
    # a line of the conversation (an agent's reply) is not a notice: by SMS, as without a template
    reply = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "agent-reply:web-1:9"))
    assert reply.status == "dead" and reply.last_error.endswith("sent by SMS instead")
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.key == "agent-reply:web-1:9:sms")) is not None


def test_the_outbox_keeps_the_48_hour_window_itself_and_does_not_ask_wechat_in_vain(app, wx_settings, wechat, session):
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    app.post("/api/customers/verify", headers={"Authorization": f"Bearer {wx_settings.service_token}"},
             json={"account_no": customer.account_no, "phone_last4": customer.mobile[-4:],
                   "conversation_id": f"wx-{OPENID}"})
    now = utcnow()
    record_customer_turn(session=session, conversation_id=f"wx-{OPENID}", channel="wechat", text="查电费",
                         client_msg_id="wx-old", now=now - timedelta(hours=50))  # their last words, 50 hours ago
    for key, body in (("ticket:8:customer:accepted:3", "您的工单 GD20261206-0008 已由原州城区抢修一班接单。"),
                      ("agent-reply:wx-1:4", "好的，我再帮您查一下。")):
        notify.enqueue(session=session, key=key, channel="wechat", recipient=OPENID, audience="customer", body=body,
                       now=now)
    session.commit()
    engine = make_engine(wx_settings.database_url)
    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                          wechat=WeChatSender(make_client(wx_settings), "TPL-PROGRESS-01"),
                          phone_of_wechat_user=phone_of_wechat_user, wechat_user_last_wrote=user_last_wrote)
    worker.deliver_once()
    session.expire_all()
    assert wechat.sent == []  # WeChat (which would have accepted here) was not asked outside its window
    notice = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "ticket:8:customer:accepted:3"))
    assert (notice.status, notice.provider_status) == ("sent", "template") and len(wechat.templates) == 1
    reply = session.scalar(select(OutboxMessage).where(OutboxMessage.key == "agent-reply:wx-1:4"))
    assert reply.status == "dead" and reply.attempts == 1
    assert reply.last_error.startswith("outside WeChat's 48-hour window") and reply.last_error.endswith(
        "sent by SMS instead")

    record_customer_turn(session=session, conversation_id=f"wx-{OPENID}", channel="wechat", text="我家又停电了",
                         client_msg_id="wx-new", now=utcnow())  # they write again: the window opens
    notify.enqueue(session=session, key="ticket:8:customer:arrived:4", channel="wechat", recipient=OPENID,
                   audience="customer", body="抢修人员已到达现场。", now=utcnow())
    session.commit()
    worker.deliver_once()
    engine.dispose()
    assert [m["text"]["content"] for m in wechat.sent] == ["抢修人员已到达现场。"]


def test_a_user_who_unfollowed_gets_no_template_and_the_notice_goes_by_sms(app, wx_settings, wechat, session):
    customer = session.scalars(select(Customer).order_by(Customer.id)).first()
    app.post("/api/customers/verify", headers={"Authorization": f"Bearer {wx_settings.service_token}"},
             json={"account_no": customer.account_no, "phone_last4": customer.mobile[-4:],
                   "conversation_id": f"wx-{OPENID}"})
    wechat.refuse(OPENID, 43004, templates_too=True)
    notify.enqueue(session=session, key="alert:5:outage:1", channel="wechat", recipient=OPENID, audience="customer",
                   body="您好，我们监测到您所在的台区停电。", now=utcnow())
    session.commit()
    deliver(wx_settings, template="TPL-PROGRESS-01")
    session.expire_all()
    assert wechat.templates == []
    [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.key == "alert:5:outage:1:sms")).all()
    assert (sms.recipient, sms.body) == (customer.mobile, "【国网固原供电】您好，我们监测到您所在的台区停电。")


@pytest.mark.parametrize("store", ["database", "redis"])
def test_processes_share_one_access_token(wx_settings, wechat, store, request):
    url = request.getfixturevalue("redis_url") if store == "redis" else None
    if url:
        redis.Redis.from_url(url).delete(f"zhidian:wechat:{APP_ID}:{APP_ID}_access_token")
    settings = wx_settings.model_copy(update={"redis_url": url})
    first, second = make_client(settings), make_client(settings)  # two processes
    first.message.send_text(OPENID, "一")
    second.message.send_text(OPENID, "二")
    assert wechat.tokens_issued == 1
    assert [m["text"]["content"] for m in wechat.sent] == ["一", "二"]


def test_a_refresh_waits_for_the_lock_another_process_holds(wx_settings, wechat, session):
    client = make_client(wx_settings)  # no Redis: the lock is a row in the database
    lock = client._lock
    assert isinstance(lock, DatabaseLock)
    assert notify.take_lock(session=session, key=lock.key, now=utcnow(), hold=timedelta(seconds=1))
    started = time.monotonic()
    client.message.send_text(OPENID, "三")  # waits until the other holder's second has run out
    assert time.monotonic() - started >= 0.5 and wechat.tokens_issued == 1


def test_the_menu_command_creates_the_entries(wx_settings, wechat):
    create_menu(wx_settings)
    assert wechat.menus == [MENU]
    names = [b["name"] for b in MENU["button"][:2]] + [s["name"] for s in MENU["button"][2]["sub_button"]]
    assert names == ["查电费", "故障报修", "停电信息", "人工客服", "我的户号"]
