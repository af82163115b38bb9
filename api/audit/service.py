"""The audit department's rules: findings kept once per episode, themes applied for and approved, tasks
worked to a result, rectified and reviewed, and every result kept as a label for the rules and the score.

Who may do what is decided here (the caller's role is an argument), so routes only carry HTTP.
"""
from __future__ import annotations

import builtins
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit.models import AuditEvent, AuditFinding, AuditLabel, AuditPhoto, AuditTask, AuditTheme
from api.audit.rules import RULE_LABELS, RULES
from api.audit.schemas import (
    AuditStats,
    FindingRead,
    MonthStats,
    RuleStats,
    TaskEvent,
    TaskRead,
    TaskResultCreate,
    ThemeCreate,
    ThemeEvent,
    ThemeRead,
)
from api.core.errors import Conflict, Forbidden, Invalid, NotFound
from api.core.exports import csv_document
from api.core.ids import mask_account, mask_name
from api.core.time import local_day, to_local

# Findings beyond the metering rules: a high theft score, and a customer's report of theft.
EXTRA_RULE_LABELS = {"theft_score": "窃电嫌疑评分偏高", "customer_report": "群众举报窃电/私拉乱接"}
ALL_RULE_LABELS = {**RULE_LABELS, **EXTRA_RULE_LABELS}

# The theft score becomes a finding for the most suspicious customers only: an inspector's day is short.
THEFT_SCORE_MIN, THEFT_SCORE_HIGH, THEFT_SCORE_SHARE = 0.8, 0.95, 0.02
FINDING_STATUSES = ("待核查", "已派查", "已确认", "误报")
THEME_STATUSES = ("待审批", "已退回", "已批准", "已发布", "已完成", "已撤销")
TASK_STATUSES = ("待核查", "待整改", "待复核", "已完成")
OUTCOMES = ("私自增容", "窃电", "违约用电", "计量故障", "误报")
VIOLATIONS = ("私自增容", "窃电", "违约用电")  # the customer broke the contract or the law: a theft label
NEEDS_RECTIFYING = ("私自增容", "窃电", "违约用电", "计量故障")  # something on site must be put right

# Theme workflow: action → (statuses it may start from, status it leads to, roles allowed).
# The applicant (稽查) applies and may withdraw; only a supervisor approves, returns or publishes.
THEME_ACTIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "submit": (("已退回",), "待审批", ("auditor", "supervisor")),
    "approve": (("待审批",), "已批准", ("supervisor",)),
    "return": (("待审批",), "已退回", ("supervisor",)),
    "publish": (("已批准",), "已发布", ("supervisor",)),
    "complete": (("已发布",), "已完成", ("auditor", "supervisor")),
    "withdraw": (("待审批", "已退回"), "已撤销", ("auditor", "supervisor")),
}
ACTION_LABELS = {"create": "申请", "submit": "重新提交", "approve": "批准", "return": "退回", "publish": "发布",
                 "complete": "完成并评价", "withdraw": "撤销", "task": "生成任务", "result": "录入核查结果",
                 "rectified": "整改完成", "review_ok": "复核通过", "review_back": "复核退回", "photo": "上传照片",
                 "found": "发现", "lead": "举报立案", "scan": "稽查扫描"}
EVALUATION_MONTHS = 6  # the monthly evaluation on the 稽查成效 tab looks back half a year
AGE_BANDS = ((3, "3天内"), (7, "3–7天"), (15, "7–15天"), (30, "15–30天"), (None, "30天以上"))
PHOTO_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024


class ThemeNotFound(NotFound):
    code = "theme_not_found"

    def __init__(self, number: str) -> None:
        super().__init__(message=f"稽查主题 {number} 不存在")


class TaskNotFound(NotFound):
    code = "audit_task_not_found"

    def __init__(self, number: str) -> None:
        super().__init__(message=f"稽查任务 {number} 不存在")


@dataclass(frozen=True)
class FindingIn:
    """A finding to keep, with the customer's place at the time (from the flow that scanned)."""

    customer_id: int
    account_no: str
    district: str
    area_code: str
    customer_class: str
    rule: str
    severity: str
    start: datetime
    end: datetime
    evidence: dict
    score: float | None = None


