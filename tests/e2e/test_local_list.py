"""Local authorization lists end to end (issue 14, items 5 and 8): the real CSMS sends a simulated 1.6 or
2.0.1 station its organization's id tokens as a Full list when it boots, a Differential update after a
token is blocked over REST, and the station, disconnected, authorizes offline from that list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from csms.app import Csms
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.chargepoint.errors import SimulatorError
from tests.e2e.conftest import Api, StartCsms, make_api, ocpp_url
from tests.utils import MS

WAIT = 10000 * MS


@pytest.fixture
async def csms(start_csms: StartCsms) -> Csms:
    """A CSMS whose local list updates follow token changes after 20 ms (the debounce)."""
    return await start_csms(local_list_sync=True, local_list_sync_delay=20 * MS)


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[Api]:
    client, session = await make_api(csms)
    yield client
    await session.close()


async def wait_until(sim: ChargePointSimulator, predicate: Callable[[], bool]) -> None:
    """Wait until `predicate` holds of the station's (or the CSMS's) state (fail after WAIT)."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # noqa: ASYNC110 (the simulator's list changes under its reader task)
            await asyncio.sleep(10 * MS)


async def stored_list(api: Api, charge_point_id: str, version: int) -> dict[str, Any]:
    """The CSMS's record of the station's list once it has `version` (it is stored after the answer)."""
    async with asyncio.timeout(WAIT):
        while True:
            status, body = await api.get(f"/api/v1/charge-points/{charge_point_id}/local-list")
            assert status == 200, body
            if body["version"] == version:
                return dict(body)
            await asyncio.sleep(10 * MS)


def local_list_calls(sim: ChargePointSimulator) -> list[dict[str, Any]]:
    """Every SendLocalList the station received, in order."""
    return [payload for action, payload in sim.calls_received if action == "SendLocalList"]


def version_of(payload: dict[str, Any]) -> int:
    """listVersion (1.6) or versionNumber (2.0.1)."""
    return int(payload.get("listVersion", payload.get("versionNumber", -1)))


