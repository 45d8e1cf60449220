"""Tests for the OCPP 2.0.1 command table: every built CALL meets the official request schema, every status
word of every response schema parses, configuration keys round-trip, NotifyReport becomes device model."""

from __future__ import annotations

import importlib.metadata
import typing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from csms.domain import commands as c
from csms.domain.clock import isoformat_z as isoformat
from csms.domain.commands import CommandResult, Outcome
from csms.domain.local_list import LocalListEntry
from csms.ocpp.commands import Inexpressible
from csms.ocpp.schemas import SchemaKind, validate
from csms.ocpp.v201.commands import COMMANDS, component_type, key_from_wire, parse_key, variable_type
from csms.ocpp.v201.reports import device_variables
from csms.ocpp.v201.routes import ROUTES
from csms.ocpp.versions import OcppVersion

V201 = OcppVersion.V201
EXPIRY = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def profile(purpose: str = "TxDefaultProfile", **kw: Any) -> c.ChargingProfile:
    """A neutral charging profile with two periods."""
    fields: dict[str, Any] = {
        "id": 7,
        "stack_level": 1,
        "purpose": purpose,
        "kind": "Absolute",
        "rate_unit": "W",
        "periods": [
            c.ChargingSchedulePeriod(0, Decimal("11000.06")),
            c.ChargingSchedulePeriod(600, Decimal("3680"), number_phases=1),
        ],
    }
    fields.update(kw)
    return c.ChargingProfile(**fields)


FULL_PROFILE = profile(
    "TxProfile",
    ocpp_transaction_id="tx-uuid-1",
    recurrency_kind="Weekly",
    valid_from=EXPIRY,
    valid_to=EXPIRY,
    duration=3600,
    start_schedule=EXPIRY,
    min_charging_rate=Decimal("1380.55"),
    kind="Recurring",
)

LOCAL_ENTRY = LocalListEntry("TAG-1", "Accepted", EXPIRY, "GROUP", "ISO15693")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SAMPLES: list[Any] = [
    c.StartSession("TAG-1", 11),
    c.StartSession(
        "TAG-1",
        11,
        evse_id=2,
        id_token_type="ISO14443",
        group_id_token="GROUP",
        charging_profile=FULL_PROFILE,
    ),
    c.StopSession("tx-uuid-1"),
    c.ReserveNow(5, EXPIRY, "TAG-1"),
    c.ReserveNow(5, EXPIRY, "TAG-1", evse_id=1, group_id_token="GROUP", connector_type="cType2"),
    c.CancelReservation(5),
    c.UnlockConnector(1),
    c.Reset(c.ResetKind.SOFT),
    c.Reset(c.ResetKind.IMMEDIATE, evse_id=2),
    c.ChangeAvailability(False),
    c.ChangeAvailability(True, evse_id=2, connector_id=1),
    c.TriggerMessage("StatusNotification"),
    c.TriggerMessage("TransactionEvent", evse_id=1, connector_id=1),
    c.ClearCache(),
    c.CertificateSigned(PEM),
    c.RenewCertificate(),
    c.InstallCertificate("CSMSRootCertificate", PEM),
    c.GetInstalledCertificateIds(),
    c.GetInstalledCertificateIds(["CSMSRootCertificate", "V2GCertificateChain"]),
    c.DeleteCertificate("SHA256", "a" * 64, "b" * 64, "1f"),
    c.DataTransfer("Vendor"),
    c.DataTransfer("Vendor", message_id="Msg", data={"a": [1, Decimal("2.5")]}),
    c.GetConfiguration(["OCPPCommCtrlr.HeartbeatInterval", "Connector[x]@1:2.Available[y]"]),
    c.ChangeConfiguration("OCPPCommCtrlr.HeartbeatInterval", "60"),
    c.GetBaseReport(3),
    c.SetChargingProfile(1, FULL_PROFILE),
    c.SetChargingProfile(0, profile("ChargePointMaxProfile")),
    c.ClearChargingProfile(),
    c.ClearChargingProfile(profile_id=7, evse_id=1, purpose="ChargingStationMaxProfile", stack_level=1),
    c.GetCompositeSchedule(1, 3600),
    c.GetCompositeSchedule(0, 600, "A"),
    c.GetChargingProfiles(8),
    c.GetChargingProfiles(8, 1, "ChargePointMaxProfile", 2, ["EMS", "SO"], [5, 6]),
    c.CostUpdated(Decimal("0.94"), "tx-uuid-1"),
    c.CostUpdated(Decimal("12"), "tx-uuid-1"),
    c.UpdateFirmware(3, "https://x/fw.bin", EXPIRY),
    c.UpdateFirmware(
        3, "https://x/fw.bin", EXPIRY, EXPIRY, 2, 30, signing_certificate="PEM", signature="c2ln"
    ),
    c.GetLog(4, "DiagnosticsLog", "https://x/logs/t"),
    c.GetLog(4, "SecurityLog", "https://x/logs/t", EXPIRY, EXPIRY, 1, 10),
    c.SendLocalList(1, "Full"),
    c.SendLocalList(2, "Full", [LOCAL_ENTRY, LocalListEntry("B", "Blocked")]),
    c.SendLocalList(3, "Differential", [LOCAL_ENTRY], [LocalListEntry("GONE", "Accepted")]),
    c.GetLocalListVersion(),
]


