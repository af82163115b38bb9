"""service_application_form (业务办理) and complaint_form (投诉): validation, wording, tickets."""
from __future__ import annotations

import copy
import re

from actions.applications import (
    ActionApplyService,
    ActionAskPhone,
    ActionAskServiceType,
    ActionCreateComplaintTicket,
    ActionCreateServiceTicket,
    ActionStartComplaint,
    ActionStartServiceApplication,
    ValidateComplaintForm,
    ValidateServiceApplicationForm,
    application_confirmation,
    complaint_confirmation,
    complaint_details_from,
    complaint_subject,
    normalize_service,
)
from actions.client import ZhidianClient
from tests.actions.conftest import run, run_action, slot_events, snapshot, texts, user_turn

ASK = {
    "service_type": ("action_ask_service_type", "请问您要办理哪项业务？"),
    "phone": ("action_ask_phone", "请留一个能联系到您的11位手机号。"),
    "preferred_time": ("utter_ask_preferred_time", "您一般什么时间方便？"),
    "complaint_details": ("utter_ask_complaint_details", "请您说一下具体遇到了什么问题"),
}


def form_state(form: str, requested: str | None, *, sender: str = "conv-app-0001", **slots):
    """A conversation in which ``form`` has just asked for ``requested``."""
    state = snapshot("idle_unverified", **{"account_no": None, "requested_slot": requested, **slots})
    state["sender_id"] = sender
    state["active_loop"] = {"name": form, "validate": True, "rejected": False}
    state["events"] += [
        {"event": "action", "name": form},
        {"event": "active_loop", "name": form},
        {"event": "slot", "name": "requested_slot", "value": requested},
    ]
    if requested in ASK:
        action, text = ASK[requested]
        state["events"] += [{"event": "action", "name": action}, {"event": "bot", "text": text}]
    state["events"].append({"event": "action", "name": "action_listen"})
    state["latest_action_name"] = "action_listen"
    return state


def application(requested: str | None, **slots):
    return form_state("service_application_form", requested, **slots)


def complaint(requested: str | None, **slots):
    return form_state("complaint_form", requested, sender="conv-cmp-0001", **slots)


def buttons_of(messages):
    return [b for m in messages for b in (m.get("buttons") or [])]


# ================================================================ 业务办理: validation
def test_service_named_in_free_text_is_normalised():
    state = user_turn(application("service_type"), "我想办扩容，家里装了空调电不够")
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["service_type"] == "增容"


