"""Tests for the OCPP 1.6 command table: every built CALL meets the official request schema, every status
word of every response schema parses, and the neutral → 1.6 rules (connectors, resets, limits) hold."""

from __future__ import annotations

import importlib.metadata
import typing
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from csms.domain import commands as c
from csms.domain.commands import CommandResult, Outcome
from csms.domain.device_model import DeviceModelService
from csms.domain.local_list import LocalListEntry
from csms.domain.models import DeviceVariable
from csms.ocpp.commands import Inexpressible, json_number, tenths
from csms.ocpp.schemas import SchemaKind, validate
from csms.ocpp.v16.commands import COMMANDS
from csms.ocpp.versions import OcppVersion

V16 = OcppVersion.V16
EXPIRY = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def profile(purpose: str = "TxDefaultProfile", **kw: Any) -> c.ChargingProfile:
    """A neutral charging profile with two periods."""
    fields: dict[str, Any] = {
        "id": 7,
        "stack_level": 1,
        "purpose": purpose,
        "kind": "Absolute",
        "rate_unit": "A",
        "periods": [
            c.ChargingSchedulePeriod(0, Decimal("16.19")),
            c.ChargingSchedulePeriod(600, Decimal("32"), number_phases=3),
        ],
    }
    fields.update(kw)
    return c.ChargingProfile(**fields)


FULL_PROFILE = profile(
    "TxProfile",
    ocpp_transaction_id="42",
    recurrency_kind="Daily",
    valid_from=EXPIRY,
    valid_to=EXPIRY,
    duration=3600,
    start_schedule=EXPIRY,
    min_charging_rate=Decimal("6.25"),
    kind="Recurring",
)

# Every command type, minimal and with every optional field.
LOCAL_ENTRY = LocalListEntry("TAG-1", "Accepted", EXPIRY, "GROUP", "ISO15693")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SAMPLES: list[Any] = [
    c.StartSession("TAG-1", 11),
    c.StartSession("TAG-1", 11, evse_id=2, group_id_token="GROUP", charging_profile=FULL_PROFILE),
    c.StopSession("42"),
    c.ReserveNow(5, EXPIRY, "TAG-1"),
    c.ReserveNow(5, EXPIRY, "TAG-1", evse_id=1, group_id_token="GROUP", connector_type="cType2"),
    c.CancelReservation(5),
    c.UnlockConnector(1),
    c.Reset(c.ResetKind.SOFT),
    c.Reset(c.ResetKind.IMMEDIATE, evse_id=0),
    c.ChangeAvailability(False),
    c.ChangeAvailability(True, evse_id=2, connector_id=1),
    c.TriggerMessage("StatusNotification"),
    c.TriggerMessage("MeterValues", evse_id=1),
    c.ClearCache(),
    c.CertificateSigned(PEM),
    c.RenewCertificate(),
    c.InstallCertificate("CSMSRootCertificate", PEM),
    c.GetInstalledCertificateIds(["CSMSRootCertificate"]),
    c.DeleteCertificate("SHA256", "a" * 64, "b" * 64, "1f"),
    c.DataTransfer("Vendor"),
    c.DataTransfer("Vendor", message_id="Msg", data={"a": [1, Decimal("2.5")]}),
    c.GetConfiguration(),
    c.GetConfiguration(["HeartbeatInterval", "Unknown"]),
    c.ChangeConfiguration("HeartbeatInterval", "60"),
    c.GetBaseReport(3),
    c.SetChargingProfile(1, FULL_PROFILE),
    c.SetChargingProfile(0, profile("ChargingStationMaxProfile")),
    c.ClearChargingProfile(),
    c.ClearChargingProfile(profile_id=7, evse_id=1, purpose="ChargingStationMaxProfile", stack_level=1),
    c.GetCompositeSchedule(1, 3600),
    c.GetCompositeSchedule(0, 600, "A"),
    c.UpdateFirmware(3, "https://csms.example/files/firmware/t/fw.bin", EXPIRY),
    c.UpdateFirmware(
        3, "https://x/fw.bin", EXPIRY, EXPIRY, 2, 30, signing_certificate="PEM", signature="c2ln"
    ),
    c.GetLog(4, "DiagnosticsLog", "https://csms.example/files/logs/t"),
    c.GetLog(4, "SecurityLog", "https://csms.example/files/logs/t", EXPIRY, EXPIRY, 1, 10),
    c.SendLocalList(1, "Full"),
    c.SendLocalList(2, "Full", [LOCAL_ENTRY, LocalListEntry("B", "Blocked")]),
    c.SendLocalList(3, "Differential", [LOCAL_ENTRY], [LocalListEntry("GONE", "Accepted")]),
    c.GetLocalListVersion(),
]
UNSIGNED, SIGNED = SAMPLES[-8], SAMPLES[-7]
DIAGNOSTICS, SECURITY_LOG = SAMPLES[-6], SAMPLES[-5]


