"""OCPI 2.2.1 ChargingProfiles and ChargingPreferences end to end: the eMSP simulator sets and clears the
profile of its session on a simulated station of each OCPP version and receives the results at its
response_url; its driver's preferences give the session a schedule."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from csms.domain.clock import isoformat_z, utcnow
from tests.e2e.test_ocpi_roaming import VERSIONS, WAIT, Roaming, eventually, roaming


async def started_session(r: Roaming, cp_id: str, version: str) -> str:
    """A station at LOC-PROF, the eMSP registered, and a session it started there; its OCPI session id."""
    await r.station(cp_id, version)
    await r.location("LOC-PROF", cp_id)
    await r.register_emsp()
    evses = await r.evse_uids("LOC-PROF")
    driver = r.emsp.make_token("PROFDRIVER", type="APP_USER", whitelist="NEVER")
    started = await r.command("START_SESSION", token=driver, location_id="LOC-PROF", evse_uid=evses[1])
    assert started["result"] == "ACCEPTED"
    put = await r.push(lambda p: p.module == "sessions" and p.body.get("status") == "ACTIVE")
    return str(put.body["id"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_partner_sets_and_clears_a_profile(tmp_path: Path, version: str) -> None:
    """PUT: ChargingProfileResponse ACCEPTED, the station gets a TxProfile for the transaction, the
    ChargingProfileResult ACCEPTED reaches the response_url; GET asks the station's composite schedule and
    posts it as the ActiveChargingProfileResult; DELETE clears that
    profile at the station and posts ClearProfileResult ACCEPTED; an unknown session is UNKNOWN_SESSION."""
    cp_id = f"PROF{version.replace('.', '')}"
    async with roaming(tmp_path) as r:
        session_id = await started_session(r, cp_id, version)
        sim = r.sims[0]
        profile = {  # started a whole second ago: the station's schedule starts at its whole second
            "start_date_time": isoformat_z(utcnow().replace(microsecond=0) - timedelta(seconds=1)),
            "charging_rate_unit": "W",
            "charging_profile_period": [
                {"start_period": 0, "limit": 7400},
                {"start_period": 1800, "limit": 3700},
            ],
        }
        response, result = await r.emsp.send_charging_profile("PUT", session_id, profile)
        assert response.success and response.data["result"] == "ACCEPTED", response.data
        assert response.data["timeout"] > 0
        async with asyncio.timeout(WAIT):
            assert await result == {"result": "ACCEPTED"}
        [(_, request)] = [(a, p) for a, p in sim.calls_received if a == "SetChargingProfile"]
        sent = request["csChargingProfiles" if version == "1.6" else "chargingProfile"]
        assert sent["chargingProfilePurpose"] == "TxProfile"
        schedule = sent["chargingSchedule"] if version == "1.6" else sent["chargingSchedule"][0]
        assert schedule["chargingRateUnit"] == "W"
        assert [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]] == [
            (0, 7400),
            (1800, 3700),
        ]
        assert "transactionId" in sent

        response, result = await r.emsp.send_charging_profile("GET", session_id, duration=3600)
        assert response.success and response.data["result"] == "ACCEPTED", response.data
        async with asyncio.timeout(WAIT):
            active = await result
        [(_, asked)] = [(a, p) for a, p in sim.calls_received if a == "GetCompositeSchedule"]
        assert asked["duration"] == 3600 and asked["connectorId" if version == "1.6" else "evseId"] == 1
        assert active["result"] == "ACCEPTED", active
        got = active["profile"]["charging_profile"]
        assert active["profile"]["start_date_time"] == got["start_date_time"]
        assert got["charging_rate_unit"] == "W"
        # The station's composite schedule follows the profile just set: 7.4 kW, then 3.7 kW at 30 min.
        periods = got["charging_profile_period"]
        assert [p["limit"] for p in periods] == [7400, 3700]
        assert periods[0]["start_period"] == 0 and 1790 <= periods[1]["start_period"] <= 1800

        response, result = await r.emsp.send_charging_profile("DELETE", session_id)
        assert response.data["result"] == "ACCEPTED"
        async with asyncio.timeout(WAIT):
            assert await result == {"result": "ACCEPTED"}
        [(_, clear)] = [(a, p) for a, p in sim.calls_received if a == "ClearChargingProfile"]
        profile_id = sent["chargingProfileId" if version == "1.6" else "id"]
        assert clear["id" if version == "1.6" else "chargingProfileId"] == profile_id

        response, _ = await r.emsp.send_charging_profile("PUT", "999999", profile)
        assert response.data["result"] == "UNKNOWN_SESSION"


async def test_driver_preferences_give_the_session_a_schedule(tmp_path: Path) -> None:
    """PUT charging_preferences (FAST, 5 kWh) on the eMSP's session: ACCEPTED, and the session's schedule
    shows the driver's needs from OCPI, charging at the maximum from now."""
    async with roaming(tmp_path) as r:
        session_id = await started_session(r, "PREF1", "2.0.1")
        url = f"{r.emsp.cpo_endpoint('sessions', 'SENDER').rstrip('/')}/{session_id}/charging_preferences"
        departure = isoformat_z(utcnow().replace(microsecond=0).replace(year=utcnow().year + 1))
        body = {"profile_type": "FAST", "energy_need": 5, "departure_time": departure}
        response = await r.emsp.call("PUT", url, body)
        assert response.success and response.data == "ACCEPTED", response.data
        [tx] = await r.csms.services.store.list_active_transactions("PREF1")

        async def schedule() -> dict[str, object] | None:
            status, body = await r.api.get(f"/api/v1/sessions/{tx.id}/schedule")
            return body if status == 200 and body.get("station_status") else None

        shown = await eventually(schedule)
        assert shown["needs"] == {
            "source": "ocpi",
            "energy_wh": 5000,
            "departure_time": departure,
            "min_power_w": None,
            "max_power_w": None,
            "profile_type": "FAST",
        }
        assert shown["objective"] == "fast" and shown["target_met"] is True
