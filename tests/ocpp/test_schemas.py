"""Tests for validation against the official OCPP JSON schemas, including the rule → error-kind table."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from csms.ocpp import schemas
from csms.ocpp.errors import ErrorKind, error_code_for
from csms.ocpp.schemas import RULE_KINDS, SchemaKind, SchemaViolation, has_schema, schema_actions, validate
from csms.ocpp.versions import OcppVersion

V16 = OcppVersion.V16
V201 = OcppVersion.V201
REQ = SchemaKind.REQUEST
RES = SchemaKind.RESPONSE

BOOT_16 = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}
BOOT_201 = {"chargingStation": {"model": "Model", "vendorName": "Vendor"}, "reason": "PowerUp"}


def violation(
    version: OcppVersion, action: str, kind: SchemaKind, payload: dict[str, Any]
) -> SchemaViolation:
    """Validate and assert that a violation came back."""
    result = validate(version, action, kind, payload)
    assert result is not None
    assert len(result.description) <= 255
    return result


def charging_profile_16(limits: list[Any], min_charging_rate: Any = None) -> dict[str, Any]:
    """Return a 1.6 SetChargingProfile request with the given period limits."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 60 * i, "limit": limit} for i, limit in enumerate(limits)],
    }
    if min_charging_rate is not None:
        schedule["minChargingRate"] = min_charging_rate
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": schedule,
        },
    }


# ----------------------------------------------------------------------------- the schema set


@pytest.mark.parametrize(("version", "count"), [(V16, 39), (V201, 64)])
def test_every_shipped_schema_compiles(version: OcppVersion, count: int) -> None:
    """All 78 (1.6) and 128 (2.0.1) schema files load and compile, and validate a payload."""
    actions = schema_actions(version)
    assert len(actions) == count  # request + response each: 78 and 128 files
    for action in sorted(actions):
        for kind in SchemaKind:
            result = validate(version, action, kind, {})
            assert result is None or isinstance(result.kind, ErrorKind)


def test_has_schema() -> None:
    """has_schema knows each version's actions and nothing else."""
    assert has_schema(V16, "BootNotification")
    assert has_schema(V16, "RemoteStartTransaction")
    assert not has_schema(V16, "TransactionEvent")
    assert has_schema(V201, "TransactionEvent")
    assert not has_schema(V201, "BootNotificationRequest")
    assert not has_schema(V201, "bootnotification")
    assert not has_schema(V16, "../v201/schemas/BootNotificationRequest")


def test_unknown_action_raises_key_error() -> None:
    """validate raises KeyError for an action without a schema, instead of touching the filesystem."""
    with pytest.raises(KeyError):
        validate(V16, "../../../etc/passwd", REQ, {})
    with pytest.raises(KeyError):
        validate(V201, "StartTransaction", REQ, {})


def test_plain_strings_work_as_version_and_kind() -> None:
    """The subprotocol and kind strings are accepted in place of the enums."""
    assert validate("ocpp1.6", "BootNotification", "request", BOOT_16) is None  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- valid payloads


def test_valid_boot_notification_v16() -> None:
    """A valid 1.6 BootNotification request and response pass."""
    assert validate(V16, "BootNotification", REQ, BOOT_16) is None
    response = {"status": "Accepted", "currentTime": "2024-05-01T12:00:00Z", "interval": 300}
    assert validate(V16, "BootNotification", RES, response) is None


def test_valid_boot_notification_v201() -> None:
    """A valid 2.0.1 BootNotification request (with customData) and response pass."""
    payload = copy.deepcopy(BOOT_201)
    payload["customData"] = {"vendorId": "acme", "anything": [1, 2]}
    assert validate(V201, "BootNotification", REQ, payload) is None
    response = {"status": "Accepted", "currentTime": "2024-05-01T12:00:00.123+02:00", "interval": 300}
    assert validate(V201, "BootNotification", RES, response) is None


def test_validation_does_not_fill_defaults() -> None:
    """Validating leaves the payload untouched; schema defaults are not inserted."""
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "2024-05-01T12:00:00Z", "sampledValue": [{"value": 1.5}]}],
    }
    before = copy.deepcopy(payload)
    assert validate(V201, "MeterValues", REQ, payload) is None
    assert payload == before


# ----------------------------------------------------------------------------- rule → error kind