def response_schema(action: str) -> dict[str, Any]:
    """The official 1.6 response schema of `action`."""
    root = Path(str(importlib.metadata.distribution("ocpp").locate_file("ocpp")))
    schema: dict[str, Any] = orjson.loads((root / "v16" / "schemas" / f"{action}Response.json").read_bytes())
    return schema


def status_words(action: str) -> list[str]:
    """Every value of the response's `status` enum."""
    schema = response_schema(action)
    status = schema["properties"]["status"]
    if "$ref" in status:  # the security extension's (draft-06) schemas name their enums
        status = schema["definitions"][status["$ref"].removeprefix("#/definitions/")]
    words: list[str] = status["enum"]
    return words


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
    assert validate(V16, action, SchemaKind.RESPONSE, payload) is None
    return COMMANDS[type(command)].parse(command, payload)


def test_table_covers_every_command() -> None:
    """Every neutral command type but the 2.0.1-only CostUpdated and GetChargingProfiles has a 1.6
    translation (1.6 stations get nothing of TariffAndCost, and 1.6 has no GetChargingProfiles: these are
    NOT_SUPPORTED, nothing sent)."""
    assert set(COMMANDS) == set(typing.get_args(c.Command)) - {c.CostUpdated, c.GetChargingProfiles}
    assert {type(s) for s in SAMPLES} == set(COMMANDS)


@pytest.mark.parametrize("command", SAMPLES, ids=lambda s: type(s).__name__)
def test_built_payload_meets_the_request_schema(command: Any) -> None:
    """The built CALL validates against the official 1.6 request schema and carries no null."""
    action, payload = build(command)
    assert validate(V16, action, SchemaKind.REQUEST, payload) is None
    assert not has_none(payload)
    orjson.dumps(payload)  # the framing core can write it (no Decimal left)


STATUS_COMMANDS = [
    s
    for s in SAMPLES
    if not isinstance(
        s,
        c.DataTransfer
        | c.GetConfiguration
        | c.GetBaseReport
        | c.GetInstalledCertificateIds
        | c.GetLocalListVersion,
    )
    and s not in (UNSIGNED, DIAGNOSTICS)
]


@pytest.mark.parametrize("command", STATUS_COMMANDS, ids=lambda s: type(s).__name__)
def test_every_status_word_parses(command: Any) -> None:
    """Each status of the response schema comes back as the result's status, outcome ANSWERED."""
    action, _ = build(command)
    for word in status_words(action):
        result = parse(command, {"status": word})
        assert result.outcome is Outcome.ANSWERED and result.status == word and result.data == {}
        assert result.accepted == (word in ("Accepted", "Unlocked", "Scheduled"))


def test_start_session() -> None:
    """RemoteStartTransaction: idTag, connectorId only for an EVSE, a TxProfile only."""
    assert build(c.StartSession("TAG", 1)) == ("RemoteStartTransaction", {"idTag": "TAG"})
    assert build(c.StartSession("TAG", 1, evse_id=0))[1] == {"idTag": "TAG"}
    _, payload = build(c.StartSession("TAG", 1, evse_id=2, id_token_type="ISO14443", group_id_token="G"))
    assert payload == {"idTag": "TAG", "connectorId": 2}
    _, payload = build(c.StartSession("TAG", 1, charging_profile=profile("TxProfile")))
    assert payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    with pytest.raises(Inexpressible):
        build(c.StartSession("TAG", 1, charging_profile=profile("TxDefaultProfile")))


