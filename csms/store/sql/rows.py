"""Row mapping, written once: stored rows to domain records and domain records to column values."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
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
    IdTokenAlias,
    MeterSample,
    RegistrationStatus,
    Reservation,
    ReservationStatus,
    SignedMeterValue,
    StoredChargingProfile,
    TokenStatus,
    Transaction,
    TransactionStatus,
    transaction_id_version,
)
from csms.store.tables import (
    NO_ID,
    NO_NAME,
    DeviceVariableRow,
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


def decoded(cls: type[T], **decoders: Callable[[Any], Any]) -> Callable[[Any], T]:
    """A row -> record converter: `record_of` with the named columns passed through their decoders (an enum
    class, Decimal, json.loads, ...)."""

    def convert(row: Any) -> T:
        return record_of(cls, row, **{name: decode(getattr(row, name)) for name, decode in decoders.items()})

    return convert


def field_values(record: object, *skip: str, **overrides: Any) -> dict[str, Any]:
    """Column values from every field of a dataclass record but the `skip`ped ones (for a table whose columns
    carry the field names), `overrides` winning."""
    names = (f.name for f in dataclasses.fields(record))  # type: ignore[arg-type]
    return values_of(record, (name for name in names if name not in skip), **overrides)


charge_point_of = decoded(ChargePoint, registration_status=RegistrationStatus)
connector_of = decoded(Connector, status=ConnectorStatus)
id_token_of = decoded(IdToken, status=TokenStatus)
def signed_json(signed: SignedMeterValue) -> str:
    """The `meter_samples.signed_data` text of a signed sample (JSON of the record's fields)."""
    return json.dumps(dataclasses.asdict(signed), separators=(",", ":"))


def signed_of(text: str | None) -> SignedMeterValue | None:
    """The SignedMeterValue stored by `signed_json`; None for the NULL of an unsigned sample."""
    return None if text is None else SignedMeterValue(**json.loads(text))


id_token_alias_of = decoded(IdTokenAlias)
meter_sample_of = decoded(MeterSample, value=Decimal, signed_data=signed_of)
frame_of = decoded(FrameRecord, direction=Direction)
api_key_of = decoded(ApiKey)
reservation_of = decoded(Reservation, status=ReservationStatus)
charging_profile_of = decoded(StoredChargingProfile, profile=json.loads)

# device_variables key columns that store None as NO_NAME / NO_ID (see tables.py).
_NONE_AS_NO_NAME = ("component", "component_instance", "variable_instance")
_NONE_AS_NO_ID = ("evse_id", "connector_id")


def transaction_of(row: TransactionRow) -> Transaction:
    # A 1.6 transaction's id is its row id; the column holds only the ids 2.0.1 stations chose.
    legacy = row.ocpp_transaction_id is None
    return record_of(
        Transaction,
        row,
        ocpp_transaction_id=str(row.id) if legacy else row.ocpp_transaction_id,
        ocpp_version=transaction_id_version(row.ocpp_transaction_id),
        status=TransactionStatus(row.status),
    )


def reservation_values(r: Reservation) -> dict[str, Any]:
    """The columns `save_reservation` writes: everything but the id, created_at and the organization."""
    return field_values(r, "id", "created_at", "org_id", status=str(r.status))


def device_variable_of(row: DeviceVariableRow) -> DeviceVariable:
    names = {name: getattr(row, name) or None for name in _NONE_AS_NO_NAME}
    ids = {name: None if getattr(row, name) == NO_ID else getattr(row, name) for name in _NONE_AS_NO_ID}
    return record_of(DeviceVariable, row, **names, **ids)


def device_variable_values(v: DeviceVariable, now: datetime) -> dict[str, Any]:
    names = {name: getattr(v, name) or NO_NAME for name in _NONE_AS_NO_NAME}
    ids = {name: NO_ID if getattr(v, name) is None else getattr(v, name) for name in _NONE_AS_NO_ID}
    return field_values(v, **names, **ids, updated_at=v.updated_at or now)


def boot_values(boot: BootInfo) -> dict[str, Any]:
    return field_values(boot, "reason", boot_reason=boot.reason)
