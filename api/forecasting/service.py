"""Load forecasting rules: forecasts per level (cached for areas, feeders, the system), the model
each level uses (chosen by the backtest's rule: lowest mean RMSE over 28 day-ahead origins, or a
simpler model that Diebold–Mariano cannot tell apart from it), the nightly refresh, and transformer
overload warnings.

Load of an area, a feeder or the system is the sum of its meters' mean power per hour; the
metering domain owns the readings and sums them in SQL, and the flow (api.flows.load_forecasting)
passes the series and temperatures in (`panel_from_loads`, `add_temperatures`). A level's global LightGBM model is trained by the job and stored as text (ForecastModel), so a
customer's forecast on demand only reads ~5 weeks of one meter and runs the stored trees. Without
a stored model (the job has not run yet) a level falls back to the statistical model fitted on the
spot. Weather: the district's measured temperatures; for the future the caller's series when
given, else a persistence forecast (the mean of the same hour over the last three days).

Transformer capacity is in kVA; loads in kW are compared with capacity_kva × 0.9, the assumed
power factor of the mixed residential and commercial load behind a distribution transformer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.core.time import LOCAL_TZ
from api.forecasting import backtest as bt
from api.forecasting.features import (
    Panel,
    _quiet,
    calendar_features,
    day_kind,
    from_utc64,
    hour_floor,
    local_times,
)
from api.forecasting.forecasters import (
    Forecast,
    GBMConfig,
    GlobalGBM,
    SeasonalNaive,
    Statistical,
    persistence_temperature,
)
from api.forecasting.models import LEVELS, ForecastModel, ForecastModelChoice, LoadForecast
from api.forecasting.schemas import (
    DailyEnergy,
    ForecastPoint,
    HistoryPoint,
    LoadForecastRead,
    ModelMetrics,
    MonthEnergy,
    OverloadWarning,
    WeatherPoint,
)

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
H64 = np.timedelta64(3600, "s")
POWER_FACTOR = 0.9  # kW = kVA × power factor
POINTS = 48  # hourly points shown
LONG_HORIZON = 192  # hours forecast: covers tomorrow + 6 more local days whatever the hour now
PREDICT_DAYS = 35  # history a forecast reads: four weeks of weekly lags + the scale week
TRAIN_DAYS = 56  # history the job trains and backtests on
CACHE_MAX_AGE = timedelta(hours=24)  # a cached forecast serves while its data is at most a day old
MODEL_MAX_AGE = timedelta(days=8)  # a stored global model older than this is not used
CHOICE_MAX_AGE = timedelta(days=7)  # the job re-runs the backtests weekly
CUSTOMER_SAMPLE = 100  # customers in the customer level's backtest (× 28 origins: more evidence than 300 × 4)
CACHED_LEVELS = ("area", "feeder", "system")
SYSTEM_KEY = "all"


class ForecastNotFound(NotFound):
    """No such customer, area or feeder, or no readings to forecast from."""

    def __init__(self, key: str | None):
        super().__init__("not_found", f"没有找到预测对象：{key}")


class UnknownLevel(NotFound):
    """Forecasts are made for customers, areas, feeders and the system only."""

    def __init__(self):
        super().__init__("unknown_level", "预测对象应为客户、台区、线路或全网", levels=list(LEVELS))


def require_level(level: str) -> None:
    """UnknownLevel unless `level` is one of LEVELS."""
    if level not in LEVELS:
        raise UnknownLevel()


# ------------------------------------------------------------------------------ loading series

@dataclass
class Member:
    """One series of a level: key, display name, district(s) for weather, class, capacity, and
    `load_key`, the key of its rows in metering's load series (customer id, area or feeder code;
    None for the system)."""

    key: str
    name: str
    districts: tuple[str, ...]
    klass: str | None = None
    capacity_kva: float | None = None
    load_key: int | str | None = None


@dataclass
class MeasuredLoad:
    """A transformer area's measured load in the last hour, as metering reports it."""

    district: str
    feeder_code: str
    load_kw: float


