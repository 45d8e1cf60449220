"""U+0000, which PostgreSQL cannot store, against the real CSMS on PostgreSQL: the REST API and the OCPP
server refuse it with their own errors before anything is stored, never a 500 or a dropped write
(found by the fuzz suites, ADR 0017)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect

from csms.app import Csms
from tests.e2e.conftest import Api, e2e_config, make_api, ocpp_url
from tests.e2e.test_fuzz_ocpp import recv
from tests.utils import fresh_database


@pytest.fixture
async def pg_csms(tmp_path: Path) -> AsyncIterator[tuple[Csms, Api]]:
    """The CSMS on a fresh PostgreSQL database, with an admin REST client."""
    async with fresh_database() as url:
        config = e2e_config(tmp_path)
        csms = await Csms.start(replace(config, database=replace(config.database, url=url)))
        api, session = await make_api(csms)
        try:
            yield csms, api
        finally:
            await session.close()
            await csms.stop()


async def test_rest_refuses_nul_in_bodies_paths_and_queries(pg_csms: tuple[Csms, Api]) -> None:
    """A body string with U+0000 is 400 `invalid_request`, a path with %00 is 404, and nothing is stored."""
    _, api = pg_csms
    status, body = await api.post("/api/v1/id-tokens", {"id_token": "T\u0000"})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body = await api.get("/api/v1/charge-points/A%00B")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await api.get("/api/v1/charge-points", cursor="A\u0000")
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body = await api.get("/api/v1/id-tokens")
    assert status == 200 and body["items"] == []


async def test_ocpp_refuses_nul_before_storing_and_goes_on(pg_csms: tuple[Csms, Api]) -> None:
    """A BootNotification with U+0000 is a PropertyConstraintViolation; a clean one is then accepted and
    its vendor stored (before the fix the first was answered Accepted and its write dropped)."""
    csms, api = pg_csms
    ws = await connect(f"{ocpp_url(csms)}/NUL1", subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    boot = {"chargePointVendor": "V\u0000", "chargePointModel": "M"}
    await ws.send(orjson.dumps([2, "b1", "BootNotification", boot]).decode())
    assert (await recv(ws))[:3] == [4, "b1", "PropertyConstraintViolation"]
    await ws.send(orjson.dumps([2, "b2", "BootNotification", dict(boot, chargePointVendor="V")]).decode())
    assert (await recv(ws))[2]["status"] == "Accepted"
    await ws.close()
    status, body = await api.get("/api/v1/charge-points/NUL1")
    assert status == 200 and body["boot"]["vendor"] == "V", body
