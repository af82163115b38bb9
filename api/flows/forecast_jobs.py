"""Background forecasting: once a night retrain each level's global model and cache the forecasts
of every area, feeder and the system; at start as well when the cache is empty or stale.

`run_forecast_jobs` runs in the API process (embedded mode) or in a worker process. A pass is
idempotent (forecasts are replaced per level and key), so two workers doing it cost time only.
Model choice (the backtests of every model per level) is redone weekly or when missing.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Callable

from api.core.time import LOCAL_TZ, utcnow
from api.flows import load_forecasting
from api.forecasting import service as forecasting

log = logging.getLogger(__name__)
RUN_AT = time(2, 0)  # local time of the nightly refresh (after the day's readings are in)
# origins of the weekly model-choice backtest: "auto" = the backtest CLI's default (28 day-ahead
# origins when the history allows), so production chooses on the same evidence and by the same rule;
# each origin refits every model (CPU-heavy, weekly)
CHOICE_ORIGINS = "auto"


def run_pass(*, sessionmaker, now: datetime, choose: bool | None = None) -> dict:
    """Retrain and refresh every level's forecasts, then re-choose the models if due (or asked).

    The refresh comes first so that a fresh start has cached forecasts within minutes: the choice
    (28 origins, every model refitted at each) takes about 12 minutes on the demo data, and a
    new choice takes effect at the next refresh."""
    with sessionmaker() as session:
        summary = load_forecasting.refresh_all(session=session, now=now)
        log.info("forecasts refreshed: %s", summary)
        if choose or (choose is None and forecasting.choices_stale(session=session, now=now)):
            chosen = load_forecasting.choose_models(session=session, now=now, origins=CHOICE_ORIGINS)
            log.info("forecast models chosen: %s", {k: v["model"] for k, v in chosen.items()})
    return summary


def due(*, sessionmaker, now: datetime, run_at: time = RUN_AT) -> bool:
    """True when the cache is empty or stale, or tonight's refresh has not run yet."""
    with sessionmaker() as session:
        if forecasting.forecasts_stale(session=session, now=now):
            return True
        last = forecasting.last_refresh(session=session)
    local = now.astimezone(LOCAL_TZ)
    tonight = datetime.combine(local.date(), run_at, tzinfo=LOCAL_TZ)
    if local < tonight:
        tonight -= timedelta(days=1)
    return last is None or last < tonight


async def run_forecast_jobs(*, sessionmaker, every_seconds: float = 300.0, run_at: time = RUN_AT,
                            clock: Callable[[], datetime] = utcnow) -> None:
    """Check every few minutes whether a refresh is due and run it in a thread; failures are logged."""
    while True:
        try:
            now = clock()
            if await asyncio.to_thread(due, sessionmaker=sessionmaker, now=now, run_at=run_at):
                await asyncio.to_thread(run_pass, sessionmaker=sessionmaker, now=now)
        except Exception:
            log.exception("forecast jobs pass failed")
        await asyncio.sleep(every_seconds)
