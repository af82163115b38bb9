"""Charging output: stations with their connectors' live status, a transaction with its energy and cost."""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from api.core.time import LocalDateTime


class ConnectorRead(BaseModel):
    """One connector (枪) and its live status."""

    charge_point_id: str
    connector_no: int
    kind: str  # AC / DC
    rated_kw: Decimal
    status: str  # OCPP status: Available / Preparing / Charging / … / Faulted / Unavailable
    error_code: str
    online: bool  # the charger is connected to the central system
    free: bool  # online and Available


class StationRead(BaseModel):
    """A charging station: where, its prices (fen per kWh, Decimal), its connectors and how many are free now."""

    code: str
    name: str
    district: str
    address: str
    lat: float
    lon: float
    transformer_area_id: int | None
    energy_fen_per_kwh: Decimal
    service_fen_per_kwh: Decimal
    connectors: list[ConnectorRead]
    free_connectors: int
    free_ac: int
    free_dc: int
    # for a customer looking for a charger: minutes until a connector (of the kind asked) is theirs if they
    # joined the queue now (0: one is free; None: none works), and how far the station is from them
    expected_wait_minutes: int | None = None
    distance_km: float | None = None


class TransactionRead(BaseModel):
    """A charging session: stopped ones with their final energy and cost, live ones with the latest readings."""

    transaction_id: int
    charge_point_id: str
    connector_no: int
    station_code: str
    station_name: str
    id_tag: str
    started_at: LocalDateTime
    stopped_at: LocalDateTime | None
    stop_reason: str | None
    meter_start: int
    meter_stop: int | None
    energy_kwh: Decimal  # final, or so far
    cost_fen: int  # final, or so far
    power_kw: Decimal | None = None  # latest sample of a live session
    soc_percent: Decimal | None = None
    meter_values: int  # samples stored
    departure_at: LocalDateTime | None = None  # the owner's wish for orderly charging, when told
    kwh_requested: Decimal | None = None
    allow_delay: bool = False
    estimated_finish: LocalDateTime | None = None  # a live session: when it should be full (or reach its wish)


class QueueJoin(BaseModel):
    """Join a station's queue with a charging card or app token (idTag); `kind`: AC, DC or either."""

    id_tag: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9\-_]+$")
    kind: Literal["AC", "DC"] | None = None
    # the chat the customer joined from (the bot passes it): their turn and the end of charging are told there
    conversation_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-_:.]+$")
    # a booking: when the customer will come (with its UTC offset), from 10 minutes to 24 hours ahead; None = now
    arrive_at: AwareDatetime | None = None


class QueueEntryRead(BaseModel):
    """A place in a station's queue: position and expected wait while waiting; once called, the connector
    held for the customer and the time to arrive by."""

    entry_id: int
    station_code: str
    station_name: str
    id_tag: str
    kind: str | None
    status: str  # waiting / called / charging / done / cancelled / expired
    joined_at: LocalDateTime
    arrive_at: LocalDateTime | None = None  # booked for this time; not called before it
    position: int | None  # 1 = next (None while a booking is not due yet)
    expected_wait_minutes: int | None
    charge_point_id: str | None
    connector_no: int | None
    window_until: LocalDateTime | None
    transaction_id: int | None


class ChargingWish(BaseModel):
    """The car owner's wish for orderly charging: leave by, energy wanted, and whether it may charge later
    (in the cheaper valley hours) as long as it is done by then. Departure within the next 48 hours."""

    departure_at: AwareDatetime
    kwh_requested: Decimal = Field(gt=0, le=200, max_digits=8, decimal_places=2)
    allow_delay: bool = True


class AccountCharging(BaseModel):
    """A customer's charging as they may ask about it: their cards, sessions running now, places in queues."""

    account_no: str
    id_tags: list[str]
    sessions: list[TransactionRead]
    queue: list[QueueEntryRead]
