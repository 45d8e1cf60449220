"""A client application of the eMSP's Agent API (`/agent/v1`, issue 13): what an app that finds and books
chargers across networks sends, for end-to-end tests and for people (`csms-emsp agent ...`).

    async with AgentClient("http://127.0.0.1:8080", key) as agent:
        found = await agent.search(lat=52.09, lon=5.11, radius_km=5)
        booking = await agent.book(location_id=..., evse_uid=..., cpo_party_id=..., start=...,
                                   duration_minutes=30, driver_token="DRIVER1")
        booking = await agent.wait_for_status(booking["id"], {"CONFIRMED"}, timeout=30)
        print(agent.rate_limit)  # X-RateLimit-* of the last answer

Every call sends `Authorization: Bearer KEY`. A 2xx answer returns its JSON body; any other raises
`AgentApiError` with the status, the body's stable `code` (the operator API's error shape,
`{"error": {"code", "message"}}`) and the body. `request()` returns any answer without raising, for
callers that look at error answers themselves. The rate-limit headers of the last answer (errors too) are
in `rate_limit`, the whole answer in `last_response`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp

__all__ = [
    "BOOKING_STATUSES",
    "FINAL_BOOKING_STATUSES",
    "AgentApiError",
    "AgentClient",
    "AgentResponse",
    "BookingEndedError",
    "RateLimit",
]

API_PREFIX = "/agent/v1"
#: Every status a booking can have (issue 13): REQUESTED -> PENDING -> CONFIRMED -> ACTIVE -> COMPLETED, or
#: FAILED / REJECTED (the CPO refused), EXPIRED / NO_SHOW (unused), CANCELLED (by the client).
BOOKING_STATUSES = frozenset(
    {"REQUESTED", "PENDING", "CONFIRMED", "FAILED", "REJECTED", "ACTIVE", "COMPLETED", "EXPIRED", "NO_SHOW",
     "CANCELLED"}
)  # fmt: skip
#: The statuses a booking never leaves.
FINAL_BOOKING_STATUSES = frozenset({"FAILED", "REJECTED", "COMPLETED", "EXPIRED", "NO_SHOW", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The `X-RateLimit-*` headers of one answer: the client's quota, what is left of it after that
    request, and when it renews (the header's text: epoch seconds or a date, as the server sends it).
    A header the answer lacked is None."""

    limit: int | None
    remaining: int | None
    reset: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit:
        """Read the three headers (case-insensitively, as aiohttp's headers are)."""
        return cls(
            limit=_int_or_none(headers.get("X-RateLimit-Limit")),
            remaining=_int_or_none(headers.get("X-RateLimit-Remaining")),
            reset=headers.get("X-RateLimit-Reset"),
        )


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AgentResponse:
    """One answer of the Agent API: HTTP status, JSON body (None: none, or not JSON) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(repr=False)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    @property
    def rate_limit(self) -> RateLimit:
        """Its `X-RateLimit-*` headers."""
        return RateLimit.from_headers(self.headers)

    @property
    def code(self) -> str | None:
        """The error body's stable `code` (`{"error": {"code": ...}}`, or a top-level `code`), if any."""
        if not isinstance(self.body, dict):
            return None
        error = self.body.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        code = self.body.get("code")
        return code if isinstance(code, str) else None


class AgentApiError(Exception):
    """The Agent API answered with a status other than 2xx; `response` is that answer (status, code, body,
    rate-limit headers)."""

    def __init__(self, method: str, path: str, response: AgentResponse) -> None:
        super().__init__(f"{method} {path}: HTTP {response.status} {response.body!r}")
        self.response = response
        self.status = response.status
        self.code = response.code


