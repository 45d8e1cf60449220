"""Version-neutral commands to charge points, and the one service that sends them.

A caller (REST API, OCPI bridge, reservation service) builds a command dataclass and awaits
`CommandService.send(charge_point_id, command)`. The OCPP server implements `StationGateway`: it finds the
station's live session, lets that version's adapter translate the command into a CALL
(`csms/ocpp/v16/commands.py`, `csms/ocpp/v201/commands.py`), sends it (one outstanding CALL per connection,
`[ocpp] call_timeout`), and translates the answer back into a `CommandResult`. The domain never sees an
OCPP action name or payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import structlog

from csms.domain.clock import parse_datetime
from csms.domain.local_list import LocalListEntry
from csms.domain.registry import ConnectionRegistry

log = structlog.get_logger("csms.commands")


class Outcome(StrEnum):
    """How a command ended, before looking at what the station said."""

    ANSWERED = "answered"  # the station answered with a CALLRESULT; see `status`
    OFFLINE = "offline"  # no live connection to the charge point
    TIMEOUT = "timeout"  # no answer within [ocpp] call_timeout
    CALL_ERROR = "call_error"  # the station answered with a CALLERROR; see error_code
    NOT_SUPPORTED = "not_supported"  # the command cannot be expressed in the station's OCPP version
    DISCONNECTED = "disconnected"  # the socket closed while waiting for the answer


@dataclass(slots=True)
class CommandResult:
    """The result of one command.

    `status` is the station's own status word (Accepted, Rejected, Occupied, Unlocked, Scheduled, ...; the
    words are the same in 1.6 and 2.0.1 where the concept is), present when `outcome` is ANSWERED. `data`
    holds the translated rest of the answer (e.g. configuration values, a transaction id), in domain words.
    """

    outcome: Outcome
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    description: str = ""

    @property
    def accepted(self) -> bool:
        """True when the station answered with an accepting status."""
        return self.outcome is Outcome.ANSWERED and self.status in ("Accepted", "Unlocked", "Scheduled")


class ResetKind(StrEnum):
    """Neutral reset kinds; 1.6 maps soft/on_idle → Soft, hard/immediate → Hard; 2.0.1 maps
    soft/on_idle → OnIdle, hard/immediate → Immediate."""

    SOFT = "soft"
    HARD = "hard"
    IMMEDIATE = "immediate"
    ON_IDLE = "on_idle"


@dataclass(slots=True)
class StartSession:
    """Remote start (1.6 RemoteStartTransaction / 2.0.1 RequestStartTransaction).

    `remote_start_id` ties the transaction that follows to this request (2.0.1 remoteStartId; for 1.6 the
    CSMS matches StartTransaction by connector and id token).
    """

    id_token: str
    remote_start_id: int
    evse_id: int | None = None
    id_token_type: str = "Central"
    group_id_token: str | None = None
    charging_profile: ChargingProfile | None = None


@dataclass(slots=True)
class StopSession:
    """Remote stop (1.6 RemoteStopTransaction / 2.0.1 RequestStopTransaction) of a station transaction id."""

    ocpp_transaction_id: str


@dataclass(slots=True)
class ReserveNow:
    """Reserve an EVSE (evse_id None or 0: any EVSE / 1.6 connector 0) for an id token until `expiry`."""

    reservation_id: int
    expiry: datetime
    id_token: str
    evse_id: int | None = None
    id_token_type: str = "Central"
    group_id_token: str | None = None
    connector_type: str | None = None  # 2.0.1 ConnectorEnumType, optional


@dataclass(slots=True)
class CancelReservation:
    """Cancel a reservation the station holds."""

    reservation_id: int


@dataclass(slots=True)
class UnlockConnector:
    """Unlock a connector (1.6 connectorId = evse_id)."""

    evse_id: int
    connector_id: int = 1


@dataclass(slots=True)
class Reset:
    """Reboot the station (or, 2.0.1, one EVSE)."""

    kind: ResetKind
    evse_id: int | None = None


@dataclass(slots=True)
class ChangeAvailability:
    """Set an EVSE (0 = whole station) operative or inoperative."""

    operative: bool
    evse_id: int = 0
    connector_id: int | None = None


@dataclass(slots=True)
class TriggerMessage:
    """Ask the station to send a message now (the version's MessageTrigger word, e.g. StatusNotification)."""

    message: str
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(slots=True)
class CertificateSigned:
    """Send a signed certificate chain (PEM, leaf first) to the station (OCPP 2.0.1 A02.FR.06, 1.6
    Security Whitepaper CertificateSigned); `certificate_type` is ChargingStationCertificate or
    V2GCertificate (2.0.1 only)."""

    certificate_chain: str
    certificate_type: str = "ChargingStationCertificate"


@dataclass(slots=True)
class RenewCertificate:
    """Ask the station to make a new key and send SignCertificate (2.0.1 TriggerMessage
    SignChargingStationCertificate, A03.FR.01; 1.6 ExtendedTriggerMessage SignChargePointCertificate)."""


@dataclass(slots=True)
class InstallCertificate:
    """Install a root certificate on the station (OCPP 2.0.1 M05; 1.6 Security Whitepaper).
    `certificate_type` is the 2.0.1 InstallCertificateUseEnumType word (CSMSRootCertificate,
    ManufacturerRootCertificate, V2GRootCertificate, MORootCertificate); 1.6 has only the first two."""

    certificate_type: str
    certificate: str  # PEM


@dataclass(slots=True)
class GetInstalledCertificateIds:
    """List the station's installed certificates (2.0.1 M03): of these 2.0.1 GetCertificateIdUseEnumType
    types, or all when empty (1.6 asks for exactly one type). The result's data["certificates"] holds one
    {certificate_type, hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number} per certificate."""

    certificate_types: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DeleteCertificate:
    """Delete the installed certificate with this CertificateHashDataType (2.0.1 M04)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str


@dataclass(slots=True)
class ClearCache:
    """Clear the station's authorization cache."""


@dataclass(slots=True)
class DataTransfer:
    """Vendor-specific data transfer; `data` is a string in 1.6 and any JSON in 2.0.1."""

    vendor_id: str
    message_id: str | None = None
    data: Any = None


@dataclass(slots=True)
class GetConfiguration:
    """Read configuration. Keys are 1.6 key names, or 2.0.1 `Component.Variable` (optionally
    `Component[instance].Variable[instance]`); no keys means everything the station reports (1.6 only;
    2.0.1 needs keys — use GetBaseReport for everything)."""

    keys: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ChangeConfiguration:
    """Write one configuration value (1.6 ChangeConfiguration / 2.0.1 SetVariables)."""

    key: str
    value: str


@dataclass(slots=True)
class GetBaseReport:
    """2.0.1 GetBaseReport (ConfigurationInventory, FullInventory, SummaryInventory); the NotifyReport stream
    that follows is stored as the station's device model. On 1.6 it is a GetConfiguration of all keys,
    stored the same way."""

    request_id: int
    report_base: str = "FullInventory"


@dataclass(slots=True)
class ChargingSchedulePeriod:
    """One period of a schedule: from `start_period` seconds, at most `limit` (A or W)."""

    start_period: int
    limit: Decimal
    number_phases: int | None = None


@dataclass(slots=True)
class ChargingProfile:
    """A charging profile in neutral words; adapters build the version's ChargingProfileType.

    purpose: TxProfile, TxDefaultProfile, or ChargingStationMaxProfile (1.6 ChargePointMaxProfile).
    kind: Absolute, Recurring, Relative. rate_unit: A or W.
    """

    id: int
    stack_level: int
    purpose: str
    kind: str
    rate_unit: str
    periods: list[ChargingSchedulePeriod]
    ocpp_transaction_id: str | None = None
    recurrency_kind: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: Decimal | None = None


@dataclass(slots=True)
class SetChargingProfile:
    """Install a charging profile on an EVSE (0 = the whole station)."""

    evse_id: int
    profile: ChargingProfile


@dataclass(slots=True)
class ClearChargingProfile:
    """Remove charging profiles by id, or by EVSE / purpose / stack level (all None: every profile)."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None


@dataclass(slots=True)
class GetCompositeSchedule:
    """Ask a station for the composite schedule of an EVSE (0: the station's grid connection) for the next
    `duration` seconds (OCPP 1.6 §5.7, OCPP 2.0.1 K08); `rate_unit` A or W, None: the station's choice.

    An Accepted result's data is in domain words: `evse_id`, `schedule_start` (datetime, UTC), `duration`
    (s, when given), `rate_unit`, and `periods` [{"start_period", "limit" (Decimal), "number_phases"?}];
    `composite_schedule_of(result)` reads them back as a `CompositeSchedule`."""

    evse_id: int
    duration: int
    rate_unit: str | None = None


@dataclass(slots=True)
class GetChargingProfiles:
    """Ask a 2.0.1 station which charging profiles it holds (OCPP 2.0.1 K09); they follow as
    ReportChargingProfiles with `request_id` (`Domain.charging_limits`). Criteria: the EVSE (0: the
    station; None: every EVSE), purpose, stack level, sources (CSO, EMS, SO, Other), profile ids. A 1.6
    station gets NOT_SUPPORTED without anything sent (1.6 has no such message)."""

    request_id: int
    evse_id: int | None = None
    purpose: str | None = None
    stack_level: int | None = None
    sources: list[str] | None = None
    profile_ids: list[int] | None = None


@dataclass(slots=True)
class CompositeSchedule:
    """A station's composite schedule: from `start`, the periods' limits in `rate_unit` (A or W)."""

    evse_id: int
    start: datetime
    rate_unit: str
    periods: list[ChargingSchedulePeriod]
    duration: int | None = None


def composite_schedule_of(result: CommandResult) -> CompositeSchedule | None:
    """The schedule in an answered GetCompositeSchedule result, or None (rejected, or no schedule).

    Also reads a result that came from another node (`csms.cluster.codec`: the start as RFC 3339 text,
    limits as decimal strings)."""
    data = result.data
    if not result.accepted or "periods" not in data:
        return None
    start = data["schedule_start"]
    return CompositeSchedule(
        evse_id=data["evse_id"],
        start=parse_datetime(start) if isinstance(start, str) else start,
        rate_unit=data["rate_unit"],
        periods=[
            ChargingSchedulePeriod(p["start_period"], Decimal(str(p["limit"])), p.get("number_phases"))
            for p in data["periods"]
        ],
        duration=data.get("duration"),
    )


@dataclass(slots=True)
class CostUpdated:
    """Tell a station the running total cost of a transaction, incl. VAT, in its configured currency
    (OCPP 2.0.1 I02; 2.0.1 only: a 1.6 station gets NOT_SUPPORTED without anything sent)."""

    total_cost: Decimal
    transaction_id: str  # the station's own transaction id


@dataclass(slots=True)
class UpdateFirmware:
    """Install firmware from `location` (1.6 UpdateFirmware; with a signature, 1.6 security extension
    SignedUpdateFirmware; 2.0.1 UpdateFirmware). `request_id` ties the FirmwareStatusNotifications to it."""

    request_id: int
    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(slots=True)
class GetLog:
    """Upload a log to `remote_location` (2.0.1 and 1.6 security extension GetLog; a 1.6 DiagnosticsLog is
    GetDiagnostics). `log_type`: DiagnosticsLog or SecurityLog."""

    request_id: int
    log_type: str
    remote_location: str
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(slots=True)
class SendLocalList:
    """Send (part of) the station's local authorization list (1.6 SendLocalList, 2.0.1 D01): `update_type`
    Full replaces the list, Differential changes the named entries; `removed` are entries sent without
    idTagInfo / idTokenInfo, which the station deletes (2.0.1 D01.FR.18). Statuses: Accepted, Failed,
    NotSupported, VersionMismatch."""

    version: int
    update_type: str  # "Full" or "Differential" (csms.domain.local_list.UpdateType)
    entries: list[LocalListEntry] = field(default_factory=list)
    removed: list[LocalListEntry] = field(default_factory=list)  # as last sent (2.0.1 needs the type)


@dataclass(slots=True)
class GetLocalListVersion:
    """Ask the station for its local list version (1.6 GetLocalListVersion, 2.0.1 D02); the result's
    status is Accepted and data["version"] the station's version (0: no list; 1.6: -1 when disabled)."""


Command = (
    StartSession
    | StopSession
    | ReserveNow
    | CancelReservation
    | UnlockConnector
    | Reset
    | ChangeAvailability
    | TriggerMessage
    | ClearCache
    | DataTransfer
    | GetConfiguration
    | ChangeConfiguration
    | GetBaseReport
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
    | GetChargingProfiles
    | CostUpdated
    | UpdateFirmware
    | GetLog
    | CertificateSigned
    | RenewCertificate
    | InstallCertificate
    | GetInstalledCertificateIds
    | DeleteCertificate
    | SendLocalList
    | GetLocalListVersion
)


class StationGateway(Protocol):
    """Delivers a command to a connected station; implemented by the OCPP server."""

    def ocpp_version(self, charge_point_id: str) -> str | None:
        """ "1.6" or "2.0.1" for a connected station, None when it is offline."""
        ...

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        """Translate, send, wait, translate back; OFFLINE when the station has no live connection."""
        ...


class RegistryGateway:
    """`StationGateway` over the live-connection registry: each connection carries its session's
    `execute` (set by the OCPP server), so the domain reaches stations without importing the server."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry

    def ocpp_version(self, charge_point_id: str) -> str | None:
        live = self._registry.find(charge_point_id)  # the whole cluster's: a command may be routed
        return live.ocpp_version if live is not None else None

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        live = self._registry.get(charge_point_id)
        if live is None or live.execute is None:
            return CommandResult(
                Outcome.OFFLINE, description=f"charge point {charge_point_id} is not connected"
            )
        result: CommandResult = await live.execute(command)
        return result


class CommandService:
    """Sends version-neutral commands through the gateway; the one entry point for every caller."""

    def __init__(self, gateway: StationGateway) -> None:
        self._gateway = gateway

    def ocpp_version(self, charge_point_id: str) -> str | None:
        """ "1.6" / "2.0.1" while the station is connected, None when it is offline."""
        return self._gateway.ocpp_version(charge_point_id)

    async def send(self, charge_point_id: str, command: Command) -> CommandResult:
        """Deliver `command` and return what happened; never raises for station behaviour.

        OFFLINE comes back at once for a station without a live connection; otherwise the call waits at most
        `[ocpp] call_timeout` (TIMEOUT) and a CALLERROR becomes CALL_ERROR with the station's code.
        """
        result = await self._gateway.execute(charge_point_id, command)
        log.info(
            "command_sent",
            charge_point_id=charge_point_id,
            command=type(command).__name__,
            outcome=result.outcome.value,
            status=result.status,
            error_code=result.error_code,
        )
        return result
