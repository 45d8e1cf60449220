"""`GET /metrics` of a real CSMS: a simulated station's messages, handshakes admitted and refused, and a
CALL the station leaves unanswered, all visible in the Prometheus text a scraper reads (no API key)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from csms.app import Csms
from csms.domain.models import ChargePoint
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import StartCsms, ocpp_url
from tests.e2e.test_commands import eventually
from tests.prometheus import Scrape


async def scrape(csms: Csms) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{csms.http_port}/metrics") as response,
    ):
        assert response.status == 200
        return Scrape(await response.text())


async def test_station_messages_and_connection_are_exported(csms: Csms) -> None:
    """A 1.6 station boots, sends a Heartbeat and MeterValues: it is counted as connected while online and
    each CALL is counted as answered with its handling time; its frames went through the batched writer."""
    sim = ChargePointSimulator(SimulatorConfig("METRICS-16", url=ocpp_url(csms), ocpp_version="1.6"))
    await sim.connect()
    await sim.boot()
    await sim.heartbeat()
    await sim.send_meter_values(1, energy_wh=1200)
    await csms.writer.sync()
    got = await scrape(csms)
    assert got.value("csms_connected_stations", ocpp_version="1.6") == 1
    assert got.value("csms_connected_stations", ocpp_version="2.0.1") == 0
    for action in ("BootNotification", "Heartbeat", "MeterValues"):
        assert got.value("csms_ocpp_messages_total", action=action, result="CALLRESULT") == 1, action
        assert got.value("csms_ocpp_handler_seconds_count", action=action) == 1, action
    assert got.value("csms_ocpp_handshakes_admitted_total") == 1
    batches = got.value("csms_writer_batch_items_count")
    assert batches is not None and batches >= 1
    assert got.value("csms_writer_pending_items") == 0
    assert got.value("csms_ocpi_outbox_pending") == 0
    await sim.close()

    async def offline() -> bool | None:
        return (await scrape(csms)).value("csms_connected_stations", ocpp_version="1.6") == 0 or None

    await eventually(offline)


async def test_refusals_errors_and_command_timeouts_are_exported(start_csms: StartCsms) -> None:
    """Refused handshakes by reason, CALLERROR answers by code (unknown actions as `other`), and a CSMS CALL
    the station never answers."""
    csms = await start_csms(unknown_charge_points="reject", call_timeout=0.3)
    await csms.services.store.add_charge_point(ChargePoint("KNOWN"))
    base = ocpp_url(csms)
    for path in ("/STRANGER", "/bad%20id"):
        with pytest.raises(InvalidStatus):
            async with connect(base + path, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
                pass
    async with connect(f"{base}/KNOWN", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        for frame in ([2, "h", "Heartbeat", {}], [2, "x", "NoSuchAction", {}]):
            await ws.send(orjson.dumps(frame).decode())
            assert orjson.loads(await ws.recv())[0] == 4
        session = csms.ocpp.session("KNOWN")
        assert session is not None
        outcome = await session.call("ClearCache", {})  # never answered
        assert outcome.timed_out
    got = await scrape(csms)
    assert got.value("csms_ocpp_handshakes_refused_total", reason="unknown_charge_point") == 1
    assert got.value("csms_ocpp_handshakes_refused_total", reason="bad_charge_point_id") == 1
    assert got.value("csms_ocpp_handshakes_admitted_total") == 1
    assert got.value("csms_ocpp_messages_total", action="Heartbeat", result="SecurityError") == 1
    assert got.value("csms_ocpp_messages_total", action="other", result="NotImplemented") == 1
    assert got.value("csms_ocpp_command_timeouts_total", action="ClearCache") == 1
