"""Service-level deadlines for tickets, measured on the clock each commitment is made in.

Pure functions: no database, no FastAPI. Instants go in and out as aware UTC datetimes
(times are stored in UTC); the calendar work happens in Asia/Shanghai, where working days,
holidays and office hours are defined.

Three clocks:
- ``wall``: 24×7, for repair arrival promises (城区 45 min etc.).
- ``workdays``: runs all 24 h of every Chinese working day; weekends and public holidays
  stop it, 调休 make-up working days (on a weekend) run it.
- ``office_hours``: runs 08:30–17:30 Asia/Shanghai on working days only.

Where a moment has several equally valid answers (a budget that ends exactly when the clock
stops), ``advance`` returns the earliest one: a deadline of "by 17:30 Friday", not "by
08:30 Monday".
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, get_args


from api.core.time import LOCAL_TZ, is_working_day
from api.core.vocabulary import AREA_CLASS_MINUTES

log = logging.getLogger(__name__)

Clock = Literal["wall", "workdays", "office_hours"]
CLOCKS: tuple[str, ...] = get_args(Clock)

OFFICE_OPEN = time(8, 30)
OFFICE_CLOSE = time(17, 30)
WORKDAY_MINUTES = 24 * 60
OFFICE_DAY_MINUTES = 9 * 60  # 08:30–17:30, no lunch break

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class SlaPolicy:
    """One service commitment: how long, on which clock, and when to warn before it is missed."""

    ticket_type: str
    clock: Clock
    minutes: int
    warn_share: float = 0.8
    what: str = ""

    def __post_init__(self) -> None:
        """Reject policies that would give nonsense deadlines instead of failing later."""
        if self.clock not in CLOCKS:
            raise ValueError(f"unknown SLA clock {self.clock!r}; expected one of {CLOCKS}")
        if self.minutes <= 0:
            raise ValueError(f"SLA budget must be positive, got {self.minutes} minutes")
        if not 0 < self.warn_share <= 1:
            raise ValueError(f"warn_share must be in (0, 1], got {self.warn_share}")


PolicyTable = dict[str, SlaPolicy | dict[str, SlaPolicy]]


def _arrival(ticket_type: str) -> dict[str, SlaPolicy]:
    """Repair-type promises depend on the area class: 城区 45, 农村 90, 边远 120 minutes."""
    return {
        area: SlaPolicy(ticket_type, "wall", minutes, what="到达现场")
        for area, minutes in AREA_CLASS_MINUTES.items()
    }


# ticket type → a policy, or (for area-dependent promises) area class → policy.
DEFAULT_POLICIES: PolicyTable = {
    "故障报修": _arrival("故障报修"),
    "充电设施故障": _arrival("充电设施故障"),
    "安全隐患": _arrival("安全隐患"),
    "投诉": SlaPolicy("投诉", "workdays", WORKDAY_MINUTES, what="联系客户"),
    "业务办理": SlaPolicy("业务办理", "office_hours", 5 * OFFICE_DAY_MINUTES, what="受理办结"),
    "咨询回访": SlaPolicy("咨询回访", "workdays", WORKDAY_MINUTES, what="完成回访"),
    "稽查任务": SlaPolicy("稽查任务", "workdays", 10 * WORKDAY_MINUTES, what="完成稽查"),
}


def policy_for(ticket_type: str, area_class: str | None, table: PolicyTable | None = None) -> SlaPolicy:
    """The policy for a ticket; an unknown or missing area class gets the strictest area promise."""
    entry = (DEFAULT_POLICIES if table is None else table).get(ticket_type)
    if entry is None:
        raise ValueError(f"no SLA policy for ticket type {ticket_type!r}")
    if isinstance(entry, SlaPolicy):
        return entry
    if area_class in entry:
        return entry[area_class]
    if area_class is not None:
        log.warning("unknown area class %r for %s: using the strictest SLA", area_class, ticket_type)
    # Promising less than the tightest commitment could break it; promising more cannot.
    return min(entry.values(), key=lambda p: p.minutes)


def due_at(policy: SlaPolicy, start: datetime) -> datetime:
    """When the whole budget of the policy's clock has run out after `start`."""
    return advance(policy.clock, start, policy.minutes)


