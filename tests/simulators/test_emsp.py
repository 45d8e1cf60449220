"""The eMSP simulator (simulators/emsp.py, simulators/emsp_cli.py) against the CSMS's real OCPI app over
127.0.0.1: registration both ways, tokens, pulls with pagination, pushes through the outbox (also while
the eMSP is down), real-time authorization and command results."""

from __future__ import annotations

import asyncio
import importlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.models import AuthorizationStatus
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi.app import MODULES
from ocpi.client import PartnerClient, PartnerUnreachable
from ocpi.context import OCPI, OcpiContext
from ocpi.models import Location, OutboxStatus, Partner, PartnerStatus, Tariff
from ocpi.partners import issue_partner
from ocpi.push import Outbox
from ocpi.transport import auth_middleware, error_middleware
from simulators.emsp import EmspConfig, EmspSimulator, OcpiCallError, Push, token_header
from simulators.emsp_cli import build_parser, main, run
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.utils import MS

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the CPO side (outbox back-off)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def cpo_app(ctx: OcpiContext) -> web.Application:
    """The CSMS's OCPI sub-application as `ocpi.app.create_app` builds it, leaving out modules that do not
    exist yet (the bridge is being written module by module)."""
    app = web.Application(middlewares=[error_middleware, auth_middleware(ctx.store)])
    app[OCPI] = ctx
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if hasattr(module, "register"):
            module.register(app)
    return app


@dataclass
class Cpo:
    """The CSMS side: its OCPI context and where it listens."""

    ctx: OcpiContext
    clock: Clock

    @property
    def versions_url(self) -> str:
        return self.ctx.versions_url

    async def partner(self) -> Partner:
        """The one partner (the eMSP)."""
        [partner] = await self.ctx.store.list_partners()
        return partner


@pytest.fixture
async def cpo() -> AsyncIterator[Cpo]:
    """The CSMS's OCPI app on 127.0.0.1 (memory stores, page limit 2), with a PartnerClient."""
    clock = Clock()
    store = MemoryStore()
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    domain = Domain(Services(config=Config(), store=store, writer=writer))
    config = replace(OcpiConfig(), max_page_limit=2, realtime_authorization_timeout=2000 * MS)
    async with aiohttp.ClientSession() as session:
        ctx = OcpiContext(
            domain=domain,
            store=MemoryOcpiStore(),
            config=config,
            base_url="",
            client=PartnerClient(session, config, timeout=2000 * MS),
        )
        root = web.Application()
        root.add_subapp("/ocpi", cpo_app(ctx))
        runner = web.AppRunner(root)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ctx.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield Cpo(ctx, clock)
        finally:
            await runner.cleanup()
            await writer.stop()


@pytest.fixture
async def emsp() -> AsyncIterator[EmspSimulator]:
    """A running eMSP simulator (NL/EMS) that a CPO may register with using token A "token-a-emsp"."""
    async with EmspSimulator(EmspConfig(token_a="token-a-emsp", timeout=2000 * MS)) as sim:
        yield sim


@pytest.fixture
async def registered(cpo: Cpo, emsp: EmspSimulator) -> EmspSimulator:
    """The eMSP, registered with the CPO through the full credentials handshake."""
    _, token_a = await issue_partner(cpo.ctx, name="Sim eMSP", country_code="NL", party_id="EMS")
    await emsp.register(cpo.versions_url, token_a)
    return emsp


def needs(*names: str) -> None:
    """Skip unless these OCPI modules exist (other parts of the bridge are written in parallel)."""
    for name in names:
        module = pytest.importorskip(f"ocpi.{name}")
        if not hasattr(module, "register"):
            pytest.skip(f"ocpi.{name} is not written yet")


# -- registration ---------------------------------------------------------------------------------------


async def test_emsp_registers_with_cpo(cpo: Cpo, emsp: EmspSimulator) -> None:
    """`register` completes the handshake: the CPO holds the eMSP REGISTERED with its receiver endpoints,
    and the eMSP calls the CPO with the token C it was given."""
    _, token_a = await issue_partner(cpo.ctx, name="Sim eMSP", country_code="NL", party_id="EMS")
    credentials = await emsp.register(cpo.versions_url, token_a)
    partner = await cpo.partner()
    assert partner.status is PartnerStatus.REGISTERED
    assert partner.endpoints["sessions:RECEIVER"] == f"{emsp.version_url}/sessions"
    assert partner.endpoints["tokens:SENDER"] == f"{emsp.version_url}/tokens"
    assert credentials["roles"][0]["role"] == "CPO"
    assert emsp.registered
    assert "tokens:RECEIVER" in emsp.cpo_endpoints


