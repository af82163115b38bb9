"""The only code in the action server that talks to the Zhidian API.

One small async client per call (nothing is built at import time). Every failure is turned
into one of two exceptions so that actions can answer the customer calmly:

- ``ApiUnavailable``: network error, timeout, 5xx, unexpected payload → apologise, point to 95598.
- ``ApiRejected``: a 4xx with ``{detail: {code, message}}`` (bad input, unknown ticket) → the
  action words it for the customer.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TOKEN = "dev-service-token"
# Short: a customer is waiting. Creating a ticket may take a little longer (diagnosis).
TIMEOUT = httpx.Timeout(4.0, connect=2.0)
CREATE_TIMEOUT = httpx.Timeout(8.0, connect=2.0)


class ApiError(Exception):
    """Base class of the errors an action may see."""


class ApiUnavailable(ApiError):
    """The API could not be reached or failed (timeout, connection refused, 5xx)."""


class ApiRejected(ApiError):
    """The API refused the request (4xx); ``code`` and ``message`` come from its detail."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiSettings:
    """Where the API is and how to authenticate."""

    url: str
    token: str

    @classmethod
    def from_env(cls) -> ApiSettings:
        """Read ZHIDIAN_API_URL and ZHIDIAN_SERVICE_TOKEN (with laptop defaults)."""
        return cls(
            url=os.environ.get("ZHIDIAN_API_URL", DEFAULT_URL).rstrip("/"),
            token=os.environ.get("ZHIDIAN_SERVICE_TOKEN", DEFAULT_TOKEN),
        )


