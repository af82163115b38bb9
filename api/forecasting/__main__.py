"""`python -m api.forecasting backtest --csv FILE --time-col COL --target-col COL --freq H --horizon 24`

Rolling-origin backtest of the seasonal-naive baseline, the statistical model and the global
LightGBM model on any CSV of one series or many (`--series-col`), optionally with a temperature
column (`--weather-col`). Prints JSON (MAPE, sMAPE, RMSE, MASE, P10–P90 coverage per model, the
ratios to seasonal naive, the spread of RMSE across origins, a Diebold–Mariano test of the best
model against the runner-up, and the model the production rule would choose) on stdout; progress
and warnings go to stderr. Times without a zone are read in `--timezone` (default Asia/Shanghai),
whose clock and holiday calendar the features use: Chinese holidays and 调休 in China, the
`holidays` package's public holidays elsewhere (weekday and hour only without it). `--origins auto`
(the default) uses 28 day-ahead origins when the history allows, fewer with a warning. Exit code 2
with a message on stderr for unusable input.
"""
from __future__ import annotations

import argparse
import json
import sys

from api.forecasting import backtest
from api.forecasting.features import DEFAULT_TZ, holiday_calendar
from api.forecasting.forecasters import MODELS


def _origins(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--origins takes a number or auto, not {text!r}") from None


def backtest_command(args: argparse.Namespace) -> int:
    """Load the CSV, run the backtest, print the JSON."""
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        return _fail(f"未知模型 / unknown model(s): {', '.join(unknown) or '(none)'}; "
                     f"可选 / choose from: {', '.join(MODELS)}")
    if args.horizon < 1 or (args.origins != "auto" and args.origins < 1):
        return _fail("--horizon 与 --origins 必须 ≥ 1 / --horizon and --origins must be ≥ 1")
    try:
        panel = backtest.panel_from_csv(args.csv, time_col=args.time_col, target_col=args.target_col,
                                        freq=args.freq, series_col=args.series_col,
                                        weather_col=args.weather_col, class_col=args.class_col,
                                        timezone=args.timezone, dayfirst=args.dayfirst,
                                        time_format=args.time_format)
        result = backtest.backtest(panel, horizon=args.horizon, origins=args.origins, models=models,
                                   progress=lambda msg: print(msg, file=sys.stderr))
    except backtest.InputError as exc:
        return _fail(str(exc))
    except backtest.TooShort as exc:
        return _fail(str(exc))
    calendar = holiday_calendar(panel.tz)
    if calendar.source == "none":
        print(f"warning: {calendar.note}", file=sys.stderr)
    result["input"] = {"csv": args.csv, "time_col": args.time_col, "target_col": args.target_col,
                       "series_col": args.series_col, "weather_col": args.weather_col,
                       "freq": panel.freq, "timezone": panel.tz, "holidays": calendar.note}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _fail(message: str) -> int:
    print(f"错误 / error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.forecasting", description="智电 load forecasting")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("backtest", help="rolling-origin backtest of the forecasters on a CSV")
    p.add_argument("--csv", required=True, help="the CSV file")
    p.add_argument("--time-col", required=True, help="column of timestamps (no zone = --timezone)")
    p.add_argument("--target-col", required=True, help="column to forecast (e.g. kW)")
    p.add_argument("--series-col", default=None, help="column naming the series, for many series in one file")
    p.add_argument("--weather-col", default=None, help="column of temperature (°C)")
    p.add_argument("--class-col", default=None, help="column of the customer class (居民 / 一般工商业 / 大工业)")
    p.add_argument("--freq", default="h", help="pandas frequency of the series: H (or h), 15min, D, …")
    p.add_argument("--timezone", default=DEFAULT_TZ,
                   help="IANA zone of times written without one, and of the calendar and holidays "
                        f"(default {DEFAULT_TZ}; e.g. America/New_York)")
    p.add_argument("--dayfirst", action="store_true", help="read 03-04-2018 as 3 April (day first)")
    p.add_argument("--time-format", default=None, help="strptime format of the time column, e.g. '%%d-%%m-%%Y %%H:%%M'")
    p.add_argument("--horizon", type=int, default=24, help="steps ahead (24 = day ahead for hourly data)")
    p.add_argument("--origins", type=_origins, default="auto",
                   help=f"number of rolling origins, or auto (default: {backtest.AUTO_ORIGINS} when the "
                        "history allows, fewer with a warning)")
    p.add_argument("--models", default="seasonal_naive,statistical,global_gbm",
                   help="comma-separated: seasonal_naive, statistical, global_gbm")
    p.set_defaults(func=backtest_command)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    # This process never needs scikit-learn; without it LightGBM's import skips loading it (seconds).
    sys.modules.setdefault("sklearn", None)
    raise SystemExit(main())
