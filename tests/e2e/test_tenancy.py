"""Tenancy end to end (issue 12, item 5): the real server on free ports, a simulator station over a real
websocket, two organizations' API keys over real HTTP. The station is auto-registered into `[ocpp]
unknown_charge_points_org`; its charge point, session and the id token of that organization are invisible
to the other organization (lists omit them, items and commands are 404) and visible to their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from csms.app import Csms
from csms.domain.secrets import hash_secret, new_api_key
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.api.openapi_check import CheckedApi
from tests.e2e.conftest import StartCsms, ocpp_url

CP = "CP-TENANT"


async def _client(csms: Csms, org_id: str, sessions: list[aiohttp.ClientSession]) -> CheckedApi:
    key, prefix = new_api_key()
    await csms.services.store.add_api_key(org_id, prefix, hash_secret(key, rounds=4), "admin", org_id=org_id)
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
    sessions.append(session)
    return CheckedApi(session, f"http://127.0.0.1:{csms.http_port}")


@pytest.fixture
async def http_sessions() -> AsyncIterator[list[aiohttp.ClientSession]]:
    sessions: list[aiohttp.ClientSession] = []
    yield sessions
    for session in sessions:
        await session.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_two_organizations_do_not_see_each_other(
    start_csms: StartCsms, http_sessions: list[aiohttp.ClientSession], version: str
) -> None:
    """Organization A (where unknown stations land) sees its station, token and session; B's key gets
    empty lists and 404 `not_found` for each item and command, and what B registers A cannot see."""
    csms = await start_csms(unknown_charge_points_org="org-a")
    a, b = await _client(csms, "org-a", http_sessions), await _client(csms, "org-b", http_sessions)
    sim = ChargePointSimulator(SimulatorConfig(charge_point_id=CP, url=ocpp_url(csms), ocpp_version=version))
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        assert (await a.post("/id-tokens", {"id_token": "TAG-A"}))[0] == 201
        await sim.start_transaction(1, "TAG-A")  # answered = stored
        status, sessions_of_a = await a.get("/sessions")
        assert status == 200 and [s["charge_point_id"] for s in sessions_of_a["items"]] == [CP]
        session_id = sessions_of_a["items"][0]["id"]
        assert [cp["charge_point_id"] for cp in (await a.get("/charge-points"))[1]["items"]] == [CP]

        for path in ("/charge-points", "/sessions", "/id-tokens", "/reservations"):
            status, body = await b.get(path)
            assert (status, body["items"]) == (200, []), path
        for method, path, body in (
            ("GET", f"/charge-points/{CP}", None),
            ("GET", f"/sessions/{session_id}", None),
            ("GET", "/id-tokens/TAG-A", None),
            ("POST", f"/charge-points/{CP}/reset", {"type": "soft"}),
            ("POST", f"/sessions/{session_id}/stop", None),
            ("POST", "/sessions", {"charge_point_id": CP, "id_tag": "TAG-B"}),
        ):
            status, error = await b.request(method, path, body)
            assert (status, error["error"]["code"]) == (404, "not_found"), (method, path)

        assert (await b.post("/charge-points", {"charge_point_id": "CP-OF-B"}))[0] == 201
        assert (await a.get("/charge-points/CP-OF-B"))[0] == 404
        assert (await b.get("/charge-points/CP-OF-B"))[0] == 200
    finally:
        await sim.close()
    assert not a.failures + b.failures, "exchanges that do not match the OpenAPI document"
