"""OCPI versions and credentials with partners registering with us (ocpi/versions.py, ocpi/credentials.py).

Two real aiohttp apps talk over HTTP on 127.0.0.1 (style practice 10): our OCPI sub-application (versions and
credentials, on the in-memory OCPI store) and `StubEmsp`, a small eMSP built from the same transport pieces
that registers with us, updates and unregisters — and, for tests/ocpi/test_registration.py, lets us register
with it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import credentials, versions
from ocpi.client import PartnerClient
from ocpi.context import OCPI, OcpiContext
from ocpi.models import PartnerStatus
from ocpi.partners import issue_partner, new_token, receivers
from ocpi.store import OcpiStore
from ocpi.transport import (
    VERSION,
    OcpiError,
    Status,
    auth_middleware,
    dumps,
    encode_token,
    envelope,
    error_middleware,
    hash_token,
    ok,
    read_json,
    token_candidates,
)
from tests.fakes.memory_store import MemoryStore
from tests.utils import MS

STUB_TOKEN = web.RequestKey("stub_token", str)  # the token a request to the stub authenticated with

EMSP_ENDPOINTS = (
    ("credentials", "SENDER"),
    ("locations", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
)


# -- the stub eMSP -----------------------------------------------------------------------------------


@dataclass
class Call:
    """One request the stub received."""

    method: str
    path: str
    token: str | None


@dataclass
class StubEmsp:
    """A minimal OCPI 2.2.1 eMSP on 127.0.0.1: versions, version details and credentials, with knobs to fail.

    As a client it registers with a CPO (`register`), updates (`update`) and unregisters (`unregister`); as a
    server it issues token A (`issue_token_a`) and lets a CPO register with it (POST credentials).
    """

    session: aiohttp.ClientSession
    country_code: str = "DE"
    party_id: str = "EMS"
    name: str = "Stub eMSP"
    endpoint_list: tuple[tuple[str, str], ...] = EMSP_ENDPOINTS
    versions_list: list[dict[str, str]] | None = None  # None: [{"version": "2.2.1", ...}]
    versions_http_status: int = 200  # anything else: the versions endpoint answers that, not OCPI
    post_answer: str = "ok"  # "ok" | "refuse" | "malformed": how it answers a CPO's POST credentials
    accepted: dict[str, str] = field(default_factory=dict)  # tokens that may call the stub -> "A"/"B"/"C"
    calls: list[Call] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)  # credentials CPOs POSTed to the stub
    cpo_token: str | None = None  # the token the stub calls the CPO with
    cpo_credentials: dict[str, Any] | None = None  # the CPO's credentials as last received
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> StubEmsp:
        """Serve on a free port of 127.0.0.1."""
        sub = web.Application(middlewares=[error_middleware, self._auth])
        sub.router.add_get("/versions", self._versions)
        sub.router.add_get(f"/{VERSION}", self._details)
        sub.router.add_post(f"/{VERSION}/credentials", self._post_credentials)
        sub.router.add_get(f"/{VERSION}/credentials", self._get_credentials)
        root = web.Application()
        root.add_subapp("/ocpi/emsp", sub)
        self._runner = web.AppRunner(root)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/ocpi/emsp"
        return self

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def versions_url(self) -> str:
        """The stub's versions endpoint."""
        return f"{self.base_url}/versions"

    def credentials(self, token: str) -> dict[str, Any]:
        """The stub's Credentials object carrying `token`."""
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": {"name": self.name},
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                }
            ],
        }

    def calls_with(self, token: str) -> list[str]:
        """The paths the stub was called on with `token`."""
        return [c.path for c in self.calls if c.token == token]

    # -- server side --

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        candidates = token_candidates(request.headers.get("Authorization"))
        token = next((t for t in candidates if t in self.accepted), None)
        self.calls.append(
            Call(request.method, request.path, token or (candidates[0] if candidates else None))
        )
        if token is None:
            raise OcpiError(401, Status.CLIENT_ERROR, "unknown token")
        request[STUB_TOKEN] = token
        response: web.StreamResponse = await handler(request)
        return response

    async def _versions(self, request: web.Request) -> web.Response:
        if self.versions_http_status != 200:
            return web.Response(status=self.versions_http_status, text="down for maintenance")
        listed = self.versions_list
        if listed is None:
            listed = [
                {"version": "2.1.1", "url": f"{self.base_url}/2.1.1"},
                {"version": VERSION, "url": f"{self.base_url}/{VERSION}"},
            ]
        return ok(listed)

    async def _details(self, request: web.Request) -> web.Response:
        endpoints = [
            {"identifier": identifier, "role": role, "url": f"{self.base_url}/{VERSION}/{identifier}"}
            for identifier, role in self.endpoint_list
        ]
        return ok({"version": VERSION, "endpoints": endpoints})

    async def _get_credentials(self, request: web.Request) -> web.Response:
        return ok(self.credentials(request[STUB_TOKEN]))

    async def _post_credentials(self, request: web.Request) -> web.Response:
        """A CPO registers with the stub: token A, then the stub fetches the CPO's versions with its token."""
        token = request[STUB_TOKEN]
        if self.accepted[token] != "A":
            raise OcpiError(405, Status.CLIENT_ERROR, "already registered")
        body = await read_json(request)
        self.posted.append(body)
        status, listed = await self.call("GET", body["url"], body["token"])
        found = (
            [v["url"] for v in listed.get("data") or [] if v["version"] == VERSION] if status == 200 else []
        )
        if not found:
            return ok_status(Status.CLIENT_API_ERROR, "cannot use the CPO's versions")
        status, details = await self.call("GET", found[0], body["token"])
        if status != 200 or details.get("status_code") != 1000:
            return ok_status(Status.CLIENT_API_ERROR, "cannot use the CPO's version details")
        if self.post_answer == "refuse":
            return ok_status(Status.NO_MATCHING_ENDPOINTS, "we need your tariffs")
        if self.post_answer == "malformed":
            return ok({"token": "", "url": "nowhere", "roles": []})
        del self.accepted[token]  # token A is used up
        self.cpo_token = body["token"]
        self.cpo_credentials = body
        token_c = new_token()
        self.accepted[token_c] = "C"
        return ok(self.credentials(token_c))

    def issue_token_a(self) -> str:
        """A registration token for a CPO to register with the stub."""
        token = new_token()
        self.accepted[token] = "A"
        return token

    # -- client side --

    async def call(self, method: str, url: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """One OCPI call with `token`; (HTTP status, the JSON body or {})."""
        async with self.session.request(
            method, url, json=body, headers={"Authorization": encode_token(token)}
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            return resp.status, data if isinstance(data, dict) else {"list": data}

    async def credentials_url(self, cpo_versions_url: str, token: str) -> str:
        """Find the CPO's 2.2.1 credentials endpoint through its versions and details."""
        _, listed = await self.call("GET", cpo_versions_url, token)
        details_url = next(v["url"] for v in listed["data"] if v["version"] == VERSION)
        _, details = await self.call("GET", details_url, token)
        url: str = next(e["url"] for e in details["data"]["endpoints"] if e["identifier"] == "credentials")
        return url

    async def register(self, cpo_versions_url: str, token_a: str) -> tuple[int, dict[str, Any]]:
        """The eMSP side of registration: POST credentials with a new token B using token A."""
        url = await self.credentials_url(cpo_versions_url, token_a)
        token_b = new_token()
        self.accepted[token_b] = "B"
        status, body = await self.call("POST", url, token_a, self.credentials(token_b))
        if status == 200 and body.get("status_code") == 1000:
            self.cpo_token = body["data"]["token"]
            self.cpo_credentials = body["data"]
        return status, body

    async def update(self, cpo_versions_url: str) -> tuple[int, dict[str, Any], str]:
        """PUT new credentials (a new token B) with the current token; (status, body, the new token B)."""
        assert self.cpo_token is not None
        url = await self.credentials_url(cpo_versions_url, self.cpo_token)
        token_b = new_token()
        self.accepted[token_b] = "B"
        status, body = await self.call("PUT", url, self.cpo_token, self.credentials(token_b))
        if status == 200 and body.get("status_code") == 1000:
            self.cpo_token = body["data"]["token"]
        return status, body, token_b

    async def unregister(self, cpo_versions_url: str) -> tuple[int, dict[str, Any]]:
        """DELETE credentials with the current token."""
        assert self.cpo_token is not None
        url = await self.credentials_url(cpo_versions_url, self.cpo_token)
        return await self.call("DELETE", url, self.cpo_token)


def ok_status(status: Status, message: str) -> web.Response:
    """An OCPI error answered with HTTP 200, as the spec wants for errors in the OCPI layer."""
    return web.Response(
        body=dumps(envelope(None, status_code=status, message=message)), content_type="application/json"
    )


# -- our side ------------------------------------------------------------------------------------------


@dataclass
class Cpo:
    """Our OCPI app (versions and credentials) on 127.0.0.1, its context and an HTTP session for tests."""

    ctx: OcpiContext
    session: aiohttp.ClientSession
    runner: web.AppRunner
    stubs: list[StubEmsp] = field(default_factory=list)

    @property
    def store(self) -> OcpiStore:
        """Our OCPI store."""
        return self.ctx.store

    @property
    def versions_url(self) -> str:
        """Our versions endpoint."""
        return self.ctx.versions_url

    async def get(self, url: str, token: str) -> tuple[int, dict[str, Any]]:
        """GET one of our URLs with `token`."""
        async with self.session.get(url, headers={"Authorization": encode_token(token)}) as resp:
            return resp.status, await resp.json()

    async def stub(self, **options: Any) -> StubEmsp:
        """Start a stub eMSP on the shared session (stopped with the CPO)."""
        emsp = await StubEmsp(self.session, **options).start()
        self.stubs.append(emsp)
        return emsp


def ocpi_app(ctx: OcpiContext) -> web.Application:
    """Our OCPI sub-application with only the versions and credentials modules (others may not exist yet)."""
    app = web.Application(middlewares=[error_middleware, auth_middleware(ctx.store)])
    app[OCPI] = ctx
    versions.register(app)
    credentials.register(app)
    return app


def make_context(store: OcpiStore, config: OcpiConfig | None = None) -> OcpiContext:
    """An OcpiContext on `store` with a wired (not started) domain; base_url and client are set on start."""
    csms_store = MemoryStore()
    domain = Domain(Services(config=Config(), store=csms_store, writer=BatchedWriter(csms_store)))
    return OcpiContext(
        domain=domain,
        store=store,
        config=config or OcpiConfig(country_code="NL", party_id="CSM", business_name="Test CPO"),
        base_url="",
    )


async def start_cpo(
    ctx: OcpiContext, session: aiohttp.ClientSession, app: web.Application | None = None
) -> Cpo:
    """Serve `app` (default `ocpi_app(ctx)`) at /ocpi on a free port; sets ctx.base_url and ctx.client."""
    root = web.Application()
    root.add_subapp("/ocpi", app if app is not None else ocpi_app(ctx))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ctx.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    ctx.client = PartnerClient(session, ctx.config, timeout=2000 * MS)
    return Cpo(ctx=ctx, session=session, runner=runner)


async def stop_cpo(cpo: Cpo) -> None:
    """Stop the stubs and our app."""
    for emsp in cpo.stubs:
        await emsp.stop()
    await cpo.runner.cleanup()


@pytest.fixture
async def cpo(memory_ocpi_store: OcpiStore) -> AsyncIterator[Cpo]:
    """Our OCPI app on the in-memory OCPI store, with a shared client session."""
    async with aiohttp.ClientSession() as session:
        started = await start_cpo(make_context(memory_ocpi_store), session)
        try:
            yield started
        finally:
            await stop_cpo(started)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ocpi/versions"


# -- versions --------------------------------------------------------------------------------------


async def test_versions_and_details_with_token_a(cpo: Cpo) -> None:
    """With token A a partner reads our versions and 2.2.1 details; details list our modules, not versions."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    status, body = await cpo.get(cpo.versions_url, token_a)
    assert status == 200 and body["status_code"] == 1000
    assert body["data"] == [{"version": "2.2.1", "url": f"{cpo.ctx.base_url}/ocpi/2.2.1"}]

    status, body = await cpo.get(body["data"][0]["url"], token_a)
    assert status == 200
    details = body["data"]
    assert details["version"] == "2.2.1"
    listed = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
    assert listed[("credentials", "SENDER")] == f"{cpo.ctx.base_url}/ocpi/2.2.1/credentials"
    assert not any(identifier == "versions" for identifier, _ in listed)
    for (identifier, role), url in listed.items():
        assert url == cpo.ctx.module_url(identifier)
        assert role in ("SENDER", "RECEIVER")


def test_version_details_follow_the_modules(cpo: Cpo) -> None:
    """Every module of ocpi.app.MODULES that exists is listed with its declared role (the CPO roles)."""
    expected = {
        "credentials": "SENDER",
        "locations": "SENDER",
        "sessions": "SENDER",
        "cdrs": "SENDER",
        "tariffs": "SENDER",
        "tokens": "RECEIVER",
        "commands": "RECEIVER",
        "chargingprofiles": "RECEIVER",
        "hubclientinfo": "RECEIVER",
    }
    listed = {e["identifier"]: e["role"] for e in versions.endpoints(cpo.ctx)}
    assert "credentials" in listed
    for identifier, role in listed.items():
        assert expected[identifier] == role


async def test_versions_need_a_token(cpo: Cpo) -> None:
    """Our versions endpoint answers 401 without a valid token (every OCPI request carries one)."""
    async with cpo.session.get(cpo.versions_url) as resp:
        assert resp.status == 401
    status, _ = await cpo.get(cpo.versions_url, "made-up")
    assert status == 401


# -- registration: the partner registers with us -----------------------------------------------------


async def test_partner_registers_with_token_a(cpo: Cpo) -> None:
    """POST credentials: we fetch the partner's versions with its token B, store B and its endpoints, answer a
    new token C, and token A dies."""
    partner, token_a = await issue_partner(cpo.ctx, name="Stub", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()

    status, body = await emsp.register(cpo.versions_url, token_a)

    assert status == 200 and body["status_code"] == 1000, body
    ours = body["data"]
    token_c = ours["token"]
    assert ours["url"] == cpo.versions_url
    assert ours["roles"] == [
        {"role": "CPO", "business_details": {"name": "Test CPO"}, "party_id": "CSM", "country_code": "NL"}
    ]
    token_b = next(t for t, kind in emsp.accepted.items() if kind == "B")
    assert token_c not in (token_a, token_b)
    # We called the partner's versions and details with its token B.
    assert emsp.calls_with(token_b) == ["/ocpi/emsp/versions", "/ocpi/emsp/2.2.1"]

    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None
    assert stored.status == PartnerStatus.REGISTERED
    assert stored.token_b == token_b
    assert stored.token_a_hash is None
    assert stored.token_c_hash == hash_token(token_c)
    assert stored.versions_url == emsp.versions_url
    assert stored.version == "2.2.1"
    assert stored.endpoints["sessions:RECEIVER"] == f"{emsp.base_url}/2.2.1/sessions"
    assert stored.endpoints["tokens:SENDER"] == f"{emsp.base_url}/2.2.1/tokens"
    assert stored.roles[0]["party_id"] == "EMS"

    # Token A is dead; token C works and GET credentials answers it.
    assert (await cpo.get(cpo.versions_url, token_a))[0] == 401
    status, body = await cpo.get(ours["url"].replace("/versions", "/2.2.1/credentials"), token_c)
    assert status == 200 and body["data"]["token"] == token_c


async def test_get_credentials_with_token_a(cpo: Cpo) -> None:
    """GET credentials before registration answers our credentials with the token A the caller used."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    status, body = await cpo.get(cpo.ctx.module_url("credentials"), token_a)
    assert status == 200
    assert body["data"]["token"] == token_a
    assert body["data"]["url"] == cpo.versions_url
    assert body["data"]["roles"][0]["role"] == "CPO"


async def test_post_when_registered_is_405(cpo: Cpo) -> None:
    """A second POST by a registered partner is HTTP 405 and changes nothing."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    await emsp.register(cpo.versions_url, token_a)
    assert emsp.cpo_token is not None
    before = await cpo.store.get_partner(partner.id)
    status, body = await emsp.call(
        "POST", cpo.ctx.module_url("credentials"), emsp.cpo_token, emsp.credentials("another-b")
    )
    assert status == 405 and body["status_code"] == 2000
    assert await cpo.store.get_partner(partner.id) == before


async def test_put_and_delete_before_registration_are_405(cpo: Cpo) -> None:
    """PUT and DELETE with token A (not registered yet) are HTTP 405; token A still works afterwards."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    url = cpo.ctx.module_url("credentials")
    status, body = await emsp.call("PUT", url, token_a, emsp.credentials("b-token"))
    assert (status, body["status_code"]) == (405, 2000)
    status, body = await emsp.call("DELETE", url, token_a)
    assert (status, body["status_code"]) == (405, 2000)
    assert (await cpo.get(cpo.versions_url, token_a))[0] == 200


async def test_put_rotates_token_c_and_refetches_endpoints(cpo: Cpo) -> None:
    """PUT: we fetch the endpoints again with the new token B and rotate C; the old C stops working."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    await emsp.register(cpo.versions_url, token_a)
    old_c = emsp.cpo_token
    assert old_c is not None
    emsp.endpoint_list = (("credentials", "SENDER"), ("cdrs", "RECEIVER"))

    status, body, new_b = await emsp.update(cpo.versions_url)

    assert status == 200 and body["status_code"] == 1000, body
    new_c = body["data"]["token"]
    assert new_c != old_c
    assert emsp.calls_with(new_b) == ["/ocpi/emsp/versions", "/ocpi/emsp/2.2.1"]
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None
    assert stored.status == PartnerStatus.REGISTERED
    assert stored.token_b == new_b
    assert stored.token_c_hash == hash_token(new_c)
    assert set(stored.endpoints) == {"credentials:SENDER", "cdrs:RECEIVER"}
    assert (await cpo.get(cpo.versions_url, old_c))[0] == 401
    assert (await cpo.get(cpo.versions_url, new_c))[0] == 200


async def test_failed_put_keeps_the_old_credentials(cpo: Cpo) -> None:
    """A PUT whose versions fetch fails answers 3001 and leaves tokens B and C and endpoints as they were."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    await emsp.register(cpo.versions_url, token_a)
    before = await cpo.store.get_partner(partner.id)
    old_c = emsp.cpo_token
    assert old_c is not None
    emsp.versions_http_status = 503

    status, body, _ = await emsp.update(cpo.versions_url)

    assert (status, body["status_code"]) == (200, 3001)
    assert await cpo.store.get_partner(partner.id) == before
    assert (await cpo.get(cpo.versions_url, old_c))[0] == 200


async def test_delete_unregisters(cpo: Cpo) -> None:
    """DELETE: the partner is UNREGISTERED, its token C is refused and it receives no pushes."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    await emsp.register(cpo.versions_url, token_a)
    token_c = emsp.cpo_token
    assert token_c is not None
    assert [p.id for p, _ in await receivers(cpo.ctx, "sessions")] == [partner.id]

    status, body = await emsp.unregister(cpo.versions_url)

    assert status == 200 and body["status_code"] == 1000
    assert "data" not in body
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None
    assert stored.status == PartnerStatus.UNREGISTERED
    assert stored.token_c_hash is None and stored.token_b is None
    assert (await cpo.get(cpo.versions_url, token_c))[0] == 401
    assert await receivers(cpo.ctx, "sessions") == []
    # A second DELETE cannot even authenticate.
    status, _ = await emsp.call("DELETE", cpo.ctx.module_url("credentials"), token_c)
    assert status == 401


# -- registration failures ---------------------------------------------------------------------------


async def test_unusable_versions_endpoint_is_3001(cpo: Cpo) -> None:
    """When the partner's versions endpoint fails we answer 3001 (HTTP 200); token A stays valid to retry."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(versions_http_status=500)

    status, body = await emsp.register(cpo.versions_url, token_a)

    assert (status, body["status_code"]) == (200, 3001)
    assert "versions" in body["status_message"]
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.status == PartnerStatus.PENDING and stored.token_b is None
    assert stored.token_a_hash == hash_token(token_a)

    emsp.versions_http_status = 200
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert body["status_code"] == 1000


async def test_unreachable_partner_is_3001(cpo: Cpo) -> None:
    """Credentials pointing at a URL where nothing listens are answered 3001."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    body = emsp.credentials("token-b-unreachable")
    body["url"] = closed_port_url()
    status, answer = await emsp.call("POST", cpo.ctx.module_url("credentials"), token_a, body)
    assert (status, answer["status_code"]) == (200, 3001)
    assert "cannot reach" in answer["status_message"]


async def test_partner_rejecting_token_b_is_3001(cpo: Cpo) -> None:
    """A partner that does not accept the token B it sent us (401 on its versions) is answered 3001."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    status, answer = await emsp.call(
        "POST", cpo.ctx.module_url("credentials"), token_a, emsp.credentials("a-token-it-never-issued")
    )
    assert (status, answer["status_code"]) == (200, 3001)
    assert "401" in answer["status_message"]


async def test_partner_without_221_is_3002(cpo: Cpo) -> None:
    """A partner whose versions list has no 2.2.1 is answered 3002 (unsupported version)."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(versions_list=[{"version": "2.1.1", "url": "http://127.0.0.1:1/2.1.1"}])
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert (status, body["status_code"]) == (200, 3002)
    assert "2.1.1" in body["status_message"]
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.status == PartnerStatus.PENDING


async def test_partner_without_usable_endpoints_is_3003(cpo: Cpo) -> None:
    """A partner offering none of the endpoints we use (only credentials) is answered 3003."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(endpoint_list=(("credentials", "SENDER"), ("locations", "SENDER")))
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert (status, body["status_code"]) == (200, 3003)
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.status == PartnerStatus.PENDING and stored.endpoints == {}


@pytest.mark.parametrize(
    "change",
    [
        {"token": None},
        {"token": "x" * 65},
        {"token": "has space"},
        {"url": "not-a-url"},
        {"roles": []},
        {
            "roles": [
                {"role": "KING", "business_details": {"name": "x"}, "party_id": "ABC", "country_code": "DE"}
            ]
        },
        {"roles": [{"role": "EMSP", "business_details": {}, "party_id": "ABC", "country_code": "DE"}]},
        {
            "roles": [
                {"role": "EMSP", "business_details": {"name": "x"}, "party_id": "ABCD", "country_code": "DE"}
            ]
        },
        {
            "roles": [
                {"role": "EMSP", "business_details": {"name": "x"}, "party_id": "ABC", "country_code": "D"}
            ]
        },
        {
            "roles": [
                {"role": "EMSP", "business_details": {"name": "x"}, "party_id": "ABC", "country_code": "DE"},
                {"role": "EMSP", "business_details": {"name": "y"}, "party_id": "abc", "country_code": "de"},
            ]
        },
    ],
    ids=[
        "no-token",
        "token-too-long",
        "token-not-printable",
        "bad-url",
        "no-roles",
        "bad-role",
        "no-business-name",
        "long-party-id",
        "short-country-code",
        "duplicate-role",
    ],
)
async def test_malformed_credentials_are_2001(cpo: Cpo, change: dict[str, Any]) -> None:
    """A Credentials object with a missing or malformed field is answered 2001 and nobody is called."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub()
    body = {**emsp.credentials("token-b"), **change}
    status, answer = await emsp.call("POST", cpo.ctx.module_url("credentials"), token_a, body)
    assert (status, answer["status_code"]) == (200, 2001)
    assert emsp.calls == []


async def test_invalid_json_credentials_are_400(cpo: Cpo) -> None:
    """A POST whose body is not JSON is HTTP 400 / 2001."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    async with cpo.session.post(
        cpo.ctx.module_url("credentials"),
        data=b"token=abc",
        headers={"Authorization": encode_token(token_a), "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["status_code"] == 2001


# -- several partners ------------------------------------------------------------------------------


async def test_several_partners_register_at_once(cpo: Cpo) -> None:
    """Three partners register concurrently, each with its own token A, B, C, endpoints and roles; one leaving
    does not affect the others."""
    parties = [("DE", "AAA"), ("FR", "BBB"), ("BE", "CCC")]
    issued = [
        await issue_partner(cpo.ctx, name=f"P{i}", country_code=cc, party_id=pid)
        for i, (cc, pid) in enumerate(parties)
    ]
    stubs = [await cpo.stub(country_code=cc, party_id=pid, name=f"Stub {pid}") for cc, pid in parties]

    answers = await asyncio.gather(
        *(emsp.register(cpo.versions_url, token_a) for emsp, (_, token_a) in zip(stubs, issued, strict=True))
    )

    assert [body["status_code"] for _, body in answers] == [1000, 1000, 1000]
    tokens_c = [emsp.cpo_token for emsp in stubs]
    assert len(set(tokens_c)) == 3
    for (partner, _), emsp in zip(issued, stubs, strict=True):
        stored = await cpo.store.get_partner(partner.id)
        assert stored is not None and stored.status == PartnerStatus.REGISTERED
        assert stored.token_b is not None and emsp.accepted[stored.token_b] == "B"
        assert stored.endpoints["sessions:RECEIVER"] == f"{emsp.base_url}/2.2.1/sessions"
        assert stored.roles[0]["party_id"] == emsp.party_id
        # Each token C authenticates its own partner.
        found = await cpo.store.find_partner_by_token_hash(hash_token(emsp.cpo_token or ""))
        assert found is not None and found.id == partner.id

    pushes = await receivers(cpo.ctx, "sessions")
    assert [(p.id, url) for p, url in pushes] == [
        (partner.id, f"{emsp.base_url}/2.2.1/sessions")
        for (partner, _), emsp in zip(issued, stubs, strict=True)
    ]

    await stubs[1].unregister(cpo.versions_url)
    assert [p.id for p, _ in await receivers(cpo.ctx, "sessions")] == [issued[0][0].id, issued[2][0].id]
    for emsp in (stubs[0], stubs[2]):
        assert (await cpo.get(cpo.versions_url, emsp.cpo_token or ""))[0] == 200


async def test_token_a_registers_only_once_under_concurrency(cpo: Cpo) -> None:
    """Two concurrent POSTs with the same token A: one registers, the other is refused."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    first, second = await cpo.stub(), await cpo.stub()
    answers = await asyncio.gather(
        first.register(cpo.versions_url, token_a), second.register(cpo.versions_url, token_a)
    )
    codes = sorted(status for status, _ in answers)
    assert codes[0] == 200 and codes[1] in (401, 405)
    stored = await cpo.store.get_partner(partner.id)
    assert stored is not None and stored.status == PartnerStatus.REGISTERED


async def test_receivers_needs_a_receiver_endpoint(cpo: Cpo) -> None:
    """receivers() lists registered partners with that module's RECEIVER endpoint only."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(
        endpoint_list=(("credentials", "SENDER"), ("tokens", "SENDER"), ("cdrs", "RECEIVER"))
    )
    await emsp.register(cpo.versions_url, token_a)
    assert await receivers(cpo.ctx, "sessions") == []
    assert await receivers(cpo.ctx, "tokens") == []
    assert [url for _, url in await receivers(cpo.ctx, "cdrs")] == [f"{emsp.base_url}/2.2.1/cdrs"]


async def test_issue_partner_validates_and_hashes(cpo: Cpo) -> None:
    """issue_partner upper-cases identifiers, stores only the hash of token A and refuses malformed input."""
    partner, token_a = await issue_partner(cpo.ctx, name=" Partner ", country_code="de", party_id="ab1")
    assert (partner.name, partner.country_code, partner.party_id, partner.role) == (
        "Partner",
        "DE",
        "AB1",
        "EMSP",
    )
    assert partner.status == PartnerStatus.PENDING
    assert partner.token_a_hash == hash_token(token_a) and token_a not in repr(partner)
    assert 40 <= len(token_a) <= 64
    for kwargs in (
        {"name": "", "country_code": "DE", "party_id": "ABC"},
        {"name": "x", "country_code": "DEU", "party_id": "ABC"},
        {"name": "x", "country_code": "DE", "party_id": "AB"},
        {"name": "x", "country_code": "DE", "party_id": "A-C"},
    ):
        with pytest.raises(ValueError):
            await issue_partner(cpo.ctx, **kwargs)
    with pytest.raises(ValueError):
        await issue_partner(cpo.ctx, name="x", country_code="DE", party_id="ABC", role="KING")


async def test_relative_version_url_is_resolved(cpo: Cpo) -> None:
    """A partner listing its 2.2.1 details by a relative URL is read (resolved against its versions URL)."""
    partner, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(versions_list=[{"version": "2.2.1", "url": "2.2.1"}])
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert body["status_code"] == 1000
    token_b = next(t for t, kind in emsp.accepted.items() if kind == "B")
    assert emsp.calls_with(token_b) == ["/ocpi/emsp/versions", "/ocpi/emsp/2.2.1"]


async def test_malformed_partner_endpoint_is_3001(cpo: Cpo) -> None:
    """Version details with an endpoint of an unknown role are a partner API we cannot use: 3001."""
    _, token_a = await issue_partner(cpo.ctx, name="E", country_code="DE", party_id="EMS")
    emsp = await cpo.stub(endpoint_list=(("credentials", "SENDER"), ("sessions", "BOTH")))
    status, body = await emsp.register(cpo.versions_url, token_a)
    assert (status, body["status_code"]) == (200, 3001)
    assert "malformed endpoint" in body["status_message"]


def test_issued_tokens_never_look_like_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token that would start with `-` (1 in 64 of random ones) is drawn again, so the CLI never reads a
    token A as an option (this made `csms ocpi partner register URL TOKEN` fail now and then)."""
    from ocpi import partners

    drawn = iter(["-starts-with-dash", "fine-token"])
    monkeypatch.setattr(partners.secrets, "token_urlsafe", lambda n: next(drawn))
    assert partners.new_token() == "fine-token"
