"""OCPP 1.6J: every version-neutral command the CSMS can send, as a CALL and back — the whole outbound
1.6 surface in one table (`COMMANDS`).

Translation rules (neutral words → 1.6):
- EVSE N is 1.6 connector N (with connector 1, `csms.domain.models`); EVSE 0 / None is connector 0, the
  charge point. A neutral connector id other than 1 on an EVSE has no 1.6 form (NOT_SUPPORTED).
- Id tokens are idTags; a group id token is parentIdTag where 1.6 has one (ReserveNow); the id token
  type has no 1.6 form and is dropped. An id token longer than an idTag (CiString20Type; OCPI uids and
  2.0.1 id tokens may have 36 characters) is sent as its stored alias (`short_id_token`,
  `csms.domain.id_token_aliases`); the handlers of Authorize, StartTransaction and StopTransaction turn the
  alias back into the token (`convert.id_token_of`).
- Transaction ids are the integers the CSMS allocated (str(int) in the neutral form).
- Reset: soft / on_idle → Soft, hard / immediate → Hard; 1.6 cannot reset a single EVSE.
- GetBaseReport is a GetConfiguration of every key; its answer (and every GetConfiguration answer) is
  stored as the station's device model.
- Absent optional fields are left out, never null.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import orjson

from csms.domain.clock import isoformat_z
from csms.domain.commands import (
    CancelReservation,
    CertificateSigned,
    ChangeAvailability,
    ChangeConfiguration,
    ChargingProfile,
    ClearCache,
    ClearChargingProfile,
    CommandResult,
    DataTransfer,
    DeleteCertificate,
    GetBaseReport,
    GetCompositeSchedule,
    GetConfiguration,
    GetInstalledCertificateIds,
    GetLocalListVersion,
    GetLog,
    InstallCertificate,
    RenewCertificate,
    ReserveNow,
    Reset,
    ResetKind,
    SendLocalList,
    SetChargingProfile,
    StartSession,
    StopSession,
    TriggerMessage,
    UnlockConnector,
    UpdateFirmware,
)
from csms.domain.local_list import LocalListEntry
from csms.ocpp.certificate_commands import certificate_of, hash_data
from csms.ocpp.commands import (
    CommandTable,
    Inexpressible,
    Payload,
    Translation,
    answered,
    build_get_log,
    build_update_firmware_signed,
    device_model,
    jsonable,
    parse_composite_schedule,
    parse_get_log,
    present,
    profile_fields,
    schedule_fields,
    transaction_id_16,
)
from csms.ocpp.router import StationContext
from csms.ocpp.v16.convert import ID_TOKEN_MAX

RESET_TYPES = {
    ResetKind.SOFT: "Soft",
    ResetKind.ON_IDLE: "Soft",
    ResetKind.HARD: "Hard",
    ResetKind.IMMEDIATE: "Hard",
}
# Neutral (2.0.1) charging profile purposes → 1.6 ChargingProfilePurposeType; the 1.6 word is taken too.
PURPOSES = {
    "TxProfile": "TxProfile",
    "TxDefaultProfile": "TxDefaultProfile",
    "ChargingStationMaxProfile": "ChargePointMaxProfile",
    "ChargePointMaxProfile": "ChargePointMaxProfile",
}


def connector_of(evse_id: int | None, connector_id: int | None = None) -> int:
    """The 1.6 connectorId of a neutral EVSE (and connector): EVSE N → N, None → 0.

    Raises:
        Inexpressible: a connector other than 1 on an EVSE (1.6 has one connector per connector id).
    """
    if evse_id and connector_id not in (None, 1):
        raise Inexpressible(f"OCPP 1.6 has no connector {connector_id} on EVSE {evse_id}")
    return evse_id or 0


def purpose_16(purpose: str) -> str:
    """The 1.6 ChargingProfilePurposeType word.

    Raises:
        Inexpressible: a purpose 1.6 does not have (ChargingStationExternalConstraints).
    """
    try:
        return PURPOSES[purpose]
    except KeyError:
        raise Inexpressible(f"OCPP 1.6 has no charging profile purpose {purpose}") from None


def charging_profile(profile: ChargingProfile) -> Payload:
    """1.6 ChargingProfile (csChargingProfiles / RemoteStartTransaction.chargingProfile)."""
    out: Payload = {
        "chargingProfileId": profile.id,
        "chargingProfilePurpose": purpose_16(profile.purpose),
        **profile_fields(profile),
        "chargingSchedule": schedule_fields(profile),
    }
    if profile.ocpp_transaction_id is not None:
        out["transactionId"] = transaction_id_16(profile.ocpp_transaction_id)
    return out


def status_only(command: Any, payload: Payload) -> CommandResult:
    """Parse a response whose only field is `status`."""
    return answered(payload)


WithIdToken = TypeVar("WithIdToken", StartSession, ReserveNow)


async def short_id_token(ctx: StationContext, command: WithIdToken) -> WithIdToken:
    """The command with an id token a 1.6 idTag can carry: the token itself, or its alias when it has more
    than 20 characters (allocated and stored on first use; the station presents it back, and the handlers
    resolve it to the token)."""
    id_token = await ctx.domain.id_token_aliases.shorten(command.id_token, ID_TOKEN_MAX)
    return command if id_token == command.id_token else replace(command, id_token=id_token)


# -- StartSession / StopSession ----------------------------------------------------------------------


def build_start_session(command: StartSession) -> tuple[str, Payload]:
    """RemoteStartTransaction; connectorId only for a given EVSE, the profile must be a TxProfile."""
    payload: Payload = {"idTag": command.id_token}
    if command.evse_id:
        payload["connectorId"] = command.evse_id
    if command.charging_profile is not None:
        if purpose_16(command.charging_profile.purpose) != "TxProfile":
            raise Inexpressible("a remote start's charging profile must be a TxProfile")
        payload["chargingProfile"] = charging_profile(command.charging_profile)
    return "RemoteStartTransaction", payload


def build_stop_session(command: StopSession) -> tuple[str, Payload]:
    """RemoteStopTransaction of the integer transactionId."""
    return "RemoteStopTransaction", {"transactionId": transaction_id_16(command.ocpp_transaction_id)}


# -- reservations -------------------------------------------------------------------------------------


def build_reserve_now(command: ReserveNow) -> tuple[str, Payload]:
    """ReserveNow; EVSE None / 0 is connector 0 (needs ReserveConnectorZeroSupported on the station)."""
    payload: Payload = {
        "connectorId": command.evse_id or 0,
        "expiryDate": isoformat_z(command.expiry),
        "idTag": command.id_token,
        "reservationId": command.reservation_id,
    }
    if command.group_id_token is not None:
        payload["parentIdTag"] = command.group_id_token
    return "ReserveNow", payload


def build_cancel_reservation(command: CancelReservation) -> tuple[str, Payload]:
    """CancelReservation."""
    return "CancelReservation", {"reservationId": command.reservation_id}


# -- station control ----------------------------------------------------------------------------------


def build_unlock_connector(command: UnlockConnector) -> tuple[str, Payload]:
    """UnlockConnector of connector = EVSE."""
    return "UnlockConnector", {"connectorId": connector_of(command.evse_id, command.connector_id)}


def build_reset(command: Reset) -> tuple[str, Payload]:
    """Reset Soft / Hard of the whole charge point (EVSE 0 counts as the whole charge point)."""
    if command.evse_id:
        raise Inexpressible("OCPP 1.6 cannot reset a single EVSE")
    return "Reset", {"type": RESET_TYPES[ResetKind(command.kind)]}


def build_change_availability(command: ChangeAvailability) -> tuple[str, Payload]:
    """ChangeAvailability of connector = EVSE (0: the whole charge point)."""
    return "ChangeAvailability", {
        "connectorId": connector_of(command.evse_id, command.connector_id),
        "type": "Operative" if command.operative else "Inoperative",
    }


def build_trigger_message(command: TriggerMessage) -> tuple[str, Payload]:
    """TriggerMessage; connectorId only for a given EVSE."""
    payload: Payload = {"requestedMessage": command.message}
    if command.evse_id:
        payload["connectorId"] = connector_of(command.evse_id, command.connector_id)
    return "TriggerMessage", payload


def build_certificate_signed(command: CertificateSigned) -> tuple[str, Payload]:
    """CertificateSigned (1.6 Security Whitepaper): the PEM chain only; 1.6 has no certificate type, only
    charge point certificates are signed for 1.6 stations."""
    if command.certificate_type != "ChargingStationCertificate":
        raise Inexpressible(f"OCPP 1.6 has no certificate type {command.certificate_type}")
    return "CertificateSigned", {"certificateChain": command.certificate_chain}


def build_renew_certificate(command: RenewCertificate) -> tuple[str, Payload]:
    """ExtendedTriggerMessage SignChargePointCertificate (1.6 Security Whitepaper, use case A03)."""
    return "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}


# The neutral (2.0.1) certificate use words 1.6 has (Security Whitepaper CertificateUseEnumType).
CERTIFICATE_USE_16 = {
    "CSMSRootCertificate": "CentralSystemRootCertificate",
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
}


def certificate_use_16(certificate_type: str) -> str:
    """The 1.6 CertificateUseEnumType word.

    Raises:
        Inexpressible: a type 1.6 does not have (V2G / MO roots, V2G certificate chains).
    """
    try:
        return CERTIFICATE_USE_16[certificate_type]
    except KeyError:
        raise Inexpressible(f"OCPP 1.6 has no certificate type {certificate_type}") from None


def build_install_certificate(command: InstallCertificate) -> tuple[str, Payload]:
    """InstallCertificate (1.6 Security Whitepaper)."""
    use = certificate_use_16(command.certificate_type)
    return "InstallCertificate", {"certificateType": use, "certificate": command.certificate}


def build_get_installed_certificate_ids(command: GetInstalledCertificateIds) -> tuple[str, Payload]:
    """GetInstalledCertificateIds: 1.6 asks for exactly one certificate type.

    Raises:
        Inexpressible: none or several types, or one 1.6 does not have.
    """
    if len(command.certificate_types) != 1:
        raise Inexpressible("OCPP 1.6 GetInstalledCertificateIds asks for exactly one certificate type")
    return "GetInstalledCertificateIds", {"certificateType": certificate_use_16(command.certificate_types[0])}


def parse_get_installed_certificate_ids(
    command: GetInstalledCertificateIds, payload: Payload
) -> CommandResult:
    """status, and data["certificates"] of the one type asked for."""
    kind = command.certificate_types[0]
    return answered(
        payload, certificates=[certificate_of(kind, c) for c in payload.get("certificateHashData", [])]
    )


def build_delete_certificate(command: DeleteCertificate) -> tuple[str, Payload]:
    """DeleteCertificate (1.6 Security Whitepaper)."""
    return "DeleteCertificate", {"certificateHashData": hash_data(command)}


def build_clear_cache(command: ClearCache) -> tuple[str, Payload]:
    """ClearCache."""
    return "ClearCache", {}


def build_data_transfer(command: DataTransfer) -> tuple[str, Payload]:
    """DataTransfer; 1.6 `data` is a string, so anything else is sent JSON-encoded."""
    payload: Payload = {"vendorId": command.vendor_id}
    if command.message_id is not None:
        payload["messageId"] = command.message_id
    if command.data is not None:
        data = command.data
        payload["data"] = data if isinstance(data, str) else orjson.dumps(jsonable(data)).decode()
    return "DataTransfer", payload


def parse_data_transfer(command: DataTransfer, payload: Payload) -> CommandResult:
    """status, and the station's `data` string as sent (not decoded: 1.6 data is opaque text)."""
    return answered(payload, data=payload.get("data"))


