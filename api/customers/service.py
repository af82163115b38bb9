"""Customer rules: finding and verifying a customer, masking, bills, balance and usage."""
from __future__ import annotations

import hmac
import re
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.customers.models import AccountBalance, Bill, Customer
from api.customers.schemas import (
    BalanceRead,
    BillRead,
    BillsRead,
    CustomerDetail,
    CustomerOverview,
    CustomerRead,
    DailyUsage,
    IdentifiedCustomer,
    IdentifyRead,
    LoadPoint,
    PeriodTotal,
    TicketBrief,
    UsageRead,
)
from api.metering import service as metering
from api.metering.schemas import SHANGHAI
from api.text import mask_name, normalize_text

ACCOUNT_NO = re.compile(r"^\d{10}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-—_.()（）]+")
_PLACE = re.compile(r".+?(?:街道|大街|街|路|巷|道|村|社区)")
_GROUP = re.compile(r"[一二三四五六七八九十\d]+(组|队|社)")
_HOUSE = re.compile(r"\d+号")


def normalize_account_no(value: str) -> str:
    """户号 as 10 ASCII digits (full-width digits and separators accepted); ValueError otherwise."""
    text = _SEPARATORS.sub("", normalize_text(str(value)))
    if not ACCOUNT_NO.match(text):
        raise ValueError("account number must be 10 digits")
    return text


def normalize_mobile(value: str) -> str:
    """A mainland mobile as 11 digits (drops +86 and separators); ValueError otherwise."""
    text = _SEPARATORS.sub("", normalize_text(str(value)))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == 11 + len(prefix):
            text = text[len(prefix):]
    if not MOBILE.match(text):
        raise ValueError("mobile must be 11 digits starting with 13-19")
    return text


def format_yuan(fen: int) -> str:
    """Fen as a 元 string with two decimals: 12345 → "123.45", -80 → "-0.80"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def mask_address(address: str, district: str, town: str) -> str:
    """Keep district, town and street/village; mask numbers: 原州区南关街道文化街**号***."""
    head = f"{district}{town}"
    if not address.startswith(head):
        return address[:6] + "***"
    rest = address[len(head):]
    place = _PLACE.match(rest)
    kept = place.group(0) if place else ""
    tail = rest[len(kept):]
    masked = ""
    group = _GROUP.match(tail)
    if group:
        masked += "*" + group.group(1)
        tail = tail[group.end():]
    house = _HOUSE.match(tail)
    if house:
        masked += "**号"
        tail = tail[house.end():]
    if tail:
        masked += "***"
    return head + kept + masked


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer with this id, or None."""
    return session.get(Customer, customer_id)


def get_by_account_no(*, session: Session, account_no: str) -> Customer | None:
    """The customer with this 户号 (normalised first), or None (also for a malformed number)."""
    try:
        number = normalize_account_no(account_no)
    except ValueError:
        return None
    return session.scalar(select(Customer).where(Customer.account_no == number))


def list_by_mobile(*, session: Session, mobile: str) -> list[Customer]:
    """Every account registered with this mobile (one person may hold several), by 户号."""
    try:
        number = normalize_mobile(mobile)
    except ValueError:
        return []
    return list(session.scalars(select(Customer).where(Customer.mobile == number).order_by(Customer.account_no)))


def identify(*, session: Session, account_no: str | None = None, phone: str | None = None) -> IdentifyRead:
    """Accounts matching the 户号 and/or the mobile, masked for reading back."""
    found: dict[str, Customer] = {}
    if account_no:
        customer = get_by_account_no(session=session, account_no=account_no)
        if customer is not None:
            found[customer.account_no] = customer
    if phone:
        for customer in list_by_mobile(session=session, mobile=phone):
            found.setdefault(customer.account_no, customer)
    customers = [
        IdentifiedCustomer(
            account_no=c.account_no, masked_name=mask_name(c.name),
            masked_address=mask_address(c.address, c.district, c.town),
            district=c.district, area_class=c.area_class,
        )
        for c in sorted(found.values(), key=lambda c: c.account_no)
    ]
    return IdentifyRead(found=bool(customers), customers=customers)


def verify(*, session: Session, account_no: str, phone_last4: str) -> bool:
    """True when the last four digits of the account's registered mobile match."""
    customer = get_by_account_no(session=session, account_no=account_no)
    given = normalize_text(str(phone_last4))
    if customer is None or len(given) != 4 or not given.isdigit():
        return False
    return hmac.compare_digest(customer.mobile[-4:], given)


def to_read(*, session: Session, customer: Customer) -> CustomerRead:
    """The API view of a customer, with its transformer area's code."""
    area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
    return CustomerRead(
        account_no=customer.account_no, name=customer.name, mobile=customer.mobile,
        address=customer.address, district=customer.district, town=customer.town,
        area_class=customer.area_class, lat=customer.lat, lon=customer.lon,
        customer_class=customer.customer_class, tariff_code=customer.tariff_code,
        contract_capacity_kva=float(customer.contract_capacity_kva),
        transformer_area_code=area.code if area else None, opened_on=customer.opened_on,
    )


def detail(*, session: Session, customer: Customer, now: datetime) -> CustomerDetail:
    """The customer with its meter snapshot (last 3 h readings, 24 h events, area state)."""
    return CustomerDetail(
        customer=to_read(session=session, customer=customer),
        meter=metering.snapshot_for_customer(session=session, customer_id=customer.id, now=now),
    )


