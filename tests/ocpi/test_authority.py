"""Partner tokens answering OCPP authorization (`ocpi.authority`): whitelist rules, real-time authorization
against a fake eMSP tokens endpoint (a small aiohttp app on 127.0.0.1: the network edge to a partner), its
timeout and fallback, and OCPP Authorize / transaction starts through a real CSMS and charge point
simulators over real sockets.

Also home of the end-to-end harness the commands tests share: `open_bridge` starts a real CSMS on free ports
with the OCPI tokens and commands modules served over HTTP, a registered partner and its fake eMSP.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.app import Csms
from csms.domain.models import AuthorizationStatus, IdToken, TokenStatus, Transaction
from ocpi import commands
from ocpi.authority import PartnerTokenAuthority
from ocpi.authority import install as install_authority
from ocpi.context import OcpiContext
from ocpi.models import Location, Partner, PartnerStatus
from ocpi.store import OcpiStore
from ocpi.transport import encode_token, hash_token
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import e2e_config, ocpp_url
from tests.utils import MS

WAIT = 5000 * MS  # how long something the CSMS does in the background may take
TOKEN_B = "token-b-the-emsp-gave-us"  # we call the eMSP with it
TOKEN_C = "token-c-we-gave-the-emsp"  # the eMSP calls us with it
EMSP_CC, EMSP_PID = "DE", "EMS"


# -- the fake eMSP ---------------------------------------------------------------------------------------


def envelope(data: Any = None, status_code: int = 1000) -> dict[str, Any]:
    """An OCPI response envelope as an eMSP would send it."""
    body: dict[str, Any] = {"status_code": status_code, "timestamp": "2025-01-01T00:00:00Z"}
    if data is not None:
        body["data"] = data
    return body


def authorization_info(allowed: str, uid: str = "", reference: str | None = None) -> dict[str, Any]:
    """An AuthorizationInfo answer (OCPI 2.2.1 Tokens)."""
    info: dict[str, Any] = {"allowed": allowed, "token": token_body(uid or "X", whitelist="NEVER")}
    if reference is not None:
        info["authorization_reference"] = reference
    return info


class FakeEmsp:
    """The partner's side of the network edge: its tokens SENDER endpoint (real-time authorization) and the
    URLs it gives as `response_url` (collecting CommandResults)."""

    def __init__(self) -> None:
        self.url = ""
        self.authorizations: list[tuple[str, str | None, str | None]] = []  # (uid, ?type, Authorization)
        self.answer: tuple[int, dict[str, Any]] = (200, envelope(authorization_info("ALLOWED")))
        self.hang = False  # real-time authorization never answers (until the test ends)
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.result_headers: list[dict[str, str]] = []
        self._release = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Serve on a free loopback port; `url` is its base."""
        app = web.Application()
        app.router.add_post("/tokens/{uid}/authorize", self._authorize)
        app.router.add_post("/results/{key}", self._result)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = next(iter(server.sockets)).getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _authorize(self, request: web.Request) -> web.Response:
        self.authorizations.append(
            (request.match_info["uid"], request.query.get("type"), request.headers.get("Authorization"))
        )
        self._notify()
        if self.hang:
            await self._release.wait()
        status, body = self.answer
        return web.json_response(body, status=status)

    async def _result(self, request: web.Request) -> web.Response:
        self.results.setdefault(request.match_info["key"], []).append(await request.json())
        self.result_headers.append(dict(request.headers))
        self._notify()
        return web.json_response(envelope())

    def result_url(self, key: str) -> str:
        """A response_url whose CommandResults `result(key)` returns."""
        return f"{self.url}/results/{key}"

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:  # noqa: ASYNC109
        """Return once `predicate()` holds (re-checked after every request the eMSP receives)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    async def result(self, key: str, index: int = 0) -> dict[str, Any]:
        """The `index`-th CommandResult POSTed to `result_url(key)`, waiting for it."""
        await self.wait_until(lambda: len(self.results.get(key, ())) > index)
        return self.results[key][index]


# -- the bridge under test -------------------------------------------------------------------------------


@dataclass
class Bridge:
    """A real CSMS with the OCPI tokens and commands modules on HTTP, one registered partner, its fake eMSP,
    and an HTTP session that calls us as that partner."""

    csms: Csms
    ctx: OcpiContext
    store: OcpiStore
    partner: Partner
    emsp: FakeEmsp
    http: aiohttp.ClientSession
    ocpi_url: str
    sims: list[ChargePointSimulator] = field(default_factory=list)

    @property
    def authority(self) -> PartnerTokenAuthority:
        return install_authority(self.ctx)

    @property
    def runner(self) -> commands.CommandRunner:
        return commands.install(self.ctx)

    async def call(
        self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Call our OCPI 2.2.1 endpoint `path` (below /ocpi/2.2.1/) as the partner."""
        async with self.http.request(
            method, f"{self.ocpi_url}/2.2.1/{path}", json=body, params=params
        ) as resp:
            return resp.status, await resp.json()

    async def put_token(self, uid: str, **fields: Any) -> dict[str, Any]:
        """PUT a token of the partner through the tokens module; returns the Token object."""
        body = token_body(uid, **fields)
        status, answer = await self.call(
            "PUT", f"tokens/{EMSP_CC}/{EMSP_PID}/{uid}", body, params={"type": body["type"]}
        )
        assert status in (200, 201) and answer["status_code"] == 1000, answer
        return body

    async def sim(self, cp_id: str, version: str, **config: Any) -> ChargePointSimulator:
        """A connected, booted charge point simulator whose connectors reported Available."""
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(self.csms), ocpp_version=version, **config)
        )
        self.sims.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        for connector in sim.connector_ids:
            await sim.send_status(connector, "Available")
        return sim

    async def location(self, *charge_point_ids: str, location_id: str = "LOC1") -> Location:
        """A published location grouping the charge points."""
        location = Location(
            id=location_id,
            name="Test site",
            address="Main street 1",
            city="Amsterdam",
            country="NLD",
            latitude="52.37000",
            longitude="4.89000",
            time_zone="Europe/Amsterdam",
            country_code="NL",
            party_id="CSM",
            charge_point_ids=list(charge_point_ids),
        )
        await self.store.save_location(location)
        return location

    async def evse_uid(self, charge_point_id: str, evse_id: int = 1) -> str:
        """The OCPI EVSE uid of a charge point's EVSE."""
        return (await self.store.evse_uid(charge_point_id, evse_id)).uid

    async def transaction(self, sim: ChargePointSimulator, connector: int = 1) -> Transaction:
        """The CSMS's transaction running on a simulator's connector (waiting for it to start)."""
        await sim.wait_until(lambda: connector in sim.transactions, WAIT)
        tx = await self.csms.domain.transactions.find(sim.charge_point_id, sim.transactions[connector])
        assert tx is not None
        return tx