async def test_cpo_registers_with_emsp(cpo: Cpo, emsp: EmspSimulator) -> None:
    """A CPO registers with the eMSP using its token A; token A is dead afterwards."""
    from ocpi.registration import register_with

    partner = await register_with(cpo.ctx, emsp.versions_url, "token-a-emsp")
    assert partner.status is PartnerStatus.REGISTERED
    assert (partner.country_code, partner.party_id) == ("NL", "EMS")
    assert emsp.registered
    async with aiohttp.ClientSession() as session:
        async with session.get(
            emsp.versions_url, headers={"Authorization": token_header("token-a-emsp")}
        ) as r:
            assert r.status == 401


async def test_unregister_and_update_credentials(cpo: Cpo, registered: EmspSimulator) -> None:
    """PUT credentials rotates the tokens and keeps the eMSP registered; DELETE unregisters it."""
    old = (await cpo.partner()).token_b
    await registered.update_credentials()
    partner = await cpo.partner()
    assert partner.status is PartnerStatus.REGISTERED and partner.token_b != old
    await registered.unregister()
    assert (await cpo.partner()).status is PartnerStatus.UNREGISTERED
    assert not registered.registered


async def test_emsp_server_checks_tokens(emsp: EmspSimulator) -> None:
    """Without a token, or with an unknown one, the eMSP answers 401; token A opens versions only."""
    async with aiohttp.ClientSession() as session:
        async with session.get(emsp.versions_url) as r:
            assert r.status == 401
            assert (await r.json())["status_code"] == 2000
        async with session.get(emsp.versions_url, headers={"Authorization": token_header("nope")}) as r:
            assert r.status == 401
        headers = {"Authorization": token_header("token-a-emsp"), "X-Request-ID": "req-1"}
        async with session.get(emsp.versions_url, headers=headers) as r:
            assert r.status == 200
            assert r.headers["X-Request-ID"] == "req-1"
            assert (await r.json())["data"][0]["version"] == "2.2.1"
        async with session.put(f"{emsp.version_url}/sessions/NL/CSM/1", headers=headers, json={}) as r:
            assert r.status == 401


# -- tokens -------------------------------------------------------------------------------------------


async def test_put_and_patch_token(cpo: Cpo, registered: EmspSimulator) -> None:
    """`put_token` stores the eMSP's token at the CPO; `patch_token` changes it there."""
    await registered.put_token("UID-1", whitelist="ALWAYS")
    stored = await cpo.ctx.store.get_partner_token("NL", "EMS", "UID-1", "RFID")
    assert stored is not None and stored.whitelist == "ALWAYS" and stored.valid
    await registered.patch_token("UID-1", {"valid": False})
    stored = await cpo.ctx.store.get_partner_token("NL", "EMS", "UID-1", "RFID")
    assert stored is not None and not stored.valid


async def test_real_time_authorization_is_answered_from_emsp_tokens(
    cpo: Cpo, registered: EmspSimulator
) -> None:
    """A whitelist NEVER token is authorized in real time by the eMSP: ALLOWED while valid, and what
    `authorizations` forces otherwise."""
    from ocpi.authority import REUSE_WINDOW, install

    cpo.ctx.clock = cpo.clock
    install(cpo.ctx)
    await registered.put_token("UID-RT", whitelist="NEVER")
    result = await cpo.ctx.domain.authorization.authorize("UID-RT")
    assert result.status is AuthorizationStatus.ACCEPTED
    assert registered.authorize_requests[0][:2] == ("UID-RT", "RFID")
    registered.authorizations["UID-RT"] = "BLOCKED"
    # Within a minute the ALLOWED answer is reused (Authorize → start); after it the eMSP is asked again.
    cpo.clock.now += REUSE_WINDOW + timedelta(seconds=1)
    result = await cpo.ctx.domain.authorization.authorize("UID-RT")
    assert result.status is AuthorizationStatus.BLOCKED