def response_schema(action: str) -> dict[str, Any]:
    """The official 2.0.1 response schema of `action`."""
    root = Path(str(importlib.metadata.distribution("ocpp").locate_file("ocpp")))
    path = root / "v201" / "schemas" / f"{action}Response.json"
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


def enum_of(action: str, definition: str) -> list[str]:
    """The values of one enum definition of a response schema."""
    words: list[str] = response_schema(action)["definitions"][definition]["enum"]
    return words


def status_words(action: str) -> list[str]:
    """Every value of the response's `status` enum."""
    ref: str = response_schema(action)["properties"]["status"]["$ref"]
    return enum_of(action, ref.removeprefix("#/definitions/"))


def has_none(value: Any) -> bool:
    """True if a null appears anywhere in a payload."""
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(has_none(v) for v in value)
    return False


def build(command: Any) -> tuple[str, dict[str, Any]]:
    """Build through the table."""
    action, payload = COMMANDS[type(command)].build(command)
    return action, payload


def parse(command: Any, payload: dict[str, Any]) -> CommandResult:
    """Parse through the table, after checking the payload is a valid response."""
    action, _ = build(command)
    assert validate(V201, action, SchemaKind.RESPONSE, payload) is None
    return COMMANDS[type(command)].parse(command, payload)


def test_table_covers_every_command() -> None:
    """Every neutral command type has a 2.0.1 translation."""
    assert set(COMMANDS) == set(typing.get_args(c.Command))
    assert {type(s) for s in SAMPLES} == set(COMMANDS)


@pytest.mark.parametrize("command", SAMPLES, ids=lambda s: type(s).__name__)
def test_built_payload_meets_the_request_schema(command: Any) -> None:
    """The built CALL validates against the official 2.0.1 request schema and carries no null."""
    action, payload = build(command)
    assert validate(V201, action, SchemaKind.REQUEST, payload) is None
    assert not has_none(payload)
    orjson.dumps(payload)


STATUS_COMMANDS = [
    s
    for s in SAMPLES
    if not isinstance(
        s,
        c.GetConfiguration
        | c.ChangeConfiguration
        | c.CostUpdated
        | c.GetInstalledCertificateIds
        | c.GetLocalListVersion,
    )
]


@pytest.mark.parametrize("command", STATUS_COMMANDS, ids=lambda s: type(s).__name__)
def test_every_status_word_parses(command: Any) -> None:
    """Each status of the response schema comes back as the result's status; statusInfo as reason_code."""
    action, _ = build(command)
    for word in status_words(action):
        result = parse(command, {"status": word})
        assert result.outcome is Outcome.ANSWERED and result.status == word
        assert result.accepted == (word in ("Accepted", "Unlocked", "Scheduled"))
        info = {"reasonCode": "Busy", "additionalInfo": "try later"}
        result = parse(command, {"status": word, "statusInfo": info})
        assert result.data["reason_code"] == "Busy" and result.data["additional_info"] == "try later"


