"""Metering output shapes: readings, meter events, a transformer area's state, a meter snapshot, usage."""
from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from api.core.time import LocalDateTime


class ReadingRead(BaseModel):
    """One hourly reading: energy in the hour, mean power, per-phase voltage and current."""

    model_config = ConfigDict(from_attributes=True)

    ts: LocalDateTime
    kwh: float
    kw: float
    voltage_a: float
    current_a: float
    voltage_b: float | None = None
    current_b: float | None = None
    voltage_c: float | None = None
    current_c: float | None = None


class MeterEventRead(BaseModel):
    """An event the meter reported (失压, 断相, 停电, 上电, 开盖, 反向电量)."""

    model_config = ConfigDict(from_attributes=True)

    ts: LocalDateTime
    kind: str
    phase: str | None = None
    detail: str | None = None


class ReadingCoverage(BaseModel):
    """Whether a meter reported every whole hour of a period, and the voltage it read while supplied."""

    start: LocalDateTime  # the first hour
    end: LocalDateTime  # the end of the last whole hour
    hours_expected: int
    hours_reported: int
    complete: bool  # a reading for every hour
    voltage_min: float | None  # lowest phase voltage with supply (V); None without readings
    voltage_max: float | None


class AreaState(BaseModel):
    """A transformer area (台区) right now: how many meters lost voltage in the last hour, load."""

    area_code: str
    area_name: str
    district: str
    town: str
    area_class: str
    feeder_code: str
    feeder_name: str
    substation: str
    meters_total: int
    meters_lost_voltage_last_hour: int
    share: float  # meters_lost_voltage_last_hour / meters_total
    load_kw: float  # sum of the meters' mean power over the last hour
    capacity_kva: float
    load_ratio: float  # load_kw / capacity_kva
    overloaded: bool  # load_ratio > 1.0
    as_of: LocalDateTime


class AreaOutagesRead(BaseModel):
    """Areas whose share of meters without voltage is at least `min_share` now."""

    as_of: LocalDateTime
    min_share: float
    areas: list[AreaState]


class MeterSnapshot(BaseModel):
    """A meter as a dispatcher sees it: last three hours of readings, last day of events, its area."""

    meter_no: str
    phases: int
    transformer_area_code: str
    as_of: LocalDateTime
    ct_ratio: int | None = None  # metered through CTs; the currents below are already primary amps
    readings: list[ReadingRead]
    events: list[MeterEventRead]
    area_state: AreaState


class DailyUsage(BaseModel):
    date: date
    kwh: float | None  # None: no readings that day


class PeriodTotal(BaseModel):
    start: date
    end: date
    total_kwh: float


class UsageRead(BaseModel):
    """Daily energy (days in Asia/Shanghai) and the same period of the previous month."""

    account_no: str
    start: date
    end: date
    days: list[DailyUsage]
    total_kwh: float
    average_daily_kwh: float
    previous: PeriodTotal
    change_kwh: float
    change_pct: float | None  # None when the previous period had no energy


class LoadPoint(BaseModel):
    """Mean power in one hour from the meter."""

    ts: LocalDateTime
    kw: float


class IntakeErrorRead(BaseModel):
    """Why one row was not kept."""

    row: int
    meter_no: str | None = None
    field: str | None = None
    message: str


class IntakeRead(BaseModel):
    """What became of a batch from the metering system."""

    stored: int
    duplicates: int
    rejected: int
    errors: list[IntakeErrorRead]
    alerts_raised: int = 0  # proactive-service alerts the batch raised
    detection_deferred: bool = False  # detection failed after storing: the every-minute pass retries it