def token_body(uid: str, **fields: Any) -> dict[str, Any]:
    """A valid OCPI Token of the test partner (fields override)."""
    body: dict[str, Any] = {
        "country_code": EMSP_CC,
        "party_id": EMSP_PID,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-EMS-C{uid[:20]}",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2025-01-01T00:00:00Z",
    }
    body.update(fields)
    return body


@asynccontextmanager
async def open_bridge(
    tmp_path: Path, *, ocpi: dict[str, Any] | None = None, **ocpp: Any
) -> AsyncIterator[Bridge]:
    """Start a CSMS (`[ocpp]` overrides in `ocpp`, `[ocpi]` ones in `ocpi`) with its OCPI bridge, register
    the partner in the bridge's store; stop it all after."""
    config = e2e_config(tmp_path, **ocpp)
    config = replace(config, ocpi=replace(config.ocpi, **(ocpi or {})))
    csms = await Csms.start(config)
    emsp = FakeEmsp()
    await emsp.start()
    # The running CSMS's own bridge: its authority, command runner and /ocpi app (no second copy).
    ctx = csms.ocpi.ctx
    store = ctx.store
    partner = await store.add_partner(
        Partner(
            id=0,
            name="Test eMSP",
            country_code=EMSP_CC,
            party_id=EMSP_PID,
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(TOKEN_C),
            token_b=TOKEN_B,
            version="2.2.1",
            endpoints={"tokens:SENDER": f"{emsp.url}/tokens"},
        )
    )
    http = aiohttp.ClientSession(headers={"Authorization": encode_token(TOKEN_C)})
    bridge = Bridge(csms, ctx, store, partner, emsp, http, f"http://127.0.0.1:{csms.http_port}/ocpi")
    try:
        yield bridge
    finally:
        for sim in bridge.sims:
            await sim.close()
        await http.close()
        await emsp.close()
        await csms.stop()


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """The bridge with default configuration."""
    async with open_bridge(tmp_path) as b:
        yield b


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- whitelist rules ---------------------------------------------------------------------------------------


