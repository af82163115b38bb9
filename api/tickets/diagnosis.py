"""Reads a metering snapshot and says what most likely happened, for customer and crew."""
from __future__ import annotations

from datetime import datetime, timedelta

from api.tickets.schemas import Diagnosis

LOSS_EVENTS = {"失压", "停电"}
DEAD_VOLTS = 50.0


def _volts(reading: dict) -> list[float]:
    return [float(reading[k]) for k in ("voltage_a", "voltage_b", "voltage_c") if reading.get(k) is not None]


def diagnose(
    kind: str, snapshot: dict | None, *, now: datetime, area_outage_share: float, low_voltage_volts: float
) -> Diagnosis:
    """Classify a report from the meter's last readings, its events and its area's state."""
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
    readings = sorted(snapshot.get("readings") or [], key=lambda r: r["ts"])
    recent_events = [
        e for e in snapshot.get("events") or []
        if _as_dt(e["ts"]) >= now - timedelta(hours=1)
    ]
    latest = readings[-1] if readings else None
    if any(e["kind"] in LOSS_EVENTS for e in recent_events) or (
        latest and _volts(latest) and max(_volts(latest)) < DEAD_VOLTS
    ):
        return Diagnosis(
            code="household_outage",
            summary="系统显示只有您家电表失电，周边用户供电正常，可能是进户线或电表故障，抢修人员会上门处理。",
            crew_note="单户失压，台区正常：查表前进户线、表箱开关及电能表。",
        )
    if latest is None or _as_dt(latest["ts"]) < now - timedelta(hours=3):
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


def _as_dt(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
