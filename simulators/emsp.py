"""A simulated OCPI 2.2.1 eMSP: the other side of our CPO bridge, for end-to-end tests and for people.

Server side (aiohttp on `host:port`, port 0 picks a free one), below `{url}/ocpi`:

- `versions`, version details and `credentials` (a CPO may register with us using `config.token_a`),
- RECEIVER endpoints for `locations` (PUT/PATCH per Location, EVSE or Connector), `sessions` (PUT/PATCH; a
  PATCH appends `charging_periods`), `cdrs` (POST, answered with a `Location` header) and `tariffs`
  (PUT/DELETE), each keeping the objects and recording every push in `received`, in arrival order,
- a SENDER `tokens` endpoint (paginated GET of our tokens, and real-time authorization
  `POST /tokens/{uid}/authorize` answered from our tokens or `authorizations`),
- a `commands` endpoint where CPOs POST the CommandResults of the commands we sent (the `response_url`
  that `send_command` hands out).

Client side: `register` (the full credentials handshake with a CPO, given its versions URL and a token A),
`pull` / `pull_all` (every SENDER module of the CPO, following `Link` headers), `put_token` /
`patch_token`, `send_command`, `update_credentials`, `unregister`.

`set_down(True)` makes the server answer 503 (or drop connections) until `set_down(False)`.

Every call and answer carries `Authorization: Token base64(token)`, `X-Request-ID`, `X-Correlation-ID`
and, on functional modules, the routing headers (OCPI 2.2.1 "Transport and format"). The simulator has
its own small OCPI helpers instead of importing the CSMS's, so the two sides check each other.

    async with EmspSimulator(EmspConfig(party_id="EMS")) as emsp:
        await emsp.register("http://127.0.0.1:8080/ocpi/versions", token_a)
        everything = await emsp.pull_all()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlencode

import aiohttp
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


def _envelope(data: Any = None, status_code: int = SUCCESS, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": now_ocpi()}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def _ok(data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(_envelope(data)), status=status, headers=headers, content_type="application/json"
    )


class EmspSimulator:
    """The simulated eMSP. Use as an async context manager, or `start()` then `close()`.

    Attributes:
        received: every push (locations, sessions, cdrs, tariffs) as `(method, path, body)`, in arrival
            order, refused ones included (those are also in `rejected`, with the reason).
        pushes: the same with the request headers, as `Push` objects.
        locations / sessions / cdrs / tariffs: the objects as pushed or pulled, by "cc/pid/id" (CDRs by id).
        tokens: our tokens by (uid, type); `put_token` adds to it and the tokens endpoint serves it.
        authorizations: uid -> `allowed` answer forcing real-time authorization (ALLOWED, BLOCKED, ...).
        authorize_requests: every real-time authorization request as (uid, type, body).
        command_results: every CommandResult posted to us as (command, reference, body).
        sent_commands: every command we sent as (command, body including the response_url).
        cpo_endpoints: the CPO's endpoints, "<identifier>:<ROLE>" -> url, after registration.
        pages: how many pages the last pull of each module took.
    """

    def __init__(self, config: EmspConfig | None = None) -> None:
        self.config = config or EmspConfig()
        self.received: list[tuple[str, str, Any]] = []
        self.pushes: list[Push] = []
        self.locations: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.cdrs: dict[str, dict[str, Any]] = {}
        self.tariffs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[tuple[str, str], dict[str, Any]] = {}
        self.authorizations: dict[str, str] = {}
        self.authorize_delay: float = 0.0
        self.authorize_requests: list[tuple[str, str, Any]] = []
        self.command_results: list[tuple[str, str, Any]] = []
        self.sent_commands: list[tuple[str, dict[str, Any]]] = []  # (command, body with its response_url)
        self.rejected: list[tuple[str, str, str]] = []  # pushes we refused: (method, path, why)
        self.cpo_endpoints: dict[str, str] = {}
        self.cpo_credentials: dict[str, Any] | None = None
        self.cpo_versions_url: str | None = None
        self.pages: dict[str, int] = {}
        self._cpo_token: str | None = None  # the token the CPO gave us; we call the CPO with it
        self._incoming: str | None = None  # the token we gave the CPO; it calls us with it
        self._token_a_used = False
        self._down: str | None = None  # None, "503" or "close"
        self._results: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the server (and the HTTP client); `url` and `versions_url` are set afterwards."""
        app = web.Application(middlewares=[self._middleware])
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = self.config.public_url or f"http://{self.config.host}:{port}"
        self._session = aiohttp.ClientSession()
        log.info("emsp_started", url=self.url)

    async def close(self) -> None:
        """Stop the server and the client; pending command results are cancelled."""
        for future in self._results.values():
            if not future.done():
                future.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> EmspSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def versions_url(self) -> str:
        """Our versions endpoint (what a CPO registers with)."""
        return f"{self.url}/ocpi/versions"

    @property
    def version_url(self) -> str:
        """Our 2.2.1 details endpoint; module endpoints are below it."""
        return f"{self.url}/ocpi/{VERSION}"

    @property
    def registered(self) -> bool:
        """True once a credentials handshake with a CPO completed (either direction)."""
        return self._cpo_token is not None and self._incoming is not None

    def set_down(self, down: bool, *, close: bool = False) -> None:
        """Simulate being down: every request is answered HTTP 503 (or, with `close`, its connection is
        dropped without an answer) until `set_down(False)`."""
        self._down = ("close" if close else "503") if down else None

    def our_credentials(self, token: str) -> dict[str, Any]:
        """Our Credentials object carrying `token` (the token the CPO must call us with)."""
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": {"name": self.config.business_name},
                    "party_id": self.config.party_id,
                    "country_code": self.config.country_code,
                }
            ],
        }

    # -- waiting for pushes (tests) ----------------------------------------------------------------

    async def wait_for_push(self, match: Callable[[Push], bool], *, count: int = 1) -> list[Push]:
        """Wait until `count` received pushes (already received ones included) satisfy `match`; wrap it
        in `asyncio.timeout(...)`.

        Returns:
            The matching pushes, in arrival order.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: len([p for p in self.pushes if match(p)]) >= count)
            return [p for p in self.pushes if match(p)]

    async def wait_for_command_results(self, count: int) -> None:
        """Wait until `count` CommandResults arrived in total; wrap it in `asyncio.timeout(...)`."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.command_results) >= count)

    async def _record(self, request: web.Request, body: Any) -> None:
        push = Push(request.method, request.path, body, dict(request.headers))
        async with self._changed:
            self.received.append((push.method, push.path, push.body))
            self.pushes.append(push)
            self._changed.notify_all()

    # -- server: plumbing --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self._down == "close":
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        if self._down == "503":
            return web.Response(
                body=orjson.dumps(_envelope(None, SERVER_ERROR, "down")),
                status=503,
                content_type="application/json",
            )
        request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        correlation_id = request.headers.get("X-Correlation-ID") or request_id
        try:
            self._authenticate(request)
            response = await handler(request)
        except _Answer as exc:
            response = web.Response(
                body=orjson.dumps(_envelope(None, exc.status_code, exc.message)),
                status=exc.http_status,
                content_type="application/json",
            )
        except web.HTTPException as exc:
            code = CLIENT_ERROR if exc.status < 500 else SERVER_ERROR
            response = web.Response(
                body=orjson.dumps(_envelope(None, code, exc.reason)),
                status=exc.status,
                content_type="application/json",
            )
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = correlation_id
        for ours, theirs in (
            ("OCPI-to-party-id", "OCPI-from-party-id"),
            ("OCPI-to-country-code", "OCPI-from-country-code"),
            ("OCPI-from-party-id", "OCPI-to-party-id"),
            ("OCPI-from-country-code", "OCPI-to-country-code"),
        ):
            if theirs in request.headers:
                response.headers[ours] = request.headers[theirs]
        return response

    def _authenticate(self, request: web.Request) -> None:
        """Token A works on versions and credentials only; everything else needs the CPO's token."""
        token = token_of(request.headers.get("Authorization"))
        if token is None:
            raise _Answer(401, CLIENT_ERROR, "missing Authorization: Token header")
        if self._incoming is not None and secrets.compare_digest(token, self._incoming):
            return
        registration = request.path.rstrip("/").endswith(_REGISTRATION_TAILS)
        token_a = self.config.token_a
        if token_a is not None and not self._token_a_used and secrets.compare_digest(token, token_a):
            if registration:
                return
            raise _Answer(401, CLIENT_ERROR, "token A is only valid for versions and credentials")
        raise _Answer(401, CLIENT_ERROR, "unknown token")

    def _routes(self, app: web.Application) -> None:
        v = f"/ocpi/{VERSION}"
        app.router.add_get("/ocpi/versions", self._handle_versions)
        app.router.add_get(v, self._handle_details)
        app.router.add_route("*", f"{v}/credentials", self._handle_credentials)
        loc = f"{v}/locations/{{cc}}/{{pid}}/{{location_id}}"
        for path in (loc, f"{loc}/{{evse_uid}}", f"{loc}/{{evse_uid}}/{{connector_id}}"):
            app.router.add_route("*", path, self._handle_location)
        app.router.add_route("*", f"{v}/sessions/{{cc}}/{{pid}}/{{session_id}}", self._handle_session)
        app.router.add_post(f"{v}/cdrs", self._handle_cdr_post)
        app.router.add_get(f"{v}/cdrs/{{cdr_id}}", self._handle_cdr_get)
        app.router.add_route("*", f"{v}/tariffs/{{cc}}/{{pid}}/{{tariff_id}}", self._handle_tariff)
        app.router.add_get(f"{v}/tokens", self._handle_tokens_list)
        app.router.add_post(f"{v}/tokens/{{uid}}/authorize", self._handle_authorize)
        app.router.add_post(f"{v}/commands/{{command}}/{{reference}}", self._handle_command_result)

    @staticmethod
    async def _json(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Answer(400, INVALID_PARAMETERS, "invalid JSON body") from None

    # -- server: versions and credentials ------------------------------------------------------------

    async def _handle_versions(self, request: web.Request) -> web.Response:
        return _ok([{"version": VERSION, "url": self.version_url}])

    async def _handle_details(self, request: web.Request) -> web.Response:
        v = self.version_url
        endpoints = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{v}/credentials"},
            {"identifier": "locations", "role": "RECEIVER", "url": f"{v}/locations"},
            {"identifier": "sessions", "role": "RECEIVER", "url": f"{v}/sessions"},
            {"identifier": "cdrs", "role": "RECEIVER", "url": f"{v}/cdrs"},
            {"identifier": "tariffs", "role": "RECEIVER", "url": f"{v}/tariffs"},
            {"identifier": "tokens", "role": "SENDER", "url": f"{v}/tokens"},
            {"identifier": "commands", "role": "SENDER", "url": f"{v}/commands"},
        ]
        return _ok({"version": VERSION, "endpoints": endpoints})

    async def _handle_credentials(self, request: web.Request) -> web.Response:
        """OCPI 2.2.1 Credentials, server side: a CPO registers with us (POST with token A), updates (PUT)
        or unregisters (DELETE)."""
        token = token_of(request.headers.get("Authorization")) or ""
        if request.method == "GET":
            return _ok(self.our_credentials(token))
        if request.method == "DELETE":
            if not self.registered:
                raise _Answer(405, CLIENT_ERROR, "not registered")
            self._cpo_token = self._incoming = None
            return _ok()
        if request.method not in ("POST", "PUT"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST", "PUT", "DELETE"])
        if request.method == "POST" and self.registered:
            raise _Answer(405, CLIENT_ERROR, "already registered: use PUT")
        if request.method == "PUT" and not self.registered:
            raise _Answer(405, CLIENT_ERROR, "not registered: use POST")
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("token"), str) or not body.get("url"):
            raise _Answer(400, INVALID_PARAMETERS, "credentials need token and url")
        try:
            await self._fetch_cpo(str(body["url"]), body["token"])
        except OcpiCallError as exc:
            raise _Answer(200, CLIENT_API_ERROR, f"cannot use the CPO's API: {exc}") from None
        self._cpo_token = body["token"]
        self.cpo_credentials = body
        self._incoming = secrets.token_urlsafe(32)
        self._token_a_used = True
        log.info("emsp_registered_by_cpo", cpo_versions_url=body["url"])
        return _ok(self.our_credentials(self._incoming))

    # -- server: receivers -------------------------------------------------------------------------

    def _check_ids(self, request: web.Request, body: Any, id_field: str, url_id: str) -> None:
        """PUT bodies must be objects whose country_code, party_id and id match the URL (2001)."""
        if not isinstance(body, dict):
            raise _Answer(400, INVALID_PARAMETERS, "the body must be a JSON object")
        info = request.match_info
        if id_field in body and str(body[id_field]) != url_id:
            raise _Answer(400, INVALID_PARAMETERS, f"{id_field} in the body differs from the URL")
        for name in ("country_code", "party_id"):
            key = "cc" if name == "country_code" else "pid"
            if name in body and str(body[name]).upper() != info[key].upper():
                raise _Answer(400, INVALID_PARAMETERS, f"{name} in the body differs from the URL")

    @staticmethod
    def _need_last_updated(body: Any) -> None:
        """A PATCH must carry last_updated (OCPI 2.2.1 Transport: PATCH; 2001 otherwise)."""
        if not isinstance(body, dict) or "last_updated" not in body:
            raise _Answer(400, INVALID_PARAMETERS, "PATCH without last_updated")

    async def _refuse(self, request: web.Request, answer: _Answer) -> NoReturn:
        self.rejected.append((request.method, request.path, answer.message))
        raise answer

    async def _handle_location(self, request: web.Request) -> web.Response:
        """Locations receiver: GET/PUT/PATCH a Location, EVSE or Connector (OCPI 2.2.1 Locations)."""
        info = request.match_info
        key = f"{info['cc'].upper()}/{info['pid'].upper()}/{info['location_id']}"
        evse_uid, connector_id = info.get("evse_uid"), info.get("connector_id")
        location = self.locations.get(key)
        if request.method == "GET":
            found = _find_part(location, evse_uid, connector_id)
            if found is None:
                raise _Answer(404, UNKNOWN_LOCATION, "unknown object")
            return _ok(found)
        if request.method not in ("PUT", "PATCH"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT", "PATCH"])
        body = await self._json(request)
        await self._record(request, body)
        try:
            if request.method == "PATCH":
                self._need_last_updated(body)
            elif evse_uid is None:
                self._check_ids(request, body, "id", info["location_id"])
            elif connector_id is None:
                self._check_ids(request, body, "uid", evse_uid)
            else:
                self._check_ids(request, body, "id", connector_id)
            if self.config.strict and request.method == "PATCH":
                if _find_part(location, evse_uid, connector_id) is None:
                    raise _Answer(404, UNKNOWN_LOCATION, "unknown object")
        except _Answer as exc:
            await self._refuse(request, exc)
        created = location is None
        if location is None:
            location = {"country_code": info["cc"], "party_id": info["pid"], "id": info["location_id"]}
            self.locations[key] = location
        _apply_location(location, request.method, body, evse_uid, connector_id)
        return _ok(status=201 if created and request.method == "PUT" else 200)

    async def _handle_session(self, request: web.Request) -> web.Response:
        """Sessions receiver: GET/PUT/PATCH (a PATCH appends charging_periods; OCPI 2.2.1 Sessions)."""
        info = request.match_info
        key = f"{info['cc'].upper()}/{info['pid'].upper()}/{info['session_id']}"
        session = self.sessions.get(key)
        if request.method == "GET":
            if session is None:
                raise _Answer(404, INVALID_PARAMETERS, "unknown session")
            return _ok(session)
        if request.method not in ("PUT", "PATCH"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT", "PATCH"])
        body = await self._json(request)
        await self._record(request, body)
        try:
            if request.method == "PUT":
                self._check_ids(request, body, "id", info["session_id"])
            else:
                self._need_last_updated(body)
                if session is None and self.config.strict:
                    raise _Answer(404, INVALID_PARAMETERS, "unknown session")
        except _Answer as exc:
            await self._refuse(request, exc)
        if request.method == "PUT":
            self.sessions[key] = dict(body)
            return _ok(status=201 if session is None else 200)
        merged = dict(
            session or {"country_code": info["cc"], "party_id": info["pid"], "id": info["session_id"]}
        )
        for name, value in body.items():
            if name == "charging_periods":
                merged["charging_periods"] = list(merged.get("charging_periods") or []) + list(value or [])
            else:
                merged[name] = value
        self.sessions[key] = merged
        return _ok()

    async def _handle_cdr_post(self, request: web.Request) -> web.Response:
        """CDRs receiver: POST a CDR; answered with the URL of our copy in `Location` (OCPI 2.2.1 CDRs)."""
        body = await self._json(request)
        await self._record(request, body)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            await self._refuse(request, _Answer(400, INVALID_PARAMETERS, "a CDR needs an id"))
        created = body["id"] not in self.cdrs
        self.cdrs[body["id"]] = body
        location = f"{self.version_url}/cdrs/{body['id']}"
        return _ok(status=201 if created else 200, headers={"Location": location})

    async def _handle_cdr_get(self, request: web.Request) -> web.Response:
        cdr = self.cdrs.get(request.match_info["cdr_id"])
        if cdr is None:
            raise _Answer(404, INVALID_PARAMETERS, "unknown CDR")
        return _ok(cdr)

    async def _handle_tariff(self, request: web.Request) -> web.Response:
        """Tariffs receiver: GET/PUT/DELETE (no PATCH; OCPI 2.2.1 Tariffs)."""
        info = request.match_info
        key = f"{info['cc'].upper()}/{info['pid'].upper()}/{info['tariff_id']}"
        if request.method == "GET":
            if key not in self.tariffs:
                raise _Answer(404, INVALID_PARAMETERS, "unknown tariff")
            return _ok(self.tariffs[key])
        if request.method == "DELETE":
            await self._record(request, None)
            self.tariffs.pop(key, None)
            return _ok()
        if request.method != "PUT":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT", "DELETE"])
        body = await self._json(request)
        await self._record(request, body)
        try:
            self._check_ids(request, body, "id", info["tariff_id"])
        except _Answer as exc:
            await self._refuse(request, exc)
        created = key not in self.tariffs
        self.tariffs[key] = body
        return _ok(status=201 if created else 200)

    # -- server: tokens (sender) and command results --------------------------------------------------

    async def _handle_tokens_list(self, request: web.Request) -> web.Response:
        """Our tokens, paginated (OCPI 2.2.1 Tokens, sender interface: GET with offset/limit)."""
        q = request.query
        try:
            offset = int(q.get("offset", "0"))
            limit = min(int(q.get("limit", str(self.config.page_limit))), self.config.page_limit)
        except ValueError:
            raise _Answer(400, INVALID_PARAMETERS, "offset and limit must be integers") from None
        items = sorted(self.tokens.values(), key=lambda t: (str(t.get("last_updated", "")), str(t["uid"])))
        date_from, date_to = q.get("date_from"), q.get("date_to")
        items = [
            t
            for t in items
            if (date_from is None or str(t.get("last_updated", "")) >= date_from)
            and (date_to is None or str(t.get("last_updated", "")) < date_to)
        ]
        chunk = items[offset : offset + limit]
        headers = {"X-Total-Count": str(len(items)), "X-Limit": str(self.config.page_limit)}
        if offset + len(chunk) < len(items) and chunk:
            query = {k: v for k, v in q.items() if k not in ("offset", "limit")}
            query.update(offset=str(offset + len(chunk)), limit=str(limit))
            headers["Link"] = f'<{self.version_url}/tokens?{urlencode(query)}>; rel="next"'
        return _ok(chunk, headers=headers)

    async def _handle_authorize(self, request: web.Request) -> web.Response:
        """Real-time authorization (OCPI 2.2.1 Tokens: POST {url}/{uid}/authorize[?type=]): answered from
        `authorizations`, else from the token's `valid`; an unknown token is 404 / 2004."""
        uid = request.match_info["uid"]
        token_type = request.query.get("type", "RFID")
        body = await self._json(request)
        self.authorize_requests.append((uid, token_type, body))
        if self.authorize_delay:
            await asyncio.sleep(self.authorize_delay)
        token = self.tokens.get((uid, token_type))
        allowed = self.authorizations.get(uid)
        if token is None:
            if allowed is None:
                raise _Answer(404, UNKNOWN_TOKEN, "unknown token")
            token = self.make_token(uid, type=token_type)
        if allowed is None:
            allowed = "ALLOWED" if token.get("valid", True) else "BLOCKED"
        info: dict[str, Any] = {
            "allowed": allowed,
            "token": token,
            "authorization_reference": uuid.uuid4().hex[:36],
        }
        if isinstance(body, dict) and body.get("location_id"):
            info["location"] = body
        return _ok(info)

    async def _handle_command_result(self, request: web.Request) -> web.Response:
        """A CommandResult posted to a response_url we handed out (OCPI 2.2.1 Commands)."""
        command, reference = request.match_info["command"], request.match_info["reference"]
        body = await self._json(request)
        if not isinstance(body, dict) or "result" not in body:
            raise _Answer(400, INVALID_PARAMETERS, "a CommandResult needs result")
        async with self._changed:
            self.command_results.append((command, reference, body))
            self._changed.notify_all()
        future = self._results.get(reference)
        if future is not None and not future.done():
            future.set_result(body)
        return _ok()

    # -- client ------------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        token: str | None = None,
        routing: bool = True,
        params: Mapping[str, str] | None = None,
    ) -> EmspResponse:
        """One call to the CPO with OCPI headers, authenticated with `token` (default the CPO's token C).

        Raises:
            OcpiCallError: the CPO is unreachable, or there is no token to call it with.
        """
        use = token if token is not None else self._cpo_token
        if use is None or self._session is None:
            raise OcpiCallError("not registered with a CPO (or not started)")
        headers = {
            "Authorization": token_header(use),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        }
        if routing:
            headers["OCPI-from-country-code"] = self.config.country_code
            headers["OCPI-from-party-id"] = self.config.party_id
            cpo = self._cpo_party()
            if cpo is not None:
                headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = cpo
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                params=params,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            ) as resp:
                raw = await resp.read()
                status, response_headers = resp.status, resp.headers.copy()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise OcpiCallError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("status_code"), int):
            return EmspResponse(
                status,
                parsed["status_code"],
                parsed.get("data"),
                response_headers,
                parsed.get("status_message"),
            )
        return EmspResponse(status, None, None, response_headers)

    async def _call_ok(self, method: str, url: str, body: Any = None, **kw: Any) -> EmspResponse:
        response = await self.call(method, url, body, **kw)
        if not response.success:
            raise OcpiCallError(
                f"{method} {url}: HTTP {response.http_status}, OCPI {response.status_code} "
                f"{response.status_message or ''}".rstrip(),
                response,
            )
        return response

    def _cpo_party(self) -> tuple[str, str] | None:
        roles = (self.cpo_credentials or {}).get("roles") or []
        for role in roles:
            if role.get("role") == "CPO":
                return str(role["country_code"]), str(role["party_id"])
        return None

    async def _fetch_cpo(self, versions_url: str, token: str) -> None:
        """GET the CPO's versions and 2.2.1 details with `token`; keeps its endpoints."""
        versions = await self._call_ok("GET", versions_url, token=token, routing=False)
        match = [v for v in versions.data or [] if isinstance(v, dict) and v.get("version") == VERSION]
        if not match:
            raise OcpiCallError(f"the CPO does not offer OCPI {VERSION}")
        details = await self._call_ok("GET", str(match[0]["url"]), token=token, routing=False)
        endpoints: dict[str, str] = {}
        for endpoint in (details.data or {}).get("endpoints", []):
            endpoints[f"{endpoint['identifier']}:{str(endpoint['role']).upper()}"] = endpoint["url"]
        self.cpo_endpoints = endpoints
        self.cpo_versions_url = versions_url

    def cpo_endpoint(self, identifier: str, role: str) -> str:
        """The CPO's endpoint URL of a module and role.

        Raises:
            OcpiCallError: the CPO has no such endpoint (or we are not registered).
        """
        url = self.cpo_endpoints.get(f"{identifier}:{role.upper()}")
        if url is None:
            raise OcpiCallError(f"the CPO has no {identifier} {role} endpoint")
        return url

    async def register(self, cpo_versions_url: str, token_a: str) -> dict[str, Any]:
        """Register with a CPO (OCPI 2.2.1 Credentials: registration, we are the sender).

        GETs its versions and details with token A, POSTs our credentials with a fresh token B (the CPO
        GETs our versions with it meanwhile), and keeps the token C it answers: every later call uses C.

        Returns:
            The CPO's credentials object.

        Raises:
            OcpiCallError: a step failed (the message says which answer).
        """
        await self._fetch_cpo(cpo_versions_url, token_a)
        token_b = secrets.token_urlsafe(32)
        self._incoming = token_b  # the CPO calls our versions with B before it answers
        url = (
            self.cpo_endpoint("credentials", "SENDER") if "credentials:SENDER" in self.cpo_endpoints else None
        )
        url = url or self.cpo_endpoint("credentials", "RECEIVER")
        try:
            answer = await self._call_ok(
                "POST", url, self.our_credentials(token_b), token=token_a, routing=False
            )
        except OcpiCallError:
            self._incoming = None
            raise
        credentials = answer.data
        if not isinstance(credentials, dict) or not isinstance(credentials.get("token"), str):
            self._incoming = None
            raise OcpiCallError("the CPO answered no credentials token", answer)
        self._cpo_token = credentials["token"]
        self.cpo_credentials = credentials
        # Refresh the endpoints with the new token: what a registered party may see can differ.
        await self._fetch_cpo(cpo_versions_url, self._cpo_token)
        log.info("emsp_registered", cpo_versions_url=cpo_versions_url)
        return credentials

    async def update_credentials(self) -> dict[str, Any]:
        """PUT new credentials (a fresh token B) to the CPO; keeps the new token C it answers."""
        url = self.cpo_endpoints.get("credentials:SENDER") or self.cpo_endpoint("credentials", "RECEIVER")
        new_b = secrets.token_urlsafe(32)
        old_b, self._incoming = self._incoming, new_b
        try:
            answer = await self._call_ok("PUT", url, self.our_credentials(new_b), routing=False)
        except OcpiCallError:
            self._incoming = old_b
            raise
        self._cpo_token = answer.data["token"]
        self.cpo_credentials = answer.data
        result: dict[str, Any] = answer.data
        return result

    async def unregister(self) -> None:
        """DELETE our credentials at the CPO; neither side's tokens work afterwards."""
        url = self.cpo_endpoints.get("credentials:SENDER") or self.cpo_endpoint("credentials", "RECEIVER")
        await self._call_ok("DELETE", url, routing=False)
        self._cpo_token = self._incoming = None

    async def pull(
        self, identifier: str, *, limit: int | None = None, params: Mapping[str, str] | None = None
    ) -> list[Any]:
        """GET every page of one SENDER module of the CPO, following `Link: <...>; rel="next"`.

        Sessions get `date_from=1970-01-01T00:00:00Z` (required there). Pulled objects are also kept in
        `locations` / `sessions` / `cdrs` / `tariffs`, so later pushes apply to them; `pages[identifier]`
        says how many pages it took.

        Raises:
            OcpiCallError: a page was not a success, or the CPO has no such endpoint.
        """
        query: dict[str, str] = dict(params or {})
        if identifier == "sessions":
            query.setdefault("date_from", EPOCH)
        if limit is not None:
            query["limit"] = str(limit)
        url: str | None = self.cpo_endpoint(identifier, "SENDER")
        items: list[Any] = []
        pages = 0
        first = True
        while url is not None:
            response = await self._call_ok("GET", url, params=query if first else None)
            first = False
            pages += 1
            if not isinstance(response.data, list):
                raise OcpiCallError(f"GET {url}: data is not a list", response)
            items.extend(response.data)
            url = _next_link(response.headers.get("Link"))
            if pages > 10_000:
                raise OcpiCallError(f"GET {identifier}: too many pages")
        self.pages[identifier] = pages
        self._keep(identifier, items)
        return items

    async def pull_all(self, *, limit: int | None = None) -> dict[str, list[Any]]:
        """Pull every SENDER module the CPO offers (locations, sessions, cdrs, tariffs: those it has).

        Returns:
            identifier -> every object of that module.
        """
        result: dict[str, list[Any]] = {}
        for identifier in PULLABLE:
            if f"{identifier}:SENDER" in self.cpo_endpoints:
                result[identifier] = await self.pull(identifier, limit=limit)
        return result

    def _keep(self, identifier: str, items: list[Any]) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            if identifier == "cdrs":
                self.cdrs[str(item.get("id"))] = item
                continue
            cc, pid = str(item.get("country_code", "")).upper(), str(item.get("party_id", "")).upper()
            key = f"{cc}/{pid}/{item.get('id')}"
            store = {"locations": self.locations, "sessions": self.sessions, "tariffs": self.tariffs}.get(
                identifier
            )
            if store is not None:
                store[key] = item

    async def get_object(self, identifier: str, *parts: str, params: Mapping[str, str] | None = None) -> Any:
        """GET one object from a CPO SENDER endpoint, e.g. get_object("locations", "LOC1", evse_uid).

        Raises:
            OcpiCallError: not a success (the response is attached).
        """
        url = "/".join([self.cpo_endpoint(identifier, "SENDER").rstrip("/"), *parts])
        return (await self._call_ok("GET", url, params=params)).data

    def make_token(self, uid: str, **fields: Any) -> dict[str, Any]:
        """A complete OCPI Token object of ours (defaults: RFID, valid, whitelist ALLOWED), with `fields`
        overriding."""
        token: dict[str, Any] = {
            "country_code": self.config.country_code,
            "party_id": self.config.party_id,
            "uid": uid,
            "type": "RFID",
            "contract_id": f"{self.config.country_code}-{self.config.party_id}-C{uid}"[:36],
            "issuer": self.config.business_name,
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": now_ocpi(),
        }
        token.update(fields)
        return token

    async def put_token(self, token: dict[str, Any] | str, **fields: Any) -> EmspResponse:
        """PUT one of our tokens to the CPO's tokens receiver (`{url}/{cc}/{pid}/{uid}?type=`), and keep it
        for real-time authorization. A uid alone is completed by `make_token(uid, **fields)`.

        Raises:
            OcpiCallError: the CPO did not accept it.
        """
        obj = self.make_token(token, **fields) if isinstance(token, str) else dict(token)
        self.tokens[(str(obj["uid"]), str(obj.get("type", "RFID")))] = obj
        base = self.cpo_endpoint("tokens", "RECEIVER").rstrip("/")
        url = f"{base}/{obj['country_code']}/{obj['party_id']}/{obj['uid']}"
        return await self._call_ok("PUT", url, obj, params={"type": str(obj.get("type", "RFID"))})

    async def patch_token(self, uid: str, fields: dict[str, Any], *, type: str = "RFID") -> EmspResponse:
        """PATCH fields of one of our tokens at the CPO (`last_updated` added when missing).

        Raises:
            OcpiCallError: the CPO did not accept it.
        """
        body = dict(fields)
        body.setdefault("last_updated", now_ocpi())
        if (uid, type) in self.tokens:
            self.tokens[(uid, type)].update(body)
        cc, pid = self.config.country_code, self.config.party_id
        url = f"{self.cpo_endpoint('tokens', 'RECEIVER').rstrip('/')}/{cc}/{pid}/{uid}"
        return await self._call_ok("PATCH", url, body, params={"type": type})

    async def send_command(
        self, command: str, body: dict[str, Any]
    ) -> tuple[EmspResponse, asyncio.Future[dict[str, Any]]]:
        """POST a command to the CPO (`{commands url}/{command}`) with a fresh `response_url` of ours.

        Returns:
            The synchronous answer (its `data` is the CommandResponse) and a future that resolves to the
            CommandResult the CPO posts later (wait for it with a timeout; it never resolves when the
            command was not ACCEPTED).

        Raises:
            OcpiCallError: the CPO is unreachable or has no commands endpoint.
        """
        reference = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._results[reference] = future
        payload = dict(body)
        payload["response_url"] = f"{self.version_url}/commands/{command}/{reference}"
        url = f"{self.cpo_endpoint('commands', 'RECEIVER').rstrip('/')}/{command}"
        self.sent_commands.append((command, payload))
        response = await self.call("POST", url, payload)
        return response, future

    # -- reporting ---------------------------------------------------------------------------------

    def summary(self, pulled: Mapping[str, list[Any]] | None = None) -> str:
        """A human-readable summary: what was pulled, pushes received per module, command results."""
        lines = [f"eMSP {self.config.country_code}/{self.config.party_id} at {self.versions_url}"]
        if pulled is not None:
            for identifier, items in pulled.items():
                lines.append(f"pulled {identifier}: {len(items)} in {self.pages.get(identifier, 0)} page(s)")
        counts: dict[str, int] = {}
        for push in self.pushes:
            counts[f"{push.method} {push.module}"] = counts.get(f"{push.method} {push.module}", 0) + 1
        lines.append(f"pushes received: {len(self.pushes)}")
        lines.extend(f"  {name}: {count}" for name, count in sorted(counts.items()))
        if self.rejected:
            lines.append(f"pushes refused: {len(self.rejected)}")
        if self.command_results:
            lines.append(f"command results: {len(self.command_results)}")
        if self.authorize_requests:
            lines.append(f"real-time authorizations: {len(self.authorize_requests)}")
        return "\n".join(lines)


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
