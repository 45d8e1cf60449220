"""ChargePointSimulator against a fake CSMS over real websockets: handshake, frames per version, offline
queueing, answers to CSMS calls, strict schema checks, raw frames."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
import pytest
from websockets.exceptions import InvalidStatus

from simulators.chargepoint import (
    CallError,
    NotConnectedError,
    SchemaViolationError,
    SubprotocolRefused,
    parse_version,
)
from tests.simulators.conftest import MakeSim
from tests.simulators.fake_csms import NOW_TEXT, FakeCsms
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]


def has_null(value: Any) -> bool:
    """True if a JSON value contains null anywhere."""
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(has_null(v) for v in value)
    return False


def sampled(payload: dict[str, Any], index: int = 0) -> dict[tuple[str, str | None], dict[str, Any]]:
    """The sampled values of meterValue[index], keyed by (measurand, phase)."""
    return {(v["measurand"], v.get("phase")): v for v in payload["meterValue"][index]["sampledValue"]}


# ---------------------------------------------------------------------- handshake


def test_parse_version_accepts_both_spellings() -> None:
    """Versions are given as "1.6"/"2.0.1" or as subprotocol names; anything else is refused."""
    assert parse_version("1.6") is parse_version("ocpp1.6")
    assert parse_version("2.0.1").value == "ocpp2.0.1"
    with pytest.raises(ValueError):
        parse_version("2.1")


@pytest.mark.parametrize("version", VERSIONS)
async def test_offers_only_its_own_subprotocol(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """The handshake offers exactly the configured version's subprotocol and records the server's choice."""
    sim = make_sim(version)
    await sim.connect()
    assert csms.requests[-1].headers.get_all("Sec-WebSocket-Protocol") == [f"ocpp{version}"]
    assert sim.subprotocol == f"ocpp{version}" and sim.connected and sim.handshake_status == 101


async def test_basic_auth_header_and_percent_encoded_id(csms: FakeCsms, make_sim: MakeSim) -> None:
    """With a password the upgrade carries HTTP Basic auth for the charge point id, percent-encoded in the
    path."""
    sim = make_sim(charge_point_id="CP 1/a", password="s3cret-passw0rd!")
    await sim.connect()
    request = csms.requests[-1]
    assert request.path == "/ocpp/CP%201%2Fa"
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"CP 1/a:s3cret-passw0rd!").decode()
    )


async def test_no_authorization_header_without_password(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Without a password no Authorization header is sent."""
    await make_sim().connect()
    assert "Authorization" not in csms.requests[-1].headers