# -- configuration ------------------------------------------------------------------------------------


def build_get_configuration(command: GetConfiguration) -> tuple[str, Payload]:
    """GetConfiguration of the given keys, or of every key when none are given."""
    return "GetConfiguration", {"key": list(command.keys)} if command.keys else {}


def parse_configuration(command: Any, payload: Payload) -> CommandResult:
    """GetConfiguration.conf → status Accepted (the station answered; 1.6 has no status here) and
    data {"configuration": [{"key", "value" (None when not revealed), "readonly"}], "unknown_keys": [...]}."""
    configuration = [
        {"key": item["key"], "value": item.get("value"), "readonly": item["readonly"]}
        for item in payload.get("configurationKey", [])
    ]
    return answered(
        payload,
        status="Accepted",
        configuration=configuration,
        unknown_keys=list(payload.get("unknownKey", [])),
    )


async def record_configuration(ctx: StationContext, command: Any, result: CommandResult) -> None:
    """Store the reported keys as the station's device model (component None)."""
    await device_model(ctx).record_configuration(ctx.charge_point_id, result.data.get("configuration", []))


def build_change_configuration(command: ChangeConfiguration) -> tuple[str, Payload]:
    """ChangeConfiguration of one key."""
    return "ChangeConfiguration", {"key": command.key, "value": command.value}


