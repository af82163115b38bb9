"""Retrieval quality on knowledge_base/eval/dev.tsv, before and after, measured in the same run.

The same measurement runs against two source trees, each in its own process with a fresh KB_DIR:
- after: this working tree;
- before: the knowledge base as committed at BEFORE (default: the commit before issue 12's
  calibration work), unpacked with `git archive` (its articles, eval sets, code and tokenizer files).
Each trains the compact Chinese encoder (`train-encoder`: a character StaticEmbedding trained on the
corpus's own questions), builds the index and answers every dev question. Reported per tree: recall@1/3/5
and MRR per search mode, how often the knowledge base answers on its own (confidence ≥ its threshold,
and for the new builds the scope gate passed), how often those answers are right, the ECE of the
confidence, and the curve of answer rate against precision over confidence thresholds.
The after tree also runs with all-MiniLM-L6-v2, the only pretrained model available offline
(English; Chinese → [UNK]), as a smoke test of the encoder plumbing (--skip-minilm leaves it out).
Run: .venv/bin/python bench/kb_quality.py [--before REV]   (make bench)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge_base.confidence import expected_calibration_error  # noqa: E402
from knowledge_base.evaluate import answer_curve  # noqa: E402

DEV = ROOT / "knowledge_base" / "eval" / "dev.tsv"
BEFORE = "bac6171"  # last commit before the calibration work of issue 12
METRICS = ("recall@1", "recall@3", "recall@5", "mrr")

# Runs inside the measured tree: only calls that exist in the old and the new code.
MEASURE = r'''
import json, os, sys, time
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from knowledge_base.config import KbConfig
from knowledge_base.encoder import MINILM_ALIAS, SentenceTransformerEncoder, train_static_encoder, write_heldout
from knowledge_base.evaluate import evaluate, read_questions
from knowledge_base.holder import KnowledgeBaseHolder
from knowledge_base.index import build, corpus
from knowledge_base.pairs import corpus_pairs, corpus_texts, hold_out

encoder_kind, kb_dir, dev = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
config = KbConfig(kb_dir=kb_dir)
started = time.perf_counter()
if encoder_kind == "zh":
    articles, held = hold_out(corpus(config))
    train_static_encoder(corpus_pairs(articles), corpus_texts(articles), config.encoder_dir)
    write_heldout(config.encoder_dir, held)
    encoder = SentenceTransformerEncoder(str(config.encoder_dir))
else:
    encoder = SentenceTransformerEncoder(MINILM_ALIAS)
prepared = time.perf_counter() - started
report = build(config, encoder=encoder)
holder = KnowledgeBaseHolder(config)
holder.refresh()
kb = holder.current
questions = read_questions(dev)
modes = ["bm25", "dense", "hybrid"] + (["topic"] if getattr(kb, "topics", None) is not None else [])
result = evaluate(kb, questions, modes=modes)
gate = getattr(kb, "gate_threshold", 0.0)
answers = []
for question, article in questions:
    found = kb.search(question, k=3)
    answers.append({"confidence": found.confidence, "in_scope": getattr(found, "in_scope", 1.0) >= gate,
                    "answered": found.answerable, "right": bool(found.hits) and found.hits[0].article_id == article})
result.update(encoder_seconds=round(prepared, 1), build_seconds=report.seconds, calibration=report.calibration,
              threshold=kb.answer_threshold, gate_threshold=gate, answers=answers)
for metrics in result["modes"].values():
    metrics.pop("curve", None)
print(json.dumps(result, ensure_ascii=False))
'''


def measure(tree: Path, encoder: str) -> dict:
    """Run MEASURE in a fresh process whose knowledge_base package is the one in `tree`."""
    with tempfile.TemporaryDirectory() as kb_dir:
        env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "PYTHONWARNINGS": "ignore", "KB_DIR": kb_dir}
        done = subprocess.run([sys.executable, "-c", MEASURE, encoder, kb_dir, str(DEV)], cwd=tree, env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {tree} ({encoder}) failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def unpack(revision: str, into: Path) -> Path:
    """The knowledge base (and the tokenizer files it reads) as committed at `revision`."""
    archive = subprocess.run(["git", "archive", revision, "knowledge_base", "nlu_data"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def summary(run: dict) -> dict:
    """Answer rate, precision, ECE and top-1 of one tree, and its curve over thresholds."""
    answers, n = run["answers"], len(run["answers"])
    answered = [a["right"] for a in answers if a["answered"]]
    confidences, right = [a["confidence"] for a in answers], [a["right"] for a in answers]
    curve = answer_curve(confidences, right, [a["in_scope"] for a in answers])
    return {
        "top1": run["modes"]["hybrid"]["recall@1"], "threshold": run["threshold"],
        "gate_threshold": run["gate_threshold"], "answered_share": round(len(answered) / n, 4),
        "precision_when_answered": round(sum(answered) / max(len(answered), 1), 4),
        "ece": round(expected_calibration_error(confidences, right), 4),
        "best_answered_share_at_90_precision": max(
            (c["answered_share"] for c in curve if c["precision"] is not None and c["precision"] >= 0.9), default=0.0),
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision measured as 'before'")
    parser.add_argument("--skip-minilm", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = measure(unpack(args.before, Path(tmp)), "zh")
    after = measure(ROOT, "zh")
    minilm = None if args.skip_minilm else measure(ROOT, "minilm")

    baseline = after["modes"]["bm25"]
    rows = [{"mode": "bm25", "encoder": "-", **{m: baseline[m] for m in METRICS}, "ms_per_query": baseline["ms_per_query"]}]
    if "topic" in after["modes"]:
        topic = after["modes"]["topic"]
        rows.append({"mode": "topic", "encoder": "-", **{m: topic[m] for m in METRICS},
                     "ms_per_query": topic["ms_per_query"]})
    for label, run in (("zh-static (train-encoder)", after), ("all-MiniLM-L6-v2", minilm)):
        if run is None:
            continue
        for mode in ("dense", "hybrid"):
            metrics = run["modes"][mode]
            rows.append({"mode": mode, "encoder": label, **{m: metrics[m] for m in METRICS},
                         "ms_per_query": metrics["ms_per_query"],
                         "recall@3_vs_bm25": round(metrics["recall@3"] / baseline["recall@3"], 3)})
    compared = {"before": {"revision": args.before, **summary(before)}, "after": {"revision": "working tree", **summary(after)}}

    print(f"dev set: {after['questions']} questions ({DEV.relative_to(ROOT)}); before = {args.before}, measured in this run")
    print(f"{'mode':<7} {'encoder':<28} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR':>6} {'ms/q':>6}")
    for row in rows:
        print(f"{row['mode']:<7} {row['encoder']:<28} {row['recall@1']:>6.3f} {row['recall@3']:>6.3f} "
              f"{row['recall@5']:>6.3f} {row['mrr']:>6.3f} {row['ms_per_query']:>6.2f}")
    print(f"{'':8}{'top-1':>7} {'answers':>8} {'precision':>10} {'ECE':>7} {'answers@90%':>12}")
    for name, s in compared.items():
        print(f"{name:<8}{s['top1']:>7.3f} {s['answered_share']:>8.1%} {s['precision_when_answered']:>10.1%} "
              f"{s['ece']:>7.3f} {s['best_answered_share_at_90_precision']:>12.1%}")
    print("curve (confidence threshold: answered share / precision), before | after:")
    for b, a in zip(compared["before"]["curve"], compared["after"]["curve"]):
        fmt = lambda c: f"{c['answered_share']:.3f}/{c['precision']:.3f}" if c["precision"] is not None else "-"
        print(f"  {b['threshold']:.2f}: {fmt(b)} | {fmt(a)}")
    out = {
        "benchmark": "kb_quality", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "dev_set": str(DEV.relative_to(ROOT)), "questions": after["questions"], "baseline": "bm25",
        "before_after_note": f"before = the knowledge base at {args.before}, measured in the same run with the same dev set",
        "before_after": compared, "calibration_held_out": (after["calibration"] or {}).get("held_out"),
        "rows": rows,
        "runs": {name: {k: v for k, v in run.items() if k != "answers"}
                 for name, run in (("before", before), ("after", after), ("minilm", minilm)) if run is not None},
    }
    path = ROOT / "bench" / "results" / "kb_quality.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
