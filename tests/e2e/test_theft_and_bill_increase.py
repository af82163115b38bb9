"""Issue 14 through the real stack: a theft report becomes a lead for 用电检查 (not a repair), and a
customer asking why the bill went up gets the meter's evidence and books a 校表 (a 业务办理 ticket).

The transcripts are printed (pytest -s) for the record of what a customer sees.
"""
from __future__ import annotations

import re
import uuid

import pytest

from api.demo.showcase import SHOWCASE

pytestmark = pytest.mark.e2e
TICKET = re.compile(r"GD\d{8}-\d{4}")


def talk(stack, sender: str, text: str) -> list[dict]:
    messages = stack.say(sender, text)
    print(f"\n客户：{text}")
    for m in messages:
        if m.get("text"):
            print("智电：" + m["text"].replace("\n", "\n      "))
        if m.get("buttons"):
            print("      [" + "] [".join(b["title"] for b in m["buttons"]) + "]")
    return messages


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def ticket(stack, number: str) -> dict:
    response = stack.http.get(f"/api/tickets/{number}", headers=stack.auth)
    response.raise_for_status()
    return response.json()


def test_a_theft_report_is_filed_as_a_lead_for_the_inspectors(stack):
    sender = f"e2e-theft-{uuid.uuid4().hex[:8]}"
    first = texts(talk(stack, sender, "我要举报，我们村有户人家从电线杆上私拉电线偷电"))
    assert "用电检查" in first and "严格保密" in first and "位置" in first  # the place is asked, not assumed
    assert "描述" not in first  # what was seen is already said
    assert "手机号" in texts(talk(stack, sender, "西吉县吉强镇龙王坝村二组，村口第三户"))
    read_back = texts(talk(stack, sender, "13995541234"))
    assert "请您核对举报信息" in read_back and "龙王坝村二组" in read_back and "139****1234" in read_back
    done = talk(stack, sender, "确认")
    text = texts(done)
    number = TICKET.search(text).group(0)
    assert "用电检查人员" in text and "举报人信息严格保密" in text and not re.search(r"奖|小时内|天内", text)
    lead = ticket(stack, number)
    assert lead["type"] == "稽查任务" and "私拉电线" in lead["description"]
    again = texts(talk(stack, sender, "有人偷电缆，线都被剪断了"))  # cable theft: still a hazard repair
    assert "安全第一" in again


def test_a_high_bill_is_explained_from_the_meter_and_a_calibration_booked(stack):
    account, mobile = SHOWCASE["normal"]
    sender = f"e2e-bill-{uuid.uuid4().hex[:8]}"
    first = texts(talk(stack, sender, "这个月电费比上月多了一倍，电表是不是坏了"))
    assert "——来源" in first and "核验" in first
    assert "后四位" in texts(talk(stack, sender, account))
    answer = talk(stack, sender, mobile[-4:])
    text = texts(answer)
    assert "核验通过" in text and "电表近60天" in text and "开盖" not in text
    assert payloads(answer)[-3:] == ['/start_application{"service_type":"校表"}', "/request_human", "/thank"]
    assert "手机号" in texts(talk(stack, sender, '/start_application{"service_type":"校表"}'))
    assert "方便" in texts(talk(stack, sender, mobile))
    assert "电能表校验" in texts(talk(stack, sender, "工作日上午"))
    done = texts(talk(stack, sender, "确认"))
    number = TICKET.search(done).group(0)
    booked = ticket(stack, number)
    assert booked["type"] == "业务办理" and booked["details"]["service_type"] == "校表"
    assert booked["account_no"] == account
