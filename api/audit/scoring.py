"""Theft/anomaly score of the marketing audit (营销稽查) over daily consumption, one row per customer.

Features are computed for the whole (customers, days) matrix at once with numpy, so 100,000
customers × 365 days take seconds. Blanks (NaN) are ignored everywhere; negative readings count as
blanks. Two scores:

- unsupervised (no labels, or too few positives): one-sided robust z-scores of the directions
  theft takes — a drop after some day, seasonally adjusted against same-size peers; zero and
  near-zero days and runs; flattened or capped curves (repeated identical readings); a seasonal
  shape unlike the peers'; changed day-to-day variability; blanks — combined into one number;
- supervised (labels 0/1, NaN = unknown): LightGBM on those features plus weekly means normalised by
  the customer's median, cross-fitted: every labelled customer is scored by a model trained on the
  other folds, unlabelled ones by the average of the fold models.

MAP@N (Zheng et al. 2018): rank by score, take the top N; with r true positives among them at
ranks k_1 < … < k_r, MAP@N = (1/r) Σ_i i / k_i (0 when r = 0); averaged over the folds.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import rankdata

LABEL_NAMES = ("flag", "label", "is_theft", "theft", "target")
MIN_POSITIVES = 10  # fewer labelled thieves than this: the supervised model would learn noise
ZERO_KWH = 0.005  # a daily reading below this is a zero day (meters round to 0.01 kWh)
PROFILE_SAMPLE = 3000  # customers per cohort used for the peers' daily profile (a median: stable)
COHORTS = 5  # same-size cohorts (quintiles of the customer's mean use)
MAX_REASONS = 3
GBM_PARAMS = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
    "feature_fraction": 0.5, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "max_bin": 63, "verbose": -1, "deterministic": True, "force_col_wise": True,
    # One thread: on a shared machine OpenMP threads that wait on each other were 6–8× slower.
    "num_threads": 1,
}
GBM_ROUNDS = 300


class InputError(ValueError):
    """A CSV or label vector the score cannot use; the message names the problem."""


# ------------------------------------------------------------------------------ metrics

def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); NaN without both classes."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, float)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((labels == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def map_at(scores: np.ndarray, labels: np.ndarray, n: int) -> float:
    """MAP@N of Zheng et al. 2018: mean over the positives in the top N of the precision at their rank."""
    order = np.argsort(-np.asarray(scores, float), kind="stable")[:n]
    hits = np.asarray(labels)[order] == 1
    if not hits.any():
        return 0.0
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


# ------------------------------------------------------------------------------ features

@dataclass
class Analysis:
    """Everything one pass over the matrix yields: features, indicator z-scores, scores."""

    features: pd.DataFrame
    z: pd.DataFrame
    unsupervised: np.ndarray
    model_inputs: np.ndarray
    cp_day: np.ndarray  # first day (column index) after the most significant drop, -1 if none


def _row_quantiles(sorted_rows: np.ndarray, counts: np.ndarray, ps) -> list[np.ndarray]:
    """Linear-interpolated quantiles of rows sorted with NaN last, each over its `counts` values."""
    out = []
    rows = np.arange(sorted_rows.shape[0])
    top = np.maximum(counts - 1, 0)
    for p in ps:
        pos = p * top
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, top)
        frac = (pos - lo).astype(np.float32)
        value = sorted_rows[rows, lo] * (1 - frac) + sorted_rows[rows, hi] * frac
        out.append(np.where(counts > 0, value, np.nan).astype(np.float32))
    return out


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """Per row, the longest run of consecutive True (runs found on the flattened, padded mask)."""
    n, days = mask.shape
    out = np.zeros(n, np.int64)
    if days == 0 or not mask.any():
        return out
    padded = np.zeros((n, days + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded.ravel())
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    lengths = ends - starts
    rows = starts // (days + 2)
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    out[rows[first]] = np.maximum.reduceat(lengths, first)
    return out


def _block_sums(values: np.ndarray, width: int) -> np.ndarray:
    """Sums over consecutive blocks of `width` columns (the column count is a multiple of width)."""
    starts = np.arange(0, values.shape[1], width)
    return np.add.reduceat(values, starts, axis=1, dtype=np.float64 if values.dtype.kind == "f" else np.int64)


def _nan_mean(values: np.ndarray, axis: int = 1, min_count: int = 1) -> np.ndarray:
    """Mean ignoring NaN, NaN where fewer than min_count values exist (no RuntimeWarning)."""
    ok = np.isfinite(values)
    total = np.where(ok, values, 0).sum(axis=axis, dtype=np.float32 if values.dtype == np.float32 else None)
    count = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_count, total / np.maximum(count, 1), np.nan).astype(values.dtype)


def _ratio(a, b):
    """a / b with NaN where b is not positive."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _masked_corr(a: np.ndarray, b: np.ndarray, min_count: int) -> np.ndarray:
    """Row-wise Pearson correlation over the columns where both are finite."""
    ok = np.isfinite(a) & np.isfinite(b)
    count = ok.sum(axis=1)
    a0, b0 = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = a0.sum(1) / count
        mb = b0.sum(1) / count
        da = np.where(ok, a0 - ma[:, None], 0.0)
        db = np.where(ok, b0 - mb[:, None], 0.0)
        r = (da * db).sum(1) / np.sqrt((da * da).sum(1) * (db * db).sum(1))
    return np.where(count >= min_count, r, np.nan)


