"""Rolling-origin evaluation: cut the history at N origins, forecast h steps, score against what came.

Origins are the last N non-overlapping windows of `horizon` steps ending at the last observation;
every model is refitted on the data before each origin. Weather, when given, is the observed
weather of the window (as if the weather forecast were perfect), the usual convention in load
forecasting studies. By default (`origins="auto"`) N is AUTO_ORIGINS (28: four weeks of day-ahead
forecasts, enough to tell models apart) when the history leaves at least two weekly seasons of
training before the first origin, else as many as it allows, with a warning.

Metrics, pooled over every series, origin and step:
- MAPE (%): mean |e| / |y| over steps whose actual is not zero;
- sMAPE (%): mean 2|e| / (|y| + |ŷ|), 0 where both are zero;
- RMSE: in the unit of the target;
- MASE: mean over (series, origin) of MAE / (in-sample MAE of the seasonal naive with season 24 for
  hourly data, 7 for daily), the scale taken from the data before the origin;
- coverage: share of actuals inside P10–P90 (80 % when calibrated); pinball: mean quantile loss.

Beside the pooled metrics, per model: the RMSE of each origin and its spread (mean, standard
deviation, quartiles, IQR), and a Diebold–Mariano test of the best model against each other one
(squared-error loss averaged over the series at each step, HAC variance with horizon − 1 Bartlett
lags, Harvey–Leybourne–Newbold small-sample correction, Student t with n − 1 degrees of freedom).

The choice (`best`, the same rule the service uses for production, `choose`): the model with the
lowest mean RMSE over the origins, unless a simpler one (seasonal naive < statistical < global
LightGBM, by cost to fit and to run) is not significantly worse than it (DM two-sided p ≥ 0.05):
then the simplest such model.
"""
from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from api.forecasting import forecasters
from api.forecasting.features import DEFAULT_TZ, Panel, _quiet, holiday_calendar, local_iso, zone

BASELINE = "seasonal_naive"
DEFAULT_MODELS = ("seasonal_naive", "statistical", "global_gbm")
SIMPLICITY = ("seasonal_naive", "statistical", "global_gbm")  # cheapest to fit and run first
AUTO_ORIGINS = 28  # day-ahead origins to choose a model on (on real load 7 origins ranked models the other way round)
ALPHA = 0.05  # significance level of the Diebold–Mariano test
RULE = ("lowest mean RMSE over the origins; a simpler model (seasonal_naive < statistical < global_gbm) "
        f"that is not significantly worse (Diebold–Mariano, two-sided p ≥ {ALPHA}) is preferred")


class TooShort(ValueError):
    """Not enough history for even one origin."""


@dataclass
class Window:
    """One origin: the first step index of the evaluated window."""

    cut: int


def min_train(panel: Panel) -> int:
    """Steps of history a fit needs at least: two seasons of MASE's scale (48 hourly, 14 daily)."""
    return max(2 * panel.mase_season, 4)


def auto_min_train(panel: Panel) -> int:
    """History before the first origin that automatic origins keep: two weekly seasons (two weeks
    hourly), so that every model sees its weekly pattern twice even at the oldest origin."""
    return max(min_train(panel), 2 * panel.season_long)


def auto_origins(panel: Panel, horizon: int) -> int:
    """AUTO_ORIGINS when the history allows them after auto_min_train steps, else as many as it does
    (at least one when min_train allows one; origins_for raises TooShort otherwise)."""
    possible = (panel.length - auto_min_train(panel)) // horizon
    return max(1, min(AUTO_ORIGINS, possible))


