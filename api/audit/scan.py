"""`python -m api.audit scan`: the metering-anomaly rules over CSV files, one JSON line per finding.

The files are read with pandas (only the known columns, numeric ones as float32, ids as categories);
a file with a value that is not a number is read again as text to name every bad line. Bad rows are
reported on stderr with file and line number and skipped; the scan still runs (exit 0). A missing
file or required column, an unreadable thresholds file or an unknown rule stops it (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from api.audit import rules
from api.core.time import LOCAL_TZ, UTC

EPILOG = """\
files (UTF-8 CSV with a header; column order free, unknown columns ignored):
  customers.csv  customer_id, contract_kva (kVA); optional class (光伏/发电 classes are exempt from
                 reverse_energy), ct_ratio (40 or "200/5"; blank = direct metering), ct_rated_a
                 (CT secondary rating, default 5 A), pt_ratio, power_factor (contract 力率 value, e.g.
                 0.90), contract_from (then one row per contract period of a customer)
  readings.csv   customer_id, ts; any of kw, kwh (energy of the interval), ia ib ic (A, on the CT
                 secondary when ct_ratio is given), ua ub uc (V), reverse_kwh. Hourly or finer.
                 kw may be negative (power flowing back) unless reverse_kwh is given.
  events.csv     customer_id, ts, event (cover_open/开盖, voltage_loss/失压, phase_failure/断相,
                 reverse_energy/反向电量, power_off/停电, power_on/上电)
  bills.csv      customer_id, period_start, period_end (local days, both included), billed_kwh

timestamps: ISO 8601 with or without an offset ("2026-11-02T08:00:00+08:00", "2026-11-02 08:00");
  a timestamp WITHOUT an offset is Asia/Shanghai (Beijing) local time. Output times are UTC.

output: one JSON object per line on stdout:
  {"customer_id", "rule", "severity", "start", "end", "evidence": {... "series": [...], "limits": [...]}}
  stderr: rules disabled by missing columns, bad rows (file:line: reason), a summary.
exit codes: 0 the scan ran (even with bad rows skipped); 2 a missing file or required column, a bad
  --thresholds file or an unknown rule.