def _lag_autocorr(centred: np.ndarray, lag: int, norm: np.ndarray) -> np.ndarray:
    """Row-wise autocorrelation at `lag` days of a series centred on its mean, blanks set to 0."""
    if centred.shape[1] <= lag + 2:
        return np.full(centred.shape[0], np.nan)
    num = np.einsum("ij,ij->i", centred[:, lag:], centred[:, :-lag], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, num / norm, np.nan)


def _cohort_profiles(u: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Per cohort, the median over (a fixed sample of) its customers of use / own mean, per day."""
    n_days = u.shape[1]
    profiles = np.ones((COHORTS, n_days), np.float32)
    rng = np.random.default_rng(0)
    for c in range(COHORTS):
        rows = np.flatnonzero(cohort == c)
        if len(rows) == 0:
            continue
        if len(rows) > PROFILE_SAMPLE:
            rows = np.sort(rng.choice(rows, PROFILE_SAMPLE, replace=False))
        block = u[rows].T  # (days, customers)
        counts = np.isfinite(block).sum(1)
        median = _row_quantiles(np.sort(block, axis=1), counts, (0.5,))[0]
        median = np.where(counts >= min(10, len(rows)), median, np.nan)
        profiles[c] = np.clip(np.where(np.isfinite(median), median, 1.0), 0.05, 20.0)
    return profiles


def compute_features(daily_kwh: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features per customer, the weekly-means block for the model, and the day after the main drop."""
    x = np.asarray(daily_kwh, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"需要二维矩阵（用户 × 天）/ need a 2-D (customers, days) matrix, got {x.shape}")
    # Negative readings and ±inf are blanks; rows contiguous, as every pass below runs along them.
    x = np.ascontiguousarray(np.where(x >= 0, x, np.nan), dtype=np.float32)
    n, days = x.shape
    valid = np.isfinite(x)
    n_valid = valid.sum(1)
    xs = np.sort(x, axis=1)
    q05, q10, q25, q50, q75, q90, q95, qmax = _row_quantiles(
        xs, n_valid, (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0))
    del xs
    cap = np.where(q95 > 0, 3 * q95, np.inf).astype(np.float32)
    xw = np.minimum(x, cap[:, None])  # accumulated readings after a gap do not dominate the means
    xw0 = np.where(valid, xw, np.float32(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_valid > 0, xw0.sum(1) / np.maximum(n_valid, 1), np.nan).astype(np.float32)
        mean_sq = np.einsum("ij,ij->i", xw0, xw0, dtype=np.float64) / np.maximum(n_valid, 1)
    del xw0
    f: dict[str, np.ndarray] = {}
    f["log_mean"] = np.log1p(mean)
    f["log_median"] = np.log1p(q50)
    f["missing_share"] = 1 - n_valid / max(days, 1)
    f["missing_run"] = _longest_run(~valid) / max(days, 1)
    first_valid = np.where(n_valid > 0, valid.argmax(1), days)
    last_valid = np.where(n_valid > 0, days - 1 - valid[:, ::-1].argmax(1), -1)
    f["leading_missing"] = first_valid / max(days, 1)
    f["trailing_missing"] = (days - 1 - last_valid) / max(days, 1)

    zero = valid & (x < ZERO_KWH)
    near_limit = np.maximum(0.1 * q75, ZERO_KWH)
    near = valid & (x < near_limit[:, None])
    f["zero_share"] = _ratio(zero.sum(1), n_valid)
    f["near_zero_share"] = _ratio(near.sum(1), n_valid)
    f["zero_run_days"] = _longest_run(zero)
    f["zero_run"] = f["zero_run_days"] / max(days, 1)
    pair_ok = valid[:, 1:] & valid[:, :-1]
    n_pairs = pair_ok.sum(1)
    same = pair_ok & (x[:, 1:] == x[:, :-1]) & (x[:, 1:] >= ZERO_KWH)
    f["repeat_share"] = _ratio(same.sum(1), n_pairs)
    del zero, near, same

    with np.errstate(invalid="ignore", divide="ignore"):
        f["cv"] = _ratio(np.sqrt(np.maximum(mean_sq - mean.astype(np.float64) ** 2, 0)), mean)
        step = np.abs(np.diff(xw, axis=1))
        f["roughness"] = _ratio(_nan_mean(step), mean)
        third = days // 3
        if third >= 14:  # day-to-day variability, last third against the first
            late = _ratio(_nan_mean(step[:, 1 - third:], min_count=7), _nan_mean(xw[:, -third:], min_count=7))
            early = _ratio(_nan_mean(step[:, :third - 1], min_count=7), _nan_mean(xw[:, :third], min_count=7))
            f["var_change"] = np.log(np.where(late > 0, late, np.nan) / np.where(early > 0, early, np.nan))
        else:
            f["var_change"] = np.full(n, np.nan)
        del step
        f["q10_q50"] = _ratio(q10, q50)
        f["q25_q75"] = _ratio(q25, q75)
        f["q90_q50"] = _ratio(q90, q50)
        f["q05_mean"] = _ratio(q05, mean)
        f["spike_ratio"] = _ratio(qmax, q50)
        f["spike_share"] = _ratio((valid & (x > 3 * q75[:, None]) & (x > ZERO_KWH)).sum(1), n_valid)
        f["at_max_share"] = _ratio((valid & (x >= 0.995 * qmax[:, None]) & (x >= ZERO_KWH)).sum(1), n_valid)

    # Same-size peers: quintiles of the mean; the peers' median daily profile removes the season.
    order_key = np.where(np.isfinite(mean) & (mean > 0), np.log(np.maximum(mean, 1e-9)), -np.inf)
    ranks = rankdata(order_key, method="ordinal") - 1
    cohort = np.minimum((ranks * COHORTS) // max(n, 1), COHORTS - 1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(mean[:, None] > 0, xw / mean[:, None], np.nan).astype(np.float32)
    profiles = _cohort_profiles(u, cohort)
    y = (u / profiles[cohort]).astype(np.float32)  # ≈ 1 for a customer who follows the peers

    # Weekly blocks aligned on the last day, so the latest week is complete.
    offset = days % 7
    n_weeks = days // 7
    if n_weeks:
        y_valid = np.isfinite(y[:, offset:])
        week_count = _block_sums(y_valid.view(np.int8), 7)
        week_sum = _block_sums(np.where(y_valid, y[:, offset:], np.float32(0)), 7)
        per_day = np.maximum(week_count, 1)
        week_raw = _block_sums(np.where(y_valid, xw[:, offset:], np.float32(0)), 7) / per_day
        week_raw[week_count == 0] = np.nan
        week_shape = _block_sums(np.where(y_valid, u[:, offset:], np.float32(0)), 7) / per_day
        week_shape[week_count < 3] = np.nan
        peer_shape = profiles[:, offset:].reshape(COHORTS, n_weeks, 7).mean(2)
        week_missing = 1 - week_count / 7
        del y_valid
    else:
        week_count = np.zeros((n, 0), np.int64)
        week_sum = week_raw = week_shape = week_missing = np.zeros((n, 0))
        peer_shape = np.zeros((COHORTS, 0))

    # The most significant drop between two stretches of at least four weeks (a CUSUM-like t).
    sd = 0.886 * _nan_mean(np.abs(np.diff(y, axis=1)))  # noise from day-to-day steps, blind to a level shift
    sd = np.maximum(np.nan_to_num(sd, nan=1.0), 0.05)
    cp_t = cp_t_gated = np.full(n, np.nan)
    cp_drop = cp_drop_gated = cp_drop_start = np.full(n, np.nan)
    cp_pos = np.full(n, np.nan)
    cp_day = np.full(n, -1, np.int64)
    if n_weeks >= 8:
        cs = np.cumsum(week_sum, axis=1)
        cc = np.cumsum(week_count, axis=1)
        splits = np.arange(4, n_weeks - 3)
        before_n = cc[:, splits - 1]
        after_n = cc[:, -1:] - before_n
        with np.errstate(invalid="ignore", divide="ignore"):
            before = cs[:, splits - 1] / before_n
            after = (cs[:, -1:] - cs[:, splits - 1]) / after_n
            t = (before - after) / sd[:, None] * np.sqrt(before_n * after_n / (before_n + after_n))
        t = np.where((before_n >= 14) & (after_n >= 14) & np.isfinite(t), t, -np.inf)
        best = t.argmax(1)
        rows = np.arange(n)
        found = np.isfinite(t[rows, best])
        cp_t = np.where(found, t[rows, best], np.nan)
        cp_drop = np.where(found, 1 - _ratio(after[rows, best], before[rows, best]), np.nan)
        # Against the first weeks too: a season that ends (back to where it began) is not a cut.
        head = np.minimum(splits[best], 8) - 1
        start = _ratio(cs[rows, head], cc[rows, head])
        cp_drop_start = np.where(found, 1 - _ratio(after[rows, best], start), np.nan)
        share = np.clip(_ratio(np.maximum(cp_drop_start, 0), np.maximum(cp_drop, 1e-9)), 0, 1)
        cp_drop_gated = np.where(np.isfinite(share), np.minimum(cp_drop, cp_drop_start), cp_drop)
        cp_t_gated = np.where(np.isfinite(share), cp_t * share, cp_t)
        cp_pos = np.where(found, splits[best] / n_weeks, np.nan)
        cp_day = np.where(found, offset + 7 * splits[best], -1)
    f["cp_t_raw"] = cp_t
    f["cp_drop_raw"] = np.clip(cp_drop, -5, 1)
    f["cp_drop_start"] = np.clip(cp_drop_start, -5, 1)
    f["cp_t"] = cp_t_gated
    f["cp_drop"] = np.clip(cp_drop_gated, -5, 1)
    f["cp_pos"] = cp_pos

    def tail_drop(k: int) -> np.ndarray:
        """Seasonally adjusted use of the last k days against all days before them."""
        if days < k + 28:
            return np.full(n, np.nan)
        late = _nan_mean(y[:, -k:], min_count=max(5, k // 4))
        early = _nan_mean(y[:, :-k], min_count=14)
        return np.clip(1 - _ratio(late, early), -5, 1)

    # Last 90 days against customers who were the same size in the first 90 (raw kWh, no profile).
    if days >= 120:
        span = 90 if days >= 180 else days // 3
        early_level = _nan_mean(xw[:, :span], min_count=14)
        late_level = _nan_mean(xw[:, -span:], min_count=14)
        key = np.where(np.isfinite(early_level), early_level, -1.0)
        early_cohort = np.minimum((rankdata(key, method="ordinal") - 1) * COHORTS // max(n, 1), COHORTS - 1)
        peer_late = np.full(n, np.nan)
        for c in range(COHORTS):
            members = (early_cohort == c) & np.isfinite(late_level)
            if members.any():
                peer_late[early_cohort == c] = np.median(late_level[members])
        f["peer_level_ratio"] = np.log(np.clip(_ratio(late_level, peer_late), 1e-3, 1e3))
    else:
        f["peer_level_ratio"] = np.full(n, np.nan)
    f["drop_30"] = tail_drop(30)
    f["drop_90"] = tail_drop(90)
    if days >= 365 + 90:
        late = _nan_mean(y[:, -90:], min_count=20)
        year_before = _nan_mean(y[:, -455:-365], min_count=20)
        f["yoy_drop"] = np.clip(1 - _ratio(late, year_before), -5, 1)
    else:
        f["yoy_drop"] = np.full(n, np.nan)

    f["peer_corr"] = _masked_corr(week_shape, peer_shape[cohort], min_count=8)
    # Weekday shape (columns taken as consecutive days) against the cohort's.
    if days >= 28:
        cut = days - days % 7
        own = _nan_mean(u[:, days - cut:].reshape(n, cut // 7, 7), axis=1, min_count=2)
        peer = np.stack([np.nanmedian(own[cohort == c], axis=0) if (cohort == c).any() else np.ones(7)
                         for c in range(COHORTS)])
        f["weekday_corr"] = _masked_corr(own, peer[cohort], min_count=5)
    else:
        f["weekday_corr"] = np.full(n, np.nan)
    y_valid = np.isfinite(y)
    y_mean = _nan_mean(y)
    centred = np.where(y_valid, y - y_mean[:, None], np.float32(0))
    norm = np.einsum("ij,ij->i", centred, centred, dtype=np.float64)
    f["autocorr_1"] = _lag_autocorr(centred, 1, norm)
    f["autocorr_7"] = _lag_autocorr(centred, 7, norm)
    del centred, y_valid
    f["cohort"] = cohort.astype(np.float32)

    features = pd.DataFrame({k: np.asarray(v, np.float64) for k, v in f.items()})
    level = np.where(q50 > 0, q50, mean)
    weekly = _ratio(week_raw, level[:, None]) if n_weeks else week_raw
    model_block = np.hstack([weekly, _monthly(week_missing)]).astype(np.float32)
    return features, model_block, cp_day


def _monthly(week_missing: np.ndarray) -> np.ndarray:
    """Share of blanks per four-week block (the pattern of gaps is itself informative)."""
    n, w = week_missing.shape
    if w < 4:
        return week_missing
    cut = w - w % 4
    return week_missing[:, w - cut:].reshape(n, cut // 4, 4).mean(2)


# ------------------------------------------------------------------------------ unsupervised

# name → (weight, sign: +1 when high is suspicious, −1 when low is, floor of the robust scale)
INDICATORS = {
    "cp_t": (1.0, +1, 1.0),
    "cp_drop": (1.0, +1, 0.08),
    "drop_30": (1.0, +1, 0.1),
    "yoy_drop": (1.0, +1, 0.1),
    "zero_share": (1.0, +1, 0.03),
    "zero_run": (1.0, +1, 0.02),
    "near_zero_share": (0.5, +1, 0.03),
    "repeat_share": (1.0, +1, 0.03),
    "peer_corr": (0.7, -1, 0.1),
    "weekday_corr": (0.3, -1, 0.2),
    "var_change": (0.5, 0, 0.2),
    "missing_share": (0.5, +1, 0.05),
}


def indicator_z(features: pd.DataFrame) -> pd.DataFrame:
    """Robust z of each indicator in its suspicious direction (median/MAD, scale floored; NaN → 0)."""
    out = {}
    for name, (_w, sign, floor) in INDICATORS.items():
        v = features[name].to_numpy(np.float64)
        ok = np.isfinite(v)
        if not ok.any():
            out[name] = np.zeros(len(v))
            continue
        med = np.median(v[ok])
        scale = max(1.4826 * np.median(np.abs(v[ok] - med)), floor)
        z = (v - med) / scale
        z = np.abs(z) if sign == 0 else sign * z
        out[name] = np.clip(np.where(ok, z, 0.0), -10, 10)
    return pd.DataFrame(out)


def combine(z: pd.DataFrame) -> np.ndarray:
    """Weighted sum of squared soft-positive parts, squashed into [0, 1); strong single signals count."""
    raw = np.zeros(len(z))
    for name, (weight, _s, _f) in INDICATORS.items():
        soft = np.logaddexp(0, z[name].to_numpy() - 2.0)  # ≈ 0 below z = 2, ≈ z − 2 above
        raw += weight * soft ** 2
    return 1 - np.exp(-raw / 20.0)


# ------------------------------------------------------------------------------ supervised

def _design(analysis_features: pd.DataFrame, model_block: np.ndarray, unsupervised: np.ndarray) -> np.ndarray:
    """The model's inputs: the features, the weekly shape and gaps, and the unsupervised score."""
    return np.hstack([analysis_features.to_numpy(np.float32), model_block,
                      unsupervised[:, None].astype(np.float32)])


def analyse(daily_kwh: np.ndarray) -> Analysis:
    """Features, indicator z-scores and the unsupervised score of every customer."""
    features, block, cp_day = compute_features(daily_kwh)
    z = indicator_z(features)
    unsupervised = combine(z)
    return Analysis(features, z, unsupervised, _design(features, block, unsupervised), cp_day)


def _fit(inputs: np.ndarray, target: np.ndarray, seed: int) -> lgb.Booster:
    """One LightGBM model; positives weighted by √(negatives/positives), a middle way for ranking."""
    positives = max(float(target.sum()), 1.0)
    params = {**GBM_PARAMS, "seed": seed,
              "scale_pos_weight": math.sqrt(max((len(target) - positives) / positives, 1.0)),
              "min_data_in_leaf": int(min(20, max(5, len(target) // 50)))}
    data = lgb.Dataset(inputs, label=target, free_raw_data=True)
    return lgb.train(params, data, num_boost_round=GBM_ROUNDS)


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per labelled customer (−1 for unknown), positives and negatives dealt evenly."""
    rng = np.random.default_rng(seed)
    fold = np.full(len(labels), -1, np.int64)
    for cls in (0, 1):
        rows = np.flatnonzero(labels == cls)
        rows = rows[rng.permutation(len(rows))]
        fold[rows] = (np.arange(len(rows)) + rng.integers(folds)) % folds
    return fold


def _clean_labels(labels, n: int) -> np.ndarray:
    """Labels as floats, anything but 0/1 unknown (NaN); one per customer or InputError."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if len(y) != n:
        raise InputError(f"标签数 {len(y)} 与用户数 {n} 不符 / {len(y)} labels for {n} customers")
    return np.where(np.isin(y, (0, 1)), y, np.nan)


def cross_fit(inputs: np.ndarray, labels: np.ndarray, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities: no labelled customer is scored by a model that saw its label."""
    known = np.isfinite(labels)
    positives = int((labels[known] == 1).sum())
    k = max(2, min(folds, positives, int((labels[known] == 0).sum())))
    fold = stratified_folds(labels, k, seed)
    out = np.zeros(len(labels))
    unknown = ~known
    for j in range(k):
        train = known & (fold != j)
        model = _fit(inputs[train], labels[train], seed + j)
        test = fold == j
        out[test] = model.predict(inputs[test])
        if unknown.any():
            out[unknown] += model.predict(inputs[unknown]) / k
    return out


def _enough_labels(labels: np.ndarray | None, n: int) -> np.ndarray | None:
    """The cleaned labels when a supervised model can learn from them, else None."""
    if labels is None:
        return None
    y = _clean_labels(labels, n)
    if (y == 1).sum() < MIN_POSITIVES or (y == 0).sum() < MIN_POSITIVES:
        return None
    return y


def _scores(analysis: Analysis, labels: np.ndarray | None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The score to rank by and which kind it is ("supervised" or "unsupervised")."""
    y = _enough_labels(labels, len(analysis.unsupervised))
    if y is None:
        return analysis.unsupervised, "unsupervised"
    return cross_fit(analysis.model_inputs, y, seed=seed), "supervised"


def score_matrix(daily_kwh: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Score in [0, 1] per customer, higher = more suspicious; supervised (cross-fitted) when labels allow."""
    analysis = analyse(daily_kwh)
    return _scores(analysis, labels)[0]


def evaluate(daily_kwh, labels, *, folds: int = 5, seed: int = 0) -> dict:
    """Stratified k-fold of the supervised score; AUC and MAP@100/200 averaged over folds, baseline too."""
    started = time.perf_counter()
    x = np.asarray(daily_kwh, dtype=np.float32)
    y = _clean_labels(labels, x.shape[0])
    known = np.isfinite(y)
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    if folds < 2:
        raise InputError("--folds 至少为 2 / --folds must be at least 2")
    if positives < folds or negatives < folds:
        raise InputError(f"标签不足：{positives} 个正例、{negatives} 个负例，{folds} 折交叉验证每折至少各需 1 个 / "
                         f"not enough labels: {positives} positives, {negatives} negatives for {folds} folds")
    analysis = analyse(x)
    fold = stratified_folds(y, folds, seed)
    per_fold, oof = [], np.full(len(y), np.nan)
    for j in range(folds):
        train, test = known & (fold != j), fold == j
        model = _fit(analysis.model_inputs[train], y[train], seed + j)
        oof[test] = model.predict(analysis.model_inputs[test])
        per_fold.append({"supervised": _metrics(oof[test], y[test]),
                         "unsupervised": _metrics(analysis.unsupervised[test], y[test])})

    def mean_of(kind: str, key: str) -> float:
        """A metric averaged over the folds, as the literature reports it."""
        return round(float(np.mean([p[kind][key] for p in per_fold])), 4)

    keys = ("auc", "map@100", "map@200")
    return {
        **{k: mean_of("supervised", k) for k in keys},
        "auc_pooled": round(auc(oof[known], y[known]), 4),
        "unsupervised": {k: mean_of("unsupervised", k) for k in keys},
        "folds": folds, "seed": seed, "positives": positives, "negatives": negatives,
        "customers": len(y), "days": int(x.shape[1]),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _metrics(scores: np.ndarray, labels: np.ndarray) -> dict:
    """AUC, MAP@100 and MAP@200 of one fold."""
    return {"auc": auc(scores, labels), "map@100": map_at(scores, labels, 100),
            "map@200": map_at(scores, labels, 200)}


# ------------------------------------------------------------------------------ reasons

def _pct(v: float) -> int:
    """A share as a whole percentage for the sentences."""
    return round(100 * v)


# indicator → (least value worth saying, wording), most specific first
REASON_TEXT = {
    "cp_drop": (0.2, lambda v, when: f"{when}起用电较此前下降{_pct(v)}%"),
    "drop_30": (0.2, lambda v, _w: f"近30天用电较前期下降{_pct(v)}%"),
    "yoy_drop": (0.2, lambda v, _w: f"近90天用电较去年同期下降{_pct(v)}%"),
    "zero_share": (0.05, lambda v, _w: f"零电量天数占比{_pct(v)}%"),
    "zero_run": (0.0, None),  # worded from zero_run_days below
    "repeat_share": (0.05, lambda v, _w: f"{_pct(v)}%的日电量与前一天完全相同（曲线被拉平）"),
    "var_change": (None, lambda v, _w: f"近期日用电波动为前期的{math.exp(v):.1f}倍"),
    "near_zero_share": (0.05, lambda v, _w: f"近零电量天数占比{_pct(v)}%"),
    "peer_corr": (None, lambda v, _w: f"用电季节形态与同类用户不符（相关系数{v:.2f}）"),
    "weekday_corr": (None, lambda v, _w: f"周内用电规律与同类用户不符（相关系数{v:.2f}）"),
    "missing_share": (0.05, lambda v, _w: f"缺失数据占比{_pct(v)}%"),
}
REASON_Z = 3.0  # an indicator is worth a sentence when it is this far out in its suspicious direction
REASON_SURE_Z = 6.0  # beyond this every indicator is plainly out; the more specific sentence goes first


def reasons(analysis: Analysis, dates: list[str] | None = None) -> list[list[str]]:
    """Short Chinese sentences per customer, strongest indicator first (at most three)."""
    z = analysis.z
    names = list(REASON_TEXT)  # in order of specificity
    zm = z[names].to_numpy()
    strong = np.argwhere(zm >= REASON_Z)
    feats = analysis.features
    values = {n: feats[n].to_numpy() for n in names}
    run_days = feats["zero_run_days"].to_numpy()
    out: list[list[tuple[float, str]]] = [[] for _ in range(len(z))]
    for row, col in strong:
        name = names[col]
        value = values[name][row]
        minimum, word = REASON_TEXT[name]
        if name == "zero_run":
            if run_days[row] >= 3:
                out[row].append((zm[row, col], f"最长连续{int(run_days[row])}天零电量"))
            continue
        if minimum is not None and not (value >= minimum):
            continue
        if name == "cp_drop":
            day = int(analysis.cp_day[row])
            when = dates[day] if dates is not None and 0 <= day < len(dates) else f"第{day + 1}天"
            out[row].append((zm[row, col], word(value, when)))
        else:
            out[row].append((zm[row, col], word(value, None)))
    result = []
    for items in out:
        items.sort(key=lambda item: -min(item[0], REASON_SURE_Z))  # stable: specificity breaks ties
        texts = list(dict.fromkeys(text for _z, text in items))[:MAX_REASONS]
        result.append(texts or ["各项指标未见明显异常"])
    return result


# ------------------------------------------------------------------------------ CSV

_YMD = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]0{1,2}:00(?::00(?:\.0+)?)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]0{1,2}:00(?::00)?)?$")


def _valid_date(y: int, m: int, d: int) -> date | None:
    """The date, or None for impossible ones (2014/2/30) so such a header is not a day."""
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date_headers(names: list[str]) -> dict[str, date]:
    """Header → date for the headers that are dates (2014/1/1, 2014-01-01, 20140101, 1/31/2014 …)."""
    out: dict[str, date] = {}
    day_first_candidates = []
    for name in names:
        text = str(name).strip()
        if m := _YMD.match(text):
            if parsed := _valid_date(int(m[1]), int(m[2]), int(m[3])):
                out[name] = parsed
        elif m := _COMPACT.match(text):
            if 1900 <= int(m[1]) <= 2200 and (parsed := _valid_date(int(m[1]), int(m[2]), int(m[3]))):
                out[name] = parsed
        elif m := _DMY.match(text):
            day_first_candidates.append((name, int(m[1]), int(m[2]), int(m[3])))
    day_first = any(a > 12 for _n, a, _b, _y in day_first_candidates)
    for name, a, b, y in day_first_candidates:
        parsed = _valid_date(y, b, a) if day_first else _valid_date(y, a, b)
        if parsed:
            out[name] = parsed
    return out


def _say(message: str) -> None:
    """Warnings go to stderr: stdout carries only the JSON."""
    print(message, file=sys.stderr)


def _read(path: Path, **kwargs) -> pd.DataFrame:
    """read_csv as UTF-8 (with or without BOM), else GB18030 as Chinese Excel exports are."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="gb18030", **kwargs)


def read_wide_csv(path, *, warn=_say) -> tuple[pd.DataFrame, str, str | None]:
    """A wide CSV as (frame with id, label and one float32 column per day in date order, id col, label col).

    Date headers are parsed and sorted; days missing between the first and last date become blank
    columns; non-numeric cells become blanks (counted); duplicated ids keep their first row.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"文件不存在 / no such file: {path}")
    try:
        header = list(_read(path, nrows=0).columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"无法读取 CSV / cannot read the CSV {path}: {exc}") from exc
    dates = parse_date_headers([str(h) for h in header])
    if not dates:
        raise InputError(f"没有日期列（如 2014/1/1、2014-01-01、20140101）/ no date columns in {path}; "
                         f"headers start {header[:5]}")
    others = [h for h in header if h not in dates]
    label_col = next((h for h in others if str(h).strip().lower() in LABEL_NAMES), None)
    id_candidates = [h for h in others if h != label_col]
    if not id_candidates:
        raise InputError(f"没有用户编号列（首个非日期、非标签列）/ no id column in {path}")
    id_col = id_candidates[0]
    ignored = id_candidates[1:]
    if ignored:
        warn(f"warning: ignoring {len(ignored)} column(s) that are neither id, label nor date: "
             f"{[str(c) for c in ignored[:5]]}")
    usecols = [id_col] + ([label_col] if label_col is not None else []) + list(dates)
    fixed = {id_col: str} | ({label_col: str} if label_col is not None else {})
    try:
        try:
            raw = _read(path, usecols=usecols, dtype=fixed | {c: np.float32 for c in dates},
                        keep_default_na=True, na_filter=True)
            bad = 0
        except ValueError:  # some cell is not a number: read again and turn those into blanks
            raw = _read(path, usecols=usecols, dtype=fixed, low_memory=False)
            bad = 0
            for c in dates:
                if not pd.api.types.is_numeric_dtype(raw[c]):
                    text = raw[c].astype("string").str.strip().replace("", pd.NA)
                    raw[c] = pd.to_numeric(text, errors="coerce")
                    bad += int(text.notna().sum() - raw[c].notna().sum())
    except (pd.errors.ParserError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"无法读取 CSV / cannot read the CSV {path}: {exc}") from exc
    if bad:
        warn(f"warning: {bad} non-numeric cell(s) treated as blank")
    if raw.empty:
        raise InputError(f"CSV 没有数据行 / no data rows in {path}")
    ids = raw[id_col].astype("string").str.strip()
    if ids.isna().any():
        warn(f"warning: {int(ids.isna().sum())} row(s) without an id dropped")
    keep = ids.notna() & ~ids.duplicated(keep="first")
    duplicates = int((ids.notna() & ids.duplicated(keep="first")).sum())
    if duplicates:
        warn(f"warning: {duplicates} duplicated id(s); the first row of each is kept")
    raw = raw.loc[keep.to_numpy()]
    ordered = sorted(dates, key=lambda c: dates[c])
    first, last = dates[ordered[0]], dates[ordered[-1]]
    span = (last - first).days + 1
    if span > 3 * len(ordered) + 31:
        raise InputError(f"日期列过于稀疏：{len(ordered)} 列跨 {span} 天 / date columns too sparse: "
                         f"{len(ordered)} columns over {span} days")
    grid = np.full((len(raw), span), np.nan, np.float32)
    seen: set[int] = set()
    repeated = 0
    for c in ordered:
        k = (dates[c] - first).days
        if k in seen:
            repeated += 1
            continue
        seen.add(k)
        grid[:, k] = raw[c].to_numpy(np.float32, na_value=np.nan)
    if repeated:
        warn(f"warning: {repeated} repeated date column(s); the first of each is kept")
    if span > len(seen):
        warn(f"warning: {span - len(seen)} day(s) without a column between {first} and {last} left blank")
    day_names = [(first + timedelta(days=k)).isoformat() for k in range(span)]
    head = pd.DataFrame({id_col: ids[keep].to_numpy()})
    if label_col is not None:
        labels = pd.to_numeric(raw[label_col], errors="coerce").to_numpy(np.float64)
        odd = np.isfinite(labels) & ~np.isin(labels, (0, 1))
        if odd.any():
            warn(f"warning: {int(odd.sum())} label(s) other than 0/1 treated as unknown")
        head[label_col] = np.where(odd, np.nan, labels)
    frame = pd.concat([head, pd.DataFrame(grid, columns=day_names)], axis=1)
    return frame, str(id_col), (str(label_col) if label_col is not None else None)


def _frame_matrix(frame: pd.DataFrame, id_column: str,
                  label_column: str | None) -> tuple[np.ndarray, list[str]]:
    """The day columns of a frame in date order as a float32 matrix, and their ISO dates."""
    others = [c for c in frame.columns if c not in (id_column, label_column)]
    dates = parse_date_headers([str(c) for c in others])
    columns = sorted((c for c in others if str(c) in dates), key=lambda c: dates[str(c)])
    if not columns:
        raise InputError("没有日期列 / no date columns in the frame")
    days = frame[columns]
    if not all(pd.api.types.is_numeric_dtype(t) for t in days.dtypes):
        days = days.apply(pd.to_numeric, errors="coerce")
    matrix = days.to_numpy(np.float32, na_value=np.nan)
    return matrix, [dates[str(c)].isoformat() for c in columns]


def score_frame(frame: pd.DataFrame, *, id_column: str, label_column: str | None) -> pd.DataFrame:
    """Ranked customers: customer_id, score, rank (1 = most suspicious), label, reasons."""
    matrix, dates = _frame_matrix(frame, id_column, label_column)
    labels = None
    if label_column is not None:
        labels = pd.to_numeric(frame[label_column], errors="coerce").to_numpy(np.float64)
    analysis = analyse(matrix)
    scores, mode = _scores(analysis, labels)
    out = pd.DataFrame({"customer_id": frame[id_column].astype(str).to_numpy(), "score": scores,
                        "label": labels if labels is not None else np.nan,
                        "reasons": reasons(analysis, dates)})
    out = out.iloc[np.argsort(-scores, kind="stable")].reset_index(drop=True)
    out.insert(2, "rank", np.arange(1, len(out) + 1))
    out.attrs["mode"] = mode
    return out


# ------------------------------------------------------------------------------ commands

def _fail(message: str) -> int:
    """Say what is wrong (Chinese and English, as the other commands do) and exit 2."""
    print(f"错误 / error: {message}", file=sys.stderr)
    return 2


def score_command(args: argparse.Namespace) -> int:
    """Read the CSV, score every customer, print the ranked JSON list."""
    started = time.perf_counter()
    try:
        frame, id_col, label_col = read_wide_csv(args.csv)
        ranked = score_frame(frame, id_column=id_col, label_column=label_col)
    except InputError as exc:
        return _fail(str(exc))
    if args.top is not None:
        ranked = ranked.head(max(args.top, 0))
    rows = []
    for rec in ranked.itertuples(index=False):
        row = {"customer_id": rec.customer_id, "score": round(float(rec.score), 6), "rank": int(rec.rank)}
        if label_col is not None:
            row["label"] = None if not math.isfinite(rec.label) else int(rec.label)
        row["reasons"] = rec.reasons
        rows.append(row)
    json.dump(rows, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    _say(f"scored {len(frame)} customers × {frame.shape[1] - 1 - (label_col is not None)} days "
         f"({ranked.attrs.get('mode')}) in {time.perf_counter() - started:.1f} s")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """Read the labelled CSV, cross-validate, print the metrics as one JSON object."""
    try:
        frame, id_col, label_col = read_wide_csv(args.csv)
        if label_col is None:
            return _fail(f"{args.csv} 没有标签列（FLAG 或 label，取值 0/1），无法评估 / "
                         "no label column (FLAG or label, 0/1): nothing to evaluate against")
        matrix, _dates = _frame_matrix(frame, id_col, label_col)
        result = evaluate(matrix, frame[label_col].to_numpy(np.float64), folds=args.folds, seed=args.seed)
    except InputError as exc:
        return _fail(str(exc))
    print(json.dumps(result, ensure_ascii=False))
    return 0


MAP_HELP = ("MAP@N (Zheng et al. 2018): rank a fold by score; with r true positives in the top N at ranks "
            "k_1<…<k_r, MAP@N = (1/r)·Σ i/k_i (0 if r = 0); averaged over the folds")
CSV_HELP = ("wide CSV, one row per customer: an id column (first non-date, non-label column), an optional "
            "0/1 FLAG/label column, one column per day (2014/1/1, 2014-01-01, 20140101, any order); "
            "blanks allowed")


def add_score_arguments(parser: argparse.ArgumentParser) -> None:
    """`score --csv FILE [--top N]`."""
    parser.description = ("Rank customers by theft/anomaly score (higher = more suspicious). Unsupervised "
                          "without labels; with labels, LightGBM with out-of-fold predictions. Prints a "
                          "JSON list of {customer_id, score, rank, label?, reasons}.")
    parser.add_argument("--csv", required=True, help=CSV_HELP)
    parser.add_argument("--top", type=int, default=None, help="print only the N most suspicious customers")
    parser.set_defaults(run=score_command)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """`evaluate --csv FILE [--folds 5] [--seed 0]`."""
    parser.description = ("Stratified k-fold cross-validation of the supervised score on a labelled CSV; "
                          "prints {auc, map@100, map@200, ...} with the unsupervised score as a baseline. "
                          + MAP_HELP + ".")
    parser.add_argument("--csv", required=True, help=CSV_HELP + "; the label column is required here")
    parser.add_argument("--folds", type=int, default=5, help="number of stratified folds (default 5)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the fold split and the models (default 0)")
    parser.set_defaults(run=evaluate_command)
