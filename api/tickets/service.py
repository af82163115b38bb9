"""Ticket rules: numbering, fault tickets enriched with metering data, the event log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.core.errors import NotFound
from api.core.ids import mask_phone, ticket_number
from api.core.time import LOCAL_TZ, local_day
from api.core.vocabulary import BEFORE_RESOLUTION, HOLDING_STATUSES, OPEN_STATUSES, status_told
from api.settings import Settings
from api.tickets import lifecycle, sla
from api.tickets.diagnosis import diagnose, for_crew
from api.tickets.models import Ticket, TicketCounter, TicketEvent
from api.tickets.schemas import (
    AuditTicketCreate,
    ChargerReportCreate,
    CrewRef,
    DetectedTicketCreate,
    CrewTicketRead,
    Diagnosis,
    FaultReportCreate,
    OwnedTicketRead,
    ParentTicketRead,
    Sla,
    TicketCreate,
    TicketCustomer,
    TicketEventRead,
    TicketRead,
    UnownedTicketRead,
)

TYPE_BY_KIND = {"outage": "故障报修", "hazard": "安全隐患"}
PRIORITY_BY_DIAGNOSIS = {"hazard": 1, "area_outage": 2, "household_outage": 2}


class TicketNotFound(NotFound):
    """No ticket has that number."""

    def __init__(self, number: str) -> None:
        super().__init__("ticket_not_found", f"没有找到工单 {number}")


def next_number(*, session: Session, now: datetime) -> str:
    """The next readable ticket number of the local day, e.g. GD20261123-0042."""
    day = local_day(now)
    for _ in range(5):
        bumped = session.execute(
            update(TicketCounter).where(TicketCounter.day == day).values(last=TicketCounter.last + 1)
            .returning(TicketCounter.last)
        ).scalar_one_or_none()
        if bumped is not None:
            return ticket_number(day, bumped)
        try:
            with session.begin_nested():
                session.add(TicketCounter(day=day, last=1))
            return ticket_number(day, 1)
        except IntegrityError:
            continue  # another writer created the day's row first; bump it
    raise RuntimeError("could not allocate a ticket number")


def get_by_idempotency_key(*, session: Session, key: str | None) -> TicketRead | None:
    """The ticket an earlier try of the same request created, or None."""
    if not key:
        return None
    existing = session.scalar(_with_events().where(Ticket.idempotency_key == key))
    return None if existing is None else to_read(existing, attached=existing.parent_id is not None)


def create_fault_ticket(
    *, session: Session, report: FaultReportCreate, customer: TicketCustomer | None, snapshot: dict | None,
    settings: Settings, parser, now: datetime,
) -> TicketRead:
    """Open a 故障报修/安全隐患 ticket with the caller's meter snapshot and a diagnosis (idempotent by key).

    `customer` is the account the report was matched to and `snapshot` its meter's recent data
    (both None for a caller without an account); `parser` reads the typed address.
    """
    existing = get_by_idempotency_key(session=session, key=report.idempotency_key)
    if existing is not None:
        return existing
    address, area_class, lat, lon = _locate(report=report, customer=customer, parser=parser)
    area_id = customer.transformer_area_id if customer else None
    diagnosis = diagnose(
        report.kind, snapshot, now=now,
        area_outage_share=settings.area_outage_share, low_voltage_volts=settings.low_voltage_volts,
    )
    parent = None
    if area_id is not None and report.kind == "outage":
        # the area's open outage ticket: one a customer's report opened (the meters then agreed), or one
        # the monitoring opened from the meters (its outage may be older than the snapshot's hour)
        parent = session.scalar(
            select(Ticket).where(
                Ticket.transformer_area_id == area_id, Ticket.diagnosis_code == "area_outage",
                Ticket.parent_id.is_(None), Ticket.status.in_(OPEN_STATUSES),
                (Ticket.channel == DETECTED_CHANNEL) if diagnosis.code != "area_outage" else true(),
            ).order_by(Ticket.id).limit(1)
        )
        if parent is not None and diagnosis.code != "area_outage":
            diagnosis = diagnosis.model_copy(update={
                "code": "area_outage", "summary": "您所在台区已监测到停电，抢修工单已在处理中",
                "crew_note": f"台区停电（监测发现，工单{parent.number}）"})
    ticket = Ticket(
        number=next_number(session=session, now=now),
        type=TYPE_BY_KIND[report.kind],
        priority=PRIORITY_BY_DIAGNOSIS.get(diagnosis.code, 3),
        status="新建",
        channel=report.channel,
        conversation_id=report.conversation_id,
        idempotency_key=report.idempotency_key,
        customer_id=customer.id if customer else None,
        account_no=customer.account_no if customer else report.account_no,
        contact_phone=report.phone or (customer.mobile if customer else None),
        description=report.description,
        address_text=report.address_text or (customer.address if customer else ""),
        address=address,
        address_needs_review=bool(address.get("needs_review")),
        district=address.get("district") or (customer.district if customer else None),
        area_class=area_class,
        lat=lat,
        lon=lon,
        transformer_area_id=area_id,
        parent_id=parent.id if parent else None,
        diagnosis_code=diagnosis.code,
        diagnosis_summary=diagnosis.summary,
        crew_note=diagnosis.crew_note,
        metering_snapshot=snapshot,
        arrive_by=parent.arrive_by if parent else sla.due_at(sla.policy_for(TYPE_BY_KIND[report.kind], area_class), now),
        created_at=now,
        updated_at=now,
    )
    actor = f"customer:{report.channel}"
    ticket.events.append(TicketEvent(at=now, actor=actor, action="创建", to_status="新建",
                                     note=f"诊断：{diagnosis.code}"))
    if parent is not None:
        ticket.events.append(TicketEvent(at=now, actor="system", action="关联",
                                         note=f"并入台区故障工单 {parent.number}"))
        session.add(TicketEvent(ticket_id=parent.id, at=now, actor="system", action="关联报修",
                                note=f"新增同台区报修 {ticket.number}"))
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if report.idempotency_key:  # a retry raced us: answer with the ticket that won
            existing = session.scalar(_with_events().where(Ticket.idempotency_key == report.idempotency_key))
            if existing is not None:
                return to_read(existing, attached=existing.parent_id is not None)
        raise
    return to_read(ticket, attached=parent is not None, parent=parent)


SUMMARY_BY_TYPE = {"投诉": "客户投诉，待客户服务人员联系核实", "业务办理": "业务申请，待受理并预约上门",
                   "咨询回访": "待回访客户", "充电设施故障": "充电设施故障，待运维人员处理",
                   "稽查任务": "稽查任务，待用电检查人员现场核查"}
AUDIT_CHANNEL = "audit"  # a 稽查任务 from an audit theme: the customer it concerns is never told of it


def confidential(ticket: Ticket) -> bool:
    """A ticket the customer it concerns must not see or be told about (an audit of their premises)."""
    return ticket.type == "稽查任务" and ticket.channel == AUDIT_CHANNEL


def _not_confidential(query):
    return query.where(~and_(Ticket.type == "稽查任务", Ticket.channel == AUDIT_CHANNEL))


def create_ticket(*, session: Session, data: TicketCreate | AuditTicketCreate, customer: TicketCustomer | None,
                  parser, now: datetime) -> TicketRead:
    """Open a 投诉 / 业务办理 / 咨询回访 / 充电设施故障 / 稽查任务 ticket (idempotent by key), SLA by its type."""
    existing = get_by_idempotency_key(session=session, key=data.idempotency_key)
    if existing is not None:
        return existing
    report = FaultReportCreate(kind="outage", account_no=customer.account_no if customer else None,
                               phone=data.phone, address_text=data.address_text, description=data.description)
    address, area_class, lat, lon = _locate(report=report, customer=customer, parser=parser)
    policy = sla.policy_for(data.type, area_class)
    details = {k: v for k, v in {"service_type": data.service_type, "preferred_time": data.preferred_time,
                                 "subject": data.subject}.items() if v}
    priority = 2 if data.type == "投诉" else 3
    actor = f"customer:{data.channel}"
    if isinstance(data, AuditTicketCreate):
        details.update(data.audit or {})
        priority, actor = data.priority, data.actor
    what = data.service_type or data.subject or ""
    ticket = Ticket(
        number=next_number(session=session, now=now), type=data.type, priority=priority,
        status="新建", channel=data.channel, conversation_id=data.conversation_id,
        idempotency_key=data.idempotency_key, customer_id=customer.id if customer else None,
        account_no=customer.account_no if customer else data.account_no, contact_phone=data.phone,
        description=data.description, address_text=data.address_text or (customer.address if customer else ""),
        address=address, address_needs_review=bool(address.get("needs_review")) and data.type != "投诉",
        district=address.get("district") or (customer.district if customer else None), area_class=area_class,
        lat=lat, lon=lon, transformer_area_id=customer.transformer_area_id if customer else None,
        diagnosis_code=data.type, diagnosis_summary=SUMMARY_BY_TYPE[data.type] + (f"（{what}）" if what else ""),
        crew_note=data.description[:200], metering_snapshot=None, details=details or None,
        arrive_by=sla.due_at(policy, now), created_at=now, updated_at=now,
    )
    ticket.events.append(TicketEvent(at=now, actor=actor, action="创建", to_status="新建", note=what or None))
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if data.idempotency_key:
            existing = session.scalar(_with_events().where(Ticket.idempotency_key == data.idempotency_key))
            if existing is not None:
                return to_read(existing, attached=False)
        raise
    return to_read(ticket, attached=False)


DETECTED_CHANNEL = "monitoring"  # opened by the system from the meter data stream


def create_detected_ticket(*, session: Session, data: DetectedTicketCreate, now: datetime) -> TicketRead:
    """Open a ticket for what the meters show (idempotent by key); an area outage one is the parent that
    later customer reports of that area attach to. The caller dispatches it (or leaves it to a supervisor)."""
    existing = get_by_idempotency_key(session=session, key=data.idempotency_key)
    if existing is not None:
        return existing
    customer = data.customer
    ticket = Ticket(
        number=next_number(session=session, now=now), type=data.type, priority=data.priority, status="新建",
        channel=DETECTED_CHANNEL, conversation_id=None, idempotency_key=data.idempotency_key,
        customer_id=customer.id if customer else None, account_no=customer.account_no if customer else None,
        contact_phone=customer.mobile if customer else None, description=data.summary,
        address_text=data.address_text, address={"raw": data.address_text, "matched": True, "needs_review": False,
                                                  "district": data.district, "level": "area"},
        address_needs_review=False, district=data.district, area_class=data.area_class, lat=data.lat,
        lon=data.lon, transformer_area_id=data.transformer_area_id, diagnosis_code=data.diagnosis_code,
        diagnosis_summary=data.summary, crew_note=data.crew_note, metering_snapshot=data.evidence,
        arrive_by=sla.due_at(sla.policy_for(data.type, data.area_class), now), created_at=now, updated_at=now,
    )
    ticket.events.append(TicketEvent(at=now, actor="system:monitoring", action="创建", to_status="新建",
                                     note=f"主动发现：{data.summary}"))
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(_with_events().where(Ticket.idempotency_key == data.idempotency_key))
        if existing is None:
            raise
        return to_read(existing, attached=False)
    return to_read(ticket, attached=False)


def station_of(ticket: Ticket) -> str | None:
    """The charging station a 充电设施故障 ticket is for: from the charger's own report or a customer's."""
    return (ticket.metering_snapshot or {}).get("station") or (ticket.details or {}).get("station")


def open_station_ticket(*, session: Session, station_code: str) -> Ticket | None:
    """The station's open charger-repair ticket (not an attached report), the oldest first."""
    candidates = session.scalars(select(Ticket).where(
        Ticket.type == "充电设施故障", Ticket.parent_id.is_(None), Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id)).all()
    return next((t for t in candidates if station_of(t) == station_code), None)


