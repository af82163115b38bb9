"""`python -m api.demo seed|accounts`: seed the deterministic demo, list its showcase customers."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.core.time import utcnow
from api.customers.models import Customer
from api.db import make_engine
from api.demo.audit_cases import ACCOUNTS as AUDIT_ACCOUNTS
from api.demo.audit_cases import DESCRIPTIONS, PLANTED_CASES
from api.demo.generator import generate, has_demo_data, refresh_live
from api.demo.history import has_history, seed_history
from api.demo.showcase import EXTRA_ACCOUNTS, ROLE_LABELS, SHOWCASE
from api.migrate import upgrade
from api.settings import get_settings


def _engine() -> Engine:
    return make_engine(get_settings().database_url)


def seed(args: argparse.Namespace) -> int:
    """Seed the demo, or with --if-missing move an existing demo's live situations to now."""
    settings = get_settings()
    upgrade(settings.database_url)  # creates the tables on a fresh database
    engine = _engine()
    end = utcnow()
    try:
        if has_demo_data(engine):
            if not args.if_missing:
                print("数据库中已有演示数据 (demo data already present); "
                      "use --if-missing to refresh it, or delete the database to re-seed.", file=sys.stderr)
                return 1
            refresh_live(engine, end=end, progress=print)
            _history(engine, end)
            return 0
        seed_value = settings.demo_seed if args.seed is None else args.seed
        try:
            generate(engine, seed=seed_value, customers=args.customers, days=args.days, end=end, progress=print)
        except (RuntimeError, ValueError) as exc:  # e.g. a half-seeded database, too few customers
            print(f"演示数据生成失败 (demo seed failed): {exc}", file=sys.stderr)
            return 1
        _history(engine, end)
        return 0
    finally:
        engine.dispose()


def _history(engine: Engine, end: datetime) -> None:
    """30 days of past tickets and conversations for the supervisor dashboard (once per database)."""
    with Session(engine) as session:
        if not has_history(session):
            seed_history(session, now=end)
            print("演示历史：近30天工单与会话已生成 (demo history seeded)")


def accounts(_args: argparse.Namespace) -> int:
    """Print the fixed demo customers (role, 户号, mobile, and the stored name/place if seeded)."""
    stored: dict[str, Customer] = {}
    try:
        engine = _engine()
        with engine.connect() as conn:
            numbers = [a for a, _ in {**SHOWCASE, **EXTRA_ACCOUNTS}.values()] + list(AUDIT_ACCOUNTS.values())
            for row in conn.execute(select(Customer.__table__).where(Customer.account_no.in_(numbers))):
                stored[row.account_no] = row
        engine.dispose()
    except SQLAlchemyError:  # no database or no tables yet: the fixed numbers are still worth printing
        stored = {}

    def table(title: str, items: dict[str, tuple[str, str]]) -> None:
        print(title)
        print(f"{'role':<24}{'户号 account':<14}{'手机 mobile':<14}说明 / description")
        for role, (account_no, mobile) in items.items():
            zh, en = ROLE_LABELS.get(role, ("", ""))
            row = stored.get(account_no)
            place = f"  [{row.name}，{row.district}{row.town}，{row.area_class}]" if row is not None else ""
            print(f"{role:<24}{account_no:<14}{mobile:<14}{zh} / {en}{place}")

    table("演示客户 Showcase customers", SHOWCASE)
    print()
    table("其他固定客户 Other fixed customers", EXTRA_ACCOUNTS)
    print()
    print("稽查演示案例 Audit cases: the rules that must fire "
          "('-': a look-alike that must stay quiet, or a thief only line loss shows)")
    print(f"{'case':<24}{'户号 account':<14}{'rules':<44}说明 / description")
    for case, account_no in AUDIT_ACCOUNTS.items():
        row = stored.get(account_no)
        place = f"  [{row.name}，{row.district}{row.town}]" if row is not None else ""
        fired = ",".join(PLANTED_CASES.get(account_no, ())) or "-"
        print(f"{case:<24}{account_no:<14}{fired:<44}{DESCRIPTIONS[account_no]}{place}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.demo", description="智电 deterministic demo data")
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="seed the demo into the configured database")
    p_seed.add_argument("--customers", type=int, default=2000)
    p_seed.add_argument("--days", type=int, default=90)
    p_seed.add_argument("--seed", type=int, default=None, help="default: settings.demo_seed")
    p_seed.add_argument("--if-missing", action="store_true",
                        help="if demo data exists, only move its live situations to the current hour")
    p_seed.set_defaults(func=seed)
    p_accounts = sub.add_parser("accounts", help="print the showcase customers")
    p_accounts.set_defaults(func=accounts)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
