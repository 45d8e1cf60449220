"""OCPI 2.2.1 Commands, receiver interface (we are the CPO): eMSPs start, stop and reserve charging.

`POST /ocpi/2.2.1/commands/{command}` with command START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION or UNLOCK_CONNECTOR (OCPI 2.2.1 Commands). Each request goes through three steps:

1. The synchronous CommandResponse `{result, timeout, message?}`, once the body is valid (else 2001) and
   names what we have: an unknown (or unpublished) location is status 2003 with result REJECTED, an EVSE
   that is not in that location REJECTED, STOP_SESSION of a session that is not the partner's
   UNKNOWN_SESSION, an unknown command NOT_SUPPORTED. `timeout` is `[ocpp] call_timeout` (twice for
   RESERVE_NOW, which may need a ReserveNow and a CancelReservation) plus `RESULT_MARGIN` seconds.
2. Only after an ACCEPTED answer, in a background task tracked by the `CommandRunner` (the HTTP answer
   never waits on a station): the OCPP command through the domain — `sessions.start` / `sessions.stop`,
   `reservations.create` / `reservations.cancel`, `commands.send(UnlockConnector)`.
3. The CommandResult `{result, message?}` POSTed to the partner's `response_url` with its token (no
   retries: OCPI 2.2.1 Commands), mapped from the station's answer as the digest's table says
   (`result_of`, `RESERVATION_RESULTS`).

The command's token is not validated (OCPI 2.2.1 Commands: the eMSP vouches for it): while a
START_SESSION waits for its transaction, the runner answers Accepted for that token uid to the CSMS's
authorization (it is a `TokenAuthority`, consulted before the partner-token authority), so a station that
authorizes the remote start or the transaction does not refuse it. Only there: the authorization names the
station (and the EVSE where OCPP says it), and the token is vouched for at the command's charge point (and
EVSE, when the command named one), not at any other.

Sessions: a transaction that follows a START_SESSION gets the SessionLink `COMMAND` with the command's
CdrToken and authorization_reference (the runner subscribes to `TransactionStarted` at `Order.COMMAND`; the
domain's remote-start correlator says which remote start the transaction answers). An
accepted RESERVE_NOW gets the SessionLink `R<reservation id>` (the partner's `reservation_id` is the
reservation's `external_id`, owner `ocpi:<partner id>`; the same reservation_id again replaces it). When
such a reservation later ends because the operator cancelled it or it expired (or, 2.0.1, the station
removed it), CANCELED_RESERVATION is POSTed to the RESERVE_NOW response_url.

What is owed survives a restart: each accepted command stores a `CommandPromise` (partner, response_url,
deadline = now + the CommandResponse timeout) before ACCEPTED is answered, and each watched reservation one
with its reservation id. Whoever posts a result settles the promise first (`settle_command_promise`, once:
never posted twice). At start (`CommandRunner.recover`, from `ocpi.bridge`) the watched reservations are
watched again, and a command whose process died before its answer is answered TIMEOUT once its deadline
passed (unless the process running it, another worker or node, settles it first).
The reservation service tells no one when a reservation ends, so the runner checks the reservations it
watches every `[ocpp] reservation_check_interval` seconds.

The reservation is also a Session (OCPI 2.2.1 Sessions, "Reservation": RESERVATION, then ACTIVE when the
driver charges on it, or COMPLETED if unused): an accepted RESERVE_NOW PUTs it (status RESERVATION) to the
partner that made it. When a transaction uses the reservation (the domain's `reservation_for`: a START_SESSION
by the reserved token, or a local start with it), the runner gives the SessionLink `R<id>` the transaction, so
the transaction is pushed ACTIVE, stopped (STOP_SESSION `R<id>`) and CDR'd under that id. An unused
reservation is PATCHed to COMPLETED when it ends — cancelled by the partner, the operator or the station,
expired, or replaced by one on another station (`ocpi.push.push_reservation_session`).

Modules: `http` (the request: body declarations, checks, the synchronous CommandResponse), `runner` (the
OCPP side in the background and START_SESSION bookkeeping), `watcher` (reservations made by RESERVE_NOW,
until they end), `results` (station answers → CommandResult, and posting it).

Call `install(ctx)` at start-up and `await shutdown(ctx)` before closing the HTTP client session.
"""

from __future__ import annotations

from ocpi.commands.http import register
from ocpi.commands.results import IDENTIFIER, RESULT_MARGIN, ROLE
from ocpi.commands.runner import CommandRunner, install, owner_of, recover, shutdown

__all__ = [
    "IDENTIFIER",
    "RESULT_MARGIN",
    "ROLE",
    "CommandRunner",
    "install",
    "owner_of",
    "recover",
    "register",
    "shutdown",
]