def create_charger_report(*, session: Session, report: ChargerReportCreate, station_code: str, station_name: str,
                          address_text: str, district: str, area_class: str, lat: float, lon: float,
                          transformer_area_id: int | None, now: datetime) -> TicketRead:
    """A customer's charger report, at the station's own place (not wherever its words geocode); attached to the
    station's open repair ticket when there is one (the crew already goes there), else a ticket of its own for
    the caller to dispatch. Idempotent by key."""
    existing = get_by_idempotency_key(session=session, key=report.idempotency_key)
    if existing is not None:
        return existing
    parent = open_station_ticket(session=session, station_code=station_code)
    ticket = Ticket(
        number=next_number(session=session, now=now), type="充电设施故障", priority=3, status="新建",
        channel=report.channel, conversation_id=report.conversation_id, idempotency_key=report.idempotency_key,
        contact_phone=report.phone, description=report.description, address_text=address_text,
        address={"raw": address_text, "matched": True, "needs_review": False, "district": district,
                 "level": "station"},
        address_needs_review=False, district=district, area_class=area_class, lat=lat, lon=lon,
        transformer_area_id=transformer_area_id, parent_id=parent.id if parent else None,
        diagnosis_code="charger_fault", diagnosis_summary=SUMMARY_BY_TYPE["充电设施故障"],
        crew_note=report.description[:200], metering_snapshot=None, details={"station": station_code},
        arrive_by=parent.arrive_by if parent else sla.due_at(sla.policy_for("充电设施故障", area_class), now),
        created_at=now, updated_at=now)
    ticket.events.append(TicketEvent(at=now, actor=f"customer:{report.channel}", action="创建", to_status="新建",
                                     note=station_name))
    if parent is not None:
        ticket.events.append(TicketEvent(at=now, actor="system", action="关联",
                                         note=f"并入{station_name}的充电设施故障工单 {parent.number}"))
        session.add(TicketEvent(ticket_id=parent.id, at=now, actor="system", action="关联报修",
                                note=f"客户报修 {ticket.number}：{report.description[:100]}"))
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(_with_events().where(Ticket.idempotency_key == report.idempotency_key))
        if existing is None:
            raise
        return to_read(existing, attached=existing.parent_id is not None)
    return to_read(ticket, attached=parent is not None, parent=parent)


