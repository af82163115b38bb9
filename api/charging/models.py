"""Charging stations, the OCPP charge points at them, their connectors, id tags, transactions and meter values.

Naming: `charge_point_id` is always the OCPP identity a charger connects with (the `/ocpp/{charge_point_id}`
path and its Basic-auth user name); `charger_id` is the row id of `charge_points` in foreign keys.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.db import Base, UTCDateTime


class Station(Base):
    """A charging station (充电站): where it is, the transformer area (台区) that feeds it, its prices."""

    __tablename__ = "charging_stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. "GYCS01"
    name: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(16), index=True)
    address: Mapped[str] = mapped_column(String(128))
    lat: Mapped[float]
    lon: Mapped[float]
    transformer_area_id: Mapped[int | None] = mapped_column(ForeignKey("transformer_areas.id"), index=True)
    # prices per kWh in fen (分), Decimal: 电费 (energy) and 服务费 (service fee)
    energy_fen_per_kwh: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    service_fen_per_kwh: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    chargers: Mapped[list[ChargePoint]] = relationship(order_by="ChargePoint.id", lazy="selectin",
                                                        back_populates="station")


class ChargePoint(Base):
    """One charger (充电桩) speaking OCPP 1.6-J; what it said at boot, when it was last heard, its credential."""

    __tablename__ = "charge_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String(48), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("charging_stations.id"), index=True)
    # "pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>" of the charger's Basic-auth password
    secret_hash: Mapped[str] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(32))
    serial_number: Mapped[str | None] = mapped_column(String(32))
    firmware_version: Mapped[str | None] = mapped_column(String(64))
    booted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    # the whole charger's status (StatusNotification for connector 0)
    status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    station: Mapped[Station] = relationship(back_populates="chargers", lazy="joined")
    connectors: Mapped[list[Connector]] = relationship(order_by="Connector.connector_no", lazy="selectin",
                                                       back_populates="charger")


class Connector(Base):
    """A connector (枪) of a charger: AC or DC, its rated power, its live status and error code."""

    __tablename__ = "charging_connectors"
    __table_args__ = (Index("uq_charging_connectors_no", "charger_id", "connector_no", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    charger_id: Mapped[int] = mapped_column(ForeignKey("charge_points.id"))
    connector_no: Mapped[int] = mapped_column(Integer)  # OCPP connectorId, from 1
    kind: Mapped[str] = mapped_column(String(2))  # AC / DC
    rated_kw: Mapped[Decimal] = mapped_column(Numeric(6, 1))
    status: Mapped[str] = mapped_column(String(16), default="Unavailable")  # OCPP ChargePointStatus
    error_code: Mapped[str] = mapped_column(String(32), default="NoError")
    info: Mapped[str | None] = mapped_column(String(64))  # StatusNotification info / vendor error code
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    charger: Mapped[ChargePoint] = relationship(back_populates="connectors", lazy="joined")


class IdTag(Base):
    """An RFID card or app token that may start charging (OCPP idTag), optionally a customer's."""

    __tablename__ = "charging_id_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_tag: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="Accepted")  # Accepted / Blocked / Expired
    account_no: Mapped[str | None] = mapped_column(String(10), index=True)  # 户号 of its holder, when known
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transaction(Base):
    """One charging session; `id` is the OCPP transactionId the charger uses until StopTransaction.

    (connector_id, started_at) is unique: a StartTransaction resent after a lost answer gets the same id.
    """

    __tablename__ = "charging_transactions"
    __table_args__ = (Index("uq_charging_transactions_start", "connector_id", "started_at", unique=True),
                      Index("ix_charging_transactions_started", "started_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("charging_connectors.id"))
    id_tag: Mapped[str] = mapped_column(String(20), index=True)
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    meter_start: Mapped[int] = mapped_column(Integer)  # Wh register at start
    meter_stop: Mapped[int | None] = mapped_column(Integer)  # Wh register at stop
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    energy_kwh: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    cost_fen: Mapped[int | None] = mapped_column(Integer)
    # the owner's wish for orderly charging (有序充电), when told: leave by, energy wanted, may charge later
    departure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kwh_requested: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    allow_delay: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    connector: Mapped[Connector] = relationship(lazy="joined")


class MeterValue(Base):
    """One sampled value of a transaction; (transaction, ts, measurand) is unique, so a resent batch is stored once."""

    __tablename__ = "charging_meter_values"
    __table_args__ = (Index("uq_charging_meter_values_key", "transaction_id", "ts", "measurand", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("charging_transactions.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    measurand: Mapped[str] = mapped_column(String(40))  # e.g. Energy.Active.Import.Register, Power.Active.Import, SoC
    value: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(12))  # Wh / kWh / W / kW / Percent …


class QueueEntry(Base):
    """A customer waiting for a connector at a station (排队), from joining to charging or leaving.

    waiting (from `arrive_at` when booked for later) → called (a connector reserved with ReserveNow until
    `window_until`) → charging → done;
    or cancelled (the customer left), or expired (not there within the window: the next in line is called).
    The entry's id is the OCPP reservationId of its reservation. One active entry per id tag, held by a
    partial unique index (two requests joining at once cannot both get in). `conversation_id`: the chat the
    customer joined from, where their turn and the end of their session are announced.
    """

    __tablename__ = "charging_queue"
    __table_args__ = (
        Index("ix_charging_queue_station_status", "station_id", "status"),
        Index("uq_charging_queue_active_tag", "id_tag", unique=True,
              sqlite_where=text("status IN ('waiting', 'called', 'charging')"),
              postgresql_where=text("status IN ('waiting', 'called', 'charging')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("charging_stations.id"))
    id_tag: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str | None] = mapped_column(String(2))  # AC / DC / None: either
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # a booking (预约): the time the customer will come; until then the entry is not called, and from then it is
    # in line as of that time (in_line_since)
    arrive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("charging_connectors.id"))
    transaction_id: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    station: Mapped[Station] = relationship(lazy="joined")
    connector: Mapped[Connector | None] = relationship(lazy="joined")
