"""Load forecasts of customers, transformer areas, feeders and the system: forecasting's models fed
with metering's load series and weather, overload warnings and the ticket they may open.

Forecasting keeps the models, the cache and the rules; metering sums the readings per hour in SQL
and keeps the weather; customers says who the customers are. Each step here fetches the series a
forecast needs (only on a cache miss) and hands them over as plain rows.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.orm import Session

from api.core.errors import Conflict
from api.customers import service as customers
from api.flows.ticket_intake import open_overload_ticket
from api.forecasting import service as forecasting
from api.forecasting.features import Panel
from api.forecasting.models import LEVELS
from api.forecasting.schemas import LoadForecastRead, OverloadWarning
from api.forecasting.service import SYSTEM_KEY, MeasuredLoad, Member
from api.metering import service as metering
from api.settings import Settings
from api.tickets.schemas import TicketRead

log = logging.getLogger(__name__)


def members(*, session: Session, level: str, key: str | None = None) -> list[Member]:
    """The series of a level (all, or the one with the normalised `key`)."""
    if level == "system":
        return [Member(SYSTEM_KEY, "全网", tuple(metering.list_area_districts(session=session)))]
    if level == "area":
        return [Member(a.code, a.name, (a.district,), None, float(a.capacity_kva), load_key=a.code)
                for a in metering.list_areas(session=session, code=key)]
    if level == "feeder":
        return [Member(f.code, f.name, (f.district,), load_key=f.code)
                for f in metering.list_feeders(session=session, code=key)]
    if key is not None:
        found = customers.get_by_account_no(session=session, account_no=key)
        people = [found] if found is not None else []
    else:
        people = customers.list_all(session=session)
    return [Member(c.account_no, c.name, (c.district,), c.customer_class, load_key=c.id) for c in people]


def load_panel(*, session: Session, level: str, members: list[Member], now: datetime, days: int,
               only_keys: bool = False) -> Panel:
    """Hourly kW of the members over the `days` before the last reading ≤ now, with temperatures
    (ForecastNotFound without readings); `only_keys` reads the members' series only."""
    start, end = forecasting.load_window(now, days)
    rows = metering.hourly_load(session=session, by=level, start=start, end=end,
                                keys=[m.load_key for m in members] if only_keys else None)
    panel = forecasting.panel_from_loads(level=level, members=members, rows=rows, days=days)
    districts = forecasting.districts_of(members)
    if not districts:
        return panel
    first, last = forecasting.temperature_window(panel)
    return forecasting.add_temperatures(panel, members=members, rows=metering.list_temperatures(
        session=session, districts=districts, start=first, end=last))


def get_load_forecast(*, session: Session, level: str, key: str | None, now: datetime,
                      weather: list | None = None) -> LoadForecastRead:
    """The load forecast of one customer (户号), area (code), feeder (code) or the system ("all"):
    the cached one when fresh, else made now (UnknownLevel, ForecastNotFound)."""
    forecasting.require_level(level)
    wanted = forecasting.normal_key(level, key)
    if not weather:
        cached = forecasting.cached_forecast(session=session, level=level, key=wanted, now=now)
        if cached is not None:
            return cached
    found = members(session=session, level=level, key=wanted)
    if not found:
        raise forecasting.ForecastNotFound(key)
    panel = load_panel(session=session, level=level, members=found, now=now, days=forecasting.PREDICT_DAYS,
                       only_keys=True)
    return forecasting.forecast(session=session, level=level, member=found[0], panel=panel, now=now,
                                weather=weather)


def refresh_level(*, session: Session, level: str, now: datetime, train: bool = True) -> int:
    """Forecast every series of a level in one pass (training its global model first) and cache them."""
    found = members(session=session, level=level)
    if not found:
        return 0
    panel = load_panel(session=session, level=level, members=found, now=now, days=forecasting.TRAIN_DAYS)
    return forecasting.refresh_level(session=session, level=level, members=found, panel=panel, now=now, train=train)


def refresh_all(*, session: Session, now: datetime) -> dict:
    """The nightly job: retrain each level's global model and cache area, feeder and system forecasts."""
    summary = {}
    for level in ("area", "feeder", "system", "customer"):
        started = time.perf_counter()
        try:
            n = refresh_level(session=session, level=level, now=now)
        except forecasting.ForecastNotFound as exc:
            log.warning("no %s forecasts: %s", level, exc)
            n = 0
        summary[level] = {"series": n, "seconds": round(time.perf_counter() - started, 2)}
    return summary


def choose_models(*, session: Session, now: datetime, horizon: int = 24, origins: int | str = "auto") -> dict:
    """Backtest every model on each level's recent history and store the one the backtest's rule picks
    (lowest mean RMSE over the origins, 28 by default, or a simpler model Diebold–Mariano cannot tell
    apart from it)."""
    chosen = {}
    for level in LEVELS:
        sample = forecasting.backtest_sample(level, members(session=session, level=level))
        if not sample:
            continue
        try:
            panel = load_panel(session=session, level=level, members=sample, now=now, days=forecasting.TRAIN_DAYS,
                               only_keys=level == "customer")
        except forecasting.ForecastNotFound as exc:
            log.warning("no backtest for %s: %s", level, exc)
            continue
        choice = forecasting.choose_model(session=session, level=level, panel=panel, now=now, horizon=horizon,
                                          origins=origins)
        if choice is not None:
            chosen[level] = choice
    return chosen


def overload_warnings(*, session: Session, now: datetime, threshold: float = 0.9,
                      refresh: bool = True) -> list[OverloadWarning]:
    """Areas whose measured load now or forecast peak (next 48 h) reaches threshold × capacity, worst first.
    Without `refresh`, areas whose forecast is missing or stale are left out instead of forecast now."""
    keys = [m.key for m in members(session=session, level="area")]
    forecasts = forecasting.area_forecasts(session=session, keys=keys, now=now)
    if refresh and any(f is None for f in forecasts.values()):  # missing or stale: refresh the whole level at once
        refresh_level(session=session, level="area", now=now, train=False)
        forecasts = forecasting.area_forecasts(session=session, keys=keys, now=now)
    measured = {s.area_code: MeasuredLoad(district=s.district, feeder_code=s.feeder_code, load_kw=s.load_kw)
                for s in metering.list_area_states(session=session, now=now)}
    return forecasting.overload_warnings(forecasts={k: f for k, f in forecasts.items() if f is not None},
                                         measured=measured, threshold=threshold)


def overload_ticket(*, session: Session, area_code: str, settings: Settings, parser, now: datetime) -> TicketRead:
    """Open (once a day per area) a 安全隐患 ticket for an area forecast to overload (Conflict without a warning)."""
    warning = next((w for w in overload_warnings(session=session, now=now) if w.area_code == area_code.upper()), None)
    if warning is None:
        raise Conflict("no_warning", "该台区目前没有重过载预警，无需派单")
    return open_overload_ticket(session=session, warning=warning, settings=settings, parser=parser, now=now)


def list_targets(*, session: Session) -> dict[str, list[dict]]:
    """The transformer areas and feeders staff can pick on the forecast page."""
    return {level: [{"key": m.key, "name": m.name, "district": m.districts[0] if m.districts else "",
                     "capacity_kva": m.capacity_kva} for m in members(session=session, level=level)]
            for level in ("area", "feeder")}
