"""HTTP of the audit department's work: findings, scans, themes, tasks with results and photos, leads, figures.

稽查 (auditor) and supervisors work here; a supervisor approves, returns and publishes themes (the
rules are in api/audit/service.py); a crew account reaches only the tasks its crew holds; the bot and
agents file customers' theft reports as leads.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.audit import lineloss, rules
from api.audit import service as audit
from api.audit.schemas import (
    AuditStats,
    FindingPage,
    FindingRead,
    LeadCreate,
    LineLossRead,
    RankedCustomer,
    ScanSummary,
    TaskRead,
    TaskRectified,
    TaskResultCreate,
    TaskReview,
    ThemeCreate,
    ThemeRead,
    ThemeTransition,
)
from api.core.deps import SERVICE, NowDep, RowId, SessionDep, SettingsDep, actor_name, app_part, require_roles
from api.core.errors import Invalid
from api.core.headers import attachment
from api.core.time import local_day
from api.flows import audit as audit_flow

audit_router = APIRouter(prefix="/api/audit", tags=["audit"])
AUDITORS = require_roles("auditor", "supervisor")
TASK_WORKERS = require_roles("auditor", "supervisor", "crew")
LEAD_TAKERS = require_roles("agent", "supervisor", allow_service=True)
Number = Query(max_length=20)


class ScanCreate(BaseModel):
    """Scan the last `days` days of stored metering data (the nightly job looks back AUDIT_SCAN_DAYS)."""

    days: int = Field(ge=1, le=366)


class PhotoSaved(BaseModel):
    id: int


class RuleInfo(BaseModel):
    rule: str
    label: str


@audit_router.get("/rules", response_model=list[RuleInfo], dependencies=[Depends(TASK_WORKERS)])
def list_rules() -> list[RuleInfo]:
    """The rules a theme may cover, with their Chinese names."""
    return [RuleInfo(rule=rule, label=label) for rule, label in audit.ALL_RULE_LABELS.items()]


@audit_router.post("/scan", response_model=ScanSummary)
def scan(body: ScanCreate, session: SessionDep, settings: SettingsDep, now: NowDep,
         caller=Depends(AUDITORS)) -> ScanSummary:
    """Run the rules (and the theft score) over the stored data now (api/flows/audit_jobs.py: each night)."""
    summary = audit_flow.scan_stored(session=session, start=now - timedelta(days=body.days), end=now, now=now,
                                     thresholds=rules.Thresholds.load(), score_days=settings.audit_score_days)
    audit.record_scan(session=session, summary={**summary.model_dump(), "actor": actor_name(caller)}, now=now)
    return summary


def _filters(rule: str | None = Query(default=None, max_length=32),
             status_: str | None = Query(default=None, alias="status", max_length=8),
             district: str | None = Query(default=None, max_length=16),
             area_code: str | None = Query(default=None, max_length=32),
             account_no: str | None = Query(default=None, pattern=r"^\d{10}$"),
             severity: Literal["high", "medium", "low"] | None = None) -> dict:
    return {"rule": rule, "status": status_, "district": district, "area_code": area_code,
            "account_no": account_no, "severity": severity}


@audit_router.get("/findings", response_model=FindingPage, dependencies=[Depends(AUDITORS)])
def list_findings(session: SessionDep, filters: dict = Depends(_filters), limit: int = Query(default=50, ge=1, le=500),
                  offset: int = Query(default=0, ge=0, le=1_000_000)) -> FindingPage:
    """Findings, most severe and most recent first, with their evidence."""
    return audit_flow.findings_page(session=session, limit=limit, offset=offset, **filters)


@audit_router.get("/findings.csv")
def export_findings(session: SessionDep, filters: dict = Depends(_filters), caller=Depends(AUDITORS)) -> Response:
    """The filtered findings as CSV (UTF-8 with BOM, so Excel reads the Chinese); the file name says the filters.
    The customer's 户号 and name in full for auditors, masked for the other roles (api.audit.service.findings_csv)."""
    page = audit_flow.findings_page(session=session, limit=100_000, offset=0, **filters)
    name = "audit-findings" + "".join(f"_{k}-{v}" for k, v in filters.items() if v and k != "account_no") + ".csv"
    return Response(content=audit.findings_csv(page.items, filters=filters, role=caller.role),
                    media_type="text/csv; charset=utf-8", headers={"Content-Disposition": attachment(name)})


