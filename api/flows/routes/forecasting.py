"""HTTP of load forecasting (staff): forecast targets, load forecasts per level, area overload
warnings and the ticket one may open."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.core.deps import NowDep, SessionDep, SettingsDep, app_part, require_roles
from api.flows import load_forecasting
from api.forecasting.schemas import LoadForecastRead, LoadForecastRequest, OverloadWarning
from api.tickets.schemas import TicketRead

forecasting_router = APIRouter(prefix="/api/forecasting", tags=["forecasting"])
LOAD_READERS = [Depends(require_roles("supervisor", "auditor", allow_service=True))]


@forecasting_router.get("/targets", dependencies=LOAD_READERS)
def load_targets(session: SessionDep) -> dict[str, list[dict]]:
    """Areas and feeders to choose from: {area: [{key, name, district, capacity_kva}], feeder: [...]}."""
    return load_forecasting.list_targets(session=session)


@forecasting_router.get("/load/{level}", response_model=LoadForecastRead, dependencies=LOAD_READERS)
def load_forecast(level: str, session: SessionDep, now: NowDep,
                  key: str | None = Query(None, max_length=32)) -> LoadForecastRead:
    """Hourly P10/P50/P90 for 48 h, 7 days and next month of a customer, area, feeder or the system."""
    return load_forecasting.get_load_forecast(session=session, level=level, key=key, now=now)


@forecasting_router.post("/load/{level}", response_model=LoadForecastRead, dependencies=LOAD_READERS)
def load_forecast_with_weather(level: str, body: LoadForecastRequest, session: SessionDep,
                               now: NowDep) -> LoadForecastRead:
    """The same forecast with the caller's temperature forecast (not cached)."""
    return load_forecasting.get_load_forecast(session=session, level=level, key=body.key, now=now,
                                              weather=body.weather)


@forecasting_router.get("/overloads", response_model=list[OverloadWarning], dependencies=LOAD_READERS)
def overloads(session: SessionDep, now: NowDep,
              threshold: float = Query(0.9, ge=0.5, le=1.5)) -> list[OverloadWarning]:
    """Transformer areas whose forecast peak nears or passes their capacity, worst first."""
    return load_forecasting.overload_warnings(session=session, now=now, threshold=threshold)


@forecasting_router.post("/overloads/{area_code}/ticket", response_model=TicketRead, status_code=201,
                         dependencies=[Depends(require_roles("supervisor"))])
def overload_ticket(area_code: str, session: SessionDep, settings: SettingsDep, now: NowDep,
                    parser=app_part("address_parser")) -> TicketRead:
    """Open (once a day per area) a 安全隐患 ticket for an area forecast to overload; a crew gets it at once."""
    return load_forecasting.overload_ticket(session=session, area_code=area_code, settings=settings,
                                            parser=parser(), now=now)