@dataclass
class TaskPlan:
    """One customer's findings in a published theme: one task (ticket) for the crew."""

    customer_id: int
    account_no: str
    findings: list[AuditFinding] = field(default_factory=list)

    def description(self) -> str:
        """What the 用电检查 crew reads on the ticket."""
        lines = [f"{ALL_RULE_LABELS.get(f.rule, f.rule)}（{_span(f.start, f.end)}）：{_evidence_line(f.evidence)}"
                 for f in self.findings]
        return "稽查核查：" + "；".join(lines)


def yuan(fen: int) -> Decimal:
    """Fen as yuan with two decimals (money is stored in fen)."""
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _span(start: datetime, end: datetime) -> str:
    a, b = to_local(start), to_local(end)
    return f"{a:%m月%d日}" if a.date() == b.date() else f"{a:%m月%d日}至{b:%m月%d日}"


def _evidence_line(evidence: dict) -> str:
    """The key figures of a finding as one short line ('peak_kw 234.2, contract_kva 100')."""
    parts = [f"{k} {v}" for k, v in evidence.items() if isinstance(v, (int, float, str)) and k != "series"][:4]
    return "，".join(parts) or "详见证据曲线"


# ---------------------------------------------------------------- findings

def record_findings(*, session: Session, findings: Iterable[FindingIn], now: datetime) -> int:
    """Keep each finding once per (customer, rule, start); a re-scan updates an open one. Returns how many are new."""
    new = 0
    for f in findings:
        row = session.scalar(select(AuditFinding).where(
            AuditFinding.customer_id == f.customer_id, AuditFinding.rule == f.rule, AuditFinding.start == f.start))
        if row is None:
            row = AuditFinding(customer_id=f.customer_id, account_no=f.account_no, district=f.district,
                               area_code=f.area_code, customer_class=f.customer_class, rule=f.rule,
                               severity=f.severity, start=f.start, end=f.end, evidence=f.evidence, score=f.score,
                               status="待核查", detected_at=now, updated_at=now)
            session.add(row)
            new += 1
        elif row.status == "待核查":  # the episode went on, or its evidence grew
            row.severity, row.end, row.evidence, row.score, row.updated_at = (
                f.severity, f.end, f.evidence, f.score, now)
    session.commit()
    return new


def get_finding(*, session: Session, finding_id: int) -> AuditFinding:
    """One finding, or 404."""
    row = session.get(AuditFinding, finding_id)
    if row is None:
        raise NotFound("finding_not_found", f"稽查线索 {finding_id} 不存在")
    return row


def list_findings(*, session: Session, rule: str | None = None, status: str | None = None,
                  district: str | None = None, area_code: str | None = None, account_no: str | None = None,
                  severity: str | None = None, limit: int = 50, offset: int = 0) -> tuple[int, builtins.list[AuditFinding]]:
    """Findings matching the filters, most severe and most recent first, with the total."""
    query = select(AuditFinding)
    for column, value in ((AuditFinding.rule, rule), (AuditFinding.status, status), (AuditFinding.district, district),
                          (AuditFinding.area_code, area_code), (AuditFinding.account_no, account_no),
                          (AuditFinding.severity, severity)):
        if value:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    severity_order = {"high": 0, "medium": 1, "low": 2}
    rows = builtins.list(session.scalars(query.order_by(AuditFinding.end.desc(), AuditFinding.id.desc())))
    rows.sort(key=lambda r: severity_order.get(r.severity, 3))  # stable: recent first within a severity
    return total, rows[offset: offset + limit]


def finding_read(row: AuditFinding, *, customer_name: str = "", theme_number: str | None = None,
                 task_number: str | None = None) -> FindingRead:
    """The page's view of a finding."""
    return FindingRead(id=row.id, account_no=row.account_no, customer_name=customer_name, district=row.district,
                       area_code=row.area_code, customer_class=row.customer_class, rule=row.rule,
                       rule_label=ALL_RULE_LABELS.get(row.rule, row.rule), severity=row.severity, start=row.start,
                       end=row.end, evidence=row.evidence, score=row.score, status=row.status,
                       theme_number=theme_number, task_number=task_number, detected_at=row.detected_at)