def test_type_violation() -> None:
    """A wrong JSON type maps to TYPE (TypeConstraintViolation)."""
    result = violation(V16, "BootNotification", REQ, {**BOOT_16, "chargePointVendor": 5})
    assert result.kind is ErrorKind.TYPE
    assert result.description == "type: data.chargePointVendor must be string"
    assert error_code_for(V16, result.kind) == "TypeConstraintViolation"


def test_boolean_is_not_an_integer() -> None:
    """true is rejected where the schema wants an integer."""
    response = {"status": "Accepted", "currentTime": "2024-05-01T12:00:00Z", "interval": True}
    result = violation(V16, "BootNotification", RES, response)
    assert result.kind is ErrorKind.TYPE


@pytest.mark.parametrize(
    ("version", "code"), [(V16, "OccurenceConstraintViolation"), (V201, "OccurrenceConstraintViolation")]
)
def test_required_violation(version: OcppVersion, code: str) -> None:
    """A missing required property maps to OCCURRENCE."""
    payload = (
        {"chargePointVendor": "V"}
        if version is V16
        else {"chargingStation": {"model": "M", "vendorName": "V"}}
    )
    result = violation(version, "BootNotification", REQ, payload)
    assert result.kind is ErrorKind.OCCURRENCE
    assert result.description.startswith("required: data must contain")
    assert error_code_for(version, result.kind) == code


@pytest.mark.parametrize(("version", "payload"), [(V16, BOOT_16), (V201, BOOT_201)])
def test_additional_properties_violation(version: OcppVersion, payload: dict[str, Any]) -> None:
    """An undeclared property maps to OCCURRENCE in both versions."""
    result = violation(version, "BootNotification", REQ, {**payload, "heartbeatInterval": 300})
    assert result.kind is ErrorKind.OCCURRENCE
    assert result.description.startswith("additionalProperties:")
    assert "heartbeatInterval" in result.description


def test_enum_violation() -> None:
    """A value outside an enum maps to PROPERTY (PropertyConstraintViolation)."""
    result = violation(V201, "BootNotification", REQ, {**BOOT_201, "reason": "Bored"})
    assert result.kind is ErrorKind.PROPERTY
    assert result.description.startswith("enum: data.reason must be one of")
    assert error_code_for(V201, result.kind) == "PropertyConstraintViolation"


