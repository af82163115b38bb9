"""Ticket progress (工单进度): status, the last steps of the timeline, the arrival commitment.

A ticket's details are shown only to the customer it belongs to: the conversation that reported it
or the account verified in this conversation (the API's ``/for-customer`` view decides). Anyone
else learns only that the number exists and how to see it: verify the account that reported it,
or ask 95598 from the phone on file. Listing an account's tickets needs that account verified.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ZhidianClient
from actions.common import (
    API_DOWN,
    fmt_promise,
    fmt_time,
    latest_entity,
    normalize,
    parse_contact,
    verified_account,
)
from actions.faults import arrival_sentence
from api.core.ids import TICKET_NO
from api.core.vocabulary import BEFORE_ARRIVAL, DONE_STATUSES, ON_SITE_TYPES, status_told

# Timeline steps a customer is told about (internal ones — 退单, 升级, 时限预警 — are not shown).
ACTION_NAMES = {
    "创建": "工单已受理",
    "关联": "已并入区域抢修工单",
    "关联报修": "同一区域又有用户报修",
    "派单": "已派单给处理班组",
    "改派": "已改派其他班组处理",
    "接单": "处理人员已接单",
    "到达现场": "处理人员到达现场",
    "处理完成": "处理完成",
    "随主单办结": "随所并入的工单处理完成",
    "回访": "已完成回访",
    "关闭": "工单已办结",
    "挂起": "工单暂时挂起",
    "恢复": "工单恢复处理",
    "撤销": "工单已撤销",
}
# Notes shown with the step (others are internal: crew names on 派单, reasons on 改派 …).
NOTES_SHOWN = {"处理完成", "挂起", "撤销"}


def ticket_message(ticket: Dict[str, Any]) -> str:
    """Status, who is handling it and when they arrive, the customer-facing timeline, the commitment."""
    number = ticket.get("number", "")
    # a report attached to an area's or a station's ticket is worked through that one: its status and crew
    parent = ticket.get("parent") if str(ticket.get("status")) not in DONE_STATUSES else None
    worked = parent or ticket
    lines = [f"工单 {number}（{ticket.get('type') or '工单'}）当前状态：{status_told(worked.get('status'))}。"]
    if parent:
        lines[0] += f"您的报修已并入工单 {parent['number']} 一并处理。"
    created = ticket.get("created_at")
    if created:
        lines[0] += f"受理时间：{fmt_time(created)}。"
    crew = (worked.get("crew") or {}).get("name")
    status = str(worked.get("status"))
    if crew and status not in DONE_STATUSES:
        eta = worked.get("crew_eta")
        arriving = status in ("已派单", "已接单") and eta and ticket.get("type") in ON_SITE_TYPES
        lines.append(f"处理班组：{crew}" + (f"，预计{fmt_time(eta)}前到达" if arriving else "") + "。")
    shown = [e for e in ticket.get("events") or [] if str(e.get("action")) in ACTION_NAMES]
    if shown:
        lines.append("办理进展：")
        for event in shown[-5:]:
            action = str(event.get("action"))
            note = normalize(event.get("note")) if action in NOTES_SHOWN else ""
            text = ACTION_NAMES[action] + (f"：{note}" if note else "")
            lines.append(f"· {fmt_time(event.get('at'))} {text}")
    sla = ticket.get("sla")
    if status not in DONE_STATUSES and sla:
        if ticket.get("type") in ON_SITE_TYPES and status in BEFORE_ARRIVAL:
            lines.append("到场承诺：" + arrival_sentence(sla))
        elif ticket.get("type") not in ON_SITE_TYPES:
            lines.append(f"承诺时限：最迟{fmt_promise(sla.get('arrive_by'))}{sla.get('what') or '办结'}。")
    diagnosis = (ticket.get("diagnosis") or {}).get("summary")
    if diagnosis and ticket.get("type") in ON_SITE_TYPES:
        lines.append(f"初步判断：{diagnosis}")
    if status == "已处理" and not ticket.get("satisfaction"):
        lines.append("我们已通过短信邀请您评价本次服务，回复数字1—5即可（5为非常满意）。")
    return "\n".join(lines)


VERIFY_BUTTONS = [{"title": "核验户号", "payload": "/verify_identity"},
                  {"title": "转人工", "payload": "/request_human"}]


def not_yours_text(number: str) -> str:
    """The number exists, but its details are another conversation's or another account's."""
    return (f"工单 {number} 是存在的，但不是在当前对话中登记的。为保护客户信息，需要先核验报修时登记的户号"
            "（户号和登记手机号后四位），核验通过后我马上为您查询；也可以用登记的手机号拨打95598查询进度。")


NEEDS_VERIFICATION = ("为保护客户信息，按户号或手机号查询工单需要先核验身份（户号和登记手机号后四位），"
                      "核验通过后我马上为您查询。如果您有工单号，直接告诉我工单号也可以。")


def verify_then_answer(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                       events: List[Dict[Text, Any]] | None = None) -> List[Dict[Text, Any]]:
    """Say why verification is needed and start it (verify_form asks for what it still lacks).

    When verify_form completes, action_answer_verified_query answers the progress question; in the
    middle of a verification already running the form simply goes on asking.
    """
    dispatcher.utter_message(text=text)
    events = list(events or [])
    if (tracker.active_loop or {}).get("name") == "verify_form":
        return events
    return events + [SlotSet("verify_last4", None), FollowupAction("verify_form")]


class ActionQueryTicketStatus(Action):
    """By the ticket number given, else this conversation's ticket, else the verified account's latest."""

    def name(self) -> Text:
        return "action_query_ticket_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        number = self._ticket_number(tracker)
        kind, typed = parse_contact((tracker.latest_message or {}).get("text"))
        account = verified_account(tracker)
        if not number and (kind not in ("account", "phone") or (kind == "account" and typed == account)):
            number = self._session_ticket(tracker)
        try:
            if number:
                ticket = await client.ticket_for_customer(number, conversation_id=tracker.sender_id,
                                                          account_no=account)
                if ticket is None:
                    dispatcher.utter_message(
                        text=f"没有查到工单 {number}，请核对工单号（格式如 GD20261123-0042）。"
                    )
                    return []
                if not ticket.get("owned"):
                    if account:  # verified, but as another account than the one that reported it
                        dispatcher.utter_message(text=not_yours_text(number), buttons=VERIFY_BUTTONS[1:])
                        return [SlotSet("ticket_no", number)]
                    return verify_then_answer(dispatcher, tracker, not_yours_text(number),
                                              [SlotSet("ticket_no", number)])
                dispatcher.utter_message(text=ticket_message(ticket))
                return [SlotSet("ticket_no", number)]

            if not account or (kind == "account" and typed != account):
                if kind in ("account", "phone") or tracker.get_slot("account_no"):
                    events: List[Dict[Text, Any]] = []
                    if kind == "account":
                        # The 户号 just given is the one to verify (not an older or a verified other one).
                        events = [SlotSet("account_no", typed), SlotSet("verify_account", typed)]
                    return verify_then_answer(dispatcher, tracker, NEEDS_VERIFICATION, events)
                else:
                    dispatcher.utter_message(
                        text="请告诉我工单号（格式如 GD20261123-0042），我来帮您查进度；"
                        "按户号查询需要先核验身份。", buttons=VERIFY_BUTTONS)
                return []
            items = await client.list_tickets(account_no=account, limit=5)
            if not items:
                dispatcher.utter_message(text="这个户号下最近没有报修工单。如果需要报修，直接告诉我就行。")
                return []
            latest = await client.ticket_for_customer(items[0]["number"], conversation_id=tracker.sender_id,
                                                      account_no=account)
            ticket = latest if latest and latest.get("owned") else items[0]
            text = ticket_message(ticket)
            others = [i for i in items[1:] if str(i.get("status")) not in DONE_STATUSES]
            if others:
                text += "\n另有未办结的工单：" + "、".join(
                    f"{i['number']}（{status_told(i.get('status'))}）" for i in others
                )
            dispatcher.utter_message(text=text)
            return [SlotSet("ticket_no", ticket.get("number"))]
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []

    @staticmethod
    def _ticket_number(tracker: Tracker) -> Optional[str]:
        text = normalize((tracker.latest_message or {}).get("text"))
        match = TICKET_NO.search(text)
        entity = latest_entity(tracker, "ticket_no")
        value = entity or (match.group(0) if match else None)
        return value.upper() if value else None

    @staticmethod
    def _session_ticket(tracker: Tracker) -> Optional[str]:
        """The ticket last opened or asked about in this conversation."""
        for slot in ("ticket_no", "fault_ticket_no"):
            if tracker.get_slot(slot):
                return str(tracker.get_slot(slot)).upper()
        return None
