"""SLA deadlines follow the Chinese working calendar, office hours and pauses the way staff count them."""
import logging
import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from api.core.time import calendar_years, is_working_day
from api.tickets import sla
from api.tickets.sla import (
    DEFAULT_POLICIES,
    SlaPolicy,
    advance,
    due_at,
    minutes_between,
    policy_for,
    remaining,
    resume,
    warn_at,
)

BJ = ZoneInfo("Asia/Shanghai")
COMPLAINT = policy_for("投诉", None)
BUSINESS = policy_for("业务办理", None)
AUDIT = policy_for("稽查任务", None)


def bj(y, m, d, hh=0, mm=0) -> datetime:
    """An instant given as Beijing wall time, expressed in UTC as the system stores it."""
    return datetime(y, m, d, hh, mm, tzinfo=BJ).astimezone(timezone.utc)


# --- calendar ---------------------------------------------------------------------------

def test_working_days_follow_the_official_calendar_including_make_up_days():
    assert is_working_day(date(2026, 11, 20))  # Friday
    assert not is_working_day(date(2026, 11, 21))  # Saturday
    assert not is_working_day(date(2026, 10, 1))  # National Day, Thursday
    assert is_working_day(date(2026, 10, 10))  # Saturday, 调休 make-up working day


def test_national_day_2026_as_the_calendar_has_it():
    # The deadlines below rely on these facts; if the calendar package changes them, say so here.
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    assert all(chinese_calendar.is_holiday(d) for d in holidays)
    assert chinese_calendar.is_workday(date(2026, 9, 30))
    assert chinese_calendar.is_workday(date(2026, 10, 8))
    assert date(2026, 10, 10).weekday() == 5 and chinese_calendar.is_workday(date(2026, 10, 10))
    assert date(2026, 10, 11).weekday() == 6 and not chinese_calendar.is_workday(date(2026, 10, 11))
    assert [is_working_day(d) for d in holidays] == [False] * 7


def test_unknown_year_falls_back_to_monday_to_friday():
    assert 2040 not in calendar_years()  # chinese_calendar has no table for it
    assert is_working_day(date(2040, 10, 1))  # a Monday: counted, though it would be National Day
    assert not is_working_day(date(2040, 1, 1))  # a Sunday
    # Friday 2040-01-06 15:00 + one working day skips the weekend.
    assert advance("workdays", bj(2040, 1, 6, 15), 1440) == bj(2040, 1, 9, 15)
    assert advance("office_hours", bj(2040, 1, 6, 17), 60) == bj(2040, 1, 9, 9)


def test_unknown_year_warns_once_per_year(caplog):
    with caplog.at_level(logging.WARNING, logger="api.core.time"):
        for day in range(3, 10):
            is_working_day(date(2039, 1, day))
    warnings = [r for r in caplog.records if "2039" in r.getMessage()]
    assert len(warnings) == 1


# --- wall clock -------------------------------------------------------------------------

def test_wall_clock_runs_around_the_clock():
    fault = policy_for("故障报修", "城区")
    start = bj(2026, 10, 3, 23, 40)  # a holiday night: repair promises do not stop
    assert due_at(fault, start) == bj(2026, 10, 4, 0, 25)
    assert warn_at(fault, start) == start + timedelta(minutes=36)
    assert minutes_between("wall", start, start + timedelta(hours=2)) == 120


# --- workdays clock ---------------------------------------------------------------------

def test_one_working_day_from_friday_afternoon_is_monday_afternoon():
    assert due_at(COMPLAINT, bj(2026, 11, 20, 15)) == bj(2026, 11, 23, 15)


def test_one_working_day_across_national_day_2026():
    # Wed 30 Sep 15:00: 9 h left that day, 1–7 Oct stopped, 15 h more on Thu 8 Oct.
    assert due_at(COMPLAINT, bj(2026, 9, 30, 15)) == bj(2026, 10, 8, 15)
    # A complaint received during the holiday starts counting on 8 Oct.
    assert due_at(COMPLAINT, bj(2026, 10, 3, 11, 17)) == bj(2026, 10, 9)


