"""Turning what a station did with a command into HTTP: the answer, or the API error that explains why not.

One table for every command endpoint (and the reservation and session endpoints built on commands):

| what happened                                | HTTP | code                   |
|----------------------------------------------|------|------------------------|
| the station answered (any status word)       | 200  | (the command result)   |
| no live connection to the charge point       | 409  | `charge_point_offline` |
| the command has no equivalent in its version | 409  | `not_supported`        |
| no answer within `[ocpp] call_timeout`, or   | 504  | `station_timeout`      |
| the socket closed while waiting              |      |                        |
| the station answered with a CALLERROR        | 502  | `station_error`        |

Reservation failures (`ReservationError`) map the same way, plus the station's refusals (Occupied,
Faulted, Unavailable, Rejected) and reservation states, which are all 409s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.api.errors import ApiError
from csms.api.responses import json_response
from csms.api.serialize import JsonObject, command_json
from csms.domain.commands import CommandResult, Outcome
from csms.domain.reservations import ReservationError


def command_failure(result: CommandResult, charge_point_id: str) -> ApiError | None:
    """The API error for a command the station did not answer, or None when it answered.

    Details: `outcome` always; `error_code` and `description` for a CALLERROR.
    """
    outcome = result.outcome
    if outcome is Outcome.ANSWERED:
        return None
    details: dict[str, Any] = {"outcome": outcome.value}
    if outcome is Outcome.OFFLINE:
        message = f"charge point {charge_point_id!r} is not connected"
        return ApiError(409, "charge_point_offline", message, details)
    if outcome is Outcome.NOT_SUPPORTED:
        details["description"] = result.description
        message = f"charge point {charge_point_id!r} does not support this command"
        if result.description:
            message += f": {result.description}"
        return ApiError(409, "not_supported", message, details)
    if outcome is Outcome.CALL_ERROR:
        details.update(error_code=result.error_code, description=result.description)
        return ApiError(
            502,
            "station_error",
            f"charge point {charge_point_id!r} answered with CALLERROR {result.error_code}",
            details,
        )
    # TIMEOUT or DISCONNECTED: either way the station's answer never came.
    what = "disconnected before answering" if outcome is Outcome.DISCONNECTED else "did not answer in time"
    return ApiError(504, "station_timeout", f"charge point {charge_point_id!r} {what}", details)


def command_response(
    result: CommandResult, charge_point_id: str, *, status: int = 200, extra: JsonObject | None = None
) -> web.Response:
    """`{"command": {...}}` (plus `extra` keys) when the station answered, whatever it said.

    Raises:
        ApiError: see `command_failure`.
    """
    error = command_failure(result, charge_point_id)
    if error is not None:
        raise error
    return json_response({"command": command_json(result), **(extra or {})}, status=status)


def command_rejected(result: CommandResult, charge_point_id: str, **details: Any) -> ApiError:
    """409 `command_rejected`: the station answered, but not with an accepting status; the result is in
    `details.command`."""
    return ApiError(
        409,
        "command_rejected",
        f"charge point {charge_point_id!r} answered {result.status}",
        {"command": command_json(result), **details},
    )


# ReservationError.code -> (HTTP status, API error code). The API keeps one code per meaning across
# endpoints: a CALLERROR is `station_error` and an unknown resource `not_found` everywhere.
_RESERVATION_ERRORS: dict[str, tuple[int, str]] = {
    "charge_point_offline": (409, "charge_point_offline"),
    "station_timeout": (504, "station_timeout"),
    "evse_occupied": (409, "evse_occupied"),
    "evse_faulted": (409, "evse_faulted"),
    "evse_unavailable": (409, "evse_unavailable"),
    "reservation_rejected": (409, "reservation_rejected"),
    "call_error": (502, "station_error"),
    "not_supported": (409, "not_supported"),
    "reservation_not_active": (409, "reservation_not_active"),
    "reservation_not_found": (404, "not_found"),
    "connector_reserved": (409, "connector_reserved"),
}


def reservation_failure(exc: ReservationError) -> ApiError:
    """The API error for a failed reservation operation.

    Details: `reservation_id` and `reservation_status` when a reservation record exists, `station_status`
    (the station's own word) when it answered this request, and `error_code`/`description` for a CALLERROR.
    """
    status, code = _RESERVATION_ERRORS.get(exc.code, (409, exc.code))
    details: dict[str, Any] = {}
    if exc.reservation is not None:
        details["reservation_id"] = exc.reservation.id
        details["reservation_status"] = str(exc.reservation.status)
    # Only what the station said to this request: a stored `station_status` may be an older answer.
    if exc.result is not None and exc.result.status is not None:
        details["station_status"] = exc.result.status
    if exc.result is not None and exc.result.outcome is Outcome.CALL_ERROR:
        details.update(error_code=exc.result.error_code, description=exc.result.description)
    return ApiError(status, code, exc.message, details or None)
