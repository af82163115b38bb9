"""Shared rate limits: the database implementation (SQLite, PostgreSQL) and the Redis one, with real concurrency."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from api.core.errors import TooMany
from api.core.ratelimit import RateCounter, RedisRateLimiter, Rule, SqlRateLimiter, enforce, make_rate_limiter
from api.db import make_engine, make_sessionmaker

NOW = datetime(2026, 12, 4, 10, 0, 30, tzinfo=timezone.utc)  # 30 s into a minute
RULE = Rule("test.sender", limit=3, window_seconds=60)


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(params=["sql", "redis"])
def limiter(request, sessions):
    if request.param == "sql":
        yield SqlRateLimiter(sessions)
        return
    # REDIS_URL (CI), else a private redis-server of this run (tests/conftest.py redis_url)
    limiter = make_rate_limiter(redis_url=request.getfixturevalue("redis_url"), sessionmaker=sessions)
    assert isinstance(limiter, RedisRateLimiter)
    yield limiter
    limiter.close()


def test_hits_within_the_limit_pass_and_the_next_is_refused_until_the_window_ends(limiter):
    decisions = [limiter.hit(RULE, "web-a", now=NOW) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert decisions[-1].retry_after == 30
    assert limiter.hit(RULE, "web-b", now=NOW).allowed  # another subject has its own budget
    assert limiter.hit(RULE, "web-a", now=NOW + timedelta(seconds=30)).count == 1  # a new window


def test_peek_does_not_spend_and_reset_forgets(limiter):
    limiter.hit(RULE, "alice", now=NOW)
    assert limiter.peek(RULE, "alice", now=NOW).count == 1
    assert limiter.peek(RULE, "alice", now=NOW).count == 1
    limiter.hit(RULE, "alice", now=NOW)
    limiter.hit(RULE, "alice", now=NOW)
    assert not limiter.peek(RULE, "alice", now=NOW).allowed
    limiter.reset(RULE, "alice", now=NOW)
    assert limiter.peek(RULE, "alice", now=NOW).count == 0


def test_concurrent_hits_are_all_counted(limiter):
    rule = Rule("test.burst", limit=50, window_seconds=3600)
    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda _: limiter.hit(rule, "10.0.0.1", now=NOW), range(80)))
    assert sorted(d.count for d in decisions) == list(range(1, 81))
    assert sum(d.allowed for d in decisions) == 50


def test_enforce_refuses_with_the_message_and_retry_after(limiter):
    checks = [(RULE, "web-c"), (Rule("test.address", 100, 60), "10.0.0.2")]
    for _ in range(3):
        enforce(limiter, checks, message="太频繁了", now=NOW)
    with pytest.raises(TooMany) as refused:
        enforce(limiter, checks, message="太频繁了", now=NOW)
    assert refused.value.message == "太频繁了" and refused.value.headers == {"Retry-After": "30"}
    assert refused.value.status == 429


def test_subjects_are_stored_hashed_and_old_windows_purged(sessions):
    limiter = SqlRateLimiter(sessions)
    limiter.hit(RULE, "13900000001", now=NOW - timedelta(hours=3))
    limiter.hit(RULE, "13900000001", now=NOW)
    with sessions() as session:
        rows = session.query(RateCounter).all()
    assert len(rows) == 1 and "13900000001" not in rows[0].key


def test_redis_down_counts_in_the_database(sessions):
    limiter = make_rate_limiter(redis_url="redis://127.0.0.1:9/0", sessionmaker=sessions)
    assert [limiter.hit(RULE, "web-d", now=NOW).allowed for _ in range(4)] == [True, True, True, False]
    assert SqlRateLimiter(sessions).peek(RULE, "web-d", now=NOW).count == 4


def test_a_look_back_rule_keeps_the_last_window_readable(limiter):
    rule = Rule("test.known", 1, 600, look_back=True)
    limiter.hit(rule, "agent01\n10.0.0.3", now=NOW)
    next_window = NOW + timedelta(seconds=600)
    assert limiter.peek(rule, "agent01\n10.0.0.3", now=next_window).count == 0
    assert limiter.peek(rule, "agent01\n10.0.0.3", now=next_window - timedelta(seconds=600)).count == 1
    if isinstance(limiter, RedisRateLimiter):  # the key outlives its window by one window
        start = int(NOW.timestamp()) - int(NOW.timestamp()) % 600
        assert limiter._redis.ttl(limiter._key(rule, "agent01\n10.0.0.3", start)) > 600


def test_look_back_rows_outlive_the_purge_of_windows_long_over(sessions):
    limiter = SqlRateLimiter(sessions)
    plain, kept = Rule("test.plain", 1, 600), Rule("test.kept", 1, 600, look_back=True)
    limiter.hit(plain, "x", now=NOW)  # window 10:00-10:10, purged an hour after it ends
    limiter.hit(kept, "x", now=NOW)  # kept one window more: purged an hour after 10:20
    limiter.hit(plain, "other", now=NOW + timedelta(hours=1, minutes=15))  # a new window purges
    assert limiter.peek(plain, "x", now=NOW).count == 0
    assert limiter.peek(kept, "x", now=NOW).count == 1
