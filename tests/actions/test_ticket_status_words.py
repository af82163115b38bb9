"""The bot tells a ticket's status in the words of api.core.vocabulary.TICKET_STATUS_TOLD, the one
mapping the console and the 客户360 show next to the status (issue 18)."""
from __future__ import annotations

import pytest

import actions.tickets
from actions.tickets import ticket_message
from api.core.vocabulary import TICKET_STATUS_TOLD


@pytest.mark.parametrize("status", sorted(TICKET_STATUS_TOLD))
def test_the_progress_answer_uses_the_shared_words(status):
    text = ticket_message({"number": "GD20261123-0050", "type": "故障报修", "status": status})
    assert text.startswith(f"工单 GD20261123-0050（故障报修）当前状态：{TICKET_STATUS_TOLD[status]}。")


def test_the_actions_keep_no_copy_of_the_mapping():
    assert not hasattr(actions.tickets, "STATUS_NAMES")


def test_a_report_attached_to_an_area_ticket_is_told_through_that_ticket():
    text = ticket_message({"number": "GD20261123-0051", "type": "故障报修", "status": "新建",
                           "parent": {"number": "GD20261123-0040", "status": "已接单",
                                      "crew": {"id": "YZ-01", "name": "原州城区抢修一班"}}})
    assert text.startswith("工单 GD20261123-0051（故障报修）当前状态：处理人员已接单，正在赶往现场。"
                           "您的报修已并入工单 GD20261123-0040 一并处理。")
    assert "处理班组：原州城区抢修一班" in text
    settled = ticket_message({"number": "GD20261123-0051", "type": "故障报修", "status": "已处理",
                              "parent": {"number": "GD20261123-0040", "status": "已处理", "crew": None},
                              "events": [{"at": "2026-11-23T10:00:00+08:00", "action": "随主单办结",
                                          "note": "所并入的工单GD20261123-0040已处理完成"}]})
    assert "当前状态：已处理完毕。" in settled and "随所并入的工单处理完成" in settled
