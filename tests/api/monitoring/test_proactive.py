"""Proactive service through the intake API: an outage the meters report becomes one area ticket, a crew and
one notice per customer before anyone calls; later reports attach to it; restoration closes the loop; a
flapping meter is one ticket; planned outages are announced the day and the hour before; a customer
opening the chat from the notice is greeted with the known outage."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from api.conversations.models import Conversation
from api.customers.models import AccountBinding, Customer
from api.flows import proactive
from api.metering.models import Meter, TransformerArea
from api.monitoring.models import Alert
from api.outages.models import PlannedOutage
from api.tickets.models import Ticket
from tests.api.monitoring.conftest import METERING, area_outage, at, events, meters_of, outbox

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_an_area_outage_is_one_ticket_dispatched_and_told_to_its_customers_once(client, session, auth, clock,
                                                                                 quiet_area):
    now = clock["now"]
    rows, first = area_outage(client, session, quiet_area, now)
    assert first == {"stored": len(rows), "duplicates": 0, "rejected": 0, "errors": [], "alerts_raised": 1,
                     "detection_deferred": False}
    alert = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    assert alert.kind == "area_outage" and alert.status == "active" and alert.ticket_number
    ticket = client.get(f"/api/tickets/{alert.ticket_number}", headers=auth).json()
    assert ticket["diagnosis"]["code"] == "area_outage" and ticket["priority"] == 1
    assert ticket["status"] == "已派单" and ticket["crew"], "policy: dispatch at once"
    customers = list(session.scalars(select(Customer).where(Customer.transformer_area_id == quiet_area.id)))
    notices = outbox(session, f"alert:{alert.id}:outage:%")
    assert len(notices) == len(customers) == alert.customers_notified
    assert {n.recipient for n in notices} == {c.mobile for c in customers}  # none has a live chat: SMS
    assert all("停电" in n.body and "无需再报修" in n.body and "/?n=" in n.body for n in notices)
    assert outbox(session, f"alert:{alert.id}:supervisor:%"), "the supervisors on duty are told"

    again = events(client, rows)  # the metering system re-sends the batch
    assert again == {"stored": 0, "duplicates": len(rows), "rejected": 0, "errors": [], "alerts_raised": 0,
                     "detection_deferred": False}
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.subject == quiet_area.code)) == 1
    assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.channel == "monitoring",
                                                                           Ticket.transformer_area_id == quiet_area.id)) == 1
    assert len(outbox(session, f"alert:{alert.id}:outage:%")) == len(customers)

    later = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电了", "channel": "web", "account_no": customers[0].account_no})
    assert later.status_code == 201, later.text
    assert later.json()["attached_to_existing"] is True and later.json()["parent_number"] == alert.ticket_number

    feed = client.get("/api/monitoring/alerts", headers=auth)
    assert feed.status_code in (401, 403), "the feed is for staff, not the service token"


def test_restoration_clears_the_alert_moves_the_ticket_and_tells_the_customers(client, session, clock, quiet_area):
    now = clock["now"]
    area_outage(client, session, quiet_area, now)
    clock["now"] = now + timedelta(minutes=40)
    back = [{"meter_no": m.meter_no, "ts": at(now + timedelta(minutes=35)), "kind": "上电"}
            for m in meters_of(session, quiet_area)]
    events(client, back)
    session.expire_all()
    alert = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    assert alert.status == "cleared" and alert.open_key is None
    ticket = session.scalar(select(Ticket).where(Ticket.number == alert.ticket_number))
    assert ticket.status == "已派单"  # the crew is on the way: they verify on site
    assert [e.action for e in ticket.events][-1] == "监测恢复"
    restored = outbox(session, f"alert:{alert.id}:restored:%")
    assert len(restored) == alert.customers_notified and all("恢复供电" in m.body for m in restored)
    assert [a.action for a in alert.actions][-3:] == ["cleared", "restored", "notified"]


def test_a_flapping_meter_opens_one_ticket_and_clears_before_dispatch(client, session, clock, quiet_area):
    now = clock["now"]
    meter = meters_of(session, quiet_area)[0]
    flaps = [("停电", 40), ("上电", 38), ("停电", 30), ("上电", 29), ("停电", 20), ("上电", 19), ("停电", 15)]
    result = events(client, [{"meter_no": meter.meter_no, "ts": at(now - timedelta(minutes=m)), "kind": k}
                             for k, m in flaps])
    assert result["alerts_raised"] == 1  # off for 15 minutes now: more than a flap
    events(client, [{"meter_no": meter.meter_no, "ts": at(now - timedelta(minutes=12)), "kind": "停电"}])
    clock["now"] = now + timedelta(minutes=5)
    events(client, [{"meter_no": meter.meter_no, "ts": at(now + timedelta(minutes=2)), "kind": "上电"}])
    clock["now"] = now + timedelta(minutes=30)
    events(client, [{"meter_no": meter.meter_no, "ts": at(now + timedelta(minutes=10)), "kind": "停电"}])
    session.expire_all()
    alerts = list(session.scalars(select(Alert).where(Alert.subject == meter.meter_no)))
    assert len(alerts) == 1 and alerts[0].kind == "household_outage"
    assert "reopened" in [a.action for a in alerts[0].actions]
    tickets = list(session.scalars(select(Ticket).where(Ticket.channel == "monitoring",
                                                        Ticket.transformer_area_id == quiet_area.id)))
    assert len(tickets) == 1
    assert tickets[0].status == "已关闭"  # held for a supervisor, then it came back by itself
    assert any("自行恢复" in (e.note or "") for e in tickets[0].events)


def test_bad_rows_are_listed_and_good_rows_kept_in_any_order(client, session, clock, quiet_area):
    now = clock["now"]
    meters = meters_of(session, quiet_area)
    single = next(m for m in meters if m.phases == 1)
    old = (now - timedelta(days=20)).replace(minute=0, second=0, microsecond=0)  # before the demo's data: late
    good = [{"meter_no": single.meter_no, "ts": at(old + timedelta(hours=h)), "kwh": 0.4, "kw": 0.4,
             "voltage_a": 221.5, "current_a": 1.9} for h in (3, 1, 2)]  # out of order
    bad = [{"meter_no": "NO-SUCH-METER", "ts": at(old), "kwh": 1, "kw": 1, "voltage_a": 220, "current_a": 1},
           {**good[0], "ts": at(old + timedelta(hours=5, minutes=15))},
           {**good[0], "ts": at(old + timedelta(hours=6)), "kwh": "NaN"},
           {**good[0], "ts": at(now + timedelta(hours=2))},
           {**good[0], "ts": at(old + timedelta(hours=7)), "voltage_a": 5000},
           {**good[0], "ts": at(old + timedelta(hours=8)), "voltage_b": 220.0, "current_b": 1.0}, "not a row"]
    body = {"readings": [good[0], bad[0], good[1], *bad[1:], good[2]]}
    result = client.post("/api/metering/readings", json=body, headers=METERING)
    assert result.status_code == 200, result.text
    result = result.json()
    assert (result["stored"], result["duplicates"], result["rejected"]) == (3, 0, 7)
    by_row = {e["row"]: e for e in result["errors"]}
    assert sorted(by_row) == [2, 4, 5, 6, 7, 8, 9]
    assert by_row[2]["field"] == "meter_no" and "表号不存在" in by_row[2]["message"]
    assert "整点" in by_row[4]["message"] and by_row[5]["field"] == "kwh" and "晚于当前时间" in by_row[6]["message"]
    assert by_row[7]["field"] == "voltage_a" and "单相表" in by_row[8]["message"]
    again = client.post("/api/metering/readings", json=body, headers=METERING).json()
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 3, 7)

    csv_body = ("meter_no,ts,kind,phase,detail\n"
                f"{single.meter_no},{(now - timedelta(minutes=3)).isoformat()},开盖,,\n"
                f"{single.meter_no},{(now - timedelta(minutes=2)).isoformat()},爆炸,,\n")
    csv = client.post("/api/metering/events", content=csv_body.encode(),
                      headers={**METERING, "Content-Type": "text/csv"}).json()
    assert (csv["stored"], csv["rejected"]) == (1, 1) and csv["errors"][0]["row"] == 2


@pytest.mark.parametrize("body, code", [(b"", "empty_batch"), (b"{not json", "bad_json"),
                                        (b'{"readings": 5}', "bad_shape"), (b'{"readings": []}', "empty_batch")])
def test_an_unreadable_batch_is_one_clear_error(client, body, code):
    response = client.post("/api/metering/readings", content=body,
                           headers={**METERING, "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]["code"] == code


def test_only_the_metering_system_may_write_meter_data(client, auth):
    row = {"events": [{"meter_no": "x", "ts": "2026-01-01T00:00:00+08:00", "kind": "停电"}]}
    assert client.post("/api/metering/events", json=row).status_code == 401
    assert client.post("/api/metering/events", json=row, headers=auth).status_code == 401  # the bot's token


def test_planned_outages_are_announced_the_day_and_the_hour_before(client, session, settings, quiet_area):
    start = datetime(2030, 6, 3, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing
    session.add(PlannedOutage(notice_no="TD-TEST-01", district=quiet_area.district, transformer_area_id=quiet_area.id,
                              scope=quiet_area.name, reason="线路检修", start_at=start, end_at=start + timedelta(hours=6)))
    session.commit()
    customers = session.scalar(select(func.count()).select_from(Customer)
                               .where(Customer.transformer_area_id == quiet_area.id))
    assert proactive.announce_planned(session=session, now=start - timedelta(hours=30)) == 0  # too early
    assert proactive.announce_planned(session=session, now=start - timedelta(hours=20)) == customers
    assert proactive.announce_planned(session=session, now=start - timedelta(hours=19)) == 0  # once
    assert proactive.announce_planned(session=session, now=start - timedelta(minutes=50)) == customers
    day, hour = outbox(session, "planned:TD-TEST-01:day_before:%"), outbox(session, "planned:TD-TEST-01:hour_before:%")
    assert len(day) == len(hour) == customers
    assert "明天" in day[0].body and "线路检修" in day[0].body and "1小时后" in hour[0].body


def test_the_chat_opened_from_the_notice_greets_with_the_known_outage(client, session, clock, quiet_area):
    area_outage(client, session, quiet_area, clock["now"])
    alert = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    sms = outbox(session, f"alert:{alert.id}:outage:%")[0]
    token = sms.body.split("/?n=")[1].split(" ")[0]
    chat = client.post("/api/chat/conversations").json()
    headers = {"X-Chat-Secret": chat["secret"]}
    greeting = client.post("/api/chat/notice", json={"conversation_id": chat["conversation_id"], "token": token},
                           headers=headers)
    assert greeting.status_code == 200, greeting.text
    text = greeting.json()["text"]
    assert quiet_area.name in text and "无需再报修" in text and "已派单" in text
    history = client.get(f"/api/chat/{chat['conversation_id']}/history", headers=headers).json()
    assert any(t["text"] == text for t in history["turns"])  # agents see what the customer was told
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert client.post("/api/chat/notice", json={"conversation_id": chat["conversation_id"], "token": forged},
                       headers=headers).status_code == 404
    assert client.post("/api/chat/notice", json={"conversation_id": chat["conversation_id"], "token": token},
                       headers={"X-Chat-Secret": "wrong"}).status_code == 401


def test_a_meter_fault_is_held_for_a_supervisor_but_an_outage_loss_of_voltage_is_not_a_fault(client, session, clock):
    now = clock["now"]
    three = session.scalar(select(Meter).where(Meter.phases == 3).order_by(Meter.id))
    single = session.scalar(select(Meter).where(Meter.phases == 1, Meter.transformer_area_id != three.transformer_area_id)
                            .order_by(Meter.id))
    result = events(client, [
        {"meter_no": three.meter_no, "ts": at(now - timedelta(minutes=30)), "kind": "断相", "phase": "B"},
        {"meter_no": single.meter_no, "ts": at(now - timedelta(minutes=3)), "kind": "失压", "phase": "A"},
        {"meter_no": single.meter_no, "ts": at(now - timedelta(minutes=3)), "kind": "停电"}])
    assert result["stored"] == 3
    session.expire_all()
    faults = list(session.scalars(select(Alert).where(Alert.kind == "meter_fault")))
    assert [a.subject for a in faults] == [three.meter_no]
    ticket = session.scalar(select(Ticket).where(Ticket.number == faults[0].ticket_number))
    assert ticket.status == "挂起" and "断相" in ticket.description
    assert not outbox(session, f"alert:{faults[0].id}:%"), "nobody is told of a meter fault by SMS"


def test_a_customer_in_an_open_web_chat_is_told_there_not_by_sms(client, session, clock, quiet_area):
    now = clock["now"]
    reading = session.scalar(select(Customer).where(Customer.transformer_area_id == quiet_area.id)
                             .order_by(Customer.account_no))
    session.add(Conversation(id="web-reading-now", channel="web", account_no=reading.account_no,
                             created_at=now - timedelta(minutes=20), last_active_at=now - timedelta(minutes=2)))
    session.commit()
    area_outage(client, session, quiet_area, now)
    alert = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    mine = outbox(session, f"alert:{alert.id}:outage:{reading.id}")
    assert [(m.channel, m.recipient) for m in mine] == [("web", "web-reading-now")]
    assert not mine[0].body.startswith("【"), "the chat shows it without the SMS signature"


def test_a_customer_who_bound_the_account_on_wechat_is_told_there(client, session, clock, quiet_area):
    now = clock["now"]
    bound, other = session.scalars(select(Customer).where(Customer.transformer_area_id == quiet_area.id)
                                   .order_by(Customer.account_no)).all()[:2]
    session.add(AccountBinding(chat_user="wx-oBoundUser0001", account_no=bound.account_no, is_default=True,
                               bound_at=now - timedelta(days=3)))
    session.commit()
    area_outage(client, session, quiet_area, now)
    alert = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    [notice] = outbox(session, f"alert:{alert.id}:outage:{bound.id}")
    # on WeChat (a template message outside the 48 hours, else SMS: the outbox worker decides), without the signature
    assert (notice.channel, notice.recipient) == ("wechat", "oBoundUser0001") and not notice.body.startswith("【")
    assert [m.channel for m in outbox(session, f"alert:{alert.id}:outage:{other.id}")] == (["sms"] if other.mobile else [])


def test_sustained_low_voltage_and_imbalance_from_readings(client, session, clock):
    now = clock["now"]
    three = session.scalar(select(Meter).where(Meter.phases == 3).order_by(Meter.id))
    area = session.get(TransformerArea, three.transformer_area_id)
    single = session.scalar(select(Meter).where(Meter.phases == 1, Meter.transformer_area_id == area.id))
    top = now.replace(minute=0, second=0, microsecond=0)
    rows = []
    for h in (3, 2, 1):
        ts = at(top - timedelta(hours=h))
        rows.append({"meter_no": three.meter_no, "ts": ts, "kwh": 20, "kw": 20, "voltage_a": 226, "current_a": 80,
                     "voltage_b": 228, "current_b": 6, "voltage_c": 227, "current_c": 5})
        if single is not None:
            rows.append({"meter_no": single.meter_no, "ts": ts, "kwh": 0.5, "kw": 0.5, "voltage_a": 181.5,
                         "current_a": 2.6})
    result = client.post("/api/metering/readings", json={"readings": rows}, headers=METERING).json()
    assert result["rejected"] == 0 and result["alerts_raised"] >= (2 if single is not None else 1)
    session.expire_all()
    kinds = {a.kind: a for a in session.scalars(select(Alert).where(Alert.subject == area.code))}
    assert "imbalance" in kinds and "A/B/C 80/6/5A" in kinds["imbalance"].summary.replace(" ", " ")
    if single is not None:
        assert "low_voltage" in kinds and single.meter_no in kinds["low_voltage"].evidence["meters"]
    ticket = session.scalar(select(Ticket).where(Ticket.number == kinds["imbalance"].ticket_number))
    assert ticket.type == "安全隐患" and ticket.status == "挂起"


def test_a_household_outage_that_becomes_an_area_outage_is_merged_into_it(client, supervisor, session, clock,
                                                                          quiet_area):
    now = clock["now"]
    first, *rest = meters_of(session, quiet_area)
    events(client, [{"meter_no": first.meter_no, "ts": at(now - timedelta(minutes=30)), "kind": "停电"}])
    household = session.scalar(select(Alert).where(Alert.subject == first.meter_no))
    assert household.kind == "household_outage" and household.status == "active"
    events(client, [{"meter_no": m.meter_no, "ts": at(now - timedelta(minutes=3)), "kind": "停电"} for m in rest])
    session.expire_all()
    area = session.scalar(select(Alert).where(Alert.subject == quiet_area.code))
    household = session.get(Alert, household.id)
    assert area.status == "active" and household.status == "merged"
    held = session.scalar(select(Ticket).where(Ticket.number == household.ticket_number))
    assert held.status == "已关闭" and area.ticket_number in held.events[-1].note
    feed = client.get("/api/monitoring/alerts", headers=supervisor).json()
    assert feed["active"] == 1 and {a["status"] for a in feed["alerts"]} == {"active", "merged"}


def test_a_row_with_two_bad_fields_is_one_rejected_row_with_two_errors(client):
    row = {"meter_no": "NO-SUCH", "ts": "2026-01-01T00:07:00+08:00", "kwh": -1, "kw": 1, "voltage_a": 220,
           "current_a": 1}
    result = client.post("/api/metering/readings", json={"readings": [row]}, headers=METERING).json()
    assert result["rejected"] == 1 and sorted(e["field"] for e in result["errors"]) == ["kwh", "ts"]
