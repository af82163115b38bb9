"""--timezone: naive times read on the series' own clock, its calendar and holidays (never China's
outside China), origins shown in that zone."""
from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from api.forecasting import backtest as bt
from api.forecasting.features import calendar_features, holiday_calendar, local_times
from tests.api.forecasting.test_backtest_cli import run_cli


def ny_frame(days: int, start: str = "2026-06-01 00:00", seed: int = 0) -> pd.DataFrame:
    """Hourly load on the New York wall clock (no zone written), peaking in the local afternoon."""
    rng = np.random.default_rng(seed)
    local = pd.date_range(start, periods=days * 24, freq="h")
    hour = local.hour.to_numpy()
    mw = 30_000 * (1 + 0.3 * np.sin(2 * np.pi * (hour - 9) / 24)) * rng.lognormal(0, 0.03, len(local))
    return pd.DataFrame({"Datetime": local.strftime("%d-%m-%Y %H:%M"), "MW": mw.round(1)})


def utc_of(panel, i: int) -> str:
    return str(panel.times[i])


def test_naive_times_are_read_on_the_new_york_clock(tmp_path):
    csv = tmp_path / "ny.csv"
    frame = ny_frame(3, start="2026-01-15 00:00")
    frame.to_csv(csv, index=False)
    panel = bt.panel_from_csv(str(csv), time_col="Datetime", target_col="MW", freq="h",
                              timezone="America/New_York", dayfirst=True)
    assert panel.tz == "America/New_York"
    assert utc_of(panel, 0) == "2026-01-15T05:00:00"  # EST: UTC−5
    shanghai = bt.panel_from_csv(str(csv), time_col="Datetime", target_col="MW", freq="h", dayfirst=True)
    assert utc_of(shanghai, 0) == "2026-01-14T16:00:00"  # the default zone: UTC+8
    summer = tmp_path / "summer.csv"
    ny_frame(2, start="2026-07-01 00:00").to_csv(summer, index=False)
    panel = bt.panel_from_csv(str(summer), time_col="Datetime", target_col="MW", freq="h",
                              timezone="America/New_York", dayfirst=True)
    assert utc_of(panel, 0) == "2026-07-01T04:00:00"  # EDT: UTC−4
    # the local clock of those instants is the New York wall clock again, midnight first
    assert calendar_features(panel.times, panel.tz)["hour"][:3].tolist() == [0, 1, 2]


def test_the_hour_repeated_when_the_clocks_go_back_is_two_instants(tmp_path):
    # 1 November 2026, New York: 01:00–01:59 happens twice (EDT, then EST); rows in file order
    rows = [("01-11-2026 00:00", 10.0), ("01-11-2026 01:00", 11.0), ("01-11-2026 01:00", 12.0),
            ("01-11-2026 02:00", 13.0), ("01-11-2026 03:00", 14.0)]
    csv = tmp_path / "fall_back.csv"
    pd.DataFrame(rows, columns=["Datetime", "MW"]).to_csv(csv, index=False)
    panel = bt.panel_from_csv(str(csv), time_col="Datetime", target_col="MW", freq="h",
                              timezone="America/New_York", dayfirst=True)
    assert [str(t) for t in panel.times] == ["2026-11-01T04:00:00", "2026-11-01T05:00:00", "2026-11-01T06:00:00",
                                             "2026-11-01T07:00:00", "2026-11-01T08:00:00"]
    assert panel.y[0].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    local = local_times(panel.times, panel.tz).astype(str).tolist()
    assert local[1] == local[2] == "2026-11-01T01:00:00"


def test_chinese_holidays_are_not_applied_in_new_york():
    cal = holiday_calendar("America/New_York")
    assert cal.country == "US" and cal.source != "chinese_calendar"

    def noon_ny(d):  # 12:00 EDT
        return np.datetime64(f"{d.isoformat()}T16:00:00", "s")

    days = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 10)]  # National Day; a 调休 Saturday
    ny = calendar_features(np.array([noon_ny(d) for d in days]), "America/New_York")
    assert ny["is_holiday"].tolist() == [0.0, 0.0, 0.0]
    assert ny["is_workday"].tolist() == [1.0, 1.0, 0.0]  # Thursday, Friday work; Saturday rests
    assert not ny["is_spring_festival"].any()
    cn = calendar_features(np.array([np.datetime64(f"{d.isoformat()}T04:00:00", "s") for d in days]))
    assert cn["is_holiday"][:2].tolist() == [1.0, 1.0] and cn["is_workday"][2] == 1.0
    if cal.source == "holidays":  # US public holidays when the holidays package is installed
        july = calendar_features(np.array([noon_ny(date(2026, 7, 3))]), "America/New_York")
        assert july["is_holiday"][0] == 1.0 and july["is_workday"][0] == 0.0  # Independence Day observed
    # a zone without a country gets weekday and hour only
    utc = holiday_calendar("Etc/UTC")
    assert utc.source == "none" and "weekday and hour only" in utc.note


def test_cli_timezone_is_recorded_and_origins_are_on_that_clock(tmp_path):
    csv = tmp_path / "ny.csv"
    ny_frame(21).to_csv(csv, index=False)
    base = ["--csv", str(csv), "--time-col", "Datetime", "--target-col", "MW", "--freq", "H", "--horizon", "24",
            "--origins", "2", "--models", "statistical", "--dayfirst"]
    run = run_cli(*base, "--timezone", "America/New_York")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["input"]["timezone"] == "America/New_York" and result["timezone"] == "America/New_York"
    assert result["holidays"]["source"] in ("holidays", "none") and result["holidays"]["country"] == "US"
    assert result["origin_times"] == ["2026-06-20T00:00:00-04:00", "2026-06-21T00:00:00-04:00"]

    default = json.loads(run_cli(*base).stdout)
    assert default["input"]["timezone"] == "Asia/Shanghai" and default["holidays"]["source"] == "chinese_calendar"
    assert default["origin_times"][-1] == "2026-06-21T00:00:00+08:00"

    bad = run_cli(*base, "--timezone", "Mars/Olympus_Mons")
    assert bad.returncode == 2 and "Mars/Olympus_Mons" in bad.stderr


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Shanghai"])
def test_local_times_round_trip_every_hour_of_a_year(zone):
    times = np.datetime64("2026-01-01T00:00:00", "s") + np.timedelta64(3600, "s") * np.arange(365 * 24)
    local = local_times(times, zone)
    expected = pd.DatetimeIndex(times.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(zone).tz_localize(None)
    assert (local.astype("datetime64[s]") == expected.to_numpy().astype("datetime64[s]")).all()
