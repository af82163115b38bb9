"""Every action from every status: allowed moves land where the state machine says, others refuse."""
from __future__ import annotations

import pytest

from api.core.vocabulary import TICKET_STATUSES as STATUSES
from api.tickets.lifecycle import ACTIONS, InvalidTransition, allowed, target

EXPECTED = {  # action → {from: to}; everything else is refused
    "dispatch": {"新建": "已派单", "退单": "已派单"},
    "reassign": {"已派单": "已派单", "已接单": "已派单"},
    "accept": {"已派单": "已接单"},
    "reject": {"已派单": "退单"},
    "arrive": {"已接单": "已到达"},
    "resolve": {"已到达": "已处理"},
    "revisit": {"已处理": "已回访"},
    "close": {"已处理": "已关闭", "已回访": "已关闭"},
    "suspend": {s: "挂起" for s in ("新建", "已派单", "已接单", "已到达")},
    "resume": {"挂起": "已接单"},  # back to where it was (here: suspended while 已接单)
    "escalate": {s: s for s in ("新建", "已派单", "已接单", "已到达", "挂起", "退单")},
    "cancel": {s: "已关闭" for s in ("新建", "已派单", "已接单", "挂起", "退单")},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("status", STATUSES)
def test_every_action_from_every_status(action, status):
    expected = EXPECTED[action].get(status)
    kwargs = dict(status=status, ticket_type="故障报修", suspended_from="已接单", note="客户要求改天")
    if expected is None:
        with pytest.raises(InvalidTransition) as refused:
            target(action, **kwargs)
        assert refused.value.code == "invalid_transition"
        assert status in refused.value.message and ACTIONS[action].label in refused.value.message
    else:
        assert target(action, **kwargs) == expected
    assert (action in allowed(status, "故障报修")) == (expected is not None)


@pytest.mark.parametrize("action", ["reject", "suspend", "reassign", "cancel", "escalate"])
def test_actions_that_need_a_reason_refuse_without_one(action):
    status = {"reject": "已派单", "suspend": "已接单", "reassign": "已派单", "cancel": "新建", "escalate": "新建"}[action]
    with pytest.raises(InvalidTransition) as refused:
        target(action, status=status, ticket_type="故障报修", note="  ")
    assert refused.value.code == "note_required"


def test_work_without_a_site_visit_can_be_resolved_once_accepted():
    assert target("resolve", status="已接单", ticket_type="投诉") == "已处理"
    with pytest.raises(InvalidTransition):
        target("resolve", status="已接单", ticket_type="故障报修")


def test_an_unknown_action_is_refused_clearly():
    with pytest.raises(InvalidTransition) as refused:
        target("teleport", status="新建", ticket_type="故障报修")
    assert refused.value.code == "unknown_action"
