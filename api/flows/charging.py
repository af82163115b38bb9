"""Charging across domains: a charger reporting Faulted, or a customer reporting a broken charger, becomes a
充电设施故障 ticket at the station for the 充电设施运维 crew, given to a crew at once, one per station while it is
open (charging → metering for the area's SLA class → tickets → dispatch); a queue event is
told to the customer (charging → customers for the phone on file → notify).
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.charging import queue
from api.core.ids import chat_address
from api.charging import service as charging
from api.charging.schemas import StationRead
from api.core.errors import Invalid
from api.customers import service as customers
from api.flows.dispatching import dispatch_new
from api.geo.address import AddressParser
from api.metering import service as metering
from api.notify import messages
from api.notify import service as notify
from api.tickets import service as tickets
from api.tickets.schemas import ChargerReportCreate, DetectedTicketCreate, TicketRead

ERROR_WORDS = {"GroundFailure": "接地故障", "OverCurrentFailure": "过流", "OverVoltage": "过压", "UnderVoltage": "欠压",
               "HighTemperature": "温度过高", "PowerSwitchFailure": "功率开关故障", "ConnectorLockFailure": "枪锁故障",
               "EVCommunicationError": "与车辆通信故障", "ReaderFailure": "刷卡器故障", "PowerMeterFailure": "电表故障",
               "WeakSignal": "信号弱", "InternalError": "内部故障", "ResetFailure": "重启失败", "OtherError": "其他故障"}


def charger_faulted(*, session: Session, charge_point_id: str, connector_no: int, error_code: str,
                    info: str | None, now: datetime) -> TicketRead:
    """Open (once per fault: the key carries the time it was reported) and dispatch the repair ticket; when the
    station already has one open (a customer reported it, or another charger there faulted), the fault goes on
    that ticket's timeline instead: one crew trip for the station."""
    place = charging.place_of(session=session, charge_point_id=charge_point_id)
    area = (metering.get_area(session=session, transformer_area_id=place.transformer_area_id)
            if place.transformer_area_id else None)
    what = ERROR_WORDS.get(error_code, error_code) + (f"（{info}）" if info else "")
    gun = f"{connector_no}号枪" if connector_no else "整桩"
    summary = f"{place.station_name}充电桩{charge_point_id}{gun}报故障：{what}"
    charging.hold_station(session=session, station_code=place.station_code)  # until the commit below
    open_ticket = tickets.open_station_ticket(session=session, station_code=place.station_code)
    if open_ticket is not None:
        if not any(e.action == "设备自报" and e.note == summary for e in open_ticket.events):
            tickets.add_event(session=session, ticket=open_ticket, actor="system:charging", now=now,
                              action="设备自报", note=summary)
        session.commit()  # and the station's row is free again
        return tickets.get_by_number(session=session, number=open_ticket.number)
    ticket = tickets.create_detected_ticket(session=session, now=now, data=DetectedTicketCreate(
        type="充电设施故障", priority=3, diagnosis_code="charger_fault", summary=summary[:200],
        crew_note=f"充电桩报{error_code}：现场检查后可远程复位或更换部件，修复后确认桩状态恢复“可用”",
        address_text=f"{place.district}{place.address}（{place.station_name}）"[:256], district=place.district,
        area_class=area.area_class if area else "城区", lat=place.lat, lon=place.lon,
        transformer_area_id=place.transformer_area_id,
        evidence={"charge_point_id": charge_point_id, "connector_no": connector_no, "error_code": error_code,
                  "info": info, "station": place.station_code},
        idempotency_key=f"charger-fault:{charge_point_id}:{connector_no}:{now.isoformat(timespec='seconds')}"))
    dispatch_new(session=session, number=ticket.number, now=now)
    return tickets.get_by_number(session=session, number=ticket.number)


class PlaceRead(BaseModel):
    """Where the customer said they are, as the gazetteer placed it (a road or town is its centre point)."""

    text: str
    level: str
    district: str | None
    town: str | None
    road: str | None
    lat: float
    lon: float


class NearbyStations(BaseModel):
    place: PlaceRead
    stations: list[StationRead]


def stations_near_place(*, session: Session, place: str, kind: str | None, free_only: bool, parser: AddressParser,
                        now: datetime) -> NearbyStations:
    """Stations nearest to a place the customer named in their words (a road, village, town or district of
    固原), with the distance and the wait for a connector; a place the gazetteer does not know is an error."""
    found = parser.parse(place)
    if not found.matched or found.lat is None or found.lon is None:
        raise Invalid("place_not_found", "没有找到这个地点，请说一下所在的区县、乡镇或街道名称")
    where = PlaceRead(text=place, level=found.level, district=found.district, town=found.town, road=found.road,
                      lat=found.lat, lon=found.lon)
    return NearbyStations(place=where, stations=queue.stations_now(
        session=session, kind=kind, free_only=free_only, near=(found.lat, found.lon), now=now))