async def test_refused_handshake_keeps_http_status(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A refused upgrade raises InvalidStatus and leaves the HTTP status in handshake_status."""
    csms.refuse_status = 401
    sim = make_sim()
    with pytest.raises(InvalidStatus) as info:
        await sim.connect()
    assert info.value.response.status_code == 401
    assert sim.handshake_status == 401 and not sim.connected


async def test_handshake_without_subprotocol_is_refused(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A server that selects no subprotocol gets SubprotocolRefused and the socket is closed."""
    csms.accept_subprotocol = False
    sim = make_sim()
    with pytest.raises(SubprotocolRefused):
        await sim.connect()
    assert not sim.connected


# ---------------------------------------------------------------------- station → CSMS frames


async def test_v16_transaction_frames(csms: FakeCsms, make_sim: MakeSim) -> None:
    """1.6 boot, authorize, start, meter values and stop carry the 1.6 fields, meter values as strings."""
    sim = make_sim("1.6", serial_number="SN-9", power_w=7200, meter_interval=60)
    await sim.connect()
    boot = await sim.boot()
    assert boot["status"] == "Accepted" and sim.boot_status == "Accepted"
    await sim.plug_in(1)
    assert await sim.authorize("TAG1") == {"status": "Accepted"}
    tx_id = await sim.start_transaction(1, "TAG1", meter_start_wh=1000)
    assert tx_id == "1001" and sim.transactions == {1: "1001"}
    await sim.send_meter_values(1)
    await sim.send_meter_values(1, energy_wh=2500, unit="kWh")
    await sim.stop_transaction(1, meter_stop_wh=3000)
    await sim.unplug(1)

    assert csms.actions() == [
        "BootNotification", "StatusNotification", "Authorize", "StartTransaction", "StatusNotification",
        "MeterValues", "MeterValues", "StopTransaction", "StatusNotification", "StatusNotification",
    ]  # fmt: skip
    assert csms.calls("BootNotification") == [
        {"chargePointVendor": "CsmsSim", "chargePointModel": "Sim-1", "firmwareVersion": "1.0.0",
         "chargePointSerialNumber": "SN-9"}
    ]  # fmt: skip
    assert [s["status"] for s in csms.calls("StatusNotification")] == [
        "Preparing",
        "Charging",
        "Finishing",
        "Available",
    ]
    assert csms.calls("StatusNotification")[0] == {
        "connectorId": 1, "errorCode": "NoError", "status": "Preparing", "timestamp": NOW_TEXT
    }  # fmt: skip
    assert csms.calls("Authorize") == [{"idTag": "TAG1"}]
    assert csms.calls("StartTransaction") == [
        {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": NOW_TEXT}
    ]

    periodic, set_in_kwh = csms.calls("MeterValues")
    assert periodic["connectorId"] == 1 and periodic["transactionId"] == 1001
    values = sampled(periodic)
    # 7200 W for one 60 s interval: +120 Wh.
    assert values[("Energy.Active.Import.Register", None)]["value"] == "1120"
    assert values[("Energy.Active.Import.Register", None)]["unit"] == "Wh"
    assert values[("Power.Active.Import", None)]["value"] == "7200"
    assert {phase for measurand, phase in values if measurand == "Voltage"} == {"L1-N", "L2-N", "L3-N"}
    assert all(isinstance(v["value"], str) for v in values.values())
    energy = sampled(set_in_kwh)[("Energy.Active.Import.Register", None)]
    assert energy["value"] == "2.500" and energy["unit"] == "kWh"

    stop = csms.calls("StopTransaction")[0]
    assert stop["transactionId"] == 1001 and stop["meterStop"] == 3000 and stop["idTag"] == "TAG1"
    assert stop["reason"] == "Local" and stop["timestamp"] == NOW_TEXT
    begin, end = stop["transactionData"]
    assert (
        begin["sampledValue"][0]["value"] == "1000"
        and begin["sampledValue"][0]["context"] == "Transaction.Begin"
    )
    assert (
        end["sampledValue"][0]["value"] == "3000" and end["sampledValue"][0]["context"] == "Transaction.End"
    )
    assert sim.transactions == {} and sim.meter_wh[1] == 3000
    assert [a for a, _ in sim.sent_calls] == csms.actions()


async def test_v201_transaction_frames(csms: FakeCsms, make_sim: MakeSim) -> None:
    """2.0.1 events count seqNo 0,1,2, use numbers, idToken type ISO14443, evse on Started, and never send
    null."""
    sim = make_sim("2.0.1", serial_number="SN-9", power_w=7200, meter_interval=60)
    await sim.connect()
    await sim.boot()
    await sim.plug_in(1)
    assert await sim.authorize("TOK") == {"status": "Accepted"}
    tx_id = await sim.start_transaction(1, "TOK", meter_start_wh=1000)
    await sim.send_meter_values(1, energy_wh=2500, unit="kWh")
    await sim.stop_transaction(1, meter_stop_wh=3000)

    assert csms.calls("BootNotification") == [
        {"chargingStation": {"model": "Sim-1", "vendorName": "CsmsSim", "firmwareVersion": "1.0.0",
                             "serialNumber": "SN-9"}, "reason": "PowerUp"}
    ]  # fmt: skip
    assert csms.calls("Authorize") == [{"idToken": {"idToken": "TOK", "type": "ISO14443"}}]
    assert csms.calls("StatusNotification") == [
        {"timestamp": NOW_TEXT, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        {"timestamp": NOW_TEXT, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    ]
    started, updated, ended = csms.calls("TransactionEvent")
    assert [(e["eventType"], e["seqNo"]) for e in (started, updated, ended)] == [
        ("Started", 0), ("Updated", 1), ("Ended", 2)
    ]  # fmt: skip
    assert {e["transactionInfo"]["transactionId"] for e in (started, updated, ended)} == {tx_id}
    assert str(uuid.UUID(tx_id)) == tx_id

    assert started["triggerReason"] == "Authorized" and started["timestamp"] == NOW_TEXT
    assert started["idToken"] == {"idToken": "TOK", "type": "ISO14443"}
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["meterValue"][0]["sampledValue"] == [
        {"value": 1000, "context": "Transaction.Begin", "measurand": "Energy.Active.Import.Register",
         "location": "Outlet"}
    ]  # fmt: skip

    assert updated["triggerReason"] == "MeterValuePeriodic"
    values = sampled(updated)
    energy = values[("Energy.Active.Import.Register", None)]
    assert energy["value"] == 2.5 and energy["unitOfMeasure"] == {"unit": "kWh"}
    assert values[("Power.Active.Import", None)]["value"] == 7200
    assert all(isinstance(v["value"], int | float) for v in values.values())

    assert ended["triggerReason"] == "StopAuthorized"
    assert ended["transactionInfo"]["stoppedReason"] == "Local"
    assert ended["meterValue"][0]["sampledValue"][0]["value"] == 3000
    assert not any("offline" in e for e in (started, updated, ended))
    assert not any(has_null(p) for p in csms.calls())


@pytest.mark.parametrize(
    ("reason", "trigger", "stopped"),
    [("EVDisconnected", "EVDeparted", "EVDisconnected"), ("Remote", "RemoteStop", "Remote"),
     ("HardReset", "ResetCommand", "ImmediateReset")],
)  # fmt: skip
async def test_v201_stop_reason_sets_trigger(
    csms: FakeCsms, make_sim: MakeSim, reason: str, trigger: str, stopped: str
) -> None:
    """The stop reason picks the Ended triggerReason and is translated into a 2.0.1 stoppedReason."""
    sim = make_sim("2.0.1")
    await sim.connect()
    await sim.start_transaction(1, "TOK")
    await sim.stop_transaction(1, reason=reason)
    ended = csms.calls("TransactionEvent")[-1]
    assert ended["triggerReason"] == trigger and ended["transactionInfo"]["stoppedReason"] == stopped


async def test_v16_stop_reason_in_201_words_is_translated(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A 2.0.1-only stop reason is sent as its 1.6 counterpart."""
    sim = make_sim("1.6")
    await sim.connect()
    await sim.start_transaction(1, "TAG")
    await sim.stop_transaction(1, reason="ImmediateReset")
    assert csms.calls("StopTransaction")[0]["reason"] == "HardReset"


# ---------------------------------------------------------------------- offline


async def test_v16_offline_messages_are_queued_in_order(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Offline Start/MeterValues/Stop are sent in order after reconnecting, with the id assigned to the
    queued start."""
    sim = make_sim("1.6")
    await sim.connect()
    await sim.boot()
    await sim.plug_in(1)
    await sim.go_offline()
    assert not sim.connected and sim.offline
    placeholder = await sim.start_transaction(1, "TAG", meter_start_wh=0)
    assert placeholder.startswith("offline-")
    await sim.send_meter_values(1, energy_wh=500)
    assert await sim.stop_transaction(1, meter_stop_wh=900) == {}
    with pytest.raises(NotConnectedError):
        await sim.heartbeat()
    sent_before = len(csms.actions())

    await sim.come_back()
    assert not sim.offline and sim.connected
    assert csms.actions()[sent_before:] == [
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
        "StatusNotification",
    ]
    assert csms.calls("MeterValues")[0]["transactionId"] == 1001
    assert csms.calls("StopTransaction")[0]["transactionId"] == 1001
    assert csms.calls("StatusNotification")[-1]["status"] == "Finishing"
    assert sim.transactions == {}


async def test_v16_transaction_started_offline_learns_its_id(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A transaction started offline and still running gets the CSMS's id in `transactions` after
    reconnecting."""
    sim = make_sim("1.6")
    await sim.connect()
    await sim.go_offline(abrupt=True)
    await sim.start_transaction(1, "TAG")
    await sim.come_back()
    assert sim.transactions == {1: "1001"}
    await sim.send_meter_values(1)
    assert csms.calls("MeterValues")[0]["transactionId"] == 1001


async def test_v201_offline_events_are_flagged(csms: FakeCsms, make_sim: MakeSim) -> None:
    """2.0.1 events generated offline carry offline=true, keep counting seqNo, and arrive in order after
    reconnecting."""
    sim = make_sim("2.0.1")
    await sim.connect()
    await sim.boot()
    await sim.start_transaction(1, "TOK")
    await sim.go_offline(abrupt=True)
    await sim.send_meter_values(1)
    await sim.stop_transaction(1, reason="EVDisconnected")
    assert len(csms.calls("TransactionEvent")) == 1
    await sim.come_back()
    events = csms.calls("TransactionEvent")
    assert [(e["eventType"], e["seqNo"], e.get("offline")) for e in events] == [
        ("Started", 0, None), ("Updated", 1, True), ("Ended", 2, True)
    ]  # fmt: skip
    assert events[2]["triggerReason"] == "EVDeparted"
    assert events[2]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert csms.calls("StatusNotification")[-1]["connectorStatus"] == "Available"


# ---------------------------------------------------------------------- CSMS → station


async def test_v16_remote_start_and_stop(csms: FakeCsms, make_sim: MakeSim) -> None:
    """RemoteStart is answered Accepted before the station plugs in and starts; busy connectors and unknown
    ids are Rejected."""
    sim = make_sim("1.6")
    await sim.connect()
    await sim.boot()
    reply = await csms.call("RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1})
    assert reply[0] == 3 and reply[2] == {"status": "Accepted"}
    start = (await csms.wait_calls("StartTransaction"))[0]
    assert start["idTag"] == "REMOTE" and start["connectorId"] == 1
    await sim.settle(2000 * MS)
    assert sim.transactions == {1: "1001"}
    assert sim.calls_received == [("RemoteStartTransaction", {"idTag": "REMOTE", "connectorId": 1})]
    # The answer left before the follow-up's first message.
    answer_at = next(i for i, f in enumerate(csms.frames) if f[0] == 3)
    preparing_at = next(i for i, f in enumerate(csms.frames) if f[0] == 2 and f[2] == "StatusNotification")
    assert answer_at < preparing_at

    reply = await csms.call("RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1})
    assert reply[2] == {"status": "Rejected"}
    reply = await csms.call("RemoteStopTransaction", {"transactionId": 999})
    assert reply[2] == {"status": "Rejected"}
    reply = await csms.call("RemoteStopTransaction", {"transactionId": 1001})
    assert reply[2] == {"status": "Accepted"}
    stop = (await csms.wait_calls("StopTransaction"))[0]
    assert stop["transactionId"] == 1001 and stop["reason"] == "Remote"
    await sim.settle(2000 * MS)
    assert sim.transactions == {} and sim.errors == []


async def test_v201_request_start_and_stop(csms: FakeCsms, make_sim: MakeSim) -> None:
    """RequestStartTransaction starts with triggerReason RemoteStart and the remoteStartId; RequestStop
    ends it."""
    sim = make_sim("2.0.1")
    await sim.connect()
    await sim.boot()
    request = {"idToken": {"idToken": "APP", "type": "Central"}, "remoteStartId": 77, "evseId": 1}
    reply = await csms.call("RequestStartTransaction", request)
    assert reply[2] == {"status": "Accepted"}
    started = (await csms.wait_calls("TransactionEvent"))[0]
    assert started["triggerReason"] == "RemoteStart"
    assert started["transactionInfo"]["remoteStartId"] == 77
    assert started["idToken"] == {"idToken": "APP", "type": "Central"}
    await sim.settle(2000 * MS)
    tx_id = started["transactionInfo"]["transactionId"]
    assert sim.transactions == {1: tx_id}

    reply = await csms.call("RequestStopTransaction", {"transactionId": tx_id})
    assert reply[2] == {"status": "Accepted"}
    ended = (await csms.wait_calls("TransactionEvent", 2))[1]
    assert ended["eventType"] == "Ended" and ended["triggerReason"] == "RemoteStop"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote" and ended["seqNo"] == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_unknown_action_is_answered_not_implemented(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A CALL the simulator does not implement is answered with CALLERROR NotImplemented."""
    sim = make_sim(version)
    await sim.connect()
    reply = await csms.call("FrobnicateWidget", {})
    assert reply[0] == 4 and reply[2] == "NotImplemented"
    assert sim.calls_received == [("FrobnicateWidget", {})]


async def test_configured_answer_overrides_status(csms: FakeCsms, make_sim: MakeSim) -> None:
    """`answers` replaces the simulator's own status, and the overridden request is not acted upon."""
    sim = make_sim("1.6", answers={"RemoteStartTransaction": "Rejected"})
    await sim.connect()
    reply = await csms.call("RemoteStartTransaction", {"idTag": "REMOTE"})
    assert reply[2] == {"status": "Rejected"}
    await sim.settle(1000 * MS)
    assert sim.transactions == {} and "StatusNotification" not in csms.actions()


async def test_v16_configuration_keys(csms: FakeCsms, make_sim: MakeSim) -> None:
    """ChangeConfiguration updates known keys only; GetConfiguration hides AuthorizationKey; a new key
    reconnects."""
    sim = make_sim("1.6", password="old-password-0001")
    await sim.connect()
    await sim.boot()
    changes = [("HeartbeatInterval", "120", "Accepted"), ("HeartbeatInterval", "soon", "Rejected"),
               ("NumberOfConnectors", "4", "Rejected"), ("NoSuchKey", "1", "NotSupported")]  # fmt: skip
    for key, value, expected in changes:
        reply = await csms.call("ChangeConfiguration", {"key": key, "value": value})
        assert reply[2] == {"status": expected}, key
    reply = await csms.call("GetConfiguration", {"key": ["HeartbeatInterval", "AuthorizationKey", "Nope"]})
    assert reply[2] == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "120"},
                             {"key": "AuthorizationKey", "readonly": False}],
        "unknownKey": ["Nope"],
    }  # fmt: skip
    everything = (await csms.call("GetConfiguration", {}))[2]["configurationKey"]
    assert "AuthorizationKey" not in {entry["key"] for entry in everything}

    reply = await csms.call(
        "ChangeConfiguration", {"key": "AuthorizationKey", "value": "0123456789abcdef0123"}
    )
    assert reply[2] == {"status": "Accepted"}
    await csms.wait_until(lambda: len(csms.requests) == 2)
    expected_auth = "Basic " + base64.b64encode(b"CP1:0123456789abcdef0123").decode()
    assert csms.requests[-1].headers["Authorization"] == expected_auth
    await sim.settle(2000 * MS)
    assert sim.connected and sim.errors == []


async def test_v201_get_and_set_variables(csms: FakeCsms, make_sim: MakeSim) -> None:
    """SetVariables changes known writable variables and reports the others; GetVariables never reveals the
    password."""
    sim = make_sim("2.0.1", password="old-password-0001")
    await sim.connect()

    def item(component: str, variable: str, value: str) -> dict[str, Any]:
        return {"component": {"name": component}, "variable": {"name": variable}, "attributeValue": value}

    reply = await csms.call("SetVariables", {"setVariableData": [
        item("OCPPCommCtrlr", "HeartbeatInterval", "90"), item("OCPPCommCtrlr", "Nope", "1"),
        item("Nope", "X", "1"), item("SecurityCtrlr", "Identity", "X"),
    ]})  # fmt: skip
    statuses = [r["attributeStatus"] for r in reply[2]["setVariableResult"]]
    assert statuses == ["Accepted", "UnknownVariable", "UnknownComponent", "Rejected"]
    reply = await csms.call("GetVariables", {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}},
    ]})  # fmt: skip
    heartbeat, password = reply[2]["getVariableResult"]
    assert heartbeat["attributeStatus"] == "Accepted" and heartbeat["attributeValue"] == "90"
    assert password["attributeStatus"] == "Rejected" and "attributeValue" not in password


