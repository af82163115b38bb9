"""The question sets: the dev set stays held out from what the build learns and calibrates on."""
from __future__ import annotations

from knowledge_base.classifier import grams
from knowledge_base.config import KbConfig, REPO
from knowledge_base.evaluate import read_questions
from knowledge_base.index import CALIBRATION_QUESTIONS, calibration_questions, corpus

EVAL = REPO / "knowledge_base" / "eval"


def _pairs(text: str) -> set[str]:
    return {g for g in grams(text) if len(g) == 2}




def test_calibration_questions_name_real_articles_and_include_unanswerable_ones():
    ids = {a.id for a in corpus(KbConfig())}
    rows = [line.split("\t") for line in CALIBRATION_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert all(len(row) == 2 and (row[1] == "NONE" or row[1] in ids) for row in rows)
    labelled, negatives = calibration_questions(ids)
    assert len(labelled) == len(rows) >= 500 and len(negatives) >= 80
    unanswerable = sum(1 for _, article in labelled if article is None)
    assert 0.05 <= unanswerable / len(labelled) <= 0.2
    assert len({article for _, article in labelled if article}) == len(ids)  # every article is covered


def test_no_calibration_or_article_question_is_a_copy_of_a_dev_question():
    dev = [q for q, _ in read_questions(EVAL / "dev.tsv")]
    labelled, negatives = calibration_questions({a.id for a in corpus(KbConfig())})
    learned = [q for q, _ in labelled] + negatives + [q for a in corpus(KbConfig()) for q in a.questions]
    dev_pairs = [(d, _pairs(d)) for d in dev]
    close = []
    for question in learned:
        mine = _pairs(question)
        close += [(question, d) for d, theirs in dev_pairs
                  if len(mine & theirs) >= 0.5 * max(len(mine | theirs), 1)]  # bigram Jaccard ≥ 0.5
    assert close == []
