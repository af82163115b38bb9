"""A WeChat user's bound 户号: bound by passing the bot's verification in WeChat, listed, switched and
unbound with typed commands (or the menu), a resent message carried out once, and 绑定新户号 handing the
user to the bot's verification with the bot's session restarted; the bot reads the default binding."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.core.ids import mask_account
from api.customers.models import AccountBinding, Customer
from tests.api.channels.test_wechat import OPENID, push, reply_of
from tests.conftest import TEST_TOKEN
from tests.fakes.wechat import text_xml

pytestmark = pytest.mark.timeout(90)
BOT = {"Authorization": f"Bearer {TEST_TOKEN}"}
USER = f"wx-{OPENID}"


@pytest.fixture
def two_accounts(session) -> list[Customer]:
    return list(session.scalars(select(Customer).order_by(Customer.id).limit(2)))


def verify(app, customer: Customer, conversation_id: str = USER) -> bool:
    response = app.post("/api/customers/verify", headers=BOT, json={
        "account_no": customer.account_no, "phone_last4": customer.mobile[-4:], "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    return response.json()["verified"]


def bound(app) -> dict:
    response = app.get(f"/api/customers/bindings/{USER}", headers=BOT)
    assert response.status_code == 200, response.text
    return response.json()


def say(app, text: str, msg_id: int) -> str:
    return reply_of(push(app, text_xml(OPENID, text, msg_id)))["Content"]


def test_verifying_in_wechat_binds_the_account_and_makes_it_the_default(app, two_accounts):
    first, second = two_accounts
    assert bound(app) == {"conversation_id": USER, "accounts": [], "default": None}
    assert verify(app, first) and verify(app, second)
    assert bound(app)["default"] == second.account_no  # the one just verified is the one asked about
    assert [a["account_no"] for a in bound(app)["accounts"]] == [first.account_no, second.account_no]
    assert verify(app, first)  # verified again: still one binding each
    assert (len(bound(app)["accounts"]), bound(app)["default"]) == (2, first.account_no)
    assert app.get(f"/api/customers/bindings/{USER}").status_code in (401, 403)  # the bot's credential only


def test_a_web_chat_verification_binds_nothing(app, two_accounts, session):
    assert verify(app, two_accounts[0], conversation_id="web-someone-else-0001")
    assert session.scalars(select(AccountBinding)).all() == []


def test_list_switch_and_unbind_by_typed_commands(app, rasa, two_accounts):
    first, second = two_accounts
    assert "还没有绑定户号" in say(app, "我的户号", 2001)
    verify(app, first), verify(app, second)
    listing = say(app, "我的户号", 2002)
    assert f"1. 户号 {mask_account(first.account_no)}\n" in listing
    assert f"2. 户号 {mask_account(second.account_no)}（当前使用）" in listing
    assert first.account_no not in listing  # masked: a chat screen is seen by others too

    assert say(app, "切换1", 2003).startswith(f"已切换到户号 {mask_account(first.account_no)}")
    assert bound(app)["default"] == first.account_no
    assert [m["message"] for m in rasa.received] == ["/session_start"]  # the bot now serves the new default

    assert "没有第3个户号" in say(app, "切换3", 2004)
    unbound = say(app, "解绑1", 2005)
    assert unbound == (f"已解除户号 {mask_account(first.account_no)} 的绑定。"
                       f"现在使用户号 {mask_account(second.account_no)}。")
    assert say(app, "解绑1", 2005) == unbound  # WeChat resent it: the same answer, nothing removed twice
    assert bound(app)["accounts"] == [{"account_no": second.account_no, "is_default": True}]
    assert "已没有绑定的户号" in say(app, "解绑 1", 2006)
    assert bound(app) == {"conversation_id": USER, "accounts": [], "default": None}


def test_bind_new_hands_the_user_to_the_bots_verification(app, rasa, two_accounts):
    verify(app, two_accounts[0])
    answer = say(app, "绑定新户号", 2101)
    assert [m["message"] for m in rasa.received] == ["/session_start", "/verify_identity"]
    assert answer.startswith("收到：/verify_identity")  # the fake bot's words: its verification question
    assert bound(app)["default"] is None  # nobody is served until the new account is verified
    assert len(bound(app)["accounts"]) == 1


def test_the_menu_entry_lists_the_accounts(app, two_accounts):
    verify(app, two_accounts[0])
    click = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>7</CreateTime>"
             "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>ACCOUNTS</EventKey></xml>")
    assert "（当前使用）" in reply_of(push(app, click))["Content"]


def test_commands_are_kept_in_the_transcript(app, two_accounts):
    verify(app, two_accounts[0])
    say(app, "我的户号", 2201)
    turns = app.get(f"/api/chat/{USER}/history", headers=BOT).json()["turns"]
    assert [t["sender"] for t in turns[-2:]] == ["customer", "bot"]
    assert turns[-2]["text"] == "我的户号" and "当前使用" in turns[-1]["text"]
