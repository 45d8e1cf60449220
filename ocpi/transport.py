"""OCPI 2.2.1 transport: the response envelope, status codes, token auth, tracing and routing headers,
pagination and timestamps — everything every OCPI module shares (OCPI 2.2.1 "Transport and format").

Modules return `ok(data)` / `page(...)` responses and raise `OcpiError` for failures; the middlewares in
this module turn errors into the envelope with the right HTTP status, echo `X-Request-ID` and
`X-Correlation-ID`, swap the routing headers, authenticate the partner from its token and refuse requests
routed to a party we do not serve.

HTTP status codes follow OCPI 2.2.1 "Status codes": invalid JSON is 400, a GET of a missing object 404, a
missing or unknown token 401; a request that reached the OCPI layer (valid JSON, existing resource,
authenticated) never gets an HTTP error, so bad parameters are HTTP 200 with status 2001
(`invalid_parameters`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog
from aiohttp import web

from csms.config import OcpiConfig
from csms.domain.clock import Clock, parse_datetime, to_utc, utcnow
from csms.domain.text import NUL_ESCAPE, contains_nul
from ocpi.models import Partner, PartnerStatus
from ocpi.store import OcpiStore, Pagination

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


def invalid_parameters(message: str) -> OcpiError:
    """The OCPI answer to bad parameters of a request that reached the OCPI layer: HTTP 200, status 2001.

    OCPI 2.2.1 "Status codes": to a syntactically valid, authenticated request for an existing resource
    "an HTTP error status code MUST NOT be returned"; only invalid JSON is HTTP 400.
    """
    return OcpiError(200, Status.INVALID_PARAMETERS, message)


def ocpi_datetime(value: datetime) -> str:
    """RFC 3339 in UTC ending in `Z`, whole seconds (OCPI DateTime: never `+00:00`)."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ocpi_datetime(text: str) -> datetime:
    """Parse an OCPI DateTime (with or without `Z`; no zone means UTC, as OCPI requires UTC).

    Raises:
        OcpiError: 200 / 2001 when `text` is not a timestamp (see `invalid_parameters`).
    """
    try:
        return parse_datetime(text)
    except ValueError:
        raise invalid_parameters(f"invalid DateTime {text!r}") from None


def hash_token(token: str) -> str:
    """SHA-256 hex of a token we issued: how it is stored and looked up (see `ocpi.models.Partner`)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_candidates(value: str | None) -> list[str]:
    """The tokens an `Authorization: Token <...>` header may carry, most likely first.

    OCPI 2.2.1 sends base64(token); 2.1.1 and many 2.2 peers send the raw token, and a raw token can
    happen to be valid base64 too. So the decoded value comes first when the header decodes to printable
    ASCII (what a token is made of; a trailing newline, as in the spec's own example, is dropped), then the
    raw value. The auth middleware tries each; empty when there is no `Token` header at all.
    """
    if not value:
        return []
    scheme, _, rest = value.strip().partition(" ")
    raw = rest.strip()
    if scheme.lower() != "token" or not raw:
        return []
    try:
        decoded = base64.b64decode(raw, validate=True).decode("ascii").strip()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return [raw]
    if decoded and decoded != raw and all(0x21 <= ord(c) <= 0x7E for c in decoded):
        return [decoded, raw]
    return [raw]


def token_from_header(value: str | None) -> str | None:
    """The token of an `Authorization: Token <...>` header: the first of `token_candidates` (base64-decoded
    when it decodes to printable ASCII, otherwise raw), or None without a `Token` header."""
    candidates = token_candidates(value)
    return candidates[0] if candidates else None


def encode_token(token: str) -> str:
    """`Authorization` header value for calling a 2.2.1 partner: `Token base64(token)`."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


_FOUR_DECIMALS = Decimal("0.0001")


def _json_default(value: Any) -> Any:
    # OCPI numbers carry at most 4 decimals (OCPI 2.2.1 "Transport and format": number); Decimal money and
    # kWh are emitted as JSON numbers rounded half up to 4 decimals, never as strings.
    if isinstance(value, Decimal):
        rounded = value.quantize(_FOUR_DECIMALS, rounding=ROUND_HALF_UP).normalize()
        return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """JSON for OCPI: Decimal as a number with at most 4 decimals, aware datetimes in UTC ending in `Z`
    (naive ones taken as UTC) — still, use `ocpi_datetime` for OCPI DateTime fields (whole seconds)."""
    return orjson.dumps(
        value, default=_json_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
    )


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
        body=dumps(envelope(data)),
        status=http_status,
        headers=headers,
        content_type="application/json",
    )


