"""Dense index of the knowledge base: exact (flat) vs HNSW search, from 1k to 1M chunks.

Synthetic data: L2-normalised float32 vectors drawn from a mixture of Gaussian clusters
(centres random unit vectors, point = centre + isotropic noise, renormalised; seeded). The
default noise puts the median 10th-neighbour cosine near the real corpus's (~0.66 vs ~0.68).
Queries are fresh draws from the same mixture, not in the index.

Baseline measured in the same run: the exact index (IndexFlatIP, build_index(kind='flat')).
Per size: build time, index size (bytes of faiss.serialize_index), single-query latency
(one query per search call, k=10, like the API), recall@10 of HNSW against the exact top-10,
and HNSW/exact latency ratios. The 'auto' row is the kind build_index(kind='auto') picks at
that size (APPROX_FROM); it reports that kind's figures (it would build the same index).
Ends with the smallest size where HNSW is >= 2x faster at p50 with recall@10 >= 0.95, to
compare with dense.APPROX_FROM, and with end-to-end kb.search timings on the real corpus.
Run: .venv/bin/python bench/kb_search.py [--quick | --sizes 1k,10k] [--dim 256]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402

from bench.common import machine, percentile  # noqa: E402
from knowledge_base import dense  # noqa: E402

ALL_SIZES = [1_000, 10_000, 50_000, 100_000, 1_000_000]
QUICK_SIZES = [1_000, 10_000, 100_000]
LARGE = 1_000_000  # from this size on, fewer queries (exact search is ~100 ms each there)
SPEEDUP_NEEDED = 2.0
RECALL_NEEDED = 0.95
WARMUP_QUERIES = 20
REAL_MODES = ("hybrid", "bm25", "dense")


def log(message: str) -> None:
    print(f"[kb_search {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


class LoadMeter:
    """CPU used by other processes while the benchmark ran (a busy machine skews the timings)."""

    def __init__(self) -> None:
        self.start = self._sample()
        self.load_start = os.getloadavg()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(v) for v in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        hz = os.sysconf("SC_CLK_TCK")
        own = os.times()
        return (sum(ticks) - idle) / hz, time.monotonic(), own.user + own.system

    def report(self) -> dict:
        busy0, t0, own0 = self.start
        busy1, t1, own1 = self._sample()
        cores = os.cpu_count() or 1
        other = max(0.0, (busy1 - busy0) - (own1 - own0)) / max(1e-9, (t1 - t0) * cores)
        # /proc/stat counts in 10 ms ticks: over less than a second the share is mostly rounding.
        share = round(other, 3) if t1 - t0 >= 1.0 else None
        return {"wall_s": round(t1 - t0, 1), "other_processes_cpu_share": share,
                "loadavg_start": [round(v, 2) for v in self.load_start],
                "loadavg_end": [round(v, 2) for v in os.getloadavg()],
                "note": "share of all cores used by other processes during the run (null if timed for "
                        "under 1 s); above ~0.1 the latencies are not those of a quiet machine"}


def latency_stats(timings_ms: list[float]) -> dict:
    return {"queries": len(timings_ms), "p50_ms": round(percentile(timings_ms, 0.50), 4),
            "p95_ms": round(percentile(timings_ms, 0.95), 4), "mean_ms": round(statistics.mean(timings_ms), 4)}


# ------------------------------------------------------------------ synthetic data

class Mixture:
    """Gaussian clusters around random unit centres; draws are renormalised to unit length."""

    def __init__(self, dim: int, clusters: int, noise: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((clusters, dim), dtype=np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.sigma = np.float32(noise / np.sqrt(dim))  # expected noise norm = noise (centre norm 1)
        self.dim = dim

    def draw(self, n: int, seed: int, block: int = 100_000, what: str = "vectors") -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), dtype=np.float32)
        for start in range(0, n, block):
            stop = min(n, start + block)
            x = out[start:stop]
            x[:] = rng.standard_normal((stop - start, self.dim), dtype=np.float32)
            x *= self.sigma
            x += self.centres[rng.integers(0, len(self.centres), stop - start)]
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            if n >= 500_000:
                log(f"  {what}: {stop:,}/{n:,}")
        return out


# ------------------------------------------------------------------ one index

def time_queries(index, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray, np.ndarray, float]:
    """Single-query dense.search calls: latencies (ms), ids, scores, other processes' CPU share meanwhile."""
    for i in range(min(WARMUP_QUERIES, len(queries))):
        dense.search(index, queries[i:i + 1], k)
    ids = np.empty((len(queries), k), dtype=np.int64)
    scores = np.empty((len(queries), k), dtype=np.float32)
    timings: list[float] = []
    meter = LoadMeter()
    gc.disable()
    try:
        for i in range(len(queries)):
            started = time.perf_counter()
            found, cosines = dense.search(index, queries[i:i + 1], k)
            timings.append((time.perf_counter() - started) * 1000)
            ids[i], scores[i] = found[0], cosines[0]
    finally:
        gc.enable()
    return timings, ids, scores, meter.report()["other_processes_cpu_share"]


