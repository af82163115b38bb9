"""Feature building for load forecasts: local calendar, lags, rolling statistics, weather, class.

Times are UTC instants (numpy datetime64[s] without a zone, meaning UTC); every calendar feature
is taken on the wall clock of the series' zone: Asia/Shanghai unless a panel says otherwise
(`Panel.tz`, the backtest's --timezone). Shanghai has had no daylight saving since 1991, so its
local day always has 24 hours; zones with daylight saving get 23- and 25-hour days and the local
hour follows the clock change. Holidays follow the zone's country (`holiday_calendar`): in China
the statutory holidays and adjusted working days (调休) come from chinese_calendar (for years it
has no table for yet, 1.11 stops at 2026, Monday–Friday count as working days and a warning is
logged once per year); elsewhere the public holidays of the `holidays` package when it is
installed, else none (weekday and hour only). The Chinese calendar is never applied outside China.

Two shapes of features live here:
- per-series tables (`calendar_features`, `lag`, `rolling_mean`, …) for any model or analysis;
- `origin_features`, the rows of the global model: for a forecast made at origin `o` (the last
  observed step) for target `t = o + k`, every value comes from steps ≤ o, so nothing peeks at
  the future whatever the horizon.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from api.core.time import LOCAL_TZ, day_info
from api.core.vocabulary import CUSTOMER_CLASSES

log = logging.getLogger(__name__)

DEFAULT_TZ = LOCAL_TZ.key  # "Asia/Shanghai": the zone of every series unless a panel names another
HEATING_BASE_C = 14.0  # below this the load grows with the cold (electric heating)
COOLING_BASE_C = 24.0  # above this it grows with the heat (air conditioning)
SECOND = np.timedelta64(1, "s")


# ------------------------------------------------------------------------------ calendar

def to_utc64(times) -> np.ndarray:
    """UTC instants as datetime64[s]; aware datetimes are converted, naive ones are taken as UTC."""
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        return times.astype("datetime64[s]")
    out = []
    for t in times:
        if isinstance(t, datetime) and t.tzinfo is not None:
            t = t.astimezone(timezone.utc).replace(tzinfo=None)
        out.append(np.datetime64(t, "s"))
    return np.array(out, dtype="datetime64[s]")


@lru_cache(maxsize=64)
def zone(tz: str | None = None) -> ZoneInfo:
    """The ZoneInfo of an IANA name (default Asia/Shanghai); ValueError for an unknown name."""
    name = tz or DEFAULT_TZ
    if name == DEFAULT_TZ:
        return LOCAL_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai or "
                         "America/New_York)") from None


def _offset(epoch_seconds: int, tz: ZoneInfo) -> int:
    return int(datetime.fromtimestamp(epoch_seconds, timezone.utc).astimezone(tz).utcoffset().total_seconds())


def local_times(times_utc: np.ndarray, tz: str | None = None) -> np.ndarray:
    """The wall clock (datetime64[s]) of UTC instants in zone `tz` (default Asia/Shanghai).

    The zone's offset is looked up at both ends of each UTC day and, where they differ (a clock
    change), for every instant of that day; Shanghai's never do, but nothing assumes it.
    """
    info = zone(tz)
    times_utc = to_utc64(times_utc)
    seconds = times_utc.astype(np.int64)
    days, inverse = np.unique(seconds // 86400, return_inverse=True)
    inverse = inverse.reshape(-1)
    starts = [_offset(int(d) * 86400, info) for d in days]
    ends = [_offset(int(d) * 86400 + 86399, info) for d in days]
    offsets = np.array(starts, dtype=np.int64)[inverse]
    for i, (a, b) in enumerate(zip(starts, ends)):
        if a != b:
            for j in np.flatnonzero(inverse == i):
                offsets[j] = _offset(int(seconds[j]), info)
    return times_utc + offsets.astype("timedelta64[s]")


# ------------------------------------------------------------------------------ holidays per zone

CHINA = "CN"
# zones missing from zone.tab (old links) whose country is plain
_ZONE_ALIASES = {"PRC": "CN", "Asia/Chongqing": "CN", "Asia/Chungking": "CN", "Asia/Harbin": "CN",
                 "Asia/Kashgar": "CN", "US/": "US", "Canada/": "CA", "Australia/": "AU", "Brazil/": "BR",
                 "Mexico/": "MX", "Europe/London": "GB", "GB": "GB", "Japan": "JP", "ROK": "KR",
                 "Singapore": "SG", "Hongkong": "HK", "ROC": "TW"}


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO country code, from zone.tab of the tzdata package or the system."""
    places = []
    try:
        from importlib.resources import files

        places.append(Path(str(files("tzdata").joinpath("zoneinfo", "zone.tab"))))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    places.append(Path("/usr/share/zoneinfo/zone.tab"))
    for place in places:
        try:
            lines = place.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        out = {}
        for line in lines:
            if line and not line.startswith("#"):
                parts = line.split("\t")
                if len(parts) >= 3:
                    out[parts[2]] = parts[0]
        if out:
            return out
    return {}


