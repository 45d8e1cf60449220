"""Row mapping, written once: stored rows to domain records and domain records to column values."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

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


def charge_point_of(row: ChargePointRow) -> ChargePoint:
    return ChargePoint(
        charge_point_id=row.charge_point_id,
        registration_status=RegistrationStatus(row.registration_status),
        password_hash=row.password_hash,
        ocpp_version=row.ocpp_version,
        vendor=row.vendor,
        model=row.model,
        serial_number=row.serial_number,
        firmware_version=row.firmware_version,
        iccid=row.iccid,
        imsi=row.imsi,
        meter_type=row.meter_type,
        meter_serial_number=row.meter_serial_number,
        boot_reason=row.boot_reason,
        last_boot_at=utc(row.last_boot_at),
        last_heartbeat_at=utc(row.last_heartbeat_at),
        firmware_status=row.firmware_status,
        diagnostics_status=row.diagnostics_status,
        log_status=row.log_status,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def connector_of(row: ConnectorRow) -> Connector:
    return Connector(
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        status=ConnectorStatus(row.status),
        status_detail=row.status_detail,
        error_code=row.error_code,
        info=row.info,
        vendor_id=row.vendor_id,
        vendor_error_code=row.vendor_error_code,
        status_at=utc(row.status_at),
    )


def id_token_of(row: IdTokenRow) -> IdToken:
    return IdToken(
        id_token=row.id_token,
        type=row.type,
        status=TokenStatus(row.status),
        expiry_date=utc(row.expiry_date),
        group_id_token=row.group_id_token,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def transaction_of(row: TransactionRow) -> Transaction:
    return Transaction(
        id=row.id,
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        # Only NULL inside add_transaction's own DB transaction, never visible to a reader.
        ocpp_transaction_id=row.ocpp_transaction_id or str(row.id),
        status=TransactionStatus(row.status),
        started_at=to_utc(row.started_at),
        id_token=row.id_token,
        id_token_type=row.id_token_type,
        meter_start_wh=row.meter_start_wh,
        meter_stop_wh=row.meter_stop_wh,
        last_meter_wh=row.last_meter_wh,
        stopped_at=utc(row.stopped_at),
        stop_reason=row.stop_reason,
        stop_id_token=row.stop_id_token,
        reservation_id=row.reservation_id,
        remote_start_id=row.remote_start_id,
        charging_state=row.charging_state,
        last_seq_no=row.last_seq_no,
        offline=row.offline,
        updated_at=utc(row.updated_at),
    )


def meter_sample_of(row: MeterSampleRow) -> MeterSample:
    return MeterSample(
        timestamp=to_utc(row.timestamp),
        value=Decimal(row.value),
        measurand=row.measurand,
        unit=row.unit,
        multiplier=row.multiplier,
        phase=row.phase,
        context=row.context,
        location=row.location,
        signed=row.signed,
    )


def frame_of(row: MessageLogRow) -> FrameRecord:
    return FrameRecord(
        charge_point_id=row.charge_point_id,
        direction=Direction(row.direction),
        message_type=row.message_type,
        message_id=row.message_id,
        action=row.action,
        frame=row.frame,
        at=to_utc(row.at),
    )


def api_key_of(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        role=row.role,
        created_at=utc(row.created_at),
    )


def reservation_of(row: ReservationRow) -> Reservation:
    return Reservation(
        id=row.id,
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        id_token=row.id_token,
        expiry_date=to_utc(row.expiry_date),
        status=ReservationStatus(row.status),
        id_token_type=row.id_token_type,
        group_id_token=row.group_id_token,
        connector_type=row.connector_type,
        station_status=row.station_status,
        transaction_pk=row.transaction_pk,
        external_id=row.external_id,
        owner=row.owner,
        reason=row.reason,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


def reservation_values(r: Reservation) -> dict[str, Any]:
    """The columns `save_reservation` writes: everything but the id and created_at."""
    return {
        "charge_point_id": r.charge_point_id,
        "evse_id": r.evse_id,
        "id_token": r.id_token,
        "id_token_type": r.id_token_type,
        "group_id_token": r.group_id_token,
        "connector_type": r.connector_type,
        "expiry_date": r.expiry_date,
        "status": str(r.status),
        "station_status": r.station_status,
        "transaction_pk": r.transaction_pk,
        "external_id": r.external_id,
        "owner": r.owner,
        "reason": r.reason,
        "updated_at": r.updated_at,
    }


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
    return StoredChargingProfile(
        charge_point_id=row.charge_point_id,
        evse_id=row.evse_id,
        profile_id=row.profile_id,
        purpose=row.purpose,
        stack_level=row.stack_level,
        profile=json.loads(row.profile),
        transaction_pk=row.transaction_pk,
        created_at=utc(row.created_at),
    )


def boot_values(boot: BootInfo) -> dict[str, Any]:
    return {
        "vendor": boot.vendor,
        "model": boot.model,
        "serial_number": boot.serial_number,
        "firmware_version": boot.firmware_version,
        "iccid": boot.iccid,
        "imsi": boot.imsi,
        "meter_type": boot.meter_type,
        "meter_serial_number": boot.meter_serial_number,
        "boot_reason": boot.reason,
    }


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
