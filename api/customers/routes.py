"""HTTP for customers: identify, verify, the customer with its meter, bills, balance, usage."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from api.auth import require_service
from api.clock import request_now
from api.customers import service
from api.customers.models import Customer
from api.customers.schemas import (
    BalanceRead,
    BillsRead,
    CustomerDetail,
    IdentifyRead,
    IdentifyRequest,
    UsageRead,
    VerifyRead,
    VerifyRequest,
)
from api.db import get_session

router = APIRouter(prefix="/api/customers", tags=["customers"], dependencies=[Depends(require_service)])


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


@router.post("/identify", response_model=IdentifyRead)
def identify(body: IdentifyRequest, session: Session = Depends(get_session)) -> IdentifyRead:
    """Find accounts by 户号 and/or mobile; names and addresses come back masked."""
    return service.identify(session=session, account_no=body.account_no, phone=body.phone)


@router.post("/verify", response_model=VerifyRead)
def verify(body: VerifyRequest, session: Session = Depends(get_session)) -> VerifyRead:
    """Check the last four digits of the account's registered mobile."""
    return VerifyRead(verified=service.verify(session=session, account_no=body.account_no,
                                              phone_last4=body.phone_last4))


@router.get("/{account_no}", response_model=CustomerDetail)
def get_customer(account_no: str, request: Request, session: Session = Depends(get_session)) -> CustomerDetail:
    """The customer, its meter's last readings and events, and its transformer area now."""
    customer = lookup_customer(session, account_no)
    return service.detail(session=session, customer=customer, now=request_now(request))


@router.get("/{account_no}/bills", response_model=BillsRead)
def get_bills(account_no: str, months: int = Query(6, ge=1, le=36),
              session: Session = Depends(get_session)) -> BillsRead:
    """The latest monthly bills, newest first (fen and 元)."""
    customer = lookup_customer(session, account_no)
    bills = service.list_bills(session=session, customer_id=customer.id, months=months)
    return service.bills_read(customer=customer, bills=bills)


@router.get("/{account_no}/balance", response_model=BalanceRead)
def get_balance(account_no: str, session: Session = Depends(get_session)) -> BalanceRead:
    """The prepaid balance; negative means arrears."""
    customer = lookup_customer(session, account_no)
    balance = service.get_balance(session=session, customer_id=customer.id)
    if balance is None:
        raise HTTPException(status_code=404, detail={
            "code": "balance_not_found", "message": "该户号暂无余额信息"})
    return service.balance_read(customer=customer, balance=balance)


@router.get("/{account_no}/usage", response_model=UsageRead)
def get_usage(account_no: str, request: Request, days: int = Query(30, ge=1, le=366),
              session: Session = Depends(get_session)) -> UsageRead:
    """Daily energy for the last `days` local days (today included) against the month before."""
    customer = lookup_customer(session, account_no)
    end = service.local_today(request_now(request))
    return service.usage(session=session, customer_id=customer.id, start=end - timedelta(days=days - 1), end=end)
