"""Row mapping, written once: stored rows to domain records and domain records to column values."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from csms.domain.clock import to_utc
from csms.domain.models import (
    ApiKey,
    BootInfo,
    ChargePoint,
    Connector,
    ConnectorStatus,
    DeviceVariable,
    Direction,
    FrameRecord,
    IdToken,
    MeterReading,
    MeterSample,
    RegistrationStatus,
    Reservation,
    ReservationStatus,
    StoredChargingProfile,
    TokenStatus,
    Transaction,
    TransactionStatus,
)
from csms.store.sql.base import utc
from csms.store.tables import (
    NO_ID,
    NO_NAME,
    ApiKeyRow,
    ChargePointRow,
    ChargingProfileRow,
    ConnectorRow,
    DeviceVariableRow,
    IdTokenRow,
    MessageLogRow,
    MeterSampleRow,
    ReservationRow,
    TransactionRow,
)

T = TypeVar("T")


def record_of(cls: type[T], row: object, **overrides: Any) -> T:
    """The domain record `cls` (a dataclass) from a row whose columns carry its field names: every datetime
    in UTC, `overrides` (enums, decoded values) winning; fields the row lacks keep their defaults."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in overrides:
            values[f.name] = overrides[f.name]
        elif hasattr(row, f.name):
            value = getattr(row, f.name)
            values[f.name] = to_utc(value) if isinstance(value, datetime) else value
    return cls(**values)


def values_of(record: object, columns: Iterable[str], **overrides: Any) -> dict[str, Any]:
    """Column values from a record's attributes of the same names, `overrides` winning."""
    return {name: getattr(record, name) for name in columns} | overrides


def field_values(record: object, *skip: str, **overrides: Any) -> dict[str, Any]:
    """Column values from every field of a dataclass record but the `skip`ped ones (for a table whose columns
    carry the field names), `overrides` winning."""
    names = (f.name for f in dataclasses.fields(record))  # type: ignore[arg-type]
    return values_of(record, (name for name in names if name not in skip), **overrides)


def charge_point_of(row: ChargePointRow) -> ChargePoint:
    return record_of(ChargePoint, row, registration_status=RegistrationStatus(row.registration_status))


def connector_of(row: ConnectorRow) -> Connector:
    return record_of(Connector, row, status=ConnectorStatus(row.status))


def id_token_of(row: IdTokenRow) -> IdToken:
    return record_of(IdToken, row, status=TokenStatus(row.status))


def transaction_of(row: TransactionRow) -> Transaction:
    # ocpp_transaction_id is NULL only inside add_transaction's own DB transaction, never seen by a reader.
    return record_of(
        Transaction,
        row,
        ocpp_transaction_id=row.ocpp_transaction_id or str(row.id),
        status=TransactionStatus(row.status),
    )


def meter_sample_of(row: MeterSampleRow) -> MeterSample:
    return record_of(MeterSample, row, value=Decimal(row.value))


def frame_of(row: MessageLogRow) -> FrameRecord:
    return record_of(FrameRecord, row, direction=Direction(row.direction))


def api_key_of(row: ApiKeyRow) -> ApiKey:
    return record_of(ApiKey, row)


def reservation_of(row: ReservationRow) -> Reservation:
    return record_of(Reservation, row, status=ReservationStatus(row.status))


def reservation_values(r: Reservation) -> dict[str, Any]:
    """The columns `save_reservation` writes: everything but the id and created_at."""
    return field_values(r, "id", "created_at", status=str(r.status))


def device_variable_of(row: DeviceVariableRow) -> DeviceVariable:
    return DeviceVariable(
        charge_point_id=row.charge_point_id,
        component=row.component or None,
        variable=row.variable,
        value=row.value,
        readonly=row.readonly,
        component_instance=row.component_instance or None,
        evse_id=None if row.evse_id == NO_ID else row.evse_id,
        connector_id=None if row.connector_id == NO_ID else row.connector_id,
        variable_instance=row.variable_instance or None,
        attribute_type=row.attribute_type,
        data_type=row.data_type,
        updated_at=utc(row.updated_at),
    )


def device_variable_values(v: DeviceVariable, now: datetime) -> dict[str, Any]:
    return {
        "charge_point_id": v.charge_point_id,
        "component": v.component or NO_NAME,
        "component_instance": v.component_instance or NO_NAME,
        "evse_id": NO_ID if v.evse_id is None else v.evse_id,
        "connector_id": NO_ID if v.connector_id is None else v.connector_id,
        "variable": v.variable,
        "variable_instance": v.variable_instance or NO_NAME,
        "attribute_type": v.attribute_type,
        "value": v.value,
        "readonly": v.readonly,
        "data_type": v.data_type,
        "updated_at": v.updated_at or now,
    }


def charging_profile_of(row: ChargingProfileRow) -> StoredChargingProfile:
    return record_of(StoredChargingProfile, row, profile=json.loads(row.profile))


def boot_values(boot: BootInfo) -> dict[str, Any]:
    return field_values(boot, "reason", boot_reason=boot.reason)


def sample_row(reading: MeterReading, sample: MeterSample) -> dict[str, Any]:
    return {
        "transaction_id": reading.transaction_pk,
        "charge_point_id": reading.charge_point_id,
        "evse_id": reading.evse_id,
        "timestamp": sample.timestamp,
        "measurand": sample.measurand,
        "phase": sample.phase,
        "unit": sample.unit,
        "multiplier": sample.multiplier,
        "context": sample.context,
        "location": sample.location,
        "signed": sample.signed,
        # str(Decimal) keeps every digit and the exponent, so Decimal(text) gives back the same number.
        "value": str(sample.value),
    }


def frame_row(frame: FrameRecord) -> dict[str, Any]:
    return {
        "charge_point_id": frame.charge_point_id,
        "direction": str(frame.direction),
        "message_type": frame.message_type,
        # The log keeps even a malformed frame: clip the two bounded columns instead of failing the batch.
        "message_id": frame.message_id[:36],
        "action": None if frame.action is None else frame.action[:64],
        "frame": frame.frame,
        "at": frame.at,
    }
