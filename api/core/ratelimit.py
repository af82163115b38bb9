"""Rate limits every API process shares: counted in Redis when REDIS_URL is set, else in the database.

A `Rule` is a budget: at most `limit` hits per fixed window of `window_seconds`, under a name
("chat.sender", "staff.login.pair" …). A subject spends it (a conversation id, an address, a user
name). `hit` spends one and says whether it was within the budget; a caller over it refuses with
`TooMany` and a Retry-After (`enforce`). A rule with `look_back` keeps each window's count for one
window more, so `peek(..., now=now - window)` reads the last one (staff sign-in remembers for 30 to
60 days which addresses an account signed in from). Subjects are stored hashed: addresses, names
and phone numbers are personal data, and a hash keeps every key the same short length.

Fixed windows are simple and enough here: a burst across a window's edge can reach twice the
limit, which is still a bound. Redis keys expire with their window; SQL rows are purged as new
windows start.

If Redis fails (down, restarting), the Redis limiter counts in the database instead, hit by hit, and
goes back to Redis as soon as it answers. A deliberate choice: limits keep holding (never fail
open: the chat dispatches crews, a flood must stay bounded) and chat keeps working (never fail
closed); the cost is a database write per hit during the outage, and counts that start afresh
in whichever store takes over (at most one window's extra budget per subject).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy import Integer, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.core.errors import TooMany
from api.core.time import utcnow
from api.db import Base, UTCDateTime

log = logging.getLogger(__name__)

KEEP_EXPIRED = timedelta(hours=1)  # SQL rows older than their window by this much are purged


@dataclass(frozen=True)
class Rule:
    """At most `limit` hits per `window_seconds` for one subject."""

    name: str
    limit: int
    window_seconds: int
    look_back: bool = False  # keep a window's count one window longer (readable as the last window)

    def kept_seconds(self, left: int) -> int:
        """How long a count is kept when `left` seconds of its window remain."""
        return left + (self.window_seconds if self.look_back else 0)


@dataclass(frozen=True)
class Decision:
    """What one hit (or a look) found: allowed or not, the count in this window, seconds left in it."""

    allowed: bool
    count: int
    retry_after: int


class RateLimiter(Protocol):
    """Counts hits per rule and subject in shared storage."""

    def hit(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        """Spend one hit; allowed while the count is within the rule's limit."""
        ...

    def peek(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        """The current window's count without spending (e.g. before checking a password)."""
        ...

    def reset(self, rule: Rule, subject: str, *, now: datetime | None = None) -> None:
        """Forget the current window's hits (e.g. after a successful sign-in)."""
        ...

    def close(self) -> None:
        """Release connections (at shutdown)."""
        ...


class RateCounter(Base):
    """Hits of one rule and subject in one window (the SQL limiter's storage)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)  # rule name : hashed subject
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def counter_key(rule: Rule, subject: str) -> str:
    """The stored key: the rule's name and a hash of the subject."""
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:40]
    return f"{rule.name[:48]}:{digest}"


def _window(rule: Rule, now: datetime) -> tuple[int, int]:
    """(start of the window `now` is in, seconds left in it), in epoch seconds."""
    epoch = int(now.timestamp())
    start = epoch - epoch % rule.window_seconds
    return start, max(1, start + rule.window_seconds - epoch)


def _decision(rule: Rule, count: int, left: int) -> Decision:
    allowed = count <= rule.limit
    return Decision(allowed=allowed, count=count, retry_after=0 if allowed else left)


