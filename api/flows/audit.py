"""Audit work across domains.

metering + customers + billing (the stored data) → audit rules → findings; a published theme → one
稽查任务 ticket per customer, dispatched to a 用电检查 crew like any ticket; a customer's report of
theft → a lead ticket; the crew's result → the ticket resolved and the audit labels kept.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit import lineloss, rules, scoring
from api.audit import service as audit
from api.audit.models import AuditTask
from api.audit.schemas import (
    FindingPage,
    LeadCreate,
    LineLossRead,
    LineLossRow,
    PublishSummary,
    RankedCustomer,
    ScanSummary,
    TaskRead,
    TaskResultCreate,
)
from api.core.deps import StaffRead, actor_name
from api.core.errors import Forbidden
from api.core.time import local_day, local_midnight
from api.customers import service as customers
from api.flows import audit_scan
from api.flows.ticket_intake import create_ticket
from api.flows.ticket_work import notify_customer
from api.metering import service as metering
from api.tickets import service as tickets
from api.tickets.models import Ticket
from api.tickets.schemas import AuditTicketCreate

SEVERE_PRIORITY = {"high": 2, "medium": 3, "low": 3}


def places(*, session: Session, customer_ids: list[int]) -> dict[int, tuple]:
    """customer id → (account_no, name, district, area code, class, mobile, address)."""
    found = customers.get_many(session=session, customer_ids=customer_ids)
    area_codes = {a.id: a.code for a in metering.list_areas(session=session)}
    return {cid: (c.account_no, c.name, c.district, area_codes.get(c.transformer_area_id, ""), c.customer_class,
                  c.mobile, c.address) for cid, c in found.items()}


def scan_stored(*, session: Session, start: datetime, end: datetime, now: datetime,
                thresholds: rules.Thresholds | None = None, score_days: int = 0) -> ScanSummary:
    """Run every rule over the stored metering data of [start, end) and keep what they find; with
    score_days, the theft score over that many days of daily energy too."""
    started = time.monotonic()
    frames = audit_scan.load_frames(session=session, start=start, end=end)
    result = rules.scan(frames.customers, frames.readings, frames.events, frames.bills, thresholds=thresholds)
    by_account = customers.ids_by_account_no(session=session, account_nos=sorted({f.customer_id for f in result.findings}))
    where = places(session=session, customer_ids=list(by_account.values()))
    kept = []
    for f in result.findings:
        cid = by_account.get(f.customer_id)
        if cid is None:
            continue
        account_no, _, district, area_code, customer_class, _, _ = where[cid]
        kept.append(audit.FindingIn(customer_id=cid, account_no=account_no, district=district, area_code=area_code,
                                    customer_class=customer_class, rule=f.rule, severity=f.severity, start=f.start,
                                    end=f.end, evidence=f.evidence))
    if score_days:
        kept += score_stored(session=session, end=end, days=score_days, now=now)
    new = audit.record_findings(session=session, findings=kept, now=now)
    return ScanSummary(start=start, end=end, customers=len(frames.customers), findings=len(kept), new=new,
                       by_rule=dict(Counter(f.rule for f in kept)), disabled=dict(result.disabled),
                       seconds=round(time.monotonic() - started, 2))


def score_stored(*, session: Session, end: datetime, days: int, now: datetime) -> list[audit.FindingIn]:
    """The theft score over the last `days` local days of daily energy, learning from the kept labels;
    the most suspicious customers (audit.THEFT_SCORE_MIN and the top audit.THEFT_SCORE_SHARE) become findings."""
    last = local_day(end) - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    rows = metering.daily_kwh_all(session=session, start=first, end=last)
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["cid", "meter", "day", "kwh"])
    wide = frame.pivot_table(index="cid", columns="day", values="kwh", aggfunc="sum")
    wide = wide.reindex(columns=[first + timedelta(days=i) for i in range(days)])
    wide = wide.loc[:, wide.notna().any(axis=0)]  # days before the data began say nothing
    if wide.shape[1] < 28 or len(wide) < 20:  # too short or too few to compare customers with peers
        return []
    known = audit.labels(session=session, rule="theft_score")
    table = wide.copy()
    table.columns = [d.isoformat() for d in table.columns]
    table.insert(0, "customer_id", table.index.astype(str))
    table.insert(1, "label", [known.get(int(cid), np.nan) for cid in table.index])
    ranked = scoring.score_frame(table, id_column="customer_id", label_column="label")
    cut = max(1, int(round(len(ranked) * audit.THEFT_SCORE_SHARE)))
    top = ranked[(ranked["score"] >= audit.THEFT_SCORE_MIN) & (ranked["rank"] <= cut)]
    where = places(session=session, customer_ids=[int(c) for c in top["customer_id"]])
    start = local_midnight(wide.columns[0])
    found = []
    for item in top.itertuples():
        cid = int(item.customer_id)
        account_no, _, district, area_code, customer_class, _, _ = where[cid]
        series = wide.loc[cid]
        found.append(audit.FindingIn(
            customer_id=cid, account_no=account_no, district=district, area_code=area_code,
            customer_class=customer_class, rule="theft_score",
            severity="high" if item.score >= audit.THEFT_SCORE_HIGH else "medium",
            start=start, end=local_midnight(last + timedelta(days=1)), score=round(float(item.score), 4),
            evidence={"score": round(float(item.score), 3), "rank": int(item.rank), "customers": len(ranked),
                      "reasons": list(item.reasons),
                      "series": [{"name": "日用电量", "unit": "kWh", "points": [
                          [local_midnight(d).isoformat(), None if pd.isna(v) else round(float(v), 2)]
                          for d, v in series.items()]}]}))
    return found


def findings_page(*, session: Session, limit: int, offset: int, **filters) -> FindingPage:
    """Findings with the customer's name and the theme/task they went to."""
    total, rows = audit.list_findings(session=session, limit=limit, offset=offset, **filters)
    names = {cid: p[1] for cid, p in places(session=session, customer_ids=[r.customer_id for r in rows]).items()}
    themes = {t.id: t.number for t in audit.list_themes(session=session)}
    tasks = {fid: t.ticket_number for t in audit.list_tasks(session=session) for fid in t.finding_ids}
    return FindingPage(total=total, items=[
        audit.finding_read(r, customer_name=names.get(r.customer_id, ""), theme_number=themes.get(r.theme_id),
                           task_number=tasks.get(r.id)) for r in rows])


