"""Time of one chat turn through the gateway, with 1 and 20 concurrent conversations.

Starts the real stack (Rasa, action server, API with a seeded SQLite demo). Baseline measured in
the same run: the same turns sent straight to Rasa's REST webhook, i.e. the bot alone; the ratio
gateway/baseline is the cost of the gateway (storing every turn, ownership check, validation).
Run: .venv/bin/python bench/chat_latency.py   (make bench)
"""
from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from tests.stack import running_stack  # noqa: E402

SCRIPT = ["你好", "西吉县最近有没有停电通知", "电费怎么交", "谢谢", "再见"]
CONVERSATIONS_PER_LEVEL = 40


async def converse(http: httpx.AsyncClient, url: str, body_for, sender: str, timings: list[float]):
    for text in SCRIPT:
        started = time.perf_counter()
        response = await http.post(url, json=body_for(sender, text))
        response.raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)


async def measure(url: str, body_for, concurrency: int, tag: str) -> dict:
    timings: list[float] = []
    async with httpx.AsyncClient(timeout=30) as http:
        await converse(http, url, body_for, f"warm-{tag}-{concurrency}", [])  # warm-up
        senders = [f"bench-{tag}-{concurrency}-{i}" for i in range(CONVERSATIONS_PER_LEVEL)]
        started = time.perf_counter()
        for start in range(0, len(senders), concurrency):
            await asyncio.gather(*(converse(http, url, body_for, s, timings)
                                   for s in senders[start:start + concurrency]))
        elapsed = time.perf_counter() - started
    return {"turns": len(timings), "p50_ms": round(percentile(timings, 0.50), 1),
            "p95_ms": round(percentile(timings, 0.95), 1), "mean_ms": round(statistics.mean(timings), 1),
            "turns_per_second": round(len(timings) / elapsed, 1)}


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        results: dict = {"baseline_rasa_direct": {}, "gateway": {}}
        for concurrency in (1, 20):
            results["baseline_rasa_direct"][str(concurrency)] = asyncio.run(measure(
                f"{stack.rasa_url}/webhooks/rest/webhook",
                lambda s, t: {"sender": s, "message": t}, concurrency, "rasa"))
            results["gateway"][str(concurrency)] = asyncio.run(measure(
                f"{stack.api_url}/api/chat/messages",
                lambda s, t: {"sender_id": s, "text": t, "channel": "web"}, concurrency, "gw"))
    ratios = {c: round(results["gateway"][c]["p50_ms"] / results["baseline_rasa_direct"][c]["p50_ms"], 2)
              for c in ("1", "20")}
    report = {
        "benchmark": "chat_latency",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "script": SCRIPT, "conversations_per_level": CONVERSATIONS_PER_LEVEL,
        "results": results, "gateway_over_baseline_p50": ratios,
    }
    out = ROOT / "bench" / "results" / "chat_latency.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    for name, levels in results.items():
        for concurrency, figures in levels.items():
            print(f"{name:22s} concurrency {concurrency:>2}: p50 {figures['p50_ms']:7.1f} ms  "
                  f"p95 {figures['p95_ms']:7.1f} ms  {figures['turns_per_second']:6.1f} turns/s")
    print(f"gateway / baseline (p50): {ratios}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