def test_start_session() -> None:
    """RequestStartTransaction: idToken with type, remoteStartId, evseId only for an EVSE, TxProfile only."""
    assert build(c.StartSession("TAG", 77)) == (
        "RequestStartTransaction",
        {"idToken": {"idToken": "TAG", "type": "Central"}, "remoteStartId": 77},
    )
    _, payload = build(c.StartSession("TAG", 77, evse_id=2, id_token_type="eMAID", group_id_token="G"))
    assert payload == {
        "idToken": {"idToken": "TAG", "type": "eMAID"},
        "remoteStartId": 77,
        "evseId": 2,
        "groupIdToken": {"idToken": "G", "type": "Central"},
    }
    with pytest.raises(Inexpressible):
        build(c.StartSession("TAG", 1, charging_profile=profile("TxDefaultProfile")))
    result = parse(c.StartSession("TAG", 77), {"status": "Accepted", "transactionId": "tx-9"})
    assert result.data == {"ocpp_transaction_id": "tx-9"}
    assert parse(c.StartSession("TAG", 77), {"status": "Rejected"}).data == {}
    assert build(c.StopSession("tx-9")) == ("RequestStopTransaction", {"transactionId": "tx-9"})


def test_reserve_now() -> None:
    """ReserveNow: id, expiryDateTime, idToken; evseId left out for any EVSE; group and connector type."""
    assert build(c.ReserveNow(5, EXPIRY, "TAG", evse_id=0)) == (
        "ReserveNow",
        {
            "id": 5,
            "expiryDateTime": "2025-03-04T05:06:07.890Z",
            "idToken": {"idToken": "TAG", "type": "Central"},
        },
    )
    _, payload = build(c.ReserveNow(5, EXPIRY, "TAG", evse_id=2, group_id_token="G", connector_type="cCCS2"))
    assert payload["evseId"] == 2 and payload["connectorType"] == "cCCS2"
    assert payload["groupIdToken"] == {"idToken": "G", "type": "Central"}


def test_station_control_words() -> None:
    """Reset kinds, EVSE objects left out for the station, unlock by EVSE and connector."""
    kinds = {kind: build(c.Reset(kind))[1] for kind in c.ResetKind}
    assert kinds == {
        c.ResetKind.SOFT: {"type": "OnIdle"},
        c.ResetKind.ON_IDLE: {"type": "OnIdle"},
        c.ResetKind.HARD: {"type": "Immediate"},
        c.ResetKind.IMMEDIATE: {"type": "Immediate"},
    }
    assert build(c.Reset(c.ResetKind.HARD, evse_id=2))[1] == {"type": "Immediate", "evseId": 2}
    assert build(c.ChangeAvailability(False)) == ("ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert build(c.ChangeAvailability(True, evse_id=1))[1] == {
        "operationalStatus": "Operative",
        "evse": {"id": 1},
    }
    assert build(c.ChangeAvailability(True, evse_id=1, connector_id=2))[1]["evse"] == {
        "id": 1,
        "connectorId": 2,
    }
    assert build(c.TriggerMessage("Heartbeat", evse_id=0)) == (
        "TriggerMessage",
        {"requestedMessage": "Heartbeat"},
    )
    assert build(c.UnlockConnector(2, 3)) == ("UnlockConnector", {"evseId": 2, "connectorId": 3})


def test_data_transfer_data_is_any_json() -> None:
    """2.0.1 DataTransfer.data is any JSON value; Decimals become numbers; the answer's data comes back."""
    _, payload = build(c.DataTransfer("V", data={"limit": Decimal("7.5"), "list": [Decimal("2")]}))
    assert payload == {"vendorId": "V", "data": {"limit": 7.5, "list": [2]}}
    result = parse(c.DataTransfer("V"), {"status": "Accepted", "data": {"x": [1]}})
    assert result.data == {"data": {"x": [1]}}


