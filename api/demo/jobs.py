"""Demo mode's meter feed: each new hour, the demo's meters report again.

Real meters keep reporting; a seeded demo stops at its seed hour, so its outage would fade from
"the last hour" while `make demo` runs. With DEMO_LIVE=true the API moves the demo's readings and
live situations to every new hour, as the metering system's hourly collection would.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from api.core.time import utcnow
from api.demo.generator import has_demo_data, refresh_live

log = logging.getLogger(__name__)


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


async def run_live_feed(engine: Engine, *, check_every_seconds: float = 60.0) -> None:
    """Refresh the demo at each new hour until cancelled."""
    refreshed: datetime | None = None
    while True:
        hour = _hour(utcnow())
        if hour != refreshed:
            try:
                if await run_in_threadpool(has_demo_data, engine):
                    summary = await run_in_threadpool(refresh_live, engine, end=hour)
                    log.info("demo live feed: readings up to %s (%s)", hour.isoformat(), summary)
                refreshed = hour
            except Exception:  # the feed must never take the API down; try again next round
                log.exception("demo live feed failed")
        await asyncio.sleep(check_every_seconds)
