"""OCPI 2.2.1 transport: the response envelope, status codes, token auth, tracing and routing headers,
pagination and timestamps — everything every OCPI module shares (OCPI 2.2.1 "Transport and format").

Modules return `ok(data)` / `page(...)` responses and raise `OcpiError` for failures; the middlewares in
this module turn errors into the envelope with the right HTTP status, echo `X-Request-ID` and
`X-Correlation-ID`, swap the routing headers, and authenticate the partner from its token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog
from aiohttp import web

from csms.domain.clock import Clock, parse_datetime, to_utc, utcnow
from ocpi.models import Partner, PartnerStatus
from ocpi.store import OcpiStore

log = structlog.get_logger("ocpi")

VERSION = "2.2.1"


class Status(IntEnum):
    """OCPI status codes (OCPI 2.2.1 §4.1.2 / transport and format: status codes)."""

    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    CLIENT_API_ERROR = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003


class OcpiError(Exception):
    """A failure answered in the OCPI envelope: HTTP status, OCPI status code and message."""

    def __init__(self, http_status: int, status_code: Status, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message
        self.data = data


def ocpi_datetime(value: datetime) -> str:
    """RFC 3339 in UTC ending in `Z`, whole seconds (OCPI DateTime: never `+00:00`)."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ocpi_datetime(text: str) -> datetime:
    """Parse an OCPI DateTime (with or without `Z`; no zone means UTC, as OCPI requires UTC).

    Raises:
        OcpiError: 400 / 2001 when `text` is not a timestamp.
    """
    try:
        return parse_datetime(text)
    except ValueError:
        raise OcpiError(400, Status.INVALID_PARAMETERS, f"invalid DateTime {text!r}") from None


