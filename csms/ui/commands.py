"""`POST /ui/charge-points/{charge_point_id}/commands/{command}`: the station page's command buttons.

Each command goes through the same domain call as its REST operation (`Domain.commands`,
`Domain.sessions`, `Domain.reservations`), scoped to the signed-in organization and refused to viewers. The
answer is JSON for the page to show: `{"ok", "command", "status", "message", ...}`; 200 when the station
answered (whatever it said), 4xx with `code` when the request or the station's state did not allow it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web

from csms.domain.commands import (
    ChangeAvailability,
    CommandResult,
    Outcome,
    Reset,
    ResetKind,
    TriggerMessage,
    UnlockConnector,
)
from csms.domain.core import Domain
from csms.domain.models import Reservation, TransactionStatus
from csms.domain.reservations import ReservationError
from csms.ui.signin import UiPrincipal

Form = Mapping[str, str]
Answer = tuple[int, dict[str, Any]]
RESERVATION_MINUTES = 30  # default reservation length when the form leaves it empty
TRIGGERS = frozenset(
    {"BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent"}
)


class UiCommandError(Exception):
    """A command the page asked for could not be sent; `status` and `code` are the answer's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _int(form: Form, name: str, default: int | None = None) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UiCommandError(400, "invalid_request", f"{name} must be a whole number") from None
    if value < 0:
        raise UiCommandError(400, "invalid_request", f"{name} must not be negative")
    return value


