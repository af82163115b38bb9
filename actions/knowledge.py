"""Answers from the knowledge base: the faq intent, NLU fallback, and 有帮助 / 没解决 feedback.

What the intents do not cover, or cover with too little confidence, is looked up in the knowledge
base first: a confident article is answered; otherwise a likely intent is asked about, then the
closest articles are offered. Input that says nothing ("!!!") gets a plain "没太看懂" and what the
bot can do — never a search, never "busy".

Answers are worded for a chat: the article's lists as lines, no Markdown markers, and the regional
disclaimer once per conversation, with the first answer that quotes figures.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ZhidianClient
from actions.common import API_DOWN, INTENT_TITLES, latest_entity, normalize, readable
from actions.fallback import previous_bot_action, top_intents

HUMAN = {"title": "转人工", "payload": "/request_human"}
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/kb_helpful"},
    {"title": "没解决", "payload": "/kb_not_helpful"},
    HUMAN,
]
# A fallback whose likeliest real intent is at least this sure is asked about ("您是想…？")
# when the knowledge base has no confident answer: "查一下上个月的" is a bill query.
INTENT_CLARIFY_MIN = 0.3
TOPICS_OFFERED = 3
NOT_UNDERSTOOD = ("抱歉，我没太看懂您发的内容。我是供电服务助手，可以帮您：查电费、余额和用电量，"
                  "报停电故障和安全隐患，查停电通知和工单进度，咨询用电业务。请用文字描述一下您的问题，"
                  "或者点下面的按钮。")
NOT_UNDERSTOOD_BUTTONS = [
    {"title": "报停电故障", "payload": "/report_outage"},
    {"title": "查电费账单", "payload": "/query_bill"},
    {"title": "查停电通知", "payload": "/query_outage_notice"},
    HUMAN,
]
_FIGURE = re.compile(r"\d")
# Slips customers make in this domain's words (same sound, other character) and dialect question
# words, put right before the knowledge base is asked again when it was not sure: the index knows
# 阶梯 and 怎么, not 阶体 and 咋 (on the calibration and dev questions the knowledge base was not
# sure of, 5 of the 6 it then answered were right).
TYPOS = {"阶体": "阶梯", "阶第": "阶梯", "电亮": "电量", "点费": "电费", "电废": "电费", "缴废": "缴费",
         "峰古": "峰谷", "风谷": "峰谷", "停店": "停电", "跳匝": "跳闸", "电匝": "电闸",
         "咋办": "怎么办", "咋整": "怎么办", "咋": "怎么", "啥": "什么", "一哈": "一下"}
# A later clause that asks ("…走得太快了，想申请校验电表"): what the customer wants to know. Asked on
# its own when the whole question was not answered, and answered only when its article is also
# among the whole question's closest ones.
_ASKING_CLAUSE = re.compile(r"^我?(?:想申请|想问|想了解|想知道|想办|请问|怎么|如何|能不能|可不可以)")
# A household voltage the customer read ("电压只有180V", "190伏"): 220 V single phase may deviate
# +7 % / −10 % (GB/T 12325), i.e. 198–235 V.
_VOLTS = re.compile(r"(?<!\d)(\d{2,3}(?:\.\d)?)\s*(?:V|v|伏|福)(?![A-Za-z])")
VOLTAGE_RANGE = (198, 235)
LOW_VOLTAGE_ARTICLE = "out-low-voltage"
_HEADING = re.compile(r"^([^：；。:;，,]{1,12})[：；:;]\s*")


def chat_text(answer: str) -> str:
    """An article's short answer as chat text: sections on their own lines, lists as lines.

    The knowledge base flattens an article into one line: a bold heading leaves a '*' in front
    of it and list items end in '；'. Here a '*' starts a section, a short text before its first
    '：/；' is the section's heading, and a section of several '；' items is shown as a list.
    Text that already has line breaks keeps them.
    """
    lines: list[str] = []
    for number, section in enumerate(re.split(r"\s*\*+\s*|\n{2,}", answer.replace("**", ""))):
        section = section.strip()
        if not section:
            continue
        heading = _HEADING.match(section) if number else None
        if heading:
            section = section[heading.end():]
            if section.strip():
                lines.append(heading.group(1) + "：")
        for row, line in enumerate(section.split("\n")):
            items = [i.strip() for i in re.split(r"[；;]", line) if i.strip()]
            if len(items) < 2:
                lines += items
                continue
            lead, colon, first = items[0].partition("：")
            if colon and len(lead) >= 6 and first and not heading and row == 0:
                lines.append(lead + "：")
                items[0] = first
            lines += [f"· {item}" for item in items]
    return "\n".join(lines) or answer


def answer_text(article: dict[str, Any], *, with_notice: bool = True) -> str:
    """The chat answer, then the source (and the regional notice, when asked for and it has one)."""
    text = f"{chat_text(article['answer'])}\n——来源：《{article['title']}》"
    if with_notice and article.get("notice"):
        text += f"\n（{article['notice']}）"
    return text


def needs_notice(tracker: Tracker, article: dict[str, Any]) -> bool:
    """The regional disclaimer: with the first answer of the conversation that quotes figures."""
    return (bool(article.get("notice")) and not tracker.get_slot("kb_notice_shown")
            and bool(_FIGURE.search(article.get("answer") or "")))


def corrected(text: str) -> str:
    """The question with the domain's common typos put right (TYPOS)."""
    for wrong, right in TYPOS.items():
        text = text.replace(wrong, right)
    return text


