"""What the charge point simulator raises: `SimulatorError` and its kinds (not connected, subprotocol
refused, connector reserved, a CALLERROR from the CSMS, a schema violation with `strict=True`)."""

from __future__ import annotations

from csms.ocpp.schemas import SchemaKind
from simulators.chargepoint.model import JsonDict


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
