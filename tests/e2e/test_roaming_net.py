"""The roaming harness (tests/e2e/roaming_net.py) itself: two CPO processes, each with a 1.6 and a 2.0.1
station connected, publish their priced, reservable locations to an eMSP that registers with both; a driver
who arrives with the eMSP's token charges, and the eMSP receives the session and the priced CDR."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulators.emsp import EmspConfig, EmspSimulator, Push
from tests.e2e.roaming_net import (
    WAIT,
    Cpo,
    CpoSpec,
    DriverRefused,
    driver_arrives,
    driver_charges,
    driver_leaves,
    start_cpo,
    tariff_total,
)

EMSP_CC, EMSP_PID = "DE", "EMS"


async def registered_emsp(stack: AsyncExitStack, cpo: Cpo) -> EmspSimulator:
    """A simulated eMSP (DE/EMS) registered with `cpo` (one simulator per CPO: it keeps one CPO's
    credentials)."""
    token_a = await cpo.add_partner("Sim eMSP", EMSP_CC, EMSP_PID)
    emsp = EmspSimulator(EmspConfig(country_code=EMSP_CC, party_id=EMSP_PID, timeout=WAIT))
    await emsp.start()
    stack.push_async_callback(emsp.close)
    await emsp.register(cpo.versions_url, token_a)
    return emsp


def evses_by_id(location: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {evse["evse_id"]: evse for evse in location["evses"]}


async def test_two_cpo_processes_publish_their_stations_to_an_emsp(tmp_path: Path) -> None:
    """Two CPO processes (DE/CPA, DE/CPB) each publish one location at its coordinates with a reservable,
    priced, AVAILABLE EVSE per station (1.6 and 2.0.1), seen by an eMSP registered with both; a driver with
    the eMSP's token charges at each version's station and the eMSP gets the sessions and priced CDRs."""
    async with AsyncExitStack() as stack:
        cpa = await start_cpo(
            stack, tmp_path, CpoSpec("Alpha Charging", "DE", "CPA", lat="52.52000", lon="13.40500")
        )
        cpb = await start_cpo(
            stack, tmp_path, CpoSpec("Beta Power", "DE", "CPB", lat="52.53000", lon="13.42000")
        )
        emsps = {"CPA": await registered_emsp(stack, cpa), "CPB": await registered_emsp(stack, cpb)}

        for cpo in (cpa, cpb):
            emsp = emsps[cpo.spec.party_id]
            pulled = await emsp.pull_all()
            assert [loc["id"] for loc in pulled["locations"]] == [cpo.location_id]
            location = pulled["locations"][0]
            assert (location["country_code"], location["party_id"]) == ("DE", cpo.spec.party_id)
            assert location["coordinates"] == {"latitude": cpo.spec.lat, "longitude": cpo.spec.lon}
            evses = evses_by_id(location)
            assert set(evses) == {s.evse_id for s in cpo.stations}
            for evse in evses.values():
                assert evse["status"] == "AVAILABLE", evse
                assert "RESERVABLE" in evse["capabilities"], evse
                assert evse["connectors"][0]["tariff_ids"] == ["STD"], evse
            assert [t["id"] for t in pulled["tariffs"]] == ["STD"]

        # A driver of the eMSP charges 10 kWh at CPA's 1.6 station and 4 kWh at CPB's 2.0.1 station.
        for emsp in emsps.values():
            await emsp.put_token("DRIVER1")
        charged = {"CPA": ("1.6", 10_000), "CPB": ("2.0.1", 4_000)}
        for cpo in (cpa, cpb):
            version, energy_wh = charged[cpo.spec.party_id]
            station = cpo.station(version)
            await driver_arrives(station, "DRIVER1", meter_start_wh=1_000)
            await driver_charges(station, 1_000 + energy_wh // 2)
            await driver_leaves(station, meter_stop_wh=1_000 + energy_wh)

        def is_cdr(p: Push) -> bool:
            return p.module == "cdrs" and p.method == "POST"

        for cpo in (cpa, cpb):
            emsp = emsps[cpo.spec.party_id]
            _, energy_wh = charged[cpo.spec.party_id]
            async with asyncio.timeout(WAIT):
                cdr = (await emsp.wait_for_push(is_cdr))[0].body
            assert cdr["cdr_token"]["uid"] == "DRIVER1"
            assert cdr["cdr_location"]["id"] == cpo.location_id
            assert Decimal(str(cdr["total_energy"])) == Decimal(energy_wh) / 1000
            assert Decimal(str(cdr["total_cost"]["excl_vat"])) == tariff_total(cpo.spec.tariff, energy_wh)


async def test_an_unknown_driver_is_refused(tmp_path: Path) -> None:
    """`driver_arrives` with a token nobody issued raises DriverRefused and leaves the connector free."""
    async with AsyncExitStack() as stack:
        cpo = await start_cpo(stack, tmp_path, CpoSpec("Gamma", "DE", "CPG", lat="52.00000", lon="13.00000"))
        station = cpo.station("2.0.1")
        with pytest.raises(DriverRefused):
            await driver_arrives(station, "STRANGER")
        assert station.connector not in station.sim.transactions