def test_make_up_saturday_counts():
    # Fri 9 Oct 15:00 + 1 working day ends on the 调休 Saturday 10 Oct, not on Monday.
    assert due_at(COMPLAINT, bj(2026, 10, 9, 15)) == bj(2026, 10, 10, 15)
    assert minutes_between("workdays", bj(2026, 10, 10), bj(2026, 10, 12)) == 1440


def test_ten_working_days_across_the_holiday():
    # Working days from 30 Sep: 30 Sep, 8, 9, 10 (Sat), 12, 13, 14, 15, 16, 19 Oct.
    assert due_at(AUDIT, bj(2026, 9, 30)) == bj(2026, 10, 20)


def test_workdays_clock_is_stopped_over_weekends_and_holidays():
    assert minutes_between("workdays", bj(2026, 11, 21, 8), bj(2026, 11, 22, 20)) == 0
    assert minutes_between("workdays", bj(2026, 10, 1), bj(2026, 10, 8)) == 0
    assert minutes_between("workdays", bj(2026, 11, 20, 12), bj(2026, 11, 23, 12)) == 1440


def test_budget_ending_when_the_clock_stops_is_due_at_that_moment():
    assert advance("workdays", bj(2026, 11, 20, 12), 720) == bj(2026, 11, 21)  # Fri 24:00


# --- office hours clock -----------------------------------------------------------------

def test_office_hours_roll_over_the_weekend():
    assert advance("office_hours", bj(2026, 11, 20, 16, 30), 120) == bj(2026, 11, 23, 9, 30)


def test_office_hours_start_before_opening_counts_from_0830():
    assert advance("office_hours", bj(2026, 11, 23, 7), 60) == bj(2026, 11, 23, 9, 30)
    assert minutes_between("office_hours", bj(2026, 11, 23, 7), bj(2026, 11, 23, 9)) == 30


def test_office_hours_have_no_lunch_break_and_stop_at_1730():
    assert advance("office_hours", bj(2026, 11, 23, 11, 30), 120) == bj(2026, 11, 23, 13, 30)
    assert advance("office_hours", bj(2026, 11, 23, 17), 60) == bj(2026, 11, 24, 9)
    assert advance("office_hours", bj(2026, 11, 23, 20), 30) == bj(2026, 11, 24, 9)
    assert advance("office_hours", bj(2026, 11, 23, 16, 30), 60) == bj(2026, 11, 23, 17, 30)


def test_business_takes_five_working_days_of_office_hours():
    assert BUSINESS.minutes == 5 * 540
    assert due_at(BUSINESS, bj(2026, 11, 23, 10)) == bj(2026, 11, 30, 10)
    # Across National Day: 30 Sep 10:00 → 8, 9, 10 (Sat), 12 Oct → 13 Oct 10:00.
    assert due_at(BUSINESS, bj(2026, 9, 30, 10)) == bj(2026, 10, 13, 10)


# --- inverse and consistency ------------------------------------------------------------

@pytest.mark.parametrize("clock", ["wall", "workdays", "office_hours"])
def test_minutes_between_is_the_inverse_of_advance(clock):
    rng = random.Random(20261001)
    year_start = bj(2026, 1, 1)
    for _ in range(300):
        start = year_start + timedelta(seconds=rng.randrange(365 * 86400))
        minutes = rng.uniform(0, 12 * 1440)
        end = advance(clock, start, minutes)
        assert end >= start
        assert minutes_between(clock, start, end) == pytest.approx(minutes, abs=1e-6)
        # And the other way: advancing by the clock time between two instants reaches the
        # second one, or the last moment the clock ran before it.
        later = start + timedelta(minutes=rng.uniform(0, 20 * 1440))
        spent = minutes_between(clock, start, later)
        reached = advance(clock, start, spent)
        assert reached <= later
        assert minutes_between(clock, reached, later) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("clock", ["wall", "workdays", "office_hours"])
