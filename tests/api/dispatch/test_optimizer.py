"""The dispatch optimiser sends the crew a good dispatcher would, and never breaks a hard rule."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from api.dispatch.optimizer import (
    Assignment,
    CrewState,
    RoadModel,
    TicketDemand,
    Weights,
    assign_batch,
    assign_one,
    cost,
    feasible,
    nearest_available,
)

NOW = datetime(2026, 7, 18, 7, 0, tzinfo=timezone.utc)  # 15:00 in 固原
BASE_LAT, BASE_LON = 36.0000, 106.2800  # 原州区, near 南关街道
KM_PER_DEGREE = 111.195  # of latitude, on the haversine sphere
ROAD = RoadModel()
TOWN_MIN_PER_KM = 1.3 / 25 * 60  # 3.12 min per straight-line km in 城区


def at(km_north: float = 0.0) -> tuple[float, float]:
    return BASE_LAT + km_north / KM_PER_DEGREE, BASE_LON


def crew(id: str, km: float = 0.0, *, skills=("低压抢修",), districts=("原州区",), on_shift=True,
         load=0, capacity=1, experience=3, free_at=None) -> CrewState:
    lat, lon = at(km)
    return CrewState(id, frozenset(skills), lat, lon, frozenset(districts), on_shift, load, capacity,
                     experience, free_at)


def ticket(id: str, km: float = 0.0, *, skill="低压抢修", district="原州区", area_class="城区", priority=3,
           due_in: float = 240.0, pinned_crew=None) -> TicketDemand:
    lat, lon = at(km)
    return TicketDemand(id, skill, lat, lon, district, area_class, priority,
                        NOW + timedelta(minutes=due_in), pinned_crew)


def by_ticket(assignments: list[Assignment]) -> dict[str, str]:
    return {a.ticket_id: a.crew_id for a in assignments}


# ---------------------------------------------------------------------------------------- roads


def test_ten_km_in_town_takes_about_31_minutes():
    lat, lon = at(10)
    assert ROAD.travel_minutes(BASE_LAT, BASE_LON, lat, lon, "城区") == pytest.approx(31.2, abs=0.05)


def test_rural_roads_are_faster_and_remote_ones_slower_than_rural():
    lat, lon = at(10)
    rural = ROAD.travel_minutes(BASE_LAT, BASE_LON, lat, lon, "农村")
    remote = ROAD.travel_minutes(BASE_LAT, BASE_LON, lat, lon, "边远")
    assert rural == pytest.approx(10 * 1.4 / 45 * 60, abs=0.05)  # 18.7 min
    assert remote == pytest.approx(10 * 1.6 / 35 * 60, abs=0.05)  # 27.4 min
    assert ROAD.travel_minutes(BASE_LAT, BASE_LON, BASE_LAT, BASE_LON, "城区") == 0.0


def test_real_distance_between_county_seats_is_plausible():
    # 固原 (原州区) to 西吉县城: about 50 km as the crow flies, 1.5 h or so on rural roads
    minutes = ROAD.travel_minutes(36.0050, 106.2800, 35.9640, 105.7300, "农村")
    assert 80 < minutes < 110


# ----------------------------------------------------------------------------- hard constraints


@pytest.mark.parametrize("broken", [
    {"skills": ("计量装表",)},
    {"on_shift": False},
    {"districts": ("西吉县",)},
    {"load": 2, "capacity": 2},
])
def test_each_hard_constraint_excludes_a_crew_however_close(broken):
    near, far = crew("near", 0.5, **broken), crew("far", 12)
    t = ticket("T1", 0)
    assert not feasible(near, t)
    assert feasible(far, t)
    assert assign_one(t, [near, far], NOW).crew_id == "far"
    assert nearest_available(t, [near, far], NOW).crew_id == "far"
    assert by_ticket(assign_batch([t], [near, far], NOW)) == {"T1": "far"}


def test_no_feasible_crew_gives_none_and_leaves_the_ticket_unassigned():
    crews = [crew("A", 1, on_shift=False), crew("B", 2, skills=("高压抢修",)), crew("C", 3, load=1)]
    t = ticket("T1")
    assert assign_one(t, crews, NOW) is None
    assert nearest_available(t, crews, NOW) is None
    assert assign_batch([t], crews, NOW) == []
    assert assign_one(t, [], NOW) is None
    assert assign_batch([], crews, NOW) == []


# ------------------------------------------------------------------------------------ soft rules


def test_closer_crew_wins_when_everything_else_is_equal():
    chosen = assign_one(ticket("T1", 0), [crew("far", 6), crew("near", 2), crew("farther", 9)], NOW)
    assert chosen.crew_id == "near"
    assert chosen.travel_minutes == pytest.approx(2 * TOWN_MIN_PER_KM, abs=0.01)
    assert chosen.eta == NOW + timedelta(minutes=chosen.travel_minutes)
    assert chosen.slack_minutes == pytest.approx(240 - chosen.travel_minutes)


def test_farther_crew_wins_when_the_near_one_would_miss_the_deadline():
    # the near crew is finishing a job: 40 min + 6 min drive > 30 min; the far one drives 19 min
    busy_near = crew("near", 2, capacity=2, load=1, free_at=NOW + timedelta(minutes=40))
    free_far = crew("far", 6)
    chosen = assign_one(ticket("T1", 0, due_in=30), [busy_near, free_far], NOW)
    assert chosen.crew_id == "far"
    assert chosen.slack_minutes > 0
    # the baseline only looks at the distance
    assert nearest_available(ticket("T1", 0, due_in=30), [busy_near, free_far], NOW).crew_id == "near"


def test_near_busy_crew_is_still_chosen_when_it_makes_the_deadline_anyway():
    busy_near = crew("near", 1, capacity=2, load=1, free_at=NOW + timedelta(minutes=5))
    chosen = assign_one(ticket("T1", 0, due_in=120), [busy_near, crew("far", 12)], NOW)
    assert chosen.crew_id == "near"
    assert abs(chosen.eta - (NOW + timedelta(minutes=5 + 1 * TOWN_MIN_PER_KM))) < timedelta(seconds=1)


def test_less_loaded_crew_wins_when_travel_is_similar():
    loaded = crew("loaded", 3.0, load=2, capacity=3)
    idle = crew("idle", 3.5, load=0, capacity=3)
    assert assign_one(ticket("T1", 0), [loaded, idle], NOW).crew_id == "idle"


def test_loaded_crew_next_door_still_beats_an_idle_crew_across_town():
    loaded = crew("loaded", 0.5, load=1, capacity=3)
    idle = crew("idle", 10, load=0, capacity=3)
    assert assign_one(ticket("T1", 0), [loaded, idle], NOW).crew_id == "loaded"


def test_senior_crew_preferred_for_priority_one_when_comparable():
    junior, senior = crew("junior", 4, experience=1), crew("senior", 5, experience=3)
    assert assign_one(ticket("T1", 0, priority=1), [junior, senior], NOW).crew_id == "senior"
    # not for ordinary tickets, and not when the senior is much farther
    assert assign_one(ticket("T2", 0, priority=3), [junior, senior], NOW).crew_id == "junior"
    assert assign_one(ticket("T3", 0, priority=1), [junior, crew("senior", 12)], NOW).crew_id == "junior"


def test_junior_is_sent_to_an_urgent_ticket_when_the_senior_would_be_late():
    junior, senior = crew("junior", 4, experience=1), crew("senior", 5, experience=3)
    # junior drives 12.5 min, senior 15.6 min; due in 14 min
    assert assign_one(ticket("T1", 0, priority=1, due_in=14), [junior, senior], NOW).crew_id == "junior"


def test_cost_of_assign_one_is_the_cost_function():
    crews = [crew("A", 3, load=1, capacity=3, experience=1), crew("B", 7, experience=2)]
    t = ticket("T1", 0, priority=1, due_in=15)
    chosen = assign_one(t, crews, NOW)
    expected = min(cost(c, t, NOW) for c in crews)
    assert chosen.cost == pytest.approx(expected)
    # travel 9.36 + 0 late + 15 load + 10 junior = 34.36 against 21.84 + 8 × 6.84 + 0 + 5
    assert cost(crews[0], t, NOW) == pytest.approx(3 * TOWN_MIN_PER_KM + 15 + 10, abs=0.01)


def test_weights_change_the_choice():
    loaded, idle = crew("loaded", 1, load=2, capacity=3), crew("idle", 4)
    assert assign_one(ticket("T1"), [loaded, idle], NOW).crew_id == "idle"
    assert assign_one(ticket("T1"), [loaded, idle], NOW, weights=Weights(load=0.0)).crew_id == "loaded"


# ---------------------------------------------------------------------------------------- batch


def greedy(tickets, crews, now):
    """One ticket at a time with assign_one, each choice taking a slot of its crew."""
    crews = {c.id: c for c in crews}
    out = []
    for t in tickets:
        chosen = assign_one(t, list(crews.values()), now)
        if chosen:
            out.append(chosen)
            crews[chosen.crew_id] = replace(crews[chosen.crew_id], load=crews[chosen.crew_id].load + 1)
    return out


def test_batch_beats_greedy_where_the_first_ticket_takes_the_crew_the_second_needed():
    # on a line: T2 at -1 km, A at 0, T1 at +1, B at +3. Greedy gives T1 to A and T2 drives from B.
    crews = [crew("A", 0), crew("B", 3)]
    tickets = [ticket("T1", 1), ticket("T2", -1)]
    one_by_one, batch = greedy(tickets, crews, NOW), assign_batch(tickets, crews, NOW)
    assert by_ticket(one_by_one) == {"T1": "A", "T2": "B"}
    assert by_ticket(batch) == {"T1": "B", "T2": "A"}
    assert sum(a.cost for a in batch) == pytest.approx(3 * TOWN_MIN_PER_KM, abs=0.01)
    assert sum(a.cost for a in batch) < sum(a.cost for a in one_by_one) - 5


def test_batch_serves_every_ticket_where_greedy_strands_one():
    # only A can do 高压抢修; greedy spends A on the nearer 低压 ticket first
    crews = [crew("A", 0, skills=("低压抢修", "高压抢修")), crew("B", 4)]
    tickets = [ticket("T1", 0.5), ticket("T2", 2, skill="高压抢修")]
    assert by_ticket(greedy(tickets, crews, NOW)) == {"T1": "A"}
    assert by_ticket(assign_batch(tickets, crews, NOW)) == {"T1": "B", "T2": "A"}


def test_pinned_ticket_keeps_its_crew_and_uses_its_capacity():
    far_pinned = crew("P", 10, capacity=2)
    crews = [far_pinned, crew("N", 0.2)]
    tickets = [ticket("T1", 0, pinned_crew="P"), ticket("T2", 9.8), ticket("T3", 9.9)]
    result = by_ticket(assign_batch(tickets, crews, NOW))
    assert result["T1"] == "P"  # although N is next door
    assert Counter(result.values())["P"] == 2  # one slot left for T2 or T3, the other goes to N
    assert set(result) == {"T1", "T2", "T3"}


def test_pinned_ticket_stays_even_when_its_crew_is_now_full_or_off_shift():
    full = crew("P", 5, load=1, capacity=1, on_shift=False)
    result = assign_batch([ticket("T1", 0, pinned_crew="P"), ticket("T2", 5)], [full], NOW)
    assert by_ticket(result) == {"T1": "P"}  # T2 cannot take P's (non-existent) free slot
    with pytest.raises(ValueError):
        assign_batch([ticket("T1", pinned_crew="ghost")], [full], NOW)


def test_batch_never_exceeds_capacity_and_respects_every_hard_rule():
    rng = random.Random(3)
    districts = ("原州区", "彭阳县")
    crews = [crew(f"C{i}", rng.uniform(-20, 20), skills=rng.sample(("低压抢修", "高压抢修", "计量装表"), 2),
                  districts=rng.sample(districts, rng.randint(1, 2)), on_shift=rng.random() > 0.1,
                  load=(load := rng.randint(0, 2)), capacity=load + rng.randint(0, 3),
                  experience=rng.randint(1, 3)) for i in range(40)]
    tickets = [ticket(f"T{i}", rng.uniform(-20, 20), skill=rng.choice(("低压抢修", "高压抢修", "计量装表")),
                      district=rng.choice(districts), priority=rng.randint(1, 4),
                      due_in=rng.uniform(10, 120)) for i in range(150)]
    result = assign_batch(tickets, crews, NOW)
    by_id = {c.id: c for c in crews}
    per_crew = Counter(a.crew_id for a in result)
    assert len({a.ticket_id for a in result}) == len(result)
    for crew_id, n in per_crew.items():
        assert by_id[crew_id].load + n <= by_id[crew_id].capacity
    tickets_by_id = {t.id: t for t in tickets}
    for a in result:
        assert feasible(by_id[a.crew_id], tickets_by_id[a.ticket_id])
    # as many tickets as the free slots allow are served (150 tickets is more than the slots)
    free_slots = sum(c.capacity - c.load for c in crews if c.on_shift)
    assert len(result) <= free_slots
    assert [a.ticket_id for a in result] == [t.id for t in tickets if t.id in {a.ticket_id for a in result}]


def test_when_crews_are_short_the_cheaper_ticket_goes_first():
    crews = [crew("A", 0)]
    tickets = [ticket("T_far", 6, due_in=240), ticket("T_near", 1, due_in=240)]
    assert by_ticket(assign_batch(tickets, crews, NOW)) == {"T_near": "A"}


def test_when_crews_are_short_a_ticket_that_can_be_on_time_goes_before_one_late_anyway():
    # T_lost is 30 min overdue already; T_savable is due in 20 min and 12.5 min away
    crews = [crew("A", 0)]
    tickets = [ticket("T_lost", 3, due_in=-30), ticket("T_savable", 4, due_in=20)]
    assert by_ticket(assign_batch(tickets, crews, NOW)) == {"T_savable": "A"}


def test_a_ticket_is_not_pushed_back_for_having_waited_longer():
    # both overdue; the one overdue for two hours is nearer and gets the crew
    crews = [crew("A", 0)]
    tickets = [ticket("T_recent", 2.5, due_in=-5), ticket("T_old", 2, due_in=-120)]
    assert by_ticket(assign_batch(tickets, crews, NOW)) == {"T_old": "A"}


def test_batch_spreads_tickets_over_idle_crews():
    crews = [crew("A", 0, capacity=3), crew("B", 0.3, capacity=3)]
    result = by_ticket(assign_batch([ticket("T1", 0.1), ticket("T2", 0.1)], crews, NOW))
    assert sorted(result.values()) == ["A", "B"]


def test_batch_of_one_agrees_with_assign_one():
    rng = random.Random(11)
    crews = [crew(f"C{i}", rng.uniform(-15, 15), load=rng.randint(0, 2), capacity=3,
                  experience=rng.randint(1, 3),
                  free_at=NOW + timedelta(minutes=rng.uniform(0, 60)) if rng.random() < 0.3 else None)
             for i in range(30)]
    for i in range(20):
        t = ticket(f"T{i}", rng.uniform(-15, 15), priority=rng.randint(1, 4), due_in=rng.uniform(5, 90))
        (batch,) = assign_batch([t], crews, NOW)
        single = assign_one(t, crews, NOW)
        assert batch.crew_id == single.crew_id
        assert batch.cost == pytest.approx(single.cost)
