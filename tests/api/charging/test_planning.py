"""`plan` CLI: the two replays as JSON from small CSV files; bad rows exit 2 naming file and line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api.charging.planning import METRIC_KEYS, main_plan

ROOT = Path(__file__).resolve().parents[3]

SESSIONS = """session_id,arrival,departure,kwh_requested,max_kw,allow_delay
home-1,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,14,7,true
home-2,2026-03-02 18:00,2026-03-03 07:00,14,7,
home-3,2026-03-02T10:00:00Z,2026-03-02T23:00:00Z,14,7,yes
hurry,2026-03-02T18:00:00+08:00,2026-03-02T20:00:00+08:00,14,7,false
"""
# 15 kW for four 7 kW cars arriving at 18:00: uncontrolled 28 kW on top of a 5 kW base


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys, argv):
    code = main_plan(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_prints_both_replays(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", SESSIONS)
    base = write(tmp_path, "b.csv", "ts,kw\n2026-03-02T00:00:00+08:00,5\n")
    code, out, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "20", "--base-load", base])
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"uncontrolled", "orderly"}
    free, ordered = result["uncontrolled"], result["orderly"]
    assert set(free) == set(ordered) == set(METRIC_KEYS)
    # uncontrolled: all four at 7 kW from 18:00 (home-3 is 18:00 local too) → 5 + 28 kW until 20:00
    assert free["peak_kw"] == pytest.approx(33.0)
    assert free["minutes_over_capacity"] == 120
    assert free["energy_requested_kwh"] == ordered["energy_requested_kwh"] == pytest.approx(56.0)
    assert free["energy_delivered_kwh"] == pytest.approx(56.0)
    assert free["sessions_fully_served"] == 4
    assert free["cost_yuan"] == pytest.approx(56 * 0.8236, abs=0.01)  # all in the 17–22 peak
    # orderly: the no-delay car at once, the three others in the valley, within 20 kW
    assert ordered["peak_kw"] <= 20 + 1e-6
    assert ordered["minutes_over_capacity"] == 0
    assert ordered["energy_delivered_kwh"] == pytest.approx(56.0)
    assert ordered["sessions_fully_served"] == 4
    assert ordered["cost_yuan"] == pytest.approx(14 * 0.8236 + 42 * 0.3236, abs=0.01)


def test_plan_reports_what_cannot_be_met(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", "session_id,arrival,departure,kwh_requested,max_kw\n"
                                        "a,2026-03-02T18:00:00+08:00,2026-03-02T19:00:00+08:00,10,7\n")
    code, out, _ = run(capsys, ["--sessions", sessions, "--capacity-kw", "100"])
    assert code == 0
    result = json.loads(out)
    for side in result.values():
        assert side["energy_delivered_kwh"] == pytest.approx(7.0)
        assert side["sessions_fully_served"] == 0


def test_tariff_file_in_both_formats(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", "session_id,arrival,departure,kwh_requested,max_kw\n"
                                        "a,2026-03-02T10:00:00+08:00,2026-03-02T14:00:00+08:00,7,7\n")
    bands = write(tmp_path, "t.csv", "start,end,price_yuan_per_kwh\n00:00,12:00,1.00\n12:00,13:00,0.10\n13:00,24:00,1.00\n")
    code, out, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50", "--tariff", bands])
    assert code == 0, err
    result = json.loads(out)
    assert result["uncontrolled"]["cost_yuan"] == pytest.approx(7.0)
    assert result["orderly"]["cost_yuan"] == pytest.approx(0.7)
    series = write(tmp_path, "ts.csv", "ts,price_yuan_per_kwh\n2026-03-02T00:00:00+08:00,2\n"
                                       "2026-03-02T13:00:00+08:00,0.5\n2026-03-02T14:00:00+08:00,2\n")
    code, out, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50", "--tariff", series])
    assert code == 0, err
    assert json.loads(out)["orderly"]["cost_yuan"] == pytest.approx(3.5)


def test_empty_sessions_file(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", "session_id,arrival,departure,kwh_requested,max_kw\n")
    code, out, _ = run(capsys, ["--sessions", sessions, "--capacity-kw", "50"])
    assert code == 0
    assert json.loads(out)["orderly"]["sessions_fully_served"] == 0


HEADER = "session_id,arrival,departure,kwh_requested,max_kw\n"
GOOD = "ok,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,10,7\n"


@pytest.mark.parametrize("bad_row, message", [
    ("x,yesterday,2026-03-03T07:00:00+08:00,10,7\n", "arrival 'yesterday' is not an ISO 8601 time"),
    ("x,2026-03-03T07:00:00+08:00,2026-03-02T18:00:00+08:00,10,7\n", "departure"),
    ("x,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,-5,7\n", "kwh_requested -5 is negative"),
    ("x,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,ten,7\n", "kwh_requested 'ten' is not a number"),
    ("x,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,10,0\n", "max_kw 0 must be positive"),
    ("ok,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,10,7\n", "repeats line 2"),
    ("x,2026-03-02T18:00:00+08:00,,10,7\n", "departure is empty"),
])
def test_bad_session_row_exits_2_with_file_and_line(tmp_path, capsys, bad_row, message):
    sessions = write(tmp_path, "s.csv", HEADER + GOOD + "\n" + GOOD.replace("ok", "ok2") + bad_row)
    code, out, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50"])
    assert code == 2
    assert out == ""
    assert f"{sessions}: line 5:" in err  # header 1, good 2, blank 3, good 4, bad 5
    assert message in err


def test_missing_column_exits_2(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", "session_id,arrival,departure,kwh_requested\n"
                                        "a,2026-03-02T18:00:00+08:00,2026-03-03T07:00:00+08:00,10\n")
    code, _, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50"])
    assert code == 2
    assert f"{sessions}: line 1: missing column(s) max_kw" in err


def test_bad_base_load_and_tariff_rows_exit_2(tmp_path, capsys):
    sessions = write(tmp_path, "s.csv", HEADER + GOOD)
    base = write(tmp_path, "b.csv", "ts,kw\n2026-03-02T00:00:00+08:00,5\n2026-03-02T01:00:00+08:00,lots\n")
    code, _, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50", "--base-load", base])
    assert code == 2 and f"{base}: line 3: kw 'lots' is not a number" in err
    tariff = write(tmp_path, "t.csv", "start,end,price_yuan_per_kwh\n00:00,12:00,1\n12:00,23:00,0.5\n")
    code, _, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50", "--tariff", tariff])
    assert code == 2 and f"{tariff}: no band covers 23:00" in err
    tariff = write(tmp_path, "t2.csv", "start,end,price_yuan_per_kwh\n00:00,12:00,1\n12:00,24:00,-1\n")
    code, _, err = run(capsys, ["--sessions", sessions, "--capacity-kw", "50", "--tariff", tariff])
    assert code == 2 and f"{tariff}: line 3:" in err
    code, _, err = run(capsys, ["--sessions", str(tmp_path / "nope.csv"), "--capacity-kw", "50"])
    assert code == 2 and "nope.csv: cannot read" in err


def test_module_runs_as_a_script(tmp_path):
    sessions = write(tmp_path, "s.csv", SESSIONS)
    done = subprocess.run([sys.executable, "-m", "api.charging.planning", "--sessions", sessions,
                           "--capacity-kw", "20"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orderly"]["minutes_over_capacity"] == 0
    bad = write(tmp_path, "bad.csv", HEADER + "x,2026-03-02T18:00:00+08:00,2026-03-02T17:00:00+08:00,10,7\n")
    done = subprocess.run([sys.executable, "-m", "api.charging.planning", "--sessions", bad,
                           "--capacity-kw", "20"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "line 2" in done.stderr
