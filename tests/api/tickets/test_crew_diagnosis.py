"""The crew's diagnosis: what the meters saw (with the snapshot's own times and figures), the likely cause
and what to bring, from the same reading of the snapshot as the customer's summary; the crew page and the
crew's SMS get it, never the sentence the customer was told."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from api.demo.showcase import SHOWCASE
from api.demo.staff import DEMO_STAFF
from api.notify import messages
from api.notify.models import OutboxMessage
from api.tickets.diagnosis import BRING, DETECTED_CAUSE, diagnose, for_crew
from api.tickets.schemas import Diagnosis

NOW = datetime(2026, 11, 23, 6, 10, tzinfo=timezone.utc)  # 14:10 in Shanghai
HOUR = NOW.replace(minute=0)  # readings are stamped at the start of their hour: 14:00 local
PASSWORDS = {u: p for u, _n, _r, p, _c, _t in DEMO_STAFF}

# what the customer is told, word for word (the bot uses it: it must not change)
CUSTOMER = {
    "household_outage": "系统显示只有您家电表失电，周边用户供电正常，可能是进户线或电表故障，抢修人员会上门处理。",
    "area_outage": "系统显示您所在台区整片停电，属于线路或台区设备故障，不是您家里的问题，抢修人员正在处理。",
    "hazard": "您反映的是安全隐患，我们已按最高优先级派人到现场处置。",
    "unknown": "暂时没有查到该地址对应电表的实时数据，抢修人员会到现场排查。",
}


def reading(hours_ago: int, volts: float = 221.0, kw: float = 0.8, three: bool = True) -> dict:
    return {"ts": (HOUR - timedelta(hours=hours_ago)).isoformat(), "kwh": kw, "kw": kw,
            "voltage_a": volts, "current_a": kw * 1000 / max(volts, 1),
            "voltage_b": volts if three else None, "voltage_c": volts if three else None}


def event(minutes_ago: int, kind: str, phase: str | None = None) -> dict:
    return {"ts": (NOW - timedelta(minutes=minutes_ago)).isoformat(), "kind": kind, "phase": phase}


def snapshot(readings=None, events=(), share=0.025, lost=1, total=40, phases=3) -> dict:
    return {"meter_no": "3300018842", "phases": phases, "transformer_area_code": "YZ-TA-0101",
            "as_of": NOW.isoformat(),
            "readings": readings if readings is not None else [reading(2), reading(1), reading(0)],
            "events": list(events),
            "area_state": {"area_code": "YZ-TA-0101", "area_name": "文化街1号台区", "share": share,
                           "meters_lost_voltage_last_hour": lost, "meters_total": total,
                           "load_kw": 61.4, "capacity_kva": 200.0}}


def run(kind, snap) -> Diagnosis:
    return diagnose(kind, snap, now=NOW, area_outage_share=0.5, low_voltage_volts=198.0)


def facts(d: Diagnosis) -> str:
    return "\n".join(d.meter_facts)


def crew_words(d: Diagnosis) -> str:
    return "\n".join([d.likely_cause, *d.meter_facts, *d.bring, d.crew_note])


def assert_for_the_crew(d: Diagnosis) -> None:
    """Crew text, not the customer's: no 您, and the customer's sentence nowhere in it."""
    assert d.likely_cause and d.meter_facts and d.bring
    assert d.summary not in crew_words(d)
    assert "您" not in crew_words(d)


def test_household_outage_facts_carry_the_event_time_and_the_dead_and_the_previous_voltages():
    d = run("outage", snapshot(readings=[reading(2), reading(1), reading(0, volts=0.0, kw=0.0)],
                               events=[event(5, "失压", "A"), event(4, "停电")]))
    assert d.code == "household_outage"
    assert d.summary == CUSTOMER["household_outage"]
    assert d.meter_facts[0] == "电表 3300018842（三相表）"
    assert "近1小时电表上报：14:05 失压（A相）、14:06 停电" in d.meter_facts
    assert "最近读数 14:00：A相 0V / B相 0V / C相 0V，功率 0.00kW" in d.meter_facts
    assert "前一读数 13:00：A相 221V / B相 221V / C相 221V，功率 0.80kW" in d.meter_facts
    assert "所在台区文化街1号台区：近1小时1/40块表失压（2%）" in d.meter_facts
    assert "表前" in d.likely_cause and "（A相）" in d.likely_cause
    for item in ("电能表", "表箱开关", "验电笔", "绝缘工具"):
        assert any(item in b for b in d.bring), item
    assert_for_the_crew(d)


def test_area_outage_facts_carry_the_areas_share_and_load_and_the_crew_brings_fuses_and_a_hot_stick():
    d = run("outage", snapshot(share=0.85, lost=34, total=40, readings=[reading(1), reading(0, volts=0.0, kw=0.0)],
                               events=[event(50, "停电")]))
    assert d.code == "area_outage"
    assert d.summary == CUSTOMER["area_outage"]
    assert "所在台区文化街1号台区：近1小时34/40块表失压（85%）；台区负荷61.4kW/容量200kVA" in d.meter_facts
    assert "近1小时电表上报：13:20 停电" in d.meter_facts
    assert "跌落式熔断器" in d.likely_cause and "非单户" in d.likely_cause
    assert any("跌落式熔断器" in b for b in d.bring) and any("令克棒" in b for b in d.bring)
    assert any("接地线" in b for b in d.bring) and any("绝缘手套" in b for b in d.bring)
    assert_for_the_crew(d)


def test_hazard_brings_fencing_signs_and_insulated_gloves_and_still_shows_the_meter():
    d = run("hazard", snapshot())
    assert d.code == "hazard"
    assert d.summary == CUSTOMER["hazard"]
    assert {"安全围栏", "警示牌", "绝缘手套"} <= set(d.bring)
    assert "最近读数 14:00：A相 221V / B相 221V / C相 221V，功率 0.80kW" in d.meter_facts
    assert "带电" in d.likely_cause
    assert_for_the_crew(d)


def test_hazard_without_a_customer_says_there_is_no_meter_data():
    d = run("hazard", None)
    assert d.meter_facts == ["无计量数据：未识别到客户或其电表"]
    assert "安全围栏" in d.bring


def test_silent_meter_facts_say_how_long_since_its_last_reading_and_the_crew_brings_a_spare_meter():
    d = run("outage", snapshot(readings=[reading(6, volts=219.0, kw=1.2)]))
    assert d.code == "meter_fault"
    assert "电表已约6小时无新读数（最后一次 08:00：A相 219V / B相 219V / C相 219V，功率 1.20kW）" in d.meter_facts
    assert "采集" in d.likely_cause
    assert {"备用电能表", "采集终端/通信模块"} <= set(d.bring)
    assert_for_the_crew(d)


def test_meter_without_any_reading():
    d = run("outage", snapshot(readings=[]))
    assert d.code == "meter_fault"
    assert "近3小时电表无读数上报" in d.meter_facts


def test_open_phase_names_the_phase_and_its_time_and_adds_the_phase_supply_spares():
    d = run("outage", snapshot(readings=[reading(1), {**reading(0), "voltage_b": 3.0}],
                               events=[event(25, "断相", "B")]))
    assert d.code == "meter_fault"
    assert "近1小时电表上报：13:45 断相（B相）" in d.meter_facts
    assert "最近读数 14:00：A相 221V / B相 3V / C相 221V，功率 0.80kW" in d.meter_facts
    assert "B相断相" in d.likely_cause
    assert "备用电能表" in d.bring and "表箱开关（微断）/熔断器" in d.bring
    assert_for_the_crew(d)


def test_low_voltage_facts_carry_the_voltage_and_the_crew_brings_meters_to_measure_it():
    d = run("outage", snapshot(readings=[reading(1, volts=186.0, three=False),
                                         reading(0, volts=184.0, kw=1.1, three=False)], phases=1))
    assert d.code == "low_voltage"
    assert d.meter_facts[0] == "电表 3300018842（单相表）"
    assert "最近读数 14:00：A相 184V，功率 1.10kW" in d.meter_facts
    assert any("台区负荷61.4kW/容量200kVA" in f for f in d.meter_facts)
    assert "184V" in d.likely_cause and "198–235.4V" in d.likely_cause
    assert {"钳形电流表", "电压表/万用表"} <= set(d.bring)
    assert_for_the_crew(d)


def test_uneven_phase_voltages_point_at_the_neutral():
    d = run("outage", snapshot(readings=[{**reading(0), "voltage_a": 175.0, "voltage_c": 243.0}]))
    assert d.code == "low_voltage"
    assert "175V" in d.likely_cause and "中性线" in d.likely_cause


def test_behind_the_meter_shows_the_voltage_and_zero_load_and_tells_the_crew_about_the_ownership_boundary():
    d = run("outage", snapshot(readings=[reading(1, volts=223.0, kw=0.6), reading(0, volts=222.0, kw=0.0)]))
    assert d.code == "behind_meter"
    assert "最近读数 14:00：A相 222V / B相 222V / C相 222V，功率 0.00kW" in d.meter_facts
    assert "前一读数 13:00：A相 223V / B相 223V / C相 223V，功率 0.60kW" in d.meter_facts
    assert "表后" in d.likely_cause and "产权分界" in d.likely_cause
    assert "验电笔" in d.bring and any("产权分界" in b for b in d.bring)
    assert_for_the_crew(d)


def test_no_anomaly_says_no_event_and_shows_the_last_older_one():
    d = run("outage", snapshot(events=[event(300, "停电"), event(290, "上电")]))
    assert d.code == "no_anomaly"
    assert "近1小时电表无事件上报（此前最近一次：09:20 上电）" in d.meter_facts
    assert "核实" in d.likely_cause
    assert "验电笔" in d.bring
    assert_for_the_crew(d)


def test_an_event_of_another_day_carries_its_date():
    d = run("outage", snapshot(events=[event(60 * 20, "上电")]))
    assert "近1小时电表无事件上报（此前最近一次：11月22日 18:10 上电）" in d.meter_facts


def test_no_meter_data_at_all():
    d = run("outage", None)
    assert d.code == "unknown"
    assert d.summary == CUSTOMER["unknown"]
    assert d.meter_facts == ["无计量数据：未识别到客户或其电表"]
    assert "备用电能表" in d.bring
    assert_for_the_crew(d)


def test_every_code_has_a_bring_list_of_its_own():
    for code in ("hazard", "area_outage", "household_outage", "meter_fault", "low_voltage", "behind_meter",
                 "no_anomaly", "unknown"):
        assert BRING[code], code
    assert BRING["household_outage"] != BRING["area_outage"] != BRING["hazard"]


def test_the_crew_view_of_a_stored_ticket_works_out_the_same_from_its_stored_code_and_snapshot():
    snap = json.loads(json.dumps(snapshot(readings=[reading(1), reading(0, volts=0.0, kw=0.0)],
                                          events=[event(5, "失压", "A")])))  # as the JSON column keeps it
    fresh = run("outage", snap)
    stored = Diagnosis(code=fresh.code, summary=fresh.summary, crew_note=fresh.crew_note)  # the ticket's columns
    assert (stored.likely_cause, stored.meter_facts, stored.bring) == ("", [], [])  # older tickets load
    assert for_crew(stored, snap, now=datetime.fromisoformat(snap["as_of"])) == fresh


def test_a_ticket_the_monitoring_opened_shows_its_detection_as_the_facts():
    summary = "文化街1号台区（YZ-TA-0101）14:02起34/40户表计停电，判断为台区变压器或低压线路故障"
    d = for_crew(Diagnosis(code="area_outage", summary=summary, crew_note="台区大面积停电：先查台区变压器"),
                 {"detection": "area_outage", "meters_total": 40, "meters_off": 34}, now=NOW, detected_summary=summary)
    assert d.meter_facts == [summary]
    assert d.likely_cause == DETECTED_CAUSE["area_outage"]
    assert "令克棒（绝缘操作杆）" in d.bring
    feeder = for_crew(Diagnosis(code="feeder_outage", summary="x", crew_note="y"), {"areas": ["A", "B"]}, now=NOW,
                      detected_summary="10kV城东线3个台区同时停电")
    assert "10kV" in feeder.likely_cause and "令克棒（绝缘操作杆）" in feeder.bring


def test_a_complaint_has_no_crew_diagnosis():
    d = for_crew(Diagnosis(code="投诉", summary="客户投诉，待客户服务人员联系核实", crew_note="抄表不准"), None, now=NOW)
    assert (d.likely_cause, d.meter_facts, d.bring) == ("", [], [])


def test_the_crews_sms_carries_the_crew_note_not_the_customers_sentence():
    ticket = SimpleNamespace(number="GD20261123-0042", type="故障报修", priority=2, address_text="原州区文化街1号",
                             contact_phone="13900000003", diagnosis_summary=CUSTOMER["household_outage"],
                             crew_note="单户失压，台区正常：查表前进户线、表箱开关及电能表。", arrive_by=NOW,
                             description="总闸推不上去，\n一推就跳", channel="web", lat=36.0156, lon=106.2423)
    body = messages.crew_assigned(ticket, bring=BRING["household_outage"])
    assert "先查：单户失压，台区正常：查表前进户线、表箱开关及电能表。" in body
    assert CUSTOMER["household_outage"] not in body and "您" not in body
    assert "客户原话：“总闸推不上去， 一推就跳”" in body
    assert "携带：电能表（同型号备表）、表箱开关（微断）/熔断器、验电笔、绝缘工具等；" in body
    assert "（坐标36.01560,106.24230）" in body

    detected = SimpleNamespace(**{**vars(ticket), "channel": "monitoring", "description": "台区A 12/12块表停电" * 5,
                                  "lat": None, "lon": None})
    body = messages.crew_assigned(detected)
    assert "客户原话" not in body and "监测发现：“台区A" in body and "…”" in body
    assert "携带" not in body and "坐标" not in body


# ------------------------------------------------------------------ through the API


def crew_headers(client) -> dict:
    response = client.post("/api/staff/login", json={"username": "crew.yz01", "password": PASSWORDS["crew.yz01"]})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def household_ticket(client, auth) -> dict:
    account_no, mobile = SHOWCASE["household_outage"]
    ticket = client.post("/api/tickets/faults", headers=auth, json={
        "kind": "outage", "description": "家里没电", "channel": "hotline", "account_no": account_no,
        "phone": mobile}).json()
    assert ticket["diagnosis"]["code"] == "household_outage"
    if ticket["crew"]["id"] != "YZ-01":
        moved = client.post(f"/api/tickets/{ticket['number']}/reassign", headers=auth,
                            json={"crew_id": "YZ-01", "reason": "班组就在附近"})
        assert moved.status_code == 200, moved.text
    return ticket


def test_the_crews_list_carries_the_crew_diagnosis_from_the_tickets_snapshot(client, household_ticket):
    mine = client.get("/api/tickets/crew", headers=crew_headers(client))
    assert mine.status_code == 200, mine.text
    [item] = [i for i in mine.json() if i["ticket"]["number"] == household_ticket["number"]]
    d = item["ticket"]["diagnosis"]
    assert d["summary"] == CUSTOMER["household_outage"]  # the API still carries it; the page does not show it
    snap = household_ticket["metering_snapshot"]
    assert d["meter_facts"][0].startswith(f"电表 {snap['meter_no']}")
    latest = max(snap["readings"], key=lambda r: r["ts"])
    at = datetime.fromisoformat(latest["ts"])  # local time, as the snapshot keeps it
    assert any("最近读数" in f and f"{at:%H:%M}：A相 {latest['voltage_a']:.0f}V" in f and f"{latest['kw']:.2f}kW" in f
               for f in d["meter_facts"]), d["meter_facts"]
    area = snap["area_state"]
    assert any(f"{area['meters_lost_voltage_last_hour']}/{area['meters_total']}块表失压" in f for f in d["meter_facts"])
    assert "表前" in d["likely_cause"]
    assert "电能表（同型号备表）" in d["bring"]


def test_the_crews_sms_on_a_new_ticket_says_what_to_check_not_what_the_customer_was_told(
        client, household_ticket, session):
    bodies = session.scalars(select(OutboxMessage.body).where(
        OutboxMessage.audience == "crew", OutboxMessage.body.contains(household_ticket["number"]))).all()
    assert bodies
    assert all(f"先查：{household_ticket['diagnosis']['crew_note']}" in b for b in bodies if "新工单" in b or
               "改派工单" in b)
    assert not any(CUSTOMER["household_outage"] in b for b in bodies)
    offers = [b for b in bodies if "新工单" in b or "改派工单" in b]
    assert all("客户原话：“家里没电”" in b and "携带：电能表（同型号备表）" in b for b in offers)