@pytest.mark.parametrize(
    ("version", "payload", "field"),
    [
        (V16, {**BOOT_16, "chargePointVendor": "x" * 21}, "data.chargePointVendor"),
        (
            V201,
            {**BOOT_201, "chargingStation": {"model": "M" * 21, "vendorName": "V"}},
            "data.chargingStation.model",
        ),
    ],
)
def test_max_length_violation(version: OcppVersion, payload: dict[str, Any], field: str) -> None:
    """A too-long string maps to PROPERTY and the description names the field path."""
    result = violation(version, "BootNotification", REQ, payload)
    assert result.kind is ErrorKind.PROPERTY
    assert result.description.startswith(f"maxLength: {field} must be shorter than or equal to 20")


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-05-01 12:00:00", "2024-05-01T12:00:00"])
def test_date_time_format_violation(timestamp: str) -> None:
    """A timestamp that is not RFC 3339 date-time maps to PROPERTY."""
    payload = {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": timestamp}
    result = violation(V16, "StartTransaction", REQ, payload)
    assert result.kind is ErrorKind.PROPERTY
    assert result.description == "format: data.timestamp must be date-time"


def test_min_items_violation() -> None:
    """An array shorter than minItems maps to PROPERTY."""
    result = violation(V201, "MeterValues", REQ, {"evseId": 1, "meterValue": []})
    assert result.kind is ErrorKind.PROPERTY
    assert result.description.startswith("minItems:")


def test_unlisted_rule_maps_to_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema keyword missing from the table (here uniqueItems) maps to FORMAT."""
    assert "uniqueItems" not in RULE_KINDS
    compiled = schemas._Compiled(jsonschema_rs.Draft6Validator({"type": "array", "uniqueItems": True}), ())
    monkeypatch.setitem(schemas._cache, (V201, "Fake", REQ), compiled)
    result = violation(V201, "Fake", REQ, [1, 1])  # type: ignore[arg-type]
    assert result.kind is ErrorKind.FORMAT
    assert error_code_for(V16, result.kind) == "FormationViolation"
    assert error_code_for(V201, result.kind) == "FormatViolation"


def test_description_is_truncated_to_255() -> None:
    """A long message (here a 400-character property name) is cut to 255 characters."""
    result = violation(V16, "BootNotification", REQ, {**BOOT_16, "x" * 400: 1})
    assert len(result.description) == 255
    assert result.description.startswith("additionalProperties:")


def test_required_lists_every_missing_property() -> None:
    """A required violation names all properties missing from that object, sorted, also behind a $ref."""
    result = violation(V16, "BootNotification", REQ, {})
    assert result.description == (
        "required: data must contain ['chargePointModel', 'chargePointVendor'] properties"
    )
    result = violation(V201, "BootNotification", REQ, {"chargingStation": {}, "reason": "PowerUp"})
    assert result.kind is ErrorKind.OCCURRENCE
    assert result.description == (
        "required: data.chargingStation must contain ['model', 'vendorName'] properties"
    )


def test_additional_properties_are_listed_sorted() -> None:
    """All undeclared properties are named, in a stable (sorted) order."""
    result = violation(V16, "BootNotification", REQ, {**BOOT_16, "zz": 1, "aa": 2})
    assert result.description == "additionalProperties: data must not contain ['aa', 'zz'] properties"


def test_integer_follows_the_declared_draft() -> None:
    """1.0 is no integer in the draft-04 1.6 schemas but is one in the draft-06 2.0.1 schemas."""
    status_16 = {"connectorId": 1.0, "errorCode": "NoError", "status": "Available"}
    assert violation(V16, "StatusNotification", REQ, status_16).kind is ErrorKind.TYPE
    status_201 = {"timestamp": "2024-05-01T12:00:00Z", "connectorStatus": "Available", "evseId": 1.0}
    assert validate(V201, "StatusNotification", REQ, {**status_201, "connectorId": 1}) is None
    result = violation(V201, "StatusNotification", REQ, {**status_201, "connectorId": 1.5})
    assert result.kind is ErrorKind.TYPE


def test_each_schema_is_compiled_for_its_declared_draft() -> None:
    """The validator class follows $schema: 1.6 has draft-04 and draft-06 files, 2.0.1 draft-06 ones."""
    expected = {
        (V16, "BootNotification"): jsonschema_rs.Draft4Validator,
        (V16, "CertificateSigned"): jsonschema_rs.Draft6Validator,
        (V201, "BootNotification"): jsonschema_rs.Draft6Validator,
    }
    for (version, action), cls in expected.items():
        validate(version, action, REQ, {})
        assert type(schemas._cache[(version, action, REQ)].validator) is cls


def test_unknown_draft_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema declaring a draft we have no validator class for is refused, not guessed at."""
    monkeypatch.setattr(schemas, "_DRAFTS", {})
    with pytest.raises(ValueError, match=r"unsupported \$schema"):
        schemas._compile(V16, "Heartbeat", REQ)


def test_several_errors_report_the_first_deterministically() -> None:
    """With many errors the same first one is reported every time (validation stops there)."""
    sampled = [{"value": 5}] * 5000
    meter_value = {"timestamp": "2024-05-01T12:00:00Z", "sampledValue": sampled}
    payload = {"connectorId": 1, "meterValue": [meter_value]}
    results = {violation(V16, "MeterValues", REQ, payload) for _ in range(3)}
    assert results == {
        SchemaViolation(ErrorKind.TYPE, "type: data.meterValue[0].sampledValue[0].value must be string")
    }


# ----------------------------------------------------------------------------- multipleOf with Decimal


@pytest.mark.parametrize("limit", [0.3, 0.7, 1.1, 32.3, 16, 0, 6.0, 1e20])
def test_multiple_of_accepts_decimal_multiples(limit: float) -> None:
    """Values that are exact decimal multiples of 0.1 pass, though 0.3 / 0.1 is not integral in floats."""
    assert (
        validate(V16, "SetChargingProfile", REQ, charging_profile_16([limit], min_charging_rate=0.3)) is None
    )


@pytest.mark.parametrize("limit", [0.35, 0.05, 12.34, 0.30000000000000004])
def test_multiple_of_rejects_non_multiples(limit: float) -> None:
    """A limit that is not a multiple of 0.1 is a PROPERTY violation naming the array element."""
    result = violation(V16, "SetChargingProfile", REQ, charging_profile_16([16, limit]))
    assert result.kind is ErrorKind.PROPERTY
    assert result.description == (
        "multipleOf: data.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[1].limit"
        " must be multiple of 0.1"
    )


def test_multiple_of_min_charging_rate() -> None:
    """minChargingRate is checked too: 0.3 passes, 0.35 fails."""
    assert validate(V16, "SetChargingProfile", REQ, charging_profile_16([16], min_charging_rate=0.3)) is None
    result = violation(V16, "SetChargingProfile", REQ, charging_profile_16([16], min_charging_rate=0.35))
    assert result.kind is ErrorKind.PROPERTY
    assert "data.csChargingProfiles.chargingSchedule.minChargingRate" in result.description


def test_multiple_of_in_remote_start_and_composite_schedule() -> None:
    """multipleOf is also checked in RemoteStartTransaction and the GetCompositeSchedule response."""
    profile = charging_profile_16([0.35])["csChargingProfiles"]
    profile["chargingProfilePurpose"] = "TxProfile"
    result = violation(V16, "RemoteStartTransaction", REQ, {"idTag": "TAG", "chargingProfile": profile})
    assert "data.chargingProfile.chargingSchedule.chargingSchedulePeriod[0].limit" in result.description
    schedule = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0.3}]}
    response = {"status": "Accepted", "chargingSchedule": schedule}
    assert validate(V16, "GetCompositeSchedule", RES, response) is None
    schedule["chargingSchedulePeriod"][0]["limit"] = 0.35  # type: ignore[index]
    assert violation(V16, "GetCompositeSchedule", RES, response).kind is ErrorKind.PROPERTY


