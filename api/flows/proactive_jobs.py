"""The proactive pass every minute: household outages confirmed once enough time has passed, alerts whose
data stopped or recovered cleared, planned outages announced the day and the hour before.

Data arriving through the intake is looked at at once (api/flows/routes/metering.py); this pass catches
what needs the clock to move. Runs in the API process (embedded mode) or the worker process.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable

from api.core.time import utcnow
from api.flows import proactive
from api.settings import Settings

log = logging.getLogger(__name__)


def run_pass(*, sessionmaker, settings: Settings, now: datetime) -> dict:
    """One pass over every area and the planned outages."""
    with sessionmaker() as session:
        raised = proactive.run(session=session, settings=settings, now=now)
        announced = proactive.announce_planned(session=session, now=now)
    if raised or announced:
        log.info("proactive pass: %s alerts raised, %s planned-outage notices", raised, announced)
    return {"raised": raised, "announced": announced}


async def run_proactive_jobs(*, sessionmaker, settings: Settings, every_seconds: float = 60.0,
                             clock: Callable[[], datetime] = utcnow) -> None:
    """Run a pass every minute in a thread; failures are logged and the next pass tries again."""
    while True:
        try:
            await asyncio.to_thread(run_pass, sessionmaker=sessionmaker, settings=settings, now=clock())
        except Exception:
            log.exception("proactive pass failed")
        await asyncio.sleep(every_seconds)