class SqlRateLimiter:
    """Counters in the `rate_counters` table: one upsert per hit (SQLite and PostgreSQL)."""

    def __init__(self, sessionmaker: sessionmaker[Session]):
        self._sessionmaker = sessionmaker

    def hit(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        now = now or utcnow()
        start, left = _window(rule, now)
        key = counter_key(rule, subject)
        with self._sessionmaker() as session:
            insert = (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)(RateCounter)
            expires_at = now + timedelta(seconds=rule.kept_seconds(left))
            statement = insert.values(key=key, window_start=start, count=1,
                                      expires_at=expires_at).on_conflict_do_update(
                index_elements=[RateCounter.key, RateCounter.window_start],
                set_={"count": RateCounter.count + 1}).returning(RateCounter.count)
            count = session.execute(statement).scalar_one()
            if count == 1:  # a new window: clear out windows long over (any subject's)
                session.execute(delete(RateCounter).where(RateCounter.expires_at < now - KEEP_EXPIRED))
            session.commit()
        return _decision(rule, count, left)

    def peek(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        now = now or utcnow()
        start, left = _window(rule, now)
        with self._sessionmaker() as session:
            count = session.scalar(select(RateCounter.count).where(
                RateCounter.key == counter_key(rule, subject), RateCounter.window_start == start)) or 0
        return Decision(allowed=count < rule.limit, count=count, retry_after=0 if count < rule.limit else left)

    def reset(self, rule: Rule, subject: str, *, now: datetime | None = None) -> None:
        with self._sessionmaker() as session:
            session.execute(delete(RateCounter).where(RateCounter.key == counter_key(rule, subject)))
            session.commit()

    def close(self) -> None:
        """Nothing to release: sessions are per call."""


class RedisRateLimiter:
    """Counters as Redis keys that expire with their window (INCR + EXPIRE in one round trip)."""

    def __init__(self, url: str, *, fallback: RateLimiter, prefix: str = "zhidian:rate:"):
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._fallback = fallback
        self._prefix = prefix

    def _key(self, rule: Rule, subject: str, start: int) -> str:
        return f"{self._prefix}{counter_key(rule, subject)}:{start}"

    def hit(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        now = now or utcnow()
        start, left = _window(rule, now)
        key = self._key(rule, subject, start)
        try:
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, rule.kept_seconds(left) + 5)
            count, _ = pipe.execute()
        except (redis.RedisError, OSError):
            log.warning("rate limit: Redis unavailable, counting %s in the database", rule.name)
            return self._fallback.hit(rule, subject, now=now)
        return _decision(rule, int(count), left)

    def peek(self, rule: Rule, subject: str, *, now: datetime | None = None) -> Decision:
        now = now or utcnow()
        start, left = _window(rule, now)
        try:
            count = int(self._redis.get(self._key(rule, subject, start)) or 0)
        except (redis.RedisError, OSError):
            return self._fallback.peek(rule, subject, now=now)
        return Decision(allowed=count < rule.limit, count=count, retry_after=0 if count < rule.limit else left)

    def reset(self, rule: Rule, subject: str, *, now: datetime | None = None) -> None:
        start, _ = _window(rule, now or utcnow())
        try:
            self._redis.delete(self._key(rule, subject, start))
        except (redis.RedisError, OSError):
            self._fallback.reset(rule, subject, now=now)

    def close(self) -> None:
        self._redis.close()


def make_rate_limiter(*, redis_url: str | None, sessionmaker: sessionmaker[Session]) -> RateLimiter:
    """Redis when configured (the database if it fails), else the database.

    Redis keys are namespaced by the database, as the processes sharing one database share their
    counts (and a test's private database starts from zero).
    """
    sql = SqlRateLimiter(sessionmaker)
    if not redis_url:
        return sql
    database = sessionmaker.kw["bind"].url.render_as_string(hide_password=True)
    namespace = hashlib.sha1(database.encode("utf-8")).hexdigest()[:12]
    return RedisRateLimiter(redis_url, fallback=sql, prefix=f"zhidian:rate:{namespace}:")


def enforce(limiter: RateLimiter, checks: Iterable[tuple[Rule, str]], *, message: str,
            code: str = "too_many_requests", now: datetime | None = None) -> None:
    """Spend one hit of every (rule, subject); TooMany (429, Retry-After) when any is over its limit."""
    now = now or utcnow()
    refused = [decision for rule, subject in checks
               if not (decision := limiter.hit(rule, subject, now=now)).allowed]
    if refused:
        retry = max(decision.retry_after for decision in refused)
        raise TooMany(code, message, headers={"Retry-After": str(retry)}, retry_after=retry)