def measure_index(kind: str, vectors: np.ndarray, queries: np.ndarray,
                  k: int) -> tuple[dict, np.ndarray, np.ndarray, dict | None]:
    """Build with dense.build_index, size it, time single-query dense.search calls.

    For the flat index, when FAISS runs more than one thread, the same queries are timed again
    with one thread (supplementary figures, not the baseline).
    """
    n = len(vectors)
    log(f"{label(n)}: building {kind}" + (" (minutes at this size on 2 cores)" if kind == "hnsw" and n >= LARGE else ""))
    started = time.perf_counter()
    index = dense.build_index(vectors, kind=kind)
    build_s = time.perf_counter() - started
    assert dense.index_kind(index) == kind and index.ntotal == n
    memory_bytes = int(faiss.serialize_index(index).nbytes)
    log(f"{label(n)}: {kind} built in {build_s:.1f} s, {memory_bytes / 2**20:.1f} MB; timing {len(queries)} queries")

    threads = faiss.omp_get_max_threads()
    timings, ids, scores, other = time_queries(index, queries, k)
    figures = {"kind": kind, "build_s": round(build_s, 3), "memory_mb": round(memory_bytes / 2**20, 2),
               "threads": threads, **latency_stats(timings), "other_processes_cpu_share": other}
    log(f"{label(n)}: {kind} p50 {figures['p50_ms']:.3f} ms  p95 {figures['p95_ms']:.3f} ms"
        + (f"  (other processes {other:.0%} CPU)" if other is not None else ""))
    one_thread = None
    if kind == "flat" and threads > 1:
        faiss.omp_set_num_threads(1)
        try:
            timings, _, _, other = time_queries(index, queries, k)
        finally:
            faiss.omp_set_num_threads(threads)
        one_thread = {**figures, "threads": 1, **latency_stats(timings), "other_processes_cpu_share": other}
        log(f"{label(n)}: flat with 1 thread p50 {one_thread['p50_ms']:.3f} ms  p95 {one_thread['p95_ms']:.3f} ms")
    del index
    gc.collect()
    return figures, ids, scores, one_thread


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    per_query = []
    for a, e in zip(approx, exact):
        truth = {int(i) for i in e if i >= 0}
        per_query.append(len(truth & {int(i) for i in a}) / max(1, len(truth)))
    return float(np.mean(per_query))


def auto_kind(n: int) -> str:
    """The kind dense.build_index(kind='auto') builds for n vectors (its APPROX_FROM rule)."""
    return "hnsw" if n >= dense.APPROX_FROM else "flat"


def measure_size(n: int, data: np.ndarray, queries: np.ndarray, k: int) -> tuple[list[dict], dict]:
    """Rows exact / hnsw / auto for the first n vectors, and the exact neighbour cosines of the queries."""
    vectors = data[:n]
    exact, exact_ids, exact_scores, exact_one_thread = measure_index("flat", vectors, queries, k)
    approx, approx_ids, _, _ = measure_index("hnsw", vectors, queries, k)
    recall = round(recall_at_k(approx_ids, exact_ids), 4)
    exact.update(recall_at_10=1.0, p50_ratio_vs_exact=1.0, p95_ratio_vs_exact=1.0)
    approx.update(recall_at_10=recall,
                  p50_ratio_vs_exact=round(approx["p50_ms"] / exact["p50_ms"], 3),
                  p95_ratio_vs_exact=round(approx["p95_ms"] / exact["p95_ms"], 3))
    chosen = exact if auto_kind(n) == "flat" else approx
    rows = [{"size": n, "index": "exact", "baseline": True, **exact},
            {"size": n, "index": "hnsw", "baseline": False, **approx},
            {"size": n, "index": "auto", "baseline": False, **chosen,
             "note": f"build_index(kind='auto') picks {chosen['kind']} at {n:,} (APPROX_FROM={dense.APPROX_FROM:,}); "
                     f"figures of that row"}]
    if exact_one_thread is not None:
        rows.append({"size": n, "index": "exact_1thread", "baseline": False, **exact_one_thread,
                     "recall_at_10": 1.0,
                     "p50_ratio_vs_exact": round(exact_one_thread["p50_ms"] / exact["p50_ms"], 3),
                     "p95_ratio_vs_exact": round(exact_one_thread["p95_ms"] / exact["p95_ms"], 3),
                     "note": "supplementary: the same flat index timed with faiss.omp_set_num_threads(1); "
                             "not the baseline (production runs one thread per query)"})
    stats = {"median_top1_cosine": round(float(np.median(exact_scores[:, 0])), 3),
             f"median_top{k}_cosine": round(float(np.median(exact_scores[:, -1])), 3)}
    return rows, stats


