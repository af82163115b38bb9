"""Records every request that names a customer or a ticket, after it is answered: who (the caller
the auth dependencies identified), what, when, and the status — refused attempts included."""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import service
from api.core.time import utcnow

log = logging.getLogger(__name__)


class AccessLog:
    """ASGI middleware; the sessionmaker comes from app.state when the app has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        subject = service.subject_of(scope["path"], dict(parse_qsl(scope.get("query_string", b"").decode())))
        if subject is None:
            await self.app(scope, receive, send)
            return
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            sessionmaker = getattr(scope["app"].state, "sessionmaker", None)
            if sessionmaker is not None:
                actor = scope.get("state", {}).get("actor", "anonymous")
                try:
                    await run_in_threadpool(_record, sessionmaker, actor, scope["method"], scope["path"],
                                            subject, status)
                except Exception:  # the answer went out; a lost log row must not turn it into an error
                    log.exception("access log: could not record %s %s", scope["method"], scope["path"])


def _record(sessionmaker, actor: str, method: str, path: str, subject: tuple[str, str], status: int) -> None:
    with sessionmaker() as session:
        service.record(session=session, at=utcnow(), actor=actor, method=method, path=path,
                       subject_kind=subject[0], subject=subject[1], status=status)
