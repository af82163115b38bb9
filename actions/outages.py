"""Area outages and planned outage notices (停电通知)."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ZhidianClient
from actions.common import API_DOWN, fmt_span, known_account, latest_entity
from api.core.ids import DISTRICT_NAMES

DISTRICT_BUTTONS = [
    {"title": d, "payload": f'/inform{{"district":"{d}"}}'} for d in DISTRICT_NAMES
]


def outage_message(data: Dict[str, Any], where: str) -> str:
    """Current area outage + planned outages, times in Beijing time."""
    lines: List[str] = []
    area = data.get("area_outage")
    if area:
        name = area.get("area_name") or area.get("district") or where
        if data.get("area_outage_planned"):
            # Dark because of planned work in progress: no repair crew is at work, none is needed.
            lines.append(f"{name}目前正在按计划停电检修，这次停电不是故障，不需要报修，检修结束后会恢复供电。")
        else:
            lines.append(
                f"{name}目前有区域性停电，抢修人员正在全力处理，请您耐心等待，不需要重复报修。"
            )
    planned = data.get("planned") or []
    if planned:
        lines.append(f"{where}近期的计划停电安排：")
        for i, notice in enumerate(planned[:3], 1):
            reason = f"，原因：{notice['reason']}" if notice.get("reason") else ""
            lines.append(
                f"{i}. {fmt_span(notice.get('start_at'), notice.get('end_at'))}，"
                f"范围：{notice.get('scope', '')}{reason}（通知编号{notice.get('notice_no', '')}）"
            )
        if len(planned) > 3:
            lines.append(f"另有{len(planned) - 3}条通知，可在网上国网App“停电信息”里查看全部。")
        lines.append("停电期间请关闭大功率电器，来电后再逐一打开。")
    elif not area:
        lines.append(f"{where}目前没有区域停电，近期也没有计划停电安排。")
        lines.append("如果您家现在没电，可以直接对我说“报修停电”。")
    return "\n".join(lines)


class ActionQueryOutageNotice(Action):
    """Answers for the district just named, else the customer's account, else asks."""

    def name(self) -> Text:
        return "action_query_outage_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        district = latest_entity(tracker, "district")
        account = None if district else (latest_entity(tracker, "account_no") or known_account(tracker))
        if not district and not account:
            district = tracker.get_slot("district")
        if not district and not account:
            dispatcher.utter_message(
                text="请告诉我您的10位户号，或者您所在的区县，我来查停电信息。",
                buttons=DISTRICT_BUTTONS,
            )
            return []
        try:
            data = await ZhidianClient().outages(account_no=account, district=district)
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []
        where = district or "您所在的区域"
        dispatcher.utter_message(text=outage_message(data, where))
        return [SlotSet("district", district)] if district else []
