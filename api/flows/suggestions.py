"""Suggested replies that fit the conversation, not only the last message.

The conversation (who the customer is, whether the bot just handed it over, whether the agent has spoken),
the customer's open ticket (tickets), its area's supply and planned outages (metering, outages) decide which
state templates come first and fill their blanks: an agent answering 我家停电了 for a customer whose area is
already out gets the fault-outage reply with the area ticket and its arrival deadline, not the planned-outage
one with blanks to look up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.conversations import service as chats
from api.conversations.schemas import SuggestionsRead, TemplateSuggestion
from api.conversations.suggestions import fill, query_text, reply_templates, suggest
from api.core.time import LOCAL_TZ
from api.core.vocabulary import ON_SITE_TYPES, TICKET_STATUS_TOLD
from api.customers import service as customers
from api.flows import outages as outage_flow
from api.metering import service as metering
from api.monitoring import service as monitoring
from api.tickets import service as tickets
from api.tickets.schemas import TicketRead

# Intents after which the customer's open ticket or their area's supply is what they are asking about.
TICKET_INTENTS = frozenset({"report_outage", "report_hazard", "query_ticket_status", "query_outage_notice",
                            "complaint", "request_human", "nlu_fallback", "greet"})
OUTAGE_INTENTS = frozenset({"report_outage", "query_outage_notice"})
UPSET_REASONS = frozenset({"angry", "complaint"})
LONG_WAIT = timedelta(minutes=3)  # past this in the queue, the agent's first words apologise for the wait
TITLES = {
    "situation.handoff": "接入问候", "situation.handoff_upset": "接入问候（安抚）", "situation.handoff_waited": "接入问候（久等）",
    "situation.ticket_new": "工单进度", "situation.ticket_crew": "工单进度", "situation.ticket_arrived": "工单进度",
    "situation.ticket_paused": "工单进度", "situation.area_fault_outage": "台区故障停电",
    "situation.area_fault_outage_new": "台区故障停电", "situation.area_fault_outage_on_site": "台区故障停电",
    "situation.planned_outage": "计划停电",
    "situation.no_outage": "台区供电正常",
}


@dataclass
class Situation:
    """What the console knows of the conversation: the templates that apply, in order, and blank values."""

    keys: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)


def for_agent(*, session: Session, kb, text: str, intent: str, agent_name: str, now: datetime,
              conversation_id: str | None, account_no: str | None, area_outage_share: float) -> SuggestionsRead:
    """Suggestions for a customer's words in their conversation (or a hotline caller's account)."""
    text = query_text(text)
    templates = reply_templates()
    state = situation(session=session, intent=intent, agent_name=agent_name, now=now, conversation_id=conversation_id,
                      account_no=account_no, area_outage_share=area_outage_share)
    offered = [TemplateSuggestion(ref=key, title=TITLES[key], text=fill(templates[key], state.values))
               for key in state.keys]
    return suggest(kb, text=text, intent=intent, templates=templates, situational=offered, values=state.values)


def situation(*, session: Session, intent: str | None, agent_name: str, now: datetime, conversation_id: str | None,
              account_no: str | None, area_outage_share: float) -> Situation:
    """The state templates that fit, first the agent's greeting, then the ticket or the outage."""
    state = Situation(values={"坐席": agent_name})
    conversation = chats.get_row(session=session, conversation_id=conversation_id) if conversation_id else None
    if conversation is not None:
        account_no = account_no or conversation.account_no
        if conversation.handoff_reason and not chats.agent_has_spoken(session=session, conversation_id=conversation.id):
            queued_at = chats.last_event_at(session=session, conversation_id=conversation.id, action="queued")
            state.keys.append(_greeting(reason=conversation.handoff_reason, queued_at=queued_at, now=now))
    customer = customers.get_by_account_no(session=session, account_no=account_no) if account_no else None
    if customer is not None:
        state.values["户号"] = customer.account_no
    if intent not in TICKET_INTENTS and intent is not None:
        return state
    ticket = tickets.latest_open(session=session, conversation_id=conversation_id,
                                 account_no=customer.account_no if customer else None)
    if ticket is not None:
        state.values.update(_ticket_values(ticket))
    outage = (outage_flow.for_customer(session=session, customer=customer, now=now, min_share=area_outage_share)
              if customer is not None and customer.transformer_area_id else None)
    if outage is not None and outage.area_outage is not None:
        state.values["台区"] = _area_label(outage.area_outage)
    if outage is not None and outage.area_outage is not None and not outage.area_outage_planned:
        parent = _area_ticket(session=session, ticket=ticket, area_code=outage.area_outage.area_code,
                              feeder_code=outage.area_outage.feeder_code)
        if parent is not None:
            state.values.update({"区域工单号": parent.number, "班组": parent.crew.name if parent.crew else "抢修班组",
                                 "时限": _deadline(parent)})
            state.keys.append("situation.area_fault_outage_on_site" if parent.status == "已到达" else
                              "situation.area_fault_outage" if parent.crew else "situation.area_fault_outage_new")
        else:
            state.keys.append("situation.area_fault_outage_new")
        return state
    notices = outage.planned if outage is not None else []
    if notices and intent in OUTAGE_INTENTS | {None}:
        notice = notices[0]  # running, else the next
        state.values.update({"停电原因": notice.reason or "线路检修",
                             "停电时段": f"{_when(notice.start_at)}至{_when(notice.end_at)}"})
        state.keys.append("situation.planned_outage")
    if ticket is not None:
        state.keys.append(_ticket_key(ticket))
    elif outage is not None and not notices and intent in OUTAGE_INTENTS:
        state.values["台区"] = state.values.get("台区") or _area_name(session=session, customer=customer, now=now)
        state.keys.append("situation.no_outage")
    return state


