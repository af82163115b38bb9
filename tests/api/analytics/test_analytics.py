"""Supervisor analytics: exact figures over a small known week (2026-06-01..07, Asia/Shanghai) built
with the real models: tickets around Shanghai midnight, breaches recorded and unrecorded, attached
reports, crews' shifts crossing the range, conversations with handoffs and fallbacks, KB votes."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from api.analytics import service
from api.analytics.schemas import ColumnRead, TableRead
from api.core.ids import DISTRICTS
from api.core.time import LOCAL_TZ, utcnow
from api.customers.models import Customer
from api.conversations.models import Conversation, ConversationEvent, Message, SuggestionUse
from api.demo.history import seed_history
from api.demo.staff import DEMO_STAFF
from api.dispatch.models import Crew, CrewShift
from api.kb.models import KbFeedback
from api.tickets.models import Ticket

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 7, 12, 0, tzinfo=SH)
WEEK = {"date_from": "2026-06-01", "date_to": "2026-06-07"}
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """A Shanghai wall-clock time in 2026, as the aware UTC instant the database stores."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(timezone.utc)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


_numbers = iter(range(1, 10_000))


def ticket(*, type: str, district: str | None, created: datetime, status: str, due_minutes: float = 45,
           assigned: float | None = None, accepted: float | None = None, arrived: float | None = None,
           resolved: float | None = None, closed: float | None = None, breached: float | None = None,
           crew: str | None = None, satisfaction: int | None = None, parent: Ticket | None = None) -> Ticket:
    """A ticket whose step times are given in minutes after its creation."""
    def step(offset):
        return None if offset is None else created + minutes(offset)
    return Ticket(
        number=f"GD20260601-{next(_numbers):04d}", type=type, priority=2, status=status, channel="web",
        description="测试工单", address_text="固原市原州区文化路", address={}, district=district, area_class="城区",
        diagnosis_code="none", diagnosis_summary="", crew_note="", arrive_by=created + minutes(due_minutes),
        created_at=created, updated_at=created, assigned_at=step(assigned), accepted_at=step(accepted),
        arrived_at=step(arrived), resolved_at=step(resolved), closed_at=step(closed), sla_breached_at=step(breached),
        crew_id=crew, satisfaction=satisfaction, parent=parent)


def crew(crew_id: str, name: str, district: str, mobile: str) -> Crew:
    return Crew(id=crew_id, name=name, leader_mobile=mobile, skills=["低压抢修"], districts=[district],
                home_district=district, base_lat=36.0, base_lon=106.3, lat=36.0, lon=106.3, experience=2,
                capacity=3, active=True)


def conversation(cid: str, created: datetime, *, handoff: bool = False, human: bool = False,
                 turns=(), events=()) -> list:
    """A conversation, its customer turns (minute, intent, confidence, text) and events (minute, action, note)."""
    rows: list = [Conversation(id=cid, channel="web", owner="bot", handoff_requested=handoff, human_involved=human,
                               created_at=created, last_active_at=created)]
    for offset, intent, confidence, text in turns:
        rows.append(Message(conversation_id=cid, at=created + minutes(offset), sender="customer", text=text,
                            intent=intent, intent_confidence=confidence))
        rows.append(Message(conversation_id=cid, at=created + minutes(offset), sender="bot", text="好的"))
    for offset, action, note in events:
        rows.append(ConversationEvent(conversation_id=cid, at=created + minutes(offset), actor="system", action=action,
                                      note=note))
    return rows


