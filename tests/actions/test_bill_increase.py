"""ask_bill_increase (issue 14): "电费怎么突然这么高 / 电表是不是不准" answered from the meter's evidence.

Verified: the last two bills, the last 30 days against the 30 before, when the power is used (the
consumption analysis) and the meter's own record (GET …/meter-check: 失压, 断相, 反向电量, hourly
completeness, voltage — never 开盖), then 预约校表 / 转人工 / 没问题了. Not verified: the general answer
from the knowledge base, then the verification; in the middle of a form: what is needed, later.
"""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from actions.applications import SERVICE_NOTES, application_confirmation, normalize_service
from actions.billing import (
    ActionAnswerVerifiedQuery,
    ActionExplainBillIncrease,
    bills_sentence,
    hours_text,
    meter_sentences,
    usage_sentence,
    when_sentences,
)
from actions.identity import ActionAskVerifyAccount
from api.core.time import utcnow
from api.customers.models import Customer
from api.metering.models import Meter, MeterEvent
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn

OFFER = ['/start_application{"service_type":"校表"}', "/request_human", "/thank"]


def payloads(messages) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def asked(text: str, intent: str = "ask_bill_increase", **slots):
    return user_turn(snapshot("idle_unverified", **{"account_no": None, **slots}), text, intent)


# ---------------------------------------------------------------- the wording, from the figures
def test_the_last_two_bills_are_compared_in_kwh_and_money():
    bills = [{"period": "2026-11", "kwh": 412, "amount_yuan": "215.60"},
             {"period": "2026-10", "kwh": 305, "amount_yuan": "142.35"}]
    text = bills_sentence(bills)
    assert text.startswith("您11月的电费215.60元、用电412千瓦时，10月是142.35元、305千瓦时")
    assert "11月多用了107千瓦时（多35.1%），电费多了73.25元" in text
    assert "阶梯" in text  # the money rose faster than the energy
    lower = bills_sentence([{"period": "2026-11", "kwh": 280, "amount_yuan": "130.00"},
                            {"period": "2026-10", "kwh": 305, "amount_yuan": "142.35"}])
    assert "其实比10月少了25千瓦时" in lower and "阶梯" not in lower
    assert bills_sentence([]) == ""


def test_thirty_days_against_the_thirty_before_only_over_full_data():
    days = [{"date": f"2026-11-{d:02d}", "kwh": 10.0} for d in range(1, 31)]
    full = {"days": days, "total_kwh": 300, "previous": {"total_kwh": 240}}
    assert usage_sentence(full) == "近30天用电300千瓦时，比前30天增加了25.0%（多用了60千瓦时）。"
    days[0]["kwh"] = None
    partial = {"days": days, "total_kwh": 290, "previous": {"total_kwh": 240}}
    assert "采集到29天的数据" in usage_sentence(partial) and "比前30天" not in usage_sentence(partial)


def test_the_hours_that_grew_are_told_when_the_increase_is_there():
    assert hours_text(18) == "晚上6点到10点" and hours_text(14) == "下午2点到晚上6点"
    assert hours_text(23) == "晚上11点到凌晨3点"
    before = [0.2] * 24
    recent = list(before)
    for h in (18, 19, 20, 21):
        recent[h] = 0.7  # 2 kWh a day more in the evening
    longer = [(recent[h] * 30 + before[h] * 30) / 60 for h in range(24)]
    lines = when_sentences({"days_with_data": 30, "profile_kw": recent, "average_daily_kwh": sum(recent)},
                           {"days_with_data": 60, "profile_kw": longer})
    assert lines[0] == "多用的电主要在晚上6点到10点：这几个小时比之前平均每天多用了2千瓦时。"
    # Without the 30 days before, the busiest hours are told instead (no claim of an increase).
    only = when_sentences({"days_with_data": 8, "profile_kw": recent, "average_daily_kwh": sum(recent)}, None)
    assert only[0].startswith("您家用电最多的是晚上6点到10点") and "多用" not in only[0]


def test_a_high_standing_load_and_an_unusual_day_are_pointed_out():
    lines = when_sentences({"days_with_data": 30, "profile_kw": [0.5] * 24, "average_daily_kwh": 12,
                            "base_load_kw": 0.4, "unusual_days": [
                                {"date": "2026-11-20", "kwh": 30.5, "direction": "偏高"}]}, None)
    text = "".join(lines)
    assert "约0.40千瓦" in text and "线路漏电" in text and "11月20日用了30.5千瓦时" in text


def test_the_meters_record_healthy_faulty_or_incomplete():
    healthy = {"days": 60, "events": [], "coverage": {"hours_expected": 1440, "hours_reported": 1440,
                                                       "voltage_min": 214.2, "voltage_max": 231.0}}
    text = "".join(meter_sentences(healthy))
    assert "没有记录到失压、断相、反向电量" in text and "每个小时的数据都按时上传了" in text
    assert "214.2—231伏之间，正常" in text and "电表运行正常" in text
    faulty = {"days": 60, "events": [{"ts": "2026-11-20T09:12:00+08:00", "kind": "断相", "phase": "C",
                                      "detail": "断相，约12分钟后恢复"}],
              "coverage": {"hours_expected": 1440, "hours_reported": 1430, "voltage_min": 185, "voltage_max": 230}}
    text = "".join(meter_sentences(faulty))
    assert "11月20日C相断相" in text and "可能影响计量的准确性" in text and "校表" in text
    assert "有10个小时的数据没有采集到" in text and "低于国家标准的下限198伏" in text
    assert "运行正常" not in text
    assert meter_sentences(None) == ["电表的运行记录暂时没能查到。"]


