"""Soak: a bounded mixed load against a real API process, with faults injected on a schedule.

The API runs as its own process (uvicorn, as the Procfile starts it) with its in-process workers
(outbox, ticket jobs), SMS going to the fake Twilio (tests/fakes/twilio.py), Redis a private
redis-server, the database PostgreSQL (a private database on the server of DATABASE_URL, reached
through a TCP proxy that can be cut) or, without DATABASE_URL, a SQLite file (then the database
fault is skipped and says so). The bot is the fake Rasa unless --rasa: then the real Rasa server
and action server (tests/stack.py's commands; heavy).

Load, from threads, each pausing PAUSE seconds between requests: chat turns through the gateway
(channel adapters with the service token, and web chats with their secret), fault reports with
idempotency keys, crews stepping tickets on (接单 → 到达 → 处理完成), customer reads (the chat
history with its secret) and staff reads (ticket lists, customer overviews, transcripts).

Faults, at fixed fractions of the run: the API killed with kill -9 and started again, the database
line cut for DB_CUT_SECONDS, Redis killed with kill -9 for REDIS_DOWN_SECONDS and started again
(empty, as after a crash). Clients behave as real ones: a request cut off or refused with a 5xx is
sent again later with the same idempotency key.

Reported: requests served per kind, errors by kind (during a fault or within GRACE_SECONDS after
it, and outside any fault: those must be 0), lost or duplicated reports, ticket steps and SMS
(must be 0; tests/resilience/ledger.py checks the database and the fake Twilio's record against
what clients were told), and resident memory per process (the API's per incarnation, since a
kill starts a new one, from WARMUP_SECONDS after its start). The baseline, measured in the same run: the served rate before the first
fault. Writes bench/results/soak.json.

Run: .venv/bin/python bench/soak.py [--minutes 10] [--rasa]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from api.customers.models import Customer  # noqa: E402
from api.db import make_engine, make_sessionmaker  # noqa: E402
from bench.common import machine  # noqa: E402
from tests.conftest import TEST_TOKEN, PostgresDatabases, free_port, seed_database  # noqa: E402
from tests.fakes.rasa import FakeRasa  # noqa: E402
from tests.fakes.tcp_proxy import TcpProxy  # noqa: E402
from tests.fakes.twilio import FakeTwilio  # noqa: E402
from tests.resilience.ledger import (  # noqa: E402
    AUTH, CREW_STEPS, Ledger, audit, take_over_stale_claims, wait_for_outbox)
from tests.resilience.processes import ApiProcess, RedisServer, rss_kib  # noqa: E402
from tests.stack import (  # noqa: E402
    ACTION_SERVER_TOKEN, CREDENTIALS, ENDPOINTS, MODEL, RASA, RASA_TOKEN, Server)

OUT = ROOT / "bench" / "results" / "soak.json"
PAUSE = 0.15  # seconds between two requests of one client thread
GRACE_SECONDS = 5.0
WARMUP_SECONDS = 15.0  # an API process's memory at start is read this long after it started  # errors this soon after a fault ended still count as the fault's
DB_CUT_SECONDS = 10.0
REDIS_DOWN_SECONDS = 20.0
API_DOWN_SECONDS = 2.0  # between the kill and the restart (then the start itself, ~3 s)
SCHEDULE = ((0.2, "api_kill"), (0.35, "db_cut"), (0.5, "redis_kill"), (0.65, "api_kill"), (0.8, "db_cut"),
            (0.9, "redis_kill"))
CHAT_TEXTS = ["你好", "我家停电了", "电费怎么交", "西吉县最近有没有停电通知", "峰谷电几点开始算谷电", "谢谢"]


def commit() -> str:
    return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=ROOT,
                          capture_output=True, text=True, check=False).stdout.strip() or "unknown"


class Load:
    """Counts what the clients got; knows whether a fault is on (or just ended)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.served: Counter = Counter()
        self.errors_in_fault: Counter = Counter()
        self.errors_outside: Counter = Counter()
        self.fault: str | None = None
        self.last_fault: str | None = None
        self.fault_ended = 0.0
        self.stop = threading.Event()
        self.first_fault_at: float | None = None
        self.served_before_fault = 0

    def _errors(self, what: str) -> None:
        """Count an error under the fault it happened in (or just after), else as an error outside faults."""
        if self.fault is not None or time.monotonic() - self.fault_ended < GRACE_SECONDS:
            self.errors_in_fault[f"{self.fault or self.last_fault}: {what}"] += 1
        else:
            self.errors_outside[what] += 1

    def record(self, kind: str, response: httpx.Response | None, ok: tuple[int, ...] = (200,), error: str = ""):
        with self.lock:
            if response is not None and response.status_code in ok:
                self.served[kind] += 1
                return
            self._errors(f"{kind}: {error or f'{response.status_code} {_code(response)}'}")

    def count(self, kind: str, error: str) -> None:
        """A request the ledger sent: served when `error` is empty."""
        with self.lock:
            if not error:
                self.served[kind] += 1
            else:
                self._errors(f"{kind}: {error}")

    def call(self, kind: str, send, ok: tuple[int, ...] = (200,)) -> httpx.Response | None:
        try:
            response = send()
        except httpx.TransportError as exc:
            self.record(kind, None, ok, error=f"connection: {type(exc).__name__}")
            return None
        self.record(kind, response, ok)
        return response


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"]["code"])
    except (ValueError, KeyError, TypeError):
        return "-"


