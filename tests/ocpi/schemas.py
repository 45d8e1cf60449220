"""JSON Schemas (draft 2020-12) of the OCPI 2.2.1 objects the CPO emits, and helpers to check objects.

Written from the OCPI 2.2.1 object definitions (d2 errata line; see /work/shared/docs/ocpi-2.2.1.md): required
fields, enums, string lengths (`string(n)` / `CiString(n)` → maxLength n, CiString printable ASCII), types,
and no unknown fields (`additionalProperties: false`), so a typo in a field name fails a test.

Usage from any test:

    from tests.ocpi.schemas import assert_valid, assert_valid_patch
    assert_valid("Location", location)        # a full object
    assert_valid_patch("Session", patch_body)  # a PATCH body: any subset of fields, `last_updated` required

Kinds: Location, EVSE, Connector, Session, CDR, Tariff, Token, CdrToken, CdrLocation, ChargingPeriod, Price,
DisplayText, Hours, EnergyMix, BusinessDetails, Credentials, Version, VersionDetails, CommandResponse,
CommandResult, AuthorizationInfo, ClientInfo, Envelope.

Beyond the schemas, `assert_valid` checks two OCPI transport rules JSON Schema cannot express well: numbers
carry at most 4 decimals (OCPI 2.2.1 "Numbers"), and every DateTime we emit is UTC ending in `Z` (the
DateTime pattern below requires the `Z`, which the spec allows to omit but we always send).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

# -- scalar helpers -----------------------------------------------------------------------------------


def _string(n: int) -> dict[str, Any]:
    """OCPI string(n): UTF-8 text of at most n characters."""
    return {"type": "string", "maxLength": n}


def _cistring(n: int) -> dict[str, Any]:
    """OCPI CiString(n): case-insensitive printable ASCII of at most n characters."""
    return {"type": "string", "maxLength": n, "pattern": r"^[\x20-\x7E]*$"}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _array(items: dict[str, Any], *, min_items: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    return schema


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A closed object: the `required` fields must be present, only those and the `optional` ones allowed."""
    properties = {**required, **(optional or {})}
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