def _required(form: Form, name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise UiCommandError(400, "invalid_request", f"{name} is required")
    return value


def result_answer(command: str, result: CommandResult, **extra: Any) -> Answer:
    """The page's answer for a station's result (the same outcomes the REST API distinguishes)."""
    if result.outcome is Outcome.ANSWERED:
        message = f"{command}: station answered {result.status}"
        body = {"ok": result.accepted, "command": command, "status": result.status, "message": message}
        return 200, {**body, **extra}
    message = f"{command}: {result.outcome.value}"
    if result.error_code:
        message += f" ({result.error_code} {result.description})".rstrip()
    status = 504 if result.outcome is Outcome.TIMEOUT else 409
    return status, {"ok": False, "command": command, "code": result.outcome.value, "message": message}


async def _remote_start(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    id_tag = _required(form, "id_tag")
    evse_id = _int(form, "evse_id") or None
    token = await domain.store.get_id_token(id_tag, org_id=org_id)
    # As `POST /sessions`: the registered token's type, else Central (the CSMS vouches for it).
    id_token_type = token.type if token is not None else "Central"
    try:
        await domain.reservations.check_start(cp, evse_id, id_tag, None)
    except ReservationError as exc:
        raise UiCommandError(409, exc.code, exc.message) from None
    started = await domain.sessions.start(cp, id_tag, evse_id=evse_id, id_token_type=id_token_type)
    return result_answer("remote-start", started.result, remote_start_id=started.remote_start_id)


async def _remote_stop(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    session_id = _int(form, "session_id")
    if session_id is None:
        active = await domain.store.list_active_transactions(cp)
        if not active:
            raise UiCommandError(409, "no_active_session", f"{cp} has no active session")
        tx = active[-1]
    else:
        found = await domain.store.get_transaction(session_id, org_id=org_id)
        if found is None or found.charge_point_id != cp:
            raise UiCommandError(404, "not_found", f"session {session_id} not found")
        tx = found
    if tx.status is TransactionStatus.COMPLETED:
        raise UiCommandError(409, "session_completed", f"session {tx.id} is completed")
    try:
        result = await domain.sessions.stop(tx)
    except ValueError:
        raise UiCommandError(409, "session_completed", f"session {tx.id} is completed") from None
    return result_answer("remote-stop", result, session_id=tx.id)


async def _reset(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    try:
        kind = ResetKind(form.get("type", "soft") or "soft")
    except ValueError:
        raise UiCommandError(400, "invalid_request", "type must be soft or hard") from None
    return result_answer("reset", await domain.commands.send(cp, Reset(kind, None)))


async def _unlock(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    evse_id = _int(form, "evse_id", 1) or 1
    connector_id = _int(form, "connector_id", 1) or 1
    return result_answer("unlock", await domain.commands.send(cp, UnlockConnector(evse_id, connector_id)))


async def _availability(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    operative = form.get("operative", "true") != "false"
    evse_id = _int(form, "evse_id", 0) or 0
    command = ChangeAvailability(operative, evse_id, None)
    return result_answer("availability", await domain.commands.send(cp, command))


async def _trigger(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    message = form.get("message", "Heartbeat") or "Heartbeat"
    if message not in TRIGGERS:
        raise UiCommandError(400, "invalid_request", f"message must be one of {sorted(TRIGGERS)}")
    return result_answer("trigger", await domain.commands.send(cp, TriggerMessage(message, None, None)))


async def _reserve(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    id_tag = _required(form, "id_tag")
    evse_id = _int(form, "evse_id") or None
    minutes = _int(form, "minutes", RESERVATION_MINUTES) or RESERVATION_MINUTES
    try:
        reservation = await domain.reservations.create(
            charge_point_id=cp,
            evse_id=evse_id,
            id_token=id_tag,
            expiry_date=domain.clock() + timedelta(minutes=minutes),
        )
    except ReservationError as exc:
        raise UiCommandError(409, exc.code, exc.message) from None
    message = f"reserve: reservation {reservation.id} {reservation.status}"
    return 200, {"ok": True, "command": "reserve", "status": reservation.station_status,
                 "message": message, "reservation_id": reservation.id}  # fmt: skip


async def _reservation_of(domain: Domain, org_id: str, cp: str, form: Form) -> Reservation:
    """The form's `reservation_id`, if it is a reservation of that station of the caller's organization.

    Raises:
        UiCommandError: 400 without a reservation id, 404 for anyone else's or an unknown one.
    """
    reservation_id = _int(form, "reservation_id")
    if reservation_id is None:
        raise UiCommandError(400, "invalid_request", "reservation_id is required")
    found = await domain.store.get_reservation(reservation_id, org_id=org_id)
    if found is None or found.charge_point_id != cp:
        raise UiCommandError(404, "not_found", f"reservation {reservation_id} not found")
    return found


async def _cancel_reservation(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    found = await _reservation_of(domain, org_id, cp, form)
    try:
        cancelled = await domain.reservations.cancel(found.id)
    except ReservationError as exc:
        raise UiCommandError(409, exc.code, exc.message) from None
    message = f"cancel-reservation: reservation {cancelled.id} {cancelled.status}"
    return 200, {"ok": True, "command": "cancel-reservation", "status": str(cancelled.status),
                 "message": message, "reservation_id": cancelled.id}  # fmt: skip


async def _change_reservation(domain: Domain, org_id: str, cp: str, form: Form) -> Answer:
    # The reservations page's edit: a new id token and/or a new length from now; ReserveNow again with
    # the same id (`ReservationService.change`).
    found = await _reservation_of(domain, org_id, cp, form)
    id_tag = form.get("id_tag", "").strip() or None
    minutes = _int(form, "minutes")
    expiry = None if not minutes else domain.clock() + timedelta(minutes=minutes)
    try:
        changed = await domain.reservations.change(found.id, id_token=id_tag, expiry_date=expiry)
    except ReservationError as exc:
        raise UiCommandError(409, exc.code, exc.message) from None
    message = f"change-reservation: reservation {changed.id} {changed.status} until {changed.expiry_date}"
    return 200, {"ok": True, "command": "change-reservation", "status": changed.station_status,
                 "message": message, "reservation_id": changed.id}  # fmt: skip


CommandHandler = Callable[[Domain, str, str, Form], Awaitable[Answer]]

# The station page's `data-command` words (stable hooks, issue 15) and what each does.
COMMANDS: Mapping[str, CommandHandler] = {
    "remote-start": _remote_start,
    "remote-stop": _remote_stop,
    "reset": _reset,
    "unlock": _unlock,
    "availability": _availability,
    "trigger": _trigger,
    "reserve": _reserve,
    "cancel-reservation": _cancel_reservation,
    "change-reservation": _change_reservation,  # the reservations page's edit form
}


async def run_command(domain: Domain, principal: UiPrincipal, cp: str, command: str, form: Form) -> Answer:
    """Run one station-page command for `principal`; returns the HTTP status and the JSON answer.

    403 `forbidden` for a viewer, 404 for an unknown command or another organization's station.
    """
    if not principal.may_command:
        return 403, {"ok": False, "code": "forbidden", "message": "viewers may not send commands"}
    handler = COMMANDS.get(command)
    if handler is None or await domain.store.get_charge_point(cp, org_id=principal.org_id) is None:
        return 404, {"ok": False, "code": "not_found", "message": f"no {command!r} for {cp!r}"}
    try:
        return await handler(domain, principal.org_id, cp, form)
    except UiCommandError as exc:
        return exc.status, {"ok": False, "command": command, "code": exc.code, "message": exc.message}


def json_answer(answer: Answer) -> web.Response:
    """The answer as an aiohttp JSON response."""
    status, body = answer
    return web.json_response(body, status=status)