def add_event(*, session: Session, ticket: Ticket, actor: str, now: datetime, action: str, note: str) -> None:
    """A note on the ticket's timeline that changes nothing else (e.g. the meters say supply is back)."""
    ticket.events.append(TicketEvent(at=now, actor=actor, action=action, note=note))
    ticket.updated_at = now


STEP_TIMES = {"已派单": "assigned_at", "已接单": "accepted_at", "已到达": "arrived_at", "已处理": "resolved_at",
              "已关闭": "closed_at"}


def transition(*, session: Session, ticket: Ticket, action: str, actor: str, now: datetime,
               note: str | None = None, commit: bool = False) -> TicketEvent:
    """Apply one state-machine action: the status, step times, the SLA pause, and the event row.

    Raises lifecycle.InvalidTransition when the action is not allowed from the current status.
    The caller commits (so outbox messages go in the same transaction), unless commit=True.
    """
    before = ticket.status
    after = lifecycle.target(action, status=before, ticket_type=ticket.type,
                             suspended_from=ticket.suspended_from, note=note)
    policy = sla.policy_for(ticket.type, ticket.area_class)
    if action == "suspend":  # the SLA clock stops: keep what is left of it
        ticket.suspended_from = before
        ticket.sla_remaining_minutes = sla.remaining(policy, ticket.arrive_by, now)
    elif action == "resume":
        ticket.arrive_by = sla.resume(policy, ticket.sla_remaining_minutes or 0.0, now)
        ticket.suspended_from = ticket.sla_remaining_minutes = None
    elif action == "escalate":
        ticket.priority = max(1, ticket.priority - 1)
        ticket.escalation_level += 1
    if action in ("reassign", "reject", "cancel"):
        ticket.crew_eta = None
    if after in STEP_TIMES and after != before:
        setattr(ticket, STEP_TIMES[after], now)
    ticket.status = after
    ticket.updated_at = now
    event = TicketEvent(at=now, actor=actor, action=lifecycle.ACTIONS[action].label,
                        from_status=before, to_status=after, note=(note or "").strip() or None)
    ticket.events.append(event)
    if action in ("resolve", "close") and after != before:
        _follow_parent(session=session, parent=ticket, status=after, actor=actor, now=now)
    if commit:
        session.commit()
    return event