async def test_unknown_token_is_left_to_the_csms(bridge: Bridge) -> None:
    """A uid no partner pushed gets no answer from the authority (None), so the CSMS's own policy applies."""
    assert await bridge.authority.authorize("NOBODY") is None
    assert bridge.emsp.authorizations == []


async def test_always_token_is_accepted_from_the_store_with_its_group(bridge: Bridge) -> None:
    """A valid ALWAYS token is Accepted from the stored token, with its group_id as group id token, and the
    eMSP is not asked."""
    await bridge.put_token("ALWAYS1", whitelist="ALWAYS", group_id="GROUP-1")
    result = await bridge.authority.authorize("ALWAYS1")
    assert result is not None
    assert result.status is AuthorizationStatus.ACCEPTED
    assert result.group_id_token == "GROUP-1"
    assert bridge.emsp.authorizations == []


async def test_a_partner_vouches_only_at_its_own_organizations_stations(bridge: Bridge) -> None:
    """A partner roams with one organization (ADR 0012): its token is answered at that organization's
    stations (and where the station is not known), and left to the CSMS at another organization's."""
    await bridge.put_token("ROAM1", whitelist="ALWAYS")
    own = await bridge.authority.authorize("ROAM1", org_id=bridge.partner.org_id)
    anywhere = await bridge.authority.authorize("ROAM1")
    assert own is not None and own.status is AuthorizationStatus.ACCEPTED
    assert anywhere is not None and anywhere.status is AuthorizationStatus.ACCEPTED
    assert await bridge.authority.authorize("ROAM1", org_id="another-org") is None


async def test_allowed_token_is_answered_from_the_store(bridge: Bridge) -> None:
    """A valid ALLOWED token is Accepted without real-time authorization (our choice for ALLOWED)."""
    await bridge.put_token("ALLOWED1", whitelist="ALLOWED")
    result = await bridge.authority.authorize("ALLOWED1")
    assert result is not None and result.status is AuthorizationStatus.ACCEPTED
    assert bridge.emsp.authorizations == []


@pytest.mark.parametrize("whitelist", ["ALWAYS", "NEVER"])
async def test_invalid_token_is_blocked_without_asking(bridge: Bridge, whitelist: str) -> None:
    """A token the eMSP marked valid=false is Blocked whatever its whitelist, and the eMSP is not asked."""
    await bridge.put_token("GONE1", whitelist=whitelist, valid=False)
    result = await bridge.authority.authorize("GONE1")
    assert result is not None and result.status is AuthorizationStatus.BLOCKED
    assert bridge.emsp.authorizations == []


@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        ("ALLOWED", AuthorizationStatus.ACCEPTED),
        ("BLOCKED", AuthorizationStatus.BLOCKED),
        ("EXPIRED", AuthorizationStatus.EXPIRED),
        ("NO_CREDIT", AuthorizationStatus.INVALID),
        ("NOT_ALLOWED", AuthorizationStatus.INVALID),
    ],
)
async def test_never_token_is_authorized_in_real_time(
    bridge: Bridge, allowed: str, status: AuthorizationStatus
) -> None:
    """A NEVER token is always asked of the eMSP (POST {tokens}/{uid}/authorize?type=, with our token B) and
    its AuthorizationInfo.allowed decides the OCPP status."""
    await bridge.put_token("RT1", whitelist="NEVER", type="APP_USER")
    bridge.emsp.answer = (200, envelope(authorization_info(allowed, "RT1")))
    result = await bridge.authority.authorize("RT1")
    assert result is not None and result.status is status
    assert bridge.emsp.authorizations == [("RT1", "APP_USER", encode_token(TOKEN_B))]


async def test_real_time_group_comes_from_the_emsp_answer(bridge: Bridge) -> None:
    """The group id of a real-time answer's token replaces the stored token's group."""
    await bridge.put_token("RT2", whitelist="NEVER", group_id="OLD")
    info = authorization_info("ALLOWED", "RT2")
    info["token"]["group_id"] = "NEW"
    bridge.emsp.answer = (200, envelope(info))
    result = await bridge.authority.authorize("RT2")
    assert result is not None and result.group_id_token == "NEW"


