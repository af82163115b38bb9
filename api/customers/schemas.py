"""Customer input and output shapes: identification, verification, bills, balance, usage."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.metering.schemas import LocalDateTime, MeterEventRead, MeterSnapshot


def _account_no(value: str | None) -> str | None:
    from api.customers.service import normalize_account_no

    return None if value is None or not str(value).strip() else normalize_account_no(value)


def _phone(value: str | None) -> str | None:
    from api.customers.service import normalize_mobile

    return None if value is None or not str(value).strip() else normalize_mobile(value)


class CustomerRead(BaseModel):
    """A customer as staff and the action server see it (full name and mobile)."""

    account_no: str
    name: str
    mobile: str
    address: str
    district: str
    town: str
    area_class: str
    lat: float
    lon: float
    customer_class: str
    tariff_code: str
    contract_capacity_kva: float
    transformer_area_code: str | None
    opened_on: date


class CustomerDetail(BaseModel):
    """The customer, its meter (last readings, last day of events) and its area's current state."""

    customer: CustomerRead
    meter: MeterSnapshot | None


class IdentifyRequest(BaseModel):
    """Find accounts by 户号 and/or mobile; at least one is needed."""

    account_no: str | None = None
    phone: str | None = None

    @field_validator("account_no", mode="before")
    @classmethod
    def _norm_account(cls, value: str | None) -> str | None:
        return _account_no(value)

    @field_validator("phone", mode="before")
    @classmethod
    def _norm_phone(cls, value: str | None) -> str | None:
        return _phone(value)

    @model_validator(mode="after")
    def _one_of(self) -> IdentifyRequest:
        if not self.account_no and not self.phone:
            raise ValueError("account_no or phone is required")
        return self


class IdentifiedCustomer(BaseModel):
    """An account found by identification, masked for reading back to the caller."""

    account_no: str
    masked_name: str
    masked_address: str
    district: str
    area_class: str


class IdentifyRead(BaseModel):
    found: bool
    customers: list[IdentifiedCustomer]


class VerifyRequest(BaseModel):
    """Identity check: the last four digits of the registered mobile."""

    account_no: str
    phone_last4: str
    conversation_id: str | None = Field(default=None, max_length=64)  # the chat: agents then see this customer

    @field_validator("account_no", mode="before")
    @classmethod
    def _norm_account(cls, value: str) -> str:
        normalized = _account_no(value)
        if normalized is None:
            raise ValueError("account_no is required")
        return normalized

    @field_validator("phone_last4", mode="before")
    @classmethod
    def _last4(cls, value: str) -> str:
        from api.text import normalize_text

        digits = normalize_text(str(value)).replace(" ", "")
        if len(digits) != 4 or not digits.isdigit():
            raise ValueError("phone_last4 must be 4 digits")
        return digits


class VerifyRead(BaseModel):
    verified: bool


class BillRead(BaseModel):
    """A monthly bill; money in fen and as a 元 string."""

    period: str
    kwh: float
    amount_fen: int
    amount_yuan: str
    due_date: date
    paid: bool
    paid_at: LocalDateTime | None


class BillsRead(BaseModel):
    account_no: str
    bills: list[BillRead]  # newest first
    unpaid_count: int
    unpaid_fen: int
    unpaid_yuan: str


class BalanceRead(BaseModel):
    """Prepaid balance; negative means arrears (欠费)."""

    model_config = ConfigDict(from_attributes=True)

    account_no: str
    balance_fen: int
    balance_yuan: str
    in_arrears: bool
    arrears_fen: int
    arrears_yuan: str
    updated_at: LocalDateTime


class DailyUsage(BaseModel):
    date: date
    kwh: float | None  # None: no readings that day


class PeriodTotal(BaseModel):
    start: date
    end: date
    total_kwh: float


class UsageRead(BaseModel):
    """Daily energy (days in Asia/Shanghai) and the same period of the previous month."""

    account_no: str
    start: date
    end: date
    days: list[DailyUsage]
    total_kwh: float
    average_daily_kwh: float
    previous: PeriodTotal
    change_kwh: float
    change_pct: float | None  # None when the previous period had no energy


class LoadPoint(BaseModel):
    """Mean power in one hour from the meter."""

    ts: LocalDateTime
    kw: float


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
