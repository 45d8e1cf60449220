"""Domain records shared by the adapters, the store and the API.

One vocabulary for every OCPP version (style practice 4): `charge_point_id`, EVSE, connector and id token
come from OCPP 2.0.1 and OCPI. A 1.6 connector N is EVSE N with connector 1; EVSE 0 is the station itself.
Energy is in Wh as `int`; measured values stay `Decimal` or the station's exact text, never float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from csms.domain.tenancy import DEFAULT_ORG_ID


class RegistrationStatus(StrEnum):
    """Whether a charge point may operate; answered in BootNotification (same words in 1.6 and 2.0.1)."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ConnectorStatus(StrEnum):
    """Version-neutral connector state (the OCPP 2.0.1 ConnectorStatusEnumType words).

    1.6's finer states (Preparing, Charging, SuspendedEV, ...) map to OCCUPIED and are kept verbatim in
    `Connector.status_detail` so that OCPI can tell CHARGING from BLOCKED later.
    """

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class TokenStatus(StrEnum):
    """Stored status of an id token (OCPP AuthorizationStatus values an operator can set)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class AuthorizationStatus(StrEnum):
    """Result of authorizing an id token; adapters translate it to 1.6 idTagInfo or 2.0.1 idTokenInfo."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"


class TransactionStatus(StrEnum):
    """Lifecycle of a transaction as the API shows it."""

    ACTIVE = "active"
    COMPLETED = "completed"


class Direction(StrEnum):
    """Direction of a logged OCPP frame, seen from the CSMS."""

    IN = "in"
    OUT = "out"


@dataclass(slots=True)
class BootInfo:
    """What a station says about itself in BootNotification."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    reason: str | None = None  # 2.0.1 BootReasonEnumType


@dataclass(slots=True)
class ChargePoint:
    """A charge point (charging station) as registered and as last seen."""

    charge_point_id: str
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    password_hash: str | None = None
    ocpp_version: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None
    last_boot_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    log_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    org_id: str = DEFAULT_ORG_ID  # the organization that registered it (`csms.domain.tenancy`)
    # OCPP security profile (1.6 Security Whitepaper §2, 2.0.1 A00.FR.2xx-4xx): 1 = Basic auth over ws://,
    # 2 = Basic auth over TLS, 3 = mutual TLS (client certificate CN = charge point id). No downgrade:
    # a station of profile 2 or 3 is only admitted on the TLS listener (`csms.domain.stations`).
    security_profile: int = 1


@dataclass(slots=True)
class Connector:
    """Current state of one connector of one EVSE (evse_id 0 / connector_id 0: the station itself)."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    status_detail: str | None = None
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_at: datetime | None = None


@dataclass(slots=True)
class StatusChange:
    """One StatusNotification, version-neutral: updates the connector and appends to its history."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    timestamp: datetime
    status_detail: str | None = None
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(slots=True)
class IdToken:
    """An id token (1.6 idTag, 2.0.1 IdToken) known to the CSMS, with its group (1.6 parentIdTag)."""

    id_token: str
    type: str = "ISO14443"
    status: TokenStatus = TokenStatus.ACCEPTED
    expiry_date: datetime | None = None
    group_id_token: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    org_id: str = DEFAULT_ORG_ID


@dataclass(slots=True)
class IdTokenAlias:
    """A short stand-in for an id token too long for a station's OCPP version (a 1.6 idTag is CiString20;
    an OCPI token uid or a 2.0.1 idToken may have 36 characters): `csms.domain.id_token_aliases`.

    One per id token, never changed nor deleted: a station may hold it for long (a reservation, its
    authorization cache), and must find the same token behind it whenever it presents it.
    """

    alias: str
    id_token: str
    created_at: datetime | None = None


@dataclass(slots=True)
class AuthorizationResult:
    """The CSMS's verdict on an id token, as the adapters answer it."""

    status: AuthorizationStatus
    expiry_date: datetime | None = None
    group_id_token: str | None = None


@dataclass(frozen=True, slots=True)
class SignedMeterValue:
    """The signed form of a sample, as OCPP 2.0.1 `SignedMeterValueType` carries it.

    `signed_meter_data` is base64 as in 2.0.1; a 1.6 SignedData value (text in no stated encoding, e.g. an
    OCMF string) is base64-encoded by its adapter, so decoding gives back what the station sent. Fields a
    station did not state (1.6 states none but the data) are "".
    """

    signed_meter_data: str
    encoding_method: str = ""
    signing_method: str = ""
    public_key: str = ""


