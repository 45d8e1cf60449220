"""OCPP 2.0.1: every version-neutral command the CSMS can send, as a CALL and back — the whole outbound
2.0.1 surface in one table (`COMMANDS`).

Translation rules (neutral words → 2.0.1):
- EVSE ids and connector ids are 2.0.1's own; EVSE None / 0 (the station) leaves `evseId` / `evse` out.
- An id token travels as IdTokenType {idToken, type}; a group id token as IdTokenType of type Central.
- Reset: soft / on_idle → OnIdle, hard / immediate → Immediate.
- Configuration keys name device model variables (syntax: `csms.domain.variable_keys`); GetConfiguration
  is GetVariables, ChangeConfiguration is a one-item SetVariables, both for the Actual attribute.
- Charging limits and rates carry at most one decimal (rounded toward zero, `csms.ocpp.commands.tenths`);
  each profile has one schedule, whose id is the profile's id.
- Absent optional fields are left out, never null (OCPP 2.0.1 Part 4 §4.1.3).
"""

from __future__ import annotations

from typing import Any

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
    CostUpdated,
    DataTransfer,
    DeleteCertificate,
    GetBaseReport,
    GetChargingProfiles,
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
from csms.domain.variable_keys import VariableKey
from csms.ocpp.certificate_commands import certificate_of, hash_data
from csms.ocpp.commands import (
    CommandTable,
    Inexpressible,
    Payload,
    Translation,
    answered,
    build_get_log,
    build_update_firmware_signed,
    json_number,
    jsonable,
    parse_composite_schedule,
    parse_get_log,
    present,
    profile_fields,
    schedule_fields,
    status_info,
)

RESET_TYPES = {
    ResetKind.SOFT: "OnIdle",
    ResetKind.ON_IDLE: "OnIdle",
    ResetKind.HARD: "Immediate",
    ResetKind.IMMEDIATE: "Immediate",
}
# The 1.6 word for the station-wide limit is taken too.
PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
# GetVariables statuses that mean "no such variable here" (reported as unknown_keys, like 1.6 unknownKey).
UNKNOWN = frozenset({"UnknownComponent", "UnknownVariable"})


def parse_key(key: str) -> VariableKey:
    """The variable a configuration key names.

    Raises:
        Inexpressible: the key does not follow the syntax (`csms.domain.variable_keys`).
    """
    try:
        return VariableKey.parse(key)
    except ValueError as exc:
        raise Inexpressible(str(exc)) from None


