"""Words every layer uses for the same things: ticket types and statuses, customer and area classes.

The ticket state machine itself is api.tickets.lifecycle; these are the names it moves between.
"""
from __future__ import annotations

import re

TICKET_TYPES = ("故障报修", "安全隐患", "投诉", "业务办理", "咨询回访", "稽查任务", "充电设施故障")
# Types whose commitment is a crew on site (arrival time); the others commit to a resolution time.
ON_SITE_TYPES = ("故障报修", "安全隐患", "充电设施故障")

TICKET_STATUSES = ("新建", "已派单", "已接单", "已到达", "已处理", "已回访", "已关闭", "挂起", "退单")
OPEN_STATUSES = ("新建", "已派单", "已接单", "已到达", "挂起", "退单")  # 退单: refused, waiting for another crew
DONE_STATUSES = ("已处理", "已回访", "已关闭")
HOLDING_STATUSES = ("已派单", "已接单", "已到达")  # a crew holds the ticket
BEFORE_ARRIVAL = ("新建", "已派单", "已接单", "退单")
BEFORE_RESOLUTION = ("新建", "已派单", "已接单", "已到达", "退单")  # the SLA clock runs (not 挂起)
# Each status as the customer is told it (the bot's progress answers): the console and the 360 show
# it next to the status, so the agent knows what the customer read. The one mapping: never copied.
TICKET_STATUS_TOLD: dict[str, str] = {
    "新建": "已受理，正在安排处理人员",
    "已派单": "已派给处理班组，等待班组接单",
    "已接单": "处理人员已接单，正在赶往现场",
    "已到达": "处理人员已到达现场",
    "已处理": "已处理完毕",
    "已回访": "已处理完毕并完成回访",
    "已关闭": "已办结",
    "挂起": "暂时挂起，条件具备后继续处理",
    "退单": "正在重新安排处理班组",
}


def status_told(status: object) -> str:
    """A ticket status in the customer's words (an unknown status as it is)."""
    return TICKET_STATUS_TOLD.get(str(status), str(status or ""))


CUSTOMER_CLASSES = ("居民", "一般工商业", "大工业")
# Service-commitment class of an area → minutes to reach a repair site (城区 45, 农村 90, 边远 120).
AREA_CLASS_MINUTES: dict[str, int] = {"城区": 45, "农村": 90, "边远": 120}

# Wording that tells a 95598 agent the customer is upset: insults, threats to escalate, venting.
# The gateway queues such a chat for a person; the bot recognises it too, to ask for the person
# itself in words that fit its next question.
ANGRY_WORDS = re.compile(
    "垃圾|骗子|坑人|太差|差劲|气死|恶心|滚蛋|滚开|混蛋|他妈|妈的|什么破|破系统|投诉你们|投诉到底|"
    r"(?<!\d)(?:12398|12345)(?!\d)|曝光|媒体|记者|市长热线|告你们|起诉|忍无可忍|受够|太过分|废物|听不懂人话")
