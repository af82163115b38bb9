"""A WeChat user, end to end through the real Rasa and action server: binds a 户号 by verifying, is served
for it after the bot's session restarts (切换), reports an outage and gets the ticket number, then the
crew's acceptance and arrival as WeChat customer-service messages (the crew answers by SMS).

WeChat is a local fake (tests/fakes/wechat.py): it signs the pushes as WeChat does and records the
customer-service messages our real `wechatpy` client sends it; Twilio is the fake of the crew SMS tests.
"""
from __future__ import annotations

import itertools
import re
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

from api.core.ids import mask_account
from api.demo.showcase import EXTRA_ACCOUNTS
from tests.fakes.wechat import signed_query, text_xml

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")
OPENID = "oE2eWeChatUser0000000000005"
MESSAGE_IDS = itertools.count(91_000)


def wait_for(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def sent_to_user(wechat) -> list[str]:
    return [m["text"]["content"] for m in wechat.sent if m.get("touser") == OPENID]


def wx_say(stack, wechat, text: str) -> str:
    """One signed push as WeChat sends it; the passive reply, or (held past WeChat's 5 s) the
    customer-service message that follows it."""
    before = len(sent_to_user(wechat))
    response = httpx.post(f"{stack.api_url}/wechat", params=signed_query(),
                          content=text_xml(OPENID, text, next(MESSAGE_IDS)).encode(), timeout=30)
    assert response.status_code == 200, response.text
    content = {child.tag: child.text for child in ET.fromstring(response.text)}["Content"]
    if content.endswith("请稍候…"):
        return "\n".join(wait_for(lambda: sent_to_user(wechat)[before:]))
    return content


def test_bind_switch_report_and_hear_the_crew_over_wechat(stack, wechat, twilio):
    account_no, mobile = EXTRA_ACCOUNTS["household_outage_5"]
    assert "户号" in wx_say(stack, wechat, "查电费")  # not verified yet: the bot asks for the account
    assert "后四位" in wx_say(stack, wechat, account_no)
    assert "核验通过" in wx_say(stack, wechat, mobile[-4:])
    assert f"1. 户号 {mask_account(account_no)}（当前使用）" in wx_say(stack, wechat, "我的户号")

    # 切换 restarts the bot's session: the new session is served for the bound account without asking
    assert wx_say(stack, wechat, "切换1").startswith(f"已切换到户号 {mask_account(account_no)}")
    bill = wx_say(stack, wechat, "查电费")
    assert "账单" in bill and "核验" not in bill and "后四位" not in bill, bill  # answered, not asked

    reply = wx_say(stack, wechat, "家里没电了")
    if "是这个地址停电吗" not in reply:
        reply = wx_say(stack, wechat, account_no)
    assert "是这个地址停电吗" in reply, reply
    wx_say(stack, wechat, "是的")
    wx_say(stack, wechat, "就我家没电，邻居家都有电")
    number = TICKET.search(wx_say(stack, wechat, "确认")).group(0)

    assignment = wait_for(lambda: next((m for m in twilio.messages if number in m["body"]), None))
    for command, notice in ((f"1 {number}", "正在赶往现场"), (f"2 {number}", "已到达现场")):
        answer = twilio.post_inbound(f"{stack.api_url}/api/notify/twilio/inbound", from_=assignment["to"],
                                     to="+8610695598", body=command)
        assert answer.status_code == 200
        heard = wait_for(lambda: [t for t in sent_to_user(wechat) if number in t and notice in t])
        assert len(heard) == 1
