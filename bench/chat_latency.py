"""Time of one chat turn through the gateway, with 1, 10, 20 and 40 concurrent conversations.

Starts the real stack (Rasa, action server, API with a seeded SQLite demo). Baseline measured in
the same run: the same turns sent straight to Rasa, i.e. the bot alone; the ratio
gateway/baseline is the cost of the gateway (storing every turn, ownership check, validation).
Rasa has no open REST channel any more: the baseline is the bot's gateway channel
(bot/channels.py, what the gateway calls) with its token; earlier runs timed the REST webhook,
which cost what the gateway channel costs. The two take turns, batch by batch, so they share the
machine's other load.

The gateway is driven as the chat page drives it: a conversation issued by the API (id and
secret), every message with its secret, a client_msg_id and the page's hold time (hold_after_ms =
the gateway's 2 s): a reply that takes longer comes back as a holding message, and the bench then
fetches the real reply with the same client_msg_id (what the page gets on its socket). Per level it
reports p50/p95/p99 of the time to the real reply, the share of turns that got a holding message
first and the share answered with the fallback (a bot that failed; must be 0 while all parts are
up). One machine plays every customer, so the per-address rate limit is lifted for the run.

The JSON keeps a reference run under "before" (carried over from the previous results file, or
taken from --before FILE) beside this run, with the gateway/bare-Rasa ratio at one conversation of
each, so a change to the gateway shows its effect.
Run: .venv/bin/python bench/chat_latency.py [--before FILE]   (make bench)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.conversations.gateway import ChatGateway, ChatLimits  # noqa: E402
from bench.common import machine, percentile  # noqa: E402
from tests.stack import running_stack  # noqa: E402

SCRIPT = ["你好", "西吉县最近有没有停电通知", "电费怎么交", "谢谢", "再见"]
CONVERSATIONS_PER_LEVEL = 40
LEVELS = (1, 10, 20, 40)
HOLD_MS = 2000  # the chat page's: ChatGateway.hold_seconds
OUT = ROOT / "bench" / "results" / "chat_latency.json"


@dataclass
class Turn:
    """One turn as the customer saw it: time to the real reply, and whether a holding message or the fallback came."""

    ms: float
    holding: bool = False
    fallback: bool = False


async def converse(http: httpx.AsyncClient, url: str, body_for, sender: str, timings: list[Turn],
                   headers: dict[str, str]):
    if body_for is gateway_body:
        await converse_gateway(http, url, sender, timings)
        return
    for text in SCRIPT:
        started = time.perf_counter()
        response = await http.post(url, json=body_for(sender, text), headers=headers)
        response.raise_for_status()
        timings.append(Turn((time.perf_counter() - started) * 1000))


async def converse_gateway(http: httpx.AsyncClient, url: str, sender: str, timings: list[Turn]) -> None:
    """A web chat: a new conversation, then each message as the page sends it (secret, id, hold time)."""
    issued = await http.post(url.replace("/messages", "/conversations"))
    issued.raise_for_status()
    chat = issued.json()
    headers = {"X-Chat-Secret": chat["secret"]}
    for n, text in enumerate(SCRIPT):
        body = gateway_body(chat["conversation_id"], text) | {"client_msg_id": f"{sender}-{n}"}
        started = time.perf_counter()
        response = await http.post(url, json=body | {"hold_after_ms": HOLD_MS}, headers=headers)
        response.raise_for_status()
        holding = response.json()["handled_by"] == "holding"
        if holding:  # the reply follows: the same client_msg_id returns it when it is ready
            response = await http.post(url, json=body, headers=headers)
            response.raise_for_status()
        timings.append(Turn((time.perf_counter() - started) * 1000, holding,
                            response.json()["handled_by"] == "fallback"))


async def measure(targets: dict[str, tuple[str, Callable, dict]], concurrency: int) -> dict[str, dict]:
    """Each target's turn times with `concurrency` conversations at once.

    The targets take turns batch by batch (who goes first rotates), so they share whatever else
    the machine is doing and their ratio holds even on a busy machine.
    """
    timings: dict[str, list[Turn]] = {name: [] for name in targets}
    busy = dict.fromkeys(targets, 0.0)
    async with httpx.AsyncClient(timeout=30) as http:
        for name, (url, body_for, headers) in targets.items():
            await converse(http, url, body_for, f"warm-{name}-{concurrency}", [], headers)
        for batch, start in enumerate(range(0, CONVERSATIONS_PER_LEVEL, concurrency)):
            order = list(targets)[batch % len(targets):] + list(targets)[:batch % len(targets)]
            for name in order:
                url, body_for, headers = targets[name]
                senders = [f"bench-{name}-{concurrency}-{i}"
                           for i in range(start, min(start + concurrency, CONVERSATIONS_PER_LEVEL))]
                started = time.perf_counter()
                await asyncio.gather(*(converse(http, url, body_for, s, timings[name], headers)
                                       for s in senders))
                busy[name] += time.perf_counter() - started
    return {name: figures(turns, busy[name]) for name, turns in timings.items()}


def figures(turns: list[Turn], busy_seconds: float) -> dict:
    """Percentiles of the time to the real reply, the shares of holding messages and fallbacks, throughput."""
    ms = [t.ms for t in turns]
    return {"turns": len(turns), "p50_ms": round(percentile(ms, 0.50), 1), "p95_ms": round(percentile(ms, 0.95), 1),
            "p99_ms": round(percentile(ms, 0.99), 1), "mean_ms": round(statistics.mean(ms), 1),
            "holding_share": round(sum(t.holding for t in turns) / len(turns), 3),
            "fallback_share": round(sum(t.fallback for t in turns) / len(turns), 3),
            "turns_per_second": round(len(turns) / busy_seconds, 1)}


def commit() -> str:
    """The checked-out commit, "-dirty" when the working tree has changes."""
    return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                          capture_output=True, text=True, check=False).stdout.strip() or "unknown"


def ratios(results: dict) -> dict[str, float]:
    """Gateway p50 / bare-Rasa (REST) p50 at each concurrency."""
    return {c: round(results["gateway"][c]["p50_ms"] / results["baseline_rasa_direct"][c]["p50_ms"], 2)
            for c in results["gateway"]}


def rasa_body(sender: str, text: str) -> dict:
    """A message as Rasa's gateway channel takes it."""
    return {"sender": sender, "message": text}