def resolve_origins(panel: Panel, horizon: int, origins: int | str | None) -> tuple[int, str | None]:
    """The number of origins to use and a warning when fewer than wanted fit in the history."""
    if origins in (None, "auto"):
        n = auto_origins(panel, horizon)
        cuts = origins_for(panel, horizon, n)
        if len(cuts) < AUTO_ORIGINS:
            return len(cuts), (f"history allows {len(cuts)} origin(s) with {auto_min_train(panel)} steps of "
                               f"training before the first, not the {AUTO_ORIGINS} a model choice wants: "
                               "rankings on so few origins are weak evidence")
        return len(cuts), None
    wanted = int(origins)
    cuts = origins_for(panel, horizon, wanted)
    if len(cuts) < wanted:
        return len(cuts), f"history allows {len(cuts)} origin(s), not {wanted}"
    return wanted, None


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


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int) -> dict:
    """Diebold–Mariano test of equal squared-error loss of two forecasts of the same targets.

    errors_*: (W, S, H) forecast errors of W origins, S series, H steps (NaN where no actual). The
    loss differential d_t is the mean over series of e_a² − e_b² at each step, in time order (the
    origins are consecutive windows); its long-run variance is Newey–West with horizon − 1 lags
    (forecasts up to h steps ahead share h − 1 steps of surprise); the statistic gets the
    Harvey–Leybourne–Newbold correction and a Student t reference with n − 1 degrees of freedom.
    `mean_loss_diff` < 0 means a is better. Identical forecasts: statistic 0, p = 1.
    """
    from scipy import stats  # scipy only when models are compared

    with _quiet():
        d = np.nanmean(errors_a ** 2 - errors_b ** 2, axis=1).reshape(-1)
    d = d[np.isfinite(d)]
    n = len(d)
    h = max(1, int(horizon))
    out = {"n": n, "lags": h - 1, "mean_loss_diff": float(d.mean()) if n else None, "statistic": None,
           "p_value": None, "significant": False}
    if n < 3:
        return out
    mean = d.mean()
    dc = d - mean
    var = float(dc @ dc) / n
    for lag in range(1, min(h, n)):
        var += 2 * (1 - lag / h) * float(dc[lag:] @ dc[:-lag]) / n
    if not (var > 1e-12 * max(1.0, float(np.mean(d * d)))):
        # no variation in the loss differential: equal forecasts (or a constant gap, then decisive)
        equal = abs(mean) <= 1e-12 * max(1.0, float(np.mean(np.abs(errors_a[np.isfinite(errors_a)]) ** 2)))
        out.update(statistic=0.0 if equal else math.copysign(math.inf, mean), p_value=1.0 if equal else 0.0,
                   significant=not equal)
        return out
    stat = mean / math.sqrt(var / n)
    correction = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if correction > 0:
        stat *= math.sqrt(correction)
    p = float(2 * stats.t.sf(abs(stat), df=n - 1))
    out.update(statistic=round(float(stat), 4), p_value=round(p, 6), significant=p < ALPHA)
    return out


def origin_spread(per_origin: np.ndarray) -> dict:
    """Mean, standard deviation, quartiles and IQR of a model's per-origin RMSE."""
    v = np.asarray(per_origin, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": None, "std": None, "min": None, "q25": None, "median": None, "q75": None,
                "max": None, "iqr": None, "cv": None}
    q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75])
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"mean": mean, "std": std, "min": float(v.min()), "q25": float(q25), "median": float(q50),
            "q75": float(q75), "max": float(v.max()), "iqr": float(q75 - q25), "cv": std / mean if mean else None}