@audit_router.get("/findings/{finding_id}", response_model=FindingRead, dependencies=[Depends(AUDITORS)])
def get_finding(finding_id: RowId, session: SessionDep) -> FindingRead:
    """One finding with its chart-ready evidence."""
    row = audit.get_finding(session=session, finding_id=finding_id)
    name = audit_flow.places(session=session, customer_ids=[row.customer_id]).get(row.customer_id, ("", ""))[1]
    return audit.finding_read(row, customer_name=name)


@audit_router.post("/themes", response_model=ThemeRead, status_code=status.HTTP_201_CREATED)
def create_theme(body: ThemeCreate, session: SessionDep, now: NowDep, caller=Depends(AUDITORS)) -> ThemeRead:
    """An auditor applies for a theme; a supervisor approves or returns it."""
    theme = audit.create_theme(session=session, data=body, applicant=actor_name(caller), now=now)
    return audit.theme_read(session=session, theme=theme, role=caller.role, with_events=True)


@audit_router.get("/themes", response_model=list[ThemeRead])
def list_themes(session: SessionDep, caller=Depends(AUDITORS),
                status_: str | None = Query(default=None, alias="status", max_length=8)) -> list[ThemeRead]:
    """Themes, newest first, with their counts and what the caller may do next."""
    return [audit.theme_read(session=session, theme=t, role=caller.role)
            for t in audit.list_themes(session=session, status=status_)]


@audit_router.get("/themes/{number}", response_model=ThemeRead)
def get_theme(number: str, session: SessionDep, caller=Depends(AUDITORS)) -> ThemeRead:
    """One theme with its history."""
    theme = audit.get_theme(session=session, number=number)
    return audit.theme_read(session=session, theme=theme, role=caller.role, with_events=True)


@audit_router.post("/themes/{number}/transitions", response_model=ThemeRead)
def transition_theme(number: str, body: ThemeTransition, session: SessionDep, now: NowDep,
                     caller=Depends(AUDITORS), parser=app_part("address_parser")) -> ThemeRead:
    """submit / approve / return / publish / complete / withdraw; publishing creates and dispatches the tasks."""
    if body.action == "publish":
        audit_flow.publish_theme(session=session, number=number, caller=caller, parser=parser(), now=now)
    else:
        theme = audit.get_theme(session=session, number=number)
        audit.transition_theme(session=session, theme=theme, action=body.action, actor=actor_name(caller),
                               role=caller.role, now=now, note=body.note)
        if body.action == "complete":
            theme.evaluation = audit.evaluate_theme(session=session, theme=theme, now=now)
        session.commit()
    theme = audit.get_theme(session=session, number=number)
    return audit.theme_read(session=session, theme=theme, role=caller.role, with_events=True)


@audit_router.get("/tasks", response_model=list[TaskRead])
def list_tasks(session: SessionDep, now: NowDep, caller=Depends(TASK_WORKERS),
               status_: str | None = Query(default=None, alias="status", max_length=8),
               theme: str | None = Query(default=None, max_length=20)) -> list[TaskRead]:
    """Audit tasks, newest first; a crew account sees its own crew's only."""
    return audit_flow.list_task_views(session=session, caller=caller, now=now, status=status_, theme_number=theme)


@audit_router.get("/tasks/{number}", response_model=TaskRead)
def get_task(number: str, session: SessionDep, now: NowDep, caller=Depends(TASK_WORKERS)) -> TaskRead:
    """One task with its findings, result and timeline."""
    task, ticket = audit_flow.task_for(session=session, number=number, caller=caller)
    return audit_flow.task_view(session=session, task=task, now=now, ticket=ticket)


@audit_router.post("/tasks/{number}/result", response_model=TaskRead)
def record_result(number: str, body: TaskResultCreate, session: SessionDep, now: NowDep,
                  caller=Depends(TASK_WORKERS)) -> TaskRead:
    """The on-site result (私自增容 / 窃电 / 违约用电 / 计量故障 / 误报), energy and fees recovered."""
    return audit_flow.record_result(session=session, number=number, data=body, caller=caller, now=now)


@audit_router.post("/tasks/{number}/photos", response_model=PhotoSaved, status_code=status.HTTP_201_CREATED)
async def upload_photo(number: str, session: SessionDep, now: NowDep, caller=Depends(TASK_WORKERS),
                       photo: UploadFile = File(...)) -> PhotoSaved:
    """A site photo (JPEG or PNG, at most 5 MB); the same photo sent twice is kept once."""
    data = await photo.read(audit.MAX_PHOTO_BYTES + 1)
    task, _ = audit_flow.task_for(session=session, number=number, caller=caller)
    saved = audit.add_photo(session=session, task=task, data=data, actor=actor_name(caller), now=now)
    session.commit()
    return PhotoSaved(id=saved.id)