FOLLOWED = "随主单办结"  # the timeline step of a report settled with the ticket it was attached to


def _follow_parent(*, session: Session, parent: Ticket, status: str, actor: str, now: datetime) -> None:
    """Reports attached to a ticket (an area's, a station's) are settled with it: the crew worked the parent, so
    when it is resolved (or closed) the open reports under it are too, with the step on their timelines."""
    done = "已处理完成" if status == "已处理" else "已办结"
    for child in session.scalars(select(Ticket).where(Ticket.parent_id == parent.id,
                                                      Ticket.status.in_(OPEN_STATUSES))):
        before = child.status
        child.status = status
        setattr(child, STEP_TIMES[status], now)
        child.resolved_at = child.resolved_at or now
        child.updated_at = now
        child.events.append(TicketEvent(at=now, actor=actor, action=FOLLOWED, from_status=before, to_status=status,
                                        note=f"所并入的工单{parent.number}{done}"))


def attached_reports(*, session: Session, parent_id: int) -> list[Ticket]:
    """The reports attached to a ticket (its children)."""
    return [*session.scalars(select(Ticket).where(Ticket.parent_id == parent_id).order_by(Ticket.id))]


def check_transition(*, ticket: Ticket, action: str) -> None:
    """InvalidTransition unless the action is allowed from the ticket's status now."""
    lifecycle.target(action, status=ticket.status, ticket_type=ticket.type, suspended_from=ticket.suspended_from)