def key_from_wire(component: Payload, variable: Payload) -> VariableKey:
    """The variable named by 2.0.1 ComponentType and VariableType objects."""
    evse = component.get("evse") or {}
    return VariableKey(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance"),
        variable_instance=variable.get("instance"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
    )


def component_type(key: VariableKey) -> Payload:
    """2.0.1 ComponentType {name, instance?, evse{id, connectorId?}?}."""
    out: Payload = {"name": key.component}
    if key.component_instance is not None:
        out["instance"] = key.component_instance
    if key.evse_id is not None:
        out["evse"] = {"id": key.evse_id}
        if key.connector_id is not None:
            out["evse"]["connectorId"] = key.connector_id
    return out


def variable_type(key: VariableKey) -> Payload:
    """2.0.1 VariableType {name, instance?}."""
    out: Payload = {"name": key.variable}
    if key.variable_instance is not None:
        out["instance"] = key.variable_instance
    return out


def id_token(token: str, token_type: str) -> Payload:
    """2.0.1 IdTokenType."""
    return {"idToken": token, "type": token_type}


def evse_type(evse_id: int | None, connector_id: int | None) -> Payload | None:
    """2.0.1 EVSEType {id, connectorId?}, or None for the whole station (EVSE None or 0)."""
    if not evse_id:
        return None
    out: Payload = {"id": evse_id}
    if connector_id is not None:
        out["connectorId"] = connector_id
    return out


def charging_profile(profile: ChargingProfile) -> Payload:
    """2.0.1 ChargingProfileType with one ChargingScheduleType (id = the profile's id)."""
    return {
        "id": profile.id,
        "chargingProfilePurpose": PURPOSES.get(profile.purpose, profile.purpose),
        **profile_fields(profile),
        "chargingSchedule": [{"id": profile.id, **schedule_fields(profile)}],
        **present(transactionId=profile.ocpp_transaction_id),
    }


def status_only(command: Any, payload: Payload) -> CommandResult:
    """Parse a response of `status` and optional `statusInfo`."""
    return answered(payload)


# -- StartSession / StopSession ----------------------------------------------------------------------


def build_start_session(command: StartSession) -> tuple[str, Payload]:
    """RequestStartTransaction with the remoteStartId the following TransactionEvent will carry."""
    payload: Payload = {
        "idToken": id_token(command.id_token, command.id_token_type),
        "remoteStartId": command.remote_start_id,
    }
    if command.evse_id:
        payload["evseId"] = command.evse_id
    if command.group_id_token is not None:
        payload["groupIdToken"] = id_token(command.group_id_token, "Central")
    if command.charging_profile is not None:
        if PURPOSES.get(command.charging_profile.purpose, command.charging_profile.purpose) != "TxProfile":
            raise Inexpressible("a remote start's charging profile must be a TxProfile")
        payload["chargingProfile"] = charging_profile(command.charging_profile)
    return "RequestStartTransaction", payload


def parse_start_session(command: StartSession, payload: Payload) -> CommandResult:
    """status; `ocpp_transaction_id` when a transaction was already running (cable plugged in first)."""
    return answered(payload, ocpp_transaction_id=payload.get("transactionId"))


def build_stop_session(command: StopSession) -> tuple[str, Payload]:
    """RequestStopTransaction of the station's transaction id."""
    return "RequestStopTransaction", {"transactionId": command.ocpp_transaction_id}


# -- reservations -------------------------------------------------------------------------------------


def build_reserve_now(command: ReserveNow) -> tuple[str, Payload]:
    """ReserveNow; no evseId for EVSE None / 0 (needs ReservationCtrlr.NonEvseSpecific on the station)."""
    payload: Payload = {
        "id": command.reservation_id,
        "expiryDateTime": isoformat_z(command.expiry),
        "idToken": id_token(command.id_token, command.id_token_type),
    }
    if command.evse_id:
        payload["evseId"] = command.evse_id
    if command.group_id_token is not None:
        payload["groupIdToken"] = id_token(command.group_id_token, "Central")
    if command.connector_type is not None:
        payload["connectorType"] = command.connector_type
    return "ReserveNow", payload


def build_cancel_reservation(command: CancelReservation) -> tuple[str, Payload]:
    """CancelReservation."""
    return "CancelReservation", {"reservationId": command.reservation_id}


# -- station control ----------------------------------------------------------------------------------


def build_unlock_connector(command: UnlockConnector) -> tuple[str, Payload]:
    """UnlockConnector of one EVSE's connector."""
    return "UnlockConnector", {"evseId": command.evse_id, "connectorId": command.connector_id}


def build_reset(command: Reset) -> tuple[str, Payload]:
    """Reset Immediate / OnIdle of the station, or of one EVSE."""
    payload: Payload = {"type": RESET_TYPES[ResetKind(command.kind)]}
    if command.evse_id:
        payload["evseId"] = command.evse_id
    return "Reset", payload


def build_change_availability(command: ChangeAvailability) -> tuple[str, Payload]:
    """ChangeAvailability of the station (EVSE 0), an EVSE or one connector."""
    payload: Payload = {"operationalStatus": "Operative" if command.operative else "Inoperative"}
    evse = evse_type(command.evse_id, command.connector_id)
    if evse is not None:
        payload["evse"] = evse
    return "ChangeAvailability", payload


def build_trigger_message(command: TriggerMessage) -> tuple[str, Payload]:
    """TriggerMessage, for one EVSE (or connector) when given."""
    payload: Payload = {"requestedMessage": command.message}
    evse = evse_type(command.evse_id, command.connector_id)
    if evse is not None:
        payload["evse"] = evse
    return "TriggerMessage", payload


def build_certificate_signed(command: CertificateSigned) -> tuple[str, Payload]:
    """CertificateSigned (OCPP 2.0.1 A02.FR.06): the PEM chain, leaf first, and its type."""
    return "CertificateSigned", {
        "certificateChain": command.certificate_chain,
        "certificateType": command.certificate_type,
    }


def build_renew_certificate(command: RenewCertificate) -> tuple[str, Payload]:
    """TriggerMessage SignChargingStationCertificate (OCPP 2.0.1 A03.FR.01)."""
    return "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}


def build_install_certificate(command: InstallCertificate) -> tuple[str, Payload]:
    """InstallCertificate (OCPP 2.0.1 M05)."""
    return "InstallCertificate", {
        "certificateType": command.certificate_type,
        "certificate": command.certificate,
    }


def build_get_installed_certificate_ids(command: GetInstalledCertificateIds) -> tuple[str, Payload]:
    """GetInstalledCertificateIds (M03); all types when none given."""
    payload: Payload = {}
    if command.certificate_types:
        payload["certificateType"] = list(command.certificate_types)
    return "GetInstalledCertificateIds", payload


def parse_get_installed_certificate_ids(
    command: GetInstalledCertificateIds, payload: Payload
) -> CommandResult:
    """status, and data["certificates"]: one entry per certificateHashDataChain item (its child certificates
    are not listed)."""
    chains = payload.get("certificateHashDataChain", [])
    certificates = [certificate_of(c["certificateType"], c["certificateHashData"]) for c in chains]
    return answered(payload, certificates=certificates)


def build_delete_certificate(command: DeleteCertificate) -> tuple[str, Payload]:
    """DeleteCertificate (M04)."""
    return "DeleteCertificate", {"certificateHashData": hash_data(command)}


def build_clear_cache(command: ClearCache) -> tuple[str, Payload]:
    """ClearCache."""
    return "ClearCache", {}


def build_cost_updated(command: CostUpdated) -> tuple[str, Payload]:
    """CostUpdated (OCPP 2.0.1 I02.FR.03): the running total cost, already rounded to the currency's minor
    unit by the domain (`csms.domain.costs`)."""
    return "CostUpdated", {
        "totalCost": json_number(command.total_cost),
        "transactionId": command.transaction_id,
    }


def parse_cost_updated(command: CostUpdated, payload: Payload) -> CommandResult:
    """The station acknowledged (CostUpdatedResponse carries nothing but customData)."""
    return answered(payload)


def build_data_transfer(command: DataTransfer) -> tuple[str, Payload]:
    """DataTransfer; 2.0.1 `data` is any JSON value."""
    payload: Payload = {"vendorId": command.vendor_id}
    if command.message_id is not None:
        payload["messageId"] = command.message_id
    if command.data is not None:
        payload["data"] = jsonable(command.data)
    return "DataTransfer", payload


def parse_data_transfer(command: DataTransfer, payload: Payload) -> CommandResult:
    """status and the station's `data`, as sent."""
    return answered(payload, data=payload.get("data"))


# -- configuration ------------------------------------------------------------------------------------


def build_get_configuration(command: GetConfiguration) -> tuple[str, Payload]:
    """GetVariables of the Actual value of each key.

    Raises:
        Inexpressible: no keys (2.0.1 cannot ask for "everything": use GetBaseReport) or a bad key.
    """
    if not command.keys:
        raise Inexpressible("OCPP 2.0.1 reads configuration by key; use GetBaseReport for all of it")
    data = []
    for key in command.keys:
        variable = parse_key(key)
        data.append({"component": component_type(variable), "variable": variable_type(variable)})
    return "GetVariables", {"getVariableData": data}


def parse_get_configuration(command: GetConfiguration, payload: Payload) -> CommandResult:
    """GetVariables results → status Accepted (per-key statuses inside) and data:

    - "configuration": [{"key", "value", "readonly": None}] for each Accepted variable (GetVariables
      does not say whether a variable is writable; GetBaseReport does);
    - "unknown_keys": keys answered UnknownComponent / UnknownVariable (as 1.6 unknownKey);
    - "statuses": {key: attributeStatus} for every key (Accepted, Rejected, UnknownComponent,
      UnknownVariable, NotSupportedAttributeType).
    """
    configuration: list[dict[str, Any]] = []
    unknown: list[str] = []
    statuses: dict[str, str] = {}
    for item in payload["getVariableResult"]:
        key = str(key_from_wire(item["component"], item["variable"]))
        status = item["attributeStatus"]
        statuses[key] = status
        if status == "Accepted":
            configuration.append({"key": key, "value": item.get("attributeValue"), "readonly": None})
        elif status in UNKNOWN:
            unknown.append(key)
    return answered(
        payload, status="Accepted", configuration=configuration, unknown_keys=unknown, statuses=statuses
    )


def build_change_configuration(command: ChangeConfiguration) -> tuple[str, Payload]:
    """SetVariables of one variable's Actual value.

    Raises:
        Inexpressible: a bad key.
    """
    variable = parse_key(command.key)
    item = {
        "attributeValue": command.value,
        "component": component_type(variable),
        "variable": variable_type(variable),
    }
    return "SetVariables", {"setVariableData": [item]}


def parse_change_configuration(command: ChangeConfiguration, payload: Payload) -> CommandResult:
    """The one result's attributeStatus is the status (Accepted, Rejected, RebootRequired,
    UnknownComponent, UnknownVariable, NotSupportedAttributeType); its statusInfo → reason_code."""
    result = payload["setVariableResult"][0]
    data: dict[str, Any] = {"key": str(key_from_wire(result["component"], result["variable"]))}
    if "attributeStatusInfo" in result:
        data.update(status_info(result["attributeStatusInfo"]))
    return answered(payload, status=result["attributeStatus"], **data)


def build_get_base_report(command: GetBaseReport) -> tuple[str, Payload]:
    """GetBaseReport; the NotifyReport parts that follow are stored by `handle_notify_report`."""
    return "GetBaseReport", {"requestId": command.request_id, "reportBase": command.report_base}


def parse_get_base_report(command: GetBaseReport, payload: Payload) -> CommandResult:
    """status (Accepted, Rejected, NotSupported, EmptyResultSet) and the request id of the report."""
    return answered(payload, request_id=command.request_id)


# -- smart charging -----------------------------------------------------------------------------------


def build_set_charging_profile(command: SetChargingProfile) -> tuple[str, Payload]:
    """SetChargingProfile on an EVSE (0: the station, e.g. ChargingStationMaxProfile)."""
    return "SetChargingProfile", {
        "evseId": command.evse_id,
        "chargingProfile": charging_profile(command.profile),
    }


def build_clear_charging_profile(command: ClearChargingProfile) -> tuple[str, Payload]:
    """ClearChargingProfile by id and/or criteria (EVSE, purpose, stack level); nothing: every profile."""
    payload: Payload = {}
    if command.profile_id is not None:
        payload["chargingProfileId"] = command.profile_id
    criteria: Payload = {}
    if command.evse_id is not None:
        criteria["evseId"] = command.evse_id
    if command.purpose is not None:
        criteria["chargingProfilePurpose"] = PURPOSES.get(command.purpose, command.purpose)
    if command.stack_level is not None:
        criteria["stackLevel"] = command.stack_level
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    return "ClearChargingProfile", payload


def build_get_composite_schedule(command: GetCompositeSchedule) -> tuple[str, Payload]:
    """GetCompositeSchedule of an EVSE (0: the station's grid connection, OCPP 2.0.1 K08)."""
    return "GetCompositeSchedule", {
        "evseId": command.evse_id,
        "duration": command.duration,
        **present(chargingRateUnit=command.rate_unit),
    }


def parse_get_composite_schedule(command: GetCompositeSchedule, payload: Payload) -> CommandResult:
    """status (statusInfo as reason_code); with a schedule (Accepted), its EVSE, start, duration, unit and
    periods in domain words."""
    schedule = payload.get("schedule")
    if schedule is None:
        return answered(payload)
    return answered(
        payload, **parse_composite_schedule(schedule["evseId"], schedule["scheduleStart"], schedule)
    )


def build_get_charging_profiles(command: GetChargingProfiles) -> tuple[str, Payload]:
    """GetChargingProfiles (OCPP 2.0.1 K09): requestId, evseId when given, and the criteria (an empty
    ChargingProfileCriterionType asks for every profile)."""
    criteria = present(
        chargingProfilePurpose=None
        if command.purpose is None
        else PURPOSES.get(command.purpose, command.purpose),
        stackLevel=command.stack_level,
        chargingProfileId=None if command.profile_ids is None else list(command.profile_ids),
        chargingLimitSource=None if command.sources is None else list(command.sources),
    )
    return "GetChargingProfiles", {
        "requestId": command.request_id,
        **present(evseId=command.evse_id),
        "chargingProfile": criteria,
    }


def parse_get_charging_profiles(command: GetChargingProfiles, payload: Payload) -> CommandResult:
    """status (Accepted: ReportChargingProfiles follow; NoProfiles) and the request id they carry."""
    return answered(payload, request_id=command.request_id)


def build_update_firmware(command: UpdateFirmware) -> tuple[str, Payload]:
    """UpdateFirmware (OCPP 2.0.1 L01): requestId and FirmwareType; signingCertificate and signature when the
    firmware is signed."""
    return build_update_firmware_signed(command, "UpdateFirmware")


# -- local authorization list -----------------------------------------------------------------------


def id_token_info(entry: LocalListEntry) -> Payload:
    """The entry's IdTokenInfoType: status, cacheExpiryDateTime, groupIdToken (an IdTokenType of type
    Central)."""
    info: Payload = {"status": entry.status}
    if entry.expiry_date is not None:
        info["cacheExpiryDateTime"] = isoformat_z(entry.expiry_date)
    if entry.group_id_token is not None:
        info["groupIdToken"] = {"idToken": entry.group_id_token, "type": "Central"}
    return info


def build_send_local_list(command: SendLocalList) -> tuple[str, Payload]:
    """SendLocalList (OCPP 2.0.1 D01): versionNumber, updateType and localAuthorizationList of
    AuthorizationData {idToken, idTokenInfo}; a removed entry has no idTokenInfo (D01.FR.18)."""
    items = [
        {"idToken": {"idToken": e.id_token, "type": e.type}, "idTokenInfo": id_token_info(e)}
        for e in command.entries
    ]
    items += [{"idToken": {"idToken": e.id_token, "type": e.type}} for e in command.removed]
    payload: Payload = {"versionNumber": command.version, "updateType": command.update_type}
    if items:
        payload["localAuthorizationList"] = items
    return "SendLocalList", payload


def build_get_local_list_version(command: GetLocalListVersion) -> tuple[str, Payload]:
    """GetLocalListVersion (OCPP 2.0.1 D02), no fields."""
    return "GetLocalListVersion", {}


def parse_get_local_list_version(command: GetLocalListVersion, payload: Payload) -> CommandResult:
    """The station answered (Accepted) with its versionNumber as data["version"] (0: no list, D02.FR.02)."""
    return answered(payload, status="Accepted", version=payload["versionNumber"])


COMMANDS: CommandTable = {
    StartSession: Translation(build_start_session, parse_start_session),
    StopSession: Translation(build_stop_session, status_only),
    ReserveNow: Translation(build_reserve_now, status_only),
    CancelReservation: Translation(build_cancel_reservation, status_only),
    UnlockConnector: Translation(build_unlock_connector, status_only),
    Reset: Translation(build_reset, status_only),
    ChangeAvailability: Translation(build_change_availability, status_only),
    TriggerMessage: Translation(build_trigger_message, status_only),
    ClearCache: Translation(build_clear_cache, status_only),
    DataTransfer: Translation(build_data_transfer, parse_data_transfer),
    GetConfiguration: Translation(build_get_configuration, parse_get_configuration),
    ChangeConfiguration: Translation(build_change_configuration, parse_change_configuration),
    GetBaseReport: Translation(build_get_base_report, parse_get_base_report),
    SetChargingProfile: Translation(build_set_charging_profile, status_only),
    ClearChargingProfile: Translation(build_clear_charging_profile, status_only),
    GetCompositeSchedule: Translation(build_get_composite_schedule, parse_get_composite_schedule),
    GetChargingProfiles: Translation(build_get_charging_profiles, parse_get_charging_profiles),
    CostUpdated: Translation(build_cost_updated, parse_cost_updated),
    UpdateFirmware: Translation(build_update_firmware, status_only),
    GetLog: Translation(build_get_log, parse_get_log),
    CertificateSigned: Translation(build_certificate_signed, status_only),
    RenewCertificate: Translation(build_renew_certificate, status_only),
    InstallCertificate: Translation(build_install_certificate, status_only),
    GetInstalledCertificateIds: Translation(
        build_get_installed_certificate_ids, parse_get_installed_certificate_ids
    ),
    DeleteCertificate: Translation(build_delete_certificate, status_only),
    SendLocalList: Translation(build_send_local_list, status_only),
    GetLocalListVersion: Translation(build_get_local_list_version, parse_get_local_list_version),
}
