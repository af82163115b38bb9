"""Audit I/O: findings, themes (apply → approve → publish), tasks with their on-site results."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.core.ids import MOBILE_PATTERN, normalize_text

Severity = Literal["high", "medium", "low"]
ThemeAction = Literal["submit", "approve", "return", "publish", "complete", "withdraw"]
Outcome = Literal["私自增容", "窃电", "违约用电", "计量故障", "误报"]


class FindingRead(BaseModel):
    """A finding with its evidence, as the auditor page shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    account_no: str
    customer_name: str = ""
    district: str = ""
    area_code: str = ""
    customer_class: str = ""
    rule: str
    rule_label: str
    severity: Severity
    start: datetime
    end: datetime
    evidence: dict
    score: float | None = None
    status: str
    theme_number: str | None = None
    task_number: str | None = None
    detected_at: datetime


class FindingPage(BaseModel):
    total: int
    items: list[FindingRead]


class ScanSummary(BaseModel):
    """What one scan of the stored metering data found."""

    start: datetime
    end: datetime
    customers: int
    findings: int  # findings the scan produced
    new: int  # of those, not seen before
    by_rule: dict[str, int]
    disabled: dict[str, str]
    seconds: float


class ThemeCreate(BaseModel):
    """An auditor's application for a theme: what to look for, where, for whom, over which period."""

    title: str = Field(min_length=2, max_length=64)
    description: str = Field(default="", max_length=2000)
    rules: list[str] = Field(min_length=1, max_length=16)
    districts: list[str] = Field(default_factory=list, max_length=16)
    area_codes: list[str] = Field(default_factory=list, max_length=200)
    customer_classes: list[str] = Field(default_factory=list, max_length=8)
    period_start: date
    period_end: date

    @field_validator("title", "description", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _period_in_order(self):
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if (self.period_end - self.period_start).days > 366:
            raise ValueError("a theme covers at most one year")
        return self


class ThemeTransition(BaseModel):
    action: ThemeAction
    note: str = Field(default="", max_length=256)


class ThemeEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str


class ThemeRead(BaseModel):
    number: str
    title: str
    description: str
    rules: list[str]
    districts: list[str]
    area_codes: list[str]
    customer_classes: list[str]
    period_start: date
    period_end: date
    status: str
    applicant: str
    approver: str | None
    return_reason: str | None
    created_at: datetime
    updated_at: datetime
    findings: int = 0
    tasks: int = 0
    tasks_done: int = 0
    evaluation: dict | None = None
    allowed_actions: list[str] = Field(default_factory=list)
    events: list[ThemeEvent] = Field(default_factory=list)


class PublishSummary(BaseModel):
    theme: ThemeRead
    tasks_created: list[str]  # ticket numbers


class TaskResultCreate(BaseModel):
    """What the inspector found on site."""

    outcome: Outcome
    notes: str = Field(default="", max_length=2000)
    recovered_kwh: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("100000000"), decimal_places=1)
    recovered_fee_yuan: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("100000000"), decimal_places=2)
    rectify_days: int = Field(default=15, ge=1, le=180)  # time given to put it right

    @field_validator("notes", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value


class TaskReview(BaseModel):
    accept: bool
    note: str = Field(default="", max_length=256)


class TaskRectified(BaseModel):
    note: str = Field(default="", max_length=256)


class TaskEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str


class TaskRead(BaseModel):
    ticket_number: str
    ticket_status: str
    crew_id: str | None = None
    theme_number: str | None = None
    account_no: str | None = None
    customer_name: str | None = None
    source: str
    status: str
    findings: list[FindingRead] = Field(default_factory=list)
    outcome: str | None = None
    recovered_kwh: Decimal | None = None
    recovered_fee_yuan: Decimal | None = None
    notes: str | None = None
    result_by: str | None = None
    result_at: datetime | None = None
    rectify_by: date | None = None
    rectified_at: datetime | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    photos: list[int] = Field(default_factory=list)
    created_at: datetime
    age_days: float = 0
    events: list[TaskEvent] = Field(default_factory=list)


class LeadCreate(BaseModel):
    """A customer's report of theft or illegal wiring (有人偷电, 私拉乱接), from the bot or an agent."""

    phone: str = Field(pattern=MOBILE_PATTERN)
    account_no: str | None = Field(default=None, pattern=r"^\d{10}$", description="the reporter's own, if known")
    address_text: str = Field(min_length=2, max_length=256, description="where it happens")
    description: str = Field(min_length=2, max_length=1000)
    channel: Literal["web", "wechat", "hotline", "sms"] = "web"
    conversation_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128)

    @field_validator("address_text", "description", "phone", "account_no", mode="before")
    @classmethod
    def _normalize(cls, value):
        return normalize_text(value) if isinstance(value, str) else value


class RuleStats(BaseModel):
    rule: str
    rule_label: str
    findings: int
    open: int
    checked: int
    confirmed: int
    false_positive: int
    precision: float | None  # confirmed / checked, None before any check


class MonthStats(BaseModel):
    """One local month of audit work (the periodic evaluation): results are counted in the month recorded."""

    month: str  # 2026-12
    tasks_opened: int
    still_open: int  # of those opened that month, not yet closed
    closed: int  # reviewed and closed that month
    checked: int  # on-site results recorded that month
    hits: int  # results that found something to put right (私自增容, 窃电, 违约用电, 计量故障)
    false_positive: int
    hit_rate: float | None  # hits / checked, None in a month without results
    recovered_kwh: Decimal
    recovered_fee_yuan: Decimal
    mean_days_to_result: float | None  # task opened → result recorded


class AuditStats(BaseModel):
    """The audit work in figures: per-rule precision, money and energy recovered, open tasks and their age."""

    rules: list[RuleStats]
    tasks_open: int
    tasks_done: int
    ageing: dict[str, int]  # open tasks by age band
    recovered_kwh: Decimal
    recovered_fee_yuan: Decimal
    outcomes: dict[str, int]
    months: list[MonthStats]  # the last six local months, oldest first


class CustomerFlags(BaseModel):
    """Open audit flags on one customer, for the agent's customer 360 (no evidence detail for agents)."""

    account_no: str
    open_findings: int
    rules: list[str]  # of the open findings
    open_task: str | None
    confirmed: list[str] = Field(default_factory=list)  # outcomes found on site in the last year (私自增容 …)


class LineLossRow(BaseModel):
    """One transformer area's or feeder's line loss over the period."""

    code: str
    name: str
    district: str
    supplied_kwh: Decimal | None
    sold_kwh: Decimal | None
    loss_kwh: Decimal | None
    loss_rate: float | None
    flag: Literal["high", "negative", "missing", "normal"]
    power_factor: float | None = None
    reporting: int = 0  # meters with a full day of readings (the fewest on any day of the period)
    meters: int = 0
    reasons: list[str] = Field(default_factory=list)


class LineLossRead(BaseModel):
    """Line loss of every area or feeder for one day or one month, worst first (missing data last)."""

    level: Literal["area", "feeder"]
    period: Literal["day", "month"]
    date: str
    limit_rate: float
    rows: list[LineLossRow]


class RankedCustomer(BaseModel):
    """A customer of a high-loss area, with how strongly the audit evidence points at them."""

    account_no: str
    name: str
    customer_class: str
    evidence_score: float
    rules: list[str]