def build_week(session) -> None:
    """The known week; the expected figures in the tests below are worked out from it by hand."""
    session.add_all([crew("T-01", "测试抢修一班", "原州区", "13799990001"),
                     crew("T-02", "测试抢修二班", "西吉县", "13799990002")])
    session.add_all([
        CrewShift(crew_id="T-01", starts_at=at(1, 8), ends_at=at(1, 20)),    # 720 min
        CrewShift(crew_id="T-01", starts_at=at(7, 8), ends_at=at(7, 20)),    # 720 min
        CrewShift(crew_id="T-01", starts_at=at(10, 8), ends_at=at(10, 20)),  # after the range
        CrewShift(crew_id="T-02", starts_at=at(31, 20, month=5), ends_at=at(1, 8)),  # 480 min inside
    ])
    session.flush()
    a = ticket(type="故障报修", district="原州区", created=at(1, 0, 30), status="已关闭", assigned=10, accepted=15,
               arrived=40, resolved=100, closed=200, crew="T-01", satisfaction=5)
    session.add_all([
        a,
        ticket(type="故障报修", district="原州区", created=at(1, 1), status="已关闭", parent=a),  # attached report
        ticket(type="故障报修", district="原州区", created=at(1, 23, 50), status="已处理", assigned=5, accepted=10,
               arrived=60, resolved=120, breached=46, crew="T-01", satisfaction=2),
        ticket(type="投诉", district="西吉县", created=at(2, 0, 10), status="已关闭", due_minutes=1440, assigned=5,
               accepted=20, resolved=300, closed=400, crew="T-02", satisfaction=4),
        ticket(type="业务办理", district="西吉县", created=at(3, 9), status="新建", due_minutes=6 * 1440),
        ticket(type="稽查任务", district="隆德县", created=at(4, 10), status="已关闭", due_minutes=10 * 1440, closed=60),
        # late on site, the breach never recorded by the SLA job: still a breach
        ticket(type="故障报修", district="西吉县", created=at(5, 10), status="已处理", due_minutes=90, assigned=8,
               accepted=20, arrived=100, resolved=150, crew="T-02", satisfaction=3),
        ticket(type="故障报修", district="原州区", created=at(7, 11, 30), status="已派单", assigned=5),
        ticket(type="安全隐患", district="原州区", created=at(7, 6), status="已接单", assigned=5, accepted=10,
               breached=46, crew="T-01"),
        # outside the range: before its first local midnight (open: in the backlog) and after its end
        ticket(type="咨询回访", district="原州区", created=at(31, 23, 30, month=5), status="挂起", due_minutes=60),
        ticket(type="故障报修", district="原州区", created=at(8, 1), status="新建"),
        # worked by T-02 across the start of the range: 60 of its minutes fall inside
        ticket(type="故障报修", district="西吉县", created=at(31, 22, month=5), status="已处理", due_minutes=90,
               assigned=10, accepted=30, arrived=80, resolved=180, crew="T-02"),
    ])
    for rows in (
        conversation("c1", at(1, 9), turns=[(0, "query_bill", 0.9, "查电费"), (1, "nlu_fallback", 0.3, "我家那个东西坏了"),
                                            (2, None, None, "还没分类的话")]),
        conversation("c2", at(2, 23, 55), handoff=True, human=True,
                     turns=[(1, "nlu_fallback", 0.2, "那个啥"), (10, "nlu_fallback", 0.25, "就是那个啥")],
                     events=[(11, "queued", "repeated_fallback"), (13, "joined", None)]),
        conversation("c3", at(4, 10), handoff=True, turns=[(1, "request_human", 0.95, "转人工")],
                     events=[(1, "queued", "request_human")]),
        conversation("c4", at(5, 15), human=True,
                     turns=[(1, "report_outage", 0.8, "停电了"), (2, "query_bill", 0.7, "电费多少")],
                     events=[(3, "queued", "angry"), (4, "joined", None), (20, "handed_back", None),
                             (30, "queued", "request_human")]),
        conversation("c5", at(6, 8), turns=[(1, "faq", 0.85, "电价多少"), (2, "nlu_fallback", 0.35, "我家那个东西坏了"),
                                            (3, "nlu_fallback", 0.4, "13912345678怎么回事")]),
        conversation("c6", at(31, 23, month=5), handoff=True,  # started before the range
                     turns=[(90, "query_bill", 0.9, "查电费")], events=[(91, "queued", "request_human")]),
        conversation("c7", at(7, 23, 59), turns=[(2, "nlu_fallback", 0.3, "午夜以后说的话")]),  # said after the range
    ):
        session.add(rows[0])
        session.flush()  # no ORM relationship orders the conversation before its messages
        session.add_all(rows[1:])
    session.add_all([KbFeedback(article_id="billing-001", conversation_id=f"kb-{i}", helpful=True, created_at=at(2, 10 + i))
                     for i in range(3)])
    session.add_all([
        KbFeedback(article_id="billing-001", conversation_id="kb-4", helpful=False, created_at=at(3, 10)),
        KbFeedback(article_id="outage-002", conversation_id="kb-5", helpful=False, created_at=at(3, 11)),
        KbFeedback(article_id="outage-002", conversation_id="kb-6", helpful=False, created_at=at(4, 11)),
        KbFeedback(article_id="billing-001", conversation_id="kb-7", helpful=True, created_at=at(8, 1)),  # after
    ])
    session.commit()


