"""Knowledge questions through the gateway: real Rasa, real action server, real API and index."""
from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict]) -> list[dict]:
    return [b for m in messages for b in m.get("buttons") or []]


def test_a_tariff_question_is_answered_with_its_source_and_the_feedback_is_stored(stack):
    sender = f"e2e-kb-{uuid.uuid4().hex[:8]}"
    reply = stack.say(sender, "峰谷电价的时段是怎么划分的？谷电几点开始")
    answer = texts(reply)
    assert "22:00" in answer and "0.2486" in answer
    assert "——来源：《居民峰谷分时电价的时段和价格》" in answer
    assert [b["title"] for b in buttons(reply)] == ["有帮助", "没解决", "转人工"]

    thanks = texts(stack.say(sender, "/kb_helpful"))  # the 有帮助 button
    assert thanks.startswith("感谢您的反馈")
    article = stack.http.get("/api/kb/articles/price-tou-periods-prices").json()
    assert article["feedback"]["helpful"] == 1


def test_an_unsure_answer_offers_topics_and_a_topic_button_answers_it(stack):
    sender = f"e2e-kb-{uuid.uuid4().hex[:8]}"
    reply = stack.say(sender, "电力市场化交易怎么参加")  # no article covers it
    assert "不太确定" in texts(reply) or "没有找到" in texts(reply)
    assert buttons(reply)[-1]["title"] == "转人工"
    answer = texts(stack.say(sender, '/faq{"kb_article":"out-low-voltage"}'))
    assert "——来源：《电压偏低、电压不稳怎么办》" in answer