def test_stop_session_needs_an_integer_id() -> None:
    """RemoteStopTransaction carries the integer transactionId; a 2.0.1-style id cannot be sent."""
    assert build(c.StopSession("42")) == ("RemoteStopTransaction", {"transactionId": 42})
    with pytest.raises(Inexpressible):
        build(c.StopSession("b6a1c0de-uuid"))


def test_reserve_now() -> None:
    """ReserveNow: connector 0 for any EVSE, expiry in RFC 3339 Z, the group as parentIdTag."""
    assert build(c.ReserveNow(5, EXPIRY, "TAG")) == (
        "ReserveNow",
        {"connectorId": 0, "expiryDate": "2025-03-04T05:06:07.890Z", "idTag": "TAG", "reservationId": 5},
    )
    _, payload = build(c.ReserveNow(5, EXPIRY, "TAG", evse_id=2, group_id_token="G", connector_type="cType2"))
    assert payload["connectorId"] == 2 and payload["parentIdTag"] == "G" and "connectorType" not in payload
    assert build(c.CancelReservation(5)) == ("CancelReservation", {"reservationId": 5})


def test_reset_kinds_and_evse() -> None:
    """soft / on_idle → Soft, hard / immediate → Hard; a single EVSE cannot be reset in 1.6."""
    kinds = {kind: build(c.Reset(kind))[1]["type"] for kind in c.ResetKind}
    assert kinds == {
        c.ResetKind.SOFT: "Soft",
        c.ResetKind.ON_IDLE: "Soft",
        c.ResetKind.HARD: "Hard",
        c.ResetKind.IMMEDIATE: "Hard",
    }
    with pytest.raises(Inexpressible):
        build(c.Reset(c.ResetKind.HARD, evse_id=1))


def test_connector_words() -> None:
    """EVSE N is connector N (connector 1 only); EVSE 0 is the charge point."""
    assert build(c.ChangeAvailability(False)) == (
        "ChangeAvailability",
        {"connectorId": 0, "type": "Inoperative"},
    )
    assert build(c.ChangeAvailability(True, evse_id=2))[1] == {"connectorId": 2, "type": "Operative"}
    assert build(c.UnlockConnector(3)) == ("UnlockConnector", {"connectorId": 3})
    assert build(c.TriggerMessage("Heartbeat")) == ("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert build(c.TriggerMessage("MeterValues", evse_id=2))[1] == {
        "requestedMessage": "MeterValues",
        "connectorId": 2,
    }
    for command in (c.UnlockConnector(1, connector_id=2), c.ChangeAvailability(True, 1, connector_id=2)):
        with pytest.raises(Inexpressible):
            build(command)


def test_data_transfer_data_is_a_string() -> None:
    """1.6 DataTransfer.data is a string: strings go as they are, anything else JSON-encoded."""
    assert build(c.DataTransfer("V", data="raw text"))[1] == {"vendorId": "V", "data": "raw text"}
    _, payload = build(c.DataTransfer("V", message_id="M", data={"limit": Decimal("7.5"), "on": True}))
    assert payload["messageId"] == "M"
    assert orjson.loads(payload["data"]) == {"limit": 7.5, "on": True}
    for word in status_words("DataTransfer"):
        result = parse(c.DataTransfer("V"), {"status": word, "data": "x"})
        assert result.status == word and result.data == {"data": "x"}
    assert parse(c.DataTransfer("V"), {"status": "Accepted"}).data == {}


def test_get_configuration() -> None:
    """GetConfiguration of some or all keys; the answer lists values (None when hidden) and unknown keys."""
    assert build(c.GetConfiguration()) == ("GetConfiguration", {})
    assert build(c.GetConfiguration(["A", "B"])) == ("GetConfiguration", {"key": ["A", "B"]})
    answer = {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "AuthorizationKey", "readonly": False},
        ],
        "unknownKey": ["Nope"],
    }
    result = parse(c.GetConfiguration(["HeartbeatInterval", "AuthorizationKey", "Nope"]), answer)
    assert result.outcome is Outcome.ANSWERED and result.status == "Accepted" and result.accepted
    assert result.data == {
        "configuration": [
            {"key": "HeartbeatInterval", "value": "300", "readonly": False},
            {"key": "AuthorizationKey", "value": None, "readonly": False},
        ],
        "unknown_keys": ["Nope"],
    }
    assert parse(c.GetConfiguration(), {}).data == {"configuration": [], "unknown_keys": []}


