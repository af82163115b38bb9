"""The ticket state machine: which action may move a ticket from which status to which.

新建 → 已派单 → 已接单 → 已到达 → 已处理 → 已回访 → 已关闭, with 挂起 (waiting on the customer;
the SLA clock stops), 退单 (the crew refused; dispatch again) and 升级 (escalation: same status,
higher priority). The service enforces it: anything else is an InvalidTransition (HTTP 409).
"""
from __future__ import annotations

from dataclasses import dataclass

from api.core.errors import Conflict
from api.core.vocabulary import OPEN_STATUSES

# Types whose work is done without a site visit: they may be resolved once accepted.
NO_SITE_VISIT = frozenset({"投诉", "咨询回访"})


@dataclass(frozen=True)
class Action:
    """One allowed move; `to` None means the status does not change (升级) or is restored (恢复)."""

    name: str
    label: str  # Chinese, as the timeline shows it
    sources: tuple[str, ...]
    to: str | None
    needs_note: bool = False  # a reason is required (退单, 挂起, 改派, 撤销)


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("dispatch", "派单", ("新建", "退单"), "已派单"),
    Action("reassign", "改派", ("已派单", "已接单"), "已派单", needs_note=True),
    Action("accept", "接单", ("已派单",), "已接单"),
    Action("reject", "退单", ("已派单",), "退单", needs_note=True),
    Action("arrive", "到达现场", ("已接单",), "已到达"),
    Action("resolve", "处理完成", ("已到达",), "已处理"),
    Action("revisit", "回访", ("已处理",), "已回访"),
    Action("close", "关闭", ("已处理", "已回访"), "已关闭"),
    Action("suspend", "挂起", ("新建", "已派单", "已接单", "已到达"), "挂起", needs_note=True),
    Action("resume", "恢复", ("挂起",), None),
    Action("escalate", "升级", OPEN_STATUSES, None, needs_note=True),
    Action("cancel", "撤销", ("新建", "已派单", "已接单", "挂起", "退单"), "已关闭", needs_note=True),
)}


class InvalidTransition(Conflict):
    """The action is not allowed from the ticket's status (or lacks its reason): HTTP 409."""


def target(action_name: str, *, status: str, ticket_type: str, suspended_from: str | None = None,
           note: str | None = None) -> str:
    """The status after the action, or InvalidTransition with a Chinese message saying why not."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise InvalidTransition("unknown_action", f"不支持的操作：{action_name}")
    sources = action.sources
    if action_name == "resolve" and ticket_type in NO_SITE_VISIT:
        sources = ("已接单", "已到达")
    if status not in sources:
        raise InvalidTransition(
            "invalid_transition", f"工单当前状态为“{status}”，不能执行“{action.label}”")
    if action.needs_note and not (note or "").strip():
        raise InvalidTransition("note_required", f"“{action.label}”需要填写原因")
    if action_name == "resume":
        return suspended_from or "新建"
    return action.to or status


def allowed(status: str, ticket_type: str) -> list[str]:
    """Actions possible from a status (what a page offers as buttons)."""
    out = []
    for name, action in ACTIONS.items():
        sources = ("已接单", "已到达") if name == "resolve" and ticket_type in NO_SITE_VISIT else action.sources
        if status in sources:
            out.append(name)
    return out
