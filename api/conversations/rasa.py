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
        self._base = base_url.rstrip("/")
        self._url = self._base + "/webhooks/rest/webhook"
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

    async def understood(self, *, sender_id: str) -> tuple[str, float | None] | None:
        """The intent Rasa read in the conversation's latest customer turn (for analytics and handoff)."""
        return _intent(await self._get_json(
            f"{self._base}/conversations/{sender_id}/tracker", params={"include_events": "NONE"}),
            key="latest_message")

    async def parse(self, *, text: str) -> tuple[str, float | None] | None:
        """The intent of a text outside any conversation (an agent typing a caller's question)."""
        try:
            response = await self._http.post(f"{self._base}/model/parse", json={"text": text},
                                              timeout=self._timeout)
            response.raise_for_status()
            return _intent(response.json(), key=None)
        except (httpx.HTTPError, ValueError):
            return None

    async def _get_json(self, url: str, params: dict) -> dict | None:
        try:
            response = await self._http.get(url, params=params, timeout=min(self._timeout, 1.0))
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _intent(data: dict | None, *, key: str | None) -> tuple[str, float | None] | None:
    """(name, confidence) from a parse result or a tracker's latest_message."""
    if not isinstance(data, dict):
        return None
    message = data.get(key) if key else data
    intent = (message or {}).get("intent") or {}
    name = intent.get("name")
    if not isinstance(name, str) or not name:
        return None
    confidence = intent.get("confidence")
    return name, float(confidence) if isinstance(confidence, (int, float)) else None