@pytest.fixture
def week(client, session):
    """The known week in the test database and the API's clock at 2026-06-07 12:00 in 固原."""
    build_week(session)
    client.app.state.clock = lambda: NOW.astimezone(timezone.utc)
    return client


def bearer(client, username: str) -> dict:
    """Sign in on the wall clock (tokens expire by it), whatever the app's clock says."""
    clock = client.app.state._state.pop("clock", None)
    try:
        response = client.post("/api/staff/login", json={"username": username, "password": PASSWORDS[username]})
    finally:
        if clock is not None:
            client.app.state.clock = clock
    assert response.status_code == 200, response.text
    client.cookies.clear()  # the bearer header alone says who calls
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def supervisor(week) -> dict:
    return bearer(week, "supervisor01")


def get_dashboard(client, headers, **params) -> dict:
    response = client.get("/api/analytics/dashboard", params={**WEEK, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def rows(body: dict, table: str, *keys: str) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in body["tables"][table]["rows"]]


def test_headline_figures_of_the_week(week, supervisor):
    body = get_dashboard(week, supervisor)
    assert body["filters"] == {"date_from": "2026-06-01", "date_to": "2026-06-07", "district": None, "type": None,
                               "days": 7}
    assert body["kpis"] == {
        "tickets": 9, "work_tickets": 8, "sla_met": 2, "sla_breaches": 3, "sla_pending": 3, "sla_compliance": 40.0,
        "mean_dispatch_minutes": 7.7, "mean_arrive_minutes": 66.7, "mean_resolve_minutes": 123.3,
        "backlog": 4, "backlog_over_3d": 2, "crew_utilisation": 52.9,
        "conversations": 6, "contained": 3, "containment_rate": 50.0, "transfers": 3, "transfer_rate": 50.0,
        "customer_turns": 10, "fallbacks": 5, "fallback_rate": 50.0,
        "satisfaction_mean": 3.5, "satisfaction_responses": 4,
        "kb_helpful": 3, "kb_not_helpful": 3, "kb_helpful_rate": 50.0,
        "agent_replies": 0, "suggestion_used_rate": None, "suggestion_as_is_rate": None,
    }
    assert body["generated_at"].startswith("2026-06-07T12:00:00") and body["generated_at"].endswith("+08:00")
    assert list(body["tables"]) == list(service.TABLES)
    assert all(t["title"] and all(c["label"] for c in t["columns"]) for t in body["tables"].values())


def test_volume_tables_bucket_days_in_shanghai_time(week, supervisor):
    body = get_dashboard(week, supervisor)
    assert rows(body, "volume_by_type", "type", "tickets", "share") == [
        ("故障报修", 5, 55.6), ("安全隐患", 1, 11.1), ("投诉", 1, 11.1), ("业务办理", 1, 11.1), ("稽查任务", 1, 11.1)]
    assert rows(body, "volume_by_district", "district", "tickets", "share", "breached", "compliance") == [
        ("原州区", 5, 55.6, 2, 33.3), ("西吉县", 3, 33.3, 1, 50.0), ("隆德县", 1, 11.1, 0, None)]
    # 00:30 and 23:50 on 1 June in 固原 are 31 May 16:30 and 1 June 15:50 in UTC: both are 1 June here
    assert rows(body, "volume_by_day", "day", "tickets", "breached") == [
        ("2026-06-01", 3, 1), ("2026-06-02", 1, 0), ("2026-06-03", 1, 0), ("2026-06-04", 1, 0),
        ("2026-06-05", 1, 1), ("2026-06-06", 0, 0), ("2026-06-07", 2, 1)]


def test_sla_and_durations_by_type(week, supervisor):
    body = get_dashboard(week, supervisor)
    assert rows(body, "sla_by_type", "type", "work", "met", "breached", "pending", "compliance") == [
        ("故障报修", 4, 1, 2, 1, 33.3), ("安全隐患", 1, 0, 1, 0, 0.0), ("投诉", 1, 1, 0, 0, 100.0),
        ("业务办理", 1, 0, 0, 1, None), ("稽查任务", 1, 0, 0, 1, None)]
    assert rows(body, "durations", "type", "dispatch", "arrive", "resolve", "resolved") == [
        ("故障报修", 7.7, 66.7, 123.3, 3), ("安全隐患", None, None, None, 0), ("投诉", 5.0, None, 300.0, 1),
        ("业务办理", None, None, None, 0), ("稽查任务", None, None, None, 0)]


def test_backlog_ages_open_work_from_creation_to_now(week, supervisor):
    body = get_dashboard(week, supervisor)
    assert rows(body, "backlog_ageing", "bucket", "tickets", "overdue") == [
        ("1小时内", 1, 0), ("1–4小时", 0, 0), ("4–24小时", 1, 1), ("1–3天", 0, 0), ("3天以上", 2, 0)]


def test_crew_utilisation_cuts_shifts_and_work_to_the_range(week, supervisor):
    body = get_dashboard(week, supervisor)
    # T-02: 280 + 130 min in the range plus 60 of a ticket accepted before it; on shift 00:00–08:00 of 1 June
    # T-01: 85 + 110 + 350 (accepted 06:10 on the 7th, still open at 12:00) over two 12-hour shifts
    assert rows(body, "crew_utilisation", "crew_id", "crew", "district", "tickets", "on_shift_hours", "busy_hours",
                "utilisation") == [
        ("T-02", "测试抢修二班", "西吉县", 3, 8.0, 7.8, 97.9), ("T-01", "测试抢修一班", "原州区", 3, 24.0, 9.1, 37.8)]


def test_conversation_tables(week, supervisor):
    body = get_dashboard(week, supervisor)
    assert rows(body, "transfers_by_reason", "reason", "code", "conversations", "share") == [
        ("客户要求转人工", "request_human", 2, 66.7), ("客户情绪激动", "angry", 1, 33.3),
        ("机器人连续未能理解", "repeated_fallback", 1, 33.3)]
    assert rows(body, "top_intents", "intent", "label", "messages", "confidence") == [
        ("nlu_fallback", "未能识别", 5, 0.3), ("query_bill", "查电费账单", 2, 0.8), ("faq", "用电常见问题", 1, 0.85),
        ("report_outage", "报停电故障", 1, 0.8), ("request_human", "转人工客服", 1, 0.95)]
    assert rows(body, "fallbacks", "day", "turns", "fallbacks", "rate") == [
        ("2026-06-01", 2, 1, 50.0), ("2026-06-02", 1, 1, 100.0), ("2026-06-03", 1, 1, 100.0), ("2026-06-04", 1, 0, 0.0),
        ("2026-06-05", 2, 0, 0.0), ("2026-06-06", 3, 2, 66.7), ("2026-06-07", 0, 0, None)]
    texts = rows(body, "fallback_texts", "text", "times")
    assert texts[0] == ("我家那个东西坏了", 2)
    assert sorted(texts[1:]) == sorted([("139******78怎么回事", 1), ("那个啥", 1), ("就是那个啥", 1)])
    assert rows(body, "kb_feedback", "article_id", "helpful", "not_helpful", "helpful_rate") == [
        ("billing-001", 3, 1, 75.0), ("outage-002", 0, 2, 0.0)]
    assert rows(body, "satisfaction", "score", "tickets", "share") == [
        ("5 分", 1, 25.0), ("4 分", 1, 25.0), ("3 分", 1, 25.0), ("2 分", 1, 25.0), ("1 分", 0, 0.0)]


def test_agents_replies_by_the_suggestion_they_started_from(week, supervisor, session):
    created = at(3, 10)
    session.add_all(conversation("c-agent", created, handoff=True, human=True))
    replies = [("template", "situation.handoff", False), ("kb", "price-tou-apply", True), ("kb", "billing-001", False),
               (None, None, None)]
    for k, (kind, ref, edited) in enumerate(replies):
        message = Message(conversation_id="c-agent", at=created + minutes(5 + k), sender="agent", agent="agent01",
                          text=f"回复{k}")
        session.add(message)
        session.flush()
        if kind:
            session.add(SuggestionUse(message_id=message.id, conversation_id="c-agent", agent="agent01", kind=kind,
                                      ref=ref, rank=1, edited=edited, at=message.at))
    session.commit()
    body = get_dashboard(week, supervisor)
    assert rows(body, "suggestion_uses", "source", "replies", "share", "as_is", "edited", "as_is_rate") == [
        ("按当前情况的话术", 1, 25.0, 1, 0, 100.0), ("知识库答案", 2, 50.0, 1, 1, 50.0),
        ("坐席自行输入", 1, 25.0, None, None, None)]
    k = body["kpis"]
    assert (k["agent_replies"], k["suggestion_used_rate"], k["suggestion_as_is_rate"]) == (4, 75.0, 66.7)


def test_the_seeded_history_has_agents_replies_from_every_source(session):
    now = utcnow()
    seed_history(session, now=now)
    day = now.astimezone(LOCAL_TZ).date()
    body = service.dashboard(session=session, now=now, filters=service.Filters(
        date_from=day - timedelta(days=29), date_to=day))
    table = body.tables["suggestion_uses"].rows
    assert [r["source"] for r in table] == list(service.SUGGESTION_SOURCES.values())
    assert sum(r["replies"] for r in table) == body.kpis.agent_replies > 50
    assert all(r["as_is"] + r["edited"] == r["replies"] for r in table if r["as_is"] is not None)
    assert 0 < body.kpis.suggestion_as_is_rate < 100 and 0 < body.kpis.suggestion_used_rate < 100


def test_the_bots_figures_follow_the_district_and_type_filters(week, supervisor, session):
    """A chat belongs to a district by its verified account's customer or a ticket it filed there."""
    xiji = session.scalar(select(Customer.account_no).where(Customer.district == "西吉县").order_by(Customer.id))
    session.add_all([*conversation("c-xiji-known", at(3, 9), handoff=True, events=[(2, "queued", "request_human")]),
                     *conversation("c-xiji-ticket", at(3, 10), turns=[(0, "report_outage", 0.9, "停电了")]),
                     *conversation("c-elsewhere", at(3, 11))])
    session.flush()
    session.execute(update(Conversation).where(Conversation.id == "c-xiji-known").values(account_no=xiji))
    filed = ticket(type="故障报修", district="西吉县", created=at(3, 10, 5), status="新建")
    filed.conversation_id = "c-xiji-ticket"
    session.add(filed)
    session.add(KbFeedback(article_id="outage-002", conversation_id="c-xiji-ticket", helpful=True,
                           created_at=at(3, 10, 6)))
    session.commit()
    k = get_dashboard(week, supervisor, district="西吉县")["kpis"]
    assert (k["conversations"], k["contained"], k["transfers"], k["customer_turns"]) == (2, 1, 1, 1)
    assert (k["kb_helpful"], k["kb_not_helpful"]) == (1, 0)
    k = get_dashboard(week, supervisor, type="故障报修")["kpis"]
    assert (k["conversations"], k["transfers"], k["customer_turns"], k["fallbacks"]) == (1, 0, 1, 0)
    assert get_dashboard(week, supervisor, district="西吉县", type="投诉")["kpis"]["conversations"] == 0
    assert get_dashboard(week, supervisor)["kpis"]["conversations"] == 6 + 3  # unfiltered: every chat


def test_district_filter(week, supervisor):
    body = get_dashboard(week, supervisor, district="原州区")
    kpis = body["kpis"]
    assert (kpis["tickets"], kpis["sla_met"], kpis["sla_breaches"], kpis["sla_compliance"]) == (5, 1, 2, 33.3)
    assert (kpis["backlog"], kpis["crew_utilisation"]) == (3, 37.8)  # E, F and the paused one from May
    assert rows(body, "crew_utilisation", "crew_id") == [("T-01",)]
    assert rows(body, "volume_by_district", "district", "tickets") == [("原州区", 5)]
    assert kpis["conversations"] == 0  # none of the week's chats is known to be a 原州区 customer's


def test_type_filter(week, supervisor):
    body = get_dashboard(week, supervisor, type="故障报修")
    kpis = body["kpis"]
    assert (kpis["tickets"], kpis["work_tickets"], kpis["sla_breaches"], kpis["backlog"]) == (5, 4, 2, 1)
    # the 安全隐患 ticket T-01 works is left out: 85 + 110 min; T-02 keeps 130 + 60
    assert rows(body, "crew_utilisation", "crew_id", "tickets", "busy_hours") == [("T-02", 2, 3.2), ("T-01", 2, 3.3)]
    assert rows(body, "volume_by_type", "type", "tickets") == [("故障报修", 5)]


def test_a_single_local_day(week, supervisor):
    body = get_dashboard(week, supervisor, date_from="2026-06-02", date_to="2026-06-02")
    # only the complaint of 00:10 on 2 June (16:10 UTC on 1 June); 23:50 on 1 June is 15:50 UTC on 1 June
    assert body["kpis"]["tickets"] == 1
    assert rows(body, "volume_by_type", "type", "tickets") == [("投诉", 1)]
    assert rows(body, "volume_by_day", "day", "tickets") == [("2026-06-02", 1)]
    assert body["kpis"]["conversations"] == 1 and body["kpis"]["fallbacks"] == 1  # c2's second one is on the 3rd


def test_default_range_is_the_last_30_days_in_shanghai(week, supervisor):
    response = week.get("/api/analytics/dashboard", headers=supervisor)
    assert response.status_code == 200
    assert response.json()["filters"] | {} == {"date_from": "2026-05-09", "date_to": "2026-06-07", "district": None,
                                              "type": None, "days": 30}
    assert response.json()["kpis"]["tickets"] == 11  # the week plus the two of 31 May
    options = week.get("/api/analytics/filters", headers=supervisor).json()
    assert options == {"districts": ["原州区", "西吉县", "隆德县"],
                       "types": ["故障报修", "安全隐患", "投诉", "业务办理", "咨询回访", "稽查任务", "充电设施故障"],
                       "default_from": "2026-05-09", "default_to": "2026-06-07", "max_days": 366}


@pytest.mark.parametrize("params, code, message", [
    ({"date_from": "2026/06/01"}, "bad_date", "开始日期格式不正确，请使用“年-月-日”格式，例如 2026-11-25"),
    ({"date_to": "2026-02-30"}, "bad_date", "结束日期不是有效的日期：2026-02-30"),
    ({"date_from": "2026-06-08", "date_to": "2026-06-07"}, "bad_range", "开始日期不能晚于结束日期"),
    ({"date_from": "2025-06-06", "date_to": "2026-06-07"}, "range_too_long", "统计时段最长 366 天，请缩短日期范围"),
    ({"type": "报修"}, "bad_type", "没有这种工单类型：报修"),
], ids=["date-format", "no-such-day", "reversed", "too-long", "type"])
def test_bad_filters_are_a_chinese_422(week, supervisor, params, code, message):
    for path in ("/api/analytics/dashboard", "/api/analytics/export/volume_by_day.csv"):
        response = week.get(path, params=params, headers=supervisor)
        assert response.status_code == 422
        assert response.json() == {"detail": {"code": code, "message": message}}


def test_a_range_of_366_days_is_allowed(week, supervisor):
    body = get_dashboard(week, supervisor, date_from="2025-06-07", date_to="2026-06-07")
    assert body["filters"]["days"] == 366 and body["kpis"]["tickets"] == 11
    assert len(body["tables"]["volume_by_day"]["rows"]) == 366


def read_csv(response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_export_of_every_table_matches_the_dashboard(week, supervisor):
    body = get_dashboard(week, supervisor)
    for name, table in body["tables"].items():
        response = week.get(f"/api/analytics/export/{name}.csv", params=WEEK, headers=supervisor)
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="analytics-{name}-2026-06-01_2026-06-07.csv"; '
            f"filename*=UTF-8''analytics-{name}-2026-06-01_2026-06-07.csv")
        lines = read_csv(response)
        assert lines[0] == [f"{table['title']}（筛选条件：2026-06-01 至 2026-06-07；区县 全部；工单类型 全部）"]
        assert lines[1] == [c["label"] for c in table["columns"]]
        expected = [["" if r[c["key"]] is None else str(r[c["key"]]) for c in table["columns"]] for r in table["rows"]]
        assert lines[2:] == expected, name


def test_csv_export_follows_the_filters(week, supervisor):
    response = week.get("/api/analytics/export/volume_by_day.csv", headers=supervisor,
                        params={"date_from": "2026-06-01", "date_to": "2026-06-03", "district": "原州区"})
    assert read_csv(response) == [["每日新建工单（筛选条件：2026-06-01 至 2026-06-03；区县 原州区；工单类型 全部）"],
                                  ["日期", "新建工单", "其中超时"], ["2026-06-01", "3", "1"], ["2026-06-02", "0", "0"],
                                  ["2026-06-03", "0", "0"]]
    disposition = response.headers["content-disposition"]
    assert 'filename="analytics-volume_by_day-2026-06-01_2026-06-03.csv"' in disposition
    assert disposition.endswith("filename*=UTF-8''analytics-volume_by_day-2026-06-01_2026-06-03-%E5%8E%9F%E5%B7%9E%E5%8C%BA.csv")


def test_unknown_table_is_a_chinese_404(week, supervisor):
    response = week.get("/api/analytics/export/secrets.csv", headers=supervisor)
    assert response.status_code == 404
    assert response.json() == {"detail": {"code": "table_not_found", "message": "没有名为 secrets 的统计表"}}


def test_csv_cells_that_look_like_formulas_are_neutralised():
    table = TableRead(title="t", columns=[ColumnRead(key="text", label="客户原话"), ColumnRead(key="n", label="次数")],
                      rows=[{"text": "=HYPERLINK(\"http://x\")", "n": 1}, {"text": "-1+2", "n": None},
                            {"text": "正常的话", "n": 3}])
    text = service.to_csv(table)
    assert text.startswith("\ufeff客户原话,次数\r\n")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["客户原话", "次数"], ["'=HYPERLINK(\"http://x\")", "1"], ["'-1+2", ""], ["正常的话", "3"]]