@pytest.mark.parametrize(
    ("key", "component", "variable"),
    [
        ("OCPPCommCtrlr.HeartbeatInterval", {"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}),
        ("EVSE@1.AvailabilityState", {"name": "EVSE", "evse": {"id": 1}}, {"name": "AvailabilityState"}),
        (
            "Connector@1:2.ConnectorType",
            {"name": "Connector", "evse": {"id": 1, "connectorId": 2}},
            {"name": "ConnectorType"},
        ),
        ("TokenReader[front].Enabled", {"name": "TokenReader", "instance": "front"}, {"name": "Enabled"}),
        ("Ctrlr.Limit[max.a]", {"name": "Ctrlr"}, {"name": "Limit", "instance": "max.a"}),
        (
            "Meter[m 1]@2:1.Power[L1]",
            {"name": "Meter", "instance": "m 1", "evse": {"id": 2, "connectorId": 1}},
            {"name": "Power", "instance": "L1"},
        ),
    ],
)
def test_variable_keys_round_trip(key: str, component: dict[str, Any], variable: dict[str, Any]) -> None:
    """A configuration key names component (instance, EVSE, connector) and variable (instance), and back."""
    parsed = parse_key(key)
    assert component_type(parsed) == component and variable_type(parsed) == variable
    assert str(parsed) == key
    assert key_from_wire(component, variable) == parsed


@pytest.mark.parametrize("key", ["", "NoVariable", "A.B.C", "A@x.B", "A[].B", ".B", "A.", "A@1:.B", "A:1.B"])
def test_bad_variable_keys(key: str) -> None:
    """A key outside the syntax cannot be sent."""
    with pytest.raises(Inexpressible):
        parse_key(key)
    with pytest.raises(Inexpressible):
        build(c.GetConfiguration([key]))
    with pytest.raises(Inexpressible):
        build(c.ChangeConfiguration(key, "1"))


def test_get_configuration() -> None:
    """GetVariables by key; every attributeStatus parses into configuration / unknown_keys / statuses."""
    with pytest.raises(Inexpressible):
        build(c.GetConfiguration())
    keys = ["OCPPCommCtrlr.HeartbeatInterval", "EVSE@1.Power"]
    assert build(c.GetConfiguration(keys)) == (
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}},
            ]
        },
    )
    words = enum_of("GetVariables", "GetVariableStatusEnumType")
    results = []
    for index, word in enumerate(words):
        item: dict[str, Any] = {
            "attributeStatus": word,
            "component": {"name": f"C{index}"},
            "variable": {"name": "V"},
        }
        if word == "Accepted":
            item["attributeValue"] = "42"
        results.append(item)
    result = parse(c.GetConfiguration(keys), {"getVariableResult": results})
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted"
    assert result.data["statuses"] == {f"C{i}.V": word for i, word in enumerate(words)}
    assert result.data["configuration"] == [
        {"key": f"C{words.index('Accepted')}.V", "value": "42", "readonly": None}
    ]
    assert result.data["unknown_keys"] == [
        f"C{words.index('UnknownComponent')}.V",
        f"C{words.index('UnknownVariable')}.V",
    ]


def test_change_configuration() -> None:
    """SetVariables of one variable; its attributeStatus is the result's status, for every word."""
    command = c.ChangeConfiguration("EVSE[a]@1.Limit", "16")
    assert build(command) == (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "16",
                    "component": {"name": "EVSE", "instance": "a", "evse": {"id": 1}},
                    "variable": {"name": "Limit"},
                }
            ]
        },
    )
    for word in enum_of("SetVariables", "SetVariableStatusEnumType"):
        answer = {
            "setVariableResult": [
                {
                    "attributeStatus": word,
                    "attributeStatusInfo": {"reasonCode": "Why"},
                    "component": {"name": "EVSE", "instance": "a", "evse": {"id": 1}},
                    "variable": {"name": "Limit"},
                }
            ]
        }
        result = parse(command, answer)
        assert result.status == word
        assert result.data == {"key": "EVSE[a]@1.Limit", "reason_code": "Why"}


def test_get_base_report() -> None:
    """GetBaseReport with the caller's request id; the answer carries it back."""
    assert build(c.GetBaseReport(3, "SummaryInventory")) == (
        "GetBaseReport",
        {"requestId": 3, "reportBase": "SummaryInventory"},
    )
    assert parse(c.GetBaseReport(3), {"status": "EmptyResultSet"}).data == {"request_id": 3}


