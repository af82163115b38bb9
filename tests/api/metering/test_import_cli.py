"""`python -m api.metering import`: the API's rules on CSV files, line numbers in the errors,
re-runs that change nothing, exit codes 0 / 1 / 2. SQLite, and PostgreSQL (COPY) when DATABASE_URL is set."""
from __future__ import annotations

import csv
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.core.time import LOCAL_TZ, utcnow
from api.db import make_engine, make_sessionmaker
from api.metering import intake
from api.metering.__main__ import main
from api.metering.models import Meter, MeterEvent, Reading

READING_HEADER = list(intake.READING_FIELDS)
EVENT_HEADER = list(intake.EVENT_FIELDS)


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["import", "--no-progress", *args])
    out, err = capsys.readouterr()
    return code, out, err


def counts(db) -> tuple[int, int]:
    db.rollback()  # a fresh snapshot of what the CLI committed
    return db.scalar(select(func.count()).select_from(Reading)), db.scalar(select(func.count()).select_from(MeterEvent))


def summary(out: str, name: str) -> dict[str, int]:
    line = next(line for line in out.splitlines() if line.startswith(name))
    found = re.search(r"共 (\d+) 行，新存 (\d+)，重复 (\d+)，拒收 (\d+)", line)
    return dict(zip(("rows", "stored", "duplicates", "rejected"), map(int, found.groups())))


def meters(db) -> tuple[Meter, Meter]:
    """A single-phase and a three-phase meter of the seeded demo."""
    single = db.scalar(select(Meter).where(Meter.phases == 1).order_by(Meter.id))
    three = db.scalar(select(Meter).where(Meter.phases == 3).order_by(Meter.id))
    return single, three


def local(ts) -> str:
    """As the metering system writes times: Beijing time without a zone."""
    return ts.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def readings_file(db, tmp_path):
    """Lines 2–4 good, 5 a repeat of a held reading, 6 unknown meter, 7 NaN, 8 not on the hour, 9 good."""
    single, three = meters(db)
    held = db.scalar(select(Reading).where(Reading.meter_id == single.id).order_by(Reading.ts))
    base = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=40)  # before the demo's data
    one = [1.2, 1.2, 221.5, 5.4, "", "", "", ""]
    three_phase = [9.5, 9.5, 228.0, 14.1, 229.1, 13.8, 227.4, 14.6]
    rows = [
        [single.meter_no, local(base), *one],
        [single.meter_no, (base + timedelta(hours=1)).isoformat(), *one],  # with its offset (UTC)
        [three.meter_no, local(base), *three_phase],
        [single.meter_no, local(held.ts), *one],
        ["NO-SUCH-METER", local(base), *one],
        [single.meter_no, local(base + timedelta(hours=2)), "nan", 1.2, 221.5, 5.4, "", "", "", ""],
        [single.meter_no, local(base + timedelta(hours=3, minutes=30)), *one],
        [three.meter_no, local(base + timedelta(hours=5)), *three_phase],
    ]
    return write_csv(tmp_path / "readings.csv", READING_HEADER, rows), single, three, base


def test_readings_good_rows_stored_bad_rows_reported_by_line(db, db_url, capsys, readings_file, tmp_path):
    path, single, three, base = readings_file
    before_readings, before_events = counts(db)
    errors_csv = tmp_path / "errors.csv"
    code, out, err = run(capsys, "--readings", str(path), "--database-url", db_url, "--errors", str(errors_csv))
    assert code == 1
    assert summary(out, "readings.csv") == {"rows": 8, "stored": 4, "duplicates": 1, "rejected": 3}
    assert "readings.csv 第6行（表号 NO-SUCH-METER） meter_no：表号不存在" in err
    assert re.search(r"第7行（表号 \d+） kwh：", err)
    assert re.search(r"第8行（表号 \d+） ts：读数时间须为整点", err)
    assert not re.search(r"第[23459]行", err)
    assert counts(db) == (before_readings + 4, before_events)
    stored = db.scalars(select(Reading).where(Reading.meter_id == single.id, Reading.ts >= base,
                                              Reading.ts < base + timedelta(hours=2)).order_by(Reading.ts)).all()
    assert [r.ts for r in stored] == [base, base + timedelta(hours=1)]
    assert float(stored[0].kwh) == 1.2 and float(stored[0].voltage_a) == 221.5 and stored[0].voltage_b is None
    c = db.scalar(select(Reading).where(Reading.meter_id == three.id, Reading.ts == base + timedelta(hours=5)))
    assert float(c.current_c) == 14.6
    with errors_csv.open(encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in rejected] == [("6", "meter_no"), ("7", "kwh"), ("8", "ts")]
    assert all(r["file"] == str(path) for r in rejected)


