"""Answers fit for customers and questions routed to what we know (issue 12).

Knowledge answers as chat text (no '*' markers, lists as lines), the regional disclaimer once per
conversation, the knowledge base asked before "不太确定", unreadable input answered with what the
bot can do, no figure repeated in the savings advice, one number per report.
"""
from __future__ import annotations

import re

import pytest

from actions.applications import ActionApplyService
from actions.billing import ActionEnergyAdvice, ActionExplainBillIncrease, ActionQueryUsage
from actions.common import drop_said_figures, fmt_promise, readable
from actions.knowledge import NOT_UNDERSTOOD, ActionAnswerFaq, chat_text
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn


@pytest.fixture
def kb_home(built_kb):
    """The API of these tests serves the session's knowledge base (read only)."""
    return built_kb.kb_dir


def faq(text: str, intent: str = "faq", **kwargs):
    return user_turn(snapshot("idle_unverified"), text, intent, **kwargs)


# ---------------------------------------------------------------- wording, no API
FLAT = ("经营场所停止经营、恢复为居民生活用途的，可以申请把用电类别改为居民生活用电，核实后执行居民电价。"
        "*条件；房屋实际用于居民生活，已停止经营活动；房屋为住宅性质；结清此前全部电费。"
        "*材料；户主身份证、房屋产权证明；必要时签署如实用电承诺书。")


def test_a_flattened_article_becomes_sections_and_lists_without_markers():
    text = chat_text(FLAT)
    assert "*" not in text and "；" not in text
    assert text.split("\n") == [
        "经营场所停止经营、恢复为居民生活用途的，可以申请把用电类别改为居民生活用电，核实后执行居民电价。",
        "条件：", "· 房屋实际用于居民生活，已停止经营活动", "· 房屋为住宅性质", "· 结清此前全部电费。",
        "材料：", "· 户主身份证、房屋产权证明", "· 必要时签署如实用电承诺书。",
    ]


def test_a_list_after_a_lead_sentence_is_split_from_it():
    text = chat_text("可以在支付宝中交电费，步骤如下：打开支付宝；输入户号；付款。")
    assert text.split("\n") == ["可以在支付宝中交电费，步骤如下：", "· 打开支付宝", "· 输入户号", "· 付款。"]


def test_plain_text_and_text_with_line_breaks_are_kept():
    assert chat_text("电量突然增加，多数与季节有关。") == "电量突然增加，多数与季节有关。"
    assert chat_text("第一行\n第二行") == "第一行\n第二行"


@pytest.mark.parametrize(("text", "ok"), [("!!!", False), ("<script>", False), ("\u200b\u200b", False),
                                          ("😀😀", False), ("。。。", False), ("asdf", True), ("停电", True),
                                          ("１２３", True)])
def test_readable(text, ok):
    assert readable(text) is ok


def test_unreadable_input_gets_what_the_bot_can_do_without_asking_anyone(api_down):
    """The issue: '!!!', '<script>' and zero-width spaces were answered "系统繁忙"."""
    for text in ("!!!", "<script>", "\u200b\u200b"):
        messages, _ = run(run_action(ActionAnswerFaq(), faq(text, "nlu_fallback")))
        assert messages[0]["text"] == NOT_UNDERSTOOD
        assert "繁忙" not in texts(messages)
        assert {"title": "转人工", "payload": "/request_human"} in messages[0]["buttons"]


def test_figures_said_once():
    said = "5. 您家日均用电4.4千瓦时，比本台区同类用户的中位数3.1千瓦时高40%。"
    analysis = ("近30天日均用电4.4千瓦时，一天中20点到21点用电最多（平均0.42千瓦），属于晚高峰型；"
                "您近30天日均用电4.4千瓦时，本台区12户同类居民用户日均用电的中位数是3.1千瓦时，"
                "您比其中83%的用户用电多。")
    kept = drop_said_figures(analysis, said)
    assert "4.4千瓦时" not in kept and "3.1千瓦时" not in kept
    assert "0.42千瓦" in kept and "83%" in kept and "晚高峰型" in kept
    assert drop_said_figures(analysis, "").count("4.4千瓦时") == 1


