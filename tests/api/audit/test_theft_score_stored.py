"""The theft score over the stored daily energy: only the most suspicious few become findings, each with
its reasons in Chinese and the daily series to draw; confirmed labels switch the score to supervised."""
from __future__ import annotations

from api.audit import service as audit
from api.flows.audit import score_stored
from tests.api.conftest import DEMO_CUSTOMERS, DEMO_END, DEMO_NOW


def test_the_most_suspicious_few_become_findings_with_reasons_and_series(demo_session):
    found = score_stored(session=demo_session, end=DEMO_END, days=35, now=DEMO_NOW)
    # the seeded world (seed 7, fixed end) has one customer whose days are near zero a third of the time
    assert [(f.account_no, f.evidence["reasons"]) for f in found] == [("0403000108", ["近零电量天数占比31%"])]
    assert len(found) <= max(1, round(DEMO_CUSTOMERS * audit.THEFT_SCORE_SHARE))
    for f in found:
        assert f.rule == "theft_score" and f.score >= audit.THEFT_SCORE_MIN
        assert f.severity == ("high" if f.score >= audit.THEFT_SCORE_HIGH else "medium")
        assert f.evidence["reasons"] and all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in f.evidence["reasons"])
        points = f.evidence["series"][0]["points"]
        assert 28 <= len(points) <= 35 and f.evidence["series"][0]["unit"] == "kWh"


def test_too_little_history_gives_no_score_rather_than_a_guess(demo_session):
    assert score_stored(session=demo_session, end=DEMO_END, days=14, now=DEMO_NOW) == []
