"""Time for a utility in one zone: stored in UTC, shown and counted in days in Beijing time.

China keeps one zone with no daylight saving, so the local day of a stored UTC timestamp is that
timestamp plus eight hours, in Python and in SQL alike (`local_day`, `local_hour`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import AfterValidator
from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
UTC_OFFSET_HOURS = 8  # LOCAL_TZ's offset all year round (no daylight saving since 1991)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def to_local(value: datetime) -> datetime:
    """An instant in Beijing time (+08:00); naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def local_day(at: datetime) -> date:
    """The Beijing calendar day of an instant."""
    return to_local(at).date()


def local_hour(at: datetime) -> int:
    """The Beijing hour of day (0–23) of an instant."""
    return to_local(at).hour


def local_midnight(day: date) -> datetime:
    """00:00 Beijing time of a day, as an aware UTC instant."""
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


def local_days(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


_warned_years: set[int] = set()


@lru_cache(maxsize=1)
def calendar_years() -> frozenset[int]:
    """Years chinese_calendar knows the State Council's holiday arrangements for."""
    from chinese_calendar.constants import holidays, workdays

    return frozenset(d.year for d in (*holidays, *workdays))


@dataclass(frozen=True)
class DayInfo:
    """One local date: rest or work, statutory holiday, and which festival."""

    is_workday: bool
    is_holiday: bool  # a statutory holiday (法定节假日 incl. the days joined to it)
    is_spring_festival: bool  # 春节: the deepest and longest drop of the year


@lru_cache(maxsize=4096)
def day_info(day: date) -> DayInfo:
    """Work/rest/holiday for a local date (调休 make-up days are workdays); Monday–Friday for years
    chinese_calendar does not know yet, with one warning per year."""
    if day.year not in calendar_years():
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese_calendar has no holiday data for %s: Monday–Friday count as working days "
                        "(SLA clocks, forecasts); upgrade chinese-calendar once the State Council publishes it",
                        day.year)
        return DayInfo(is_workday=day.weekday() < 5, is_holiday=False, is_spring_festival=False)
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    holiday = bool(on_holiday and name is not None)
    return DayInfo(is_workday=chinese_calendar.is_workday(day), is_holiday=holiday,
                   is_spring_festival=holiday and "Spring" in str(name))


def is_working_day(day: date) -> bool:
    """Official Chinese working day (weekends and public holidays rest, 调休 Saturdays work)."""
    return day_info(day).is_workday


# A datetime field of an API schema: always shown in Beijing time.
LocalDateTime = Annotated[datetime, AfterValidator(to_local)]


# ---------------------------------------------------------------- the same in SQL, per dialect

class local_day_sql(FunctionElement):
    """The Beijing calendar day of a UTC timestamp column (a date; `str()` gives 'YYYY-MM-DD')."""

    type = Date()
    name = "local_day"
    inherit_cache = True


@compiles(local_day_sql, "sqlite")
def _local_day_sqlite(element, compiler, **kw):
    return f"date(%s, '+{UTC_OFFSET_HOURS} hours')" % compiler.process(element.clauses, **kw)


@compiles(local_day_sql, "postgresql")
def _local_day_postgresql(element, compiler, **kw):
    # a DATE sorts and hashes faster than text in the GROUP BYs of the dashboards
    return f"CAST(%s + interval '{UTC_OFFSET_HOURS} hours' AS DATE)" % compiler.process(element.clauses, **kw)


class local_hour_sql(FunctionElement):
    """The Beijing hour of day (0–23) of a UTC timestamp column."""

    type = Integer()
    name = "local_hour"
    inherit_cache = True


@compiles(local_hour_sql, "sqlite")
def _local_hour_sqlite(element, compiler, **kw):
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text (UTC here): reading the
    # hour digits is several times cheaper than strftime() over millions of readings
    column = compiler.process(element.clauses, **kw)
    return f"((CAST(substr({column}, 12, 2) AS INTEGER) + {UTC_OFFSET_HOURS}) % 24)"


@compiles(local_hour_sql, "postgresql")
def _local_hour_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT(HOUR FROM {column} + interval '{UTC_OFFSET_HOURS} hours') AS INTEGER)"
