"""Handoff to a person, and the conversation while it waits for one.

While a conversation waits for an agent, the gateway sends the queue state with every message:
``metadata["queue"] = {"position", "expected_wait_minutes", "agents_online", "office_hours"}``
(absent when not waiting; position 1 is the next to be served, the wait may be None when it
cannot be estimated; see api/conversations/gateway.py). "还要等多久 / 有人吗 / 转人工" are then answered from it instead of
starting something new; any other question is still answered by the bot.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_metadata
from actions.tickets import ActionQueryTicketStatus

HANDOFF_TEXT = ("好的，正在为您转接人工客服，请稍候，人工客服接入后会继续为您处理。"
                "您也可以直接拨打95598供电服务热线。")
NOT_WAITING = ("您好，我在的。我是智能客服“智电”，请问有什么可以帮您？"
               "如果需要人工客服，说“转人工”就可以。")


def queue_state(tracker: Tracker) -> Dict[str, Any] | None:
    """The queue state of the latest message, or None when the conversation is not waiting."""
    queue = latest_metadata(tracker).get("queue")
    return queue if isinstance(queue, dict) else None


def _count(value: Any) -> int | None:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return None


def _office_hours(value: Any) -> tuple[bool | None, str]:
    """(open now or None when unknown, the hours as text if given): a bool, a text or {open, text}."""
    if isinstance(value, bool):
        return value, ""
    if isinstance(value, dict):
        is_open = value.get("open", value.get("is_open"))
        text = str(value.get("text") or value.get("hours") or "")
        return (bool(is_open) if is_open is not None else None), text
    if isinstance(value, str):
        return None, value
    return None, ""


def queue_text(queue: Dict[str, Any]) -> str:
    """'还在为您排队，您前面还有2位，预计还需等待约6分钟。…' — or why nobody can come now."""
    position = _count(queue.get("position"))
    ahead = max(position - 1, 0) if position is not None else None  # position 1 = next
    wait = _count(queue.get("expected_wait_minutes"))
    online = _count(queue.get("agents_online"))
    is_open, hours = _office_hours(queue.get("office_hours"))
    hours_note = f"（人工客服服务时间：{hours}）" if hours else ""
    if is_open is False:
        head = f"现在是人工客服的非工作时间{hours_note}，暂时没有客服可以接入，您的会话仍在排队。"
    elif online == 0:
        head = "目前人工客服都不在线，您的会话仍在排队，客服上线后按顺序接入。"
    else:
        if ahead:
            head = f"还在为您排队，您前面还有{ahead}位"
        else:
            head = "还在为您排队，马上就轮到您了"
        head += f"，预计还需等待约{wait}分钟。" if wait else "。"
    return (head + "排队期间您有其他问题也可以继续问我，我会先为您解答；"
            "情况紧急请直接拨打95598供电服务热线。")


def utter_queue(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Say where the customer stands in the queue; False when the conversation is not waiting."""
    queue = queue_state(tracker)
    if queue is not None:
        dispatcher.utter_message(text=queue_text(queue))
    return queue is not None


class ActionRequestHuman(Action):
    """Tells the API gateway a person is wanted (a custom payload it reads from the reply).

    Already waiting: where the customer stands in the queue, and no second request.
    """

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if utter_queue(dispatcher, tracker):
            return []
        dispatcher.utter_message(text=HANDOFF_TEXT)
        dispatcher.utter_message(json_message={"handoff": True, "reason": "request_human"})
        return [SlotSet("handoff_requested", True)]


class ActionAnswerWait(Action):
    """'还要等多久 / 人工客服呢': the queue while waiting for a person; after a report in this
    conversation, its progress (the crew's arrival); otherwise that the bot is here."""

    def name(self) -> Text:
        return "action_answer_wait"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if utter_queue(dispatcher, tracker):
            return []
        if tracker.get_slot("ticket_no") or tracker.get_slot("fault_ticket_no"):
            return await ActionQueryTicketStatus().run(dispatcher, tracker, domain)
        dispatcher.utter_message(text=NOT_WAITING)
        return []