def build_get_base_report(command: GetBaseReport) -> tuple[str, Payload]:
    """1.6 has no device model reports: every key is read with GetConfiguration instead."""
    return "GetConfiguration", {}


def parse_base_report(command: GetBaseReport, payload: Payload) -> CommandResult:
    """Like GetConfiguration, plus the request id the caller chose (nothing more will follow)."""
    result = parse_configuration(command, payload)
    result.data["request_id"] = command.request_id
    return result


# -- smart charging -----------------------------------------------------------------------------------


def build_set_charging_profile(command: SetChargingProfile) -> tuple[str, Payload]:
    """SetChargingProfile on connector = EVSE (0: the charge point, e.g. ChargePointMaxProfile)."""
    return "SetChargingProfile", {
        "connectorId": command.evse_id,
        "csChargingProfiles": charging_profile(command.profile),
    }


def build_clear_charging_profile(command: ClearChargingProfile) -> tuple[str, Payload]:
    """ClearChargingProfile by id and/or connector / purpose / stack level (none: every profile)."""
    payload: Payload = {}
    if command.profile_id is not None:
        payload["id"] = command.profile_id
    if command.evse_id is not None:
        payload["connectorId"] = command.evse_id
    if command.purpose is not None:
        payload["chargingProfilePurpose"] = purpose_16(command.purpose)
    if command.stack_level is not None:
        payload["stackLevel"] = command.stack_level
    return "ClearChargingProfile", payload


