"""Proactive service (主动服务): the meters' data → detections → alerts → tickets, crews and notices.

metering (who has supply, the areas' hours, meter faults) → monitoring (rules, policies, alerts)
→ tickets (a ticket the later customer reports attach to) → dispatch (a crew at once, or a
supervisor decides) → notify (the area's customers on their chat or by SMS; the supervisors).
Runs on arrival of data (the intake routes) and every minute in the worker (confirmations that need
time to pass, and data that stopped coming).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.conversations import service as conversations
from api.core.errors import NotFound
from api.core.ids import chat_address
from api.core.security import sign, signature_ok
from api.customers import service as customers
from api.customers.models import Customer
from api.flows import load_forecasting
from api.flows.dispatching import dispatch_new
from api.metering import service as metering
from api.metering.models import TransformerArea
from api.monitoring import service as monitoring
from api.monitoring.models import Alert
from api.monitoring.service import Detection, Policy, Thresholds
from api.notify import messages
from api.notify import service as notify
from api.outages import service as outages
from api.settings import Settings
from api.tickets import service as tickets
from api.tickets.schemas import DetectedTicketCreate, TicketCustomer

OUTAGE_KINDS = ("area_outage", "feeder_outage", "household_outage")
CAUSES = {"area_outage": "台区变压器或低压线路故障", "feeder_outage": "10kV线路故障"}
CHAT_LIVE = timedelta(minutes=30)  # a chat active this recently is where the customer is reading
WORKING = ("已派单", "已接单")  # the crew is on the way: restoration is for them to verify on site


def thresholds(settings: Settings) -> Thresholds:
    """The detection thresholds of this deployment."""
    return Thresholds(
        area_outage_share=settings.area_outage_share,
        area_outage_window=timedelta(minutes=settings.proactive_outage_window_minutes),
        area_outage_min_meters=settings.proactive_outage_min_meters,
        household_confirm=timedelta(minutes=settings.proactive_household_confirm_minutes),
        low_volts=settings.low_voltage_volts)


def run(*, session: Session, settings: Settings, now: datetime, area_ids: list[int] | None = None) -> int:
    """Look at the areas (all when None) as their data stands at `now`; returns how many alerts were raised."""
    t = thresholds(settings)
    rules = monitoring.policies(settings.proactive_policies)
    areas = {a.id: a for a in metering.list_areas(session=session)
             if area_ids is None or a.id in set(area_ids)}
    if not areas:
        return 0
    ids = list(areas)
    raised = 0
    raised += _supply(session=session, settings=settings, now=now, areas=areas, t=t, rules=rules)
    raised += _feeders(session=session, settings=settings, now=now, t=t, rules=rules)
    raised += _readings(session=session, settings=settings, now=now, areas=areas, t=t, rules=rules)
    raised += _meter_faults(session=session, settings=settings, now=now, areas=areas, ids=ids, rules=rules)
    if area_ids is None:  # the periodic pass: forecasts do not change with one batch of data
        raised += _forecast_overloads(session=session, settings=settings, now=now, areas=areas, t=t, rules=rules)
    session.commit()
    return raised


def run_for_meters(*, session: Session, settings: Settings, now: datetime, meter_ids: list[int]) -> int:
    """Detection on arrival: the areas of the meters a batch brought data for."""
    if not meter_ids:
        return 0
    return run(session=session, settings=settings, now=now,
               area_ids=metering.area_ids_of_meters(session=session, meter_ids=meter_ids))


# ------------------------------------------------------------------ supply: area and household outages

def _planned_now(session: Session, area: TransformerArea, now: datetime) -> bool:
    return any(outages.running(notice=n, now=now) for n in outages.list_notices(
        session=session, now=now, transformer_area_id=area.id, feeder_id=area.feeder_id, days_ahead=0))


def _without_phase_faults(*, session: Session, supply: dict[int, list[metering.MeterSupply]], now: datetime,
                          lookback: timedelta) -> dict[int, list[metering.MeterSupply]]:
    """The meters' supply with a three-phase meter's one- or two-phase 失压 taken for what it is, a metering
    fault (api.metering's list_fault_events, raised as meter_fault), not a loss of supply: such a meter is off
    only since a real loss (停电, 失压 on every phase) after its last 上电, if any."""
    off = [m.meter_id for ms in supply.values() for m in ms if m.off_since is not None]
    if not off:
        return supply
    faults = {(e.meter_id, e.ts) for i in range(0, len(off), 900)  # under SQLite's bound-parameter limit
              for e in metering.list_fault_events(session=session, meter_ids=off[i:i + 900], start=now - lookback,
                                                  end=now) if e.kind == "失压"}
    if not faults:
        return supply

    def real_loss(meter_id: int) -> datetime | None:
        since = None
        events = metering.list_events(session=session, meter_id=meter_id, start=now - lookback, end=now)
        for e in sorted(events, key=lambda e: (e.ts, e.kind == metering.RESTORE_KIND)):  # 上电 wins a tie
            if e.kind == metering.RESTORE_KIND:
                since = None
            elif e.kind in metering.LOSS_KINDS and (e.meter_id, e.ts) not in faults:
                since = since or e.ts
        return since

    return {area_id: [replace(m, off_since=real_loss(m.meter_id)) if (m.meter_id, m.off_since) in faults else m
                      for m in ms] for area_id, ms in supply.items()}


def _supply(*, session, settings, now, areas, t, rules) -> int:
    supply = _without_phase_faults(session=session, now=now, lookback=t.lookback, supply=metering.meter_supply(
        session=session, now=now, lookback=t.lookback, area_ids=list(areas)))
    active = defaultdict(dict)
    for alert in monitoring.list_active(session=session, kinds=("area_outage", "household_outage"),
                                        area_ids=list(areas)):
        active[alert.transformer_area_id][alert.subject] = alert
    raised = 0
    for area_id, area in areas.items():
        meters = supply.get(area_id, [])
        off = [m for m in meters if m.off_since is not None]
        area_alert = active[area_id].get(area.code) if active[area_id] else None
        area_alert = area_alert if area_alert is not None and area_alert.kind == "area_outage" else None
        if area_alert is not None:
            if monitoring.area_restored(off=len(off), total=len(meters), t=t):
                _restore(session=session, settings=settings, alert=area_alert, now=now,
                         note=f"{len(meters) - len(off)}/{len(meters)}户表计已上电")
            continue
        if off and _planned_now(session, area, now):
            continue  # a planned outage: announced in advance, no repair needed
        found = monitoring.area_outage(area=area, off_times=[m.off_since for m in off], total=len(meters), t=t)
        if found is not None:
            raised += _raise(session=session, settings=settings, detection=found, rules=rules, now=now, t=t)
            for alert in [a for a in active[area_id].values() if a.kind == "household_outage"]:
                _merge(session=session, alert=alert, into=monitoring.get_open(session=session, key=found.key), now=now)
            continue
        households = {a.subject: a for a in active[area_id].values() if a.kind == "household_outage"}
        for meter in meters:
            alert = households.get(meter.meter_no)
            if meter.off_since is None:
                if alert is not None:
                    _restore(session=session, settings=settings, alert=alert, now=now, note="表计已上电")
                continue
            found = monitoring.household_outage(area=area, meter=meter, now=now, t=t)
            if found is not None and alert is None:
                raised += _raise(session=session, settings=settings, detection=found, rules=rules, now=now, t=t)
    return raised


def _feeders(*, session, settings, now, t, rules) -> int:
    by_feeder: dict[int, list[Alert]] = defaultdict(list)
    for alert in monitoring.list_active(session=session, kinds=("area_outage",)):
        by_feeder[alert.feeder_id].append(alert)
    raised = 0
    open_feeders = {a.feeder_id: a for a in monitoring.list_active(session=session, kinds=("feeder_outage",))}
    for feeder in metering.list_feeders(session=session):
        found = monitoring.feeder_outage(feeder=feeder, areas=by_feeder.get(feeder.id, []), t=t)
        if found is not None and feeder.id not in open_feeders:
            raised += _raise(session=session, settings=settings, detection=found, rules=rules, now=now, t=t)
        elif found is None and feeder.id in open_feeders and not by_feeder.get(feeder.id):
            _restore(session=session, settings=settings, alert=open_feeders[feeder.id], now=now,
                     note="线路各台区均已恢复供电")
    return raised


# ------------------------------------------------------------------ readings: voltage, overload, imbalance

def _readings(*, session, settings, now, areas, t, rules) -> int:
    span = max(t.sustained_hours, t.overload_hours) + 1
    hours = metering.area_hours(session=session, area_ids=list(areas), start=now - timedelta(hours=span + 1),
                                end=now, low_volts=t.low_volts, high_volts=t.high_volts)
    kinds = ("low_voltage", "high_voltage", "overload", "imbalance")
    active = {(a.kind, a.subject): a for a in monitoring.list_active(session=session, kinds=kinds,
                                                                       area_ids=list(areas))}
    raised = 0
    for area_id, area in areas.items():
        series = hours.get(area_id, [])
        if not series or now - series[-1].ts > timedelta(hours=3):
            continue  # no recent readings: nothing to conclude either way
        found = {d.kind: d for d in [*monitoring.voltage(area=area, hours=series, t=t),
                                     monitoring.overload(area=area, hours=series, t=t),
                                     monitoring.imbalance(area=area, hours=series, t=t)] if d is not None}
        for kind in kinds:
            alert = active.get((kind, area.code))
            if kind in found and alert is None:
                raised += _raise(session=session, settings=settings, detection=found[kind], rules=rules, now=now, t=t)
            elif kind not in found and alert is not None:
                _restore(session=session, settings=settings, alert=alert, now=now, note="最近一小时数据已恢复正常")
    return raised


def _meter_faults(*, session, settings, now, areas, ids, rules) -> int:
    supply = metering.meter_supply(session=session, now=now, lookback=timedelta(0), area_ids=ids)
    meter_nos = {m.meter_id: m.meter_no for ms in supply.values() for m in ms}
    area_of = {m.meter_id: m.transformer_area_id for ms in supply.values() for m in ms}
    events = metering.list_fault_events(session=session, meter_ids=list(meter_nos), start=now - timedelta(hours=24),
                                        end=now)
    by_area = defaultdict(list)
    for e in events:
        by_area[area_of[e.meter_id]].append(e)
    active = {a.subject: a for a in monitoring.list_active(session=session, kinds=("meter_fault",), area_ids=ids)}
    raised, still = 0, set()
    for area_id, evs in by_area.items():
        for found in monitoring.meter_faults(area=areas[area_id], events=evs, meter_nos=meter_nos):
            still.add(found.subject)
            if found.subject not in active:
                raised += _raise(session=session, settings=settings, detection=found, rules=rules, now=now,
                                 t=thresholds(settings))
    for subject, alert in active.items():
        if subject not in still:  # its held ticket is closed: nobody needs to go
            _restore(session=session, settings=settings, alert=alert, now=now, note="24小时内未再报故障事件")
    return raised


def _forecast_overloads(*, session, settings, now, areas, t, rules) -> int:
    """Areas forecast above capacity in the next 48 h, from the forecasts already made (none are made here)."""
    warnings = {w.area_code: w for w in load_forecasting.overload_warnings(session=session, now=now, threshold=1.0,
                                                                          refresh=False)}
    active = {a.subject: a for a in monitoring.list_active(session=session, kinds=("overload_forecast",))}
    raised = 0
    for area in areas.values():
        found = monitoring.overload_forecast(area=area, warning=warnings.get(area.code))
        if found is not None and area.code not in active:
            raised += _raise(session=session, settings=settings, detection=found, rules=rules, now=now, t=t)
        elif found is None and area.code in active:
            monitoring.clear(session=session, alert=active[area.code], now=now, note="最新预测已不超过容量")
    return raised


# ------------------------------------------------------------------ policies in action

def _raise(*, session, settings, detection: Detection, rules: dict[str, Policy], now, t) -> int:
    policy = rules[detection.kind]
    alert, new = monitoring.raise_alert(session=session, detection=detection, policy=policy, now=now, t=t)
    if not new:
        return 0
    done = []
    if policy.ticket_type:
        ticket = _open_ticket(session=session, alert=alert, detection=detection, policy=policy, now=now)
        alert.ticket_number = ticket.number
        monitoring.record(session=session, alert=alert, action="ticket", now=now, note=f"开工单 {ticket.number}")
        if policy.dispatch == "at_once":
            sent = dispatch_new(session=session, number=ticket.number, now=now)
            crew = tickets.get_by_number(session=session, number=ticket.number).crew if sent else None
            note = f"已派单给{crew.name}（{crew.id}）" if crew else "暂无可接单班组，已进入待派队列"
            monitoring.record(session=session, alert=alert, action="dispatched" if crew else "queued", now=now,
                              note=note)
            done.append(note)
        else:
            row = tickets.get_for_update(session=session, number=ticket.number)
            tickets.transition(session=session, ticket=row, action="suspend", actor="system:monitoring", now=now,
                               note="主动发现，待值班长确认后派单")
            monitoring.record(session=session, alert=alert, action="held", now=now, note="工单挂起，待值班长确认后派单")
            done.append("工单已挂起待值班长确认")
    if policy.notify_customers:
        count = _notify_outage(session=session, settings=settings, alert=alert, now=now)
        alert.customers_notified = count
        monitoring.record(session=session, alert=alert, action="notified", now=now, note=f"已通知{count}户客户")
        done.append(f"已通知{count}户客户")
    if policy.notify_supervisors:
        body = messages.supervisor_alert(label=monitoring.KIND_LABELS[alert.kind], summary=alert.summary,
                                         ticket_number=alert.ticket_number, done="，".join(done) or "仅告警")
        for mobile in settings.supervisor_mobiles:
            notify.enqueue(session=session, key=f"alert:{alert.id}:supervisor:{mobile}", channel="sms",
                           recipient=mobile, audience="supervisor", body=body, now=now)
    session.commit()
    return 1


def _open_ticket(*, session, alert: Alert, detection: Detection, policy: Policy, now):
    area = (metering.get_area(session=session, transformer_area_id=detection.transformer_area_id)
            if detection.transformer_area_id else None)
    feeder = metering.get_feeder(session=session, feeder_id=detection.feeder_id) if detection.feeder_id else None
    customer = None
    if detection.kind == "household_outage":
        row = customers.get(session=session, customer_id=detection.evidence["customer_id"])
        customer = TicketCustomer.model_validate(row) if row else None
    where = (customer.address if customer else
             f"{area.district}{area.town}{area.name}" if area else f"{feeder.district}{feeder.name}")
    crew_note = {"area_outage": "台区大面积停电：先查台区变压器、跌落式熔断器和低压出线",
                 "feeder_outage": "10kV线路停电：巡线查找故障点，联系变电站",
                 "household_outage": "单户停电：先电话联系客户确认是否户内开关跳闸，再查表前开关和接户线",
                 "low_voltage": "持续低电压：查台区出口电压、分接头和线路末端",
                 "high_voltage": "持续高电压：查变压器分接头位置",
                 "overload": "台区过载：查变压器温度和负荷，必要时调整负荷或轮换供电",
                 "imbalance": "三相不平衡：调整单相用户接入相别",
                 "meter_fault": "电能表或接线故障：现场校验电能表和计量回路"}[detection.kind]
    return tickets.create_detected_ticket(session=session, now=now, data=DetectedTicketCreate(
        type=policy.ticket_type, priority=policy.priority, diagnosis_code=detection.kind, summary=detection.summary[:200],
        crew_note=crew_note, address_text=where[:256], district=detection.district,
        area_class=(area.area_class if area else customer.area_class if customer else "农村"),
        lat=area.lat if area else None, lon=area.lon if area else None,
        transformer_area_id=detection.transformer_area_id, customer=customer,
        evidence={"detection": detection.kind, **detection.evidence}, idempotency_key=f"alert:{alert.id}"))


def _affected(session: Session, alert: Alert) -> list[Customer]:
    if alert.kind == "household_outage":
        row = customers.get(session=session, customer_id=alert.evidence["customer_id"])
        return [row] if row else []
    if alert.transformer_area_id is None:
        return []
    return customers.list_in_areas(session=session, transformer_area_ids=[alert.transformer_area_id])


def _place(session: Session, alert: Alert) -> str:
    area = metering.get_area(session=session, transformer_area_id=alert.transformer_area_id)
    return f"您所在的{area.town}{area.name}" if area else "您所在区域"


def _send(session: Session, *, alert: Alert, step: str, body_for, now: datetime) -> int:
    """One notice per customer and step: on the customer's open web chat, else on WeChat when they bound the
    account there, else by SMS."""
    people = _affected(session, alert)
    accounts = [c.account_no for c in people]
    chats = conversations.live_for_accounts(session=session, account_nos=accounts, since=now - CHAT_LIVE)
    bound = customers.chat_users_of(session=session, account_nos=accounts)
    for customer in people:
        _notify(session, customer, key=f"alert:{alert.id}:{step}:{customer.id}", body=body_for(customer),
                web_chat=chats.get(customer.account_no), wechat=bound.get(customer.account_no), now=now)
    return len(people)


def _notify(session: Session, customer: Customer, *, key: str, body: str, web_chat: str | None,
            wechat: str | None, now: datetime) -> None:
    """A notice to one customer where they read: their open web chat, the WeChat user who bound the 户号 (a
    template message outside the 48-hour window, else SMS: the outbox worker decides), or SMS."""
    if web_chat or wechat:
        channel, recipient = ("web", web_chat) if web_chat else chat_address(wechat)
        notify.enqueue(session=session, key=key, channel=channel, recipient=recipient, audience="customer",
                       body=body.removeprefix(messages.SIGN), now=now)
    elif customer.mobile:
        notify.enqueue(session=session, key=key, channel="sms", recipient=customer.mobile, audience="customer",
                       body=body, now=now)


def expected_restoration(*, session: Session, alert: Alert, settings: Settings) -> datetime | None:
    """When supply should be back: the crew's arrival commitment plus the usual repair time."""
    if not alert.ticket_number:
        return None
    ticket = tickets.get_by_number(session=session, number=alert.ticket_number)
    arrive = ticket.crew_eta or ticket.sla.arrive_by
    return arrive + timedelta(minutes=settings.outage_repair_minutes) if arrive else None


def _notify_outage(*, session, settings: Settings, alert: Alert, now) -> int:
    if alert.kind == "household_outage":
        since = alert.started_at
        return _send(session, alert=alert, step="outage", now=now,
                     body_for=lambda c: messages.household_outage_notice(account_no=c.account_no, since=since))
    ticket = tickets.get_by_number(session=session, number=alert.ticket_number) if alert.ticket_number else None
    dispatched = ticket is not None and ticket.crew is not None
    expected = expected_restoration(session=session, alert=alert, settings=settings)
    place = _place(session, alert)
    return _send(session, alert=alert, step="outage", now=now, body_for=lambda c: messages.outage_notice(
        place=place, since=alert.started_at, cause=CAUSES.get(alert.kind, "线路故障"), dispatched=dispatched,
        expected_by=expected, link=notice_link(settings=settings, alert_id=alert.id, customer_id=c.id)))


def _notice_value(alert_id: int, customer_id: int) -> str:
    return f"{alert_id}.{customer_id}"


def notice_link(*, settings: Settings, alert_id: int, customer_id: int) -> str:
    """The web chat link in an outage notice: opening it greets the customer with this outage."""
    value = _notice_value(alert_id, customer_id)
    return f"{settings.public_base_url.rstrip('/')}/?n={value}.{sign(value, secret=settings.staff_secret)}"


def greeting(*, session: Session, settings: Settings, token: str, conversation_id: str, now: datetime) -> str:
    """The outage a notice link names, in the words the chat opens with (kept in the conversation);
    NotFound for a link that is not ours (forged, garbled)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]) or not signature_ok(
            _notice_value(int(parts[0]), int(parts[1])), parts[2], secret=settings.staff_secret):
        raise NotFound("notice_not_found", "这个通知链接无效或已过期")
    alert = monitoring.get(session=session, alert_id=int(parts[0]))
    if alert is None:
        raise NotFound("notice_not_found", "这个通知链接无效或已过期")
    ticket = tickets.get_by_number(session=session, number=alert.ticket_number) if alert.ticket_number else None
    text = messages.outage_greeting(
        place=_place(session, alert) if alert.kind != "household_outage" else "您家",
        since=alert.started_at, status=ticket.status if ticket else "处理中",
        expected_by=expected_restoration(session=session, alert=alert, settings=settings),
        restored_at=alert.cleared_at)
    conversations.get_or_create(session=session, conversation_id=conversation_id, channel="web", now=now)
    conversations.record_notice(session=session, conversation_id=conversation_id, text=text, now=now)
    session.commit()
    return text


def _merge(*, session, alert: Alert, into: Alert | None, now) -> None:
    """A household found without supply turns out to be part of its area's outage: the area's ticket covers it."""
    number = into.ticket_number if into else None
    monitoring.clear(session=session, alert=alert, now=now, merged=True,
                     note=f"并入台区停电告警（工单{number}）" if number else "并入台区停电告警")
    if alert.ticket_number:
        ticket = tickets.get_for_update(session=session, number=alert.ticket_number)
        if ticket.status in ("新建", "挂起", "退单"):
            tickets.transition(session=session, ticket=ticket, action="cancel", actor="system:monitoring", now=now,
                               note=f"并入台区停电工单 {number}" if number else "并入台区停电处理")
    session.commit()


def _restore(*, session, settings, alert: Alert, now, note: str) -> None:
    """The condition is over: the alert clears, its ticket moves on, the customers told hear it is back."""
    monitoring.clear(session=session, alert=alert, now=now, note=note)
    back = "已恢复供电" if alert.kind in OUTAGE_KINDS else "已恢复正常"
    if alert.ticket_number:
        ticket = tickets.get_for_update(session=session, number=alert.ticket_number)
        if ticket.status in ("新建", "挂起", "退单"):  # nobody went: it cleared by itself
            tickets.transition(session=session, ticket=ticket, action="cancel", actor="system:monitoring", now=now,
                               note=f"派单前已自行恢复（{note}）")
            monitoring.record(session=session, alert=alert, action="closed", now=now, note="派单前已自行恢复，工单撤销")
        elif ticket.status in WORKING:
            tickets.add_event(session=session, ticket=ticket, actor="system:monitoring", now=now, action="监测恢复",
                              note=f"监测到{back}（{note}），请到场核实后处理完成")
            monitoring.record(session=session, alert=alert, action="restored", now=now,
                              note="工单待抢修人员到场核实")
        elif ticket.status == "已到达":
            tickets.transition(session=session, ticket=ticket, action="resolve", actor="system:monitoring", now=now,
                               note=f"监测到{back}（{note}）")
            monitoring.record(session=session, alert=alert, action="restored", now=now, note="工单处理完成，待回访")
    if alert.customers_notified and alert.kind in ("area_outage", "household_outage"):
        place = _place(session, alert) if alert.kind == "area_outage" else "您家"
        _send(session, alert=alert, step="restored", now=now,
              body_for=lambda c: messages.restored_notice(place=place, at=now))
        monitoring.record(session=session, alert=alert, action="notified", now=now, note="已发送恢复供电通知")
    session.commit()


# ------------------------------------------------------------------ planned outages announced ahead

ANNOUNCE = {"day_before": timedelta(hours=24), "hour_before": timedelta(hours=1)}


def announce_planned(*, session: Session, now: datetime) -> int:
    """Announce each planned outage to its customers the day before and an hour before; returns notices sent."""
    sent = 0
    for notice in outages.list_notices(session=session, now=now, days_ahead=2):
        if notice.start_at <= now:
            continue
        step = "hour_before" if notice.start_at - now <= ANNOUNCE["hour_before"] else (
            "day_before" if notice.start_at - now <= ANNOUNCE["day_before"] else None)
        if step is None or monitoring.announced(session=session, notice_no=notice.notice_no, step=step):
            continue
        area_ids = ([notice.transformer_area_id] if notice.transformer_area_id else
                    [a.id for a in metering.list_areas(session=session) if a.feeder_id == notice.feeder_id])
        people = customers.list_in_areas(session=session, transformer_area_ids=area_ids)
        body = messages.planned_outage_notice(step=step, scope=notice.scope, start=notice.start_at,
                                              end=notice.end_at, reason=notice.reason)
        bound = customers.chat_users_of(session=session, account_nos=[c.account_no for c in people])
        for customer in people:
            _notify(session, customer, key=f"planned:{notice.notice_no}:{step}:{customer.id}", body=body,
                    web_chat=None, wechat=bound.get(customer.account_no), now=now)
        monitoring.mark_announced(session=session, notice_no=notice.notice_no, step=step, customers=len(people),
                                  now=now)
        session.commit()
        sent += len(people)
    return sent
