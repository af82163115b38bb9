"""`python -m api.forecasting backtest` on small CSVs written here: JSON shape, finite metrics, errors."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
METRICS = ("MAPE", "sMAPE", "RMSE", "MASE", "coverage_p10_p90")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.forecasting", "backtest", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def hourly_frame(days: int, *, seed: int, level: float = 20.0, noise: float = 0.08,
                 start: str = "2026-08-03 00:00") -> pd.DataFrame:
    """Local (Asia/Shanghai, no zone written) hourly load with daily and weekly shape, noise, weather."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=days * 24, freq="h")
    hour, dow = times.hour.to_numpy(), times.dayofweek.to_numpy()
    daily = 1 + 0.45 * np.sin(2 * np.pi * (hour - 9) / 24) + 0.15 * np.cos(4 * np.pi * hour / 24)
    weekly = np.where(dow >= 5, 0.75, 1.0)
    temp = 22 + 7 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 1, len(times))
    kw = level * daily * weekly * (1 + 0.01 * np.maximum(temp - 24, 0)) * rng.lognormal(0, noise, len(times))
    return pd.DataFrame({"时间": times.strftime("%Y-%m-%d %H:%M"), "kw": kw.round(3), "temp": temp.round(1)})


def check_result(result: dict, models=("seasonal_naive", "statistical", "global_gbm")) -> None:
    assert result["baseline"] == "seasonal_naive"
    assert set(result["models"]) == set(models)
    for name in models:
        for metric in METRICS:
            value = result["models"][name][metric]
            assert value is not None and math.isfinite(value), (name, metric, value)
        assert result["models"][name]["points"] > 0
    assert set(result["vs_baseline"]) == set(models) - {"seasonal_naive"}
    assert result["best"] in models and result["best"] == result["choice"]["model"]
    # the spread across origins and the significance of the best against the runner-up
    assert set(result["spread"]) == set(models)
    assert all(len(s["per_origin_RMSE"]) == result["origins"] for s in result["spread"].values())
    sig = result["significance"]
    assert sig["best"] == result["choice"]["lowest_rmse"] and sig["runner_up"] in models
    assert 0.0 <= sig["p_value"] <= 1.0 and isinstance(sig["significant"], bool)


def test_one_series_with_and_without_weather(tmp_path):
    csv = tmp_path / "one.csv"
    hourly_frame(24, seed=1).to_csv(csv, index=False)
    base = ["--csv", str(csv), "--time-col", "时间", "--target-col", "kw", "--freq", "H", "--horizon", "24",
            "--origins", "3"]
    plain = run_cli(*base)
    assert plain.returncode == 0, plain.stderr
    result = json.loads(plain.stdout)
    check_result(result)
    assert result["series"] == 1 and result["horizon"] == 24 and result["origins"] == 3
    assert result["weather"] is False
    # origins are the last three days, shown on the Shanghai clock
    assert result["origin_times"][-1] == "2026-08-26T00:00:00+08:00"

    weather = run_cli(*base, "--weather-col", "temp")
    assert weather.returncode == 0, weather.stderr
    result = json.loads(weather.stdout)
    check_result(result)
    assert result["weather"] is True and result["input"]["weather_col"] == "temp"


def test_several_series_in_one_file(tmp_path):
    frames = []
    for i, level in enumerate((5.0, 40.0, 300.0)):
        frame = hourly_frame(22, seed=10 + i, level=level)
        frame.insert(0, "台区", f"TA05{i:02d}")
        frames.append(frame)
    csv = tmp_path / "many.csv"
    pd.concat(frames).sample(frac=1.0, random_state=1).to_csv(csv, index=False)  # rows in any order
    args = ["--csv", str(csv), "--time-col", "时间", "--target-col", "kw", "--series-col", "台区",
            "--freq", "h", "--horizon", "24", "--origins", "2"]
    for extra in ([], ["--weather-col", "temp"]):
        run = run_cli(*args, *extra)
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        check_result(result)
        assert result["series"] == 3
        assert result["observations"] == 3 * 22 * 24