def test_advance_is_additive(clock):
    rng = random.Random(7)
    for _ in range(100):
        start = bj(2026, 1, 1) + timedelta(minutes=rng.randrange(365 * 1440))
        a, b = rng.randrange(1, 5000), rng.randrange(1, 5000)
        assert advance(clock, advance(clock, start, a), b) == advance(clock, start, a + b)


def test_advance_walks_day_by_day_not_minute_by_minute(monkeypatch):
    calls = []
    real = sla.is_working_day
    monkeypatch.setattr(sla, "is_working_day", lambda d: calls.append(d) or real(d))
    assert due_at(AUDIT, bj(2026, 11, 2, 9)) == bj(2026, 11, 16, 9)
    assert len(calls) <= 20
    calls.clear()
    advance("office_hours", bj(2026, 1, 5, 9), 240 * 540)  # about a working year
    assert len(calls) <= 400


def test_results_are_aware_utc_and_local_inputs_are_accepted():
    local_start = datetime(2026, 11, 20, 15, tzinfo=BJ)
    due = advance("workdays", local_start, 1440)
    assert due.tzinfo == timezone.utc
    assert due == datetime(2026, 11, 23, 7, tzinfo=timezone.utc)


# --- remaining, pause and resume --------------------------------------------------------

def test_remaining_counts_down_then_goes_negative_in_the_same_clock():
    due = due_at(COMPLAINT, bj(2026, 11, 20, 15))  # Mon 23 Nov 15:00
    assert remaining(COMPLAINT, due, bj(2026, 11, 21, 10)) == 900  # Sat: only Mon 00:00–15:00 left
    assert remaining(COMPLAINT, due, bj(2026, 11, 23, 14)) == 60
    assert remaining(COMPLAINT, due, due) == 0
    assert remaining(COMPLAINT, due, bj(2026, 11, 24, 9)) == -18 * 60
    fault = policy_for("故障报修", "农村")
    start = bj(2026, 11, 21, 2)
    assert remaining(fault, due_at(fault, start), start + timedelta(minutes=100)) == -10


def test_overdue_time_does_not_grow_over_the_weekend():
    due = bj(2026, 11, 20, 15)  # Friday
    assert remaining(COMPLAINT, due, bj(2026, 11, 22, 23)) == -540
    assert remaining(COMPLAINT, due, bj(2026, 11, 23, 10)) == -540 - 600


@pytest.mark.parametrize(
    ("policy", "start", "paused", "resumed"),
    [
        (COMPLAINT, bj(2026, 11, 23, 10), bj(2026, 11, 23, 16), bj(2026, 11, 25, 9)),
        (BUSINESS, bj(2026, 11, 23, 10), bj(2026, 11, 24, 15), bj(2026, 11, 27, 11)),
        (BUSINESS, bj(2026, 9, 29, 10), bj(2026, 9, 30, 12), bj(2026, 10, 9, 14)),
        (policy_for("故障报修", "边远"), bj(2026, 11, 23, 10), bj(2026, 11, 23, 10, 30), bj(2026, 11, 23, 13)),
    ],
)
def test_resume_pushes_the_due_time_by_exactly_the_paused_clock_time(policy, start, paused, resumed):
    due = due_at(policy, start)
    left = remaining(policy, due, paused)
    assert left > 0
    new_due = resume(policy, left, resumed)
    paused_for = minutes_between(policy.clock, paused, resumed)
    assert paused_for > 0
    assert new_due == advance(policy.clock, due, paused_for)
    assert minutes_between(policy.clock, start, new_due) == policy.minutes + paused_for
    assert remaining(policy, new_due, resumed) == left


