"""Shapes of what the flows put together from several domains."""
from __future__ import annotations

from pydantic import BaseModel

from api.audit.schemas import CustomerFlags
from api.billing.schemas import BalanceRead, BillsRead
from api.core.time import LocalDateTime
from api.customers.schemas import CustomerRead
from api.metering.schemas import AreaState, DailyUsage, LoadPoint, MeterEventRead, MeterSnapshot, ReadingCoverage
from api.outages.schemas import PlannedOutageRead
from api.tickets.schemas import ParentTicketRead


class CustomerDetail(BaseModel):
    """A customer with its meter's recent readings, events and its transformer area now."""

    customer: CustomerRead
    meter: MeterSnapshot | None


class TicketBrief(BaseModel):
    """A ticket line in the customer's history."""

    number: str
    type: str
    status: str
    status_told: str  # the status as the customer is told it (api.core.vocabulary.TICKET_STATUS_TOLD)
    created_at: LocalDateTime
    summary: str
    open: bool
    parent: ParentTicketRead | None = None  # the area ticket it is attached to: its status, crew and deadline


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


class MeterCheckRead(BaseModel):
    """A meter's own health, as the bot may tell its customer who asks why the bill went up.

    Only what the meter itself recorded: metering-fault events (失压, 断相, 反向电量; not a 失压 at a
    power cut), whether it reported every hour, the voltage it read. Never 开盖 and never an audit
    finding: a customer is not told of a suspicion about their premises.
    """

    account_no: str
    meter_no: str
    phases: int
    days: int  # the period looked at: the last `days` days up to `as_of`
    as_of: LocalDateTime
    events: list[MeterEventRead]  # oldest first
    coverage: ReadingCoverage


class OutagesRead(BaseModel):
    """What a customer or a district faces: its area's outage now and the planned notices."""

    as_of: LocalDateTime
    area_outage: AreaState | None  # the customer's area when it is in outage now
    area_outage_planned: bool  # that outage is explained by a planned outage in progress
    planned: list[PlannedOutageRead]