def backtest_sample(level: str, members: list[Member]) -> list[Member]:
    """The members a level's backtest uses: every one, but at most CUSTOMER_SAMPLE customers (evenly spread)."""
    if level == "customer" and len(members) > CUSTOMER_SAMPLE:
        step = len(members) / CUSTOMER_SAMPLE
        return [members[int(i * step)] for i in range(CUSTOMER_SAMPLE)]
    return members


def load_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The hours (start, end] a panel of `days` reads: up to the last whole hour before `now`."""
    end = hour_floor(now)
    return end - timedelta(days=days), end


def _hours64(stamps: list[datetime]) -> np.ndarray:
    """Aware UTC datetimes from the database as datetime64[s] (one C-level conversion)."""
    epoch = np.fromiter((t.timestamp() for t in stamps), dtype=np.float64, count=len(stamps))
    return np.round(epoch).astype(np.int64).astype("datetime64[s]")


def _to64(dt: datetime) -> np.datetime64:
    return np.datetime64(dt.astimezone(timezone.utc).replace(tzinfo=None), "s")


def panel_from_loads(*, level: str, members: list[Member], rows: list[tuple], days: int) -> Panel:
    """Hourly kW of the members on a grid of `days` ending at their last reading, from metering's
    (load key, ts, kW) rows of `load_window`; no temperatures yet (`add_temperatures`)."""
    if not rows:
        raise ForecastNotFound("/".join(m.key for m in members[:3]))
    stamps = _hours64([ts for _k, ts, _v in rows])
    T = days * 24
    start64 = stamps.max() - (T - 1) * H64
    times = start64 + H64 * np.arange(T)
    index = {m.load_key: i for i, m in enumerate(members)}
    series = np.array([index.get(k, -1) for k, _ts, _v in rows], dtype=np.int64)
    values = np.array([np.nan if v is None else float(v) for _k, _ts, v in rows])
    cols = ((stamps - start64) // H64).astype(np.int64)
    keep = (series >= 0) & (cols >= 0) & (cols < T)
    y = np.full((len(members), T), np.nan)
    y[series[keep], cols[keep]] = values[keep]
    seen = np.flatnonzero(np.isfinite(y).any(axis=0))
    first = int(seen[0]) if len(seen) else T - 1  # drop the hours before any data (a young database)
    times, y = times[first:], y[:, first:]
    classes = [m.klass for m in members] if level == "customer" else None
    return Panel(keys=[m.key for m in members], times=times, y=y, classes=classes)


def districts_of(members: list[Member]) -> list[str]:
    """The districts whose weather the members need, sorted."""
    return sorted({d for m in members for d in m.districts})


def temperature_window(panel: Panel) -> tuple[datetime, datetime]:
    """The first and last hour of the panel (both included), for its measured temperatures."""
    return from_utc64(panel.times[0]), from_utc64(panel.times[-1])


def add_temperatures(panel: Panel, *, members: list[Member], rows: list[tuple]) -> Panel:
    """Set the panel's (S, T) hourly temperature, each member's district(s) mean, NaN where unknown,
    from metering's (district, ts, °C) rows of `temperature_window`; none without rows."""
    districts = districts_of(members)
    if not districts or not rows:
        return panel
    times = panel.times
    by_district: dict[str, np.ndarray] = {d: np.full(len(times), np.nan) for d in districts}
    cols = ((_hours64([ts for _d, ts, _t in rows]) - times[0]) // H64).astype(np.int64)
    for (district, _ts, temp), j in zip(rows, cols.tolist()):
        if 0 <= j < len(times):
            by_district[district][j] = float(temp)
    out = np.empty((len(members), len(times)))
    with _quiet():
        for i, m in enumerate(members):
            out[i] = np.nanmean(np.vstack([by_district[d] for d in m.districts]), axis=0)
    panel.temperature = out
    return panel


def _future_weather(panel: Panel, weather: list | None, horizon: int) -> tuple[np.ndarray | None, str]:
    """(S, horizon) temperatures for the forecast hours: the caller's, else persistence."""
    if panel.temperature is None and not weather:
        return None, "none"
    hist = panel.temperature[:, :panel.length] if panel.temperature is not None else np.full(panel.y.shape, np.nan)
    future = persistence_temperature(hist, 24, horizon)
    source = "persistence"
    if weather:
        start = panel.times[-1] + H64
        for w in weather:
            point = w if isinstance(w, WeatherPoint) else WeatherPoint.model_validate(w)
            ts = point.ts if point.ts.tzinfo else point.ts.replace(tzinfo=LOCAL_TZ)
            j = int((_to64(hour_floor(ts)) - start) // H64)
            if 0 <= j < horizon:
                future[:, j] = point.temperature_c
        source = "given"
    return future, source


# ------------------------------------------------------------------------------ models

_loaded: dict[tuple[str, int, datetime], GlobalGBM] = {}


def _stored_model(*, session: Session, level: str, now: datetime) -> GlobalGBM | None:
    """The level's stored global model if recent enough (parsed once per process and version)."""
    row = session.execute(select(ForecastModel.id, ForecastModel.trained_at, ForecastModel.data_end)
                          .where(ForecastModel.level == level)).first()
    if row is None or row.data_end < now - MODEL_MAX_AGE:
        return None
    cache_key = (level, row.id, row.trained_at)
    model = _loaded.get(cache_key)
    if model is None:
        body = session.scalar(select(ForecastModel.body).where(ForecastModel.id == row.id))
        model = GlobalGBM.from_json(body)
        for old in [k for k in _loaded if k[0] == level]:
            del _loaded[old]
        _loaded[cache_key] = model
    return model


def _choice(*, session: Session, level: str) -> ForecastModelChoice | None:
    return session.scalar(select(ForecastModelChoice).where(ForecastModelChoice.level == level))


def _metrics(choice: ForecastModelChoice | None, model: str) -> ModelMetrics | None:
    if choice is None or model not in (choice.metrics or {}):
        return None
    m = choice.metrics[model]
    base = choice.metrics.get(bt.BASELINE, {})
    return ModelMetrics(model=model, MAPE=m.get("MAPE"), sMAPE=m.get("sMAPE"), RMSE=m.get("RMSE"),
                        MASE=m.get("MASE"), coverage_p10_p90=m.get("coverage_p10_p90"), horizon=choice.horizon,
                        origins=choice.origins, chosen_at=choice.chosen_at, baseline_MAPE=base.get("MAPE"))


def _predict(*, session: Session, level: str, panel: Panel, now: datetime, weather: list | None,
             train: bool) -> tuple[Forecast, str, str]:
    """Forecast LONG_HORIZON hours with the level's model; returns (forecast, model name, weather source)."""
    choice = _choice(session=session, level=level)
    wanted = choice.model if choice is not None else "global_gbm"
    future, source = _future_weather(panel, weather, LONG_HORIZON)
    exog = {"temperature": future} if future is not None else None
    if wanted == "global_gbm":
        model = None
        if train:
            model = train_global(session=session, level=level, panel=panel, now=now)
        if model is None:
            model = _stored_model(session=session, level=level, now=now)
        if model is not None:
            return model.predict(LONG_HORIZON, exog, panel=panel), "global_gbm", source
        wanted = "statistical"
    if wanted == "seasonal_naive":
        return SeasonalNaive().fit(panel).predict(LONG_HORIZON), "seasonal_naive", source
    return Statistical(horizon=LONG_HORIZON).fit(panel).predict(LONG_HORIZON, exog), "statistical", source


def train_global(*, session: Session, level: str, panel: Panel, now: datetime) -> GlobalGBM | None:
    """Train and store the level's global model on the panel (None when the history is too short)."""
    if panel.length < 7 * 24:
        return None
    try:
        model = GlobalGBM(horizon=LONG_HORIZON, config=GBMConfig()).fit(panel)
    except ValueError as exc:
        log.warning("global model for %s not trained: %s", level, exc)
        return None
    row = session.scalar(select(ForecastModel).where(ForecastModel.level == level))
    if row is None:
        row = ForecastModel(level=level)
        session.add(row)
    row.model, row.trained_at, row.data_end = "global_gbm", now, from_utc64(panel.times[-1])
    row.series, row.body = panel.n_series, model.to_json()
    session.commit()
    for old in [k for k in _loaded if k[0] == level]:
        del _loaded[old]
    _loaded[(level, row.id, row.trained_at)] = model  # this process need not parse it back
    return model


# ------------------------------------------------------------------------------ shaping the answer

def _daily(fc: Forecast, i: int) -> list[DailyEnergy]:
    """kWh per local day for the 7 whole days after the first forecast hour's day."""
    cal = calendar_features(fc.times)
    days = cal["local_day"]
    first = days[0] + np.timedelta64(1, "D")
    out = []
    for d in range(7):
        day = first + np.timedelta64(d, "D")
        sel = days == day
        if sel.sum() < 24:
            break
        out.append(DailyEnergy(date=day.astype(object), p10=round(float(fc.p10[i, sel].sum()), 2),
                               p50=round(float(fc.p50[i, sel].sum()), 2), p90=round(float(fc.p90[i, sel].sum()), 2)))
    return out


def _month(panel: Panel, i: int, after: np.datetime64) -> MonthEnergy:
    """Next calendar month's kWh: each day priced at the recent mean of its kind of day, with the
    spread of recent 7-day energies around their mean for P10/P90."""
    cal = calendar_features(panel.times)
    days = cal["local_day"]
    y = panel.y[i]
    unique = np.unique(days)
    energy, kinds = [], []
    kind_all = day_kind(cal)
    for d in unique[-28:]:
        sel = days == d
        vals = y[sel]
        if sel.sum() == 24 and np.isfinite(vals).sum() >= 20:
            energy.append(float(np.nanmean(vals) * 24))
            kinds.append(int(kind_all[sel][0]))
    local_now = after.astype("datetime64[D]")
    month_start = (local_now.astype("datetime64[M]") + np.timedelta64(1, "M"))
    month_end = month_start + np.timedelta64(1, "M")
    target_days = np.arange(month_start.astype("datetime64[D]"), month_end.astype("datetime64[D]"))
    label = str(month_start)
    if not energy:
        return MonthEnergy(month=label, p10=0.0, p50=0.0, p90=0.0)
    energy_a, kinds_a = np.array(energy), np.array(kinds)
    overall = energy_a.mean()
    means = {k: (energy_a[kinds_a == k].mean() if (kinds_a == k).any() else None) for k in (0, 1, 2)}
    if means[2] is None:
        means[2] = means[1]
    for k in (0, 1, 2):
        if means[k] is None:
            means[k] = overall
    noon = (target_days.astype("datetime64[s]") + np.timedelta64(4, "h"))  # local noon in UTC
    target_kinds = day_kind(calendar_features(noon))
    p50 = float(sum(means[int(k)] for k in target_kinds))
    if len(energy_a) >= 11:
        weeks = np.convolve(energy_a, np.ones(7), mode="valid")
        ratio = weeks / weeks.mean()
        lo, hi = float(np.quantile(ratio, 0.1)), float(np.quantile(ratio, 0.9))
    else:
        spread = energy_a.std() / max(overall, 1e-9) / np.sqrt(7) * 1.28
        lo, hi = 1 - spread, 1 + spread
    lo, hi = min(lo, 0.97), max(hi, 1.03)
    return MonthEnergy(month=label, p10=round(p50 * lo, 1), p50=round(p50, 1), p90=round(p50 * hi, 1))


def _compose(*, level: str, member: Member, panel: Panel, i: int, fc: Forecast, model: str, source: str,
             metrics: ModelMetrics | None, now: datetime) -> LoadForecastRead:
    """One series' LoadForecastRead from the panel and the forecast."""
    points = [ForecastPoint(ts=from_utc64(fc.times[j]), p10=round(float(fc.p10[i, j]), 3),
                            p50=round(float(fc.p50[i, j]), 3), p90=round(float(fc.p90[i, j]), 3))
              for j in range(POINTS)]
    history = [HistoryPoint(ts=from_utc64(panel.times[j]), kw=round(float(panel.y[i, j]), 3))
               for j in range(max(0, panel.length - 168), panel.length) if np.isfinite(panel.y[i, j])]
    local_first = local_times(fc.times[:1])[0]
    return LoadForecastRead(
        level=level, key=member.key, name=member.name, made_at=now, origin=from_utc64(panel.times[-1]), model=model,
        weather=source, capacity_kva=member.capacity_kva, points=points, history=history, daily=_daily(fc, i),
        month=_month(panel, i, local_first), metrics=metrics)


# ------------------------------------------------------------------------------ the service

def normal_key(level: str, key: str | None) -> str:
    """Codes are upper case (TA0103, F511); the system has the one key "all"."""
    if level == "system":
        return SYSTEM_KEY
    key = (key or "").strip()
    return key if level == "customer" else key.upper()


def cached_forecast(*, session: Session, level: str, key: str, now: datetime) -> LoadForecastRead | None:
    """The cached forecast of an area, feeder or the system while its data is at most a day old;
    None otherwise (and always for customers, who are forecast on demand)."""
    if level not in CACHED_LEVELS:
        return None
    row = session.scalar(select(LoadForecast).where(LoadForecast.level == level, LoadForecast.key == key))
    if row is None or not (now - CACHE_MAX_AGE <= row.origin <= now):
        return None
    return LoadForecastRead.model_validate({**row.payload, "cached": True})


def forecast(*, session: Session, level: str, member: Member, panel: Panel, now: datetime,
             weather: list | None = None) -> LoadForecastRead:
    """The load forecast of one member from its panel of PREDICT_DAYS, with the level's model; cached
    for areas, feeders and the system unless made with the caller's weather."""
    fc, model, source = _predict(session=session, level=level, panel=panel, now=now, weather=weather, train=False)
    result = _compose(level=level, member=member, panel=panel, i=0, fc=fc, model=model, source=source,
                      metrics=_metrics(_choice(session=session, level=level), model), now=now)
    if level in CACHED_LEVELS and not weather:
        _store(session=session, results=[result])
    return result


def _store(*, session: Session, results: list[LoadForecastRead]) -> None:
    """Insert or replace the cached rows (one per level and key)."""
    if not results:
        return
    level = results[0].level
    existing = {r.key: r for r in session.scalars(select(LoadForecast).where(
        LoadForecast.level == level, LoadForecast.key.in_([r.key for r in results])))}
    for result in results:
        row = existing.get(result.key)
        if row is None:
            row = LoadForecast(level=level, key=result.key)
            session.add(row)
        row.origin, row.made_at, row.model = result.origin, result.made_at, result.model
        row.payload = result.model_dump(mode="json", exclude={"cached"})
    try:
        session.commit()
    except IntegrityError:  # another worker cached the same forecast first: theirs is as good
        session.rollback()


def refresh_level(*, session: Session, level: str, members: list[Member], panel: Panel, now: datetime,
                  train: bool = True) -> int:
    """Forecast every member of a level in one pass (training its global model first) and cache them;
    `panel` holds all of them over TRAIN_DAYS."""
    if level not in CACHED_LEVELS:  # customers are forecast on demand with the stored model
        if train and (_choice(session=session, level=level) is None
                      or _choice(session=session, level=level).model == "global_gbm"):
            train_global(session=session, level=level, panel=panel, now=now)
        return len(members)
    fc, model, source = _predict(session=session, level=level, panel=panel, now=now, weather=None, train=train)
    metrics = _metrics(_choice(session=session, level=level), model)
    results = [_compose(level=level, member=m, panel=panel, i=i, fc=fc, model=model, source=source,
                        metrics=metrics, now=now) for i, m in enumerate(members)]
    _store(session=session, results=results)
    return len(results)


def choose_model(*, session: Session, level: str, panel: Panel, now: datetime, horizon: int = 24,
                 origins: int | str = "auto") -> dict | None:
    """Backtest every model on the level's recent history (`backtest_sample` over TRAIN_DAYS) and store
    the one the backtest's rule picks (`api.forecasting.backtest.choose`: lowest mean RMSE over the
    origins, or a simpler model not significantly worse by Diebold–Mariano); None when too short."""
    try:
        result = bt.backtest(panel, horizon=horizon, origins=origins)
    except bt.TooShort as exc:
        log.warning("no backtest for %s: %s", level, exc)
        return None
    best = result["best"] or bt.BASELINE
    metrics = {}
    for name, m in result["models"].items():
        spread = result["spread"].get(name, {})
        dm = result["choice"]["dm_vs_best"].get(name, {})
        metrics[name] = {**m, "RMSE_origin_mean": spread.get("mean"), "RMSE_origin_std": spread.get("std"),
                         "RMSE_origin_iqr": spread.get("iqr"), "dm_p_vs_best": dm.get("p_value")}
    for warning in result["warnings"]:
        log.warning("model choice for %s: %s", level, warning)
    log.info("model choice for %s: %s (%s)", level, best, result["choice"]["note"])
    row = _choice(session=session, level=level)
    if row is None:
        row = ForecastModelChoice(level=level)
        session.add(row)
    row.model, row.chosen_at, row.horizon = best, now, horizon
    row.origins, row.series, row.metrics = result["origins"], panel.n_series, metrics
    session.commit()
    return {"model": best, "metrics": metrics, "note": result["choice"]["note"]}


def area_forecasts(*, session: Session, keys: list[str], now: datetime) -> dict[str, LoadForecastRead | None]:
    """The cached forecast of each area code (None where missing or stale)."""
    return {k: cached_forecast(session=session, level="area", key=k, now=now) for k in keys}


def overload_warnings(*, forecasts: dict[str, LoadForecastRead], measured: dict[str, MeasuredLoad],
                      threshold: float = 0.9) -> list[OverloadWarning]:
    """Areas whose measured load now or forecast peak (P50, next 48 h) reaches threshold × capacity_kw,
    worst first; `measured` is each area's load of the last hour, by code."""
    warnings = []
    for code, fc in sorted(forecasts.items()):
        state = measured.get(code)
        if state is None or not fc.capacity_kva:
            continue
        capacity_kw = fc.capacity_kva * POWER_FACTOR
        peak = max(fc.points, key=lambda p: p.p50, default=None)
        peak_kw, peak_at = (peak.p50, peak.ts) if peak is not None else (0.0, fc.origin)
        current = state.load_kw
        is_measured = current > peak_kw  # already above anything forecast: the measured hour is the peak
        if is_measured:
            peak_kw, peak_at = current, fc.origin
        peak_kw = round(peak_kw, 1)  # the figure shown: the message, the field and the ratio all start from it
        ratio = peak_kw / capacity_kw if capacity_kw else 0.0
        if ratio < threshold:
            continue
        severity = "过载" if ratio >= 1.0 else "重载"
        when = peak_at.astimezone(LOCAL_TZ).strftime("%m月%d日%H时")
        what = f"当前实测负荷约{peak_kw:.0f}千瓦（{when}）" if is_measured else f"预计{when}负荷约{peak_kw:.0f}千瓦"
        message = (f"{fc.name}（{code}）{what}，为变压器容量{fc.capacity_kva:.0f}千伏安"
                   f"（约{capacity_kw:.0f}千瓦）的{ratio:.0%}，{severity}，建议安排巡视或负荷转移。")
        warnings.append(OverloadWarning(
            area_code=code, area_name=fc.name, district=state.district, feeder_code=state.feeder_code,
            capacity_kva=fc.capacity_kva, capacity_kw=round(capacity_kw, 1), forecast_peak_kw=peak_kw,
            peak_at=peak_at, basis="measured" if is_measured else "forecast", current_kw=round(current, 1),
            load_ratio=round(ratio, 3), severity=severity,
            message=message, made_at=fc.made_at))
    return sorted(warnings, key=lambda w: -w.load_ratio)


def forecasts_stale(*, session: Session, now: datetime) -> bool:
    """True when no area forecast is cached or the newest one's data is older than a day."""
    newest = session.scalar(select(func.max(LoadForecast.origin)).where(LoadForecast.level == "area"))
    return newest is None or newest < now - CACHE_MAX_AGE


def last_refresh(*, session: Session) -> datetime | None:
    """When the cache was last written."""
    return session.scalar(select(func.max(LoadForecast.made_at)))


def choices_stale(*, session: Session, now: datetime) -> bool:
    """True when some level has no model choice or its backtest is older than a week."""
    rows = {c.level: c.chosen_at for c in session.scalars(select(ForecastModelChoice))}
    return any(level not in rows or rows[level] < now - CHOICE_MAX_AGE for level in LEVELS)