def zone_country(tz: str | None) -> str | None:
    """The ISO country code of a zone (CN for Asia/Shanghai), None when the tz database does not say."""
    name = tz or DEFAULT_TZ
    if name in _ZONE_ALIASES:
        return _ZONE_ALIASES[name]
    found = _zone_countries().get(name)
    if found:
        return found
    for prefix, country in _ZONE_ALIASES.items():
        if prefix.endswith("/") and name.startswith(prefix):
            return country
    return None


@dataclass(frozen=True)
class HolidayCalendar:
    """Where a zone's holidays come from: `source` is chinese_calendar, holidays or none."""

    tz: str
    country: str | None
    source: str
    note: str

    def as_dict(self) -> dict:
        return {"timezone": self.tz, "country": self.country, "source": self.source, "note": self.note}


def _holidays_module():
    try:
        import holidays
    except ImportError:
        return None
    return holidays


@lru_cache(maxsize=32)
def holiday_calendar(tz: str | None = None) -> HolidayCalendar:
    """The holiday calendar of a zone's country: chinese_calendar in China, the `holidays` package
    elsewhere when installed and it knows the country, else none (weekday and hour only)."""
    name = tz or DEFAULT_TZ
    zone(name)
    country = zone_country(name)
    if country == CHINA:
        return HolidayCalendar(name, country, "chinese_calendar",
                               "Chinese statutory holidays and adjusted working days (调休), chinese_calendar")
    module = _holidays_module()
    if country is None:
        return HolidayCalendar(name, None, "none", f"no country known for {name}: no holidays, "
                               "weekday and hour only")
    if module is None:
        return HolidayCalendar(name, country, "none", f"the holidays package is not installed: no {country} "
                               "holidays, weekday and hour only")
    try:
        module.country_holidays(country, years=[2020])
    except NotImplementedError:
        return HolidayCalendar(name, country, "none", f"the holidays package has no calendar for {country}: "
                               "weekday and hour only")
    version = getattr(module, "__version__", "")
    return HolidayCalendar(name, country, "holidays", f"{country} public holidays, holidays {version}".strip())


@lru_cache(maxsize=64)
def _foreign_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(_holidays_module().country_holidays(country, years=[year]).keys())