def run(minutes: float, with_rasa: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="zhidian-soak-"))
    database_url = os.environ.get("DATABASE_URL", "")
    postgres = PostgresDatabases(database_url) if database_url.startswith("postgres") else None
    db_url = postgres.create() if postgres else f"sqlite:///{work / 'soak.db'}"
    print(f"seeding {'PostgreSQL' if postgres else 'SQLite'} …", flush=True)
    seed_database(db_url)
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        accounts = [tuple(r) for r in session.execute(select(Customer.account_no, Customer.mobile).limit(120))]
    twilio, redis_server, proxy, rasa, bot_servers = FakeTwilio().start(), None, None, None, []
    if RedisServer.BINARY:
        redis_server = RedisServer(work)
        redis_server.start()
    api_db_url = db_url
    if postgres:
        target = make_url(db_url)
        proxy = TcpProxy(target.host, target.port or 5432)
        proxy.restore()
        api_db_url = target.set(port=proxy.port).render_as_string(hide_password=False)
    if with_rasa:
        rasa_url = f"http://127.0.0.1:{free_port()}"
    else:
        rasa = FakeRasa().__enter__()
        rasa_url = rasa.url
    api = ApiProcess(work, database_url=api_db_url, rasa_url=rasa_url, twilio=twilio,
                     redis_url=redis_server.url if redis_server else None, rasa_timeout_seconds="10")
    api.start()
    if with_rasa:
        bot_servers = start_bot(work, api, rasa_url)
    load, ledger = Load(), Ledger()
    memory: dict[str, list] = {"redis": [], "driver": [], **{s.name: [] for s in bot_servers}}  # the API: per incarnation
    api_incarnation = {"pid": api.pid, "start_kib": None, "end_kib": None}
    faults: list[dict] = []
    senders: list[str] = []

    def sample() -> None:
        """RSS now; an API incarnation's start is taken once it has warmed up (imports, first requests)."""
        if api.pid and api.pid == api_incarnation["pid"] and (kib := api.rss_kib()):
            if time.monotonic() - api_started[0] >= WARMUP_SECONDS:
                api_incarnation["start_kib"] = api_incarnation["start_kib"] or kib
            api_incarnation["end_kib"] = kib
        for name, pid in [("redis", redis_server.process.pid if redis_server and redis_server.process else None),
                          ("driver", os.getpid()), *[(s.name, s.process.pid if s.process else None)
                                                     for s in bot_servers]]:
            if pid and (kib := rss_kib(pid)):
                memory[name].append((pid, kib))

    # ---- clients ----

    def chat() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for n in itertools.count():
                if load.stop.is_set():
                    return
                sender = f"soak-{ledger.run}-{threading.get_ident() % 1000}-{n // 6}"  # 6 turns a conversation
                response = load.call("chat turn", lambda: http.post("/api/chat/messages", headers=AUTH, json={
                    "sender_id": sender, "channel": "wechat", "text": CHAT_TEXTS[n % len(CHAT_TEXTS)]}))
                if response is not None and response.status_code == 200:
                    senders.append(sender)  # a conversation staff can read
                time.sleep(PAUSE)

    def web_customer() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            issued = None
            for n in itertools.count():
                if load.stop.is_set():
                    return
                if issued is None or n % 8 == 0:
                    response = load.call("web chat opened", lambda: http.post("/api/chat/conversations"), ok=(200, 201))
                    issued = response.json() if response is not None and response.status_code in (200, 201) else issued
                    if issued is None:
                        time.sleep(1)
                        continue
                cid, secret = issued["conversation_id"], issued["secret"]
                if n % 2:
                    load.call("web chat turn", lambda: http.post("/api/chat/messages", headers={
                        "X-Chat-Secret": secret}, json={"sender_id": cid, "text": CHAT_TEXTS[n % len(CHAT_TEXTS)]}))
                else:
                    load.call("customer read (history)", lambda: http.get(
                        f"/api/chat/{cid}/history", headers={"X-Chat-Secret": secret}))
                time.sleep(PAUSE)

    def reporter() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            while not load.stop.is_set():
                error = ledger.send_report(http, ledger.new_report(*random.choice(accounts)))
                load.count("fault report", error)
                time.sleep(PAUSE * 2)

    def crew() -> None:
        done: set[str] = set()
        with httpx.Client(base_url=api.url, timeout=30) as http:
            while not load.stop.is_set():
                todo = [n for n in list(ledger.dispatched) if n not in done]
                if not todo:
                    time.sleep(0.2)
                    continue
                done.add(todo[0])
                for action in CREW_STEPS:
                    error = ledger.send_step(http, todo[0], action)
                    load.count("ticket step", error)
                    if error:
                        break
                    time.sleep(PAUSE)

    def staff() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for n in itertools.count():
                if load.stop.is_set():
                    return
                if n % 3 == 0:
                    load.call("staff read (tickets)", lambda: http.get("/api/tickets", params={"limit": 20},
                                                                        headers=AUTH))
                elif n % 3 == 1:
                    account_no = random.choice(accounts)[0]
                    load.call("staff read (customer)", lambda: http.get(f"/api/customers/{account_no}/overview",
                                                                         headers=AUTH))
                else:
                    sender = senders[-10] if len(senders) > 10 else None
                    if sender:
                        load.call("staff read (transcript)", lambda: http.get(f"/api/conversations/{sender}",
                                                                               headers=AUTH))
                time.sleep(PAUSE)

    # ---- faults ----

    def inject(name: str) -> None:
        started = time.monotonic()
        load.fault = name
        load.first_fault_at = load.first_fault_at or started
        if load.served_before_fault == 0:
            load.served_before_fault = sum(load.served.values())
        detail = {}
        if name == "api_kill":
            sample()
            incarnations.append(dict(api_incarnation, seconds=round(started - api_started[0], 1)))
            api.kill()
            time.sleep(API_DOWN_SECONDS)
            api.start()
            api_started[0] = time.monotonic()
            api_incarnation.update(pid=api.pid, start_kib=None, end_kib=None)
        elif name == "db_cut":
            if proxy is None:
                detail["skipped"] = "no PostgreSQL (DATABASE_URL unset): SQLite has no server to cut"
            else:
                proxy.cut()
                time.sleep(DB_CUT_SECONDS)
                proxy.restore()
        elif name == "redis_kill":
            if redis_server is None:
                detail["skipped"] = "redis-server is not installed"
            else:
                redis_server.kill()
                time.sleep(REDIS_DOWN_SECONDS)
                redis_server.start()
        load.fault, load.last_fault, load.fault_ended = None, name, time.monotonic()
        with httpx.Client(base_url=api.url, timeout=30) as http:
            ledger.retry(http)
        faults.append({"fault": name, "at_s": round(started - t0, 1), "seconds": round(time.monotonic() - started, 1),
                       **detail})
        print(f"  {faults[-1]}", flush=True)

    incarnations: list[dict] = []
    threads = [threading.Thread(target=f, daemon=True)
               for f in (chat, chat, web_customer, reporter, reporter, crew, staff, staff)]
    duration = minutes * 60
    t0 = time.monotonic()
    api_started = [t0]
    print(f"soak: {minutes} min, API pid {api.pid}, {len(threads)} client threads", flush=True)
    for thread in threads:
        thread.start()
    schedule = list(SCHEDULE)
    try:
        while (elapsed := time.monotonic() - t0) < duration:
            sample()
            if schedule and elapsed >= schedule[0][0] * duration:
                inject(schedule.pop(0)[1])
                continue
            time.sleep(1)
        sample()
        load.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        incarnations.append(dict(api_incarnation, seconds=round(time.monotonic() - api_started[0], 1)))
        for life in incarnations:
            life["growth_kib"] = life["end_kib"] - life["start_kib"] if life["start_kib"] and life["end_kib"] else None
        busy = time.monotonic() - t0
        baseline_seconds = (load.first_fault_at or time.monotonic()) - t0
        with httpx.Client(base_url=api.url, timeout=30) as http:
            for _ in range(5):
                if not (ledger.unacked or ledger.steps_unacked):
                    break
                ledger.retry(http)
        wait_for_outbox(engine, seconds=120)
    finally:
        load.stop.set()
        api.stop()
        for server in bot_servers:
            server.stop()
    take_over_stale_claims(engine, twilio)
    result = audit(engine, ledger, twilio)
    engine.dispose()
    twilio.stop()
    if redis_server:
        redis_server.kill()
    if proxy:
        proxy.cut()
    if rasa:
        rasa.__exit__(None, None, None)
    if postgres:
        postgres.drop(db_url)
        postgres.admin.dispose()

    served = sum(load.served.values())
    return {
        "method": __doc__.split("\n\n")[1:5],
        "commit": commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(database="postgresql (through a TCP proxy)" if postgres else "sqlite file",
                           redis="private redis-server" if redis_server else None,
                           bot="real Rasa + action server" if with_rasa else "fake Rasa (tests/fakes/rasa.py)"),
        "minutes": minutes,
        "requests_served": served, "served_per_kind": dict(load.served),
        "served_per_second": round(served / busy, 1),
        "baseline_served_per_second_before_first_fault": round(load.served_before_fault / baseline_seconds, 1)
        if load.served_before_fault else None,
        "errors_during_faults": dict(load.errors_in_fault),
        "errors_outside_faults": dict(load.errors_outside),
        "faults": faults,
        "records": {"reports_acknowledged": len(ledger.acked), "reports_sent_again": len(ledger.sent_again), "ticket_steps_acknowledged": len(ledger.steps_acked),
            "sms_sent": len(twilio.messages), "client_errors_seen": dict(ledger.errors)},
        "lost_or_duplicated": {"reports_lost": len(result.reports_missing),
                               "reports_duplicated": len(result.reports_duplicated),
                               "ticket_steps_lost": len(result.steps_missing),
                               "ticket_steps_duplicated": len(result.steps_duplicated),
                               "sms_lost": len(result.sms_lost), "sms_duplicated": len(result.sms_duplicated),
                               "sms_unsettled": result.sms_unsettled},
        "memory_kib": {"api_per_incarnation": incarnations,
                       **{name: per_process(samples) for name, samples in memory.items() if samples}},
    }


