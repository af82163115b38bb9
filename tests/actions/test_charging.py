"""The bot's charging answers come from the charging service's live connector status."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from actions.charging import (ActionChargingBook, ActionChargingCancel, ActionChargingFindStation,
                              ActionChargingStatus, ActionReportChargerFault, nearby_message, stations_message,
                              time_choices)
from api.charging.models import ChargePoint, Connector, IdTag, MeterValue, QueueEntry, Station, Transaction
from api.charging.service import ENERGY
from api.core.time import to_local, utcnow
from api.customers.models import Customer
from api.geo.address import get_parser
from api.tickets.models import Ticket
from tests.actions.conftest import run, run_action, snapshot, texts, tracker, user_turn


def free_up(session, station_code: str, chargers: int = 1) -> None:
    """Chargers of a station online with every connector Available, as their StatusNotifications would say."""
    station = session.scalar(select(Station).where(Station.code == station_code))
    for charger in session.scalars(select(ChargePoint).where(ChargePoint.station_id == station.id)
                                   .order_by(ChargePoint.id).limit(chargers)):
        charger.connected = True
        for connector in charger.connectors:
            connector.status = "Available"
    session.commit()


def test_stations_with_a_free_connector_are_listed_with_what_is_free_and_the_price(api, session):
    free_up(session, "GYCS04", chargers=2)  # 西吉县城充电站: 52 + 50 fen
    state = user_turn(snapshot("idle_unverified"), "西吉县有充电桩吗", "charging_find_station",
                      entities=[{"entity": "district", "value": "西吉县"}])
    reply = texts(run(run_action(ActionChargingFindStation(), state))[0])
    assert reply.startswith("西吉县现在有空闲充电枪的充电站")
    assert "西吉县城充电站（西吉县吉强镇北大街客运站旁）" in reply and "1.02元/度（含服务费）" in reply
    assert "空闲" in reply and "告诉我您在哪个区县" not in reply


def test_with_every_charger_offline_nothing_is_offered_as_free(api):
    state = user_turn(snapshot("idle_unverified"), "附近哪里有充电桩", "charging_find_station")
    reply = texts(run(run_action(ActionChargingFindStation(), state))[0])
    assert reply.startswith("各充电站（") and "都在使用中或暂停服务" in reply and "元/度" not in reply


def test_the_wording_of_each_case():
    station = {"name": "甲站", "address": "甲路1号", "free_connectors": 3, "free_dc": 1, "free_ac": 2,
               "energy_fen_per_kwh": "56.00", "service_fen_per_kwh": "60.00"}
    assert "1. 甲站（甲路1号）：直流快充空闲1个、交流慢充空闲2个，1.16元/度（含服务费）" in stations_message([station], None)
    assert "告诉我您在哪个区县" in stations_message([station], None)
    assert stations_message([], "泾源县").startswith("泾源县目前还没有接入我们系统的公共充电站")


def test_a_place_in_the_words_gets_the_nearest_stations_with_distance_and_what_is_free(api, session):
    get_parser()  # the API (in this process) builds it on first use, which may outlast the bot's wait
    free_up(session, "GYCS01", chargers=2)
    state = user_turn(snapshot("idle_unverified"), "文化街附近有没有充电桩", "charging_find_station")
    reply = texts(run(run_action(ActionChargingFindStation(), state))[0])
    assert reply.startswith("离文化街最近的充电站"), reply
    distances = [float(d) for d in re.findall(r"约([\d.]+)公里", reply)]
    assert len(distances) == 3 and distances == sorted(distances)
    assert "元/度（含服务费）" in reply


def test_a_busy_station_says_the_wait_and_how_to_queue():
    busy = {"name": "乙站", "address": "乙路2号", "free_connectors": 0, "free_dc": 0, "free_ac": 0,
            "energy_fen_per_kwh": "56.00", "service_fen_per_kwh": "60.00", "expected_wait_minutes": 25,
            "distance_km": 1.2}
    broken = {**busy, "name": "丙站", "expected_wait_minutes": None}
    reply = stations_message([busy, broken], "原州区")
    assert reply.startswith("原州区的充电站现在充电枪都在使用中，暂时没有空闲的。现在排队的话：")
    assert "1. 乙站（乙路2号，约1.2公里）：充电枪都在用，现在排队预计等约25分钟，1.16元/度（含服务费）" in reply
    assert "丙站" not in reply and "排队充电" in reply
    assert "暂停服务" in nearby_message({"road": "文化街"}, [broken]) and "排队充电" in nearby_message(
        {"road": "文化街"}, [broken])


# ---------------------------------------------------------------- queueing and status for a verified 户号

def first_card_holder(session) -> tuple[str, str]:
    """The demo's first card and the 户号 it belongs to."""
    tag = session.scalar(select(IdTag).where(IdTag.account_no.is_not(None)).order_by(IdTag.account_no))
    return tag.id_tag, tag.account_no


