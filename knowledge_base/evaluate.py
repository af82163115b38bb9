"""Retrieval quality on a question set: recall@1/3/5 and MRR per search mode; for the hybrid
search also how often it answers on its own, how often those answers are right, and the
calibration of its confidence (ECE), with the curve of answer rate against precision."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from knowledge_base.confidence import expected_calibration_error


def read_questions(path: Path) -> list[tuple[str, str]]:
    """TSV: question<TAB>expected article id (lines starting with # are comments)."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        question, _, article = line.partition("\t")
        if not article.strip():
            raise ValueError(f"{path}:{number}: expected question<TAB>article_id")
        rows.append((question.strip(), article.strip()))
    return rows


def evaluate(kb, questions: Sequence[tuple[str, str]], *, modes: Sequence[str] = ("bm25", "dense", "hybrid"),
             progress=None) -> dict:
    """Metrics per mode; questions whose article is not indexed are reported, not counted."""
    known = [(q, a) for q, a in questions if a in kb.articles]
    report: dict = {
        "index": kb.version, "encoder": kb.manifest.get("encoder"), "questions": len(known),
        "unknown_articles": sorted({a for _, a in questions if a not in kb.articles}), "modes": {},
    }
    for mode in modes:
        if mode == "dense" and kb.dense is None:
            continue
        bar = progress(mode, len(known)) if progress else None
        ranks, confidences, correct, answered, started = [], [], [], [], time.perf_counter()
        in_scope = []
        for question, article in known:
            result = kb.search(question, k=10, mode=mode)
            ids = [h.article_id for h in result.hits]
            ranks.append(ids.index(article) + 1 if article in ids else None)
            confidences.append(result.confidence)
            in_scope.append(result.in_scope >= getattr(kb, "gate_threshold", 0.0))
            answered.append(result.answerable)
            correct.append(bool(ids) and ids[0] == article)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        n = max(len(known), 1)
        metrics = {f"recall@{k}": round(sum(1 for r in ranks if r and r <= k) / n, 4) for k in (1, 3, 5)}
        metrics["mrr"] = round(sum(1 / r for r in ranks if r) / n, 4)
        metrics["ms_per_query"] = round((time.perf_counter() - started) * 1000 / n, 2)
        if mode == "hybrid":
            metrics["ece"] = round(expected_calibration_error(confidences, correct), 4)
            right = [c for a, c in zip(answered, correct) if a]
            metrics["threshold"] = kb.answer_threshold
            metrics["answered_share"] = round(len(right) / n, 4)
            metrics["precision_when_answered"] = round(sum(right) / max(len(right), 1), 4)
            metrics["curve"] = answer_curve(confidences, correct, in_scope)
        report["modes"][mode] = metrics
    return report


def answer_curve(confidences: Sequence[float], correct: Sequence[bool], in_scope: Sequence[bool] | None = None,
                 thresholds: Sequence[float] = tuple(round(0.05 * i, 2) for i in range(20))) -> list[dict]:
    """Answer rate and precision of the answers at each confidence threshold (the scope gate applied)."""
    gate = in_scope if in_scope is not None else [True] * len(confidences)
    n = max(len(confidences), 1)
    curve = []
    for threshold in thresholds:
        right = [c for p, c, g in zip(confidences, correct, gate) if g and p >= threshold]
        curve.append({"threshold": threshold, "answered_share": round(len(right) / n, 4),
                      "precision": round(sum(right) / len(right), 4) if right else None})
    return curve
