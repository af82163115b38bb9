"""Supervisor dashboard I/O: the filters, the headline figures and uniform tables (one shape, so
every table renders and exports to CSV the same way)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

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


class ColumnRead(BaseModel):
    """One column: the row key and its Chinese header."""

    key: str
    label: str


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
