"""Rolling-origin evaluation: cut the history at N origins, forecast h steps, score against what came.

Origins are the last N non-overlapping windows of `horizon` steps ending at the last observation;
every model is refitted on the data before each origin. Weather, when given, is the observed
weather of the window (as if the weather forecast were perfect), the usual convention in load
forecasting studies.

Metrics, pooled over every series, origin and step:
- MAPE (%): mean |e| / |y| over steps whose actual is not zero;
- sMAPE (%): mean 2|e| / (|y| + |ŷ|), 0 where both are zero;
- RMSE: in the unit of the target;
- MASE: mean over (series, origin) of MAE / (in-sample MAE of the seasonal naive with season 24 for
  hourly data, 7 for daily), the scale taken from the data before the origin;
- coverage: share of actuals inside P10–P90 (80 % when calibrated); pinball: mean quantile loss.
"""
from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from api.core.time import LOCAL_TZ
from api.forecasting import forecasters
from api.forecasting.features import Panel, _quiet, local_iso

BASELINE = "seasonal_naive"
DEFAULT_MODELS = ("seasonal_naive", "statistical", "global_gbm")


class TooShort(ValueError):
    """Not enough history for even one origin."""


@dataclass
class Window:
    """One origin: the first step index of the evaluated window."""

    cut: int


def min_train(panel: Panel) -> int:
    """Steps of history a fit needs at least: two seasons of MASE's scale (48 hourly, 14 daily)."""
    return max(2 * panel.mase_season, 4)


def origins_for(panel: Panel, horizon: int, n: int) -> list[int]:
    """Cut points (exclusive end of training) of the last n windows, oldest first; fewer if short."""
    T = panel.length
    possible = (T - min_train(panel)) // horizon
    if possible < 1:
        raise TooShort(
            f"数据太短：至少需要 {min_train(panel) + horizon} 个时间点（{min_train(panel)} 个用于训练，"
            f"{horizon} 个用于检验），实际只有 {T} 个 / too short: need at least "
            f"{min_train(panel) + horizon} steps, got {T}")
    n = min(n, possible)
    return [T - horizon * (j + 1) for j in reversed(range(n))]


def mase_scale(y: np.ndarray, season: int) -> np.ndarray:
    """Per series, the in-sample MAE of the seasonal naive forecast (NaN if it cannot be had)."""
    if y.shape[1] <= season:
        season = 1
    if y.shape[1] <= season:
        return np.full(y.shape[0], np.nan)
    with _quiet():
        return np.nanmean(np.abs(y[:, season:] - y[:, :-season]), axis=1)


def score(actual: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray,
          scales: np.ndarray) -> dict:
    """Metrics of stacked windows: arrays (W, H) with one MASE scale per window (W,)."""
    ok = np.isfinite(actual)
    a, f = actual[ok], p50[ok]
    e = a - f
    nz = a != 0
    denom = np.abs(a) + np.abs(f)
    smape = np.where(denom > 0, 2 * np.abs(e) / np.where(denom > 0, denom, 1), 0.0)
    with _quiet():
        mae_w = np.nanmean(np.where(ok, np.abs(actual - p50), np.nan), axis=1)
    good = np.isfinite(mae_w) & np.isfinite(scales) & (scales > 0)
    lo, hi = p10[ok], p90[ok]
    pinball = np.mean([np.mean(np.maximum(q * (a - p), (q - 1) * (a - p)))
                       for q, p in ((0.1, lo), (0.5, f), (0.9, hi))]) if a.size else math.nan
    return {
        "MAPE": float(np.mean(np.abs(e[nz]) / np.abs(a[nz])) * 100) if nz.any() else math.nan,
        "sMAPE": float(np.mean(smape) * 100) if a.size else math.nan,
        "RMSE": float(np.sqrt(np.mean(e * e))) if a.size else math.nan,
        "MASE": float(np.mean(mae_w[good] / scales[good])) if good.any() else math.nan,
        "coverage_p10_p90": float(np.mean((a >= lo) & (a <= hi))) if a.size else math.nan,
        "pinball": float(pinball),
        "points": int(a.size),
    }


