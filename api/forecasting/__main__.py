"""`python -m api.forecasting backtest --csv FILE --time-col COL --target-col COL --freq H --horizon 24`

Rolling-origin backtest of the seasonal-naive baseline, the statistical model and the global
LightGBM model on any CSV of one series or many (`--series-col`), optionally with a temperature
column (`--weather-col`). Prints JSON (MAPE, sMAPE, RMSE, MASE, P10–P90 coverage per model and the
ratios to seasonal naive) on stdout; progress and warnings go to stderr. Times without a zone are
Asia/Shanghai. Exit code 2 with a message on stderr for unusable input.
"""
from __future__ import annotations

import argparse
import json
import sys

from api.forecasting import backtest
from api.forecasting.forecasters import MODELS


def backtest_command(args: argparse.Namespace) -> int:
    """Load the CSV, run the backtest, print the JSON."""
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        return _fail(f"未知模型 / unknown model(s): {', '.join(unknown) or '(none)'}; "
                     f"可选 / choose from: {', '.join(MODELS)}")
    if args.horizon < 1 or args.origins < 1:
        return _fail("--horizon 与 --origins 必须 ≥ 1 / --horizon and --origins must be ≥ 1")
    try:
        panel = backtest.panel_from_csv(args.csv, time_col=args.time_col, target_col=args.target_col,
                                        freq=args.freq, series_col=args.series_col,
                                        weather_col=args.weather_col, class_col=args.class_col)
        wanted = args.origins
        cuts = backtest.origins_for(panel, args.horizon, wanted)
        if len(cuts) < wanted:
            print(f"warning: history allows {len(cuts)} origin(s), not {wanted}", file=sys.stderr)
        result = backtest.backtest(panel, horizon=args.horizon, origins=wanted, models=models,
                                   progress=lambda msg: print(msg, file=sys.stderr))
    except backtest.InputError as exc:
        return _fail(str(exc))
    except backtest.TooShort as exc:
        return _fail(str(exc))
    result["input"] = {"csv": args.csv, "time_col": args.time_col, "target_col": args.target_col,
                       "series_col": args.series_col, "weather_col": args.weather_col,
                       "freq": panel.freq, "timezone": "Asia/Shanghai"}
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
    p.add_argument("--time-col", required=True, help="column of timestamps (no zone = Asia/Shanghai)")
    p.add_argument("--target-col", required=True, help="column to forecast (e.g. kW)")
    p.add_argument("--series-col", default=None, help="column naming the series, for many series in one file")
    p.add_argument("--weather-col", default=None, help="column of temperature (°C)")
    p.add_argument("--class-col", default=None, help="column of the customer class (居民 / 一般工商业 / 大工业)")
    p.add_argument("--freq", default="h", help="pandas frequency of the series: H (or h), 15min, D, …")
    p.add_argument("--horizon", type=int, default=24, help="steps ahead (24 = day ahead for hourly data)")
    p.add_argument("--origins", type=int, default=7, help="number of rolling origins (windows)")
    p.add_argument("--models", default="seasonal_naive,statistical,global_gbm",
                   help="comma-separated: seasonal_naive, statistical, global_gbm")
    p.set_defaults(func=backtest_command)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    # This process never needs scikit-learn; without it LightGBM's import skips loading it (seconds).
    sys.modules.setdefault("sklearn", None)
    raise SystemExit(main())
