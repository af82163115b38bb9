"""Enough origins to choose a model, the spread across them, Diebold–Mariano, and the choice rule."""
from __future__ import annotations

import numpy as np
import pytest

from api.forecasting import backtest as bt
from api.forecasting.features import Panel


def hourly_panel(days: int, *, seed: int = 0, tz: str = "Etc/UTC") -> Panel:
    rng = np.random.default_rng(seed)
    T = days * 24
    t = np.arange(T)
    y = 50 * (1 + 0.3 * np.sin(2 * np.pi * t / 24)) * np.where((t // 24) % 7 >= 5, 0.8, 1.0) \
        * rng.lognormal(0, 0.05, T)
    times = np.datetime64("2026-03-02T00:00:00", "s") + np.timedelta64(3600, "s") * t
    return Panel(keys=["a"], times=times, y=y, tz=tz)


def test_auto_origins_are_28_when_the_history_allows():
    result = bt.backtest(hourly_panel(60), horizon=24, models=("seasonal_naive",))
    assert result["origins"] == bt.AUTO_ORIGINS == 28 and len(result["origin_times"]) == 28
    assert result["warnings"] == []
    # the spread across origins: one RMSE per origin, and its summary
    spread = result["spread"]["seasonal_naive"]
    assert len(spread["per_origin_RMSE"]) == 28
    assert spread["q25"] <= spread["median"] <= spread["q75"] and spread["iqr"] == pytest.approx(
        spread["q75"] - spread["q25"], abs=1e-3)
    assert spread["mean"] == pytest.approx(np.mean(spread["per_origin_RMSE"]), rel=1e-3)
    assert spread["std"] > 0


def test_fewer_origins_with_a_warning_when_the_history_is_short():
    said = []
    panel = hourly_panel(24)
    result = bt.backtest(panel, horizon=24, models=("seasonal_naive",), progress=said.append)
    # two weeks of training stay before the first origin: 24 − 14 = 10 days to evaluate
    assert result["origins"] == (panel.length - bt.auto_min_train(panel)) // 24 == 10
    assert len(result["warnings"]) == 1 and "28" in result["warnings"][0]
    assert any(m.startswith("warning:") for m in said)
    # an explicit number is taken as asked when it fits
    assert bt.backtest(panel, horizon=24, origins=3, models=("seasonal_naive",))["origins"] == 3


def errors(shape, sigma, seed):
    return np.random.default_rng(seed).normal(0, sigma, shape)


def test_diebold_mariano_on_constructed_cases():
    shape = (28, 1, 24)  # origins, series, steps
    e = errors(shape, 1.0, 1)
    same = bt.diebold_mariano(e, e.copy(), 24)
    assert same["p_value"] == 1.0 and not same["significant"] and same["statistic"] == 0.0
    assert same["n"] == 28 * 24 and same["lags"] == 23

    worse = bt.diebold_mariano(e, errors(shape, 2.0, 2), 24)  # a clearly better model
    assert worse["significant"] and worse["p_value"] < 0.01
    assert worse["mean_loss_diff"] < 0 and worse["statistic"] < 0
    reverse = bt.diebold_mariano(errors(shape, 2.0, 2), e, 24)
    assert reverse["statistic"] == pytest.approx(-worse["statistic"])

    alike = bt.diebold_mariano(e, errors(shape, 1.0, 3), 24)  # equally good, different errors
    assert not alike["significant"] and alike["p_value"] > 0.05


def test_dm_long_run_variance_counts_errors_shared_within_a_day():
    # errors that move together within each day (a daily level error): the HAC variance must see
    # the dependence, so a small gap is not called significant as if 672 steps were independent
    rng = np.random.default_rng(4)
    day_a = rng.normal(0, 1, (28, 1, 1)) + rng.normal(0, 0.1, (28, 1, 24))
    day_b = 1.05 * (rng.normal(0, 1, (28, 1, 1)) + rng.normal(0, 0.1, (28, 1, 24)))
    with_lags = bt.diebold_mariano(day_a, day_b, 24)
    without = bt.diebold_mariano(day_a, day_b, 1)
    assert with_lags["p_value"] > without["p_value"]


def test_choice_prefers_the_simpler_model_when_the_difference_is_not_significant():
    shape = (28, 1, 24)
    base = errors(shape, 1.0, 5)
    close = errors(shape, 1.0, 6) * 0.98  # a hair better on average, not significantly
    far = errors(shape, 3.0, 7)

    def rmse(e):
        return np.sqrt((e.reshape(28, -1) ** 2).mean(axis=1))

    tie = {"seasonal_naive": far, "statistical": base, "global_gbm": close}
    choice = bt.choose({k: rmse(v) for k, v in tie.items()}, tie, 24)
    assert choice["lowest_rmse"] == "global_gbm" and choice["runner_up"] == "statistical"
    assert choice["model"] == "statistical"  # simpler, not significantly worse
    assert not choice["significance"]["significant"]
    assert "not significantly different" in choice["note"] and "statistical is chosen" in choice["note"]
    assert choice["dm_vs_best"]["seasonal_naive"]["significant"]

    clear = {"seasonal_naive": far, "statistical": errors(shape, 2.0, 8), "global_gbm": base}
    choice = bt.choose({k: rmse(v) for k, v in clear.items()}, clear, 24)
    assert choice["model"] == choice["lowest_rmse"] == "global_gbm"
    assert choice["significance"]["significant"] and "significantly better" in choice["note"]


def test_backtest_output_has_the_choice_and_significance():
    result = bt.backtest(hourly_panel(45, seed=2), horizon=24, models=("seasonal_naive", "statistical"))
    assert result["best"] == result["choice"]["model"] in ("seasonal_naive", "statistical")
    sig = result["significance"]
    assert {sig["best"], sig["runner_up"]} == {"seasonal_naive", "statistical"}
    assert 0.0 <= sig["p_value"] <= 1.0 and sig["lags"] == 23 and sig["n"] == result["origins"] * 24
    assert result["choice"]["rule"] == bt.RULE