def choose(per_origin_rmse: dict[str, np.ndarray], errors: dict[str, np.ndarray], horizon: int) -> dict:
    """The model choice rule (see the module doc): lowest mean RMSE over the origins, or the simplest
    model not significantly worse than that one by Diebold–Mariano. Returns the choice, the ranking,
    the DM test of the best against the runner-up and against every other model, and a plain note."""
    means = {n: float(np.nanmean(v)) for n, v in per_origin_rmse.items() if np.isfinite(v).any()}
    if not means:
        return {"model": None, "lowest_rmse": None, "runner_up": None, "ranking": [], "rule": RULE,
                "dm_vs_best": {}, "significance": None, "note": "no model produced forecasts"}
    ranking = sorted(means, key=lambda n: (means[n], _simplicity(n)))
    best = ranking[0]
    vs_best = {n: diebold_mariano(errors[best], errors[n], horizon) for n in ranking[1:]}
    close = [n for n in ranking[1:] if not vs_best[n]["significant"]]
    chosen = min([best, *close], key=_simplicity)
    runner = ranking[1] if len(ranking) > 1 else None
    if runner is None:
        note = f"{best} is the only model scored"
        significance = None
    else:
        dm = vs_best[runner]
        significance = {"best": best, "runner_up": runner, **dm,
                        "rmse_ratio": round(means[runner] / means[best], 4) if means[best] else None}
        if dm["significant"]:
            note = (f"{best} is significantly better than the runner-up {runner} (Diebold–Mariano p = "
                    f"{_p(dm['p_value'])} over {dm['n']} steps)")
        else:
            note = (f"{best} and the runner-up {runner} are not significantly different (Diebold–Mariano p = "
                    f"{_p(dm['p_value'])} ≥ {ALPHA}; mean RMSE {means[best]:.4g} vs {means[runner]:.4g}): "
                    "the ranking could change with other origins")
    if chosen != best:
        note += (f"; {chosen} is chosen: it is simpler and not significantly worse than {best} "
                 f"(p = {_p(vs_best[chosen]['p_value'])})")
    return {"model": chosen, "lowest_rmse": best, "runner_up": runner, "ranking": ranking, "rule": RULE,
            "mean_rmse": {n: round(means[n], 4) for n in ranking},
            "dm_vs_best": vs_best, "significance": significance, "note": note}


def _simplicity(name: str) -> int:
    return SIMPLICITY.index(name) if name in SIMPLICITY else len(SIMPLICITY)


