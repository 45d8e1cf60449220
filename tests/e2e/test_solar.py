"""Issue 16, item 4: a site with PV, two simulated stations (a solar_only session on 2.0.1, a normal one on
1.6); measurements POSTed over REST; the solar_only session's power, sampled from its simulator, follows
the surplus, pauses below the EV's minimum current and resumes, while the normal session keeps its share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from csms.app import Csms
from csms.config import SolarConfig
from csms.domain.models import IdToken
from csms.domain.smart_charging import amps, watts
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, e2e_config, location_body, make_api, ocpp_url
from tests.utils import MS

SITE = "SUNNY"


@pytest.fixture
async def sims(csms: Csms) -> AsyncIterator[dict[str, ChargePointSimulator]]:
    """SOL (2.0.1) and GRID (1.6), each wanting 11 kW."""
    made = {
        cp: ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp, url=ocpp_url(csms), ocpp_version=version, power_w=11_000)
        )
        for cp, version in (("SOL", "2.0.1"), ("GRID", "1.6"))
    }
    yield made
    for sim in made.values():
        await sim.close()


def sent(power_w: int) -> int:
    """What a station draws when allocated `power_w` (sent as A per phase on 3 phases, rounded down)."""
    return watts(amps(power_w, 3), 3)


async def put(api: Api, path: str, body: dict[str, Any]) -> Any:
    async with api.session.put(f"{api.base}/api/v1{path}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_solar_only_session_follows_the_surplus(
    csms: Csms, api: Api, sims: dict[str, ChargePointSimulator]
) -> None:
    """Surplus 7 kW: the solar_only session draws it; 3 kW (< 6 A = 4.14 kW): paused; 5 kW: resumes at 5 kW;
    the normal session keeps its 11 kW within the site's 22 kW limit throughout."""
    await csms.services.store.add_id_token(IdToken("DRIVER"))
    for sim in sims.values():
        await sim.connect()
        await sim.boot()
    status, _ = await api.post("/api/v1/locations", location_body(SITE, *sims))
    assert status == 201
    await put(api, f"/locations/{SITE}/power-limit", {"max_power_w": 22_000})
    for sim in sims.values():
        await sim.plug_in(1)
        await sim.start_transaction(1, "DRIVER")
    sol, grid = sims["SOL"], sims["GRID"]

    async def draws(sim: ChargePointSimulator, power_w: int) -> None:
        await sim.wait_until(lambda: sim.current_power_w(1) == power_w, 5000 * MS)

    await draws(sol, sent(11_000))  # no mode yet: a normal share
    _, page = await api.get("/api/v1/sessions", charge_point_id="SOL", status="active")
    session_id = page["items"][0]["id"]
    status, _ = await api.post(
        f"/api/v1/locations/{SITE}/measurements", {"production_w": 9_000, "consumption_w": 2_000}
    )
    assert status == 200
    mode = await put(api, f"/sessions/{session_id}/solar-mode", {"mode": "solar_only"})
    assert mode == {"session_id": session_id, "mode": "solar_only"}
    samples: list[int] = []
    for production_w, expected in ((9_000, sent(7_000)), (5_000, 0), (7_000, sent(5_000))):
        status, answer = await api.post(
            f"/api/v1/locations/{SITE}/measurements", {"production_w": production_w, "consumption_w": 2_000}
        )
        assert status == 200 and answer["surplus_w"] == production_w - 2_000
        await draws(sol, expected)
        await draws(grid, sent(11_000))
        samples.append(sol.current_power_w(1) + grid.current_power_w(1))
    assert all(sample <= 22_000 for sample in samples), samples
    assert sol.transactions  # paused, never stopped: it resumed in the same session


async def test_solar_meter_read_over_http(tmp_path: Path) -> None:
    """With `[solar] meter_url` the CSMS reads the site's meter (a local fixture server) and the solar_only
    session follows what the meter says, without any POST."""
    meter: dict[str, int] = {"production_w": 8_000, "consumption_w": 1_000}

    async def read(request: web.Request) -> web.Response:
        assert request.match_info["location_id"] == SITE
        return web.json_response(meter)

    app = web.Application()
    app.router.add_get("/meter/{location_id}", read)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    solar = SolarConfig(meter_url=f"http://127.0.0.1:{port}/meter/{{location_id}}", poll_seconds=0.05)
    csms = await Csms.start(replace(e2e_config(tmp_path), solar=solar))
    api, session = await make_api(csms)
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="SOLM", url=ocpp_url(csms), ocpp_version="2.0.1", power_w=11_000)
    )
    try:
        await csms.services.store.add_id_token(IdToken("DRIVER"))
        await sim.connect()
        await sim.boot()
        assert (await api.post("/api/v1/locations", location_body(SITE, "SOLM")))[0] == 201
        await sim.plug_in(1)
        await sim.start_transaction(1, "DRIVER")
        _, page = await api.get("/api/v1/sessions", charge_point_id="SOLM", status="active")
        await put(api, f"/sessions/{page['items'][0]['id']}/solar-mode", {"mode": "solar_only"})
        await sim.wait_until(lambda: sim.current_power_w(1) == sent(7_000), 5000 * MS)
        meter["consumption_w"] = 5_000  # 3 kW surplus: below the minimum, paused
        await sim.wait_until(lambda: sim.current_power_w(1) == 0, 5000 * MS)
        status, latest = await api.get(f"/api/v1/locations/{SITE}/measurements")
        assert status == 200 and latest["surplus_w"] == 3_000
    finally:
        await sim.close()
        await session.close()
        await csms.stop()
        await runner.cleanup()
