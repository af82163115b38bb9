"""HTTP for customers: identify, verify, the customer with its meter, bills, balance, usage."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from api.auth import require_roles, require_service
from api.clock import request_now
from api.customers import service
from api.customers.models import Customer
from api.customers.schemas import (
    BalanceRead,
    BillsRead,
    CustomerDetail,
    CustomerOverview,
    CustomerRead,
    IdentifyRead,
    IdentifyRequest,
    UsageRead,
    VerifyRead,
    VerifyRequest,
)
from api.db import get_session

router = APIRouter(prefix="/api/customers", tags=["customers"])
# The bot identifies and verifies; agents, supervisors and auditors read (the 360 view).
BOT = [Depends(require_service)]
READERS = [Depends(require_roles("agent", "supervisor", "auditor", allow_service=True))]


def lookup_customer(session: Session, account_no: str) -> Customer:
    """The customer for an account number from a URL, or a structured 422/404."""
    try:
        number = service.normalize_account_no(account_no)
    except ValueError:
        raise HTTPException(status_code=422, detail={
            "code": "invalid_account_no", "message": "户号应为10位数字"}) from None
    customer = service.get_by_account_no(session=session, account_no=number)
    if customer is None:
        raise HTTPException(status_code=404, detail={
            "code": "customer_not_found", "message": f"未找到户号 {number} 对应的用电客户"})
    return customer


@router.post("/identify", response_model=IdentifyRead, dependencies=BOT)
def identify(body: IdentifyRequest, session: Session = Depends(get_session)) -> IdentifyRead:
    """Find accounts by 户号 and/or mobile; names and addresses come back masked."""
    return service.identify(session=session, account_no=body.account_no, phone=body.phone)


@router.post("/verify", response_model=VerifyRead, dependencies=BOT)
def verify(body: VerifyRequest, session: Session = Depends(get_session)) -> VerifyRead:
    """Check the last four digits of the account's registered mobile."""
    verified = service.verify(session=session, account_no=body.account_no, phone_last4=body.phone_last4)
    if verified and body.conversation_id:
        from api.conversations import handoff

        handoff.link_account(session=session, conversation_id=body.conversation_id, account_no=body.account_no)
    return VerifyRead(verified=verified)


@router.get("/search", response_model=list[CustomerRead], dependencies=READERS)
def search_customers(q: str = Query(..., min_length=1, max_length=32),
                     session: Session = Depends(get_session)) -> list[CustomerRead]:
    """Customers by 户号 or registered mobile (a hotline agent types what the caller says)."""
    try:
        found = service.search(session=session, query=q)
    except ValueError:
        raise HTTPException(status_code=422, detail={
            "code": "invalid_query", "message": "请输入10位户号或11位手机号"}) from None
    return [service.to_read(session=session, customer=c) for c in found]


@router.get("/{account_no}/overview", response_model=CustomerOverview, dependencies=READERS)
def get_overview(account_no: str, request: Request, session: Session = Depends(get_session)) -> CustomerOverview:
    """The customer 360 view for the agent console."""
    customer = lookup_customer(session, account_no)
    return service.overview(session=session, customer=customer, now=request_now(request))


@router.get("/{account_no}", response_model=CustomerDetail, dependencies=READERS)
def get_customer(account_no: str, request: Request, session: Session = Depends(get_session)) -> CustomerDetail:
    """The customer, its meter's last readings and events, and its transformer area now."""
    customer = lookup_customer(session, account_no)
    return service.detail(session=session, customer=customer, now=request_now(request))


@router.get("/{account_no}/bills", response_model=BillsRead, dependencies=READERS)
def get_bills(account_no: str, months: int = Query(6, ge=1, le=36),
              session: Session = Depends(get_session)) -> BillsRead:
    """The latest monthly bills, newest first (fen and 元)."""
    customer = lookup_customer(session, account_no)
    bills = service.list_bills(session=session, customer_id=customer.id, months=months)
    return service.bills_read(customer=customer, bills=bills)


@router.get("/{account_no}/balance", response_model=BalanceRead, dependencies=READERS)
def get_balance(account_no: str, session: Session = Depends(get_session)) -> BalanceRead:
    """The prepaid balance; negative means arrears."""
    customer = lookup_customer(session, account_no)
    balance = service.get_balance(session=session, customer_id=customer.id)
    if balance is None:
        raise HTTPException(status_code=404, detail={
            "code": "balance_not_found", "message": "该户号暂无余额信息"})
    return service.balance_read(customer=customer, balance=balance)


@router.get("/{account_no}/usage", response_model=UsageRead, dependencies=READERS)
def get_usage(account_no: str, request: Request, days: int = Query(30, ge=1, le=366),
              session: Session = Depends(get_session)) -> UsageRead:
    """Daily energy for the last `days` local days (today included) against the month before."""
    customer = lookup_customer(session, account_no)
    end = service.local_today(request_now(request))
    return service.usage(session=session, customer_id=customer.id, start=end - timedelta(days=days - 1), end=end)
