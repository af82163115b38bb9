"""Reads a metering snapshot and says what most likely happened, for customer and crew.

`diagnose` classifies a report; the customer gets `summary`, the crew `crew_note` and, from the same
reading of the snapshot, `for_crew`: what the meters saw (with their times and figures), the likely cause
and what to bring. The crew's view of a stored ticket calls `for_crew` again with the stored code and
snapshot, so nothing of it needs storing.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from api.core.time import LOCAL_TZ
from api.tickets.schemas import Diagnosis

LOSS_EVENTS = {"失压", "停电"}
DEAD_VOLTS = 50.0
SILENT = timedelta(hours=3)  # no reading for this long: the meter (or its communication) is at fault
RECENT = timedelta(hours=1)  # the events that count for the diagnosis
NOMINAL = "198–235.4V"  # GB/T 12325: 220 V −10 % … +7 %

# 携带: what a 低压抢修 crew takes for each diagnosis, beyond its everyday kit (vehicle, lights, radio)
BRING = {
    "hazard": ["安全围栏", "警示牌", "绝缘手套", "绝缘靴", "验电器", "接地线", "绝缘操作杆"],
    "area_outage": ["跌落式熔断器熔丝（变压器高压侧）", "令克棒（绝缘操作杆）", "低压总开关/熔断器备件", "验电器",
                    "接地线", "绝缘手套", "安全围栏及警示牌"],
    "feeder_outage": ["令克棒（绝缘操作杆）", "验电器", "接地线", "绝缘手套", "巡线照明与望远镜", "安全围栏及警示牌"],
    "household_outage": ["电能表（同型号备表）", "表箱开关（微断）/熔断器", "验电笔", "绝缘工具", "接户线及线夹",
                         "万用表"],
    "meter_fault": ["备用电能表", "采集终端/通信模块", "验电笔", "万用表", "表计封印及装表工具"],
    "low_voltage": ["钳形电流表", "电压表/万用表", "验电笔", "绝缘工具"],
    "high_voltage": ["电压表/万用表", "钳形电流表", "验电器", "绝缘手套"],
    "overload": ["钳形电流表", "红外测温仪", "低压熔断器/开关备件", "绝缘手套"],
    "imbalance": ["钳形电流表", "万用表", "绝缘工具", "接线端子及导线"],
    "behind_meter": ["验电笔", "绝缘电阻表（摇表）", "绝缘工具", "产权分界说明（表后属客户资产）"],
    "no_anomaly": ["验电笔", "万用表", "绝缘工具"],
    "unknown": ["验电笔", "万用表", "绝缘工具", "备用电能表", "表箱开关/熔断器"],
    "charger_fault": ["万用表", "绝缘工具", "验电笔", "充电桩备件（充电枪、控制板、熔断器）"],
}
PHASE_LOSS_BRING = ["表箱开关（微断）/熔断器", "接线端子及导线"]  # a 断相 meter: the lost phase's supply too

# 研判 of the tickets the monitoring opens (their evidence is no meter snapshot: `for_crew` gets none)
DETECTED_CAUSE = {
    "area_outage": "台区大面积停电：故障在台区变压器或低压出线（高压侧跌落式熔断器熔断、低压总开关跳闸或主干线断线）。",
    "feeder_outage": "多个台区同时停电：10kV线路故障（断线、接地或短路跳闸），需巡线查找故障点。",
    "household_outage": "单户停电、同台区其他表计正常：故障在本户表前（接户线、表箱开关或电能表）或户内开关跳闸。",
    "low_voltage": "台区多块表持续低电压：台区出口电压偏低、分接头位置不当或线路过长压降大。",
    "high_voltage": "台区多块表持续高电压：变压器分接头位置偏高或轻载时出口电压过高。",
    "overload": "台区实测负荷持续超过变压器容量：变压器过载，有烧损和熔断器熔断风险。",
    "imbalance": "三相电流严重不平衡：单相用户接入相别分布不均，中性线电流大。",
    "meter_fault": "电能表报断相、反向电量或单相失压：计量回路接线错误、端子松脱或电能表故障，计量可能不准。",
    "charger_fault": "充电桩自检报故障：先远程查看状态并尝试复位，不行再现场检查或更换部件。",
}


def _volts(reading: dict) -> list[float]:
    return [float(reading[k]) for k in ("voltage_a", "voltage_b", "voltage_c") if reading.get(k) is not None]


def diagnose(
    kind: str, snapshot: dict | None, *, now: datetime, area_outage_share: float, low_voltage_volts: float
) -> Diagnosis:
    """Classify a report from the meter's last readings, its events and its area's state."""
    found = _classify(kind, snapshot, now=now, area_outage_share=area_outage_share,
                      low_voltage_volts=low_voltage_volts)
    return for_crew(found, snapshot, now=now)


def _classify(
    kind: str, snapshot: dict | None, *, now: datetime, area_outage_share: float, low_voltage_volts: float
) -> Diagnosis:
    if kind == "hazard":
        return Diagnosis(
            code="hazard",
            summary="您反映的是安全隐患，我们已按最高优先级派人到现场处置。",
            crew_note="安全隐患：到场先设围栏、警示，必要时申请停电后处理。",
        )
    if snapshot is None:
        return Diagnosis(
            code="unknown",
            summary="暂时没有查到该地址对应电表的实时数据，抢修人员会到现场排查。",
            crew_note="无计量数据（未识别客户或电表），到场全面排查。",
        )
    area = snapshot.get("area_state") or {}
    if float(area.get("share") or 0) >= area_outage_share:
        lost, total = area.get("meters_lost_voltage_last_hour", 0), area.get("meters_total", 0)
        return Diagnosis(
            code="area_outage",
            summary="系统显示您所在台区整片停电，属于线路或台区设备故障，不是您家里的问题，抢修人员正在处理。",
            crew_note=f"台区{area.get('area_name', '')}近1小时{lost}/{total}块表失压，疑似台区/线路故障，查变压器及上级线路。",
        )
    readings = _readings(snapshot)
    recent_events = _recent_events(snapshot, now)
    latest = readings[-1] if readings else None
    if any(e["kind"] in LOSS_EVENTS for e in recent_events) or (
        latest and _volts(latest) and max(_volts(latest)) < DEAD_VOLTS
    ):
        return Diagnosis(
            code="household_outage",
            summary="系统显示只有您家电表失电，周边用户供电正常，可能是进户线或电表故障，抢修人员会上门处理。",
            crew_note="单户失压，台区正常：查表前进户线、表箱开关及电能表。",
        )
    if latest is None or _as_dt(latest["ts"]) < now - SILENT:
        return Diagnosis(
            code="meter_fault",
            summary="您家电表近几个小时没有上传数据，可能是电表或通信故障，抢修人员会一并检查。",
            crew_note="电表近3小时无数据：查电能表及采集终端，同时确认是否停电。",
        )
    if any(e["kind"] == "断相" for e in recent_events):
        return Diagnosis(
            code="meter_fault",
            summary="系统显示您家电表有一相缺电（断相），抢修人员会检查进户线和电表。",
            crew_note="三相表断相：查缺相线路与表计接线。",
        )
    volts = _volts(latest)
    if volts and min(volts) < low_voltage_volts:
        return Diagnosis(
            code="low_voltage",
            summary=f"系统显示您家电压偏低（约{min(volts):.0f}伏），抢修人员会检查线路和台区电压。",
            crew_note=f"低电压 {min(volts):.0f}V：查台区出口电压、线路压降与三相不平衡。",
        )
    if float(latest.get("kw") or 0) < 0.01:
        return Diagnosis(
            code="behind_meter",
            summary="电表显示供电正常但您家用电为零，很可能是家里的总开关或漏电保护器跳闸了，请先看一下家里的空开；合不上的话抢修人员会上门帮您处理。",
            crew_note="表计电压正常、负荷为零：多为表后户内故障（漏保/空开跳闸、户内线路），属客户资产时告知客户。",
        )
    return Diagnosis(
        code="no_anomaly",
        summary="电表显示您家目前供电和电压正常，抢修人员会联系您进一步确认情况。",
        crew_note="计量无异常：先电话联系客户核实现象。",
    )


# ------------------------------------------------------------------ for the crew


def for_crew(diagnosis: Diagnosis, snapshot: dict | None, *, now: datetime,
             detected_summary: str | None = None) -> Diagnosis:
    """The diagnosis with the crew's part filled in: the meter facts, the likely cause, what to bring.

    `snapshot` is the caller's meter snapshot the code was found from (None when there was none), `now`
    the moment it was taken. A ticket the monitoring opened carries its detection instead of a snapshot:
    pass its summary (what the meters showed) as `detected_summary`.
    """
    code = diagnosis.code
    meter = snapshot if _is_meter_snapshot(snapshot) else None
    if detected_summary is not None and meter is None:
        facts = [detected_summary] if detected_summary else []
        cause = DETECTED_CAUSE.get(code, "")
    else:
        facts = _meter_facts(code, meter, now) if meter is not None else (
            ["无计量数据：未识别到客户或其电表"] if code in BRING else [])
        cause = _likely_cause(code, meter, now)
    bring = list(BRING.get(code, []))
    if code == "meter_fault" and meter is not None and _phase_lost(meter, now):
        bring += [b for b in PHASE_LOSS_BRING if b not in bring]
    return diagnosis.model_copy(update={"meter_facts": facts, "likely_cause": cause, "bring": bring})


def _is_meter_snapshot(snapshot: dict | None) -> bool:
    return bool(snapshot) and ("readings" in snapshot or "area_state" in snapshot)


def _readings(snapshot: dict) -> list[dict]:
    return sorted(snapshot.get("readings") or [], key=lambda r: _as_dt(r["ts"]))


def _recent_events(snapshot: dict, now: datetime) -> list[dict]:
    return [e for e in snapshot.get("events") or [] if _as_dt(e["ts"]) >= now - RECENT]


def _phase_lost(snapshot: dict, now: datetime) -> bool:
    return any(e["kind"] == "断相" for e in _recent_events(snapshot, now))


def _meter_facts(code: str, snapshot: dict, now: datetime) -> list[str]:
    facts = []
    if snapshot.get("meter_no"):
        phases = {1: "单相表", 3: "三相表"}.get(snapshot.get("phases"), "")
        ct = f"，经CT计量（变比{snapshot['ct_ratio']}）" if snapshot.get("ct_ratio") else ""
        facts.append(f"电表 {snapshot['meter_no']}" + (f"（{phases}{ct}）" if phases or ct else ""))
    events = sorted(_recent_events(snapshot, now), key=lambda e: _as_dt(e["ts"]))
    if events:
        shown = events[-4:]
        more = f"等{len(events)}条" if len(events) > len(shown) else ""
        facts.append("近1小时电表上报：" + "、".join(f"{_hm(e['ts'], now)} {_event(e)}" for e in shown) + more)
    else:
        older = sorted((e for e in snapshot.get("events") or [] if _as_dt(e["ts"]) < now - RECENT),
                       key=lambda e: _as_dt(e["ts"]))
        facts.append("近1小时电表无事件上报" + (f"（此前最近一次：{_hm(older[-1]['ts'], now)} {_event(older[-1])}）"
                                               if older else ""))
    readings = _readings(snapshot)
    latest = readings[-1] if readings else None
    if latest is None:
        facts.append(f"近{SILENT.seconds // 3600}小时电表无读数上报")
    elif _as_dt(latest["ts"]) < now - SILENT:
        hours = int((now - _as_dt(latest["ts"])).total_seconds() // 3600)
        facts.append(f"电表已约{hours}小时无新读数（最后一次 {_hm(latest['ts'], now)}：{_reading(latest)}）")
    else:
        facts.append(f"最近读数 {_hm(latest['ts'], now)}：{_reading(latest)}")
        if code in ("household_outage", "behind_meter") and len(readings) > 1:
            facts.append(f"前一读数 {_hm(readings[-2]['ts'], now)}：{_reading(readings[-2])}")
    area = snapshot.get("area_state") or {}
    if area.get("meters_total"):
        name = area.get("area_name") or snapshot.get("transformer_area_code") or ""
        lost, total = area.get("meters_lost_voltage_last_hour", 0), area["meters_total"]
        line = f"所在台区{name}：近1小时{lost}/{total}块表失压（{float(area.get('share') or 0):.0%}）"
        if code in ("low_voltage", "area_outage") and area.get("capacity_kva"):
            line += f"；台区负荷{float(area.get('load_kw') or 0):.1f}kW/容量{float(area['capacity_kva']):.0f}kVA"
        facts.append(line)
    return facts


def _likely_cause(code: str, snapshot: dict | None, now: datetime) -> str:
    readings = _readings(snapshot) if snapshot else []
    latest = readings[-1] if readings else None
    volts = _volts(latest) if latest else []
    if code == "hazard":
        return "客户报安全隐患（如导线断落、设备破损、漏电）：现场情况未经确认，按带电设备对待，先隔离现场再处置。"
    if code == "unknown":
        return "未关联到客户电表，无计量数据可供研判：按客户描述到场排查，先确认是单户还是片区停电。"
    if code == "area_outage":
        return ("台区停电，非单户问题：故障在台区变压器或低压出线侧——高压侧跌落式熔断器熔断、"
                "低压总开关跳闸/熔断器熔断或主干线断线；多个台区同时停电则为10kV线路故障。")
    if code == "household_outage":
        lost = [e for e in _recent_events(snapshot, now) if e["kind"] in LOSS_EVENTS] if snapshot else []
        phases = sorted({e["phase"] for e in lost if e.get("phase")})
        which = f"（{'、'.join(phases)}相）" if phases and snapshot.get("phases") == 3 else ""
        return (f"单户失压{which}、台区其他表计供电正常：故障在本户表前——接户线/进户线断线或接头烧断、"
                "表箱开关跳闸或熔断器熔断，也可能电能表损坏。")
    if code == "meter_fault":
        if snapshot is not None and _phase_lost(snapshot, now):
            phases = sorted({e["phase"] for e in _recent_events(snapshot, now) if e["kind"] == "断相" and e.get("phase")})
            which = f"{'、'.join(phases)}相" if phases else "一相"
            return (f"三相表{which}断相：该相进线或表箱开关单相熔断/跳闸、接线端子松脱烧蚀，"
                    "电能表计量同时异常。")
        return ("电表超过3小时无数据上报、台区其他表计正常：多为电能表或采集通信故障"
                "（载波/采集终端/集中器），也可能本户已断电导致电表无法上报。")
    if code == "low_voltage":
        low = f"{min(volts):.0f}V" if volts else "偏低"
        uneven = len(volts) > 1 and max(volts) - min(volts) > 20
        tail = ("三相电压相差大，重点查中性线接触不良或三相负荷不平衡。" if uneven else
                "线路过长/线径小造成末端压降，或台区出口电压偏低、三相负荷不平衡。")
        return f"电压{low}，低于{NOMINAL}合格范围：{tail}"
    if code == "behind_meter":
        at = f"（{max(volts):.0f}V）" if volts else ""
        return (f"电表电压正常{at}但负荷为零：供电已到表，故障在表后户内——总开关或漏电保护器跳闸、"
                "户内线路短路或接地；表后线路属客户产权，需向客户说明产权分界。")
    if code == "no_anomaly":
        return "电表电压、负荷正常，近1小时无事件：可能是户内个别回路或电器故障，或客户误报；先电话核实现象。"
    return DETECTED_CAUSE.get(code, "")


def _reading(reading: dict) -> str:
    volts = " / ".join(f"{p}相 {float(reading[k]):.0f}V" for p, k in
                       (("A", "voltage_a"), ("B", "voltage_b"), ("C", "voltage_c")) if reading.get(k) is not None)
    return f"{volts or '无电压数据'}，功率 {float(reading.get('kw') or 0):.2f}kW"


def _event(event: dict) -> str:
    return event["kind"] + (f"（{event['phase']}相）" if event.get("phase") else "")


def _hm(value, now: datetime) -> str:
    """14:05 (local time), or 11月22日 14:05 when not the day of `now`."""
    at = _as_dt(value).astimezone(LOCAL_TZ)
    today = now.astimezone(LOCAL_TZ).date()
    return f"{at:%H:%M}" if at.date() == today else f"{at.month}月{at.day}日 {at:%H:%M}"


def _as_dt(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
