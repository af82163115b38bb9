"""Three forecasters with one interface: fit(panel) then predict(horizon, future_exog) → P10/P50/P90.

- SeasonalNaive: the value one week earlier (one day earlier while there is less than a week of
  history); the baseline every other model is measured against.
- Statistical: double-seasonal Holt–Winters (daily + weekly, Taylor 2003) with an AR(1) term on
  the one-step error, smoothing constants chosen per series from a small grid by in-sample
  day-ahead error; holidays and 调休 days do not update it. Written in numpy, vectorised across
  series (statsforecast does not install offline here). It sees no weather, and the calendar
  only to skip special days.
- GlobalGBM: one LightGBM model across all series of a level, on scale-free origin features
  (api.forecasting.features.origin_features): direct multi-horizon, P50 plus P10/P90 quantile
  models, intervals recalibrated on a held-out last window (conformalised quantile regression),
  and a decaying correction by the error of the last hours when the held-out window says it helps.

Intervals are 80 % (P10–P90). Forecasts of a series that was never negative are clipped at 0.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np

from api.forecasting.features import (
    Panel,
    calendar_features,
    _Prefix,
    _quiet,
    grid_calendar,
    origin_features,
    temperature_on_grid,
)

QUANTILES = (0.1, 0.5, 0.9)


def _lightgbm():
    """Import LightGBM with OpenMP threads that sleep when idle: spinning threads of a busy
    2-core machine (tests, the API, the worker side by side) made training 10× slower."""
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    import lightgbm

    return lightgbm


@dataclass
class Forecast:
    """P10/P50/P90 of each series (S, H) for the instants `times` (UTC datetime64)."""

    keys: list[str]
    times: np.ndarray
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray


def _finish(panel: Panel, times: np.ndarray, p10, p50, p90) -> Forecast:
    """Order the quantiles, and clip at zero series that were never negative."""
    stack = np.sort(np.stack([p10, p50, p90]), axis=0)
    with _quiet():
        lowest = np.nanmin(panel.y, axis=1) if panel.length else np.zeros(panel.n_series)
    nonneg = ~(lowest < 0)
    stack[:, nonneg, :] = np.maximum(stack[:, nonneg, :], 0.0)
    stack = np.nan_to_num(stack, nan=0.0)
    return Forecast(keys=list(panel.keys), times=times, p10=stack[0], p50=stack[1], p90=stack[2])


def _last_mean(y: np.ndarray, n: int) -> np.ndarray:
    with _quiet():
        return np.nanmean(y[:, -n:], axis=1) if y.shape[1] else np.full(y.shape[0], np.nan)


# ------------------------------------------------------------------------------ seasonal naive

class SeasonalNaive:
    """Same step one week back (one day back with less than a week of history)."""

    name = "seasonal_naive"

    def fit(self, panel: Panel) -> SeasonalNaive:
        """Remember the history and the spread of its own seasonal differences."""
        self.panel = panel
        T = panel.length
        self.season = panel.season_long if T >= panel.season_long + 1 else max(1, panel.season_short)
        y = panel.y
        m = self.season
        diffs = y[:, m:] - y[:, :-m] if T > m else np.full((panel.n_series, 1), np.nan)
        with _quiet():
            self.q10 = np.nanquantile(diffs, 0.1, axis=1)
            self.q90 = np.nanquantile(diffs, 0.9, axis=1)
        return self

    def point(self, horizon: int) -> np.ndarray:
        """P50 only: the seasonal lag, then the daily one, then the last day's mean where data is missing."""
        y, T = self.panel.y, self.panel.length
        k = np.arange(1, horizon + 1)
        out = np.full((self.panel.n_series, horizon), np.nan)
        for m in dict.fromkeys((self.season, max(1, self.panel.season_short), 1)):
            idx = T - 1 + k - m * (-(-k // m))
            ok = (idx >= 0) & (idx < T)
            cand = np.full_like(out, np.nan)
            cand[:, ok] = y[:, idx[ok]]
            out = np.where(np.isnan(out), cand, out)
        fill = _last_mean(y, max(1, self.panel.season_short))
        return np.where(np.isnan(out), fill[:, None], out)

    def predict(self, horizon: int, future_exog: dict | None = None) -> Forecast:
        """Seasonal lag with intervals from its own in-sample differences."""
        p50 = self.point(horizon)
        q10 = np.nan_to_num(self.q10)[:, None]
        q90 = np.nan_to_num(self.q90)[:, None]
        return _finish(self.panel, self.panel.future_times(horizon), p50 + q10, p50, p50 + q90)


# ------------------------------------------------------------------------------ statistical

class Statistical:
    """Double-seasonal Holt–Winters with an AR(1) error term; smoothing constants per series by
    day-ahead in-sample error over a small grid."""

    name = "statistical"
    ALPHAS = (0.005, 0.02, 0.08, 0.3)
    SHORT = (0.05, 0.25)
    LONG = (0.05, 0.25)

    def __init__(self, grid: bool = True):
        self.grid = grid

    def _seasons(self, panel: Panel, T: int) -> tuple[int, int | None]:
        short, long = panel.season_short, panel.season_long
        if short > 1:
            return short, (long if T >= 2 * long else None)
        if long > 1 and T >= 2 * long:
            return long, None
        return 1, None

    MAX_HISTORY = 4032  # steps kept (24 weeks hourly): older data no longer moves the state

    def fit(self, panel: Panel) -> Statistical:
        """Choose the smoothing constants per series, then run the chosen filter to the end."""
        self.panel = panel
        cut = max(0, panel.length - self.MAX_HISTORY)
        if cut:  # keep the grid's phase: start on a whole number of long seasons
            season = max(panel.season_long, panel.season_short, 1)
            cut -= cut % season
        y = panel.y[:, cut:]
        self.offset = cut
        S, T = y.shape
        p1, p2 = self._seasons(panel, T)
        self.p1, self.p2 = p1, p2
        combos = [(a, d, w) for a in self.ALPHAS for d in self.SHORT for w in (self.LONG if p2 else (0.0,))]
        if not self.grid:
            combos = [(0.1, 0.25, 0.25 if p2 else 0.0)]
        G = len(combos)
        params = np.array(combos, dtype=np.float64)
        init = self._init(y, p1, p2)
        # holidays and adjusted working days (调休) would bend the seasonal terms: leave them out
        self.special = special_days(panel)[cut:]
        y = np.where(self.special[None, :], np.nan, y)
        if G > 1:
            best = np.zeros(S, dtype=np.int64)
            chunk = max(1, 24_000 // G)  # series per pass: bounds the memory of (series × grid) rows
            for lo in range(0, S, chunk):
                part = np.arange(lo, min(S, lo + chunk))
                rows = np.repeat(part, G)
                prm = np.tile(params, (len(part), 1))
                sse = self._run(y[rows], init_rows(init, rows), prm, p1, p2, want="sse")
                best[part] = np.argmin(sse.reshape(len(part), G), axis=1)
        else:
            best = np.zeros(S, dtype=np.int64)
        self.params = params[best]
        out = self._run(y, init, self.params, p1, p2, want="state")
        self.state = out["state"]
        errors = out["errors"]
        start = min(T - 1, 2 * (p2 or p1))
        e = errors[:, start:]
        with _quiet():
            num = np.nansum(e[:, 1:] * e[:, :-1], axis=1)
            den = np.nansum(e * e, axis=1)
        self.phi = np.clip(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), 0.0, 0.95)
        self.last_error = np.nan_to_num(out["last_error"])
        self.q10, self.q90 = self._spread(y, out, p1, p2)
        return self

    @staticmethod
    def _init(y: np.ndarray, p1: int, p2: int | None) -> dict[str, np.ndarray]:
        """Level and seasonal terms from each series' first two long seasons of data."""
        S, T = y.shape
        top = p2 or p1
        seen = np.isfinite(y)
        first = np.where(seen.any(axis=1), seen.argmax(axis=1), 0)
        n = min(T, 2 * top) if T else 0
        s1 = np.zeros((S, p1))
        s2 = np.zeros((S, p2)) if p2 else np.zeros((S, 1))
        if not n:
            return {"level": np.zeros(S), "s1": s1, "s2": s2}
        idx = np.minimum(first[:, None] + np.arange(n)[None, :], T - 1)
        block = np.take_along_axis(y, idx, axis=1)
        block[idx < first[:, None] + np.arange(n)[None, :]] = np.nan  # ran off the end
        with _quiet():
            level = np.nan_to_num(np.nanmean(block[:, :min(n, top)], axis=1))
            if p1 > 1:
                phase = idx % p1
                for j in range(p1):
                    s1[:, j] = np.nanmean(np.where(phase == j, block, np.nan), axis=1) - level
            s1 = np.nan_to_num(s1)
            if p2:
                phase2 = idx % p2
                for j in range(p2):
                    s2[:, j] = np.nanmean(np.where(phase2 == j, block, np.nan), axis=1) - level - s1[:, j % p1]
        return {"level": level, "s1": s1, "s2": np.nan_to_num(s2)}

    @staticmethod
    def _run(y: np.ndarray, init: dict, params: np.ndarray, p1: int, p2: int | None, want: str) -> dict | np.ndarray:
        """The error-correction recursion over time, all rows at once."""
        R, T = y.shape
        level = init["level"].copy()
        s1 = init["s1"].copy()
        s2 = init["s2"].copy()
        alpha, d1, d2 = params[:, 0], params[:, 1], params[:, 2]
        g1 = d1 * (1 - alpha)
        g2 = d2 * (1 - alpha)
        start = min(T - 1, 2 * (p2 or p1)) if T else 0
        sse = np.zeros(R)
        errors = np.full((R, T), np.nan) if want == "state" else None
        last_error = np.zeros(R)
        # the grid is judged a season ahead (day-ahead for hourly data), the horizon that matters:
        # that forecast of y[t] is the level a season back plus today's seasonal terms
        back = max(p1, 1)
        levels = np.repeat(level[:, None], back, axis=1) if want == "sse" else None
        for t in range(T):
            j1 = t % p1
            j2 = t % p2 if p2 else 0
            seasonal = s1[:, j1] + s2[:, j2]
            obs = y[:, t]
            if levels is not None and t >= start:
                ahead = obs - levels[:, t % back] - seasonal
                sse += np.where(np.isnan(ahead), 0.0, ahead * ahead)
            e = obs - (level + seasonal)
            miss = np.isnan(e)
            e = np.where(miss, 0.0, e)
            level += alpha * e
            s1[:, j1] += g1 * e
            if p2:
                s2[:, j2] += g2 * e
            if levels is not None:
                levels[:, t % back] = level
            if errors is not None:
                errors[:, t] = np.where(miss, np.nan, e)
                last_error = np.where(miss, last_error, e)
        if want == "sse":
            return sse
        return {"state": (level, s1, s2), "errors": errors, "last_error": last_error}

    def _spread(self, y: np.ndarray, out: dict, p1: int, p2: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Quantiles of multi-step errors: re-forecast from origins of the last two weeks."""
        S, T = y.shape
        H = 2 * p1 if p1 > 1 else 14
        lowest = max(2 * (p2 or p1), T - 14 * max(p1, 7))
        first = T - 1 - H if T - 1 - H >= lowest else T - 2
        origins = list(range(first, lowest - 1, -max(p1 // 2, 1)))[:28]
        if not origins:
            e = out["errors"]
            with _quiet():
                return 1.3 * np.nanquantile(e, 0.1, axis=1), 1.3 * np.nanquantile(e, 0.9, axis=1)
        # replay the chosen filter once more and snapshot the state at each origin
        level, s1, s2 = (v.copy() for v in self._init(y, p1, p2).values())
        alpha, d1, d2 = self.params[:, 0], self.params[:, 1], self.params[:, 2]
        g1, g2 = d1 * (1 - alpha), d2 * (1 - alpha)
        wanted = set(origins)
        errs = []
        for t in range(T):
            j1 = t % p1
            j2 = t % p2 if p2 else 0
            e = y[:, t] - (level + s1[:, j1] + s2[:, j2])
            e = np.where(np.isnan(e), 0.0, e)
            level += alpha * e
            s1[:, j1] += g1 * e
            if p2:
                s2[:, j2] += g2 * e
            if t in wanted:
                k = np.arange(1, min(H, T - 1 - t) + 1)
                steps = t + k
                fc = level[:, None] + s1[:, steps % p1] + (s2[:, steps % p2] if p2 else 0.0)
                errs.append(y[:, steps] - fc)
        e = np.concatenate(errs, axis=1)
        with _quiet():
            return np.nanquantile(e, 0.1, axis=1), np.nanquantile(e, 0.9, axis=1)

    def predict(self, horizon: int, future_exog: dict | None = None) -> Forecast:
        """Level + both seasonal terms at each future step + the decaying last error."""
        level, s1, s2 = self.state
        T = self.panel.length - self.offset
        k = np.arange(1, horizon + 1)
        steps = T - 1 + k
        p50 = level[:, None] + s1[:, steps % self.p1]
        if self.p2:
            p50 = p50 + s2[:, steps % self.p2]
        p50 = p50 + self.last_error[:, None] * self.phi[:, None] ** k[None, :]
        q10 = np.nan_to_num(self.q10)[:, None]
        q90 = np.nan_to_num(self.q90)[:, None]
        return _finish(self.panel, self.panel.future_times(horizon), p50 + q10, p50, p50 + q90)


def special_days(panel: Panel) -> np.ndarray:
    """Steps on statutory holidays or on weekends made working days (and weekdays made rest days)."""
    if panel.length == 0 or panel.typical_seconds is None or panel.typical_seconds > 86400:
        return np.zeros(panel.length, dtype=bool)
    cal = calendar_features(panel.times)
    weekday = cal["dow"] < 5
    return (cal["is_holiday"] > 0) | ((cal["is_workday"] > 0) != weekday)


def init_rows(init: dict, rows: np.ndarray) -> dict:
    return {k: v[rows] for k, v in init.items()}


# ------------------------------------------------------------------------------ global GBM

@dataclass
class GBMConfig:
    """LightGBM knobs; `threads` stays at 2 (the machines have two cores)."""

    n_estimators: int = 200
    quantile_estimators: int = 100
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    max_rows: int = 120_000  # (series, origin, horizon) rows sampled for training
    quantile_rows: int = 40_000  # P10/P90 need less detail than P50: trained on a subsample
    objective: str = "l1"  # P50 is the median: robust to spikes, and what MAPE rewards
    threads: int = 2
    seed: int = 0


class GlobalGBM:
    """One LightGBM model over every series of a level, direct for horizons 1..H."""

    name = "global_gbm"
    PHIS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
    RECENT = 3  # hours whose error is carried forward
    CALIBRATION_ROWS = 100_000  # held-out forecasts the intervals and the carry-over are tuned on

    def __init__(self, horizon: int = 48, config: GBMConfig | None = None):
        self.horizon = horizon
        self.config = config or GBMConfig()
        self.boosters: dict[float, object] = {}
        self.offsets = (0.0, 0.0)
        self.phi = 0.0
        self.use_temperature = False
        self.use_classes = False
        self.panel: Panel | None = None
        self.timings: dict[str, float] = {}

    def _params(self, objective: str, alpha: float | None = None) -> dict:
        c = self.config
        p = {"objective": objective, "learning_rate": c.learning_rate, "num_leaves": c.num_leaves,
             "min_data_in_leaf": c.min_data_in_leaf, "feature_fraction": c.feature_fraction,
             "bagging_fraction": c.bagging_fraction, "bagging_freq": 1, "num_threads": c.threads,
             "seed": c.seed, "verbose": -1, "max_bin": 63}
        if alpha is not None:
            p["alpha"] = alpha
        return p

    def _rows(self, panel: Panel, s, o, k, calendar, temperature, prefix=None):
        return origin_features(panel, s, o, k, calendar=calendar,
                               temperature=temperature if self.use_temperature else None,
                               use_classes=self.use_classes, prefix=prefix)

    def _sample(self, S: int, T: int, cut: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(series, origin, horizon) triples whose target falls before `cut`, at most max_rows."""
        H = self.horizon
        first = max(1, min(max(self.m, 2), cut - 2))
        first = max(first, min(self.w, cut // 3))
        origins = np.arange(first, cut - 1)
        if len(origins) == 0:
            return (np.zeros(0, np.int64),) * 3
        per_origin = np.minimum(H, cut - 1 - origins)
        total = int(per_origin.sum()) * S
        if total <= self.config.max_rows:
            o = np.repeat(origins, per_origin)
            k = np.concatenate([np.arange(1, n + 1) for n in per_origin])
            s = np.repeat(np.arange(S), len(o))
            return s, np.tile(o, S), np.tile(k, S)
        n = self.config.max_rows
        s = rng.integers(0, S, n)
        o = rng.choice(origins, n, p=per_origin / per_origin.sum())
        k = 1 + (rng.random(n) * np.minimum(H, cut - 1 - o)).astype(np.int64)
        return s, o, k

    def fit(self, panel: Panel) -> GlobalGBM:
        """Train P50/P10/P90 on all but the last window, then calibrate on that window."""
        lgb = _lightgbm()
        started = time.perf_counter()
        self.panel = panel
        S, T = panel.y.shape
        self.m = max(1, panel.season_short)
        self.w = max(self.m, panel.season_long)
        self.use_temperature = panel.temperature is not None and bool(np.isfinite(panel.temperature).any())
        self.use_classes = bool(panel.classes) and any(c is not None for c in panel.classes)
        # the last ~fifth (one to seven days; up to four weeks of daily data) calibrates the intervals
        lo, hi = (self.m, 7 * self.m) if self.m > 1 else (min(self.horizon, self.w), 4 * self.w)
        hold = int(np.clip(T // 5, lo, hi)) if T > 3 * lo else max(1, T // 5)
        cut = T - hold
        rng = np.random.default_rng(self.config.seed)
        calendar = grid_calendar(panel, self.horizon)
        temperature = temperature_on_grid(panel, self.horizon)
        prefix = _Prefix(panel.y)
        s, o, k = self._sample(S, T, cut, rng)
        rows = self._rows(panel, s, o, k, calendar, temperature, prefix)
        ok = np.isfinite(rows.target)
        X, target, base = rows.X[ok], rows.target[ok], rows.base[ok]
        self.feature_names = rows.names
        self.timings["features"] = time.perf_counter() - started
        if len(target) < 50:
            raise ValueError("too little history to train the global model")
        c = self.config
        # the trees learn the correction to a plain profile forecast (init_score), not the level itself
        data = lgb.Dataset(X, label=target, init_score=base, feature_name=rows.names,
                           params={"max_bin": 63, "verbose": -1})
        if len(target) > c.quantile_rows:
            pick = np.sort(rng.choice(len(target), c.quantile_rows, replace=False))
            qdata = lgb.Dataset(X[pick], label=target[pick], init_score=base[pick], feature_name=rows.names,
                                params={"max_bin": 63, "verbose": -1})
        else:
            qdata = data
        self.boosters = {0.5: lgb.train(self._params(c.objective), data, num_boost_round=c.n_estimators)}
        for q in (0.1, 0.9):
            self.boosters[q] = lgb.train(self._params("quantile", q), qdata, num_boost_round=c.quantile_estimators)
        self.timings["train"] = time.perf_counter() - started - self.timings["features"]
        self._calibrate(panel, cut, hold, calendar, temperature, prefix, rng)
        self.timings["fit"] = time.perf_counter() - started
        return self

    def _raw(self, panel, s, o, k, calendar, temperature, prefix=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised predictions (3, n), the rows' scale and normalised target."""
        rows = self._rows(panel, s, o, k, calendar, temperature, prefix)
        preds = np.stack([self.boosters[q].predict(rows.X, num_threads=self.config.threads) for q in QUANTILES])
        return preds + rows.base[None, :], rows.scale, rows.target

    def _recent_error(self, panel, origin: int, calendar, temperature, prefix, series: np.ndarray) -> np.ndarray:
        """Mean normalised error of the last RECENT steps up to `origin`, forecast from RECENT steps before."""
        r = self.RECENT
        if origin - r < 1:
            return np.zeros(len(series))
        s = np.repeat(series, r)
        o = np.full(len(s), origin - r)
        k = np.tile(np.arange(1, r + 1), len(series))
        preds, scale, _ = self._raw(panel, s, o, k, calendar, temperature, prefix)
        actual = panel.y[s, o + k] / scale
        err = (actual - preds[1]).reshape(len(series), r)
        with _quiet():
            return np.nan_to_num(np.nanmean(err, axis=1))

    def _calibrate(self, panel, cut, hold, calendar, temperature, prefix, rng) -> None:
        """Choose the carry-over of recent error and shift P10/P90 so the held-out window is covered.

        Forecasts are made from origins spread over the held-out window (every third of a day),
        for every horizon whose target is still in it, for as many series as CALIBRATION_ROWS allow.
        """
        S, T = panel.y.shape
        step = max(1, self.m // 3)
        origins = list(range(cut - 1, T - 1, step))
        per_series = sum(min(self.horizon, T - 1 - o) for o in origins)
        n_series = int(np.clip(self.CALIBRATION_ROWS // max(per_series, 1), 1, S))
        series = np.arange(S) if n_series >= S else np.sort(rng.choice(S, n_series, replace=False))
        parts = []
        for origin in origins:
            n = min(self.horizon, T - 1 - origin)
            s = np.repeat(series, n)
            k = np.tile(np.arange(1, n + 1), len(series))
            preds, _scale, target = self._raw(panel, s, np.full(len(s), origin), k, calendar, temperature, prefix)
            recent = np.repeat(self._recent_error(panel, origin, calendar, temperature, prefix, series), n)
            parts.append((preds, target, recent, k))
        preds = np.concatenate([p[0] for p in parts], axis=1)
        target, recent, k = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 3))
        ok = np.isfinite(target) & np.isfinite(preds[1])
        best, best_err = 0.0, np.inf
        for phi in self.PHIS:
            err = np.mean((target[ok] - preds[1][ok] - recent[ok] * phi ** k[ok]) ** 2) if ok.any() else 0.0
            if err < best_err - 1e-12:
                best, best_err = phi, err
        self.phi = best
        shift = recent * best ** k
        lo, hi = preds[0] + shift, preds[2] + shift
        if ok.sum() >= 20:
            self.offsets = (float(np.quantile(lo[ok] - target[ok], 0.9)),
                            float(np.quantile(target[ok] - hi[ok], 0.9)))
        else:
            self.offsets = (0.0, 0.0)

    def predict(self, horizon: int, future_exog: dict | None = None, panel: Panel | None = None) -> Forecast:
        """Forecast the next `horizon` steps after the end of `panel` (default: the training panel)."""
        panel = panel or self.panel
        S, T = panel.y.shape
        future = np.asarray((future_exog or {}).get("temperature")) if (future_exog or {}).get(
            "temperature") is not None else None
        if self.use_temperature:
            hist = panel.temperature[:, :T] if panel.temperature is not None else np.full((S, T), np.nan)
            if future is None:
                grid = temperature_on_grid(panel, horizon) if panel.temperature is not None else None
                future = grid[:, T:] if grid is not None else np.full((S, horizon), np.nan)
                future = np.where(np.isnan(future), persistence_temperature(hist, self.m, horizon), future)
            temperature = np.concatenate([hist, np.broadcast_to(future, (S, horizon))], axis=1)
        else:
            temperature = None
        calendar = grid_calendar(panel, horizon)
        prefix = _Prefix(panel.y)
        series = np.arange(S)
        s = np.repeat(series, horizon)
        k = np.tile(np.arange(1, horizon + 1), S)
        o = np.full(len(s), T - 1)
        preds, scale, _ = self._raw(panel, s, o, k, calendar, temperature, prefix)
        if self.phi > 0:
            recent = np.repeat(self._recent_error(panel, T - 1, calendar, temperature, prefix, series), horizon)
            preds = preds + recent * self.phi ** k
        lo = (preds[0] - self.offsets[0]) * scale
        mid = preds[1] * scale
        hi = (preds[2] + self.offsets[1]) * scale
        shape = (S, horizon)
        lo, mid, hi = lo.reshape(shape), mid.reshape(shape), hi.reshape(shape)
        missing = ~np.isfinite(mid)
        if missing.any():  # no recent data to scale by: fall back to the seasonal lag
            naive = SeasonalNaive().fit(panel).predict(horizon)
            lo, mid, hi = (np.where(missing, b, a) for a, b in ((lo, naive.p10), (mid, naive.p50), (hi, naive.p90)))
        return _finish(panel, panel.future_times(horizon), lo, mid, hi)

    def to_json(self) -> str:
        """The trained model as text (LightGBM model strings and the calibration), to store."""
        return json.dumps({
            "horizon": self.horizon, "phi": self.phi, "offsets": list(self.offsets), "m": self.m, "w": self.w,
            "use_temperature": self.use_temperature, "use_classes": self.use_classes,
            "feature_names": self.feature_names,
            "boosters": {str(q): b.model_to_string() for q, b in self.boosters.items()},
        })

    @classmethod
    def from_json(cls, text: str) -> GlobalGBM:
        """Rebuild a stored model; predict(..., panel=...) then forecasts fresh data."""
        lgb = _lightgbm()
        data = json.loads(text)
        model = cls(horizon=data["horizon"])
        model.phi, model.offsets = data["phi"], tuple(data["offsets"])
        model.m, model.w = data["m"], data["w"]
        model.use_temperature, model.use_classes = data["use_temperature"], data["use_classes"]
        model.feature_names = data["feature_names"]
        model.boosters = {float(q): lgb.Booster(model_str=s) for q, s in data["boosters"].items()}
        return model


def persistence_temperature(history: np.ndarray, per_day: int, horizon: int) -> np.ndarray:
    """A stand-in weather forecast: each future hour gets the mean of the same hour over the last 3 days."""
    S, T = history.shape
    m = max(1, per_day)
    k = np.arange(1, horizon + 1)
    cols = []
    for d in (1, 2, 3):
        idx = T - 1 + k - m * ((k - 1) // m + d)
        ok = (idx >= 0) & (idx < T)
        col = np.full((S, horizon), np.nan)
        col[:, ok] = history[:, idx[ok]]
        cols.append(col)
    with _quiet():
        out = np.nanmean(np.stack(cols), axis=0)
        fallback = np.nanmean(history[:, -m:], axis=1) if T else np.full(S, np.nan)
    return np.where(np.isnan(out), fallback[:, None], out)


MODELS = {"seasonal_naive": SeasonalNaive, "statistical": Statistical, "global_gbm": GlobalGBM}


def make(name: str, horizon: int, **options):
    """A fresh forecaster by name."""
    if name not in MODELS:
        raise KeyError(name)
    if name == "global_gbm":
        return GlobalGBM(horizon=horizon, config=options.get("config"))
    return MODELS[name]()
