"""Calibrated confidence: the probability that the top article answers the question.

A logistic model over a few signals of agreement and separation, fitted at build time on
questions whose answer is known (each article's own questions, held out one at a time) and
on questions the knowledge base must not answer (eval/negatives.txt).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from knowledge_base.fusion import ArticleHit

TOPIC_FLOOR = 1e-4  # log of a topic probability is taken from here up

FEATURES = ("cosine", "cosine_margin", "bm25_coverage", "bm25_margin", "agree",
            "topic_log", "topic_margin", "topic_agree", "unknown_words")


def signals(hits: Sequence[ArticleHit], bm25_ceiling: float, unknown_words: float = 0.0) -> dict[str, float]:
    """Every signal of the top hit: how close, how far ahead of the next, whether the lists agree;
    and the share of the question's words the index has never seen (another utility's jargon)."""
    if not hits:
        return {name: 0.0 for name in FEATURES} | {"topic_log": math.log(TOPIC_FLOOR), "unknown_words": unknown_words}
    top, rest = hits[0], hits[1:]
    ceiling = bm25_ceiling if bm25_ceiling > 0 else 1.0
    coverage = top.bm25 / ceiling if bm25_ceiling > 0 else 0.0
    topic_rest = max((h.topic for h in rest), default=0.0)
    return {
        "cosine": top.cosine,
        "cosine_margin": top.cosine - max((h.cosine for h in rest), default=0.0),
        "bm25_coverage": min(coverage, 1.0),
        "bm25_margin": (top.bm25 - max((h.bm25 for h in rest), default=0.0)) / ceiling,
        "agree": 1.0 if top.ranks.get("bm25") == 1 and top.ranks.get("dense") == 1 else 0.0,
        # the classifier is sharp: its log-probability separates far better than the probability
        "topic_log": math.log(max(top.topic, TOPIC_FLOOR)),
        "topic_margin": top.topic - topic_rest,
        "topic_agree": 1.0 if top.ranks.get("topic") == 1 else 0.0,
        "unknown_words": unknown_words,
    }


def features(hits: Sequence[ArticleHit], bm25_ceiling: float, names: Sequence[str] = FEATURES, *,
             unknown_words: float = 0.0) -> list[float]:
    """The named signals in order (an index version keeps the names its calibrator was fitted on)."""
    values = signals(hits, bm25_ceiling, unknown_words)
    return [values[name] for name in names]


@dataclass
class Calibrator:
    """Logistic regression weights (bias last)."""

    weights: list[float]

    @classmethod
    def default(cls) -> "Calibrator":
        """Hand-set weights for an index too small to fit on (a few articles): the dense and BM25 signals."""
        return cls([3.0, 4.0, 3.0, 3.0, 1.0] + [0.0] * (len(FEATURES) - 5) + [-3.5])

    def probability(self, x: Sequence[float]) -> float:
        """P(top article is right | features)."""
        z = sum(w * v for w, v in zip(self.weights, x)) + self.weights[-1]
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, l2: float = 0.1, iterations: int = 50) -> "Calibrator":
        """Newton's method on the L2-regularised log-loss (a few hundred rows: instant)."""
        if len(set(y.tolist())) < 2:
            return cls.default()
        design = np.hstack([x, np.ones((len(x), 1))])
        w = np.zeros(design.shape[1])
        penalty = np.eye(design.shape[1]) * l2
        penalty[-1, -1] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -40, 40)))
            gradient = design.T @ (p - y) + penalty @ w
            hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
            step = np.linalg.solve(hessian, gradient)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        return cls([float(v) for v in w])


def cross_validated(x: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of a logistic model: what it says of questions it was not fitted on."""
    order = np.random.default_rng(seed).permutation(len(y))
    out = np.zeros(len(y))
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        model = Calibrator.fit(x[train], y[train])
        out[test] = [model.probability(row) for row in x[test]]
    return out


def expected_calibration_error(probabilities: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Mean |confidence − accuracy| over equal-width bins, weighted by bin size."""
    p, c = np.asarray(probabilities, dtype=float), np.asarray(correct, dtype=float)
    if not len(p):
        return 0.0
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[edges == b].mean() - c[edges == b].mean()) * (edges == b).sum()
                     for b in range(bins) if (edges == b).any()) / len(p))


def threshold_for_precision(probabilities: Sequence[float], correct: Sequence[bool], *, target: float,
                            minimum: int = 20, floor: float = 0.2) -> float:
    """The lowest confidence at which answers are right at least `target` of the time."""
    pairs = sorted(zip(probabilities, correct), reverse=True)
    best, right = 1.0, 0
    for count, (p, c) in enumerate(pairs, 1):
        right += c
        if count >= minimum and right / count >= target:
            best = p
    return round(max(best, floor), 4)
