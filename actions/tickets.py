"""Ticket progress (工单进度): status, the last steps of the timeline, the arrival commitment."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ZhidianClient
from actions.common import (
    API_DOWN,
    RE_TICKET,
    fmt_time,
    known_account,
    latest_entity,
    normalize,
    parse_contact,
)
from actions.faults import arrival_sentence

TYPE_NAMES = {"fault": "故障报修", "outage": "停电报修", "hazard": "安全隐患", "complaint": "投诉"}
# The API's statuses (api/tickets/models.py TICKET_STATUSES) as a customer would hear them.
STATUS_NAMES = {
    "新建": "已受理，正在安排抢修人员",
    "已派单": "已派单给抢修班组",
    "已接单": "抢修人员已接单，正在赶往现场",
    "已到达": "抢修人员已到达现场",
    "已处理": "已处理完毕",
    "已回访": "已处理完毕并完成回访",
    "已关闭": "已办结",
    "挂起": "暂时挂起，条件具备后继续处理",
    "退单": "已退单",
    "new": "已受理",
    "open": "已受理",
    "accepted": "已受理",
    "attached": "已并入区域抢修工单",
    "dispatched": "已派单",
    "assigned": "已派单",
    "en_route": "抢修人员已出发",
    "arrived": "抢修人员已到达现场",
    "on_site": "抢修人员已到达现场",
    "in_progress": "抢修中",
    "repairing": "抢修中",
    "resolved": "已修复",
    "closed": "已办结",
    "cancelled": "已撤销",
}
ACTION_NAMES = {
    "创建": "工单已受理",
    "关联": "已并入区域抢修工单",
    "关联报修": "同一区域又有用户报修",
    "created": "工单已受理",
    "attached": "已并入区域抢修工单",
    "dispatched": "已派单给抢修班组",
    "assigned": "已派单给抢修班组",
    "en_route": "抢修人员已出发",
    "arrived": "抢修人员到达现场",
    "resolved": "故障已修复",
    "closed": "工单已办结",
    "note": "备注",
    "sms_sent": "已短信通知您",
    "notified": "已通知您",
}
FINISHED = {"已处理", "已回访", "已关闭", "退单", "resolved", "closed", "cancelled"}


def status_name(status: Any) -> str:
    return STATUS_NAMES.get(str(status), str(status or ""))


def ticket_message(ticket: Dict[str, Any]) -> str:
    """Status, the last few events and the arrival commitment, in plain Chinese."""
    number = ticket.get("number", "")
    type_name = TYPE_NAMES.get(str(ticket.get("type")), str(ticket.get("type") or "工单"))
    lines = [f"工单 {number}（{type_name}）当前状态：{status_name(ticket.get('status'))}。"]
    created = ticket.get("created_at")
    if created:
        lines[0] += f"受理时间：{fmt_time(created)}。"
    events = ticket.get("events") or []
    if events:
        lines.append("最近进展：")
        for event in events[-4:]:
            action = ACTION_NAMES.get(str(event.get("action")), str(event.get("action") or ""))
            note = normalize(event.get("note"))
            if note.startswith("诊断"):  # internal diagnosis codes are for the crew
                note = ""
            text = f"{action}：{note}" if note and note != action else action
            lines.append(f"· {fmt_time(event.get('at'))} {text}")
    if str(ticket.get("status")) not in FINISHED and ticket.get("sla"):
        lines.append("到场承诺：" + arrival_sentence(ticket.get("sla")))
    diagnosis = (ticket.get("diagnosis") or {}).get("summary")
    if diagnosis:
        lines.append(f"初步判断：{diagnosis}")
    return "\n".join(lines)


class ActionQueryTicketStatus(Action):
    """By the ticket number given, else the latest ticket of the account/phone in the session."""

    def name(self) -> Text:
        return "action_query_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        number = self._ticket_number(tracker)
        kind, _ = parse_contact((tracker.latest_message or {}).get("text"))
        if not number and kind not in ("account", "phone"):
            number = self._session_ticket(tracker)
        try:
            if number:
                ticket = await client.get_ticket(number)
                if ticket is None:
                    dispatcher.utter_message(
                        text=f"没有查到工单 {number}，请核对工单号（格式如 GD20261123-0042），"
                        "或者告诉我您的户号，我按户号帮您查。"
                    )
                    return []
                dispatcher.utter_message(text=ticket_message(ticket))
                return [SlotSet("ticket_no", number)]

            account = await self._account(tracker, client)
            if not account:
                dispatcher.utter_message(
                    text="请告诉我工单号（格式如 GD20261123-0042），或者报修时登记的户号/手机号，我来帮您查进度。"
                )
                return []
            items = await client.list_tickets(account_no=account, limit=5)
            if not items:
                dispatcher.utter_message(text="这个户号下最近没有报修工单。如果需要报修，直接告诉我就行。")
                return []
            latest = items[0]
            ticket = await client.get_ticket(latest["number"]) or latest
            text = ticket_message(ticket)
            others = [i for i in items[1:] if str(i.get("status")) not in FINISHED]
            if others:
                text += "\n另有未办结的工单：" + "、".join(
                    f"{i['number']}（{status_name(i.get('status'))}）" for i in others
                )
            dispatcher.utter_message(text=text)
            return [SlotSet("ticket_no", ticket.get("number"))]
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []

    @staticmethod
    def _ticket_number(tracker: Tracker) -> Optional[str]:
        text = normalize((tracker.latest_message or {}).get("text"))
        match = RE_TICKET.search(text)
        entity = latest_entity(tracker, "ticket_no")
        value = entity or (match.group(0) if match else None)
        return value.upper() if value else None

    @staticmethod
    def _session_ticket(tracker: Tracker) -> Optional[str]:
        """A ticket opened in this conversation, or one already asked about."""
        for slot in ("fault_ticket_no", "ticket_no"):
            if tracker.get_slot(slot):
                return str(tracker.get_slot(slot)).upper()
        return None

    @staticmethod
    async def _account(tracker: Tracker, client: ZhidianClient) -> Optional[str]:
        kind, value = parse_contact((tracker.latest_message or {}).get("text"))
        if kind == "account":
            return value
        if kind != "phone":
            value = known_account(tracker)
            if value:
                return value
            value = tracker.get_slot("phone")
            if not value:
                return None
        customers = await client.identify(phone=value)
        return customers[0]["account_no"] if customers else None