# The findings export. Auditors go to the premises and talk to the customer: they get the 户号 and the name in
# full. Supervisors (approving themes, following the figures) and admins get both masked; the finding's id names
# the row when they follow one up. No role gets a mobile, ID or house number from it (api.core.exports).
FINDINGS_CSV_COLUMNS = ("id", "account_no", "customer_name", "district", "area_code", "customer_class", "rule_label",
                        "severity", "start", "end", "status", "theme_number", "task_number")
FULL_CUSTOMER_ROLES = ("auditor",)


def findings_csv(items: Iterable[FindingRead], *, filters: dict, role: str) -> str:
    """Findings as CSV (UTF-8 with BOM) for a caller with `role`: the filters on the first line, then a row each;
    the customer's 户号 and name in full for auditors only."""
    full = role in FULL_CUSTOMER_ROLES
    shown = {k: (mask_account(v) if k == "account_no" and not full else v) for k, v in filters.items() if v}
    rows = []
    for item in items:
        row = item.model_dump(mode="json")
        if not full:
            row["account_no"], row["customer_name"] = mask_account(row["account_no"]), mask_name(row["customer_name"])
        rows.append([row.get(c, "") for c in FINDINGS_CSV_COLUMNS])
    return csv_document([[f"# 筛选条件：{'；'.join(f'{k}={v}' for k, v in shown.items()) or '全部'}"],
                         FINDINGS_CSV_COLUMNS, *rows])


def confirmed_outcomes(*, session: Session, customer_id: int, since: datetime) -> builtins.list[str]:
    """What checks on site found at this customer since `since` (私自增容, 窃电 …), false positives left out."""
    return sorted({t.outcome for t in session.scalars(select(AuditTask).where(
        AuditTask.customer_id == customer_id, AuditTask.result_at >= since, AuditTask.outcome != "误报"))})


def open_flags(*, session: Session, customer_id: int) -> tuple[builtins.list[str], int, str | None]:
    """The rules of a customer's open findings, their count, and the open task's ticket number."""
    rows = builtins.list(session.scalars(select(AuditFinding).where(
        AuditFinding.customer_id == customer_id, AuditFinding.status.in_(("待核查", "已派查")))))
    task = session.scalar(select(AuditTask).where(AuditTask.customer_id == customer_id,
                                                  AuditTask.status != "已完成").order_by(AuditTask.id.desc()))
    return sorted({r.rule for r in rows}), len(rows), task.ticket_number if task else None


# ---------------------------------------------------------------- themes