def build_get_composite_schedule(command: GetCompositeSchedule) -> tuple[str, Payload]:
    """GetCompositeSchedule of connector = EVSE (0: the charge point's grid connection, OCPP 1.6 §5.7)."""
    return "GetCompositeSchedule", {
        "connectorId": command.evse_id,
        "duration": command.duration,
        **present(chargingRateUnit=command.rate_unit),
    }


def parse_get_composite_schedule(command: GetCompositeSchedule, payload: Payload) -> CommandResult:
    """status; with a schedule (Accepted), its start (`scheduleStart`, else the schedule's own
    `startSchedule`), unit and periods in domain words; connectorId N is EVSE N."""
    schedule = payload.get("chargingSchedule")
    start = payload.get("scheduleStart") or (schedule or {}).get("startSchedule")
    if schedule is None or start is None:
        return answered(payload)
    return answered(
        payload, **parse_composite_schedule(payload.get("connectorId", command.evse_id), start, schedule)
    )


# -- firmware and logs ----------------------------------------------------------------------------


def build_update_firmware(command: UpdateFirmware) -> tuple[str, Payload]:
    """UpdateFirmware (location, retrieveDate, retries, retryInterval); with a signing certificate and a
    signature, the security extension's SignedUpdateFirmware (OCPP 1.6 Security Whitepaper §4.3, L01)."""
    if command.signing_certificate and command.signature:
        return build_update_firmware_signed(command, "SignedUpdateFirmware")
    return "UpdateFirmware", {
        "location": command.location,
        "retrieveDate": isoformat_z(command.retrieve_at),
        **present(retries=command.retries, retryInterval=command.retry_interval),
    }


def parse_update_firmware(command: UpdateFirmware, payload: Payload) -> CommandResult:
    """1.6 UpdateFirmware.conf is empty (the station took the request: Accepted); SignedUpdateFirmware
    answers a status."""
    return answered(payload, status=None if "status" in payload else "Accepted")


def build_get_diagnostics(command: GetLog) -> tuple[str, Payload]:
    """A diagnostics log is GetDiagnostics (location, startTime, stopTime, retries, retryInterval); a
    security log is the security extension's GetLog (Security Whitepaper §4.4)."""
    if command.log_type != "DiagnosticsLog":
        return build_get_log(command)
    return "GetDiagnostics", {
        "location": command.remote_location,
        **present(
            startTime=None if command.oldest is None else isoformat_z(command.oldest),
            stopTime=None if command.latest is None else isoformat_z(command.latest),
            retries=command.retries,
            retryInterval=command.retry_interval,
        ),
    }


def parse_get_diagnostics(command: GetLog, payload: Payload) -> CommandResult:
    """GetDiagnostics.conf has only the optional fileName: present, the station will upload it (Accepted);
    absent, it has no diagnostic information (OCPP 1.6 §6.29) and uploads nothing (Rejected). GetLog answers
    a status."""
    if "status" in payload:
        return parse_get_log(command, payload)
    if "fileName" not in payload:
        return answered(payload, status="Rejected", reason="no diagnostic information available")
    return answered(payload, status="Accepted", filename=payload["fileName"])