def publish_theme(*, session: Session, number: str, caller: StaffRead, parser, now: datetime) -> PublishSummary:
    """A supervisor publishes an approved theme: each customer in scope gets a 稽查任务, dispatched at once."""
    theme = audit.get_theme(session=session, number=number)
    actor = actor_name(caller)
    audit.transition_theme(session=session, theme=theme, action="publish", actor=actor, role=caller.role, now=now)
    plans = audit.plan_tasks(session=session, theme=theme)
    where = places(session=session, customer_ids=[p.customer_id for p in plans])
    created: list[str] = []
    for plan in plans:
        account_no, _, _, _, _, mobile, address = where[plan.customer_id]
        priority = min(SEVERE_PRIORITY.get(f.severity, 3) for f in plan.findings)
        data = AuditTicketCreate(
            account_no=account_no, phone=mobile, address_text=address, description=plan.description()[:1000],
            subject=theme.title[:64], priority=priority, actor=actor,
            audit={"audit_source": "theme", "theme": theme.number, "rules": sorted({f.rule for f in plan.findings})},
            idempotency_key=f"audit:{theme.number}:{account_no}")
        ticket = create_ticket(session=session, data=data, parser=parser, now=now)
        row = tickets.get_for_update(session=session, number=ticket.number)
        audit.create_task(session=session, ticket_id=row.id, ticket_number=row.number, theme=theme,
                          customer_id=plan.customer_id, account_no=account_no, findings=plan.findings,
                          source="theme", actor=actor, now=now)
        created.append(ticket.number)
    session.commit()
    return PublishSummary(theme=audit.theme_read(session=session, theme=theme, role=caller.role),
                          tasks_created=created)


def report_lead(*, session: Session, data: LeadCreate, parser, now: datetime, actor: str) -> TaskRead:
    """Someone reports theft or illegal wiring: a 稽查任务 lead for 用电检查 (not a repair), the reporter kept informed."""
    ticket = create_ticket(session=session, parser=parser, now=now, data=AuditTicketCreate(
        phone=data.phone, account_no=data.account_no, address_text=data.address_text, channel=data.channel,
        conversation_id=data.conversation_id, description=f"群众举报：{data.description}", subject="窃电/违约用电举报",
        priority=2, actor=actor, audit={"audit_source": "customer_report"},
        idempotency_key=f"lead:{data.idempotency_key}" if data.idempotency_key else None))
    row = tickets.get_for_update(session=session, number=ticket.number)
    task = session.query(AuditTask).filter(AuditTask.ticket_id == row.id).one_or_none()
    if task is None:  # not a retry of the same report
        try:
            with session.begin_nested():
                task = audit.create_task(session=session, ticket_id=row.id, ticket_number=row.number, theme=None,
                                         customer_id=None, account_no=None, findings=[],
                                         source="customer_report", actor=actor, now=now)
            session.commit()
        except IntegrityError:  # a retry of the same report created the task first: answer with that one
            session.rollback()
            task = session.query(AuditTask).filter(AuditTask.ticket_id == row.id).one()
    return task_view(session=session, task=task, now=now)


def task_for(*, session: Session, number: str, caller: StaffRead | str) -> tuple[AuditTask, Ticket]:
    """The task and its ticket; a crew account reaches only its own crew's tasks (others: not found)."""
    task = audit.get_task(session=session, number=number)
    ticket = tickets.get_for_update(session=session, number=task.ticket_number)
    if not isinstance(caller, str) and caller.role == "crew" and (not caller.crew_id or ticket.crew_id != caller.crew_id):
        raise audit.TaskNotFound(number)
    return task, ticket


