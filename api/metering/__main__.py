"""`python -m api.metering import --readings FILE [--events FILE]`: backfill meter data from CSV files.

The files have a header line with the API's columns:
  readings  meter_no,ts,kwh,kw,voltage_a,current_a,voltage_b,current_b,voltage_c,current_c
  events    meter_no,ts,kind,phase,detail
Every row is checked as POST /api/metering/readings|events checks it; rows already held are
skipped, so an import can be run again. Rejected rows go to stderr with their line number (and to
--errors FILE as CSV). Exit status: 0 all rows good, 1 some rows rejected, 2 unusable input
(missing file, wrong header, database not reachable) — nothing of a file with a bad header is read.
"""
from __future__ import annotations

import argparse
import csv
import sys
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from api.core.time import utcnow
from api.db import make_engine, make_sessionmaker
from api.metering import bulk
from api.metering.intake import RowError
from api.metering.models import Meter
from api.settings import get_settings

SHOWN_ERRORS = 1000  # on stderr; --errors FILE gets every one


def _add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--readings", metavar="FILE", help="hourly readings (CSV with a header line)")
    parser.add_argument("--events", metavar="FILE", help="meter events (CSV with a header line)")
    parser.add_argument("--database-url", help="instead of DATABASE_URL / the settings' default")
    parser.add_argument("--errors", metavar="FILE", help="write rejected rows here as CSV (file,line,meter_no,field,message)")
    parser.add_argument("--batch", type=int, default=bulk.CHUNK_ROWS, metavar="ROWS",
                        help=f"rows per transaction (default {bulk.CHUNK_ROWS})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


class _ErrorReport:
    """Rejected rows to stderr (the first SHOWN_ERRORS, above the progress bar) and to the --errors CSV."""

    def __init__(self, writer=None):
        self.writer = writer
        self.shown = 0

    def __call__(self, path: str, error: RowError) -> None:
        if self.writer:
            self.writer.writerow([path, error.row, error.meter_no or "", error.field or "", error.message])
        self.shown += 1
        if self.shown <= SHOWN_ERRORS:
            meter = f"（表号 {error.meter_no}）" if error.meter_no else ""
            where = f"{error.field}：" if error.field else ""
            tqdm.write(f"{Path(path).name} 第{error.row}行{meter} {where}{error.message}", file=sys.stderr)
        elif self.shown == SHOWN_ERRORS + 1:
            tqdm.write(f"……其余被拒收的行不再逐行显示{'（全部见 --errors 文件）' if self.writer else ''}",
                       file=sys.stderr)


def _summary(result: bulk.FileResult) -> str:
    return (f"{Path(result.path).name}（{result.kind}）：共 {result.rows} 行，新存 {result.stored}，"
            f"重复 {result.duplicates}，拒收 {result.rejected}；用时 {result.seconds:.1f} 秒，"
            f"{result.rows_per_second:,.0f} 行/秒")


def run_import(args: argparse.Namespace) -> int:
    """Check every file's header first, then import readings before events; see the module doc for exit codes."""
    if not (args.readings or args.events):
        print("请至少给出 --readings FILE 或 --events FILE", file=sys.stderr)
        return 2
    if args.batch < 1:
        print("--batch 须为正整数", file=sys.stderr)
        return 2
    try:
        sources = [bulk.open_csv(path, kind) for kind, path in (("readings", args.readings), ("events", args.events))
                   if path]
    except bulk.InputError as exc:
        print(f"无法导入：{exc}", file=sys.stderr)
        return 2
    url = args.database_url or get_settings().database_url
    engine = make_engine(url)
    results: list[bulk.FileResult] = []
    try:
        with ExitStack() as stack:
            session = stack.enter_context(make_sessionmaker(engine)())
            try:
                session.execute(select(Meter.id).limit(1))
            except SQLAlchemyError as exc:
                shown = make_url(url).render_as_string(hide_password=True)
                print(f"无法使用数据库 {shown}（未启动或未迁移？）：{getattr(exc, 'orig', None) or exc}", file=sys.stderr)
                return 2
            session.rollback()
            writer = None
            if args.errors:
                handle = stack.enter_context(open(args.errors, "w", newline="", encoding="utf-8"))
                writer = csv.writer(handle)
                writer.writerow(["file", "line", "meter_no", "field", "message"])
            report = _ErrorReport(writer)
            now = utcnow()
            for source in sources:
                with tqdm(total=source.size, unit="B", unit_scale=True, desc=Path(source.path).name,
                          file=sys.stderr, disable=args.no_progress, leave=True) as bar:
                    results.append(bulk.import_file(
                        session=session, source=source, now=now, chunk_rows=args.batch,
                        on_error=lambda error, path=source.path: report(path, error),
                        on_bytes=bar.update, on_chunk=lambda r, bar=bar: bar.set_postfix(rows=r.rows, refresh=False)))
    except bulk.InputError as exc:  # a file turned out unreadable half way: what was done is said
        for result in results:
            print(_summary(result))
        print(f"无法导入：{exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for result in results:
        print(_summary(result))
    rejected = sum(r.rejected for r in results)
    if rejected:
        print(f"有 {rejected} 行被拒收，原因见上方（标准错误输出）{'及 ' + args.errors if args.errors else ''}；"
              "其余行已导入，修正后可重新运行整个文件（已有的行会跳过）。", file=sys.stderr)
    return 1 if rejected else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.metering", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_import_arguments(commands.add_parser("import", help="backfill readings and events from CSV files",
                                              description=__doc__,
                                              formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    return run_import(args)


if __name__ == "__main__":
    sys.exit(main())
