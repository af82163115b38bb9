"""The demo's charging stations in 固原: stations fed by demo transformer areas, 30 OCPP chargers
(GY-CP001 … GY-CP030, the ids `python -m api.charging simulate-chargers` plays) and 40 charging cards.

Deterministic: the same seed gives the same rows (credential salts are derived, not drawn). Every demo
charger's Basic-auth password is DEMO_CHARGER_SECRET (a demo secret: each charger still has its own hash).
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Connection

from api.charging.models import ChargePoint, Connector, IdTag, Station
from api.charging.service import hash_secret
from api.charging.simulator import (
    DEMO_CHARGE_POINT_PREFIX,
    DEMO_ID_TAGS,
    fleet_charge_point_id,
    fleet_connectors,
)
from api.customers.models import Customer
from api.metering.models import TransformerArea

DEMO_CHARGER_SECRET = "zhidian-demo-charger-0001"
# code, name, district, address, (lat, lon), chargers, 电费 and 服务费 in fen per kWh
STATIONS = (
    ("GYCS01", "固原市民大厅充电站", "原州区", "原州区文化街与政府街交叉口东北角停车场", (36.0158, 106.2425), 8,
     "56.00", "60.00"),
    ("GYCS02", "六盘山广场充电站", "原州区", "原州区中山街六盘山广场地下停车场", (36.0091, 106.2789), 6, "56.00", "60.00"),
    ("GYCS03", "固原火车站充电站", "原州区", "原州区西环路固原火车站出站口停车场", (36.0402, 106.2311), 6, "56.00", "55.00"),
    ("GYCS04", "西吉县城充电站", "西吉县", "西吉县吉强镇北大街客运站旁", (35.9640, 105.7300), 4, "52.00", "50.00"),
    ("GYCS05", "隆德六盘山服务区充电站", "隆德县", "隆德县城关镇福银高速六盘山服务区", (35.6250, 106.1110), 4,
     "52.00", "65.00"),
    ("GYCS06", "彭阳县城充电站", "彭阳县", "彭阳县白阳镇朝阳街公交枢纽", (35.8500, 106.6400), 2, "52.00", "50.00"),
)


def _salt(seed: int, charge_point_id: str) -> bytes:
    return hashlib.sha256(f"zhidian-demo:{seed}:{charge_point_id}".encode()).digest()[:16]


def charging_rows(conn: Connection, seed: int) -> None:
    """Write the demo's stations, chargers with their connectors and credentials, and charging cards."""
    areas: dict[str, list[int]] = {}
    for area_id, district in conn.execute(select(TransformerArea.id, TransformerArea.district)
                                          .order_by(TransformerArea.code)):
        areas.setdefault(district, []).append(area_id)
    number = 0
    for index, (code, name, district, address, (lat, lon), chargers, energy, fee) in enumerate(STATIONS):
        in_district = areas.get(district) or [None]
        station_id = conn.execute(Station.__table__.insert().values(
            code=code, name=name, district=district, address=address, lat=lat, lon=lon,
            transformer_area_id=in_district[(seed + index) % len(in_district)],
            energy_fen_per_kwh=Decimal(energy), service_fen_per_kwh=Decimal(fee))).inserted_primary_key[0]
        for _ in range(chargers):
            number += 1
            charge_point_id = fleet_charge_point_id(DEMO_CHARGE_POINT_PREFIX, number)
            charger_id = conn.execute(ChargePoint.__table__.insert().values(
                charge_point_id=charge_point_id, station_id=station_id, connected=False,
                secret_hash=hash_secret(DEMO_CHARGER_SECRET, salt=_salt(seed, charge_point_id)))
            ).inserted_primary_key[0]
            conn.execute(Connector.__table__.insert(), [
                {"charger_id": charger_id, "connector_no": n, "kind": kind, "rated_kw": Decimal(str(kw)),
                 "status": "Unavailable", "error_code": "NoError"}
                for n, (kind, kw) in enumerate(fleet_connectors(number), start=1)])
    accounts = list(conn.scalars(select(Customer.account_no).order_by(Customer.account_no).limit(len(DEMO_ID_TAGS))))
    conn.execute(IdTag.__table__.insert(), [
        {"id_tag": tag, "status": "Accepted", "account_no": accounts[i] if i < len(accounts) else None}
        for i, tag in enumerate(DEMO_ID_TAGS)])