def asked(text: str, intent: str, account: str | None, **entities: str) -> dict:
    slots = {"verified": True, "verified_account": account, "account_no": account} if account else {}
    return user_turn(snapshot("idle_unverified", **slots), text, intent,
                     entities=[{"entity": k, "value": v} for k, v in entities.items()])


def test_a_verified_customer_queues_step_by_step_reads_their_place_and_leaves(api, session):
    tag, account = first_card_holder(session)
    free_up(session, "GYCS01", chargers=3)
    messages, _ = run(run_action(ActionChargingBook(), asked("帮我排队充电", "charging_book", account)))
    [listing] = messages
    assert listing["text"].startswith("请选择要排队的充电站")
    assert any(b["payload"] == '/charging_book{"charging_station":"GYCS01"}' for b in listing["buttons"])

    messages, _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account,
                                                             charging_station="GYCS01")))
    kinds = {b["title"]: b["payload"] for b in messages[0]["buttons"]}
    if kinds:  # the station has both kinds: asked which
        assert "直流快充" in kinds and "有直流快充和交流慢充" in messages[0]["text"]
    messages, _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account,
                                                             charging_station="GYCS01", charging_kind="DC")))
    [when] = messages
    assert when["text"].startswith("您打算什么时候到站充电？") and when["buttons"][0]["title"] == "现在就去"
    assert when["buttons"][0]["payload"] == \
        '/charging_book{"charging_station":"GYCS01","charging_kind":"DC","charging_time":"now"}'
    messages, _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account,
                                                             charging_station="GYCS01", charging_kind="DC",
                                                             charging_time="now")))
    read_back = messages[0]
    assert read_back["text"].startswith("请您确认：在") and "排队直流快充" in read_back["text"]
    assert [b["title"] for b in read_back["buttons"]] == ["确认排队", "先不排了"]
    assert session.scalar(select(QueueEntry).where(QueueEntry.id_tag == tag)) is None  # nothing before confirming

    messages, _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account,
                                                             charging_station="GYCS01", charging_kind="DC",
                                                             charging_time="now", charging_choice="confirm")))
    session.expire_all()
    entry = session.scalar(select(QueueEntry).where(QueueEntry.id_tag == tag))
    assert (entry.status, entry.kind, entry.conversation_id) == ("waiting", "DC", "conv-idle-0002")
    # the chargers are marked online but not connected to the API process: no reservation can be sent yet
    assert texts(messages).startswith("已为您排上队。您在") and "您排在第一位" in texts(messages)

    status = texts(run(run_action(ActionChargingStatus(), asked("我的充电进度", "charging_status", account)))[0])
    assert "您排在第一位" in status and "排队等直流快充" in status
    again = texts(run(run_action(ActionChargingBook(), asked("帮我排队充电", "charging_book", account)))[0])
    assert "如需换站，请先取消当前排队" in again  # one place in line per card

    left = texts(run(run_action(ActionChargingCancel(), asked("取消排队", "charging_cancel", account)))[0])
    assert left.startswith("已为您取消在")
    session.expire_all()
    assert session.get(QueueEntry, entry.id).status == "cancelled"
    assert texts(run(run_action(ActionChargingCancel(), asked("取消排队", "charging_cancel", account)))[0]) \
        == "您目前没有在排队，不需要取消。"


