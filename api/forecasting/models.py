"""Forecast tables: cached forecasts per (level, key), the chosen model per level, trained models."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.db import Base, UTCDateTime

LEVELS = ("customer", "area", "feeder", "system")


class LoadForecast(Base):
    """The latest forecast of one area, feeder or the system, as the daily job (or a miss) made it."""

    __tablename__ = "load_forecasts"
    __table_args__ = (UniqueConstraint("level", "key", name="uq_load_forecasts_level_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16))  # area / feeder / system
    key: Mapped[str] = mapped_column(String(32))  # area code, feeder code, "all"
    origin: Mapped[datetime] = mapped_column(UTCDateTime)  # the last hour of data it saw (UTC)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON)  # points, daily, month, history (LoadForecastRead fields)


class ForecastModelChoice(Base):
    """Which forecaster a level uses, chosen by a rolling-origin backtest, with every model's metrics."""

    __tablename__ = "forecast_model_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), unique=True)
    model: Mapped[str] = mapped_column(String(32))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    horizon: Mapped[int] = mapped_column(Integer)
    origins: Mapped[int] = mapped_column(Integer)
    series: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict] = mapped_column(JSON)  # model -> {MAPE, sMAPE, RMSE, MASE, coverage_p10_p90, …}


class ForecastModel(Base):
    """A trained global model of one level (LightGBM model text and its calibration, as JSON)."""

    __tablename__ = "forecast_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), unique=True)
    model: Mapped[str] = mapped_column(String(32))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data_end: Mapped[datetime] = mapped_column(UTCDateTime)  # the last hour of training data
    series: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