def per_process(samples: list[tuple[int, int]]) -> list[dict]:
    """RSS samples (pid, KiB) as first and last per process (a restart is a new process)."""
    pids = list(dict.fromkeys(pid for pid, _ in samples))
    return [{"pid": pid, "start_kib": kibs[0], "end_kib": kibs[-1], "growth_kib": kibs[-1] - kibs[0],
             "samples": len(kibs)} for pid in pids for kibs in [[k for p, k in samples if p == pid]]]


def start_bot(work: Path, api: ApiProcess, rasa_url: str) -> list:
    """The real action server and Rasa (tests/stack.py's commands) talking to the API process."""
    actions_port, rasa_port = free_port(), int(rasa_url.rsplit(":", 1)[1])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZHIDIAN_API_URL": api.url, "ZHIDIAN_SERVICE_TOKEN": TEST_TOKEN,
           "RASA_TOKEN": RASA_TOKEN, "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
           "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
           "RASA_TRACKER_STORE_URL": f"sqlite:///{work / 'rasa-trackers.db'}"}
    env.pop("DATABASE_URL", None)
    actions = Server([sys.executable, "-m", "actions.server", "--host", "127.0.0.1", "--port", str(actions_port)],
                     env, work / "actions.log", f"http://127.0.0.1:{actions_port}/health", 60)
    rasa = Server([str(RASA), "run", "--interface", "127.0.0.1", "--port", str(rasa_port), "--model", str(MODEL),
                   "--endpoints", str(ENDPOINTS), "--credentials", str(CREDENTIALS)],
                  env, work / "rasa.log", f"{rasa_url}/webhooks/gateway/", 300)
    actions.name, rasa.name = "actions", "rasa"
    for server in (actions, rasa):
        server.start()
    return [actions, rasa]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run (default 10)")
    parser.add_argument("--rasa", action="store_true", help="the real Rasa and action server instead of the fake bot")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = run(args.minutes, args.rasa)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("requests_served", "served_per_second",
                                              "baseline_served_per_second_before_first_fault",
                                              "errors_outside_faults", "lost_or_duplicated")},
                     ensure_ascii=False, indent=2))
    print(f"wrote {args.out}")
    if any(results["lost_or_duplicated"].values()) or results["errors_outside_faults"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