@pytest.mark.parametrize(("deadline", "promise"), [
    ("2026-12-07T15:13:00+00:00", "12月7日（周一）"),  # 23:13 Beijing time: the day, not the minute
    ("2026-12-08T01:30:00+00:00", "12月8日（周二）上午"),
    ("2026-12-08T09:30:00+00:00", "12月8日（周二）下班前"),
    ("2026-12-08T20:00:00+00:00", "12月8日（周二）"),  # 04:00 on the 9th: promised for the day before
])
def test_promised_times_are_worded_as_a_person_would(deadline, promise):
    assert fmt_promise(deadline) == promise


# ---------------------------------------------------------------- with the real API
def test_the_regional_notice_is_shown_once_per_conversation(api):
    first, events = run(run_action(ActionAnswerFaq(), faq("峰谷电价的时段是怎么划分的")))
    assert "演示地区数值" in texts(first) and slot_events(events)["kb_notice_shown"] is True
    state = faq('/faq{"kb_article":"price-tou-periods-prices"}',
                entities=[{"entity": "kb_article", "value": "price-tou-periods-prices"}])
    state["slots"]["kb_notice_shown"] = True
    again, events = run(run_action(ActionAnswerFaq(), state))
    assert "——来源" in texts(again) and "演示地区数值" not in texts(again)
    assert "kb_notice_shown" not in slot_events(events)


def test_a_knowledge_answer_has_no_markdown_markers(api):
    messages, _ = run(run_action(ActionAnswerFaq(), faq("电价调整在哪里公布")))
    assert "*" not in texts(messages) and "——来源" in texts(messages)


def test_a_low_confidence_question_the_kb_answers_is_answered_before_asking_about_intents(api):
    """The KB first: a confident article wins over "您是想'查电费账单'？"."""
    state = faq("峰谷电价的时段是怎么划分的", "nlu_fallback",
                ranking=[("nlu_fallback", 0.45), ("query_bill", 0.4), ("faq", 0.1)])
    messages, _ = run(run_action(ActionAnswerFaq(), state))
    assert "——来源：《居民峰谷分时电价的时段和价格》" in texts(messages)
    assert "不太确定" not in texts(messages)


def test_an_application_the_forms_do_not_register_is_looked_up(api):
    state = faq("我想申请校表", "apply_service")
    messages, _ = run(run_action(ActionApplyService(), state))
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    # Answered from the knowledge base, or offered its articles: not only the generic list.
    assert "——来源" in texts(messages) or any("kb_article" in p for p in payloads)


@pytest.mark.parametrize("action", [ActionEnergyAdvice, ActionQueryUsage])
def test_advice_and_usage_say_each_figure_once(action, api, showcase):
    """The issue: the savings advice repeated 日均4.4千瓦时 four times (tips, summary, comparison)."""
    account, _ = showcase["normal"]
    state = snapshot("idle_unverified", verified=True, verified_account=account, account_no=account)
    messages, _ = run(run_action(action(), state))
    said = "".join(m.get("text") or "" for m in messages)
    energy = re.findall(r"(?<![\d.])\d+(?:\.\d+)?千瓦时?", said)
    assert energy and len(energy) == len(set(energy)), said


# ---------------------------------------------------------------- issue 14: a high bill, the 校表 article
def test_a_high_bill_not_verified_gets_the_article_then_the_verification(api):
    messages, events = run(run_action(ActionExplainBillIncrease(), faq("这个月电费突然很高，是不是电表有问题",
                                                                       "ask_bill_increase")))
    text = texts(messages)
    assert re.search(r"——来源：《(电费突然变高的原因和排查方法|怀疑电表走得快，可以先这样自查)》", text), text
    assert "核验" in text
    assert not [b for m in messages for b in m.get("buttons") or []]  # no feedback buttons before it
    assert slot_events(events)["verify_last4"] is None


def test_the_calibration_article_offers_to_register_it(api):
    state = faq('/faq{"kb_article":"meter-calibration-apply"}',
                entities=[{"entity": "kb_article", "value": "meter-calibration-apply"}])
    messages, _ = run(run_action(ActionAnswerFaq(), state))
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert "——来源：《申请电表校验的流程》" in texts(messages)
    assert payloads == ['/start_application{"service_type":"校表"}', "/kb_helpful", "/kb_not_helpful",
                        "/request_human"]
