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

CUSTOMER_CLASSES = ("居民", "一般工商业", "大工业")
# Service-commitment class of an area → minutes to reach a repair site (城区 45, 农村 90, 边远 120).
AREA_CLASS_MINUTES: dict[str, int] = {"城区": 45, "农村": 90, "边远": 120}

# Wording that tells a 95598 agent the customer is upset: insults, threats to escalate, venting.
# The gateway queues such a chat for a person; the bot recognises it too, to ask for the person
# itself in words that fit its next question.
ANGRY_WORDS = re.compile(
    "垃圾|骗子|坑人|太差|差劲|气死|恶心|滚蛋|滚开|混蛋|他妈|妈的|什么破|破系统|投诉你们|投诉到底|"
    r"(?<!\d)(?:12398|12345)(?!\d)|曝光|媒体|记者|市长热线|告你们|起诉|忍无可忍|受够|太过分|废物|听不懂人话")
