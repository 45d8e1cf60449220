"""The OpenAPI 3.1 document of the operator API, served at `GET /api/v1/openapi.json` without a key.

Two sources, kept apart so each is easy to review:

- request bodies come from the pydantic models that validate them (`csms.api.schemas`,
  `model_json_schema()`, their `$defs` hoisted into `components/schemas`), so the documented input is the
  validated input;
- response bodies are written out by hand below (`RESPONSE_SCHEMAS`), next to the operation table
  (`OPERATIONS`), and must match `csms.api.serialize`. `tests/api/test_openapi.py` checks that every route
  is documented (and nothing else), that the document is valid OpenAPI 3.1, and that every response the
  API and end-to-end tests receive validates against the documented schema for its status.

Each operation carries `x-required-role` (`public`, `viewer`, `member`, `admin`), the role
`csms.api.auth` enforces for it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from csms.api import schemas
from csms.api.auth import Role, add_route

JsonSchema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
OPENAPI_JSON = web.AppKey("openapi_json", bytes)


def ref(name: str) -> JsonSchema:
    """A reference to `components/schemas/<name>`."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, JsonSchema], *, optional: tuple[str, ...] = ()) -> JsonSchema:
    """An object with exactly these properties, all required except `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def nullable(schema: JsonSchema) -> JsonSchema:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


STRING: JsonSchema = {"type": "string"}
INTEGER: JsonSchema = {"type": "integer"}
BOOLEAN: JsonSchema = {"type": "boolean"}
TIMESTAMP: JsonSchema = {"type": "string", "format": "date-time", "description": "RFC 3339 UTC, `Z`"}
DECIMAL_TEXT: JsonSchema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "exact decimal"}
N_STRING = nullable(STRING)
N_INTEGER = nullable(INTEGER)
N_TIMESTAMP = nullable(TIMESTAMP)


def page_of(item: str) -> JsonSchema:
    """A page of a list endpoint: `items` and the cursor of the next page (null on the last one)."""
    return obj({"items": {"type": "array", "items": ref(item)}, "next_cursor": N_STRING})


_CONNECTOR_STATE: dict[str, JsonSchema] = {
    "status": {"type": "string", "enum": ["Available", "Occupied", "Reserved", "Unavailable", "Faulted"]},
    "status_detail": N_STRING,
    "error_code": N_STRING,
    "info": N_STRING,
    "status_at": N_TIMESTAMP,
}

_SESSION: dict[str, JsonSchema] = {
    "id": INTEGER,
    "charge_point_id": STRING,
    "evse_id": INTEGER,
    "connector_id": INTEGER,
    "transaction_id": {"type": "string", "description": "the station's transaction id"},
    "status": {"type": "string", "enum": ["active", "completed"]},
    "id_token": N_STRING,
    "id_token_type": N_STRING,
    "started_at": TIMESTAMP,
    "stopped_at": N_TIMESTAMP,
    "meter_start_wh": N_INTEGER,
    "meter_stop_wh": N_INTEGER,
    "energy_wh": N_INTEGER,
    "stop_reason": N_STRING,
    "reservation_id": N_INTEGER,
    "remote_start_id": N_INTEGER,
    "charging_state": N_STRING,
    "offline": BOOLEAN,
}

#: Hand-written response schemas (components/schemas); they mirror `csms.api.serialize`.
RESPONSE_SCHEMAS: dict[str, JsonSchema] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "description": "stable machine-readable code"},
                    "message": {"type": "string", "description": "human-readable; may change"},
                    "details": {
                        "description": "null, a list of {field, reason} (400), or an object with context",
                        "anyOf": [
                            {"type": "null"},
                            {"type": "array", "items": ref("FieldError")},
                            {"type": "object"},
                        ],
                    },
                }
            )
        }
    ),
    "FieldError": obj({"field": STRING, "reason": STRING}),
    "Connector": obj({"connector_id": INTEGER, **_CONNECTOR_STATE}),
    "Evse": obj({"evse_id": INTEGER, "connectors": {"type": "array", "items": ref("Connector")}}),
    "ChargePoint": obj(
        {
            "charge_point_id": STRING,
            "registration_status": {"type": "string", "enum": ["Accepted", "Pending", "Rejected"]},
            "ocpp_version": N_STRING,
            "connected": BOOLEAN,
            "connected_at": N_TIMESTAMP,
            "last_heartbeat_at": N_TIMESTAMP,
            "last_boot_at": N_TIMESTAMP,
            "boot": obj(
                {
                    name: N_STRING
                    for name in (
                        "vendor",
                        "model",
                        "serial_number",
                        "firmware_version",
                        "iccid",
                        "imsi",
                        "meter_type",
                        "meter_serial_number",
                        "reason",
                    )
                }
            ),
            "firmware_status": N_STRING,
            "diagnostics_status": N_STRING,
            "log_status": N_STRING,
            "has_password": BOOLEAN,
            "station_status": nullable(obj(_CONNECTOR_STATE)),
            "evses": {"type": "array", "items": ref("Evse")},
            "created_at": N_TIMESTAMP,
        }
    ),
    "ChargePointPage": page_of("ChargePoint"),
    "Frame": obj(
        {
            "direction": {"type": "string", "enum": ["in", "out"]},
            "message_type": {"type": "integer", "enum": [2, 3, 4]},
            "message_id": STRING,
            "action": N_STRING,
            "frame": {"type": "string", "description": "the raw OCPP-J text"},
            "at": TIMESTAMP,
        }
    ),
    "FramePage": page_of("Frame"),
    "Session": obj(_SESSION),
    "SessionPage": page_of("Session"),
    "MeterSample": obj(
        {
            "timestamp": TIMESTAMP,
            "measurand": STRING,
            "phase": N_STRING,
            "unit": STRING,
            "multiplier": INTEGER,
            "context": N_STRING,
            "location": N_STRING,
            "value": DECIMAL_TEXT,
        }
    ),
    "SessionDetail": obj({**_SESSION, "meter_samples": {"type": "array", "items": ref("MeterSample")}}),
    "IdToken": obj(
        {
            "id_token": STRING,
            "type": STRING,
            "status": {"type": "string", "enum": ["Accepted", "Blocked", "Expired", "Invalid"]},
            "expiry_date": N_TIMESTAMP,
            "group_id_token": N_STRING,
            "created_at": N_TIMESTAMP,
        }
    ),
    "IdTokenPage": page_of("IdToken"),
    "Reservation": obj(
        {
            "id": {"type": "integer", "description": "allocated by the CSMS; the OCPP reservationId"},
            "charge_point_id": STRING,
            "evse_id": nullable({"type": "integer", "description": "null: any EVSE of the station"}),
            "id_token": STRING,
            "id_token_type": STRING,
            "group_id_token": N_STRING,
            "connector_type": N_STRING,
            "expiry_date": TIMESTAMP,
            "status": {
                "type": "string",
                "enum": ["active", "used", "expired", "cancelled", "rejected", "failed"],
            },
            "station_status": nullable({"type": "string", "description": "what the station answered"}),
            "session_id": nullable({"type": "integer", "description": "the session that used it"}),
            "reason": N_STRING,
            "owner": N_STRING,
            "external_id": N_STRING,
            "created_at": N_TIMESTAMP,
            "updated_at": N_TIMESTAMP,
        }
    ),
    "ReservationPage": page_of("Reservation"),
    "CommandResult": obj(
        {
            "outcome": {
                "type": "string",
                "enum": ["answered"],
                "description": "successful responses only carry answered commands",
            },
            "status": nullable(
                {"type": "string", "description": "the station's own word: Accepted, Rejected, Unlocked, ..."}
            ),
            "data": {"type": "object", "description": "the rest of the answer, in domain words"},
        }
    ),
    "CommandResponse": obj({"command": ref("CommandResult")}),
    "ReportResponse": obj({"command": ref("CommandResult"), "request_id": INTEGER}),
    "SessionStarted": obj(
        {
            "command": ref("CommandResult"),
            "remote_start_id": {
                "type": "integer",
                "description": "the session that follows carries it: GET /sessions?remote_start_id=",
            },
            "session_id": nullable({"type": "integer", "description": "null until the station reports it"}),
        }
    ),
    "DeviceVariable": obj(
        {
            "key": {"type": "string", "description": "the name to use in keys= and PATCH"},
            "component": N_STRING,
            "component_instance": N_STRING,
            "evse_id": N_INTEGER,
            "connector_id": N_INTEGER,
            "variable": STRING,
            "variable_instance": N_STRING,
            "attribute_type": STRING,
            "value": N_STRING,
            "readonly": BOOLEAN,
            "data_type": N_STRING,
            "updated_at": N_TIMESTAMP,
        }
    ),
    "Configuration": obj(
        {
            "charge_point_id": STRING,
            "variables": {"type": "array", "items": ref("DeviceVariable")},
            "command": nullable(ref("CommandResult")),
        }
    ),
    "ConfigurationChanged": obj(
        {
            "charge_point_id": STRING,
            "results": {"type": "object", "additionalProperties": ref("CommandResult")},
        }
    ),
    "StoredChargingProfile": obj(
        {
            "profile_id": INTEGER,
            "evse_id": INTEGER,
            "purpose": STRING,
            "stack_level": INTEGER,
            "session_id": N_INTEGER,
            "profile": {"type": "object", "description": "the profile as installed (request body form)"},
            "created_at": N_TIMESTAMP,
        }
    ),
    "ChargingProfileList": obj({"items": {"type": "array", "items": ref("StoredChargingProfile")}}),
    "ChargingProfileInstalled": obj(
        {"command": ref("CommandResult"), "profile": nullable(ref("StoredChargingProfile"))}
    ),
    "ChargingProfileCleared": obj(
        {"command": ref("CommandResult"), "deleted": {"type": "integer", "minimum": 0}}
    ),
    "OpenApiDocument": {"type": "object", "description": "this document"},
    **{
        # OCPI records; nested OCPI objects reuse the request body schemas (`$defs` of the body models).
        "Location": obj(
            {
                "id": STRING,
                "country_code": {"type": "string", "description": "ours, from [ocpi]"},
                "party_id": {"type": "string", "description": "ours, from [ocpi]"},
                "publish": BOOLEAN,
                "name": N_STRING,
                "address": STRING,
                "city": STRING,
                "postal_code": N_STRING,
                "state": N_STRING,
                "country": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "coordinates": obj(
                    {
                        "latitude": {"type": "string", "pattern": schemas.LATITUDE_PATTERN},
                        "longitude": {"type": "string", "pattern": schemas.LONGITUDE_PATTERN},
                    }
                ),
                "time_zone": STRING,
                "parking_type": nullable(ref("ParkingType")),
                "facilities": {"type": "array", "items": ref("Facility")},
                "opening_times": nullable(ref("Hours")),
                "operator": nullable(ref("BusinessDetails")),
                "charging_when_closed": nullable(BOOLEAN),
                "charge_point_ids": {"type": "array", "items": STRING},
                "last_updated": TIMESTAMP,
            }
        ),
        "LocationPage": page_of("Location"),
        "ConnectorSpec": obj(
            {
                "charge_point_id": STRING,
                "evse_id": INTEGER,
                "connector_id": INTEGER,
                "standard": ref("ConnectorType"),
                "format": ref("ConnectorFormat"),
                "power_type": ref("PowerType"),
                "max_voltage": INTEGER,
                "max_amperage": INTEGER,
                "max_electric_power": N_INTEGER,
                "tariff_ids": {"type": "array", "items": STRING},
                "configured": {"type": "boolean", "description": "false: never set; these are the defaults"},
                "last_updated": N_TIMESTAMP,
            }
        ),
        "Tariff": obj(
            {
                "id": STRING,
                "country_code": {"type": "string", "description": "ours, from [ocpi]"},
                "party_id": {"type": "string", "description": "ours, from [ocpi]"},
                "currency": STRING,
                "type": nullable(ref("TariffType")),
                "tariff_alt_text": nullable({"type": "array", "items": ref("DisplayText")}),
                "tariff_alt_url": N_STRING,
                "min_price": nullable(ref("OcpiPrice")),
                "max_price": nullable(ref("OcpiPrice")),
                "elements": {"type": "array", "items": ref("TariffElement")},
                "start_date_time": N_TIMESTAMP,
                "end_date_time": N_TIMESTAMP,
                "energy_mix": nullable(ref("EnergyMix")),
                "last_updated": TIMESTAMP,
            }
        ),
        "TariffPage": page_of("Tariff"),
        "OcpiPartner": obj(
            {
                "id": INTEGER,
                "name": STRING,
                "country_code": STRING,
                "party_id": STRING,
                "role": {"type": "string", "description": "EMSP, HUB, ..."},
                "status": {"type": "string", "enum": ["pending", "registered", "unregistered"]},
                "version": N_STRING,
                "versions_url": N_STRING,
                "endpoints": {
                    "type": "object",
                    "description": '"<module>:<ROLE>" (e.g. "sessions:RECEIVER") to the partner\'s URL',
                    "additionalProperties": STRING,
                },
                "created_at": N_TIMESTAMP,
                "updated_at": N_TIMESTAMP,
            }
        ),
        "OcpiPartnerPage": page_of("OcpiPartner"),
        "OutboxEntry": obj(
            {
                "id": INTEGER,
                "partner_id": INTEGER,
                "module": {"type": "string", "description": "locations, sessions, cdrs, tariffs, commands"},
                "object_key": {
                    "type": "string",
                    "description": "pushes with the same key go to a partner in id order",
                },
                "method": {"type": "string", "enum": ["PUT", "PATCH", "POST", "DELETE"]},
                "url": STRING,
                "body": nullable({"type": "object", "description": "the OCPI object sent"}),
                "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
                "attempts": {"type": "integer", "minimum": 0},
                "next_attempt_at": N_TIMESTAMP,
                "last_error": N_STRING,
                "created_at": N_TIMESTAMP,
                "sent_at": N_TIMESTAMP,
            }
        ),
        "OutboxPage": page_of("OutboxEntry"),
    },
}

#: Request body models, by the name their schema gets in components/schemas.
BODY_MODELS: tuple[type[BaseModel], ...] = (
    schemas.ChargePointCreate,
    schemas.ChargePointUpdate,
    schemas.IdTokenCreate,
    schemas.IdTokenUpdate,
    schemas.ReservationCreate,
    schemas.SessionStart,
    schemas.ResetRequest,
    schemas.UnlockRequest,
    schemas.AvailabilityRequest,
    schemas.TriggerRequest,
    schemas.DataTransferRequest,
    schemas.ReportRequest,
    schemas.ConfigurationChange,
    schemas.ChargingProfileSet,
    schemas.LocationCreate,
    schemas.LocationReplace,
    schemas.ConnectorSpecSet,
    schemas.TariffCreate,
    schemas.TariffReplace,
)


def _param(name: str, where: str, schema: JsonSchema, description: str, required: bool = False) -> JsonSchema:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


P_CHARGE_POINT = _param("charge_point_id", "path", STRING, "the charge point's id")
P_SESSION = _param("session_id", "path", {"type": "integer", "minimum": 0}, "the session's id")
P_RESERVATION = _param("reservation_id", "path", {"type": "integer", "minimum": 0}, "the reservation's id")
P_ID_TOKEN = _param("id_token", "path", STRING, "the id token")
Q_LIMIT = _param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"
)
Q_CURSOR = _param("cursor", "query", STRING, "`next_cursor` of the previous page")
Q_CHARGE_POINT = _param("charge_point_id", "query", STRING, "only this charge point's")
P_LOCATION = _param("location_id", "path", STRING, "the OCPI location id")
P_TARIFF = _param("tariff_id", "path", STRING, "the OCPI tariff id")
P_EVSE = _param("evse_id", "path", {"type": "integer", "minimum": 1}, "the EVSE (1.6: the connector)")
P_CONNECTOR = _param(
    "connector_id", "path", {"type": "integer", "minimum": 1}, "the connector of the EVSE (1.6: 1)"
)
P_OUTBOX_ENTRY = _param("entry_id", "path", {"type": "integer", "minimum": 0}, "the outbox entry's id")
PAGE = [Q_LIMIT, Q_CURSOR]

ERRORS = {
    400: "invalid input: `details` names each field and why",
    401: "no key, or an unknown or wrong key",
    403: "the key's role may not do this",
    404: "unknown resource",
    409: "wrong state: charge point offline, EVSE occupied, reservation used, ...",
    502: "the station answered with a CALLERROR (`station_error`, details: error_code, description)",
    504: "the station did not answer in time (`station_timeout`)",
    503: "the OCPI bridge is not enabled on this server (`ocpi_disabled`)",
}
COMMAND_ERRORS = (400, 404, 409, 502, 504)


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation: what it takes, what it answers, and who may call it."""

    method: str
    path: str
    operation_id: str
    summary: str
    role: Role
    ok: dict[int, str | None]  # success status -> response schema name (None: no body)
    errors: tuple[int, ...] = ()
    parameters: list[JsonSchema] = field(default_factory=list)
    body: type[BaseModel] | None = None
    body_required: bool = True
    description: str = ""
    headers: dict[int, dict[str, JsonSchema]] = field(default_factory=dict)