def get_for_update(*, session: Session, number: str) -> Ticket:
    """The ticket row to change (locked on PostgreSQL so two crews' replies apply one after the other)."""
    query = _with_events().where(Ticket.number == number.upper())
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Ticket)
    ticket = session.scalar(query)
    if ticket is None:
        raise TicketNotFound(number)
    return ticket


def _locate(*, report: FaultReportCreate, customer: TicketCustomer | None, parser) -> tuple[dict, str, float | None, float | None]:
    """Structured address and where it is: the typed address when it parses, else the account's."""
    if report.address_text:
        parsed = parser.parse(report.address_text).model_dump()
        if parsed.get("matched"):
            return parsed, parsed.get("area_class") or "农村", parsed.get("lat"), parsed.get("lon")
        if customer is None or not _same_place(report.address_text, customer.address):
            # kept verbatim and flagged for the agent; the SLA falls back to the account's class
            area_class = customer.area_class if customer else "边远"
            return parsed, area_class, None, None
    if customer is not None:
        parsed = parser.parse(customer.address).model_dump()
        parsed.update(lat=customer.lat, lon=customer.lon, district=customer.district,
                      town=customer.town, area_class=customer.area_class,
                      matched=True, needs_review=False, level="account")
        return parsed, customer.area_class, customer.lat, customer.lon
    return {"raw": "", "matched": False, "needs_review": True}, "边远", None, None


def _same_place(typed: str, registered: str) -> bool:
    return typed.replace(" ", "") in registered.replace(" ", "")


def _with_events():
    return select(Ticket).options(selectinload(Ticket.events), selectinload(Ticket.parent))


def get_by_number(*, session: Session, number: str, crew_id: str | None = None) -> TicketRead:
    """One ticket with its timeline (fresh from the database, even if this session changed it);
    with crew_id, only if that crew holds it (others do not learn it exists)."""
    ticket = session.scalar(_with_events().where(Ticket.number == number.upper())
                            .execution_options(populate_existing=True))
    if ticket is None or (crew_id is not None and ticket.crew_id != crew_id):
        raise TicketNotFound(number)
    return to_read(ticket, attached=ticket.parent_id is not None)


def for_customer(*, session: Session, number: str, conversation_id: str | None,
                 account_no: str | None) -> OwnedTicketRead | UnownedTicketRead:
    """A ticket as a chat may see it: in full for the conversation that reported it or the account it
    is for (verified by the bot), else only that it exists. NotFound for an unknown number."""
    ticket = session.scalar(_with_events().where(Ticket.number == number.upper()))
    if ticket is None or confidential(ticket):
        raise TicketNotFound(number)
    owned = (conversation_id and ticket.conversation_id == conversation_id) or \
        (account_no and ticket.account_no == account_no)
    if not owned:
        return UnownedTicketRead(number=ticket.number)
    read = to_read(ticket, attached=ticket.parent_id is not None)
    return OwnedTicketRead(**read.model_dump())


