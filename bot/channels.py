"""The API gateway's Rasa input channel: one call per turn answers with the replies and the intent.

Rasa's REST channel answers with the bot's messages only, so the gateway had to read the tracker
afterwards to learn what the customer was understood to say. This channel reads the message with
the model's NLU once, gives that parse result to Rasa with the message (so it is not parsed
again), and answers both together:

    POST /webhooks/gateway/webhook
    {"sender": "web-1a2b", "message": "我家停电了", "metadata": {"channel": "web"}}
    200 {"messages": [<as the REST channel: text, buttons, image, custom>, ...],
         "intent": {"name": "report_outage", "confidence": 0.97} | null}
    503 when no model is loaded.

The answer is a JSON object so later fields (replies still to come) can be added beside these.
Registered in bot/credentials.yml as `bot.channels.GatewayInput`; Rasa imports it because it is
started from the repository root (`rasa run` puts its working directory on sys.path).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)


class GatewayInput(InputChannel):
    """One customer message in; the bot's messages and the message's intent out."""

    @classmethod
    def name(cls) -> str:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not isinstance(text, str):
                return response.json({"error": "sender and message (strings) are required"}, status=400)
            agent = request.app.ctx.agent
            if agent is None or not agent.is_ready():
                return response.json({"error": "no model loaded"}, status=503)
            collector = CollectingOutputChannel()
            parse_data = None
            try:
                parse_data = await agent.parse_message(text)
                await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                                 metadata=body.get("metadata"), parse_data=parse_data))
            except Exception:  # as the REST channel does: log it, answer what was said so far
                log.exception("gateway channel: the message of %s failed", sender)
            return response.json({"messages": collector.messages, "intent": _intent(parse_data)})

        return webhook


def _intent(parse_data: dict | None) -> dict | None:
    """{"name", "confidence"} of a parse result, or None when there is none."""
    intent = (parse_data or {}).get("intent") or {}
    if not intent.get("name"):
        return None
    return {"name": intent["name"], "confidence": intent.get("confidence")}