def next_theme_number(*, session: Session, now: datetime) -> str:
    """JC + local date + a two-digit serial of that day."""
    day = local_day(now)
    prefix = f"JC{day:%Y%m%d}-"
    count = session.scalar(select(func.count()).where(AuditTheme.number.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:02d}"


def create_theme(*, session: Session, data: ThemeCreate, applicant: str, now: datetime) -> AuditTheme:
    """An auditor applies for a theme; it waits for a supervisor's approval."""
    unknown = [r for r in data.rules if r not in ALL_RULE_LABELS]
    if unknown:
        raise Invalid("unknown_rule", f"未知的稽查规则：{'、'.join(unknown)}", rules=sorted(ALL_RULE_LABELS))
    for attempt in range(3):  # two applications in the same instant may draw the same number
        theme = AuditTheme(number=next_theme_number(session=session, now=now), title=data.title,
                           description=data.description, rules=data.rules, districts=data.districts,
                           area_codes=data.area_codes, customer_classes=data.customer_classes,
                           period_start=data.period_start, period_end=data.period_end, status="待审批",
                           applicant=applicant, created_at=now, updated_at=now)
        session.add(theme)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            continue
        _event(session, now=now, actor=applicant, action="create", theme_id=theme.id, note=data.title)
        session.commit()
        return theme
    raise Conflict("busy", "申请提交冲突，请稍后重试")


def get_theme(*, session: Session, number: str) -> AuditTheme:
    """One theme by its number, or 404."""
    theme = session.scalar(select(AuditTheme).where(AuditTheme.number == number.upper()))
    if theme is None:
        raise ThemeNotFound(number)
    return theme


def list_themes(*, session: Session, status: str | None = None) -> builtins.list[AuditTheme]:
    """Themes, newest first."""
    query = select(AuditTheme).order_by(AuditTheme.id.desc())
    if status:
        query = query.where(AuditTheme.status == status)
    return builtins.list(session.scalars(query))


def allowed_theme_actions(theme: AuditTheme, *, role: str) -> builtins.list[str]:
    """What this role may do to the theme now."""
    return [name for name, (sources, _, roles) in THEME_ACTIONS.items()
            if theme.status in sources and (role == "admin" or role in roles)]


def transition_theme(*, session: Session, theme: AuditTheme, action: str, actor: str, role: str, now: datetime,
                     note: str = "") -> AuditTheme:
    """Move a theme through apply → approve/return → publish → complete; the caller commits."""
    if action not in THEME_ACTIONS:
        raise Invalid("unknown_action", f"未知操作：{action}")
    sources, target, roles = THEME_ACTIONS[action]
    if role != "admin" and role not in roles:
        raise Forbidden("forbidden", "只有主管可以审批、退回或发布稽查主题" if "supervisor" in roles and len(roles) == 1
                        else "您的账号没有权限进行此操作")
    if theme.status not in sources:
        raise Conflict("invalid_transition", f"稽查主题当前为“{theme.status}”，不能{ACTION_LABELS[action]}",
                       status_now=theme.status)
    if action == "return" and not note.strip():
        raise Invalid("reason_required", "退回时请写明原因")
    if action == "approve" and actor == theme.applicant:
        raise Forbidden("forbidden", "申请人不能审批自己的稽查主题")
    theme.status = target
    theme.updated_at = now
    if action in ("approve", "return"):
        theme.approver = actor
    if action == "return":
        theme.return_reason = note.strip()
    _event(session, now=now, actor=actor, action=action, theme_id=theme.id, note=note)
    return theme


def scope_findings(*, session: Session, theme: AuditTheme) -> builtins.list[AuditFinding]:
    """The open findings a theme covers: its rules, places, classes and period."""
    query = select(AuditFinding).where(AuditFinding.rule.in_(theme.rules), AuditFinding.status == "待核查")
    if theme.districts:
        query = query.where(AuditFinding.district.in_(theme.districts))
    if theme.area_codes:
        query = query.where(AuditFinding.area_code.in_(theme.area_codes))
    if theme.customer_classes:
        query = query.where(AuditFinding.customer_class.in_(theme.customer_classes))
    rows = session.scalars(query.order_by(AuditFinding.customer_id, AuditFinding.start))
    return [r for r in rows
            if local_day(r.end) >= theme.period_start and local_day(r.start) <= theme.period_end]


def plan_tasks(*, session: Session, theme: AuditTheme) -> builtins.list[TaskPlan]:
    """One task per customer with findings in scope (a customer already under an open task is left to it)."""
    busy = set(session.scalars(select(AuditTask.customer_id).where(AuditTask.status != "已完成")))
    plans: dict[int, TaskPlan] = {}
    for finding in scope_findings(session=session, theme=theme):
        if finding.customer_id in busy:
            continue
        plans.setdefault(finding.customer_id, TaskPlan(finding.customer_id, finding.account_no)).findings.append(finding)
    return builtins.list(plans.values())


def create_task(*, session: Session, ticket_id: int, ticket_number: str, theme: AuditTheme | None,
                customer_id: int | None, account_no: str | None, findings: builtins.list[AuditFinding],
                source: str, actor: str, now: datetime) -> AuditTask:
    """The audit side of a 稽查任务 ticket; its findings are now being checked. The caller commits."""
    task = AuditTask(ticket_id=ticket_id, ticket_number=ticket_number, theme_id=theme.id if theme else None,
                     customer_id=customer_id, account_no=account_no, source=source,
                     finding_ids=[f.id for f in findings], status="待核查", created_at=now, updated_at=now)
    session.add(task)
    session.flush()
    for f in findings:
        f.status, f.theme_id, f.updated_at = "已派查", theme.id if theme else f.theme_id, now
    _event(session, now=now, actor=actor, action="task" if source != "customer_report" else "lead",
           task_id=task.id, theme_id=task.theme_id, note=ticket_number)
    return task


def theme_read(*, session: Session, theme: AuditTheme, role: str, with_events: bool = False) -> ThemeRead:
    """A theme with its counts and what the caller may do next."""
    tasks = builtins.list(session.scalars(select(AuditTask).where(AuditTask.theme_id == theme.id)))
    findings = session.scalar(select(func.count()).where(AuditFinding.theme_id == theme.id)) or 0
    events = []
    if with_events:
        events = [ThemeEvent(at=e.at, actor=e.actor, action=ACTION_LABELS.get(e.action, e.action), note=e.note)
                  for e in session.scalars(select(AuditEvent).where(AuditEvent.theme_id == theme.id,
                                                                    AuditEvent.task_id.is_(None))
                                           .order_by(AuditEvent.id))]
    return ThemeRead(number=theme.number, title=theme.title, description=theme.description, rules=theme.rules,
                     districts=theme.districts, area_codes=theme.area_codes, customer_classes=theme.customer_classes,
                     period_start=theme.period_start, period_end=theme.period_end, status=theme.status,
                     applicant=theme.applicant, approver=theme.approver, return_reason=theme.return_reason,
                     created_at=theme.created_at, updated_at=theme.updated_at, findings=findings, tasks=len(tasks),
                     tasks_done=sum(t.status == "已完成" for t in tasks), evaluation=theme.evaluation,
                     allowed_actions=allowed_theme_actions(theme, role=role), events=events)


def results_summary(done: list[AuditTask]) -> dict:
    """What a set of on-site results came to: hits, hit rate, energy and fees recovered, days to result.

    One definition for a theme's closing evaluation and the monthly evaluation of the audit work.
    """
    hits = [t for t in done if t.outcome in NEEDS_RECTIFYING]
    days = [(t.result_at - t.created_at).total_seconds() / 86400 for t in done]
    return {"checked": len(done), "hits": len(hits),
            "hit_rate": round(len(hits) / len(done), 3) if done else None,
            "outcomes": dict(Counter(t.outcome for t in done)),
            "recovered_kwh": sum((t.recovered_kwh or Decimal(0) for t in done), Decimal(0)),
            "recovered_fee_fen": sum(t.recovered_fee_fen or 0 for t in done),
            "mean_days_to_result": round(sum(days) / len(days), 1) if days else None}


def evaluate_theme(*, session: Session, theme: AuditTheme, now: datetime) -> dict:
    """The closing evaluation: tasks done, hit rate, energy and fees recovered, days to result."""
    tasks = builtins.list(session.scalars(select(AuditTask).where(AuditTask.theme_id == theme.id)))
    summary = results_summary([t for t in tasks if t.result_at is not None])
    fee_fen = summary.pop("recovered_fee_fen")
    return {"tasks": len(tasks), **summary, "recovered_kwh": float(summary["recovered_kwh"]),
            "recovered_fee_yuan": round(fee_fen / 100, 2), "evaluated_at": now.isoformat()}


def month_of(at: datetime) -> str:
    """The local calendar month of a moment, as 2026-12."""
    return local_day(at).strftime("%Y-%m")


def last_months(now: datetime, count: int) -> list[str]:
    """The `count` local months up to and including now's, oldest first."""
    year, month = local_day(now).year, local_day(now).month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def monthly_evaluation(tasks: list[AuditTask], *, now: datetime, months: int = EVALUATION_MONTHS) -> list[MonthStats]:
    """The periodic evaluation of the audit work: per local month, tasks opened, results recorded (with what
    they found and recovered), tasks closed after review, and how many opened that month are still open."""
    rows = []
    for month in last_months(now, months):
        opened = [t for t in tasks if month_of(t.created_at) == month]
        summary = results_summary([t for t in tasks if t.result_at is not None and month_of(t.result_at) == month])
        rows.append(MonthStats(
            month=month, tasks_opened=len(opened), still_open=sum(t.status != "已完成" for t in opened),
            closed=sum(t.reviewed_at is not None and t.status == "已完成" and month_of(t.reviewed_at) == month
                       for t in tasks),
            checked=summary["checked"], hits=summary["hits"], hit_rate=summary["hit_rate"],
            false_positive=summary["outcomes"].get("误报", 0), recovered_kwh=summary["recovered_kwh"],
            recovered_fee_yuan=yuan(summary["recovered_fee_fen"]),
            mean_days_to_result=summary["mean_days_to_result"]))
    return rows


# ---------------------------------------------------------------- tasks

def get_task(*, session: Session, number: str) -> AuditTask:
    """The audit task of a 稽查任务 ticket, or 404."""
    task = session.scalar(select(AuditTask).where(AuditTask.ticket_number == number.upper()))
    if task is None:
        raise TaskNotFound(number)
    return task


def list_tasks(*, session: Session, status: str | None = None, theme: AuditTheme | None = None,
               ticket_ids: Iterable[int] | None = None) -> builtins.list[AuditTask]:
    """Tasks, newest first; `ticket_ids` limits them (a crew's own)."""
    query = select(AuditTask).order_by(AuditTask.id.desc())
    if status:
        query = query.where(AuditTask.status == status)
    if theme is not None:
        query = query.where(AuditTask.theme_id == theme.id)
    if ticket_ids is not None:
        query = query.where(AuditTask.ticket_id.in_(builtins.list(ticket_ids)))
    return builtins.list(session.scalars(query))


def record_result(*, session: Session, task: AuditTask, data: TaskResultCreate, actor: str, now: datetime) -> AuditTask:
    """The on-site result: findings confirmed or false positive, a label per rule, rectification if needed.

    The caller commits. A result is recorded once; correcting one goes through review (退回).
    """
    if task.status != "待核查":
        raise Conflict("result_exists", f"该稽查任务已录入核查结果（{task.outcome}），如需更正请在复核时退回")
    task.outcome, task.notes = data.outcome, data.notes or None
    task.recovered_kwh = data.recovered_kwh
    task.recovered_fee_fen = int((data.recovered_fee_yuan * 100).to_integral_value())
    task.result_by, task.result_at, task.updated_at = actor, now, now
    if data.outcome in NEEDS_RECTIFYING:
        task.status, task.rectify_by = "待整改", local_day(now) + timedelta(days=data.rectify_days)
    else:
        task.status = "待复核"
    confirmed = data.outcome != "误报"
    findings = builtins.list(session.scalars(select(AuditFinding).where(AuditFinding.id.in_(task.finding_ids))))
    for f in findings:
        f.status, f.updated_at = ("已确认" if confirmed else "误报"), now
    rules = {f.rule for f in findings} or {"customer_report"}
    if task.customer_id is not None:
        for rule in sorted(rules):
            session.add(AuditLabel(customer_id=task.customer_id, rule=rule, label=int(confirmed),
                                   outcome=data.outcome, task_id=task.id, at=now))
        if "theft_score" not in rules:  # the score learns from every checked customer
            session.add(AuditLabel(customer_id=task.customer_id, rule="theft_score",
                                   label=int(data.outcome in VIOLATIONS), outcome=data.outcome, task_id=task.id, at=now))
    _event(session, now=now, actor=actor, action="result", task_id=task.id, theme_id=task.theme_id,
           note=f"{data.outcome}；{data.notes}"[:500])
    return task


def mark_rectified(*, session: Session, task: AuditTask, actor: str, now: datetime, note: str = "") -> AuditTask:
    """The customer put it right (capacity back to contract, wiring removed, meter replaced); review follows."""
    if task.status != "待整改":
        raise Conflict("invalid_transition", f"稽查任务当前为“{task.status}”，不需要整改")
    task.status, task.rectified_at, task.updated_at = "待复核", now, now
    _event(session, now=now, actor=actor, action="rectified", task_id=task.id, theme_id=task.theme_id, note=note)
    return task


def review(*, session: Session, task: AuditTask, accept: bool, actor: str, now: datetime, note: str = "") -> AuditTask:
    """An auditor or supervisor reviews the result (and the rectification): done, or back for more work."""
    if task.status != "待复核":
        raise Conflict("invalid_transition", f"稽查任务当前为“{task.status}”，还不能复核")
    if task.result_by == actor:
        raise Forbidden("forbidden", "核查人不能复核自己录入的结果")
    task.reviewed_by, task.reviewed_at, task.review_note, task.updated_at = actor, now, note or None, now
    if accept:
        task.status = "已完成"
    else:
        task.status = "待整改" if task.outcome in NEEDS_RECTIFYING else "待复核"
        if task.outcome not in NEEDS_RECTIFYING:  # a false-positive result sent back: check again on site
            task.status, task.result_at, task.result_by = "待核查", None, None
            session.query(AuditLabel).filter(AuditLabel.task_id == task.id).delete()
            for f in session.scalars(select(AuditFinding).where(AuditFinding.id.in_(task.finding_ids))):
                f.status, f.updated_at = "已派查", now
    _event(session, now=now, actor=actor, action="review_ok" if accept else "review_back", task_id=task.id,
           theme_id=task.theme_id, note=note)
    return task


def add_photo(*, session: Session, task: AuditTask, data: bytes, actor: str, now: datetime) -> AuditPhoto:
    """Keep a site photo (JPEG or PNG, at most 5 MB); the same photo twice is kept once."""
    if not data:
        raise Invalid("empty_photo", "照片是空文件")
    if len(data) > MAX_PHOTO_BYTES:
        raise Invalid("photo_too_large", "照片不能超过 5 MB")
    content_type = next((t for magic, t in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if content_type is None:
        raise Invalid("photo_type", "只接受 JPEG 或 PNG 照片")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(AuditPhoto).where(AuditPhoto.task_id == task.id, AuditPhoto.sha256 == digest))
    if existing is not None:
        return existing
    photo = AuditPhoto(task_id=task.id, content_type=content_type, data=data, sha256=digest, uploaded_by=actor,
                       uploaded_at=now)
    session.add(photo)
    session.flush()
    _event(session, now=now, actor=actor, action="photo", task_id=task.id, theme_id=task.theme_id, note=str(photo.id))
    return photo


def get_photo(*, session: Session, task: AuditTask, photo_id: int) -> AuditPhoto:
    """A photo of this task, or 404."""
    photo = session.get(AuditPhoto, photo_id)
    if photo is None or photo.task_id != task.id:
        raise NotFound("photo_not_found", "照片不存在")
    return photo


def task_read(*, session: Session, task: AuditTask, ticket_status: str, crew_id: str | None,
              customer_name: str | None, now: datetime) -> TaskRead:
    """A task with its findings, result, photos and timeline."""
    findings = [finding_read(f) for f in session.scalars(
        select(AuditFinding).where(AuditFinding.id.in_(task.finding_ids)).order_by(AuditFinding.start))]
    theme = session.get(AuditTheme, task.theme_id) if task.theme_id else None
    photos = builtins.list(session.scalars(select(AuditPhoto.id).where(AuditPhoto.task_id == task.id)
                                           .order_by(AuditPhoto.id)))
    events = [TaskEvent(at=e.at, actor=e.actor, action=ACTION_LABELS.get(e.action, e.action), note=e.note)
              for e in session.scalars(select(AuditEvent).where(AuditEvent.task_id == task.id).order_by(AuditEvent.id))]
    return TaskRead(
        ticket_number=task.ticket_number, ticket_status=ticket_status, crew_id=crew_id,
        theme_number=theme.number if theme else None, account_no=task.account_no, customer_name=customer_name,
        source=task.source, status=task.status, findings=findings, outcome=task.outcome,
        recovered_kwh=task.recovered_kwh,
        recovered_fee_yuan=yuan(task.recovered_fee_fen) if task.recovered_fee_fen is not None else None,
        notes=task.notes, result_by=task.result_by, result_at=task.result_at, rectify_by=task.rectify_by,
        rectified_at=task.rectified_at, reviewed_by=task.reviewed_by, reviewed_at=task.reviewed_at,
        review_note=task.review_note, photos=photos, created_at=task.created_at,
        age_days=round((now - task.created_at).total_seconds() / 86400, 1), events=events)


# ---------------------------------------------------------------- figures

def stats(*, session: Session, now: datetime) -> AuditStats:
    """Per-rule precision (confirmed over checked), open tasks by age, energy and fees recovered."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for rule, status, n in session.execute(select(AuditFinding.rule, AuditFinding.status, func.count())
                                           .group_by(AuditFinding.rule, AuditFinding.status)):
        counts[rule][status] += n
    rules = []
    for rule in (*RULES, *EXTRA_RULE_LABELS):
        c = counts.get(rule, Counter())
        checked = c["已确认"] + c["误报"]
        rules.append(RuleStats(rule=rule, rule_label=ALL_RULE_LABELS[rule], findings=sum(c.values()),
                               open=c["待核查"] + c["已派查"], checked=checked, confirmed=c["已确认"],
                               false_positive=c["误报"],
                               precision=round(c["已确认"] / checked, 3) if checked else None))
    tasks = builtins.list(session.scalars(select(AuditTask)))
    ageing = {label: 0 for _, label in AGE_BANDS}
    for t in tasks:
        if t.status == "已完成":
            continue
        age = (now - t.created_at).total_seconds() / 86400
        ageing[next(label for limit, label in AGE_BANDS if limit is None or age < limit)] += 1
    done = [t for t in tasks if t.result_at is not None]
    return AuditStats(rules=rules, tasks_open=sum(t.status != "已完成" for t in tasks),
                      tasks_done=sum(t.status == "已完成" for t in tasks), ageing=ageing,
                      recovered_kwh=sum((t.recovered_kwh or Decimal(0) for t in done), Decimal(0)),
                      recovered_fee_yuan=yuan(sum(t.recovered_fee_fen or 0 for t in done)),
                      outcomes=dict(Counter(t.outcome for t in done)),
                      months=monthly_evaluation(tasks, now=now))


def labels(*, session: Session, rule: str = "theft_score") -> dict[int, int]:
    """The latest label per customer for a rule (1 = confirmed, 0 = false positive): the score's training data."""
    latest: dict[int, int] = {}
    for row in session.execute(select(AuditLabel.customer_id, AuditLabel.label).where(AuditLabel.rule == rule)
                               .order_by(AuditLabel.id)):
        latest[row.customer_id] = row.label
    return latest


def _event(session: Session, *, now: datetime, actor: str, action: str, theme_id: int | None = None,
           task_id: int | None = None, finding_id: int | None = None, note: str = "") -> None:
    session.add(AuditEvent(theme_id=theme_id, task_id=task_id, finding_id=finding_id, actor=actor, action=action,
                           note=(note or "")[:512], at=now))


def record_scan(*, session: Session, summary: dict, now: datetime) -> None:
    """A scan ran (by the nightly job or an auditor): kept as an event, so the job knows it is done."""
    parts = "，".join(f"{ALL_RULE_LABELS.get(k, k)} {v}" for k, v in sorted(summary.get("by_rule", {}).items()))
    _event(session, now=now, actor=summary.get("actor", "system:audit"), action="scan",
           note=f"扫描 {summary.get('customers', 0)} 户，发现 {summary.get('findings', 0)} 条（新 {summary.get('new', 0)}）"
                + (f"：{parts}" if parts else ""))
    session.commit()


def last_scan_at(*, session: Session) -> datetime | None:
    """When the last scan ran."""
    return session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.action == "scan"))


def evidence_by_account(*, session: Session, account_nos: Iterable[str]) -> tuple[list[tuple[str, str]], dict[str, set[str]]]:
    """(account, severity) of every finding not found false, and the rules per account, for ranking an area."""
    accounts = builtins.list(account_nos)
    pairs: list[tuple[str, str]] = []
    rules_of: dict[str, set[str]] = defaultdict(set)
    for chunk in range(0, len(accounts), 500):
        for account_no, severity, rule in session.execute(
                select(AuditFinding.account_no, AuditFinding.severity, AuditFinding.rule)
                .where(AuditFinding.account_no.in_(accounts[chunk:chunk + 500]), AuditFinding.status != "误报")):
            pairs.append((account_no, severity))
            rules_of[account_no].add(rule)
    return pairs, rules_of