async def test_token_unknown_to_the_emsp_is_invalid(bridge: Bridge) -> None:
    """An eMSP answering 404 / 2004 (unknown token) to real-time authorization makes the token Invalid."""
    await bridge.put_token("RT3", whitelist="NEVER")
    bridge.emsp.answer = (404, envelope(status_code=2004))
    result = await bridge.authority.authorize("RT3")
    assert result is not None and result.status is AuthorizationStatus.INVALID


@pytest.mark.parametrize("fallback", ["Invalid", "Accepted"])
async def test_never_token_falls_back_when_the_emsp_is_too_slow(tmp_path: Path, fallback: str) -> None:
    """A NEVER token whose eMSP does not answer within realtime_authorization_timeout gets the configured
    realtime_authorization_fallback."""
    options = {"realtime_authorization_timeout": 200 * MS, "realtime_authorization_fallback": fallback}
    async with open_bridge(tmp_path, ocpi=options) as bridge:
        await bridge.put_token("SLOW1", whitelist="NEVER")
        bridge.emsp.hang = True
        result = await bridge.authority.authorize("SLOW1")
        assert result is not None and result.status is AuthorizationStatus(fallback)
        assert len(bridge.emsp.authorizations) == 1


async def test_never_token_falls_back_when_the_emsp_is_unreachable(bridge: Bridge) -> None:
    """A NEVER token whose eMSP refuses connections gets the fallback (Invalid by default)."""
    await bridge.put_token("DOWN1", whitelist="NEVER")
    partner = replace(bridge.partner, endpoints={"tokens:SENDER": f"http://127.0.0.1:{closed_port()}/t"})
    await bridge.store.save_partner(partner)
    result = await bridge.authority.authorize("DOWN1")
    assert result is not None and result.status is AuthorizationStatus.INVALID


async def test_never_token_falls_back_when_the_emsp_answers_garbage(bridge: Bridge) -> None:
    """A real-time answer that is not an AuthorizationInfo counts as no answer: the fallback applies."""
    await bridge.put_token("ODD1", whitelist="NEVER")
    bridge.emsp.answer = (500, {"oops": True})
    result = await bridge.authority.authorize("ODD1")
    assert result is not None and result.status is AuthorizationStatus.INVALID


async def test_never_token_falls_back_without_a_tokens_endpoint(bridge: Bridge) -> None:
    """A partner that published no tokens SENDER endpoint cannot be asked: the fallback applies."""
    await bridge.put_token("NOEP1", whitelist="NEVER")
    await bridge.store.save_partner(replace(bridge.partner, endpoints={}))
    result = await bridge.authority.authorize("NOEP1")
    assert result is not None and result.status is AuthorizationStatus.INVALID
    assert bridge.emsp.authorizations == []


async def test_allowed_offline_token_asks_the_emsp_first(bridge: Bridge) -> None:
    """An ALLOWED_OFFLINE token is authorized in real time when the eMSP answers (NOT_ALLOWED → Invalid)."""
    await bridge.put_token("AO1", whitelist="ALLOWED_OFFLINE")
    bridge.emsp.answer = (200, envelope(authorization_info("NOT_ALLOWED", "AO1")))
    result = await bridge.authority.authorize("AO1")
    assert result is not None and result.status is AuthorizationStatus.INVALID
    assert len(bridge.emsp.authorizations) == 1


async def test_allowed_offline_token_uses_the_store_when_the_emsp_is_down(tmp_path: Path) -> None:
    """An ALLOWED_OFFLINE token is Accepted from the stored token when the eMSP does not answer in time,
    even with an Invalid fallback configured."""
    options = {"realtime_authorization_timeout": 200 * MS, "realtime_authorization_fallback": "Invalid"}
    async with open_bridge(tmp_path, ocpi=options) as bridge:
        await bridge.put_token("AO2", whitelist="ALLOWED_OFFLINE", group_id="G2")
        bridge.emsp.hang = True
        result = await bridge.authority.authorize("AO2")
        assert result is not None and result.status is AuthorizationStatus.ACCEPTED
        assert result.group_id_token == "G2"


