"""HTTP of the supervisor dashboard (supervisors and admins): operations (api.analytics.service), 经营成果
(business) and 工作质量 (quality), and one CSV export for every table (export)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from api.analytics import business, export, quality, service
from api.analytics.schemas import BusinessRead, DashboardRead, FilterOptionsRead, QualityRead
from api.core.deps import NowDep, SessionDep, app_part, require_roles
from api.core.time import local_day

router = APIRouter(prefix="/api/analytics", tags=["analytics"],
                   dependencies=[Depends(require_roles("supervisor"))])


def dashboard_filters(
    now: NowDep,
    date_from: str | None = Query(default=None, max_length=10,
                                  description="YYYY-MM-DD, Asia/Shanghai; default 29 days before date_to"),
    date_to: str | None = Query(default=None, max_length=10,
                                description="YYYY-MM-DD, Asia/Shanghai; default today"),
    district: str | None = Query(default=None, max_length=16),
    type_: str | None = Query(default=None, alias="type", max_length=8),
) -> service.Filters:
    """The query's filters, or 422 {code, message} saying in Chinese what is wrong."""
    return service.make_filters(date_from=date_from, date_to=date_to, district=district, type=type_,
                                today=local_day(now))


def article_titles(holder=app_part("kb")):
    """Titles of KB articles from the index in use (none while no index is loaded)."""
    kb = holder.current if holder is not None else None
    if kb is None:
        return None

    def title(article_id: str) -> str | None:
        article = kb.get(article_id)
        return article.title if article is not None else None
    return title


@router.get("/filters", response_model=FilterOptionsRead)
def filter_options(session: SessionDep, now: NowDep) -> FilterOptionsRead:
    """Districts and ticket types for the filter bar, and the default date range."""
    return service.filter_options(session=session, now=now)


@router.get("/dashboard", response_model=DashboardRead)
def dashboard(session: SessionDep, now: NowDep, filters: service.Filters = Depends(dashboard_filters),
              article_title=Depends(article_titles)) -> DashboardRead:
    """Headline figures and every table of the dashboard for the filters."""
    return service.dashboard(session=session, filters=filters, now=now, article_title=article_title)


@router.get("/business", response_model=BusinessRead)
def business_results(session: SessionDep, now: NowDep,
                     filters: service.Filters = Depends(dashboard_filters)) -> BusinessRead:
    """经营成果: energy sold, billed against collected, arrears, and the change on the previous range."""
    return business.business(session=session, filters=filters, now=now)


@router.get("/quality", response_model=QualityRead)
def work_quality(session: SessionDep, now: NowDep, filters: service.Filters = Depends(dashboard_filters)) -> QualityRead:
    """工作质量: reading completeness, stuck meters, bills against meters, open audit findings."""
    return quality.quality(session=session, filters=filters, now=now)


@router.get("/export/{name}.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}},
                             "description": "the table as CSV (UTF-8 with BOM)"}})
def export_csv(name: str, session: SessionDep, now: NowDep, filters: service.Filters = Depends(dashboard_filters),
               article_title=Depends(article_titles)) -> Response:
    """One table of the page (dashboard, 经营成果 or 工作质量) as a CSV download with Chinese headers."""
    table = export.table(session=session, name=name, filters=filters, now=now, article_title=article_title)
    return Response(content=service.to_csv(table, filters).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": service.content_disposition(name=name, filters=filters),
                             "Cache-Control": "no-store"})
