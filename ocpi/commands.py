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
authorizes the remote start or the transaction does not refuse it.

Sessions: a transaction that follows a START_SESSION gets the SessionLink `COMMAND` with the command's
CdrToken and authorization_reference (the runner is a `TransactionListener`; it matches the transaction by
remote_start_id, or by station and token when the station reports it before its answer arrived). An
accepted RESERVE_NOW gets the SessionLink `R<reservation id>` (the partner's `reservation_id` is the
reservation's `external_id`, owner `ocpi:<partner id>`; the same reservation_id again replaces it). When
such a reservation later ends because the operator cancelled it or it expired (or, 2.0.1, the station
removed it), CANCELED_RESERVATION is POSTed to the RESERVE_NOW response_url. The SessionLink has no field
for that URL, so it is kept in memory: after a restart, reservations made before it end silently.
The reservation service tells no one when a reservation ends, so the runner checks the reservations it
watches every `[ocpp] reservation_check_interval` seconds.

The reservation is also a Session (OCPI 2.2.1 Sessions: RESERVATION, then ACTIVE or COMPLETED if unused;
here the charging is the transaction's own session, so the reservation's always ends COMPLETED): an accepted
RESERVE_NOW PUTs it (status RESERVATION) to the partner that made it, and it is PATCHed to COMPLETED when
the reservation ends — cancelled by the partner, the operator or the station, expired, replaced by one on
another station, or used (`ocpi.push.push_reservation_session`; as the CANCELED_RESERVATION result, only
for reservations watched since this process started).

Call `install(ctx)` at start-up and `await shutdown(ctx)` before closing the HTTP client session.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from csms.domain.commands import CommandResult, Outcome, UnlockConnector
from csms.domain.events import Order, TransactionStarted
from csms.domain.models import (
    AuthorizationResult,
    AuthorizationStatus,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.reservations import ReservationError
from ocpi import push
from ocpi.client import PartnerUnreachable
from ocpi.context import OcpiContext, context_of
from ocpi.models import EvseUid, Location, Partner, SessionLink
from ocpi.tokens import TOKEN_TYPES, Field, cdr_token, check_object
from ocpi.transport import (
    VERSION,
    OcpiError,
    Status,
    invalid_parameters,
    ok,
    parse_ocpi_datetime,
    partner_of,
    read_json,
)

log = structlog.get_logger("ocpi.commands")

IDENTIFIER = "commands"
ROLE = "RECEIVER"

START_SESSION = "START_SESSION"
STOP_SESSION = "STOP_SESSION"
RESERVE_NOW = "RESERVE_NOW"
CANCEL_RESERVATION = "CANCEL_RESERVATION"
UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
COMMANDS = (START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR)

RESULT_MARGIN = 5  # seconds added to [ocpp] call_timeout in CommandResponse.timeout

# OCPP 1.6 idTag / parentIdTag are CiString20; OCPI token uids may have 36 characters.
OCPP16_ID_TAG_LENGTH = 20

# -- request bodies (OCPI 2.2.1 Commands, "Object description") ----------------------------------------------

# The CdrToken part of a command's Token: what the Session and CDR will carry. The rest of the Token is not
# checked: the CPO must not validate a command's token (OCPI 2.2.1 Commands).
COMMAND_TOKEN_FIELDS = (
    Field("country_code", "cistring", 2, required=True),
    Field("party_id", "cistring", 3, required=True),
    Field("uid", "cistring", 36, required=True),
    Field("type", "string", required=True, enum=TOKEN_TYPES),
    Field("contract_id", "cistring", 36, required=True),
    Field("group_id", "cistring", 36),
)
_RESPONSE_URL = Field("response_url", "url", 255, required=True)
_TOKEN = Field("token", "object", required=True, fields=COMMAND_TOKEN_FIELDS)
_LOCATION_ID = Field("location_id", "cistring", 36, required=True)
_AUTH_REF = Field("authorization_reference", "cistring", 36)
BODY_FIELDS: dict[str, tuple[Field, ...]] = {
    START_SESSION: (
        _RESPONSE_URL,
        _TOKEN,
        _LOCATION_ID,
        Field("evse_uid", "cistring", 36),
        Field("connector_id", "cistring", 36),
        _AUTH_REF,
    ),
    STOP_SESSION: (_RESPONSE_URL, Field("session_id", "cistring", 36, required=True)),
    RESERVE_NOW: (
        _RESPONSE_URL,
        _TOKEN,
        Field("expiry_date", "datetime", 25, required=True),
        Field("reservation_id", "cistring", 36, required=True),
        _LOCATION_ID,
        Field("evse_uid", "cistring", 36),
        _AUTH_REF,
    ),
    CANCEL_RESERVATION: (_RESPONSE_URL, Field("reservation_id", "cistring", 36, required=True)),
    UNLOCK_CONNECTOR: (
        _RESPONSE_URL,
        _LOCATION_ID,
        Field("evse_uid", "cistring", 36, required=True),
        Field("connector_id", "cistring", 36, required=True),
    ),
}

# -- result mapping (digest §12 "Commands") ---------------------------------------------------------------

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
        body["message"] = [{"language": "en", "text": message[:512]}]
    return body


class _Answer(Exception):
    """A synchronous answer other than ACCEPTED (raised while checking a request)."""

    def __init__(self, result: str, message: str, status: Status = Status.SUCCESS) -> None:
        super().__init__(message)
        self.result = result
        self.message = message
        self.status = status


# -- the runner -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _PendingStart:
    """A START_SESSION whose transaction has not started yet; the domain's remote-start correlator gives
    that transaction `remote_start_id` (and says how long it is awaited)."""

    remote_start_id: int
    partner_id: int
    charge_point_id: str
    uid: str
    cdr_token: dict[str, Any]
    authorization_reference: str | None


@dataclass(slots=True)
class _Watched:
    """A reservation made through RESERVE_NOW: where to tell that it ended."""

    partner_id: int
    response_url: str
    external_id: str


Operation = Callable[[], Awaitable[tuple[str, str | None]]]


@dataclass(slots=True)
class _CommandTokens:
    """`TokenAuthority` that vouches for the tokens of pending START_SESSIONs (see the module docstring)."""

    runner: CommandRunner

    async def authorize(self, id_token: str) -> AuthorizationResult | None:
        if self.runner.vouches_for(id_token):
            return AuthorizationResult(AuthorizationStatus.ACCEPTED)
        return None


class CommandRunner:
    """Runs accepted commands in the background and keeps what they leave in memory: pending starts
    (until their transaction links up) and RESERVE_NOW response URLs (until the reservation ends).

    Args:
        ctx: the OCPI context.
    """

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx
        self._tasks: set[asyncio.Task[None]] = set()
        self._starts: dict[int, _PendingStart] = {}  # by remote_start_id
        self._watched: dict[int, _Watched] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False
        self.token_authority = _CommandTokens(self)

    # -- background tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run `coro` in a tracked task (cancelled by `close`)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def run(
        self,
        partner: Partner,
        command: str,
        response_url: str,
        operation: Operation,
        *,
        correlation_id: str | None = None,
    ) -> None:
        """Run `operation` (the OCPP side of an accepted command) in the background, then POST its
        CommandResult to `response_url`. An unexpected error in the operation is logged and answered
        FAILED."""

        async def go() -> None:
            try:
                result, message = await operation()
            except Exception:
                log.exception("ocpi_command_failed", command=command, partner_id=partner.id)
                result, message = "FAILED", "internal error"
            log.info("ocpi_command_result", command=command, partner_id=partner.id, result=result)
            await self.post_result(partner.id, response_url, result, message, correlation_id=correlation_id)

        self.spawn(go(), name=f"ocpi-{command.lower()}")

    async def post_result(
        self,
        partner_id: int,
        response_url: str,
        result: str,
        message: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> None:
        """POST a CommandResult to the partner's response_url; a failure is logged, never retried (OCPI
        2.2.1 Commands: the result is sent once)."""
        ctx = self._ctx
        partner = await ctx.store.get_partner(partner_id)
        if partner is None or ctx.client is None:
            log.warning("ocpi_command_result_not_sent", partner_id=partner_id, result=result)
            return
        body: dict[str, Any] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message[:512]}]
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

    async def close(self) -> None:
        """Cancel every background command and the reservation watcher, and wait for them to end."""
        self._closed = True
        tasks = list(self._tasks)
        if self._watcher is not None:
            tasks.append(self._watcher)
            self._watcher = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every background command has posted its result (tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- START_SESSION bookkeeping -----------------------------------------------------------------------

    def vouches_for(self, uid: str) -> bool:
        """Whether a START_SESSION with token `uid` is waiting for its transaction."""
        correlator = self._ctx.domain.remote_starts
        for rid, p in list(self._starts.items()):
            if not correlator.is_pending(p.charge_point_id, rid):
                del self._starts[rid]  # its window passed, or it was refused
        return any(p.uid == uid for p in self._starts.values())

    def _match(self, event: TransactionStarted) -> _PendingStart | None:
        # The domain's correlator has said which remote start the transaction answers.
        if event.remote_start_id is None:
            return None
        pending = self._starts.get(event.remote_start_id)
        if pending is None or pending.charge_point_id != event.transaction.charge_point_id:
            return None
        return pending

    async def _link_start(self, pending: _PendingStart, tx: Transaction) -> None:
        self._starts.pop(pending.remote_start_id, None)
        link = SessionLink(
            session_id=str(tx.id),
            partner_id=pending.partner_id,
            transaction_pk=tx.id,
            reservation_id=tx.reservation_id,
            auth_method="COMMAND",
            authorization_reference=pending.authorization_reference,
            cdr_token=pending.cdr_token,
            last_updated=self._ctx.clock(),
        )
        await self._ctx.store.save_session_link(link)
        log.info("ocpi_session_linked", transaction_pk=tx.id, partner_id=pending.partner_id)

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """Link a transaction that follows a START_SESSION to it (SessionLink COMMAND; runs before the
        partner-token authority, which then leaves the link alone: the command is the latest
        authorization)."""
        pending = self._match(event)
        if pending is not None:
            await self._link_start(pending, event.transaction)

    # -- RESERVE_NOW bookkeeping -------------------------------------------------------------------------

    def watch(self, reservation_id: int, watched: _Watched) -> list[int]:
        """Remember where to POST CANCELED_RESERVATION should reservation `reservation_id` end on our
        side; forget earlier reservations of the same partner reservation_id (replaced).

        Returns:
            The ids of the earlier reservations no longer watched.
        """
        dropped = []
        for rid, other in list(self._watched.items()):
            if (
                rid != reservation_id
                and other.partner_id == watched.partner_id
                and other.external_id == watched.external_id
            ):
                del self._watched[rid]
                dropped.append(rid)
        self._watched[reservation_id] = watched
        if self._watcher is None and not self._closed:
            self._watcher = asyncio.create_task(self._watch_loop(), name="ocpi-reservation-watch")
        return dropped

    def unwatch(self, reservation_id: int) -> _Watched | None:
        """Stop watching a reservation (the partner cancels it itself); returns what was watched."""
        return self._watched.pop(reservation_id, None)

    async def _watch_loop(self) -> None:
        interval = self._ctx.domain.config.ocpp.reservation_check_interval
        try:
            while self._watched:
                await asyncio.sleep(interval)
                try:
                    await self.check_reservations()
                except Exception:
                    log.exception("ocpi_reservation_watch_failed")
        finally:
            self._watcher = None

    async def check_reservations(self) -> None:
        """For each watched reservation that ended: PATCH its Session to COMPLETED and, when it expired or
        was cancelled (by the operator, or removed by the station), POST CANCELED_RESERVATION; then stop
        watching it."""
        store = self._ctx.domain.store
        for rid, watched in list(self._watched.items()):
            reservation = await store.get_reservation(rid)
            if reservation is not None and reservation.status is ReservationStatus.ACTIVE:
                continue
            if self._watched.get(rid) is not watched:
                continue  # changed while we were reading
            del self._watched[rid]
            if reservation is None:
                continue
            log.info("ocpi_reservation_ended", reservation_id=rid, status=reservation.status.value)
            self.spawn(self._reservation_ended(reservation, watched), name="ocpi-reservation-ended")

    async def _reservation_ended(self, reservation: Reservation, watched: _Watched) -> None:
        """The Session COMPLETED PATCH, then CANCELED_RESERVATION if it expired or was cancelled (not
        replaced by the partner's own RESERVE_NOW)."""
        await self.push_reservation(reservation.id, watched.partner_id)
        if (
            reservation.status in (ReservationStatus.EXPIRED, ReservationStatus.CANCELLED)
            and reservation.reason != REPLACED
        ):
            message = f"the reservation {reservation.status.value}"
            await self.post_result(watched.partner_id, watched.response_url, "CANCELED_RESERVATION", message)

    async def push_reservation(
        self, reservation_id: int, partner_id: int, *, only_ended: bool = False
    ) -> None:
        """Push the reservation's Session, as stored now, to the partner that made it
        (`ocpi.push.push_reservation_session`: PUT while active, COMPLETED PATCH once ended; `only_ended`:
        nothing while it is active). A failure is logged, never raised into the command."""
        try:
            reservation = await self._ctx.domain.store.get_reservation(reservation_id)
            if reservation is None or (only_ended and reservation.status is ReservationStatus.ACTIVE):
                return
            await push.push_reservation_session(self._ctx, reservation, partner_id)
        except Exception:
            log.exception("ocpi_reservation_session_push_failed", reservation_id=reservation_id)

    # -- the commands ------------------------------------------------------------------------------------

    def _pick_charge_point(self, location: Location) -> str:
        """A charge point of a location for a command that names no EVSE: the first connected one."""
        commands = self._ctx.domain.commands
        for charge_point_id in location.charge_point_ids:
            if commands.ocpp_version(charge_point_id) is not None:
                return charge_point_id
        return location.charge_point_ids[0]

    def _too_long_for_16(self, charge_point_id: str, uid: str) -> str | None:
        if (
            self._ctx.domain.commands.ocpp_version(charge_point_id) == "1.6"
            and len(uid) > OCPP16_ID_TAG_LENGTH
        ):
            return f"token uid {uid!r} is longer than an OCPP 1.6 idTag ({OCPP16_ID_TAG_LENGTH} characters)"
        return None

    def _group(self, charge_point_id: str, token: dict[str, Any]) -> str | None:
        group = token.get("group_id")
        if not isinstance(group, str) or not group:
            return None
        if (
            self._ctx.domain.commands.ocpp_version(charge_point_id) == "1.6"
            and len(group) > OCPP16_ID_TAG_LENGTH
        ):
            return None  # 1.6 parentIdTag cannot carry it
        return group

    async def start_session(
        self, partner: Partner, body: dict[str, Any], location: Location, evse: EvseUid | None
    ) -> tuple[str, str | None]:
        """START_SESSION: remote start on the EVSE (or the location's first connected charge point, the
        station choosing the EVSE); the transaction that follows is linked by `transaction_started`."""
        domain = self._ctx.domain
        token = body["token"]
        uid = token["uid"]
        charge_point_id = evse.charge_point_id if evse is not None else self._pick_charge_point(location)
        evse_id = (evse.evse_id or None) if evse is not None else None
        too_long = self._too_long_for_16(charge_point_id, uid)
        if too_long:
            return "REJECTED", too_long
        group = self._group(charge_point_id, token)
        try:
            await domain.reservations.check_start(charge_point_id, evse_id, uid, group)
        except ReservationError as exc:
            return RESERVATION_RESULTS.get(exc.code, "REJECTED"), exc.message
        pending = _PendingStart(
            remote_start_id=domain.remote_starts.new_id(),
            partner_id=partner.id,
            charge_point_id=charge_point_id,
            uid=uid,
            cdr_token=cdr_token(token),
            authorization_reference=body.get("authorization_reference"),
        )
        # Registered before the call: the station may report the transaction before its answer arrives.
        self._starts[pending.remote_start_id] = pending
        try:
            started = await domain.sessions.start(
                charge_point_id,
                uid,
                evse_id=evse_id,
                id_token_type=ocpp_token_type(token["type"]),
                group_id_token=group,
                remote_start_id=pending.remote_start_id,
            )
        except BaseException:
            self._starts.pop(pending.remote_start_id, None)
            raise
        if not started.result.accepted:
            self._starts.pop(pending.remote_start_id, None)
            return result_of(started.result)
        if started.transaction is not None and pending.remote_start_id in self._starts:
            await self._link_start(pending, started.transaction)
        return "ACCEPTED", None

    async def stop_session(self, tx: Transaction) -> tuple[str, str | None]:
        """STOP_SESSION: remote stop; the session completes when the station reports the stop."""
        try:
            result = await self._ctx.domain.sessions.stop(tx)
        except ValueError:
            return "REJECTED", "the session is already completed"
        return result_of(result)

    async def reserve_now(
        self,
        partner: Partner,
        body: dict[str, Any],
        location: Location,
        evse: EvseUid | None,
        expiry: datetime,
    ) -> tuple[str, str | None]:
        """RESERVE_NOW: ReserveNow through the reservation service (the same reservation_id again replaces
        the reservation), then the SessionLink `R<id>` and the watch for CANCELED_RESERVATION."""
        token = body["token"]
        uid = token["uid"]
        charge_point_id = evse.charge_point_id if evse is not None else self._pick_charge_point(location)
        evse_id = (evse.evse_id or None) if evse is not None else None
        too_long = self._too_long_for_16(charge_point_id, uid)
        if too_long:
            return "REJECTED", too_long
        external_id = body["reservation_id"]
        try:
            reservation = await self._ctx.domain.reservations.create(
                charge_point_id=charge_point_id,
                evse_id=evse_id,
                id_token=uid,
                expiry_date=expiry,
                id_token_type=ocpp_token_type(token["type"]),
                group_id_token=self._group(charge_point_id, token),
                owner=owner_of(partner),
                external_id=external_id,
            )
        except ReservationError as exc:
            return RESERVATION_RESULTS.get(exc.code, "FAILED"), exc.message
        except ValueError as exc:  # the expiry date passed meanwhile
            return "REJECTED", str(exc)
        link = SessionLink(
            session_id=f"R{reservation.id}",
            partner_id=partner.id,
            reservation_id=reservation.id,
            auth_method="COMMAND",
            authorization_reference=body.get("authorization_reference"),
            cdr_token=cdr_token(token),
            last_updated=self._ctx.clock(),
        )
        await self._ctx.store.save_session_link(link)
        replaced = self.watch(reservation.id, _Watched(partner.id, body["response_url"], external_id))
        await self.push_reservation(reservation.id, partner.id)
        for rid in replaced:  # replaced by this one (on another station): those sessions are over
            await self.push_reservation(rid, partner.id, only_ended=True)
        return "ACCEPTED", None

    async def cancel_reservation(self, partner: Partner, external_id: str) -> tuple[str, str | None]:
        """CANCEL_RESERVATION: find the partner's reservation by its reservation_id and cancel it at the
        station. Unknown, already ended, or unknown to the station → UNKNOWN_RESERVATION."""
        domain = self._ctx.domain
        reservation = await domain.store.find_reservation_by_external_id(
            owner_of(partner), external_id
        )
        if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
            return "UNKNOWN_RESERVATION", f"no active reservation {external_id}"
        watched = self.unwatch(reservation.id)  # the partner asked: no CANCELED_RESERVATION afterwards
        try:
            cancelled = await domain.reservations.cancel(reservation.id)
        except ReservationError as exc:
            if watched is not None and exc.code not in ("reservation_not_found", "reservation_not_active"):
                self.watch(reservation.id, watched)  # still active
            elif watched is not None:  # it ended meanwhile: the watcher no longer sees it
                await self.push_reservation(reservation.id, partner.id, only_ended=True)
            return RESERVATION_RESULTS.get(exc.code, "FAILED"), exc.message
        await self.push_reservation(reservation.id, partner.id, only_ended=True)  # COMPLETED
        if cancelled.status is not ReservationStatus.CANCELLED:
            return "UNKNOWN_RESERVATION", f"the reservation is {cancelled.status.value}"
        if cancelled.reason == UNKNOWN_AT_STATION:
            return "UNKNOWN_RESERVATION", "the charge point did not know the reservation"
        return "ACCEPTED", None

    async def unlock_connector(self, evse: EvseUid, connector_id: int) -> tuple[str, str | None]:
        """UNLOCK_CONNECTOR: UnlockConnector on the EVSE's connector (OCPP 1.6: connector 1 of EVSE N is
        connectorId N)."""
        commands = self._ctx.domain.commands
        if commands.ocpp_version(evse.charge_point_id) == "1.6":
            connector_id = 1
        result = await commands.send(evse.charge_point_id, UnlockConnector(evse.evse_id, connector_id))
        return result_of(result)


def owner_of(partner: Partner) -> str:
    """The reservation `owner` of a partner's reservations (their reservation_id is the `external_id`)."""
    return f"ocpi:{partner.id}"


def install(ctx: OcpiContext) -> CommandRunner:
    """Create the CommandRunner once per context and plug it into the domain: first among the token
    authorities (vouching for START_SESSION tokens) and first among the subscribers to transaction starts
    (`Order.COMMAND`: the SessionLink exists before a session push reads it). Calling it again returns the
    installed runner."""
    existing = ctx.command_runner
    if isinstance(existing, CommandRunner):
        return existing
    runner = CommandRunner(ctx)
    ctx.command_runner = runner
    ctx.domain.authorization.add_authority(runner.token_authority, order=Order.COMMAND)
    ctx.domain.events.subscribe(TransactionStarted, runner.on_transaction_started, order=Order.COMMAND)
    return runner


async def shutdown(ctx: OcpiContext) -> None:
    """Stop the runner's background work (commands still running get no CommandResult)."""
    runner = ctx.command_runner
    if isinstance(runner, CommandRunner):
        await runner.close()


# -- HTTP ------------------------------------------------------------------------------------------------


def _timeout(ctx: OcpiContext, command: str) -> int:
    call = ctx.domain.config.ocpp.call_timeout
    calls = 2 if command == RESERVE_NOW else 1
    return math.ceil(call * calls) + RESULT_MARGIN


async def _location(ctx: OcpiContext, location_id: str) -> Location:
    location = await ctx.store.get_location(location_id)
    if location is None or not location.publish:
        raise _Answer("REJECTED", f"unknown location {location_id}", Status.UNKNOWN_LOCATION)
    if not location.charge_point_ids:
        raise _Answer("REJECTED", f"location {location_id} has no charge points")
    return location


async def _evse(ctx: OcpiContext, location: Location, evse_uid: str | None) -> EvseUid | None:
    if evse_uid is None:
        return None
    evse = await ctx.store.find_evse(evse_uid)
    if evse is None or evse.charge_point_id not in location.charge_point_ids:
        raise _Answer("REJECTED", f"unknown EVSE {evse_uid} at location {location.id}")
    return evse


async def _session_of(ctx: OcpiContext, partner: Partner, session_id: str) -> Transaction:
    """The partner's transaction called `session_id` (str(transaction id)), or UNKNOWN_SESSION."""
    unknown = _Answer("UNKNOWN_SESSION", f"unknown session {session_id}")
    if not session_id.isascii() or not session_id.isdigit() or len(session_id) > 18:
        raise unknown
    tx = await ctx.domain.store.get_transaction(int(session_id))
    if tx is None:
        raise unknown
    link = await ctx.store.get_session_link(str(tx.id))
    if link is not None:
        owner = link.partner_id
    else:
        token = await ctx.store.find_partner_token(tx.id_token) if tx.id_token else None
        owner = token.partner_id if token is not None else None
    if owner != partner.id:
        raise unknown  # another partner's (or no partner's) session is unknown to this one
    if tx.status is TransactionStatus.COMPLETED:
        raise _Answer("REJECTED", f"session {session_id} is already completed")
    return tx


def _connector_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**31:
        raise _Answer("REJECTED", f"unknown connector {text}")
    return int(text)


async def handle_command(request: web.Request) -> web.Response:
    """`POST commands/{command}`: answer the CommandResponse, then run the command in the background and
    POST its CommandResult to `response_url` (see the module docstring).

    Errors: 2001 (HTTP 200) for an invalid body; 2003 with result REJECTED for an unknown location.
    """
    ctx = context_of(request)
    partner = partner_of(request)
    runner = install(ctx)
    command = request.match_info["command"]
    timeout = _timeout(ctx, command)
    if command not in COMMANDS:
        return ok(command_response("NOT_SUPPORTED", timeout, f"unknown command {command}"))
    body = await read_json(request)
    check_object(body, BODY_FIELDS[command], what=command)
    response_url: str = body["response_url"]
    try:
        operation = await _plan(ctx, runner, partner, command, body)
    except _Answer as answer:
        log.info("ocpi_command_refused", command=command, partner_id=partner.id, result=answer.result)
        data = command_response(answer.result, timeout, answer.message)
        if answer.status is not Status.SUCCESS:
            raise OcpiError(200, answer.status, answer.message, data=data) from None
        return ok(data)
    runner.run(
        partner,
        command,
        response_url,
        operation,
        correlation_id=request.headers.get("X-Correlation-ID"),
    )
    log.info("ocpi_command_accepted", command=command, partner_id=partner.id)
    return ok(command_response("ACCEPTED", timeout))


async def _plan(
    ctx: OcpiContext, runner: CommandRunner, partner: Partner, command: str, body: dict[str, Any]
) -> Operation:
    """Check what the command names (raising `_Answer` for a synchronous refusal) and return the
    operation to run once ACCEPTED is answered. Reads stores only; never the OCPP side."""
    if command == START_SESSION:
        if body.get("connector_id") is not None and body.get("evse_uid") is None:
            raise invalid_parameters("START_SESSION: connector_id needs evse_uid")
        location = await _location(ctx, body["location_id"])
        evse = await _evse(ctx, location, body.get("evse_uid"))
        return lambda: runner.start_session(partner, body, location, evse)
    if command == STOP_SESSION:
        tx = await _session_of(ctx, partner, body["session_id"])
        return lambda: runner.stop_session(tx)
    if command == RESERVE_NOW:
        expiry = parse_ocpi_datetime(body["expiry_date"])
        if expiry <= ctx.clock():
            raise _Answer("REJECTED", "expiry_date is not in the future")
        location = await _location(ctx, body["location_id"])
        evse = await _evse(ctx, location, body.get("evse_uid"))
        return lambda: runner.reserve_now(partner, body, location, evse, expiry)
    if command == CANCEL_RESERVATION:
        return lambda: runner.cancel_reservation(partner, body["reservation_id"])
    location = await _location(ctx, body["location_id"])
    evse = await _evse(ctx, location, body["evse_uid"])
    assert evse is not None  # evse_uid is required for UNLOCK_CONNECTOR
    connector_id = _connector_number(body["connector_id"])
    return lambda: runner.unlock_connector(evse, connector_id)


def register(app: web.Application) -> None:
    """Add the Commands receiver route below `/2.2.1/commands` of the OCPI sub-application."""
    app.router.add_post(f"/{VERSION}/{IDENTIFIER}/{{command}}", handle_command)
