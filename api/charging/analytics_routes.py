"""HTTP of charging analytics for the staff page (/charging): figures per station and area over a range of local
days, and customers' charging habits as segments (CSV for offers). Agents and supervisors read them; the rules
are in api/charging/analytics.py.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.charging import analytics
from api.charging.analytics import AnalyticsRead
from api.core.deps import NowDep, SessionDep, require_roles
from api.core.headers import attachment
from api.core.time import local_day

STAFF = require_roles("agent", "supervisor")
DEFAULT_DAYS = 30

analytics_router = APIRouter(prefix="/api/charging", tags=["charging"], dependencies=[Depends(STAFF)])


class RangeQuery(BaseModel):
    """A range of local days, both included (default: the last 30 days up to today), and a district."""

    start: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))
    end: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))
    district: str | None = Field(default=None, max_length=16)

    def days(self, now: datetime) -> tuple[date, date, str | None]:
        """(start, end, district) with the defaults filled in; Invalid (422) when backwards or too long."""
        end = self.end or (self.start + timedelta(days=DEFAULT_DAYS - 1) if self.start else local_day(now))
        start = self.start or end - timedelta(days=DEFAULT_DAYS - 1)
        analytics.check_range(start, end)
        return start, end, (self.district or "").strip() or None


Range = Annotated[RangeQuery, Query()]


@analytics_router.get("/analytics", response_model=AnalyticsRead)
def charging_analytics(session: SessionDep, now: NowDep, query: Range) -> AnalyticsRead:
    """Sessions, energy, revenue, utilisation by hour, waits and faults per station and area; segment counts."""
    start, end, district = query.days(now)
    return analytics.analytics(session=session, start=start, end=end, now=now, district=district)


@analytics_router.get("/segments.csv")
def segments_csv(session: SessionDep, now: NowDep, query: Range) -> Response:
    """Customers' charging habits and segments as CSV (UTF-8 with BOM, Chinese headers); the name says the range."""
    start, end, district = query.days(now)
    habits = analytics.customer_habits(session=session, start=start, end=end, district=district)
    name = analytics.segments_file_name(start=start, end=end)
    label = f"充电客户分群_{district or '全部区县'}_{start.isoformat()}至{end.isoformat()}.csv"
    return Response(analytics.segments_csv(habits, start=start, end=end, district=district),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(label, fallback=name)})
