"""The nightly audit scan: every rule (and the theft score) over the last days of stored metering data.

Runs in the API process (embedded mode) or a worker process, like the forecasting jobs. A pass is
idempotent (a finding is kept once per customer, rule and start), so two workers cost time only.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Callable

from api.audit import rules
from api.audit import service as audit
from api.core.time import LOCAL_TZ, utcnow
from api.flows.audit import scan_stored

log = logging.getLogger(__name__)
RUN_AT = time(3, 0)  # local time: after the forecasts (02:00) and the day's readings


def due(*, sessionmaker, now: datetime, run_at: time = RUN_AT) -> bool:
    """True when tonight's scan has not run yet."""
    with sessionmaker() as session:
        last = audit.last_scan_at(session=session)
    local = now.astimezone(LOCAL_TZ)
    tonight = datetime.combine(local.date(), run_at, tzinfo=LOCAL_TZ)
    if local < tonight:
        tonight -= timedelta(days=1)
    return last is None or last < tonight


def run_pass(*, sessionmaker, now: datetime, days: int, score_days: int) -> dict:
    """Scan [now - days, now) with the rules, score_days of daily energy with the theft score; keep the findings."""
    with sessionmaker() as session:
        summary = scan_stored(session=session, start=now - timedelta(days=days), end=now, now=now,
                              thresholds=rules.Thresholds.load(), score_days=score_days)
        audit.record_scan(session=session, summary=summary.model_dump(), now=now)
    log.info("audit scan: %s findings (%s new) in %.1fs", summary.findings, summary.new, summary.seconds)
    return summary.model_dump()


async def run_audit_jobs(*, sessionmaker, days: int, score_days: int, every_seconds: float = 600.0, run_at: time = RUN_AT,
                         clock: Callable[[], datetime] = utcnow) -> None:
    """Check every few minutes whether tonight's scan is due and run it in a thread; failures are logged."""
    while True:
        try:
            now = clock()
            if await asyncio.to_thread(due, sessionmaker=sessionmaker, now=now, run_at=run_at):
                await asyncio.to_thread(run_pass, sessionmaker=sessionmaker, now=now, days=days, score_days=score_days)
        except Exception:
            log.exception("audit scan failed")
        await asyncio.sleep(every_seconds)