def test_set_charging_profile() -> None:
    """ChargingProfileType with one schedule (id = profile id), limits in tenths, the station-wide word."""
    action, payload = build(c.SetChargingProfile(1, FULL_PROFILE))
    assert action == "SetChargingProfile"
    assert payload == {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Weekly",
            "validFrom": "2025-03-04T05:06:07.890Z",
            "validTo": "2025-03-04T05:06:07.890Z",
            "transactionId": "tx-uuid-1",
            "chargingSchedule": [
                {
                    "id": 7,
                    "startSchedule": "2025-03-04T05:06:07.890Z",
                    "duration": 3600,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 11000},
                        {"startPeriod": 600, "limit": 3680, "numberPhases": 1},
                    ],
                    "minChargingRate": 1380.5,
                }
            ],
        },
    }
    _, payload = build(c.SetChargingProfile(0, profile("ChargePointMaxProfile")))
    assert payload["evseId"] == 0
    assert payload["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"


def test_clear_charging_profile() -> None:
    """ClearChargingProfile by id and criteria; no criteria object when there are none."""
    assert build(c.ClearChargingProfile()) == ("ClearChargingProfile", {})
    assert build(c.ClearChargingProfile(profile_id=7)) == ("ClearChargingProfile", {"chargingProfileId": 7})
    _, payload = build(c.ClearChargingProfile(evse_id=0, purpose="ChargePointMaxProfile", stack_level=2))
    assert payload == {
        "chargingProfileCriteria": {
            "evseId": 0,
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "stackLevel": 2,
        }
    }


def test_notify_report_becomes_device_variables() -> None:
    """Each attribute of a reported variable is one row; ReadOnly → readonly; EVSE, instances, type kept."""
    report = {
        "requestId": 1,
        "generatedAt": "2025-01-01T00:00:00Z",
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "variableAttribute": [
                    {"value": "300"},
                    {"type": "MaxSet", "value": "3600", "mutability": "ReadOnly"},
                ],
                "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": False},
            },
            {
                "component": {"name": "Connector", "instance": "a", "evse": {"id": 1, "connectorId": 2}},
                "variable": {"name": "Password", "instance": "p"},
                "variableAttribute": [{"mutability": "WriteOnly"}],
            },
        ],
    }
    assert validate(V201, "NotifyReport", SchemaKind.REQUEST, report) is None
    rows = device_variables("CP", report["reportData"])  # type: ignore[arg-type]
    assert [
        (
            r.charge_point_id,
            r.component,
            r.component_instance,
            r.evse_id,
            r.connector_id,
            r.variable,
            r.variable_instance,
            r.attribute_type,
            r.value,
            r.readonly,
            r.data_type,
        )
        for r in rows
    ] == [
        (
            "CP",
            "OCPPCommCtrlr",
            None,
            None,
            None,
            "HeartbeatInterval",
            None,
            "Actual",
            "300",
            False,
            "integer",
        ),
        (
            "CP",
            "OCPPCommCtrlr",
            None,
            None,
            None,
            "HeartbeatInterval",
            None,
            "MaxSet",
            "3600",
            True,
            "integer",
        ),
        ("CP", "Connector", "a", 1, 2, "Password", "p", "Actual", None, False, None),
    ]


def test_reservation_status_update_is_routed() -> None:
    """The station's ReservationStatusUpdate has a route (it is answered, not NotImplemented)."""
    assert "ReservationStatusUpdate" in ROUTES
    assert validate(V201, "ReservationStatusUpdate", SchemaKind.RESPONSE, {}) is None


def test_cost_updated() -> None:
    """CostUpdated carries the total cost as the exact decimal number and the station's transaction id; its
    empty answer is ANSWERED without a status word (the response has none)."""
    assert build(c.CostUpdated(Decimal("0.94"), "tx-1")) == (
        "CostUpdated",
        {"totalCost": 0.94, "transactionId": "tx-1"},
    )
    assert build(c.CostUpdated(Decimal("12"), "tx-1"))[1]["totalCost"] == 12
    result = parse(c.CostUpdated(Decimal("0.94"), "tx-1"), {})
    assert result.outcome is Outcome.ANSWERED and result.status is None


def test_update_firmware_and_get_log() -> None:
    """UpdateFirmware carries requestId and FirmwareType (with the signing certificate and signature when
    given); GetLog carries logType, requestId and log{remoteLocation, timestamps}; the file name is kept."""
    signed = c.UpdateFirmware(3, "https://x/fw.bin", EXPIRY, signing_certificate="PEM", signature="s")
    assert build(signed) == (
        "UpdateFirmware",
        {
            "requestId": 3,
            "firmware": {
                "location": "https://x/fw.bin",
                "retrieveDateTime": isoformat(EXPIRY),
                "signingCertificate": "PEM",
                "signature": "s",
            },
        },
    )
    action, payload = build(c.GetLog(4, "DiagnosticsLog", "https://x/logs/t", latest=EXPIRY))
    assert action == "GetLog"
    assert payload == {
        "logType": "DiagnosticsLog",
        "requestId": 4,
        "log": {"remoteLocation": "https://x/logs/t", "latestTimestamp": isoformat(EXPIRY)},
    }
    result = parse(c.GetLog(4, "DiagnosticsLog", "u"), {"status": "Accepted", "filename": "d.log"})
    assert result.accepted and result.data == {"filename": "d.log"}


