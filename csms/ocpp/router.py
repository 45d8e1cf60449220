"""The route table type and the one dispatch function both OCPP adapters use (style practice 3).

Each version's `routes.py` maps an action to its handler. `dispatch` checks the registration state,
validates the request against the official schema, runs the handler, and validates the answer before it
leaves, so handlers never see an invalid payload and a charge point never receives one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from csms.domain.core import Domain
from csms.domain.text import NUL_ESCAPE, contains_nul
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import CallReceived
from csms.ocpp.schemas import SchemaKind, has_schema, validate
from csms.ocpp.versions import OcppVersion

Payload = dict[str, Any]


@dataclass(slots=True)
class StationContext:
    """What a handler knows about the station whose message it handles."""

    charge_point_id: str
    version: OcppVersion
    domain: Domain
    log: Any  # structlog BoundLogger with charge_point_id and ocpp_version bound
    # True once a BootNotification was answered Accepted, in this connection or an earlier one.
    registered: bool = False


Handler = Callable[[StationContext, Payload], Awaitable[Payload]]


@dataclass(frozen=True, slots=True)
class Route:
    """One supported action: its handler, and whether it is allowed before registration."""

    action: str
    handler: Handler
    before_registration: bool = False


class HandlerError(Exception):
    """Raised by a handler for input the schema allows but the CSMS cannot take; becomes a CALLERROR."""

    def __init__(self, kind: ErrorKind, description: str) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a CALL: a payload for a CALLRESULT, or an error kind and text for a CALLERROR."""

    payload: Payload | None = None
    error: ErrorKind | None = None
    description: str = ""


def route_table(*routes: Route) -> Mapping[str, Route]:
    """Build a version's table; each action appears once."""
    table: dict[str, Route] = {}
    for route in routes:
        if route.action in table:
            raise ValueError(f"duplicate route {route.action}")
        table[route.action] = route
    return table


async def dispatch(
    ctx: StationContext, routes: Mapping[str, Route], call: CallReceived, frame: str | None = None
) -> Reply:
    """Handle one CALL from a station and return the reply to send.

    *frame*, the CALL's text as received, lets the NUL check below skip payloads that cannot hold one.

    Unknown action: NotImplemented when the version has no such message at all, NotSupported when it is
    an OCPP message we do not take from a station (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.3 error codes).
    Before registration only BootNotification is taken; anything else is a SecurityError (OCPP-J 1.6
    errata; OCPP 2.0.1 B02/B03: a Pending or Rejected station sends no other request).
    """
    route = routes.get(call.action)
    if route is None:
        if has_schema(ctx.version, call.action):
            return Reply(
                error=ErrorKind.NOT_SUPPORTED, description=f"{call.action} is not accepted by the CSMS"
            )
        return Reply(error=ErrorKind.NOT_IMPLEMENTED, description=f"unknown action {call.action}")
    if not ctx.registered and not route.before_registration:
        return Reply(
            error=ErrorKind.SECURITY,
            description=f"{call.action} before BootNotification was accepted",
        )
    violation = validate(ctx.version, call.action, SchemaKind.REQUEST, call.payload)
    if violation is not None:
        return Reply(error=violation.kind, description=violation.description)
    # A JSON text can hold U+0000 only as the escape "\u0000", so most frames skip the walk.
    if (frame is None or NUL_ESCAPE in frame) and contains_nul(call.payload):
        # PostgreSQL text cannot store U+0000: taking the CALL would answer what is never stored (ADR 0017).
        # PropertyConstraintViolation: "a field contains an invalid value" (OCPP-J 1.6 §4.2.3, 2.0.1 §4.3).
        return Reply(error=ErrorKind.PROPERTY, description="a string contains U+0000 (NUL)")
    try:
        result = await route.handler(ctx, call.payload)
    except HandlerError as exc:
        return Reply(error=exc.kind, description=exc.description)
    except Exception:
        ctx.log.exception("handler_failed", action=call.action, message_id=call.message_id)
        return Reply(error=ErrorKind.INTERNAL, description=f"{call.action} could not be processed")
    violation = validate(ctx.version, call.action, SchemaKind.RESPONSE, result)
    if violation is not None:
        # Our own bug: never send a charge point an answer that breaks the schema.
        ctx.log.error("response_schema_violation", action=call.action, violation=violation.description)
        return Reply(error=ErrorKind.INTERNAL, description=f"{call.action} response could not be built")
    return Reply(payload=result)


def bind_logger(charge_point_id: str, version: OcppVersion) -> Any:
    """A logger with the station's id and OCPP version bound, for every event of its connection."""
    return structlog.get_logger("csms.ocpp").bind(charge_point_id=charge_point_id, ocpp_version=version.value)