_LINK = {"Link": {"description": 'RFC 8288 `<...>; rel="next"` when there is a next page', "schema": STRING}}
_LOCATION = {"Location": {"description": "the URL of the created resource", "schema": STRING}}
_CP = "/charge-points/{charge_point_id}"

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/openapi.json",
        "getOpenApi",
        "This document (no key needed)",
        Role.PUBLIC,
        ok={200: "OpenApiDocument"},
    ),
    Operation(
        "GET",
        "/charge-points",
        "listChargePoints",
        "List charge points, ordered by id",
        Role.VIEWER,
        ok={200: "ChargePointPage"},
        errors=(400,),
        parameters=PAGE,
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/charge-points",
        "createChargePoint",
        "Register a charge point",
        Role.ADMIN,
        ok={201: "ChargePoint"},
        errors=(400, 409),
        body=schemas.ChargePointCreate,
        headers={201: _LOCATION},
    ),
    Operation(
        "GET",
        _CP,
        "getChargePoint",
        "One charge point with its live connection and connectors",
        Role.VIEWER,
        ok={200: "ChargePoint"},
        errors=(404,),
        parameters=[P_CHARGE_POINT],
    ),
    Operation(
        "PATCH",
        _CP,
        "updateChargePoint",
        "Change registration status or password",
        Role.ADMIN,
        ok={200: "ChargePoint"},
        errors=(400, 404),
        parameters=[P_CHARGE_POINT],
        body=schemas.ChargePointUpdate,
    ),
    Operation(
        "DELETE",
        _CP,
        "deleteChargePoint",
        "Delete a charge point (not while connected)",
        Role.ADMIN,
        ok={204: None},
        errors=(404, 409),
        parameters=[P_CHARGE_POINT],
        description="Its sessions and reservations stay as history; 409 `charge_point_connected` while "
        "the station is connected.",
    ),
    Operation(
        "GET",
        f"{_CP}/messages",
        "listMessages",
        "The charge point's OCPP-J frame log, newest first",
        Role.VIEWER,
        ok={200: "FramePage"},
        errors=(400, 404),
        parameters=[P_CHARGE_POINT, *PAGE],
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        f"{_CP}/reset",
        "resetChargePoint",
        "Reboot the station (or, 2.0.1, one EVSE)",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.ResetRequest,
    ),
    Operation(
        "POST",
        f"{_CP}/unlock",
        "unlockConnector",
        "Unlock a connector",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.UnlockRequest,
    ),
    Operation(
        "POST",
        f"{_CP}/availability",
        "changeAvailability",
        "Set the station or an EVSE (in)operative",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.AvailabilityRequest,
    ),
    Operation(
        "POST",
        f"{_CP}/trigger",
        "triggerMessage",
        "Ask the station to send a message now",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.TriggerRequest,
    ),
    Operation(
        "POST",
        f"{_CP}/data-transfer",
        "dataTransfer",
        "Vendor-specific DataTransfer",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.DataTransferRequest,
    ),
    Operation(
        "POST",
        f"{_CP}/clear-cache",
        "clearCache",
        "Clear the station's authorization cache",
        Role.MEMBER,
        ok={200: "CommandResponse"},
        errors=(404, 409, 502, 504),
        parameters=[P_CHARGE_POINT],
    ),
    Operation(
        "POST",
        f"{_CP}/report",
        "getBaseReport",
        "GetBaseReport; the report is stored as the device model",
        Role.MEMBER,
        ok={200: "ReportResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.ReportRequest,
        body_required=False,
    ),
    Operation(
        "GET",
        f"{_CP}/configuration",
        "getConfiguration",
        "The stored device model (optionally refreshed)",
        Role.VIEWER,
        ok={200: "Configuration"},
        errors=COMMAND_ERRORS,
        parameters=[
            P_CHARGE_POINT,
            _param(
                "refresh",
                "query",
                {"type": "boolean", "default": False},
                "ask the station first (GetConfiguration / GetVariables); needs role member",
            ),
            _param("keys", "query", STRING, "comma-separated keys: ask for and show only these"),
        ],
        description="`refresh=true` sends a command, so it needs role member (403 for viewers).",
    ),
    Operation(
        "PATCH",
        f"{_CP}/configuration",
        "changeConfiguration",
        "Change configuration values, one key at a time",
        Role.MEMBER,
        ok={200: "ConfigurationChanged"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.ConfigurationChange,
        description="An unanswered key stops the request with its error; `details.results` holds the keys "
        "already answered.",
    ),
    Operation(
        "GET",
        f"{_CP}/charging-profile",
        "listChargingProfiles",
        "Charging profiles the station accepted",
        Role.VIEWER,
        ok={200: "ChargingProfileList"},
        errors=(404,),
        parameters=[P_CHARGE_POINT],
    ),
    Operation(
        "PUT",
        f"{_CP}/charging-profile",
        "setChargingProfile",
        "Install a charging profile",
        Role.MEMBER,
        ok={200: "ChargingProfileInstalled"},
        errors=COMMAND_ERRORS,
        parameters=[P_CHARGE_POINT],
        body=schemas.ChargingProfileSet,
    ),
    Operation(
        "DELETE",
        f"{_CP}/charging-profile",
        "clearChargingProfile",
        "Clear charging profiles",
        Role.MEMBER,
        ok={200: "ChargingProfileCleared"},
        errors=COMMAND_ERRORS,
        parameters=[
            P_CHARGE_POINT,
            _param("profile_id", "query", {"type": "integer", "minimum": 0}, "only this profile"),
            _param(
                "evse_id", "query", {"type": "integer", "minimum": 0}, "only this EVSE's (0: the station)"
            ),
        ],
    ),
    Operation(
        "GET",
        "/sessions",
        "listSessions",
        "List sessions, newest first",
        Role.VIEWER,
        ok={200: "SessionPage"},
        errors=(400,),
        parameters=[
            Q_CHARGE_POINT,
            _param("status", "query", {"type": "string", "enum": ["active", "completed"]}, "only these"),
            _param(
                "remote_start_id",
                "query",
                {"type": "integer", "minimum": 0},
                "the session a remote start led to; a page may then hold fewer than `limit` items",
            ),
            *PAGE,
        ],
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/sessions",
        "startSession",
        "Remote start",
        Role.MEMBER,
        ok={202: "SessionStarted"},
        errors=COMMAND_ERRORS,
        body=schemas.SessionStart,
        description="202 once the station accepted; 409 `command_rejected` (the station's result in "
        "`details.command`) when it did not, `connector_reserved` when the EVSE is reserved for another "
        "id token.",
    ),
    Operation(
        "GET",
        "/sessions/{session_id}",
        "getSession",
        "One session with its meter samples",
        Role.VIEWER,
        ok={200: "SessionDetail"},
        errors=(400, 404),
        parameters=[P_SESSION],
    ),
    Operation(
        "POST",
        "/sessions/{session_id}/stop",
        "stopSession",
        "Remote stop",
        Role.MEMBER,
        ok={202: "CommandResponse"},
        errors=COMMAND_ERRORS,
        parameters=[P_SESSION],
        description="409 `session_completed` for a completed session, `command_rejected` when the station "
        "refused.",
    ),
    Operation(
        "GET",
        "/reservations",
        "listReservations",
        "List reservations, newest first",
        Role.VIEWER,
        ok={200: "ReservationPage"},
        errors=(400,),
        parameters=[
            Q_CHARGE_POINT,
            _param(
                "status",
                "query",
                {"type": "string", "enum": ["active", "used", "expired", "cancelled", "rejected", "failed"]},
                "only these",
            ),
            *PAGE,
        ],
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/reservations",
        "createReservation",
        "Reserve an EVSE for an id token",
        Role.MEMBER,
        ok={201: "Reservation"},
        errors=COMMAND_ERRORS,
        body=schemas.ReservationCreate,
        headers={201: _LOCATION},
        description="Created only when the station accepted. 409 `evse_occupied`, `evse_faulted`, "
        "`evse_unavailable`, `reservation_rejected` carry `details.reservation_id` (of the record kept as "
        "`rejected`) and `details.station_status`.",
    ),
    Operation(
        "GET",
        "/reservations/{reservation_id}",
        "getReservation",
        "One reservation",
        Role.VIEWER,
        ok={200: "Reservation"},
        errors=(400, 404),
        parameters=[P_RESERVATION],
    ),
    Operation(
        "DELETE",
        "/reservations/{reservation_id}",
        "cancelReservation",
        "Cancel a reservation",
        Role.MEMBER,
        ok={204: None},
        errors=COMMAND_ERRORS,
        parameters=[P_RESERVATION],
        description="204 once the station confirmed; 409 `reservation_not_active` when it is no longer "
        "active.",
    ),
    Operation(
        "GET",
        "/id-tokens",
        "listIdTokens",
        "List id tokens, ordered by token",
        Role.VIEWER,
        ok={200: "IdTokenPage"},
        errors=(400,),
        parameters=PAGE,
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/id-tokens",
        "createIdToken",
        "Register an id token",
        Role.MEMBER,
        ok={201: "IdToken"},
        errors=(400, 409),
        body=schemas.IdTokenCreate,
        headers={201: _LOCATION},
    ),
    Operation(
        "GET",
        "/id-tokens/{id_token}",
        "getIdToken",
        "One id token",
        Role.VIEWER,
        ok={200: "IdToken"},
        errors=(404,),
        parameters=[P_ID_TOKEN],
    ),
    Operation(
        "PATCH",
        "/id-tokens/{id_token}",
        "updateIdToken",
        "Change an id token",
        Role.MEMBER,
        ok={200: "IdToken"},
        errors=(400, 404),
        parameters=[P_ID_TOKEN],
        body=schemas.IdTokenUpdate,
    ),
    Operation(
        "DELETE",
        "/id-tokens/{id_token}",
        "deleteIdToken",
        "Delete an id token",
        Role.MEMBER,
        ok={204: None},
        errors=(404,),
        parameters=[P_ID_TOKEN],
    ),
    Operation(
        "GET",
        "/locations",
        "listLocations",
        "List OCPI locations, least recently changed first",
        Role.VIEWER,
        ok={200: "LocationPage"},
        errors=(400, 503),
        parameters=PAGE,
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/locations",
        "createLocation",
        "Create an OCPI location grouping charge points",
        Role.ADMIN,
        ok={201: "Location"},
        errors=(400, 409, 503),
        body=schemas.LocationCreate,
        headers={201: _LOCATION},
        description="`country_code` and `party_id` are ours (`[ocpi]`). 400 names each unknown charge "
        "point (`charge_point_ids.<i>`); 409 `conflict` when the id exists, `charge_point_in_location` "
        "when a charge point is in another location. Numbers are read exactly (never as floats).",
    ),
    Operation(
        "GET",
        "/locations/{location_id}",
        "getLocation",
        "One OCPI location",
        Role.VIEWER,
        ok={200: "Location"},
        errors=(404, 503),
        parameters=[P_LOCATION],
    ),
    Operation(
        "PUT",
        "/locations/{location_id}",
        "replaceLocation",
        "Replace an OCPI location",
        Role.ADMIN,
        ok={200: "Location"},
        errors=(400, 404, 409, 503),
        parameters=[P_LOCATION],
        body=schemas.LocationReplace,
        description="Every field again: absent optional fields are cleared, absent charge points leave.",
    ),
    Operation(
        "DELETE",
        "/locations/{location_id}",
        "deleteLocation",
        "Delete an OCPI location",
        Role.ADMIN,
        ok={204: None},
        errors=(404, 503),
        parameters=[P_LOCATION],
        description="OCPI has no delete: partners keep what they pulled until they pull again. Set "
        "`publish` false first to take it out of roaming.",
    ),
    Operation(
        "GET",
        f"{_CP}/connectors/{{evse_id}}/{{connector_id}}/spec",
        "getConnectorSpec",
        "A connector's OCPI facts (standard, format, power type, limits, tariffs)",
        Role.VIEWER,
        ok={200: "ConnectorSpec"},
        errors=(400, 404, 503),
        parameters=[P_CHARGE_POINT, P_EVSE, P_CONNECTOR],
        description="`configured: false` with the defaults OCPI reports until an operator sets them.",
    ),
    Operation(
        "PUT",
        f"{_CP}/connectors/{{evse_id}}/{{connector_id}}/spec",
        "setConnectorSpec",
        "Set a connector's OCPI facts",
        Role.ADMIN,
        ok={200: "ConnectorSpec"},
        errors=(400, 404, 503),
        parameters=[P_CHARGE_POINT, P_EVSE, P_CONNECTOR],
        body=schemas.ConnectorSpecSet,
        description="400 names each unknown tariff (`tariff_ids.<i>`). The charge point's location gets a "
        "new `last_updated`.",
    ),
    Operation(
        "GET",
        "/tariffs",
        "listTariffs",
        "List OCPI tariffs, least recently changed first",
        Role.VIEWER,
        ok={200: "TariffPage"},
        errors=(400, 503),
        parameters=PAGE,
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/tariffs",
        "createTariff",
        "Create an OCPI tariff",
        Role.ADMIN,
        ok={201: "Tariff"},
        errors=(400, 409, 503),
        body=schemas.TariffCreate,
        headers={201: _LOCATION},
        description="The OCPI Tariff object without `country_code`, `party_id` (ours) and `last_updated`. "
        "Prices may be numbers or decimal strings (at most 4 decimals); they are kept exact and answered "
        "as decimal strings. 409 `conflict` when the id exists.",
    ),
    Operation(
        "GET",
        "/tariffs/{tariff_id}",
        "getTariff",
        "One OCPI tariff",
        Role.VIEWER,
        ok={200: "Tariff"},
        errors=(404, 503),
        parameters=[P_TARIFF],
    ),
    Operation(
        "PUT",
        "/tariffs/{tariff_id}",
        "replaceTariff",
        "Replace an OCPI tariff",
        Role.ADMIN,
        ok={200: "Tariff"},
        errors=(400, 404, 503),
        parameters=[P_TARIFF],
        body=schemas.TariffReplace,
    ),
    Operation(
        "DELETE",
        "/tariffs/{tariff_id}",
        "deleteTariff",
        "Delete an OCPI tariff",
        Role.ADMIN,
        ok={204: None},
        errors=(404, 409, 503),
        parameters=[P_TARIFF],
        description="409 `tariff_in_use` while a connector spec names it (`details.connectors`).",
    ),
    Operation(
        "GET",
        "/ocpi/partners",
        "listOcpiPartners",
        "OCPI roaming partners and their registration status (never their tokens)",
        Role.VIEWER,
        ok={200: "OcpiPartnerPage"},
        errors=(400, 503),
        parameters=PAGE,
        headers={200: _LINK},
    ),
    Operation(
        "GET",
        "/ocpi/outbox",
        "listOcpiOutbox",
        "Pushes to OCPI partners (pending, sent, failed), newest first",
        Role.VIEWER,
        ok={200: "OutboxPage"},
        errors=(400, 503),
        parameters=[
            _param(
                "status", "query", {"type": "string", "enum": ["pending", "sent", "failed"]}, "only these"
            ),
            _param("partner_id", "query", {"type": "integer", "minimum": 0}, "only this partner's"),
            *PAGE,
        ],
        headers={200: _LINK},
    ),
    Operation(
        "POST",
        "/ocpi/outbox/{entry_id}/retry",
        "retryOcpiOutboxEntry",
        "Send a failed push again",
        Role.ADMIN,
        ok={200: "OutboxEntry"},
        errors=(400, 404, 409, 503),
        parameters=[P_OUTBOX_ENTRY],
        description="The entry becomes pending with 0 attempts and is sent on the outbox's next pass, in "
        "order with the object's later pushes. 409 `outbox_entry_not_failed` unless it failed.",
    ),
)


def _body_schemas() -> dict[str, JsonSchema]:
    """Each body model's JSON Schema under its class name, with every `$defs` entry hoisted beside it."""
    out: dict[str, JsonSchema] = {}
    for model in BODY_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            if out.get(name, definition) != definition:  # pragma: no cover - two models disagree
                raise ValueError(f"two request models define {name} differently")
            out[name] = definition
        out[model.__name__] = schema
    return out


def _response(
    status: int, schema_name: str | None, description: str, headers: dict[str, JsonSchema]
) -> JsonSchema:
    response: JsonSchema = {"description": description}
    if schema_name is not None:
        response["content"] = {"application/json": {"schema": ref(schema_name)}}
    if headers:
        response["headers"] = headers
    return response


def _operation(op: Operation) -> JsonSchema:
    out: JsonSchema = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "x-required-role": op.role.value,
        "tags": [op.path.strip("/").split("/")[0]],
    }
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = op.parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": ref(op.body.__name__)}},
        }
    responses: JsonSchema = {}
    for status, schema_name in op.ok.items():
        description = "OK" if schema_name is not None else "Done; no content"
        responses[str(status)] = _response(status, schema_name, description, op.headers.get(status, {}))
    errors = op.errors if op.role is Role.PUBLIC else (*op.errors, 401, 403)
    for status in sorted(set(errors)):
        responses[str(status)] = _response(status, "Error", ERRORS[status], {})
    responses["default"] = _response(0, "Error", "any other error (405, 413, 500)", {})
    out["responses"] = responses
    if op.role is Role.PUBLIC:
        out["security"] = []
    return out


