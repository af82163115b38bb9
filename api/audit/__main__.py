"""`python -m api.audit scan|score|evaluate`: the audit engine on CSV files, no database needed.

scan      rules over metering data (customers.csv, readings.csv, optional events.csv) → JSON lines
score     theft/anomaly score over a wide daily-consumption CSV → ranked JSON list
evaluate  stratified cross-validation of the score where labels exist → {"auc", "map@100", "map@200"}
"""
from __future__ import annotations

import argparse
import sys

from api.audit import scan, scoring


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    scan.add_arguments(commands.add_parser("scan", help="run the anomaly rules over metering CSV files"))
    scoring.add_score_arguments(commands.add_parser("score", help="rank customers by theft/anomaly score"))
    scoring.add_evaluate_arguments(commands.add_parser("evaluate", help="cross-validate the score on labels"))
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