def tokens_of(payload: dict[str, Any]) -> list[str]:
    """The id tokens a SendLocalList names (1.6 idTag, 2.0.1 idToken.idToken)."""
    return [
        e["idTag"] if "idTag" in e else e["idToken"]["idToken"]
        for e in payload.get("localAuthorizationList", [])
    ]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_full_then_differential_then_offline_authorization(csms: Csms, api: Api, version: str) -> None:
    """Booting brings a Full list of the organization's tokens; blocking a token over REST brings a
    Differential update with only that token; offline, the Accepted token starts a transaction and the
    blocked one is refused; a token registered meanwhile arrives when the station reconnects."""
    for token in ("GOOD-TAG", "BAD-TAG"):
        status, body = await api.post("/api/v1/id-tokens", {"id_token": token, "type": "ISO14443"})
        assert status == 201, body
    cp = f"LL-{version.replace('.', '')}"
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id=cp, url=ocpp_url(csms), ocpp_version=version, connectors=2)
    )
    try:
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        await wait_until(sim, lambda: sim.local_list.version == 1)
        [full] = local_list_calls(sim)
        assert full["updateType"] == "Full" and sorted(tokens_of(full)) == ["BAD-TAG", "GOOD-TAG"]
        assert ("GetLocalListVersion", {}) in sim.calls_received  # asked before the Full update
        stored = await stored_list(api, cp, 1)
        assert stored["status"] == "Accepted", stored
        assert [e["id_token"] for e in stored["entries"]] == ["BAD-TAG", "GOOD-TAG"]

        async with api.session.patch(
            f"{api.base}/api/v1/id-tokens/BAD-TAG", json={"status": "Blocked"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        await wait_until(sim, lambda: sim.local_list.version == 2)
        differential = local_list_calls(sim)[1]
        assert (differential["updateType"], version_of(differential)) == ("Differential", 2)
        assert tokens_of(differential) == ["BAD-TAG"]
        assert sim.local_list.entries["BAD-TAG"]["status"] == "Blocked"
        stored = await stored_list(api, cp, 2)
        blocked = [e["status"] for e in stored["entries"] if e["id_token"] == "BAD-TAG"]
        assert blocked == ["Blocked"], stored

        await sim.go_offline(abrupt=True)
        assert await sim.start_transaction(1, "GOOD-TAG")
        with pytest.raises(SimulatorError):
            await sim.start_transaction(2, "BAD-TAG")

        # A token registered while the station is away reaches it when it reconnects (no boot).
        status, body = await api.post("/api/v1/id-tokens", {"id_token": "NEW-TAG", "type": "ISO14443"})
        assert status == 201, body
        await sim.come_back()
        await wait_until(sim, lambda: sim.local_list.version == 3)
        assert tokens_of(local_list_calls(sim)[2]) == ["NEW-TAG"]
        assert local_list_calls(sim)[2]["updateType"] == "Differential"
        assert not sim.violations, sim.violations
    finally:
        await sim.close()


async def test_sync_on_request_and_offline_station(csms: Csms, api: Api) -> None:
    """`POST .../local-list/sync` with Full sends the whole list again under the next version and answers
    the stored list; a station that is not connected is 409 charge_point_offline."""
    await api.post("/api/v1/id-tokens", {"id_token": "ONE", "type": "ISO14443"})
    sim = ChargePointSimulator(SimulatorConfig(charge_point_id="LL-SYNC", url=ocpp_url(csms)))
    try:
        await sim.connect()
        await sim.boot()
        await stored_list(api, "LL-SYNC", 1)
        status, body = await api.post(
            "/api/v1/charge-points/LL-SYNC/local-list/sync", {"update_type": "Full"}
        )
        assert status == 200, body
        assert (body["version"], body["status"], [e["id_token"] for e in body["entries"]]) == (
            2,
            "Accepted",
            ["ONE"],
        )
        assert local_list_calls(sim)[-1]["updateType"] == "Full" and sim.local_list.version == 2
        status, body = await api.post("/api/v1/charge-points/LL-SYNC/local-list/sync", {})
        assert status == 200 and body["version"] == 2, body  # nothing changed: nothing sent
        assert len(local_list_calls(sim)) == 2
        await sim.go_offline()
        await wait_until(sim, lambda: csms.services.registry.get("LL-SYNC") is None)  # the CSMS saw it go
        status, body = await api.post("/api/v1/charge-points/LL-SYNC/local-list/sync", {})
        assert status == 409 and body["error"]["code"] == "charge_point_offline", body
    finally:
        await sim.close()


async def test_a_long_id_token_is_listed_as_its_alias_on_a_16_station(csms: Csms, api: Api) -> None:
    """A token longer than a 1.6 idTag (20 characters) is listed under its alias, the one the station
    presents back; a 2.0.1 station lists the token itself."""
    long_token = "LONG-ID-TOKEN-OF-THIRTY-CHARS1"
    status, body = await api.post("/api/v1/id-tokens", {"id_token": long_token, "type": "ISO14443"})
    assert status == 201, body
    sims = [
        ChargePointSimulator(
            SimulatorConfig(charge_point_id=f"LL-LONG-{v}", url=ocpp_url(csms), ocpp_version=v)
        )
        for v in ("1.6", "2.0.1")
    ]
    try:
        for sim in sims:
            await sim.connect()
            await sim.boot()
        for sim in sims:
            await wait_until(sim, lambda sim=sim: sim.local_list.version == 1)  # type: ignore[misc]
        alias = await csms.domain.id_token_aliases.shorten(long_token, 20)
        assert len(alias) == 20
        assert list(sims[0].local_list.entries) == [alias]
        assert list(sims[1].local_list.entries) == [long_token]
        assert not any(sim.violations for sim in sims)
    finally:
        for sim in sims:
            await sim.close()