def test_the_same_rules_as_the_api(db, db_url, capsys, readings_file, tmp_path):
    """Same rows through intake.store (the API's function): the same reasons, row numbers shifted by the header."""
    path, *_ = readings_file
    with path.open(encoding="utf-8") as handle:
        api = intake.store(session=db, kind="readings", raws=list(csv.DictReader(handle)), now=utcnow())
    db.rollback()
    errors_csv = tmp_path / "errors.csv"
    run(capsys, "--readings", str(path), "--database-url", db_url, "--errors", str(errors_csv))
    with errors_csv.open(encoding="utf-8") as handle:
        cli = [(int(r["line"]), r["field"], r["message"]) for r in csv.DictReader(handle)]
    assert cli == [(e.row + 1, e.field, e.message) for e in api.errors]
    assert (api.stored, api.duplicates) == (4, 1)


def test_running_the_same_file_twice_changes_nothing(db, db_url, capsys, readings_file):
    path, *_ = readings_file
    assert run(capsys, "--readings", str(path), "--database-url", db_url)[0] == 1
    after_first = counts(db)
    code, out, _ = run(capsys, "--readings", str(path), "--database-url", db_url)
    assert code == 1
    assert summary(out, "readings.csv") == {"rows": 8, "stored": 0, "duplicates": 5, "rejected": 3}
    assert counts(db) == after_first


def test_small_batches_and_repeats_across_them(db, db_url, capsys, readings_file):
    """Chunks of 2 rows: the same outcome; a row repeated in a later chunk is a duplicate, stored once."""
    path, single, _, base = readings_file
    with path.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow([single.meter_no, local(base), 1.2, 1.2, 221.5, 5.4, "", "", "", ""])
    before = counts(db)
    code, out, err = run(capsys, "--readings", str(path), "--database-url", db_url, "--batch", "2")
    assert code == 1
    assert summary(out, "readings.csv") == {"rows": 9, "stored": 4, "duplicates": 2, "rejected": 3}
    assert "第6行" in err and "第7行" in err and "第8行" in err
    assert counts(db) == (before[0] + 4, before[1])


def test_events_stored_once_and_a_clean_file_exits_0(db, db_url, capsys, tmp_path):
    single, three = meters(db)
    held = db.scalar(select(MeterEvent).order_by(MeterEvent.id))
    held_no = db.scalar(select(Meter.meter_no).where(Meter.id == held.meter_id))
    at = utcnow().replace(second=0, microsecond=0) - timedelta(days=20, minutes=7)  # events need no whole hour
    rows = [
        [three.meter_no, local(at), "停电", "", ""],
        [three.meter_no, local(at), "失压", "B", "B相电压 0 V"],
        [three.meter_no, local(at), "失压", "C", ""],  # another phase: another event
        [single.meter_no, local(at + timedelta(minutes=40)), "上电", "", ""],
        [held_no, held.ts.isoformat(), held.kind, held.phase or "", held.detail or ""],
    ]
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, rows)
    before = counts(db)
    code, out, err = run(capsys, "--events", str(path), "--database-url", db_url)
    assert (code, err) == (0, "")
    assert summary(out, "events.csv") == {"rows": 5, "stored": 4, "duplicates": 1, "rejected": 0}
    assert counts(db) == (before[0], before[1] + 4)
    kinds = db.execute(select(MeterEvent.kind, MeterEvent.phase).where(
        MeterEvent.meter_id == three.id, MeterEvent.ts == at)
        .order_by(MeterEvent.phase.nulls_first())).all()
    assert [tuple(k) for k in kinds] == [("停电", None), ("失压", "B"), ("失压", "C")]

    code, out, _ = run(capsys, "--events", str(path), "--database-url", db_url)
    assert code == 0
    assert summary(out, "events.csv") == {"rows": 5, "stored": 0, "duplicates": 5, "rejected": 0}
    assert counts(db) == (before[0], before[1] + 4)