def test_sign_in_is_required(week):
    for path in ("/api/analytics/dashboard", "/api/analytics/filters", "/api/analytics/export/volume_by_day.csv"):
        response = week.get(path)
        assert response.status_code == 401
        assert response.json()["detail"] == {"code": "unauthorized", "message": "请先登录"}


@pytest.mark.parametrize("username", ["agent01", "crew.yz01", "auditor01"])
def test_other_roles_are_refused(week, username):
    headers = bearer(week, username)
    for path in ("/api/analytics/dashboard", "/api/analytics/filters", "/api/analytics/export/volume_by_day.csv"):
        response = week.get(path, headers=headers)
        assert response.status_code == 403
        assert response.json()["detail"] == {"code": "forbidden", "message": "您的账号没有权限进行此操作"}


@pytest.mark.parametrize("username", ["supervisor01", "admin"])
def test_supervisors_and_admins_see_it(week, username):
    headers = bearer(week, username)
    assert get_dashboard(week, headers)["kpis"]["tickets"] == 9
    assert week.get("/api/analytics/filters", headers=headers).status_code == 200
    assert week.get("/api/analytics/export/satisfaction.csv", params=WEEK, headers=headers).status_code == 200


def test_the_service_token_is_not_a_supervisor(week, auth):
    assert week.get("/api/analytics/dashboard", headers=auth).status_code == 401


