"""Open a built index and answer queries: BM25, dense, or both fused, with a confidence."""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from knowledge_base import dense
from knowledge_base.bm25 import BM25Index
from knowledge_base.chunking import Chunk, summary
from knowledge_base.classifier import TopicClassifier
from knowledge_base.confidence import FEATURES, Calibrator, features
from knowledge_base.corpus import Article
from knowledge_base.fusion import ArticleHit, article_ranking, fuse
from knowledge_base.text import Tokenizer, normalize_text

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "bm25", "dense", "topic"]
CANDIDATES = 50  # chunks taken from each list before fusion
MAX_QUERY_CHARS = 300  # longer questions are cut (a pasted letter still finds its topic)


@dataclass
class Hit:
    """One article of a result: what a caller shows."""

    article_id: str
    title: str
    category: str
    score: float
    snippet: str  # the best-matching chunk's text
    answer: str  # the article's short answer
    notice: str = ""  # the region's disclaimer when the answer quotes its figures
    bm25: float = 0.0
    cosine: float = 0.0


@dataclass
class SearchResult:
    """Articles best first, the calibrated confidence of the first, and whether to answer.

    confidence: P(the first article is right | the knowledge base covers the question);
    in_scope: P(it covers the question). We answer when both pass their thresholds.
    """

    query: str
    hits: list[Hit]
    confidence: float
    answerable: bool
    mode: str
    truncated: bool = False
    features: list[float] = field(default_factory=list)
    in_scope: float = 1.0