NUMBER = {"type": "number"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
URL = _string(255)
# OCPI DateTime: string(25), RFC 3339 in UTC; we always end in Z (fractions allowed, never an offset).
DATETIME = {
    "type": "string",
    "maxLength": 25,
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$",
}

# eMI3 EVSE ID (e.g. BE*BEC*E041503001), or the DIN SPEC 91286 form (+49*810*000*438) OCPI also allows.
EVSE_ID_PATTERN = (
    r"^([A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9*]{1,30}|\+?[0-9]{1,3}\*[0-9]{3}\*[0-9*]{1,32})$"
)

# -- enums (OCPI 2.2.1) --------------------------------------------------------------------------------

STATUS = _enum(
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)
CAPABILITY = _enum(
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
)
CONNECTOR_TYPE = _enum(
    "CHADEMO",
    "CHAOJI",
    *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKLMNO"),
    "GBT_AC",
    "GBT_DC",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
)
CONNECTOR_FORMAT = _enum("SOCKET", "CABLE")
POWER_TYPE = _enum("AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC")
PARKING_TYPE = _enum(
    "ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"
)
PARKING_RESTRICTION = _enum("EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES")
FACILITY = _enum(
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
)
IMAGE_CATEGORY = _enum("CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER")
ENERGY_SOURCE_CATEGORY = _enum(
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"
)
ENVIRONMENTAL_IMPACT_CATEGORY = _enum("NUCLEAR_WASTE", "CARBON_DIOXIDE")
TOKEN_TYPE = _enum("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
WHITELIST_TYPE = _enum("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")
PROFILE_TYPE = _enum("CHEAP", "FAST", "GREEN", "REGULAR")
AUTH_METHOD = _enum("AUTH_REQUEST", "COMMAND", "WHITELIST")
SESSION_STATUS = _enum("ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION")
CDR_DIMENSION_TYPE = _enum(
    "CURRENT",
    "ENERGY",
    "ENERGY_EXPORT",
    "ENERGY_IMPORT",
    "MAX_CURRENT",
    "MIN_CURRENT",
    "MAX_POWER",
    "MIN_POWER",
    "PARKING_TIME",
    "POWER",
    "RESERVATION_TIME",
    "STATE_OF_CHARGE",
    "TIME",
)
TARIFF_TYPE = _enum("AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR")
TARIFF_DIMENSION_TYPE = _enum("ENERGY", "FLAT", "PARKING_TIME", "TIME")
DAY_OF_WEEK = _enum("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
RESERVATION_RESTRICTION = _enum("RESERVATION", "RESERVATION_EXPIRES")
ROLE = _enum("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")
MODULE_ID = _enum(
    "cdrs",
    "chargingprofiles",
    "commands",
    "credentials",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
)
INTERFACE_ROLE = _enum("SENDER", "RECEIVER")
VERSION_NUMBER = _enum("2.0", "2.1", "2.1.1", "2.2", "2.2.1")
COMMAND_RESPONSE_TYPE = _enum("NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION")
COMMAND_RESULT_TYPE = _enum(
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
)
ALLOWED_TYPE = _enum("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")
CONNECTION_STATUS = _enum("CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED")

# -- object definitions ---------------------------------------------------------------------------------

DEFS: dict[str, dict[str, Any]] = {
    "DisplayText": _object({"language": _string(2), "text": _string(512)}),
    "Price": _object({"excl_vat": NUMBER}, {"incl_vat": NUMBER}),
    "GeoLocation": _object(
        {
            "latitude": {"type": "string", "maxLength": 10, "pattern": r"^-?[0-9]{1,2}\.[0-9]{5,7}$"},
            "longitude": {"type": "string", "maxLength": 11, "pattern": r"^-?[0-9]{1,3}\.[0-9]{5,7}$"},
        }
    ),
    "AdditionalGeoLocation": _object(
        {
            "latitude": {"type": "string", "maxLength": 10, "pattern": r"^-?[0-9]{1,2}\.[0-9]{5,7}$"},
            "longitude": {"type": "string", "maxLength": 11, "pattern": r"^-?[0-9]{1,3}\.[0-9]{5,7}$"},
        },
        {"name": _ref("DisplayText")},
    ),
    "Image": _object(
        {"url": URL, "category": IMAGE_CATEGORY, "type": _cistring(4)},
        {
            "thumbnail": URL,
            "width": {"type": "integer", "maximum": 99999},
            "height": {"type": "integer", "maximum": 99999},
        },
    ),
    "BusinessDetails": _object({"name": _string(100)}, {"website": URL, "logo": _ref("Image")}),
    "RegularHours": _object(
        {
            "weekday": {"type": "integer", "minimum": 1, "maximum": 7},
            "period_begin": {"type": "string", "pattern": r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"},
            "period_end": {"type": "string", "pattern": r"^([0-1][0-9]|2[0-4]):[0-5][0-9]$"},
        }
    ),
    "ExceptionalPeriod": _object({"period_begin": DATETIME, "period_end": DATETIME}),
    "Hours": _object(
        {"twentyfourseven": BOOL},
        {
            "regular_hours": _array(_ref("RegularHours")),
            "exceptional_openings": _array(_ref("ExceptionalPeriod")),
            "exceptional_closings": _array(_ref("ExceptionalPeriod")),
        },
    ),
    "EnergySource": _object({"source": ENERGY_SOURCE_CATEGORY, "percentage": NUMBER}),
    "EnvironmentalImpact": _object({"category": ENVIRONMENTAL_IMPACT_CATEGORY, "amount": NUMBER}),
    "EnergyMix": _object(
        {"is_green_energy": BOOL},
        {
            "energy_sources": _array(_ref("EnergySource")),
            "environ_impact": _array(_ref("EnvironmentalImpact")),
            "supplier_name": _string(64),
            "energy_product_name": _string(64),
        },
    ),
    "PublishTokenType": _object(
        {},
        {
            "uid": _cistring(36),
            "type": TOKEN_TYPE,
            "visual_number": _string(64),
            "issuer": _string(64),
            "group_id": _cistring(36),
        },
    ),
    "StatusSchedule": _object({"period_begin": DATETIME, "status": STATUS}, {"period_end": DATETIME}),
    "Connector": _object(
        {
            "id": _cistring(36),
            "standard": CONNECTOR_TYPE,
            "format": CONNECTOR_FORMAT,
            "power_type": POWER_TYPE,
            "max_voltage": INT,
            "max_amperage": INT,
            "last_updated": DATETIME,
        },
        {
            "max_electric_power": INT,
            "tariff_ids": _array(_cistring(36)),
            "terms_and_conditions": URL,
        },
    ),
    "EVSE": _object(
        {
            "uid": _cistring(36),
            "status": STATUS,
            "connectors": _array(_ref("Connector"), min_items=1),
            "last_updated": DATETIME,
        },
        {
            "evse_id": {**_cistring(48), "pattern": EVSE_ID_PATTERN},
            "status_schedule": _array(_ref("StatusSchedule")),
            "capabilities": _array(CAPABILITY),
            "floor_level": _string(4),
            "coordinates": _ref("GeoLocation"),
            "physical_reference": _string(16),
            "directions": _array(_ref("DisplayText")),
            "parking_restrictions": _array(PARKING_RESTRICTION),
            "images": _array(_ref("Image")),
        },
    ),
    "Location": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "id": _cistring(36),
            "publish": BOOL,
            "address": _string(45),
            "city": _string(45),
            "country": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "coordinates": _ref("GeoLocation"),
            "time_zone": _string(255),
            "last_updated": DATETIME,
        },
        {
            "publish_allowed_to": _array(_ref("PublishTokenType")),
            "name": _string(255),
            "postal_code": _string(10),
            "state": _string(20),
            "related_locations": _array(_ref("AdditionalGeoLocation")),
            "parking_type": PARKING_TYPE,
            "evses": _array(_ref("EVSE")),
            "directions": _array(_ref("DisplayText")),
            "operator": _ref("BusinessDetails"),
            "suboperator": _ref("BusinessDetails"),
            "owner": _ref("BusinessDetails"),
            "facilities": _array(FACILITY),
            "opening_times": _ref("Hours"),
            "charging_when_closed": BOOL,
            "images": _array(_ref("Image")),
            "energy_mix": _ref("EnergyMix"),
        },
    ),
    "CdrToken": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "uid": _cistring(36),
            "type": TOKEN_TYPE,
            "contract_id": _cistring(36),
        }
    ),
    "CdrDimension": _object({"type": CDR_DIMENSION_TYPE, "volume": NUMBER}),
    "ChargingPeriod": _object(
        {"start_date_time": DATETIME, "dimensions": _array(_ref("CdrDimension"), min_items=1)},
        {"tariff_id": _cistring(36)},
    ),
    "Session": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "id": _cistring(36),
            "start_date_time": DATETIME,
            "kwh": NUMBER,
            "cdr_token": _ref("CdrToken"),
            "auth_method": AUTH_METHOD,
            "location_id": _cistring(36),
            "evse_uid": _cistring(36),
            "connector_id": _cistring(36),
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "status": SESSION_STATUS,
            "last_updated": DATETIME,
        },
        {
            "end_date_time": DATETIME,
            "authorization_reference": _cistring(36),
            "meter_id": _string(255),
            "charging_periods": _array(_ref("ChargingPeriod")),
            "total_cost": _ref("Price"),
        },
    ),
    "PriceComponent": _object(
        {"type": TARIFF_DIMENSION_TYPE, "price": NUMBER, "step_size": INT}, {"vat": NUMBER}
    ),
    "TariffRestrictions": _object(
        {},
        {
            "start_time": {"type": "string", "pattern": r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"},
            "end_time": {"type": "string", "pattern": r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"},
            "start_date": {
                "type": "string",
                "pattern": r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            },
            "end_date": {
                "type": "string",
                "pattern": r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            },
            "min_kwh": NUMBER,
            "max_kwh": NUMBER,
            "min_current": NUMBER,
            "max_current": NUMBER,
            "min_power": NUMBER,
            "max_power": NUMBER,
            "min_duration": INT,
            "max_duration": INT,
            "day_of_week": _array(DAY_OF_WEEK),
            "reservation": RESERVATION_RESTRICTION,
        },
    ),
    "TariffElement": _object(
        {"price_components": _array(_ref("PriceComponent"), min_items=1)},
        {"restrictions": _ref("TariffRestrictions")},
    ),
    "Tariff": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "id": _cistring(36),
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "elements": _array(_ref("TariffElement"), min_items=1),
            "last_updated": DATETIME,
        },
        {
            "type": TARIFF_TYPE,
            "tariff_alt_text": _array(_ref("DisplayText")),
            "tariff_alt_url": URL,
            "min_price": _ref("Price"),
            "max_price": _ref("Price"),
            "start_date_time": DATETIME,
            "end_date_time": DATETIME,
            "energy_mix": _ref("EnergyMix"),
        },
    ),
    "CdrLocation": _object(
        {
            "id": _cistring(36),
            "address": _string(45),
            "city": _string(45),
            "country": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "coordinates": _ref("GeoLocation"),
            "evse_uid": _cistring(36),
            "evse_id": _cistring(48),
            "connector_id": _cistring(36),
            "connector_standard": CONNECTOR_TYPE,
            "connector_format": CONNECTOR_FORMAT,
            "connector_power_type": POWER_TYPE,
        },
        {"name": _string(255), "postal_code": _string(10), "state": _string(20)},
    ),
    "SignedValue": _object(
        {"nature": _cistring(32), "plain_data": _string(512), "signed_data": _string(5000)}
    ),
    "SignedData": _object(
        {"encoding_method": _cistring(36), "signed_values": _array(_ref("SignedValue"), min_items=1)},
        {"encoding_method_version": INT, "public_key": _string(512), "url": _string(512)},
    ),
    "CDR": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "id": _cistring(39),
            "start_date_time": DATETIME,
            "end_date_time": DATETIME,
            "cdr_token": _ref("CdrToken"),
            "auth_method": AUTH_METHOD,
            "cdr_location": _ref("CdrLocation"),
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "charging_periods": _array(_ref("ChargingPeriod"), min_items=1),
            "total_cost": _ref("Price"),
            "total_energy": NUMBER,
            "total_time": NUMBER,
            "last_updated": DATETIME,
        },
        {
            "session_id": _cistring(36),
            "authorization_reference": _cistring(36),
            "meter_id": _string(255),
            "tariffs": _array(_ref("Tariff")),
            "signed_data": _ref("SignedData"),
            "total_fixed_cost": _ref("Price"),
            "total_energy_cost": _ref("Price"),
            "total_time_cost": _ref("Price"),
            "total_parking_time": NUMBER,
            "total_parking_cost": _ref("Price"),
            "total_reservation_cost": _ref("Price"),
            "remark": _string(255),
            "invoice_reference_id": _cistring(39),
            "credit": BOOL,
            "credit_reference_id": _cistring(39),
            "home_charging_compensation": BOOL,
        },
    ),
    "EnergyContract": _object({"supplier_name": _string(64)}, {"contract_id": _cistring(64)}),
    "Token": _object(
        {
            "country_code": _cistring(2),
            "party_id": _cistring(3),
            "uid": _cistring(36),
            "type": TOKEN_TYPE,
            "contract_id": _cistring(36),
            "issuer": _string(64),
            "valid": BOOL,
            "whitelist": WHITELIST_TYPE,
            "last_updated": DATETIME,
        },
        {
            "visual_number": _string(64),
            "group_id": _cistring(36),
            "language": _string(2),
            "default_profile_type": PROFILE_TYPE,
            "energy_contract": _ref("EnergyContract"),
        },
    ),
    "LocationReferences": _object({"location_id": _cistring(36)}, {"evse_uids": _array(_cistring(36))}),
    "AuthorizationInfo": _object(
        {"allowed": ALLOWED_TYPE, "token": _ref("Token")},
        {
            "location": _ref("LocationReferences"),
            "authorization_reference": _cistring(36),
            "info": _ref("DisplayText"),
        },
    ),
    "CredentialsRole": _object(
        {
            "role": ROLE,
            "business_details": _ref("BusinessDetails"),
            "party_id": _cistring(3),
            "country_code": _cistring(2),
        }
    ),
    "Credentials": _object(
        {
            "token": {"type": "string", "maxLength": 64, "minLength": 1, "pattern": r"^[\x21-\x7E]+$"},
            "url": URL,
            "roles": _array(_ref("CredentialsRole"), min_items=1),
        }
    ),
    "Version": _object({"version": VERSION_NUMBER, "url": URL}),
    "Endpoint": _object({"identifier": MODULE_ID, "role": INTERFACE_ROLE, "url": URL}),
    "VersionDetails": _object(
        {"version": VERSION_NUMBER, "endpoints": _array(_ref("Endpoint"), min_items=1)}
    ),
    "CommandResponse": _object(
        {"result": COMMAND_RESPONSE_TYPE, "timeout": INT}, {"message": _array(_ref("DisplayText"))}
    ),
    "CommandResult": _object({"result": COMMAND_RESULT_TYPE}, {"message": _array(_ref("DisplayText"))}),
    "ClientInfo": _object(
        {
            "party_id": _cistring(3),
            "country_code": _cistring(2),
            "role": ROLE,
            "status": CONNECTION_STATUS,
            "last_updated": DATETIME,
        }
    ),
    "Envelope": _object(
        {"status_code": INT, "timestamp": DATETIME}, {"data": {}, "status_message": _string(255)}
    ),
}