def list(*, session: Session, account_no: str | None = None, phone: str | None = None,
         status: str | None = None, type: str | None = None, crew_id: str | None = None,
         limit: int = 50, offset: int = 0, for_customers: bool = False) -> tuple[list[TicketRead], int]:
    """Tickets newest first, filtered (crew_id: only that crew's; for_customers: none of the audits they must
    not see); returns the page and the total."""
    query = select(Ticket)
    if for_customers:
        query = _not_confidential(query)
    if crew_id is not None:
        query = query.where(Ticket.crew_id == crew_id)
    if account_no:
        query = query.where(Ticket.account_no == account_no)
    if phone:
        query = query.where(Ticket.contact_phone == phone)
    if status:
        query = query.where(Ticket.status == status)
    if type:
        query = query.where(Ticket.type == type)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.options(selectinload(Ticket.events), selectinload(Ticket.parent))
        .order_by(Ticket.id.desc()).limit(limit).offset(offset)
    ).all()
    return [to_read(t, attached=t.parent_id is not None) for t in rows], total


def latest_open(*, session: Session, conversation_id: str | None, account_no: str | None) -> TicketRead | None:
    """The customer's most recent ticket still open: reported in this conversation or for the account
    (audits excluded: the customer must not learn of them)."""
    owners = []
    if conversation_id:
        owners.append(Ticket.conversation_id == conversation_id)
    if account_no:
        owners.append(Ticket.account_no == account_no)
    if not owners:
        return None
    ticket = session.scalar(_not_confidential(_with_events()).where(or_(*owners), Ticket.status.in_(OPEN_STATUSES))
                            .order_by(Ticket.id.desc()).limit(1))
    return to_read(ticket, attached=ticket.parent_id is not None) if ticket else None


def crew_tickets(*, session: Session, crew_id: str) -> list[CrewTicketRead]:
    """The crew's tickets still to do, most urgent (then oldest) first."""
    rows = session.scalars(_with_events().where(Ticket.crew_id == crew_id, Ticket.status.in_(HOLDING_STATUSES))
                           .order_by(Ticket.priority, Ticket.arrive_by)).all()
    return [CrewTicketRead(ticket=_for_crew(t), contact_phone=t.contact_phone,
                           lat=t.lat, lon=t.lon, arrived_at=t.arrived_at.astimezone(LOCAL_TZ) if t.arrived_at else None)
            for t in rows]


def _for_crew(ticket: Ticket) -> TicketRead:
    """The ticket with the diagnosis written for the crew (meter facts, likely cause, what to bring), worked
    out again from its stored code and snapshot as of when the snapshot was taken."""
    read = to_read(ticket, attached=ticket.parent_id is not None)
    snapshot = ticket.metering_snapshot
    taken = (snapshot or {}).get("as_of")
    detected = ticket.diagnosis_summary if ticket.channel == DETECTED_CHANNEL else None
    crew = for_crew(read.diagnosis, snapshot, detected_summary=detected,
                    now=datetime.fromisoformat(taken) if taken else ticket.created_at)
    return read.model_copy(update={"diagnosis": crew})


def parent_read(parent: Ticket) -> ParentTicketRead:
    """The area ticket as a ticket attached to it shows it: status (and as the customer is told it), crew, deadline."""
    return ParentTicketRead(
        number=parent.number, type=parent.type, status=parent.status, status_told=status_told(parent.status),
        crew=CrewRef(id=parent.crew.id, name=parent.crew.name) if parent.crew_id and parent.crew else None,
        crew_eta=parent.crew_eta.astimezone(LOCAL_TZ) if parent.crew_eta else None,
        arrive_by=parent.arrive_by.astimezone(LOCAL_TZ))


