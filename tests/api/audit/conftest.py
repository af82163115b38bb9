"""The audit demo: 150 customers over 90 days with every planted audit case, seeded once per session and
shared by the tests that read it (the rules, line loss) and the one that works the article's case."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.api.conftest import build_demo_database

END = datetime(2026, 12, 1, 2, tzinfo=timezone.utc)  # 10:00 on 1 Dec in 固原: November is a full month
DAYS = 90
START = END - timedelta(hours=DAYS * 24 - 1)


@pytest.fixture(scope="session")
def audit_demo(demo_database_factory):
    """Engine on the audit demo (SQLite; its private database)."""
    engine, _summary = build_demo_database(demo_database_factory(), customers=150, days=DAYS, end=END)
    yield engine
    engine.dispose()
