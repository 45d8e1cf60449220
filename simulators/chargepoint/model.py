"""What the charge point simulator is made of: its configuration, records and the OCPP vocabulary both
versions share (stop reasons, phases, the schemas to compile early); its errors are in `errors`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from websockets.asyncio.client import ClientConnection

from csms.ocpp.framing import (
    OcppConnection,
    OcppVersion,
)
from csms.ocpp.schemas import SchemaKind, has_schema, validate

JsonDict = dict[str, Any]

#: Async work started after a CSMS CALL has been answered.
FollowUp = Callable[[], Awaitable[object]]

#: Applies the state change of an answer once it is final; may return a follow-up.
Commit = Callable[[], FollowUp | None]

_Answer = tuple[JsonDict, Commit | None]

_VERSIONS: Final[dict[str, OcppVersion]] = {
    "1.6": OcppVersion.V16,
    "16": OcppVersion.V16,
    "ocpp1.6": OcppVersion.V16,
    "2.0.1": OcppVersion.V201,
    "201": OcppVersion.V201,
    "ocpp2.0.1": OcppVersion.V201,
}

# 1.6 StopTransaction `reason` values and 2.0.1 `stoppedReason` values; a word of one version is
# translated when the other is in use (callers may pass either vocabulary).
_REASONS_16: Final = frozenset(
    {
        "EmergencyStop",
        "EVDisconnected",
        "HardReset",
        "Local",
        "Other",
        "PowerLoss",
        "Reboot",
        "Remote",
        "SoftReset",
        "UnlockCommand",
        "DeAuthorized",
    }
)

_REASONS_201: Final = frozenset(
    {
        "DeAuthorized",
        "EmergencyStop",
        "EnergyLimitReached",
        "EVDisconnected",
        "GroundFault",
        "ImmediateReset",
        "Local",
        "LocalOutOfCredit",
        "MasterPass",
        "Other",
        "OvercurrentFault",
        "PowerLoss",
        "PowerQuality",
        "Reboot",
        "Remote",
        "SOCLimitReached",
        "StoppedByEV",
        "TimeLimitReached",
        "Timeout",
    }
)

_REASON_TO_201: Final = {"HardReset": "ImmediateReset", "SoftReset": "ImmediateReset"}

_REASON_TO_16: Final = {"ImmediateReset": "HardReset"}

# 2.0.1 triggerReason of the Ended event, by stop reason; anything else was stopped by a driver's token.
_STOP_TRIGGERS: Final = {
    "Remote": "RemoteStop",
    "EVDisconnected": "EVDeparted",
    "DeAuthorized": "Deauthorized",
    "HardReset": "ResetCommand",
    "SoftReset": "ResetCommand",
    "ImmediateReset": "ResetCommand",
    "UnlockCommand": "UnlockCommand",
    "EmergencyStop": "AbnormalCondition",
    "PowerLoss": "AbnormalCondition",
    "EnergyLimitReached": "EnergyLimitReached",
    "TimeLimitReached": "TimeLimitReached",
}

# Connector states (either version) in which a new transaction may begin.
_STARTABLE: Final = frozenset({"Available", "Preparing", "Reserved", "Occupied"})

_PHASES: Final = ("L1", "L2", "L3")

_VOLTAGE: Final = 230.0

# Actions a station sends; with those it answers (the handler tables) they are the schemas to compile early.
_STATION_ACTIONS: Final = (
    "BootNotification", "Heartbeat", "StatusNotification", "Authorize", "StartTransaction", "StopTransaction",
    "MeterValues", "TransactionEvent", "ReservationStatusUpdate", "FirmwareStatusNotification",
    "DiagnosticsStatusNotification", "LogStatusNotification", "NotifyReport",
    "SignedFirmwareStatusNotification",
)  # fmt: skip

# Setting.kind -> 2.0.1 DataEnumType of the variable in the device model.
_DATA_TYPES: Final = {"int": "integer", "number": "decimal", "bool": "boolean", "str": "string"}

_AVAILABILITY_STATES: Final = "Available,Occupied,Reserved,Unavailable,Faulted"

_MAX_PROFILE_PURPOSES: Final = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})

_warm_lock = threading.Lock()

_warmed: set[OcppVersion] = set()


def _warm_schemas(version: OcppVersion, actions: tuple[str, ...]) -> None:
    """Compile the schemas of `actions` now (in a worker thread), not on first use inside the event loop."""
    with _warm_lock:
        if version in _warmed:
            return
        for action in actions:
            if has_schema(version, action):
                for kind in SchemaKind:
                    validate(version, action, kind, {})  # compiles and caches; the verdict is irrelevant
        _warmed.add(version)


def parse_version(text: str | OcppVersion) -> OcppVersion:
    """Return the OcppVersion for "1.6" / "2.0.1" (or the subprotocol names "ocpp1.6" / "ocpp2.0.1").

    Raises:
        ValueError: not a version the simulator speaks.
    """
    try:
        return _VERSIONS[str(text)]
    except KeyError:
        raise ValueError(f"unsupported OCPP version {text!r}; use 1.6 or 2.0.1") from None


@dataclass
class SimulatorConfig:
    """How one simulated charge point identifies itself and behaves.

    Attributes:
        charge_point_id: the identity; appended, percent-encoded, to `url`.
        url: the CSMS websocket endpoint without the identity.
        ocpp_version: "1.6" or "2.0.1"; the only subprotocol offered.
        password: HTTP Basic password (security profile 1); the username is `charge_point_id`.
        connectors: 1.6 connectors 1..n; 2.0.1 EVSEs 1..n with connector 1 each.
        meter_interval: seconds between periodic meter values; each sample also advances the
            register by `power_w * meter_interval / 3600` Wh.
        power_w: charging power reported while a transaction runs.
        call_timeout: seconds to wait for the CSMS to answer one of our CALLs.
        answers: action -> status to answer CSMS calls with, overriding the simulator's own decision
            (e.g. {"RemoteStartTransaction": "Rejected"}); an overridden answer starts no follow-up.
        strict: validate every payload against the official schemas.
        heartbeat: send Heartbeat every `interval` seconds after an Accepted BootNotification.
        auto_meter_values: send meter values every `meter_interval` while a transaction runs.
        record_calls: keep every CALL we send in `sent_calls` (turn off for long fleet runs).
        reservation_support: accept ReserveNow at all (1.6 Reservation profile; 2.0.1
            ReservationCtrlr.Available / Enabled); without it every ReserveNow is Rejected.
        reserve_connector_zero: 1.6 ReserveConnectorZeroSupported (ReserveNow for connectorId 0).
        non_evse_specific_reservations: 2.0.1 ReservationCtrlr.NonEvseSpecific (ReserveNow without
            evseId).
        unlock_fails: UnlockConnector answers UnlockFailed (a stuck cable lock) instead of Unlocked.
        connector_type: 2.0.1 ConnectorEnumType of every connector (device model, ReserveNow).
        report_chunk_size: reportData entries per NotifyReport message of a GetBaseReport answer.
        signed_meter_values: the Transaction.Begin and Transaction.End energy registers are also sent
            signed, as OCMF (`ocmf_reading`): 1.6 a SignedData sampledValue next to the Raw one, 2.0.1 a
            `signedMeterValue` (`signed_meter_value`).
        tariff_cost_currency: 2.0.1 only: report the TariffAndCost block in the device model
            (`TariffCostCtrlr.Available[Cost]` and `Enabled[Cost]` true, `Currency` this ISO 4217 code);
            None (default): the station has no cost display and reports no TariffCostCtrlr.
        ca_file: wss:// only: the CA certificate(s) (PEM) to trust for the CSMS's server certificate
            (None: the system's trust store).
        client_cert_file, client_key_file: wss:// only: the client certificate and key presented in the TLS
            handshake (security profile 3; the certificate's subject CN is the charge point id).
        silent: actions of CSMS CALLs never answered (recorded in `calls_received`, nothing else),
            to provoke the CSMS's timeout; may be changed at any time through `sim.config.silent`.
    """

    charge_point_id: str
    url: str = "ws://127.0.0.1:9000/ocpp"
    ocpp_version: str = "1.6"
    password: str | None = None
    connectors: int = 1
    vendor: str = "CsmsSim"
    model: str = "Sim-1"
    serial_number: str | None = None
    firmware_version: str = "1.0.0"
    meter_interval: float = 10.0
    power_w: int = 11000
    call_timeout: float = 10.0
    answers: dict[str, str] = field(default_factory=dict)
    strict: bool = True
    heartbeat: bool = True
    auto_meter_values: bool = False
    record_calls: bool = True
    reservation_support: bool = True
    reserve_connector_zero: bool = True
    non_evse_specific_reservations: bool = True
    unlock_fails: bool = False
    connector_type: str = "cType2"
    report_chunk_size: int = 4
    signed_meter_values: bool = False
    tariff_cost_currency: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    silent: set[str] = field(default_factory=set)


@dataclass
class Setting:
    """One configuration key (1.6) or variable (2.0.1, named "Component.Variable") of the station.

    `write_only` keys (AuthorizationKey, BasicAuthPassword) are never reported back to the CSMS.
    `kind` is "int", "number", "bool" or "str" (the 2.0.1 dataType integer, decimal, boolean, string);
    a new value of the wrong kind is Rejected.
    """

    value: str
    readonly: bool = False
    write_only: bool = False
    kind: str = "str"


@dataclass
class Reservation:
    """A reservation the CSMS made with ReserveNow; it ends when used, cancelled, expired or removed.

    `connector` 0 is a station-wide reservation (1.6 connectorId 0, 2.0.1 without evseId): the station
    keeps one free connector for it. `parent_id_token` is the 1.6 parentIdTag / 2.0.1 groupIdToken;
    a token whose own parent (learnt from Authorize) or id matches it may use the reservation too.
    """

    reservation_id: int
    connector: int
    id_token: str
    expiry: datetime
    parent_id_token: str | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False, compare=False)


@dataclass(eq=False)
class _Session:
    """One websocket connection and the framing state that lives and dies with it."""

    ws: ClientConnection
    conn: OcppConnection
    pending: dict[str, asyncio.Future[JsonDict]] = field(default_factory=dict)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None
    closed: bool = False


@dataclass(eq=False)
class _Transaction:
    connector: int
    transaction_id: str
    id_token: str
    id_token_type: str
    meter_start_wh: int
    started_at: datetime
    reservation_id: int | None = None
    remote_start_id: int | None = None
    next_seq_no: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    meter_task: asyncio.Task[None] | None = None


@dataclass
class _Queued:
    """A transaction message held while offline; `build` runs at send time (1.6 ids resolve late)."""

    action: str
    build: Callable[[], JsonDict]
    on_result: Callable[[JsonDict], None] | None = None


@dataclass
class _DeviceVariable:
    """One variable of the 2.0.1 device model, as GetVariables / SetVariables / GetBaseReport see it."""

    component: JsonDict
    variable: JsonDict
    data_type: str
    mutability: str
    value: str
    key: str | None = None  # the `settings` key of a variable the CSMS can write
    unit: str | None = None
    max_limit: float | None = None
    values_list: str | None = None

    def report(self) -> JsonDict:
        """This variable as a NotifyReport reportData entry (a WriteOnly value is never reported)."""
        attribute: JsonDict = {"type": "Actual", "mutability": self.mutability}
        if self.mutability != "WriteOnly":
            attribute["value"] = self.value
        characteristics: JsonDict = {"dataType": self.data_type, "supportsMonitoring": False}
        if self.unit is not None:
            characteristics["unit"] = self.unit
        if self.max_limit is not None:
            characteristics["maxLimit"] = self.max_limit
        if self.values_list is not None:
            characteristics["valuesList"] = self.values_list
        return {
            "component": self.component,
            "variable": self.variable,
            "variableAttribute": [attribute],
            "variableCharacteristics": characteristics,
        }

    def is_component(self, asked: JsonDict) -> bool:
        """True if `asked` (a ComponentType of a request) names this variable's component.

        Names are case-insensitive (OCPP 2.0.1 Part 2 §2.2); an asked EVSE without connectorId also
        names the connector of a one-connector EVSE.
        """
        mine = self.component
        if mine["name"].casefold() != str(asked.get("name", "")).casefold():
            return False
        if mine.get("instance") != asked.get("instance"):
            return False
        my_evse, asked_evse = mine.get("evse"), asked.get("evse")
        if my_evse is None or asked_evse is None:
            return my_evse is None and asked_evse is None
        if my_evse["id"] != asked_evse.get("id"):
            return False
        return asked_evse.get("connectorId") in (None, my_evse.get("connectorId"))

    def is_variable(self, asked: JsonDict) -> bool:
        """True if `asked` (a VariableType of a request) names this variable."""
        return self.variable["name"].casefold() == str(asked.get("name", "")).casefold() and (
            self.variable.get("instance") == asked.get("instance")
        )


OCMF_SIGNATURE_ALGORITHM: Final = "ECDSA-secp256r1-SHA256"
# A DER SubjectPublicKeyInfo header of a P-256 key; the simulator's "key" is made up, as is its signature.
_OCMF_KEY_PREFIX: Final = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def ocmf_reading(meter_serial: str, wh: int, at: datetime, context: str) -> str:
    """An energy register reading as an OCMF string (Open Charge Metering Format, the Eichrecht convention:
    "OCMF|{payload}|{signature}"), taken at Transaction.Begin ("TX": "B") or another point ("E": end).

    A simulator has no calibrated meter: the signature "SD" is the payload's SHA-256, standing in for one.
    """
    reading = {
        "TM": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S,000+0000 S"),
        "TX": "B" if context == "Transaction.Begin" else "E",
        "RV": wh / 1000,
        "RI": "1-b:1.8.0",
        "RU": "kWh",
        "ST": "G",
    }
    payload = orjson.dumps(
        {"FV": "1.0", "GI": "CsmsSim", "GS": meter_serial, "PG": "T1", "RD": [reading]}
    ).decode()
    signature = {"SA": OCMF_SIGNATURE_ALGORITHM, "SD": hashlib.sha256(payload.encode()).hexdigest()}
    return f"OCMF|{payload}|{orjson.dumps(signature).decode()}"


def signed_meter_value(meter_serial: str, wh: int, at: datetime, context: str) -> JsonDict:
    """A 2.0.1 SignedMeterValueType of the reading: its OCMF string base64-encoded, and a made-up key."""
    key = _OCMF_KEY_PREFIX + hashlib.sha256(meter_serial.encode()).digest() * 2
    return {
        "signedMeterData": base64.b64encode(ocmf_reading(meter_serial, wh, at, context).encode()).decode(),
        "signingMethod": OCMF_SIGNATURE_ALGORITHM,
        "encodingMethod": "OCMF",
        "publicKey": base64.b64encode(key).decode(),
    }


def _number(value: float) -> str:
    """Format a setting value: "10" for 10.0, "0.25" for 0.25."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _consume(future: asyncio.Future[JsonDict]) -> None:
    """Mark an abandoned call's outcome as retrieved, so asyncio does not warn about it."""
    if not future.cancelled():
        future.exception()