def customer_charger_report(*, session: Session, station_code: str, report: ChargerReportCreate,
                            now: datetime) -> TicketRead:
    """A customer's report of a broken charger at a station: a ticket at the station's place, merged with the
    station's open repair ticket (the charger's own, or an earlier report) or else dispatched to the crew."""
    place = charging.station_place(session=session, station_code=station_code)
    area = (metering.get_area(session=session, transformer_area_id=place.transformer_area_id)
            if place.transformer_area_id else None)
    charging.hold_station(session=session, station_code=place.station_code)  # until the report is committed
    ticket = tickets.create_charger_report(
        session=session, report=report, station_code=place.station_code, station_name=place.station_name,
        address_text=f"{place.district}{place.address}（{place.station_name}）"[:256], district=place.district,
        area_class=area.area_class if area else "城区", lat=place.lat, lon=place.lon,
        transformer_area_id=place.transformer_area_id, now=now)
    if not ticket.attached_to_existing and ticket.status == "新建":
        dispatch_new(session=session, number=ticket.number, now=now)
    return tickets.get_by_number(session=session, number=ticket.number)


def tell_session_ended(*, session: Session, transaction_id: int, now: datetime) -> None:
    """A session that did not come through the queue ended: the card's owner (its 户号's phone on file) is told
    the energy and cost by SMS, as a queued customer is; a card with no 户号 has nobody to tell."""
    ended = charging.get_transaction(session=session, transaction_id=transaction_id)
    account_no = charging.account_of_tag(session=session, id_tag=ended.id_tag)
    customer = customers.get_by_account_no(session=session, account_no=account_no) if account_no else None
    if ended.stopped_at is None or customer is None or not customer.mobile:
        return
    notify.enqueue(session=session, key=f"charging-session:{transaction_id}:done", channel="sms",
                   recipient=customer.mobile, audience="customer", now=now,
                   body=messages.charging_done(station_name=ended.station_name, energy_kwh=float(ended.energy_kwh),
                                               cost_fen=ended.cost_fen))
    session.commit()


def tell_shortfall(*, session: Session, transaction_id: int, reachable_kwh: float, because: str | None,
                   now: datetime) -> None:
    """An owner's wish (energy by departure) cannot be met: told once, by SMS to the card's 户号 phone, with
    what they will have by then, so they can stay longer or go elsewhere."""
    tx = charging.get_transaction(session=session, transaction_id=transaction_id)
    account_no = charging.account_of_tag(session=session, id_tag=tx.id_tag)
    customer = customers.get_by_account_no(session=session, account_no=account_no) if account_no else None
    if tx.stopped_at is not None or tx.departure_at is None or tx.kwh_requested is None or customer is None \
            or not customer.mobile:
        return
    notify.enqueue(session=session, key=f"charging-session:{transaction_id}:short", channel="sms",
                   recipient=customer.mobile, audience="customer", now=now,
                   body=messages.charging_short(station_name=tx.station_name, departure_at=tx.departure_at,
                                                wanted_kwh=float(tx.kwh_requested), reachable_kwh=reachable_kwh,
                                                area_limited=because == "capacity"))
    session.commit()


def tell_queue_event(*, session: Session, event: str, entry_id: int, now: datetime) -> None:
    """Tell the customer their turn came (called), passed (expired) or their session ended (done): in the chat
    they queued from (web, WeChat or SMS), else by SMS to the phone on file of the card's 户号 — their turn
    by SMS as well, as a chat page may be closed during the 15 minutes."""
    target = queue.notice_target(session=session, entry_id=entry_id, now=now)
    entry = target.entry
    if event == "called" and entry.window_until is not None:
        body = messages.charging_called(station_name=entry.station_name, charge_point_id=entry.charge_point_id,
                                        connector_no=entry.connector_no, window_until=entry.window_until)
    elif event == "expired":
        body = messages.charging_expired(station_name=entry.station_name)
    elif event == "done":
        body = messages.charging_done(station_name=entry.station_name, energy_kwh=target.energy_kwh,
                                      cost_fen=target.cost_fen)
    else:
        return
    key = f"charging-queue:{entry_id}:{event}"
    customer = (customers.get_by_account_no(session=session, account_no=target.account_no)
                if target.account_no else None)
    chat = chat_address(target.conversation_id) if target.conversation_id else None
    if chat is not None:
        channel, recipient = chat
        notify.enqueue(session=session, key=key, channel=channel, recipient=recipient, audience="customer",
                       body=body if channel == "sms" else body.removeprefix(messages.SIGN), now=now)
    # the turn is a 15-minute window: by SMS too when the chat may be closed (or was never there)
    by_sms_too = chat is None or (event == "called" and chat[0] != "sms")
    if customer is not None and customer.mobile and by_sms_too:
        notify.enqueue(session=session, key=key if chat is None else f"{key}:sms", channel="sms",
                       recipient=customer.mobile, audience="customer", body=body, now=now)
    session.commit()