def test_change_configuration() -> None:
    """ChangeConfiguration of one key; every status word comes back."""
    assert build(c.ChangeConfiguration("K", "V")) == ("ChangeConfiguration", {"key": "K", "value": "V"})
    for word in status_words("ChangeConfiguration"):
        assert parse(c.ChangeConfiguration("K", "V"), {"status": word}).status == word


def test_get_base_report_is_get_configuration_of_everything() -> None:
    """1.6 has no GetBaseReport: every key is read, answered Accepted with the configuration."""
    command = c.GetBaseReport(9, "ConfigurationInventory")
    assert build(command) == ("GetConfiguration", {})
    result = parse(command, {"configurationKey": [{"key": "K", "readonly": True, "value": "1"}]})
    assert result.status == "Accepted"
    assert result.data == {
        "configuration": [{"key": "K", "value": "1", "readonly": True}],
        "unknown_keys": [],
        "request_id": 9,
    }
    assert COMMANDS[c.GetBaseReport].record is not None and COMMANDS[c.GetConfiguration].record is not None


def test_set_charging_profile() -> None:
    """csChargingProfiles in 1.6 words: ChargePointMaxProfile, integer transactionId, limits in tenths."""
    action, payload = build(c.SetChargingProfile(1, FULL_PROFILE))
    assert action == "SetChargingProfile"
    assert payload == {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Recurring",
            "transactionId": 42,
            "recurrencyKind": "Daily",
            "validFrom": "2025-03-04T05:06:07.890Z",
            "validTo": "2025-03-04T05:06:07.890Z",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 16.1},
                    {"startPeriod": 600, "limit": 32, "numberPhases": 3},
                ],
                "duration": 3600,
                "startSchedule": "2025-03-04T05:06:07.890Z",
                "minChargingRate": 6.2,
            },
        },
    }
    assert orjson.dumps(payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]) == (
        b'[{"startPeriod":0,"limit":16.1},{"startPeriod":600,"limit":32,"numberPhases":3}]'
    )
    _, payload = build(c.SetChargingProfile(0, profile("ChargingStationMaxProfile")))
    assert payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    for bad in (
        c.SetChargingProfile(0, profile("ChargingStationExternalConstraints")),
        c.SetChargingProfile(1, profile(ocpp_transaction_id="uuid-1")),
    ):
        with pytest.raises(Inexpressible):
            build(bad)


@pytest.mark.parametrize("limit", ["0.3", "0.7", "10.1", "16.19", "99999.99", "7", "1E+2", "0.05"])
def test_limits_pass_the_multiple_of_check(limit: str) -> None:
    """Any Decimal limit becomes a number the 1.6 schema's multipleOf 0.1 accepts."""
    command = c.SetChargingProfile(1, profile(periods=[c.ChargingSchedulePeriod(0, Decimal(limit))]))
    action, payload = build(command)
    assert validate(V16, action, SchemaKind.REQUEST, payload) is None
    sent = payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
    assert Decimal(str(sent)) == Decimal(limit).quantize(Decimal("0.1"), rounding="ROUND_DOWN")


def test_json_numbers() -> None:
    """Decimals become int when integral, else the float whose shortest text is the decimal's."""
    assert json_number(Decimal("32.0")) == 32 and isinstance(json_number(Decimal("32.0")), int)
    assert orjson.dumps(json_number(Decimal("16.1"))) == b"16.1"
    assert tenths(Decimal("16.19")) == 16.1 and tenths(Decimal("0.09")) == 0
    with pytest.raises(Inexpressible):
        json_number(Decimal("NaN"))


def test_clear_charging_profile() -> None:
    """ClearChargingProfile by id, connector, purpose (1.6 word) and stack level; nothing: everything."""
    assert build(c.ClearChargingProfile()) == ("ClearChargingProfile", {})
    _, payload = build(c.ClearChargingProfile(7, 0, "ChargingStationMaxProfile", 2))
    assert payload == {
        "id": 7,
        "connectorId": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "stackLevel": 2,
    }


