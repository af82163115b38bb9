"""HTTP of forecasting and demand management: bill forecast, consumption analysis, 峰谷 advice,
customer segments (CSV), load forecasts and area overload warnings, and the chat's profile chart."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.auth import require_roles
from api.clock import request_now
from api.customers.routes import lookup_customer
from api.db import get_session
from api.forecasting import advice, bills, charts, profiles, service, tariffs
from api.forecasting.demand_schemas import (
    AdviceRead,
    BillForecastRead,
    ConsumptionAnalysisRead,
    SegmentRead,
    TouComparisonRead,
)
from api.forecasting.schemas import LoadForecastRead, LoadForecastRequest, OverloadWarning
from api.tickets import flows
from api.tickets.schemas import TicketRead

router = APIRouter(prefix="/api/forecasting", tags=["forecasting"])
# The bot asks for one customer's figures; agents see them in the console; supervisors and
# auditors also get the load forecasts and segments.
CUSTOMER_READERS = [Depends(require_roles("agent", "supervisor", "auditor", allow_service=True))]
STAFF_ANALYSTS = [Depends(require_roles("supervisor", "auditor"))]
charts_router = APIRouter(tags=["forecasting"])


def _region(request: Request) -> str:
    return request.app.state.settings.kb_region


def _no_meter() -> HTTPException:
    return HTTPException(status_code=404, detail={"code": "no_meter", "message": "该户号暂无智能电表数据，无法分析"})


@router.get("/customers/{account_no}/bill", response_model=BillForecastRead, dependencies=CUSTOMER_READERS)
def bill_forecast(account_no: str, request: Request, session: Session = Depends(get_session)) -> BillForecastRead:
    """This month's projected kWh and bill (P10/P50/P90), the tier outlook and what would change it."""
    customer = lookup_customer(session, account_no)
    try:
        return bills.forecast_bill(session=session, customer=customer, now=request_now(request),
                                   region=_region(request))
    except LookupError:
        raise _no_meter() from None


@router.get("/customers/{account_no}/analysis", response_model=ConsumptionAnalysisRead,
            dependencies=CUSTOMER_READERS)
def consumption_analysis(account_no: str, request: Request, days: int = Query(30, ge=7, le=90),
                         session: Session = Depends(get_session)) -> ConsumptionAnalysisRead:
    """The customer's day profile and its group, base load, 峰谷 shares, trend, unusual days, neighbours."""
    customer = lookup_customer(session, account_no)
    analysis = profiles.analyse(session=session, customer=customer, now=request_now(request), days=days,
                                region=_region(request))
    return analysis.model_copy(update={"chart_url": charts.link(
        secret=request.app.state.settings.staff_secret, account_no=customer.account_no)})


@router.get("/customers/{account_no}/tou", response_model=TouComparisonRead, dependencies=CUSTOMER_READERS)
def tou_comparison(account_no: str, request: Request, session: Session = Depends(get_session)) -> TouComparisonRead:
    """The last 12 months billed both ways: 阶梯 only and 峰谷 (+阶梯加价), and whether 峰谷 pays."""
    customer = lookup_customer(session, account_no)
    return advice.tou_comparison(session=session, customer=customer, now=request_now(request),
                                 region=_region(request))


@router.get("/customers/{account_no}/advice", response_model=AdviceRead, dependencies=CUSTOMER_READERS)
def energy_advice(account_no: str, request: Request, session: Session = Depends(get_session)) -> AdviceRead:
    """3–5 tips tied to the customer's own pattern, priced where they can be."""
    customer = lookup_customer(session, account_no)
    try:
        return advice.tips(session=session, customer=customer, now=request_now(request), region=_region(request))
    except LookupError:
        raise _no_meter() from None


def _segment(kind: str, request: Request, session: Session) -> SegmentRead:
    if kind not in advice.SEGMENT_KINDS:
        raise HTTPException(status_code=404, detail={
            "code": "segment_not_found", "message": f"没有这个客户分群：{kind}",
            "kinds": list(advice.SEGMENT_KINDS)})
    return advice.segments(session=session, now=request_now(request), kind=kind, region=_region(request))


