"""Demo mode keeps the meters reporting, so the live outage stays live while make demo runs."""
import asyncio
from datetime import datetime, timezone

from sqlalchemy import func, select

from api.db import make_engine
from api.demo.jobs import run_live_feed
from api.metering.models import Reading, WeatherHour
from tests.conftest import run_coroutine


def test_feed_brings_the_readings_up_to_the_current_hour(db_url):
    engine = make_engine(db_url)
    try:
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        with engine.begin() as conn:  # pretend the demo was seeded an hour earlier
            conn.execute(Reading.__table__.delete().where(Reading.ts >= hour))
            conn.execute(WeatherHour.__table__.delete().where(WeatherHour.ts >= hour))
            assert conn.execute(select(func.max(Reading.ts))).scalar_one() < hour

        async def one_round():
            task = asyncio.create_task(run_live_feed(engine, check_every_seconds=3600))
            await asyncio.sleep(0)
            for _ in range(600):
                await asyncio.sleep(0.05)
                with engine.connect() as conn:
                    if conn.execute(select(func.max(Reading.ts))).scalar_one() == hour:
                        break
            task.cancel()

        run_coroutine(one_round())
        with engine.connect() as conn:
            newest = conn.execute(select(func.max(Reading.ts))).scalar_one()
        assert newest == hour
    finally:
        engine.dispose()
