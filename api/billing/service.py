"""Billing rules: monthly bills, the prepaid balance, money as 元, kWh already billed this year."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.billing.models import AccountBalance, Bill
from api.billing.schemas import BalanceRead, BillRead, BillsRead
from api.billing.tariffs import format_yuan  # the one money format (also for callers of service)
from api.core.errors import NotFound


def get_balance(*, session: Session, customer_id: int) -> AccountBalance | None:
    """The customer's prepaid balance row, or None."""
    return session.get(AccountBalance, customer_id)


def balance_read(*, account_no: str, balance: AccountBalance) -> BalanceRead:
    """The API view of a balance: fen, 元 strings and the arrears amount."""
    arrears = max(0, -balance.balance_fen)
    return BalanceRead(
        account_no=account_no, balance_fen=balance.balance_fen,
        balance_yuan=format_yuan(balance.balance_fen), in_arrears=arrears > 0,
        arrears_fen=arrears, arrears_yuan=format_yuan(arrears), updated_at=balance.updated_at,
    )


def get_balance_read(*, session: Session, customer_id: int, account_no: str) -> BalanceRead:
    """The balance of an account, or NotFound when the account has none on record."""
    balance = get_balance(session=session, customer_id=customer_id)
    if balance is None:
        raise NotFound("balance_not_found", "该户号暂无余额信息")
    return balance_read(account_no=account_no, balance=balance)


def list_bills(*, session: Session, customer_id: int, months: int) -> list[Bill]:
    """The customer's latest `months` monthly bills, newest first."""
    return list(session.scalars(
        select(Bill).where(Bill.customer_id == customer_id).order_by(Bill.period.desc()).limit(max(0, months))))


def bills_read(*, account_no: str, bills: list[Bill]) -> BillsRead:
    """The API view of bills with the unpaid total."""
    unpaid = [b for b in bills if not b.paid]
    unpaid_fen = sum(b.amount_fen for b in unpaid)
    return BillsRead(
        account_no=account_no,
        bills=[BillRead(period=b.period, kwh=float(b.kwh), amount_fen=b.amount_fen,
                        amount_yuan=format_yuan(b.amount_fen), due_date=b.due_date, paid=b.paid,
                        paid_at=b.paid_at) for b in bills],
        unpaid_count=len(unpaid), unpaid_fen=unpaid_fen, unpaid_yuan=format_yuan(unpaid_fen),
    )


def kwh_billed_before(*, session: Session, customer_id: int, month: str) -> Decimal:
    """kWh billed to the customer in the months of `month`'s year before it ("2026-04": January–March),
    what a yearly 阶梯 has used up already."""
    year = month[:4]
    total = session.scalar(select(func.sum(Bill.kwh)).where(
        Bill.customer_id == customer_id, Bill.period >= f"{year}-01", Bill.period < month))
    return Decimal(total or 0).quantize(Decimal("0.01"))


def kwh_billed_before_by_customer(*, session: Session, month: str) -> dict[int, Decimal]:
    """The same for every customer with a bill: customer id → kWh billed this year before `month`."""
    year = month[:4]
    return {customer_id: Decimal(kwh or 0) for customer_id, kwh in session.execute(
        select(Bill.customer_id, func.sum(Bill.kwh))
        .where(Bill.period >= f"{year}-01", Bill.period < month).group_by(Bill.customer_id))}