@audit_router.get("/tasks/{number}/photos/{photo_id}")
def get_photo(number: str, photo_id: RowId, session: SessionDep, caller=Depends(TASK_WORKERS)) -> Response:
    """A site photo of the task."""
    task, _ = audit_flow.task_for(session=session, number=number, caller=caller)
    photo = audit.get_photo(session=session, task=task, photo_id=photo_id)
    return Response(content=photo.data, media_type=photo.content_type,
                    headers={"Cache-Control": "private, max-age=3600"})


@audit_router.post("/tasks/{number}/rectified", response_model=TaskRead)
def mark_rectified(number: str, body: TaskRectified, session: SessionDep, now: NowDep,
                   caller=Depends(AUDITORS)) -> TaskRead:
    """The customer put it right; the task waits for review."""
    task, ticket = audit_flow.task_for(session=session, number=number, caller=caller)
    audit.mark_rectified(session=session, task=task, actor=actor_name(caller), now=now, note=body.note)
    session.commit()
    return audit_flow.task_view(session=session, task=task, now=now, ticket=ticket)


@audit_router.post("/tasks/{number}/review", response_model=TaskRead)
def review(number: str, body: TaskReview, session: SessionDep, now: NowDep, caller=Depends(AUDITORS)) -> TaskRead:
    """Accept the result (and the rectification), or send it back."""
    task, ticket = audit_flow.task_for(session=session, number=number, caller=caller)
    audit.review(session=session, task=task, accept=body.accept, actor=actor_name(caller), now=now, note=body.note)
    session.commit()
    return audit_flow.task_view(session=session, task=task, now=now, ticket=ticket)


@audit_router.post("/leads", response_model=TaskRead, status_code=status.HTTP_201_CREATED)
def report_lead(body: LeadCreate, session: SessionDep, now: NowDep, caller=Depends(LEAD_TAKERS),
                parser=app_part("address_parser")) -> TaskRead:
    """A report of theft or illegal wiring (有人偷电, 私拉乱接): a lead for 用电检查, not a repair."""
    actor = f"customer:{body.channel}" if caller == SERVICE else actor_name(caller)
    return audit_flow.report_lead(session=session, data=body, parser=parser(), now=now, actor=actor)


@audit_router.get("/line-loss", response_model=LineLossRead, dependencies=[Depends(AUDITORS)])
def get_line_loss(session: SessionDep, now: NowDep, level: Literal["area", "feeder"] = "area",
                  period: Literal["day", "month"] = "day",
                  on: str | None = Query(default=None, alias="date", pattern=r"^\d{4}-\d{2}(-\d{2})?$",
                                         description="YYYY-MM-DD for a day, YYYY-MM for a month; default the last "
                                                     "complete one")) -> LineLossRead:
    """Line loss (线损) of every transformer area or feeder, worst first: 高损 over the limit, 负损, 数据缺失."""
    yesterday = local_day(now) - timedelta(days=1)
    if on is None:
        on = yesterday.isoformat() if period == "day" else (yesterday.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    try:
        if period == "day":
            date.fromisoformat(on)
        else:
            datetime.strptime(on, "%Y-%m")
    except ValueError:
        raise Invalid("invalid_date", "日期格式不对：按日请用 YYYY-MM-DD，按月请用 YYYY-MM") from None
    return audit_flow.line_loss_view(session=session, level=level, period=period, on=on, limits=lineloss.Limits())


@audit_router.get("/line-loss/areas/{code}/customers", response_model=list[RankedCustomer],
                  dependencies=[Depends(AUDITORS)])
def get_area_customers(code: str, session: SessionDep) -> list[RankedCustomer]:
    """The customers of a transformer area, most audit evidence first (where to look in a high-loss area)."""
    return audit_flow.ranked_area_customers(session=session, area_code=code)


@audit_router.get("/stats", response_model=AuditStats, dependencies=[Depends(AUDITORS)])
def get_stats(session: SessionDep, now: NowDep) -> AuditStats:
    """Per-rule precision, open tasks by age, energy and fees recovered."""
    return audit.stats(session=session, now=now)
