"""Load forecasts from the seeded demo database (SQLite, and PostgreSQL when DATABASE_URL is set)."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from api.core.errors import NotFound
from api.core.time import LOCAL_TZ
from api.customers.models import Customer
from api.demo.showcase import SHOWCASE
from api.flows import load_forecasting as service
from api.forecasting.backtest import SIMPLICITY
from api.forecasting.features import Panel
from api.forecasting.forecasters import GBMConfig, GlobalGBM
from api.forecasting.models import ForecastModel, ForecastModelChoice, LoadForecast
from api.forecasting.service import ForecastNotFound
from api.metering.models import Feeder, Reading, TransformerArea

HOUR = timedelta(hours=1)


@pytest.fixture
def now(session):
    """Twenty minutes into the hour after the demo's last reading, as a live clock would be."""
    return session.scalar(select(func.max(Reading.ts))) + timedelta(minutes=20)


def area_of(session, role: str) -> TransformerArea:
    customer = session.scalar(select(Customer).where(Customer.account_no == SHOWCASE[role][0]))
    return session.get(TransformerArea, customer.transformer_area_id)


def keys(session) -> dict[str, str | None]:
    return {"system": None, "feeder": session.scalar(select(Feeder.code).order_by(Feeder.code)),
            "area": area_of(session, "normal").code, "customer": SHOWCASE["normal"][0]}


def check_forecast(result, now) -> None:
    assert len(result.points) == 48
    first = result.points[0].ts
    assert result.origin <= now < result.origin + 2 * HOUR
    assert first == result.origin + HOUR
    assert first.utcoffset() == timedelta(hours=8)  # shown on the Shanghai clock
    for i, p in enumerate(result.points):
        assert p.ts == first + i * HOUR
        assert 0 <= p.p10 <= p.p50 <= p.p90
    assert any(p.p50 > 0 for p in result.points)
    assert 100 <= len(result.history) <= 168
    assert result.history[-1].ts == result.origin
    assert len(result.daily) == 7
    assert [d.date for d in result.daily] == [result.daily[0].date + timedelta(days=i) for i in range(7)]
    assert result.daily[0].date == (first.astimezone(LOCAL_TZ).date() + timedelta(days=1))
    assert all(0 <= d.p10 <= d.p50 <= d.p90 for d in result.daily)
    local = first.astimezone(LOCAL_TZ)
    assert result.month.month == f"{local.year + (local.month == 12)}-{local.month % 12 + 1:02d}"
    assert 0 < result.month.p10 <= result.month.p50 <= result.month.p90


@pytest.mark.parametrize("level", ["system", "feeder", "area", "customer"])
def test_every_level_has_48_hourly_points_with_ordered_quantiles(session, now, level):
    result = service.get_load_forecast(session=session, level=level, key=keys(session)[level], now=now)
    check_forecast(result, now)
    assert result.level == level and result.name
    assert result.model in ("seasonal_naive", "statistical", "global_gbm")
    assert result.weather == "persistence"  # the demo has measured weather, none for the future
    # a day's energy is about the mean load of the last week × 24 h
    recent = statistics.mean(h.kw for h in result.history)
    assert 0.4 * recent * 24 < result.daily[0].p50 < 2.5 * recent * 24


def test_area_feeder_system_forecasts_are_cached(session, now):
    code = area_of(session, "normal").code
    first = service.get_load_forecast(session=session, level="area", key=code, now=now)
    assert first.cached is False and first.capacity_kva > 0
    second = service.get_load_forecast(session=session, level="area", key=code.lower(), now=now + 2 * HOUR)
    assert second.cached is True
    assert second.made_at == first.made_at and second.points == first.points
    rows = session.scalars(select(LoadForecast).where(LoadForecast.level == "area", LoadForecast.key == code)).all()
    assert len(rows) == 1
    # a day later the data behind it is too old: computed again
    later = service.get_load_forecast(session=session, level="area", key=code, now=now + timedelta(hours=30))
    assert later.cached is False
    # the caller's weather gives a fresh forecast that is not stored
    weather = [{"ts": p.ts, "temperature_c": -15.0} for p in first.points]
    given = service.get_load_forecast(session=session, level="area", key=code, now=now, weather=weather)
    assert given.cached is False and given.weather == "given"
    assert session.scalar(select(func.count()).select_from(LoadForecast).where(LoadForecast.key == code)) == 1
    # customers are never cached
    service.get_load_forecast(session=session, level="customer", key=SHOWCASE["normal"][0], now=now)
    assert session.scalar(select(func.count()).select_from(LoadForecast).where(LoadForecast.level == "customer")) == 0


def test_refresh_trains_global_models_and_a_customer_forecast_takes_under_200_ms(session, now):
    summary = service.refresh_all(session=session, now=now)
    n_areas = session.scalar(select(func.count()).select_from(TransformerArea))
    assert summary["area"]["series"] == n_areas and summary["system"]["series"] == 1
    stored = {m.level for m in session.scalars(select(ForecastModel))}
    assert {"area", "feeder", "system", "customer"} <= stored
    cached = service.get_load_forecast(session=session, level="area", key=area_of(session, "normal").code, now=now)
    assert cached.cached is True and cached.model == "global_gbm"

    accounts = session.scalars(select(Customer.account_no).order_by(Customer.id).limit(8)).all()
    service.get_load_forecast(session=session, level="customer", key=accounts[0], now=now)  # warm
    timings = []
    for account in accounts[1:]:
        started = time.perf_counter()
        result = service.get_load_forecast(session=session, level="customer", key=account, now=now)
        timings.append(time.perf_counter() - started)
        assert result.model == "global_gbm"
        check_forecast(result, now)
    assert statistics.median(timings) < 0.2, timings


