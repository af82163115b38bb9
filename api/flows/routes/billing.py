"""HTTP of demand management: bill forecast, consumption analysis, 峰谷 comparison, tips, customer
segments (CSV), and the chat's signed profile chart."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.billing import advice, charts
from api.billing.schemas import (
    AdviceRead,
    BillForecastRead,
    ConsumptionAnalysisRead,
    SegmentRead,
    TouComparisonRead,
)
from api.core.deps import NowDep, SessionDep, SettingsDep, require_roles
from api.core.time import local_day
from api.customers import service as customers
from api.flows import billing

# The bot asks for one customer's figures; agents see them in the console; supervisors and
# auditors also get the segments. The URLs stay under /api/forecasting, where the bot calls them.
billing_router = APIRouter(prefix="/api/forecasting", tags=["billing"])
CUSTOMER_READERS = [Depends(require_roles("agent", "supervisor", "auditor", allow_service=True))]
STAFF_ANALYSTS = [Depends(require_roles("supervisor", "auditor"))]
charts_router = APIRouter(tags=["billing"])


@billing_router.get("/customers/{account_no}/bill", response_model=BillForecastRead, dependencies=CUSTOMER_READERS)
def bill_forecast(account_no: str, session: SessionDep, settings: SettingsDep, now: NowDep) -> BillForecastRead:
    """This month's projected kWh and bill (P10/P50/P90), the tier outlook and what would change it."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return billing.forecast_bill(session=session, customer=customer, now=now, region=settings.kb_region)


@billing_router.get("/customers/{account_no}/analysis", response_model=ConsumptionAnalysisRead,
                    dependencies=CUSTOMER_READERS)
def consumption_analysis(account_no: str, session: SessionDep, settings: SettingsDep, now: NowDep,
                         days: int = Query(30, ge=7, le=90)) -> ConsumptionAnalysisRead:
    """The customer's day profile and its group, base load, 峰谷 shares, trend, unusual days, neighbours."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return billing.analysis_with_chart(session=session, customer=customer, now=now, days=days,
                                       region=settings.kb_region, secret=settings.staff_secret)


@billing_router.get("/customers/{account_no}/tou", response_model=TouComparisonRead, dependencies=CUSTOMER_READERS)
def tou_comparison(account_no: str, session: SessionDep, settings: SettingsDep, now: NowDep) -> TouComparisonRead:
    """The last 12 months billed both ways: 阶梯 only and 峰谷 (+阶梯加价), and whether 峰谷 pays."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return billing.tou_comparison(session=session, customer=customer, now=now, region=settings.kb_region)


@billing_router.get("/customers/{account_no}/advice", response_model=AdviceRead, dependencies=CUSTOMER_READERS)
def energy_advice(account_no: str, session: SessionDep, settings: SettingsDep, now: NowDep) -> AdviceRead:
    """3–5 tips tied to the customer's own pattern, priced where they can be."""
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return billing.tips(session=session, customer=customer, now=now, region=settings.kb_region)


@billing_router.get("/segments/{kind}.csv", dependencies=STAFF_ANALYSTS)
def segment_csv(kind: str, session: SessionDep, settings: SettingsDep, now: NowDep) -> Response:
    """A segment as CSV (UTF-8 with BOM, Chinese headers) for targeted outreach."""
    segment = billing.segments(session=session, now=now, kind=kind, region=settings.kb_region)
    name = f"segment-{kind}-{local_day(now).isoformat()}.csv"
    return Response(advice.segments_csv(segment), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@billing_router.get("/segments/{kind}", response_model=SegmentRead, dependencies=STAFF_ANALYSTS)
def segment(kind: str, session: SessionDep, settings: SettingsDep, now: NowDep) -> SegmentRead:
    """Customers to contact (e.g. who would save with 峰谷电, heavy night users likely with an EV)."""
    return billing.segments(session=session, now=now, kind=kind, region=settings.kb_region)


@charts_router.get("/charts/profile/{account_no}.svg", include_in_schema=False)
def profile_chart(account_no: str, session: SessionDep, settings: SettingsDep, now: NowDep,
                  exp: int = Query(...), sig: str = Query(..., max_length=64)) -> Response:
    """The customer's average day as an SVG for the web chat; the link is signed and expires."""
    charts.require_valid(secret=settings.staff_secret, account_no=account_no, expires=exp, signature=sig)
    customer = customers.require_by_account_no(session=session, account_no=account_no)
    return Response(billing.profile_chart(session=session, customer=customer, now=now, region=settings.kb_region),
                    media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
