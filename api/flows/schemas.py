"""Shapes of what the flows put together from several domains."""
from __future__ import annotations

from pydantic import BaseModel

from api.audit.schemas import CustomerFlags
from api.billing.schemas import BalanceRead, BillsRead
from api.core.time import LocalDateTime
from api.customers.schemas import CustomerRead
from api.metering.schemas import AreaState, DailyUsage, LoadPoint, MeterEventRead, MeterSnapshot
from api.outages.schemas import PlannedOutageRead


class CustomerDetail(BaseModel):
    """A customer with its meter's recent readings, events and its transformer area now."""

    customer: CustomerRead
    meter: MeterSnapshot | None


class TicketBrief(BaseModel):
    """A ticket line in the customer's history."""

    number: str
    type: str
    status: str
    created_at: LocalDateTime
    summary: str
    open: bool


class CustomerOverview(BaseModel):
    """Everything an agent needs about a caller (客户360): account, money, load, meter, tickets."""

    customer: CustomerRead
    balance: BalanceRead | None
    bills: BillsRead
    load: list[LoadPoint]  # the last 7 days, hourly
    daily: list[DailyUsage]  # the last 7 days
    meter: MeterSnapshot | None
    events: list[MeterEventRead]  # the last 30 days, newest first
    tickets: list[TicketBrief]  # newest first, open and past
    audit: CustomerFlags | None = None  # open audit flags: the agent knows, the customer is not told


class OutagesRead(BaseModel):
    """What a customer or a district faces: its area's outage now and the planned notices."""

    as_of: LocalDateTime
    area_outage: AreaState | None  # the customer's area when it is in outage now
    area_outage_planned: bool  # that outage is explained by a planned outage in progress
    planned: list[PlannedOutageRead]
