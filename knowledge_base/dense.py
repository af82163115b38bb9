"""FAISS inner-product index over L2-normalised vectors (inner product = cosine).

Exact search (IndexFlatIP) for small corpora; above ``APPROX_FROM`` vectors an HNSW graph,
whose query time grows slowly with size. The threshold comes from bench/kb_search.py: below it
exact search is already fast, and exact is what small corpora should get.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Measured in bench/kb_search.py (see bench/results/kb_search.json): flat search passes
# ~2 ms per query near 50k chunks of 256 dims on 2 cores, where HNSW is well under 1 ms.
APPROX_FROM = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def _faiss():
    import faiss

    return faiss


def build_index(vectors: np.ndarray, *, kind: str = "auto"):
    """A FAISS index of the vectors: 'flat', 'hnsw', or 'auto' (by size)."""
    faiss = _faiss()
    n, dim = vectors.shape
    if kind == "auto":
        kind = "hnsw" if n >= APPROX_FROM else "flat"
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r} (flat, hnsw, auto)")
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_kind(index) -> str:
    """'flat' or 'hnsw', for manifests and benchmarks."""
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ids and cosine scores per query row (ids of -1 mean fewer than k were found)."""
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    if index.ntotal == 0:
        rows = len(queries)
        return np.full((rows, k), -1, dtype=np.int64), np.zeros((rows, k), dtype=np.float32)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return ids, scores


def save(index, path: Path) -> None:
    """Write the index to one file."""
    _faiss().write_index(index, str(path))


def load(path: Path):
    """Read an index written by save (HNSW keeps its efSearch setting)."""
    index = _faiss().read_index(str(path))
    if index_kind(index) == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index
