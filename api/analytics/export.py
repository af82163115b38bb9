"""Every supervisor table by name, for the one CSV export route: the operations dashboard's, the
经营成果 tables and the 工作质量 tables (each module runs only what makes the table asked for)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from api.analytics import business, quality, service
from api.analytics.schemas import TableRead
from api.analytics.service import Filters, UnknownTable

TABLES = (*service.TABLES, *business.TABLES, *quality.TABLES)


def table(*, session: Session, name: str, filters: Filters, now: datetime,
          article_title: Callable[[str], str | None] | None = None) -> TableRead:
    """The table called `name` for the filters; UnknownTable when no module has it."""
    if name in business.TABLES:
        return business.table(session=session, name=name, filters=filters, now=now)
    if name in quality.TABLES:
        return quality.table(session=session, name=name, filters=filters, now=now)
    if name in service.TABLES:
        return service.table(session=session, name=name, filters=filters, now=now, article_title=article_title)
    raise UnknownTable(name)