@dataclass(slots=True)
class MeterSample:
    """One sampled value. `value` is the station's number as Decimal; `unit` and `multiplier` as sent;
    `signed_data` the signed form of the reading when the station sent one (Eichrecht and the like)."""

    timestamp: datetime
    value: Decimal
    measurand: str = "Energy.Active.Import.Register"
    unit: str = "Wh"
    multiplier: int = 0
    phase: str | None = None
    context: str | None = None
    location: str | None = None
    signed_data: SignedMeterValue | None = None

    @property
    def signed(self) -> bool:
        """Whether the station sent the reading signed."""
        return self.signed_data is not None


@dataclass(slots=True)
class MeterReading:
    """Samples of one station for one EVSE, optionally tied to a transaction (batched write)."""

    charge_point_id: str
    evse_id: int
    samples: list[MeterSample]
    transaction_pk: int | None = None


# The OCPP versions of a transaction's id: 1.6 ids are CSMS-assigned integers (our `Transaction.id`), 2.0.1
# ids station-assigned strings (OCPP 2.0.1 E01: transactionId is generated by the Charging Station).
OCPP_16 = "1.6"
OCPP_201 = "2.0.1"


def transaction_id_version(ocpp_transaction_id: str | None) -> str:
    """The OCPP version of a new transaction: a 1.6 one carries no id of its own (None), a 2.0.1 one does."""
    return OCPP_16 if ocpp_transaction_id is None else OCPP_201


def legacy_pk(ocpp_transaction_id: str) -> int | None:
    """The transaction id a 1.6 station uses as our integer key; None if it cannot be one (not a decimal
    integer, or beyond the 32-bit id column)."""
    if not ocpp_transaction_id.isascii() or not ocpp_transaction_id.isdecimal():
        return None
    pk = int(ocpp_transaction_id)
    return pk if 0 < pk < 2**31 else None


@dataclass(slots=True)
class Transaction:
    """A charging transaction; `id` is our integer key (also the 1.6 transactionId we allocate).

    `ocpp_transaction_id` is what the station uses: str(id) for 1.6, the station's string for 2.0.1.
    `ocpp_version` says which of the two it is (OCPP_16 or OCPP_201; None for a record built outside the
    store): a station moved from 1.6 to 2.0.1 may name a new transaction "5" while its old 1.6
    transaction 5 is still on record, and the two must never be taken for each other.
    """

    id: int
    charge_point_id: str
    evse_id: int
    connector_id: int
    ocpp_transaction_id: str
    status: TransactionStatus
    started_at: datetime
    id_token: str | None = None
    id_token_type: str | None = None
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    last_meter_wh: int | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    stop_id_token: str | None = None
    reservation_id: int | None = None
    remote_start_id: int | None = None
    charging_state: str | None = None
    last_seq_no: int | None = None
    offline: bool = False
    updated_at: datetime | None = None
    ocpp_version: str | None = None
    org_id: str = DEFAULT_ORG_ID  # its charge point's, when the store inserted it

    @property
    def energy_wh(self) -> int | None:
        """Energy delivered so far (or in total once stopped), in Wh; None while no register was read."""
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.last_meter_wh
        if end is None or self.meter_start_wh is None:
            return None
        return max(0, end - self.meter_start_wh)