KINDS: tuple[str, ...] = tuple(DEFS)


def schema_of(kind: str) -> dict[str, Any]:
    """The standalone JSON Schema of one kind (all definitions embedded under `$defs`)."""
    if kind not in DEFS:
        raise KeyError(f"unknown OCPI object kind {kind!r}; known: {', '.join(KINDS)}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": DEFS,
        **_ref(kind),
    }


def _patch_schema(kind: str) -> dict[str, Any]:
    """`kind` with no required field but `last_updated` (OCPI PATCH: changed fields + last_updated)."""
    defs = copy.deepcopy(DEFS)
    patched = defs[kind]
    patched["required"] = ["last_updated"] if "last_updated" in patched["properties"] else []
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs, **_ref(kind)}


@cache
def _validator(kind: str, patch: bool) -> Draft202012Validator:
    schema = _patch_schema(kind) if patch else schema_of(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _decimal_problems(value: Any, path: str = "$") -> list[str]:
    """Numbers with more than 4 decimals, anywhere in `value` (OCPI 2.2.1: numbers have ≤ 4 decimals)."""
    problems: list[str] = []
    if isinstance(value, bool):
        return problems
    if isinstance(value, float | Decimal):
        exponent = Decimal(repr(value) if isinstance(value, float) else value).normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            problems.append(f"{path}: {value!r} has more than 4 decimals")
    elif isinstance(value, dict):
        for key, item in value.items():
            problems += _decimal_problems(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += _decimal_problems(item, f"{path}[{i}]")
    return problems


def validation_errors(kind: str, obj: Any, *, patch: bool = False) -> list[str]:
    """Every problem of `obj` as a `kind` (empty when valid): schema violations and numbers > 4 decimals."""
    errors = sorted(_validator(kind, patch).iter_errors(obj), key=lambda e: list(e.absolute_path))
    messages = [f"{e.json_path}: {e.message}" for e in errors]
    return messages + _decimal_problems(obj)


def assert_valid(kind: str, obj: dict[str, Any]) -> None:
    """Assert that `obj` is a valid, complete OCPI 2.2.1 `kind` object (e.g. "Location", "Session", "CDR").

    Raises:
        AssertionError: listing every violation (required fields, enums, lengths, types, unknown fields).
        KeyError: `kind` is not one of `KINDS`.
    """
    problems = validation_errors(kind, obj)
    assert not problems, f"invalid OCPI {kind}:\n  " + "\n  ".join(problems)


def assert_valid_patch(kind: str, obj: dict[str, Any]) -> None:
    """Assert that `obj` is a valid PATCH body of `kind`: known fields with valid values, `last_updated` set.

    Raises:
        AssertionError: listing every violation.
    """
    problems = validation_errors(kind, obj, patch=True)
    assert not problems, f"invalid OCPI {kind} PATCH:\n  " + "\n  ".join(problems)
