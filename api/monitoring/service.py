"""Proactive-service rules: what the meter data says (detections), what to do about it (policies), and the
alerts that record both, deduplicated so one fault is one alert however often its data arrives."""
from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.time import LOCAL_TZ
from api.monitoring.models import Alert, AlertAction, PlannedNotice
from api.monitoring.schemas import AlertActionRead, AlertRead

KIND_LABELS = {
    "area_outage": "台区停电", "feeder_outage": "线路停电", "household_outage": "单户停电",
    "low_voltage": "持续低电压", "high_voltage": "持续高电压", "overload": "台区变压器过载",
    "imbalance": "台区三相不平衡", "meter_fault": "电能表故障", "overload_forecast": "预计台区过载",
}


class Policy(BaseModel):
    """What to do when a detection of one kind is made: the ticket, whether to dispatch, who is told."""

    ticket_type: str | None = Field(default="故障报修", pattern="^(故障报修|安全隐患)$")  # None: alert only
    priority: int = Field(default=2, ge=1, le=4)
    dispatch: str = Field(default="at_once", pattern="^(at_once|supervisor)$")
    notify_customers: bool = False  # the affected customers get an outage and a restoration notice
    notify_supervisors: bool = True  # by SMS to the supervisors on duty (the feed always shows it)

    def describe(self) -> str:
        """The policy in words, for the feed."""
        parts = [f"开{self.ticket_type}工单（{self.priority}级）" if self.ticket_type else "仅告警",
                 "立即派单" if self.dispatch == "at_once" and self.ticket_type else
                 ("待值班长派单" if self.ticket_type else ""),
                 "通知受影响客户" if self.notify_customers else "", "短信告知值班长" if self.notify_supervisors else ""]
        return "，".join(p for p in parts if p)


DEFAULT_POLICIES: dict[str, Policy] = {
    # 主动抢修: the area's customers are told before they call; a crew goes at once
    "area_outage": Policy(priority=1, notify_customers=True),
    "feeder_outage": Policy(priority=1, notify_customers=False),  # customers are told through their areas
    # one household: often the customer's own switch, so a supervisor decides; the customer is told
    "household_outage": Policy(priority=2, dispatch="supervisor", notify_customers=True, notify_supervisors=False),
    "low_voltage": Policy(priority=3, dispatch="supervisor"),
    "high_voltage": Policy(priority=2, dispatch="supervisor"),
    "overload": Policy(ticket_type="安全隐患", priority=2),
    "imbalance": Policy(ticket_type="安全隐患", priority=3, dispatch="supervisor", notify_supervisors=False),
    "meter_fault": Policy(priority=3, dispatch="supervisor", notify_supervisors=False),
    # forecast: the supervisor decides on the forecast page (its 派单 opens the 安全隐患 ticket)
    "overload_forecast": Policy(ticket_type=None, dispatch="supervisor"),
}


def policies(overrides: dict[str, dict] | None = None) -> dict[str, Policy]:
    """The default policies with the deployment's overrides (settings.proactive_policies) applied."""
    merged = dict(DEFAULT_POLICIES)
    for kind, changes in (overrides or {}).items():
        if kind not in merged:
            raise ValueError(f"PROACTIVE_POLICIES: unknown detection {kind!r}; known: {', '.join(merged)}")
        merged[kind] = merged[kind].model_copy(update=Policy.model_validate(
            {**merged[kind].model_dump(), **changes}).model_dump())
    return merged


@dataclass(frozen=True)
class Thresholds:
    """How much evidence each detection needs (from settings)."""

    area_outage_share: float = 0.5  # of the area's meters without supply …
    area_outage_window: timedelta = timedelta(minutes=10)  # … having lost it within this of each other
    area_outage_min_meters: int = 2
    restore_share: float = 0.1  # an area outage is over when at most this share is still off
    feeder_min_areas: int = 2  # area outages on one feeder at once = a feeder outage
    household_confirm: timedelta = timedelta(minutes=10)  # a household off this long (a flap is shorter)
    flap_window: timedelta = timedelta(hours=1)  # a detection again this soon after clearing reopens the alert
    lookback: timedelta = timedelta(hours=24)
    sustained_hours: int = 3  # voltage or imbalance this many hours in a row
    low_volts: float = 198.0  # 220 V −10 % (GB/T 12325)
    high_volts: float = 235.4  # 220 V +7 %
    overload_ratio: float = 1.0  # load / capacity …
    overload_hours: int = 2  # … this many hours in a row
    imbalance_ratio: float = 0.5  # (max − min) / max of the phase currents …
    imbalance_min_amps: float = 20.0  # … at a current worth the name


