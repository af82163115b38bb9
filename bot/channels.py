"""The API gateway's Rasa input channel: one call per turn answers with the replies and the intent.

Rasa's REST channel answers with the bot's messages only, so the gateway had to read the tracker
afterwards to learn what the customer was understood to say. This channel reads the message with
the model's NLU once, gives that parse result to Rasa with the message (so it is not parsed
again), and answers both together:

    POST /webhooks/gateway/webhook
    {"sender": "web-1a2b", "message": "我家停电了", "metadata": {"channel": "web"}}
    200 {"messages": [<as the REST channel: text, buttons, image, custom>, ...],
         "intent": {"name": "report_outage", "confidence": 0.97} | null,
         "failed_actions": ["action_create_fault_ticket", ...]}
    503 when no model is loaded.

    POST /webhooks/gateway/parse   {"text": "我家电费怎么这么高"}
    200 {"intent": {"name": "query_bill", "confidence": 0.93} | null}
    (the NLU alone, outside any conversation: an agent typing a caller's question)

Rasa's --auth-token guards only its own HTTP API, never an input channel, so the channel checks a
shared secret itself: every request but the health check (GET /webhooks/gateway/, which says only
whether a model is loaded) carries `Authorization: Bearer <token>`, else 401. The token comes from
bot/credentials.yml (`token: ${RASA_TOKEN}`; Rasa refuses to start when RASA_TOKEN is unset).

`failed_actions` names the custom actions that raised while the message was handled (the action
server down, or an error in it). Rasa logs such a failure and carries on as if the action had done
nothing ("Bot will continue, but the actions events are lost"), so the bot may answer with silence;
the channel listens for that log record during the turn and reports it, and the gateway tells the
customer what could not be done.

The answer is a JSON object so later fields (replies still to come) can be added beside these.
Registered in bot/credentials.yml as `bot.channels.GatewayInput`; Rasa imports it because it is
started from the repository root (`rasa run` puts its working directory on sys.path).
"""
from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

# Rasa's processor logs "Encountered an exception while running action '<name>'" and drops the
# action's events; the turn being handled (this context) collects the names.
_ACTION_FAILED = re.compile(r"while running action '([^']+)'")
_failed_actions: ContextVar[list[str] | None] = ContextVar("gateway_failed_actions", default=None)


class _FailedActions(logging.Handler):
    """Collects the actions Rasa reports as failed into the current turn's list."""

    def emit(self, record: logging.LogRecord) -> None:
        failed = _failed_actions.get()
        match = _ACTION_FAILED.search(record.getMessage()) if failed is not None else None
        if match and match.group(1) not in failed:
            failed.append(match.group(1))


_FAILURES = _FailedActions(level=logging.ERROR)


class GatewayInput(InputChannel):
    """One customer message in; the bot's messages and the message's intent out."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        token = str((credentials or {}).get("token") or "").strip()
        if not token:
            raise RasaException("bot/credentials.yml: bot.channels.GatewayInput needs `token: ${RASA_TOKEN}`"
                                " (the secret the API gateway sends)")
        return cls(token)

    def _authorized(self, request: Request) -> bool:
        """Constant-time check of the bearer token."""
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), self._expected)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)
        processor_log = logging.getLogger("rasa.core.processor")
        if _FAILURES not in processor_log.handlers:
            processor_log.addHandler(_FAILURES)

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if request.method == "GET" and request.path.rstrip("/").endswith("/gateway"):
                return None  # the health check: open, it tells only whether a model is loaded
            if not self._authorized(request):
                return response.json({"error": "unauthorized"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            return None

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if not _ready(request):
                return response.json({"status": "loading"}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/parse", methods=["POST"])
        async def parse(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "text (a non-empty string) is required"}, status=400)
            if not _ready(request):
                return response.json({"error": "no model loaded"}, status=503)
            parse_data = await request.app.ctx.agent.parse_message(text)
            return response.json({"intent": _intent(parse_data)})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not isinstance(text, str):
                return response.json({"error": "sender and message (strings) are required"}, status=400)
            if not _ready(request):
                return response.json({"error": "no model loaded"}, status=503)
            agent = request.app.ctx.agent
            collector = CollectingOutputChannel()
            parse_data, failed = None, []
            collecting = _failed_actions.set(failed)
            try:
                parse_data = await agent.parse_message(text)
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                                 metadata=body.get("metadata"), parse_data=parse_data))
            except Exception:  # as the REST channel does: log it, answer what was said so far
                log.exception("gateway channel: the message of %s failed", sender)
            finally:
                _failed_actions.reset(collecting)
            return response.json({"messages": collector.messages, "intent": _intent(parse_data),
                                  "failed_actions": failed})

        return webhook


def _ready(request: Request) -> bool:
    agent = getattr(request.app.ctx, "agent", None)
    return agent is not None and agent.is_ready()


def _intent(parse_data: dict | None) -> dict | None:
    """{"name", "confidence"} of a parse result, or None when there is none."""
    intent = (parse_data or {}).get("intent") or {}
    if not intent.get("name"):
        return None
    return {"name": intent["name"], "confidence": intent.get("confidence")}