_QUESTION = re.compile(r"[?？]|吗|么|呢|咋|啥|什么|怎|如何|为何|为啥|多少|多久|几[点时天个]|能不能|可不可以|是不是|有没有")


def describes_the_problem(tracker: Tracker, text: str) -> bool:
    """A statement, not a question, where the fault report asked what is wrong."""
    return ((tracker.active_loop or {}).get("name") == "fault_report_form"
            and tracker.get_slot("requested_slot") == "fault_description"
            and len(text) >= 2 and not _QUESTION.search(text) and not text.startswith("/"))


def asking_clause(text: str) -> str | None:
    """The clause after the first that asks something, in a question of several clauses."""
    parts = [p for p in re.split(r"[，,。；;！!？?\s]+", text) if len(p) >= 4]
    return next((p for p in parts[1:] if _ASKING_CLAUSE.match(p)), None) if len(parts) >= 2 else None


async def search_kb(client: ZhidianClient, text: str) -> dict[str, Any]:
    """The knowledge base's answer to ``text``; when it is not sure, to the question with typos and
    dialect words put right, then to its asking clause (kept only when it agrees with the whole)."""
    result = await client.kb_search(text, k=TOPICS_OFFERED)
    if result.get("answerable"):
        return result
    if corrected(text) != text:
        again = await client.kb_search(corrected(text), k=TOPICS_OFFERED)
        if again.get("answerable"):
            return again
    clause = asking_clause(text)
    if clause:
        closest = {h.get("article_id") for h in result.get("hits") or []}
        asked = await client.kb_search(clause, k=TOPICS_OFFERED)
        hits = asked.get("hits") or []
        if asked.get("answerable") and hits and hits[0].get("article_id") in closest:
            return asked
    return result


def stated_voltage(text: str) -> float | None:
    """The household voltage a question states ("我家电压只有180V正常吗"), if it talks of voltage."""
    match = _VOLTS.search(text)
    if not match or "电压" not in text and "伏" not in text and "V" not in text.upper():
        return None
    value = float(match.group(1))
    return value if 100 <= value <= 300 else None


def voltage_sentence(volts: float) -> str:
    """Whether a stated household voltage is within the national standard's range."""
    low, high = VOLTAGE_RANGE
    shown = f"{volts:g}伏"
    if volts < low:
        return (f"{shown}偏低了：居民单相供电的标准电压是220伏，国家标准允许的范围是{low}—{high}伏，"
                f"{shown}已经低于下限，属于电压偏低。需要派人上门测量处理的话，跟我说“报修”就行。")
    if volts > high:
        return (f"{shown}偏高了：居民单相供电的标准电压是220伏，国家标准允许的范围是{low}—{high}伏，"
                f"{shown}已经高于上限，属于电压偏高。需要派人上门测量处理的话，跟我说“报修”就行。")
    return f"{shown}是正常的：居民单相供电的标准电压是220伏，国家标准允许的范围是{low}—{high}伏。"


def clarifiable_intents(tracker: Tracker) -> list[str]:
    """Real intents (not faq) the NLU thought likely enough to ask about."""
    ranking = {r.get("name"): r.get("confidence") or 0 for r in
               (tracker.latest_message or {}).get("intent_ranking") or []}
    return [name for name in top_intents(tracker)
            if name != "faq" and ranking.get(name, 0) >= INTENT_CLARIFY_MIN]


# Articles whose matter the bot can register at once: the registration is offered beside the answer
# (outside a form, where the button would start another).
ARTICLE_OFFERS = {
    "meter-calibration-apply": {"title": "在线预约校表", "payload": '/start_application{"service_type":"校表"}'},
}


def answer(dispatcher: CollectingDispatcher, tracker: Tracker, article: dict[str, Any], *,
           query: str | None, buttons: list | None = None) -> list:
    """The answer with its source and the feedback buttons; the notice once per conversation."""
    article_id = article.get("article_id") or article.get("id")
    if buttons is None and article_id in ARTICLE_OFFERS and not (tracker.active_loop or {}).get("name"):
        buttons = [ARTICLE_OFFERS[article_id], *FEEDBACK_BUTTONS]
    notice = needs_notice(tracker, article)
    dispatcher.utter_message(text=answer_text(article, with_notice=notice),
                             buttons=buttons if buttons is not None else FEEDBACK_BUTTONS)
    events = [SlotSet("kb_article", article_id), SlotSet("kb_query", query)]
    return events + ([SlotSet("kb_notice_shown", True)] if notice else [])