@dataclass
class Detection:
    """One condition found in the data, before it becomes (or refreshes) an alert."""

    kind: str
    subject: str
    started_at: datetime
    summary: str
    evidence: dict = field(default_factory=dict)
    district: str | None = None
    transformer_area_id: int | None = None
    feeder_id: int | None = None
    meter_id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"


def _hm(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%H:%M")


# ------------------------------------------------------------------ detections

def area_outage(*, area, off_times: list[datetime], total: int, t: Thresholds) -> Detection | None:
    """Enough of the area's meters lost supply within minutes of each other: the transformer or its lines."""
    if total == 0 or len(off_times) < t.area_outage_min_meters:
        return None
    times = sorted(off_times)
    best, start = 0, 0
    first = times[0]
    for end in range(len(times)):  # the most losses inside one window
        while times[end] - times[start] > t.area_outage_window:
            start += 1
        if end - start + 1 > best:
            best, first = end - start + 1, times[start]
    if best / total < t.area_outage_share or best < t.area_outage_min_meters:
        return None
    return Detection(
        kind="area_outage", subject=area.code, started_at=first, district=area.district,
        transformer_area_id=area.id, feeder_id=area.feeder_id,
        summary=(f"{area.district}{area.name}（{area.code}）{_hm(first)}起{len(off_times)}/{total}户表计停电，"
                 f"判断为台区变压器或低压线路故障"),
        evidence={"meters_total": total, "meters_off": len(off_times), "share": round(len(off_times) / total, 3),
                  "first_loss_at": first.isoformat(), "last_loss_at": times[-1].isoformat()})


def area_restored(*, off: int, total: int, t: Thresholds) -> bool:
    """The area's outage is over: (almost) every meter has supply again."""
    return total == 0 or off / total <= t.restore_share


def feeder_outage(*, feeder, areas: builtins.list, t: Thresholds) -> Detection | None:
    """Area outages on several areas of one feeder at once: the 10 kV line itself."""
    if len(areas) < t.feeder_min_areas:
        return None
    first = min(a.started_at for a in areas)
    names = "、".join(a.subject for a in areas)
    return Detection(
        kind="feeder_outage", subject=feeder.code, started_at=first, district=feeder.district,
        feeder_id=feeder.id,
        summary=f"{feeder.name}（{feeder.substation}）{_hm(first)}起{len(areas)}个台区同时停电（{names}），判断为10kV线路故障",
        evidence={"areas": [a.subject for a in areas]})


def household_outage(*, area, meter, now: datetime, t: Thresholds) -> Detection | None:
    """One household off long enough not to be a flap, while its neighbours have supply."""
    if meter.off_since is None or now - meter.off_since < t.household_confirm:
        return None
    return Detection(
        kind="household_outage", subject=meter.meter_no, started_at=meter.off_since, district=area.district,
        transformer_area_id=area.id, feeder_id=area.feeder_id, meter_id=meter.meter_id,
        summary=f"{area.name}（{area.code}）表计{meter.meter_no}自{_hm(meter.off_since)}起停电，同台区其他表计供电正常",
        evidence={"meter_no": meter.meter_no, "customer_id": meter.customer_id,
                  "off_since": meter.off_since.isoformat()})


def _run_of(hours: builtins.list, test, n: int):
    """The last n consecutive hours (one hour apart) all passing `test`, or None."""
    if len(hours) < n:
        return None
    last = hours[-n:]
    if any(b.ts - a.ts != timedelta(hours=1) for a, b in zip(last, last[1:], strict=False)):
        return None
    return last if all(test(h) for h in last) else None


def voltage(*, area, hours: builtins.list, t: Thresholds) -> builtins.list[Detection]:
    """Meters of the area reading outside 198–235.4 V for `sustained_hours` hours in a row."""
    found = []
    for kind, attr, words in (("low_voltage", "low_meters", "低于198V"), ("high_voltage", "high_meters", "高于235.4V")):
        run = _run_of(hours, lambda h, a=attr: bool(getattr(h, a)), t.sustained_hours)
        if run is None:
            continue
        meters = sorted(set.intersection(*(set(getattr(h, attr)) for h in run)))
        if not meters:
            continue
        found.append(Detection(
            kind=kind, subject=area.code, started_at=run[0].ts, district=area.district, transformer_area_id=area.id,
            feeder_id=area.feeder_id,
            summary=f"{area.name}（{area.code}）{len(meters)}块表电压连续{len(run)}小时{words}",
            evidence={"meters": meters[:50], "hours": [h.ts.isoformat() for h in run]}))
    return found


def overload(*, area, hours: builtins.list, t: Thresholds) -> Detection | None:
    """The area's measured load above its transformer's capacity for `overload_hours` hours in a row."""
    capacity = float(area.capacity_kva)
    run = _run_of(hours, lambda h: capacity > 0 and h.load_kw / capacity > t.overload_ratio, t.overload_hours)
    if run is None:
        return None
    peak = max(h.load_kw for h in run)
    return Detection(
        kind="overload", subject=area.code, started_at=run[0].ts, district=area.district, transformer_area_id=area.id,
        feeder_id=area.feeder_id,
        summary=f"{area.name}（{area.code}）实测负荷连续{len(run)}小时超过变压器容量，最高{peak:.1f}kW/{capacity:.0f}kVA",
        evidence={"capacity_kva": capacity, "load_kw": [h.load_kw for h in run],
                  "hours": [h.ts.isoformat() for h in run]})


def imbalance(*, area, hours: builtins.list, t: Thresholds) -> Detection | None:
    """The area's three-phase currents (its three-phase meters) unbalanced for `sustained_hours` hours."""
    def unbalanced(h) -> bool:
        top = max(h.phase_amps)
        return top >= t.imbalance_min_amps and (top - min(h.phase_amps)) / top > t.imbalance_ratio
    run = _run_of(hours, unbalanced, t.sustained_hours)
    if run is None:
        return None
    worst = max(run, key=lambda h: (max(h.phase_amps) - min(h.phase_amps)) / max(h.phase_amps))
    return Detection(
        kind="imbalance", subject=area.code, started_at=run[0].ts, district=area.district, transformer_area_id=area.id,
        feeder_id=area.feeder_id,
        summary=(f"{area.name}（{area.code}）三相电流连续{len(run)}小时严重不平衡"
                 f"（A/B/C {worst.phase_amps[0]:.0f}/{worst.phase_amps[1]:.0f}/{worst.phase_amps[2]:.0f}A）"),
        evidence={"phase_amps": [builtins.list(h.phase_amps) for h in run], "hours": [h.ts.isoformat() for h in run]})


def overload_forecast(*, area, warning) -> Detection | None:
    """The area's forecast peak in the next 48 hours above its capacity (an api.forecasting OverloadWarning)."""
    if warning is None or warning.load_ratio < 1.0:
        return None
    return Detection(
        kind="overload_forecast", subject=area.code, started_at=warning.peak_at, district=area.district,
        transformer_area_id=area.id, feeder_id=area.feeder_id,
        summary=(f"{area.name}（{area.code}）预计{_hm(warning.peak_at)}负荷{warning.forecast_peak_kw:.1f}kW，"
                 f"为容量的{warning.load_ratio * 100:.0f}%，请在负荷预测页决定是否派单调整负荷"),
        evidence={"peak_at": warning.peak_at.isoformat(), "forecast_peak_kw": warning.forecast_peak_kw,
                  "capacity_kw": warning.capacity_kw, "load_ratio": warning.load_ratio})


def meter_faults(*, area, events: Iterable, meter_nos: dict[int, str]) -> builtins.list[Detection]:
    """A meter reporting 断相, 反向电量 or a one-phase 失压: its metering is wrong until someone checks it."""
    by_meter: dict[int, builtins.list] = {}
    for e in events:
        by_meter.setdefault(e.meter_id, []).append(e)
    found = []
    for meter_id, evs in by_meter.items():
        kinds = "、".join(sorted({e.kind + (f"（{e.phase}相）" if e.phase else "") for e in evs}))
        found.append(Detection(
            kind="meter_fault", subject=meter_nos.get(meter_id, str(meter_id)), started_at=evs[0].ts,
            district=area.district, transformer_area_id=area.id, feeder_id=area.feeder_id, meter_id=meter_id,
            summary=f"{area.name}（{area.code}）表计{meter_nos.get(meter_id, meter_id)}报{kinds}，计量可能不准，需现场检查",
            evidence={"events": [{"ts": e.ts.isoformat(), "kind": e.kind, "phase": e.phase} for e in evs[-10:]]}))
    return found


# ------------------------------------------------------------------ alerts

def record(*, session: Session, alert: Alert, action: str, now: datetime, note: str | None = None,
           actor: str = "system") -> None:
    """One line of what was done about the alert."""
    session.add(AlertAction(alert_id=alert.id, at=now, actor=actor, action=action, note=note))


def get(*, session: Session, alert_id: int) -> Alert | None:
    """The alert with this id."""
    return session.get(Alert, alert_id)


def get_open(*, session: Session, key: str) -> Alert | None:
    """The active alert with this key."""
    return session.scalar(select(Alert).where(Alert.open_key == key))


def raise_alert(*, session: Session, detection: Detection, policy: Policy, now: datetime,
                t: Thresholds) -> tuple[Alert, bool]:
    """The active alert for this detection: the open one, one cleared moments ago (a flap) reopened, or a
    new one. True when it is new (its policy still has to be applied)."""
    alert = get_open(session=session, key=detection.key)
    if alert is not None:
        return alert, False
    recent = session.scalar(select(Alert).where(
        Alert.kind == detection.kind, Alert.subject == detection.subject, Alert.status == "cleared",
        Alert.cleared_at >= now - t.flap_window).order_by(Alert.id.desc()).limit(1))
    if recent is not None:
        recent.status, recent.open_key, recent.cleared_at = "active", detection.key, None
        record(session=session, alert=recent, action="reopened", now=now, note="清除后很快再次出现，按同一告警处理")
        session.flush()
        return recent, False
    alert = Alert(kind=detection.kind, subject=detection.subject, open_key=detection.key, status="active",
                  district=detection.district, transformer_area_id=detection.transformer_area_id,
                  feeder_id=detection.feeder_id, meter_id=detection.meter_id, started_at=detection.started_at,
                  detected_at=now, summary=detection.summary, evidence=detection.evidence,
                  policy=policy.describe(), customers_notified=0)
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:  # another process raised it first
        existing = get_open(session=session, key=detection.key)
        if existing is None:
            raise
        return existing, False
    record(session=session, alert=alert, action="detected", now=now, note=detection.summary)
    return alert, True


def clear(*, session: Session, alert: Alert, now: datetime, note: str, merged: bool = False) -> None:
    """The condition is over, or (merged) a larger alert covers it: a household inside an area outage."""
    alert.status, alert.open_key, alert.cleared_at = ("merged" if merged else "cleared"), None, now
    record(session=session, alert=alert, action="merged" if merged else "cleared", now=now, note=note)


def list_active(*, session: Session, kinds: Iterable[str] | None = None,
                area_ids: Iterable[int] | None = None) -> builtins.list[Alert]:
    """Active alerts, optionally of some kinds or areas."""
    query = select(Alert).where(Alert.status == "active")
    if kinds is not None:
        query = query.where(Alert.kind.in_(builtins.list(kinds)))
    if area_ids is not None:
        query = query.where(Alert.transformer_area_id.in_(builtins.list(area_ids)))
    return builtins.list(session.scalars(query.order_by(Alert.id)))


def list(*, session: Session, since: datetime | None = None, status: str | None = None,
         kind: str | None = None, limit: int = 100) -> builtins.list[Alert]:
    """The feed, newest first: every active alert, however old, and the others detected since `since`."""
    query = select(Alert)
    if since is not None:
        query = query.where(or_(Alert.status == "active", Alert.detected_at >= since))
    if status:
        query = query.where(Alert.status == status)
    if kind:
        query = query.where(Alert.kind == kind)
    return builtins.list(session.scalars(query.order_by(Alert.detected_at.desc(), Alert.id.desc()).limit(limit)))


def count_active(*, session: Session, kind: str | None = None) -> int:
    """Active alerts (of one kind)."""
    query = select(func.count()).select_from(Alert).where(Alert.status == "active")
    return session.scalar(query.where(Alert.kind == kind) if kind else query) or 0


def to_read(alert: Alert) -> AlertRead:
    """The feed's view of an alert."""
    return AlertRead(
        id=alert.id, kind=alert.kind, kind_label=KIND_LABELS.get(alert.kind, alert.kind), subject=alert.subject,
        status=alert.status, district=alert.district, started_at=alert.started_at, detected_at=alert.detected_at,
        cleared_at=alert.cleared_at, summary=alert.summary, evidence=alert.evidence, policy=alert.policy,
        ticket_number=alert.ticket_number, customers_notified=alert.customers_notified,
        actions=[AlertActionRead(at=a.at, actor=a.actor, action=a.action, note=a.note) for a in alert.actions])


def announced(*, session: Session, notice_no: str, step: str) -> bool:
    """Whether this planned-outage announcement went out already."""
    return session.scalar(select(PlannedNotice.id).where(PlannedNotice.notice_no == notice_no,
                                                         PlannedNotice.step == step)) is not None


def mark_announced(*, session: Session, notice_no: str, step: str, customers: int, now: datetime) -> None:
    """Record an announcement (unique per notice and step: a second worker's attempt fails the insert)."""
    session.add(PlannedNotice(notice_no=notice_no, step=step, at=now, customers=customers))
    session.flush()
