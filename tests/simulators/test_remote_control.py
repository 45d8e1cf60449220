"""ChargePointSimulator answering the CSMS's remote-control CALLs like hardware, both OCPP versions:
reservations, remote start, availability, device model and configuration, charging profiles, reset,
unlock and trigger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from simulators.chargepoint import ChargePointSimulator, ConnectorReservedError, SimulatorError
from tests.simulators.conftest import NOW, MakeSim
from tests.simulators.fake_csms import FakeCsms
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]
FAR = "2025-01-02T04:00:00Z"  # an hour after the simulators' fixed clock (03:04:05.678)
SOON = "2025-01-02T03:04:05.778Z"  # 100 ms after it


def soon(milliseconds: float) -> str:
    """An expiry `milliseconds` test-milliseconds after the simulators' fixed clock."""
    return (NOW + timedelta(seconds=milliseconds * MS)).isoformat().replace("+00:00", "Z")


def reserve_payload(
    version: str,
    reservation_id: int,
    connector: int | None,
    token: str,
    *,
    expiry: str = FAR,
    parent: str | None = None,
) -> dict[str, Any]:
    """A ReserveNow request; connector None is 1.6 connectorId 0 / 2.0.1 without evseId."""
    if version == "1.6":
        payload: dict[str, Any] = {
            "connectorId": connector or 0,
            "expiryDate": expiry,
            "idTag": token,
            "reservationId": reservation_id,
        }
        if parent is not None:
            payload["parentIdTag"] = parent
        return payload
    payload = {
        "id": reservation_id,
        "expiryDateTime": expiry,
        "idToken": {"idToken": token, "type": "Central"},
    }
    if connector is not None:
        payload["evseId"] = connector
    if parent is not None:
        payload["groupIdToken"] = {"idToken": parent, "type": "Central"}
    return payload


async def reserve(
    csms: FakeCsms, version: str, reservation_id: int, connector: int | None, token: str, **kw: Any
) -> str:
    """Send ReserveNow and return the status the simulator answered."""
    reply = await csms.call("ReserveNow", reserve_payload(version, reservation_id, connector, token, **kw))
    assert reply[0] == 3, reply
    return str(reply[2]["status"])


async def remote_start(csms: FakeCsms, version: str, connector: int | None, token: str) -> str:
    """Send RemoteStartTransaction / RequestStartTransaction and return the answered status."""
    if version == "1.6":
        payload: dict[str, Any] = {"idTag": token}
        if connector is not None:
            payload["connectorId"] = connector
        reply = await csms.call("RemoteStartTransaction", payload)
    else:
        payload = {"idToken": {"idToken": token, "type": "Central"}, "remoteStartId": 7}
        if connector is not None:
            payload["evseId"] = connector
        reply = await csms.call("RequestStartTransaction", payload)
    assert reply[0] == 3, reply
    return str(reply[2]["status"])


async def change_availability(csms: FakeCsms, version: str, connector: int, operative: bool) -> str:
    """Send ChangeAvailability for one connector / EVSE and return the answered status."""
    if version == "1.6":
        payload: dict[str, Any] = {
            "connectorId": connector,
            "type": "Operative" if operative else "Inoperative",
        }
    else:
        payload = {
            "operationalStatus": "Operative" if operative else "Inoperative",
            "evse": {"id": connector},
        }
    reply = await csms.call("ChangeAvailability", payload)
    return str(reply[2]["status"])


def statuses(csms: FakeCsms, connector: int = 1) -> list[str]:
    """The statuses reported for `connector` (1.6 status / 2.0.1 connectorStatus), in order."""
    return [
        str(p["status"] if "status" in p else p["connectorStatus"])
        for p in csms.calls("StatusNotification")
        if p.get("connectorId" if "status" in p else "evseId") == connector
    ]


def start_reservation_id(csms: FakeCsms, version: str) -> Any:
    """The reservationId of the last StartTransaction / TransactionEvent Started (None if absent)."""
    if version == "1.6":
        return csms.calls("StartTransaction")[-1].get("reservationId")
    started = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Started"]
    return started[-1].get("reservationId")


async def booted(make_sim: MakeSim, version: str, **kw: Any) -> ChargePointSimulator:
    """A connected simulator that has sent an accepted BootNotification."""
    sim = make_sim(version, **kw)
    await sim.connect()
    await sim.boot()
    return sim


