"""Demo history: 30 days of tickets through their lifecycle (some late), conversations with intents,
transfers to agents (with the agents' replies and the suggestions they started from) and knowledge-base
votes, so the supervisor dashboard has something to show
in `make demo`. Deterministic for a seed; ticket numbers GD<day>-9xxx and conversation ids
web-hist-xxxx keep it apart from live data."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.conversations.models import Conversation, ConversationEvent, Message, SuggestionUse
from api.core.ids import DISTRICTS, ticket_number
from api.core.time import local_day, local_midnight
from api.core.vocabulary import ON_SITE_TYPES
from api.customers.models import Customer
from api.demo.crews import CREWS, shift_rows
from api.dispatch.models import CrewShift
from api.kb.models import KbFeedback
from api.tickets.models import Ticket

# How often each ticket type and district comes up (percent); the order is part of the seed.
TYPE_WEIGHTS = {"故障报修": 46, "咨询回访": 14, "业务办理": 14, "投诉": 8, "安全隐患": 6, "充电设施故障": 8, "稽查任务": 4}
DISTRICT_WEIGHTS = {"原州区": 34, "西吉县": 22, "彭阳县": 20, "隆德县": 13, "泾源县": 11}
DUE_MINUTES = {"故障报修": 90, "安全隐患": 45, "充电设施故障": 90, "投诉": 1440, "咨询回访": 1440, "业务办理": 2700,
               "稽查任务": 14400}
INTENTS = ("query_bill", "report_outage", "query_balance", "faq", "query_outage_notice", "pay_bill",
           "query_ticket_status", "apply_service", "charging_find_station", "complaint")
FALLBACK_TEXTS = ("那个东西又不行了", "你们这个怎么弄", "我要找上次那个师傅", "电老是一闪一闪的咋回事", "表上红灯亮")
REASONS = ("request_human", "request_human", "repeated_fallback", "angry", "complaint")
# An agent's reply in the history: where it came from (weight), the suggestion's ref and its words.
AGENT_REPLIES = (
    (22, "template", "situation.handoff", "您好，我是人工客服，刚才您和智能客服的对话我都看过了，您不用再重复，我来继续为您处理。"),
    (12, "template", "situation.ticket_crew", "您好，您的故障报修工单已由抢修班组负责处理，按服务承诺会按时到达现场，请保持电话畅通。"),
    (18, "kb", "price-tou-apply", "峰谷电价可以在网上国网App或营业厅申请，审核通过后从下一个抄表周期开始执行。"),
    (10, "template", "pay_bill", "您可以通过网上国网App、微信“国网电费”小程序、支付宝生活缴费或营业厅缴费，缴费后一般几分钟内到账。"),
    (38, None, "", "好的，我这边帮您核实一下，请稍等。"),
)
AGENTS = ("agent01", "agent02")
ARTICLES = ("price-tiered-residential", "price-tou-apply", "biz-capacity-increase", "price-tier-cycle-reset",
            "biz-account-close")


SAYINGS = {"query_bill": "我这个月电费多少", "report_outage": "家里停电了", "query_balance": "帮我查下余额",
           "faq": "峰谷电几点开始算", "query_outage_notice": "明天我们这停电吗", "pay_bill": "电费怎么交",
           "query_ticket_status": "我报修的单子到哪了", "apply_service": "我想申请增容",
           "charging_find_station": "附近哪有充电桩", "complaint": "我要投诉抄表员"}


def has_history(session: Session) -> bool:
    """Whether the demo history is there already."""
    return session.scalar(select(func.count()).select_from(Conversation)
                          .where(Conversation.id.like("web-hist-%"))) > 0


def seed_history(session: Session, *, now: datetime, days: int = 30, seed: int = 11) -> None:
    """30 days of tickets (through their lifecycle, some late), conversations and KB votes."""
    rng = random.Random(seed)
    repair_crews = {d: [c[0] for c in CREWS if d in c[3] and "低压抢修" in c[4]] for d in DISTRICTS}
    first_day = local_day(now) - timedelta(days=days - 1)
    first = local_midnight(first_day)
    seeded_from = session.scalar(select(func.min(CrewShift.starts_at)))  # the demo seeds 8 days of shifts
    session.add_all(CrewShift(**row) for row in shift_rows(first_day, local_day(seeded_from) - timedelta(days=1)))
    span = (now - first).total_seconds()
    tickets = []
    for i in range(900):
        created = first + timedelta(seconds=rng.random() * span)
        type_ = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        district = rng.choices(list(DISTRICT_WEIGHTS), weights=list(DISTRICT_WEIGHTS.values()))[0]
        due = created + timedelta(minutes=DUE_MINUTES[type_])
        age = (now - created).total_seconds() / 60
        steps = {}
        t = 0.0
        for name, (lo, hi) in (("assigned_at", (1, 12)), ("accepted_at", (2, 20)), ("arrived_at", (15, 120)),
                               ("resolved_at", (20, 240)), ("closed_at", (60, 2000))):
            if name == "arrived_at" and type_ not in ON_SITE_TYPES:
                continue
            t += rng.uniform(lo, hi)
            if t > age or (name in ("assigned_at", "accepted_at") and rng.random() < 0.01):  # a few stuck
                break
            steps[name] = created + timedelta(minutes=t)
        status = {0: "新建", 1: "已派单", 2: "已接单"}.get(len(steps), None)
        if status is None:
            last = list(steps)[-1]
            status = {"arrived_at": "已到达", "resolved_at": "已处理", "closed_at": "已关闭"}[last]
        if status == "新建" and rng.random() < 0.15:
            status = "挂起"
        done = steps.get("arrived_at" if type_ in ON_SITE_TYPES else "resolved_at")
        late = (done or now) > due
        breached = due + timedelta(seconds=30) if late and rng.random() < 0.85 else None
        tickets.append(Ticket(
            number=ticket_number(local_day(created), 9000 - i), type=type_, priority=rng.choice((1, 2, 2, 3)),
            status=status, channel=rng.choice(("web", "hotline", "wechat")), description="历史工单",
            address_text=f"{district}某地", address={}, district=district, area_class="城区",
            diagnosis_code="none", diagnosis_summary="", crew_note="", arrive_by=due, created_at=created,
            updated_at=created, crew_id=crew_for(rng, type_, district, repair_crews) if steps else None,
            sla_breached_at=breached if breached and breached < now else None,
            satisfaction=rng.choices((5, 4, 3, 2, 1), weights=(50, 25, 12, 8, 5))[0]
            if status in ("已处理", "已关闭") and rng.random() < 0.6 else None, **steps))
    session.add_all(tickets)
    conversations, rows, replies = [], [], []
    for i in range(320):
        cid = f"web-hist-{i:04d}"
        created = first + timedelta(seconds=rng.random() * span)
        queued = rng.random() < 0.3
        conversations.append(Conversation(id=cid, channel=rng.choice(("web", "wechat")), owner="bot",
                                          handoff_requested=queued and rng.random() < 0.7,
                                          human_involved=queued and rng.random() < 0.8, created_at=created,
                                          last_active_at=created + timedelta(minutes=10)))
        for k in range(rng.randint(1, 5)):
            fallback = rng.random() < 0.14
            intent = rng.choice(INTENTS)
            rows.append(Message(conversation_id=cid, at=created + timedelta(minutes=k), sender="customer",
                                text=rng.choice(FALLBACK_TEXTS) if fallback else SAYINGS[intent],
                                intent="nlu_fallback" if fallback else intent,
                                intent_confidence=round(rng.uniform(0.2, 0.45) if fallback else rng.uniform(0.6, 0.99), 3)))
        if queued:
            rows.append(ConversationEvent(conversation_id=cid, at=created + timedelta(minutes=6), actor="system",
                                          action="queued", note=rng.choice(REASONS)))
            if conversations[-1].human_involved:
                replies.append((cid, created + timedelta(minutes=8)))
        if i % 4 == 0:
            rows.append(KbFeedback(article_id=rng.choice(ARTICLES), conversation_id=cid, helpful=rng.random() < 0.7,
                                   created_at=created + timedelta(minutes=5)))
    know_customers(session, conversations, random.Random(seed + 2))
    session.add_all(conversations)
    session.flush()
    session.add_all(rows)
    session.flush()
    seed_agent_replies(session, replies, random.Random(seed + 1), now=now)  # own draws: the rest stays as it was
    session.commit()


def know_customers(session: Session, conversations: list[Conversation], rng: random.Random) -> None:
    """Most chats verified an account (so the dashboard's district filter finds them); the rest stay anonymous."""
    accounts = session.scalars(select(Customer.account_no).order_by(Customer.account_no)).all()
    for conversation in conversations:
        if accounts and rng.random() < 0.6:
            conversation.account_no = rng.choice(accounts)


def seed_agent_replies(session: Session, replies: list[tuple[str, datetime]], rng: random.Random, *,
                       now: datetime) -> None:
    """One to three agent replies in each conversation an agent joined, each typed or started from a
    suggestion (sent as offered or edited), as suggestion_uses records them live."""
    weights = [r[0] for r in AGENT_REPLIES]
    for cid, at in replies:
        agent = rng.choice(AGENTS)
        for k in range(rng.randint(1, 3)):
            _, kind, ref, text = rng.choices(AGENT_REPLIES, weights=weights)[0]
            edited = kind is not None and rng.random() < 0.35
            message = Message(conversation_id=cid, at=min(at + timedelta(minutes=k), now), sender="agent", agent=agent,
                              text=text + "还有其他问题可以随时告诉我。" if edited else text)
            session.add(message)
            session.flush()
            if kind is not None:
                session.add(SuggestionUse(message_id=message.id, conversation_id=cid, agent=agent, kind=kind,
                                          ref=ref, rank=1 if kind == "kb" else 0, edited=edited, at=message.at))


def crew_for(rng: random.Random, type_: str, district: str, repair_crews: dict[str, list[str]]) -> str:
    """The demo crew that would take the ticket: by skill, then by district."""
    if type_ == "充电设施故障":
        return "CD-01"
    if type_ == "稽查任务":
        return "YZ-04"
    if type_ in ("投诉", "咨询回访", "业务办理") and rng.random() < 0.6:
        return "KF-01"
    return rng.choice(repair_crews[district])