def to_read(ticket: Ticket, *, attached: bool, parent: Ticket | None = None) -> TicketRead:
    """The API view of a ticket, times in Asia/Shanghai (with the area ticket it is attached to)."""
    if parent is None and ticket.parent_id is not None:
        parent = ticket.parent
    return TicketRead(
        number=ticket.number,
        type=ticket.type,
        priority=ticket.priority,
        status=ticket.status,
        status_told=status_told(ticket.status),
        channel=ticket.channel,
        account_no=ticket.account_no,
        contact_phone_masked=mask_phone(ticket.contact_phone),
        description=ticket.description,
        address_text=ticket.address_text,
        address=ticket.address,
        address_needs_review=ticket.address_needs_review,
        district=ticket.district,
        transformer_area_id=ticket.transformer_area_id,
        parent_number=parent.number if parent is not None else None,
        parent=parent_read(parent) if parent is not None else None,
        attached_to_existing=attached,
        diagnosis=Diagnosis(code=ticket.diagnosis_code, summary=ticket.diagnosis_summary,
                            crew_note=ticket.crew_note),
        sla=Sla(area_class=ticket.area_class, what=sla.policy_for(ticket.type, ticket.area_class).what,
                arrive_minutes=round((ticket.arrive_by - ticket.created_at).total_seconds() / 60),
                arrive_by=ticket.arrive_by.astimezone(LOCAL_TZ), paused=ticket.status == "挂起",
                warned=ticket.sla_warned_at is not None, breached=ticket.sla_breached_at is not None),
        metering_snapshot=ticket.metering_snapshot,
        created_at=ticket.created_at.astimezone(LOCAL_TZ),
        details=ticket.details,
        crew=CrewRef(id=ticket.crew.id, name=ticket.crew.name) if ticket.crew_id and ticket.crew else None,
        crew_eta=ticket.crew_eta.astimezone(LOCAL_TZ) if ticket.crew_eta else None,
        satisfaction=ticket.satisfaction,
        escalation_level=ticket.escalation_level,
        allowed_actions=lifecycle.allowed(ticket.status, ticket.type),
        events=[
            TicketEventRead.model_validate(e).model_copy(update={"at": e.at.astimezone(LOCAL_TZ)})
            for e in ticket.events
        ],
    )


# ------------------------------------------------------------------ what dispatch and jobs look at

def crew_loads(*, session: Session) -> dict[str, int]:
    """How many tickets each crew holds now (offered, accepted, on site)."""
    return dict(session.execute(
        select(Ticket.crew_id, func.count()).where(Ticket.status.in_(HOLDING_STATUSES), Ticket.crew_id.is_not(None))
        .group_by(Ticket.crew_id)).all())


def list_for_update(*, session: Session, statuses: tuple[str, ...], crew_id: str | None = None,
                    order_by_priority: bool = True) -> list[Ticket]:
    """Work tickets (not attached to an area ticket) in these statuses, to change them."""
    query = _with_events().where(Ticket.status.in_(statuses), Ticket.parent_id.is_(None))
    if crew_id is not None:
        query = query.where(Ticket.crew_id == crew_id)
    order = (Ticket.priority, Ticket.id) if order_by_priority else (Ticket.id,)
    return session.scalars(query.order_by(*order)).all()


def get_by_id(*, session: Session, ticket_id: int) -> Ticket | None:
    """The ticket row with this id (with its events), to change it."""
    return session.scalar(_with_events().where(Ticket.id == ticket_id))


def crew_candidates(*, session: Session, crew_id: str, number: str | None,
                    statuses: tuple[str, ...]) -> list[Ticket]:
    """The crew's tickets a reply may be about: the one numbered, else those in the given statuses."""
    query = _with_events().where(Ticket.crew_id == crew_id)
    if number:
        return session.scalars(query.where(Ticket.number == number.upper())).all()
    return session.scalars(query.where(Ticket.status.in_(statuses))).all()


def awaiting_rating(*, session: Session, phone: str) -> Ticket | None:
    """The customer's latest resolved ticket not rated yet (the SMS survey's subject)."""
    return session.scalar(_with_events().where(
        Ticket.contact_phone == phone, Ticket.status == "已处理", Ticket.satisfaction.is_(None))
        .order_by(Ticket.resolved_at.desc()))


def record_satisfaction(*, session: Session, ticket: Ticket, score: int, now: datetime, actor: str) -> None:
    """The survey answer is the 回访: stored on the ticket and moves it to 已回访."""
    ticket.satisfaction = score
    transition(session=session, ticket=ticket, action="revisit", actor=actor, now=now, note=f"客户评价 {score} 分")


def list_unbreached(*, session: Session) -> list[Ticket]:
    """Work tickets whose commitment is still running and not yet missed (the SLA watch's rounds)."""
    return session.scalars(_with_events().where(
        Ticket.status.in_(BEFORE_RESOLUTION), Ticket.sla_breached_at.is_(None), Ticket.parent_id.is_(None))).all()


def record_sla_warning(*, ticket: Ticket, now: datetime, minutes_left: int) -> None:
    """The warning before a breach goes on the timeline once."""
    ticket.sla_warned_at = now
    ticket.events.append(TicketEvent(at=now, actor="system:sla", action="时限预警", note=f"剩余约{minutes_left}分钟"))