#: The largest `offset` passed to a store: far past any real list, well within SQL BIGINT.
MAX_OFFSET = 2**62


def pagination(request: web.Request, max_limit: int, *, date_from_required: bool = False) -> Pagination:
    """Read `date_from`, `date_to`, `offset`, `limit`; `limit` is capped at the server maximum (X-Limit).

    Raises:
        OcpiError: HTTP 200 / 2001 on a malformed value (or a missing `date_from` where the module requires
            it), see `invalid_parameters`.
    """
    q = request.query
    try:
        offset = int(q.get("offset", "0"))
        limit = min(int(q.get("limit", str(max_limit))), max_limit)
    except ValueError:
        raise invalid_parameters("offset and limit must be integers") from None
    if offset < 0 or limit < 0:
        raise invalid_parameters("offset and limit must not be negative")
    # Any offset past the last object answers an empty page; a bigger one than SQL's BIGINT would fail
    # the query (PostgreSQL: out of range), so it is capped (found by fuzzing, ADR 0017).
    offset = min(offset, MAX_OFFSET)
    if date_from_required and "date_from" not in q:
        raise invalid_parameters("date_from is required")
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
        headers["Link"] = f'<{_public_url(request)}?{urlencode(query)}>; rel="next"'
    return ok(items, headers=headers)


# `[ocpi] public_url` of the OCPI sub-application ("" when not set), for the URLs we hand out in headers.
PUBLIC_URL = web.AppKey("ocpi_public_url", str)


def _public_url(request: web.Request) -> str:
    """This request's URL (no query) as partners reach it: `[ocpi] public_url` when set (behind a TLS
    proxy the request itself says http and an inner host), the request's own origin otherwise."""
    public_url = request.config_dict.get(PUBLIC_URL)
    if public_url:
        return public_url.rstrip("/") + request.path
    return str(request.url.with_query(None))


# -- app keys and middlewares ---------------------------------------------------------------------

# Request keys set by the auth middleware: typed `web.RequestKey`s where aiohttp has them (3.13+; plain
# strings there make aiohttp warn), strings on older versions.
_RequestKey: Any = getattr(web, "RequestKey", None)
PARTNER: Any = _RequestKey("ocpi_partner", Partner) if _RequestKey else "ocpi_partner"  # the Partner
TOKEN_KIND: Any = _RequestKey("ocpi_token_kind", str) if _RequestKey else "ocpi_token_kind"  # "A" or "C"
TOKEN: Any = (
    _RequestKey("ocpi_token", str) if _RequestKey else "ocpi_token"
)  # the token it authenticated with


