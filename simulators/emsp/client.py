"""The simulated eMSP as a client of a CPO: registration, pulls, tokens and commands."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
import structlog

from simulators.emsp.base import EmspBase
from simulators.emsp.protocol import (
    EPOCH,
    PULLABLE,
    VERSION,
    EmspResponse,
    OcpiCallError,
    _next_link,
    now_ocpi,
    token_header,
)

log = structlog.get_logger("simulators.emsp")


class EmspClient(EmspBase):
    """Calls to the CPO (see the package docstring)."""

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
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        try:
            # `json=body` sends a body only when there is one, as application/json (the session's serializer).
            async with self._session.request(
                method, url, json=body, headers=headers, params=params, timeout=timeout
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

    async def send_charging_profile(
        self,
        method: str,
        session_id: str,
        profile: dict[str, Any] | None = None,
        duration: int = 3600,
    ) -> tuple[EmspResponse, asyncio.Future[dict[str, Any]]]:
        """PUT (with `profile`), GET (for `duration` seconds) or DELETE `{chargingprofiles url}/{session_id}`
        with a fresh response_url of ours (OCPI 2.2.1 ChargingProfiles).

        Returns:
            The synchronous answer (its `data` is the ChargingProfileResponse) and a future that resolves to
            the result the CPO posts later (ChargingProfileResult, ActiveChargingProfileResult or
            ClearProfileResult).

        Raises:
            OcpiCallError: the CPO is unreachable or has no chargingprofiles endpoint.
        """
        reference = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._results[reference] = future
        response_url = f"{self.version_url}/chargingprofiles/{method}/{reference}"
        url = f"{self.cpo_endpoint('chargingprofiles', 'RECEIVER').rstrip('/')}/{session_id}"
        if method == "PUT":
            body = {"charging_profile": profile, "response_url": response_url}
            response = await self.call("PUT", url, body)
        else:
            params = {"response_url": response_url}
            if method == "GET":
                params["duration"] = str(duration)
            response = await self.call(method, url, params=params)
        return response, future

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