def _day_flags(days: np.ndarray, calendar: HolidayCalendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(workday, holiday, spring festival) flags of unique local dates."""
    if calendar.source == "chinese_calendar":
        info = [day_info(d.astype(object)) for d in days]
        return (np.array([i.is_workday for i in info], dtype=np.float64),
                np.array([i.is_holiday for i in info], dtype=np.float64),
                np.array([i.is_spring_festival for i in info], dtype=np.float64))
    weekday = ((days.astype("datetime64[D]").astype(np.int64) + 3) % 7) < 5
    holiday = np.zeros(len(days), dtype=bool)
    if calendar.source == "holidays":
        as_dates = [d.astype(object) for d in days]
        holiday = np.array([d in _foreign_holidays(calendar.country, d.year) for d in as_dates], dtype=bool)
    return ((weekday & ~holiday).astype(np.float64), holiday.astype(np.float64), np.zeros(len(days)))


def calendar_features(times_utc: np.ndarray, tz: str | None = None) -> dict[str, np.ndarray]:
    """Local hour, day of week (Mon=0), day of year, work/holiday flags, for each UTC instant, on
    the clock and holiday calendar of zone `tz` (default Asia/Shanghai)."""
    times_utc = to_utc64(times_utc)
    name = tz or DEFAULT_TZ
    if len(times_utc) > 2:
        steps = np.diff(times_utc.astype(np.int64))
        if np.all(steps == steps[0]):  # a regular grid: the same grid comes back often (cache it)
            return _grid_calendar(int(times_utc[0].astype(np.int64)), len(times_utc), int(steps[0]), name)
    return _calendar(times_utc, name)


@lru_cache(maxsize=64)
def _grid_calendar(start: int, n: int, step: int, tz: str = DEFAULT_TZ) -> dict[str, np.ndarray]:
    times = (start + step * np.arange(n, dtype=np.int64)).astype("datetime64[s]")
    out = _calendar(times, tz)
    for array in out.values():
        array.flags.writeable = False  # shared between callers
    return out


def _calendar(times_utc: np.ndarray, tz: str = DEFAULT_TZ) -> dict[str, np.ndarray]:
    local = local_times(times_utc, tz)
    days = local.astype("datetime64[D]")
    hour = ((local - days).astype("timedelta64[s]").astype(np.int64) // 3600).astype(np.int64)
    dow = ((days.astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    unique, inverse = np.unique(days, return_inverse=True)
    inverse = inverse.reshape(-1)
    work_u, holiday_u, spring_u = _day_flags(unique, holiday_calendar(tz))
    workday, holiday, spring = work_u[inverse], holiday_u[inverse], spring_u[inverse]
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    return {"hour": hour, "dow": dow, "doy": doy, "is_workday": workday, "is_holiday": holiday,
            "is_spring_festival": spring, "local_day": days}


# ------------------------------------------------------------------------------ per-series tables

def lag(y: np.ndarray, k: int) -> np.ndarray:
    """y shifted k steps later: lag(y, k)[t] = y[t - k] (NaN where t - k < 0)."""
    out = np.full(len(y), np.nan)
    if k < len(y):
        out[k:] = y[: len(y) - k]
    return out


def rolling_mean(y: np.ndarray, window: int, shift: int = 1) -> np.ndarray:
    """Mean of y[t-shift-window+1 .. t-shift] ignoring NaN (NaN without any value); shift ≥ 1 keeps y[t] out."""
    return _rolling(y, window, shift)[0]


def rolling_std(y: np.ndarray, window: int, shift: int = 1) -> np.ndarray:
    """Population standard deviation over the same window as rolling_mean."""
    return _rolling(y, window, shift)[1]


def _rolling(y: np.ndarray, window: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    if shift < 1:
        raise ValueError("shift must be ≥ 1: a feature of step t may not see y[t]")
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    ok = ~np.isnan(y)
    v = np.where(ok, y, 0.0)
    c1 = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v * v)])
    cn = np.concatenate([[0], np.cumsum(ok)])
    end = np.arange(n) - shift + 1  # exclusive end index into the prefix sums
    start = np.clip(end - window, 0, None)
    end = np.clip(end, 0, None)
    cnt = cn[end] - cn[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[end] - c1[start]) / cnt
        var = np.maximum((c2[end] - c2[start]) / cnt - mean * mean, 0.0)
    mean[cnt == 0] = np.nan
    var[cnt == 0] = np.nan
    return mean, np.sqrt(var)


def degree_terms(temperature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heating and cooling degrees (°C below 14 / above 24) of each temperature."""
    t = np.asarray(temperature, dtype=np.float64)
    return np.maximum(HEATING_BASE_C - t, 0.0), np.maximum(t - COOLING_BASE_C, 0.0)


def class_one_hot(classes: list[str | None]) -> np.ndarray:
    """(n, 3) one-hot of 居民 / 一般工商业 / 大工业 (all zero for anything else or unknown)."""
    out = np.zeros((len(classes), len(CUSTOMER_CLASSES)))
    for i, c in enumerate(classes):
        if c in CUSTOMER_CLASSES:
            out[i, CUSTOMER_CLASSES.index(c)] = 1.0
    return out


def series_features(times_utc: np.ndarray, y: np.ndarray, temperature: np.ndarray | None = None,
                    customer_class: str | None = None, per_day: int = 24) -> dict[str, np.ndarray]:
    """Classic one-step table for one hourly series: calendar, lags 24/48/168, rolling stats, weather."""
    feats: dict[str, np.ndarray] = {k: v.astype(np.float64) for k, v in calendar_features(times_utc).items()
                                    if k != "local_day"}
    for k in (per_day, 2 * per_day, 7 * per_day):
        feats[f"lag_{k}"] = lag(y, k)
    for window in (per_day, 7 * per_day):
        feats[f"mean_{window}"] = rolling_mean(y, window, shift=per_day)
        feats[f"std_{window}"] = rolling_std(y, window, shift=per_day)
    if temperature is not None:
        feats["temperature"] = np.asarray(temperature, dtype=np.float64)
        feats["hdd"], feats["cdd"] = degree_terms(temperature)
    onehot = class_one_hot([customer_class])[0]
    for name, value in zip(CUSTOMER_CLASSES, onehot):
        feats[f"class_{name}"] = np.full(len(y), value)
    return feats


# ------------------------------------------------------------------------------ panels

@dataclass
class Panel:
    """Many series on one regular time grid: y is (S, T), NaN where a value is missing.

    `times` are the UTC instants of the grid; `step` its spacing (None for calendar frequencies
    such as months, where `freq` names a pandas offset). `temperature`, when given, may run past
    the grid (S, T + H) to carry the weather of the forecast horizon. `tz` is the zone of its wall
    clock and holiday calendar (Asia/Shanghai unless the data comes from elsewhere).
    """

    keys: list[str]
    times: np.ndarray
    y: np.ndarray
    temperature: np.ndarray | None = None
    classes: list[str | None] | None = None
    freq: str = "h"
    step: np.timedelta64 | None = field(default=None)
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        self.times = to_utc64(self.times)
        self.y = np.asarray(self.y, dtype=np.float64)
        if self.y.ndim == 1:
            self.y = self.y[None, :]
        if self.y.shape != (len(self.keys), len(self.times)):
            raise ValueError(f"y is {self.y.shape}, expected {(len(self.keys), len(self.times))}")
        if self.temperature is not None:
            self.temperature = np.asarray(self.temperature, dtype=np.float64)
            if self.temperature.ndim == 1:
                self.temperature = self.temperature[None, :]
        if self.step is None and len(self.times) > 1:
            diffs = np.diff(self.times)
            if np.all(diffs == diffs[0]):
                self.step = diffs[0].astype("timedelta64[s]")

    @property
    def n_series(self) -> int:
        return self.y.shape[0]

    @property
    def length(self) -> int:
        return self.y.shape[1]

    @property
    def per_day(self) -> int:
        """Steps per day for sub-daily grids (24 hourly, 96 quarter-hourly), else 1."""
        if self.step is None:
            return 1
        seconds = int(self.step / SECOND)
        return 86400 // seconds if 0 < seconds < 86400 and 86400 % seconds == 0 else 1

    @property
    def season_long(self) -> int:
        """The weekly season in steps (168 hourly, 7 daily); 52 weekly, 12 monthly, else 1."""
        if self.per_day > 1:
            return 7 * self.per_day
        seconds = self.typical_seconds
        if seconds is None:
            return 1
        if seconds == 86400:
            return 7
        if 6 * 86400 <= seconds <= 8 * 86400:
            return 52
        if 27 * 86400 <= seconds <= 32 * 86400:
            return 12
        if 88 * 86400 <= seconds <= 93 * 86400:
            return 4
        return 1

    @property
    def typical_seconds(self) -> int | None:
        """The grid's spacing in seconds (the median one for calendar frequencies)."""
        if self.step is not None:
            return int(self.step / SECOND)
        if len(self.times) < 2:
            return None
        return int(np.median(np.diff(self.times).astype("timedelta64[s]").astype(np.int64)))

    @property
    def season_short(self) -> int:
        """The daily season in steps (24 hourly): seasonal naive's fallback; 1 when coarser."""
        return self.per_day

    @property
    def mase_season(self) -> int:
        """Season of MASE's in-sample naive scale: 24 hourly, 7 daily (the daily/weekly cycle)."""
        return self.per_day if self.per_day > 1 else self.season_long

    def future_times(self, horizon: int) -> np.ndarray:
        """The next `horizon` instants of the grid."""
        if self.step is not None:
            return self.times[-1] + self.step * np.arange(1, horizon + 1)
        import pandas as pd

        last = pd.Timestamp(self.times[-1]).tz_localize("UTC").tz_convert(zone(self.tz))
        future = pd.date_range(last, periods=horizon + 1, freq=self.freq)[1:]
        return future.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")

    def head(self, end: int) -> Panel:
        """The panel cut after step `end` (exclusive): what was known at that origin."""
        temp = None if self.temperature is None else self.temperature
        return Panel(keys=self.keys, times=self.times[:end], y=self.y[:, :end], temperature=temp,
                     classes=self.classes, freq=self.freq, step=self.step, tz=self.tz)

    def subset(self, rows: np.ndarray | list[int]) -> Panel:
        """Only the given series."""
        rows = np.asarray(rows, dtype=np.int64)
        return Panel(keys=[self.keys[i] for i in rows], times=self.times, y=self.y[rows],
                     temperature=None if self.temperature is None else self.temperature[rows],
                     classes=None if self.classes is None else [self.classes[i] for i in rows],
                     freq=self.freq, step=self.step, tz=self.tz)


def grid_calendar(panel: Panel, horizon: int) -> dict[str, np.ndarray]:
    """Calendar features over the panel's grid plus `horizon` future steps."""
    times = np.concatenate([panel.times, panel.future_times(horizon)]) if horizon else panel.times
    return calendar_features(times, panel.tz)


def temperature_on_grid(panel: Panel, horizon: int) -> np.ndarray | None:
    """(S, T + horizon) temperatures: the panel's, padded with NaN where the future is unknown."""
    if panel.temperature is None:
        return None
    need = panel.length + horizon
    t = panel.temperature[:, :need]
    if t.shape[1] < need:
        t = np.concatenate([t, np.full((t.shape[0], need - t.shape[1]), np.nan)], axis=1)
    return t


# ------------------------------------------------------------------------------ global-model rows

class _Prefix:
    """NaN-aware prefix sums of the rows of a matrix, for O(1) window means and deviations."""

    def __init__(self, y: np.ndarray):
        ok = ~np.isnan(y)
        v = np.where(ok, y, 0.0)
        zeros = np.zeros((y.shape[0], 1))
        self.s1 = np.concatenate([zeros, np.cumsum(v, axis=1)], axis=1)
        self.s2 = np.concatenate([zeros, np.cumsum(v * v, axis=1)], axis=1)
        self.n = np.concatenate([zeros, np.cumsum(ok, axis=1)], axis=1)

    def mean_std(self, s: np.ndarray, last: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and deviation of y[s, last-length+1 .. last] (NaN where nothing is there)."""
        hi = np.clip(last + 1, 0, self.s1.shape[1] - 1)
        lo = np.clip(last + 1 - length, 0, None)
        cnt = self.n[s, hi] - self.n[s, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (self.s1[s, hi] - self.s1[s, lo]) / cnt
            var = np.maximum((self.s2[s, hi] - self.s2[s, lo]) / cnt - mean * mean, 0.0)
        mean = np.where(cnt > 0, mean, np.nan)
        return mean, np.where(cnt > 0, np.sqrt(var), np.nan)


@dataclass
class OriginRows:
    """Feature matrix of (series, origin, horizon) rows, with each row's scale and target."""

    X: np.ndarray
    names: list[str]
    scale: np.ndarray  # the series' recent mean at the origin: features and target are divided by it
    target: np.ndarray  # y[t] / scale (NaN beyond the data)
    base: np.ndarray  # a plain profile forecast / scale (same-kind-of-day mean …): models learn the rest


def _gather(y: np.ndarray, s: np.ndarray, idx: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """y[s, idx] where 0 ≤ idx ≤ limit (the origin), else NaN."""
    ok = (idx >= 0) & (idx <= limit) & (idx < y.shape[1])
    out = np.full(len(s), np.nan)
    out[ok] = y[s[ok], idx[ok]]
    return out


def day_kind(calendar: dict[str, np.ndarray]) -> np.ndarray:
    """0 working day, 1 ordinary rest day, 2 statutory holiday (incl. Spring Festival) per step."""
    return np.where(calendar["is_holiday"] > 0, 2, np.where(calendar["is_workday"] > 0, 0, 1))


def origin_features(panel: Panel, s: np.ndarray, o: np.ndarray, k: np.ndarray, *,
                    calendar: dict[str, np.ndarray], temperature: np.ndarray | None,
                    use_classes: bool, prefix: _Prefix | None = None) -> OriginRows:
    """Rows for forecasts made at origin o (last known step) of series s for step o + k.

    Lags are taken relative to the target but never after the origin: the same hour one, two days
    back that is already known (lag 24/48 for the first day ahead, 48/72 for the second), the same
    hour of the last four weeks (lag 168 … 672), means of the same hour over the last 7 days and
    over the last 14 days of the same kind (working or rest day), the recent level and spread at
    the origin; calendar and weather of the target hour; the customer class.
    """
    y = panel.y
    m = max(1, panel.season_short)
    w = max(m, panel.season_long)
    s = np.asarray(s, dtype=np.int64)
    o = np.asarray(o, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    t = o + k
    prefix = prefix or _Prefix(y)
    scale, _ = prefix.mean_std(s, o, w)
    short_scale, _ = prefix.mean_std(s, o, m)
    scale = np.where(np.isnan(scale), short_scale, scale)
    safe = np.where((scale > 0) & np.isfinite(scale), scale, np.nan)

    cols: dict[str, np.ndarray] = {"horizon": k.astype(np.float64)}
    for name in ("hour", "dow", "is_workday", "is_holiday", "is_spring_festival"):
        cols[name] = calendar[name][t].astype(np.float64)
    days_back = -(-k // m)  # ceil(k / m): the first whole season back that is already known
    d1 = t - m * days_back
    d2 = d1 - m
    cols["lag_day1"] = _gather(y, s, d1, o) / safe
    cols["lag_day2"] = _gather(y, s, d2, o) / safe
    cols["workday_day1"] = np.where(d1 >= 0, calendar["is_workday"][np.clip(d1, 0, None)], np.nan)
    weeks = []
    for j in (1, 2, 3, 4):
        idx = t - j * w
        weeks.append(_gather(y, s, idx, o) / safe)
        if j <= 2:
            cols[f"lag_week{j}"] = weeks[-1]
    cols["workday_week1"] = np.where(t - w >= 0, calendar["is_workday"][np.clip(t - w, 0, None)], np.nan)
    cols["holiday_week1"] = np.where(t - w >= 0, calendar["is_holiday"][np.clip(t - w, 0, None)], np.nan)
    with np.errstate(invalid="ignore"), _quiet():
        stack = np.vstack(weeks)
        cols["mean_weeks"] = np.nanmean(stack, axis=0)
        cols["std_weeks"] = np.nanstd(stack, axis=0)
    # same hour over recent days: all of the last 7, and the last 14 of the target's kind of day
    back = days_back[:, None] + np.arange(14)[None, :]
    idx = t[:, None] - m * back
    known = (idx >= 0)
    vals = np.full(idx.shape, np.nan)
    vals[known] = y[np.broadcast_to(s[:, None], idx.shape)[known], idx[known]]
    kind = day_kind(calendar)  # working day, ordinary rest day, statutory holiday
    kinds = np.where(known, kind[np.clip(idx, 0, None)], -1)
    same = kinds == kind[t][:, None]
    cols["n_sametype14"] = same.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore"), _quiet():
        cols["mean_days7"] = np.nanmean(vals[:, :7], axis=1) / safe
        cols["mean_sametype14"] = np.nanmean(np.where(same, vals, np.nan), axis=1) / safe
    # the level and spread at the origin
    cols["last"] = _gather(y, s, o, o) / safe
    mean3, _ = prefix.mean_std(s, o, 3)
    cols["mean_last3"] = mean3 / safe
    mean_day, std_day = prefix.mean_std(s, o, m)
    cols["mean_lastday"] = mean_day / safe
    cols["std_lastday"] = std_day / safe
    prev3, _ = prefix.mean_std(s, o - w, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["ratio_last3_week"] = mean3 / np.where(prev3 > 0, prev3, np.nan)
    cols["log_scale"] = np.log1p(np.where(np.isfinite(safe), safe, 0.0))
    if temperature is not None:
        temp_t = temperature[s, t]
        cols["temperature"] = temp_t
        cols["hdd"], cols["cdd"] = degree_terms(temp_t)
        back_w = t - w
        cols["temp_change_week"] = np.where(back_w >= 0, temp_t - temperature[s, np.clip(back_w, 0, None)],
                                            np.nan)
        cols["temp_change_day"] = np.where(d1 >= 0, temp_t - temperature[s, np.clip(d1, 0, None)], np.nan)
    if use_classes:
        onehot = class_one_hot(panel.classes or [None] * panel.n_series)
        for j, name in enumerate(CUSTOMER_CLASSES):
            cols[f"class_{name}"] = onehot[s, j]
    target = _gather(y, s, t, np.full(len(t), y.shape[1] - 1)) / safe
    base = cols["mean_sametype14"]
    for fallback in (cols["mean_days7"], cols["lag_day1"], cols["mean_lastday"]):
        base = np.where(np.isfinite(base), base, fallback)
    base = np.where(np.isfinite(base), base, 1.0)
    names = list(cols)
    X = np.column_stack([cols[n] for n in names]).astype(np.float32)
    return OriginRows(X=X, names=names, scale=safe, target=target, base=base)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings: NaN is the intended answer there."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def hour_floor(dt: datetime) -> datetime:
    """The start of the UTC hour of an aware datetime."""
    return dt.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def from_utc64(value: np.datetime64) -> datetime:
    """A UTC datetime64 as an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(value.astype("datetime64[s]")
                                                                          .astype(np.int64)))


def local_iso(dt64: np.datetime64, tz: str | None = None) -> str:
    """A UTC datetime64 as an ISO string on the clock of `tz` (default Asia/Shanghai), e.g.
    2026-11-26T08:00:00+08:00."""
    return from_utc64(dt64).astimezone(zone(tz)).isoformat()