async def test_unknown_token_authorization_is_404(cpo: Cpo, registered: EmspSimulator) -> None:
    """Real-time authorization of a token the eMSP does not know is HTTP 404 with OCPI 2004."""
    partner = await cpo.partner()
    url = f"{partner.endpoints['tokens:SENDER']}/NOPE/authorize"
    response = await cpo.ctx.client.request(partner, "POST", url, None)
    assert (response.http_status, response.status_code) == (404, 2004)


async def test_tokens_sender_paginates(cpo: Cpo, registered: EmspSimulator) -> None:
    """The eMSP's token list is paginated with `Link` rel="next" and `X-Total-Count`."""
    for n in range(3):
        registered.tokens[(f"T{n}", "RFID")] = registered.make_token(f"T{n}")
    partner = await cpo.partner()
    first = await cpo.ctx.client.request(
        partner, "GET", partner.endpoints["tokens:SENDER"], params={"limit": "2"}
    )
    assert [t["uid"] for t in first.data] == ["T0", "T1"]
    assert first.headers["X-Total-Count"] == "3"
    link = first.headers["Link"]
    second = await cpo.ctx.client.request(partner, "GET", link[1 : link.index(">")])
    assert [t["uid"] for t in second.data] == ["T2"]
    assert "Link" not in second.headers


# -- pull -----------------------------------------------------------------------------------------------


async def test_pull_all_follows_pagination(cpo: Cpo, registered: EmspSimulator) -> None:
    """`pull_all` GETs every sender module of the CPO page by page and returns every object."""
    needs("locations", "sessions", "cdrs", "tariffs")
    for n in range(3):
        await cpo.ctx.store.save_location(
            Location(
                id=f"LOC{n}",
                name=f"Site {n}",
                address="Main Street 1",
                city="Utrecht",
                country="NLD",
                latitude="52.09000",
                longitude="5.12000",
                time_zone="Europe/Amsterdam",
                country_code="NL",
                party_id="CSM",
                last_updated=T0,
            )
        )
        await cpo.ctx.store.save_tariff(
            Tariff(
                id=f"TAR{n}",
                currency="EUR",
                data={
                    "country_code": "NL",
                    "party_id": "CSM",
                    "id": f"TAR{n}",
                    "currency": "EUR",
                    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
                    "last_updated": "2025-03-01T09:00:00Z",
                },
                last_updated=T0,
            )
        )
    everything = await registered.pull_all(limit=1)
    assert sorted(loc["id"] for loc in everything["locations"]) == ["LOC0", "LOC1", "LOC2"]
    assert sorted(t["id"] for t in everything["tariffs"]) == ["TAR0", "TAR1", "TAR2"]
    assert everything["sessions"] == [] and everything["cdrs"] == []
    assert registered.pages["locations"] == 3
    assert "NL/CSM/LOC1" in registered.locations
    assert "pulled locations: 3 in 3 page(s)" in registered.summary(everything)


# -- pushes ---------------------------------------------------------------------------------------------


def _session(session_id: str) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CSM",
        "id": session_id,
        "start_date_time": "2025-03-01T09:00:00Z",
        "kwh": 0,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMS",
            "uid": "U1",
            "type": "RFID",
            "contract_id": "C1",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "charging_periods": [],
        "last_updated": "2025-03-01T09:00:00Z",
    }


def _period(start: str, kwh: float) -> dict[str, Any]:
    return {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}]}


