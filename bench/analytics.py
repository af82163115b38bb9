"""Supervisor dashboard queries at 1,000,000 tickets, on SQLite and on PostgreSQL.

Data. A fresh database per backend, migrated to head (so with the analytics indexes of migration
0006), filled with synthetic history over DAYS days up to now: TICKETS tickets (more in summer,
fewer at weekends and at night, a few storm days; the seven types and five districts in realistic
shares; dispatch, acceptance, arrival, resolution and closing times drawn per step, so the status
follows from the ticket's age; late commitments breached and mostly recorded; 4 % of fault reports
attached to an earlier ticket; 3 % cancelled; satisfaction on 55 % of resolved ones), 60 crews with
day and night shifts every day, CONVERSATIONS conversations (1–5 customer turns, each with the bot's
reply; 12 % of turns not understood; 22 % queued for an agent with a reason, most joined) and KB
votes on 10 % of them. Rows go in by chunks (SQLite: executemany; PostgreSQL: INSERT … SELECT FROM
unnest of one array per column; no COPY) with the big tables' secondary indexes dropped, which are
then built again as the migrations define them; then ANALYZE (PostgreSQL: VACUUM ANALYZE, as
autovacuum would leave it).

Timing. `api.analytics.service.dashboard` (every query of the page) for: the default range (last 30
days), 30 days per district, 30 days per type, 90 days and 365 days; RUNS runs after one warm-up,
p50 / p95 of the whole dashboard and p50 of each query; plus the filter options and a CSV export.

Baseline, measured in the same run: "naive" — the ticket and conversation figures (volume by type,
district and day, SLA, durations, satisfaction, backlog, containment) computed in Python from the filtered
rows loaded with SQLAlchemy Core, which is what the dashboard would cost without GROUP BY in the
database. The naive figures are checked against the SQL ones. Reported as naive / SQL for the same
queries. For information, the default range is also timed after dropping the two 0006 indexes.

PostgreSQL: the server of --postgres or DATABASE_URL; a throw-away database is created and dropped.
Without a reachable server the PostgreSQL part is skipped with a note.

Run: .venv/bin/python bench/analytics.py [--tickets 1000000] [--conversations N] [--days 365]
     [--runs 5] [--postgres URL | --no-postgres] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from bench.kb_search import LoadMeter  # noqa: E402
from api.analytics import service  # noqa: E402
from api.conversations.models import Conversation  # noqa: E402
from api.db import make_engine, make_sessionmaker  # noqa: E402
from api.migrate import upgrade  # noqa: E402
from api.models import Base  # noqa: E402
from api.core.vocabulary import ON_SITE_TYPES  # noqa: E402
from api.core.vocabulary import OPEN_STATUSES as OPEN  # noqa: E402
from api.tickets.models import Ticket  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
TICKETS = 1_000_000
DAYS = 365
RUNS = 5
CHUNK = 20_000
ANALYTICS_INDEXES = ("ix_tickets_analytics", "ix_tickets_resolved_work")

TYPES = {"故障报修": 0.46, "咨询回访": 0.14, "业务办理": 0.14, "投诉": 0.08, "充电设施故障": 0.08, "安全隐患": 0.06,
         "稽查任务": 0.04}
DISTRICTS = {"原州区": 0.34, "西吉县": 0.22, "彭阳县": 0.195, "隆德县": 0.13, "泾源县": 0.11, None: 0.005}
AREA_MINUTES = ((45, 0.40), (90, 0.45), (120, 0.15))  # 城区 / 农村 / 边远 arrival promises
DUE_MINUTES = {"投诉": 1440, "咨询回访": 1440, "业务办理": 2700, "稽查任务": 14400}
HOURS = np.array([2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 8, 8, 7.5, 6.5, 6.5, 7, 7, 7, 7, 7, 6.5, 6, 5, 4, 3])
INTENTS = {"query_bill": 16, "report_outage": 12, "query_balance": 10, "faq": 10, "pay_bill": 7,
           "query_outage_notice": 6, "query_ticket_status": 6, "apply_service": 5, "query_usage": 5,
           "charging_find_station": 3, "complaint": 2, "request_human": 3, "greet": 3, "thank": 3, "affirm": 4,
           "deny": 2, "report_hazard": 1, "nlu_fallback": 12}
REASONS = {"request_human": 0.45, "repeated_fallback": 0.25, "angry": 0.12, "complaint": 0.12, "agent_takeover": 0.06}
FALLBACK_TEXTS = [f"看不懂的话{i}" for i in range(40)]
ARTICLES = [f"article-{i:03d}" for i in range(60)]


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- synthetic data

def _local_midnight_epoch(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), SH).timestamp())


def _instants(rng: np.random.Generator, n: int, days: int, now: datetime) -> np.ndarray:
    """n creation instants (epoch seconds, sorted): seasons, weekdays, storms and hours of the day."""
    first = (now.astimezone(SH) - timedelta(days=days - 1)).date()
    dates = [first + timedelta(days=i) for i in range(days)]
    weight = np.array([(1 + 0.35 * np.cos((d.timetuple().tm_yday - 200) / 365 * 2 * np.pi))
                       * (0.85 if d.weekday() >= 5 else 1.0) for d in dates])
    weight[rng.choice(days, size=max(1, days // 40), replace=False)] *= 3.0  # storm days
    midnights = np.array([_local_midnight_epoch(d) for d in dates], dtype=np.int64)
    wanted, out = n, []
    while wanted > 0:
        m = int(wanted * 1.1) + 100
        day = rng.choice(days, size=m, p=weight / weight.sum())
        hour = rng.choice(24, size=m, p=HOURS / HOURS.sum())
        at = midnights[day] + hour * 3600 + rng.integers(0, 3600, size=m)
        at = at[at < int(now.timestamp())]
        out.append(at[:wanted])
        wanted -= len(out[-1])
    return np.sort(np.concatenate(out))


def _pick(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array(list(shares.values()), dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


NULL = np.iinfo(np.int64).min


def make_tickets(n: int, days: int, now: datetime, crews: list[tuple[str, str]], seed: int = 1) -> dict:
    """Columns of n tickets; times as epoch microseconds, NULL where a step has not happened."""
    rng = np.random.default_rng(seed)
    created = _instants(rng, n, days, now) * 1_000_000 + rng.integers(0, 1_000_000, size=n)
    now_us = int(now.timestamp() * 1_000_000)
    type_ = _pick(rng, TYPES, n)
    district = _pick(rng, DISTRICTS, n)
    minute = 60_000_000
    due = np.array([DUE_MINUTES.get(t, 0) for t in type_], dtype=np.int64)
    area = rng.choice([m for m, _ in AREA_MINUTES], size=n, p=[p for _, p in AREA_MINUTES])
    due = np.where(due == 0, area, due) * minute
    on_site = np.isin(type_, ON_SITE_TYPES)
    slow = np.isin(type_, ("业务办理", "稽查任务"))
    t_assign = created + ((rng.exponential(6, n) + 1) * minute).astype(np.int64)
    t_accept = t_assign + ((rng.exponential(8, n) + 1) * minute).astype(np.int64)
    travel = rng.lognormal(np.log(area * 0.55), 0.5)
    t_arrive = np.where(on_site, t_accept + (travel * minute).astype(np.int64), NULL)
    work = rng.lognormal(np.log(70), 0.6) * np.where(slow, 12, 1)
    t_resolve = np.where(on_site, t_arrive, t_accept) + (work * minute).astype(np.int64)
    t_close = t_resolve + (rng.exponential(1200, n) * minute).astype(np.int64)
    cancelled = rng.random(n) < 0.03
    stuck = rng.random(n) < 0.004  # never accepted: waiting for a crew
    parent = np.full(n, -1, dtype=np.int64)
    child = (type_ == "故障报修") & (rng.random(n) < 0.04) & (np.arange(n) > 1000)
    parent[child] = np.arange(n)[child] - rng.integers(1, 1000, size=int(child.sum()))

    def happened(t):
        return (t != NULL) & (t <= now_us)

    status = np.full(n, "新建", dtype=object)
    assigned, accepted = happened(t_assign) & ~child, happened(t_accept) & ~child & ~stuck
    arrived = happened(t_arrive) & accepted & ~cancelled
    resolved = happened(t_resolve) & accepted & ~cancelled
    closed = happened(t_close) & resolved
    status[assigned] = "已派单"
    status[accepted] = "已接单"
    status[arrived] = "已到达"
    status[resolved] = "已处理"
    status[closed] = "已关闭"
    suspended = (status == "已接单") & (rng.random(n) < 0.05)
    status[suspended] = "挂起"
    cancel_at = t_accept + 30 * minute
    cancel_now = cancelled & happened(cancel_at)
    status[cancel_now & ~child] = "已关闭"
    child_closed = child & (created + 180 * minute <= now_us)
    status[child] = "新建"
    status[child_closed] = "已关闭"

    done = np.where(on_site, np.where(arrived, t_arrive, NULL), np.where(resolved, t_resolve, NULL))
    deadline = created + due
    late_done = (done != NULL) & (done > deadline)
    late_open = (done == NULL) & (deadline + 60_000_000 <= now_us) & np.isin(status, ("新建", "已派单", "已接单", "已到达"))
    recorded = (late_done & (rng.random(n) < 0.9)) | late_open
    recorded &= ~child
    breached_at = np.where(recorded, deadline + 30_000_000, NULL)

    satisfaction = np.where(resolved & (rng.random(n) < 0.55),
                            rng.choice([5, 4, 3, 2, 1], size=n, p=[.5, .25, .12, .08, .05]), -1)
    crews_by_district = defaultdict(list)
    for crew_id, home in crews:
        crews_by_district[home].append(crew_id)
    all_crews = [c for c, _ in crews]
    crew = np.array([None] * n, dtype=object)
    for d in DISTRICTS:
        pool = crews_by_district.get(d) or all_crews
        mask = assigned & (district == d)
        crew[mask] = np.array(pool, dtype=object)[rng.integers(0, len(pool), size=int(mask.sum()))]
    closed_at = np.where(closed, t_close, np.where(cancel_now & ~child, cancel_at,
                                                   np.where(child_closed, created + 180 * minute, NULL)))
    return {
        "created": created, "type": type_, "district": district, "status": status, "arrive_by": deadline,
        "assigned": np.where(assigned, t_assign, NULL), "accepted": np.where(accepted, t_accept, NULL),
        "arrived": np.where(arrived, t_arrive, NULL), "resolved": np.where(resolved, t_resolve, NULL),
        "closed": closed_at, "breached": breached_at, "satisfaction": satisfaction, "crew": crew,
        "parent": parent, "priority": rng.choice([1, 2, 2, 3], size=n),
        "channel": rng.choice(np.array(["web", "hotline", "wechat", "sms"], dtype=object), size=n),
    }


def make_conversations(n: int, days: int, now: datetime, seed: int = 2) -> dict:
    """Conversations with their customer turns, bot replies, queue events and KB votes."""
    rng = np.random.default_rng(seed)
    created = _instants(rng, n, days, now) * 1_000_000
    turns = rng.integers(1, 6, size=n)
    queued = rng.random(n) < 0.22
    joined = queued & (rng.random(n) < 0.8)
    handed_back = joined & (rng.random(n) < 0.25)
    reason = _pick(rng, REASONS, n)
    total = int(turns.sum())
    owner = np.repeat(np.arange(n), turns)
    k = np.arange(total) - np.repeat(np.cumsum(turns) - turns, turns)
    at = created[owner] + k * 40_000_000
    intent = _pick(rng, {i: w for i, w in INTENTS.items()}, total)
    fallback = intent == "nlu_fallback"
    confidence = np.where(fallback, rng.uniform(0.15, 0.45, total), rng.uniform(0.55, 0.99, total)).round(3)
    texts = np.where(fallback, np.array(FALLBACK_TEXTS, dtype=object)[rng.integers(0, len(FALLBACK_TEXTS), total)],
                     intent)
    votes = rng.random(n) < 0.10
    return {"created": created, "turns": turns, "queued": queued, "joined": joined, "handed_back": handed_back,
            "reason": reason, "owner": owner, "at": at, "intent": intent, "confidence": confidence, "texts": texts,
            "votes": votes, "article": np.array(ARTICLES, dtype=object)[rng.integers(0, len(ARTICLES), n)],
            "helpful": rng.random(n) < 0.7}


# ---------------------------------------------------------------- loading

class Loader:
    """Bulk inserts with the driver's executemany: formatted strings for SQLite, datetimes for PostgreSQL."""

    def __init__(self, engine):
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def times(self, us: np.ndarray) -> list:
        values = us.astype("datetime64[us]")  # NULL (int64 min) is NaT
        if self.sqlite:
            strings = np.datetime_as_string(values, unit="us")
            return [None if s == "NaT" else s.replace("T", " ") for s in strings.tolist()]
        return values.astype(object).tolist()

    def connect(self):
        """SQLite: a connection of its own with a big page cache and no fsync, for the load only (the
        pooled connections the timings use keep the defaults). PostgreSQL: one from the pool, foreign-key
        triggers off for its session (a superuser's bulk load; the generated ids are consistent)."""
        if not self.sqlite:
            raw = self.engine.raw_connection()
            with raw.cursor() as cursor:  # no foreign-key triggers during the load (ids are consistent)
                cursor.execute("SET session_replication_role = replica")
            return raw
        import sqlite3

        raw = sqlite3.connect(self.engine.url.database)
        raw.execute("PRAGMA cache_size=-400000")
        raw.execute("PRAGMA synchronous=OFF")
        return raw

    def insert(self, table: str, columns: tuple[str, ...], rows) -> int:
        """SQLite: executemany per chunk. PostgreSQL: one INSERT … SELECT FROM unnest(<one array per
        column>) per chunk (psycopg's executemany is one statement per row, and long multi-row
        VALUES lists spend their time in psycopg's query parser)."""
        if self.sqlite:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})"
        else:
            from sqlalchemy.dialects import postgresql

            types = {c.name: c.type.compile(dialect=postgresql.dialect()) for c in Base.metadata.tables[table].columns}
            arrays = ", ".join(f"%b::{types[c]}[]" for c in columns)  # binary: no text escaping
            sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        raw = self.connect()
        count = 0
        try:
            cursor = raw.cursor()

            def flush(batch: list) -> None:
                if self.sqlite:
                    cursor.executemany(sql, batch)
                else:
                    cursor.execute(sql, [list(column) for column in zip(*batch)])

            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) >= CHUNK:
                    flush(batch)
                    count += len(batch)
                    batch = []
            if batch:
                flush(batch)
                count += len(batch)
            raw.commit()
        finally:
            raw.close()
        return count


