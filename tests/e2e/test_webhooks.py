"""Webhooks end to end: the real CSMS on free ports, a simulated station over a real websocket, and a
receiver on a real socket that checks each signature; plus the listing conventions over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from csms.app import Csms
from csms.config import WebhooksConfig
from csms.domain.models import IdToken
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import e2e_config, location_body, make_api, ocpp_url
from tests.utils import MS, until
from tests.webhooks.conftest import SECRET
from tests.webhooks.conftest import receiver as receiver  # the fixture
from tests.webhooks.receiver import Receiver

FAST = WebhooksConfig(
    backoff_base_seconds=0.02, backoff_max_seconds=0.1, poll_seconds=0.02, session_update_seconds=0.0,
    allow_private_addresses=True,  # the receiver listens on 127.0.0.1
)


async def until_async(check: Callable[[], Awaitable[bool]], timeout: float = 5000 * MS) -> None:  # noqa: ASYNC109
    """Wait until `check()` holds (asked every 10 ms, e.g. over HTTP); TimeoutError after `timeout` s."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(10 * MS)


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    """A CSMS whose webhook worker polls and backs off in tens of milliseconds."""
    csms = await Csms.start(replace(e2e_config(tmp_path), webhooks=FAST))
    yield csms
    await csms.stop()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_stations_session_reaches_the_webhook_signed_and_in_order(
    csms: Csms, receiver: Receiver, version: str
) -> None:
    """A webhook created over REST receives the station's connection, status and session events, each
    signed; the receiver fails at first and gets every event once it recovers, each object's in order."""
    api, session = await make_api(csms)
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="HOOK-1", url=ocpp_url(csms), ocpp_version=version)
    )
    try:
        status, created = await api.post(
            "/api/v1/webhooks",
            {
                "url": receiver.url,
                "events": [
                    "session.started",
                    "session.updated",
                    "session.completed",
                    "charge_point.connected",
                    "charge_point.status_changed",
                ],
                "secret": SECRET,
            },
        )
        assert status == 201, created
        receiver.status = 500
        await csms.services.store.add_id_token(IdToken("DRIVER"))
        await sim.connect()
        await sim.boot()
        await sim.plug_in(1)
        await sim.start_transaction(1, "DRIVER", meter_start_wh=10_000)
        await sim.send_meter_values(1, energy_wh=11_000)
        await sim.stop_transaction(1, meter_stop_wh=12_500)
        await until(lambda: len(receiver.received) >= 2)  # retried while failing
        receiver.status = 200
        await until(lambda: "session.completed" in receiver.types())
        assert all(r.signature_ok for r in receiver.received)
        sessions = [t for t in receiver.types() if t.startswith("session.")]
        assert sessions[0] == "session.started" and sessions[-1] == "session.completed"
        assert set(sessions[1:-1]) <= {"session.updated"} and len(sessions) >= 3
        completed = next(r.event for r in receiver.accepted if r.event["type"] == "session.completed")
        assert completed["data"]["charge_point_id"] == "HOOK-1" and completed["data"]["energy_wh"] == 2500
        assert completed["organization_id"] == "default"
        deliveries: list[dict[str, Any]] = []

        async def all_delivered() -> bool:
            status, body = await api.get(f"/api/v1/webhooks/{created['id']}/deliveries")
            assert status == 200
            deliveries[:] = body["items"]
            return {d["status"] for d in deliveries} == {"delivered"}

        await until_async(all_delivered)
        assert any(d["attempts"] > 1 and d["response_code"] == 200 for d in deliveries)
        station = [t for t in receiver.types() if t.startswith("charge_point.")]
        assert station[0] == "charge_point.connected" and "charge_point.status_changed" in station
    finally:
        await sim.close()
        await session.close()


async def test_listing_conventions_over_http(csms: Csms) -> None:
    """Over real sockets: Api-Version echoed, rate-limit headers counting down, sessions filtered by a
    location the OCPI bridge holds and expanded with it, and the CSV export."""
    api, session = await make_api(csms)
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="LOC-CP", url=ocpp_url(csms), ocpp_version="2.0.1")
    )
    try:
        await csms.services.store.add_id_token(IdToken("DRIVER"))
        await sim.connect()
        await sim.boot()
        status, body = await api.post("/api/v1/locations", location_body("L-1", "LOC-CP"))
        assert status == 201, body
        await sim.plug_in(1)
        await sim.start_transaction(1, "DRIVER", meter_start_wh=0)
        await sim.stop_transaction(1, meter_stop_wh=700)
        base = api.base + "/api/v1/sessions"
        remaining = []
        for _ in range(2):
            async with session.get(base, params={"location_id": "L-1", "expand": "location"}) as resp:
                assert resp.headers["Api-Version"] == "2026-12-01"
                remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
                items = (await resp.json())["items"]
        assert remaining[1] == remaining[0] - 1
        assert [i["location"]["id"] for i in items] == ["L-1"]
        async with session.get(base, params={"location_id": "L-2"}) as resp:
            assert resp.status == 404
        async with session.get(base + "/export.csv") as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            lines = (await resp.text()).splitlines()
        assert lines[0].startswith("id,charge_point_id,") and len(lines) == 2 and ",700," in lines[1]
    finally:
        await sim.close()
        await session.close()
