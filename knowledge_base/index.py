"""Build an index version: chunk, tokenise, embed (with a cache), index, calibrate, swap.

A version is a directory under KB_DIR/index/; KB_DIR/CURRENT names the live one and is
replaced atomically, so a reader either sees the old version or the new one, never half.
Embeddings are cached per encoder by chunk text, so a rebuild only embeds what changed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from knowledge_base import dense
from knowledge_base.bm25 import BM25Index
from knowledge_base.chunking import Chunk, chunk_article
from knowledge_base.classifier import TopicClassifier
from knowledge_base.confidence import (
    FEATURES, Calibrator, cross_validated, expected_calibration_error, features, threshold_for_precision,
)
from knowledge_base.config import KbConfig
from knowledge_base.corpus import Article, Region, load_articles, load_external
from knowledge_base.encoder import encoder_slug, read_heldout
from knowledge_base.text import STOP_WORDS, USER_DICT, Tokenizer, shared_tokenizer

logger = logging.getLogger(__name__)

# Bump when chunking, tokenising or the files of a version change meaning.
INDEX_FORMAT = 3
KEEP_VERSIONS = 3
CALIBRATION_SAMPLE = 800
# Answer on our own only where held-out calibration questions are right this often (the 95598
# goal: at least 90 % of the answers the bot gives on its own are right).
TARGET_PRECISION = 0.9
# The scope gate's threshold is the first of these at which at most this share of the held-out
# questions without an answer (NONE, off-topic) would still be answered.
GATE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
MAX_UNANSWERABLE_ANSWERED = 0.1
EVAL = Path(__file__).resolve().parent / "eval"
# Customer-style questions with their article (or NONE: nothing answers it), kept apart from
# eval/dev.tsv, and off-topic questions: the data the confidence model is fitted on.
CALIBRATION_QUESTIONS = EVAL / "calib.tsv"
NEGATIVES = EVAL / "negatives.txt"

Progress = Callable[[str, int], "object"]  # (label, total) → a tqdm-like bar with update()/close()


@dataclass
class BuildReport:
    """What a build did."""

    version: str
    articles: int
    chunks: int
    embedded: int
    reused: int
    encoder: str | None
    index_kind: str
    seconds: float
    up_to_date: bool = False
    calibration: dict | None = None


class EmbeddingCache:
    """sqlite file per encoder: chunk-text digest → vector."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vec (digest TEXT PRIMARY KEY, data BLOB NOT NULL)")

    def get_many(self, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of these digests."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(digests), 500):
            part = list(digests[start:start + 500])
            marks = ",".join("?" * len(part))
            for digest, data in self.db.execute(f"SELECT digest, data FROM vec WHERE digest IN ({marks})", part):
                found[digest] = np.frombuffer(data, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors (same digest → same text → same vector)."""
        self.db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                            [(k, v.astype(np.float32).tobytes()) for k, v in items.items()])
        self.db.commit()

    def close(self) -> None:
        """Close the file."""
        self.db.close()


def _null_progress(label: str, total: int):
    class _Bar:
        def update(self, n: int = 1) -> None: ...
        def close(self) -> None: ...
    return _Bar()


def corpus(config: KbConfig) -> list[Article]:
    """The articles under docs/ (figures of the configured region) and every ingested document."""
    articles = load_articles(config.docs_dir, Region.load(config.region_file))
    external = load_external(config.external_dir)
    ids = {a.id for a in articles}
    clash = [a.id for a in external if a.id in ids]
    if clash:
        raise ValueError(f"ingested ids clash with articles: {clash[:5]}")
    return articles + external


# The code that decides what a version holds: an edit to it rebuilds (the classifier and calibration too).
BUILD_CODE = tuple(Path(__file__).resolve().parent / name for name in (
    "index.py", "chunking.py", "text.py", "bm25.py", "classifier.py", "confidence.py", "fusion.py", "search.py"))


def corpus_fingerprint(articles: Sequence[Article], encoder: str | None) -> str:
    """Same articles, encoder weights, tokenizer files, calibration sets and build code → nothing to rebuild."""
    digest = hashlib.sha1(f"{INDEX_FORMAT}|{encoder or '-'}".encode())
    for path in (USER_DICT, STOP_WORDS, CALIBRATION_QUESTIONS, NEGATIVES, *BUILD_CODE):
        digest.update(path.read_bytes() if path.exists() else b"-")
    for article in articles:
        digest.update(article.fingerprint.encode())
    return digest.hexdigest()


def current_version(kb_dir: Path) -> Path | None:
    """The live version directory, if any."""
    pointer = kb_dir / "CURRENT"
    if not pointer.exists():
        return None
    path = kb_dir / "index" / pointer.read_text(encoding="utf-8").strip()
    return path if (path / "manifest.json").exists() else None


def embed_chunks(chunks: Sequence[Chunk], encoder, cache: EmbeddingCache, progress: Progress,
                 batch: int = 256) -> tuple[np.ndarray, int, int]:
    """Vectors of all chunks; only texts missing from the cache are encoded."""
    digests = [c.digest for c in chunks]
    cached = cache.get_many(list(dict.fromkeys(digests)))
    todo = list(dict.fromkeys(c.text for c in chunks if c.digest not in cached))
    bar = progress("embedding", len(todo))
    for start in range(0, len(todo), batch):
        texts = todo[start:start + batch]
        vectors = encoder.encode(texts)
        new = {hashlib.sha1(t.encode("utf-8")).hexdigest(): v for t, v in zip(texts, vectors)}
        cache.put_many(new)
        cached.update(new)
        bar.update(len(texts))
    bar.close()
    matrix = np.vstack([cached[d] for d in digests]) if chunks else np.zeros((0, encoder.dim), np.float32)
    return np.ascontiguousarray(matrix, dtype=np.float32), len(todo), len(chunks) - len(todo)


def build(config: KbConfig, *, encoder=None, tokenizer: Tokenizer | None = None, force: bool = False,
          progress: Progress = _null_progress, index_kind: str = "auto") -> BuildReport:
    """Build a new version if the corpus or encoder changed, and make it current."""
    started = time.perf_counter()
    articles = corpus(config)
    encoder_name = encoder.name if encoder is not None else None
    fingerprint = corpus_fingerprint(articles, encoder.fingerprint if encoder is not None else None)
    live = current_version(config.kb_dir)
    if live and not force:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("fingerprint") == fingerprint:
            return BuildReport(version=live.name, articles=manifest["articles"], chunks=manifest["chunks"],
                               embedded=0, reused=0, encoder=encoder_name, index_kind=manifest["index_kind"],
                               seconds=round(time.perf_counter() - started, 2), up_to_date=True)
    tokenizer = tokenizer or shared_tokenizer()
    chunks = [chunk for article in articles for chunk in chunk_article(article)]

    bar = progress("tokenising", len(chunks))
    token_lists = []
    for chunk in chunks:
        token_lists.append(tokenizer.tokens(chunk.text))
        bar.update(1)
    bar.close()
    bm25 = BM25Index.build(token_lists)

    version = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{fingerprint[:8]}"
    directory = config.kb_dir / "index" / version
    directory.mkdir(parents=True)
    embedded = reused = 0
    kind = "none"
    if encoder is not None:
        cache = EmbeddingCache(config.kb_dir / "cache" / f"{encoder_slug(encoder_name, encoder.fingerprint)}.sqlite")
        try:
            vectors, embedded, reused = embed_chunks(chunks, encoder, cache, progress)
        finally:
            cache.close()
        index = dense.build_index(vectors, kind=index_kind)
        kind = dense.index_kind(index)
        dense.save(index, directory / "dense.faiss")
    bm25.save(directory)
    topics = train_topics(chunks, heldout=read_heldout(encoder_name) if encoder is not None else set())
    if topics is not None:
        topics.save(directory)
    with (directory / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
    with (directory / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    manifest = {
        "version": version, "fingerprint": fingerprint, "encoder": encoder_name,
        "dim": int(encoder.dim) if encoder is not None else None, "index_kind": kind,
        "articles": len(articles), "chunks": len(chunks), "region": config.region,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "calibration": {"weights": Calibrator.default().weights, "features": list(FEATURES), "threshold": 0.5},
    }
    _write_json(directory / "manifest.json", manifest)
    calibration = calibrate(directory, tokenizer=tokenizer, encoder=encoder, progress=progress)
    manifest["calibration"] = calibration
    _write_json(directory / "manifest.json", manifest)
    make_current(config.kb_dir, version)
    return BuildReport(version=version, articles=len(articles), chunks=len(chunks), embedded=embedded,
                       reused=reused, encoder=encoder_name, index_kind=kind,
                       seconds=round(time.perf_counter() - started, 2), calibration=calibration)


def train_topics(chunks: Sequence[Chunk], *, heldout: set[tuple[str, str]]) -> TopicClassifier | None:
    """The topic classifier of a version, trained on its chunks but not on the questions held out
    for calibration (as the encoder); None for an index of fewer than two articles."""
    rows = [(c.text, c.article_id) for c in chunks if (c.text, c.article_id) not in heldout]
    if len({article for _, article in rows}) < 2:
        return None
    return TopicClassifier.train([text for text, _ in rows], [article for _, article in rows])


def calibration_questions(known: set[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """calib.tsv rows whose article is indexed (None for NONE) and the off-topic questions."""
    labelled: list[tuple[str, str | None]] = []
    if CALIBRATION_QUESTIONS.exists():
        for line in CALIBRATION_QUESTIONS.read_text(encoding="utf-8").splitlines():
            question, _, article = line.partition("\t")
            article = article.strip()
            if question.strip() and not line.startswith("#") and (article == "NONE" or article in known):
                labelled.append((question.strip(), None if article == "NONE" else article))
    negatives = [line.strip() for line in NEGATIVES.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")] if NEGATIVES.exists() else []
    return labelled, negatives


def calibrate(directory: Path, *, tokenizer: Tokenizer, encoder, progress: Progress = _null_progress) -> dict:
    """Fit the confidence model and the scope gate on questions whose answer (or lack of one) is known.

    Three sources: calib.tsv (customer-style, some with no answer: NONE), off-topic questions
    (negatives.txt), and the articles' own questions held out one at a time (those the encoder and
    the topic classifier were not trained on). Two models over the same signals:
    - confidence: P(the first article is right | the knowledge base has an answer), fitted on the
      questions that have one; that is the population the dev set measures;
    - gate: P(the knowledge base has an answer), fitted on all of them, so NONE and off-topic
      questions are kept out even when some article happens to look close.
    Thresholds come from held-out (5-fold) probabilities: the gate's is the loosest that answers at
    most MAX_UNANSWERABLE_ANSWERED of the questions without an answer; the confidence's is the lowest
    at which the answered questions are right TARGET_PRECISION of the time. The reported ECE,
    answer rate and precision are held-out too.
    """
    from knowledge_base.search import KnowledgeBase

    kb = KnowledgeBase(directory, tokenizer=tokenizer, encoder=encoder)
    own = [(i, c) for i, c in enumerate(kb.chunks) if c.kind == "question"]
    held = read_heldout(encoder.name) if encoder is not None else set()
    if held:
        own = [(i, c) for i, c in own if (c.text, c.article_id) in held]
    elif kb.topics is not None:
        own = []  # the topic classifier was trained on every question: none of them is held out
    random.Random(11).shuffle(own)
    own = own[:CALIBRATION_SAMPLE]
    labelled, negatives = calibration_questions(set(kb.articles))
    cases = ([(c.text, c.article_id, frozenset({i})) for i, c in own]
             + [(q, a, frozenset()) for q, a in labelled] + [(q, None, frozenset()) for q in negatives])
    rows, right, answerable = [], [], []
    bar = progress("calibrating", len(cases))
    for text, article, exclude in cases:
        hits, ceiling = kb.rank(text, exclude=exclude)
        rows.append(features(hits, ceiling, unknown_words=kb.unknown_words(text)))
        right.append(1.0 if article and hits and hits[0].article_id == article else 0.0)
        answerable.append(article is not None)
        bar.update(1)
    bar.close()
    x, y, scope = np.asarray(rows), np.asarray(right), np.asarray(answerable, dtype=float)
    sources = {"own_questions": len(own), "calibration_questions": len(labelled), "off_topic": len(negatives)}
    if scope.sum() < 30 or len(set(y[scope == 1].tolist())) < 2:
        return {"weights": Calibrator.default().weights, "features": list(FEATURES), "fitted_on": len(rows),
                "threshold": 0.5, **sources}
    inside = scope == 1
    calibrator, gate = Calibrator.fit(x[inside], y[inside]), Calibrator.fit(x, scope)
    held_conf = cross_validated(x[inside], y[inside])
    held_gate = cross_validated(x, scope)
    conf_all = np.zeros(len(rows))
    conf_all[inside] = held_conf
    conf_all[~inside] = [calibrator.probability(r) for r in x[~inside]]  # never fitted on these
    for gate_threshold in GATE_THRESHOLDS:  # the loosest gate that keeps enough unanswerable questions out
        gated = held_gate >= gate_threshold
        threshold = threshold_for_precision(conf_all[inside & gated], y[inside & gated].astype(bool),
                                            target=TARGET_PRECISION)
        answered = gated & (conf_all >= threshold)
        if not (~inside).any() or answered[~inside].mean() <= MAX_UNANSWERABLE_ANSWERED:
            break
    return {
        "weights": calibrator.weights, "features": list(FEATURES), "fitted_on": len(rows),
        "gate_weights": gate.weights, "gate_threshold": gate_threshold,
        "positives": int(y.sum()), **sources, "target_precision": TARGET_PRECISION, "threshold": float(threshold),
        "held_out": {  # 5-fold figures on the calibration questions themselves
            "ece": round(expected_calibration_error(held_conf, y[inside].astype(bool)), 4),
            "answered_share": round(float(answered[inside].mean()), 4),
            "precision_when_answered": round(float(y[answered & inside].mean()) if (answered & inside).any() else 0.0, 4),
            "unanswerable_answered": round(float(answered[~inside].mean()) if (~inside).any() else 0.0, 4),
        },
    }


def make_current(kb_dir: Path, version: str) -> None:
    """Point CURRENT at a version (atomic rename) and drop old versions beyond KEEP_VERSIONS."""
    tmp = kb_dir / "CURRENT.tmp"
    tmp.write_text(version, encoding="utf-8")
    tmp.replace(kb_dir / "CURRENT")
    versions = sorted(p for p in (kb_dir / "index").iterdir() if p.is_dir())
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != version:
            shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
