"""Handoff and business applications."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_entity



class ActionRequestHuman(Action):
    """Tells the API gateway a person is wanted (a custom payload it reads from the REST reply)."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(json_message={"handoff": True, "reason": "request_human"})
        return [SlotSet("handoff_requested", True)]


SERVICES = {
    "新装": ("新装用电", "户主身份证、房产证明（房产证、购房合同或宅基地证明）"),
    "增容": ("增容", "户主身份证、房产证明，以及需要增加的用电容量和主要用电设备清单"),
    "减容": ("减容", "户主身份证、户号，以及减容后的容量"),
    "过户": ("过户（更名）", "新户主身份证、房产证明（房产证或购房合同），原户主须结清电费"),
    "销户": ("销户", "户主身份证、户号，须先结清全部电费"),
    "峰谷电": ("峰谷分时电价", "户主身份证、户号（通常需要具备分时计量的智能电表，不需要另外准备材料）"),
    "暂停": ("暂停用电", "户主身份证、户号，以及暂停的起止时间"),
    "改类": ("用电类别变更", "户主身份证、房产证明和变更后的用电性质说明（如营业执照）"),
    "光伏并网": ("分布式光伏并网", "户主身份证、房产证明，以及光伏组件和逆变器的技术参数"),
    "充电桩报装": ("家用充电桩报装", "户主身份证、车位产权或使用证明、物业同意安装的证明、购车合同"),
}


class ActionApplyService(Action):
    """Where to apply and what to bring, for the recognised service type."""

    def name(self) -> Text:
        return "action_apply_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        service = latest_entity(tracker, "service_type") or tracker.get_slot("service_type")
        known = SERVICES.get(service or "")
        if known:
            name, materials = known
            text = (
                f"办理{name}有两种方式：\n"
                f"1. 网上国网App：首页“办电”里选择“{name}”，按提示填写信息、上传材料照片即可，进度可在App里随时查看；\n"
                f"2. 到就近的供电营业厅办理。\n"
                f"需要准备：{materials}。\n"
                "受理后工作人员会联系您确认现场勘查时间；有疑问可以拨打95598。"
            )
        else:
            text = (
                "用电业务（新装、增容、过户、销户、峰谷电、光伏并网、充电桩报装等）都可以在网上国网App首页“办电”里在线办理，"
                "也可以到就近的供电营业厅办理。一般需要准备户主身份证和房产证明（房产证或购房合同）。"
                "请问您想办理哪一项？告诉我业务名称，我把具体材料告诉您。"
            )
        if (tracker.active_loop or {}).get("name"):
            # Asked in the middle of a form: answer only, the form goes on.
            dispatcher.utter_message(text=text)
        else:
            dispatcher.utter_message(
                text=text + "\n不方便跑营业厅的话，点“在线登记申请”，我现在就帮您登记，"
                "工作人员会联系您确认上门时间。",
                buttons=[{"title": "在线登记申请", "payload": "/start_application"}],
            )
        return []