class ZhidianClient:
    """Typed-ish wrapper of the API endpoints the dialogue needs."""

    def __init__(self, settings: ApiSettings | None = None) -> None:
        self.settings = settings or ApiSettings.from_env()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> dict[str, Any]:
        data = await self._send(method, path, json=json, params=params, timeout=timeout)
        if not isinstance(data, dict):
            raise ApiUnavailable("response is not a JSON object")
        return data

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> Any:
        """One call; the decoded JSON, whatever its shape (`_request` wants an object)."""
        headers = {"Authorization": f"Bearer {self.settings.token}"}
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            async with httpx.AsyncClient(
                base_url=self.settings.url, timeout=timeout, headers=headers
            ) as http:
                response = await http.request(method, path, json=json, params=clean_params)
        except httpx.HTTPError as exc:
            logger.warning("API %s %s unreachable: %r", method, path, exc)
            raise ApiUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            logger.warning("API %s %s failed: %s", method, path, response.status_code)
            raise ApiUnavailable(f"status {response.status_code}")
        if response.status_code >= 400:
            code, message = "http_%d" % response.status_code, ""
            try:
                detail = response.json().get("detail")
                if isinstance(detail, dict):
                    code = str(detail.get("code", code))
                    message = str(detail.get("message", ""))
                elif isinstance(detail, str):
                    message = detail
            except ValueError:
                pass
            raise ApiRejected(response.status_code, code, message)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiUnavailable("response is not JSON") from exc

    # ------------------------------------------------------------------ customers
    async def identify(
        self, *, account_no: str | None = None, phone: str | None = None
    ) -> list[dict[str, Any]]:
        """Customers matching a 户号 or a mobile number (masked data only); [] if none."""
        body = {k: v for k, v in {"account_no": account_no, "phone": phone}.items() if v}
        data = await self._request("POST", "/api/customers/identify", json=body)
        if not data.get("found"):
            return []
        return list(data.get("customers") or [])

    async def verify(self, *, account_no: str, phone_last4: str, conversation_id: str | None = None) -> bool:
        """True when the last 4 digits match the phone on file; the conversation is then linked to the account."""
        data = await self._request(
            "POST",
            "/api/customers/verify",
            json={"account_no": account_no, "phone_last4": phone_last4, "conversation_id": conversation_id},
        )
        return bool(data.get("verified"))

    async def bound_accounts(self, *, conversation_id: str) -> dict[str, Any]:
        """{accounts: [{account_no, is_default}], default}: the 户号 a WeChat user has bound."""
        return await self._request("GET", f"/api/customers/bindings/{conversation_id}")

    async def bills(self, *, account_no: str, months: int = 6) -> list[dict[str, Any]]:
        """The last ``months`` monthly bills, as the API orders them."""
        data = await self._request(
            "GET", f"/api/customers/{account_no}/bills", params={"months": months}
        )
        return list(data.get("bills") or [])

    async def balance(self, *, account_no: str) -> dict[str, Any]:
        """{balance_fen, balance_yuan, in_arrears}."""
        return await self._request("GET", f"/api/customers/{account_no}/balance")

    async def usage(self, *, account_no: str, days: int = 30) -> dict[str, Any]:
        """{days: [{date, kwh}], total_kwh, previous_total_kwh}."""
        return await self._request(
            "GET", f"/api/customers/{account_no}/usage", params={"days": days}
        )

    async def meter_check(self, *, account_no: str, days: int = 60) -> dict[str, Any]:
        """The meter's own health over the last ``days`` days: {events: [{ts, kind, phase, detail}] (失压,
        断相, 反向电量 only), coverage: {hours_expected, hours_reported, complete, voltage_min, voltage_max}}."""
        return await self._request(
            "GET", f"/api/customers/{account_no}/meter-check", params={"days": days}
        )

    async def customer(self, *, account_no: str) -> dict[str, Any]:
        """The customer as the action server may read it ({account_no, name, mobile, …}; show it masked)."""
        data = await self._request("GET", f"/api/customers/{account_no}")
        return dict(data.get("customer") or {})

    # ------------------------------------------------------------------ forecasting
    async def bill_forecast(self, *, account_no: str) -> dict[str, Any]:
        """This month's projected kWh and bill, the tier outlook and the levers (summary in Chinese)."""
        return await self._request("GET", f"/api/forecasting/customers/{account_no}/bill")

    async def consumption_analysis(self, *, account_no: str, days: int | None = None) -> dict[str, Any]:
        """Day profile, its group, 峰谷 shares, trend, neighbours, and a signed chart_url (the last
        ``days`` days; the API's 30 by default)."""
        return await self._request("GET", f"/api/forecasting/customers/{account_no}/analysis",
                                   params={"days": days})

    async def energy_advice(self, *, account_no: str) -> dict[str, Any]:
        """{tips: [{kind, text, saving_per_month}]} tied to the customer's own pattern."""
        return await self._request("GET", f"/api/forecasting/customers/{account_no}/advice")

    # ------------------------------------------------------------------ outages
    async def outages(
        self, *, account_no: str | None = None, district: str | None = None
    ) -> dict[str, Any]:
        """{area_outage: {...} | None, planned: [...]} for an account or a district."""
        return await self._request(
            "GET", "/api/outages", params={"account_no": account_no, "district": district}
        )

    # ------------------------------------------------------------------ charging
    async def charging_stations(self, *, district: str | None = None) -> list[dict[str, Any]]:
        """Stations (of a district) with their connectors' live status, most free connectors first."""
        data = await self._send("GET", "/api/charging/stations", params={"district": district})
        if not isinstance(data, list):
            raise ApiUnavailable("response is not a list")
        return data

    async def charging_nearby(self, *, place: str) -> dict[str, Any]:
        """{place, stations}: stations nearest to a place in the customer's words (ApiRejected: no such place).
        The API's address parser is built on first use: that first look-up may take a few seconds."""
        return await self._request("GET", "/api/charging/nearby", params={"place": place}, timeout=CREATE_TIMEOUT)

    async def charging_of(self, *, account_no: str) -> dict[str, Any]:
        """{id_tags, sessions: [live sessions], queue: [places in line]} of a verified 户号."""
        return await self._request("GET", f"/api/charging/accounts/{account_no}")

    async def join_charging_queue(self, *, station_code: str, id_tag: str, kind: str | None,
                                  conversation_id: str, arrive_at: str | None = None) -> dict[str, Any]:
        """Join a station's queue now (called at once when a connector is free) or booked for `arrive_at` (ISO
        with its offset); the same entry when already in it."""
        return await self._request("POST", f"/api/charging/stations/{station_code}/queue", json={
            "id_tag": id_tag, "kind": kind, "conversation_id": conversation_id[:64], "arrive_at": arrive_at},
            timeout=CREATE_TIMEOUT)

    async def leave_charging_queue(self, *, entry_id: int) -> dict[str, Any]:
        """Leave a queue; a connector held is released."""
        return await self._request("POST", f"/api/charging/queue/{entry_id}/cancel", timeout=CREATE_TIMEOUT)

    # ------------------------------------------------------------------ tickets
    async def create_fault_ticket(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Open (or attach to) a fault ticket; idempotent on payload['idempotency_key']."""
        return await self._request(
            "POST", "/api/tickets/faults", json=payload, timeout=CREATE_TIMEOUT
        )

    async def create_ticket(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Open a 投诉 / 业务办理 ticket (POST /api/tickets); idempotent on payload['idempotency_key']."""
        return await self._request("POST", "/api/tickets", json=payload, timeout=CREATE_TIMEOUT)

    async def report_charger_fault(self, *, station_code: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A customer's broken-charger report: a ticket at the station, merged with its open repair ticket when
        there is one; idempotent on payload['idempotency_key']."""
        return await self._request("POST", f"/api/charging/stations/{station_code}/fault-reports", json=payload,
                                   timeout=CREATE_TIMEOUT)

    async def get_ticket(self, number: str) -> dict[str, Any] | None:
        """The ticket with its timeline, or None when the number is unknown."""
        try:
            return await self._request("GET", f"/api/tickets/{number}")
        except ApiRejected as exc:
            if exc.status == 404:
                return None
            raise

    async def ticket_for_customer(self, number: str, *, conversation_id: str,
                                  account_no: str | None = None) -> dict[str, Any] | None:
        """What a chat may see of a ticket: in full ({"owned": true, …}) when it was reported in this
        conversation or is for this verified account, else only {"number", "exists": true,
        "owned": false}; None when the number is unknown."""
        try:
            return await self._request("GET", f"/api/tickets/{number}/for-customer",
                                       params={"conversation_id": conversation_id, "account_no": account_no})
        except ApiRejected as exc:
            if exc.status == 404:
                return None
            raise

    async def list_tickets(self, *, account_no: str, limit: int = 5) -> list[dict[str, Any]]:
        """The account's most recent tickets."""
        data = await self._request(
            "GET", "/api/tickets", params={"account_no": account_no, "limit": limit}
        )
        return list(data.get("items") or [])

    # ------------------------------------------------------------------ audit
    async def lead(self, payload: dict[str, Any]) -> dict[str, Any]:
        """File a customer's report of theft or illegal wiring for 用电检查 (POST /api/audit/leads):
        {ticket_number, …}; idempotent on payload['idempotency_key']."""
        return await self._request("POST", "/api/audit/leads", json=payload, timeout=CREATE_TIMEOUT)

    # ------------------------------------------------------------------ knowledge base
    async def kb_search(self, query: str, *, k: int = 3) -> dict[str, Any]:
        """{confidence, answerable, hits: [{article_id, title, answer, …}]} for a question."""
        return await self._request("GET", "/api/kb/search", params={"q": query, "k": k})

    async def kb_article(self, article_id: str) -> dict[str, Any] | None:
        """One article (title, body, answer, notice), or None when the id is unknown."""
        try:
            return await self._request("GET", f"/api/kb/articles/{article_id}")
        except ApiRejected as exc:
            if exc.status == 404:
                return None
            raise

    async def kb_feedback(self, *, article_id: str, conversation_id: str, helpful: bool,
                          query: str | None = None) -> dict[str, Any]:
        """Store 有帮助 / 没解决 for an answer shown in a conversation (idempotent)."""
        return await self._request("POST", "/api/kb/feedback", json={
            "article_id": article_id, "conversation_id": conversation_id, "helpful": helpful,
            "query": query})
