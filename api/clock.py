"""What time it is for a request: the app's clock when set (tests, replayed demos), else now."""
from __future__ import annotations

from datetime import datetime

from fastapi import Request

from api.db import utcnow


def request_now(request: Request) -> datetime:
    """Now, from `app.state.clock` when set, else the wall clock (UTC, aware)."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()
