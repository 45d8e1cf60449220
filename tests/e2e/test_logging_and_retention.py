"""Structured logs carry the charge point id; the frame log is bounded by its retention setting."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import structlog
from structlog.testing import capture_logs

from csms.app import Csms
from csms.config import LogConfig
from csms.domain.models import Direction, FrameRecord
from csms.logging import configure_logging
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, ocpp_url


async def test_every_ocpp_event_has_the_charge_point_id_bound(csms: Csms) -> None:
    """Connection, boot, refusal and disconnection events all name the charge point and OCPP version."""
    with capture_logs() as events:
        sim = ChargePointSimulator(SimulatorConfig("LOGCP", url=ocpp_url(csms), ocpp_version="2.0.1"))
        await sim.connect()
        await sim.boot()
        await sim.send_raw('[2,"x","MakeCoffee",{}]')
        await sim.receive_raw(2.0)
        await sim.close()
        await csms.services.writer.sync()
    ocpp_events = [
        e for e in events if e["event"] in ("connected", "boot_notification", "call_rejected", "disconnected")
    ]
    assert {e["event"] for e in ocpp_events} == {
        "connected",
        "boot_notification",
        "call_rejected",
        "disconnected",
    }
    assert all(e["charge_point_id"] == "LOGCP" and e["ocpp_version"] == "ocpp2.0.1" for e in ocpp_events)


def test_json_format_writes_one_object_per_line() -> None:
    """With format json every event is one JSON line with a UTC timestamp and its bound fields."""
    buffer = io.StringIO()
    try:
        import sys

        real, sys.stderr = sys.stderr, buffer
        try:
            configure_logging(LogConfig(level="info", format="json"))
            structlog.get_logger("t").bind(charge_point_id="CP1").info("connected", ocpp_version="ocpp1.6")
            structlog.get_logger("t").debug("hidden_at_info")
        finally:
            sys.stderr = real
    finally:
        structlog.reset_defaults()
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "connected" and event["charge_point_id"] == "CP1" and event["level"] == "info"
    assert event["timestamp"].endswith("Z")


async def test_old_frames_are_purged_by_retention(csms: Csms, api: Api) -> None:
    """Frames older than the retention period are deleted; newer ones stay readable."""
    sim = ChargePointSimulator(SimulatorConfig("RETAIN", url=ocpp_url(csms), ocpp_version="1.6"))
    await sim.connect()
    await sim.boot()
    await sim.close()
    old = csms.services.clock() - timedelta(days=csms.services.config.ocpp.message_log_retention_days + 1)
    csms.services.writer.put(
        FrameRecord("RETAIN", Direction.IN, 2, "ancient", "Heartbeat", '[2,"ancient"]', old)
    )
    await csms.services.writer.sync()
    assert await csms.purge_message_log() == 1
    _, page = await api.get("/api/v1/charge-points/RETAIN/messages")
    ids = {m["message_id"] for m in page["items"]}
    assert "ancient" not in ids and len(ids) >= 1
