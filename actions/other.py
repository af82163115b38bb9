"""Handoff, general questions, business applications."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_entity, normalize

HUMAN_BUTTON = [{"title": "转人工", "payload": "/request_human"}]


class ActionRequestHuman(Action):
    """Tells the API gateway a person is wanted (a custom payload it reads from the REST reply)."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(json_message={"handoff": True, "reason": "request_human"})
        return [SlotSet("handoff_requested", True)]


# Short, safe answers for the commonest questions until the knowledge base answers them.
FAQ = [
    (("阶梯", "电价", "多少钱一度", "一度电"),
     "居民生活用电实行阶梯电价，按年度累计用电量分档计价；开通峰谷分时电价后，低谷时段更便宜。"
     "具体标准以宁夏发展改革委公布的电价为准，您可以在网上国网App“电价标准”里查看本户适用的电价。"),
    (("发票",),
     "电费发票可以在网上国网App“电费发票”里申请和下载电子发票，也可以带上户号到营业厅打印。"),
    (("电表", "走得快", "表快", "校验", "计量"),
     "如果怀疑电表走得快，可以先关掉家里所有电器，看电表指示灯是否还在闪；仍在闪可能是线路漏电。"
     "也可以申请电能表校验：在网上国网App提交“计量装置校验”或拨打95598，工作人员会上门检定。"),
    (("跳闸", "空开", "漏保"),
     "家里跳闸时，先关掉大功率电器，再把总开关合上；如果反复跳闸，可能是某个电器或线路漏电、短路，"
     "请逐个断开支路排查，必要时请电工检修。如果是表箱里的供电公司开关跳闸或整栋楼没电，可以直接对我说“报修停电”。"),
    (("过户", "更名", "改名"),
     "过户（更名）需要新户主身份证、房产证明（房产证或购房合同），在网上国网App“更名过户”提交或到营业厅办理，一般需结清电费。"),
    (("停电补偿", "赔偿", "电器坏"),
     "如果因为供电原因导致家用电器损坏，请保留损坏的电器和购买凭证，在7日内拨打95598或到营业厅申请，我们会安排人员核实处理。"),
]

GENERIC_FAQ = (
    "这个问题我先给您一些通用的指引：大部分用电业务和常见问题都可以在网上国网App的“服务”和“帮助中心”里查到，"
    "您也可以拨打95598供电服务热线咨询。需要的话，我可以帮您转人工客服详细解答。"
)

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


class ActionAnswerFaq(Action):
    """A helpful first answer; the knowledge base takes over in a later release."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        text = normalize((tracker.latest_message or {}).get("text"))
        for keywords, answer in FAQ:
            if any(k in text for k in keywords):
                dispatcher.utter_message(
                    text=answer + "\n还有不清楚的，可以拨打95598或转人工客服。", buttons=HUMAN_BUTTON
                )
                return []
        dispatcher.utter_message(text=GENERIC_FAQ, buttons=HUMAN_BUTTON)
        return []


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
        dispatcher.utter_message(text=text)
        return []
