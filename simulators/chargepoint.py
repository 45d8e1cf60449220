"""One scriptable OCPP 1.6J / 2.0.1 charge point that talks to a CSMS over a real websocket.

The simulator drives the CSMS's own Sans-I/O framing core (`csms.ocpp.framing`), as websockets'
client and server share one protocol core (style practice 2). One reader task per connection feeds
frames into the core; our CALLs are serialized with a lock, because OCPP-J allows one outstanding CALL
per direction (OCPP-J 1.6 §4.1.1, OCPP 2.0.1 Part 4 §4.1.1); timeouts come from `check_timeouts`.

Typical use:

    sim = ChargePointSimulator(SimulatorConfig("CP001", url="ws://127.0.0.1:9000/ocpp"))
    await sim.connect()
    await sim.boot()
    await sim.plug_in(1)
    tx_id = await sim.start_transaction(1, "TOKEN1")
    await sim.send_meter_values(1)
    await sim.stop_transaction(1)
    await sim.unplug(1)
    await sim.close()

CALLs from the CSMS (RemoteStartTransaction, TriggerMessage, Reset, ...) are answered by the reader at
once; what they set in motion (starting the transaction, sending the triggered message, rebooting)
runs afterwards in a follow-up task. `settle()` waits for those; `wait_for_call()` and `wait_until()`
wait for the CSMS to do something.

The answers follow the connector state as hardware would: ReserveNow is Accepted only on a free
connector (Occupied / Faulted / Unavailable / Rejected otherwise; 1.6 connectorId 0 and 2.0.1
reservations without evseId keep one connector free), a reserved connector reports Reserved and
refuses other tokens (remote start Rejected, `start_transaction` raises ConnectorReservedError), a
reservation ends when used (the start carries reservationId), cancelled, expired (2.0.1
ReservationStatusUpdate Expired; reported after reconnecting if it expired offline) or when its
connector turns Faulted / Unavailable (2.0.1 Removed). 2.0.1 GetBaseReport streams the device model
(`device_model()`) in NotifyReport messages of `report_chunk_size` entries; Get/SetVariables use the
same model. SetChargingProfile / ClearChargingProfile keep profiles per connector
(`charging_profiles`).

With `strict=True` every request we send and every response we receive is checked against the
official JSON schemas (`csms.ocpp.schemas`): a response that breaks its schema raises
`SchemaViolationError` from the call and is recorded in `violations`, so end-to-end tests catch a CSMS
answer that breaks the schema. A CSMS request that breaks its schema is answered with the CALLERROR the
schema module picks and also recorded in `violations`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import threading
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, Final
from urllib.parse import quote

import structlog
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from csms.domain.clock import Clock, isoformat_z, parse_datetime, utcnow
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import (
    CallErrorReceived,
    CallPending,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    FramingError,
    OcppConnection,
    OcppVersion,
)
from csms.ocpp.schemas import SchemaKind, has_schema, validate

__all__ = [
    "CallError",
    "ChargePointSimulator",
    "ConnectorReservedError",
    "JsonDict",
    "NotConnectedError",
    "Reservation",
    "SchemaViolationError",
    "Setting",
    "SimulatorConfig",
    "SimulatorError",
    "SubprotocolRefused",
    "parse_version",
]

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


class SimulatorError(Exception):
    """Something the simulator was asked to do cannot be done (no transaction, unknown connector, ...)."""


class NotConnectedError(SimulatorError, ConnectionError):
    """There is no open websocket: never connected, closed, or dropped by the CSMS.

    `ChargePointSimulator.close_code` / `close_reason` tell how the last connection ended.
    """


class SubprotocolRefused(NotConnectedError):
    """The CSMS completed the handshake without selecting the one subprotocol we offered."""

    def __init__(self, offered: str, selected: str | None) -> None:
        super().__init__(f"CSMS did not accept subprotocol {offered!r} (selected {selected!r})")
        self.offered = offered
        self.selected = selected


class ConnectorReservedError(SimulatorError):
    """A transaction may not start: the connector is held by a reservation for another id token.

    Attributes:
        connector: the connector (1.6) / EVSE (2.0.1) the start was asked for.
        reservation_id: the reservation that holds it (for station-wide reservations, one of them).
        id_token: the token that was refused.
    """

    def __init__(self, connector: int, reservation_id: int, id_token: str) -> None:
        super().__init__(
            f"connector {connector} is reserved (reservation {reservation_id}) for another id token "
            f"than {id_token!r}"
        )
        self.connector = connector
        self.reservation_id = reservation_id
        self.id_token = id_token


class CallError(SimulatorError):
    """The CSMS answered our CALL with a CALLERROR."""

    def __init__(
        self, action: str, error_code: str, description: str, details: JsonDict | None = None
    ) -> None:
        super().__init__(f"{action}: {error_code} {description}".rstrip())
        self.action = action
        self.error_code = error_code
        self.description = description
        self.details = details or {}


class SchemaViolationError(SimulatorError):
    """A payload broke the official OCPP JSON schema (only raised with `strict=True`).

    `direction` says whose payload it was: "sent" (ours: a simulator or caller bug) or "received"
    (the CSMS's: the bug end-to-end tests are after).
    """

    def __init__(self, action: str, kind: SchemaKind, description: str, direction: str) -> None:
        super().__init__(f"{direction} {action} {kind} breaks the schema: {description}")
        self.action = action
        self.kind = kind
        self.description = description
        self.direction = direction


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


def _number(value: float) -> str:
    """Format a setting value: "10" for 10.0, "0.25" for 0.25."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class ChargePointSimulator:
    """A charge point speaking one OCPP version; see the module docstring for the life cycle.

    Public state (read it, don't assign it):
        meter_wh: connector -> energy register in Wh.
        transactions: connector -> running transaction id (1.6: the CSMS's id, or "offline-N" until a
            queued StartTransaction is answered; 2.0.1: our UUID).
        calls_received: every CALL the CSMS sent, as (action, payload), in order.
        sent_calls: every CALL we sent, as (action, payload), in order (if `record_calls`).
        connected, boot_status, subprotocol, handshake_status (HTTP status of the last handshake),
        close_code / close_reason (how the last connection ended).
        connector_status: connector -> last status, in the version's own words.
        reservations: reservation id -> Reservation (connector 0: station-wide).
        token_parents: id token -> its parent idTag / groupIdToken (None: it has none), learnt from
            Authorize answers and 2.0.1 RequestStartTransaction.groupIdToken; used to match reservations.
        charging_profiles: connector / EVSE (0 = the whole station) -> profile id -> the profile as
            installed by SetChargingProfile (or a remote start); TxProfiles go when their transaction ends.
        settings: configuration keys (1.6) / variables "Component.Variable" (2.0.1); the 2.0.1 device
            model adds read-only ChargingStation, EVSE and Connector components to them.
        raw_frames: frames the framing core did not consume (replies to `send_raw`, late replies,
            malformed frames); with `raw_mode = True` every received frame goes there unprocessed.
        errors: exceptions raised by follow-up and background tasks.
        violations: schema violations seen with `strict=True`.
        sent: action -> number of CALLs sent.
    """

    def __init__(self, config: SimulatorConfig, *, clock: Clock = utcnow) -> None:
        """Prepare the simulator; nothing is sent until `connect()`.

        Raises:
            ValueError: unsupported `ocpp_version` or fewer than one connector.
        """
        if config.connectors < 1:
            raise ValueError("a charge point needs at least one connector")
        if config.report_chunk_size < 1:
            raise ValueError("report_chunk_size must be at least 1")
        self.config = replace(config, answers=dict(config.answers), silent=set(config.silent))
        self.version = parse_version(config.ocpp_version)
        self.charge_point_id = config.charge_point_id
        self._clock = clock
        self._v16 = self.version is OcppVersion.V16
        self._log = structlog.get_logger("simulators.chargepoint").bind(
            charge_point_id=config.charge_point_id, ocpp_version=self.version.value
        )

        self.connector_ids: tuple[int, ...] = tuple(range(1, config.connectors + 1))
        self.meter_wh: dict[int, int] = dict.fromkeys(self.connector_ids, 0)
        self.transactions: dict[int, str] = {}
        self.calls_received: list[tuple[str, JsonDict]] = []
        self.sent_calls: list[tuple[str, JsonDict]] = []
        self.connected = False
        self.boot_status: str | None = None
        self.subprotocol: str | None = None
        self.handshake_status: int | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.connector_status: dict[int, str] = dict.fromkeys(self.connector_ids, "Available")
        self.plugged: dict[int, bool] = dict.fromkeys(self.connector_ids, False)
        self.inoperative: set[int] = set()
        self.reservations: dict[int, Reservation] = {}
        self.token_parents: dict[str, str | None] = {}
        self.charging_profiles: dict[int, dict[int, JsonDict]] = {}
        self.settings: dict[str, Setting] = self._default_settings()
        self.raw_frames: asyncio.Queue[str] = asyncio.Queue()
        self.raw_mode = False
        self.errors: list[BaseException] = []
        self.violations: list[SchemaViolationError] = []
        self.responses: dict[str, JsonDict] = {}
        self.sent: Counter[str] = Counter()
        self.transactions_started = 0
        self.transactions_stopped = 0
        self.meter_values_sent = 0

        self._session: _Session | None = None
        self._call_lock = asyncio.Lock()
        self._abandoned: tuple[_Session, asyncio.Future[JsonDict]] | None = None
        self._tx: dict[int, _Transaction] = {}
        self._starting: set[int] = set()
        self._pending_inoperative: set[int] = set()
        self._status_sent: dict[int, str] = {}
        self._status_dirty: set[int] = set()
        self._offline = False
        self._queue: deque[_Queued] = deque()
        self._tx_aliases: dict[str, str] = {}
        self._placeholder_ids = itertools.count(1)
        self._reset_when_idle = False
        self._reporting = False
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._followups: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._handlers: dict[str, Callable[[JsonDict], _Answer]] = (
            self._handlers_16() if self._v16 else self._handlers_201()
        )

    # ------------------------------------------------------------------ connection

    @property
    def url(self) -> str:
        """The websocket URL: `config.url` plus the percent-encoded charge point id."""
        return self.config.url.rstrip("/") + "/" + quote(self.charge_point_id, safe="")

    @property
    def offline(self) -> bool:
        """True from `go_offline()` until `come_back()` has delivered every queued message."""
        return self._offline

    async def connect(self) -> None:
        """Open the websocket, offering only this version's subprotocol, and start the reader.

        Sends nothing; call `boot()` next (or `come_back()` after `go_offline()`).

        Raises:
            websockets.exceptions.InvalidStatus: the CSMS refused the handshake; the HTTP status is in
                `.response.status_code` and in `handshake_status`.
            SubprotocolRefused: the handshake completed without our subprotocol (socket closed).
            SimulatorError: already connected.
            OSError, TimeoutError: the CSMS could not be reached in `call_timeout` seconds.
        """
        if self._session is not None and not self._session.closed:
            raise SimulatorError("already connected")
        if self.config.strict and self.version not in _warmed:
            # Compiling a large schema (TransactionEvent) takes long enough to stall every other task.
            await asyncio.to_thread(_warm_schemas, self.version, (*_STATION_ACTIONS, *self._handlers))
        headers: dict[str, str] = {}
        if self.config.password is not None:
            credentials = f"{self.charge_point_id}:{self.config.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        offered = self.version.value
        self.handshake_status = None
        try:
            ws = await ws_connect(
                self.url,
                subprotocols=[Subprotocol(offered)],
                additional_headers=headers,
                open_timeout=self.config.call_timeout,
                user_agent_header=f"{self.config.vendor}/{self.config.model} csms-sim",
            )
        except InvalidStatus as exc:
            self.handshake_status = exc.response.status_code
            self._log.warning("connect_refused", url=self.url, status=self.handshake_status)
            raise
        self.handshake_status = 101
        if ws.subprotocol != offered:
            await ws.close(1002, "no OCPP subprotocol")
            self._log.warning("subprotocol_refused", offered=offered, selected=ws.subprotocol)
            raise SubprotocolRefused(offered, ws.subprotocol)
        session = _Session(ws, OcppConnection(self.version, call_timeout=self.config.call_timeout))
        self._session = session
        self.connected = True
        self.subprotocol = ws.subprotocol
        self.close_code = self.close_reason = None
        session.reader = asyncio.create_task(
            self._read_loop(session), name=f"sim-reader-{self.charge_point_id}"
        )
        self._log.info("connected", url=self.url)
        self._notify()

    async def close(self) -> None:
        """Stop background tasks and close the websocket with code 1000.

        Messages still queued by `go_offline()` are discarded. Safe to call twice; `connect()` may be
        called again afterwards.
        """
        self._stop_heartbeat()
        current = asyncio.current_task()
        tasks = [t for t in self._followups if t is not current]
        for tx in self._tx.values():
            tx.stopping.set()
            if tx.meter_task is not None and tx.meter_task is not current:
                tasks.append(tx.meter_task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for reservation in self.reservations.values():
            if reservation.timer is not None:
                reservation.timer.cancel()
        if self._queue:
            self._log.warning("offline_queue_discarded", messages=len(self._queue))
            self._queue.clear()
        self._offline = False
        await self._drop_connection(1000, "")

    async def go_offline(self, *, abrupt: bool = False) -> None:
        """Drop the socket and start queueing transaction messages.

        Until `come_back()`, 1.6 StartTransaction / StopTransaction / MeterValues of a transaction and
        2.0.1 TransactionEvent (marked `offline: true`) are queued instead of sent; status changes are
        remembered and reported after reconnecting. Other calls (authorize, heartbeat, ...) raise
        NotConnectedError.

        Args:
            abrupt: abort the TCP connection instead of a websocket close (1001), as a power cut would.
        """
        self._offline = True
        self._stop_heartbeat()
        session = self._session
        if abrupt and session is not None and not session.closed:
            session.ws.transport.abort()
            if session.reader is not None:
                await asyncio.wait([session.reader])
        else:
            await self._drop_connection(1001, "going offline")
        self._log.info("offline")

    async def come_back(self, *, boot: bool = False) -> None:
        """Reconnect and deliver what was queued while offline, in order.

        A queued 1.6 StartTransaction learns its transactionId now; the MeterValues and
        StopTransaction queued after it carry that id. Then the connectors whose status changed while
        offline are reported, and heartbeats resume.

        Args:
            boot: send a BootNotification before the queue (none is due after a mere reconnect;
                a station that rebooted sends one).

        Raises:
            Like `connect()`; NotConnectedError if the socket drops again while draining (what was
            not delivered stays queued).
        """
        await self.connect()
        if boot:
            await self.boot()
        await self._drain_queue()
        self._offline = False
        dirty = sorted(self._status_dirty)
        self._status_dirty.clear()
        for connector in dirty:
            await self.send_status(connector, self.connector_status[connector])
        self._restart_heartbeat()
        self._log.info("back_online")
        self._notify()

    async def _drain_queue(self) -> None:
        """Send what was queued while offline (transaction messages, ReservationStatusUpdate), in order."""
        while self._queue:
            item = self._queue[0]
            try:
                result = await self.call(item.action, item.build())
            except NotConnectedError:
                raise
            except (SimulatorError, TimeoutError) as exc:
                # Delivered or refused: either way retrying would not help; record and go on.
                self.errors.append(exc)
                self._log.warning("queued_message_failed", action=item.action, error=str(exc))
            else:
                if item.on_result is not None:
                    item.on_result(result)
            self._queue.popleft()

    async def _drop_connection(self, code: int, reason: str) -> None:
        """Close the current websocket (if any) and wait for its reader to finish."""
        session = self._session
        if session is None:
            return
        if not session.closed:
            with contextlib.suppress(ConnectionClosed, OSError):
                await session.ws.close(code, reason)
        if session.reader is not None and session.reader is not asyncio.current_task():
            await asyncio.wait([session.reader])

    def _live_session(self) -> _Session:
        session = self._session
        if session is None or session.closed:
            raise NotConnectedError(
                f"{self.charge_point_id} is not connected (last close code {self.close_code}, "
                f"reason {self.close_reason!r})"
            )
        return session

    # ------------------------------------------------------------------ frames in

    async def _read_loop(self, session: _Session) -> None:
        """Feed every received frame into the framing core until the socket closes."""
        try:
            async for message in session.ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                await self._receive_frame(session, text)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug in a handler must not leave the connection half-dead silently
            self.errors.append(exc)
            self._log.exception("reader_failed")
            with contextlib.suppress(ConnectionClosed, OSError):
                await session.ws.close(1011, "simulator error")
        finally:
            session.closed = True
            if self._session is session:
                self.connected = False
                self.close_code = session.ws.close_code
                self.close_reason = session.ws.close_reason
                self._stop_heartbeat()
            for future in session.pending.values():
                if not future.done():
                    future.set_exception(
                        NotConnectedError(f"connection closed (code {session.ws.close_code})")
                    )
            session.pending.clear()
            self._log.info("disconnected", code=session.ws.close_code, reason=session.ws.close_reason)
            self._notify()

    async def _receive_frame(self, session: _Session, text: str) -> None:
        self._log.debug("frame_received", frame=text)
        if self.raw_mode:
            self.raw_frames.put_nowait(text)
            self._notify()
            return
        followups: list[tuple[str, FollowUp]] = []
        for event in session.conn.receive_text(text):
            if isinstance(event, CallReceived):
                follow_up = self._on_call(session, event)
                if follow_up is not None:
                    followups.append((event.action, follow_up))
            elif isinstance(event, CallResultReceived):
                self._resolve(session, event.message_id, result=event.payload)
            elif isinstance(event, CallErrorReceived):
                error = CallError(event.action, event.error_code, event.description, event.details)
                self._resolve(session, event.message_id, error=error)
            elif isinstance(event, CallTimedOut):  # pragma: no cover - only check_timeouts returns these
                self._resolve(session, event.message_id, error=TimeoutError(event.action))
            elif isinstance(event, FramingError):
                # Not ours to consume: a reply to send_raw, a late reply, or a malformed frame.
                self._log.debug(
                    "frame_not_consumed", error_code=event.error_code, description=event.description
                )
                self.raw_frames.put_nowait(event.frame)
        # Answers go out before any follow-up starts, so the CSMS sees the CALLRESULT first.
        await self._flush(session)
        for action, follow_up in followups:
            self._spawn(follow_up, action)
        self._notify()

    def _resolve(
        self,
        session: _Session,
        message_id: str,
        *,
        result: JsonDict | None = None,
        error: BaseException | None = None,
    ) -> None:
        future = session.pending.pop(message_id, None)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result if result is not None else {})

    def _on_call(self, session: _Session, event: CallReceived) -> FollowUp | None:
        """Answer one CSMS CALL (queued on the framing core); return its follow-up, if any."""
        action, payload, message_id = event.action, event.payload, event.message_id
        self.calls_received.append((action, payload))
        log = self._log.bind(message_id=message_id, action=action)
        log.debug("call_received", payload=payload)
        if action in self.config.silent:
            log.info("call_left_unanswered")
            return None
        conn = session.conn
        handler = self._handlers.get(action)
        if handler is None:
            log.info("call_not_implemented")
            conn.send_call_error(
                message_id, conn.error_code(ErrorKind.NOT_IMPLEMENTED), f"{action} is not implemented"
            )
            return None
        if self.config.strict:
            violation = validate(self.version, action, SchemaKind.REQUEST, payload)
            if violation is not None:
                error = SchemaViolationError(action, SchemaKind.REQUEST, violation.description, "received")
                self.violations.append(error)
                log.error("schema_violation", direction="received", description=violation.description)
                conn.send_call_error(message_id, conn.error_code(violation.kind), violation.description)
                return None
        try:
            result, commit = handler(payload)
        except Exception as exc:  # with strict=False a malformed payload can reach a handler
            self.errors.append(exc)
            log.exception("call_handler_failed")
            conn.send_call_error(message_id, conn.error_code(ErrorKind.INTERNAL), repr(exc))
            return None
        override = self.config.answers.get(action)
        if override is not None and "status" in result and result["status"] != override:
            result = {**result, "status": override}
            commit = None
        if self.config.strict:
            violation = validate(self.version, action, SchemaKind.RESPONSE, result)
            if violation is not None:
                error = SchemaViolationError(action, SchemaKind.RESPONSE, violation.description, "sent")
                self.violations.append(error)
                log.error("schema_violation", direction="sent", description=violation.description)
                conn.send_call_error(message_id, conn.error_code(ErrorKind.INTERNAL), violation.description)
                return None
        conn.send_call_result(message_id, result)
        log.debug("call_answered", payload=result)
        return commit() if commit is not None else None

    def _spawn(self, follow_up: FollowUp, what: str) -> None:
        task = asyncio.create_task(self._run_follow_up(follow_up, what), name=f"sim-{what}")
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)

    async def _run_follow_up(self, follow_up: FollowUp, what: str) -> None:
        try:
            await follow_up()
        except Exception as exc:
            self.errors.append(exc)
            self._log.warning("follow_up_failed", action=what, error=repr(exc))
        finally:
            self._notify()

    # ------------------------------------------------------------------ frames out

    async def _flush(self, session: _Session) -> None:
        async with session.send_lock:
            for frame in session.conn.frames_to_send():
                self._log.debug("frame_sent", frame=frame)
                await session.ws.send(frame)

    async def call(self, action: str, payload: JsonDict) -> JsonDict:
        """Send any CALL and wait for its answer; only one of our CALLs is outstanding at a time.

        Returns:
            The CALLRESULT payload (also kept in `responses[action]`).

        Raises:
            CallError: the CSMS answered with a CALLERROR (`error_code`, `description`).
            TimeoutError: no answer within `call_timeout`.
            SchemaViolationError: with `strict=True`, our request or the CSMS's response breaks the
                official schema (a bad request is not sent).
            NotConnectedError: no open websocket, or it closed before the answer.
        """
        async with self._call_lock:
            session = self._live_session()
            await self._await_abandoned(session)
            self._check_schema(action, SchemaKind.REQUEST, payload, "sent")
            loop = asyncio.get_running_loop()
            try:
                message_id = session.conn.send_call(action, payload, loop.time())
            except CallPending as exc:  # pragma: no cover - the lock and _await_abandoned prevent it
                raise SimulatorError(str(exc)) from exc
            future: asyncio.Future[JsonDict] = loop.create_future()
            session.pending[message_id] = future
            self.sent[action] += 1
            if self.config.record_calls:
                self.sent_calls.append((action, payload))
            self._log.debug("call_sent", action=action, message_id=message_id, payload=payload)
            try:
                await self._flush(session)
                await self._wait_reply(session, future)
            except ConnectionClosed as exc:
                session.pending.pop(message_id, None)
                raise NotConnectedError(f"connection closed while sending {action}") from exc
            except asyncio.CancelledError:
                if not future.done():
                    # The framing core still expects this answer; the next call waits for it.
                    self._abandoned = (session, future)
                    future.add_done_callback(_consume)
                raise
            result = future.result()
            self.responses[action] = result
            self._check_schema(action, SchemaKind.RESPONSE, result, "received")
            return result

    async def _wait_reply(self, session: _Session, future: asyncio.Future[JsonDict]) -> None:
        """Wait for `future`, expiring it through the framing core's `check_timeouts`."""
        loop = asyncio.get_running_loop()
        while not future.done():
            deadline = session.conn.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait([future], timeout=timeout)
            if not future.done():
                for expired in session.conn.check_timeouts(loop.time()):
                    self._log.warning("call_timed_out", action=expired.action, message_id=expired.message_id)
                    self._resolve(
                        session,
                        expired.message_id,
                        error=TimeoutError(f"{expired.action}: no answer in {self.config.call_timeout} s"),
                    )

    async def _await_abandoned(self, session: _Session) -> None:
        """Let a CALL whose caller was cancelled finish (answer or timeout) before the next one."""
        abandoned, self._abandoned = self._abandoned, None
        if abandoned is not None and abandoned[0] is session and not abandoned[1].done():
            with contextlib.suppress(Exception):
                await self._wait_reply(session, abandoned[1])

    def _check_schema(self, action: str, kind: SchemaKind, payload: JsonDict, direction: str) -> None:
        if not self.config.strict or not has_schema(self.version, action):
            return
        violation = validate(self.version, action, kind, payload)
        if violation is not None:
            error = SchemaViolationError(action, kind, violation.description, direction)
            self.violations.append(error)
            self._log.error(
                "schema_violation", action=action, direction=direction, description=violation.description
            )
            raise error

    async def send_raw(self, text: str) -> None:
        """Send `text` as one websocket text frame, bypassing the framing core.

        The CSMS's reply is not consumed by the simulator (its id matches no CALL of ours); read it
        with `receive_raw()`. Set `raw_mode = True` to route every received frame there instead.

        Raises:
            NotConnectedError: no open websocket.
        """
        session = self._live_session()
        try:
            async with session.send_lock:
                self._log.debug("raw_frame_sent", frame=text)
                await session.ws.send(text)
        except ConnectionClosed as exc:
            raise NotConnectedError("connection closed") from exc

    async def receive_raw(self, timeout: float) -> str:  # noqa: ASYNC109 - fixed API
        """Return the next frame from `raw_frames`, waiting up to `timeout` seconds.

        Raises:
            TimeoutError: nothing arrived in time.
            NotConnectedError: the connection closed and nothing is left (see `close_code`).
        """
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if not self.raw_frames.empty():
                    return self.raw_frames.get_nowait()
                session = self._session
                if session is None or session.closed:
                    raise NotConnectedError(
                        f"connection closed (code {self.close_code}, reason {self.close_reason!r})"
                    )
                await changed.wait()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once `predicate()` is true; it is re-checked after every frame and state change.

        Raises:
            TimeoutError: still false after `timeout` seconds (None waits forever).
        """
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if predicate():
                    return
                await changed.wait()

    async def wait_for_call(self, action: str, *, timeout: float, start: int = 0) -> JsonDict:  # noqa: ASYNC109
        """Return the payload of the first CSMS CALL `action` at index >= `start` of `calls_received`.

        Its answer has been sent by then; its follow-up may still run (`settle()` waits for it).

        Raises:
            TimeoutError: no such CALL within `timeout` seconds.
        """
        found: list[JsonDict] = []

        def seen() -> bool:
            for name, payload in self.calls_received[start:]:
                if name == action:
                    found.append(payload)
                    return True
            return False

        await self.wait_until(seen, timeout)
        return found[0]

    async def settle(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every follow-up of answered CSMS CALLs has finished (their errors go to `errors`).

        Raises:
            TimeoutError: follow-ups still running after `timeout` seconds.
        """
        async with asyncio.timeout(timeout):
            while self._followups:
                await asyncio.wait(set(self._followups))

    # ------------------------------------------------------------------ station → CSMS

    async def boot(self, reason: str = "PowerUp") -> JsonDict:
        """Send BootNotification; on Accepted adopt `interval` as heartbeat period and start heartbeats.

        Args:
            reason: 2.0.1 BootReasonEnumType (PowerUp, RemoteReset, Triggered, ...); 1.6 has none.

        Returns:
            The response payload (status, currentTime, interval); `boot_status` holds the status.
        """
        cfg = self.config
        payload: JsonDict
        if self._v16:
            payload = {
                "chargePointVendor": cfg.vendor,
                "chargePointModel": cfg.model,
                "firmwareVersion": cfg.firmware_version,
            }
            if cfg.serial_number:
                payload["chargePointSerialNumber"] = cfg.serial_number
        else:
            station: JsonDict = {
                "model": cfg.model,
                "vendorName": cfg.vendor,
                "firmwareVersion": cfg.firmware_version,
            }
            if cfg.serial_number:
                station["serialNumber"] = cfg.serial_number
            payload = {"chargingStation": station, "reason": reason}
        result = await self.call("BootNotification", payload)
        self.boot_status = result.get("status")
        interval = result.get("interval")
        if self.boot_status == "Accepted" and isinstance(interval, int) and interval > 0:
            self.settings[self._heartbeat_key].value = str(interval)
        self._log.info("booted", status=self.boot_status, interval=interval)
        self._restart_heartbeat()
        self._notify()
        return result

    async def heartbeat(self) -> JsonDict:
        """Send Heartbeat; returns `{currentTime}`."""
        return await self.call("Heartbeat", {})

    async def send_status(self, connector: int, status: str, error_code: str = "NoError") -> JsonDict:
        """Report `status` (in this version's words) for `connector` with StatusNotification.

        While offline the status is only remembered and reported by `come_back()`. A connector that
        becomes Faulted or Unavailable loses its reservation (2.0.1: ReservationStatusUpdate Removed);
        Faulted sticks until another status is sent for the connector.

        Args:
            connector: 1.6 connector id (0 = the whole charge point); 2.0.1 EVSE id (connector 1).
            status: 1.6 ChargePointStatus (Available, Preparing, Charging, ...) or 2.0.1
                ConnectorStatusEnumType (Available, Occupied, Reserved, Unavailable, Faulted).
            error_code: 1.6 ChargePointErrorCode; ignored in 2.0.1, which has none.
        """
        self.connector_status[connector] = status
        if self._offline:
            self._status_dirty.add(connector)
            result: JsonDict = {}
        else:
            result = await self._send_status_now(connector, status, error_code)
        if status in ("Faulted", "Unavailable") and connector in self.connector_ids:
            await self._drop_reservations(connector)
        return result

    async def _send_status_now(self, connector: int, status: str, error_code: str) -> JsonDict:
        timestamp = isoformat_z(self._clock())
        payload: JsonDict
        if self._v16:
            payload = {
                "connectorId": connector,
                "errorCode": error_code,
                "status": status,
                "timestamp": timestamp,
            }
        else:
            payload = {
                "timestamp": timestamp,
                "connectorStatus": status,
                "evseId": connector,
                "connectorId": 1,
            }
        result = await self.call("StatusNotification", payload)
        self._status_sent[connector] = status
        self._notify()
        return result

    async def _set_status(self, connector: int, status: str) -> None:
        """Report `status` unless it is already the last one reported (stations report changes)."""
        if self.connector_status.get(connector) == status and self._status_sent.get(connector) == status:
            return
        await self.send_status(connector, status)

    async def _report_status(self, connector: int, status: str) -> None:
        """Report `status`; when the socket is down (but not `go_offline()`), remember it for later."""
        if not self._offline and not self.connected:
            self.connector_status[connector] = status
            self._status_dirty.add(connector)
            return
        await self.send_status(connector, status)

    async def _refresh_statuses(self) -> None:
        """Report the connectors whose resting status (Available / Reserved / ...) has changed.

        Connectors with a cable or a transaction are left alone; their status follows the session.
        """
        for connector in self.connector_ids:
            if connector in self._tx or connector in self._starting or self.plugged[connector]:
                continue
            status = self._idle_status(connector)
            if self.connector_status.get(connector) != status:
                await self._report_status(connector, status)

    async def send_all_statuses(self) -> None:
        """Report the current status of every connector (after boot, or when triggered)."""
        for connector in self.connector_ids:
            await self.send_status(connector, self._idle_status(connector))

    async def plug_in(self, connector: int) -> None:
        """Connect a cable: status Preparing (1.6) / Occupied (2.0.1)."""
        self._check_connector(connector)
        self.plugged[connector] = True
        await self.send_status(connector, "Preparing" if self._v16 else "Occupied")
        if self._zero_reservations():
            await self._refresh_statuses()

    async def unplug(self, connector: int) -> None:
        """Remove the cable: a running transaction ends with reason EVDisconnected; then the connector
        rests as Available (or Reserved, Unavailable, Faulted)."""
        self._check_connector(connector)
        self.plugged[connector] = False
        if connector in self._tx:
            await self.stop_transaction(connector, reason="EVDisconnected")
        else:
            await self.send_status(connector, self._idle_status(connector))
            if self._zero_reservations():
                await self._refresh_statuses()

    async def authorize(self, id_token: str, *, id_token_type: str = "ISO14443") -> JsonDict:
        """Send Authorize for `id_token`; remember its parentIdTag (1.6) / groupIdToken (2.0.1).

        Returns:
            idTagInfo (1.6) or idTokenInfo (2.0.1); check its `status`.
        """
        if self._v16:
            result = await self.call("Authorize", {"idTag": id_token})
            info = result.get("idTagInfo", {})
        else:
            result = await self.call("Authorize", {"idToken": {"idToken": id_token, "type": id_token_type}})
            info = result.get("idTokenInfo", {})
        info = dict(info) if isinstance(info, dict) else {}
        parent = info.get("parentIdTag") if self._v16 else (info.get("groupIdToken") or {}).get("idToken")
        self.token_parents[id_token] = parent if isinstance(parent, str) else None
        return info

    async def start_transaction(
        self,
        connector: int,
        id_token: str,
        *,
        meter_start_wh: int | None = None,
        reservation_id: int | None = None,
        remote_start_id: int | None = None,
        id_token_type: str = "ISO14443",
    ) -> str:
        """Start a transaction on `connector` and report status Charging (1.6) / Occupied (2.0.1).

        1.6 sends StartTransaction and returns str(transactionId) assigned by the CSMS (offline:
        a placeholder "offline-N" that `transactions` replaces once the CSMS answered after
        `come_back()`). 2.0.1 sends TransactionEvent Started (seqNo 0, triggerReason Authorized, or
        RemoteStart with `remoteStartId`) and returns the UUID it generated.

        Reservations are honoured like hardware does: a start on a connector reserved for another
        token (or on the last free connector held for a station-wide reservation) is refused; the
        token's reservation (its own, its parent's / group's, on this connector or station-wide) is
        used, sent as `reservationId` and ended. If the token does not match and its parent is
        unknown, it is authorized first to learn the parent.
        With `auto_meter_values`, meter values are sent every `meter_interval` until the stop.

        Args:
            meter_start_wh: set the register first (otherwise it continues from `meter_wh`).
            reservation_id: send this reservationId as given, skipping the reservation checks (to test
                how the CSMS treats a misused reservation); a known reservation of that id ends.

        Raises:
            SimulatorError: unknown connector, a transaction already runs there, or the connector is
                Faulted / Unavailable.
            ConnectorReservedError: the connector is held for another token.
        """
        self._check_startable(connector)
        if reservation_id is None:
            used, blocker = self._start_reservation(connector, id_token)
            if blocker is not None and id_token not in self.token_parents and self.connected:
                await self.authorize(id_token, id_token_type=id_token_type)  # learn its parent / group
                self._check_startable(connector)  # things may have happened meanwhile
                used, blocker = self._start_reservation(connector, id_token)
            if blocker is not None:
                raise ConnectorReservedError(connector, blocker.reservation_id, id_token)
            reservation_id = used.reservation_id if used is not None else None
        if meter_start_wh is not None:
            self.meter_wh[connector] = meter_start_wh
        if reservation_id is not None:
            self._end_reservation(reservation_id)
        tx = _Transaction(
            connector=connector,
            transaction_id="",
            id_token=id_token,
            id_token_type=id_token_type,
            meter_start_wh=self.meter_wh[connector],
            started_at=self._clock(),
            reservation_id=reservation_id,
            remote_start_id=remote_start_id,
        )
        self._tx[connector] = tx
        try:
            tx.transaction_id = await (self._start_16(tx) if self._v16 else self._start_201(tx))
        except BaseException:
            self._tx.pop(connector, None)
            raise
        self.transactions[connector] = tx.transaction_id
        self.transactions_started += 1
        self.plugged[connector] = True
        self._log.info("transaction_started", connector=connector, transaction_id=tx.transaction_id)
        if self.config.auto_meter_values:
            tx.meter_task = asyncio.create_task(self._meter_loop(tx), name=f"sim-meter-{connector}")
        self._notify()
        await self._set_status(connector, "Charging" if self._v16 else "Occupied")
        if reservation_id is not None or self._zero_reservations():
            await self._refresh_statuses()
        return tx.transaction_id

    async def _start_16(self, tx: _Transaction) -> str:
        payload: JsonDict = {
            "connectorId": tx.connector,
            "idTag": tx.id_token,
            "meterStart": tx.meter_start_wh,
            "timestamp": isoformat_z(tx.started_at),
        }
        if tx.reservation_id is not None:
            payload["reservationId"] = tx.reservation_id
        if not self._offline:
            result = await self.call("StartTransaction", payload)
            self._check_id_tag_info(result)
            return str(result["transactionId"])
        placeholder = f"offline-{next(self._placeholder_ids)}"

        def learn_id(result: JsonDict) -> None:
            real = str(result["transactionId"])
            self._tx_aliases[placeholder] = real
            if tx.transaction_id == placeholder:
                tx.transaction_id = real
            if self.transactions.get(tx.connector) == placeholder:
                self.transactions[tx.connector] = real
            self._log.info("offline_transaction_id_learned", placeholder=placeholder, transaction_id=real)

        self._queue.append(_Queued("StartTransaction", lambda: payload, learn_id))
        return placeholder

    def _check_id_tag_info(self, result: JsonDict) -> None:
        info = result.get("idTagInfo")
        status = info.get("status") if isinstance(info, dict) else None
        if status != "Accepted":
            self._log.warning("transaction_not_authorized", status=status)

    async def _start_201(self, tx: _Transaction) -> str:
        tx.transaction_id = str(uuid.uuid4())
        event = self._tx_event(
            tx,
            "Started",
            "RemoteStart" if tx.remote_start_id is not None else "Authorized",
            timestamp=tx.started_at,
            charging_state="Charging",
            with_id_token=True,
            meter_value=self._meter_value_201(
                tx.connector, "Wh", "Transaction.Begin", tx.started_at, energy_only=True
            ),
        )
        event["evse"] = {"id": tx.connector, "connectorId": 1}
        if tx.reservation_id is not None:
            event["reservationId"] = tx.reservation_id
        await self._send_tx("TransactionEvent", lambda: event)
        return tx.transaction_id

    async def send_meter_values(
        self, connector: int, *, energy_wh: int | None = None, unit: str = "Wh"
    ) -> JsonDict:
        """Advance (or set) the register and send a periodic sample.

        During a transaction the register advances by `power_w * meter_interval / 3600` Wh unless
        `energy_wh` sets it. 1.6 sends MeterValues with transactionId and string values (energy in
        kWh with three decimals when `unit="kWh"`), power, and voltage and current per phase; 2.0.1
        sends TransactionEvent Updated (triggerReason MeterValuePeriodic, next seqNo) with numeric
        values and `unitOfMeasure` where the unit is not Wh. Without a transaction both send a plain
        MeterValues.

        Raises:
            ValueError: `unit` is neither "Wh" nor "kWh".
        """
        self._check_connector(connector)
        if unit not in ("Wh", "kWh"):
            raise ValueError(f"unit must be Wh or kWh, not {unit!r}")
        tx = self._tx.get(connector)
        if energy_wh is not None:
            self.meter_wh[connector] = energy_wh
        elif tx is not None:
            self.meter_wh[connector] += round(self.config.power_w * self.config.meter_interval / 3600)
        self.meter_values_sent += 1
        return await self._send_sample(
            connector, tx, unit=unit, context="Sample.Periodic", trigger="MeterValuePeriodic"
        )

    async def _send_sample(
        self, connector: int, tx: _Transaction | None, *, unit: str, context: str, trigger: str
    ) -> JsonDict:
        now = self._clock()
        if self._v16:
            meter_value: JsonDict = {
                "timestamp": isoformat_z(now),
                "sampledValue": self._sampled_16(connector, unit, context),
            }
            if tx is None:
                return await self.call("MeterValues", {"connectorId": connector, "meterValue": [meter_value]})
            ref = tx.transaction_id

            def build() -> JsonDict:
                return {
                    "connectorId": connector,
                    "transactionId": self._tx_int(ref),
                    "meterValue": [meter_value],
                }

            return await self._send_tx("MeterValues", build)
        sample = self._meter_value_201(connector, unit, context, now)
        if tx is None:
            return await self.call("MeterValues", {"evseId": connector, "meterValue": [sample]})
        event = self._tx_event(
            tx, "Updated", trigger, timestamp=now, charging_state="Charging", meter_value=sample
        )
        return await self._send_tx("TransactionEvent", lambda: event)

    async def stop_transaction(
        self, connector: int, *, reason: str = "Local", meter_stop_wh: int | None = None
    ) -> JsonDict:
        """End the transaction on `connector`, then report Finishing (1.6) / Available (2.0.1).

        1.6 sends StopTransaction with idTag, reason and transactionData (Transaction.Begin and
        Transaction.End registers). 2.0.1 sends TransactionEvent Ended with stoppedReason and
        triggerReason StopAuthorized (EVDeparted for EVDisconnected, RemoteStop for Remote, ...).
        With reason EVDisconnected the cable is out, so 1.6 reports Available directly.

        Args:
            reason: stop reason in either version's words; translated when needed.
            meter_stop_wh: set the register first.

        Returns:
            The response payload ({} while offline).

        Raises:
            SimulatorError: no transaction on `connector`.
        """
        tx = self._tx.get(connector)
        if tx is None:
            raise SimulatorError(f"no transaction on connector {connector}")
        tx.stopping.set()
        if tx.meter_task is not None and tx.meter_task is not asyncio.current_task():
            await asyncio.wait([tx.meter_task])
        if meter_stop_wh is not None:
            self.meter_wh[connector] = meter_stop_wh
        stop_wh = self.meter_wh[connector]
        now = self._clock()
        if self._v16:
            result = await self._stop_16(tx, stop_wh, now, reason)
            next_status = "Available" if reason == "EVDisconnected" else "Finishing"
        else:
            trigger = _STOP_TRIGGERS.get(reason, "StopAuthorized")
            event = self._tx_event(
                tx,
                "Ended",
                trigger,
                timestamp=now,
                charging_state="Idle" if reason == "EVDisconnected" else "EVConnected",
                stopped_reason=reason if reason in _REASONS_201 else _REASON_TO_201.get(reason, "Other"),
                with_id_token=trigger == "StopAuthorized",
                meter_value=self._meter_value_201(connector, "Wh", "Transaction.End", now, energy_only=True),
            )
            result = await self._send_tx("TransactionEvent", lambda: event)
            next_status = "Available"
        if self._tx.get(connector) is tx:
            del self._tx[connector]
            self.transactions.pop(connector, None)
        self.transactions_stopped += 1
        self._log.info(
            "transaction_stopped", connector=connector, transaction_id=tx.transaction_id, reason=reason
        )
        if reason == "EVDisconnected":
            self.plugged[connector] = False
        profiles = self.charging_profiles.get(connector, {})
        for profile_id in [i for i, p in profiles.items() if p["chargingProfilePurpose"] == "TxProfile"]:
            del profiles[profile_id]  # a TxProfile lives as long as its transaction (1.6 §3.13.4, K01)
        if connector in self._pending_inoperative:
            self._pending_inoperative.discard(connector)
            self.inoperative.add(connector)
        if next_status == "Available" or connector in self.inoperative:
            next_status = self._idle_status(connector, cable=False)
        self._notify()
        await self._set_status(connector, next_status)
        if self._zero_reservations():
            await self._refresh_statuses()
        if self._reset_when_idle and not self._tx:
            self._reset_when_idle = False
            self._spawn(partial(self._reset, "ImmediateReset"), "Reset")
        return result

    async def _stop_16(self, tx: _Transaction, stop_wh: int, now: datetime, reason: str) -> JsonDict:
        ref = tx.transaction_id
        energy = "Energy.Active.Import.Register"
        transaction_data = [
            {
                "timestamp": isoformat_z(tx.started_at),
                "sampledValue": [
                    {
                        "value": str(tx.meter_start_wh),
                        "context": "Transaction.Begin",
                        "measurand": energy,
                        "location": "Outlet",
                        "unit": "Wh",
                    }
                ],
            },
            {
                "timestamp": isoformat_z(now),
                "sampledValue": [
                    {
                        "value": str(stop_wh),
                        "context": "Transaction.End",
                        "measurand": energy,
                        "location": "Outlet",
                        "unit": "Wh",
                    }
                ],
            },
        ]
        reason_16 = reason if reason in _REASONS_16 else _REASON_TO_16.get(reason, "Other")

        def build() -> JsonDict:
            return {
                "transactionId": self._tx_int(ref),
                "idTag": tx.id_token,
                "meterStop": stop_wh,
                "timestamp": isoformat_z(now),
                "reason": reason_16,
                "transactionData": transaction_data,
            }

        return await self._send_tx("StopTransaction", build)

    async def _send_tx(
        self, action: str, build: Callable[[], JsonDict], on_result: Callable[[JsonDict], None] | None = None
    ) -> JsonDict:
        """Send a transaction message now, or queue it while offline (then return {})."""
        if self._offline:
            self._queue.append(_Queued(action, build, on_result))
            self._log.debug("queued_offline", action=action, queued=len(self._queue))
            return {}
        result = await self.call(action, build())
        if on_result is not None:
            on_result(result)
        return result

    def _tx_int(self, ref: str) -> int:
        """The 1.6 integer transactionId for `ref`, resolving an offline placeholder."""
        real = self._tx_aliases.get(ref, ref)
        try:
            return int(real)
        except ValueError:
            raise SimulatorError(f"transaction {ref} never got a transactionId from the CSMS") from None

    def _tx_event(
        self,
        tx: _Transaction,
        event_type: str,
        trigger: str,
        *,
        timestamp: datetime,
        charging_state: str | None = None,
        stopped_reason: str | None = None,
        with_id_token: bool = False,
        meter_value: JsonDict | None = None,
    ) -> JsonDict:
        """Build a 2.0.1 TransactionEvent and take the next seqNo (0 on Started, then +1 per event)."""
        info: JsonDict = {"transactionId": tx.transaction_id}
        if charging_state is not None:
            info["chargingState"] = charging_state
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        if event_type == "Started" and tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
        event: JsonDict = {
            "eventType": event_type,
            "timestamp": isoformat_z(timestamp),
            "triggerReason": trigger,
            "seqNo": tx.next_seq_no,
            "transactionInfo": info,
        }
        tx.next_seq_no += 1
        if not self.connected:
            event["offline"] = True
        if with_id_token:
            event["idToken"] = {"idToken": tx.id_token, "type": tx.id_token_type}
        if meter_value is not None:
            event["meterValue"] = [meter_value]
        return event

    def _sampled_16(self, connector: int, unit: str, context: str) -> list[JsonDict]:
        wh = self.meter_wh[connector]
        energy = f"{wh / 1000:.3f}" if unit == "kWh" else str(wh)
        values: list[JsonDict] = [
            {
                "value": energy,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": unit,
            },
        ]
        power = self.config.power_w if connector in self._tx else 0
        values.append(
            {
                "value": str(power),
                "context": context,
                "measurand": "Power.Active.Import",
                "location": "Outlet",
                "unit": "W",
            }
        )
        amps = power / len(_PHASES) / _VOLTAGE
        for phase in _PHASES:
            values.append(
                {
                    "value": f"{_VOLTAGE:.1f}",
                    "context": context,
                    "measurand": "Voltage",
                    "phase": f"{phase}-N",
                    "location": "Outlet",
                    "unit": "V",
                }
            )
        for phase in _PHASES:
            values.append(
                {
                    "value": f"{amps:.2f}",
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "location": "Outlet",
                    "unit": "A",
                }
            )
        return values

    def _meter_value_201(
        self, connector: int, unit: str, context: str, timestamp: datetime, *, energy_only: bool = False
    ) -> JsonDict:
        wh = self.meter_wh[connector]
        energy: JsonDict = {
            "value": wh,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
        }
        if unit == "kWh":
            energy["value"] = wh / 1000
            energy["unitOfMeasure"] = {"unit": "kWh"}
        values = [energy]
        if not energy_only:
            power = self.config.power_w if connector in self._tx else 0
            values.append(
                {
                    "value": power,
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unitOfMeasure": {"unit": "W"},
                }
            )
            amps = round(power / len(_PHASES) / _VOLTAGE, 2)
            for phase in _PHASES:
                values.append(
                    {
                        "value": _VOLTAGE,
                        "context": context,
                        "measurand": "Voltage",
                        "phase": f"{phase}-N",
                        "location": "Outlet",
                        "unitOfMeasure": {"unit": "V"},
                    }
                )
            for phase in _PHASES:
                values.append(
                    {
                        "value": amps,
                        "context": context,
                        "measurand": "Current.Import",
                        "phase": phase,
                        "location": "Outlet",
                        "unitOfMeasure": {"unit": "A"},
                    }
                )
        return {"timestamp": isoformat_z(timestamp), "sampledValue": values}

    async def _meter_loop(self, tx: _Transaction) -> None:
        """Send periodic meter values for `tx` until it is being stopped."""
        while True:
            try:
                await asyncio.wait_for(tx.stopping.wait(), timeout=self.config.meter_interval)
                return
            except TimeoutError:
                pass
            if self._tx.get(tx.connector) is not tx:
                return
            try:
                await self.send_meter_values(tx.connector)
            except NotConnectedError:
                self._log.debug("meter_values_skipped_disconnected", connector=tx.connector)
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
                self._log.warning("meter_values_failed", connector=tx.connector, error=str(exc))

    # ------------------------------------------------------------------ heartbeat

    @property
    def _heartbeat_key(self) -> str:
        return "HeartbeatInterval" if self._v16 else "OCPPCommCtrlr.HeartbeatInterval"

    def _stop_heartbeat(self) -> None:
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _restart_heartbeat(self) -> None:
        """(Re)start heartbeats at the configured interval when booted, connected and enabled."""
        self._stop_heartbeat()
        interval = int(self.settings[self._heartbeat_key].value or 0)
        if self.config.heartbeat and interval > 0 and self.boot_status == "Accepted" and self.connected:
            self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(interval), name="sim-heartbeat")

    async def _heartbeat_loop(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except NotConnectedError:
                return
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
                self._log.warning("heartbeat_failed", error=str(exc))

    # ------------------------------------------------------------------ helpers

    def _check_startable(self, connector: int) -> None:
        """Raise SimulatorError unless a transaction may start on `connector` (reservations aside)."""
        self._check_connector(connector)
        if connector in self._tx:
            raise SimulatorError(
                f"connector {connector} already runs transaction {self.transactions.get(connector)}"
            )
        if self.connector_status.get(connector) == "Faulted" or connector in self.inoperative:
            raise SimulatorError(f"connector {connector} is {self._idle_status(connector)}")

    def _check_connector(self, connector: int) -> None:
        if connector not in self.connector_ids:
            raise SimulatorError(f"no connector {connector} (have 1..{len(self.connector_ids)})")

    def _idle_status(self, connector: int, *, cable: bool = True) -> str:
        """The status a connector reports when nothing is happening to it right now.

        Args:
            cable: take a plugged cable into account (False: the status once the session is over).
        """
        if self.connector_status.get(connector) == "Faulted":
            return "Faulted"
        if connector in self.inoperative:
            return "Unavailable"
        if connector in self._tx:
            return "Charging" if self._v16 else "Occupied"
        if cable and self.plugged.get(connector):
            return "Preparing" if self._v16 else "Occupied"
        if self._reservation_on(connector) is not None or self._held_for_station(connector):
            return "Reserved"
        return "Available"

    def _free_connector(self, requested: int | None, id_token: str) -> int | None:
        """The connector a remote start may use: `requested` if free, else the first free one.

        Free: operative, no transaction, and not held by a reservation for another token; without a
        requested connector one reserved for `id_token` comes first.
        """
        if requested is not None:
            candidates: tuple[int, ...] = (requested,) if requested in self.connector_ids else ()
        else:
            mine = tuple(
                r.connector
                for r in self.reservations.values()
                if r.connector in self.connector_ids and self._matches(r, id_token)
            )
            candidates = (*mine, *(c for c in self.connector_ids if c not in mine))
        for connector in candidates:
            if (
                connector not in self._tx
                and connector not in self._starting
                and connector not in self.inoperative
                and self.connector_status.get(connector) in _STARTABLE
                and self._start_reservation(connector, id_token)[1] is None
            ):
                return connector
        return None

    def _connector_of(self, transaction_id: str) -> int | None:
        for connector, tx in self._tx.items():
            if transaction_id in (tx.transaction_id, self._tx_aliases.get(tx.transaction_id)):
                return connector
        return None

    async def _remote_start(
        self,
        connector: int,
        id_token: str,
        id_token_type: str,
        remote_start_id: int | None,
        profile: JsonDict | None = None,
    ) -> None:
        """Follow-up of an accepted remote start: authorize if configured, plug in, start, and install
        the TxProfile that came with the request."""
        try:
            if self._setting_true(
                "AuthorizeRemoteTxRequests" if self._v16 else "AuthCtrlr.AuthorizeRemoteStart"
            ):
                info = await self.authorize(id_token, id_token_type=id_token_type)
                if info.get("status") != "Accepted":
                    self._log.info("remote_start_not_authorized", status=info.get("status"))
                    return
            if not self.plugged[connector]:
                await self.plug_in(connector)
            await self.start_transaction(
                connector, id_token, remote_start_id=remote_start_id, id_token_type=id_token_type
            )
            if profile is not None:
                profile_id, _, _ = self._profile_key(profile)
                self.charging_profiles.setdefault(connector, {})[profile_id] = profile
        finally:
            self._starting.discard(connector)

    async def _reset(self, reason: str) -> None:
        """Follow-up of an accepted Reset: stop transactions, reconnect, boot, report statuses."""
        for connector in list(self._tx):
            try:
                await self.stop_transaction(connector, reason=reason)
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
        await self.restart(boot_reason="RemoteReset")

    async def restart(self, *, boot_reason: str = "PowerUp") -> None:
        """Reboot: close the socket, reconnect, send BootNotification and every connector's status."""
        self._log.info("restarting", boot_reason=boot_reason)
        await self._drop_connection(1000, "rebooting")
        await self.connect()
        result = await self.boot(boot_reason)
        if result.get("status") == "Accepted":
            await self._drain_queue()  # e.g. a reservation that expired while the station rebooted
            self._status_dirty.clear()
            await self.send_all_statuses()

    async def _reconnect(self) -> None:
        """Reconnect with the (new) password; boot again unless already Accepted."""
        await self._drop_connection(1000, "new credentials")
        await self.connect()
        if self.boot_status != "Accepted":
            await self.boot()

    def _setting_true(self, key: str) -> bool:
        setting = self.settings.get(key)
        return setting is not None and setting.value.lower() == "true"

    def _default_settings(self) -> dict[str, Setting]:
        cfg = self.config
        interval = _number(cfg.meter_interval)
        sampled = "Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import"
        reservations = "true" if cfg.reservation_support else "false"
        if self._v16:
            profiles = "Core,Reservation,RemoteTrigger,SmartCharging"
            if not cfg.reservation_support:
                profiles = profiles.replace(",Reservation", "")
            return {
                "HeartbeatInterval": Setting("0", kind="int"),
                "MeterValueSampleInterval": Setting(interval, kind="number"),
                "MeterValuesSampledData": Setting(sampled),
                "StopTxnSampledData": Setting("Energy.Active.Import.Register"),
                "ClockAlignedDataInterval": Setting("0", kind="int"),
                "ConnectionTimeOut": Setting("60", kind="int"),
                "AuthorizeRemoteTxRequests": Setting("false", kind="bool"),
                "LocalAuthorizeOffline": Setting("true", kind="bool"),
                "LocalPreAuthorize": Setting("false", kind="bool"),
                "StopTransactionOnEVSideDisconnect": Setting("true", kind="bool"),
                "StopTransactionOnInvalidId": Setting("true", kind="bool"),
                "UnlockConnectorOnEVSideDisconnect": Setting("true", kind="bool"),
                "NumberOfConnectors": Setting(str(cfg.connectors), readonly=True, kind="int"),
                "ReserveConnectorZeroSupported": Setting(
                    "true" if cfg.reserve_connector_zero else "false", readonly=True, kind="bool"
                ),
                "SupportedFeatureProfiles": Setting(profiles, readonly=True),
                "ChargeProfileMaxStackLevel": Setting("10", readonly=True, kind="int"),
                "ChargingScheduleAllowedChargingRateUnit": Setting("Current,Power", readonly=True),
                "ChargingScheduleMaxPeriods": Setting("24", readonly=True, kind="int"),
                "MaxChargingProfilesInstalled": Setting("20", readonly=True, kind="int"),
                "AuthorizationKey": Setting(cfg.password or "", write_only=True),
            }
        return {
            "OCPPCommCtrlr.HeartbeatInterval": Setting("0", kind="int"),
            "OCPPCommCtrlr.OfflineThreshold": Setting("60", kind="int"),
            "SampledDataCtrlr.TxUpdatedInterval": Setting(interval, kind="number"),
            "SampledDataCtrlr.TxUpdatedMeasurands": Setting(sampled),
            "SampledDataCtrlr.TxStartedMeasurands": Setting("Energy.Active.Import.Register"),
            "SampledDataCtrlr.TxEndedMeasurands": Setting("Energy.Active.Import.Register"),
            "AuthCtrlr.AuthorizeRemoteStart": Setting("false", kind="bool"),
            "TxCtrlr.EVConnectionTimeOut": Setting("60", kind="int"),
            "TxCtrlr.StopTxOnEVSideDisconnect": Setting("true", kind="bool"),
            "ReservationCtrlr.Available": Setting(reservations, readonly=True, kind="bool"),
            "ReservationCtrlr.Enabled": Setting(reservations, kind="bool"),
            "ReservationCtrlr.NonEvseSpecific": Setting(
                "true" if cfg.non_evse_specific_reservations else "false", readonly=True, kind="bool"
            ),
            "SmartChargingCtrlr.Available": Setting("true", readonly=True, kind="bool"),
            "SmartChargingCtrlr.Enabled": Setting("true", kind="bool"),
            "SmartChargingCtrlr.ProfileStackLevel": Setting("10", readonly=True, kind="int"),
            "SmartChargingCtrlr.RateUnit": Setting("A,W", readonly=True),
            "SmartChargingCtrlr.PeriodsPerSchedule": Setting("24", readonly=True, kind="int"),
            "SecurityCtrlr.SecurityProfile": Setting("1", readonly=True, kind="int"),
            "SecurityCtrlr.Identity": Setting(cfg.charge_point_id, readonly=True),
            "SecurityCtrlr.BasicAuthPassword": Setting(cfg.password or "", write_only=True),
        }

    @staticmethod
    def _valid_value(setting: Setting, value: str) -> bool:
        if setting.kind == "int":
            return value.isdigit()
        if setting.kind == "number":
            try:
                return float(value) > 0
            except ValueError:
                return False
        if setting.kind == "bool":
            return value.lower() in ("true", "false")
        return True

    def _apply_setting(self, key: str, value: str) -> FollowUp | None:
        """Store a new value and act on it; a new password returns the reconnect follow-up."""
        self.settings[key].value = value
        self._log.info("setting_changed", key=key)
        if key == self._heartbeat_key:
            self._restart_heartbeat()
        elif key in ("MeterValueSampleInterval", "SampledDataCtrlr.TxUpdatedInterval"):
            self.config.meter_interval = float(value)
        elif key in ("AuthorizationKey", "SecurityCtrlr.BasicAuthPassword"):
            # Security whitepaper / OCPP 2.0.1 A01: reconnect with the new password.
            self.config.password = value
            return self._reconnect
        return None

    # ------------------------------------------------------------------ reservations

    def _matches(self, reservation: Reservation, id_token: str) -> bool:
        """True if `id_token` may use `reservation`: it is the reserved token or its parent / group
        (OCPP 1.6 §5.13: idTag or parentIdTag; 2.0.1 H01: idToken or groupIdToken)."""
        mine = {id_token, self.token_parents.get(id_token)} - {None}
        theirs = {reservation.id_token, reservation.parent_id_token} - {None}
        return bool(mine & theirs)

    def _reservation_on(self, connector: int, *, ignoring: int | None = None) -> Reservation | None:
        """The reservation of `connector` itself (not a station-wide one), except reservation `ignoring`."""
        return next(
            (
                r
                for r in self.reservations.values()
                if r.connector == connector and r.reservation_id != ignoring
            ),
            None,
        )

    def _zero_reservations(self, *, ignoring: int | None = None) -> list[Reservation]:
        """The station-wide reservations (1.6 connectorId 0, 2.0.1 without evseId)."""
        return [r for r in self.reservations.values() if r.connector == 0 and r.reservation_id != ignoring]

    def _operative(self, connector: int) -> bool:
        return connector not in self.inoperative and self.connector_status.get(connector) != "Faulted"

    def _is_free(self, connector: int, *, ignoring: int | None = None) -> bool:
        """Nobody uses or holds `connector`: operative, no cable, no transaction, not reserved itself."""
        return (
            self._operative(connector)
            and connector not in self._tx
            and connector not in self._starting
            and not self.plugged[connector]
            and self._reservation_on(connector, ignoring=ignoring) is None
        )

    def _held_for_station(self, connector: int) -> bool:
        """True if free `connector` must stay free for the station-wide reservations (as many free
        connectors are left as there are such reservations), so it reports Reserved."""
        zero = len(self._zero_reservations())
        if not zero or not self._is_free(connector):
            return False
        return sum(self._is_free(c) for c in self.connector_ids) <= zero

    def _start_reservation(
        self, connector: int, id_token: str
    ) -> tuple[Reservation | None, Reservation | None]:
        """(the reservation a start of `id_token` on `connector` uses, the one that forbids it)."""
        own = self._reservation_on(connector)
        if own is not None:
            return (own, None) if self._matches(own, id_token) else (None, own)
        zero = self._zero_reservations()
        usable = next((r for r in zero if self._matches(r, id_token)), None)
        if usable is not None:
            return usable, None
        if zero:
            others_free = sum(self._is_free(c) for c in self.connector_ids if c != connector)
            if others_free < len(zero):
                return None, zero[0]
        return None, None

    def _reservable(self, connector: int, reservation_id: int) -> str:
        """The ReserveNow status for connector / EVSE `connector` (a replaced reservation `reservation_id`
        does not count)."""
        status = self.connector_status.get(connector)
        if status == "Faulted":
            return "Faulted"
        if connector in self.inoperative or connector in self._pending_inoperative or status == "Unavailable":
            return "Unavailable"
        if (
            connector in self._tx
            or connector in self._starting
            or self.plugged[connector]
            or self._reservation_on(connector, ignoring=reservation_id) is not None
        ):
            return "Occupied"  # 1.6 §5.13: also when reserved, for the same or another token
        zero = self._zero_reservations(ignoring=reservation_id)
        if zero:
            others_free = sum(
                self._is_free(c, ignoring=reservation_id) for c in self.connector_ids if c != connector
            )
            if others_free < len(zero):
                return "Occupied"  # the last free connectors are held for station-wide reservations
        return "Accepted"

    def _reservable_anywhere(self, reservation_id: int) -> str:
        """The ReserveNow status for a station-wide reservation: one more free connector is needed."""
        if all(self.connector_status.get(c) == "Faulted" for c in self.connector_ids):
            return "Faulted"
        if not any(self._operative(c) for c in self.connector_ids):
            return "Unavailable"
        free = sum(self._is_free(c, ignoring=reservation_id) for c in self.connector_ids)
        if free <= len(self._zero_reservations(ignoring=reservation_id)):
            return "Occupied"
        return "Accepted"

    def _reserve(
        self, reservation_id: int, connector: int, id_token: str, parent: str | None, expiry: datetime
    ) -> FollowUp:
        """Store a reservation (replacing one with the same id) and arm its expiry."""
        self._end_reservation(reservation_id)
        delay = max(0.0, (expiry - self._clock()).total_seconds())
        reservation = Reservation(reservation_id, connector, id_token, expiry, parent_id_token=parent)
        reservation.timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(partial(self._expire_reservation, reservation), "ReservationExpired")
        )
        self.reservations[reservation_id] = reservation
        self._log.info("reserved", reservation_id=reservation_id, connector=connector)
        return self._refresh_statuses

    def _end_reservation(self, reservation_id: int) -> Reservation | None:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is not None and reservation.timer is not None:
            reservation.timer.cancel()
        return reservation

    async def _expire_reservation(self, reservation: Reservation) -> None:
        """At expiryDate: end the reservation; 2.0.1 reports ReservationStatusUpdate Expired; then the
        connector reports Available (all of it after reconnecting when offline)."""
        if self.reservations.get(reservation.reservation_id) is not reservation:
            return
        del self.reservations[reservation.reservation_id]
        self._log.info("reservation_expired", reservation_id=reservation.reservation_id)
        if not self._v16:
            await self._reservation_update(reservation.reservation_id, "Expired")
        await self._refresh_statuses()

    async def _drop_reservations(self, connector: int) -> None:
        """`connector` became Faulted / Unavailable: its reservation ends (2.0.1: Removed), and so do the
        station-wide ones when no connector is operative any more."""
        dropped = [r for r in self.reservations.values() if r.connector == connector]
        if not any(self._operative(c) for c in self.connector_ids):
            dropped += self._zero_reservations()
        for reservation in dropped:
            self._end_reservation(reservation.reservation_id)
            self._log.info("reservation_removed", reservation_id=reservation.reservation_id)
            if not self._v16:
                await self._reservation_update(reservation.reservation_id, "Removed")
        if dropped:
            await self._refresh_statuses()

    async def _reservation_update(self, reservation_id: int, status: str) -> None:
        """Send 2.0.1 ReservationStatusUpdate, or queue it until the station is connected again."""
        payload: JsonDict = {"reservationId": reservation_id, "reservationUpdateStatus": status}
        if self._offline or not self.connected:
            self._queue.append(_Queued("ReservationStatusUpdate", lambda: payload))
            return
        await self.call("ReservationStatusUpdate", payload)

    # ------------------------------------------------------------------ CSMS → station (shared)

    def _answer_cancel_reservation(self, payload: JsonDict) -> _Answer:
        reservation_id = payload["reservationId"]
        if reservation_id not in self.reservations:
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._end_reservation(reservation_id)
            self._log.info("reservation_cancelled", reservation_id=reservation_id)
            return self._refresh_statuses

        return {"status": "Accepted"}, commit

    def _answer_reserve(
        self,
        reservation_id: int,
        connector: int,
        expiry_text: str,
        id_token: str,
        parent: str | None,
    ) -> _Answer:
        """ReserveNow for `connector` (0: station-wide) once the version-specific checks passed."""
        expiry = parse_datetime(expiry_text)
        if expiry <= self._clock():
            return {"status": "Rejected"}, None
        if connector == 0:
            status = self._reservable_anywhere(reservation_id)
        else:
            status = self._reservable(connector, reservation_id)
        if status != "Accepted":
            return {"status": status}, None
        return {"status": "Accepted"}, lambda: self._reserve(
            reservation_id, connector, id_token, parent, expiry
        )

    def _answer_change_availability(self, connector: int, operative: bool) -> _Answer:
        """ChangeAvailability for connector/EVSE `connector` (0 = all)."""
        if connector != 0 and connector not in self.connector_ids:
            return {"status": "Rejected"}, None
        targets = list(self.connector_ids) if connector == 0 else [connector]
        busy = [c for c in targets if c in self._tx]
        idle = [c for c in targets if c not in self._tx]
        status = "Scheduled" if busy and not operative else "Accepted"

        def commit() -> FollowUp:
            if operative:
                self.inoperative.difference_update(targets)
                self._pending_inoperative.difference_update(targets)
            else:
                self.inoperative.update(idle)
                self._pending_inoperative.update(busy)

            async def report() -> None:
                for c in idle:
                    await self._set_status(c, self._idle_status(c))

            return report

        return {"status": status}, commit

    def _answer_data_transfer(self, payload: JsonDict) -> _Answer:
        return {"status": "UnknownVendorId"}, None

    def _answer_clear_cache(self, payload: JsonDict) -> _Answer:
        return {"status": "Accepted"}, None

    def _answer_stop(self, transaction_id: str) -> _Answer:
        connector = self._connector_of(transaction_id)
        if connector is None or self._tx[connector].stopping.is_set():
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._tx[connector].stopping.set()
            return partial(self.stop_transaction, connector, reason="Remote")

        return {"status": "Accepted"}, commit

    def _answer_start(
        self,
        requested: int | None,
        id_token: str,
        id_token_type: str,
        remote_start_id: int | None,
        profile: JsonDict | None = None,
    ) -> _Answer:
        """Remote start: Rejected when the connector is busy, unavailable, faulted or held for another
        token, or when the charging profile that came with it is not a TxProfile."""
        if profile is not None and profile["chargingProfilePurpose"] != "TxProfile":
            return {"status": "Rejected"}, None
        connector = self._free_connector(requested, id_token)
        if connector is None:
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._starting.add(connector)
            return partial(self._remote_start, connector, id_token, id_token_type, remote_start_id, profile)

        return {"status": "Accepted"}, commit

    async def _send_statuses(self, connectors: list[int]) -> None:
        for connector in connectors:
            await self.send_status(connector, self.connector_status.get(connector, "Available"))

    async def _trigger_meter_values(self, connectors: list[int]) -> None:
        for connector in connectors:
            tx = self._tx.get(connector) if self._v16 else None  # 2.0.1 F06: a MeterValuesRequest
            await self._send_sample(connector, tx, unit="Wh", context="Trigger", trigger="Trigger")

    async def _trigger_transaction_events(self, connectors: list[int]) -> None:
        for connector in connectors:
            tx = self._tx.get(connector)
            if tx is not None:
                await self._send_sample(connector, tx, unit="Wh", context="Trigger", trigger="Trigger")

    # ------------------------------------------------------------------ charging profiles

    def _profile_key(self, profile: JsonDict) -> tuple[int, int, str]:
        """(id, stackLevel, purpose) of a 1.6 csChargingProfiles / 2.0.1 ChargingProfileType."""
        profile_id = profile["chargingProfileId"] if self._v16 else profile["id"]
        return profile_id, profile["stackLevel"], profile["chargingProfilePurpose"]

    def _profile_refusal(self, connector: int, profile: JsonDict) -> str | None:
        """Why SetChargingProfile must be Rejected, or None when the profile can be installed."""
        if connector != 0 and connector not in self.connector_ids:
            return "unknown connector"
        if not self._v16 and not self._setting_true("SmartChargingCtrlr.Enabled"):
            return "smart charging disabled"
        _, stack_level, purpose = self._profile_key(profile)
        max_level = self.settings[
            "ChargeProfileMaxStackLevel" if self._v16 else "SmartChargingCtrlr.ProfileStackLevel"
        ]
        if not 0 <= stack_level <= int(max_level.value):
            return "stackLevel out of range"
        schedules = [profile["chargingSchedule"]] if self._v16 else profile["chargingSchedule"]
        max_periods = int(
            self.settings[
                "ChargingScheduleMaxPeriods" if self._v16 else "SmartChargingCtrlr.PeriodsPerSchedule"
            ].value
        )
        if any(len(s["chargingSchedulePeriod"]) > max_periods for s in schedules):
            return "too many periods"
        if purpose in _MAX_PROFILE_PURPOSES and connector != 0:
            return "a max profile belongs to connector 0"
        if purpose == "ChargingStationExternalConstraints":
            return "external constraints are not set by the CSMS"  # 2.0.1 K01.FR.22
        if purpose == "TxProfile":
            if connector not in self._tx:
                return "no transaction on the connector"
            wanted = profile.get("transactionId")
            if wanted is None and not self._v16:
                return "TxProfile without transactionId"  # 2.0.1 K01.FR.03
            if wanted is not None and self._connector_of(str(wanted)) != connector:
                return "transactionId does not match"
        return None

    def _answer_set_charging_profile(self, connector: int, profile: JsonDict) -> _Answer:
        """SetChargingProfile: install (replacing the same id, or the same stackLevel and purpose on the
        connector) or refuse."""
        refusal = self._profile_refusal(connector, profile)
        if refusal is not None:
            self._log.info("charging_profile_rejected", connector=connector, reason=refusal)
            return {"status": "Rejected"}, None
        profile_id, stack_level, purpose = self._profile_key(profile)

        def commit() -> None:
            for installed in self.charging_profiles.values():
                installed.pop(profile_id, None)
            target = self.charging_profiles.setdefault(connector, {})
            for other_id, other in list(target.items()):
                if self._profile_key(other)[1:] == (stack_level, purpose):
                    del target[other_id]
            target[profile_id] = profile
            self._log.info("charging_profile_set", connector=connector, profile_id=profile_id)

        return {"status": "Accepted"}, commit

    def _answer_clear_charging_profile(
        self, profile_id: int | None, connector: int | None, purpose: str | None, stack_level: int | None
    ) -> _Answer:
        """ClearChargingProfile by id, or by the criteria given (none: every profile); Accepted if any
        profile matched, else Unknown."""
        matched: list[tuple[int, int]] = []
        for where, installed in self.charging_profiles.items():
            for pid, profile in installed.items():
                _, level, kind = self._profile_key(profile)
                if profile_id is not None:
                    hit = pid == profile_id
                else:
                    hit = (
                        connector in (None, where)
                        and purpose in (None, kind)
                        and stack_level in (None, level)
                    )
                if hit:
                    matched.append((where, pid))
        if not matched:
            return {"status": "Unknown"}, None

        def commit() -> None:
            for where, pid in matched:
                self.charging_profiles.get(where, {}).pop(pid, None)
            self._log.info("charging_profiles_cleared", profiles=len(matched))

        return {"status": "Accepted"}, commit

    def _trigger_follow_up(self, requested: str, targets: list[int]) -> FollowUp | None:
        """What TriggerMessage `requested` sends for connectors / EVSEs `targets` (None: not implemented)."""
        follow_ups: dict[str, FollowUp] = {
            "BootNotification": self.boot if self._v16 else partial(self.boot, "Triggered"),
            "Heartbeat": self.heartbeat,
            "StatusNotification": partial(self._send_statuses, targets),
            "MeterValues": partial(self._trigger_meter_values, targets),
            "FirmwareStatusNotification": partial(
                self.call, "FirmwareStatusNotification", {"status": "Idle"}
            ),
        }
        if self._v16:
            follow_ups["DiagnosticsStatusNotification"] = partial(
                self.call, "DiagnosticsStatusNotification", {"status": "Idle"}
            )
        else:
            follow_ups["TransactionEvent"] = partial(self._trigger_transaction_events, targets)
            follow_ups["LogStatusNotification"] = partial(
                self.call, "LogStatusNotification", {"status": "Idle"}
            )
        return follow_ups.get(requested)

    # ------------------------------------------------------------------ CSMS → station (1.6)

    def _handlers_16(self) -> dict[str, Callable[[JsonDict], _Answer]]:
        return {
            "Reset": self._on_reset_16,
            "TriggerMessage": self._on_trigger_16,
            "RemoteStartTransaction": self._on_remote_start_16,
            "RemoteStopTransaction": lambda p: self._answer_stop(str(p["transactionId"])),
            "ChangeConfiguration": self._on_change_configuration_16,
            "GetConfiguration": self._on_get_configuration_16,
            "ChangeAvailability": lambda p: self._answer_change_availability(
                p["connectorId"], p["type"] == "Operative"
            ),
            "UnlockConnector": self._on_unlock_16,
            "ReserveNow": self._on_reserve_now_16,
            "CancelReservation": self._answer_cancel_reservation,
            "SetChargingProfile": lambda p: self._answer_set_charging_profile(
                p["connectorId"], p["csChargingProfiles"]
            ),
            "ClearChargingProfile": lambda p: self._answer_clear_charging_profile(
                p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"), p.get("stackLevel")
            ),
            "DataTransfer": self._answer_data_transfer,
            "ClearCache": self._answer_clear_cache,
        }

    def _on_reset_16(self, payload: JsonDict) -> _Answer:
        reason = "HardReset" if payload["type"] == "Hard" else "SoftReset"
        return {"status": "Accepted"}, lambda: partial(self._reset, reason)

    def _on_trigger_16(self, payload: JsonDict) -> _Answer:
        connector = payload.get("connectorId")
        if connector and connector not in self.connector_ids:
            return {"status": "Rejected"}, None
        targets = [connector] if connector else list(self.connector_ids)
        follow_up = self._trigger_follow_up(payload["requestedMessage"], targets)
        if follow_up is None:
            return {"status": "NotImplemented"}, None
        return {"status": "Accepted"}, lambda: follow_up

    def _on_remote_start_16(self, payload: JsonDict) -> _Answer:
        return self._answer_start(
            payload.get("connectorId"), payload["idTag"], "ISO14443", None, payload.get("chargingProfile")
        )

    def _on_change_configuration_16(self, payload: JsonDict) -> _Answer:
        key, value = payload["key"], payload["value"]
        setting = self.settings.get(key)
        if setting is None:
            return {"status": "NotSupported"}, None
        if setting.readonly or not self._valid_value(setting, value):
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, lambda: self._apply_setting(key, value)

    def _on_get_configuration_16(self, payload: JsonDict) -> _Answer:
        keys = payload.get("key") or [k for k, s in self.settings.items() if not s.write_only]
        known: list[JsonDict] = []
        unknown: list[str] = []
        for key in keys:
            setting = self.settings.get(key)
            if setting is None:
                unknown.append(key)
                continue
            entry: JsonDict = {"key": key, "readonly": setting.readonly}
            if not setting.write_only:  # Security whitepaper: AuthorizationKey is never revealed
                entry["value"] = setting.value
            known.append(entry)
        result: JsonDict = {}
        if known:
            result["configurationKey"] = known
        if unknown:
            result["unknownKey"] = unknown
        return result, None

    def _on_unlock_16(self, payload: JsonDict) -> _Answer:
        connector = payload["connectorId"]
        if connector not in self.connector_ids:
            return {"status": "NotSupported"}, None
        status = "UnlockFailed" if self.config.unlock_fails else "Unlocked"
        if connector in self._tx:
            # 1.6 §5.18: a running transaction is stopped first (reason UnlockCommand).
            return {"status": status}, lambda: partial(
                self.stop_transaction, connector, reason="UnlockCommand"
            )
        return {"status": status}, None

    def _on_reserve_now_16(self, payload: JsonDict) -> _Answer:
        connector = payload["connectorId"]
        if not self.config.reservation_support or (connector != 0 and connector not in self.connector_ids):
            return {"status": "Rejected"}, None
        if connector == 0 and not self._setting_true("ReserveConnectorZeroSupported"):
            return {"status": "Rejected"}, None
        return self._answer_reserve(
            payload["reservationId"],
            connector,
            payload["expiryDate"],
            payload["idTag"],
            payload.get("parentIdTag"),
        )

    # ------------------------------------------------------------------ CSMS → station (2.0.1)

    def _handlers_201(self) -> dict[str, Callable[[JsonDict], _Answer]]:
        return {
            "Reset": self._on_reset_201,
            "TriggerMessage": self._on_trigger_201,
            "RequestStartTransaction": self._on_request_start_201,
            "RequestStopTransaction": lambda p: self._answer_stop(p["transactionId"]),
            "GetVariables": self._on_get_variables_201,
            "SetVariables": self._on_set_variables_201,
            "GetBaseReport": self._on_get_base_report_201,
            "ChangeAvailability": lambda p: self._answer_change_availability(
                p.get("evse", {}).get("id", 0), p["operationalStatus"] == "Operative"
            ),
            "UnlockConnector": self._on_unlock_201,
            "ReserveNow": self._on_reserve_now_201,
            "CancelReservation": self._answer_cancel_reservation,
            "SetChargingProfile": lambda p: self._answer_set_charging_profile(
                p["evseId"], p["chargingProfile"]
            ),
            "ClearChargingProfile": self._on_clear_charging_profile_201,
            "DataTransfer": self._answer_data_transfer,
            "ClearCache": self._answer_clear_cache,
        }

    def _on_reset_201(self, payload: JsonDict) -> _Answer:
        if "evseId" in payload:
            return {"status": "Rejected"}, None  # resetting a single EVSE is not supported
        if payload["type"] == "OnIdle" and self._tx:

            def schedule() -> None:
                self._reset_when_idle = True

            return {"status": "Scheduled"}, schedule
        return {"status": "Accepted"}, lambda: partial(self._reset, "ImmediateReset")

    def _on_trigger_201(self, payload: JsonDict) -> _Answer:
        requested = payload["requestedMessage"]
        evse: JsonDict = payload.get("evse") or {}
        evse_id = evse.get("id")
        if evse_id and (evse_id not in self.connector_ids or evse.get("connectorId", 1) != 1):
            return {"status": "Rejected"}, None
        targets = [evse_id] if evse_id else list(self.connector_ids)
        follow_up = self._trigger_follow_up(requested, targets)
        if follow_up is None:
            return {"status": "NotImplemented"}, None
        if requested == "TransactionEvent" and not any(c in self._tx for c in targets):
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, lambda: follow_up

    def _on_request_start_201(self, payload: JsonDict) -> _Answer:
        id_token = payload["idToken"]["idToken"]
        group = payload.get("groupIdToken")
        if group is not None:
            self.token_parents[id_token] = group["idToken"]
        return self._answer_start(
            payload.get("evseId"),
            id_token,
            payload["idToken"]["type"],
            payload["remoteStartId"],
            payload.get("chargingProfile"),
        )

    def _on_clear_charging_profile_201(self, payload: JsonDict) -> _Answer:
        criteria = payload.get("chargingProfileCriteria", {})
        return self._answer_clear_charging_profile(
            payload.get("chargingProfileId"),
            criteria.get("evseId"),
            criteria.get("chargingProfilePurpose"),
            criteria.get("stackLevel"),
        )

    # ------------------------------------------------------------------ device model (2.0.1)

    def device_model(self) -> list[JsonDict]:
        """The 2.0.1 device model as NotifyReport reportData entries (what FullInventory reports).

        Station-level variables come from `settings`; ChargingStation, EVSE and Connector components
        (AvailabilityState, ConnectorType, ...) are read-only and follow the live state.
        """
        return [variable.report() for variable in self._device_variables()]

    def _device_variables(self) -> list[_DeviceVariable]:
        variables: list[_DeviceVariable] = []
        for key, setting in self.settings.items():
            parts = key.split(".", 2)
            if len(parts) < 2:
                continue
            variable: JsonDict = {"name": parts[1]}
            if len(parts) == 3:
                variable["instance"] = parts[2]
            mutability = (
                "WriteOnly" if setting.write_only else "ReadOnly" if setting.readonly else "ReadWrite"
            )
            variables.append(
                _DeviceVariable(
                    {"name": parts[0]},
                    variable,
                    _DATA_TYPES.get(setting.kind, "string"),
                    mutability,
                    setting.value,
                    key=key,
                )
            )

        def read_only(
            component: JsonDict, name: str, data_type: str, value: str, **extra: Any
        ) -> _DeviceVariable:
            return _DeviceVariable(component, {"name": name}, data_type, "ReadOnly", value, **extra)

        def availability(component: JsonDict, state: str) -> _DeviceVariable:
            return read_only(
                component, "AvailabilityState", "OptionList", state, values_list=_AVAILABILITY_STATES
            )

        station: JsonDict = {"name": "ChargingStation"}
        operative = any(c not in self.inoperative for c in self.connector_ids)
        variables += [
            availability(station, "Available" if operative else "Unavailable"),
            read_only(station, "Available", "boolean", "true"),
            read_only(station, "Model", "string", self.config.model),
            read_only(station, "VendorName", "string", self.config.vendor),
        ]
        max_power = float(self.config.power_w)
        for evse_id in self.connector_ids:
            state = self.connector_status.get(evse_id, "Available")
            evse: JsonDict = {"name": "EVSE", "evse": {"id": evse_id}}
            connector: JsonDict = {"name": "Connector", "evse": {"id": evse_id, "connectorId": 1}}
            power = str(self.config.power_w if evse_id in self._tx else 0)
            variables += [
                availability(evse, state),
                read_only(evse, "Available", "boolean", "true"),
                read_only(evse, "Power", "decimal", power, unit="W", max_limit=max_power),
                availability(connector, state),
                read_only(connector, "Available", "boolean", "true"),
                read_only(connector, "ConnectorType", "string", self.config.connector_type),
            ]
        return variables

    def _variable(self, item: JsonDict) -> tuple[_DeviceVariable | None, str, JsonDict]:
        """Look up the variable a Get/SetVariables item names.

        Returns:
            (the variable or None, the status if unknown: UnknownComponent / UnknownVariable, the result
            skeleton echoing component, variable and attributeType).
        """
        component, variable = item["component"], item["variable"]
        result: JsonDict = {"component": component, "variable": variable}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        unknown = "UnknownComponent"
        for candidate in self._device_variables():
            if candidate.is_component(component):
                unknown = "UnknownVariable"
                if candidate.is_variable(variable):
                    return candidate, unknown, result
        return None, unknown, result

    def _on_get_variables_201(self, payload: JsonDict) -> _Answer:
        results: list[JsonDict] = []
        for item in payload["getVariableData"]:
            found, unknown, result = self._variable(item)
            if found is None:
                result["attributeStatus"] = unknown
            elif item.get("attributeType", "Actual") != "Actual":
                result["attributeStatus"] = "NotSupportedAttributeType"
            elif found.mutability == "WriteOnly":
                result["attributeStatus"] = "Rejected"
            else:
                result["attributeStatus"] = "Accepted"
                result["attributeValue"] = found.value
            results.append(result)
        return {"getVariableResult": results}, None

    def _on_set_variables_201(self, payload: JsonDict) -> _Answer:
        results: list[JsonDict] = []
        changes: list[tuple[str, str]] = []
        for item in payload["setVariableData"]:
            found, unknown, result = self._variable(item)
            value = item["attributeValue"]
            setting = self.settings.get(found.key) if found is not None and found.key is not None else None
            if found is None:
                result["attributeStatus"] = unknown
            elif item.get("attributeType", "Actual") != "Actual":
                result["attributeStatus"] = "NotSupportedAttributeType"
            elif (
                setting is None
                or found.key is None
                or setting.readonly
                or not self._valid_value(setting, value)
            ):
                result["attributeStatus"] = "Rejected"
            else:
                result["attributeStatus"] = "Accepted"
                changes.append((found.key, value))
            results.append(result)

        def commit() -> FollowUp | None:
            follow_ups = [f for f in (self._apply_setting(k, v) for k, v in changes) if f is not None]
            if not follow_ups:
                return None

            async def run_all() -> None:
                for follow_up in follow_ups:
                    await follow_up()

            return run_all

        return {"setVariableResult": results}, commit

    def _on_get_base_report_201(self, payload: JsonDict) -> _Answer:
        """GetBaseReport: Accepted, then the report as a stream of NotifyReport messages."""
        if self._reporting:
            return {"status": "Rejected"}, None  # one report at a time
        base = payload["reportBase"]
        variables = self._device_variables()
        if base == "ConfigurationInventory":  # what the operator can set
            variables = [v for v in variables if v.mutability != "ReadOnly"]
        elif base == "SummaryInventory":  # availability and problems
            variables = [v for v in variables if v.variable["name"] == "AvailabilityState"]
        if not variables:
            return {"status": "EmptyResultSet"}, None
        report = [v.report() for v in variables]

        def commit() -> FollowUp:
            self._reporting = True
            return partial(self._send_report, payload["requestId"], report)

        return {"status": "Accepted"}, commit

    async def _send_report(self, request_id: int, report: list[JsonDict]) -> None:
        """Send `report` as NotifyReport messages of `report_chunk_size` entries: seqNo 0..n, the same
        requestId and generatedAt, tbc true on all but the last."""
        try:
            generated_at = isoformat_z(self._clock())
            size = self.config.report_chunk_size
            chunks = [report[i : i + size] for i in range(0, len(report), size)]
            for seq_no, chunk in enumerate(chunks):
                await self.call(
                    "NotifyReport",
                    {
                        "requestId": request_id,
                        "generatedAt": generated_at,
                        "seqNo": seq_no,
                        "tbc": seq_no < len(chunks) - 1,
                        "reportData": chunk,
                    },
                )
        finally:
            self._reporting = False

    def _on_unlock_201(self, payload: JsonDict) -> _Answer:
        if payload["evseId"] not in self.connector_ids or payload["connectorId"] != 1:
            return {"status": "UnknownConnector"}, None
        if payload["evseId"] in self._tx:
            return {"status": "OngoingAuthorizedTransaction"}, None
        return {"status": "UnlockFailed" if self.config.unlock_fails else "Unlocked"}, None

    def _on_reserve_now_201(self, payload: JsonDict) -> _Answer:
        evse_id = payload.get("evseId")
        if not (
            self._setting_true("ReservationCtrlr.Available")
            and self._setting_true("ReservationCtrlr.Enabled")
        ):
            return {"status": "Rejected"}, None
        if evse_id is None and not self._setting_true("ReservationCtrlr.NonEvseSpecific"):
            return {"status": "Rejected"}, None
        if evse_id is not None and evse_id not in self.connector_ids:
            return {"status": "Rejected"}, None
        connector_type = payload.get("connectorType")
        if connector_type not in (None, self.config.connector_type, "Unknown", "Undetermined"):
            return {"status": "Rejected"}, None  # no connector of that type here
        group = payload.get("groupIdToken")
        return self._answer_reserve(
            payload["id"],
            evse_id or 0,
            payload["expiryDateTime"],
            payload["idToken"]["idToken"],
            group["idToken"] if group is not None else None,
        )


def _consume(future: asyncio.Future[JsonDict]) -> None:
    """Mark an abandoned call's outcome as retrieved, so asyncio does not warn about it."""
    if not future.cancelled():
        future.exception()
