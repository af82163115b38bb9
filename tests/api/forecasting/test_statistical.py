"""The statistical model (statsforecast MSTL + AutoETS): beats seasonal naive on a seasonal series,
calibrated P10–P90, holidays forecast like rest days, the service's long horizon."""
from __future__ import annotations

import numpy as np

from api.forecasting import backtest as bt
from api.forecasting.features import Panel, calendar_features
from api.forecasting.forecasters import Statistical

H64 = np.timedelta64(3600, "s")


def seasonal_panel(days: int, *, n_series: int = 1, seed: int = 0, start: str = "2026-03-02T00:00:00",
                   tz: str = "Etc/UTC") -> Panel:
    """Daily and weekly shape times a slowly wandering level (AR(1) per day) and hourly noise."""
    rng = np.random.default_rng(seed)
    T = days * 24
    t = np.arange(T)
    times = np.datetime64(start, "s") + H64 * t
    cal = calendar_features(times, tz)
    shape = (1 + 0.35 * np.sin(2 * np.pi * (cal["hour"] - 7) / 24)) * np.where(cal["is_workday"] > 0, 1.0, 0.7)
    ys = []
    for _ in range(n_series):
        level = np.empty(days)
        level[0] = 0.0
        for d in range(1, days):
            level[d] = 0.8 * level[d - 1] + rng.normal(0, 0.04)
        ys.append(100 * shape * np.exp(np.repeat(level, 24)) * rng.lognormal(0, 0.04, T))
    return Panel(keys=[f"s{i}" for i in range(n_series)], times=times, y=np.vstack(ys), tz=tz)


def test_statistical_beats_seasonal_naive_on_a_seasonal_series():
    result = bt.backtest(seasonal_panel(56, seed=1), horizon=24, origins=14, models=("statistical",))
    ratio = result["vs_baseline"]["statistical"]["RMSE"]
    assert ratio < 0.85, result["models"]
    assert result["choice"]["lowest_rmse"] == "statistical"


def test_calibrated_p10_p90_cover_about_80_percent():
    result = bt.backtest(seasonal_panel(50, n_series=4, seed=2), horizon=24, origins=10, models=("statistical",))
    coverage = result["models"]["statistical"]["coverage_p10_p90"]
    assert 0.70 <= coverage <= 0.90, coverage


def test_holidays_are_forecast_like_rest_days():
    # Chinese calendar: National Day (1–7 October 2026) rests, Saturday 10 October works (调休)
    panel = seasonal_panel(63, seed=3, start="2026-08-08T16:00:00", tz="Asia/Shanghai")  # to 9 Oct, Shanghai
    cut = int(np.flatnonzero(panel.times == np.datetime64("2026-09-30T16:00:00", "s"))[0])  # 1 Oct 00:00 local
    train = panel.head(cut)
    actual = panel.y[0, cut:cut + 24]
    with_calendar = Statistical().fit(train).predict(24).p50[0]
    without = Statistical(holidays=False).fit(train).predict(24).p50[0]

    def rmse(f):
        return float(np.sqrt(np.mean((f - actual) ** 2)))

    assert rmse(with_calendar) < 0.5 * rmse(without)
    assert with_calendar.mean() < 0.85 * without.mean()  # a holiday Thursday is forecast low


def test_long_horizon_forecast_has_ordered_widening_intervals_and_handles_gaps():
    panel = seasonal_panel(35, n_series=2, seed=4)
    panel.y[0, 200:260] = np.nan  # a gap of the meter
    panel.y[1, :] = np.nan  # a series with no data: seasonal naive's fallback, no crash
    panel.y[1, -30:] = 5.0
    fc = Statistical(horizon=192).fit(panel).predict(192)
    assert fc.p50.shape == (2, 192) and np.isfinite(fc.p50).all()
    assert np.all(fc.p10 <= fc.p50) and np.all(fc.p50 <= fc.p90)
    width = fc.p90[0] - fc.p10[0]
    assert width[-24:].mean() >= width[:24].mean()  # day 8 no narrower than day 1
