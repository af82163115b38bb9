"""Charging commands.

  python -m api.charging simulate-chargers --url ws://127.0.0.1:8000/ocpp --count 30 --secret …
      simulated OCPP 1.6-J chargers GY-CP001 … playing sessions (faults, drops) until stopped
  python -m api.charging plan --sessions FILE --capacity-kw N [--base-load FILE] [--tariff FILE]
      replay sessions uncontrolled and orderly, print JSON (api/charging/planning.py)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from api.charging.planning import add_plan_arguments, main_plan
from api.charging.simulator import DEMO_CHARGE_POINT_PREFIX, FleetOptions, simulate_fleet

DEMO_SECRET_ENV = "CHARGER_SECRET"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m api.charging", description="智电 charging commands")
    commands = top.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate-chargers", help="play simulated OCPP 1.6-J chargers")
    simulate.add_argument("--url", required=True, help="the central system's OCPP base URL, e.g. ws://127.0.0.1:8000/ocpp")
    simulate.add_argument("--count", type=int, default=30, help="how many chargers (default 30)")
    simulate.add_argument("--station-prefix", default=DEMO_CHARGE_POINT_PREFIX,
                          help="charge point ids are PREFIX001, PREFIX002, … (default %(default)s, as the demo seeds)")
    simulate.add_argument("--secret", default=os.environ.get(DEMO_SECRET_ENV, ""),
                          help=f"the chargers' Basic-auth password (default: ${DEMO_SECRET_ENV})")
    simulate.add_argument("--meter-interval", type=float, default=10.0, help="real seconds between meter values")
    simulate.add_argument("--speed", type=float, default=30.0, help="simulated seconds per real second")
    simulate.add_argument("--sessions", type=int, default=0, help="sessions per charger (0: until stopped)")
    simulate.add_argument("--fault-rate", type=float, default=0.05, help="share of sessions ending in a fault")
    simulate.add_argument("--drop-rate", type=float, default=0.05, help="share of sessions with a connection drop")
    simulate.add_argument("--seed", type=int, default=7)

    add_plan_arguments(commands.add_parser("plan", help="replay sessions uncontrolled and orderly (JSON)"))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "plan":
        return main_plan(args)
    if not args.secret:
        print(f"error: --secret (or ${DEMO_SECRET_ENV}) is required", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    options = FleetOptions(url=args.url, count=args.count, prefix=args.station_prefix, secret=args.secret,
                           meter_interval=args.meter_interval, speed=args.speed, seed=args.seed,
                           sessions=args.sessions, fault_rate=args.fault_rate, drop_rate=args.drop_rate)
    try:
        asyncio.run(simulate_fleet(options))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