async def test_pushes_reach_a_down_emsp_in_order_once_it_is_back(cpo: Cpo, registered: EmspSimulator) -> None:
    """Session PUT, PATCHes and the CDR POST pushed while the eMSP is down arrive in order once it is up;
    the PATCHes append charging periods and the CDR is answered with a Location header."""
    cpo.ctx.clock = cpo.clock
    partner = await cpo.partner()
    outbox = Outbox(cpo.ctx)
    sessions_url = f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/S1"
    patches = [
        {
            "kwh": 1.5,
            "charging_periods": [_period("2025-03-01T09:00:00Z", 1.5)],
            "last_updated": "2025-03-01T09:10:00Z",
        },
        {
            "kwh": 3,
            "charging_periods": [_period("2025-03-01T09:10:00Z", 1.5)],
            "last_updated": "2025-03-01T09:20:00Z",
        },
        {
            "status": "COMPLETED",
            "end_date_time": "2025-03-01T09:20:00Z",
            "last_updated": "2025-03-01T09:20:00Z",
        },
    ]
    registered.set_down(True)
    await outbox.enqueue(partner, "sessions", "session:S1", "PUT", sessions_url, _session("S1"))
    for body in patches:
        await outbox.enqueue(partner, "sessions", "session:S1", "PATCH", sessions_url, body)
    cdr = {"country_code": "NL", "party_id": "CSM", "id": "CDR1", "session_id": "S1"}
    await outbox.enqueue(partner, "cdrs", "session:S1", "POST", partner.endpoints["cdrs:RECEIVER"], cdr)
    await outbox.deliver_due()
    assert registered.received == []
    registered.set_down(False)
    cpo.clock.now = T0.replace(hour=12)
    while await outbox.deliver_due():
        pass
    assert [(method, path.rsplit("/", 1)[-1]) for method, path, _ in registered.received] == [
        ("PUT", "S1"),
        ("PATCH", "S1"),
        ("PATCH", "S1"),
        ("PATCH", "S1"),
        ("POST", "cdrs"),
    ]
    session = registered.sessions["NL/CSM/S1"]
    assert session["status"] == "COMPLETED" and session["kwh"] == 3
    assert [p["start_date_time"] for p in session["charging_periods"]] == [
        "2025-03-01T09:00:00Z",
        "2025-03-01T09:10:00Z",
    ]
    assert registered.cdrs["CDR1"]["session_id"] == "S1"
    assert all(e.status is OutboxStatus.SENT for e in await cpo.ctx.store.list_outbox())
    push = registered.pushes[0]
    assert push.headers["OCPI-from-party-id"] == "CSM" and push.headers["OCPI-to-party-id"] == "EMS"


async def test_location_receiver_applies_evse_patch(cpo: Cpo, registered: EmspSimulator) -> None:
    """An EVSE status PATCH updates the EVSE of a pushed Location and bumps the Location's last_updated."""
    partner, client = await cpo.partner(), cpo.ctx.client
    base = f"{partner.endpoints['locations:RECEIVER']}/NL/CSM/LOC1"
    location = {
        "country_code": "NL",
        "party_id": "CSM",
        "id": "LOC1",
        "evses": [
            {"uid": "E1", "status": "AVAILABLE", "connectors": [], "last_updated": "2025-03-01T09:00:00Z"}
        ],
        "last_updated": "2025-03-01T09:00:00Z",
    }
    assert (await client.request(partner, "PUT", base, location)).http_status == 201
    patch = {"status": "CHARGING", "last_updated": "2025-03-01T09:05:00Z"}
    assert (await client.request(partner, "PATCH", f"{base}/E1", patch)).success
    stored = registered.locations["NL/CSM/LOC1"]
    assert stored["evses"][0]["status"] == "CHARGING"
    assert stored["last_updated"] == "2025-03-01T09:05:00Z"
    got = await client.request(partner, "GET", f"{base}/E1")
    assert got.data["status"] == "CHARGING"


async def test_patch_without_last_updated_is_refused(cpo: Cpo, registered: EmspSimulator) -> None:
    """A PATCH without last_updated is answered 400 / 2001 and listed in `rejected`."""
    partner = await cpo.partner()
    url = f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/S9"
    response = await cpo.ctx.client.request(partner, "PATCH", url, {"kwh": 1})
    assert (response.http_status, response.status_code) == (400, 2001)
    assert registered.rejected == [("PATCH", "/ocpi/2.2.1/sessions/NL/CSM/S9", "PATCH without last_updated")]


async def test_session_put_with_other_id_is_refused(cpo: Cpo, registered: EmspSimulator) -> None:
    """A Session PUT whose id differs from the URL is 400 / 2001."""
    partner = await cpo.partner()
    url = f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/OTHER"
    response = await cpo.ctx.client.request(partner, "PUT", url, _session("S1"))
    assert (response.http_status, response.status_code) == (400, 2001)