@dataclass(slots=True)
class NewTransaction:
    """What a station tells us when a transaction starts (1.6 StartTransaction, 2.0.1 Started)."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    started_at: datetime
    ocpp_transaction_id: str | None = None  # None for 1.6: the store sets it to str(id)
    id_token: str | None = None
    id_token_type: str | None = None
    meter_start_wh: int | None = None
    reservation_id: int | None = None
    remote_start_id: int | None = None
    charging_state: str | None = None
    seq_no: int | None = None
    offline: bool = False


@dataclass(slots=True)
class TransactionStop:
    """What a station tells us when a transaction ends (1.6 StopTransaction, 2.0.1 Ended)."""

    stopped_at: datetime
    meter_stop_wh: int | None = None
    reason: str | None = None
    id_token: str | None = None


class StationEventKind(StrEnum):
    """Which message reported a station event (the OCPP action)."""

    SECURITY = "SecurityEventNotification"  # 2.0.1, and 1.6 with the Security Whitepaper extension
    NOTIFY = "NotifyEvent"  # 2.0.1 only


@dataclass(slots=True)
class StationEvent:
    """One event a station reported, kept for operators (batched, durable: answered = stored).

    `type` is the spec's own type of the event: SecurityEventNotification `type` (e.g.
    "StartupOfTheDevice", OCPP 2.0.1 Appendices "Security Events"), or NotifyEvent
    `eventData.eventNotificationType` (HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor,
    CustomMonitor). `event_id`, `trigger`, `component`, `variable`, `actual_value` and `cleared` are the
    NotifyEvent EventDataType fields; `details` keeps the rest of what the station sent (component
    instance and EVSE, cause, techCode, transactionId, variableMonitoringId...). `id` is set by the store.
    """

    charge_point_id: str
    kind: StationEventKind
    type: str
    timestamp: datetime
    tech_info: str | None = None
    event_id: int | None = None
    trigger: str | None = None
    component: str | None = None
    variable: str | None = None
    actual_value: str | None = None
    cleared: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None
    id: int = 0


@dataclass(slots=True)
class FrameRecord:
    """One OCPP-J frame in or out, for the per-charge-point message log (batched write; not durable: a
    station is answered without waiting for its frames to be written)."""

    durable: ClassVar[bool] = False

    charge_point_id: str
    direction: Direction
    message_type: int
    message_id: str
    action: str | None
    frame: str
    at: datetime


@dataclass(slots=True)
class ApiKey:
    """An operator API key; only `key_hash` (bcrypt) is stored, `prefix` finds the row."""

    id: int
    name: str
    prefix: str
    key_hash: str
    role: str = "admin"
    created_at: datetime | None = None
    org_id: str = DEFAULT_ORG_ID  # whose resources the key reads and writes


class ReservationStatus(StrEnum):
    """Lifecycle of a reservation as the CSMS tracks it (issue: remote control and reservations)."""

    ACTIVE = "active"  # the station accepted it and it has not ended
    USED = "used"  # a transaction started with it
    EXPIRED = "expired"  # passed expiry_date unused (tracked by the CSMS even when the station is offline)
    CANCELLED = "cancelled"  # cancelled by the operator/partner, or removed by the station
    REJECTED = "rejected"  # the station refused it (Occupied, Faulted, Unavailable, Rejected)
    FAILED = "failed"  # the station was offline, did not answer in time, or answered a CALLERROR


@dataclass(slots=True)
class Reservation:
    """A reservation of an EVSE (None: any EVSE, 1.6 connector 0) for an id token (or its group).

    `id` is the integer the CSMS allocates and sends as ReserveNow reservationId / id; unique overall.
    `station_status` keeps what the station answered (Accepted, Occupied, ...); `external_id` and
    `owner` let the OCPI bridge map a partner's reservation_id to ours.
    """

    id: int
    charge_point_id: str
    evse_id: int | None
    id_token: str
    expiry_date: datetime
    status: ReservationStatus
    id_token_type: str = "Central"
    group_id_token: str | None = None
    connector_type: str | None = None
    station_status: str | None = None
    transaction_pk: int | None = None
    external_id: str | None = None
    owner: str | None = None
    reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    org_id: str = DEFAULT_ORG_ID  # its charge point's, when the store inserted it


@dataclass(slots=True)
class DeviceVariable:
    """One reported configuration value: a 1.6 key (component None) or a 2.0.1 component/variable pair."""

    charge_point_id: str
    component: str | None
    variable: str
    value: str | None = None
    readonly: bool = False
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    attribute_type: str = "Actual"
    data_type: str | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class StoredChargingProfile:
    """A charging profile the CSMS installed on a station (what the station accepted)."""

    charge_point_id: str
    evse_id: int
    profile_id: int
    purpose: str
    stack_level: int
    profile: dict[str, object]  # the neutral profile as JSON (see csms.domain.commands.ChargingProfile)
    transaction_pk: int | None = None
    created_at: datetime | None = None
