"""Reciprocal rank fusion of the BM25, dense and topic-classifier rankings, one entry per article."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

RRF_K = 60


@dataclass
class ArticleHit:
    """One article in a result list, with the evidence that put it there."""

    article_id: str
    score: float = 0.0  # fused RRF score (or the single list's score in single-mode search)
    chunk: int = -1  # position of the best chunk (first seen in the best list)
    bm25: float = 0.0  # best BM25 score of its chunks
    cosine: float = 0.0  # best cosine of its chunks
    topic: float = 0.0  # the topic classifier's probability of this article
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based article rank in each list


def article_ranking(
    chunk_ids: Sequence[int], scores: Sequence[float], chunk_article: Sequence[str],
) -> list[tuple[str, int, float]]:
    """Chunk ranking → article ranking: (article, best chunk, best score), first occurrence wins."""
    seen: dict[str, tuple[str, int, float]] = {}
    for chunk, score in zip(chunk_ids, scores):
        if chunk < 0:
            continue
        article = chunk_article[chunk]
        if article not in seen:
            seen[article] = (article, int(chunk), float(score))
    return list(seen.values())


def fuse(rankings: dict[str, list[tuple[str, int, float]]], *, k: int = RRF_K) -> list[ArticleHit]:
    """RRF over named article rankings ('bm25', 'dense', 'topic'); ties broken by the dense cosine.

    The topic ranking names no chunk of its own (its entries carry the article's title chunk), so
    an article's shown chunk comes from the BM25 or dense list whenever one of them found it.
    """
    hits: dict[str, ArticleHit] = {}
    best_rank: dict[str, int] = {}
    for name, ranking in rankings.items():
        for rank, (article, chunk, score) in enumerate(ranking, 1):
            hit = hits.setdefault(article, ArticleHit(article))
            hit.score += 1.0 / (k + rank)
            hit.ranks[name] = rank
            if name == "bm25":
                hit.bm25 = score
            elif name == "topic":
                hit.topic = score
                if hit.chunk < 0:
                    hit.chunk = chunk
                continue
            else:
                hit.cosine = score
            if rank < best_rank.get(article, 1 << 30):
                best_rank[article] = rank
                hit.chunk = chunk
    return sorted(hits.values(), key=lambda h: (-h.score, -h.cosine, h.article_id))