def recommendation(rows: list[dict]) -> dict:
    by_size: dict[int, dict] = {}
    for row in rows:
        by_size.setdefault(row["size"], {})[row["index"]] = row
    sizes = sorted(by_size)
    found, previous = None, None
    for n in sizes:
        hnsw, exact = by_size[n]["hnsw"], by_size[n]["exact"]
        if hnsw["p50_ms"] * SPEEDUP_NEEDED <= exact["p50_ms"] and hnsw["recall_at_10"] >= RECALL_NEEDED:
            found = n
            break
        previous = n
    one_thread = None
    for n in sizes:
        flat1 = by_size[n].get("exact_1thread")
        hnsw = by_size[n]["hnsw"]
        if flat1 and hnsw["p50_ms"] * SPEEDUP_NEEDED <= flat1["p50_ms"] and hnsw["recall_at_10"] >= RECALL_NEEDED:
            one_thread = n
            break
    approx_from = dense.APPROX_FROM
    if found is None:
        verdict = (f"no measured size meets the rule; HNSW never pays off up to {label(sizes[-1])} "
                   f"-> APPROX_FROM={approx_from:,} looks too low" if approx_from <= sizes[-1] else
                   "no measured size meets the rule")
    elif previous is None:
        verdict = (f"rule already met at the smallest measured size {label(found)}; "
                   f"APPROX_FROM={approx_from:,} is {'at or below' if approx_from <= found else 'above'} it")
    elif previous < approx_from <= found:
        verdict = (f"consistent: the crossover lies in ({label(previous)}, {label(found)}] "
                   f"and APPROX_FROM={approx_from:,} is in that interval")
    elif approx_from <= previous:
        verdict = (f"APPROX_FROM={approx_from:,} is too low: at {label(previous)} (>= APPROX_FROM) HNSW does not yet "
                   f"meet the rule; first size that does: {label(found)}")
    else:
        verdict = (f"APPROX_FROM={approx_from:,} is too high: the rule is met already at {label(found)}")
    return {"rule": f"smallest size with hnsw p50 <= exact p50 / {SPEEDUP_NEEDED:g} and recall@10 >= {RECALL_NEEDED}",
            "smallest_size": found, "previous_measured_size": previous, "sizes_measured": sizes,
            "approx_from_in_dense_py": approx_from, "verdict": verdict,
            "smallest_size_if_exact_ran_on_1_thread": one_thread}


# ------------------------------------------------------------------ real corpus