def crews_and_shifts(days: int, now: datetime) -> tuple[list[tuple], list[tuple]]:
    """60 crews (12 per district) with 12-hour day and night shifts every day of the range."""
    crews, shifts = [], []
    first = (now.astimezone(SH) - timedelta(days=days - 1)).date()
    for d_index, district in enumerate(d for d in DISTRICTS if d):
        for i in range(12):
            crew_id = f"BK-{d_index}{i:02d}"
            crews.append((crew_id, f"{district}抢修{i + 1}班", f"139{d_index}{i:07d}", district))
            start_hour = 8 if i % 2 == 0 else 20
            for day in range(days + 1):
                start = datetime.combine(first + timedelta(days=day), datetime.min.time(), SH) + timedelta(hours=start_hour)
                shifts.append((crew_id, start.astimezone(UTC), (start + timedelta(hours=12)).astimezone(UTC)))
    return crews, shifts


BULK_TABLES = ("tickets", "conversations", "messages", "conversation_events")


def drop_indexes(engine) -> list:
    """The secondary indexes of the big tables, dropped for the load (rebuilt after it, as a restore does)."""
    indexes = [ix for name in BULK_TABLES for ix in Base.metadata.tables[name].indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    return indexes


def create_indexes(engine, indexes: list) -> None:
    """Build the dropped indexes again: the schema is the migrated one when timing starts."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET maintenance_work_mem = '256MB'")
        for index in indexes:
            index.create(conn)


def load(engine, *, tickets: int, conversations: int, days: int, now: datetime) -> dict:
    """Fill a migrated, empty database; returns counts and seconds."""
    started = time.perf_counter()
    loader = Loader(engine)
    indexes = drop_indexes(engine)
    crews, shifts = crews_and_shifts(days, now)
    loader.insert("crews", ("id", "name", "leader_mobile", "skills", "districts", "home_district", "base_lat",
                            "base_lon", "lat", "lon", "experience", "capacity", "active"),
                  ((c, name, mobile, '["低压抢修"]', json.dumps([home], ensure_ascii=False), home, 36.0, 106.3, 36.0,
                    106.3, 2, 3, True) for c, name, mobile, home in crews))
    shift_times = [s[1:] for s in shifts]
    if loader.sqlite:
        shift_times = [tuple(t.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") for t in s) for s in shift_times]
    else:
        shift_times = [tuple(t.replace(tzinfo=None) for t in s) for s in shift_times]
    loader.insert("crew_shifts", ("crew_id", "starts_at", "ends_at"),
                  ((s[0], *t) for s, t in zip(shifts, shift_times)))

    t = make_tickets(tickets, days, now, [(c[0], c[3]) for c in crews])
    generated = time.perf_counter()
    cols = {k: loader.times(t[k]) for k in ("created", "arrive_by", "assigned", "accepted", "arrived", "resolved",
                                            "closed", "breached")}
    local_days = np.datetime_as_string((t["created"] // 1_000_000 + 8 * 3600).astype("datetime64[s]"), unit="D")
    numbers = [f"BK{d.replace('-', '')}{i:07d}" for i, d in enumerate(local_days.tolist())]
    empty_address = "{}"
    sat = t["satisfaction"].tolist()
    parent = t["parent"].tolist()
    ticket_rows = (
        (numbers[i], t["type"][i], int(t["priority"][i]), t["status"][i], t["channel"][i], "synthetic", "固原市",
         empty_address, False, t["district"][i], "城区", "none", "", "", cols["arrive_by"][i], cols["created"][i],
         cols["created"][i], t["crew"][i], cols["assigned"][i], cols["accepted"][i], cols["arrived"][i],
         cols["resolved"][i], cols["closed"][i], cols["breached"][i], None if sat[i] < 0 else sat[i],
         None if parent[i] < 0 else parent[i] + 1, 0)
        for i in range(tickets))
    loader.insert("tickets", (
        "number", "type", "priority", "status", "channel", "description", "address_text", "address",
        "address_needs_review", "district", "area_class", "diagnosis_code", "diagnosis_summary", "crew_note",
        "arrive_by", "created_at", "updated_at", "crew_id", "assigned_at", "accepted_at", "arrived_at", "resolved_at",
        "closed_at", "sla_breached_at", "satisfaction", "parent_id", "escalation_level"), ticket_rows)
    tickets_done = time.perf_counter()

    c = make_conversations(conversations, days, now)
    created = loader.times(c["created"])
    ids = [f"web-bench-{i:07d}" for i in range(conversations)]
    queued, joined, back = c["queued"].tolist(), c["joined"].tolist(), c["handed_back"].tolist()
    loader.insert("conversations", ("id", "channel", "owner", "handoff_requested", "handoff_reason", "human_involved",
                                    "created_at", "last_active_at"),
                  ((ids[i], "web", "bot", queued[i] and not back[i], c["reason"][i] if queued[i] else None, joined[i],
                    created[i], created[i]) for i in range(conversations)))
    at = loader.times(c["at"])
    reply_at = loader.times(c["at"] + 2_000_000)
    owner, intent, confidence, texts = (c["owner"].tolist(), c["intent"].tolist(), c["confidence"].tolist(),
                                        c["texts"].tolist())

    def messages():
        for j in range(len(owner)):
            yield ids[owner[j]], at[j], "customer", texts[j], "ok", intent[j], confidence[j]
            yield ids[owner[j]], reply_at[j], "bot", "好的，正在为您处理。", "ok", None, None
    n_messages = loader.insert("messages", ("conversation_id", "at", "sender", "text", "delivery", "intent",
                                            "intent_confidence"), messages())
    queue_at = loader.times(c["created"] + 60_000_000)
    join_at = loader.times(c["created"] + 120_000_000)

    def events():
        for i in range(conversations):
            if queued[i]:
                yield ids[i], queue_at[i], "system", "queued", c["reason"][i]
            if joined[i]:
                yield ids[i], join_at[i], "agent:agent01", "joined", None
    n_events = loader.insert("conversation_events", ("conversation_id", "at", "actor", "action", "note"), events())
    votes, article, helpful = c["votes"].tolist(), c["article"].tolist(), c["helpful"].tolist()
    n_votes = loader.insert("kb_feedback", ("article_id", "conversation_id", "helpful", "query", "created_at",
                                            "updated_at"),
                            ((article[i], ids[i], helpful[i], None, queue_at[i], queue_at[i])
                             for i in range(conversations) if votes[i]))
    loaded = time.perf_counter()
    create_indexes(engine, indexes)
    indexed = time.perf_counter()
    with engine.connect() as conn:
        if loader.sqlite:
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return {"tickets": tickets, "conversations": conversations, "messages": n_messages, "conversation_events": n_events,
            "kb_feedback": n_votes, "crews": len(crews), "crew_shifts": len(shifts),
            "generate_tickets_s": round(generated - started, 1), "insert_tickets_s": round(tickets_done - generated, 1),
            "conversations_s": round(loaded - tickets_done, 1), "indexes_s": round(indexed - loaded, 1),
            "analyze_s": round(time.perf_counter() - indexed, 1),
            "total_s": round(time.perf_counter() - started, 1)}


# ---------------------------------------------------------------- timing

def scenarios(now: datetime) -> dict[str, service.Filters]:
    today = now.astimezone(SH).date()

    def last(days: int, **kw) -> service.Filters:
        return service.Filters(date_from=today - timedelta(days=days - 1), date_to=today, **kw)
    return {"30d": last(30), "30d_district": last(30, district="西吉县"), "30d_type": last(30, type="投诉"),
            "90d": last(90), "365d": last(365)}


def time_dashboard(sessionmaker, filters: service.Filters, now: datetime, runs: int) -> dict:
    """Whole-dashboard p50/p95 (after one warm-up) and each query's p50."""
    per_query: dict[str, list[float]] = defaultdict(list)
    totals = []
    kpis = None
    for run in range(runs + 1):
        with sessionmaker() as session:
            ctx = service.QueryContext(session=session, f=filters, now=now)
            started = time.perf_counter()
            for name, query in service.QUERIES.items():
                q0 = time.perf_counter()
                query(ctx)
                if run:
                    per_query[name].append((time.perf_counter() - q0) * 1000)
            elapsed = (time.perf_counter() - started) * 1000
            if run:
                totals.append(elapsed)
            if kpis is None:
                kpis = service.dashboard(session=session, filters=filters, now=now).kpis
    return {"p50_ms": round(percentile(totals, 0.5), 1), "p95_ms": round(percentile(totals, 0.95), 1),
            "runs_ms": [round(t, 1) for t in totals],
            "queries_p50_ms": {k: round(statistics.median(v), 1) for k, v in per_query.items()},
            "tickets_in_range": kpis.tickets, "conversations_in_range": kpis.conversations}


COMPARED = ("tickets", "backlog", "containment")


def naive(session, f: service.Filters, now: datetime) -> dict:
    """The COMPARED figures the naive way: load the filtered rows, count in Python."""
    scope = [Ticket.created_at >= f.start, Ticket.created_at < f.end]
    if f.district:
        scope.append(Ticket.district == f.district)
    if f.type:
        scope.append(Ticket.type == f.type)
    rows = session.execute(select(
        Ticket.type, Ticket.district, Ticket.created_at, Ticket.parent_id, Ticket.assigned_at, Ticket.arrived_at,
        Ticket.resolved_at, Ticket.arrive_by, Ticket.sla_breached_at, Ticket.satisfaction).where(*scope)).all()
    by_type, by_district, by_day, scores = Counter(), Counter(), Counter(), Counter()
    met = breached = 0
    durations = defaultdict(list)
    for r in rows:
        by_type[r.type] += 1
        by_district[r.district] += 1
        by_day[r.created_at.astimezone(SH).date()] += 1
        if r.satisfaction is not None:
            scores[r.satisfaction] += 1
        if r.parent_id is not None:
            continue
        done = r.arrived_at if r.type in ON_SITE_TYPES else r.resolved_at
        if r.sla_breached_at is not None or (done is not None and done > r.arrive_by):
            breached += 1
        elif done is not None:
            met += 1
        for key, at in (("dispatch", r.assigned_at), ("arrive", r.arrived_at), ("resolve", r.resolved_at)):
            if at is not None:
                durations[key].append((at - r.created_at).total_seconds() / 60)
    backlog_scope = [Ticket.parent_id.is_(None), Ticket.status.in_(OPEN), Ticket.created_at < f.end]
    if f.district:
        backlog_scope.append(Ticket.district == f.district)
    if f.type:
        backlog_scope.append(Ticket.type == f.type)
    ages = Counter()
    for (created,) in session.execute(select(Ticket.created_at).where(*backlog_scope)):
        hours = (now - created).total_seconds() / 3600
        ages[0 if hours < 1 else 1 if hours < 4 else 2 if hours < 24 else 3 if hours < 72 else 4] += 1
    conversations = session.execute(select(Conversation.human_involved, Conversation.handoff_requested).where(
        Conversation.created_at >= f.start, Conversation.created_at < f.end)).all()
    contained = sum(1 for human, handoff in conversations if not human and not handoff)
    return {"tickets": len(rows), "met": met, "breached": breached, "backlog": sum(ages.values()),
            "conversations": len(conversations), "contained": contained,
            "mean_dispatch": statistics.fmean(durations["dispatch"]) if durations["dispatch"] else None}


def time_naive(sessionmaker, f: service.Filters, now: datetime, runs: int, warm_up: bool = True) -> dict:
    """Naive timing next to the same figures from SQL (COMPARED queries), and a check that they agree."""
    naive_ms, sql_ms = [], []
    result = None
    for run in range(int(not warm_up), runs + 1):
        with sessionmaker() as session:
            started = time.perf_counter()
            result = naive(session, f, now)
            if run:
                naive_ms.append((time.perf_counter() - started) * 1000)
        with sessionmaker() as session:
            ctx = service.QueryContext(session=session, f=f, now=now)
            started = time.perf_counter()
            kpis = {}
            for name in COMPARED:
                kpis.update(service.QUERIES[name](ctx)[1])
            if run:
                sql_ms.append((time.perf_counter() - started) * 1000)
    agree = (result["tickets"], result["met"], result["breached"], result["backlog"], result["conversations"],
             result["contained"]) == (kpis["tickets"], kpis["sla_met"], kpis["sla_breaches"], kpis["backlog"],
                                      kpis["conversations"], kpis["contained"])
    agree = agree and abs(round(result["mean_dispatch"] or 0, 1) - (kpis["mean_dispatch_minutes"] or 0)) <= 0.1
    if not agree:
        raise SystemExit(f"naive and SQL figures differ: {result} vs {kpis}")
    n50, s50 = percentile(naive_ms, 0.5), percentile(sql_ms, 0.5)
    return {"naive_p50_ms": round(n50, 1), "sql_p50_ms": round(s50, 1), "ratio_naive_over_sql": round(n50 / s50, 1),
            "queries": list(COMPARED), "figures_agree": True}


def time_without_indexes(engine, sessionmaker, f: service.Filters, now: datetime, runs: int) -> dict:
    """The default range again after dropping the 0006 indexes (the database is thrown away after)."""
    with engine.begin() as conn:
        for name in ANALYTICS_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {name}")
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE tickets")
    return time_dashboard(sessionmaker, f, now, runs)


def bench_backend(name: str, url: str, *, tickets: int, conversations: int, days: int, runs: int,
                  now: datetime) -> dict:
    log(f"== {name}: migrating and loading {tickets:,} tickets, {conversations:,} conversations over {days} days")
    meter = LoadMeter()
    upgrade(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    try:
        counts = load(engine, tickets=tickets, conversations=conversations, days=days, now=now)
        with engine.connect() as conn:
            version = conn.exec_driver_sql(
                "SELECT sqlite_version()" if engine.dialect.name == "sqlite" else "SHOW server_version").scalar()
        log(f"   loaded in {counts['total_s']} s: {counts['messages']:,} messages, "
            f"{counts['conversation_events']:,} events, {counts['kb_feedback']:,} KB votes")
        out: dict = {"version": version, "data": counts, "scenarios": {}}
        for label, filters in scenarios(now).items():
            result = time_dashboard(sessionmaker, filters, now, runs if label != "365d" else 2)
            out["scenarios"][label] = result
            slowest = max(result["queries_p50_ms"].items(), key=lambda kv: kv[1])
            log(f"   dashboard {label:13s} p50 {result['p50_ms']:8.1f} ms  p95 {result['p95_ms']:8.1f} ms  "
                f"({result['tickets_in_range']:,} tickets; slowest query {slowest[0]} {slowest[1]} ms)")
        default = scenarios(now)["30d"]
        with sessionmaker() as session:
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                service.filter_options(session=session, now=now)
                timings.append((time.perf_counter() - started) * 1000)
            out["filter_options_p50_ms"] = round(percentile(timings, 0.5), 1)
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                service.to_csv(service.table(session=session, name="volume_by_day", filters=default, now=now))
                timings.append((time.perf_counter() - started) * 1000)
            out["export_volume_by_day_p50_ms"] = round(percentile(timings, 0.5), 1)
        log(f"   filter options p50 {out['filter_options_p50_ms']} ms, CSV export p50 "
            f"{out['export_volume_by_day_p50_ms']} ms")
        out["baseline_naive"] = {}
        for label in ("30d", "365d"):
            result = time_naive(sessionmaker, scenarios(now)[label], now, *((3, True) if label == "30d" else (1, False)))
            out["baseline_naive"][label] = result
            log(f"   baseline naive {label:5s}: {result['naive_p50_ms']:.1f} ms vs SQL {result['sql_p50_ms']:.1f} ms "
                f"-> {result['ratio_naive_over_sql']}x (figures agree)")
        result = time_without_indexes(engine, sessionmaker, default, now, 3)
        out["without_0006_indexes_30d"] = result
        with_indexes = out["scenarios"]["30d"]["p50_ms"]
        log(f"   without the 0006 indexes, 30d: p50 {result['p50_ms']:.1f} ms "
            f"({round(result['p50_ms'] / with_indexes, 1)}x the indexed {with_indexes} ms)")
        out["machine_load_during_run"] = meter.report()
        log(f"   other processes used {out['machine_load_during_run']['other_processes_cpu_share']} of the CPUs")
        return out
    finally:
        engine.dispose()


def postgres_database(url: str):
    """(create, drop) of a throw-away database on the server, or None when it is unreachable."""
    admin_url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        admin.dispose()
        return None, str(exc).splitlines()[0]
    name = f"zhidian_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    return (admin_url.set(database=name).render_as_string(hide_password=False), drop), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--conversations", type=int, default=None, help="default: 30 %% of --tickets")
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--postgres", default=os.environ.get("DATABASE_URL", ""),
                        help="server URL (default DATABASE_URL); a throw-away database is created there")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still drop the PostgreSQL database when stopped
    conversations = args.conversations if args.conversations is not None else int(args.tickets * 0.3)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    report: dict = {
        "benchmark": "analytics", "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(sqlalchemy=sqlalchemy.__version__, numpy=np.__version__),
        "tickets": args.tickets, "conversations": conversations, "days": args.days, "runs": args.runs,
        "baseline": "naive: the filtered rows loaded with SQLAlchemy Core and counted in Python "
                    f"(queries {', '.join(COMPARED)}); ratio = naive p50 / SQL p50 for the same figures",
        "backends": {},
    }
    with tempfile.TemporaryDirectory(prefix="zhidian-bench-") as tmp:
        path = Path(tmp) / "analytics.db"
        report["backends"]["sqlite"] = bench_backend(
            "SQLite", f"sqlite:///{path}", tickets=args.tickets, conversations=conversations, days=args.days,
            runs=args.runs, now=now)
        report["backends"]["sqlite"]["file_mb"] = round(path.stat().st_size / 2**20)
    if args.no_postgres or not args.postgres.startswith("postgres"):
        note = "skipped: no PostgreSQL URL (--postgres or DATABASE_URL)" if not args.no_postgres else "skipped: --no-postgres"
        log(f"== PostgreSQL {note}")
        report["backends"]["postgresql"] = {"skipped": note}
    else:
        made, error = postgres_database(args.postgres)
        if made is None:
            log(f"== PostgreSQL skipped: server unreachable ({error})")
            report["backends"]["postgresql"] = {"skipped": f"unreachable: {error}"}
        else:
            url, drop = made
            try:
                report["backends"]["postgresql"] = bench_backend(
                    "PostgreSQL", url, tickets=args.tickets, conversations=conversations, days=args.days,
                    runs=args.runs, now=now)
            finally:
                drop()
    report["seconds"] = round(time.perf_counter() - started)
    log(f"done in {report['seconds']} s")
    if not args.no_write:
        out = ROOT / "bench" / "results" / "analytics.json"
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        log(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