def test_a_running_session_is_read_back_with_energy_cost_charge_and_finish(api, session):
    tag, account = first_card_holder(session)
    connector = session.scalar(select(Connector).join(ChargePoint).join(Station).where(Station.code == "GYCS01",
                                                                                        Connector.kind == "DC"))
    start = utcnow() - timedelta(minutes=30)
    tx = Transaction(connector_id=connector.id, id_tag=tag, meter_start=10_000, started_at=start)
    session.add(tx)
    session.flush()
    for minutes, wh, soc, kw in ((0, 10_000, 40, 60), (30, 40_000, 70, 55)):
        at = start + timedelta(minutes=minutes)
        session.add_all([MeterValue(transaction_id=tx.id, ts=at, measurand=ENERGY, value=Decimal(wh), unit="Wh"),
                         MeterValue(transaction_id=tx.id, ts=at, measurand="SoC", value=Decimal(soc), unit="Percent"),
                         MeterValue(transaction_id=tx.id, ts=at, measurand="Power.Active.Import",
                                    value=Decimal(kw * 1000), unit="W")])
    session.commit()
    reply = texts(run(run_action(ActionChargingStatus(), asked("充了多少了", "charging_status", account)))[0])
    finish = to_local(start + timedelta(minutes=30) + timedelta(minutes=30))  # 30 % more at 30 % per half hour
    assert reply.startswith(f"您正在{connector.charger.station.name}的{connector.charger.charge_point_id}号桩") and "已充30度" in reply, reply
    assert "当前功率55千瓦" in reply and "电量70%" in reply and f"预计{finish:%H:%M}左右充满" in reply


def test_a_booking_for_later_is_read_back_with_its_time_and_kept_until_then(api, session):
    tag, account = first_card_holder(session)
    free_up(session, "GYCS01", chargers=3)
    now = to_local(utcnow())
    choices = dict(time_choices(now))
    assert list(choices)[0] == "现在就去" and len(choices) == 4
    later = [datetime.fromisoformat(v) for v in choices.values() if v != "now"]
    assert all(timedelta(minutes=10) <= at - now <= timedelta(hours=24) for at in later)
    at = later[1]  # in two hours
    steps = dict(charging_station="GYCS01", charging_kind="DC", charging_time=at.isoformat())
    [read_back], _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account, **steps)))
    assert read_back["text"].startswith(f"请您确认：预约{at:%H:%M}到") or \
        read_back["text"].startswith(f"请您确认：预约{at.month}月{at.day}日 {at:%H:%M}到")
    assert "直流快充" in read_back["text"] and "到时有空闲充电枪会为您预留15分钟" in read_back["text"]
    assert [b["title"] for b in read_back["buttons"]] == ["确认预约", "先不排了"]
    messages, _ = run(run_action(ActionChargingBook(), asked("/charging_book", "charging_book", account,
                                                             charging_choice="confirm", **steps)))
    session.expire_all()
    entry = session.scalar(select(QueueEntry).where(QueueEntry.id_tag == tag))
    assert entry.status == "waiting" and to_local(entry.arrive_at) == at
    assert texts(messages).startswith("已为您预约好。您已预约") and "按预约时间排队" in texts(messages)
    status = texts(run(run_action(ActionChargingStatus(), asked("我的充电进度", "charging_status", account)))[0])
    assert status.startswith("您已预约")


def test_queueing_needs_a_verified_customer_with_a_card(api, session):
    reply = texts(run(run_action(ActionChargingBook(), asked("帮我排队充电", "charging_book", None)))[0])
    assert reply == "排队充电需要先核验身份，请告诉我您的10位户号和登记手机号的后四位。"
    no_card = session.scalar(select(Customer.account_no).where(Customer.account_no.not_in(
        select(IdTag.account_no).where(IdTag.account_no.is_not(None)))).limit(1))
    reply = texts(run(run_action(ActionChargingStatus(), asked("充电进度", "charging_status", no_card)))[0])
    assert reply.startswith("您的户号下暂时没有可用的充电卡")