def task_view(*, session: Session, task: AuditTask, now: datetime, ticket: Ticket | None = None) -> TaskRead:
    """A task with its ticket's state and the customer's name."""
    ticket = ticket or tickets.get_for_update(session=session, number=task.ticket_number)
    name = None
    if task.customer_id is not None:
        customer = customers.get(session=session, customer_id=task.customer_id)
        name = customer.name if customer else None
    return audit.task_read(session=session, task=task, ticket_status=ticket.status, crew_id=ticket.crew_id,
                           customer_name=name, now=now)


def list_task_views(*, session: Session, caller: StaffRead, now: datetime, status: str | None = None,
                    theme_number: str | None = None) -> list[TaskRead]:
    """Tasks for the audit page; a crew account sees only its own crew's."""
    theme = audit.get_theme(session=session, number=theme_number) if theme_number else None
    ticket_ids = None
    if caller.role == "crew":
        own, _ = tickets.list(session=session, crew_id=caller.crew_id or "", type="稽查任务", limit=500)
        ticket_ids = [tickets.get_for_update(session=session, number=t.number).id for t in own]
    return [task_view(session=session, task=t, now=now)
            for t in audit.list_tasks(session=session, status=status, theme=theme, ticket_ids=ticket_ids)]


def record_result(*, session: Session, number: str, data: TaskResultCreate, caller: StaffRead,
                  now: datetime) -> TaskRead:
    """The on-site result: kept with its labels; a ticket the crew is on site for is resolved with it."""
    task, ticket = task_for(session=session, number=number, caller=caller)
    if caller.role == "crew" and ticket.status not in ("已到达", "已处理"):
        raise Forbidden("not_on_site", "请先在工单上确认到达现场，再录入核查结果")
    actor = actor_name(caller)
    audit.record_result(session=session, task=task, data=data, actor=actor, now=now)
    if ticket.status == "已到达":  # the check on site is the ticket's work: done
        tickets.transition(session=session, ticket=ticket, action="resolve", actor=actor, now=now,
                           note=f"核查结果：{data.outcome}")
        notify_customer(session=session, ticket=ticket, step="resolved", now=now)  # the reporter of a lead
    session.commit()
    return task_view(session=session, task=task, now=now, ticket=ticket)


def line_loss_view(*, session: Session, level: str, period: str, on: str, limits: lineloss.Limits) -> LineLossRead:
    """Line loss of every area (or feeder) on one local day or in one month, worst first, missing data last."""
    if period == "day":
        first = last = date.fromisoformat(on)
    else:
        days = lineloss.month_days(on)
        first, last = days[0], days[-1]
    loss = audit_scan.line_loss(session, start=local_midnight(first), end=local_midnight(last + timedelta(days=1)),
                                limits=limits)
    rows = {("area", "day"): loss.areas_daily, ("feeder", "day"): loss.feeders_daily,
            ("area", "month"): loss.areas_monthly, ("feeder", "month"): loss.feeders_monthly}[(level, period)]
    if level == "area":
        units = {a.code: (a.name, a.district) for a in metering.list_areas(session=session)}
    else:
        units = {f.code: (f.name, f.district) for f in metering.list_feeders(session=session)}
    out = [LineLossRow(code=r.unit, name=units.get(r.unit, ("", ""))[0], district=units.get(r.unit, ("", ""))[1],
                       supplied_kwh=r.supplied_kwh, sold_kwh=r.sold_kwh, loss_kwh=r.loss_kwh, loss_rate=r.loss_rate,
                       flag="normal" if r.status == "ok" else r.status, power_factor=r.power_factor,
                       reporting=r.reporting, meters=r.meters, reasons=list(r.reasons)) for r in rows]
    out.sort(key=lambda r: (r.loss_rate is None, -(r.loss_rate or 0.0)))
    return LineLossRead(level=level, period=period, date=on, rows=out,
                        limit_rate=limits.area_high if level == "area" else limits.feeder_high)


def ranked_area_customers(*, session: Session, area_code: str, limit: int = 50) -> list[RankedCustomer]:
    """The customers of an area, most audit evidence first: where an inspector of a high-loss area looks first."""
    metering.require_area_by_code(session=session, code=area_code)
    members = audit_scan.area_members(session, area_codes=[area_code]).get(area_code, [])
    pairs, rules_of = audit.evidence_by_account(session=session, account_nos=members)
    ranked = lineloss.rank_customers(members, lineloss.evidence_scores(pairs))[:limit]
    by_account = customers.ids_by_account_no(session=session, account_nos=[a for a, _ in ranked])
    found = customers.get_many(session=session, customer_ids=list(by_account.values()))
    return [RankedCustomer(account_no=a, name=found[by_account[a]].name, customer_class=found[by_account[a]].customer_class,
                           evidence_score=round(score, 2), rules=sorted(rules_of.get(a, ())))
            for a, score in ranked if a in by_account]
