"""Conversations survive a Rasa restart (issue 12): trackers live in SQL, not in Rasa's memory.

Restarts the Rasa server of the shared e2e stack (same port, same tracker store) in the middle of
a fault report; the form goes on at the slot it had reached and the report is filed with what the
customer said before the restart.
"""
from __future__ import annotations

import re
import sqlite3
import uuid

import pytest

from api.demo.showcase import SHOWCASE

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def tickets_of(stack, account_no: str) -> set[str]:
    response = stack.http.get("/api/tickets", params={"account_no": account_no}, headers=stack.auth)
    response.raise_for_status()
    return {t["number"] for t in response.json()["items"]}


def test_a_fault_report_continues_after_rasa_restarts(stack):
    account_no, _ = SHOWCASE["household_outage_rural"]
    sender = f"e2e-restart-{uuid.uuid4().hex[:10]}"
    before = tickets_of(stack, account_no)  # the shared stack: other tests may have reported too
    assert "户号" in texts(stack.say(sender, "我家停电了"))
    assert "是这个地址停电吗" in texts(stack.say(sender, account_no))
    with sqlite3.connect(stack.tracker_db) as db:  # the tracker is on disk before the restart
        assert db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0] > 0

    stack.restart_rasa()

    after = texts(stack.say(sender, "是的"))
    assert "请描述一下停电情况" in after, after  # the next slot, not the form from the start
    summary = texts(stack.say(sender, "只有我家没电，邻居家有电"))
    assert "请您核对报修信息" in summary and "户号：" in summary  # the 户号 given before the restart
    number = re.search(r"GD\d{8}-\d{4}", texts(stack.say(sender, "确认"))).group(0)
    assert tickets_of(stack, account_no) - before == {number}  # one report, for the 户号 given before
