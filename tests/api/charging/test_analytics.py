"""Charging analytics on a small hand-built history (tests/api/charging/analytics_data.py): sessions, energy,
revenue, utilisation by hour, waits (nearest-rank p90), faults per station and area; customers' habits, their
segments and the CSV for offers."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from api.charging import analytics
from api.core.errors import Invalid
from api.core.exports import csv_cell
from api.core.time import LOCAL_TZ, UTC
from tests.api.charging import analytics_data as data


@pytest.fixture
def history(session):
    return data.build(session)


def test_figures_per_station_area_and_total(session, history):
    read = analytics.analytics(session=session, start=data.START, end=data.END, now=data.NOW, district=data.DISTRICT)
    assert (read.start, read.end, read.days, read.district) == (data.START, data.END, 14, data.DISTRICT)
    stations = {s.code: s for s in read.stations}
    assert list(stations) == [data.STATION_A, data.STATION_B]
    for code, expected in data.EXPECTED.items():
        got = stations[code].model_dump(include=set(expected))
        assert got == expected, code
    assert stations[data.STATION_A].transformer_area_id == history.area_id
    [area] = read.areas
    assert area.transformer_area_id == history.area_id and area.stations == [data.STATION_A, data.STATION_B]
    assert area.model_dump(include=set(data.AREA)) == data.AREA
    assert read.total.model_dump(include=set(data.AREA)) == data.AREA
    assert area.utilisation_by_hour[19] == round(2 / (4 * 14), 4)  # B's two evening sessions over 4 connectors
    assert read.customers == 5
    assert {s.segment: s.customers for s in read.segments} == {
        "偶尔充电": 1, "夜间谷段常充": 1, "晚高峰充电": 1, "白天快充": 1, "白天慢充": 1}


def test_slots_not_yet_begun_do_not_count_and_a_running_session_counts_to_now(session, history):
    # now = 2025-03-14 23:00 local: the running session at B has occupied one hour; the range's last hour is
    # still ahead, so 14 × 24 − 1 connector-hours are open at B
    now = datetime(2025, 3, 14, 23, 0, tzinfo=LOCAL_TZ).astimezone(UTC)
    read = analytics.analytics(session=session, start=data.START, end=data.END, now=now, district=data.DISTRICT)
    b = next(s for s in read.stations if s.code == data.STATION_B)
    assert b.utilisation == round(7 / (14 * 24 - 1), 4)
    assert b.utilisation_by_hour[22] == round(1 / 14, 4) and b.utilisation_by_hour[23] == 0.0
    # a range of days still to come has nothing open yet
    future = analytics.analytics(session=session, start=date(2025, 4, 1), end=date(2025, 4, 2), now=now,
                                 district=data.DISTRICT)
    assert future.total.utilisation == 0.0 and future.total.sessions == 0


def test_one_station_day_and_other_districts(session, history):
    read = analytics.analytics(session=session, start=date(2025, 3, 4), end=date(2025, 3, 4), now=data.NOW,
                               district=data.DISTRICT)
    a = next(s for s in read.stations if s.code == data.STATION_A)
    # 3 March 23:00 → 4 March 05:00 began the day before: 5 hours of it fall on the 4th; the DC hour 10–11
    assert a.sessions == 1 and a.utilisation == round(6 / (3 * 24), 4)
    assert read.customers == 1  # the DC customer; sessions per week count a short range as a week
    other = analytics.analytics(session=session, start=data.START, end=data.END, now=data.NOW, district="彭阳县")
    assert data.STATION_A not in {s.code for s in other.stations}


def test_customer_habits_and_their_segments(session, history):
    habits = analytics.customer_habits(session=session, start=data.START, end=data.END, district=data.DISTRICT)
    assert [h.account_no for h in habits] == list(data.HABITS)  # most sessions first, then the 户号
    for habit in habits:
        assert (habit.segment, habit.main_station_code, habit.usual_band, habit.sessions, habit.sessions_per_week,
                habit.avg_kwh, habit.total_kwh, habit.valley_share, habit.dc_share) == data.HABITS[habit.account_no]
    night = habits[0]
    assert night.id_tags == ["TAG-NIGHT"] and night.main_station_name == "测试甲充电站"
    assert night.offer == analytics.SEGMENTS["夜间谷段常充"][1]


def test_segment_rules_in_their_order():
    rule = analytics._segment
    assert rule(0.9, 1.0, "夜间谷段", 0.0) == "偶尔充电"  # rarely, even if always at night
    assert rule(3, 0.6, "晚高峰", 1.0) == "夜间谷段常充"
    assert rule(3, 0.59, "晚高峰", 1.0) == "晚高峰充电"
    assert rule(3, 0.0, "白天", 0.5) == "白天快充"
    assert rule(3, 0.0, "夜间谷段", 0.49) == "白天慢充"


def test_valley_share_and_bands_follow_the_tariff():
    at = lambda h, m=0: datetime(2025, 3, 3, h, m, tzinfo=LOCAL_TZ).astimezone(UTC)
    assert analytics.valley_fraction(at(21), at(23)) == 0.5
    assert analytics.valley_fraction(at(7, 30), at(8, 30)) == 0.5
    assert analytics.valley_fraction(at(12), at(12)) == 0.0
    assert [analytics.band_of(at(h)) for h in (7, 8, 16, 17, 21, 22)] == [
        "夜间谷段", "白天", "白天", "晚高峰", "晚高峰", "夜间谷段"]
    assert analytics.p90([5, 10, 15, 20, 25, 30, 35, 40, 45, 120]) == 45
    assert analytics.p90([7]) == 7 and analytics.p90([]) is None


def test_csv_for_offers(session, history):
    habits = analytics.customer_habits(session=session, start=data.START, end=data.END, district=data.DISTRICT)
    body = analytics.segments_csv(habits, start=data.START, end=data.END, district=data.DISTRICT)
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["# 统计区间：2025-03-01 至 2025-03-14；区县：测试区"]
    assert rows[1] == list(analytics.CSV_HEADERS)
    assert rows[2] == ["6400000001", "TAG-NIGHT", "夜间谷段常充", "测试甲充电站（TSTAN1）", "夜间谷段（22:00–08:00）",
                       "2", "1.00", "30.00", "60.000", "100.0%", "0.0%", "谷段充电套餐续订、夜间停车充电优惠"]
    assert len(rows) == 2 + 5
    assert analytics.segments_file_name(start=data.START, end=data.END) == "charging-segments_2025-03-01_2025-03-14.csv"


def test_csv_cells_mask_mobiles_and_formulas():  # the cells of every export (api.core.exports)
    assert csv_cell("联系人13812345678") == "联系人138****5678"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("-TAG") == "'-TAG"


def test_ranges_are_checked():
    assert analytics.check_range(date(2025, 1, 1), date(2025, 1, 1)) == 1
    assert analytics.check_range(date(2024, 1, 1), date(2024, 12, 31)) == 366
    with pytest.raises(Invalid) as backwards:
        analytics.check_range(date(2025, 1, 2), date(2025, 1, 1))
    assert backwards.value.code == "bad_range"
    with pytest.raises(Invalid) as too_long:
        analytics.check_range(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=366))
    assert too_long.value.code == "range_too_long"
