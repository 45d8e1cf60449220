"""The eMSP role (ocpi/emsp/) against our own CPO side, in one running CSMS over real sockets.

A CSMS with `[emsp] enabled` registers its eMSP role with its own /ocpi (the CPO side) using a token A the
operator issued there; the CPO side then calls /emsp/ocpi with the token B we gave it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp

from csms.app import EMSP_NETWORK, Csms
from csms.domain.clock import isoformat_z, utcnow
from csms.domain.models import IdToken, TokenStatus
from ocpi.emsp.network import CommandResponse, CommandResult, NetworkListener
from ocpi.emsp.registration import register_with_cpo
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import CpoRecord
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import issue_partner
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, location_body, ocpp_url
from tests.ocpi.emsp.conftest import WAIT, eventually, role_of


async def register(csms: Csms) -> tuple[CpoRecord, Partner]:
    """Our eMSP role registers with our CPO side; (our CPO record, the CPO side's partner)."""
    ctx = csms.ocpi.ctx
    partner, token_a = await issue_partner(ctx, name="Our eMSP", country_code="NL", party_id="EMS")
    cpo = await register_with_cpo(role_of(csms), ctx.versions_url, token_a, max_reservation_minutes=90)
    stored = await ctx.store.get_partner(partner.id)
    assert stored is not None
    return cpo, stored


async def test_registers_with_our_cpo_side(running: tuple[Csms, Api]) -> None:
    """Registration over sockets: both sides REGISTERED, each with the other's endpoints and tokens; the
    role is on the root app for the Agent API."""
    csms, _ = running
    cpo, partner = await register(csms)
    assert cpo.status == "REGISTERED" and (cpo.country_code, cpo.party_id) == ("NL", "CSM")
    assert "commands:RECEIVER" in cpo.endpoints and "locations:SENDER" in cpo.endpoints
    assert partner.status is PartnerStatus.REGISTERED
    # Our CPO side accepted our eMSP endpoints (USABLE_PARTNER_ENDPOINTS) and calls us with token B.
    assert partner.endpoints["tokens:SENDER"].endswith("/emsp/ocpi/2.2.1/tokens")
    assert partner.endpoints["commands:SENDER"].endswith("/emsp/ocpi/2.2.1/commands")
    (listed,) = await role_of(csms).cpos()
    assert listed.supports_reservation and listed.max_reservation == timedelta(minutes=90)
    assert csms.http.app[EMSP_NETWORK] is csms.emsp
    assert role_of(csms).locations_max_age == timedelta(seconds=300)


async def test_pull_and_push_of_locations(running: tuple[Csms, Api]) -> None:
    """A location published before registration is pulled; one published after is pushed to our
    receiver and lands in the same cache."""
    csms, api = running
    status, body = await api.post("/api/v1/locations", location_body("LOC1"))
    assert status == 201, body
    cpo, _ = await register(csms)
    role = role_of(csms)
    cached = await role.locations(cpo.id, max_age=timedelta(0))
    assert [loc["id"] for loc in cached.locations] == ["LOC1"] and cached.pulled_at is not None

    status, body = await api.post("/api/v1/locations", location_body("LOC2"))
    assert status == 201, body
    pushed = await eventually(lambda: role.store.get_location(cpo.id, "LOC2"))
    assert pushed["name"] == "Site LOC2"
    # A fresh cache is not pulled again: the push is what brought LOC2.
    again = await role.locations(cpo.id, max_age=timedelta(hours=1))
    assert {loc["id"] for loc in again.locations} == {"LOC1", "LOC2"}


async def test_tokens_sender_and_authorize(running: tuple[Csms, Api]) -> None:
    """Our CPO side reads our drivers' tokens (paginated) and authorizes one in real time; an unknown
    token is 404 / 2004."""
    csms, _ = running
    for uid, status in (("DRIVER1", TokenStatus.ACCEPTED), ("DRIVER2", TokenStatus.BLOCKED)):
        await csms.services.store.add_id_token(IdToken(uid, status=status))
    _, partner = await register(csms)
    client = csms.ocpi.ctx.client
    url = partner.endpoints["tokens:SENDER"]
    first = await client.request(partner, "GET", url, params={"limit": "1"})
    assert first.success and [t["uid"] for t in first.data] == ["DRIVER1"]
    assert first.headers["X-Total-Count"] == "2" and 'rel="next"' in first.headers["Link"]
    assert first.data[0]["valid"] is True and first.data[0]["party_id"] == "EMS"
    authorized = await client.request(partner, "POST", f"{url}/DRIVER2/authorize")
    assert authorized.success and authorized.data["allowed"] == "BLOCKED"
    unknown = await client.request(partner, "POST", f"{url}/NOBODY/authorize")
    assert (unknown.http_status, unknown.status_code) == (404, 2004)


async def test_reserve_now_result_reaches_the_listener(running: tuple[Csms, Api]) -> None:
    """RESERVE_NOW through our CPO side to a simulated 1.6 station: the CPO answers ACCEPTED, then posts
    its CommandResult to our response_url, delivered to the listener with the reservation id."""
    csms, api = running
    station = ChargePointSimulator(
        SimulatorConfig(charge_point_id="EMSPCP", url=ocpp_url(csms), ocpp_version="1.6")
    )
    await station.connect()
    try:
        assert (await station.boot())["status"] == "Accepted"
        for connector in station.connector_ids:
            await station.send_status(connector, "Available")
        status, body = await api.post("/api/v1/locations", location_body("LOCR", "EMSPCP"))
        assert status == 201, body
        await csms.services.store.add_id_token(IdToken("DRIVER1"))
        cpo, _ = await register(csms)
        role = role_of(csms)
        [location] = (await role.locations(cpo.id, max_age=timedelta(0))).locations
        evse_uid = location["evses"][0]["uid"]
        results: asyncio.Queue[CommandResult] = asyncio.Queue()
        role.subscribe(NetworkListener(command_result=results.put))
        expiry = isoformat_z(utcnow() + timedelta(hours=1))
        sent = await role.send_command(
            cpo.id,
            "RESERVE_NOW",
            {
                "token": await role.token("DRIVER1"),
                "expiry_date": expiry,
                "reservation_id": "R1",
                "location_id": "LOCR",
                "evse_uid": evse_uid,
            },
        )
        assert sent.response is CommandResponse.ACCEPTED, sent
        async with asyncio.timeout(WAIT):
            result = await results.get()
        assert (result.command_id, result.command, result.result) == (
            sent.command_id,
            "RESERVE_NOW",
            "ACCEPTED",
        )
        assert result.reservation_id == "R1" and result.cpo_id == cpo.id
        assert any(action == "ReserveNow" for action, _ in station.calls_received)
    finally:
        await station.close()


async def test_no_result_is_timeout(tmp_path: Path) -> None:
    """A CPO that accepts a command and never posts its result: our TIMEOUT reaches the listener after
    the CPO's timeout plus our margin."""
    from aiohttp import web

    from csms.config import EmspConfig
    from ocpi.emsp.store import MemoryEmspStore

    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"status_code": 1000, "data": {"result": "ACCEPTED", "timeout": 0}})

    app = web.Application()
    app.router.add_post("/commands/{command}", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        role = EmspRole(
            EmspConfig(enabled=True, command_timeout_seconds=0.05), MemoryEmspStore(), None, session
        )  # type: ignore[arg-type]
        cpo = await role.store.add_cpo(
            CpoRecord(
                0,
                "fake",
                "http://x",
                status="REGISTERED",
                token_c="C",
                endpoints={"commands:RECEIVER": f"http://127.0.0.1:{port}/commands"},
            )
        )
        await role.start("http://127.0.0.1:1/emsp/ocpi")
        results: asyncio.Queue[CommandResult] = asyncio.Queue()
        role.subscribe(NetworkListener(command_result=results.put))
        sent = await role.send_command(cpo.id, "START_SESSION", {"location_id": "L"})
        assert sent.response is CommandResponse.ACCEPTED
        async with asyncio.timeout(WAIT):
            result = await results.get()
        assert (result.command_id, result.result) == (sent.command_id, "TIMEOUT")
        await role.stop()
    await runner.cleanup()


async def test_results_after_the_first_and_after_a_restart() -> None:
    """A RESERVE_NOW's later CANCELED_RESERVATION is delivered with its reservation id, a repeated result
    is not; a stored command whose deadline passed while we were down gets TIMEOUT at start."""
    from csms.config import EmspConfig
    from ocpi.emsp.store import MemoryEmspStore, StoredCommand

    store = MemoryEmspStore()
    past = utcnow() - timedelta(seconds=1)
    await store.add_command(
        StoredCommand("c1", 1, "RESERVE_NOW", past + timedelta(hours=1), reservation_id="R9")
    )
    await store.add_command(StoredCommand("c2", 1, "START_SESSION", past))
    async with aiohttp.ClientSession() as session:
        role = EmspRole(EmspConfig(enabled=True, pull_interval_seconds=0), store, None, session)  # type: ignore[arg-type]
        results: asyncio.Queue[CommandResult] = asyncio.Queue()
        role.subscribe(NetworkListener(command_result=results.put))
        await role.start("http://127.0.0.1:1/emsp/ocpi")
        async with asyncio.timeout(WAIT):
            timed_out = await results.get()
        assert (timed_out.command_id, timed_out.result) == ("c2", "TIMEOUT")
        assert await role.command_result(1, "RESERVE_NOW", "c1", {"result": "ACCEPTED"})
        assert await role.command_result(1, "RESERVE_NOW", "c1", {"result": "ACCEPTED"})  # repeated
        assert await role.command_result(1, "RESERVE_NOW", "c1", {"result": "CANCELED_RESERVATION"})
        assert not await role.command_result(2, "RESERVE_NOW", "c1", {"result": "ACCEPTED"})  # not its CPO
        delivered = [results.get_nowait() for _ in range(results.qsize())]
        assert [(r.result, r.reservation_id) for r in delivered] == [
            ("ACCEPTED", "R9"),
            ("CANCELED_RESERVATION", "R9"),
        ]
        await role.stop()


async def test_credentials_update_and_unregister(running: tuple[Csms, Api]) -> None:
    """PUT of fresh credentials swaps both tokens (our CPO side calls us with the new B, and we it with
    its new C); DELETE unregisters on both sides."""
    from ocpi.emsp.registration import unregister, update_credentials

    csms, _ = running
    cpo, _ = await register(csms)
    role = role_of(csms)
    updated = await update_credentials(role, cpo.id)
    assert updated.token_c != cpo.token_c and updated.token_b_hash != cpo.token_b_hash
    ctx = csms.ocpi.ctx
    (partner,) = await ctx.store.list_partners()
    answer = await ctx.client.request(partner, "GET", partner.endpoints["tokens:SENDER"])
    assert answer.success  # with the new token B
    assert (await role.locations(cpo.id, max_age=timedelta(0))).pulled_at is not None  # with the new C
    await unregister(role, cpo.id)
    assert await role.cpos() == []
    stored = await ctx.store.get_partner(partner.id)
    assert stored is not None and stored.status is not PartnerStatus.REGISTERED