def gateway_body(sender: str, text: str) -> dict:
    """A message as the API's chat endpoint takes it."""
    return {"sender_id": sender, "text": text, "channel": "web"}


def run() -> dict:
    # one machine plays every customer: lift the per-address limits (per conversation stays)
    ChatGateway.__init__.__kwdefaults__["limits"] = ChatLimits(per_address_minute=10**6, new_per_address_hour=10**6)
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir)) as stack:
        # Rasa's gateway channel needs the token the gateway sends (stack.rasa_auth).
        targets = {"baseline_rasa_direct": (f"{stack.rasa_url}/webhooks/gateway/webhook", rasa_body,
                                            stack.rasa_auth),
                   "gateway": (f"{stack.api_url}/api/chat/messages", gateway_body, {})}
        levels = {str(concurrency): asyncio.run(measure(targets, concurrency)) for concurrency in LEVELS}
    return {name: {level: figures[name] for level, figures in levels.items()} for name in targets}


def reference(path: Path) -> dict | None:
    """The run to compare with: the "before" of a results file, or the file's own run."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if "before" in data and path.resolve() == OUT:
        return data["before"]
    return {"generated_at": data["generated_at"], "commit": data.get("commit", "unknown"),
            "results": {k: data["results"][k] for k in ("baseline_rasa_direct", "gateway")},
            "gateway_over_baseline_p50": ratios(data["results"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=OUT,
                        help="results JSON of the reference run (default: keep the current file's)")
    args = parser.parse_args()
    before = reference(args.before)
    results = run()
    after = ratios(results)
    report = {
        "benchmark": "chat_latency",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "script": SCRIPT, "conversations_per_level": CONVERSATIONS_PER_LEVEL,
        "results": results, "gateway_over_baseline_p50": after,
        "before": before,
        "gateway_over_rasa_at_1": {"before": before["gateway_over_baseline_p50"]["1"] if before else None,
                                   "after": after["1"]},
    }
    OUT.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    for name, levels in results.items():
        for concurrency, figures in levels.items():
            print(f"{name:27s} concurrency {concurrency:>2}: p50 {figures['p50_ms']:7.1f} ms  "
                  f"p95 {figures['p95_ms']:7.1f} ms  p99 {figures['p99_ms']:7.1f} ms  "
                  f"{figures['turns_per_second']:6.1f} turns/s  holding {figures['holding_share']:.1%}  "
                  f"fallback {figures['fallback_share']:.1%}")
    print(f"gateway / bare Rasa (p50): {after}")
    if before:
        print(f"at one conversation: before {report['gateway_over_rasa_at_1']['before']} "
              f"({before['commit']}, {before['generated_at']}), now {after['1']}")
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
