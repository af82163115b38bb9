"""FAISS inner-product index over L2-normalised vectors (inner product = cosine).

Exact search (IndexFlatIP) for small corpora; above ``APPROX_FROM`` vectors an HNSW graph,
whose query time grows slowly with size. The threshold comes from bench/kb_search.py: below it
exact search is already fast, and exact is what small corpora should get.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Measured in bench/kb_search.py (bench/results/kb_search.json, 256 dims, 2 cores, one thread
# per query as the API runs): exact search takes 0.13 ms at 10k, 1.7 ms at 50k, 3.6 ms at 100k
# and 36 ms at 1M chunks; HNSW 0.1–0.3 ms throughout, with recall@10 against exact of 0.974 at
# 10k and 1.000 at 50k (0.993 at 1M). Below 50k exact costs less than the rest of a query and
# loses nothing; from 50k HNSW is 7× faster and as exact.
APPROX_FROM = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def _faiss():
    import faiss

    return faiss


def one_thread_per_query() -> None:
    """Serve each query on one thread: the API answers many requests at once, and on 2 cores a
    single exact query is 1.2–2.5× faster on one thread than split over two (bench/kb_search.py).
    """
    _faiss().omp_set_num_threads(1)


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
