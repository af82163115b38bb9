"""`python -m api migrate` brings the database to the latest schema; `python -m api worker` runs
the outbox and the ticket jobs on their own (production sets BACKGROUND_WORKERS=false on the API)."""
from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import timedelta

from api.migrate import upgrade
from api.settings import get_settings


async def run_workers() -> None:
    """The outbox worker and the ticket jobs, until stopped."""
    from api.db import make_engine, make_sessionmaker
    from api.logs import install_masking
    from api.main import sms_sender
    from api.notify.worker import OutboxWorker
    from api.tickets.jobs import run_ticket_jobs

    install_masking()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    worker = OutboxWorker(sessionmaker=sessionmaker, sms=sms_sender(settings),
                          status_callback_url=settings.public_base_url.rstrip("/") + "/api/notify/twilio/status")
    try:
        await asyncio.gather(worker.run(), run_ticket_jobs(
            sessionmaker=sessionmaker, supervisors=settings.supervisor_mobiles,
            offer_timeout=timedelta(minutes=settings.dispatch_offer_timeout_minutes)))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    sub.add_parser("worker", help="deliver the outbox and run the ticket jobs (SLA, re-dispatch, backlog)")
    args = parser.parse_args()
    if args.command == "migrate":
        url = get_settings().database_url
        upgrade(url)
        print("数据库结构已是最新 (schema at head)")
    elif args.command == "worker":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            asyncio.run(run_workers())
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