def _greeting(*, reason: str, queued_at: datetime | None, now: datetime) -> str:
    if reason in UPSET_REASONS:
        return "situation.handoff_upset"
    if queued_at is not None and now - queued_at >= LONG_WAIT:
        return "situation.handoff_waited"
    return "situation.handoff"


def _worked(ticket: TicketRead):
    """What the crew works for this report: its own ticket, or the area's / station's it was attached to."""
    return ticket.parent or ticket


def _ticket_key(ticket: TicketRead) -> str:
    status, crew = _worked(ticket).status, _worked(ticket).crew
    if status == "挂起":
        return "situation.ticket_paused"
    if status == "已到达":
        return "situation.ticket_arrived"
    return "situation.ticket_crew" if crew and status in ("已派单", "已接单") else "situation.ticket_new"


def _ticket_values(ticket: TicketRead) -> dict[str, str]:
    """The blanks a ticket answers: number, type, status as the customer hears it, crew, deadline (for a report
    attached to another ticket, that ticket's status, crew and deadline)."""
    worked = _worked(ticket)
    values = {"工单号": ticket.number, "工单类型": ticket.type, "状态": TICKET_STATUS_TOLD.get(worked.status, worked.status),
              "时限": _when(worked.arrive_by if ticket.parent else ticket.sla.arrive_by),
              "承诺事项": "到达现场" if ticket.type in ON_SITE_TYPES else "处理完毕"}
    if worked.crew:
        values["班组"] = worked.crew.name
    arrived = next((e.at for e in reversed(ticket.events) if e.to_status == "已到达"), None)
    if arrived:
        values["到达时间"] = _when(arrived)
    paused = next((e.note for e in reversed(ticket.events) if e.to_status == "挂起" and e.note), None)
    if paused:
        values["挂起原因"] = paused
    return values


def _area_ticket(*, session: Session, ticket: TicketRead | None, area_code: str, feeder_code: str) -> TicketRead | None:
    """The area's repair ticket: the parent the customer's report was attached to, the report itself when it
    is the area's, else the one the proactive service opened for the area's (or its feeder's) outage."""
    if ticket is not None and ticket.parent_number:
        return tickets.get_by_number(session=session, number=ticket.parent_number)
    if ticket is not None and ticket.diagnosis.code in ("area_outage", "feeder_outage"):
        return ticket
    for key in (f"area_outage:{area_code}", f"feeder_outage:{feeder_code}"):
        alert = monitoring.get_open(session=session, key=key)
        if alert is not None and alert.ticket_number:
            return tickets.get_by_number(session=session, number=alert.ticket_number)
    return None


def _area_name(*, session: Session, customer, now: datetime) -> str:
    return _area_label(metering.area_state(session=session, transformer_area_id=customer.transformer_area_id, now=now))


def _area_label(area) -> str:
    """古雁街道新区路1号台区: the town and the area, as the customer knows the place."""
    name = area.area_name if area.area_name.endswith("台区") else f"{area.area_name}台区"
    return f"{area.town}{name}"


def _deadline(ticket: TicketRead) -> str:
    return _when(ticket.sla.arrive_by)


def _when(at: datetime) -> str:
    """12月6日 15:30, as an agent says a time to a customer."""
    local = at.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"
