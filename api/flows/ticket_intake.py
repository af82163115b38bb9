"""A ticket is opened: matched to the caller's account and meter, diagnosed, and given to a crew at once.

customers (who is calling) → metering (the meter's last hours) → tickets (diagnosis, SLA, number)
→ dispatch (a crew) → notify (the crew's SMS), each answer of one domain handed to the next.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from api.customers import service as customers
from api.customers.models import Customer
from api.flows.dispatching import dispatch_new
from api.metering import service as metering
from api.settings import Settings
from api.tickets import service as tickets
from api.tickets.schemas import FaultReportCreate, TicketCreate, TicketCustomer, TicketRead


def match_customer(*, session: Session, account_no: str | None, phone: str | None) -> Customer | None:
    """The account a report is about: by 户号, else by a mobile registered on exactly one account."""
    if account_no:
        customer = customers.get_by_account_no(session=session, account_no=account_no)
        if customer is not None:
            return customer
    if phone:
        found = customers.list_by_mobile(session=session, mobile=phone)
        if len(found) == 1:
            return found[0]
    return None


def _dispatched(*, session: Session, created: TicketRead, now: datetime) -> TicketRead:
    """A new work ticket goes to a crew at once; one attached to an area ticket rides on that one."""
    if created.status == "新建" and not created.attached_to_existing:
        dispatch_new(session=session, number=created.number, now=now)
        return tickets.get_by_number(session=session, number=created.number)
    return created


def create_fault_ticket(*, session: Session, report: FaultReportCreate, settings: Settings, parser,
                        now: datetime) -> TicketRead:
    """Open a fault or hazard ticket with the meter's evidence; the same idempotency key returns the same."""
    existing = tickets.get_by_idempotency_key(session=session, key=report.idempotency_key)
    if existing is not None:  # a retry: the ticket is there; try again to give it a crew if none took it
        return _dispatched(session=session, created=existing, now=now)
    customer = match_customer(session=session, account_no=report.account_no, phone=report.phone)
    snapshot = None
    if customer is not None:
        snap = metering.snapshot_for_customer(session=session, customer_id=customer.id, now=now)
        snapshot = snap.model_dump(mode="json") if snap is not None else None
    created = tickets.create_fault_ticket(
        session=session, report=report, settings=settings, parser=parser, now=now, snapshot=snapshot,
        customer=TicketCustomer.model_validate(customer) if customer else None)
    return _dispatched(session=session, created=created, now=now)


def create_ticket(*, session: Session, data: TicketCreate, parser, now: datetime) -> TicketRead:
    """Open a 投诉 / 业务办理 / 咨询回访 / 充电设施故障 ticket and give it to a crew at once."""
    existing = tickets.get_by_idempotency_key(session=session, key=data.idempotency_key)
    if existing is not None:
        return _dispatched(session=session, created=existing, now=now)
    customer = match_customer(session=session, account_no=data.account_no, phone=data.phone)
    created = tickets.create_ticket(session=session, data=data, parser=parser, now=now,
                                    customer=TicketCustomer.model_validate(customer) if customer else None)
    return _dispatched(session=session, created=created, now=now)


def open_overload_ticket(*, session: Session, warning, settings: Settings, parser, now: datetime) -> TicketRead:
    """A 安全隐患 ticket for a transformer area forecast to overload (one per area per day), dispatched at once.

    `warning` is an api.forecasting.schemas.OverloadWarning; the crew checks the transformer and
    balances or sheds load before the forecast peak.
    """
    report = FaultReportCreate(
        kind="hazard", channel="hotline", address_text=f"{warning.district}{warning.area_name}",
        description=(f"台区重过载预警：{warning.message} 请到现场检查变压器和低压出线，"
                     f"必要时调整负荷或安排轮换供电。"),
        idempotency_key=f"overload:{warning.area_code}:{warning.peak_at.date().isoformat()}")
    return create_fault_ticket(session=session, report=report, settings=settings, parser=parser, now=now)
