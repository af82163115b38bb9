"""Answers from the knowledge base: the faq intent, NLU fallback, and 有帮助 / 没解决 feedback."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ZhidianClient
from actions.common import API_DOWN, INTENT_TITLES, latest_entity, normalize
from actions.fallback import previous_bot_action, top_intents

HUMAN = {"title": "转人工", "payload": "/request_human"}
FEEDBACK_BUTTONS = [
    {"title": "有帮助", "payload": "/kb_helpful"},
    {"title": "没解决", "payload": "/kb_not_helpful"},
    HUMAN,
]
# A fallback whose likeliest real intent is at least this sure is asked about ("您是想…？")
# instead of being searched: "查一下上个月的" is a bill query, not a knowledge question.
INTENT_CLARIFY_MIN = 0.3


def answer_text(article: dict[str, Any]) -> str:
    """Short answer, then the source (and the regional notice when the article quotes figures)."""
    text = f"{article['answer']}\n——来源：《{article['title']}》"
    if article.get("notice"):
        text += f"\n（{article['notice']}）"
    return text


def clarifiable_intents(tracker: Tracker) -> list[str]:
    """Real intents (not faq) the NLU thought likely enough to ask about."""
    ranking = {r.get("name"): r.get("confidence") or 0 for r in
               (tracker.latest_message or {}).get("intent_ranking") or []}
    return [name for name in top_intents(tracker) if name != "faq" and ranking.get(name, 0) >= INTENT_CLARIFY_MIN]


class ActionAnswerFaq(Action):
    """Answer from the best article, or say we're not sure and offer the two closest topics."""

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        chosen = latest_entity(tracker, "kb_article")
        text = normalize((tracker.latest_message or {}).get("text"))
        try:
            if chosen:  # a topic button: answer that article
                article = await client.kb_article(chosen)
                if article is not None:
                    return self.answer(dispatcher, article, query=tracker.get_slot("kb_query"))
            intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
            if intent == "nlu_fallback":
                if previous_bot_action(tracker) == self.name() and tracker.get_slot("kb_article") is None:
                    dispatcher.utter_message(response="utter_fallback_help")
                    return []
                candidates = clarifiable_intents(tracker)
                if candidates:
                    return self.clarify(dispatcher, candidates)
            result = await client.kb_search(text, k=3)
        except ApiError:
            dispatcher.utter_message(text=API_DOWN, buttons=[HUMAN])
            return []
        hits = result.get("hits") or []
        if hits and result.get("answerable"):
            return self.answer(dispatcher, hits[0], query=text)
        return self.not_sure(dispatcher, hits[:2], query=text)

    @staticmethod
    def answer(dispatcher: CollectingDispatcher, article: dict[str, Any], *, query: str | None) -> list:
        """The answer with its source, and the three feedback buttons."""
        article_id = article.get("article_id") or article.get("id")
        dispatcher.utter_message(text=answer_text(article), buttons=FEEDBACK_BUTTONS)
        return [SlotSet("kb_article", article_id), SlotSet("kb_query", query)]

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
