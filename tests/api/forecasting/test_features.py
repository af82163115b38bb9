"""Calendar features on the Asia/Shanghai clock (holidays, 调休), lags that never see the future."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from api.core import time as core_time
from api.forecasting import features
from api.forecasting.features import (
    Panel,
    calendar_features,
    class_one_hot,
    day_info,
    degree_terms,
    grid_calendar,
    lag,
    local_times,
    origin_features,
    rolling_mean,
    rolling_std,
    series_features,
)


def utc_hours(first: str, n: int) -> np.ndarray:
    return np.datetime64(first, "s") + np.timedelta64(3600, "s") * np.arange(n)


def local_noon_utc(day: date) -> np.datetime64:
    """12:00 Asia/Shanghai of a date, as a UTC instant."""
    return np.datetime64(f"{day.isoformat()}T04:00:00", "s")


def flags(days: list[date]) -> list[tuple[float, float, float]]:
    cal = calendar_features(np.array([local_noon_utc(d) for d in days]))
    return list(zip(cal["is_holiday"], cal["is_workday"], cal["is_spring_festival"]))


def test_spring_festival_2026_is_nine_holidays_with_two_working_saturdays():
    festival = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # 2月15日—23日
    assert flags(festival) == [(1.0, 0.0, 1.0)] * 9
    # 调休: Saturday 14 February and Saturday 28 February are working days, not holidays
    assert date(2026, 2, 14).weekday() == 5 and date(2026, 2, 28).weekday() == 5
    assert flags([date(2026, 2, 14), date(2026, 2, 28)]) == [(0.0, 1.0, 0.0)] * 2
    # the day after the festival is an ordinary working Tuesday
    assert flags([date(2026, 2, 24)]) == [(0.0, 1.0, 0.0)]


def test_national_day_2026_and_its_working_weekend_days():
    golden_week = [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]
    assert [f[:2] for f in flags(golden_week)] == [(1.0, 0.0)] * 7
    assert not any(f[2] for f in flags(golden_week))  # not the Spring Festival
    # Sunday 20 September and Saturday 10 October are working days; Sunday 11 October is rest
    assert flags([date(2026, 9, 20), date(2026, 10, 10)]) == [(0.0, 1.0, 0.0)] * 2
    assert flags([date(2026, 10, 11)]) == [(0.0, 0.0, 0.0)]


def test_day_of_week_and_hour_follow_shanghai_across_utc_midnight():
    # 15:00 UTC on Sunday 1 March is 23:00 Sunday in Shanghai; 16:00 UTC is 00:00 Monday 2 March
    cal = calendar_features(np.array(["2026-03-01T15:00:00", "2026-03-01T16:00:00"], dtype="datetime64[s]"))
    assert cal["hour"].tolist() == [23, 0]
    assert cal["dow"].tolist() == [6, 0]
    assert cal["local_day"].astype(str).tolist() == ["2026-03-01", "2026-03-02"]
    assert cal["is_workday"].tolist() == [0.0, 1.0]
    # a UTC day splits into two local days: 00:00–15:00 UTC belong to the local day
    hours = calendar_features(utc_hours("2026-06-30T00:00:00", 24))["hour"]
    assert hours.tolist() == list(range(8, 24)) + list(range(0, 8))


def test_aware_datetimes_and_local_times_agree():
    aware = [datetime(2026, 11, 25, 20, 30, tzinfo=timezone.utc)]
    local = local_times(features.to_utc64(aware))
    assert str(local[0]) == "2026-11-26T04:30:00"


def test_no_daylight_saving_shift_in_shanghai():
    # a whole year hour by hour: every local day has 24 hours and the clock never jumps or repeats,
    # also around the dates when Europe and America change their clocks
    times = utc_hours("2025-12-31T16:00:00", 365 * 24)
    cal = calendar_features(times)
    assert np.array_equal(cal["hour"], np.tile(np.arange(24), 365))
    offsets = (local_times(times) - times).astype(np.int64)
    assert set(offsets.tolist()) == {8 * 3600}
    for spring_forward in ("2026-03-08T10:00:00", "2026-03-29T01:00:00", "2026-11-01T06:00:00"):
        around = calendar_features(utc_hours(spring_forward, 4))["hour"]
        assert np.all(np.diff(around) % 24 == 1)


def test_years_without_a_holiday_table_fall_back_to_monday_to_friday(caplog):
    core_time._warned_years.discard(2031)
    day_info.cache_clear()
    with caplog.at_level(logging.WARNING, logger="api.core.time"):
        # 2031-01-01 is a Wednesday (New Year's Day in reality): unknown, so a plain working day
        week = [date(2031, 1, 1) + timedelta(days=i) for i in range(7)]
        assert [day_info(d).is_workday for d in week] == [True, True, True, False, False, True, True]
        assert not any(day_info(d).is_holiday for d in week)
        calendar_features(np.array([local_noon_utc(d) for d in week]))
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not once per day


def test_lags_and_rolling_windows_use_only_the_past():
    y = np.arange(400, dtype=float)
    assert np.isnan(lag(y, 24)[:24]).all()
    assert lag(y, 24)[24:].tolist() == y[:-24].tolist()
    mean = rolling_mean(y, 24, shift=24)
    assert mean[47] == pytest.approx(np.mean(y[0:24]))
    assert rolling_std(y, 3, shift=1)[3] == pytest.approx(np.std(y[0:3]))
    with pytest.raises(ValueError):
        rolling_mean(y, 24, shift=0)
    # changing the present and the future never changes a feature of step t
    t = 300
    changed = y.copy()
    changed[t:] = -1000.0
    times = utc_hours("2026-09-01T00:00:00", len(y))
    before = series_features(times, y, temperature=np.full(len(y), 10.0), customer_class="居民")
    after = series_features(times, changed, temperature=np.full(len(y), 10.0), customer_class="居民")
    for name in before:
        np.testing.assert_array_equal(before[name][: t + 1], after[name][: t + 1], err_msg=name)
    assert before["class_居民"][0] == 1.0 and before["hdd"][0] == 4.0


def test_origin_features_do_not_peek_past_the_origin():
    rng = np.random.default_rng(3)
    T = 24 * 40
    times = utc_hours("2026-08-20T16:00:00", T)
    y = 10 + 5 * np.sin(np.arange(T) * 2 * np.pi / 24) + rng.normal(0, 1, (3, T))
    temp = 20 + rng.normal(0, 3, (3, T + 48))
    panel = Panel(keys=["a", "b", "c"], times=times, y=y, temperature=temp, classes=["居民", "大工业", None])
    origin = T - 60
    s = np.repeat(np.arange(3), 48)
    k = np.tile(np.arange(1, 49), 3)
    o = np.full(len(s), origin)
    cal = grid_calendar(panel, 48)
    rows = origin_features(panel, s, o, k, calendar=cal, temperature=temp, use_classes=True)
    future = y.copy()
    future[:, origin + 1:] = 1e6  # anything after the origin
    rows2 = origin_features(Panel(keys=["a", "b", "c"], times=times, y=future, temperature=temp,
                                  classes=["居民", "大工业", None]), s, o, k, calendar=cal,
                            temperature=temp, use_classes=True)
    np.testing.assert_array_equal(rows.X, rows2.X)
    np.testing.assert_array_equal(rows.base, rows2.base)
    # the target is the value at origin + k, relative to the series' last week
    assert rows.target[0] == pytest.approx(y[0, origin + 1] / rows.scale[0])
    assert rows.scale[0] == pytest.approx(np.mean(y[0, origin - 167: origin + 1]))
    names = rows.names
    # horizon 1 uses lag 24, horizon 30 lag 48: the same hour of the latest day already known
    assert rows.X[0, names.index("lag_day1")] == pytest.approx(y[0, origin + 1 - 24] / rows.scale[0], rel=1e-6)
    assert rows.X[29, names.index("lag_day1")] == pytest.approx(y[0, origin + 30 - 48] / rows.scale[0], rel=1e-6)
    assert rows.X[0, names.index("lag_week1")] == pytest.approx(y[0, origin + 1 - 168] / rows.scale[0], rel=1e-6)
    assert rows.X[48, names.index("class_大工业")] == 1.0
    assert rows.X[0, names.index("temperature")] == pytest.approx(temp[0, origin + 1], rel=1e-6)


def test_weather_and_class_terms():
    hdd, cdd = degree_terms(np.array([-6.0, 14.0, 20.0, 30.0]))
    assert hdd.tolist() == [20.0, 0.0, 0.0, 0.0]
    assert cdd.tolist() == [0.0, 0.0, 0.0, 6.0]
    onehot = class_one_hot(["居民", "一般工商业", "大工业", "其他", None])
    assert onehot.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
