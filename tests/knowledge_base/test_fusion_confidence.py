"""RRF fusion by article, the calibrated confidence and the answer threshold."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.confidence import (
    FEATURES, TOPIC_FLOOR, Calibrator, cross_validated, expected_calibration_error, features, signals,
    threshold_for_precision,
)
from knowledge_base.fusion import RRF_K, ArticleHit, article_ranking, fuse

CHUNK_ARTICLE = ["a", "a", "b", "c", "c", "d"]


def test_article_ranking_keeps_each_articles_best_chunk_once():
    ranking = article_ranking([1, 0, 3, 2, 4, -1], [9.0, 8.0, 7.0, 6.0, 5.0, 0.0], CHUNK_ARTICLE)
    assert ranking == [("a", 1, 9.0), ("c", 3, 7.0), ("b", 2, 6.0)]


def test_rrf_rewards_agreement_between_the_two_lists():
    bm25 = [("a", 0, 12.0), ("b", 2, 10.0), ("c", 3, 3.0)]
    dense = [("b", 2, 0.9), ("c", 3, 0.8), ("d", 5, 0.7)]
    hits = fuse({"bm25": bm25, "dense": dense})
    assert [h.article_id for h in hits] == ["b", "c", "a", "d"]
    top = hits[0]
    assert top.score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert (top.bm25, top.cosine, top.ranks) == (10.0, 0.9, {"bm25": 2, "dense": 1})


def test_a_topic_ranking_adds_its_vote_but_not_its_chunk():
    bm25 = [("a", 0, 12.0), ("b", 2, 10.0)]
    topic = [("b", 9, 0.7), ("c", 3, 0.2), ("a", 8, 0.1)]
    hits = {h.article_id: h for h in fuse({"bm25": bm25, "topic": topic})}
    assert hits["b"].score > hits["a"].score  # second in BM25, first for the classifier
    assert (hits["b"].chunk, hits["b"].topic, hits["b"].ranks) == (2, 0.7, {"bm25": 2, "topic": 1})
    assert hits["c"].chunk == 3 and hits["c"].bm25 == 0.0  # found by the classifier alone: its title chunk


def test_features_see_margins_and_agreement():
    top = ArticleHit("a", score=1, bm25=8, cosine=0.9, topic=0.6, ranks={"bm25": 1, "dense": 1, "topic": 1})
    other = ArticleHit("b", score=0.5, bm25=2, cosine=0.4, topic=0.3, ranks={"bm25": 2, "dense": 2, "topic": 2})
    values = signals([top, other], bm25_ceiling=10)
    assert (values["cosine"], values["agree"], values["topic_agree"]) == (0.9, 1.0, 1.0)
    assert values["cosine_margin"] == pytest.approx(0.5) and values["bm25_coverage"] == pytest.approx(0.8)
    assert values["bm25_margin"] == pytest.approx(0.6) and values["topic_margin"] == pytest.approx(0.3)
    assert values["topic_log"] == pytest.approx(np.log(0.6))
    assert features([top, other], 10) == [values[name] for name in FEATURES]
    assert features([top, other], 10, names=("agree", "cosine")) == [1.0, 0.9]  # an older version's names
    assert features([], 0, unknown_words=0.5) == [0.0] * 5 + [np.log(TOPIC_FLOOR), 0.0, 0.0, 0.5]


def test_fitted_calibrator_separates_and_is_calibrated_on_its_data():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(600, 5))
    truth = 1 / (1 + np.exp(-(6 * x[:, 0] - 3)))  # the chance of being right grows with the cosine
    y = (rng.uniform(size=600) < truth).astype(float)
    model = Calibrator.fit(x, y)
    probabilities = [model.probability(row) for row in x]
    assert model.probability([0.95, 0.5, 0.5, 0.5, 0.5]) > 0.85 > 0.15 > model.probability([0.05, 0.5, 0.5, 0.5, 0.5])
    assert expected_calibration_error(probabilities, y.astype(bool)) < 0.08


def test_threshold_is_the_lowest_confidence_meeting_the_target_precision():
    probabilities = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    correct = [True, True, True, True, False, True, False, False]
    assert threshold_for_precision(probabilities, correct, target=0.8, minimum=2) == 0.5
    assert threshold_for_precision(probabilities, correct, target=1.0, minimum=2) == 0.7
    assert threshold_for_precision(probabilities, [False] * 8, target=0.8, minimum=2) == 1.0


def test_cross_validated_probabilities_come_from_models_that_did_not_see_the_row():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, size=(300, 2))
    y = (x[:, 0] > 0.5).astype(float)
    y[:3] = 1 - y[:3]  # three rows whose label contradicts their feature
    held_out = cross_validated(x, y)
    fitted = Calibrator.fit(x, y)
    in_sample = np.array([fitted.probability(row) for row in x])
    assert np.all(np.abs(held_out[:3] - y[:3]) > 0.5)  # held out, the model still disagrees with them
    assert np.mean((held_out > 0.5) == (y == 1)) > 0.95
    assert not np.allclose(held_out, in_sample)