def test_bad_event_rows_and_both_files_in_one_run(db, db_url, capsys, readings_file, tmp_path):
    path, single, _, _ = readings_file
    at = utcnow() - timedelta(days=3)
    events = write_csv(tmp_path / "events.csv", EVENT_HEADER, [
        [single.meter_no, local(at), "跳闸", "", ""],  # not a kind the meters report
        [single.meter_no, local(at), "失压", "C", ""],  # a single-phase meter has no phase C
        [single.meter_no, local(utcnow() + timedelta(hours=2)), "停电", "", ""],  # in the future
        [single.meter_no, local(at), "停电", "", ""],
    ])
    code, out, err = run(capsys, "--readings", str(path), "--events", str(events), "--database-url", db_url)
    assert code == 1
    assert summary(out, "events.csv") == {"rows": 4, "stored": 1, "duplicates": 0, "rejected": 3}
    assert summary(out, "readings.csv")["stored"] == 4
    assert re.search(r"events\.csv 第2行（表号 \d+） kind：未知事件类型", err)
    assert re.search(r"events\.csv 第3行（表号 \d+） 单相表只有A相", err)
    assert re.search(r"events\.csv 第4行（表号 \d+） ts：时间晚于当前时间", err)


def test_missing_file_exits_2_with_a_message(db, db_url, capsys, tmp_path):
    before = counts(db)
    code, out, err = run(capsys, "--readings", str(tmp_path / "nowhere.csv"), "--database-url", db_url)
    assert code == 2 and "文件不存在" in err and "nowhere.csv" in err and out == ""
    assert counts(db) == before


def test_wrong_header_exits_2_before_anything_is_imported(db, db_url, capsys, readings_file, tmp_path):
    """A good readings file and an events file with the readings' header: nothing of either is read."""
    path, *_ = readings_file
    events = write_csv(tmp_path / "events.csv", READING_HEADER, [["x", "2026-01-01 00:00:00", 1, 1, 220, 1]])
    before = counts(db)
    code, _, err = run(capsys, "--readings", str(path), "--events", str(events), "--database-url", db_url)
    assert code == 2
    assert "表头不对" in err and "未知列 kwh,kw" in err and "缺少必填列 kind" in err
    assert counts(db) == before
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, "--readings", str(empty), "--database-url", db_url)
    assert code == 2 and "空文件" in err


def test_no_file_given_exits_2(db_url, capsys):
    code, _, err = run(capsys, "--database-url", db_url)
    assert code == 2 and "--readings" in err


def test_quarter_hour_readings_make_their_hour_like_the_api(db, db_url, capsys, tmp_path):
    """A 96-points-a-day backfill: quarters out of order and one repeated; the hour is their sum, once."""
    single, _ = meters(db)
    hour = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=45)  # before the demo's data
    quarters = {i: [single.meter_no, local(hour + timedelta(minutes=15 * i)), 0.25 + i / 100, 1.0, 220 + i, 4.5,
                    "", "", "", "", 15] for i in range(4)}
    path = write_csv(tmp_path / "quarters.csv", READING_HEADER, [quarters[i] for i in (3, 1, 0, 2, 1)])
    code, out, _ = run(capsys, "--readings", str(path), "--database-url", db_url)
    assert code == 0
    assert summary(out, "quarters.csv") == {"rows": 5, "stored": 4, "duplicates": 1, "rejected": 0}
    row = db.scalar(select(Reading).where(Reading.meter_id == single.id, Reading.ts == hour))
    assert float(row.kwh) == pytest.approx(1.06) and float(row.voltage_a) == pytest.approx(221.5)
    assert summary(run(capsys, "--readings", str(path), "--database-url", db_url)[1], "quarters.csv")["stored"] == 0
