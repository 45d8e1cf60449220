"""The simulated eMSP's OCPI server: versions, credentials, the receiver modules, tokens and results."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
import orjson
import structlog
from aiohttp import web

from simulators.emsp.client import EmspClient
from simulators.emsp.protocol import (
    _REGISTRATION_TAILS,
    CLIENT_API_ERROR,
    CLIENT_ERROR,
    INVALID_PARAMETERS,
    SERVER_ERROR,
    UNKNOWN_LOCATION,
    UNKNOWN_TOKEN,
    VERSION,
    OcpiCallError,
    _Answer,
    _apply_location,
    _find_part,
    _ok,
    _reply_headers,
    token_of,
)

log = structlog.get_logger("simulators.emsp")


def _json_text(obj: Any) -> str:
    """The JSON text of a request body (orjson, as our answers)."""
    return orjson.dumps(obj).decode()


class EmspServer(EmspClient):
    """The OCPI endpoints a CPO calls (see the package docstring)."""

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
        self._session = aiohttp.ClientSession(json_serialize=_json_text)
        log.info("emsp_started", url=self.url)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self._down == "close":
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        if self._down == "503":
            return _Answer(503, SERVER_ERROR, "down").response()
        try:
            self._authenticate(request)
            response = await handler(request)
        except _Answer as exc:
            response = exc.response()
        except web.HTTPException as exc:
            code = CLIENT_ERROR if exc.status < 500 else SERVER_ERROR
            response = _Answer(exc.status, code, exc.reason).response()
        response.headers.update(_reply_headers(request.headers))
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
        # ChargingProfileResult / ClearProfileResult to the response_url of a chargingprofiles request
        app.router.add_post(f"{v}/chargingprofiles/{{command}}/{{reference}}", self._handle_command_result)

    @staticmethod
    async def _json(request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Answer(400, INVALID_PARAMETERS, "invalid JSON body") from None

    async def _push_body(
        self, request: web.Request, allowed: list[str], vet: Callable[[Any], None] | None = None
    ) -> Any:
        """The JSON body of a push to a receiver endpoint that takes the methods `allowed`, recorded in
        `received` / `pushes` (a method not allowed is answered 405, an invalid body 400, neither recorded).

        `vet(body)` refuses a push by raising `_Answer`; the refusal is kept in `rejected` and answered.
        """
        if request.method not in allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        body = await self._json(request)
        await self._record(request, body)
        if vet is not None:
            try:
                vet(body)
            except _Answer as exc:
                self.rejected.append((request.method, request.path, exc.message))
                raise
        return body

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

    def _vet_location(
        self,
        request: web.Request,
        body: Any,
        location: dict[str, Any] | None,
        evse_uid: str | None,
        connector_id: str | None,
    ) -> None:
        """Refuse a Location / EVSE / Connector PATCH without last_updated (or, with `strict`, of an object
        we never received: 404 / 2003) and a PUT whose ids differ from the URL's."""
        if request.method == "PATCH":
            self._need_last_updated(body)
            if self.config.strict and _find_part(location, evse_uid, connector_id) is None:
                raise _Answer(404, UNKNOWN_LOCATION, "unknown object")
        elif evse_uid is None:
            self._check_ids(request, body, "id", request.match_info["location_id"])
        elif connector_id is None:
            self._check_ids(request, body, "uid", evse_uid)
        else:
            self._check_ids(request, body, "id", connector_id)

    def _vet_session(self, request: web.Request, body: Any, session: dict[str, Any] | None) -> None:
        """Refuse a Session PUT whose ids differ from the URL's and a PATCH without last_updated (or, with
        `strict`, of a session we never received: 404 / 2001)."""
        if request.method == "PUT":
            self._check_ids(request, body, "id", request.match_info["session_id"])
            return
        self._need_last_updated(body)
        if session is None and self.config.strict:
            raise _Answer(404, INVALID_PARAMETERS, "unknown session")

    @staticmethod
    def _need_cdr_id(body: Any) -> None:
        """A CDR must be an object with a string id (2001 otherwise)."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise _Answer(400, INVALID_PARAMETERS, "a CDR needs an id")

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
        body = await self._push_body(
            request,
            ["GET", "PUT", "PATCH"],
            lambda body: self._vet_location(request, body, location, evse_uid, connector_id),
        )
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
        body = await self._push_body(
            request, ["GET", "PUT", "PATCH"], lambda body: self._vet_session(request, body, session)
        )
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
        body = await self._push_body(request, ["POST"], self._need_cdr_id)
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
        body = await self._push_body(
            request,
            ["GET", "PUT", "DELETE"],
            lambda body: self._check_ids(request, body, "id", info["tariff_id"]),
        )
        created = key not in self.tariffs
        self.tariffs[key] = body
        return _ok(status=201 if created else 200)

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
        """A CommandResult (OCPI 2.2.1 Commands) or a ChargingProfiles result posted to a response_url we
        handed out."""
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