class KnowledgeBase:
    """One built index version, read-only and safe to share between threads."""

    def __init__(self, directory: Path, *, tokenizer: Tokenizer, encoder=None,
                 answer_threshold: float | None = None) -> None:
        self.directory = directory
        self.manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        self.articles = {a.id: a for a in (Article.from_dict(json.loads(line)) for line in
                                           (directory / "articles.jsonl").read_text(encoding="utf-8").splitlines() if line)}
        self.chunks = [Chunk(**json.loads(line)) for line in
                       (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        self.chunk_article = [c.article_id for c in self.chunks]
        self.article_rows: dict[str, list[int]] = {}  # article → its chunks' rows in the dense index
        for row, article_id in enumerate(self.chunk_article):
            self.article_rows.setdefault(article_id, []).append(row)
        self.tokenizer = tokenizer
        self.bm25 = BM25Index.load(directory)
        self.encoder = encoder if self.manifest.get("encoder") else None
        self.dense = dense.load(directory / "dense.faiss") if self.encoder is not None else None
        self.topics = TopicClassifier.load(directory)
        self.title_rows = {}  # article → the row of its title chunk (what a topic-only hit shows)
        for row, chunk in enumerate(self.chunks):
            if chunk.kind == "title" or chunk.article_id not in self.title_rows:
                self.title_rows[chunk.article_id] = row
        calibration = self.manifest["calibration"]
        self.calibrator = Calibrator(calibration["weights"])
        self.feature_names = tuple(calibration.get("features") or FEATURES[:5])
        # versions built before the scope gate answer on the confidence alone
        self.gate = Calibrator(calibration["gate_weights"]) if calibration.get("gate_weights") else None
        self.gate_threshold = calibration.get("gate_threshold", 0.0)
        self.answer_threshold = answer_threshold if answer_threshold is not None else calibration.get("threshold", 0.5)
        self.version = directory.name

    @classmethod
    def open(cls, directory: Path, *, tokenizer: Tokenizer, encoders: "EncoderCache",
             answer_threshold: float | None = None) -> "KnowledgeBase":
        """Open a version directory, loading (or reusing) the encoder its manifest names."""
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        encoder = encoders.get(manifest["encoder"]) if manifest.get("encoder") else None
        return cls(directory, tokenizer=tokenizer, encoder=encoder, answer_threshold=answer_threshold)

    # ------------------------------------------------------------------ search

    def bm25_ceiling(self, tokens: Sequence[str]) -> float:
        """The highest BM25 score the query's terms could reach (for coverage)."""
        ids = {self.bm25.vocab[t] for t in tokens if t in self.bm25.vocab}
        if not ids:
            return 0.0
        return float(sum(self.bm25.weights[i].max() for i in ids))

    def unknown_words(self, query: str) -> float:
        """Share of the query's words (stop words aside) that no chunk of the index contains."""
        words = self.tokenizer.words(query)
        return sum(1 for w in words if w not in self.bm25.vocab) / len(words) if words else 0.0

    def rank(self, query: str, *, mode: Mode = "hybrid", exclude: frozenset[int] = frozenset(),
             candidates: int = CANDIDATES) -> tuple[list[ArticleHit], float]:
        """Article hits for a normalised query, and the BM25 ceiling (for confidence)."""
        rankings = {}
        tokens = self.tokenizer.tokens(query)
        if mode in ("hybrid", "bm25"):
            ids, scores = self.bm25.search(tokens, candidates + len(exclude))
            keep = [(i, s) for i, s in zip(ids.tolist(), scores.tolist()) if i not in exclude]
            rankings["bm25"] = article_ranking([i for i, _ in keep], [s for _, s in keep], self.chunk_article)
        vector = None
        if mode in ("hybrid", "dense") and self.dense is not None:
            vector = self.encoder.encode([query])
            ids, scores = dense.search(self.dense, vector, candidates + len(exclude))
            keep = [(i, s) for i, s in zip(ids[0].tolist(), scores[0].tolist()) if i >= 0 and i not in exclude]
            rankings["dense"] = article_ranking([i for i, _ in keep], [s for _, s in keep], self.chunk_article)
        if mode == "dense" and self.dense is None:
            raise ValueError("this index has no dense part (built without an encoder)")
        topic = None
        if mode in ("hybrid", "topic") and self.topics is not None:
            topic = dict(zip(self.topics.labels, self.topics.probabilities([query])[0].tolist()))
            best = sorted(topic, key=lambda a: (-topic[a], a))[:candidates]
            rankings["topic"] = [(a, self.title_rows[a], topic[a]) for a in best if a in self.title_rows]
        if mode == "topic" and self.topics is None:
            raise ValueError("this index has no topic classifier (built before it existed)")
        hits = fuse(rankings)
        if mode == "hybrid" and self.dense is not None:
            self._fill_cosines(hits[:10], vector[0])
        if topic is not None:
            for hit in hits:
                hit.topic = topic.get(hit.article_id, 0.0)
        return hits, self.bm25_ceiling(tokens)

    def _fill_cosines(self, hits: list[ArticleHit], vector: np.ndarray) -> None:
        """Articles found only by BM25 get their best cosine too, so confidence sees both."""
        for hit in hits:
            rows = self.article_rows.get(hit.article_id, []) if "dense" not in hit.ranks else []
            if rows:
                hit.cosine = float((np.vstack([self.dense.reconstruct(i) for i in rows]) @ vector).max())

    def search(self, query: str, *, k: int = 5, mode: Mode = "hybrid") -> SearchResult:
        """Top-k articles for a customer's question (normalised and cut to MAX_QUERY_CHARS here)."""
        text = normalize_text(query)
        truncated = len(text) > MAX_QUERY_CHARS
        text = text[:MAX_QUERY_CHARS]
        if not self.tokenizer.tokens(text):  # nothing searchable: only punctuation, emoji, stop words
            return SearchResult(query=text, hits=[], confidence=0.0, answerable=False, mode=mode,
                                truncated=truncated, in_scope=0.0)
        hits, ceiling = self.rank(text, mode=mode)
        x = features(hits, ceiling, self.feature_names, unknown_words=self.unknown_words(text))
        confidence = self.calibrator.probability(x) if hits else 0.0
        in_scope = (self.gate.probability(x) if self.gate is not None else 1.0) if hits else 0.0
        return SearchResult(
            query=text, hits=[self._hit(h) for h in hits[:k]], confidence=round(confidence, 4),
            answerable=bool(hits) and confidence >= self.answer_threshold and in_scope >= self.gate_threshold,
            mode=mode, truncated=truncated, features=[round(v, 4) for v in x], in_scope=round(in_scope, 4),
        )

    def _hit(self, hit: ArticleHit) -> Hit:
        article = self.articles[hit.article_id]
        return Hit(
            article_id=article.id, title=article.title, category=article.category, score=round(hit.score, 5),
            snippet=self.chunks[hit.chunk].text if hit.chunk >= 0 else "", answer=summary(article),
            notice=article.notice,
            bm25=round(hit.bm25, 4), cosine=round(hit.cosine, 4),
        )

    def get(self, article_id: str) -> Article | None:
        """The article with this id, if indexed."""
        return self.articles.get(article_id)


@lru_cache(maxsize=1)
def shared_encoders() -> "EncoderCache":
    """The process's encoders (several holders and index versions share loaded models)."""
    return EncoderCache()


class EncoderCache:
    """Encoders loaded once per process, by name (an index swap reuses the loaded model)."""

    def __init__(self) -> None:
        self._encoders: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        """The loaded encoder of this name (loaded on first use)."""
        with self._lock:
            if name not in self._encoders:
                from knowledge_base.encoder import SentenceTransformerEncoder

                started = time.perf_counter()
                self._encoders[name] = SentenceTransformerEncoder(name)
                logger.info("encoder %s loaded in %.1f s", name, time.perf_counter() - started)
            return self._encoders[name]