def _error_response(exc: OcpiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=dumps(envelope(exc.data, status_code=exc.status_code, message=exc.message)),
        status=exc.http_status,
        headers=headers,
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
        if "\x00" in request.path or "\x00" in request.query_string:
            # A %00 in the URL: no id or parameter can hold U+0000, and PostgreSQL cannot compare with it.
            raise invalid_parameters("the URL contains U+0000 (NUL)")
        response = await handler(request)
    except OcpiError as exc:
        response = _error_response(exc)
    except web.HTTPException as exc:
        if exc.status in (301, 302, 304):
            raise
        code = Status.CLIENT_ERROR if exc.status < 500 else Status.SERVER_ERROR
        # Keep `Allow` of a 405 (method not allowed) so the client learns what the resource takes.
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = _error_response(OcpiError(exc.status, code, exc.reason), allow)
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
    A missing or unknown token is HTTP 401. A path or method no route serves is answered 404 / 405 before
    any token is looked at. The handler then finds the partner with `partner_of(request)`, the token kind
    ("A" or "C") at `request[TOKEN_KIND]` and the token itself at `request[TOKEN]`.
    """

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            raise unmatched
        candidates = token_candidates(request.headers.get("Authorization"))
        if not candidates:
            raise OcpiError(401, Status.CLIENT_ERROR, "missing Authorization: Token header")
        partner: Partner | None = None
        for token in candidates:
            digest = hash_token(token)
            partner = await store.find_partner_by_token_hash(digest)
            if partner is not None:
                break
        if partner is None:
            log.warning("ocpi_unknown_token", path=request.path)
            raise OcpiError(401, Status.CLIENT_ERROR, "unknown token")
        kind = "A" if partner.token_a_hash == digest else "C"
        registration_path = _is_registration_route(request)
        if kind == "A" and not registration_path:
            raise OcpiError(401, Status.CLIENT_ERROR, "the registration token is only valid for credentials")
        if kind == "C" and partner.status != PartnerStatus.REGISTERED and not registration_path:
            raise OcpiError(401, Status.CLIENT_ERROR, "partner is not registered")
        request[PARTNER] = partner
        request[TOKEN_KIND] = kind
        request[TOKEN] = token
        return await handler(request)

    return middleware


def routing_middleware(config: OcpiConfig) -> Any:
    """Requests addressed (`OCPI-to-country-code` / `OCPI-to-party-id`) to a party we do not serve are
    refused: HTTP 200, status 2000 (reached the OCPI layer; a hub forwards the error to the sender). A
    request to any of our parties (`[ocpi]` default party and `extra_parties`), or without TO headers (a
    direct connection or open routing), goes on.

    Routing headers belong to the functional modules only (OCPI 2.2.1 transport: message routing), so
    versions, credentials and hubclientinfo are never checked. Runs after `auth_middleware`.
    """
    ours = {(party.country_code, party.party_id) for party in config.parties()}

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        to_country = request.headers.get("OCPI-to-country-code")
        to_party = request.headers.get("OCPI-to-party-id")
        if (to_country is None and to_party is None) or not _is_functional_route(request):
            return await handler(request)
        if to_country is None or to_party is None:
            raise invalid_parameters("OCPI-to-country-code and OCPI-to-party-id go together")
        if (to_country.upper(), to_party.upper()) not in ours:
            log.warning(
                "ocpi_request_for_unknown_party",
                path=request.path,
                to_country_code=to_country,
                to_party_id=to_party,
                partner_id=partner_of(request).id,
            )
            message = f"{to_country}/{to_party} is not a party of this platform"
            raise OcpiError(200, Status.CLIENT_ERROR, message)
        return await handler(request)

    return middleware


def routed_party(request: web.Request) -> tuple[str, str] | None:
    """The party a hub routed the request to (`OCPI-to-country-code`, `OCPI-to-party-id`, upper case) —
    one of ours once `routing_middleware` let it through; None without both headers (direct or open
    routing: any of our parties)."""
    country_code = request.headers.get("OCPI-to-country-code")
    party_id = request.headers.get("OCPI-to-party-id")
    if country_code is None or party_id is None:
        return None
    return country_code.upper(), party_id.upper()


def _is_functional_route(request: web.Request) -> bool:
    """Whether the matched route is a functional module's (not versions, credentials or hubclientinfo)."""
    resource = request.match_info.route.resource
    if resource is None or _is_registration_route(request):
        return False
    return f"/{VERSION}/hubclientinfo/" not in resource.canonical


def _is_registration_route(request: web.Request) -> bool:
    """Whether the matched route is versions, version details or credentials (where token A is valid).

    Decided by the route's pattern, not the path, so an object id such as a location called "versions"
    (`/2.2.1/locations/versions`) never opens a sender module to token A.
    """
    resource = request.match_info.route.resource
    if resource is None:
        return False
    pattern = resource.canonical.rstrip("/")
    return (
        pattern.endswith("/versions") or pattern.endswith(f"/{VERSION}") or pattern.endswith("/credentials")
    ) and "{" not in pattern


def partner_of(request: web.Request) -> Partner:
    """The authenticated partner of a request (set by the auth middleware)."""
    partner: Partner = request[PARTNER]
    return partner


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        OcpiError: HTTP 400 / 2001 for invalid JSON (the transport layer's answer); HTTP 200 / 2001 for
            valid JSON that is not an object (it reached the OCPI layer, see `invalid_parameters`).
    """
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise OcpiError(400, Status.INVALID_PARAMETERS, "invalid JSON body") from None
    if not isinstance(body, dict):
        raise invalid_parameters("the body must be a JSON object")
    # JSON carries U+0000 only as the escape "\u0000"; PostgreSQL cannot store it (ADR 0017).
    if NUL_ESCAPE.encode() in raw and contains_nul(body):
        raise invalid_parameters("a string contains U+0000 (NUL)")
    return body
