"""Retrieval quality on a question set: recall@1/3/5 and MRR per search mode."""
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
        ranks, confidences, correct, started = [], [], [], time.perf_counter()
        for question, article in known:
            result = kb.search(question, k=10, mode=mode)
            ids = [h.article_id for h in result.hits]
            ranks.append(ids.index(article) + 1 if article in ids else None)
            confidences.append(result.confidence)
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
            answered = [c for p, c in zip(confidences, correct) if p >= kb.answer_threshold]
            metrics["answered_share"] = round(len(answered) / n, 4)
            metrics["precision_when_answered"] = round(sum(answered) / max(len(answered), 1), 4)
        report["modes"][mode] = metrics
    return report