class BookingEndedError(Exception):
    """`wait_for_status`: the booking reached a final status other than the ones waited for; `booking` is
    it as last read."""

    def __init__(self, booking: dict[str, Any], wanted: Iterable[str]) -> None:
        super().__init__(f"booking {booking.get('id')} ended {booking.get('status')}, not {sorted(wanted)}")
        self.booking = booking


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AgentClient:
    """An Agent API client for one eMSP (`base_url`, e.g. http://127.0.0.1:8080) and one client key.

    Use as an async context manager, or call `close()`; it opens its aiohttp session on first use.

    Attributes:
        last_response: the last answer received (None before the first).
    """

    def __init__(self, base_url: str, key: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.last_response: AgentResponse | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (the client can be used again: a new one is opened)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def rate_limit(self) -> RateLimit | None:
        """The `X-RateLimit-*` headers of the last answer (None before the first)."""
        return self.last_response.rate_limit if self.last_response is not None else None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        key: str | None = None,
    ) -> AgentResponse:
        """Send one request to `{base_url}/agent/v1{path}` and return the answer, whatever its status.

        Args:
            params: query parameters; None values are left out, booleans are sent as true / false.
            json: the JSON body, if any.
            key: send this key instead of the client's own (to check that an old key is refused).

        Raises:
            aiohttp.ClientError: the eMSP could not be reached.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        query = {name: _query_value(v) for name, v in (params or {}).items() if v is not None}
        headers = {"Authorization": f"Bearer {key if key is not None else self.key}"}
        url = f"{self.base_url}{API_PREFIX}{path}"
        async with self._session.request(method, url, params=query, json=json, headers=headers) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = None
            response = AgentResponse(resp.status, body, dict(resp.headers))
        self.last_response = response
        return response

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        if not response.ok:
            raise AgentApiError(method, path, response)
        return response.body

    async def search(
        self,
        *,
        lat: float | str,
        lon: float | str,
        radius_km: float | str,
        plug: str | None = None,
        min_power_kw: float | str | None = None,
        available_only: bool | None = None,
    ) -> dict[str, Any]:
        """`GET /search`: locations of every connected CPO near a point, nearest first, and `cpo_results`
        (one entry per CPO: timing, counts, error).

        Raises:
            AgentApiError: a non-2xx answer (400 bad parameters, 401 bad key, 429 quota used up).
        """
        params = {
            "lat": lat, "lon": lon, "radius_km": radius_km, "plug": plug, "min_power_kw": min_power_kw,
            "available_only": available_only,
        }  # fmt: skip
        result: dict[str, Any] = await self._call("GET", "/search", params=params)
        return result

    async def book(
        self,
        *,
        location_id: str,
        evse_uid: str,
        cpo_party_id: str,
        start: datetime | str,
        duration_minutes: int,
        driver_token: str,
    ) -> dict[str, Any]:
        """`POST /bookings`: ask the CPO to reserve that EVSE for the driver; the booking comes back
        REQUESTED (or already further): follow it with `booking` or `wait_for_status`.

        Args:
            start: when the driver means to arrive (a datetime is sent as ISO 8601; give it a time zone).

        Raises:
            AgentApiError: a non-2xx answer (e.g. 400 for a duration beyond the CPO's maximum).
        """
        body = {
            "location_id": location_id,
            "evse_uid": evse_uid,
            "cpo_party_id": cpo_party_id,
            "start": start.isoformat() if isinstance(start, datetime) else start,
            "duration_minutes": duration_minutes,
            "driver_token": driver_token,
        }
        result: dict[str, Any] = await self._call("POST", "/bookings", json=body)
        return result

    async def booking(self, booking_id: str | int) -> dict[str, Any]:
        """`GET /bookings/{id}`: the booking as it stands.

        Raises:
            AgentApiError: a non-2xx answer (404: no such booking of this client).
        """
        result: dict[str, Any] = await self._call("GET", f"/bookings/{booking_id}")
        return result

    async def bookings(self, status: str | None = None) -> Any:
        """`GET /bookings[?status=]`: this client's bookings (the server's list or page object as is).

        Raises:
            AgentApiError: a non-2xx answer.
        """
        return await self._call("GET", "/bookings", params={"status": status})

    async def cancel(self, booking_id: str | int) -> dict[str, Any]:
        """`DELETE /bookings/{id}`: cancel the booking; the answer carries what the cancellation costs.

        Raises:
            AgentApiError: a non-2xx answer (e.g. 409 when it can no longer be cancelled).
        """
        result = await self._call("DELETE", f"/bookings/{booking_id}")
        return result if isinstance(result, dict) else {}

    async def wait_for_status(
        self,
        booking_id: str | int,
        statuses: Iterable[str],
        timeout: float,  # noqa: ASYNC109 - the caller's bound, as the chargepoint simulator's waits take it
        *,
        interval: float = 0.05,
    ) -> dict[str, Any]:
        """Poll `GET /bookings/{id}` until its status is one of `statuses` (the condition, not a time:
        `interval` only paces the polling) and return the booking as then read.

        Raises:
            BookingEndedError: it reached a final status (FINAL_BOOKING_STATUSES) not among `statuses`.
            TimeoutError: `timeout` seconds passed first (the message names the last status seen).
            AgentApiError: a poll was answered with an error.
        """
        wanted = frozenset(statuses)
        unknown = wanted - BOOKING_STATUSES
        if unknown:
            raise ValueError(f"unknown booking statuses {sorted(unknown)}")
        last: dict[str, Any] = {}
        try:
            async with asyncio.timeout(timeout):
                while True:
                    last = await self.booking(booking_id)
                    status = last.get("status")
                    if status in wanted:
                        return last
                    if status in FINAL_BOOKING_STATUSES:
                        raise BookingEndedError(last, wanted)
                    await asyncio.sleep(interval)
        except TimeoutError:
            raise TimeoutError(
                f"booking {booking_id} still {last.get('status')!r} after {timeout} s, not {sorted(wanted)}"
            ) from None
