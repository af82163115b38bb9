"""Knowledge answers in the dialogue: faq, fallback, topic buttons, feedback — against the real API."""
from __future__ import annotations

import httpx
import pytest

from actions.common import API_DOWN
from actions.knowledge import ActionAnswerFaq, ActionRecordKbFeedback
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn


@pytest.fixture
def kb_home(built_kb):
    """The API of these tests serves the session's knowledge base (read only)."""
    return built_kb.kb_dir


def faq(text: str, intent: str = "faq", **kwargs):
    return user_turn(snapshot("idle_unverified"), text, intent, **kwargs)


def test_a_tariff_question_is_answered_with_its_source_and_feedback_buttons(api):
    messages, events = run(run_action(ActionAnswerFaq(), faq("峰谷电价的高峰和低谷是几点到几点？")))
    assert len(messages) == 1
    text = messages[0]["text"]
    assert "22:00" in text and "——来源：《居民峰谷分时电价的时段和价格》" in text
    assert "演示地区数值" in text  # the regional notice travels with the figures
    assert [b["title"] for b in messages[0]["buttons"]] == ["有帮助", "没解决", "转人工"]
    assert slot_events(events) == {"kb_article": "price-tou-periods-prices",
                                   "kb_query": "峰谷电价的高峰和低谷是几点到几点？", "kb_notice_shown": True}


def test_below_the_threshold_it_says_so_and_offers_the_closest_topics_and_a_person(api):
    messages, events = run(run_action(ActionAnswerFaq(), faq("变压器嗡嗡响吵得睡不着，有没有辐射")))
    assert messages[0]["text"].startswith("这个问题我不太确定能答准")
    buttons = messages[0]["buttons"]
    assert len(buttons) == 4 and buttons[-1] == {"title": "转人工", "payload": "/request_human"}
    assert all(b["payload"].startswith('/faq{"kb_article":"') for b in buttons[:3])
    assert slot_events(events)["kb_article"] is None


def test_a_topic_button_answers_that_article(api):
    state = faq('/faq{"kb_article":"biz-pv-settlement"}',
                entities=[{"entity": "kb_article", "value": "biz-pv-settlement"}])
    messages, events = run(run_action(ActionAnswerFaq(), state))
    assert "——来源：《光伏上网电费怎么结算、多久到账》" in messages[0]["text"]
    assert slot_events(events)["kb_article"] == "biz-pv-settlement"


def test_a_fallback_that_looks_like_a_bill_query_is_asked_about_when_the_kb_has_no_answer(api_down):
    state = faq("上个月那个查下", "nlu_fallback",
                ranking=[("nlu_fallback", 0.45), ("query_bill", 0.4), ("faq", 0.1)])
    messages, _ = run(run_action(ActionAnswerFaq(), state))
    assert messages[0]["text"] == "抱歉，我不太确定您的意思。您是想“查电费账单”？"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/query_bill", "/deny"]


def test_a_fallback_without_a_likely_intent_is_searched(api):
    state = faq("光伏板发的电卖给电网的钱多久打到卡上", "nlu_fallback",
                ranking=[("nlu_fallback", 0.45), ("faq", 0.2), ("query_bill", 0.1)])
    messages, _ = run(run_action(ActionAnswerFaq(), state))
    assert "来源：《光伏上网电费怎么结算、多久到账》" in texts(messages) or "光伏" in str(messages[0]["buttons"])


def test_a_second_fallback_in_a_row_gives_the_help_text(api_down):
    state = faq("嗯那个", "nlu_fallback", ranking=[("nlu_fallback", 0.45), ("greet", 0.2)])
    state["events"] += [{"event": "action", "name": "action_answer_faq"},
                        {"event": "bot", "text": "这个问题我不太确定能答准…"},
                        {"event": "action", "name": "action_listen"}]
    state = user_turn(state, "就那个啊", "nlu_fallback", ranking=[("nlu_fallback", 0.45), ("greet", 0.2)])
    messages, _ = run(run_action(ActionAnswerFaq(), state))
    assert messages[0]["response"] == "utter_fallback_help"


def test_when_the_api_is_down_the_customer_is_told_calmly(api_down):
    messages, _ = run(run_action(ActionAnswerFaq(), faq("电费发票怎么开")))
    assert messages[0]["text"] == API_DOWN


def article_feedback(api, article_id: str) -> dict:
    return httpx.get(f"{api.url}/api/kb/articles/{article_id}").json()["feedback"]


def test_helpful_and_not_helpful_are_stored_for_the_article(api):
    state = user_turn(snapshot("idle_unverified", kb_article="price-einvoice-how", kb_query="发票怎么开"),
                      "有帮助", "kb_helpful")
    messages, _ = run(run_action(ActionRecordKbFeedback(), state))
    assert messages[0]["text"].startswith("感谢您的反馈")
    assert article_feedback(api, "price-einvoice-how") == {"helpful": 1, "not_helpful": 0}

    state = user_turn(state, "没解决", "kb_not_helpful")
    messages, _ = run(run_action(ActionRecordKbFeedback(), state))
    assert messages[0]["text"].startswith("抱歉没能解决您的问题")
    assert messages[0]["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    # same conversation, same article: the vote changed, nothing was added
    assert article_feedback(api, "price-einvoice-how") == {"helpful": 0, "not_helpful": 1}
