"""The simulated station's power follows its installed charging profiles, both versions."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.chargepoint import ChargePointSimulator
from tests.simulators.conftest import MakeSim
from tests.simulators.fake_csms import FakeCsms

START = "2025-01-02T03:00:00Z"  # before the fixed clock's 03:04:05


def schedule(unit: str, *periods: tuple[int, float]) -> dict[str, Any]:
    return {"chargingRateUnit": unit, "startSchedule": START,
            "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods]}  # fmt: skip


def profile(
    version: str, pid: int, purpose: str, level: int, unit: str, limit: float, **extra: Any
) -> dict[str, Any]:
    """A profile of `version` with one period from START."""
    sched = schedule(unit, (0, limit))
    if version == "1.6":
        return {"chargingProfileId": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
                "chargingProfileKind": "Absolute", "chargingSchedule": sched, **extra}  # fmt: skip
    return {"id": pid, "stackLevel": level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": [{"id": pid, **sched}],
            **extra}  # fmt: skip


async def set_profile(csms: FakeCsms, version: str, where: int, body: dict[str, Any]) -> str:
    if version == "1.6":
        payload = {"connectorId": where, "csChargingProfiles": body}
    else:
        payload = {"evseId": where, "chargingProfile": body}
    return str((await csms.call("SetChargingProfile", payload))[2]["status"])


def last_power(csms: FakeCsms, version: str) -> float:
    """The Power.Active.Import of the last sample the station sent."""
    if version == "1.6":
        values = csms.calls("MeterValues")[-1]["meterValue"][0]["sampledValue"]
    else:
        values = csms.calls("TransactionEvent")[-1]["meterValue"][0]["sampledValue"]
    return float(next(v["value"] for v in values if v.get("measurand") == "Power.Active.Import"))


async def booted(make_sim: MakeSim, version: str) -> ChargePointSimulator:
    sim = make_sim(version)
    await sim.connect()
    await sim.boot()
    return sim


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_power_follows_the_composite_schedule(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """The EV draws its wanted power, then the lowest applicable limit (TxProfile over TxDefaultProfile,
    capped by the station max profile, A converted at 230 V on three phases), reported in meter values
    with the register rising at that power."""
    sim = await booted(make_sim, version)
    assert sim.current_power_w(1) == 0
    tx_id = await sim.start_transaction(1, "TX")
    assert sim.current_power_w(1) == 11000
    assert (
        await set_profile(csms, version, 1, profile(version, 1, "TxDefaultProfile", 0, "A", 10.0))
        == "Accepted"
    )
    assert sim.current_power_w(1) == 6900
    tx_ref: Any = int(tx_id) if version == "1.6" else tx_id
    tx = profile(version, 2, "TxProfile", 0, "W", 4200.0, transactionId=tx_ref)
    assert await set_profile(csms, version, 1, tx) == "Accepted"
    assert sim.current_power_w(1) == 4200
    max_purpose = "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"
    assert await set_profile(csms, version, 0, profile(version, 3, max_purpose, 0, "W", 3000.0)) == "Accepted"
    assert sim.current_power_w(1) == 3000
    before = sim.meter_wh[1]
    await sim.send_meter_values(1)
    assert last_power(csms, version) == 3000
    assert sim.meter_wh[1] - before == round(3000 * sim.config.meter_interval / 3600)
    await sim.stop_transaction(1)
    assert sim.current_power_w(1) == 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_get_composite_schedule(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """GetCompositeSchedule answers the composite of the installed profiles over the duration asked."""
    sim = await booted(make_sim, version)
    await sim.start_transaction(1, "TX")
    stepped = profile(version, 1, "TxDefaultProfile", 0, "W", 5000.0)
    periods = [{"startPeriod": 0, "limit": 5000.0}, {"startPeriod": 600, "limit": 2000.0}]
    if version == "1.6":
        stepped["chargingSchedule"]["chargingSchedulePeriod"] = periods
        request = {"connectorId": 1, "duration": 3600}
    else:
        stepped["chargingSchedule"][0]["chargingSchedulePeriod"] = periods
        request = {"evseId": 1, "duration": 3600}
    assert await set_profile(csms, version, 1, stepped) == "Accepted"
    reply = (await csms.call("GetCompositeSchedule", request))[2]
    assert reply["status"] == "Accepted"
    body = reply["chargingSchedule"] if version == "1.6" else reply["schedule"]
    # the fixed clock is 03:04:05.678, 245 s after START: 2000 W from 600 s, i.e. 355 s from now
    assert body["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 5000},
        {"startPeriod": 355, "limit": 2000},
    ]
    assert body["chargingRateUnit"] == "W" and body["duration"] == 3600
    bad = {"connectorId": 7, "duration": 60} if version == "1.6" else {"evseId": 7, "duration": 60}
    assert (await csms.call("GetCompositeSchedule", bad))[2]["status"] == "Rejected"
    amps = {**request, "chargingRateUnit": "A"}
    body = (await csms.call("GetCompositeSchedule", amps))[2]
    body = body["chargingSchedule"] if version == "1.6" else body["schedule"]
    assert body["chargingSchedulePeriod"][0] == {"startPeriod": 0, "limit": 7.2, "numberPhases": 3}