def build_document() -> JsonSchema:
    """The whole OpenAPI 3.1 document; a deep copy each call, so callers may change it freely."""
    components = dict(RESPONSE_SCHEMAS)
    for name, schema in _body_schemas().items():
        if name in components:  # pragma: no cover - a body model named like a response schema
            raise ValueError(f"schema name {name} is used twice")
        components[name] = schema
    paths: dict[str, JsonSchema] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    document: JsonSchema = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "CSMS operator API",
            "version": API_VERSION,
            "description": "Charge points, sessions, reservations, id tokens and remote commands over OCPP "
            '1.6J and 2.0.1, in one vocabulary. Errors are `{"error": {"code", "message", '
            '"details"}}`. Lists are paginated with `limit` and `cursor` (`next_cursor` in the body, '
            "`Link` header). Roles: viewer reads; member also sends commands and manages sessions, "
            "reservations and id tokens; admin also manages charge points and the OCPI bridge's locations, "
            "connector specs and tariffs, and retries failed OCPI pushes.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `csms apikey create`: `csms_<prefix>_<secret>`.",
                }
            },
        },
    }
    return copy.deepcopy(document)


async def handle_openapi(request: web.Request) -> web.Response:
    """`GET /openapi.json` (no key needed): the document built when the app was created."""
    return web.Response(body=request.app[OPENAPI_JSON], content_type="application/json")


def add_routes(app: web.Application) -> None:
    """Register `GET /openapi.json` (public) and build the document it serves."""
    app[OPENAPI_JSON] = orjson.dumps(build_document())
    add_route(app, "GET", "/openapi.json", handle_openapi, role=Role.PUBLIC, name="openapi")
