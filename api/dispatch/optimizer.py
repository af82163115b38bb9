"""Which crew goes to which ticket: a cost model, a one-ticket dispatcher and a batch optimiser.

Pure functions over small frozen dataclasses: no database, no FastAPI, no clock (the caller
passes `now`). The dispatch service builds `CrewState` / `TicketDemand` from its tables and
records the chosen `Assignment`s as events.

Model
- Travel time is the great-circle distance times a detour factor, at an average speed; both
  depend on the area class of the ticket (城区 / 农村 / 边远), see `RoadModel`.
- The ETA is when the crew can leave (`CrewState.free_at`, or now) plus the travel. When the
  caller does not know `free_at` of a crew holding open tickets, the ETA is optimistic and the
  load term of the cost stands in for that wait (and for fairness).
- Hard constraints (`feasible`): the crew has the skill, is on shift, covers the ticket's
  district and has a free slot (load < capacity).
- Soft ones (`cost`), in minutes-equivalent: travel, a heavy penalty per minute of expected
  lateness against the ticket's due time, a load-balance term, a penalty for sending a junior
  crew to a priority-1 ticket. See `Weights`.

`assign_one` is what runs when a ticket arrives; `assign_batch` re-plans many waiting tickets
at once (storm, area outage) with `scipy.optimize.linear_sum_assignment`; `nearest_available`
is the baseline dispatcher (nearest feasible crew), kept for comparison in bench/dispatch.py.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from scipy.optimize import linear_sum_assignment

from api.core.distance import EARTH_RADIUS_KM, haversine_km

__all__ = [
    "SKILLS",
    "Assignment",
    "CrewState",
    "RoadModel",
    "TicketDemand",
    "Weights",
    "assign_batch",
    "assign_one",
    "cost",
    "feasible",
    "nearest_available",
]

SKILLS = ("低压抢修", "高压抢修", "计量装表", "用电检查", "充电设施运维", "客户服务")

MAX_EXPERIENCE = 3  # experience runs from 1 (junior) to 3 (senior)
INFEASIBLE = 1e9  # cost of a forbidden pair in the batch matrix; dominates any real cost sum


@dataclass(frozen=True)
class RoadModel:
    """Road travel from straight-line distance: detour factor and average speed by area class."""

    factor: dict[str, float] = field(default_factory=lambda: {"城区": 1.3, "农村": 1.4, "边远": 1.6})
    speed_kmh: dict[str, float] = field(default_factory=lambda: {"城区": 25.0, "农村": 45.0, "边远": 35.0})

    def minutes_per_km(self, area_class: str) -> float:
        """Minutes of driving per straight-line km in this area class."""
        return self.factor[area_class] / self.speed_kmh[area_class] * 60.0

    def travel_minutes(self, lat1: float, lon1: float, lat2: float, lon2: float, area_class: str) -> float:
        """Driving minutes between two points (haversine × detour factor / speed)."""
        return haversine_km(lat1, lon1, lat2, lon2) * self.minutes_per_km(area_class)


@dataclass(frozen=True)
class CrewState:
    """A crew as the dispatcher sees it now."""

    id: str
    skills: frozenset[str]
    lat: float
    lon: float
    districts: frozenset[str]  # districts it may be sent to
    on_shift: bool
    load: int  # open tickets it holds now
    capacity: int  # most open tickets it may hold
    experience: int  # 1 junior … 3 senior
    free_at: datetime | None = None  # when it expects to be done with what it holds; None: now


@dataclass(frozen=True)
class TicketDemand:
    """A ticket waiting for (or holding) a crew."""

    id: str
    skill: str
    lat: float
    lon: float
    district: str
    area_class: str  # 城区 | 农村 | 边远
    priority: int  # 1 most urgent … 4
    due_at: datetime  # aware; the crew must be on site by then
    pinned_crew: str | None = None  # already on site / accepted: keeps its crew


@dataclass(frozen=True)
class Assignment:
    """One ticket given to one crew, with what the dispatcher expected of it."""

    ticket_id: str
    crew_id: str
    travel_minutes: float
    eta: datetime
    slack_minutes: float  # due_at − eta; negative when the crew is expected late
    cost: float


@dataclass(frozen=True)
class Weights:
    """Weights of the cost terms, all in minutes-equivalent of travel.

    travel: per minute of driving. The unit of everything else.
    lateness: per minute the crew is expected to arrive after `due_at`. Heavy: a crew that
        would be x minutes late loses to one that is on time and drives up to 8·x minutes
        more; between crews that are both late, the earlier one wins.
    load: per open ticket the crew already holds (its waiting queue and fairness). 15 means a
        crew with one ticket more must be 15 minutes closer to be preferred.
    junior_on_urgent: added for a priority-1 ticket when the crew is junior (experience 1);
        half of it for a mid-level crew (2), nothing for a senior (3). A senior crew up to this
        many minutes farther is preferred, unless it would then be late.
    """

    travel: float = 1.0
    lateness: float = 8.0
    load: float = 15.0
    junior_on_urgent: float = 10.0


DEFAULT_ROAD = RoadModel()
DEFAULT_WEIGHTS = Weights()


def feasible(crew: CrewState, ticket: TicketDemand) -> bool:
    """Hard constraints: skill, on shift, district covered and a free slot."""
    return (
        ticket.skill in crew.skills
        and crew.on_shift
        and ticket.district in crew.districts
        and crew.load < crew.capacity
    )


def cost(
    crew: CrewState,
    ticket: TicketDemand,
    now: datetime,
    road: RoadModel = DEFAULT_ROAD,
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """Cost of sending `crew` to `ticket` now (minutes-equivalent; feasibility not checked)."""
    travel = road.travel_minutes(crew.lat, crew.lon, ticket.lat, ticket.lon, ticket.area_class)
    late = max(0.0, _wait_minutes(crew, now) + travel - _minutes_until(ticket.due_at, now))
    return (
        weights.travel * travel
        + weights.lateness * late
        + weights.load * crew.load
        + _junior_penalty(crew.experience, ticket.priority, weights)
    )


def assign_one(
    ticket: TicketDemand,
    crews: Sequence[CrewState],
    now: datetime,
    road: RoadModel = DEFAULT_ROAD,
    weights: Weights = DEFAULT_WEIGHTS,
) -> Assignment | None:
    """The cheapest feasible crew for one new ticket, or None when no crew may take it."""
    candidates = [c for c in crews if feasible(c, ticket)]
    if not candidates:
        return None
    n = len(candidates)
    travel = _travel_from(candidates, ticket, road)
    wait = np.fromiter((_wait_minutes(c, now) for c in candidates), float, n)
    load = np.fromiter((c.load for c in candidates), float, n)
    junior = np.fromiter(
        (_junior_penalty(c.experience, ticket.priority, weights) for c in candidates), float, n
    )
    late = np.maximum(0.0, wait + travel - _minutes_until(ticket.due_at, now))
    costs = weights.travel * travel + weights.lateness * late + weights.load * load + junior
    best = int(np.argmin(costs))
    return _assignment(ticket, candidates[best], float(travel[best]), float(costs[best]), now)


def assign_batch(
    tickets: Sequence[TicketDemand],
    crews: Sequence[CrewState],
    now: datetime,
    road: RoadModel = DEFAULT_ROAD,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[Assignment]:
    """Optimal crews for many tickets at once; tickets that get no crew are absent from the result.

    Each crew appears once per free slot (capacity − load − its pinned tickets here); the k-th
    slot of a crew is charged the load term for load + k, so work spreads over crews. `load`
    counts the crew's open tickets *outside* this batch. Pinned tickets keep their crew (even
    if it is now off shift or over capacity) and use up its slots.

    The solver gives a crew to as many tickets as it can (a crew is never left idle while a
    ticket it may take waits) and, among those plans, picks the one of least total cost. When
    there are more tickets than free slots, that serves the cheap tickets first, and a ticket
    that can still make its deadline before one that will be late whoever goes: the most
    tickets on time for the least driving. Lateness a ticket has already accrued (it is past
    due) is the same whoever goes, so it is left out when tickets are weighed against each
    other: a ticket is not pushed back for having waited.

    The result follows the order of `tickets`. Unassigned tickets are those whose id is not in
    it: `{t.id for t in tickets} - {a.ticket_id for a in result}`. Raises ValueError when a
    pinned crew is not among `crews`.
    """
    by_id = {c.id: c for c in crews}
    pins: dict[str, int] = {}  # crew id -> pinned tickets of this batch
    result: dict[str, Assignment] = {}
    for ticket in tickets:
        if ticket.pinned_crew is None:
            continue
        crew = by_id.get(ticket.pinned_crew)
        if crew is None:
            raise ValueError(f"ticket {ticket.id} is pinned to unknown crew {ticket.pinned_crew}")
        held = crew.load + pins.get(crew.id, 0)
        pins[crew.id] = pins.get(crew.id, 0) + 1
        travel = road.travel_minutes(crew.lat, crew.lon, ticket.lat, ticket.lon, ticket.area_class)
        cost_ = cost(replace(crew, load=held), ticket, now, road, weights)
        result[ticket.id] = _assignment(ticket, crew, travel, cost_, now)

    open_tickets = [t for t in tickets if t.pinned_crew is None]
    pool = [c for c in crews if c.on_shift and c.capacity - c.load - pins.get(c.id, 0) > 0]
    if open_tickets and pool:
        for row, crew, travel, cost_ in _solve(open_tickets, pool, pins, now, road, weights):
            result[open_tickets[row].id] = _assignment(open_tickets[row], crew, travel, cost_, now)
    return [result[t.id] for t in tickets if t.id in result]


def nearest_available(
    ticket: TicketDemand, crews: Sequence[CrewState], now: datetime, road: RoadModel = DEFAULT_ROAD
) -> Assignment | None:
    """Baseline dispatcher: the feasible crew with the shortest travel (its cost is that travel)."""
    candidates = [c for c in crews if feasible(c, ticket)]
    if not candidates:
        return None
    travel = _travel_from(candidates, ticket, road)
    best = int(np.argmin(travel))
    return _assignment(ticket, candidates[best], float(travel[best]), float(travel[best]), now)


# ---------------------------------------------------------------------------------------- helpers


def _solve(tickets, pool, pins, now, road, weights) -> list[tuple[int, CrewState, float, float]]:
    """The batch plan: [(ticket index, crew, travel, cost)] over tickets × free slots of `pool`."""
    # tickets × crews: travel, lateness, junior penalty (as in `cost`, vectorised)
    crew_lat = np.radians([c.lat for c in pool])[None, :]
    crew_lon = np.radians([c.lon for c in pool])[None, :]
    t_lat = np.radians([t.lat for t in tickets])[:, None]
    t_lon = np.radians([t.lon for t in tickets])[:, None]
    per_km = np.array([road.minutes_per_km(t.area_class) for t in tickets])[:, None]
    travel = _haversine_rad(t_lat, t_lon, crew_lat, crew_lon) * per_km
    until_due = np.array([_minutes_until(t.due_at, now) for t in tickets])[:, None]
    wait = np.array([_wait_minutes(c, now) for c in pool])[None, :]
    urgent = np.array([t.priority == 1 for t in tickets])[:, None]
    junior = np.where(urgent, weights.junior_on_urgent * _gap(np.array([c.experience for c in pool])), 0.0)
    per_crew = (
        weights.travel * travel
        + weights.lateness * np.maximum(0.0, wait + travel - until_due)
        + junior
    )
    allowed = _feasibility_matrix(tickets, pool)  # skill and district; shift and slots hold in `pool`

    # tickets × slots: one column per free slot; the k-th slot of a crew carries load + k
    held = np.array([c.load + pins.get(c.id, 0) for c in pool])
    slots = np.array([c.capacity for c in pool]) - held
    col_crew = np.repeat(np.arange(len(pool)), slots)
    col_load = held[col_crew] + np.concatenate([np.arange(k) for k in slots])
    matrix = per_crew[:, col_crew] + weights.load * col_load[None, :]
    ok = allowed[:, col_crew]

    sunk = weights.lateness * np.maximum(0.0, -until_due)  # already late: the same whoever goes
    rows, cols = linear_sum_assignment(np.where(ok, matrix - sunk, INFEASIBLE))
    return [
        (int(r), pool[col_crew[c]], float(travel[r, col_crew[c]]), float(matrix[r, c]))
        for r, c in zip(rows, cols)
        if ok[r, c]
    ]


def _feasibility_matrix(tickets, pool) -> np.ndarray:
    """Boolean tickets × crews: the crew has the ticket's skill and covers its district."""
    skills = {s: i for i, s in enumerate(sorted({t.skill for t in tickets}))}
    districts = {d: i for i, d in enumerate(sorted({t.district for t in tickets}))}
    has_skill = np.array([[s in c.skills for c in pool] for s in skills], dtype=bool)
    covers = np.array([[d in c.districts for c in pool] for d in districts], dtype=bool)
    skill_row = np.array([skills[t.skill] for t in tickets])
    district_row = np.array([districts[t.district] for t in tickets])
    return has_skill[skill_row] & covers[district_row]


