"""`python -m api migrate` brings the database to the latest schema; `python -m api worker` runs
the outbox and the ticket jobs on their own (production sets BACKGROUND_WORKERS=false on the API)."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import text

import api.models  # noqa: F401 (every table, so foreign keys resolve)
from api.channels.wechat import user_last_wrote
from api.conversations.service import record_notice
from api.core.deps import ROLES
from api.core.logs import install_masking
from api.core.time import utcnow
from api.db import make_engine, make_sessionmaker
from api.flows.audit_jobs import run_audit_jobs
from api.flows.customers import phone_of_wechat_user
from api.flows.proactive_jobs import run_proactive_jobs
from api.flows.forecast_jobs import run_forecast_jobs
from api.flows.ticket_jobs import run_ticket_jobs
from api.conversations.live import LiveBus
from api.main import live_channel, sms_sender, wechat_sender
from api.migrate import upgrade
from api.notify.worker import OutboxWorker
from api.settings import get_settings
from api.staff import service
from api.staff.schemas import StaffCreate


async def run_workers() -> None:
    """The outbox worker, the ticket jobs, the nightly forecasts and audit scan, until stopped."""
    install_masking()
    settings = get_settings()
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    bus = LiveBus(settings.redis_url, channel=live_channel(settings.database_url))  # the API processes' sockets
    await bus.start()
    worker = OutboxWorker(sessionmaker=sessionmaker, sms=sms_sender(settings), chat=record_notice,
                          status_callback_url=settings.public_base_url.rstrip("/") + "/api/notify/twilio/status",
                          bus=bus, wechat=wechat_sender(settings),
                          phone_of_wechat_user=phone_of_wechat_user,
                          wechat_user_last_wrote=user_last_wrote)
    try:
        await asyncio.gather(worker.run(), run_ticket_jobs(
            sessionmaker=sessionmaker, supervisors=settings.supervisor_mobiles,
            offer_timeout=timedelta(minutes=settings.dispatch_offer_timeout_minutes)),
            run_forecast_jobs(sessionmaker=sessionmaker),
            run_audit_jobs(sessionmaker=sessionmaker, days=settings.audit_scan_days,
                           score_days=settings.audit_score_days),
            run_proactive_jobs(sessionmaker=sessionmaker, settings=settings))
    finally:
        await bus.stop()
        engine.dispose()


def create_user(args) -> int:
    """`python -m api create-user`: 0 when created, 2 with a clear message otherwise."""
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("密码（至少10位）：")
    try:
        data = StaffCreate(username=args.username, display_name=args.name, role=args.role, password=password,
                           crew_id=args.crew, team=args.team)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            service.create(session=session, data=data, now=utcnow())
    except service.UsernameTaken:
        print(f"error: username {args.username} already exists", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"已创建账号 {args.username}（{args.role}）")
    return 0


def check() -> int:
    """`python -m api check` (a worker's health probe): 0 when the database answers (and Redis, when set)."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if settings.redis_url:
            import redis  # lazy: only with REDIS_URL

            redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=5).ping()
    except Exception as exc:  # noqa: BLE001 - any failure is "not healthy", said on stderr
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print("ok")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    sub.add_parser("worker", help="deliver the outbox and run the ticket jobs (SLA, re-dispatch, backlog)")
    sub.add_parser("check", help="exit 0 when the database (and Redis, when REDIS_URL is set) can be reached")
    user = sub.add_parser("create-user", help="add a staff account (asks for the password)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--name", required=True, help="display name, e.g. 王丽")
    user.add_argument("--crew", help="crew id for a crew account, e.g. YZ-01")
    user.add_argument("--team")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args()
    if args.command == "migrate":
        url = get_settings().database_url
        upgrade(url)
        print("数据库结构已是最新 (schema at head)")
    elif args.command == "create-user":
        raise SystemExit(create_user(args))
    elif args.command == "check":
        raise SystemExit(check())
    elif args.command == "worker":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            asyncio.run(run_workers())
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
