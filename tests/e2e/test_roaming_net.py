"""The roaming harness (tests/e2e/roaming_net.py) itself: two CPO processes, each with a 1.6 and a 2.0.1
station connected, publish their priced, reservable locations to an eMSP that registers with both; a driver
who arrives with the eMSP's token charges, and the eMSP receives the session and the priced CDR; a
reservation is used by the driver who arrives, another one expires and the eMSP is told."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
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
from tests.utils import MS

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


def ocpi_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_reservations_on_a_cpo_process_are_used_by_the_driver_or_expire(tmp_path: Path) -> None:
    """On a CPO process, RESERVE_NOW on the 1.6 station is used by the driver who arrives with the reserved
    token (its Session R<id> goes ACTIVE); one on the 2.0.1 station left unused is ended at its expiry:
    CANCELED_RESERVATION is posted to the eMSP and its Session goes COMPLETED."""
    spec = CpoSpec(
        "Delta", "DE", "CPD", lat="52.10000", lon="13.10000",
        env={"CSMS_OCPP_RESERVATION_CHECK_INTERVAL": "0.2"},
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        cpo = await start_cpo(stack, tmp_path, spec)
        emsp = await registered_emsp(stack, cpo)
        pulled = await emsp.pull_all()
        uids = {evse["evse_id"]: evse["uid"] for evse in pulled["locations"][0]["evses"]}
        card = emsp.make_token("RESCARD1", whitelist="ALWAYS")
        await emsp.put_token(card)
        used, unused = cpo.station("1.6"), cpo.station("2.0.1")

        async def reserve(station_uid: str, reservation_id: str, expiry: datetime) -> str:
            response, result = await emsp.send_command(
                "RESERVE_NOW",
                {"token": card, "expiry_date": ocpi_time(expiry), "reservation_id": reservation_id,
                 "location_id": cpo.location_id, "evse_uid": station_uid},
            )  # fmt: skip
            assert response.success and response.data["result"] == "ACCEPTED", response.data
            async with asyncio.timeout(WAIT):
                answer = await result
            assert answer["result"] == "ACCEPTED", answer
            return str(emsp.sent_commands[-1][1]["response_url"])

        await reserve(uids[used.evse_id], "RES-USED", datetime.now(UTC) + timedelta(hours=1))
        assert len(used.sim.reservations) == 1
        await driver_arrives(used, "RESCARD1", meter_start_wh=0)
        assert used.sim.reservations == {}  # the start used it

        def active(p: Push) -> bool:
            return p.module == "sessions" and p.body.get("status") == "ACTIVE"

        async with asyncio.timeout(WAIT):
            session = (await emsp.wait_for_push(active))[0]
        assert session.path.rsplit("/", 1)[1].startswith("R"), session.path

        response_url = await reserve(
            uids[unused.evse_id], "RES-UNUSED", datetime.now(UTC) + timedelta(seconds=3)
        )
        reference = response_url.rsplit("/", 1)[1]

        def completed_reservation(p: Push) -> bool:
            return p.module == "sessions" and p.body.get("status") == "COMPLETED"

        async with asyncio.timeout(WAIT):
            await emsp.wait_for_push(completed_reservation)
        await until_true(lambda: any(ref == reference and body.get("result") == "CANCELED_RESERVATION"
                                     for _, ref, body in emsp.command_results))  # fmt: skip
        await driver_leaves(used, meter_stop_wh=3_000)


async def until_true(check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 - the condition is set by another process's calls
            await asyncio.sleep(20 * MS)
