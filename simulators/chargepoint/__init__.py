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

from simulators.chargepoint.errors import (
    CallError,
    ConnectorReservedError,
    NotConnectedError,
    SchemaViolationError,
    SimulatorError,
    SubprotocolRefused,
)
from simulators.chargepoint.model import JsonDict, Reservation, Setting, SimulatorConfig, parse_version
from simulators.chargepoint.v16 import V16Behaviour
from simulators.chargepoint.v201 import V201Behaviour


class ChargePointSimulator(V16Behaviour, V201Behaviour):
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
        costs_shown: 2.0.1 running / final costs the CSMS sent (with `tariff_cost_currency`), as
            (action, transactionId, totalCost): "TransactionEvent" for a response's totalCost,
            "CostUpdated" for a CostUpdated CALL, in order of arrival.
    """


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
