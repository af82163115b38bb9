"""The customer as staff and the bot see it: the account with its meter, money, usage and tickets.

Customers, metering, billing and tickets each keep their own rules; these steps put their
answers together for one account (the hotline's 客户360, the bot's usage and bill look-ups).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from api.audit import service as audit
from api.audit.schemas import CustomerFlags
from api.billing import service as billing
from api.billing.schemas import BalanceRead, BillsRead
from api.conversations import handoff
from api.conversations import service as chats
from api.conversations.models import Conversation
from api.core.ids import chat_address, compact_digits
from api.core.time import local_day
from api.core.vocabulary import OPEN_STATUSES
from api.customers import service as customers
from api.customers.models import Customer
from api.customers.schemas import BindingsRead, BoundAccount, CustomerRead
from api.flows.schemas import CustomerDetail, CustomerOverview, MeterCheckRead, TicketBrief
from api.metering import service as metering
from api.metering.schemas import LoadPoint, MeterEventRead, UsageRead
from api.tickets import service as tickets

OVERVIEW_BILL_MONTHS = 6
OVERVIEW_TICKETS = 20
OVERVIEW_EVENTS = 20
METER_CHECK_DAYS = 60


def read(*, session: Session, customer: Customer) -> CustomerRead:
    """The customer with its transformer area's code."""
    area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
    return customers.to_read(customer=customer, transformer_area_code=area.code if area else None)


def detail(*, session: Session, customer: Customer, now: datetime) -> CustomerDetail:
    """The customer with its meter snapshot (last 3 h readings, 24 h events, area state)."""
    return CustomerDetail(customer=read(session=session, customer=customer),
                          meter=metering.snapshot_for_customer(session=session, customer_id=customer.id, now=now))


def usage(*, session: Session, customer: Customer, start: date, end: date) -> UsageRead:
    """Daily kWh of the customer's meter over local days, against the month before."""
    return metering.usage(session=session, customer_id=customer.id, account_no=customer.account_no,
                          start=start, end=end)


def recent_usage(*, session: Session, customer: Customer, days: int, now: datetime) -> UsageRead:
    """The last `days` local days, today included."""
    end = local_day(now)
    return usage(session=session, customer=customer, start=end - timedelta(days=days - 1), end=end)


def meter_check(*, session: Session, customer: Customer, now: datetime, days: int = METER_CHECK_DAYS) -> MeterCheckRead:
    """The customer's meter over the last `days` days: its metering-fault events, whether it reported
    every hour and the voltage range (NotFound "no_meter" without a meter). Nothing from audit."""
    meter = metering.require_meter_by_customer(session=session, customer_id=customer.id)
    events = metering.list_metering_faults(session=session, meter_id=meter.id, start=now - timedelta(days=days), end=now)
    return MeterCheckRead(
        account_no=customer.account_no, meter_no=meter.meter_no, phases=meter.phases, days=days, as_of=now,
        events=[MeterEventRead.model_validate(e) for e in events],
        coverage=metering.reading_coverage(session=session, meter=meter, now=now, days=days))


def bills(*, session: Session, customer: Customer, months: int) -> BillsRead:
    """The latest monthly bills, newest first."""
    return billing.bills_read(account_no=customer.account_no,
                              bills=billing.list_bills(session=session, customer_id=customer.id, months=months))


def balance(*, session: Session, customer: Customer) -> BalanceRead:
    """The prepaid balance (NotFound when the account has none)."""
    return billing.get_balance_read(session=session, customer_id=customer.id, account_no=customer.account_no)


def verify(*, session: Session, account_no: str, phone_last4: str, conversation_id: str | None,
           now: datetime, limits: customers.VerifyLimits) -> bool:
    """Check the caller (limited tries); a verified chat is linked to the account so agents see who
    they talk to."""
    address = chats.issued_address(session=session, conversation_id=conversation_id) if conversation_id else None
    verified = customers.verify(session=session, account_no=account_no, phone_last4=phone_last4,
                                conversation_id=conversation_id, now=now, limits=limits, address=address)
    if verified and conversation_id:
        handoff.link_account(session=session, conversation_id=conversation_id, account_no=account_no)
        if chat_address(conversation_id)[0] == "wechat":  # a WeChat user keeps the account bound
            customers.bind(session=session, chat_user=conversation_id, account_no=compact_digits(account_no), now=now)
            session.commit()
    return verified


def phone_of_wechat_user(*, session: Session, openid: str) -> str | None:
    """The mobile on file for a WeChat user, for the SMS WeChat won't carry (outside its 48 hours): of the
    户号 in use, else the latest bound, else the one their conversation was linked to by verification."""
    conversation_id = f"wx-{openid}"
    rows = customers.bindings(session=session, chat_user=conversation_id)
    account_no = next((b.account_no for b in rows if b.is_default), rows[-1].account_no if rows else None)
    if account_no is None:
        conversation = session.get(Conversation, conversation_id)
        account_no = conversation.account_no if conversation is not None else None
    customer = customers.get_by_account_no(session=session, account_no=account_no) if account_no else None
    return customer.mobile if customer is not None else None


def bindings(*, session: Session, conversation_id: str) -> BindingsRead:
    """The accounts bound to the chat user of this conversation (a WeChat user), the default first served."""
    rows = customers.bindings(session=session, chat_user=conversation_id)
    return BindingsRead(conversation_id=conversation_id,
                        accounts=[BoundAccount(account_no=b.account_no, is_default=b.is_default) for b in rows],
                        default=next((b.account_no for b in rows if b.is_default), None))


def overview(*, session: Session, customer: Customer, now: datetime) -> CustomerOverview:
    """The customer 360 view: account, balance, bills, 7 days of load, meter events and tickets."""
    meter = metering.get_meter_by_customer(session=session, customer_id=customer.id)
    load, events = [], []
    if meter is not None:
        load = [LoadPoint(ts=r.ts, kw=float(r.kw)) for r in metering.list_readings(
            session=session, meter_id=meter.id, start=now - timedelta(days=7), end=now)]
        events = list(reversed(metering.list_events(session=session, meter_id=meter.id,
                                                    start=now - timedelta(days=30), end=now)))[:OVERVIEW_EVENTS]
    held = billing.get_balance(session=session, customer_id=customer.id)
    ticket_rows, _ = tickets.list(session=session, account_no=customer.account_no, limit=OVERVIEW_TICKETS)
    rules, open_findings, open_task = audit.open_flags(session=session, customer_id=customer.id)
    confirmed = audit.confirmed_outcomes(session=session, customer_id=customer.id, since=now - timedelta(days=365))
    return CustomerOverview(
        customer=read(session=session, customer=customer),
        balance=billing.balance_read(account_no=customer.account_no, balance=held) if held else None,
        bills=bills(session=session, customer=customer, months=OVERVIEW_BILL_MONTHS),
        load=load,
        daily=recent_usage(session=session, customer=customer, days=7, now=now).days,
        meter=metering.snapshot_for_customer(session=session, customer_id=customer.id, now=now),
        events=events,
        tickets=[TicketBrief(number=t.number, type=t.type, status=t.status, status_told=t.status_told,
                             created_at=t.created_at, summary=t.diagnosis.summary or t.description[:60],
                             open=t.status in OPEN_STATUSES, parent=t.parent) for t in ticket_rows],
        audit=CustomerFlags(account_no=customer.account_no, open_findings=open_findings, rules=rules,
                            open_task=open_task, confirmed=confirmed) if open_findings or open_task or confirmed else None,
    )
