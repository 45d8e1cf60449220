"""CALLs from the CSMS to a station: answered, refused with a CALLERROR, or timed out — one at a time."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect

from csms.app import Csms
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import StartCsms, ocpp_url


async def test_call_result_comes_back(csms: Csms) -> None:
    """A CALL to a connected simulator returns its schema-valid CALLRESULT payload."""
    sim = ChargePointSimulator(SimulatorConfig("CALLED", url=ocpp_url(csms), ocpp_version="2.0.1"))
    await sim.connect()
    await sim.boot()
    session = csms.ocpp.session("CALLED")
    assert session is not None
    outcome = await session.call("ClearCache", {})
    assert outcome.payload == {"status": "Accepted"} and not outcome.timed_out
    await sim.close()


async def test_invalid_outgoing_payload_is_never_sent(csms: Csms) -> None:
    """A CALL whose payload breaks the request schema raises before anything reaches the station."""
    sim = ChargePointSimulator(SimulatorConfig("CALLED2", url=ocpp_url(csms), ocpp_version="1.6"))
    await sim.connect()
    await sim.boot()
    session = csms.ocpp.session("CALLED2")
    assert session is not None
    with pytest.raises(ValueError):
        await session.call("Reset", {"type": "Sideways"})
    assert not any(action == "Reset" for action, _ in sim.calls_received)
    await sim.close()


async def test_call_error_and_timeout_are_reported(start_csms: StartCsms) -> None:
    """A station's CALLERROR is returned as an error code; silence becomes a timeout; calls never overlap."""
    csms = await start_csms(call_timeout=0.3)
    async with connect(f"{ocpp_url(csms)}/SILENT", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps(
                [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
            ).decode()
        )
        await ws.recv()
        session = csms.ocpp.session("SILENT")
        assert session is not None
        first = asyncio.create_task(session.call("ClearCache", {}))
        second = asyncio.create_task(session.call("ClearCache", {}))
        frame = orjson.loads(await ws.recv())
        assert frame[0] == 2 and frame[2] == "ClearCache"
        # OCPP-J: the second CALL waits until the first is answered.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.1)
        await ws.send(orjson.dumps([4, frame[1], "NotSupported", "no cache here", {}]).decode())
        outcome = await first
        assert outcome.error_code == "NotSupported" and outcome.description == "no cache here"
        await ws.recv()  # the second CALL, left unanswered
        timed_out = await second
        assert timed_out.timed_out and timed_out.payload is None


async def test_pending_call_completes_when_the_station_disconnects(start_csms: StartCsms) -> None:
    """A CALL waiting for an answer returns `disconnected` as soon as the socket closes, not at timeout."""
    csms = await start_csms(call_timeout=30.0)
    ws = await connect(f"{ocpp_url(csms)}/GONE", subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
    await ws.send(
        orjson.dumps(
            [
                2,
                "b",
                "BootNotification",
                {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
            ]
        ).decode()
    )
    await ws.recv()
    session = csms.ocpp.session("GONE")
    assert session is not None
    pending = asyncio.create_task(session.call("ClearCache", {}))
    await ws.recv()
    await ws.close()
    outcome = await asyncio.wait_for(pending, 5)
    assert outcome.disconnected and outcome.payload is None
