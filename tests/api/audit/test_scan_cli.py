"""`python -m api.audit scan` on small CSV files written here: JSON lines, stderr for disabled rules and
bad rows (file:line), exit codes; naive timestamps are Beijing time."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.audit import scan as scan_cli
from api.audit.__main__ import main

ROOT = Path(__file__).resolve().parents[3]
START = pd.Timestamp("2026-03-02 00:00")  # local (Asia/Shanghai), written without an offset


def readings_frame(days: int = 40) -> pd.DataFrame:
    """A 100 kVA shop at ~40 kW by day on a 200/5 CT, at 234.2 kW on days 20–22 09–17 local; a home."""
    rng = np.random.default_rng(5)
    times = pd.date_range(START, periods=days * 24, freq="h")
    hour = times.hour.to_numpy()
    day = ((times - START) / pd.Timedelta(days=1)).to_numpy().astype(int)
    shape = np.where((hour >= 8) & (hour < 20), 1.0, 0.25)
    kw = 64 * shape * rng.lognormal(0, 0.05, len(times))
    kw[np.isin(day, [20, 21, 22]) & (hour >= 9) & (hour < 18)] = 234.2
    shop = pd.DataFrame({"customer_id": "0100000001", "ts": times.strftime("%Y-%m-%d %H:%M"), "kw": kw.round(3),
                         "kwh": kw.round(3)})
    for p in "abc":
        shop["u" + p] = 220.0
        shop["i" + p] = (kw / 3 * 1000 / (220 * 0.95) / 40).round(4)
    home_kw = 0.33 * rng.lognormal(0, 0.2, len(times))
    home = pd.DataFrame({"customer_id": "0100000002", "ts": times.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                         "kw": home_kw.round(3), "kwh": home_kw.round(3), "ua": 220.0,
                         "ia": (home_kw * 1000 / 209).round(3)})
    return pd.concat([shop, home], ignore_index=True)


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": ["0100000001", "0100000002"], "contract_kva": [100, 8],
                  "ct_ratio": ["200/5", ""], "class": ["商业", "居民"]}).to_csv(customers, index=False)
    readings = tmp_path / "readings.csv"
    readings_frame().to_csv(readings, index=False)
    return {"customers": customers, "readings": readings, "dir": tmp_path}


def run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main(["scan", *map(str, args)])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


def test_json_lines_and_disabled_rules(files, capsys):
    code, lines, err = run(capsys, "--customers", files["customers"], "--readings", files["readings"])
    assert code == 0, err
    rules = {(line["customer_id"], line["rule"]) for line in lines}
    assert rules == {("0100000001", "over_contract_capacity"), ("0100000001", "ct_over_limit")}
    for line in lines:
        assert set(line) == {"customer_id", "rule", "severity", "start", "end", "evidence"}
        assert line["severity"] in ("high", "medium", "low")
    capacity = next(line for line in lines if line["rule"] == "over_contract_capacity")
    # naive 2026-03-22 09:00 is Beijing time: 01:00 UTC
    assert capacity["start"] == "2026-03-22T01:00:00+00:00" and capacity["end"] == "2026-03-24T10:00:00+00:00"
    assert capacity["evidence"]["peak_kw"] == 234.2 and capacity["evidence"]["limit_kw"] == 108.0
    assert capacity["evidence"]["series"][0]["points"][0][0].endswith("+00:00")
    assert "rule cover_open disabled: no events given" in err
    assert "rule billing_mismatch disabled: no bills given" in err
    assert "rule reverse_energy disabled" not in err  # kw can go negative: reverse_energy runs
    assert "2 customers" in err and "2 findings" in err


def test_bad_rows_are_named_by_line_and_skipped(files, capsys):
    path = files["readings"]
    good = path.read_text().splitlines()
    header = good[0].split(",")
    blank = dict.fromkeys(header, "")

    def row(**values):
        return ",".join(str({**blank, **values}[c]) for c in header)

    extra = [row(customer_id="0100000001", ts="2026-13-01 00:00", kw=1),
             row(customer_id="9999999999", ts="2026-03-02 00:00", kw=1),
             row(customer_id="0100000002", ts="2026-03-02 00:00", kw="abc"),
             row(customer_id="0100000002", ts="2026-03-02 01:00", kwh=-3)]
    path.write_text("\n".join([*good, *extra]) + "\n")
    n = len(good)
    code, lines, err = run(capsys, "--customers", files["customers"], "--readings", path)
    assert code == 0
    assert f"readings.csv:{n + 1}: ts is not an ISO 8601 time '2026-13-01 00:00' — row skipped" in err
    assert f"readings.csv:{n + 2}: unknown customer_id '9999999999' — row skipped" in err
    assert f"readings.csv:{n + 3}: kw is not a number 'abc' — row skipped" in err
    assert f"readings.csv:{n + 4}: negative kwh" in err
    assert "readings.csv: 4 bad row(s) skipped" in err
    assert {line["rule"] for line in lines} == {"over_contract_capacity", "ct_over_limit"}


def test_customers_events_and_bills_files(files, capsys):
    tmp = files["dir"]
    (tmp / "customers.csv").write_text(
        "customer_id,contract_kva,ct_ratio,class\n0100000001,100,200/5,商业\n0100000002,8,,居民\n"
        "0100000003,abc,,居民\n0100000002,8,,居民\n")
    (tmp / "events.csv").write_text(
        "customer_id,ts,event\n0100000002,2026-03-25 10:00,开盖\n0100000002,2026-03-25 11:00,something_else\n"
        "0100000002,yesterday,开盖\n")
    metered = readings_frame().query("customer_id == '0100000002'")
    march = metered[metered["ts"].str.startswith("2026-03")]
    (tmp / "bills.csv").write_text(
        "customer_id,period_start,period_end,billed_kwh\n"
        f"0100000002,2026-03-02,2026-03-31,{march['kwh'].sum() * 1.5:.2f}\n0100000002,2026-03-31,2026-03-02,10\n")
    code, lines, err = run(capsys, "--customers", tmp / "customers.csv", "--readings", files["readings"],
                           "--events", tmp / "events.csv", "--bills", tmp / "bills.csv",
                           "--rules", "cover_open,billing_mismatch")
    assert code == 0, err
    assert "customers.csv:4: contract_kva is not a number 'abc'" in err
    assert "customers.csv:5: duplicate customer_id (the first row is kept)" in err
    assert "events.csv:4: ts is not an ISO 8601 time 'yesterday'" in err
    assert "events.csv: 1 event(s) with names no rule uses ignored (e.g. something_else)" in err
    assert "bills.csv:3: period_end is before period_start" in err
    by_rule = {line["rule"]: line for line in lines}
    assert set(by_rule) == {"cover_open", "billing_mismatch"}
    assert by_rule["cover_open"]["start"] == "2026-03-25T02:00:00+00:00"
    bill = by_rule["billing_mismatch"]["evidence"]
    assert bill["period_start"] == "2026-03-02" and bill["period_end"] == "2026-03-31"
    assert bill["difference_pct"] == pytest.approx(0.5, abs=0.01)


def test_usage_errors_exit_2(files, capsys):
    tmp = files["dir"]
    code, _, err = run(capsys, "--customers", tmp / "nope.csv", "--readings", files["readings"])
    assert code == 2 and "customers file not found" in err
    (tmp / "no_ts.csv").write_text("customer_id,kw\n0100000001,3\n")
    code, _, err = run(capsys, "--customers", files["customers"], "--readings", tmp / "no_ts.csv")
    assert code == 2 and "no_ts.csv: missing required column(s) ts" in err
    code, _, err = run(capsys, "--customers", files["customers"], "--readings", files["readings"], "--rules", "foo")
    assert code == 2 and "unknown rule 'foo'" in err
    (tmp / "bad.yml").write_text("sudden_drop:\n  dorp: 0.3\n")
    code, _, err = run(capsys, "--customers", files["customers"], "--readings", files["readings"],
                       "--thresholds", tmp / "bad.yml")
    assert code == 2 and "dorp" in err


def test_thresholds_file_and_missing_columns(files, capsys):
    tmp = files["dir"]
    (tmp / "override.yml").write_text("over_contract_capacity:\n  margin: 3.0\n")
    code, lines, err = run(capsys, "--customers", files["customers"], "--readings", files["readings"],
                           "--thresholds", tmp / "override.yml", "--rules", "over_contract_capacity")
    assert code == 0 and lines == []
    only_energy = tmp / "energy.csv"
    readings_frame()[["customer_id", "ts", "kwh"]].to_csv(only_energy, index=False)
    code, lines, err = run(capsys, "--customers", files["customers"], "--readings", only_energy)
    assert code == 0
    for rule in ("ct_over_limit", "voltage_loss", "phase_failure", "current_imbalance", "low_power_factor",
                 "reverse_energy"):
        assert f"rule {rule} disabled:" in err
    assert {line["rule"] for line in lines} == {"over_contract_capacity"}


def test_scan_run_directly_with_its_own_parser(files, capsys):
    parser = argparse.ArgumentParser()
    scan_cli.add_arguments(parser)
    args = parser.parse_args(["--customers", str(files["customers"]), "--readings", str(files["readings"]),
                              "--rules", "over_contract_capacity"])
    assert args.run is scan_cli.run
    assert args.run(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_python_dash_m(files):
    done = subprocess.run([sys.executable, "-m", "api.audit", "scan", "--customers", str(files["customers"]),
                           "--readings", str(files["readings"]), "--rules", "over_contract_capacity,ct_over_limit"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(line["rule"] for line in lines) == ["ct_over_limit", "over_contract_capacity"]
    helped = subprocess.run([sys.executable, "-m", "api.audit", "scan", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert helped.returncode == 0 and "Asia/Shanghai" in helped.stdout
