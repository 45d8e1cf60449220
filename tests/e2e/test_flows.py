"""End-to-end flows for both OCPP versions: the real server on free ports, the bundled simulators over
real sockets, results read back through the REST API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from csms.app import Csms
from csms.domain.models import ChargePoint, IdToken, RegistrationStatus, TokenStatus
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, StartCsms, make_api, ocpp_url

VERSIONS = ["1.6", "2.0.1"]
MakeSim = Callable[..., ChargePointSimulator]


@pytest.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    """Create simulators; every one is closed after the test."""
    sims: list[ChargePointSimulator] = []

    def make(csms: Csms, cp_id: str, version: str, **kw: object) -> ChargePointSimulator:
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version, **kw)
        )  # type: ignore[arg-type]
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_accepted_then_status_visible_in_api(
    csms: Csms, api: Api, make_sim: MakeSim, version: str
) -> None:
    """An unknown station is accepted, boots, reports status; the API shows version, boot data, connectors."""
    sim = make_sim(csms, f"FLOW-{version}", version, connectors=2, serial_number="SN-1")
    await sim.connect()
    boot = await sim.boot()
    assert boot["status"] == "Accepted" and boot["interval"] == 300
    await sim.send_status(1, "Available")
    await sim.plug_in(2)
    await sim.heartbeat()
    status, cp = await api.get(f"/api/v1/charge-points/FLOW-{version}")
    assert status == 200
    assert cp["connected"] is True and cp["ocpp_version"] == version
    assert cp["boot"]["vendor"] == "CsmsSim" and cp["boot"]["serial_number"] == "SN-1"
    assert cp["last_heartbeat_at"] is not None
    connectors = {e["evse_id"]: e["connectors"][0] for e in cp["evses"]}
    assert connectors[1]["status"] == "Available"
    assert connectors[2]["status"] == "Occupied"
    if version == "1.6":
        assert connectors[2]["status_detail"] == "Preparing"


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_pending_then_other_messages_refused(
    start_csms: StartCsms, make_sim: MakeSim, version: str
) -> None:
    """With the pending policy an unknown station is answered Pending and may send nothing else."""
    csms = await start_csms(unknown_charge_points="pending")
    sim = make_sim(csms, "PEND", version)
    await sim.connect()
    boot = await sim.boot()
    assert boot["status"] == "Pending" and boot["interval"] == 30
    with pytest.raises(Exception) as info:
        await sim.heartbeat()
    assert "SecurityError" in str(info.value) or getattr(info.value, "error_code", "") == "SecurityError"


@pytest.mark.parametrize("version", VERSIONS)
async def test_boot_rejected_for_a_rejected_charge_point(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """A charge point the operator set to Rejected is answered Rejected with the retry interval."""
    await csms.services.store.add_charge_point(
        ChargePoint("REJ", registration_status=RegistrationStatus.REJECTED)
    )
    sim = make_sim(csms, "REJ", version)
    await sim.connect()
    boot = await sim.boot()
    assert boot["status"] == "Rejected" and boot["interval"] == 30


@pytest.mark.parametrize("version", VERSIONS)
async def test_authorize_known_unknown_blocked(csms: Csms, make_sim: MakeSim, version: str) -> None:
    """Known tokens answer Accepted, blocked ones Blocked, unknown ones Invalid."""
    store = csms.services.store
    await store.add_id_token(IdToken("GOOD"))
    await store.add_id_token(IdToken("BAD", status=TokenStatus.BLOCKED))
    sim = make_sim(csms, "AUTH", version)
    await sim.connect()
    await sim.boot()
    assert (await sim.authorize("GOOD"))["status"] == "Accepted"
    assert (await sim.authorize("BAD"))["status"] == "Blocked"
    assert (await sim.authorize("WHO"))["status"] == "Invalid"


@pytest.mark.parametrize(
    ("version", "unit"), [("1.6", "Wh"), ("1.6", "kWh"), ("2.0.1", "Wh"), ("2.0.1", "kWh")]
)
async def test_full_transaction_energy_read_back(
    csms: Csms, api: Api, make_sim: MakeSim, version: str, unit: str
) -> None:
    """Plug, authorize, start, meter values, stop: the API session shows the right energy in Wh."""
    await csms.services.store.add_id_token(IdToken("DRIVER"))
    sim = make_sim(csms, "TX", version)
    await sim.connect()
    await sim.boot()
    await sim.plug_in(1)
    assert (await sim.authorize("DRIVER"))["status"] == "Accepted"
    tx_id = await sim.start_transaction(1, "DRIVER", meter_start_wh=12_000)
    await sim.send_meter_values(1, energy_wh=13_500, unit=unit)
    _, page = await api.get("/api/v1/sessions", charge_point_id="TX", status="active")
    assert len(page["items"]) == 1 and page["items"][0]["energy_wh"] == 1500
    await sim.send_meter_values(1, energy_wh=15_250, unit=unit)
    await sim.stop_transaction(1, meter_stop_wh=16_000)
    _, page = await api.get("/api/v1/sessions", charge_point_id="TX", status="completed")
    assert len(page["items"]) == 1
    session_id = page["items"][0]["id"]
    status, session = await api.get(f"/api/v1/sessions/{session_id}")
    assert status == 200
    assert session["transaction_id"] == tx_id
    assert session["status"] == "completed" and session["id_token"] == "DRIVER"
    assert session["meter_start_wh"] == 12_000 and session["meter_stop_wh"] == 16_000
    assert session["energy_wh"] == 4000
    assert session["stop_reason"] == "Local"
    registers = [
        s
        for s in session["meter_samples"]
        if s["measurand"] == "Energy.Active.Import.Register" and s["phase"] is None
    ]
    assert len(registers) >= 2


@pytest.mark.parametrize("version", VERSIONS)
async def test_reconnect_and_repeated_start_make_one_transaction(
    csms: Csms, api: Api, make_sim: MakeSim, version: str
) -> None:
    """A start repeated after a reconnect does not create a second transaction."""
    sim = make_sim(csms, "DUP", version)
    await sim.connect()
    await sim.boot()
    tx_id = await sim.start_transaction(1, "ANY", meter_start_wh=0)
    await sim.go_offline()
    await sim.come_back()
    # Replay the exact start frame the station sent first (what a station does when it never saw the answer).
    if version == "1.6":
        start = next(p for a, p in sim.sent_calls if a == "StartTransaction")
        reply = await sim.call("StartTransaction", start)
        assert str(reply["transactionId"]) == tx_id
    else:
        started = next(
            p for a, p in sim.sent_calls if a == "TransactionEvent" and p["eventType"] == "Started"
        )
        await sim.call("TransactionEvent", started)
    _, page = await api.get("/api/v1/sessions", charge_point_id="DUP")
    assert len(page["items"]) == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_offline_transaction_is_delivered_on_return(
    csms: Csms, api: Api, make_sim: MakeSim, version: str
) -> None:
    """Messages queued while offline arrive in order after reconnecting and complete the session."""
    sim = make_sim(csms, "OFF", version)
    await sim.connect()
    await sim.boot()
    await sim.start_transaction(1, "ANY", meter_start_wh=100)
    await sim.go_offline()
    stop_task = asyncio.create_task(sim.stop_transaction(1, meter_stop_wh=900))
    await asyncio.sleep(0.05)
    await sim.come_back()
    await asyncio.wait_for(stop_task, 5)
    _, page = await api.get("/api/v1/sessions", charge_point_id="OFF")
    session = page["items"][0]
    assert session["status"] == "completed" and session["energy_wh"] == 800
    if version == "2.0.1":
        assert session["offline"] is True


async def test_stop_for_unknown_transaction_is_answered(csms: Csms, make_sim: MakeSim) -> None:
    """A 1.6 StopTransaction for a transaction the CSMS never saw is answered, not refused."""
    sim = make_sim(csms, "GHOST", "1.6")
    await sim.connect()
    await sim.boot()
    reply = await sim.call(
        "StopTransaction",
        {"transactionId": 424242, "meterStop": 10, "timestamp": "2026-01-01T00:00:00Z", "idTag": "X"},
    )
    assert reply["idTagInfo"]["status"] == "Invalid"


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_reports_are_kept(csms: Csms, api: Api, make_sim: MakeSim, version: str) -> None:
    """Firmware status notifications (and the other station reports) are answered and kept."""
    sim = make_sim(csms, "FW", version)
    await sim.connect()
    await sim.boot()
    status = "Downloading"
    await sim.call("FirmwareStatusNotification", {"status": status})
    if version == "2.0.1":
        await sim.call(
            "SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": "2026-01-01T00:00:00Z"}
        )
        await sim.call(
            "NotifyEvent",
            {
                "generatedAt": "2026-01-01T00:00:00Z",
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": "2026-01-01T00:00:00Z",
                        "trigger": "Alerting",
                        "actualValue": "Faulted",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector"},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            },
        )
        await sim.call("LogStatusNotification", {"status": "Uploaded"})
        await sim.call("NotifyReport", {"requestId": 1, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0})
    else:
        await sim.call("DiagnosticsStatusNotification", {"status": "Uploaded"})
    assert (await sim.call("DataTransfer", {"vendorId": "acme"}))["status"] == "UnknownVendorId"
    _, cp = await api.get("/api/v1/charge-points/FW")
    assert cp["firmware_status"] == status
    if version == "2.0.1":
        assert cp["log_status"] == "Uploaded"
    else:
        assert cp["diagnostics_status"] == "Uploaded"


async def test_both_versions_at_once_on_one_port(csms: Csms, make_sim: MakeSim) -> None:
    """1.6 and 2.0.1 stations are served side by side by the same server."""
    api, session = await make_api(csms)
    try:
        sims = [make_sim(csms, f"MIX{i}", VERSIONS[i % 2]) for i in range(6)]
        await asyncio.gather(*(s.connect() for s in sims))
        boots = await asyncio.gather(*(s.boot() for s in sims))
        assert all(b["status"] == "Accepted" for b in boots)
        _, page = await api.get("/api/v1/charge-points", limit=100)
        versions = {cp["charge_point_id"]: cp["ocpp_version"] for cp in page["items"]}
        assert versions == {f"MIX{i}": VERSIONS[i % 2] for i in range(6)}
    finally:
        await session.close()


async def test_api_shows_the_live_ocpp_version(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """A station booted on 1.6 that reconnects over 2.0.1 without a new boot is shown as 2.0.1."""
    first = make_sim(csms, "SWITCH", "1.6")
    await first.connect()
    await first.boot()
    await first.close()
    second = make_sim(csms, "SWITCH", "2.0.1")
    await second.connect()
    _, cp = await api.get("/api/v1/charge-points/SWITCH")
    assert cp["ocpp_version"] == "2.0.1" and cp["connected"] is True
