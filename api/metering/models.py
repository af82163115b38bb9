"""The grid as the metering system (用电信息采集系统) sees it: feeders, areas, meters, data."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime


class Feeder(Base):
    """A 10 kV line (线路) leaving a substation."""

    __tablename__ = "feeders"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. "F511"
    name: Mapped[str] = mapped_column(String(64))  # e.g. "10kV城南线511"
    substation: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(16), index=True)


class TransformerArea(Base):
    """A transformer area (台区): one distribution transformer and the meters behind it."""

    __tablename__ = "transformer_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. "TA0412"
    name: Mapped[str] = mapped_column(String(64))  # e.g. "文化街1号台区"
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"), index=True)
    district: Mapped[str] = mapped_column(String(16), index=True)
    town: Mapped[str] = mapped_column(String(32))
    area_class: Mapped[str] = mapped_column(String(8))  # 城区 / 农村 / 边远
    capacity_kva: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    lat: Mapped[float]
    lon: Mapped[float]


class Meter(Base):
    """A smart meter; three-phase meters report per-phase voltage and current."""

    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_no: Mapped[str] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    transformer_area_id: Mapped[int] = mapped_column(
        ForeignKey("transformer_areas.id"), index=True
    )
    phases: Mapped[int] = mapped_column(Integer)  # 1 or 3
    installed_on: Mapped[date] = mapped_column(Date)
    # Metering through current transformers (large customers): currents are then read on the CT secondary.
    ct_ratio: Mapped[int | None] = mapped_column(Integer)  # primary / secondary, e.g. 40 for 200/5
    ct_rated_a: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))  # secondary rating, usually 5 A


class Reading(Base):
    """One hourly reading: energy in the hour (kWh), mean power (kW), voltage and current."""

    __tablename__ = "readings"
    __table_args__ = (UniqueConstraint("meter_id", "ts", name="uq_readings_meter_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)  # start of the hour, UTC
    kwh: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    kw: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    voltage_a: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    current_a: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    voltage_b: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    current_b: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    voltage_c: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    current_c: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))


class ReadingInterval(Base):
    """One sub-hourly reading (15 or 30 minutes) as the metering system sent it. Meters collected at
    96 points a day report here; their hour in `readings` is recomputed from the intervals held, so a
    re-sent, late or out-of-order interval gives the same hour."""

    __tablename__ = "reading_intervals"
    __table_args__ = (UniqueConstraint("meter_id", "ts", name="uq_reading_intervals_meter_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)  # start of the interval, UTC
    minutes: Mapped[int] = mapped_column(Integer)  # 15 or 30
    kwh: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    kw: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    voltage_a: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    current_a: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    voltage_b: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    current_b: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    voltage_c: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    current_c: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))


METER_EVENT_KINDS = ("失压", "断相", "停电", "上电", "开盖", "反向电量")


class MeterEvent(Base):
    """An event the meter reported (失压, 断相, 停电, 上电, 开盖, 反向电量)."""

    __tablename__ = "meter_events"
    __table_args__ = (
        Index("ix_meter_events_kind_ts", "kind", "ts"),
        # one event per meter, time, kind and phase (a re-sent batch from the metering system is ignored);
        # it also serves a meter's events in a time range
        Index("uq_meter_events_key", "meter_id", "ts", "kind", text("coalesce(phase, '')"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(8))
    phase: Mapped[str | None] = mapped_column(String(1))  # A / B / C
    detail: Mapped[str | None] = mapped_column(String(128))


class AreaSupply(Base):
    """Energy into a transformer area in one local day, from its 台区总表: the supplied side of line loss."""

    __tablename__ = "area_supply"
    __table_args__ = (UniqueConstraint("transformer_area_id", "day", name="uq_area_supply_area_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transformer_area_id: Mapped[int] = mapped_column(ForeignKey("transformer_areas.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    kwh: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    kvarh: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))  # reactive energy, for the power factor


class FeederSupply(Base):
    """Energy into a 10 kV feeder in one local day, from its 关口表 at the substation."""

    __tablename__ = "feeder_supply"
    __table_args__ = (UniqueConstraint("feeder_id", "day", name="uq_feeder_supply_feeder_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feeder_id: Mapped[int] = mapped_column(ForeignKey("feeders.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    kwh: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    kvarh: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))


class WeatherHour(Base):
    """Hourly weather per district, used by load shape and forecasting."""

    __tablename__ = "weather_hours"
    __table_args__ = (UniqueConstraint("district", "ts", name="uq_weather_district_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    district: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    temperature_c: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    condition: Mapped[str] = mapped_column(String(8))  # 晴 / 多云 / 雨 / 雪 / 雷雨