def test_overload_warning_for_the_overloaded_area_only(session, now):
    overloaded = area_of(session, "overloaded_area")
    healthy = area_of(session, "normal")
    warnings = service.overload_warnings(session=session, now=now)
    by_code = {w.area_code: w for w in warnings}
    assert overloaded.code in by_code
    assert healthy.code not in by_code
    w = by_code[overloaded.code]
    assert w.capacity_kva == float(overloaded.capacity_kva)
    assert w.capacity_kw == pytest.approx(float(overloaded.capacity_kva) * 0.9)
    assert w.load_ratio >= 1.0 and w.severity == "过载"
    assert w.forecast_peak_kw == pytest.approx(w.load_ratio * w.capacity_kw, rel=1e-2)
    # the peak is the forecast's, or the measured hour when that is higher, and says which
    if w.basis == "measured":
        assert w.forecast_peak_kw == w.current_kw
    else:
        assert w.forecast_peak_kw >= w.current_kw
    assert w.area_name == overloaded.name and overloaded.code in w.message and "过载" in w.message
    assert w.peak_at.utcoffset() == timedelta(hours=8)
    # a stricter threshold keeps it, an impossible one drops everything
    assert overloaded.code in {x.area_code for x in service.overload_warnings(session=session, now=now,
                                                                                threshold=1.0)}
    assert service.overload_warnings(session=session, now=now, threshold=10.0) == []


def test_choose_models_stores_backtest_metrics_per_level(session, now):
    chosen = service.choose_models(session=session, now=now, origins=2)
    assert set(chosen) == {"customer", "area", "feeder", "system"}
    for level, choice in chosen.items():
        row = session.scalar(select(ForecastModelChoice).where(ForecastModelChoice.level == level))
        assert row.model == choice["model"]
        assert row.metrics["seasonal_naive"]["MASE"] is not None
        # the backtest's rule: lowest mean RMSE over the origins, unless a simpler model is not
        # significantly worse (Diebold–Mariano p ≥ 0.05)
        means = {n: m["RMSE_origin_mean"] for n, m in row.metrics.items() if m.get("RMSE_origin_mean") is not None}
        lowest = min(means, key=means.get)
        assert row.metrics[lowest]["dm_p_vs_best"] is None
        if row.model != lowest:
            assert SIMPLICITY.index(row.model) < SIMPLICITY.index(lowest)
            assert row.metrics[row.model]["dm_p_vs_best"] >= 0.05
        assert choice["note"]
    result = service.get_load_forecast(session=session, level="system", key=None, now=now)
    assert result.metrics is not None and result.metrics.origins == 2
    assert result.model in (chosen["system"]["model"], "statistical")


def test_unknown_keys_and_levels(session, now):
    with pytest.raises(ForecastNotFound) as unknown:
        service.get_load_forecast(session=session, level="area", key="TA9999", now=now)
    assert unknown.value.status == 404 and unknown.value.detail() == {"code": "not_found",
                                                                      "message": "没有找到预测对象：TA9999"}
    with pytest.raises(ForecastNotFound):
        service.get_load_forecast(session=session, level="customer", key="0499999999", now=now)
    with pytest.raises(NotFound) as level:
        service.get_load_forecast(session=session, level="district", key="原州区", now=now)
    assert level.value.code == "unknown_level" and level.value.extra["levels"] == ["customer", "area", "feeder", "system"]


def test_a_stored_global_model_predicts_like_the_trained_one():
    rng = np.random.default_rng(0)
    T = 24 * 30
    times = np.datetime64("2026-10-01T16:00:00", "s") + np.timedelta64(3600, "s") * np.arange(T)
    shape = 1 + 0.5 * np.sin(np.arange(T) * 2 * np.pi / 24)
    y = np.vstack([lvl * shape * rng.lognormal(0, 0.1, T) for lvl in (1.0, 5.0, 20.0, 80.0)])
    panel = Panel(keys=list("abcd"), times=times, y=y, temperature=15 + rng.normal(0, 2, (4, T)))
    model = GlobalGBM(horizon=48, config=GBMConfig(n_estimators=40, quantile_estimators=20)).fit(panel)
    again = GlobalGBM.from_json(model.to_json())
    a, b = model.predict(48), again.predict(48, panel=panel)
    np.testing.assert_allclose(a.p50, b.p50)
    np.testing.assert_allclose(a.p10, b.p10)
    assert np.all(a.p10 <= a.p50) and np.all(a.p50 <= a.p90)


def test_nightly_job_runs_when_the_cache_is_empty_and_then_once_a_night(db_url, now):
    from api.db import make_engine, make_sessionmaker
    from api.flows import forecast_jobs as jobs

    engine = make_engine(db_url)
    try:
        sessions = make_sessionmaker(engine)
        assert jobs.due(sessionmaker=sessions, now=now)  # nothing cached yet
        summary = jobs.run_pass(sessionmaker=sessions, now=now, choose=False)
        assert summary["area"]["series"] > 0 and summary["system"]["series"] == 1
        assert not jobs.due(sessionmaker=sessions, now=now)
        # the next night (02:00 Shanghai) it is due again, whatever the hour it ran at
        local = now.astimezone(LOCAL_TZ)
        next_night = (local + timedelta(days=1)).replace(hour=2, minute=5)
        assert jobs.due(sessionmaker=sessions, now=next_night.astimezone(now.tzinfo))
    finally:
        engine.dispose()