def test_a_broken_charger_named_in_words_becomes_a_ticket_for_the_charging_crew_at_its_station(api, session):
    state = user_turn(snapshot("idle_unverified"), "固原市民大厅充电站的充电桩坏了，插上枪一直没反应",
                      "report_charger_fault")
    reply = texts(run(run_action(ActionReportChargerFault(), state))[0])
    number = re.search(r"工单号([A-Z]+\d+-\d+)", reply).group(1)
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    assert (ticket.type, ticket.channel, ticket.conversation_id) == ("充电设施故障", "web", "conv-idle-0002")
    assert ticket.description == "固原市民大厅充电站的充电桩坏了，插上枪一直没反应" and ticket.account_no is None
    assert "固原市民大厅充电站" in ticket.address_text and ticket.contact_phone is None
    told = "已派给充电设施运维人员" if ticket.status != "新建" else "正在为您安排充电设施运维人员"
    assert reply.startswith(f"已为您登记固原市民大厅充电站的充电桩故障报修，工单号{number}，{told}")
    again = texts(run(run_action(ActionReportChargerFault(), state))[0])  # the same turn run again: one ticket
    assert f"工单号{number}" in again
    # located at the station itself, whatever the words would geocode to
    station = session.scalar(select(Station).where(Station.name == "固原市民大厅充电站"))
    assert (ticket.lat, ticket.lon, ticket.district) == (station.lat, station.lon, station.district)
    assert ticket.details == {"station": station.code} and ticket.address_needs_review is False

    # a second customer reports the same station: merged into the open repair ticket, no second crew trip
    other = user_turn({**snapshot("idle_unverified"), "sender_id": "conv-other-0003"}, "市民大厅那个充电站的桩又坏了一个",
                      "report_charger_fault", entities=[{"entity": "charging_station", "value": station.code}])
    merged = texts(run(run_action(ActionReportChargerFault(), other))[0])
    second = session.scalar(select(Ticket).where(Ticket.number == re.search(r"工单号([A-Z]+\d+-\d+)", merged).group(1)))
    assert second.number != number and second.parent_id == ticket.id and second.crew_id is None
    assert f"（工单{number}），您的反映已一并转给他们。" in merged and "处理进展会在这里告诉您" not in merged


def test_a_broken_charger_without_its_station_is_asked_for_with_buttons_and_the_words_kept(api, session):
    said = user_turn(snapshot("idle_unverified"), "充电桩坏了 插枪没反应", "report_charger_fault")
    [asked] = run(run_action(ActionReportChargerFault(), said))[0]
    assert asked["text"] == "抱歉给您添麻烦了。请问是哪个充电站的充电桩出了问题？"
    payload = asked["buttons"][0]["payload"]
    assert payload.startswith('/report_charger_fault{"charging_station":"')
    code = payload.split('"')[3]
    picked = user_turn(said, payload, "report_charger_fault", entities=[{"entity": "charging_station", "value": code}])
    reply = texts(run(run_action(ActionReportChargerFault(), picked))[0])
    ticket = session.scalar(select(Ticket).where(Ticket.number == re.search(r"工单号([A-Z]+\d+-\d+)", reply).group(1)))
    assert ticket.description == "充电桩坏了 插枪没反应"  # the customer's words, not the button


def test_verification_for_a_charging_question_says_why_it_is_needed():
    from actions.identity import ActionAskVerifyAccount

    for text, intent, why in (("帮我排队充电", "charging_book", "排队充电要用您户号下的充电卡"),
                              ("我的车充了多少了", "charging_status", "查询充电进度和排队情况要用您户号下的充电卡")):
        question = ActionAskVerifyAccount().question(tracker(user_turn(snapshot("idle_unverified"), text, intent)))
        assert question.startswith(f"{why}，需要先做个简单的身份核验。请告诉我您的10位户号")