async def test_down_with_close_drops_connections(cpo: Cpo, registered: EmspSimulator) -> None:
    """`set_down(True, close=True)` drops connections: the CPO sees the eMSP as unreachable."""
    partner = await cpo.partner()
    registered.set_down(True, close=True)
    with pytest.raises(PartnerUnreachable):
        await cpo.ctx.client.request(
            partner, "PUT", f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/S1", {}
        )
    registered.set_down(False)
    response = await cpo.ctx.client.request(
        partner, "PUT", f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/S1", _session("S1")
    )
    assert response.success


async def test_wait_for_push_returns_matching_pushes(cpo: Cpo, registered: EmspSimulator) -> None:
    """`wait_for_push` returns pushes already received that match."""
    partner = await cpo.partner()
    url = f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/S1"
    await cpo.ctx.client.request(partner, "PUT", url, _session("S1"))

    def is_session(push: Push) -> bool:
        return push.module == "sessions"

    pushes = await registered.wait_for_push(is_session)
    assert [p.method for p in pushes] == ["PUT"]


# -- commands -------------------------------------------------------------------------------------------


async def test_send_command_returns_sync_answer_and_collects_result(
    cpo: Cpo, registered: EmspSimulator
) -> None:
    """`send_command` returns the CPO's CommandResponse and a future that the CommandResult posted to its
    response_url resolves."""
    needs("commands")
    response, result = await registered.send_command(
        "START_SESSION",
        {"token": registered.make_token("UID-CMD"), "location_id": "NOWHERE"},
    )
    assert response.data["result"] == "REJECTED"
    assert response.status_code == 2003
    # The CPO posts the CommandResult to the response_url it was given (by hand here: the command failed).
    [(command, sent)] = registered.sent_commands
    url = sent["response_url"]
    assert url.startswith(f"{registered.version_url}/commands/START_SESSION/")
    partner = await cpo.partner()
    answer = await cpo.ctx.client.request(partner, "POST", url, {"result": "ACCEPTED"})
    assert answer.success
    assert (await result) == {"result": "ACCEPTED"}
    assert registered.command_results == [("START_SESSION", url.rsplit("/", 1)[1], {"result": "ACCEPTED"})]


async def test_calls_before_registration_fail(emsp: EmspSimulator) -> None:
    """Client calls before registration raise OcpiCallError."""
    with pytest.raises(OcpiCallError):
        await emsp.put_token("UID")


# -- command line ---------------------------------------------------------------------------------------


async def test_cli_registers_and_prints_summary(cpo: Cpo, capsys: pytest.CaptureFixture[str]) -> None:
    """`csms-emsp --pull` registers with the CPO, pulls, serves until stopped and prints a summary."""
    _, token_a = await issue_partner(cpo.ctx, name="CLI eMSP", country_code="NL", party_id="CLI")
    args = build_parser().parse_args(
        ["--cpo-versions", cpo.versions_url, f"--token-a={token_a}", "--party-id", "CLI", "--pull"]
    )
    stop = asyncio.Event()
    stop.set()
    assert await run(args, stop) == 0
    out = capsys.readouterr().out
    assert f"registered with {cpo.versions_url}" in out
    assert "pulled locations: 0 in 1 page(s)" in out
    assert "pushes received: 0" in out
    assert (await cpo.partner()).status is PartnerStatus.REGISTERED


async def test_cli_fails_with_a_wrong_token(cpo: Cpo, capsys: pytest.CaptureFixture[str]) -> None:
    """`csms-emsp` exits 1 when the CPO refuses the token A."""
    args = build_parser().parse_args(["--cpo-versions", cpo.versions_url, "--token-a", "x"])
    stop = asyncio.Event()
    stop.set()
    assert await run(args, stop) == 1
    assert "error:" in capsys.readouterr().err


def test_cli_main_exits_1_when_the_cpo_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    """`csms-emsp` exits with status 1 when the CPO's versions URL cannot be reached."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    versions = f"http://127.0.0.1:{port}/ocpi/versions"
    assert main(["--cpo-versions", versions, "--token-a=x", "--timeout", "2", "--log-level", "error"]) == 1
    assert "error:" in capsys.readouterr().err
