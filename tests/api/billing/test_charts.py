"""The day-profile chart of the web chat: even y-axis ticks, each label on its line, bars to scale."""
from __future__ import annotations

import re
from datetime import date

import pytest

from api.billing.charts import nice_ticks, profile_svg, tick_label
from api.billing.schemas import ConsumptionAnalysisRead

TICK = re.compile(r'<text x="30" y="([\d.]+)" text-anchor="end" fill="#666">([\d.]+)</text>'
                  r'<line x1="34" x2="350" y1="([\d.]+)"')


def analysis(profile: list[float]) -> ConsumptionAnalysisRead:
    return ConsumptionAnalysisRead(
        account_no="0401000005", customer_class="居民", start=date(2026, 11, 1), end=date(2026, 11, 30),
        days_with_data=30, average_daily_kwh=round(sum(profile), 1), profile_kw=profile,
        base_load_kw=min(profile), bands=[], cluster=None, trend=None, unusual_days=[], comparison=None,
        summary="")


@pytest.mark.parametrize(("peak", "labels"), [
    (0.89, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
    (0.349, ["0.0", "0.1", "0.2", "0.3", "0.4"]),  # the chart put its 0.3 line at 0.349
    (0.17, ["0.00", "0.05", "0.10", "0.15", "0.20"]),
    (2.4, ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]),
    (3.7, ["0", "1", "2", "3", "4"]),
])
def test_ticks_are_even_from_zero_and_cover_the_peak(peak, labels):
    ticks = nice_ticks(peak)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and ticks[0] == 0 and ticks[-1] >= peak > ticks[-2]
    assert [tick_label(t, ticks[1]) for t in ticks] == labels


def test_every_label_sits_on_its_line_and_the_peak_bar_matches_the_scale():
    profile = [0.2] * 24
    profile[20] = 0.89  # "一天中20点到21点用电最多（平均0.89千瓦）"
    svg = profile_svg(analysis(profile), bands={})
    ticks = [(float(y), float(label), float(line)) for y, label, line in TICK.findall(svg)]
    assert [label for _, label, _ in ticks] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    zero_y, top_y = ticks[0][2], ticks[-1][2]
    for text_y, label, line_y in ticks:
        assert text_y == pytest.approx(line_y + 3, abs=0.05)  # the label is drawn on its own line
        assert line_y == pytest.approx(zero_y + (top_y - zero_y) * label, abs=0.06)  # evenly spaced
    peak_bar = re.search(r'<rect x="[\d.]+" y="([\d.]+)" [^>]*><title>20时 0.89千瓦</title>', svg)
    assert float(peak_bar.group(1)) == pytest.approx(zero_y + (top_y - zero_y) * 0.89, abs=0.06)


def test_an_empty_profile_still_draws_an_axis():
    svg = profile_svg(analysis([0.0] * 24), bands={})
    assert [label for _, label, _ in TICK.findall(svg)] == ["0.0", "0.1"]
