"""The one client of the Rasa server: its REST channel, with a hard deadline."""
from __future__ import annotations

from dataclasses import dataclass

import httpx

from api.conversations.schemas import BotMessage, Button


class BotUnavailable(Exception):
    """Rasa did not answer in time or answered with an error."""


@dataclass
class BotAnswer:
    messages: list[BotMessage]
    handoff_reason: str | None  # set when the bot asked for a human


class RasaClient:
    """Sends a customer message to Rasa's REST webhook and returns its answers."""

    def __init__(self, base_url: str, timeout_seconds: float, http: httpx.AsyncClient | None = None):
        self._url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self._timeout = timeout_seconds
        self._http = http or httpx.AsyncClient()

    async def send(self, *, sender_id: str, text: str, channel: str) -> BotAnswer:
        """One turn; raises BotUnavailable on any failure so the caller can answer itself."""
        try:
            response = await self._http.post(
                self._url,
                json={"sender": sender_id, "message": text, "metadata": {"channel": channel}},
                timeout=self._timeout,
            )
            response.raise_for_status()
            items = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotUnavailable(str(exc) or type(exc).__name__) from exc
        messages, handoff = [], None
        for item in items if isinstance(items, list) else []:
            custom = item.get("custom") or {}
            if isinstance(custom, dict) and custom.get("handoff"):
                handoff = str(custom.get("reason") or "request_human")
            if item.get("text") or item.get("buttons") or item.get("image"):
                messages.append(BotMessage(
                    text=item.get("text"), image=item.get("image"),
                    buttons=[Button(title=b.get("title", ""), payload=b.get("payload", ""))
                             for b in item.get("buttons") or []],
                ))
        return BotAnswer(messages=messages, handoff_reason=handoff)

    async def aclose(self) -> None:
        await self._http.aclose()
