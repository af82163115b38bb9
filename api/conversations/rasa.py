"""The one client of the Rasa server: the gateway channel (bot/channels.py), with a hard deadline.

Every call carries the channel's shared secret (`Authorization: Bearer $RASA_TOKEN`): Rasa's own
HTTP API is off, and the channel refuses requests without the secret.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from api.conversations.schemas import BotMessage, Button


class BotUnavailable(Exception):
    """Rasa did not answer in time or answered with an error."""


@dataclass
class BotAnswer:
    messages: list[BotMessage]
    handoff_reason: str | None  # set when the bot asked for a human
    intent: str | None = None  # what the bot read in the customer's message
    confidence: float | None = None
    failed_actions: list[str] = field(default_factory=list)  # actions that raised (the action server down)


class RasaClient:
    """Sends a customer message to Rasa and returns its answers with the intent, in one call."""

    def __init__(self, base_url: str, timeout_seconds: float, http: httpx.AsyncClient | None = None,
                 *, token: str | None = None):
        channel = base_url.rstrip("/") + "/webhooks/gateway"
        self._url, self._parse_url = channel + "/webhook", channel + "/parse"
        self._timeout = timeout_seconds
        self._http = http or httpx.AsyncClient()
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def send(self, *, sender_id: str, text: str, channel: str, metadata: dict | None = None) -> BotAnswer:
        """One turn; raises BotUnavailable on any failure so the caller can answer itself.
        `metadata` goes to the bot with the message beside the channel (the gateway's contract:
        api/conversations/gateway.py)."""
        try:
            response = await self._http.post(
                self._url,
                json={"sender": sender_id, "message": text, "metadata": {"channel": channel, **(metadata or {})}},
                headers=self._headers, timeout=self._timeout,
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise BotUnavailable(f"unexpected answer: {type(body).__name__}")
        messages, handoff = [], None
        for item in body.get("messages") or []:
            custom = item.get("custom") or {}
            if isinstance(custom, dict) and custom.get("handoff"):
                handoff = str(custom.get("reason") or "request_human")
            if item.get("text") or item.get("buttons") or item.get("image"):
                messages.append(BotMessage(
                    text=item.get("text"), image=item.get("image"),
                    buttons=[Button(title=b.get("title", ""), payload=b.get("payload", ""))
                             for b in item.get("buttons") or []],
                ))
        intent, confidence = _intent(body.get("intent"))
        failed = [name for name in body.get("failed_actions") or [] if isinstance(name, str)]
        return BotAnswer(messages=messages, handoff_reason=handoff, intent=intent, confidence=confidence,
                         failed_actions=failed)

    async def parse(self, *, text: str) -> str | None:
        """The intent of a text outside any conversation (an agent typing a caller's question);
        None when the bot cannot tell (down, or no intent)."""
        try:
            response = await self._http.post(self._parse_url, json={"text": text}, headers=self._headers,
                                              timeout=self._timeout)
            response.raise_for_status()
            return _intent(response.json().get("intent"))[0]
        except (httpx.HTTPError, ValueError, AttributeError):
            return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _intent(intent: object) -> tuple[str | None, float | None]:
    """(name, confidence) of an intent as Rasa writes it ({"name", "confidence"}); Nones if absent."""
    if not isinstance(intent, dict) or not isinstance(intent.get("name"), str) or not intent["name"]:
        return None, None
    confidence = intent.get("confidence")
    return intent["name"], float(confidence) if isinstance(confidence, (int, float)) else None
