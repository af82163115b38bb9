"""`python -m api migrate` brings the configured database to the latest schema."""
from __future__ import annotations

import argparse

from api.migrate import upgrade
from api.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    args = parser.parse_args()
    if args.command == "migrate":
        url = get_settings().database_url
        upgrade(url)
        print("数据库结构已是最新 (schema at head)")


if __name__ == "__main__":
    main()
