"""Done-when of issue 16, item 1: a 22 kW site with five simulated stations (1.6 and 2.0.1) each wanting
11 kW: the drawn power, sampled from the simulators after each re-balance settles, never exceeds the limit,
every session gets at least its minimum, and the site re-balances when sessions start and stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from csms.app import Csms
from csms.domain.models import IdToken
from csms.domain.smart_charging import SiteLimit, amps, watts
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, location_body, ocpp_url
from tests.utils import MS

LIMIT_W = 22_000
MINIMUM = SiteLimit().min_current_a
MakeSim = Callable[[str, str], ChargePointSimulator]


@pytest.fixture
async def make_sim(csms: Csms) -> AsyncIterator[MakeSim]:
    sims: list[ChargePointSimulator] = []

    def make(cp_id: str, version: str) -> ChargePointSimulator:
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version, power_w=11_000)
        )
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.close()


async def test_22_kw_site_five_stations(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """The site's total drawn power stays within 22 kW after every re-balance; each charging session gets
    at least 6 A; sessions starting and stopping re-balance the others."""
    await csms.services.store.add_id_token(IdToken("DRIVER"))
    ids = [f"LB{i}" for i in range(5)]
    sims = {cp: make_sim(cp, "1.6" if i % 2 else "2.0.1") for i, cp in enumerate(ids)}
    for sim in sims.values():
        await sim.connect()
        await sim.boot()
    status, _ = await api.post("/api/v1/locations", location_body("SITE22", *ids))
    assert status == 201
    async with api.session.put(
        f"{api.base}/api/v1/locations/SITE22/power-limit", json={"max_power_w": LIMIT_W}
    ) as response:
        assert response.status == 200, await response.text()
    samples: list[int] = []

    def total() -> int:
        return sum(s.current_power_w(1) for s in sims.values())

    async def settled(expected: dict[str, int]) -> None:
        """Wait until every simulator draws what the fair share of the charging ones gives it (each
        re-checks after every frame it handles)."""
        for cp, w in expected.items():
            sim = sims[cp]
            await sim.wait_until(lambda sim=sim, w=w: sim.current_power_w(1) == w, 5000 * MS)  # type: ignore[misc]
        assert all(sims[cp].current_power_w(1) == w for cp, w in expected.items())

    def share(charging: list[str]) -> dict[str, int]:
        each = watts(amps(min(11_000, LIMIT_W // len(charging)), 3), 3)  # sent in A, rounded down
        return {cp: each for cp in charging} | {cp: 0 for cp in ids if cp not in charging}

    charging: list[str] = []
    for cp in ids:  # sessions start one by one: 11, 11, 7.3 x 3, 5.5 x 4, 4.4 x 5 kW
        await sims[cp].plug_in(1)
        await sims[cp].start_transaction(1, "DRIVER")
        charging.append(cp)
        await settled(share(charging))
        samples.append(total())
    for cp in ids[:3]:  # and stop: the others get the freed power
        await sims[cp].stop_transaction(1)
        charging.remove(cp)
        await settled(share(charging))
        samples.append(total())
    # the operator lowers the limit: the two running sessions are lowered at once, no session event needed
    async with api.session.put(
        f"{api.base}/api/v1/locations/SITE22/power-limit", json={"max_power_w": 11_040}
    ) as response:
        assert response.status == 200, await response.text()
    await settled({cp: 5520 for cp in charging})
    assert all(sample <= LIMIT_W for sample in samples), samples
    assert max(samples) > 20_000  # the site is used, not just kept low
    minimum_w = watts(MINIMUM, 3)
    assert all(sims[cp].current_power_w(1) >= minimum_w for cp in charging)
    assert sims[ids[0]].current_power_w(1) == 0  # stopped
