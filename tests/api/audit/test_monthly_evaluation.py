"""The periodic evaluation of the audit work: each task counted in the local month of what happened to it."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from api.audit.models import AuditTask
from api.audit.service import last_months, monthly_evaluation


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def task(created, *, result_at=None, outcome=None, kwh=None, fee_fen=None, reviewed_at=None) -> AuditTask:
    status = "已完成" if reviewed_at else ("待复核" if result_at else "待核查")
    return AuditTask(created_at=created, result_at=result_at, outcome=outcome, recovered_kwh=kwh,
                     recovered_fee_fen=fee_fen, reviewed_at=reviewed_at, status=status)


def test_months_run_back_over_the_new_year_oldest_first():
    assert last_months(utc(2027, 2, 10, 4), 4) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    # 16:30 UTC on the last day of a month is already the next month in Beijing
    assert last_months(utc(2026, 11, 30, 16, 30), 1) == ["2026-12"]


def test_each_task_counts_where_it_was_opened_checked_and_closed():
    tasks = [
        # opened in November, found 私自增容 in December (Beijing time: 12-01 01:00), closed in December
        task(utc(2026, 11, 20, 2), result_at=utc(2026, 11, 30, 17), outcome="私自增容", kwh=Decimal("18650.0"),
             fee_fen=1_529_300, reviewed_at=utc(2026, 12, 3, 2)),
        # opened and found false in December
        task(utc(2026, 12, 2, 2), result_at=utc(2026, 12, 4, 2), outcome="误报"),
        # opened in December, not yet checked
        task(utc(2026, 12, 5, 2)),
    ]
    october, november, december = monthly_evaluation(tasks, now=utc(2026, 12, 6, 2), months=3)
    assert october.month == "2026-10" and (october.tasks_opened, october.checked, october.hit_rate) == (0, 0, None)
    assert (november.tasks_opened, november.still_open, november.checked) == (1, 0, 0)
    assert (december.tasks_opened, december.still_open, december.closed) == (2, 2, 1)
    assert (december.checked, december.hits, december.false_positive, december.hit_rate) == (2, 1, 1, 0.5)
    assert december.recovered_kwh == Decimal("18650.0") and december.recovered_fee_yuan == Decimal("15293.00")
    # 10.6 days for the first, 2 for the second
    assert december.mean_days_to_result == round((10 + 15 / 24 + 2) / 2, 1)