def get_balance(*, session: Session, customer_id: int) -> AccountBalance | None:
    """The customer's prepaid balance row, or None."""
    return session.get(AccountBalance, customer_id)


def balance_read(*, customer: Customer, balance: AccountBalance) -> BalanceRead:
    """The API view of a balance: fen, 元 strings and the arrears amount."""
    arrears = max(0, -balance.balance_fen)
    return BalanceRead(
        account_no=customer.account_no, balance_fen=balance.balance_fen,
        balance_yuan=format_yuan(balance.balance_fen), in_arrears=arrears > 0,
        arrears_fen=arrears, arrears_yuan=format_yuan(arrears), updated_at=balance.updated_at,
    )


def list_bills(*, session: Session, customer_id: int, months: int) -> list[Bill]:
    """The customer's latest `months` monthly bills, newest first."""
    return list(session.scalars(
        select(Bill).where(Bill.customer_id == customer_id).order_by(Bill.period.desc()).limit(max(0, months))))


def bills_read(*, customer: Customer, bills: list[Bill]) -> BillsRead:
    """The API view of bills with the unpaid total."""
    unpaid = [b for b in bills if not b.paid]
    unpaid_fen = sum(b.amount_fen for b in unpaid)
    return BillsRead(
        account_no=customer.account_no,
        bills=[BillRead(period=b.period, kwh=float(b.kwh), amount_fen=b.amount_fen,
                        amount_yuan=format_yuan(b.amount_fen), due_date=b.due_date, paid=b.paid,
                        paid_at=b.paid_at) for b in bills],
        unpaid_count=len(unpaid), unpaid_fen=unpaid_fen, unpaid_yuan=format_yuan(unpaid_fen),
    )


def _month_back(day: date) -> date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def usage(*, session: Session, customer_id: int, start: date, end: date) -> UsageRead:
    """Daily kWh from `start` to `end` (local days, inclusive) and the same period a month earlier."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} not found")
    if end < start:
        raise ValueError("end is before start")
    meter = metering.get_meter_by_customer(session=session, customer_id=customer_id)
    days_kwh = {} if meter is None else metering.daily_kwh(session=session, meter_id=meter.id, start=start, end=end)
    prev_start, prev_end = _month_back(start), _month_back(end)
    prev_kwh = {} if meter is None else metering.daily_kwh(
        session=session, meter_id=meter.id, start=prev_start, end=prev_end)
    days = []
    day = start
    while day <= end:
        value = days_kwh.get(day)
        days.append(DailyUsage(date=day, kwh=None if value is None else float(round(value, 3))))
        day += timedelta(days=1)
    total = float(round(sum(days_kwh.values()), 3))
    previous = float(round(sum(prev_kwh.values()), 3))
    covered = sum(1 for d in days if d.kwh is not None)
    return UsageRead(
        account_no=customer.account_no, start=start, end=end, days=days, total_kwh=total,
        average_daily_kwh=round(total / covered, 3) if covered else 0.0,
        previous=PeriodTotal(start=prev_start, end=prev_end, total_kwh=previous),
        change_kwh=round(total - previous, 3),
        change_pct=round(100.0 * (total - previous) / previous, 1) if previous else None,
    )


def local_today(now: datetime) -> date:
    """The Asia/Shanghai date of an instant."""
    return now.astimezone(SHANGHAI).date()


OPEN_TICKET_STATUSES = {"新建", "已派单", "已接单", "已到达", "挂起"}


def search(*, session: Session, query: str) -> list[Customer]:
    """Customers by 户号 or registered mobile, as an agent types them (hotline 360 view)."""
    digits = _SEPARATORS.sub("", normalize_text(query))
    if ACCOUNT_NO.fullmatch(digits):
        customer = get_by_account_no(session=session, account_no=digits)
        return [customer] if customer else []
    if MOBILE.fullmatch(digits):
        return list_by_mobile(session=session, mobile=digits)
    raise ValueError(query)


def overview(*, session: Session, customer: Customer, now: datetime) -> CustomerOverview:
    """The customer 360 view: account, balance, bills, 7 days of load, meter events and tickets."""
    from api.tickets import service as tickets

    meter = metering.get_meter_by_customer(session=session, customer_id=customer.id)
    load, events = [], []
    if meter is not None:
        load = [LoadPoint(ts=r.ts, kw=float(r.kw)) for r in metering.list_readings(
            session=session, meter_id=meter.id, start=now - timedelta(days=7), end=now)]
        events = list(reversed(metering.list_events(session=session, meter_id=meter.id,
                                                    start=now - timedelta(days=30), end=now)))[:20]
    balance = get_balance(session=session, customer_id=customer.id)
    today = local_today(now)
    ticket_rows, _ = tickets.list(session=session, account_no=customer.account_no, limit=20)
    return CustomerOverview(
        customer=to_read(session=session, customer=customer),
        balance=balance_read(customer=customer, balance=balance) if balance else None,
        bills=bills_read(customer=customer, bills=list_bills(session=session, customer_id=customer.id, months=6)),
        load=load,
        daily=usage(session=session, customer_id=customer.id, start=today - timedelta(days=6), end=today).days,
        meter=metering.snapshot_for_customer(session=session, customer_id=customer.id, now=now),
        events=events,
        tickets=[TicketBrief(number=t.number, type=t.type, status=t.status, created_at=t.created_at,
                             summary=t.diagnosis.summary or t.description[:60],
                             open=t.status in OPEN_TICKET_STATUSES) for t in ticket_rows],
    )