def _p(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def backtest(panel: Panel, *, horizon: int, origins: int | str | None = "auto", models=DEFAULT_MODELS,
             options: dict | None = None, progress=None) -> dict:
    """Evaluate each model and the seasonal-naive baseline at rolling origins; JSON-ready dict.
    `origins`: a number, or "auto" (AUTO_ORIGINS when the history allows, see resolve_origins)."""
    names = list(dict.fromkeys([BASELINE, *models]))
    n_origins, warning = resolve_origins(panel, horizon, origins)
    cuts = origins_for(panel, horizon, n_origins)
    say = progress or (lambda _m: None)
    if warning:
        say(f"warning: {warning}")
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
        say(f"origin {local_iso(panel.times[cut], panel.tz)} done")
    actual = np.concatenate(actual_all, axis=0)
    scales = np.concatenate(scales_all)
    W, S = len(cuts), panel.n_series
    errors: dict[str, np.ndarray] = {}
    per_origin: dict[str, np.ndarray] = {}
    for name in names:
        if name in failures:
            results[name] = {"error": failures[name]}
            continue
        p10, p50, p90 = (np.concatenate([c[i] for c in collected[name]], axis=0) for i in range(3))
        results[name] = {**score(actual, p10, p50, p90, scales), "seconds": round(seconds[name], 3)}
        errors[name] = (actual - p50).reshape(W, S, -1)
        with _quiet():
            per_origin[name] = np.sqrt(np.nanmean(errors[name].reshape(W, -1) ** 2, axis=1))
    base = results.get(BASELINE, {})
    ratios = {}
    for name, r in results.items():
        if name == BASELINE or "error" in r:
            continue
        ratios[name] = {m: _ratio(r[m], base.get(m)) for m in ("MAPE", "sMAPE", "RMSE", "MASE")}
    choice = choose(per_origin, errors, horizon)
    return {
        "series": panel.n_series,
        "observations": int(np.isfinite(panel.y).sum()),
        "horizon": horizon,
        "origins": len(cuts),
        "origin_times": [local_iso(panel.times[c], panel.tz) for c in cuts],
        "weather": panel.temperature is not None,
        "units": {"MAPE": "%", "sMAPE": "%", "RMSE": "target", "MASE": "ratio", "coverage_p10_p90": "share"},
        "baseline": BASELINE,
        "models": {n: _clean(r) for n, r in results.items()},
        "vs_baseline": ratios,
        "best": choice["model"],
        "timezone": panel.tz,
        "holidays": holiday_calendar(panel.tz).as_dict(),
        "warnings": [warning] if warning else [],
        "spread": {n: {"per_origin_RMSE": [round(float(x), 4) for x in v],
                       **_clean(origin_spread(v))} for n, v in per_origin.items()},
        "choice": _clean_deep({k: v for k, v in choice.items() if k != "significance"}),
        "significance": _clean_deep(choice["significance"]),
    }


def _ratio(value, base) -> float | None:
    if value is None or base is None or not math.isfinite(value) or not math.isfinite(base) or base == 0:
        return None
    return round(value / base, 4)


def _clean_deep(value):
    """_clean for nested dicts and lists (DM results inside the choice)."""
    if isinstance(value, dict):
        return {k: _clean_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_deep(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


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
                   weather_col: str | None = None, class_col: str | None = None, timezone: str = DEFAULT_TZ,
                   dayfirst: bool = False, time_format: str | None = None) -> Panel:
    """Read a CSV of one or many series onto a regular grid. Times without a zone are wall-clock times
    of `timezone` (default Asia/Shanghai; an hour repeated when the clocks go back is read as the
    earlier, summer-time one first), times with an offset are converted; the panel's calendar
    (hours, weekdays, holidays) is that zone's. `dayfirst` reads 03-04-2018 as 3 April; `time_format`
    (strptime) fixes the format."""
    import pandas as pd  # pandas only when a CSV is backtested

    try:
        zone(timezone)
    except ValueError as exc:
        raise InputError(f"未知时区 / {exc}") from None
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
    times = _parse_times(df[time_col], timezone, dayfirst=dayfirst, time_format=time_format)
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
                 freq=offset.freqstr, step=step, tz=timezone)


def _to_datetimes(raw, *, dayfirst: bool, time_format: str | None):
    """Parse with one format for the whole column (given, else inferred from the first value, so a
    day-first column stays day-first), else value by value; None when nothing works."""
    import warnings

    import pandas as pd

    attempts = [{"format": time_format}] if time_format else [{}, {"format": "mixed"},
                                                              {"format": "mixed", "utc": True}]
    for kwargs in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the next try
                return pd.to_datetime(raw, dayfirst=dayfirst, **kwargs)
        except (ValueError, TypeError, OverflowError):
            continue
    return None


def _parse_times(raw, tz: str, *, dayfirst: bool = False, time_format: str | None = None):
    """Times as timestamps aware of zone `tz`; InputError naming the first value that fails.

    Wall-clock times that occur twice when the clocks go back are told apart by order: the first
    row of such a time is the summer-time one, a repeat the winter-time one; times skipped when the
    clocks go forward move to the next valid instant.
    """
    import pandas as pd

    ts = _to_datetimes(raw, dayfirst=dayfirst, time_format=time_format)
    if ts is None:
        raise InputError(f"无法解析时间列 / cannot parse the time column: {_first_bad_time(raw)!r}")
    info = zone(tz)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        if ts.isna().all() or not pd.api.types.is_datetime64_any_dtype(ts):
            raise InputError(f"无法解析时间列 / cannot parse the time column: {_first_bad_time(raw)!r}")
        if ts.isna().any():
            raise InputError(f"无法解析时间列 / cannot parse the time column: "
                             f"{raw[ts.isna()].iloc[0]!r} (row {int(ts.isna().to_numpy().argmax()) + 2})")
        first_seen = (ts.groupby(ts).cumcount() == 0).to_numpy()
        ts = ts.dt.tz_localize(info, ambiguous=first_seen, nonexistent="shift_forward")
    if ts.isna().any():
        raise InputError(f"无法解析时间列 / cannot parse the time column: "
                         f"{raw[ts.isna()].iloc[0]!r} (row {int(ts.isna().to_numpy().argmax()) + 2})")
    return ts.dt.tz_convert(info)


def _first_bad_time(raw) -> object:
    import pandas as pd

    for value in raw:
        try:
            pd.to_datetime(value)
        except (ValueError, TypeError, OverflowError):
            return value
    return raw.iloc[0] if len(raw) else None