# ---------------------------------------------------------------- not verified
def test_not_verified_the_general_answer_then_the_verification(api_down):
    messages, events = run(run_action(ActionExplainBillIncrease(), asked("电费怎么突然这么高")))
    text = texts(messages)
    assert "阶梯" in text and "电表本身走快的情况比较少" in text  # the general answer, without the KB here
    assert "核验" in text and not re.search(r"\d+(\.\d+)?\s*(元|千瓦时)", text)  # no account data
    assert slot_events(events) == {"verify_last4": None}  # verify_form follows (the rule)


def test_the_verification_question_follows_the_explanation_without_repeating_it():
    state = asked("电费怎么突然这么高")
    state["events"] += [{"event": "action", "name": "action_explain_bill_increase"},
                        {"event": "action", "name": "verify_form"}]
    messages, _ = run(run_action(ActionAskVerifyAccount(), state))
    assert texts(messages).startswith("请告诉我您的10位户号") and "报修" not in texts(messages)


def test_in_the_middle_of_a_report_it_waits(api_down):
    state = user_turn(snapshot("fault_form_started"), "为啥我家电费这么高", "ask_bill_increase")
    messages, events = run(run_action(ActionExplainBillIncrease(), state))
    assert "先把报修办完" in texts(messages) and events == []


# ---------------------------------------------------------------- verified, with the API
def _meter_of(session, account: str) -> Meter:
    customer = session.scalar(select(Customer).where(Customer.account_no == account))
    return session.scalar(select(Meter).where(Meter.customer_id == customer.id))


def test_verified_the_answer_comes_from_the_meter_with_the_calibration_offer(api, showcase, session):
    account, _ = showcase["normal"]
    meter = _meter_of(session, account)
    now = utcnow()
    session.add_all([
        MeterEvent(meter_id=meter.id, ts=now - timedelta(days=3), kind="断相", phase="A", detail="断相，约8分钟后恢复"),
        MeterEvent(meter_id=meter.id, ts=now - timedelta(days=2), kind="开盖", detail="表盖开启"),
    ])
    session.commit()
    state = asked("电表是不是坏了 走得特别快", verified=True, verified_account=account, account_no=account)
    messages, events = run(run_action(ActionExplainBillIncrease(), state))
    text = texts(messages)
    assert "我查了您家最近的用电情况" in text
    assert re.search(r"\d+月\d+日A相断相", text) and "可能影响计量的准确性" in text
    assert "开盖" not in text and "窃电" not in text and "稽查" not in text  # never a suspicion
    assert "电能表校验" in text and "元" not in text.split("电能表校验")[1]  # no fee stated
    assert payloads(messages)[-3:] == OFFER
    assert events == []


def test_after_the_verification_the_question_that_asked_for_it_is_answered(api, showcase):
    account, _ = showcase["normal"]
    state = asked("这个月电费比上月多了一倍", verified=True, verified_account=account, account_no=account)
    state = user_turn(state, "0005", "inform")
    messages, _ = run(run_action(ActionAnswerVerifiedQuery(), state))
    assert "电表近60天" in texts(messages) and payloads(messages)[-3:] == OFFER


def test_verified_api_down_is_calm(api_down, showcase):
    account, _ = showcase["normal"]
    messages, _ = run(run_action(ActionExplainBillIncrease(), asked("电费怎么突然这么高", verified=True,
                                                                    verified_account=account)))
    assert "系统暂时繁忙" in texts(messages)


# ---------------------------------------------------------------- the 校表 it offers
def test_the_calibration_is_a_service_the_application_registers():
    assert normalize_service("校表") == "校表"
    assert normalize_service("我想申请校验电表") == "校表"
    text = application_confirmation({"number": "GD20261205-0001", "sla": {}}, service_type="校表",
                                    phone="13900000005", preferred_time="工作日上午")
    assert "已为您登记【校表】申请" in text and "户号、户主身份证" in text and SERVICE_NOTES["校表"] in text
    assert not re.search(r"\d+元|收费|费用", text)


def test_the_calibration_application_is_a_business_ticket(api):
    from actions.applications import ActionCreateServiceTicket
    from actions.client import ZhidianClient
    from tests.actions.test_applications import _ready_application

    state = _ready_application()
    state["slots"]["service_type"] = "校表"
    messages, _ = run(run_action(ActionCreateServiceTicket(), state))
    number = re.search(r"GD\d{8}-\d{4}", texts(messages)).group(0)
    ticket = run(ZhidianClient().get_ticket(number))
    assert ticket["type"] == "业务办理" and ticket["details"]["service_type"] == "校表"
    assert "电能表校验" in ticket["description"]
