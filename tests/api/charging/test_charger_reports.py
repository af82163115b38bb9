"""Broken chargers: a customer's report is placed at the station and merged with the station's open repair ticket,
and a charger that reports Faulted while a customer's report is open adds to that ticket: one crew trip per station."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, update

from api.core.time import utcnow
from api.db import make_engine, make_sessionmaker
from api.flows.charging import charger_faulted
from api.notify.models import OutboxMessage
from api.tickets.models import Ticket
from tests.api.charging.conftest import AC_CHARGER, DC_CHARGER, STATION
from tests.conftest import TEST_TOKEN

BOT = {"Authorization": f"Bearer {TEST_TOKEN}"}


def report(client, text, key, code=STATION):
    return client.post(f"/api/charging/stations/{code}/fault-reports", headers=BOT, json={
        "description": text, "channel": "web", "conversation_id": f"web-{key}", "idempotency_key": key})


def test_a_report_is_at_the_station_and_the_next_one_and_the_chargers_own_fault_join_it(client, charging_station,
                                                                                           session):
    first = report(client, "测试充电站的快充桩插枪没反应", "r-1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["type"], body["district"], body["attached_to_existing"]) == ("充电设施故障", "原州区", False)
    assert body["address_text"] == "原州区原州区测试路1号（测试充电站）" and body["address_needs_review"] is False
    row = session.scalar(select(Ticket).where(Ticket.number == body["number"]))
    assert (row.lat, row.lon, row.details) == (36.01, 106.24, {"station": STATION})
    assert report(client, "测试充电站的快充桩插枪没反应", "r-1").json()["number"] == body["number"]  # a retry

    second = report(client, "慢充桩屏幕黑了", "r-2").json()
    assert second["attached_to_existing"] is True and second["parent"]["number"] == body["number"]
    assert second["sla"]["arrive_by"] == body["sla"]["arrive_by"]  # the crew's trip is the first ticket's

    faulted = charger_faulted(session=session, charge_point_id=AC_CHARGER, connector_no=2, error_code="GroundFailure",
                              info=None, now=utcnow())
    assert faulted.number == body["number"]  # no new ticket: the station's open one gets the charger's own words
    again = charger_faulted(session=session, charge_point_id=AC_CHARGER, connector_no=2, error_code="GroundFailure",
                            info=None, now=utcnow())
    notes = [e.note for e in again.events if e.action == "设备自报"]
    assert notes == ["测试充电站充电桩TEST-AC-01 2号枪报故障：接地故障".replace(" ", "")]  # told once
    assert [e.action for e in again.events].count("关联报修") == 1
    open_repairs = session.scalars(select(Ticket).where(Ticket.type == "充电设施故障", Ticket.parent_id.is_(None))).all()
    assert [t.number for t in open_repairs] == [body["number"]]

    # the crew fixes the station: the merged report is settled with it and its customer told
    session.execute(update(Ticket).where(Ticket.number == body["number"]).values(status="已到达", crew_id="CD-01"))
    session.commit()
    done = client.post(f"/api/tickets/{body['number']}/transitions", headers=BOT,
                       json={"action": "resolve", "note": "更换枪线，已恢复", "actor": "crew:CD-01"})
    assert done.status_code == 200, done.text
    settled = client.get(f"/api/tickets/{second['number']}", headers=BOT).json()
    assert settled["status"] == "已处理"
    assert settled["events"][-1]["action"] == "随主单办结" and body["number"] in settled["events"][-1]["note"]
    told = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "web-r-2")).all()
    assert [m.body for m in told] == [f"您的工单 {second['number']} 已处理完成。处理情况：更换枪线，已恢复。感谢您的支持！"]


def test_a_report_for_an_unknown_station_or_without_words_is_refused_clearly(client, charging_station):
    unknown = report(client, "坏了", "r-3", code="NOPE")
    assert unknown.status_code == 404 and unknown.json()["detail"]["message"] == "没有找到该充电站"
    empty = report(client, "   ", "r-4")
    assert empty.status_code == 422
    assert client.post(f"/api/charging/stations/{STATION}/fault-reports", json={"description": "坏了"}).status_code == 401


def test_two_chargers_of_a_station_faulting_at_the_same_moment_make_one_ticket(charging_station, session, db_url):
    """Each charger's StatusNotification is handled in its own thread (and may be in another API process):
    the station's row is held while one of them decides, so the second joins the first one's ticket."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    start = threading.Barrier(2)
    now = utcnow()

    def fault(charge_point_id: str) -> str:
        with sessions() as own:
            start.wait()
            return charger_faulted(session=own, charge_point_id=charge_point_id, connector_no=1,
                                   error_code="OverCurrentFailure", info=None, now=now).number

    try:
        with ThreadPoolExecutor(2) as pool:
            numbers = list(pool.map(fault, [AC_CHARGER, DC_CHARGER]))
    finally:
        engine.dispose()
    session.expire_all()
    repairs = session.scalars(select(Ticket).where(Ticket.type == "充电设施故障", Ticket.parent_id.is_(None))).all()
    assert len(repairs) == 1 and numbers == [repairs[0].number] * 2
    told = [e.note for e in repairs[0].events if e.action in ("创建", "设备自报")]
    assert any(AC_CHARGER in (n or "") for n in told) and any(DC_CHARGER in (n or "") for n in told)
