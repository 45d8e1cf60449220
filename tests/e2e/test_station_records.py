"""OCPP-side records an operator needs (issue 10): station events, a station moving from 1.6 to 2.0.1,
closing a stale session, and repeated samples and events stored once; real server, real sockets, raw
frames sent with the simulator's `call`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from csms.app import Csms
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, ocpp_url
from tests.utils import until

MakeSim = Callable[..., ChargePointSimulator]
T0 = "2025-03-01T10:00:00Z"


@pytest.fixture
async def make_sim() -> AsyncIterator[MakeSim]:
    """Create simulators; every one is closed after the test."""
    sims: list[ChargePointSimulator] = []

    def make(csms: Csms, cp_id: str, version: str) -> ChargePointSimulator:
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version)  # type: ignore[arg-type]
        )
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.close()


async def _booted(make_sim: MakeSim, csms: Csms, cp_id: str, version: str) -> ChargePointSimulator:
    sim = make_sim(csms, cp_id, version)
    await sim.connect()
    await sim.boot()
    return sim


def _event(seq_no: int, event_type: str, at: str, *, meter: list[dict[str, Any]] | None = None,
           tx_id: str = "T-1", **info: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": "Authorized" if event_type == "Started" else "EVDeparted",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id, **info},
        "evse": {"id": 1, "connectorId": 1},
    }
    if event_type == "Started":
        payload["idToken"] = {"idToken": "TAG", "type": "ISO14443"}
    if meter is not None:
        payload["meterValue"] = meter
    return payload


def _register(at: str, wh: int, context: str) -> dict[str, Any]:
    return {"timestamp": at, "sampledValue": [{"value": wh, "context": context}]}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_security_events_are_stored_and_listed(
    csms: Csms, api: Api, make_sim: MakeSim, version: str
) -> None:
    """SecurityEventNotification (2.0.1, and 1.6 with the security extension) is answered and listed."""
    sim = await _booted(make_sim, csms, f"SEC-{version}", version)
    assert await sim.call(
        "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": T0, "techInfo": "cold"}
    ) == {}
    status, page = await api.get(f"/api/v1/charge-points/SEC-{version}/events")
    assert status == 200
    [event] = page["items"]
    assert (event["kind"], event["type"], event["timestamp"], event["tech_info"]) == (
        "SecurityEventNotification", "StartupOfTheDevice", "2025-03-01T10:00:00.000Z", "cold"
    )


async def test_notify_events_are_listed_with_filters_and_pages(
    csms: Csms, api: Api, make_sim: MakeSim
) -> None:
    """NotifyEvent data are stored one event each; type, kind, since/until and the cursor filter them."""
    sim = await _booted(make_sim, csms, "EV-1", "2.0.1")
    data = [
        {
            "eventId": n,
            "timestamp": f"2025-03-01T10:0{n}:00Z",
            "trigger": "Delta",
            "actualValue": "Faulted" if n % 2 else "Available",
            "eventNotificationType": "HardWiredNotification" if n < 3 else "CustomMonitor",
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "AvailabilityState"},
            "techCode": f"E{n}",
        }
        for n in range(1, 5)
    ]
    await sim.call("NotifyEvent", {"generatedAt": T0, "seqNo": 0, "eventData": data})
    await sim.call("SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": T0})
    base = "/api/v1/charge-points/EV-1/events"
    _, page = await api.get(base, kind="NotifyEvent")
    assert [e["event_id"] for e in page["items"]] == [4, 3, 2, 1]
    first = page["items"][-1]
    assert (first["component"], first["variable"], first["actual_value"], first["trigger"]) == (
        "Connector", "AvailabilityState", "Faulted", "Delta"
    )
    assert first["cleared"] is False and first["details"]["techCode"] == "E1"
    assert first["details"]["component"]["evse"] == {"id": 1, "connectorId": 1}
    _, page = await api.get(base, type="CustomMonitor")
    assert [e["event_id"] for e in page["items"]] == [4, 3]
    _, page = await api.get(base, since="2025-03-01T10:02:00Z", until="2025-03-01T10:04:00Z")
    assert [e["event_id"] for e in page["items"]] == [3, 2]
    _, page = await api.get(base, limit="3")
    assert [e["event_id"] for e in page["items"]] == [None, 4, 3] and page["next_cursor"] is not None
    _, rest = await api.get(base, limit="3", cursor=page["next_cursor"])
    assert [e["event_id"] for e in rest["items"]] == [2, 1] and rest["next_cursor"] is None
    status, error = await api.get(base, since="yesterday")
    assert status == 400 and error["error"]["details"][0]["field"] == "since"
    status, _ = await api.get("/api/v1/charge-points/NOPE/events")
    assert status == 404


async def test_a_station_moved_from_16_to_201_keeps_ids_apart(
    csms: Csms, api: Api, make_sim: MakeSim
) -> None:
    """A 2.0.1 transaction "N" of a station that was 1.6 is a new transaction, not its 1.6 transaction N;
    both stay in its history."""
    old = await _booted(make_sim, csms, "MOVE", "1.6")
    started = await old.call(
        "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 100, "timestamp": T0}
    )
    legacy_id = str(started["transactionId"])
    await old.close()
    new = await _booted(make_sim, csms, "MOVE", "2.0.1")
    await new.call("TransactionEvent", _event(0, "Started", "2025-03-01T11:00:00Z", tx_id=legacy_id))
    await new.call("TransactionEvent", _event(1, "Ended", "2025-03-01T11:30:00Z", tx_id=legacy_id))
    _, page = await api.get("/api/v1/sessions", charge_point_id="MOVE")
    sessions = {s["started_at"]: s for s in page["items"]}
    assert len(sessions) == 2
    v16, v201 = sessions["2025-03-01T10:00:00.000Z"], sessions["2025-03-01T11:00:00.000Z"]
    assert v16["transaction_id"] == v201["transaction_id"] == legacy_id
    assert v16["id"] != v201["id"]
    assert (v16["status"], v201["status"]) == ("active", "completed")


async def test_a_stale_session_is_closed_by_the_operator(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """A station that went away after Started leaves an active session: closing it is refused while the
    station is connected (unless forced) and, once it is offline, stops it with the reason and the last
    register as its energy; a second close is `session_completed`."""
    sim = await _booted(make_sim, csms, "STALE", "2.0.1")
    begin = [_register(T0, 1000, "Transaction.Begin")]
    await sim.call("TransactionEvent", _event(0, "Started", T0, meter=begin))
    periodic = _event(1, "Updated", "2025-03-01T10:10:00Z",
                      meter=[_register("2025-03-01T10:10:00Z", 4500, "Sample.Periodic")])
    await sim.call("TransactionEvent", periodic)
    _, page = await api.get("/api/v1/sessions", charge_point_id="STALE")
    session_id = page["items"][0]["id"]
    url = f"/api/v1/sessions/{session_id}/close"
    status, error = await api.post(url, {"reason": "StationGone"})
    assert status == 409 and error["error"]["code"] == "charge_point_connected"
    await sim.close()
    await until(lambda: csms.services.registry.find("STALE") is None)
    status, body = await api.post(url, {"reason": "StationGone"})
    assert status == 200
    assert (body["status"], body["stop_reason"], body["energy_wh"]) == ("completed", "StationGone", 3500)
    status, error = await api.post(url, {"reason": "again"})
    assert status == 409 and error["error"]["code"] == "session_completed"
    status, error = await api.post("/api/v1/sessions/999999/close", {"reason": "x"})
    assert status == 404
    status, error = await api.post(url, {"reason": ""})
    assert status == 400


async def test_a_connected_station_session_is_closed_with_force(
    csms: Csms, api: Api, make_sim: MakeSim
) -> None:
    """`force` closes a session of a connected station; its later Ended changes nothing."""
    sim = await _booted(make_sim, csms, "FORCE", "2.0.1")
    begin = [_register(T0, 10, "Transaction.Begin")]
    await sim.call("TransactionEvent", _event(0, "Started", T0, meter=begin))
    _, page = await api.get("/api/v1/sessions", charge_point_id="FORCE")
    session_id = page["items"][0]["id"]
    status, body = await api.post(f"/api/v1/sessions/{session_id}/close", {"reason": "Lost", "force": True})
    assert status == 200 and body["stop_reason"] == "Lost"
    end = [_register("2025-03-01T11:00:00Z", 900, "Transaction.End")]
    await sim.call("TransactionEvent", _event(1, "Ended", "2025-03-01T11:00:00Z", meter=end))
    _, body = await api.get(f"/api/v1/sessions/{session_id}")
    assert (body["stop_reason"], body["energy_wh"], len(body["meter_samples"])) == ("Lost", 0, 1)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_repeated_begin_sample_and_repeated_ended_are_stored_once(
    csms: Csms, api: Api, make_sim: MakeSim, version: str
) -> None:
    """The final message repeating the Transaction.Begin sample stores it once; a retransmitted Ended
    (same seqNo) stores nothing again."""
    sim = await _booted(make_sim, csms, f"REP-{version}", version)
    begin = _register(T0, 1000, "Transaction.Begin")
    end = _register("2025-03-01T11:00:00Z", 5000, "Transaction.End")
    if version == "1.6":
        begin["sampledValue"][0]["value"] = "1000"
        end["sampledValue"][0]["value"] = "5000"
        started = await sim.call(
            "StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 1000, "timestamp": T0}
        )
        tx_id = started["transactionId"]
        await sim.call("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [begin]})
        stop = {"transactionId": tx_id, "meterStop": 5000, "timestamp": "2025-03-01T11:00:00Z",
                "transactionData": [begin, end]}
        final = ("StopTransaction", stop)
    else:
        await sim.call("TransactionEvent", _event(0, "Started", T0, meter=[begin]))
        ended = _event(1, "Ended", "2025-03-01T11:00:00Z", meter=[begin, end], chargingState="Idle")
        final = ("TransactionEvent", ended)
    await sim.call(*final)
    _, page = await api.get("/api/v1/sessions", charge_point_id=f"REP-{version}")
    [session] = page["items"]
    _, body = await api.get(f"/api/v1/sessions/{session['id']}")
    assert [s["value"] for s in body["meter_samples"]] == ["1000", "5000"]
    assert body["energy_wh"] == 4000
    await sim.call(*final)  # retransmitted: the station did not see the answer
    _, again = await api.get(f"/api/v1/sessions/{session['id']}")
    assert again == body