def test_resume_worked_example():
    # Received Mon 10:00, due Tue 10:00; 挂起 Mon 16:00 with 18 h left; resumed Wed 09:00.
    due = due_at(COMPLAINT, bj(2026, 11, 23, 10))
    left = remaining(COMPLAINT, due, bj(2026, 11, 23, 16))
    assert left == 18 * 60
    assert resume(COMPLAINT, left, bj(2026, 11, 25, 9)) == bj(2026, 11, 26, 3)


def test_resume_of_an_already_overdue_ticket_keeps_it_overdue_by_the_same_amount():
    due = due_at(BUSINESS, bj(2026, 11, 16, 10))  # Mon 23 Nov 10:00
    left = remaining(BUSINESS, due, bj(2026, 11, 23, 11))
    assert left == -60
    # Resumed Tue 09:00: 30 min back to Tue 08:30, 30 more back from Mon 17:30 → Mon 17:00.
    new_due = resume(BUSINESS, left, bj(2026, 11, 24, 9))
    assert new_due == bj(2026, 11, 23, 17)
    assert remaining(BUSINESS, new_due, bj(2026, 11, 24, 9)) == -60


# --- policies ---------------------------------------------------------------------------

def test_default_policies():
    for kind in ("故障报修", "充电设施故障", "安全隐患"):
        got = {area: policy_for(kind, area) for area in ("城区", "农村", "边远")}
        assert {a: (p.clock, p.minutes) for a, p in got.items()} == {
            "城区": ("wall", 45), "农村": ("wall", 90), "边远": ("wall", 120)}
        assert all(p.ticket_type == kind and p.what == "到达现场" for p in got.values())
    assert (COMPLAINT.clock, COMPLAINT.minutes, COMPLAINT.what) == ("workdays", 1440, "联系客户")
    assert (BUSINESS.clock, BUSINESS.minutes, BUSINESS.what) == ("office_hours", 2700, "受理办结")
    assert (policy_for("咨询回访", "城区").clock, policy_for("咨询回访", "城区").minutes) == ("workdays", 1440)
    assert (AUDIT.clock, AUDIT.minutes) == ("workdays", 14400)
    assert set(DEFAULT_POLICIES) == {"故障报修", "安全隐患", "投诉", "业务办理", "咨询回访", "稽查任务", "充电设施故障"}


def test_missing_or_unknown_area_class_gets_the_strictest_promise():
    assert policy_for("故障报修", None).minutes == 45
    assert policy_for("故障报修", "海岛").minutes == 45


def test_policy_table_can_be_overridden():
    table = {"投诉": SlaPolicy("投诉", "office_hours", 240, warn_share=0.5, what="联系客户")}
    policy = policy_for("投诉", None, table)
    assert due_at(policy, bj(2026, 11, 20, 16, 30)) == bj(2026, 11, 23, 11, 30)
    assert warn_at(policy, bj(2026, 11, 20, 16, 30)) == bj(2026, 11, 23, 9, 30)
    with pytest.raises(ValueError):
        policy_for("故障报修", "城区", table)


def test_unknown_ticket_type_or_bad_policy_is_rejected():
    with pytest.raises(ValueError):
        policy_for("抄表", None)
    with pytest.raises(ValueError):
        SlaPolicy("投诉", "weekdays", 60)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SlaPolicy("投诉", "wall", 0)
    with pytest.raises(ValueError):
        advance("weekdays", bj(2026, 11, 20), 10)  # type: ignore[arg-type]


# --- input checks -----------------------------------------------------------------------

def test_naive_datetimes_are_rejected():
    naive = datetime(2026, 11, 20, 15)
    aware = bj(2026, 11, 20, 15)
    with pytest.raises(ValueError):
        advance("wall", naive, 10)
    with pytest.raises(ValueError):
        minutes_between("workdays", naive, aware)
    with pytest.raises(ValueError):
        minutes_between("workdays", aware, naive)
    with pytest.raises(ValueError):
        due_at(COMPLAINT, naive)
    with pytest.raises(ValueError):
        remaining(COMPLAINT, aware, naive)
    with pytest.raises(ValueError):
        resume(COMPLAINT, 60, naive)