class FakeDeviceModelStore:
    """An in-memory DeviceModelStore that keeps the upserted rows."""

    def __init__(self) -> None:
        self.rows: list[DeviceVariable] = []

    async def upsert_device_variables(self, variables: Sequence[DeviceVariable]) -> None:
        self.rows.extend(variables)

    async def list_device_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        return [r for r in self.rows if r.charge_point_id == charge_point_id]


async def test_configuration_is_recorded_as_device_model() -> None:
    """A 1.6 configuration becomes component-less device variables stamped with the clock."""
    store = FakeDeviceModelStore()
    service = DeviceModelService(store, lambda: EXPIRY)
    configuration: list[dict[str, Any]] = [
        {"key": "HeartbeatInterval", "value": "300", "readonly": False},
        {"key": "NumberOfConnectors", "value": "2", "readonly": True},
        {"key": "Hidden", "value": None, "readonly": False},
    ]
    await service.record_configuration("CP", configuration)
    await service.record_configuration("CP", [])
    rows = await service.list_variables("CP")
    assert [(r.component, r.variable, r.value, r.readonly, r.updated_at) for r in rows] == [
        (None, "HeartbeatInterval", "300", False, EXPIRY),
        (None, "NumberOfConnectors", "2", True, EXPIRY),
        (None, "Hidden", None, False, EXPIRY),
    ]


def test_update_firmware_plain_or_signed() -> None:
    """Unsigned firmware is UpdateFirmware (location, retrieveDate, retries, retryInterval; its empty answer
    is Accepted); signed firmware is the security extension's SignedUpdateFirmware with requestId and the
    certificate and signature."""
    assert build(c.UpdateFirmware(3, "https://x/fw.bin", EXPIRY, retries=2, retry_interval=30)) == (
        "UpdateFirmware",
        {
            "location": "https://x/fw.bin",
            "retrieveDate": "2025-03-04T05:06:07.890Z",
            "retries": 2,
            "retryInterval": 30,
        },
    )
    assert parse(UNSIGNED, {}).accepted
    action, payload = build(SIGNED)
    assert action == "SignedUpdateFirmware" and payload["requestId"] == 3
    assert payload["firmware"] == {
        "location": "https://x/fw.bin",
        "retrieveDateTime": "2025-03-04T05:06:07.890Z",
        "installDateTime": "2025-03-04T05:06:07.890Z",
        "signingCertificate": "PEM",
        "signature": "c2ln",
    }
    assert parse(SIGNED, {"status": "InvalidCertificate"}).status == "InvalidCertificate"


def test_logs_are_get_diagnostics_or_get_log() -> None:
    """A diagnostics log is GetDiagnostics (its answer's fileName kept, Accepted; none: Rejected); a security
    log is the extension's GetLog with logType, requestId and log.remoteLocation."""
    action, payload = build(DIAGNOSTICS)
    assert (action, payload) == ("GetDiagnostics", {"location": "https://csms.example/files/logs/t"})
    result = parse(DIAGNOSTICS, {"fileName": "diag.log"})
    assert result.accepted and result.data == {"filename": "diag.log"}
    assert parse(DIAGNOSTICS, {}).status == "Rejected"  # no fileName: nothing to upload
    action, payload = build(SECURITY_LOG)
    assert action == "GetLog" and payload["logType"] == "SecurityLog" and payload["requestId"] == 4
    assert payload["log"]["remoteLocation"] == "https://csms.example/files/logs/t"
    assert parse(SECURITY_LOG, {"status": "Accepted", "filename": "s.log"}).data == {"filename": "s.log"}


def test_v2g_certificate_is_not_sent_to_a_16_station() -> None:
    """1.6 CertificateSigned has no certificate type: a V2G chain is Inexpressible, nothing is sent."""
    with pytest.raises(Inexpressible):
        build(c.CertificateSigned("chain", "V2GCertificate"))


