"""Supervisor dashboard I/O: the filters, the headline figures and uniform tables (one shape, so
every table renders and exports to CSV the same way)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field


class FiltersRead(BaseModel):
    """The filters a dashboard was computed with (dates are Asia/Shanghai calendar days, inclusive)."""

    date_from: date
    date_to: date
    district: str | None = None
    type: str | None = None
    days: int = Field(description="calendar days in the range")


class FilterOptionsRead(BaseModel):
    """What the filter bar offers: districts present in the tickets, the ticket types, the default range."""

    districts: list[str]
    types: list[str]
    default_from: date
    default_to: date
    max_days: int


class KpisRead(BaseModel):
    """The headline figures; percentages are 0–100 with one decimal, None when there is nothing to divide."""

    tickets: int = Field(description="tickets (customer reports) created in the range")
    work_tickets: int = Field(description="tickets that are work of their own (not attached to another)")
    sla_met: int
    sla_breaches: int
    sla_pending: int = Field(description="commitment neither kept nor missed yet (open, or cancelled)")
    sla_compliance: float | None = Field(description="met / (met + breaches), %")
    # over the same tickets: on-site work resolved with every stage recorded (dispatch ≤ arrival ≤ resolution)
    mean_dispatch_minutes: float | None = Field(description="creation → (latest) dispatch to a crew")
    mean_arrive_minutes: float | None = Field(description="creation → crew on site")
    mean_resolve_minutes: float | None = Field(description="creation → resolved")
    backlog: int = Field(description="work tickets still open now, created before the end of the range")
    backlog_over_3d: int
    crew_utilisation: float | None = Field(description="busy minutes / on-shift minutes of the crews, %")
    conversations: int
    contained: int = Field(description="conversations finished without a person (no handoff asked, no agent)")
    containment_rate: float | None
    transfers: int = Field(description="conversations queued for an agent")
    transfer_rate: float | None
    customer_turns: int = Field(description="customer messages the bot classified")
    fallbacks: int = Field(description="customer messages the bot did not understand (nlu_fallback)")
    fallback_rate: float | None
    satisfaction_mean: float | None = Field(description="mean survey score 1–5, two decimals")
    satisfaction_responses: int
    kb_helpful: int
    kb_not_helpful: int
    kb_helpful_rate: float | None
    agent_replies: int = Field(description="agents' replies sent in the range")
    suggestion_used_rate: float | None = Field(description="replies that started from a suggestion / all replies, %")
    suggestion_as_is_rate: float | None = Field(description="of those, sent as offered (not edited), %")


class ColumnRead(BaseModel):
    """One column: the row key, its Chinese header and, where the page must format it, how."""

    key: str
    label: str
    format: Literal["yuan", "kwh", "unit"] | None = Field(
        default=None, description="yuan: 元, two decimals; kwh: 千瓦时, two decimals; unit: as the row's `unit` says")


class TableRead(BaseModel):
    """A titled table; rows are dicts keyed by the columns' keys."""

    title: str
    columns: list[ColumnRead]
    rows: list[dict[str, Any]]


class DashboardRead(BaseModel):
    """Everything the supervisor page shows for one set of filters."""

    filters: FiltersRead
    generated_at: datetime
    kpis: KpisRead
    tables: dict[str, TableRead]


class BusinessFiguresRead(BaseModel):
    """经营成果 of one range: bills of the months that end in it, collection and arrears at its end.

    Money in yuan (two decimals, from fen), energy in kWh; rates are 0–100 with one decimal.
    """

    date_from: date
    date_to: date
    periods: list[str] = Field(description="billing months counted: those whose last day is in the range")
    as_of: datetime = Field(description="collection and arrears are judged at this instant: the end of the range, "
                                        "or now if the range has not ended")
    bills: int
    energy_kwh: Decimal = Field(description="售电量: billed kWh of the months counted")
    billed_yuan: Decimal = Field(description="应收电费: amount of the bills of the months counted")
    collected_yuan: Decimal = Field(description="实收电费: those bills paid before as_of (by paid_at)")
    outstanding_yuan: Decimal = Field(description="未收: billed − collected")
    collection_rate: float | None = Field(description="电费回收率: collected / billed, %")
    received_yuan: Decimal = Field(description="期内到账: every bill paid in the range (by paid_at), any month")
    arrears_customers: int = Field(description="customers with a bill unpaid at as_of and past its due date")
    arrears_bills: int
    arrears_yuan: Decimal


class BusinessRead(BaseModel):
    """The 经营成果 section: this range, the previous range of the same length, the change, the tables."""

    filters: FiltersRead
    generated_at: datetime
    notes: list[str] = Field(description="in Chinese: which filters apply, and what the figures count")
    ignored_filters: list[str] = Field(description="filters given that do not apply here (e.g. type)")
    current: BusinessFiguresRead
    previous: BusinessFiguresRead
    change: dict[str, float | None] = Field(
        description="per figure: % change against the previous range (None when it was 0); "
                    "collection_rate: the difference in percentage points")
    tables: dict[str, TableRead]


class QualityKpisRead(BaseModel):
    """工作质量 headline figures; rates are 0–100."""

    cutoff: datetime = Field(description="hours are expected up to this instant (the end of the range, or the "
                                         "start of the current hour)")
    meters: int = Field(description="meters installed by the end of the range")
    expected_hours: int = Field(description="hourly readings expected: every meter, every hour since installed")
    received_hours: int
    missing_hours: int
    completeness: float | None = Field(description="采集完整率: received / expected, %, two decimals")
    meters_incomplete: int = Field(description="meters missing at least one hourly reading")
    stuck_meters: int = Field(description="meters with a zero, unchanged or silent stretch of 24 h or more")
    zero_meters: int = Field(description="the same 0 kWh every hour for 24 h or more")
    frozen_meters: int = Field(description="the same non-zero kWh every hour for 24 h or more")
    silent_meters: int = Field(description="no reading at all for 24 h or more")
    bills_checked: int = Field(description="bills compared with the meter (readings cover ≥ 95 % of the month)")
    bills_unchecked: int = Field(description="bills not compared: the month's readings cover under 95 %")
    billing_anomalies: int = Field(description="compared bills off the metered kWh by more than 10 % and 20 kWh")
    audit_open: int = Field(description="audit findings not yet settled (待核查, 已派查), every rule")


class QualityRead(BaseModel):
    """The 工作质量 section: reading completeness, stuck meters, billing anomalies, open audit findings."""

    filters: FiltersRead
    generated_at: datetime
    notes: list[str]
    ignored_filters: list[str]
    billing_source: Literal["readings", "audit_findings"] = Field(
        description="where billing anomalies come from: bills compared with the readings here, or audit findings")
    kpis: QualityKpisRead
    tables: dict[str, TableRead]
