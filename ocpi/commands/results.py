"""What becomes of a command: the station's answer mapped to a CommandResultType (digest §12 "Commands"),
the CommandResponse and CommandResult objects, and posting the result to the partner."""

from __future__ import annotations

from typing import Any

import structlog

from csms.domain.commands import CommandResult, Outcome
from ocpi.client import PartnerUnreachable
from ocpi.context import OcpiContext

log = structlog.get_logger("ocpi.commands")

IDENTIFIER = "commands"
ROLE = "RECEIVER"

START_SESSION = "START_SESSION"
STOP_SESSION = "STOP_SESSION"
RESERVE_NOW = "RESERVE_NOW"
CANCEL_RESERVATION = "CANCEL_RESERVATION"
UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
COMMANDS = (START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR)

# OCPP 1.6 parentIdTag is CiString20; an OCPI group_id may have 36 characters. (A longer token uid is sent
# to a 1.6 station as its alias: csms.domain.id_token_aliases.)
OCPP16_ID_TAG_LENGTH = 20

RESULT_MARGIN = 5  # seconds added to [ocpp] call_timeout in CommandResponse.timeout

# The station's status word -> CommandResultType.
STATUS_RESULTS = {
    "Accepted": "ACCEPTED",
    "Unlocked": "ACCEPTED",
    "Rejected": "REJECTED",
    "Occupied": "EVSE_OCCUPIED",
    "Faulted": "EVSE_INOPERATIVE",
    "Unavailable": "EVSE_INOPERATIVE",
    "UnlockFailed": "FAILED",
    "NotSupported": "NOT_SUPPORTED",
}
# CALLERROR codes meaning "the station cannot do this".
UNSUPPORTED_ERRORS = frozenset({"NotImplemented", "NotSupported"})
# csms.domain.reservations ReservationError codes -> CommandResultType.
RESERVATION_RESULTS = {
    "evse_occupied": "EVSE_OCCUPIED",
    "evse_faulted": "EVSE_INOPERATIVE",
    "evse_unavailable": "EVSE_INOPERATIVE",
    "reservation_rejected": "REJECTED",
    "charge_point_offline": "FAILED",
    "station_timeout": "TIMEOUT",
    "call_error": "FAILED",
    "not_supported": "NOT_SUPPORTED",
    "reservation_not_active": "UNKNOWN_RESERVATION",
    "reservation_not_found": "UNKNOWN_RESERVATION",
    "connector_reserved": "REJECTED",
}
UNKNOWN_AT_STATION = "unknown_at_station"  # reason the reservation service gives a cancel answered Rejected
REPLACED = "replaced"  # reason of a reservation replaced by one on another station


def result_of(result: CommandResult, *, cancel: bool = False) -> tuple[str, str | None]:
    """(CommandResultType, message) for what a station did with an OCPP command.

    Accepted / Unlocked → ACCEPTED, Rejected → REJECTED (for CancelReservation → UNKNOWN_RESERVATION),
    Occupied → EVSE_OCCUPIED, Faulted / Unavailable → EVSE_INOPERATIVE, UnlockFailed → FAILED, NotSupported
    and CALLERROR NotImplemented / NotSupported → NOT_SUPPORTED, no answer in time → TIMEOUT, offline,
    disconnected or another CALLERROR → FAILED. Other status words are REJECTED.
    """
    if result.outcome is Outcome.ANSWERED:
        status = result.status or ""
        word = STATUS_RESULTS.get(status, "REJECTED")
        if cancel and status == "Rejected":
            word = "UNKNOWN_RESERVATION"
        return word, None if word == "ACCEPTED" else f"the charge point answered {status}"
    if result.outcome is Outcome.TIMEOUT:
        return "TIMEOUT", "the charge point did not answer in time"
    if result.outcome is Outcome.NOT_SUPPORTED or (
        result.outcome is Outcome.CALL_ERROR and result.error_code in UNSUPPORTED_ERRORS
    ):
        return "NOT_SUPPORTED", result.description or "the charge point does not support this command"
    if result.outcome is Outcome.CALL_ERROR:
        return "FAILED", f"the charge point answered CALLERROR {result.error_code}"
    if result.outcome is Outcome.OFFLINE:
        return "FAILED", "the charge point is offline"
    return "FAILED", "the charge point disconnected before answering"


def ocpp_token_type(ocpi_type: str) -> str:
    """The OCPP 2.0.1 IdTokenEnumType for an OCPI TokenType: an RFID card is ISO14443, app and ad-hoc
    tokens are vouched for by the CSMS (Central)."""
    return "ISO14443" if ocpi_type == "RFID" else "Central"


def command_response(result: str, timeout: int, message: str | None = None) -> dict[str, Any]:
    """The CommandResponse object (OCPI 2.2.1 Commands)."""
    body: dict[str, Any] = {"result": result, "timeout": timeout}
    if message:
        body["message"] = display_text(message)
    return body


def display_text(message: str) -> list[dict[str, str]]:
    """An OCPI DisplayText list (English) holding `message`, cut to the 512 characters OCPI allows."""
    return [{"language": "en", "text": message[:512]}]


async def post_result(
    ctx: OcpiContext,
    partner_id: int,
    response_url: str,
    result: str,
    message: str | None = None,
    *,
    correlation_id: str | None = None,
) -> None:
    """POST a CommandResult to the partner's response_url; a failure is logged, never retried (OCPI 2.2.1
    Commands: the result is sent once)."""
    partner = await ctx.store.get_partner(partner_id)
    if partner is None or ctx.client is None:
        log.warning("ocpi_command_result_not_sent", partner_id=partner_id, result=result)
        return
    body: dict[str, Any] = {"result": result}
    if message:
        body["message"] = display_text(message)
    try:
        response = await ctx.client.request(
            partner, "POST", response_url, body, correlation_id=correlation_id
        )
    except (PartnerUnreachable, ValueError) as exc:  # ValueError: no token B to call the partner with
        log.warning("ocpi_command_result_unreachable", partner_id=partner_id, error=str(exc))
        return
    if not response.success:
        log.warning(
            "ocpi_command_result_refused",
            partner_id=partner_id,
            http_status=response.http_status,
            status_code=response.status_code,
        )