async def test_v16_reservation_is_used_by_the_next_start(csms: FakeCsms, make_sim: MakeSim) -> None:
    """ReserveNow is accepted on an Available connector and refused on a busy one; the reserved tag's start
    uses it."""
    sim = make_sim("1.6", connectors=2)
    await sim.connect()
    await sim.boot()
    reserve = {"connectorId": 1, "expiryDate": "2025-01-02T04:00:00Z", "idTag": "RES", "reservationId": 5}
    reply = await csms.call("ReserveNow", reserve)
    assert reply[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert csms.calls("StatusNotification")[-1] == {
        "connectorId": 1, "errorCode": "NoError", "status": "Reserved", "timestamp": NOW_TEXT
    }  # fmt: skip
    await sim.plug_in(2)
    reply = await csms.call("ReserveNow", {**reserve, "connectorId": 2, "reservationId": 6})
    assert reply[2] == {"status": "Occupied"}
    reply = await csms.call("CancelReservation", {"reservationId": 99})
    assert reply[2] == {"status": "Rejected"}

    await sim.start_transaction(1, "RES")
    assert csms.calls("StartTransaction")[0]["reservationId"] == 5
    assert sim.reservations == {}


async def test_v16_cancel_reservation_frees_the_connector(csms: FakeCsms, make_sim: MakeSim) -> None:
    """CancelReservation of a known reservation is Accepted and the connector reports Available again."""
    sim = make_sim("1.6")
    await sim.connect()
    reserve = {"connectorId": 1, "expiryDate": "2025-01-02T04:00:00Z", "idTag": "RES", "reservationId": 5}
    await csms.call("ReserveNow", reserve)
    reply = await csms.call("CancelReservation", {"reservationId": 5})
    assert reply[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert [s["status"] for s in csms.calls("StatusNotification")] == ["Reserved", "Available"]


async def test_v201_reservation_expiry_is_reported(csms: FakeCsms, make_sim: MakeSim) -> None:
    """An unused 2.0.1 reservation expires with ReservationStatusUpdate Expired and the EVSE becomes
    Available."""
    sim = make_sim("2.0.1")
    await sim.connect()
    # The simulator's clock is fixed at 03:04:05.678; this expires 100 ms later.
    reserve = {"id": 3, "expiryDateTime": "2025-01-02T03:04:05.778Z",
               "idToken": {"idToken": "R", "type": "Central"}, "evseId": 1}  # fmt: skip
    reply = await csms.call("ReserveNow", reserve)
    assert reply[2] == {"status": "Accepted"}
    update = (await csms.wait_calls("ReservationStatusUpdate"))[0]
    assert update == {"reservationId": 3, "reservationUpdateStatus": "Expired"}
    await sim.settle(1000 * MS)
    assert [s["connectorStatus"] for s in csms.calls("StatusNotification")] == ["Reserved", "Available"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_trigger_message_sends_the_requested_message(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """TriggerMessage is answered Accepted and followed by the requested message."""
    sim = make_sim(version, connectors=2)
    await sim.connect()
    for requested, expected in [("StatusNotification", 2), ("Heartbeat", 1), ("MeterValues", 2)]:
        reply = await csms.call("TriggerMessage", {"requestedMessage": requested})
        assert reply[2] == {"status": "Accepted"}
        await csms.wait_calls(requested, expected)
    meter = csms.calls("MeterValues")[0]
    assert sampled(meter)[("Energy.Active.Import.Register", None)]["context"] == "Trigger"


async def test_v201_trigger_of_unsupported_message_is_not_implemented(
    csms: FakeCsms, make_sim: MakeSim
) -> None:
    """A trigger for a message the simulator cannot send is answered NotImplemented."""
    sim = make_sim("2.0.1")
    await sim.connect()
    reply = await csms.call("TriggerMessage", {"requestedMessage": "PublishFirmwareStatusNotification"})
    assert reply[2] == {"status": "NotImplemented"}


@pytest.mark.parametrize(("version", "reset"), [("1.6", {"type": "Soft"}), ("2.0.1", {"type": "Immediate"})])
async def test_reset_reconnects_and_boots_again(
    csms: FakeCsms, make_sim: MakeSim, version: str, reset: dict[str, Any]
) -> None:
    """An accepted Reset stops the running transaction, reconnects and sends BootNotification again."""
    sim = make_sim(version)
    await sim.connect()
    await sim.boot()
    await sim.start_transaction(1, "TOK")
    reply = await csms.call("Reset", reset)
    assert reply[2] == {"status": "Accepted"}
    boots = await csms.wait_calls("BootNotification", 2)
    await sim.settle(2000 * MS)
    assert len(csms.connections) == 2 and sim.connected and sim.transactions == {}
    if version == "1.6":
        assert csms.calls("StopTransaction")[0]["reason"] == "SoftReset"
    else:
        assert boots[1]["reason"] == "RemoteReset"
        ended = csms.calls("TransactionEvent")[-1]
        assert ended["triggerReason"] == "ResetCommand"
        assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"


async def test_v201_on_idle_reset_waits_for_the_transaction(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Reset OnIdle during a transaction is Scheduled and happens once the transaction has ended."""
    sim = make_sim("2.0.1")
    await sim.connect()
    await sim.boot()
    await sim.start_transaction(1, "TOK")
    reply = await csms.call("Reset", {"type": "OnIdle"})
    assert reply[2] == {"status": "Scheduled"}
    await sim.stop_transaction(1)
    await csms.wait_calls("BootNotification", 2)
    await sim.settle(2000 * MS)
    assert len(csms.connections) == 2


async def test_v16_change_availability(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Inoperative makes idle connectors Unavailable at once and busy ones after their transaction;
    Operative undoes it."""
    sim = make_sim("1.6", connectors=2)
    await sim.connect()
    await sim.start_transaction(2, "TOK")
    reply = await csms.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert reply[2] == {"status": "Scheduled"}
    await sim.settle(1000 * MS)
    assert sim.connector_status == {1: "Unavailable", 2: "Charging"}
    await sim.stop_transaction(2)
    assert sim.connector_status == {1: "Unavailable", 2: "Unavailable"}
    reply = await csms.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    assert reply[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert sim.connector_status[1] == "Available"


@pytest.mark.parametrize("version", VERSIONS)
async def test_simple_requests_get_fixed_answers(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """DataTransfer is UnknownVendorId, ClearCache Accepted, UnlockConnector Unlocked on an idle connector."""
    sim = make_sim(version)
    await sim.connect()
    assert (await csms.call("DataTransfer", {"vendorId": "acme"}))[2] == {"status": "UnknownVendorId"}
    assert (await csms.call("ClearCache", {}))[2] == {"status": "Accepted"}
    unlock = {"connectorId": 1} if version == "1.6" else {"evseId": 1, "connectorId": 1}
    assert (await csms.call("UnlockConnector", unlock))[2] == {"status": "Unlocked"}


# ---------------------------------------------------------------------- errors and strictness


@pytest.mark.parametrize("version", VERSIONS)
async def test_strict_mode_catches_schema_breaking_response(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A CSMS answer that breaks the official schema raises SchemaViolationError and is recorded."""
    csms.responses["BootNotification"] = {"status": "Accepted", "interval": 300}  # currentTime missing
    sim = make_sim(version)
    await sim.connect()
    with pytest.raises(SchemaViolationError) as info:
        await sim.boot()
    assert info.value.direction == "received" and info.value.action == "BootNotification"
    assert "currentTime" in info.value.description
    assert sim.violations == [info.value]


async def test_lenient_mode_returns_schema_breaking_response(csms: FakeCsms, make_sim: MakeSim) -> None:
    """With strict=False the same answer is returned as it came."""
    csms.responses["BootNotification"] = {"status": "Accepted", "interval": 300}
    sim = make_sim("1.6", strict=False)
    await sim.connect()
    assert await sim.boot() == {"status": "Accepted", "interval": 300}
    assert sim.violations == []


async def test_strict_mode_does_not_send_a_schema_breaking_request(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A request of ours that breaks the schema raises before anything is sent."""
    sim = make_sim("1.6")
    await sim.connect()
    with pytest.raises(SchemaViolationError) as info:
        await sim.call("Heartbeat", {"extra": 1})
    assert info.value.direction == "sent"
    assert await sim.heartbeat() == {"currentTime": NOW_TEXT}
    assert csms.calls() == [{}]


async def test_strict_mode_refuses_schema_breaking_csms_request(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A CSMS request that breaks the schema gets the matching CALLERROR and is recorded as a violation."""
    sim = make_sim("1.6")
    await sim.connect()
    reply = await csms.call("RemoteStartTransaction", {"connectorId": 1})
    assert reply[0] == 4 and reply[2] == "OccurenceConstraintViolation"
    assert sim.violations[0].direction == "received" and sim.violations[0].action == "RemoteStartTransaction"


async def test_call_error_raises_call_error(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A CALLERROR answer raises CallError carrying the code and description."""
    csms.errors["Heartbeat"] = ("SecurityError", "boot first")
    sim = make_sim("2.0.1")
    await sim.connect()
    with pytest.raises(CallError) as info:
        await sim.heartbeat()
    assert info.value.error_code == "SecurityError" and info.value.description == "boot first"


async def test_unanswered_call_times_out_and_the_next_call_works(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A CALL without answer raises TimeoutError after call_timeout and the next CALL goes through."""
    sim = make_sim("1.6", call_timeout=100 * MS)
    await sim.connect()
    csms.silent.add("Heartbeat")
    with pytest.raises(TimeoutError):
        await sim.heartbeat()
    csms.silent.clear()
    assert await sim.heartbeat() == {"currentTime": NOW_TEXT}


async def test_cancelled_call_does_not_block_the_next_one(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Cancelling a caller mid-CALL leaves the connection usable once the abandoned CALL is answered or
    expires."""
    sim = make_sim("1.6", call_timeout=200 * MS)
    await sim.connect()
    csms.silent.add("Heartbeat")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sim.heartbeat(), 20 * MS)
    csms.silent.clear()
    assert await sim.heartbeat() == {"currentTime": NOW_TEXT}


async def test_raw_frames_bypass_the_framing_core(csms: FakeCsms, make_sim: MakeSim) -> None:
    """send_raw sends text as is and the CSMS reply to it comes out of receive_raw instead of being
    swallowed."""
    sim = make_sim("1.6")
    await sim.connect()
    await sim.send_raw('[2,"raw-1","Heartbeat",{}]')
    assert orjson.loads(await sim.receive_raw(1000 * MS)) == [3, "raw-1", {"currentTime": NOW_TEXT}]
    assert csms.frames[-1] == [2, "raw-1", "Heartbeat", {}]
    with pytest.raises(TimeoutError):
        await sim.receive_raw(20 * MS)

    sim.raw_mode = True
    await csms.send_text('[2,"x","Reset",{"type":"Soft"}]')
    assert orjson.loads(await sim.receive_raw(1000 * MS)) == [2, "x", "Reset", {"type": "Soft"}]
    assert sim.calls_received == []


async def test_receive_raw_reports_a_closed_connection(csms: FakeCsms, make_sim: MakeSim) -> None:
    """When the CSMS closes the socket, receive_raw raises NotConnectedError and close_code tells why."""
    sim = make_sim("1.6")
    await sim.connect()
    await csms.connections[-1].close(1008, "go away")
    with pytest.raises(NotConnectedError):
        await sim.receive_raw(1000 * MS)
    assert sim.close_code == 1008 and sim.close_reason == "go away" and not sim.connected
    with pytest.raises(NotConnectedError):
        await sim.heartbeat()