def test_service_from_a_synonym_entity_is_normalised():
    state = user_turn(application("service_type"), "把户主更名", entities=[
        {"entity": "service_type", "value": "更名"}], candidates={"service_type": "更名"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["service_type"] == "过户"


def test_service_from_the_button_payload():
    state = user_turn(application("service_type"), '/inform{"service_type":"光伏并网"}', entities=[
        {"entity": "service_type", "value": "光伏并网"}], candidates={"service_type": "光伏并网"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["service_type"] == "光伏并网"


def test_unknown_service_is_re_asked_in_chinese_with_the_services_as_buttons():
    state = user_turn(application("service_type"), "办个那个啥")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert "暂时不能在线登记" in texts(messages)
    titles = [b["title"] for b in buttons_of(messages)]
    assert {"新装", "增容", "过户", "峰谷电"} <= set(titles)
    assert "退出登记" not in titles
    slots = slot_events(events)
    assert slots["service_type"] is None
    assert slots["application_failures"] == {"service_type": 1}
    assert slots["prompted_slot"] == "service_type"


def test_service_question_is_silent_right_after_a_rejected_answer():
    state = user_turn(application("service_type"), "办个那个啥")
    state["events"] += [{"event": "slot", "name": "service_type", "value": None},
                        {"event": "slot", "name": "prompted_slot", "value": "service_type"}]
    messages, _ = run(run_action(ActionAskServiceType(), state))
    assert messages == []
    messages, _ = run(run_action(ActionAskServiceType(), application("service_type")))
    assert "哪项业务" in texts(messages) and len(buttons_of(messages)) == 11  # SERVICES, 校表 included


def test_bad_phone_is_re_asked_in_chinese():
    state = user_turn(application("phone", service_type="增容"), "12345678901")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert "手机号是11位数字、以1开头" in texts(messages)
    assert buttons_of(messages) == []
    slots = slot_events(events)
    assert slots["phone"] is None
    assert slots["application_failures"] == {"phone": 1}
    assert slots["prompted_slot"] == "phone"


def test_second_bad_phone_offers_to_leave_or_a_human():
    state = user_turn(application("phone", service_type="增容", application_failures={"phone": 1}),
                      "1390000")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert "手机号是11位数字" in texts(messages)
    payloads = [b["payload"] for b in buttons_of(messages)]
    assert payloads == ["/stop_report", "/request_human"]
    assert slot_events(events)["application_failures"] == {"phone": 2}


def test_landline_and_no_number_get_their_own_wording():
    state = user_turn(application("phone", service_type="增容"), "0954-2034567")
    messages, _ = run(run_action(ValidateServiceApplicationForm(), state))
    assert "暂时只能登记手机号" in texts(messages)
    state = user_turn(application("phone", service_type="增容"), "好的")
    messages, _ = run(run_action(ValidateServiceApplicationForm(), state))
    assert "请留一个能联系到您的11位手机号" in texts(messages)


def test_good_phone_is_accepted_with_spaces_and_full_width_digits():
    state = user_turn(application("phone", service_type="增容", application_failures={"phone": 1}),
                      "电话是１３８ １２３４ ５６７８")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert messages == []
    slots = slot_events(events)
    assert slots["phone"] == "13812345678"
    assert slots["application_failures"] == {}


def test_phone_entity_given_early_is_validated_too():
    state = user_turn(application("service_type"), "增容 电话13812345678", entities=[
        {"entity": "service_type", "value": "增容"}, {"entity": "phone", "value": "13812345678"}],
        candidates={"service_type": "增容", "phone": "13812345678"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    slots = slot_events(events)
    assert slots["service_type"] == "增容" and slots["phone"] == "13812345678"


def test_account_number_at_the_phone_question_is_kept_and_the_mobile_asked_for():
    state = user_turn(application("phone", service_type="增容"), "户号0401000005")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert "户号 0401****05 我记下了" in texts(messages)
    slots = slot_events(events)
    assert slots["phone"] is None and slots["account_no"] == "0401000005"


def test_an_interruption_at_the_phone_question_is_not_taken_as_the_answer():
    # Nothing validated → the form rejects → the request_human rule hands over.
    state = user_turn(application("phone", service_type="增容"), "转人工", "request_human")
    messages, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert messages == []
    assert "phone" not in slot_events(events)


def test_preferred_time_from_button_and_free_text():
    state = user_turn(application("preferred_time", service_type="增容", phone="13812345678"),
                      '/inform{"preferred_time":"工作日上午"}',
                      entities=[{"entity": "preferred_time", "value": "工作日上午"}],
                      candidates={"preferred_time": "工作日上午"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["preferred_time"] == "工作日上午"
    state = user_turn(application("preferred_time", service_type="增容", phone="13812345678"),
                      "周六下午两点以后", candidates={"preferred_time": "周六下午两点以后"})
    _, events = run(run_action(ValidateServiceApplicationForm(), state))
    assert slot_events(events)["preferred_time"] == "周六下午两点以后"


def test_phone_question_wording_follows_the_form():
    messages, _ = run(run_action(ActionAskPhone(), application("phone")))
    assert "确认上门时间" in texts(messages)
    messages, _ = run(run_action(ActionAskPhone(), complaint("phone")))
    assert "核实情况" in texts(messages)


def test_normalize_service_words():
    assert normalize_service("分时电价") == "峰谷电"
    assert normalize_service("单相改三相") == "增容"
    assert normalize_service("装个充电桩") == "充电桩报装"
    assert normalize_service("临时用电") is None


# ================================================================ 业务办理: start and the offer
def test_materials_answer_offers_online_registration():
    state = user_turn(snapshot("idle_unverified"), "我要办过户", "apply_service",
                      entities=[{"entity": "service_type", "value": "过户"}])
    messages, _ = run(run_action(ActionApplyService(), state))
    assert "新户主身份证" in texts(messages)
    assert buttons_of(messages) == [{"title": "在线登记申请", "payload": "/start_application"}]
    # In the middle of a form: the answer only.
    state = user_turn(complaint("phone", complaint_details="营业厅态度差"), "过户要带什么",
                      "apply_service", entities=[{"entity": "service_type", "value": "过户"}])
    messages, _ = run(run_action(ActionApplyService(), state))
    assert buttons_of(messages) == []


def test_start_counts_the_run_and_keeps_what_this_message_said():
    state = user_turn(snapshot("idle_unverified", application_run=1.0, preferred_time="周日",
                               application_confirmed=True),
                      "帮我登记增容 周六上午有空", "start_application",
                      entities=[{"entity": "service_type", "value": "增容"},
                                {"entity": "preferred_time", "value": "周六上午"}],
                      candidates={"service_type": "增容", "preferred_time": "周六上午"})
    messages, events = run(run_action(ActionStartServiceApplication(), state))
    assert "在线登记" in texts(messages)
    slots = slot_events(events)
    assert slots["application_run"] == 2.0
    assert slots["application_confirmed"] is None
    assert "preferred_time" not in slots  # said in this very message: kept


def test_start_after_a_failed_submission_keeps_the_answers_and_the_run():
    state = user_turn(snapshot("idle_unverified", application_run=1.0, application_pending=True,
                               preferred_time="周六上午", service_type="增容"),
                      "/start_application", "start_application")
    messages, events = run(run_action(ActionStartServiceApplication(), state))
    assert "还保留着" in texts(messages)
    assert slot_events(events) == {"application_confirmed": None}


# ================================================================ 投诉: start and validation
def test_complaint_that_already_says_what_happened_is_taken_as_the_details():
    state = user_turn(snapshot("idle_unverified"), "营业厅的人态度太差了，问个问题爱答不理", "complaint")
    messages, events = run(run_action(ActionStartComplaint(), state))
    assert "非常抱歉" in texts(messages)
    slots = slot_events(events)
    assert slots["complaint_details"] == "营业厅的人态度太差了，问个问题爱答不理"
    assert slots["complaint_run"] == 1.0


def test_bare_complaint_asks_for_the_details():
    for text in ("我要投诉", "你们服务太差了", "/complaint", "投诉！！！"):
        state = user_turn(snapshot("idle_unverified"), text, "complaint")
        _, events = run(run_action(ActionStartComplaint(), state))
        assert slot_events(events)["complaint_details"] is None, text
    assert complaint_details_from("抢修师傅迟到了两个小时") == "抢修师傅迟到了两个小时"


def test_complaint_details_are_the_customers_own_words():
    said = "上周三报修，说好上午来，结果到晚上才来"
    state = user_turn(complaint("complaint_details"), said, "report_outage",
                      candidates={"complaint_details": said})
    _, events = run(run_action(ValidateComplaintForm(), state))
    assert slot_events(events)["complaint_details"] == said


def test_complaint_bad_phone_re_asked_and_more_words_added_to_the_details():
    state = user_turn(complaint("phone", complaint_details="营业厅态度差"), "138123")
    messages, events = run(run_action(ValidateComplaintForm(), state))
    assert "手机号是11位数字" in texts(messages)
    assert slot_events(events)["complaint_failures"] == {"phone": 1}

    state = user_turn(complaint("phone", complaint_details="营业厅态度差"), "而且还让我跑了三趟", "complaint")
    messages, events = run(run_action(ValidateComplaintForm(), state))
    assert "补充的情况我也记下了" in texts(messages)
    slots = slot_events(events)
    assert slots["complaint_details"] == "营业厅态度差；而且还让我跑了三趟"
    assert slots["phone"] is None

    state = user_turn(complaint("phone", complaint_details="营业厅态度差"), "好的好的", "affirm")
    messages, events = run(run_action(ValidateComplaintForm(), state))
    assert "请留一个能联系到您的11位手机号" in texts(messages)
    assert "complaint_details" not in slot_events(events)

    state = user_turn(complaint("phone", complaint_details="营业厅态度差"), "13900000005")
    _, events = run(run_action(ValidateComplaintForm(), state))
    assert slot_events(events)["phone"] == "13900000005"


def test_complaint_second_bad_phone_offers_a_human():
    state = user_turn(complaint("phone", complaint_details="营业厅态度差",
                                complaint_failures={"phone": 1}), "12345")
    messages, _ = run(run_action(ValidateComplaintForm(), state))
    assert [b["payload"] for b in buttons_of(messages)] == ["/request_human", "/stop_report"]


def test_complaint_subjects():
    assert complaint_subject("营业厅的人态度太差了") == "服务态度"
    assert complaint_subject("三天两头停电") == "停电频繁"
    assert complaint_subject("电费算错了 多收了我钱") == "电费争议"
    assert complaint_subject("报修半天了没人管 太慢了") == "抢修不及时"
    assert complaint_subject("门口的树枝碰到电线了没人剪").startswith("其他：")


# ================================================================ wording of the confirmations
RESULT = {"number": "GD20261125-0007", "type": "投诉", "status": "已派单",
          "sla": {"what": "联系客户", "arrive_by": "2026-11-26T17:30:00+08:00"},
          "crew": {"id": "c1", "name": "客户服务班"}}


def test_confirmations_give_number_team_deadline_in_beijing_time_and_masked_phone():
    text = complaint_confirmation(RESULT, phone="13812345678")
    assert "您的投诉已登记，工单号 GD20261125-0007，已交由客户服务班处理，" in text
    # A deadline as a person promises it: the day and the part of it, never a minute.
    assert "我们会最迟在11月26日（周四）下班前通过电话 138****5678 联系您" in text
    assert "17:30" not in text
    utc = {**RESULT, "crew": None, "sla": {"arrive_by": "2026-11-26T01:00:00+00:00"}}
    text = application_confirmation(utc, service_type="过户", phone="13812345678",
                                    preferred_time="周末均可")
    assert text.startswith("已为您登记【过户】申请，工单号 GD20261125-0007。")
    assert "工作人员会最迟在11月26日（周四）上午与您联系确认上门时间（您方便的时间：周末均可）" in text
    assert "新户主身份证" in text
    no_sla = application_confirmation({"number": "GD20261125-0008"}, service_type="增容",
                                      phone="13812345678", preferred_time=None)
    assert "工作人员会尽快与您联系确认上门时间，请保持电话 138****5678 畅通" in no_sla


# ================================================================ tickets, real API
def _ready_application(**slots):
    state = application(None, service_type="增容", phone="13812345678",
                        preferred_time="周六上午", application_confirmed=True,
                        application_run=1.0, **slots)
    state["active_loop"] = {}
    return user_turn(state, "确认提交", "affirm")


def _ready_complaint(**slots):
    state = complaint(None, complaint_details="营业厅的人态度太差了，问个问题爱答不理",
                      phone="13900000005", complaint_confirmed=True, complaint_run=1.0, **slots)
    state["active_loop"] = {}
    return user_turn(state, "确认提交", "affirm")


def _number(text: str) -> str:
    match = re.search(r"GD\d{8}-\d{4}", text)
    assert match, text
    return match.group(0)


def test_service_ticket_is_created_and_worded(api):
    messages, events = run(run_action(ActionCreateServiceTicket(), _ready_application()))
    text = texts(messages)
    number = _number(text)
    assert f"已为您登记【增容】申请，工单号 {number}。" in text
    assert re.search(r"工作人员会最迟在\d{1,2}月\d{1,2}日（周.）(上午|下午|下班前)?与您联系确认上门时间", text)
    assert not re.search(r"\d{2}:\d{2}", text)
    assert "请保持电话 138****5678 畅通" in text
    assert "13812345678" not in text
    slots = slot_events(events)
    assert slots["application_ticket_no"] == number and slots["ticket_no"] == number
    assert slots["preferred_time"] is None and slots["application_confirmed"] is None

    ticket = run(ZhidianClient().get_ticket(number))
    assert ticket["type"] == "业务办理"
    assert ticket["details"] == {"service_type": "增容", "preferred_time": "周六上午"}
    assert ticket["channel"] == "web"
    assert ticket["contact_phone_masked"].endswith("5678")
    assert "增容" in ticket["description"]


def test_service_ticket_is_created_once_per_run(api):
    state = _ready_application()
    first, _ = run(run_action(ActionCreateServiceTicket(), state))
    again, _ = run(run_action(ActionCreateServiceTicket(), copy.deepcopy(state)))
    assert _number(texts(first)) == _number(texts(again))
    # The next run of the form in the same conversation is another application.
    state["slots"]["application_run"] = 2.0
    other, _ = run(run_action(ActionCreateServiceTicket(), state))
    assert _number(texts(other)) != _number(texts(first))


def test_service_ticket_links_the_known_account(api, showcase):
    account, mobile = showcase["normal"]
    state = _ready_application(verified_account=account, account_no=account)
    state["slots"]["phone"] = mobile
    messages, _ = run(run_action(ActionCreateServiceTicket(), state))
    ticket = run(ZhidianClient().get_ticket(_number(texts(messages))))
    assert ticket["account_no"] == account
    assert "请保持电话 139****0005 畅通" in texts(messages)


def test_complaint_ticket_is_created_and_worded(api):
    messages, events = run(run_action(ActionCreateComplaintTicket(), _ready_complaint()))
    text = texts(messages)
    number = _number(text)
    assert text.startswith("非常抱歉给您带来不便。您的投诉已登记，工单号 " + number)
    assert re.search(r"我们会最迟在\d{1,2}月\d{1,2}日（周.）(上午|下午|下班前)?通过电话 139\*\*\*\*0005 联系您", text)
    assert {"title": "转人工", "payload": "/request_human"} in buttons_of(messages)
    assert slot_events(events)["complaint_ticket_no"] == number

    ticket = run(ZhidianClient().get_ticket(number))
    assert ticket["type"] == "投诉"
    assert ticket["description"] == "营业厅的人态度太差了，问个问题爱答不理"
    assert ticket["details"] == {"subject": "服务态度"}
    assert ticket["sla"]["what"] == "联系客户"

    again, _ = run(run_action(ActionCreateComplaintTicket(), _ready_complaint()))
    assert _number(texts(again)) == number


# ================================================================ API down or refusing
def test_api_down_service_ticket_is_calm_and_keeps_the_answers(api_down):
    messages, events = run(run_action(ActionCreateServiceTicket(), _ready_application()))
    text = texts(messages)
    assert "系统暂时繁忙" in text and "信息我已保存" in text and "95598" in text
    assert {"title": "重新提交", "payload": "/start_application"} in buttons_of(messages)
    assert slot_events(events) == {"application_confirmed": None, "application_pending": True}


def test_api_down_complaint_is_calm_and_keeps_the_details(api_down):
    messages, events = run(run_action(ActionCreateComplaintTicket(), _ready_complaint()))
    text = texts(messages)
    assert "系统暂时繁忙" in text and "已保存" in text and "95598" in text
    assert {"title": "转人工", "payload": "/request_human"} in buttons_of(messages)
    assert slot_events(events) == {"complaint_confirmed": None, "complaint_pending": True}


def test_api_refusal_is_worded_and_keeps_the_answers(api):
    # A number that skipped validation: the API answers 422 {detail: {code, message}}.
    state = _ready_application()
    state["slots"]["phone"] = "12345"
    messages, events = run(run_action(ActionCreateServiceTicket(), state))
    text = texts(messages)
    assert "没能通过系统校验" in text and "95598" in text
    assert slot_events(events) == {"application_confirmed": None, "application_pending": True}


def test_retry_after_api_down_creates_the_ticket_with_the_same_key(api, monkeypatch):
    state = _ready_application()
    monkeypatch.setenv("ZHIDIAN_API_URL", "http://127.0.0.1:9")
    _, events = run(run_action(ActionCreateServiceTicket(), state))
    assert slot_events(events)["application_pending"] is True
    monkeypatch.setenv("ZHIDIAN_API_URL", api.url)
    first, _ = run(run_action(ActionCreateServiceTicket(), state))
    again, _ = run(run_action(ActionCreateServiceTicket(), state))
    assert _number(texts(first)) == _number(texts(again))
