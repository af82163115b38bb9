"""HTTP of the supervisor dashboard (supervisors and admins); the figures come from api.analytics.service."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session

from api.analytics import service
from api.analytics.schemas import DashboardRead, FilterOptionsRead
from api.auth import require_roles
from api.clock import request_now
from api.db import get_session

router = APIRouter(prefix="/api/analytics", tags=["analytics"],
                   dependencies=[Depends(require_roles("supervisor"))])


def dashboard_filters(
    request: Request,
    date_from: str | None = Query(default=None, max_length=10,
                                  description="YYYY-MM-DD, Asia/Shanghai; default 29 days before date_to"),
    date_to: str | None = Query(default=None, max_length=10,
                                description="YYYY-MM-DD, Asia/Shanghai; default today"),
    district: str | None = Query(default=None, max_length=16),
    type_: str | None = Query(default=None, alias="type", max_length=8),
) -> service.Filters:
    """The query's filters, or 422 {code, message} saying in Chinese what is wrong."""
    try:
        return service.make_filters(date_from=date_from, date_to=date_to, district=district, type=type_,
                                    today=service.local_today(request_now(request)))
    except service.InvalidFilters as exc:
        raise HTTPException(422, detail={"code": exc.code, "message": exc.message})


def article_titles(request: Request):
    """Titles of KB articles from the index in use (none while no index is loaded)."""
    holder = getattr(request.app.state, "kb", None)
    kb = holder.current if holder is not None else None
    if kb is None:
        return None

    def title(article_id: str) -> str | None:
        article = kb.get(article_id)
        return article.title if article is not None else None
    return title


@router.get("/filters", response_model=FilterOptionsRead)
def filter_options(request: Request, session: Session = Depends(get_session)) -> FilterOptionsRead:
    """Districts and ticket types for the filter bar, and the default date range."""
    return service.filter_options(session=session, now=request_now(request))


@router.get("/dashboard", response_model=DashboardRead)
def dashboard(request: Request, filters: service.Filters = Depends(dashboard_filters),
              session: Session = Depends(get_session)) -> DashboardRead:
    """Headline figures and every table of the dashboard for the filters."""
    return service.dashboard(session=session, filters=filters, now=request_now(request),
                             article_title=article_titles(request))


@router.get("/export/{name}.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}},
                             "description": "the table as CSV (UTF-8 with BOM)"}})
def export_csv(name: str, request: Request, filters: service.Filters = Depends(dashboard_filters),
               session: Session = Depends(get_session)) -> Response:
    """One dashboard table as a CSV download with Chinese headers."""
    try:
        table = service.table(session=session, name=name, filters=filters, now=request_now(request),
                              article_title=article_titles(request))
    except service.UnknownTable:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={
            "code": "table_not_found", "message": f"没有名为 {name} 的统计表"})
    filename = service.export_filename(name=name, filters=filters)
    return Response(content=service.to_csv(table).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})