@router.get("/segments/{kind}.csv", dependencies=STAFF_ANALYSTS)
def segment_csv(kind: str, request: Request, session: Session = Depends(get_session)) -> Response:
    """A segment as CSV (UTF-8 with BOM, Chinese headers) for targeted outreach."""
    segment = _segment(kind, request, session)
    name = f"segment-{kind}-{date.today().isoformat()}.csv"
    return Response(advice.segments_csv(segment), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/segments/{kind}", response_model=SegmentRead, dependencies=STAFF_ANALYSTS)
def segment(kind: str, request: Request, session: Session = Depends(get_session)) -> SegmentRead:
    """Customers to contact (e.g. who would save with 峰谷电, heavy night users likely with an EV)."""
    return _segment(kind, request, session)


@charts_router.get("/charts/profile/{account_no}.svg", include_in_schema=False)
def profile_chart(account_no: str, request: Request, exp: int = Query(...), sig: str = Query(..., max_length=64),
                  session: Session = Depends(get_session)) -> Response:
    """The customer's average day as an SVG for the web chat; the link is signed and expires."""
    if not charts.verify(secret=request.app.state.settings.staff_secret, account_no=account_no, expires=exp,
                         signature=sig):
        raise HTTPException(status_code=403, detail={"code": "bad_link", "message": "图表链接无效或已过期"})
    customer = lookup_customer(session, account_no)
    analysis = profiles.analyse(session=session, customer=customer, now=request_now(request),
                                region=_region(request))
    year = request_now(request).year
    plan = tariffs.schedule_for(year=year, region=_region(request)).residential.tou
    bands = {hour: plan.band_of_hour(hour) for hour in range(24)} if plan else {}
    return Response(charts.profile_svg(analysis, bands=bands), media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


# ---- load forecasts and overload warnings (staff) ----

LOAD_READERS = [Depends(require_roles("supervisor", "auditor", allow_service=True))]


def _forecast(level: str, key: str | None, request: Request, session: Session, weather=None) -> LoadForecastRead:
    if level not in service.LEVELS:
        raise HTTPException(status_code=404, detail={"code": "unknown_level", "message": "预测对象应为客户、台区、线路或全网",
                                                     "levels": list(service.LEVELS)})
    try:
        return service.get_load_forecast(session=session, level=level, key=key, now=request_now(request),
                                         weather=weather)
    except service.ForecastNotFound:
        raise HTTPException(status_code=404, detail={"code": "not_found", "message": f"没有找到预测对象：{key}"}) from None


@router.get("/targets", dependencies=LOAD_READERS)
def load_targets(session: Session = Depends(get_session)) -> dict[str, list[dict]]:
    """Areas and feeders to choose from: {area: [{key, name, district, capacity_kva}], feeder: [...]}."""
    return service.list_targets(session=session)


@router.get("/load/{level}", response_model=LoadForecastRead, dependencies=LOAD_READERS)
def load_forecast(level: str, request: Request, key: str | None = Query(None, max_length=32),
                  session: Session = Depends(get_session)) -> LoadForecastRead:
    """Hourly P10/P50/P90 for 48 h, 7 days and next month of a customer, area, feeder or the system."""
    return _forecast(level, key, request, session)


@router.post("/load/{level}", response_model=LoadForecastRead, dependencies=LOAD_READERS)
def load_forecast_with_weather(level: str, body: LoadForecastRequest, request: Request,
                               session: Session = Depends(get_session)) -> LoadForecastRead:
    """The same forecast with the caller's temperature forecast (not cached)."""
    return _forecast(level, body.key, request, session, weather=body.weather)


@router.get("/overloads", response_model=list[OverloadWarning], dependencies=LOAD_READERS)
def overloads(request: Request, threshold: float = Query(0.9, ge=0.5, le=1.5),
              session: Session = Depends(get_session)) -> list[OverloadWarning]:
    """Transformer areas whose forecast peak nears or passes their capacity, worst first."""
    return service.overload_warnings(session=session, now=request_now(request), threshold=threshold)


@router.post("/overloads/{area_code}/ticket", response_model=TicketRead, status_code=201,
             dependencies=[Depends(require_roles("supervisor"))])
def overload_ticket(area_code: str, request: Request, session: Session = Depends(get_session)) -> TicketRead:
    """Open (once a day per area) a 安全隐患 ticket for an area forecast to overload; a crew gets it at once."""
    now = request_now(request)
    warning = next((w for w in service.overload_warnings(session=session, now=now)
                    if w.area_code == area_code.upper()), None)
    if warning is None:
        raise HTTPException(status_code=409, detail={"code": "no_warning", "message": "该台区目前没有重过载预警，无需派单"})
    return flows.open_overload_ticket(session=session, warning=warning, settings=request.app.state.settings,
                                      parser=request.app.state.address_parser(), now=now)