def test_models_beat_seasonal_naive_on_a_seasonal_series(tmp_path):
    # clean daily and weekly shape under 10 % noise: averaging days beats copying one day
    csv = tmp_path / "seasonal.csv"
    hourly_frame(35, seed=5, noise=0.10).to_csv(csv, index=False)
    run = run_cli("--csv", str(csv), "--time-col", "时间", "--target-col", "kw", "--weather-col", "temp",
                  "--freq", "H", "--horizon", "24", "--origins", "4")
    assert run.returncode == 0, run.stderr
    models = json.loads(run.stdout)["models"]
    naive = models["seasonal_naive"]
    for name in ("statistical", "global_gbm"):
        assert models[name]["MAPE"] <= naive["MAPE"], (name, models[name]["MAPE"], naive["MAPE"])
        assert models[name]["MASE"] <= naive["MASE"]
    # the global model's 80 % interval covers roughly 80 %
    assert 0.6 <= models["global_gbm"]["coverage_p10_p90"] <= 0.97


def test_daily_frequency_and_a_model_subset(tmp_path):
    rng = np.random.default_rng(2)
    days = pd.date_range("2026-01-05", periods=120, freq="D")
    kwh = 500 * np.where(days.dayofweek >= 5, 0.8, 1.0) * rng.lognormal(0, 0.05, len(days))
    csv = tmp_path / "daily.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "kwh": kwh}).to_csv(csv, index=False)
    run = run_cli("--csv", str(csv), "--time-col", "date", "--target-col", "kwh", "--freq", "D",
                  "--horizon", "7", "--origins", "3", "--models", "statistical")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    check_result(result, models=("seasonal_naive", "statistical"))
    assert result["input"]["freq"] == "D"
    assert result["models"]["statistical"]["points"] == 21


def test_default_origins_are_auto_with_a_warning_when_the_history_is_short(tmp_path):
    csv = tmp_path / "short.csv"
    hourly_frame(20, seed=3).to_csv(csv, index=False)
    run = run_cli("--csv", str(csv), "--time-col", "时间", "--target-col", "kw", "--freq", "H", "--horizon", "24",
                  "--models", "seasonal_naive")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["origins"] == 6  # 20 days − 14 of training
    assert "28" in result["warnings"][0] and "warning: history allows 6 origin(s)" in run.stderr


def test_bad_column_is_exit_2_with_a_clear_message(tmp_path):
    csv = tmp_path / "one.csv"
    hourly_frame(10, seed=1).to_csv(csv, index=False)
    run = run_cli("--csv", str(csv), "--time-col", "时间", "--target-col", "load_kw", "--freq", "H",
                  "--horizon", "24")
    assert run.returncode == 2
    assert "列不存在" in run.stderr and "column not found" in run.stderr and "load_kw" in run.stderr
    assert "kw" in run.stderr  # the columns that do exist are listed
    assert run.stdout == ""


def test_unparseable_times_too_short_data_and_bad_frequency_are_exit_2(tmp_path):
    frame = hourly_frame(10, seed=1)
    frame.loc[5, "时间"] = "昨天下午"
    bad_time = tmp_path / "bad_time.csv"
    frame.to_csv(bad_time, index=False)
    run = run_cli("--csv", str(bad_time), "--time-col", "时间", "--target-col", "kw", "--freq", "H",
                  "--horizon", "24")
    assert run.returncode == 2 and "昨天下午" in run.stderr and "time column" in run.stderr

    short = tmp_path / "short.csv"
    hourly_frame(2, seed=1).to_csv(short, index=False)
    run = run_cli("--csv", str(short), "--time-col", "时间", "--target-col", "kw", "--freq", "H",
                  "--horizon", "24")
    assert run.returncode == 2 and "too short" in run.stderr

    run = run_cli("--csv", str(short), "--time-col", "时间", "--target-col", "kw", "--freq", "fortnightly",
                  "--horizon", "24")
    assert run.returncode == 2 and "frequency" in run.stderr