def test_certificate_types_16() -> None:
    """1.6 names the CSMS root CentralSystemRootCertificate, has no V2G roots, and lists one type at a time;
    the hash data come back in domain words."""
    install = build(c.InstallCertificate("CSMSRootCertificate", "PEM"))
    assert install == (
        "InstallCertificate",
        {"certificateType": "CentralSystemRootCertificate", "certificate": "PEM"},
    )
    with pytest.raises(Inexpressible):
        build(c.InstallCertificate("V2GRootCertificate", "PEM"))
    with pytest.raises(Inexpressible):
        build(c.GetInstalledCertificateIds())
    command = c.GetInstalledCertificateIds(["ManufacturerRootCertificate"])
    item = {"hashAlgorithm": "SHA256", "issuerNameHash": "n", "issuerKeyHash": "k", "serialNumber": "1f"}
    result = parse(command, {"status": "Accepted", "certificateHashData": [item]})
    assert result.data["certificates"] == [
        {
            "certificate_type": "ManufacturerRootCertificate",
            "hash_algorithm": "SHA256",
            "issuer_name_hash": "n",
            "issuer_key_hash": "k",
            "serial_number": "1f",
        }
    ]


def test_send_local_list_16() -> None:
    """SendLocalList carries listVersion, updateType and {idTag, idTagInfo{status, expiryDate,
    parentIdTag}}; a removed entry is an idTag alone; an empty Full list has no localAuthorizationList."""
    assert build(SAMPLES[-4]) == ("SendLocalList", {"listVersion": 1, "updateType": "Full"})
    assert build(SAMPLES[-2]) == (
        "SendLocalList",
        {
            "listVersion": 3,
            "updateType": "Differential",
            "localAuthorizationList": [
                {
                    "idTag": "TAG-1",
                    "idTagInfo": {
                        "status": "Accepted",
                        "expiryDate": "2025-03-04T05:06:07.890Z",
                        "parentIdTag": "GROUP",
                    },
                },
                {"idTag": "GONE"},
            ],
        },
    )
    result = parse(SAMPLES[-2], {"status": "VersionMismatch"})
    assert result.status == "VersionMismatch" and not result.accepted


def test_get_local_list_version_16() -> None:
    """GetLocalListVersion has no fields; its listVersion is the result's data["version"]."""
    assert build(c.GetLocalListVersion()) == ("GetLocalListVersion", {})
    result = parse(c.GetLocalListVersion(), {"listVersion": 7})
    assert result.accepted and result.data == {"version": 7}
    assert parse(c.GetLocalListVersion(), {"listVersion": -1}).data == {"version": -1}


def test_get_composite_schedule() -> None:
    """GetCompositeSchedule of connector = EVSE; an Accepted answer becomes the schedule in domain words
    (scheduleStart as UTC datetime, limits as Decimal, connectorId as EVSE); Rejected carries none."""
    assert build(c.GetCompositeSchedule(0, 600, "A")) == (
        "GetCompositeSchedule",
        {"connectorId": 0, "duration": 600, "chargingRateUnit": "A"},
    )
    assert build(c.GetCompositeSchedule(2, 60))[1] == {"connectorId": 2, "duration": 60}
    command = c.GetCompositeSchedule(1, 3600)
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2025-03-04T05:06:07Z",
        "chargingSchedule": {
            "duration": 3600,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 11000},
                {"startPeriod": 900, "limit": 7400.5, "numberPhases": 3},
            ],
        },
    }
    result = parse(command, answer)
    assert result.accepted
    schedule = c.composite_schedule_of(result)
    assert schedule == c.CompositeSchedule(
        evse_id=1,
        start=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
        rate_unit="W",
        periods=[
            c.ChargingSchedulePeriod(0, Decimal("11000")),
            c.ChargingSchedulePeriod(900, Decimal("7400.5"), 3),
        ],
        duration=3600,
    )
    # Without scheduleStart the schedule's own startSchedule is the start.
    del answer["scheduleStart"]
    answer["chargingSchedule"]["startSchedule"] = "2025-03-04T06:00:00+01:00"  # type: ignore[index]
    schedule = c.composite_schedule_of(parse(command, answer))
    assert schedule is not None and schedule.start == datetime(2025, 3, 4, 5, 0, tzinfo=UTC)
    rejected = parse(command, {"status": "Rejected"})
    assert rejected.status == "Rejected" and c.composite_schedule_of(rejected) is None