def backtest(panel: Panel, *, horizon: int, origins: int = 7, models=DEFAULT_MODELS,
             options: dict | None = None, progress=None) -> dict:
    """Evaluate each model and the seasonal-naive baseline at rolling origins; JSON-ready dict."""
    names = list(dict.fromkeys([BASELINE, *models]))
    cuts = origins_for(panel, horizon, origins)
    say = progress or (lambda _m: None)
    results: dict[str, dict] = {}
    collected: dict[str, list] = {n: [] for n in names}
    scales_all, actual_all, seconds = [], [], {n: 0.0 for n in names}
    failures: dict[str, str] = {}
    for cut in cuts:
        train = panel.head(cut)
        actual = panel.y[:, cut:cut + horizon]
        scales_all.append(mase_scale(train.y, panel.mase_season))
        actual_all.append(actual)
        for name in names:
            if name in failures:
                continue
            started = time.perf_counter()
            try:
                model = forecasters.make(name, horizon, **(options or {}).get(name, {}))
                fc = model.fit(train).predict(horizon)
            except ValueError as exc:  # e.g. too little history for the global model
                failures[name] = str(exc)
                continue
            seconds[name] += time.perf_counter() - started
            collected[name].append((fc.p10, fc.p50, fc.p90))
        say(f"origin {local_iso(panel.times[cut])} done")
    actual = np.concatenate(actual_all, axis=0)
    scales = np.concatenate(scales_all)
    for name in names:
        if name in failures:
            results[name] = {"error": failures[name]}
            continue
        p10, p50, p90 = (np.concatenate([c[i] for c in collected[name]], axis=0) for i in range(3))
        results[name] = {**score(actual, p10, p50, p90, scales), "seconds": round(seconds[name], 3)}
    base = results.get(BASELINE, {})
    ratios = {}
    for name, r in results.items():
        if name == BASELINE or "error" in r:
            continue
        ratios[name] = {m: _ratio(r[m], base.get(m)) for m in ("MAPE", "sMAPE", "RMSE", "MASE")}
    ranked = [n for n in names if "error" not in results[n] and math.isfinite(results[n]["MASE"])]
    best = min(ranked, key=lambda n: results[n]["MASE"]) if ranked else None
    return {
        "series": panel.n_series,
        "observations": int(np.isfinite(panel.y).sum()),
        "horizon": horizon,
        "origins": len(cuts),
        "origin_times": [local_iso(panel.times[c]) for c in cuts],
        "weather": panel.temperature is not None,
        "units": {"MAPE": "%", "sMAPE": "%", "RMSE": "target", "MASE": "ratio", "coverage_p10_p90": "share"},
        "baseline": BASELINE,
        "models": {n: _clean(r) for n, r in results.items()},
        "vs_baseline": ratios,
        "best": best,
    }


def _ratio(value, base) -> float | None:
    if value is None or base is None or not math.isfinite(value) or not math.isfinite(base) or base == 0:
        return None
    return round(value / base, 4)


def _clean(result: dict) -> dict:
    """Round floats for printing; NaN (no value) becomes None so the JSON stays valid."""
    out = {}
    for k, v in result.items():
        if isinstance(v, float):
            out[k] = round(v, 4) if math.isfinite(v) else None
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------ CSV input

class InputError(ValueError):
    """A CSV the backtest cannot use; the message says why in Chinese and English."""


LEGACY_FREQ = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns", "M": "ME", "A": "YE",
               "Y": "YE", "Q": "QE", "BM": "BME", "BQ": "BQE", "BA": "BYE", "BY": "BYE"}


def parse_freq(freq: str):
    """A pandas offset from an alias, old ones too (H, T, M …); InputError if pandas knows none."""
    from pandas.tseries.frequencies import to_offset  # pandas only when a CSV is backtested

    text = (freq or "").strip()
    tries = [text, text.lower(), text.upper()]
    match = re.fullmatch(r"(\d*)([A-Za-z]+)", text)
    if match:
        number, unit = match.groups()
        for u in (unit, unit.upper()):
            if u in LEGACY_FREQ:
                tries.append(number + LEGACY_FREQ[u])
    for candidate in tries:
        try:
            return to_offset(candidate)
        except (ValueError, TypeError):
            continue
    raise InputError(f"无法识别的频率 --freq {freq!r}（例如 H、h、15min、D、W、MS）/ unknown frequency {freq!r}")