def test_multiple_of_is_removed_before_compiling() -> None:
    """The compiled 1.6 SetChargingProfile schema carries its two multipleOf checks on the side."""
    validate(V16, "SetChargingProfile", REQ, {})
    compiled = schemas._cache[(V16, "SetChargingProfile", REQ)]
    assert {check.path for check in compiled.multiple_of} == {
        ("csChargingProfiles", "chargingSchedule", "chargingSchedulePeriod", None, "limit"),
        ("csChargingProfiles", "chargingSchedule", "minChargingRate"),
    }


def test_extract_multiple_of_follows_refs_and_tuple_items() -> None:
    """multipleOf reached through $ref, items and positional items is extracted and checked with Decimal."""
    schema = {
        "definitions": {
            "Amount": {"type": "number", "multipleOf": 0.01},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}},
        },
        "type": "object",
        "properties": {
            "price": {"$ref": "#/definitions/Amount"},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "number", "multipleOf": 5}]},
            "tree": {"$ref": "#/definitions/Node"},
            "amounts": {"type": "array", "items": {"type": "number", "multipleOf": 0.5}},
            "broken": {"$ref": "#/definitions/Missing"},
        },
    }
    stripped, checks = schemas._extract_multiple_of(schema)
    assert "multipleOf" in schema["definitions"]["Amount"]  # type: ignore[index]  # the input is not modified
    assert "multipleOf" not in str(stripped)
    assert {(check.path, check.multiple) for check in checks} == {
        (("price",), Decimal("0.01")),
        (("pair", 1), Decimal("5")),
        (("amounts", None), Decimal("0.5")),
    }
    check = schemas._check_multiple_of
    assert check(checks, {"price": 19.99, "pair": ["a", 15]}) is None
    assert check(checks, {"pair": ["a"]}) is None  # absent values are not checked
    assert check(checks, {"price": "n/a", "pair": "x", "amounts": "y"}) is None  # types: the schema's job
    assert check(checks, {"amounts": [1, 1.5, 2.0]}) is None
    bad = check(checks, {"amounts": [1, 1.5, 0.7]})
    assert bad is not None and "data.amounts[2] must be multiple of 0.5" in bad.description
    bad = check(checks, {"price": 1.005})
    assert bad is not None and "data.price must be multiple of 0.01" in bad.description
    bad = check(checks, {"pair": ["a", 7]})
    assert bad is not None and "data.pair[1] must be multiple of 5" in bad.description
    bad = check(checks, {"price": float("inf")})
    assert bad is not None


def test_extract_multiple_of_refuses_unreachable_keyword() -> None:
    """A multipleOf that no payload path leads to (inside anyOf) is refused rather than silently dropped."""
    schema = {"anyOf": [{"type": "number", "multipleOf": 0.5}, {"type": "string"}]}
    with pytest.raises(ValueError, match="multipleOf"):
        schemas._extract_multiple_of(schema)
