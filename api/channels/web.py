"""Web chat channel: the customer chat page and its WebSocket.

Routes
------
``GET /``                    the chat page (``api/web/templates/chat.html``).
``GET /crew``, ``/agent``, ``/supervisor``, ``/forecast``, ``/audit``, ``/charging``  the staff pages (STAFF_PAGES; data needs sign-in).
``GET /static/<name>``       the pages' assets and ``vendor/`` libraries from ``api/web/static``.
``WS  /ws/chat/{sender_id}`` one socket per open page. ``sender_id`` is a web conversation id the
                              API issued (``POST /api/chat/conversations`` → ``{"conversation_id",
                              "secret"}``, kept by the page in localStorage); an id that is not
                              ``[A-Za-z0-9_.:-]{1,64}`` with a letter or digit is closed with 1008.

WebSocket protocol (JSON text frames, UTF-8)
--------------------------------------------
client → server
  ``{"type": "hello", "secret": "<the conversation's secret>"}``
      first, on every (re)connect: ``{"type": "ready", "conversation_id": ...}`` when the secret
      opens the conversation; otherwise an error frame with ``"code": "conversation_not_found"``
      and close 1008 (the page starts a new conversation). No hello within 15 s: close 1008.
      Messages before ``ready`` are refused with an error frame.
  ``{"type": "message", "text": "...", "client_msg_id": "<uuid>"}``
      The customer's words. A button click sends the button's ``payload`` as ``text`` (the page
      shows the button's *title* as the customer's bubble, never the payload). ``client_msg_id``
      identifies the message: after a reconnect the page resends a message it has no answer for
      with the same id, and the gateway answers it once (a resend while the first is still being
      answered waits for that answer).
  ``{"type": "ping"}``  → ``{"type": "pong"}`` (keep-alive through proxies).

server → client
  ``{"type": "typing", "client_msg_id": ...}``
      sent at once when a message arrives, before the gateway answers.
  ``{"type": "holding", "client_msg_id": ..., "messages": [BotMessage], "at": ...}``
      the reply is late (past the gateway's hold time): a holding message such as
      “正在为您提交报修，请稍候…”; the reply follows on this socket when it is ready (or, if the
      socket is gone by then, from the history or the resend).
  ``{"type": "reply", "client_msg_id": ..., "messages": [BotMessage...], "handled_by":
     "bot"|"agent"|"fallback", "conversation_id": ..., "at": "<ISO +08:00>"}``
      the answer to that message. ``BotMessage`` is ``{"text", "buttons": [{"title",
      "payload"}], "image", "sender": "bot"|"system"}``; ``"system"`` lines are the gateway's
      own notices (shown as notices, as the history does). ``handled_by: "agent"`` with no
      messages: an agent owns the conversation and will answer by a push. ``"fallback"``: the
      gateway answered for a bot that is down, and a person will follow up. A reply may come
      twice for one ``client_msg_id`` (a late push and the direct answer): the page shows it once.
  ``{"type": "reply", "messages": [...], "handled_by": "agent"|"system", "at": ...}``
      pushed later by other code (an agent's message, a ticket's progress) through
      ``ChatConnections.push``; it has no ``client_msg_id``.
  ``{"type": "error", "client_msg_id": ..., "message": "<Chinese>", "code": ...}``
      the message was refused (``InvalidMessage``: empty, too long …; ``too_many_messages``
      past the rate limit) or could not be handled; ``message`` is shown to the customer as is.

Other code pushes through ``app.state.connections`` (a ``ChatConnections``):
``await app.state.connections.push(sender_id, {"type": "reply", "messages": [...],
"handled_by": "agent"})``.

The registry is per process: with several API replicas a push must reach the replica holding
the socket (Redis pub/sub, see DESIGN.md); until then the page's reconnect also fetches the
history and shows agent turns it missed.

Messages from one socket are handled in order, one at a time. Pushes may arrive at any moment;
all sends to one socket go through one lock so frames never interleave.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from api.conversations.gateway import ChatGateway
from api.conversations.schemas import ChatReply
from api.core.deps import app_part
from api.core.errors import DomainError
from api.core.time import to_local, utcnow
from api.settings import Settings

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png"}
ASSET_NAME = re.compile(r"^(?:vendor/)?[a-z0-9][a-z0-9_.\-]*\.(?:css|js|svg|png)$")
# The staff pages: path → (template, what the page is); each checks its roles through the API.
STAFF_PAGES = {"/crew": "crew.html", "/agent": "agent.html", "/supervisor": "supervisor.html",
               "/forecast": "forecast.html", "/audit": "audit.html", "/charging": "charging.html",
               "/dispatch": "dispatch.html"}

CHANNEL = "web"
SENDER_ID = re.compile(r"^(?=.{1,64}$)[A-Za-z0-9_.:\-]*[A-Za-z0-9][A-Za-z0-9_.:\-]*$")  # as api.conversations.schemas
MAX_FRAME_CHARS = 16_000  # far above any valid message; the gateway enforces the real limit
DEFAULT_REPLY_TIMEOUT_MS = 8_000
HELLO_SECONDS = 15.0

MSG_BAD_FRAME = "消息格式有误，请刷新页面后重试。"
MSG_UNAVAILABLE = "客服系统暂时不可用，请稍后再试，或拨打 95598 供电服务热线。"
MSG_FAILED = "抱歉，系统繁忙，您的消息暂未处理成功，请稍后再试。"
MSG_NOT_READY = "正在连接客服，请稍候再发送。"

router = APIRouter(tags=["channels:web"])


def _now_iso() -> str:
    return to_local(utcnow()).isoformat(timespec="milliseconds")


class _Socket:
    """One open socket and the lock that keeps its frames whole."""

    __slots__ = ("lock", "websocket")

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        """Send one JSON frame."""
        async with self.lock:
            await self.websocket.send_text(json.dumps(payload, ensure_ascii=False))


class ChatConnections:
    """Open chat sockets per sender id, so any code in this process can push to a customer."""

    def __init__(self) -> None:
        self._sockets: dict[str, list[_Socket]] = {}

    def register(self, sender_id: str, websocket: WebSocket) -> _Socket:
        """Remember an accepted socket of ``sender_id`` (a customer may have several tabs)."""
        entry = _Socket(websocket)
        self._sockets.setdefault(sender_id, []).append(entry)
        return entry

    def unregister(self, sender_id: str, websocket: WebSocket) -> None:
        """Forget a socket (closed or broken)."""
        entries = [s for s in self._sockets.get(sender_id, []) if s.websocket is not websocket]
        if entries:
            self._sockets[sender_id] = entries
        else:
            self._sockets.pop(sender_id, None)

    def is_online(self, sender_id: str) -> bool:
        """Whether ``sender_id`` has at least one open socket here."""
        return bool(self._sockets.get(sender_id))

    async def close(self, sender_id: str, code: int = 1012) -> None:
        """Close every socket of ``sender_id`` (the page reconnects unless told otherwise)."""
        for entry in list(self._sockets.get(sender_id, [])):
            self.unregister(sender_id, entry.websocket)
            try:
                async with entry.lock:
                    await entry.websocket.close(code=code)
            except Exception:  # noqa: BLE001 - already gone
                pass

    async def push(self, sender_id: str, payload: dict[str, Any]) -> int:
        """Send ``payload`` to every open socket of ``sender_id``; return how many got it.

        ``payload`` is a server frame, e.g. ``{"type": "reply", "messages": [...],
        "handled_by": "agent", "at": <the stored turn's time>}``; ``at`` (ISO with offset) is
        set to now when missing. The page uses it after a reconnect to fetch from the history
        only the agent turns it has not shown, so pass the stored turn's time when there is one.
        Broken sockets are dropped.
        """
        frame = {"at": _now_iso(), **payload}
        delivered = 0
        for entry in list(self._sockets.get(sender_id, [])):
            try:
                await entry.send(frame)
                delivered += 1
            except Exception:  # noqa: BLE001 - a dead socket must not stop the others
                log.info("web chat: dropping dead socket of %s", sender_id)
                self.unregister(sender_id, entry.websocket)
        return delivered


def get_connections(app: Any) -> ChatConnections:
    """The app's ``ChatConnections`` (``app.state.connections``, built by the lifespan)."""
    connections = getattr(app.state, "connections", None)
    if connections is None:  # an app without the lifespan (small test apps)
        connections = ChatConnections()
        app.state.connections = connections
    return connections


def _asset_version() -> str:
    stamps = [int(path.stat().st_mtime) for path in STATIC_DIR.glob("*.*")]
    return str(max(stamps, default=0))


@lru_cache
def _templates() -> Jinja2Templates:
    """The pages' templates, loaded on first use."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(request: Request,
                    settings: Annotated[Settings | None, app_part("settings")]) -> HTMLResponse:
    """The customer chat page (the router alone, without settings, has the default reply notice)."""
    timeout_ms = settings.chat_reply_timeout_ms if settings is not None else DEFAULT_REPLY_TIMEOUT_MS
    return _templates().TemplateResponse(
        request,
        "chat.html",
        {"asset_version": _asset_version(), "reply_timeout_ms": int(timeout_ms)},
        headers={"Cache-Control": "no-cache"},
    )


async def staff_page(request: Request) -> HTMLResponse:
    """A staff page (crew mobile page, agent console, supervisor dashboard); data needs sign-in."""
    return _templates().TemplateResponse(
        request,
        STAFF_PAGES[request.url.path],
        {"asset_version": _asset_version()},
        headers={"Cache-Control": "no-cache"},
    )


for _path in STAFF_PAGES:
    router.add_api_route(_path, staff_page, methods=["GET"], response_class=HTMLResponse,
                         include_in_schema=False)


@router.get("/static/{name:path}", include_in_schema=False)
async def static_asset(name: str) -> FileResponse:
    """The pages' own assets and vendored libraries (static/vendor/); nothing outside static/."""
    path = STATIC_DIR / name
    if not ASSET_NAME.fullmatch(name) or not path.is_file():
        raise HTTPException(status_code=404)
    return FileResponse(path, media_type=ASSET_TYPES[path.suffix])


def _parse(raw: str) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(type, client_msg_id, frame) of a client frame, or (None, None, None) when malformed."""
    if len(raw) > MAX_FRAME_CHARS:
        return None, None, None
    try:
        frame = json.loads(raw)
    except ValueError:
        return None, None, None
    if not isinstance(frame, dict):
        return None, None, None
    client_msg_id = frame.get("client_msg_id")
    if not (isinstance(client_msg_id, str) and 0 < len(client_msg_id) <= 64):
        client_msg_id = None
    kind = frame.get("type")
    return (kind if isinstance(kind, str) else None), client_msg_id, frame


def _reply_frame(kind: str, client_msg_id: str | None, reply: ChatReply) -> dict[str, Any]:
    return {"type": kind, "client_msg_id": client_msg_id, "conversation_id": reply.conversation_id,
            "messages": [m.model_dump(mode="json") for m in reply.messages], "handled_by": reply.handled_by,
            "at": _now_iso()}


def _error(client_msg_id: str | None, message: str, code: str | None = None) -> dict[str, Any]:
    frame = {"type": "error", "client_msg_id": client_msg_id, "message": message}
    return {**frame, "code": code} if code else frame


async def _hello(websocket: WebSocket, sock: _Socket, gateway: ChatGateway | None, sender_id: str,
                 frame: dict[str, Any]) -> str | None:
    """The secret of an opening hello when it opens the conversation; None (and a closed socket) otherwise."""
    if gateway is None:
        await sock.send(_error(None, MSG_UNAVAILABLE))
        return None
    secret = frame.get("secret") if isinstance(frame.get("secret"), str) else None
    try:
        await run_in_threadpool(gateway.check_secret, conversation_id=sender_id, secret=secret)
    except DomainError as exc:
        await sock.send(_error(None, exc.message, exc.code))
        await websocket.close(code=1008)
        return None
    await sock.send({"type": "ready", "conversation_id": sender_id})
    return secret


async def _answer(websocket: WebSocket, sock: _Socket, gateway: ChatGateway, sender_id: str,
                  secret: str, frame: dict[str, Any], client_msg_id: str | None) -> None:
    text = frame.get("text")
    if not isinstance(text, str):
        await sock.send(_error(client_msg_id, MSG_BAD_FRAME))
        return
    await sock.send({"type": "typing", "client_msg_id": client_msg_id})

    async def holding(reply: ChatReply) -> None:
        await sock.send(_reply_frame("holding", client_msg_id, reply))

    address = websocket.client.host if websocket.client else None
    try:
        await gateway.admit(sender_id=sender_id, channel=CHANNEL, secret=secret, trusted=False, address=address,
                            client_msg_id=client_msg_id)
        reply = await gateway.handle(sender_id=sender_id, text=text, channel=CHANNEL, client_msg_id=client_msg_id,
                                     hold_seconds=gateway.hold_seconds, on_hold=holding)
    except DomainError as exc:  # refused (empty, too long, too many) or unavailable: the reason in Chinese
        await sock.send(_error(client_msg_id, exc.message or MSG_BAD_FRAME, exc.code))
        return
    except Exception:
        log.exception("web chat: gateway failed for %s", sender_id)
        await sock.send(_error(client_msg_id, MSG_FAILED))
        return
    await sock.send(_reply_frame("reply", client_msg_id, reply))


@router.websocket("/ws/chat/{sender_id}")
async def chat_socket(websocket: WebSocket, sender_id: str,
                      gateway: ChatGateway | None = app_part("gateway")) -> None:
    """One customer's chat socket: hello with the secret, then messages in, typing/holding/reply/error out."""
    if not SENDER_ID.fullmatch(sender_id):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    # the router alone (no lifespan, no gateway) still answers the protocol, with an error for messages
    connections = get_connections(websocket.app)
    sock = _Socket(websocket)
    secret: str | None = None
    try:
        while True:
            if secret is None:
                message = await asyncio.wait_for(websocket.receive(), HELLO_SECONDS)
            else:
                message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            kind, client_msg_id, frame = _parse(message.get("text") or "")
            if kind == "ping":
                await sock.send({"type": "pong"})
            elif kind == "hello" and frame is not None and secret is None:
                secret = await _hello(websocket, sock, gateway, sender_id, frame)
                if secret is None:
                    if websocket.client_state != WebSocketState.CONNECTED:
                        break
                    continue
                sock = connections.register(sender_id, websocket)  # pushes reach it from now on
            elif kind == "message" and frame is not None:
                if secret is None or gateway is None:
                    await sock.send({"type": "typing", "client_msg_id": client_msg_id})
                    await sock.send(_error(client_msg_id, MSG_UNAVAILABLE if gateway is None else MSG_NOT_READY))
                else:
                    await _answer(websocket, sock, gateway, sender_id, secret, frame, client_msg_id)
            else:
                await sock.send(_error(client_msg_id, MSG_BAD_FRAME))
    except TimeoutError:  # no hello: not a chat page
        await websocket.close(code=1008)
    except (WebSocketDisconnect, RuntimeError, OSError):
        # the peer went away, possibly while its answer was being sent; a reconnecting page
        # resends the message with the same client_msg_id and gets the stored answer
        log.debug("web chat: socket of %s ended", sender_id, exc_info=True)
    finally:
        connections.unregister(sender_id, websocket)
        if websocket.client_state == WebSocketState.CONNECTED:
            try:
                await websocket.close()
            except RuntimeError:
                pass