def test_send_local_list_201() -> None:
    """SendLocalList carries versionNumber, updateType and {idToken{idToken, type}, idTokenInfo{status,
    cacheExpiryDateTime, groupIdToken}}; a removed entry has no idTokenInfo (D01.FR.18)."""
    assert build(c.SendLocalList(1, "Full")) == ("SendLocalList", {"versionNumber": 1, "updateType": "Full"})
    gone = LocalListEntry("GONE", "Accepted", type="KeyCode")
    assert build(c.SendLocalList(3, "Differential", [LOCAL_ENTRY], [gone])) == (
        "SendLocalList",
        {
            "versionNumber": 3,
            "updateType": "Differential",
            "localAuthorizationList": [
                {
                    "idToken": {"idToken": "TAG-1", "type": "ISO15693"},
                    "idTokenInfo": {
                        "status": "Accepted",
                        "cacheExpiryDateTime": isoformat(EXPIRY),
                        "groupIdToken": {"idToken": "GROUP", "type": "Central"},
                    },
                },
                {"idToken": {"idToken": "GONE", "type": "KeyCode"}},
            ],
        },
    )
    result = parse(c.SendLocalList(1, "Full"), {"status": "Failed"})
    assert result.status == "Failed" and not result.accepted


def test_get_local_list_version_201() -> None:
    """GetLocalListVersion has no fields; its versionNumber is the result's data["version"]."""
    assert build(c.GetLocalListVersion()) == ("GetLocalListVersion", {})
    result = parse(c.GetLocalListVersion(), {"versionNumber": 4})
    assert result.accepted and result.data == {"version": 4}


def test_get_composite_schedule() -> None:
    """GetCompositeSchedule of an EVSE; an Accepted answer's CompositeScheduleType becomes the schedule in
    domain words; a Rejected one carries none and its statusInfo as reason_code."""
    assert build(c.GetCompositeSchedule(0, 600, "A")) == (
        "GetCompositeSchedule",
        {"evseId": 0, "duration": 600, "chargingRateUnit": "A"},
    )
    assert build(c.GetCompositeSchedule(2, 60))[1] == {"evseId": 2, "duration": 60}
    command = c.GetCompositeSchedule(2, 3600)
    answer = {
        "status": "Accepted",
        "schedule": {
            "evseId": 2,
            "duration": 3600,
            "scheduleStart": "2025-03-04T05:06:07Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1, "numberPhases": 3}],
        },
    }
    schedule = c.composite_schedule_of(parse(command, answer))
    assert schedule == c.CompositeSchedule(
        evse_id=2,
        start=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
        rate_unit="A",
        periods=[c.ChargingSchedulePeriod(0, Decimal("16.1"), 3)],
        duration=3600,
    )
    rejected = parse(command, {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEVSE"}})
    assert c.composite_schedule_of(rejected) is None
    assert rejected.data == {"reason_code": "UnknownEVSE"}


def test_get_charging_profiles() -> None:
    """GetChargingProfiles carries requestId, evseId when given and the criteria in 2.0.1 words (an empty
    criterion asks for every profile); the result names the request id the reports will carry."""
    assert build(c.GetChargingProfiles(8)) == ("GetChargingProfiles", {"requestId": 8, "chargingProfile": {}})
    _, payload = build(c.GetChargingProfiles(8, 0, "ChargePointMaxProfile", 2, ["EMS"], [5]))
    assert payload == {
        "requestId": 8,
        "evseId": 0,
        "chargingProfile": {
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "stackLevel": 2,
            "chargingProfileId": [5],
            "chargingLimitSource": ["EMS"],
        },
    }
    result = parse(c.GetChargingProfiles(8), {"status": "NoProfiles"})
    assert result.status == "NoProfiles" and result.data == {"request_id": 8}