"""

MAX_LISTED = 20  # bad lines printed per file; the rest are counted
NEVER_NEGATIVE = ("kwh", "ia", "ib", "ic", "ua", "ub", "uc", "reverse_kwh")


class UsageError(Exception):
    """A problem that stops the scan (exit 2)."""


class Problems:
    """Bad rows per file: the first lines listed, all counted by reason."""

    def __init__(self, name: str):
        self.name = name
        self.lines: list[tuple[int, str]] = []
        self.reasons: Counter = Counter()

    def add(self, mask: np.ndarray, lines: np.ndarray, reason: str, values: pd.Series | None = None) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.reasons[reason] += len(idx)
        for i in idx[: max(0, MAX_LISTED - len(self.lines))]:
            shown = "" if values is None else f" {str(values.iloc[i])!r}"
            self.lines.append((int(lines[i]), f"{reason}{shown}"))

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    def report(self, out) -> None:
        for line, message in sorted(self.lines):
            print(f"{self.name}:{line}: {message} — row skipped", file=out)
        if self.count:
            reasons = ", ".join(f"{reason}: {n}" for reason, n in self.reasons.most_common())
            print(f"{self.name}: {self.count} bad row(s) skipped ({reasons})", file=out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `scan`; `run` is set as the command."""
    parser.description = "Run the metering-anomaly rules (营销稽查) over CSV files; findings as JSON lines."
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--customers", required=True, type=Path, help="customers.csv (customer_id, contract_kva, …)")
    parser.add_argument("--readings", required=True, type=Path, help="readings.csv (customer_id, ts, kw/kwh/ia…/ua…)")
    parser.add_argument("--events", type=Path, help="events.csv (customer_id, ts, event)")
    parser.add_argument("--bills", type=Path, help="bills.csv (customer_id, period_start, period_end, billed_kwh)")
    parser.add_argument("--thresholds", type=Path, help="YAML overriding some defaults of api/audit/rules.yml")
    parser.add_argument("--rules", help=f"comma-separated rules to run (default all: {','.join(rules.RULES)})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out=None, err=None) -> int:
    """Read, scan, print; the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        thresholds = rules.Thresholds.load(args.thresholds) if args.thresholds else rules.Thresholds.load()
    except (OSError, ValueError) as exc:
        print(f"error: --thresholds: {exc}", file=err)
        return 2
    wanted = None
    if args.rules:
        wanted = [r.strip() for r in args.rules.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in rules.RULES]
        if unknown:
            print(f"error: unknown rule {unknown[0]!r}; rules: {', '.join(rules.RULES)}", file=err)
            return 2
    problems: list[Problems] = []
    try:
        customers = read_customers(args.customers, problems)
        known = pd.Index(customers["customer_id"].unique())
        readings = read_readings(args.readings, known, problems, err)
        events = read_events(args.events, known, problems, err) if args.events else None
        bills = read_bills(args.bills, known, problems) if args.bills else None
    except UsageError as exc:
        print(f"error: {exc}", file=err)
        return 2
    for p in problems:
        p.report(err)
    result = rules.scan(customers, readings, events, bills, thresholds=thresholds, rules=wanted)
    for rule, reason in result.disabled.items():
        print(f"rule {rule} disabled: {reason}", file=err)
    for finding in result.findings:
        print(json.dumps(finding.to_json(), ensure_ascii=False), file=out)
    bad = sum(p.count for p in problems)
    print(f"scan: {len(customers['customer_id'].unique())} customers, {len(readings)} readings, "
          f"{len(result.findings)} findings, {bad} bad rows skipped", file=err)
    return 0


# ---------------------------------------------------------------------------------------------
# Reading


def _read(path: Path, what: str, required: tuple[str, ...], optional: tuple[str, ...], numeric: tuple[str, ...],
          problems: list[Problems], category_ids: bool = False) -> tuple[pd.DataFrame, np.ndarray, Problems]:
    """The file's known columns (names trimmed); numeric columns as float32 with bad values named."""
    if not path.is_file():
        raise UsageError(f"{what} file not found: {path}")
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read a CSV header ({exc})") from None
    names = {str(c).strip(): c for c in header}
    missing = [c for c in required if c not in names]
    if missing:
        raise UsageError(f"{path}: missing required column(s) {', '.join(missing)} "
                         f"(found: {', '.join(names) or 'none'})")
    use = [c for c in (*required, *optional) if c in names]
    text = {names[c]: "string" for c in use}
    fast = {**text, **{names[c]: "float32" for c in numeric if c in names}}
    if category_ids:
        fast[names["customer_id"]] = "category"
    report = Problems(path.name)
    problems.append(report)
    options = dict(usecols=[names[c] for c in use], encoding="utf-8-sig", skip_blank_lines=False)
    try:
        frame = pd.read_csv(path, dtype=fast, **options)
        slow = False
    except (ValueError, TypeError):
        frame = pd.read_csv(path, dtype=text, **options)
        slow = True
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable CSV ({exc})") from None
    frame = frame.rename(columns={v: k for k, v in names.items()})
    lines = np.arange(len(frame), dtype=np.int64) + 2  # header is line 1
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame, lines = frame[~blank].reset_index(drop=True), lines[~blank]
    bad = np.zeros(len(frame), dtype=bool)
    if slow:
        for c in numeric:
            if c not in frame.columns:
                continue
            raw = frame[c].str.strip()
            parsed = pd.to_numeric(raw, errors="coerce")
            wrong = (parsed.isna() & raw.notna() & (raw != "")).to_numpy()
            report.add(wrong & ~bad, lines, f"{c} is not a number", frame[c])
            bad |= wrong
            frame[c] = parsed.astype("float32")
    if category_ids and not isinstance(frame["customer_id"].dtype, pd.CategoricalDtype):
        frame["customer_id"] = frame["customer_id"].astype("category")
    frame.attrs["bad"] = bad
    return frame, lines, report


def _ids(frame: pd.DataFrame) -> pd.Series:
    ids = frame["customer_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        cats = ids.cat.categories.astype("string").str.strip()
        ids = ids.cat.rename_categories(cats) if cats.is_unique else ids.astype("string").str.strip().astype("category")
        return ids
    return ids.astype("string").str.strip()


def parse_timestamps(text: pd.Series) -> pd.Series:
    """ISO 8601 strings to UTC: with an offset as given, without one as Beijing local time; NaT if unreadable."""
    text = text.astype("string").str.strip()
    aware = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False).to_numpy()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce").dt.as_unit("us")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
        out[~aware] = naive.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(UTC).dt.as_unit("us")
    return out


def _keep(frame: pd.DataFrame, bad: np.ndarray) -> pd.DataFrame:
    return frame if not bad.any() else frame[~bad].reset_index(drop=True)


def read_customers(path: Path, problems: list[Problems]) -> pd.DataFrame:
    """customers.csv: bad rows are a missing id, a contract that is not a positive number, a CT ratio
    that cannot be read, a power factor outside (0, 1], a repeated id (without contract_from)."""
    frame, lines, report = _read(path, "customers", ("customer_id", "contract_kva"),
                                 ("class", "ct_ratio", "ct_rated_a", "pt_ratio", "power_factor", "contract_from"),
                                 ("contract_kva", "ct_rated_a", "power_factor"), problems)
    bad = frame.attrs["bad"].copy()
    frame["customer_id"] = _ids(frame)
    check = lambda mask, reason, values=None: (report.add(mask & ~bad, lines, reason, values), mask)[1]
    bad |= check(frame["customer_id"].isna().to_numpy() | (frame["customer_id"] == "").fillna(True).to_numpy(),
                 "customer_id is empty")
    kva = frame["contract_kva"].to_numpy(dtype=np.float64, na_value=np.nan)
    bad |= check(~(kva > 0), "contract_kva is not a positive number", frame["contract_kva"])
    for name in ("ct_ratio", "pt_ratio"):
        if name in frame.columns:
            given = frame[name].notna().to_numpy() & (frame[name].astype("string").str.strip() != "").fillna(False).to_numpy()
            ratio = rules.ratio_values(frame[name])
            bad |= check(given & ~(ratio > 0), f"{name} is not a positive ratio (40 or 200/5)", frame[name])
            frame[name] = np.where(given, ratio, np.nan)
    if "ct_rated_a" in frame.columns:
        rated = frame["ct_rated_a"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= check(rated <= 0, "ct_rated_a is not positive", frame["ct_rated_a"])
    if "power_factor" in frame.columns:
        pf = frame["power_factor"].to_numpy(dtype=np.float64, na_value=np.nan)
        bad |= check((pf <= 0) | (pf > 1), "power_factor is outside (0, 1]", frame["power_factor"])
    if "contract_from" in frame.columns:
        given = frame["contract_from"].notna().to_numpy()
        since = parse_timestamps(frame["contract_from"])
        bad |= check(given & since.isna().to_numpy(), "contract_from is not a date/time", frame["contract_from"])
        frame["contract_from"] = since
        dup = frame.duplicated(["customer_id", "contract_from"], keep="first").to_numpy()
    else:
        dup = frame["customer_id"].duplicated(keep="first").to_numpy()
    bad |= check(dup & ~bad, "duplicate customer_id (the first row is kept)")
    return _keep(frame, bad)


def read_readings(path: Path, known: pd.Index, problems: list[Problems], err) -> pd.DataFrame:
    """readings.csv: bad rows are an unknown customer, an unreadable ts, a value that is not a number, a
    negative energy, current or voltage (and a negative kw when reverse_kwh is given)."""
    frame, lines, report = _read(path, "readings", ("customer_id", "ts"), rules.VALUE_COLUMNS, rules.VALUE_COLUMNS,
                                 problems, category_ids=True)
    bad = frame.attrs["bad"].copy()
    frame["customer_id"] = _ids(frame)
    unknown = ~frame["customer_id"].isin(known).to_numpy()
    report.add(unknown & ~bad, lines, "unknown customer_id", frame["customer_id"])
    bad |= unknown
    ts = parse_timestamps(frame["ts"])
    wrong = ts.isna().to_numpy()
    report.add(wrong & ~bad, lines, "ts is not an ISO 8601 time", frame["ts"])
    bad |= wrong
    frame["ts"] = ts
    values = [c for c in rules.VALUE_COLUMNS if c in frame.columns]
    if not values:
        print(f"{path.name}: no value columns ({', '.join(rules.VALUE_COLUMNS)}): only event/bill rules can run",
              file=err)
    never_negative = [c for c in NEVER_NEGATIVE if c in frame.columns]
    if "reverse_kwh" in frame.columns and "kw" in frame.columns:
        never_negative.append("kw")
    for c in never_negative:
        negative = (frame[c] < 0).fillna(False).to_numpy()
        report.add(negative & ~bad, lines, f"negative {c}", frame[c])
        bad |= negative
    return _keep(frame, bad)


def read_events(path: Path, known: pd.Index, problems: list[Problems], err) -> pd.DataFrame:
    """events.csv: bad rows are an unknown customer or an unreadable ts; unknown event names are ignored."""
    frame, lines, report = _read(path, "events", ("customer_id", "ts", "event"), (), (), problems, category_ids=True)
    bad = frame.attrs["bad"].copy()
    frame["customer_id"] = _ids(frame)
    unknown = ~frame["customer_id"].isin(known).to_numpy()
    report.add(unknown & ~bad, lines, "unknown customer_id", frame["customer_id"])
    bad |= unknown
    ts = parse_timestamps(frame["ts"])
    wrong = ts.isna().to_numpy()
    report.add(wrong & ~bad, lines, "ts is not an ISO 8601 time", frame["ts"])
    bad |= wrong
    frame["ts"] = ts
    kinds = rules.event_kinds(frame["event"])
    other = (kinds == "") & ~bad
    if other.any():
        names = sorted({str(v) for v in frame["event"][other].head(200)})[:5]
        print(f"{path.name}: {int(other.sum())} event(s) with names no rule uses ignored (e.g. {', '.join(names)})", file=err)
    return _keep(frame, bad)


def read_bills(path: Path, known: pd.Index, problems: list[Problems]) -> pd.DataFrame:
    """bills.csv: bad rows are an unknown customer, unreadable dates, an end before the start, a missing
    or negative billed_kwh."""
    frame, lines, report = _read(path, "bills", ("customer_id", "period_start", "period_end", "billed_kwh"), (),
                                 ("billed_kwh",), problems)
    bad = frame.attrs["bad"].copy()
    frame["customer_id"] = _ids(frame)
    unknown = ~frame["customer_id"].isin(known).fillna(False).to_numpy()
    report.add(unknown & ~bad, lines, "unknown customer_id", frame["customer_id"])
    bad |= unknown
    for name in ("period_start", "period_end"):
        parsed = parse_timestamps(frame[name])
        wrong = parsed.isna().to_numpy()
        report.add(wrong & ~bad, lines, f"{name} is not a date", frame[name])
        bad |= wrong
        frame[name] = parsed
    backwards = (frame["period_end"] < frame["period_start"]).fillna(False).to_numpy()
    report.add(backwards & ~bad, lines, "period_end is before period_start")
    bad |= backwards
    billed = frame["billed_kwh"].to_numpy(dtype=np.float64, na_value=np.nan)
    wrong = ~(billed >= 0)
    report.add(wrong & ~bad, lines, "billed_kwh is missing or negative", frame["billed_kwh"])
    bad |= wrong
    return _keep(frame, bad)
