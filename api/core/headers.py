"""Security headers on every response: pages load only their own scripts and cannot be framed.

CSP allows scripts from this origin only (the pages have no inline script); inline styles stay
allowed because ECharts positions its tooltips with style attributes. HSTS is sent only when the
API is served over https (PUBLIC_BASE_URL), where it is meaningful. A response that sets its own
Content-Security-Policy keeps it (the /redoc page, see REDOC_CONTENT_SECURITY_POLICY).
"""
from __future__ import annotations

import re
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# /redoc only (api.main): ReDoc's search index runs in a web worker it starts from a blob: URL made
# from code inside its own bundle (served from /static/vendor/). Without a worker-src the worker
# falls under script-src 'self', which refuses blob: and leaves ReDoc's search broken. The worker
# has no DOM; scripts stay this origin's only. No other page gets this.
REDOC_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY + "; worker-src 'self' blob:"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware adding the headers to HTTP responses (websockets are left alone)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
            *([(b"strict-transport-security", HSTS.encode())] if https else []),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def attachment(name: str, *, fallback: str | None = None) -> str:
    """Content-Disposition of a download whose name may carry Chinese or whatever a filter held: an ASCII
    fallback name (other characters as _) and, per RFC 6266, the full name percent-encoded, which browsers
    prefer. Nothing from the name can break the header."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback or name).strip("_") or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