async def kb_hits(text: str) -> dict[str, Any] | None:
    """The knowledge base's search result for ``text``; None when it cannot be reached."""
    try:
        return await search_kb(ZhidianClient(), text)
    except ApiError:
        return None


class ActionAnswerFaq(Action):
    """Answer from the best article; else ask about a likely intent; else offer the closest topics."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        chosen = latest_entity(tracker, "kb_article")
        text = normalize((tracker.latest_message or {}).get("text"))
        if not chosen and not readable(text):
            dispatcher.utter_message(text=NOT_UNDERSTOOD, buttons=NOT_UNDERSTOOD_BUTTONS)
            return []
        if describes_the_problem(tracker, text):
            # "电压只有180伏，热水器烧不热" at the report's description question is the description,
            # however much it reads like a knowledge topic.
            return [SlotSet("fault_description", text[:1000])]
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        result = None
        try:
            if chosen:  # a topic button: answer that article
                article = await client.kb_article(chosen)
                if article is not None:
                    return answer(dispatcher, tracker, article, query=tracker.get_slot("kb_query"))
            volts = stated_voltage(text)
            if volts is not None and not VOLTAGE_RANGE[0] <= volts <= VOLTAGE_RANGE[1]:
                # A reading outside the standard's range: say so, then how low voltage is handled.
                article = await client.kb_article(LOW_VOLTAGE_ARTICLE)
                if article is not None:
                    dispatcher.utter_message(text=voltage_sentence(volts))
                    return answer(dispatcher, tracker, article, query=text)
            result = await search_kb(client, text)
        except ApiError:
            if intent != "nlu_fallback":
                dispatcher.utter_message(text=API_DOWN, buttons=[HUMAN])
                return []
        hits = (result or {}).get("hits") or []
        if hits and result.get("answerable"):
            return answer(dispatcher, tracker, hits[0], query=text)
        if intent == "nlu_fallback":
            if previous_bot_action(tracker) == self.name() and tracker.get_slot("kb_article") is None:
                # The second question in a row nothing answered: what the bot can do, and a person.
                dispatcher.utter_message(response="utter_fallback_help")
                return [SlotSet("kb_query", text)]
            candidates = clarifiable_intents(tracker)
            if candidates:
                return self.clarify(dispatcher, candidates)
            if result is None:  # the knowledge base could not be asked
                dispatcher.utter_message(text=API_DOWN, buttons=[HUMAN])
                return []
        return self.not_sure(dispatcher, hits[:TOPICS_OFFERED], query=text)

    @staticmethod
    def not_sure(dispatcher: CollectingDispatcher, hits: list[dict[str, Any]], *, query: str) -> list:
        """Below the threshold: say so, offer the closest topics and a person."""
        buttons = [{"title": h["title"], "payload": f'/faq{{"kb_article":"{h["article_id"]}"}}'} for h in hits]
        if buttons:
            text = "这个问题我不太确定能答准。您想了解的是下面哪一项？都不是的话，可以换个说法再问我，或者转人工客服。"
        else:
            text = "这个问题我暂时没有找到答案。您可以换个说法再问我，或者转人工客服为您解答。"
        dispatcher.utter_message(text=text, buttons=buttons + [HUMAN])
        return [SlotSet("kb_article", None), SlotSet("kb_query", query)]

    @staticmethod
    def clarify(dispatcher: CollectingDispatcher, candidates: list[str]) -> list:
        """'您是想…？' for likely intents, with a way out."""
        buttons = [{"title": INTENT_TITLES[name], "payload": f"/{name}"} for name in candidates]
        buttons.append({"title": "都不是", "payload": "/deny"})
        options = "，还是".join(f"“{INTENT_TITLES[name]}”" for name in candidates)
        dispatcher.utter_message(text=f"抱歉，我不太确定您的意思。您是想{options}？", buttons=buttons)
        return [SlotSet("kb_article", None)]


class ActionRecordKbFeedback(Action):
    """有帮助 / 没解决 on the last answer: stored per article; 没解决 offers a person."""

    def name(self) -> Text:
        return "action_record_kb_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        helpful = ((tracker.latest_message or {}).get("intent") or {}).get("name") == "kb_helpful"
        article_id = tracker.get_slot("kb_article")
        if article_id:
            try:
                await ZhidianClient().kb_feedback(article_id=article_id, conversation_id=tracker.sender_id,
                                                  helpful=helpful, query=tracker.get_slot("kb_query"))
            except ApiError:
                pass  # the customer still gets a reply; the vote is lost, not the conversation
        if helpful:
            dispatcher.utter_message(text="感谢您的反馈，很高兴能帮到您！还有其他问题可以继续问我。")
        else:
            dispatcher.utter_message(
                text="抱歉没能解决您的问题。您可以换个说法再问我一次，或者转人工客服为您详细解答。", buttons=[HUMAN])
        return []