def panel_from_csv(path: str, *, time_col: str, target_col: str, freq: str, series_col: str | None = None,
                   weather_col: str | None = None, class_col: str | None = None) -> Panel:
    """Read a CSV of one or many series onto a regular grid (times without zone are Asia/Shanghai)."""
    import pandas as pd  # pandas only when a CSV is backtested

    offset = parse_freq(freq)
    try:
        df = pd.read_csv(path, dtype={series_col: str} if series_col else None)
    except FileNotFoundError:
        raise InputError(f"找不到文件 / file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"无法读取CSV / cannot read the CSV {path}: {exc}") from None
    wanted = {"--time-col": time_col, "--target-col": target_col, "--series-col": series_col,
              "--weather-col": weather_col, "--class-col": class_col}
    for option, col in wanted.items():
        if col is not None and col not in df.columns:
            raise InputError(f"列不存在 / column not found: {option} {col!r}; "
                             f"可用的列 / available columns: {', '.join(map(str, df.columns))}")
    if df.empty:
        raise InputError(f"CSV没有数据行 / the CSV has no rows: {path}")
    times = _parse_times(df[time_col], LOCAL_TZ)
    values = pd.to_numeric(df[target_col], errors="coerce")
    junk = values.isna() & df[target_col].notna() & (df[target_col].astype(str).str.strip() != "")
    if values.notna().sum() == 0:
        raise InputError(f"目标列没有数值 / the target column {target_col!r} has no numbers")
    if junk.any():
        first = df[target_col][junk].iloc[0]
        print(f"warning: {int(junk.sum())} non-numeric values in {target_col!r} (e.g. {first!r}) "
              "were treated as missing", file=sys.stderr)
    frame = pd.DataFrame({"ts": times, "y": values,
                          "series": df[series_col].astype(str) if series_col else "all"})
    if weather_col:
        frame["temp"] = pd.to_numeric(df[weather_col], errors="coerce")
    grouped = frame.groupby(["series", pd.Grouper(key="ts", freq=offset)]).mean(numeric_only=True)
    wide_y = grouped["y"].unstack("series")
    grid = pd.date_range(wide_y.index.min(), wide_y.index.max(), freq=offset)
    wide_y = wide_y.reindex(grid)
    keys = [str(k) for k in wide_y.columns]
    utc = grid.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
    temperature = None
    if weather_col:
        wide_t = grouped["temp"].unstack("series").reindex(grid)[wide_y.columns]
        wide_t = wide_t.interpolate(limit=6, limit_direction="both")
        temperature = wide_t.to_numpy().T
    classes = None
    if class_col:
        first = df.assign(_s=frame["series"]).groupby("_s")[class_col].first()
        classes = [None if pd.isna(first.get(k)) else str(first.get(k)) for k in keys]
    step = None
    if hasattr(offset, "nanos"):
        try:
            step = np.timedelta64(int(offset.nanos // 1_000_000_000), "s")
        except ValueError:
            step = None
    return Panel(keys=keys, times=utc, y=wide_y.to_numpy().T, temperature=temperature, classes=classes,
                 freq=offset.freqstr, step=step)


def _parse_times(raw, zone):
    """Times as Asia/Shanghai-aware timestamps; InputError naming the first value that fails."""
    import pandas as pd

    try:
        ts = pd.to_datetime(raw, format="mixed")
    except (ValueError, TypeError, OverflowError):
        try:
            ts = pd.to_datetime(raw, format="mixed", utc=True)
        except (ValueError, TypeError, OverflowError):
            bad = _first_bad_time(raw)
            raise InputError(f"无法解析时间列 / cannot parse the time column: {bad!r}") from None
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        if ts.isna().all() or not pd.api.types.is_datetime64_any_dtype(ts):
            raise InputError(f"无法解析时间列 / cannot parse the time column: {_first_bad_time(raw)!r}")
        ts = ts.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    if ts.isna().any():
        raise InputError(f"无法解析时间列 / cannot parse the time column: "
                         f"{raw[ts.isna()].iloc[0]!r} (row {int(ts.isna().to_numpy().argmax()) + 2})")
    return ts.dt.tz_convert(zone)


def _first_bad_time(raw) -> object:
    import pandas as pd

    for value in raw:
        try:
            pd.to_datetime(value)
        except (ValueError, TypeError, OverflowError):
            return value
    return raw.iloc[0] if len(raw) else None
