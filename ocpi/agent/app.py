"""The Agent API sub-application (`/agent/v1`, JSON; mounted by `csms.app` when `[emsp] enabled`).

Every request carries `Authorization: Bearer KEY` (a client's key, `ocpi.agent.keys`); a missing, wrong or
rotated-away key is 401 `unauthorized`. Every authenticated answer carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining` (after counting this request) and `X-RateLimit-Reset` (seconds until the minute's
window ends) for `[agent] requests_per_minute`; over it, 429 `rate_limited`. A client with a monthly quota
that used it up gets 429 `quota_exceeded` on every request until the next calendar month (UTC), both with
`Retry-After`. Errors are `{"error": {"code", "message", "details"}}` like the operator API's.

    GET    /search?lat=&lon=&radius_km=&plug=&min_power_kw=&available_only=
    POST   /bookings        {location_id, evse_uid, cpo_party_id, start, duration_minutes, driver_token}
    GET    /bookings?status=
    GET    /bookings/{id}
    DELETE /bookings/{id}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api import errors as api_errors
from csms.api.errors import ApiError, invalid_request
from csms.api.limits import decide, next_month_start
from csms.api.params import bool_query, parsed_query
from csms.config import AgentConfig, RateLimitConfig
from csms.domain.clock import Clock
from csms.domain.counters import RequestCounters
from csms.domain.secrets import SecretVerifier
from ocpi.agent.bookings import BookingError, BookingService
from ocpi.agent.keys import key_prefix
from ocpi.agent.models import AgentClient, Booking, BookingStatus, booking_json
from ocpi.agent.search import Estimate, SearchQuery, search
from ocpi.agent.store import SqlAgentStore
from ocpi.agent.webhooks import WebhookNotifier
from ocpi.emsp.network import CpoNetwork
from ocpi.enums import ConnectorType

log = structlog.get_logger("ocpi.agent")

MAX_RADIUS_KM = 500.0


@dataclass(slots=True)
class Agent:
    """What the handlers share (on the sub-application as `AGENT`)."""

    store: SqlAgentStore
    network: CpoNetwork
    bookings: BookingService
    config: AgentConfig
    counters: RequestCounters
    clock: Clock
    verifier: SecretVerifier
    webhooks: WebhookNotifier


AGENT = web.AppKey("agent", Agent)
CLIENT = web.RequestKey("agent_client", AgentClient)  # the request's authenticated client
# The X-RateLimit-* (and quota) headers of the request's answer, errors included.
HEADERS = web.RequestKey("agent_headers", dict[str, str])


def _agent(request: web.Request) -> Agent:
    return request.config_dict[AGENT]


def _client(request: web.Request) -> AgentClient:
    return request[CLIENT]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as the operator API renders them (`csms.api.errors.error_middleware`: `ApiError`, aiohttp's
    404/405, a logged 500), a `BookingError` as its `ApiError`; every answer, errors included, carries the
    request's rate-limit headers."""

    async def bookings(inner: web.Request) -> web.StreamResponse:
        try:
            return await handler(inner)
        except BookingError as error:
            raise ApiError(error.status, error.code, error.message) from None

    response = await api_errors.error_middleware(request, bookings)
    for name, value in request.get(HEADERS, {}).items():
        response.headers[name] = value
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the client of the Bearer key, then count the request against its limit and quota."""
    agent = _agent(request)
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else ""
    prefix = key_prefix(key)
    client = None if prefix is None else await agent.store.client_by_prefix(prefix)
    if client is None or not await agent.verifier.verify(key, client.key_hash):
        log.warning("agent_auth_failed", path=request.path, remote=request.remote)
        raise ApiError(401, "unauthorized", "a valid client key is required (Authorization: Bearer KEY)",
                       headers={"WWW-Authenticate": 'Bearer realm="agent"'})  # fmt: skip
    request[CLIENT] = client
    await _count(request, agent, client)
    return await handler(request)


async def _count(request: web.Request, agent: Agent, client: AgentClient) -> None:
    """Per-minute limit (the shared request counters) and monthly quota (durable, in the store)."""
    now = agent.clock()
    limits = RateLimitConfig(requests_per_minute=agent.config.requests_per_minute, monthly_quota=0)
    decision = await decide(agent.counters, f"agent:{client.id}", None, limits, now.timestamp())
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_seconds),
    }
    request[HEADERS] = headers
    if decision.error is not None:
        raise decision.error
    if client.monthly_quota is not None:
        used = await agent.store.count_request(client.id, f"{now.year:04d}-{now.month:02d}")
        headers["X-Quota-Limit"] = str(client.monthly_quota)
        headers["X-Quota-Remaining"] = str(max(client.monthly_quota - used, 0))
        if used > client.monthly_quota:
            retry = max(math.ceil((next_month_start(now) - now).total_seconds()), 1)
            raise ApiError(
                429,
                "quota_exceeded",
                f"the monthly quota of {client.monthly_quota} requests is used up until the next month (UTC)",
                {"quota": client.monthly_quota, "retry_after": retry},
                headers={"Retry-After": str(retry)},
            )


# -- parameters ------------------------------------------------------------------------------------------


def _number(request: web.Request, name: str, *, required: bool, low: float, high: float) -> float | None:
    value = parsed_query(request, name, float, "not a number")
    if value is None:
        if required:
            raise invalid_request(name, "required")
        return None
    if not math.isfinite(value) or not low <= value <= high:
        raise invalid_request(name, f"must be between {low:g} and {high:g}")
    return value


def search_query(request: web.Request) -> SearchQuery:
    """The checked search parameters.

    Raises:
        ApiError: 400 `invalid_request` naming the parameter.
    """
    lat = _number(request, "lat", required=True, low=-90, high=90)
    lon = _number(request, "lon", required=True, low=-180, high=180)
    radius = _number(request, "radius_km", required=False, low=0, high=MAX_RADIUS_KM)
    power = _number(request, "min_power_kw", required=False, low=0, high=10_000)
    reason = "not an OCPI ConnectorType (e.g. IEC_62196_T2, IEC_62196_T2_COMBO, CHADEMO)"
    plug = parsed_query(request, "plug", ConnectorType, reason)
    assert lat is not None and lon is not None
    return SearchQuery(
        lat=lat,
        lon=lon,
        radius_km=10.0 if radius is None else radius,
        plug=None if plug is None else str(plug),
        min_power_kw=None if power is None else Decimal(str(power)),
        available_only=bool_query(request, "available_only"),
    )


async def handle_search(request: web.Request) -> web.Response:
    """GET /search (`ocpi.agent.search`)."""
    agent, client = _agent(request), _client(request)
    query = search_query(request)
    estimate = Estimate(
        start=agent.clock(),
        minutes=agent.config.estimate_minutes,
        energy_wh=int(agent.config.estimate_kwh * 1000),
        reservation_fee=client.reservation_fee,
        commission_percent=client.commission_percent,
    )
    found = await search(
        agent.network,
        query,
        estimate,
        max_age=timedelta(seconds=agent.config.search_max_age_seconds),
        cpo_timeout=agent.config.cpo_timeout_seconds,
    )
    return web.json_response(found)


# -- bookings --------------------------------------------------------------------------------------------


def _text(body: dict[str, Any], name: str, max_length: int = 36) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise invalid_request(name, f"required text of 1 to {max_length} characters")
    return value.strip()


def _start(body: dict[str, Any], now: datetime) -> datetime:
    value = body.get("start")
    if value is None:
        return now.replace(microsecond=0)
    try:
        start = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid_request("start", "an RFC 3339 date-time, e.g. 2026-12-04T18:00:00Z") from None
    if start.tzinfo is None:
        raise invalid_request("start", "needs a time zone (Z for UTC)")
    return start.replace(microsecond=0)  # OCPI times are whole seconds


async def handle_book(request: web.Request) -> web.Response:
    """POST /bookings: 201 with the booking (REQUESTED, or already PENDING / REJECTED / FAILED)."""
    agent, client = _agent(request), _client(request)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    duration = body.get("duration_minutes")
    if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
        raise invalid_request("duration_minutes", "a positive whole number of minutes")
    booking = await agent.bookings.create(
        client,
        cpo_party_id=_text(body, "cpo_party_id", 3),
        location_id=_text(body, "location_id"),
        evse_uid=_text(body, "evse_uid"),
        start=_start(body, agent.clock()),
        duration_minutes=duration,
        driver_token=_text(body, "driver_token"),
    )
    return web.json_response(
        booking_json(booking), status=201, headers={"Location": f"bookings/{booking.id}"}
    )


async def _own_booking(request: web.Request) -> Booking:
    booking = await _agent(request).store.get_booking(request.match_info["booking_id"])
    if (
        booking is None or booking.client_id != _client(request).id
    ):  # another client's is not there for this one
        raise ApiError(404, "not_found", "no such booking")
    return booking


async def handle_booking(request: web.Request) -> web.Response:
    """GET /bookings/{id}."""
    return web.json_response(booking_json(await _own_booking(request)))


async def handle_bookings(request: web.Request) -> web.Response:
    """GET /bookings?status=A,B: the client's bookings, newest first."""
    agent, client = _agent(request), _client(request)
    statuses = []
    for name in filter(None, request.query.get("status", "").split(",")):
        try:
            statuses.append(BookingStatus(name.strip().upper()))
        except ValueError:
            raise invalid_request("status", f"one of {', '.join(BookingStatus)}") from None
    found = await agent.store.list_bookings(client_id=client.id, statuses=statuses)
    return web.json_response({"bookings": [booking_json(b) for b in found]})


async def handle_cancel(request: web.Request) -> web.Response:
    """DELETE /bookings/{id}: the cancelled booking (its price says what the cancellation costs)."""
    booking = await _agent(request).bookings.cancel(await _own_booking(request))
    return web.json_response(booking_json(booking))


def create_app(agent: Agent) -> web.Application:
    """The sub-application; mount it at /agent/v1."""
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[AGENT] = agent
    app.router.add_get("/search", handle_search)
    app.router.add_post("/bookings", handle_book)
    app.router.add_get("/bookings", handle_bookings)
    app.router.add_get("/bookings/{booking_id}", handle_booking)
    app.router.add_delete("/bookings/{booking_id}", handle_cancel)
    return app


__all__ = ["AGENT", "Agent", "create_app"]
