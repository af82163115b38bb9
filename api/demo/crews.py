"""Demo field crews of 固原: who covers which district with which skills, and their shifts.

Day crews work 08:00–20:00 and night crews 20:00–08:00 (Asia/Shanghai), every day; county crews
without a night partner are on call around the clock. Shifts are rows, written from the demo's
first day to 30 days past its end, and extended whenever the live demo moves on.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from api.core.ids import DISTRICTS
from api.core.time import local_days, local_midnight

AHEAD = timedelta(days=30)
SHIFT_HOURS = {"day": (8, 12), "night": (20, 12)}  # pattern -> (local start hour, length); on call: 0, 24

# (id, name, home district, districts covered, skills, pattern, experience, capacity)
CREWS = (
    ("YZ-01", "原州城区抢修一班", "原州区", ("原州区",), ("低压抢修", "高压抢修"), "day", 3, 4),
    ("YZ-02", "原州城区抢修二班", "原州区", ("原州区",), ("低压抢修", "高压抢修"), "night", 2, 4),
    ("YZ-03", "原州农村抢修班", "原州区", ("原州区", "彭阳县"), ("低压抢修",), "oncall", 2, 3),
    ("YZ-04", "原州计量班", "原州区", ("原州区", "西吉县", "隆德县", "泾源县", "彭阳县"), ("计量装表", "用电检查"), "day", 3, 5),
    ("XJ-01", "西吉抢修一班", "西吉县", ("西吉县",), ("低压抢修", "计量装表"), "day", 2, 3),
    ("XJ-02", "西吉抢修二班", "西吉县", ("西吉县",), ("低压抢修",), "night", 1, 3),
    ("LD-01", "隆德抢修班", "隆德县", ("隆德县", "泾源县"), ("低压抢修", "计量装表"), "oncall", 2, 3),
    ("JY-01", "泾源抢修班", "泾源县", ("泾源县", "隆德县"), ("低压抢修",), "oncall", 2, 3),
    ("PY-01", "彭阳抢修一班", "彭阳县", ("彭阳县",), ("低压抢修", "计量装表"), "day", 3, 3),
    ("PY-02", "彭阳抢修二班", "彭阳县", ("彭阳县",), ("低压抢修",), "night", 1, 3),
    ("CD-01", "充电设施运维班", "原州区", ("原州区", "西吉县", "隆德县", "泾源县", "彭阳县"), ("充电设施运维",), "day", 2, 4),
    ("KF-01", "客户服务班", "原州区", ("原州区", "西吉县", "隆德县", "泾源县", "彭阳县"), ("客户服务",), "day", 2, 8),
)
SURNAMES = "王李张刘陈杨马赵黄周吴"
GIVEN = ("建国", "海军", "志强", "永平", "学文", "国庆", "红兵", "晓东", "文斌", "小龙", "春生", "德明")


def crew_rows(seed: int) -> tuple[list[dict], list[dict]]:
    """Crews and their members (a 班长 and two 组员 each); mobiles in 1370000xxxx."""
    rng = random.Random(f"zhidian-crews:{seed}")
    crews, members = [], []
    for number, (crew_id, name, home, covered, skills, _pattern, experience, capacity) in enumerate(CREWS):
        lat, lon = DISTRICTS[home]
        lat, lon = lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01)
        leader = f"137000{number:02d}{rng.randrange(100):02d}"[:11]
        crews.append({"id": crew_id, "name": name, "leader_mobile": leader, "skills": list(skills),
                      "districts": list(covered), "home_district": home, "base_lat": lat, "base_lon": lon,
                      "lat": lat, "lon": lon, "located_at": None, "experience": experience,
                      "capacity": capacity, "active": True})
        for role_no in range(3):
            members.append({"crew_id": crew_id, "role": "班长" if role_no == 0 else "组员",
                            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                            "mobile": leader if role_no == 0 else f"137001{number:02d}{role_no}{rng.randrange(10)}"[:11]})
    return crews, members


def shift_rows(first_day: date, last_day: date) -> list[dict]:
    """Every crew's shifts for the local days first_day..last_day (UTC instants)."""
    rows = []
    for day in local_days(first_day, last_day):
        for crew_id, *_rest, pattern, _experience, _capacity in CREWS:
            start_hour, hours = SHIFT_HOURS.get(pattern, (0, 24))
            start = local_midnight(day) + timedelta(hours=start_hour)
            rows.append({"crew_id": crew_id, "starts_at": start, "ends_at": start + timedelta(hours=hours)})
    return rows