def _travel_from(candidates: Sequence[CrewState], ticket: TicketDemand, road: RoadModel) -> np.ndarray:
    """Travel minutes from each candidate crew to the ticket."""
    n = len(candidates)
    lat = np.radians(np.fromiter((c.lat for c in candidates), float, n))
    lon = np.radians(np.fromiter((c.lon for c in candidates), float, n))
    km = _haversine_rad(lat, lon, math.radians(ticket.lat), math.radians(ticket.lon))
    return km * road.minutes_per_km(ticket.area_class)


def _haversine_rad(lat1, lon1, lat2, lon2):
    """Great-circle km between points given in radians (numpy broadcasting)."""
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _gap(experience):
    """0 for a senior crew, 0.5 for a mid-level one, 1 for a junior one."""
    return (MAX_EXPERIENCE - experience) / (MAX_EXPERIENCE - 1)


def _junior_penalty(experience: int, priority: int, weights: Weights) -> float:
    return weights.junior_on_urgent * _gap(experience) if priority == 1 else 0.0


def _wait_minutes(crew: CrewState, now: datetime) -> float:
    """Minutes before the crew can leave for a new ticket."""
    return max(0.0, _minutes_until(crew.free_at, now)) if crew.free_at is not None else 0.0


def _minutes_until(when: datetime, now: datetime) -> float:
    return (when - now).total_seconds() / 60.0


def _assignment(
    ticket: TicketDemand, crew: CrewState, travel: float, cost_: float, now: datetime
) -> Assignment:
    eta = now + timedelta(minutes=_wait_minutes(crew, now) + travel)
    return Assignment(ticket.id, crew.id, travel, eta, _minutes_until(ticket.due_at, eta), cost_)
