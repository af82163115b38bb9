"""The theft/anomaly score (api.audit.scoring) on synthetic customers with planted thefts, and its CLI.

Customers: households with a winter/summer and weekend shape (some change level honestly), offices
and shops with quiet weekends, seasonal businesses, holiday homes; blanks here and there. Thefts of
the classic kinds (Jokar et al. 2016) start on a random day: scaled down, days zeroed, random daily
scaling, the mean times random factors, flattened, cut to standby, capped, the whole series reversed.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.audit import scoring

ROOT = Path(__file__).resolve().parents[3]
THEFTS = ("scale", "zero_days", "random_scale", "mean_random", "flatten", "cut", "cap", "reverse")


def synthetic(n: int, days: int = 365, *, theft_share: float = 0.1, seed: int = 0):
    """(daily kWh (n, days) float32 with NaN blanks, labels 0/1, kind per customer)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekend = (t % 7) >= 5
    winter = np.maximum(0, np.cos(2 * np.pi * (t - 20) / 365))
    summer = np.maximum(0, np.cos(2 * np.pi * (t - 200) / 365)) ** 2
    x = np.empty((n, days))
    kinds = rng.choice(["household", "business", "seasonal", "holiday_home"], n, p=[0.65, 0.17, 0.09, 0.09])
    for i, kind in enumerate(kinds):
        if kind == "household":
            level = rng.lognormal(2.0, 0.6)
            shape = (1 + rng.uniform(0.1, 0.8) * winter + rng.uniform(0.1, 1.0) * summer) \
                * (1 + rng.uniform(0, 0.35) * weekend)
            row = level * shape * rng.lognormal(0, 0.25, days)
            for _ in range(rng.integers(0, 3)):  # away for a while: the fridge keeps running
                start = rng.integers(0, days - 14)
                row[start:start + rng.integers(4, 15)] *= 0.15
            if rng.random() < 0.08:  # honest change: a lodger leaves, a new heater, an old fridge retired
                row[rng.integers(days // 5, days - days // 5):] *= rng.choice([0.6, 0.75, 1.3, 1.6])
        elif kind == "business":
            level = rng.lognormal(4.0, 0.5)
            row = level * np.where(weekend, rng.uniform(0.2, 0.5), 1.0) * (1 + 0.3 * summer) \
                * rng.lognormal(0, 0.12, days)
        elif kind == "seasonal":
            level = rng.lognormal(3.5, 0.5)
            start, length = rng.integers(110, 170), rng.integers(80, 150)
            active = (t >= start) & (t < start + length)
            row = level * np.where(active, 1.0, rng.uniform(0.08, 0.2)) * rng.lognormal(0, 0.2, days)
        else:
            standby = rng.uniform(0.3, 0.6)
            occupied = np.zeros(days, bool)
            for a, b in ((30, 40), (120, 125), (190, 232), (273, 280)):
                occupied[a:min(b, days)] = True
            row = np.where(occupied, rng.lognormal(2.0, 0.4), standby) * rng.lognormal(0, 0.15, days)
        x[i] = row
    labels = np.zeros(n)
    theft_kind = np.array([""] * n, dtype=object)
    eligible = np.flatnonzero(np.isin(kinds, ["household", "business"]))
    thieves = rng.choice(eligible, round(theft_share * n), replace=False)
    for j, i in enumerate(thieves):
        kind = THEFTS[j % len(THEFTS)]
        row, start = x[i].copy(), int(rng.integers(days // 4, max(days - 45, days // 4 + 1)))
        after = slice(start, days)
        span = days - start
        if kind == "scale":
            row[after] *= rng.uniform(0.2, 0.6)
        elif kind == "zero_days":
            row[after] *= rng.random(span) > rng.uniform(0.3, 0.7)
        elif kind == "random_scale":
            row[after] *= rng.uniform(0.1, 0.8, span)
        elif kind == "mean_random":
            row[after] = row.mean() * rng.uniform(0.1, 0.8, span)
        elif kind == "flatten":
            row[after] = row[after].mean() * rng.uniform(0.6, 0.9)
        elif kind == "cut":
            row[after] = row.mean() * rng.uniform(0.01, 0.08) * rng.lognormal(0, 0.1, span)
        elif kind == "cap":
            row[after] = np.minimum(row[after], np.quantile(row, 0.3))
        else:
            row = row[::-1] * rng.uniform(0.7, 0.95)
        x[i] = row
        labels[i] = 1
        theft_kind[i] = kind
    x = np.round(x, 2)
    x[rng.random(x.shape) < 0.015] = np.nan
    for i in rng.choice(n, n // 10, replace=False):  # a meter silent for a while
        start = rng.integers(0, days - 40)
        x[i, start:start + rng.integers(10, 40)] = np.nan
    return x.astype(np.float32), labels, np.where(labels == 1, theft_kind, kinds)


def auc_of_kind(scores, kinds, labels, kind) -> float:
    """AUC of one theft kind against every honest customer."""
    pick = kinds == kind
    honest = labels == 0
    truth = np.r_[np.ones(pick.sum()), np.zeros(honest.sum())]
    return scoring.auc(np.r_[scores[pick], scores[honest]], truth)


@pytest.fixture(scope="module")
def planted():
    return synthetic(2000, seed=11)


@pytest.fixture(scope="module")
def planted_evaluation(planted):
    x, labels, _kinds = planted
    return scoring.evaluate(x, labels, folds=5, seed=0)


# ------------------------------------------------------------------------------ metrics

def test_map_at_n_equals_the_hand_computation():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 0, 0, 1])
    assert scoring.map_at(scores, labels, 3) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert scoring.map_at(scores, labels, 6) == pytest.approx((1 / 1 + 2 / 3 + 3 / 6) / 3)
    assert scoring.map_at(scores, labels, 100) == pytest.approx((1 / 1 + 2 / 3 + 3 / 6) / 3)
    assert scoring.map_at(scores, np.array([0, 0, 0, 1, 1, 1]), 3) == 0.0
    # the ranking is by score, not by row order
    shuffled = np.array([3, 0, 5, 1, 4, 2])
    assert scoring.map_at(scores[shuffled], labels[shuffled], 3) == pytest.approx((1 + 2 / 3) / 2)


def test_auc_counts_ties_half():
    assert scoring.auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert scoring.auc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
    assert np.isnan(scoring.auc(np.array([0.5, 0.6]), np.array([1, 1])))


# ------------------------------------------------------------------------------ the score

def test_unsupervised_score_finds_planted_thefts(planted):
    x, labels, kinds = planted
    scores = scoring.score_matrix(x)
    assert scores.shape == (len(x),)
    assert np.all(np.isfinite(scores)) and scores.min() >= 0 and scores.max() <= 1
    assert scoring.auc(scores, labels) >= 0.88  # measured 0.923
    assert scoring.map_at(scores, labels, 100) >= 0.85  # measured 0.957
    for kind in THEFTS:  # every kind stands out (measured ≥ 0.92), the reversed series least (0.74)
        assert auc_of_kind(scores, kinds, labels, kind) >= (0.65 if kind == "reverse" else 0.85), kind
    # honest households are not ranked as suspicious as thieves on average
    rank = scoring.rankdata(scores) / len(scores)
    assert rank[kinds == "household"].mean() < 0.5 < rank[labels == 1].mean()


def test_supervised_cross_validation_beats_unsupervised(planted_evaluation, planted):
    x, labels, _kinds = planted
    result = planted_evaluation
    assert {"auc", "map@100", "map@200", "folds", "positives", "customers"} <= set(result)
    assert result["folds"] == 5 and result["customers"] == len(x) and result["positives"] == int(labels.sum())
    assert result["auc"] > result["unsupervised"]["auc"]
    assert result["auc"] >= 0.97 and result["map@100"] >= 0.9  # measured 0.999 / 0.990
    assert result["unsupervised"]["auc"] >= 0.88  # measured 0.922


def test_random_labels_give_chance_auc_out_of_fold(planted):
    """Noise labels: a model that scored its own training rows would reach ≈ 1; out of fold it is ≈ 0.5."""
    x = planted[0][:800]
    noise = (np.random.default_rng(5).random(len(x)) < 0.15).astype(float)
    oof = scoring.score_matrix(x, noise)
    assert abs(scoring.auc(oof, noise) - 0.5) < 0.08  # measured 0.533
    assert abs(scoring.evaluate(x, noise, folds=2)["auc"] - 0.5) < 0.08  # measured 0.525
    analysis = scoring.analyse(x)
    in_sample = scoring._fit(analysis.model_inputs, noise, 0).predict(analysis.model_inputs)
    assert scoring.auc(in_sample, noise) > 0.9  # what a leak would look like


def test_cross_fit_never_scores_a_labelled_row_with_a_model_that_saw_it(monkeypatch):
    """Rows carry their index in column 0; every prediction is checked against its model's training rows."""
    rng = np.random.default_rng(0)
    n = 300
    inputs = np.c_[np.arange(n), rng.random((n, 3))]
    labels = (rng.random(n) < 0.2).astype(float)
    labels[:40] = np.nan  # unknown: scored by every model, trained on by none
    trained_on: list[set] = []

    class Spy:
        def __init__(self, rows):
            self.rows = rows

        def predict(self, x):
            rows = set(x[:, 0].astype(int))
            assert not rows & self.rows
            return np.full(len(x), 0.5)

    def spy_fit(x, target, seed):
        assert np.all(np.isfinite(target))
        trained_on.append(set(x[:, 0].astype(int)))
        return Spy(trained_on[-1])

    monkeypatch.setattr(scoring, "_fit", spy_fit)
    out = scoring.cross_fit(inputs, labels, folds=5, seed=1)
    assert len(trained_on) == 5 and np.all(np.isfinite(out))
    labelled = set(np.flatnonzero(np.isfinite(labels)))
    assert set().union(*trained_on) == labelled
    for rows in trained_on:  # each labelled row is left out of exactly one model
        assert len(labelled - rows) == pytest.approx(len(labelled) / 5, abs=2)


def test_too_few_positives_fall_back_to_the_unsupervised_score(planted):
    x, labels, _kinds = planted
    few = np.zeros(len(x))
    few[np.flatnonzero(labels)[:3]] = 1
    assert np.allclose(scoring.score_matrix(x, few), scoring.score_matrix(x))
    with pytest.raises(scoring.InputError):
        scoring.evaluate(x, np.zeros(len(x)))


def test_odd_rows_and_short_series_do_not_break_the_score():
    rng = np.random.default_rng(3)
    x = rng.lognormal(1.5, 0.3, (60, 20)).astype(np.float32)
    x[0] = np.nan
    x[1] = 0
    x[2] = 4.0
    x[3, ::2] = -1  # negative readings are blanks
    scores = scoring.score_matrix(x)
    assert scores.shape == (60,) and np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert scoring.rankdata(scores)[1] > 50  # all zero days is among the most suspicious
    with pytest.raises(scoring.InputError):
        scoring.score_matrix(np.zeros(10))


def test_reasons_are_short_chinese_sentences(planted):
    x, _labels, kinds = planted
    analysis = scoring.analyse(x)
    dates = [f"2024-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(x.shape[1])]
    texts = scoring.reasons(analysis, dates)
    assert len(texts) == len(x)
    for row in texts:
        assert row and len(row) <= 3 and len(set(row)) == len(row)  # strongest first, none said twice
        assert all(isinstance(t, str) and re.search(r"[\u4e00-\u9fff]", t) and len(t) <= 40 for t in row)
    cut = np.flatnonzero(kinds == "cut")
    assert all(any("下降" in t or "零电量" in t for t in texts[i]) for i in cut)
    flat = np.flatnonzero(kinds == "flatten")
    assert sum(any("完全相同" in t for t in texts[i]) for i in flat) >= 0.8 * len(flat)


# ------------------------------------------------------------------------------ CSV and commands

START = pd.Timestamp("2014-01-01")
FORMATS = ("{d.year}/{d.month}/{d.day}", "{d:%Y-%m-%d}", "{d:%Y%m%d}")


def write_wide_csv(path: Path, *, n: int = 300, days: int = 120, labels: bool = True, seed: int = 4) -> dict:
    """A CSV like SGCC's: id, FLAG, shuffled date headers in three formats, blanks, a duplicated id,
    a word in a number cell; row 0 drops from 10 to 1 kWh a day on 2014-03-01."""
    x, y, _kinds = synthetic(n, days, seed=seed)
    x[0] = 10.0
    x[0, 59:] = 1.0
    y[0] = 1
    names = [FORMATS[k % 3].format(d=START + pd.Timedelta(days=k)) for k in range(days)]
    frame = pd.DataFrame(x.astype(object), columns=names)
    frame.iloc[3, 10] = "n/v"
    order = np.random.default_rng(seed).permutation(days)
    frame = frame[[names[k] for k in order]]
    ids = [f"{i:010d}" for i in range(n)]
    frame.insert(0, "CONS_NO", ids)
    if labels:
        frame.insert(1, "FLAG", y.astype(int))
    frame = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)  # id 0000000005 twice
    frame.to_csv(path, index=False)
    return {"ids": ids, "labels": y}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """The subcommands wired as api/audit/__main__.py wires them, run in process."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    scoring.add_score_arguments(commands.add_parser("score"))
    scoring.add_evaluate_arguments(commands.add_parser("evaluate"))
    args = parser.parse_args(argv)
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_read_wide_csv_sorts_mixed_date_headers_and_cleans_rows(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    write_wide_csv(path, days=60)
    frame, id_col, label_col = scoring.read_wide_csv(path)
    err = capsys.readouterr().err
    assert (id_col, label_col) == ("CONS_NO", "FLAG")
    assert list(frame.columns[:2]) == ["CONS_NO", "FLAG"]
    days = list(frame.columns[2:])
    assert days[0] == "2014-01-01" and days[-1] == "2014-03-01" and days == sorted(days) and len(days) == 60
    assert frame["CONS_NO"].iloc[5] == "0000000005" and frame["CONS_NO"].is_unique and len(frame) == 300
    assert frame.iloc[0][days[58]] == 10.0 and frame.iloc[0][days[59]] == 1.0
    assert np.isnan(frame.iloc[3][days[10]])  # "n/v" is a blank …
    assert "1 non-numeric" in err and "1 duplicated id" in err  # … and both are told


def test_read_wide_csv_fills_missing_days_and_reads_day_first_dates(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("customer_id,31/01/2015,02/02/2015,01/02/2015,label\nA,1,3,2,0\nB,,5,x,1\n")
    frame, id_col, label_col = scoring.read_wide_csv(path)
    assert (id_col, label_col) == ("customer_id", "label")
    assert list(frame.columns) == ["customer_id", "label", "2015-01-31", "2015-02-01", "2015-02-02"]
    assert frame.iloc[0, 2:].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(frame.iloc[1, 2]) and np.isnan(frame.iloc[1, 3]) and frame.iloc[1, 4] == 5.0
    assert scoring.parse_date_headers(["2014/1/5", "20140106", "2014-01-07", "CONS_NO", "2014"]) == {
        "2014/1/5": date(2014, 1, 5), "20140106": date(2014, 1, 6), "2014-01-07": date(2014, 1, 7)}
    gap = tmp_path / "gap.csv"
    gap.write_text("id,2014-01-01,2014-01-03\nA,1,3\n")
    frame, _id, label_col = scoring.read_wide_csv(gap)
    assert label_col is None and list(frame.columns) == ["id", "2014-01-01", "2014-01-02", "2014-01-03"]
    assert "1 day(s) without a column" in capsys.readouterr().err


def test_score_command_prints_the_ranked_json_list(tmp_path, capsys):
    path = tmp_path / "labelled.csv"
    truth = write_wide_csv(path)
    code, out, err = run(capsys, "score", "--csv", str(path))
    assert code == 0, err
    ranked = json.loads(out)
    assert len(ranked) == 300 and [r["rank"] for r in ranked] == list(range(1, 301))
    assert all(set(r) == {"customer_id", "score", "rank", "label", "reasons"} for r in ranked)
    scores = [r["score"] for r in ranked]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] and scores[0] <= 1
    by_id = {r["customer_id"]: r for r in ranked}
    assert set(by_id) == set(truth["ids"])
    assert all(by_id[i]["label"] == int(truth["labels"][k]) for k, i in enumerate(truth["ids"]))
    assert all(re.search(r"[\u4e00-\u9fff]", t) for r in ranked for t in r["reasons"])
    # the drop on 2014-03-01 is found where it is only if the shuffled columns were put in date order
    planted = by_id["0000000000"]
    drop = [t for t in planted["reasons"] if "起用电较此前下降" in t]
    assert drop, planted
    when = date.fromisoformat(drop[0][:10])
    assert abs((when - date(2014, 3, 1)).days) <= 7  # drops are sought at week boundaries
    assert int(re.search(r"下降(\d+)%", drop[0])[1]) >= 80  # 10 → 1 kWh, seasonally adjusted
    assert "duplicated id" in err and "non-numeric" in err and "supervised" in err
    code, out, _err = run(capsys, "score", "--csv", str(path), "--top", "5")
    top = json.loads(out)
    assert code == 0 and [r["rank"] for r in top] == [1, 2, 3, 4, 5] and top == ranked[:5]


def test_score_command_without_labels_is_unsupervised(tmp_path, capsys):
    path = tmp_path / "unlabelled.csv"
    write_wide_csv(path, labels=False)
    code, out, err = run(capsys, "score", "--csv", str(path), "--top", "20")
    ranked = json.loads(out)
    assert code == 0 and len(ranked) == 20 and "label" not in ranked[0] and "unsupervised" in err
    assert "0000000000" in [r["customer_id"] for r in ranked]  # the planted drop is near the top


def test_evaluate_command(tmp_path, capsys):
    path = tmp_path / "labelled.csv"
    write_wide_csv(path)
    code, out, err = run(capsys, "evaluate", "--csv", str(path), "--folds", "3", "--seed", "1")
    assert code == 0, err
    result = json.loads(out)
    assert {"auc", "map@100", "map@200", "unsupervised"} <= set(result) and result["folds"] == 3
    assert 0.5 < result["auc"] <= 1 and 0 <= result["map@100"] <= 1 and 0 <= result["map@200"] <= 1


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("", "cannot read"),
    ("CONS_NO,FLAG,name\nA,1,x\n", "no date columns"),
    ("FLAG,2014/1/1,2014/1/2\n1,3,4\n", "no id column"),
    ("CONS_NO,2014/1/1,2014/1/2\n", "no data rows"),
])
def test_unusable_files_exit_2_naming_the_problem(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    for command in ("score", "evaluate"):
        code, out, err = run(capsys, command, "--csv", str(path))
        assert code == 2 and out == "" and message in err, (command, err)


def test_evaluate_without_labels_exits_2(tmp_path, capsys):
    path = tmp_path / "unlabelled.csv"
    write_wide_csv(path, n=60, labels=False)
    code, out, err = run(capsys, "evaluate", "--csv", str(path))
    assert code == 2 and out == "" and "no label column" in err
    few = tmp_path / "few.csv"
    few.write_text("id,FLAG,2014-01-01,2014-01-02\nA,1,1,2\nB,0,2,3\n")
    code, out, err = run(capsys, "evaluate", "--csv", str(few))
    assert code == 2 and "not enough labels" in err


def test_python_m_api_audit_score(tmp_path):
    pytest.importorskip("api.audit.scan", reason="api/audit/__main__.py imports the scan command too")
    path = tmp_path / "small.csv"
    write_wide_csv(path, n=80, days=60, labels=False)
    done = subprocess.run([sys.executable, "-m", "api.audit", "score", "--csv", str(path), "--top", "3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert [r["rank"] for r in json.loads(done.stdout)] == [1, 2, 3]
