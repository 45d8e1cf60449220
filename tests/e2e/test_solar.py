"""Issue 16, item 4: a site with PV, two simulated stations (a solar_only session on 2.0.1, a normal one on
1.6); measurements POSTed over REST; the solar_only session's power, sampled from its simulator, follows
the surplus, pauses below the EV's minimum current and resumes, while the normal session keeps its share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from csms.app import Csms
from csms.domain.models import IdToken
from csms.domain.smart_charging import amps, watts
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, location_body, ocpp_url
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
