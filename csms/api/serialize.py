"""Domain records to the API's JSON objects: snake_case keys, `...Z` UTC timestamps, energy as integer Wh.

Decimal measured values become strings (`"1234.5"`) so no precision is lost in a JSON float. Secrets never
leave: a charge point shows `has_password`, never its hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from csms.api import models
from csms.domain.clock import isoformat_z
from csms.domain.commands import CommandResult
from csms.domain.models import (
    ChargePoint,
    Connector,
    DeviceVariable,
    FrameRecord,
    IdToken,
    MeterSample,
    Reservation,
    StoredChargingProfile,
    Transaction,
)
from csms.domain.registry import LiveConnection
from csms.domain.variable_keys import configuration_key

JsonObject = dict[str, Any]


def timestamp(value: datetime | None) -> str | None:
    """`value` as RFC 3339 UTC with milliseconds and `Z`, or None."""
    return None if value is None else isoformat_z(value)


def decimal_text(value: Decimal) -> str:
    """`value` in plain positional notation (never `1E+3`), exactly as precise as stored."""
    return format(value, "f")


def connector_json(
    connector: Connector, *, online: bool = True, model: type[models.ConnectorState] = models.Connector
) -> JsonObject:
    """One connector's state: the last report while the station is `online`, else `Unknown` (the last
    report stays in `last_status`, `last_status_at`)."""
    last = {"last_status": str(connector.status), "last_status_at": timestamp(connector.status_at)}
    if online:
        return model_json(model, connector, **last)
    unknown = {"status": "Unknown", "status_detail": None, "error_code": None, "info": None}
    return model_json(model, connector, **unknown, status_at=None, **last)


def evses_json(
    connectors: Iterable[Connector], *, online: bool = True
) -> tuple[JsonObject | None, list[JsonObject]]:
    """Split connector states into (station status from EVSE 0, EVSEs with their connectors, by evse_id);
    all `Unknown` unless the station is `online` (see `connector_json`).

    `connectors` come ordered by (evse_id, connector_id) from `StationStore.list_connectors`.
    """
    station_status: JsonObject | None = None
    evses: dict[int, list[JsonObject]] = {}
    for connector in connectors:
        if connector.evse_id == 0:
            station_status = connector_json(connector, online=online, model=models.ConnectorState)
            continue
        evses.setdefault(connector.evse_id, []).append(connector_json(connector, online=online))
    return station_status, [{"evse_id": evse_id, "connectors": items} for evse_id, items in evses.items()]


def charge_point_json(
    charge_point: ChargePoint, connectors: Iterable[Connector], connection: LiveConnection | None
) -> JsonObject:
    """A charge point with its boot data, live connection and connector states.

    Args:
        charge_point: the stored record.
        connectors: its connector states (`StationStore.list_connectors`).
        connection: its live connection from the registry, or None when it is offline.
    """
    station_status, evses = evses_json(connectors, online=connection is not None)
    # The live connection's subprotocol wins: a station may reconnect with another version without a new
    # BootNotification (the stored version is the one of its last boot).
    ocpp_version = charge_point.ocpp_version
    if connection is not None:
        ocpp_version = connection.ocpp_version
    return model_json(
        models.ChargePoint,
        charge_point,
        ocpp_version=ocpp_version,
        connected=connection is not None,
        connected_at=timestamp(connection.connected_at) if connection is not None else None,
        boot=model_json(models.BootInfo, charge_point, reason=charge_point.boot_reason),
        has_password=charge_point.password_hash is not None,
        security_profile=charge_point.security_profile,
        station_status=station_status,
        evses=evses,
    )


def session_json(tx: Transaction) -> JsonObject:
    """A charging session (transaction); energy in integer Wh, `energy_wh` None until a register was read."""
    return model_json(models.Session, tx, transaction_id=tx.ocpp_transaction_id)


def meter_sample_json(sample: MeterSample) -> JsonObject:
    """One sampled value; `value` is the exact decimal as a string, with the station's unit and multiplier."""
    return model_json(models.MeterSample, sample)


def id_token_json(token: IdToken) -> JsonObject:
    """An id token as registered by an operator."""
    return model_json(models.IdToken, token)


def frame_json(frame: FrameRecord) -> JsonObject:
    """One logged OCPP-J frame; `frame` is the raw text as sent or received."""
    return model_json(models.Frame, frame)


def jsonable(value: Any) -> Any:
    """`value` with only JSON types: datetimes as `...Z` text, Decimals as exact text, enums as their value,
    dataclasses as objects, tuples and sets as lists (for command data, whose shape the adapters choose)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def model_json(model: type[BaseModel], record: object, **overrides: Any) -> JsonObject:
    """The response object `model` describes, from `record`'s attributes of the same names (as JSON values,
    see `jsonable`); `overrides` give the fields named or computed differently. The model's field list is
    the one list of what the API shows. An optional field the record has no attribute for (`expanded`) is
    left out unless overridden."""
    return {
        name: overrides[name] if name in overrides else jsonable(getattr(record, name))
        for name, info in model.model_fields.items()
        if name in overrides or info.is_required() or hasattr(record, name)
    }


def command_json(result: CommandResult) -> JsonObject:
    """What a command came to: `outcome`, the station's `status` word (None unless answered) and `data`."""
    return {"outcome": result.outcome.value, "status": result.status, "data": jsonable(result.data)}


def reservation_json(reservation: Reservation) -> JsonObject:
    """A reservation; `session_id` is the session that used it, `station_status` what the station answered."""
    return model_json(models.Reservation, reservation, session_id=reservation.transaction_pk)


def device_variable_json(variable: DeviceVariable) -> JsonObject:
    """One reported configuration value (1.6 key: `component` None; 2.0.1: component and variable)."""
    return model_json(models.DeviceVariable, variable, key=configuration_key(variable))


def charging_profile_json(profile: StoredChargingProfile) -> JsonObject:
    """A charging profile the station accepted; `profile` is the body it was installed with."""
    return model_json(models.StoredChargingProfile, profile, session_id=profile.transaction_pk)