def real_corpus(k_dense: int) -> dict:
    from knowledge_base.config import KbConfig
    from knowledge_base.holder import KnowledgeBaseHolder

    holder = KnowledgeBaseHolder(KbConfig.from_env())
    holder.refresh()
    kb = holder.current
    if kb is None:
        message = (f"no knowledge-base index ({holder.error}); skipped. Build one with: "
                   "cd /work/main && .venv/bin/python -m knowledge_base build")
        print(message)
        return {"skipped": True, "reason": message}
    dev = ROOT / "knowledge_base" / "eval" / "dev.tsv"
    questions = [line.split("\t")[0].strip() for line in dev.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")]
    questions = [q for q in questions if q]
    modes = [m for m in REAL_MODES if m != "dense" or kb.dense is not None]
    log(f"real corpus: version {kb.version}, {len(kb.chunks)} chunks, {len(questions)} questions, modes {modes}")
    for mode in modes:  # warm-up: jieba dictionary, encoder, first-touch of the arrays
        for q in questions[:5]:
            kb.search(q, mode=mode)
    results: dict = {"version": kb.version, "articles": len(kb.articles), "chunks": len(kb.chunks),
                     "index_kind": dense.index_kind(kb.dense) if kb.dense is not None else None,
                     "encoder": kb.manifest.get("encoder"), "questions": len(questions),
                     "source": "knowledge_base/eval/dev.tsv (first column)", "k": 5, "modes": {}}
    for mode in modes:
        timings = []
        for q in questions:
            started = time.perf_counter()
            kb.search(q, mode=mode)
            timings.append((time.perf_counter() - started) * 1000)
        results["modes"][mode] = latency_stats(timings)
        log(f"real corpus {mode}: p50 {results['modes'][mode]['p50_ms']:.2f} ms")
    if kb.dense is not None:
        # The FAISS call alone (query vectors encoded beforehand), with the candidates rank() asks for.
        from knowledge_base.search import CANDIDATES

        vectors = kb.encoder.encode(questions)
        timings = []
        for i in range(len(vectors)):
            started = time.perf_counter()
            dense.search(kb.dense, vectors[i:i + 1], CANDIDATES)
            timings.append((time.perf_counter() - started) * 1000)
        results["dense_index_search_only"] = {"k": CANDIDATES, **latency_stats(timings)}
        stored = kb.dense.reconstruct_n(0, kb.dense.ntotal)
        if len(stored) > k_dense:
            sims = stored @ stored.T
            np.fill_diagonal(sims, -np.inf)
            top = -np.sort(-sims, axis=1)[:, :k_dense]
            results["vector_stats"] = {"median_top1_cosine": round(float(np.median(top[:, 0])), 3),
                                       f"median_top{k_dense}_cosine": round(float(np.median(top[:, -1])), 3)}
    return results


# ------------------------------------------------------------------ main

def machine_info() -> dict:
    return machine(faiss=faiss.__version__, faiss_compile_options=faiss.get_compile_options(),
                   numpy=np.__version__, faiss_omp_threads=faiss.omp_get_max_threads(),
                   OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(label(n) for n in ALL_SIZES),
                        help="comma-separated corpus sizes, e.g. 1k,10k,50k,100k,1M (default: all)")
    parser.add_argument("--quick", action="store_true", help="sizes 1k,10k,100k")
    parser.add_argument("--dim", type=int, default=256, help="vector dimension (the trained encoder's: 256)")
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=0.75,
                        help="expected norm of the per-point noise added to a unit centre (default 0.75)")
    parser.add_argument("--queries", type=int, default=1000, help="queries per size below 1M")
    parser.add_argument("--queries-large", type=int, default=300, help="queries at 1M and above")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--threads", type=int, default=None,
                        help="faiss.omp_set_num_threads (default 1: one thread per query, as the API runs)")
    parser.add_argument("--no-real", action="store_true", help="skip the real-corpus end-to-end timings")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kb_search.json")
    args = parser.parse_args()

    sizes = QUICK_SIZES if args.quick else sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    if args.threads is not None:
        faiss.omp_set_num_threads(args.threads)
    else:
        dense.one_thread_per_query()
    machine = machine_info()
    log(f"sizes {[label(n) for n in sizes]}, dim {args.dim}, faiss {faiss.__version__} "
        f"with {machine['faiss_omp_threads']} OpenMP threads")

    meter = LoadMeter()
    mixture = Mixture(args.dim, args.clusters, args.noise, args.seed)
    log(f"drawing {max(sizes):,} x {args.dim} vectors ({max(sizes) * args.dim * 4 / 2**30:.2f} GB)")
    data = mixture.draw(max(sizes), args.seed + 1, what="corpus")  # smaller sizes are prefixes
    all_queries = mixture.draw(max(args.queries, args.queries_large), args.seed + 2, what="queries")

    rows: list[dict] = []
    synthetic_stats: dict = {}
    for n in sizes:
        queries = all_queries[:args.queries_large if n >= LARGE else args.queries]
        size_rows, synthetic_stats[label(n)] = measure_size(n, data, queries, args.k)
        rows.extend(size_rows)
        gc.collect()
    del data
    gc.collect()

    rec = recommendation(rows)
    real = {"skipped": True, "reason": "--no-real"} if args.no_real else real_corpus(args.k)

    report = {
        "benchmark": "kb_search",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "dim": args.dim,
        "k": args.k,
        "data": {"kind": "synthetic Gaussian mixture, L2-normalised float32", "clusters": args.clusters,
                 "noise_norm": args.noise, "seed": args.seed, "sizes_are_prefixes_of_one_draw": True,
                 "queries": {"below_1M": args.queries, "1M_and_above": args.queries_large,
                             "note": "fresh draws from the same mixture, not in the index"},
                 "neighbour_cosines_by_size": synthetic_stats},
        "method": {"baseline": "exact IndexFlatIP via dense.build_index(kind='flat'), measured in the same run",
                   "approx": "dense.build_index(kind='hnsw')",
                   "hnsw_params": {"M": dense.HNSW_M, "efConstruction": dense.HNSW_EF_CONSTRUCTION,
                                   "efSearch": dense.HNSW_EF_SEARCH},
                   "latency": f"dense.search with one query per call, k={args.k}, after {WARMUP_QUERIES} warm-up "
                              "queries; wall time (time.perf_counter), GC off while timing",
                   "memory": "bytes of faiss.serialize_index(index) (what dense.save writes), in MiB",
                   "recall": f"recall@{args.k} of the HNSW top-{args.k} against the exact top-{args.k}, mean over queries",
                   "threads": f"faiss.omp_get_max_threads() = {machine['faiss_omp_threads']}"
                              + (" (set by --threads)" if args.threads is not None else " (dense.one_thread_per_query, as in production)"),
                   "exact_1thread": "supplementary row: the flat index timed again with one FAISS thread",
                   "other_processes_cpu_share": "per row: share of all cores used by other processes while it was "
                                                "timed (null when the timing took under 1 s: too short to tell)",
                   "auto": "the kind dense.build_index(kind='auto') picks (n >= APPROX_FROM -> hnsw); "
                           "figures of that kind's row"},
        "rows": rows,
        "real_corpus": real,
        "recommendation": rec,
        "machine_load_during_run": meter.report(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")

    print(f"dense index, dim {args.dim}, k={args.k}, faiss {faiss.__version__}, "
          f"{machine['faiss_omp_threads']} threads, {machine['cpus']} cpus; memory = serialize_index bytes")
    header = (f"{'size':>6} {'index':<13} {'build s':>9} {'mem MB':>9} {'p50 ms':>9} {'p95 ms':>9} "
              f"{'recall@10':>9} {'p50 x':>7} {'p95 x':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        name = row["index"] + (f"->{row['kind']}" if row["index"] == "auto" else "")
        print(f"{label(row['size']):>6} {name:<13} {row['build_s']:9.2f} {row['memory_mb']:9.1f} "
              f"{row['p50_ms']:9.3f} {row['p95_ms']:9.3f} {row['recall_at_10']:9.3f} "
              f"{row['p50_ratio_vs_exact']:7.3f} {row['p95_ratio_vs_exact']:7.3f}")
    print("(p50 x / p95 x: latency over the exact baseline at the same size)")
    if not real.get("skipped"):
        print(f"real corpus {real['version']}: {real['chunks']} chunks ({real['index_kind']}), "
              f"{real['questions']} questions, kb.search k=5")
        for mode, figures in real["modes"].items():
            print(f"  {mode:<7} p50 {figures['p50_ms']:8.2f} ms  p95 {figures['p95_ms']:8.2f} ms")
        if "dense_index_search_only" in real:
            only = real["dense_index_search_only"]
            print(f"  faiss search alone (k={only['k']}): p50 {only['p50_ms']:.3f} ms  p95 {only['p95_ms']:.3f} ms")
    print(f"recommendation ({rec['rule']}): "
          f"{label(rec['smallest_size']) if rec['smallest_size'] else 'none'}; "
          f"APPROX_FROM in dense.py = {rec['approx_from_in_dense_py']:,}")
    print(f"  {rec['verdict']}")
    if any(row["index"] == "exact_1thread" for row in rows):
        print(f"  (same rule against the exact index on 1 thread: "
              f"{label(rec['smallest_size_if_exact_ran_on_1_thread']) if rec['smallest_size_if_exact_ran_on_1_thread'] else 'none'})")
    busy = [f"{label(r['size'])} {r['index']} {r['other_processes_cpu_share']:.0%}" for r in rows
            if r["index"] != "auto" and (r["other_processes_cpu_share"] or 0) > 0.1]
    if busy:
        print("  rows timed while other processes used >10% CPU: " + ", ".join(busy))
    load = report["machine_load_during_run"]
    if (load["other_processes_cpu_share"] or 0) > 0.1:
        print(f"WARNING: other processes used {load['other_processes_cpu_share']:.0%} of the CPUs during the run; "
              "the latencies are not those of a quiet machine")
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
