"""The demo's audit cases whatever day the demo ends: `make demo` seeds 90 days up to the hour it runs,
so where the holidays (春节, 劳动节, 国庆) and the seasonal plant's season fall in the window moves
with the date. On demos ending on fixed days across the year, every planted case fires its rules and
no look-alike fires any (the holiday home after a long stay, the plant out of season). Fixed dates, so
the result never depends on today's date; 150 customers as the module demo of test_demo_cases.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from api.audit import rules
from api.db import make_sessionmaker
from api.demo.audit_cases import ALSO_FIRING, LOOKALIKES, PLANTED_CASES
from api.flows.audit_scan import load_frames
from tests.api.audit.conftest import DAYS
from tests.api.conftest import build_demo_database

END_DATES = {
    "spring-festival": datetime(2026, 3, 20, 2, tzinfo=UTC),  # 春节 in the window, the plant in season
    "season-end": datetime(2026, 5, 20, 2, tzinfo=UTC),  # the plant stopped on 31 Mar; 劳动节 stay
    "summer": datetime(2026, 7, 5, 2, tzinfo=UTC),  # the holiday home after 劳动节 and 端午
    "make-demo": datetime(2026, 12, 5, 2, tzinfo=UTC),  # bench/audit_demo.py's make-demo end (国庆)
}


@pytest.fixture(scope="module", params=sorted(END_DATES), ids=str)
def fired(request, demo_database_factory):
    """customer → the rules that fired on it, and the findings, on a demo ending on the given date."""
    end = END_DATES[request.param]
    engine, _ = build_demo_database(demo_database_factory(), customers=150, days=DAYS, end=end)
    try:
        with make_sessionmaker(engine)() as s:
            frames = load_frames(s, start=end - timedelta(hours=DAYS * 24 - 1), end=end + timedelta(hours=1))
    finally:
        engine.dispose()
    result = rules.scan(frames.customers, frames.readings, frames.events, frames.bills)
    by_customer: dict[str, set[str]] = defaultdict(set)
    for f in result.findings:
        by_customer[f.customer_id].add(f.rule)
    return by_customer, result.findings


def test_no_lookalike_fires_on_any_end_date(fired):
    by_customer, findings = fired
    loud = {a: [(f.rule, f.severity, f.start.date().isoformat()) for f in findings if f.customer_id == a]
            for a in LOOKALIKES if by_customer[a]}
    assert not loud, {a: (LOOKALIKES[a], hits) for a, hits in loud.items()}


def test_every_planted_case_fires_on_any_end_date(fired):
    by_customer, _ = fired
    missed = {a: sorted(set(want) - by_customer[a]) for a, want in PLANTED_CASES.items() if set(want) - by_customer[a]}
    assert not missed
    unexpected = {a: sorted(by_customer[a] - set(want) - set(ALSO_FIRING.get(a, ())))
                  for a, want in PLANTED_CASES.items()}
    assert not any(unexpected.values()), unexpected