# -- local authorization list -----------------------------------------------------------------------


async def short_local_list(ctx: StationContext, command: SendLocalList) -> SendLocalList:
    """The list with every idTag / parentIdTag a 1.6 station can carry: a token longer than 20 characters
    is sent as its alias (as the station presents it back at Authorize / StartTransaction)."""
    aliases = ctx.domain.id_token_aliases

    async def short(token: str) -> str:
        return await aliases.shorten(token, ID_TOKEN_MAX)

    entries = [
        replace(
            e,
            id_token=await short(e.id_token),
            group_id_token=None if e.group_id_token is None else await short(e.group_id_token),
        )
        for e in command.entries
    ]
    removed = [replace(e, id_token=await short(e.id_token)) for e in command.removed]
    return replace(command, entries=entries, removed=removed)


def id_tag_info(entry: LocalListEntry) -> Payload:
    """The entry's IdTagInfo (status, expiryDate, parentIdTag); 1.6 has the neutral statuses' words."""
    return {"status": entry.status} | present(
        expiryDate=None if entry.expiry_date is None else isoformat_z(entry.expiry_date),
        parentIdTag=entry.group_id_token,
    )


def build_send_local_list(command: SendLocalList) -> tuple[str, Payload]:
    """SendLocalList (OCPP 1.6 §6.43): listVersion, updateType and localAuthorizationList of AuthorizationData
    {idTag, idTagInfo}; a removed entry is an idTag without idTagInfo (§5.15, Differential only)."""
    items = [{"idTag": e.id_token, "idTagInfo": id_tag_info(e)} for e in command.entries]
    items += [{"idTag": e.id_token} for e in command.removed]
    payload: Payload = {"listVersion": command.version, "updateType": command.update_type}
    if items:
        payload["localAuthorizationList"] = items
    return "SendLocalList", payload


def build_get_local_list_version(command: GetLocalListVersion) -> tuple[str, Payload]:
    """GetLocalListVersion (OCPP 1.6 §6.23), no fields."""
    return "GetLocalListVersion", {}


def parse_get_local_list_version(command: GetLocalListVersion, payload: Payload) -> CommandResult:
    """The station answered (Accepted) with its listVersion as data["version"] (0: none, -1: disabled)."""
    return answered(payload, status="Accepted", version=payload["listVersion"])


COMMANDS: CommandTable = {
    StartSession: Translation(build_start_session, status_only, prepare=short_id_token),
    StopSession: Translation(build_stop_session, status_only),
    ReserveNow: Translation(build_reserve_now, status_only, prepare=short_id_token),
    CancelReservation: Translation(build_cancel_reservation, status_only),
    UnlockConnector: Translation(build_unlock_connector, status_only),
    Reset: Translation(build_reset, status_only),
    ChangeAvailability: Translation(build_change_availability, status_only),
    TriggerMessage: Translation(build_trigger_message, status_only),
    CertificateSigned: Translation(build_certificate_signed, status_only),
    RenewCertificate: Translation(build_renew_certificate, status_only),
    InstallCertificate: Translation(build_install_certificate, status_only),
    GetInstalledCertificateIds: Translation(
        build_get_installed_certificate_ids, parse_get_installed_certificate_ids
    ),
    DeleteCertificate: Translation(build_delete_certificate, status_only),
    ClearCache: Translation(build_clear_cache, status_only),
    DataTransfer: Translation(build_data_transfer, parse_data_transfer),
    GetConfiguration: Translation(build_get_configuration, parse_configuration, record_configuration),
    ChangeConfiguration: Translation(build_change_configuration, status_only),
    GetBaseReport: Translation(build_get_base_report, parse_base_report, record_configuration),
    SetChargingProfile: Translation(build_set_charging_profile, status_only),
    ClearChargingProfile: Translation(build_clear_charging_profile, status_only),
    GetCompositeSchedule: Translation(build_get_composite_schedule, parse_get_composite_schedule),
    UpdateFirmware: Translation(build_update_firmware, parse_update_firmware),
    GetLog: Translation(build_get_diagnostics, parse_get_diagnostics),
    SendLocalList: Translation(build_send_local_list, status_only, prepare=short_local_list),
    GetLocalListVersion: Translation(build_get_local_list_version, parse_get_local_list_version),
}