# ---------------------------------------------------------------------- reservations


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_refuses_other_tokens_and_is_used_by_the_right_one(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A reserved connector reports Reserved, refuses another token's start and starts the reserved token's
    transaction with the reservationId."""
    sim = await booted(make_sim, version)
    assert await reserve(csms, version, 5, 1, "RES") == "Accepted"
    await sim.settle(1000 * MS)
    assert statuses(csms) == ["Reserved"] and sim.connector_status[1] == "Reserved"
    with pytest.raises(ConnectorReservedError) as info:
        await sim.start_transaction(1, "OTHER")
    assert info.value.reservation_id == 5 and info.value.connector == 1
    assert sim.token_parents == {"OTHER": None}  # it authorized the stranger to learn its parent
    assert sim.transactions == {} and 5 in sim.reservations

    await sim.start_transaction(1, "RES")
    assert start_reservation_id(csms, version) == 5
    assert sim.reservations == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_honours_the_reservation(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """A remote start on a reserved connector is Rejected for another token and Accepted for the reserved
    one, whose transaction carries the reservationId."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 8, 1, "RES")
    assert await remote_start(csms, version, 1, "OTHER") == "Rejected"
    assert await remote_start(csms, version, None, "OTHER") == "Rejected"  # the only connector is held
    assert await remote_start(csms, version, 1, "RES") == "Accepted"
    await sim.settle(2000 * MS)
    assert start_reservation_id(csms, version) == 8
    assert sim.reservations == {} and list(sim.transactions) == [1] and sim.errors == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_token_of_the_reserved_group_may_use_the_reservation(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A token whose parent / group (learnt from its Authorize answer) is the reservation's may use it."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 3, 1, "OWNER", parent="FLEET")
    if version == "1.6":
        csms.responses["Authorize"] = {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}
    else:
        group = {"idToken": "FLEET", "type": "Central"}
        csms.responses["Authorize"] = {"idTokenInfo": {"status": "Accepted", "groupIdToken": group}}
    await sim.authorize("DRIVER")
    assert sim.token_parents == {"DRIVER": "FLEET"}
    await sim.start_transaction(1, "DRIVER")
    assert start_reservation_id(csms, version) == 3


async def test_v16_unknown_token_is_authorized_to_learn_its_parent(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Starting with a token the station knows nothing about on a reserved connector first authorizes it."""
    sim = await booted(make_sim, "1.6")
    await reserve(csms, "1.6", 3, 1, "FLEET")
    csms.responses["Authorize"] = {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}
    await sim.start_transaction(1, "CHILD")
    assert csms.calls("Authorize") == [{"idTag": "CHILD"}]
    assert csms.calls("StartTransaction")[0]["reservationId"] == 3


async def test_v201_request_start_with_the_reserved_group_is_accepted(
    csms: FakeCsms, make_sim: MakeSim
) -> None:
    """RequestStartTransaction whose groupIdToken is the reservation's group may use the reservation."""
    sim = await booted(make_sim, "2.0.1")
    await reserve(csms, "2.0.1", 4, 1, "OWNER", parent="FLEET")
    request = {"idToken": {"idToken": "APP", "type": "Central"}, "remoteStartId": 1, "evseId": 1,
               "groupIdToken": {"idToken": "FLEET", "type": "Central"}}  # fmt: skip
    reply = await csms.call("RequestStartTransaction", request)
    assert reply[2] == {"status": "Accepted"}
    await sim.settle(2000 * MS)
    assert start_reservation_id(csms, "2.0.1") == 4


@pytest.mark.parametrize("version", VERSIONS)
async def test_reserve_now_answers_from_the_connector_state(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """ReserveNow is Occupied on a busy, plugged or otherwise reserved connector, Faulted or Unavailable in
    those states, and Rejected for an unknown connector or a past expiry."""
    sim = await booted(make_sim, version, connectors=4)
    await sim.start_transaction(1, "TX")
    await sim.plug_in(2)
    await reserve(csms, version, 30, 3, "OWNER")
    await sim.send_status(4, "Faulted", "GroundFailure")
    assert await reserve(csms, version, 1, 1, "A") == "Occupied"
    assert await reserve(csms, version, 2, 2, "A") == "Occupied"
    assert await reserve(csms, version, 3, 3, "OWNER") == "Occupied"  # same token, other reservation
    assert await reserve(csms, version, 4, 4, "A") == "Faulted"
    assert await reserve(csms, version, 5, 9, "A") == "Rejected"
    assert await reserve(csms, version, 6, 3, "A", expiry="2025-01-01T00:00:00Z") == "Rejected"
    await sim.send_status(4, "Available")
    assert await change_availability(csms, version, 4, operative=False) == "Accepted"
    await sim.settle(1000 * MS)
    assert await reserve(csms, version, 7, 4, "A") == "Unavailable"
    assert list(sim.reservations) == [30]


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservations_disabled_are_rejected(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """With reservation_support off every ReserveNow is Rejected."""
    sim = await booted(make_sim, version, reservation_support=False)
    assert await reserve(csms, version, 1, 1, "A") == "Rejected"
    assert sim.reservations == {} and statuses(csms) == []


async def test_v201_reservation_controller_disabled_rejects(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Setting ReservationCtrlr.Enabled to false makes ReserveNow Rejected."""
    await booted(make_sim, "2.0.1")
    item = {
        "component": {"name": "ReservationCtrlr"},
        "variable": {"name": "Enabled"},
        "attributeValue": "false",
    }
    reply = await csms.call("SetVariables", {"setVariableData": [item]})
    assert reply[2]["setVariableResult"][0]["attributeStatus"] == "Accepted"
    assert await reserve(csms, "2.0.1", 1, 1, "A") == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
async def test_same_reservation_id_replaces_the_old_reservation(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """ReserveNow with a known reservationId moves that reservation: the old connector is Available again."""
    sim = await booted(make_sim, version, connectors=2)
    assert await reserve(csms, version, 5, 1, "A") == "Accepted"
    await sim.settle(1000 * MS)
    assert await reserve(csms, version, 5, 2, "B") == "Accepted"
    await sim.settle(1000 * MS)
    assert statuses(csms, 1) == ["Reserved", "Available"] and statuses(csms, 2) == ["Reserved"]
    assert [(r.reservation_id, r.connector, r.id_token) for r in sim.reservations.values()] == [(5, 2, "B")]


async def test_v16_connector_zero_reservation_keeps_one_connector_free(
    csms: FakeCsms, make_sim: MakeSim
) -> None:
    """A connectorId 0 reservation holds the last free connector: others may charge elsewhere, the reserved
    tag may use any connector."""
    sim = await booted(make_sim, "1.6", connectors=2)
    assert await reserve(csms, "1.6", 9, None, "VIP") == "Accepted"
    await sim.settle(1000 * MS)
    assert statuses(csms, 1) == statuses(csms, 2) == []  # two free connectors, one needed
    assert await reserve(csms, "1.6", 10, None, "VIP2") == "Accepted"
    await sim.settle(1000 * MS)
    assert statuses(csms, 1) == statuses(csms, 2) == ["Reserved"]  # both held now
    assert await reserve(csms, "1.6", 11, None, "VIP3") == "Occupied"
    assert await reserve(csms, "1.6", 12, 1, "VIP3") == "Occupied"
    assert (await csms.call("CancelReservation", {"reservationId": 10}))[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert statuses(csms, 1) == statuses(csms, 2) == ["Reserved", "Available"]

    await sim.plug_in(1)
    await sim.start_transaction(1, "GUEST")
    assert "reservationId" not in csms.calls("StartTransaction")[0]
    assert statuses(csms, 2) == ["Reserved", "Available", "Reserved"]  # the last free connector is held
    with pytest.raises(ConnectorReservedError):
        await sim.start_transaction(2, "GUEST2")
    assert await remote_start(csms, "1.6", 2, "GUEST3") == "Rejected"

    await sim.start_transaction(2, "VIP")
    assert csms.calls("StartTransaction")[-1]["reservationId"] == 9
    assert sim.reservations == {}


async def test_v16_connector_zero_needs_the_feature(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Without ReserveConnectorZeroSupported a connectorId 0 reservation is Rejected."""
    sim = await booted(make_sim, "1.6", reserve_connector_zero=False)
    assert await reserve(csms, "1.6", 1, None, "A") == "Rejected"
    reply = await csms.call("GetConfiguration", {"key": ["ReserveConnectorZeroSupported"]})
    assert reply[2]["configurationKey"] == [
        {"key": "ReserveConnectorZeroSupported", "readonly": True, "value": "false"}
    ]
    assert sim.reservations == {}


async def test_v201_reservation_without_evse(csms: FakeCsms, make_sim: MakeSim) -> None:
    """Without evseId a reservation is Accepted when NonEvseSpecific is on and the single EVSE reports
    Reserved; a foreign connectorType is Rejected."""
    sim = await booted(make_sim, "2.0.1")
    wrong_type = {**reserve_payload("2.0.1", 2, None, "A"), "connectorType": "cCCS1"}
    assert (await csms.call("ReserveNow", wrong_type))[2] == {"status": "Rejected"}
    right_type = {**reserve_payload("2.0.1", 2, None, "A"), "connectorType": "cType2"}
    assert (await csms.call("ReserveNow", right_type))[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert statuses(csms) == ["Reserved"] and sim.reservations[2].connector == 0
    assert await remote_start(csms, "2.0.1", None, "B") == "Rejected"
    await sim.start_transaction(1, "A")
    assert start_reservation_id(csms, "2.0.1") == 2


async def test_v201_reservation_without_evse_needs_the_feature(csms: FakeCsms, make_sim: MakeSim) -> None:
    """With non_evse_specific_reservations off a reservation without evseId is Rejected."""
    sim = await booted(make_sim, "2.0.1", non_evse_specific_reservations=False)
    assert await reserve(csms, "2.0.1", 1, None, "A") == "Rejected"
    assert sim.reservations == {}


async def test_v16_reservation_expiry_reports_available(csms: FakeCsms, make_sim: MakeSim) -> None:
    """An unused 1.6 reservation ends at its expiryDate and the connector reports Available."""
    sim = await booted(make_sim, "1.6")
    assert await reserve(csms, "1.6", 3, 1, "R", expiry=SOON) == "Accepted"
    await csms.wait_until(lambda: statuses(csms) == ["Reserved", "Available"])
    assert sim.reservations == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_expiring_offline_is_reported_after_reconnecting(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A reservation that expires while the station is offline is reported (2.0.1: ReservationStatusUpdate
    Expired, then Available) once it is back."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 3, 1, "R", expiry=soon(300))
    await sim.settle(1000 * MS)
    await sim.go_offline()
    assert sim.reservations  # still running: it expires while the station is offline
    await sim.wait_until(lambda: not sim.reservations, 2000 * MS)
    await sim.settle(1000 * MS)
    assert sim.errors == [] and statuses(csms) == ["Reserved"]
    sent_before = len(csms.actions())
    await sim.come_back()
    if version == "1.6":
        assert csms.actions()[sent_before:] == ["StatusNotification"]
    else:
        assert csms.actions()[sent_before:] == ["ReservationStatusUpdate", "StatusNotification"]
        assert csms.calls("ReservationStatusUpdate") == [
            {"reservationId": 3, "reservationUpdateStatus": "Expired"}
        ]
    assert statuses(csms) == ["Reserved", "Available"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_silent_action_is_never_answered(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """An action in `silent` is recorded but never answered nor acted upon; other CALLs still are."""
    sim = await booted(make_sim, version, silent={"ReserveNow"})
    with pytest.raises(TimeoutError):
        await csms.call("ReserveNow", reserve_payload(version, 1, 1, "R"), timeout=100 * MS)
    assert sim.calls_received[-1][0] == "ReserveNow" and sim.reservations == {}
    assert (await csms.call("CancelReservation", {"reservationId": 1}))[2] == {"status": "Rejected"}
    sim.config.silent.clear()
    assert await reserve(csms, version, 1, 1, "R") == "Accepted"


@pytest.mark.parametrize("version", VERSIONS)
async def test_cancel_reservation(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """CancelReservation is Accepted for a known reservation (the connector is Available again) and Rejected
    for an unknown one."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 5, 1, "R")
    assert (await csms.call("CancelReservation", {"reservationId": 6}))[2] == {"status": "Rejected"}
    assert (await csms.call("CancelReservation", {"reservationId": 5}))[2] == {"status": "Accepted"}
    await sim.settle(1000 * MS)
    assert statuses(csms) == ["Reserved", "Available"] and sim.reservations == {}
    assert (await csms.call("CancelReservation", {"reservationId": 5}))[2] == {"status": "Rejected"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_fault_removes_the_reservation(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """A connector that becomes Faulted loses its reservation (2.0.1: ReservationStatusUpdate Removed)."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 5, 1, "R")
    await sim.settle(1000 * MS)
    await sim.send_status(1, "Faulted", "GroundFailure")
    assert sim.reservations == {}
    assert (await csms.call("CancelReservation", {"reservationId": 5}))[2] == {"status": "Rejected"}
    if version == "2.0.1":
        assert csms.calls("ReservationStatusUpdate") == [
            {"reservationId": 5, "reservationUpdateStatus": "Removed"}
        ]
    else:
        assert "ReservationStatusUpdate" not in csms.actions()
    assert statuses(csms) == ["Reserved", "Faulted"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_inoperative_removes_the_reservation(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """ChangeAvailability Inoperative makes a reserved connector Unavailable and ends its reservation."""
    sim = await booted(make_sim, version)
    await reserve(csms, version, 5, 1, "R")
    assert await change_availability(csms, version, 1, operative=False) == "Accepted"
    await sim.settle(1000 * MS)
    assert sim.reservations == {} and statuses(csms) == ["Reserved", "Unavailable"]
    if version == "2.0.1":
        assert csms.calls("ReservationStatusUpdate")[0]["reservationUpdateStatus"] == "Removed"


# ---------------------------------------------------------------------- remote start and availability


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_refused_when_occupied_or_unavailable(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A remote start is Rejected on a connector that charges or is Unavailable, Accepted once Operative."""
    sim = await booted(make_sim, version, connectors=2)
    await sim.start_transaction(1, "TX")
    assert await remote_start(csms, version, 1, "B") == "Rejected"
    assert await change_availability(csms, version, 2, operative=False) == "Accepted"
    await sim.settle(1000 * MS)
    assert sim.connector_status[2] == "Unavailable"
    assert await remote_start(csms, version, 2, "B") == "Rejected"
    assert await remote_start(csms, version, None, "B") == "Rejected"
    with pytest.raises(SimulatorError):
        await sim.start_transaction(2, "LOCAL")
    assert await change_availability(csms, version, 1, operative=False) == "Scheduled"
    assert await change_availability(csms, version, 2, operative=True) == "Accepted"
    await sim.settle(1000 * MS)
    assert sim.connector_status[2] == "Available"
    assert await remote_start(csms, version, None, "B") == "Accepted"
    await sim.settle(2000 * MS)
    assert sorted(sim.transactions) == [1, 2]
    await sim.stop_transaction(1)
    assert sim.connector_status[1] == "Unavailable"


@pytest.mark.parametrize("version", VERSIONS)
async def test_remote_start_with_a_tx_profile_installs_it(
    csms: FakeCsms, make_sim: MakeSim, version: str
) -> None:
    """A remote start carrying a TxProfile installs it for the new transaction; any other purpose is
    Rejected."""
    sim = await booted(make_sim, version)
    if version == "1.6":
        profile = {"chargingProfileId": 4, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                   "chargingProfileKind": "Relative",
                   "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
                       {"startPeriod": 0, "limit": 16.0}]}}  # fmt: skip
        request: dict[str, Any] = {"idTag": "P", "connectorId": 1}
        action = "RemoteStartTransaction"
    else:
        profile = {"id": 4, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
                   "chargingProfileKind": "Relative",
                   "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [
                       {"startPeriod": 0, "limit": 16.0}]}]}  # fmt: skip
        request = {"idToken": {"idToken": "P", "type": "Central"}, "remoteStartId": 2, "evseId": 1}
        action = "RequestStartTransaction"
    wrong = {**profile, "chargingProfilePurpose": "TxDefaultProfile"}
    assert (await csms.call(action, {**request, "chargingProfile": wrong}))[2] == {"status": "Rejected"}
    assert (await csms.call(action, {**request, "chargingProfile": profile}))[2] == {"status": "Accepted"}
    await sim.settle(2000 * MS)
    assert sim.charging_profiles == {1: {4: profile}}
    await sim.stop_transaction(1)
    assert sim.charging_profiles == {1: {}}


# ---------------------------------------------------------------------- device model and configuration


def report_entries(csms: FakeCsms) -> list[dict[str, Any]]:
    """All reportData entries of the NotifyReport messages received, in order."""
    return [entry for message in csms.calls("NotifyReport") for entry in message["reportData"]]


def find_entry(entries: list[dict[str, Any]], component: dict[str, Any], variable: str) -> dict[str, Any]:
    """The reportData entry for `component` / `variable`."""
    return next(e for e in entries if e["component"] == component and e["variable"] == {"name": variable})


async def test_v201_get_base_report_streams_the_device_model(csms: FakeCsms, make_sim: MakeSim) -> None:
    """GetBaseReport FullInventory is Accepted, then NotifyReport messages of four entries stream the device
    model with seqNo 0..n, tbc on all but the last, one requestId and generatedAt."""
    sim = await booted(make_sim, "2.0.1", connectors=2, password="a-password-of-16+")
    await reserve(csms, "2.0.1", 1, 2, "R")
    reply = await csms.call("GetBaseReport", {"requestId": 42, "reportBase": "FullInventory"})
    assert reply[2] == {"status": "Accepted"}
    await sim.settle(2000 * MS)
    messages = csms.calls("NotifyReport")
    assert len(messages) > 3 and sim.violations == [] and sim.errors == []
    assert [m["seqNo"] for m in messages] == list(range(len(messages)))
    assert [m["tbc"] for m in messages] == [True] * (len(messages) - 1) + [False]
    assert {m["requestId"] for m in messages} == {42}
    assert len({m["generatedAt"] for m in messages}) == 1
    assert all(len(m["reportData"]) == 4 for m in messages[:-1]) and 1 <= len(messages[-1]["reportData"]) <= 4
    # The CALLRESULT went out before the first NotifyReport.
    answer_at = next(i for i, f in enumerate(csms.frames) if f[0] == 3 and f[2] == {"status": "Accepted"})
    first_report_at = next(i for i, f in enumerate(csms.frames) if f[0] == 2 and f[2] == "NotifyReport")
    assert answer_at < first_report_at

    entries = report_entries(csms)
    assert find_entry(entries, {"name": "OCPPCommCtrlr"}, "HeartbeatInterval") == {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variableAttribute": [{"type": "Actual", "mutability": "ReadWrite", "value": "300"}],
        "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False},
    }
    interval = find_entry(entries, {"name": "SampledDataCtrlr"}, "TxUpdatedInterval")
    assert interval["variableAttribute"][0]["value"] == "10"
    assert (
        find_entry(entries, {"name": "ReservationCtrlr"}, "Enabled")["variableAttribute"][0]["value"]
        == "true"
    )
    non_evse = find_entry(entries, {"name": "ReservationCtrlr"}, "NonEvseSpecific")
    assert non_evse["variableAttribute"] == [{"type": "Actual", "mutability": "ReadOnly", "value": "true"}]
    password = find_entry(entries, {"name": "SecurityCtrlr"}, "BasicAuthPassword")
    assert password["variableAttribute"] == [{"type": "Actual", "mutability": "WriteOnly"}]
    for evse_id, state in [(1, "Available"), (2, "Reserved")]:
        evse = find_entry(entries, {"name": "EVSE", "evse": {"id": evse_id}}, "AvailabilityState")
        assert evse["variableAttribute"] == [{"type": "Actual", "mutability": "ReadOnly", "value": state}]
        assert evse["variableCharacteristics"]["dataType"] == "OptionList"
        connector = {"name": "Connector", "evse": {"id": evse_id, "connectorId": 1}}
        connector_type = find_entry(entries, connector, "ConnectorType")
        assert connector_type["variableAttribute"][0]["value"] == "cType2"


async def test_v201_report_bases_filter_the_model(csms: FakeCsms, make_sim: MakeSim) -> None:
    """ConfigurationInventory reports only writable variables, SummaryInventory only availability."""
    sim = await booted(make_sim, "2.0.1", report_chunk_size=100)
    await csms.call("GetBaseReport", {"requestId": 1, "reportBase": "ConfigurationInventory"})
    await sim.settle(2000 * MS)
    configuration = report_entries(csms)
    assert len(csms.calls("NotifyReport")) == 1 and "tbc" in csms.calls("NotifyReport")[0]
    assert {e["variableAttribute"][0]["mutability"] for e in configuration} == {"ReadWrite", "WriteOnly"}
    await csms.call("GetBaseReport", {"requestId": 2, "reportBase": "SummaryInventory"})
    await sim.settle(2000 * MS)
    summary = csms.calls("NotifyReport")[1]["reportData"]
    assert {e["variable"]["name"] for e in summary} == {"AvailabilityState"}
    assert {e["component"]["name"] for e in summary} == {"ChargingStation", "EVSE", "Connector"}


async def test_v201_second_report_while_streaming_is_rejected(csms: FakeCsms, make_sim: MakeSim) -> None:
    """A GetBaseReport while the previous report is still being sent is Rejected."""
    sim = await booted(make_sim, "2.0.1", call_timeout=200 * MS)
    csms.silent.add("NotifyReport")
    assert (await csms.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}))[2] == {
        "status": "Accepted"
    }
    await csms.wait_calls("NotifyReport")
    assert (await csms.call("GetBaseReport", {"requestId": 2, "reportBase": "FullInventory"}))[2] == {
        "status": "Rejected"
    }
    await sim.settle(2000 * MS)  # the unanswered NotifyReport times out and ends the report
    assert len(sim.errors) == 1 and isinstance(sim.errors[0], TimeoutError)


async def test_v201_variables_share_the_device_model(csms: FakeCsms, make_sim: MakeSim) -> None:
    """GetVariables reads EVSE and Connector components; SetVariables refuses read-only and unknown ones."""
    sim = await booted(make_sim, "2.0.1", connectors=2)
    await sim.plug_in(2)

    def get(component: dict[str, Any], variable: str) -> dict[str, Any]:
        return {"component": component, "variable": {"name": variable}}

    reply = await csms.call("GetVariables", {"getVariableData": [
        get({"name": "EVSE", "evse": {"id": 2}}, "AvailabilityState"),
        get({"name": "Connector", "evse": {"id": 1, "connectorId": 1}}, "ConnectorType"),
        get({"name": "EVSE", "evse": {"id": 3}}, "AvailabilityState"),
        get({"name": "EVSE", "evse": {"id": 1}}, "Nope"),
        get({"name": "reservationctrlr"}, "nonevsespecific"),
    ]})  # fmt: skip
    results = reply[2]["getVariableResult"]
    assert [(r["attributeStatus"], r.get("attributeValue")) for r in results] == [
        ("Accepted", "Occupied"), ("Accepted", "cType2"), ("UnknownComponent", None),
        ("UnknownVariable", None), ("Accepted", "true"),
    ]  # fmt: skip
    assert results[0]["component"] == {"name": "EVSE", "evse": {"id": 2}}

    reply = await csms.call("SetVariables", {"setVariableData": [
        {**get({"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState"), "attributeValue": "Faulted"},
        {**get({"name": "ReservationCtrlr"}, "NonEvseSpecific"), "attributeValue": "false"},
        {**get({"name": "Nope"}, "X"), "attributeValue": "1"},
        {**get({"name": "SampledDataCtrlr"}, "TxUpdatedInterval"), "attributeValue": "30"},
    ]})  # fmt: skip
    assert [r["attributeStatus"] for r in reply[2]["setVariableResult"]] == [
        "Rejected", "Rejected", "UnknownComponent", "Accepted"
    ]  # fmt: skip
    assert sim.config.meter_interval == 30.0 and sim.connector_status[1] == "Available"


async def test_v201_heartbeat_interval_change_takes_effect(csms: FakeCsms, make_sim: MakeSim) -> None:
    """SetVariables OCPPCommCtrlr.HeartbeatInterval restarts the heartbeat at the new period."""
    sim = await booted(make_sim, "2.0.1")
    item = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
            "attributeValue": "1"}  # fmt: skip
    await csms.call("SetVariables", {"setVariableData": [item]})
    await csms.wait_calls("Heartbeat", timeout=2500 * MS)
    assert sim.settings["OCPPCommCtrlr.HeartbeatInterval"].value == "1"


async def test_v16_get_configuration_reports_every_key(csms: FakeCsms, make_sim: MakeSim) -> None:
    """GetConfiguration without keys returns every key with its value except AuthorizationKey;
    ChangeConfiguration refuses read-only keys and does not know unknown ones."""
    sim = await booted(make_sim, "1.6", connectors=2, password="0123456789abcdef")
    everything = (await csms.call("GetConfiguration", {}))[2]
    assert "unknownKey" not in everything
    keys = {entry["key"]: entry for entry in everything["configurationKey"]}
    assert set(keys) == set(sim.settings) - {"AuthorizationKey"}
    assert all("value" in entry for entry in keys.values())
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert keys["ReserveConnectorZeroSupported"]["value"] == "true"
    assert "Reservation" in keys["SupportedFeatureProfiles"]["value"].split(",")
    assert keys["HeartbeatInterval"] == {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
    reply = await csms.call("GetConfiguration", {"key": ["AuthorizationKey", "Bogus"]})
    assert reply[2] == {
        "configurationKey": [{"key": "AuthorizationKey", "readonly": False}],
        "unknownKey": ["Bogus"],
    }
    change = await csms.call("ChangeConfiguration", {"key": "SupportedFeatureProfiles", "value": "Core"})
    assert change[2] == {"status": "Rejected"}
    assert (await csms.call("ChangeConfiguration", {"key": "Bogus", "value": "1"}))[2] == {
        "status": "NotSupported"
    }


# ---------------------------------------------------------------------- charging profiles


def profile_16(profile_id: int, purpose: str, stack_level: int = 0, **extra: Any) -> dict[str, Any]:
    """A 1.6 csChargingProfiles."""
    return {"chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "W",
            "startSchedule": "2025-01-02T03:00:00Z", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 7400.0}]}, **extra}  # fmt: skip


def profile_201(profile_id: int, purpose: str, stack_level: int = 0, **extra: Any) -> dict[str, Any]:
    """A 2.0.1 ChargingProfileType."""
    return {"id": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": [{"id": 1, "chargingRateUnit": "W",
            "startSchedule": "2025-01-02T03:00:00Z", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 7400.0}]}], **extra}  # fmt: skip


async def test_v16_charging_profiles(csms: FakeCsms, make_sim: MakeSim) -> None:
    """SetChargingProfile installs valid profiles per connector (TxProfile only for the running transaction);
    ClearChargingProfile is Accepted when something matched, else Unknown."""
    sim = await booted(make_sim, "1.6", connectors=2)

    async def set_profile(connector: int, profile: dict[str, Any]) -> str:
        reply = await csms.call(
            "SetChargingProfile", {"connectorId": connector, "csChargingProfiles": profile}
        )
        return str(reply[2]["status"])

    assert await set_profile(1, profile_16(1, "TxDefaultProfile")) == "Accepted"
    assert await set_profile(0, profile_16(2, "ChargePointMaxProfile")) == "Accepted"
    assert await set_profile(1, profile_16(3, "ChargePointMaxProfile")) == "Rejected"
    assert await set_profile(1, profile_16(4, "TxProfile")) == "Rejected"  # no transaction
    assert await set_profile(3, profile_16(5, "TxDefaultProfile")) == "Rejected"
    assert await set_profile(1, profile_16(6, "TxDefaultProfile", stack_level=99)) == "Rejected"
    tx_id = int(await sim.start_transaction(1, "TX"))
    assert await set_profile(1, profile_16(4, "TxProfile", transactionId=tx_id + 1)) == "Rejected"
    assert await set_profile(2, profile_16(4, "TxProfile", transactionId=tx_id)) == "Rejected"
    assert await set_profile(1, profile_16(4, "TxProfile", transactionId=tx_id)) == "Accepted"
    assert await set_profile(1, profile_16(7, "TxDefaultProfile")) == "Accepted"  # replaces 1 (same level)
    assert {c: sorted(p) for c, p in sim.charging_profiles.items()} == {1: [4, 7], 0: [2]}

    await sim.stop_transaction(1)
    assert sorted(sim.charging_profiles[1]) == [7]  # the TxProfile ended with its transaction
    assert (await csms.call("ClearChargingProfile", {"id": 99}))[2] == {"status": "Unknown"}
    assert (await csms.call("ClearChargingProfile", {"id": 7}))[2] == {"status": "Accepted"}
    reply = await csms.call(
        "ClearChargingProfile", {"connectorId": 0, "chargingProfilePurpose": "TxDefaultProfile"}
    )
    assert reply[2] == {"status": "Unknown"}
    assert (await csms.call("ClearChargingProfile", {}))[2] == {"status": "Accepted"}
    assert all(not p for p in sim.charging_profiles.values())


async def test_v201_charging_profiles(csms: FakeCsms, make_sim: MakeSim) -> None:
    """2.0.1 SetChargingProfile needs the transactionId for a TxProfile and refuses external constraints;
    ClearChargingProfile matches by id or criteria."""
    sim = await booted(make_sim, "2.0.1")

    async def set_profile(evse_id: int, profile: dict[str, Any]) -> str:
        reply = await csms.call("SetChargingProfile", {"evseId": evse_id, "chargingProfile": profile})
        return str(reply[2]["status"])

    assert await set_profile(0, profile_201(1, "ChargingStationMaxProfile")) == "Accepted"
    assert await set_profile(1, profile_201(2, "ChargingStationMaxProfile")) == "Rejected"
    assert await set_profile(0, profile_201(3, "ChargingStationExternalConstraints")) == "Rejected"
    assert await set_profile(1, profile_201(4, "TxDefaultProfile", stack_level=1)) == "Accepted"
    tx_id = await sim.start_transaction(1, "TX")
    assert await set_profile(1, profile_201(5, "TxProfile")) == "Rejected"  # no transactionId
    assert await set_profile(1, profile_201(5, "TxProfile", transactionId="nope")) == "Rejected"
    assert await set_profile(1, profile_201(5, "TxProfile", transactionId=tx_id)) == "Accepted"
    assert {c: sorted(p) for c, p in sim.charging_profiles.items()} == {0: [1], 1: [4, 5]}

    criteria = {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2}
    assert (await csms.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))[2] == {
        "status": "Unknown"
    }
    criteria["stackLevel"] = 1
    assert (await csms.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))[2] == {
        "status": "Accepted"
    }
    assert (await csms.call("ClearChargingProfile", {"chargingProfileId": 1}))[2] == {"status": "Accepted"}
    assert {c: sorted(p) for c, p in sim.charging_profiles.items()} == {0: [], 1: [5]}


# ---------------------------------------------------------------------- reset, unlock, trigger


@pytest.mark.parametrize(
    ("version", "reset", "reason"),
    [("1.6", {"type": "Hard"}, "HardReset"), ("2.0.1", {"type": "OnIdle"}, None)],
)
async def test_reset_reboots_and_boots_again(
    csms: FakeCsms, make_sim: MakeSim, version: str, reset: dict[str, Any], reason: str | None
) -> None:
    """Reset is Accepted, stops the transaction with the reset reason, reconnects, boots again and reports
    every connector's status (a reservation survives the reboot)."""
    sim = await booted(make_sim, version, connectors=2)
    await reserve(csms, version, 4, 2, "R")
    if reason is not None:
        await sim.start_transaction(1, "TX")
    assert (await csms.call("Reset", reset))[2] == {"status": "Accepted"}
    boots = await csms.wait_calls("BootNotification", 2)
    await sim.settle(2000 * MS)
    assert len(csms.connections) == 2 and sim.connected and sim.errors == []
    if version == "1.6":
        assert csms.calls("StopTransaction")[0]["reason"] == reason
    else:
        assert boots[1]["reason"] == "RemoteReset"
    assert statuses(csms, 2)[-1] == "Reserved"
    assert statuses(csms, 1)[-1] == ("Preparing" if reason else "Available")  # the cable is still in


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_connector_answers(csms: FakeCsms, make_sim: MakeSim, version: str) -> None:
    """UnlockConnector reports a stuck lock, an unknown connector and (2.0.1) a running transaction."""
    sim = await booted(make_sim, version, connectors=2, unlock_fails=True)
    if version == "1.6":
        assert (await csms.call("UnlockConnector", {"connectorId": 1}))[2] == {"status": "UnlockFailed"}
        assert (await csms.call("UnlockConnector", {"connectorId": 3}))[2] == {"status": "NotSupported"}
        return
    for request, expected in [
        ({"evseId": 1, "connectorId": 1}, "UnlockFailed"),
        ({"evseId": 3, "connectorId": 1}, "UnknownConnector"),
        ({"evseId": 1, "connectorId": 2}, "UnknownConnector"),
    ]:
        assert (await csms.call("UnlockConnector", request))[2] == {"status": expected}
    await sim.start_transaction(2, "TX")
    reply = await csms.call("UnlockConnector", {"evseId": 2, "connectorId": 1})
    assert reply[2] == {"status": "OngoingAuthorizedTransaction"}


async def test_v16_unlock_stops_the_transaction(csms: FakeCsms, make_sim: MakeSim) -> None:
    """1.6 UnlockConnector during a transaction is Unlocked and stops it with reason UnlockCommand."""
    sim = await booted(make_sim, "1.6")
    await sim.start_transaction(1, "TX")
    assert (await csms.call("UnlockConnector", {"connectorId": 1}))[2] == {"status": "Unlocked"}
    stop = (await csms.wait_calls("StopTransaction"))[0]
    await sim.settle(1000 * MS)
    assert stop["reason"] == "UnlockCommand" and sim.transactions == {}


async def test_v16_trigger_messages(csms: FakeCsms, make_sim: MakeSim) -> None:
    """1.6 TriggerMessage sends every requested message; StatusNotification and MeterValues for the given
    connector only; an unknown connector is Rejected."""
    sim = await booted(make_sim, "1.6", connectors=2)
    tx_id = int(await sim.start_transaction(2, "TX"))
    for requested in (
        "BootNotification",
        "Heartbeat",
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
    ):
        reply = await csms.call("TriggerMessage", {"requestedMessage": requested})
        assert reply[2] == {"status": "Accepted"}, requested
        await csms.wait_calls(requested, 2 if requested == "BootNotification" else 1)
    assert csms.calls("FirmwareStatusNotification") == [{"status": "Idle"}]
    assert csms.calls("DiagnosticsStatusNotification") == [{"status": "Idle"}]
    before = len(csms.calls("StatusNotification"))
    reply = await csms.call("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 2})
    assert reply[2] == {"status": "Accepted"}
    status = (await csms.wait_calls("StatusNotification", before + 1))[-1]
    assert status["connectorId"] == 2 and status["status"] == "Charging"
    reply = await csms.call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 2})
    meter = (await csms.wait_calls("MeterValues"))[0]
    assert meter["connectorId"] == 2 and meter["transactionId"] == tx_id
    reply = await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 5})
    assert reply[2] == {"status": "Rejected"}
    await sim.settle(1000 * MS)
    assert len(csms.calls("StatusNotification")) == before + 1 and sim.errors == []


async def test_v201_trigger_messages(csms: FakeCsms, make_sim: MakeSim) -> None:
    """2.0.1 TriggerMessage sends BootNotification (reason Triggered), LogStatusNotification, Firmware status
    and a TransactionEvent Trigger only while a transaction runs."""
    sim = await booted(make_sim, "2.0.1", connectors=2)
    reply = await csms.call("TriggerMessage", {"requestedMessage": "TransactionEvent"})
    assert reply[2] == {"status": "Rejected"}
    for requested in ("BootNotification", "LogStatusNotification", "FirmwareStatusNotification"):
        assert (await csms.call("TriggerMessage", {"requestedMessage": requested}))[2] == {
            "status": "Accepted"
        }
        await csms.wait_calls(requested, 2 if requested == "BootNotification" else 1)
    assert csms.calls("BootNotification")[1]["reason"] == "Triggered"
    assert csms.calls("LogStatusNotification") == [{"status": "Idle"}]
    tx_id = await sim.start_transaction(2, "TX")
    request = {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
    assert (await csms.call("TriggerMessage", request))[2] == {"status": "Rejected"}
    request = {"requestedMessage": "TransactionEvent", "evse": {"id": 2}}
    assert (await csms.call("TriggerMessage", request))[2] == {"status": "Accepted"}
    event = (await csms.wait_calls("TransactionEvent", 2))[1]
    assert event["eventType"] == "Updated" and event["triggerReason"] == "Trigger"
    assert event["transactionInfo"]["transactionId"] == tx_id and event["seqNo"] == 1
    request = {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 2}}
    assert (await csms.call("TriggerMessage", request))[2] == {"status": "Rejected"}
    await sim.settle(1000 * MS)
    assert sim.errors == [] and sim.violations == []
