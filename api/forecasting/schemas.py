"""Forecast output shapes: a level's load forecast (kW hourly, kWh per day and month), overload warnings."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from api.core.time import UTC, LocalDateTime

Level = Literal["customer", "area", "feeder", "system"]


class ForecastPoint(BaseModel):
    """Mean power (kW) forecast for the hour starting at `ts`: 10 %, 50 %, 90 % quantiles."""

    ts: LocalDateTime
    p10: float
    p50: float
    p90: float


class HistoryPoint(BaseModel):
    """Measured mean power (kW) in the hour starting at `ts`."""

    ts: LocalDateTime
    kw: float


class DailyEnergy(BaseModel):
    """Energy (kWh) forecast for one local day (00:00–24:00 Asia/Shanghai)."""

    date: date
    p10: float
    p50: float
    p90: float


class MonthEnergy(BaseModel):
    """Energy (kWh) forecast for one calendar month, e.g. "2026-12"."""

    month: str
    p10: float
    p50: float
    p90: float


class ModelMetrics(BaseModel):
    """How the chosen model did in the level's last rolling-origin backtest (MAPE/sMAPE in %)."""

    model: str
    MAPE: float | None = None
    sMAPE: float | None = None
    RMSE: float | None = None
    MASE: float | None = None
    coverage_p10_p90: float | None = None
    horizon: int
    origins: int
    chosen_at: LocalDateTime
    baseline_MAPE: float | None = None  # seasonal naive's, for comparison


class WeatherPoint(BaseModel):
    """A temperature the caller expects (e.g. from a weather service) for the hour starting at `ts`."""

    ts: datetime = Field(ge=datetime(2000, 1, 1, tzinfo=UTC), le=datetime(2100, 1, 1, tzinfo=UTC),
                         description="aware, or UTC when naive")
    temperature_c: float = Field(ge=-60, le=60, allow_inf_nan=False)

    @field_validator("ts", mode="before")
    @classmethod
    def _aware(cls, value):
        """Naive times are UTC (as everywhere in the API), so the bounds compare like with like."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class LoadForecastRead(BaseModel):
    """A load forecast of a customer, a transformer area, a feeder or the whole system."""

    level: Level
    key: str  # 户号 / area code / feeder code / "all"
    name: str
    made_at: LocalDateTime
    origin: LocalDateTime  # the last measured hour the forecast starts after
    model: str  # seasonal_naive / statistical / global_gbm
    unit: str = "kW"
    cached: bool = False
    weather: Literal["given", "persistence", "none"] = "none"
    capacity_kva: float | None = None  # areas only
    points: list[ForecastPoint] = Field(description="the next 48 hours, hourly")
    history: list[HistoryPoint] = Field(description="the last 7 days, hourly")
    daily: list[DailyEnergy] = Field(description="the next 7 local days, kWh")
    month: MonthEnergy
    metrics: ModelMetrics | None = None


class OverloadWarning(BaseModel):
    """A transformer area whose load is forecast (or already measured) near or above its capacity.

    capacity_kw = capacity_kva × 0.9 (the assumed power factor); load_ratio = peak / capacity_kw.
    """

    area_code: str
    area_name: str
    district: str
    feeder_code: str
    capacity_kva: float
    capacity_kw: float
    forecast_peak_kw: float  # the load the ratio is of: the forecast peak, or the measured hour when higher
    peak_at: LocalDateTime
    basis: Literal["forecast", "measured"] = "forecast"  # which of the two forecast_peak_kw is
    current_kw: float  # the last measured hour
    load_ratio: float
    severity: Literal["过载", "重载"]  # ≥ 100 % / ≥ threshold of capacity
    message: str
    made_at: LocalDateTime


class LoadForecastRequest(BaseModel):
    """A forecast asked with the caller's own temperature forecast (e.g. from a weather service)."""

    key: str | None = Field(default=None, max_length=32)  # 户号 / area / feeder code; none for the system
    weather: list[WeatherPoint] = Field(min_length=1, max_length=24 * 14)
