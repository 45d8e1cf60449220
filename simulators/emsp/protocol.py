"""OCPI plumbing of the simulated eMSP: its own small helpers (envelope, token header, pagination) rather
than the CSMS's, so the two sides check each other; the records it keeps; its configuration."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from aiohttp import web

log = structlog.get_logger("simulators.emsp")

VERSION = "2.2.1"

SUCCESS = 1000

CLIENT_ERROR = 2000

INVALID_PARAMETERS = 2001

UNKNOWN_LOCATION = 2003

UNKNOWN_TOKEN = 2004

SERVER_ERROR = 3000

CLIENT_API_ERROR = 3001

UNSUPPORTED_VERSION = 3002

# Modules a CPO sends (what `pull_all` GETs); credentials is never pulled.
PULLABLE = ("locations", "sessions", "cdrs", "tariffs")

EPOCH = "1970-01-01T00:00:00Z"

_PUSH_MODULES = frozenset({"locations", "sessions", "cdrs", "tariffs"})

_REGISTRATION_TAILS = ("/versions", f"/{VERSION}", "/credentials")

# A request's routing header -> the header of our answer that carries its value back.
_ROUTING_REPLY = {
    "OCPI-from-party-id": "OCPI-to-party-id",
    "OCPI-from-country-code": "OCPI-to-country-code",
    "OCPI-to-party-id": "OCPI-from-party-id",
    "OCPI-to-country-code": "OCPI-from-country-code",
}


def now_ocpi() -> str:
    """The current time as an OCPI DateTime (UTC, whole seconds, `Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_header(token: str) -> str:
    """`Authorization` value for OCPI 2.2.1: `Token base64(token)`."""
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def token_of(header: str | None) -> str | None:
    """The token of an `Authorization: Token ...` header: base64 as 2.2.1 says, or raw as many peers send."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() != "token" or not rest:
        return None
    try:
        decoded = base64.b64decode(rest, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return rest
    if decoded and all(0x21 <= ord(c) <= 0x7E for c in decoded):
        return decoded
    return rest


class OcpiCallError(Exception):
    """A CPO call did not succeed (not HTTP 2xx with OCPI 1000), or the CPO was unreachable."""

    def __init__(self, message: str, response: EmspResponse | None = None) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True, slots=True)
class EmspResponse:
    """A CPO's answer: HTTP status, the envelope's fields (None when absent) and the headers."""

    http_status: int
    status_code: int | None
    data: Any
    headers: Mapping[str, str]
    status_message: str | None = None

    @property
    def success(self) -> bool:
        """HTTP 2xx and OCPI status 1000."""
        return 200 <= self.http_status < 300 and self.status_code == SUCCESS


@dataclass(slots=True)
class EmspConfig:
    """Who the simulated eMSP is and where it listens."""

    country_code: str = "NL"
    party_id: str = "EMS"
    business_name: str = "Simulated eMSP"
    host: str = "127.0.0.1"
    port: int = 0
    # The registration token a CPO may use to register with us (CPO-initiated handshake); None: only we
    # register with CPOs.
    token_a: str | None = None
    # Public base URL (scheme://host:port) if not http://host:port.
    public_url: str | None = None
    timeout: float = 10.0  # seconds per call to the CPO
    page_limit: int = 100  # server-side cap of our paginated GET (tokens)
    # Answer PATCHes of objects we never received with 404 (2003 for locations, 2001 otherwise) instead of
    # keeping what the PATCH says.
    strict: bool = False


@dataclass(slots=True)
class Push:
    """One push the CPO sent us (`received` keeps them in arrival order)."""

    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """The module identifier of the path (`locations`, `sessions`, `cdrs`, `tariffs`)."""
        parts = self.path.split("/")
        return parts[3] if len(parts) > 3 else ""


class _Answer(Exception):
    """An OCPI error answer raised inside a handler."""

    def __init__(self, http_status: int, status_code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status_code = status_code
        self.message = message

    def response(self) -> web.Response:
        """This error as an answer: the envelope without data, with our status code and message."""
        body: dict[str, Any] = {"status_code": self.status_code, "timestamp": now_ocpi()}
        if self.message:
            body["status_message"] = self.message
        return web.Response(body=orjson.dumps(body), status=self.http_status, content_type="application/json")


def _ok(data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A success answer (1000); `data` is left out of the envelope when None."""
    body: dict[str, Any] = {"status_code": SUCCESS, "timestamp": now_ocpi()}
    if data is not None:
        body["data"] = data
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _reply_headers(request: Mapping[str, str]) -> dict[str, str]:
    """The headers of our answer to a request with the headers `request`: its X-Request-ID (a new one if it
    has none), its X-Correlation-ID (else the request id), and its routing headers with FROM and TO swapped
    (OCPI 2.2.1 transport: message routing)."""
    request_id = request.get("X-Request-ID") or str(uuid.uuid4())
    headers = {"X-Request-ID": request_id, "X-Correlation-ID": request.get("X-Correlation-ID") or request_id}
    headers.update({ours: request[theirs] for theirs, ours in _ROUTING_REPLY.items() if theirs in request})
    return headers


def _next_link(header: str | None) -> str | None:
    """The URL of `Link: <url>; rel="next"`, or None on the last page."""
    if not header:
        return None
    for part in header.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return url.strip().strip("<>")
    return None


def _find_part(location: dict[str, Any] | None, evse_uid: str | None, connector_id: str | None) -> Any:
    if location is None or evse_uid is None:
        return location
    evse = next((e for e in location.get("evses") or [] if e.get("uid") == evse_uid), None)
    if evse is None or connector_id is None:
        return evse
    return next((c for c in evse.get("connectors") or [] if str(c.get("id")) == connector_id), None)


def _apply_location(
    location: dict[str, Any],
    method: str,
    body: dict[str, Any],
    evse_uid: str | None,
    connector_id: str | None,
) -> None:
    """Apply a PUT/PATCH to a Location, one of its EVSEs or Connectors; changes bump the parents'
    last_updated (OCPI 2.2.1 Locations: last_updated of parent objects)."""
    stamp = body.get("last_updated")
    if evse_uid is None:
        if method == "PUT":
            location.clear()
        location.update(body)
        return
    evses: list[dict[str, Any]] = location.setdefault("evses", [])
    evse = next((e for e in evses if e.get("uid") == evse_uid), None)
    if evse is None:
        evse = {"uid": evse_uid}
        evses.append(evse)
    if connector_id is None:
        if method == "PUT":
            evse.clear()
        evse.update(body)
    else:
        connectors: list[dict[str, Any]] = evse.setdefault("connectors", [])
        connector = next((c for c in connectors if str(c.get("id")) == connector_id), None)
        if connector is None:
            connector = {"id": connector_id}
            connectors.append(connector)
        if method == "PUT":
            connector.clear()
        connector.update(body)
        if stamp:
            evse["last_updated"] = stamp
    if stamp:
        location["last_updated"] = stamp
