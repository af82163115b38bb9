"""Okapi BM25 over jieba tokens, as a sparse term × chunk matrix (fast for any corpus size here)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse


class BM25Index:
    """Scores are precomputed per (term, chunk); a query sums the rows of its terms."""

    def __init__(self, vocab: dict[str, int], weights: sparse.csr_matrix) -> None:
        self.vocab = vocab
        self.weights = weights  # terms × chunks

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> "BM25Index":
        """Index tokenised documents."""
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float32)
        for doc_id, tokens in enumerate(docs):
            lengths[doc_id] = len(tokens)
            for term, tf in Counter(tokens).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(doc_id)
                tfs.append(tf)
        n_docs = max(len(docs), 1)
        tf = np.asarray(tfs, dtype=np.float32)
        rows_a, cols_a = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        df = np.bincount(rows_a, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if len(docs) else 1.0
        norm = k1 * (1.0 - b + b * lengths[cols_a] / max(avg, 1e-6))
        score = idf[rows_a] * tf * (k1 + 1.0) / (tf + norm)
        weights = sparse.csr_matrix((score, (rows_a, cols_a)), shape=(len(vocab), len(docs)), dtype=np.float32)
        return cls(vocab, weights)

    @property
    def size(self) -> int:
        """Number of indexed chunks."""
        return self.weights.shape[1]

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for the query tokens (repeated query terms count once)."""
        ids = sorted({self.vocab[t] for t in tokens if t in self.vocab})
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.weights[ids].sum(axis=0)).ravel()

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk positions and scores, best first; chunks scoring 0 are left out."""
        scores = self.scores(tokens)
        k = min(k, len(scores))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top, scores[top]

    def save(self, directory: Path) -> None:
        """bm25.npz + bm25_vocab.txt (one term per line, in id order)."""
        sparse.save_npz(directory / "bm25.npz", self.weights)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (directory / "bm25_vocab.txt").write_text("\n".join(terms), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        """Inverse of save."""
        weights = sparse.load_npz(directory / "bm25.npz").tocsr()
        text = (directory / "bm25_vocab.txt").read_text(encoding="utf-8")
        terms = text.split("\n") if text else []
        return cls({term: i for i, term in enumerate(terms)}, weights)