async def test_csms_tokens_come_before_partner_tokens(bridge: Bridge) -> None:
    """A uid the CSMS itself knows is answered by the CSMS store; the partner token is not consulted."""
    await bridge.csms.services.store.add_id_token(IdToken("BOTH1", status=TokenStatus.BLOCKED))
    await bridge.put_token("BOTH1", whitelist="ALWAYS")
    result = await bridge.csms.domain.authorization.authorize("BOTH1")
    assert result.status is AuthorizationStatus.BLOCKED


# -- through OCPP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_ocpp_authorize_is_answered_from_a_partner_token(bridge: Bridge, version: str) -> None:
    """A station's Authorize with a partner token's uid is answered Accepted with the token's group, and the
    transaction that follows gets a WHITELIST SessionLink with the partner's CdrToken."""
    await bridge.put_token("CARD1", whitelist="ALWAYS", group_id="FLEET1")
    sim = await bridge.sim(f"AUTH-{version}", version)
    info = await sim.authorize("CARD1")
    assert info["status"] == "Accepted"
    assert sim.token_parents["CARD1"] == "FLEET1"
    await sim.plug_in(1)
    await sim.start_transaction(1, "CARD1")
    tx = await bridge.transaction(sim)
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None
    assert link.partner_id == bridge.partner.id and link.auth_method == "WHITELIST"
    assert link.cdr_token == {
        "country_code": EMSP_CC,
        "party_id": EMSP_PID,
        "uid": "CARD1",
        "type": "RFID",
        "contract_id": "DE-EMS-CCARD1",
    }


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_real_time_authorization_reference_reaches_the_session(bridge: Bridge, version: str) -> None:
    """After a real-time authorization, the transaction's SessionLink is AUTH_REQUEST with the eMSP's
    authorization_reference."""
    await bridge.put_token("CARD2", whitelist="NEVER")
    bridge.emsp.answer = (200, envelope(authorization_info("ALLOWED", "CARD2", reference="REF-42")))
    sim = await bridge.sim(f"RT-{version}", version)
    assert (await sim.authorize("CARD2"))["status"] == "Accepted"
    await sim.plug_in(1)
    await sim.start_transaction(1, "CARD2")
    tx = await bridge.transaction(sim)
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None
    assert link.auth_method == "AUTH_REQUEST" and link.authorization_reference == "REF-42"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_ocpp_authorize_of_a_blocked_partner_token(bridge: Bridge, version: str) -> None:
    """A station's Authorize with an eMSP-blocked token (real-time BLOCKED) is answered Blocked."""
    await bridge.put_token("CARD3", whitelist="NEVER")
    bridge.emsp.answer = (200, envelope(authorization_info("BLOCKED", "CARD3")))
    sim = await bridge.sim(f"BLK-{version}", version)
    assert (await sim.authorize("CARD3"))["status"] == "Blocked"


async def test_transaction_with_a_csms_token_gets_no_partner_link(bridge: Bridge) -> None:
    """A transaction with a token no partner pushed gets no SessionLink from the authority."""
    await bridge.csms.services.store.add_id_token(IdToken("LOCAL1"))
    sim = await bridge.sim("LOCAL-CP", "1.6")
    await sim.plug_in(1)
    await sim.start_transaction(1, "LOCAL1")
    tx = await bridge.transaction(sim)
    assert await bridge.store.find_session_link(transaction_pk=tx.id) is None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_one_real_time_authorization_covers_authorize_and_start(bridge: Bridge, version: str) -> None:
    """After the eMSP allowed a NEVER token, the start that follows is not asked about again: one real-time
    POST for Authorize + start, and a short eMSP outage in between cannot refuse the start."""
    await bridge.put_token("CARD9", whitelist="NEVER")
    bridge.emsp.answer = (200, envelope(authorization_info("ALLOWED", "CARD9", reference="REF-9")))
    sim = await bridge.sim(f"ONE-{version}", version)
    assert (await sim.authorize("CARD9"))["status"] == "Accepted"
    bridge.emsp.answer = (503, envelope(None))  # the eMSP goes down
    await sim.plug_in(1)
    await sim.start_transaction(1, "CARD9")
    tx = await bridge.transaction(sim)
    assert [uid for uid, _, _ in bridge.emsp.authorizations] == ["CARD9"]
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None and link.authorization_reference == "REF-9"