def test_labels_follow_the_bot_and_the_handoff_codes():
    from actions.common import INTENT_TITLES
    from api.conversations.handoff import REASONS

    assert set(service.INTENT_LABELS) - {"nlu_fallback"} <= set(INTENT_TITLES)
    assert service.REASON_LABELS == REASONS


def test_on_the_seeded_demo_dispatch_comes_before_arrival_before_resolution_for_every_filter(session):
    """Each duration is averaged over the same tickets, so the order holds for the headline figures and every
    type's row, whatever district or type is chosen (the demo's history, as `make demo` seeds it)."""
    now = utcnow()
    seed_history(session, now=now)
    # and what a live day has: reports dispatched only after hours of waiting, the crews still on their way
    session.add_all([ticket(type="故障报修", district="西吉县", created=now - timedelta(hours=6), status="已派单",
                            assigned=300 + i) for i in range(30)])
    session.commit()
    day = now.astimezone(LOCAL_TZ).date()
    choices = [(None, None), *((d, None) for d in DISTRICTS), (None, "故障报修"), ("西吉县", "故障报修")]
    seen = 0
    for district, kind in choices:
        body = service.dashboard(session=session, now=now, filters=service.Filters(
            date_from=day - timedelta(days=10), date_to=day, district=district, type=kind))
        k = body.kpis
        figures = [k.mean_dispatch_minutes, k.mean_arrive_minutes, k.mean_resolve_minutes]
        if None not in figures:
            seen += 1
            assert figures == sorted(figures), (district, kind, figures)
        for row in body.tables["durations"].rows:
            stages = [row[c] for c in ("dispatch", "arrive", "resolve") if row.get(c) is not None]
            assert stages == sorted(stages), (district, kind, row)
    assert seen >= len(choices) // 2  # the demo has finished field work in most of them