def warn_at(policy: SlaPolicy, start: datetime) -> datetime:
    """When `warn_share` of the budget is used, so someone can act before the deadline."""
    return advance(policy.clock, start, policy.minutes * policy.warn_share)


def remaining(policy: SlaPolicy, due: datetime, now: datetime) -> float:
    """Clock minutes left until `due`; negative (in the same clock) once overdue."""
    _check_aware(due)
    _check_aware(now)
    if now <= due:
        return minutes_between(policy.clock, now, due)
    return -minutes_between(policy.clock, due, now)


def resume(policy: SlaPolicy, remaining_minutes: float, at: datetime) -> datetime:
    """New due time after 挂起: the clock was stopped, so what was left starts again at `at`."""
    return advance(policy.clock, at, remaining_minutes)


def advance(clock: Clock, start: datetime, minutes: float) -> datetime:
    """The instant when `minutes` of `clock` have passed after `start` (negative goes back)."""
    _check_clock(clock)
    _check_aware(start)
    if clock == "wall" or minutes == 0:
        return (start + timedelta(minutes=minutes)).astimezone(timezone.utc)
    local = _to_local(start)
    if minutes > 0:
        return _to_utc(_walk_forward(clock, local, timedelta(minutes=minutes)))
    return _to_utc(_walk_backward(clock, local, timedelta(minutes=-minutes)))


def minutes_between(clock: Clock, start: datetime, end: datetime) -> float:
    """Clock minutes elapsed from `start` to `end` (0 if `end` is not after `start`)."""
    _check_clock(clock)
    _check_aware(start)
    _check_aware(end)
    if end <= start:
        return 0.0
    if clock == "wall":
        return (end - start) / timedelta(minutes=1)
    lo, hi = _to_local(start), _to_local(end)
    total = timedelta(0)
    day = lo.date()
    while day <= hi.date():
        window = _window(clock, day)
        if window is not None:
            s, e = max(window[0], lo), min(window[1], hi)
            if s < e:
                total += e - s
        day += _ONE_DAY
    return total / timedelta(minutes=1)


def _walk_forward(clock: Clock, local: datetime, budget: timedelta) -> datetime:
    """Spend `budget` of running clock time from `local`, one day at a time."""
    day = local.date()
    while True:
        window = _window(clock, day)
        if window is not None:
            s, e = max(window[0], local), window[1]
            if s < e:
                if budget <= e - s:
                    return s + budget
                budget -= e - s
        day += _ONE_DAY


def _walk_backward(clock: Clock, local: datetime, budget: timedelta) -> datetime:
    """Go back until `budget` of running clock time lies between the result and `local`."""
    day = local.date()
    while True:
        window = _window(clock, day)
        if window is not None:
            s, e = window[0], min(window[1], local)
            if s < e:
                if budget <= e - s:
                    return e - budget
                budget -= e - s
        day -= _ONE_DAY


def _window(clock: Clock, day: date) -> tuple[datetime, datetime] | None:
    """The local (naive, Asia/Shanghai) span of `day` in which `clock` runs, if any."""
    if clock == "wall":
        start = datetime.combine(day, time.min)
        return start, start + _ONE_DAY
    if not is_working_day(day):
        return None
    if clock == "workdays":
        start = datetime.combine(day, time.min)
        return start, start + _ONE_DAY
    return datetime.combine(day, OFFICE_OPEN), datetime.combine(day, OFFICE_CLOSE)


def _to_local(moment: datetime) -> datetime:
    """Naive Asia/Shanghai wall time (China has no DST since 1991, so naive arithmetic is exact)."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def _to_utc(local: datetime) -> datetime:
    """Aware UTC instant of a naive Asia/Shanghai wall time."""
    return local.replace(tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def _check_aware(moment: datetime) -> None:
    """Naive datetimes are ambiguous (UTC or Beijing time?), so refuse them outright."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"SLA times must be timezone-aware, got naive {moment!r}")


def _check_clock(clock: str) -> None:
    """Catch a misspelt clock before it silently behaves like another one."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown SLA clock {clock!r}; expected one of {CLOCKS}")
