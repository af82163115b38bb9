"""The conversation test set (issue 12): how many customers' conversations the bot completes.

Starts the real stack (Rasa, action server, API on a freshly seeded SQLite demo, the knowledge
base `make kb` built under var/kb) and plays every conversation of tests/e2e/conversations/*.yml,
a few at a time, judged by tests/e2e/conversations/runner.py: completed = right outcome (tickets,
answers, handoff, verification), no loop (no bot question more than 3 times), no lost turn (every
customer turn got a real reply). Figures: completion rate (goal 0.95), customer turns per
completed conversation, failures by kind and by area, the failing conversations with their
reasons and transcripts, and the time the set takes.

The JSON keeps a reference run under "before" (carried over from the previous results file, or
this run with --as-before, or the "results" of --before FILE) beside this run.
Run: .venv/bin/python bench/conversations.py [--as-before | --before FILE] [--concurrency N]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine
from tests.e2e.conversations import runner
from tests.stack import running_stack

OUT = ROOT / "bench" / "results" / "conversations.json"
KB_DIR = ROOT / "var" / "kb"


def commit() -> str:
    """The checked-out commit, "-dirty" when the working tree has changes."""
    return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                          capture_output=True, text=True, check=False).stdout.strip() or "unknown"


def run(concurrency: int) -> tuple[list[runner.Result], dict]:
    """Play the set on a fresh stack; the results and the times (stack start, the set)."""
    conversations = runner.load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir, running_stack(Path(workdir), kb_dir=KB_DIR) as stack:
        up = time.perf_counter()
        results = runner.play(conversations, api_url=stack.api_url, token=stack.settings.service_token,
                              database_url=stack.settings.database_url, concurrency=concurrency)
        done = time.perf_counter()
    return results, {"stack_start_seconds": round(up - started, 1), "run_seconds": round(done - up, 1),
                     "concurrency": concurrency}


def reference(path: Path) -> dict | None:
    """The run to compare with: the "before" of the results file, or another file's own run."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if path.resolve() == OUT and data.get("before"):
        return data["before"]
    return {key: data[key] for key in ("generated_at", "commit", "results")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=OUT,
                        help="results JSON of the reference run (default: keep the current file's)")
    parser.add_argument("--as-before", action="store_true", help="record this run as the reference run")
    parser.add_argument("--concurrency", type=int, default=3, help="conversations played at once (default 3)")
    args = parser.parse_args()
    if not (KB_DIR / "CURRENT").exists():
        sys.exit(f"no knowledge base at {KB_DIR}: run `make kb` first")
    results, times = run(args.concurrency)
    figures = {**runner.figures(results), **times}
    this_run = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": commit(), "results": figures}
    before = None if args.as_before else reference(args.before)
    before = before or this_run
    report = {
        "benchmark": "conversations",
        **this_run,
        "machine": machine(),
        "method": ("tests/e2e/conversations/*.yml played through the gateway of a fresh stack "
                   "(tests.stack.running_stack: demo seed 7, KB from var/kb), judged by "
                   "tests/e2e/conversations/runner.py"),
        "failure_kinds": runner.FAILURE_KINDS,
        "before": before,
        "completion_rate": {"before": before["results"]["completion_rate"],
                            "after": figures["completion_rate"]},
        "transcripts_of_failures": {r.conversation.id: r.transcript() for r in results if not r.completed},
    }
    OUT.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"{figures['completed']} of {figures['conversations']} conversations completed "
          f"({figures['completion_rate']:.1%}, goal {runner.GOAL:.0%}); before "
          f"{before['results']['completion_rate']:.1%} ({before['commit']})")
    print(f"customer turns per completed conversation: mean {figures['turns_per_completed']['mean']}, "
          f"median {figures['turns_per_completed']['median']}")
    print(f"failures by kind: {figures['failures_by_kind']}")
    print(f"the set took {figures['run_seconds']} s ({figures['customer_turns']} customer turns, "
          f"{args.concurrency} at a time) after {figures['stack_start_seconds']} s of stack start")
    print(runner.failure_text(results))
    print(f"written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
