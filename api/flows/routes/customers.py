"""HTTP of the customer views: verify a caller, the 360 view, detail with meter, bills, balance, usage,
the meter's own health (meter-check)."""
from __future__ import annotations

from datetime import timedelta

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.billing.schemas import BalanceRead, BillsRead
from api.conversations.schemas import CONVERSATION_ID_PATTERN
from api.core.deps import NowDep, SessionDep, SettingsDep, require_roles, require_service
from api.customers import service as customers
from api.customers.schemas import BindingsRead, CustomerRead, VerifyRead, VerifyRequest
from api.flows import customers as customer_view
from api.flows.schemas import CustomerDetail, CustomerOverview, MeterCheckRead
from api.metering.schemas import UsageRead

# The bot verifies; agents, supervisors and auditors read (the 360 view); the bot reads too.
customers_router = APIRouter(prefix="/api/customers", tags=["customers"])
BOT = [Depends(require_service)]
READERS = [Depends(require_roles("agent", "supervisor", "auditor", allow_service=True))]
ChatUser = Annotated[str, Path(min_length=4, max_length=64, pattern=CONVERSATION_ID_PATTERN)]


@customers_router.post("/verify", response_model=VerifyRead, dependencies=BOT)
def verify(body: VerifyRequest, session: SessionDep, settings: SettingsDep, now: NowDep) -> VerifyRead:
    """Check the last four digits of the account's registered mobile (429 after too many wrong tries)."""
    limits = customers.VerifyLimits(per_conversation=settings.verify_max_failures,
                                    per_account=settings.verify_max_failures_per_account,
                                    per_address=settings.verify_max_failures_per_address,
                                    window=timedelta(minutes=settings.verify_window_minutes))
    return VerifyRead(verified=customer_view.verify(session=session, account_no=body.account_no,
                                                    phone_last4=body.phone_last4,
                                                    conversation_id=body.conversation_id, now=now, limits=limits))


@customers_router.get("/bindings/{conversation_id}", response_model=BindingsRead, dependencies=BOT)
def bindings(conversation_id: ChatUser, session: SessionDep) -> BindingsRead:
    """The accounts a WeChat user has bound (the bot serves the default without asking again)."""
    return customer_view.bindings(session=session, conversation_id=conversation_id)


@customers_router.get("/search", response_model=list[CustomerRead], dependencies=READERS)
def search_customers(session: SessionDep, q: str = Query(..., min_length=1, max_length=32)) -> list[CustomerRead]:
    """Customers by 户号 or registered mobile (a hotline agent types what the caller says)."""
    return [customer_view.read(session=session, customer=c) for c in customers.search(session=session, query=q)]


@customers_router.get("/{account_no}/overview", response_model=CustomerOverview, dependencies=READERS)
def get_overview(account_no: str, session: SessionDep, now: NowDep) -> CustomerOverview:
    """The customer 360 view for the agent console."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.overview(session=session, customer=customer, now=now)


@customers_router.get("/{account_no}", response_model=CustomerDetail, dependencies=READERS)
def get_customer(account_no: str, session: SessionDep, now: NowDep) -> CustomerDetail:
    """The customer, its meter's last readings and events, and its transformer area now."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.detail(session=session, customer=customer, now=now)


@customers_router.get("/{account_no}/bills", response_model=BillsRead, dependencies=READERS)
def get_bills(account_no: str, session: SessionDep, months: int = Query(6, ge=1, le=36)) -> BillsRead:
    """The latest monthly bills, newest first (fen and 元)."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.bills(session=session, customer=customer, months=months)


@customers_router.get("/{account_no}/balance", response_model=BalanceRead, dependencies=READERS)
def get_balance(account_no: str, session: SessionDep) -> BalanceRead:
    """The prepaid balance; negative means arrears."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.balance(session=session, customer=customer)


@customers_router.get("/{account_no}/usage", response_model=UsageRead, dependencies=READERS)
def get_usage(account_no: str, session: SessionDep, now: NowDep,
              days: int = Query(30, ge=1, le=366)) -> UsageRead:
    """Daily energy for the last `days` local days (today included) against the month before."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.recent_usage(session=session, customer=customer, days=days, now=now)


@customers_router.get("/{account_no}/meter-check", response_model=MeterCheckRead, dependencies=READERS)
def get_meter_check(account_no: str, session: SessionDep, now: NowDep,
                    days: int = Query(customer_view.METER_CHECK_DAYS, ge=7, le=90)) -> MeterCheckRead:
    """The meter's own health over the last `days` days for a customer asking why the bill went up:
    失压/断相/反向电量 events, whether every hour was reported, the voltage range (never 开盖 or audit)."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return customer_view.meter_check(session=session, customer=customer, now=now, days=days)