def hash_token(token: str) -> str:
    """SHA-256 hex of a token we issued: how it is stored and looked up (see `ocpi.models.Partner`)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_from_header(value: str | None) -> str | None:
    """The token of an `Authorization: Token <...>` header.

    OCPI 2.2.1 sends base64(token); 2.1.1 and many 2.2 peers send the raw token. The value is taken as
    base64 when it decodes to printable ASCII (what a token is made of), otherwise as the raw token.
    """
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "token" or not rest.strip():
        return None
    raw = rest.strip()
    try:
        decoded = base64.b64decode(raw, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return raw
    if decoded and all(0x21 <= ord(c) <= 0x7E for c in decoded):
        return decoded
    return raw


def encode_token(token: str) -> str:
    """`Authorization` header value for calling a 2.2.1 partner: `Token base64(token)`."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def envelope(
    data: Any = None,
    *,
    status_code: Status = Status.SUCCESS,
    message: str | None = None,
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """The OCPI response object; `data` is omitted when None (e.g. Session PUT/PATCH answers)."""
    body: dict[str, Any] = {"status_code": int(status_code), "timestamp": ocpi_datetime(clock())}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def ok(data: Any = None, *, http_status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A success response (1000) in the envelope."""
    return web.Response(
        body=orjson.dumps(envelope(data)),
        status=http_status,
        headers=headers,
        content_type="application/json",
    )


@dataclass(slots=True)
class Pagination:
    """Query parameters of a paginated GET (OCPI 2.2.1 pagination)."""

    date_from: datetime | None
    date_to: datetime | None
    offset: int
    limit: int


def pagination(request: web.Request, max_limit: int, *, date_from_required: bool = False) -> Pagination:
    """Read `date_from`, `date_to`, `offset`, `limit`; `limit` is capped at the server maximum.

    Raises:
        OcpiError: 400 / 2001 on a malformed value (or a missing `date_from` where the module requires it).
    """
    q = request.query
    try:
        offset = int(q.get("offset", "0"))
        limit = min(int(q.get("limit", str(max_limit))), max_limit)
    except ValueError:
        raise OcpiError(400, Status.INVALID_PARAMETERS, "offset and limit must be integers") from None
    if offset < 0 or limit < 0:
        raise OcpiError(400, Status.INVALID_PARAMETERS, "offset and limit must not be negative")
    if date_from_required and "date_from" not in q:
        raise OcpiError(400, Status.INVALID_PARAMETERS, "date_from is required")
    date_from = parse_ocpi_datetime(q["date_from"]) if "date_from" in q else None
    date_to = parse_ocpi_datetime(q["date_to"]) if "date_to" in q else None
    return Pagination(date_from, date_to, offset, limit)


def page(
    request: web.Request, items: list[Any], total: int, params: Pagination, max_limit: int
) -> web.Response:
    """A page of a list with `X-Total-Count`, `X-Limit` and (unless last) `Link: <...>; rel="next"`."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(max_limit)}
    next_offset = params.offset + len(items)
    if items and next_offset < total:
        query = {k: v for k, v in request.query.items() if k not in ("offset", "limit")}
        query.update(offset=str(next_offset), limit=str(params.limit))
        url = request.url.with_query(None)
        headers["Link"] = f'<{url}?{urlencode(query)}>; rel="next"'
    return ok(items, headers=headers)


# -- app keys and middlewares ---------------------------------------------------------------------

PARTNER = "ocpi_partner"  # request key: the authenticated Partner
TOKEN_KIND = "ocpi_token_kind"  # request key: "A" (registration token) or "C" (credentials token)


def _error_response(exc: OcpiError) -> web.Response:
    return web.Response(
        body=orjson.dumps(envelope(exc.data, status_code=exc.status_code, message=exc.message)),
        status=exc.http_status,
        content_type="application/json",
    )


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every failure becomes an OCPI envelope: OcpiError as given, unknown paths 404/2000, invalid JSON
    400/2001, anything unexpected 500/3000 (logged); tracing headers are echoed on every answer."""
    request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    correlation_id = request.headers.get("X-Correlation-ID") or request_id
    try:
        response = await handler(request)
    except OcpiError as exc:
        response = _error_response(exc)
    except web.HTTPException as exc:
        if exc.status in (301, 302, 304):
            raise
        code = Status.CLIENT_ERROR if exc.status < 500 else Status.SERVER_ERROR
        response = _error_response(OcpiError(exc.status, code, exc.reason))
    except orjson.JSONDecodeError:
        response = _error_response(OcpiError(400, Status.INVALID_PARAMETERS, "invalid JSON body"))
    except Exception:
        log.exception("ocpi_request_failed", path=request.path, method=request.method)
        response = _error_response(OcpiError(500, Status.SERVER_ERROR, "internal error"))
    response.headers["X-Request-ID"] = request_id
    response.headers["X-Correlation-ID"] = correlation_id
    # Routing headers answer with FROM and TO swapped (OCPI 2.2.1 transport: message routing).
    for ours, theirs in (
        ("OCPI-to-party-id", "OCPI-from-party-id"),
        ("OCPI-to-country-code", "OCPI-from-country-code"),
        ("OCPI-from-party-id", "OCPI-to-party-id"),
        ("OCPI-from-country-code", "OCPI-to-country-code"),
    ):
        if theirs in request.headers:
            response.headers[ours] = request.headers[theirs]
    return response


def auth_middleware(store: OcpiStore, public_paths: tuple[str, ...] = ()) -> Any:
    """Token authentication: the partner is found by the hash of the token it sends.

    Token A (the registration token an operator issued) is accepted only on the versions and credentials
    endpoints; everything else needs the credentials token of a REGISTERED partner (OCPI 2.2.1 Credentials).
    A missing or unknown token is HTTP 401.
    """

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        token = token_from_header(request.headers.get("Authorization"))
        if token is None:
            raise OcpiError(401, Status.CLIENT_ERROR, "missing Authorization: Token header")
        digest = hash_token(token)
        partner = await store.find_partner_by_token_hash(digest)
        if partner is None:
            log.warning("ocpi_unknown_token", path=request.path)
            raise OcpiError(401, Status.CLIENT_ERROR, "unknown token")
        kind = "A" if partner.token_a_hash == digest else "C"
        registration_path = _is_registration_path(request.path)
        if kind == "A" and not registration_path:
            raise OcpiError(401, Status.CLIENT_ERROR, "the registration token is only valid for credentials")
        if kind == "C" and partner.status is not PartnerStatus.REGISTERED and not registration_path:
            raise OcpiError(401, Status.CLIENT_ERROR, "partner is not registered")
        request[PARTNER] = partner
        request[TOKEN_KIND] = kind
        return await handler(request)

    return middleware


def _is_registration_path(path: str) -> bool:
    tail = path.rstrip("/")
    return tail.endswith("/versions") or tail.endswith(f"/{VERSION}") or tail.endswith("/credentials")


def partner_of(request: web.Request) -> Partner:
    """The authenticated partner of a request (set by the auth middleware)."""
    partner: Partner = request[PARTNER]
    return partner


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; invalid JSON or not an object is 400 / 2001."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise OcpiError(400, Status.INVALID_PARAMETERS, "invalid JSON body") from None
    if not isinstance(body, dict):
        raise OcpiError(400, Status.INVALID_PARAMETERS, "the body must be a JSON object")
    return body
