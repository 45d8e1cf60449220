"""Reservations as a first-class resource: created only when the station accepts, expired by the CSMS.

`ReservationService` is what the REST API and the OCPI bridge call. It allocates the reservation id (the
store's integer key, sent as ReserveNow reservationId / id), sends ReserveNow / CancelReservation through
the `CommandService`, tracks expiry itself (a background task started with `start`), applies 2.0.1
ReservationStatusUpdate, and, as a `TransactionListener`, marks a reservation `used` when a transaction
starts with its id (1.6 StartTransaction.reservationId, 2.0.1 TransactionEvent.reservationId).

Every reservation row ends `active`, `rejected` or `failed` once `create` returns or raises; from `active`
it moves on to `used`, `expired` or `cancelled` (ocpp.md §5).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from csms.domain.clock import Clock, to_utc
from csms.domain.commands import CancelReservation, CommandResult, CommandService, Outcome, ReserveNow
from csms.domain.events import EventBus, ReservationChanged
from csms.domain.models import Reservation, ReservationStatus, Transaction
from csms.domain.ports import ReservationStore

log = structlog.get_logger("csms.reservations")


def _log_for(charge_point_id: str, reservation_id: int | None) -> FilteringBoundLogger:
    """The logger bound to a reservation and its station, which every reservation event carries."""
    bound: FilteringBoundLogger = log.bind(charge_point_id=charge_point_id, reservation_id=reservation_id)
    return bound


# Error codes of ReservationError; stable: the REST API maps them to HTTP statuses.
CHARGE_POINT_OFFLINE = "charge_point_offline"
STATION_TIMEOUT = "station_timeout"
EVSE_OCCUPIED = "evse_occupied"
EVSE_FAULTED = "evse_faulted"
EVSE_UNAVAILABLE = "evse_unavailable"
RESERVATION_REJECTED = "reservation_rejected"
CALL_ERROR = "call_error"
NOT_SUPPORTED = "not_supported"
RESERVATION_NOT_ACTIVE = "reservation_not_active"
RESERVATION_NOT_FOUND = "reservation_not_found"
CONNECTOR_RESERVED = "connector_reserved"

ERROR_CODES = frozenset(
    {
        CHARGE_POINT_OFFLINE,
        STATION_TIMEOUT,
        EVSE_OCCUPIED,
        EVSE_FAULTED,
        EVSE_UNAVAILABLE,
        RESERVATION_REJECTED,
        CALL_ERROR,
        NOT_SUPPORTED,
        RESERVATION_NOT_ACTIVE,
        RESERVATION_NOT_FOUND,
        CONNECTOR_RESERVED,
    }
)

# ReserveNow answers other than Accepted (same words in 1.6 and 2.0.1) and what they mean for the caller.
_REFUSALS = {
    "Occupied": (EVSE_OCCUPIED, "the EVSE is occupied or already reserved"),
    "Faulted": (EVSE_FAULTED, "the EVSE is faulted"),
    "Unavailable": (EVSE_UNAVAILABLE, "the EVSE is unavailable"),
    "Rejected": (RESERVATION_REJECTED, "the station does not take this reservation"),
}
# CALLERROR codes meaning "this station cannot do reservations" (1.6 NotSupported, both NotImplemented).
_UNSUPPORTED_ERRORS = frozenset({"NotImplemented", "NotSupported"})

# 2.0.1 ReservationStatusUpdate reservationUpdateStatus -> (new status, reason).
_STATION_UPDATES = {
    "Expired": (ReservationStatus.EXPIRED, "expired_at_station"),
    "Removed": (ReservationStatus.CANCELLED, "removed_by_station"),
}

PENDING = "pending"  # reason of a row whose ReserveNow is still on its way (status failed meanwhile)


class ReservationError(Exception):
    """A reservation could not be made, cancelled or honoured; `code` is one of `ERROR_CODES`.

    Attributes:
        code: stable machine-readable code (e.g. "evse_occupied", "station_timeout").
        message: human-readable explanation.
        result: the station's answer (or the command outcome) when a command was sent.
        reservation: the reservation concerned, as stored after the failure (e.g. `rejected` with the
            station's answer in `station_status`), when there is one.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        result: CommandResult | None = None,
        reservation: Reservation | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.result = result
        self.reservation = reservation


def _failure(charge_point_id: str, result: CommandResult) -> tuple[str, str]:
    """(code, message) for a command that got no CALLRESULT (any outcome but ANSWERED)."""
    if result.outcome is Outcome.OFFLINE:
        return CHARGE_POINT_OFFLINE, f"charge point {charge_point_id} is not connected"
    if result.outcome in (Outcome.TIMEOUT, Outcome.DISCONNECTED):
        return STATION_TIMEOUT, f"charge point {charge_point_id} did not answer in time"
    if result.outcome is Outcome.CALL_ERROR and result.error_code not in _UNSUPPORTED_ERRORS:
        detail = f": {result.description}" if result.description else ""
        return CALL_ERROR, f"charge point {charge_point_id} answered CALLERROR {result.error_code}{detail}"
    return NOT_SUPPORTED, f"charge point {charge_point_id} does not support reservations"


def _refusal(charge_point_id: str, result: CommandResult) -> tuple[str, str]:
    """(code, message) for a ReserveNow that was not accepted."""
    if result.outcome is not Outcome.ANSWERED:
        return _failure(charge_point_id, result)
    code, why = _REFUSALS.get(result.status or "", _REFUSALS["Rejected"])
    return code, f"charge point {charge_point_id} answered {result.status}: {why}"


def _answered(result: CommandResult, status: str) -> bool:
    return result.outcome is Outcome.ANSWERED and result.status == status


def _holds(reservation: Reservation, id_token: str, group_id_token: str | None) -> bool:
    """Whether the token (or its group) may use the reservation: the reservation's token or group equals
    the token or its group (1.6: idTag or parentIdTag matches; 2.0.1 idToken / groupIdToken)."""
    mine = {reservation.id_token, reservation.group_id_token} - {None}
    theirs = {id_token, group_id_token} - {None}
    return bool(mine & theirs)


class ReservationService:
    """Creates, cancels, expires and uses reservations; also a `TransactionListener`.

    Args:
        store: where reservations live (the store allocates ids).
        commands: sends ReserveNow / CancelReservation to stations.
        clock: the time that decides expiry.
        check_interval: seconds between expiry checks once `start` ran (`[ocpp] reservation_check_interval`).
        group_of: looks up an id token's group (1.6 parentIdTag) when a transaction or a remote start has
            to prove it may use a reservation made for the group (`AuthorizationService.group_of`: stored
            tokens, then roaming partners' authorities); without it only the ids given are compared.
    """

    def __init__(
        self,
        store: ReservationStore,
        commands: CommandService,
        clock: Clock,
        *,
        check_interval: float = 1.0,
        group_of: Callable[[str], Awaitable[str | None]] | None = None,
        events: EventBus | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._commands = commands
        self._clock = clock
        self._interval = check_interval
        self._group_of_token = group_of
        # Held around each read-check-write of an active reservation (never while waiting for a station), so
        # expiry, station updates, use and cancellation cannot overwrite each other's outcome.
        self._lock = asyncio.Lock()
        self._external_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def _changed(self, reservation: Reservation, change: str) -> None:
        """Publish `ReservationChanged` (webhooks' reservation.* events) with a copy of the reservation."""
        if self._events is not None:
            await self._events.publish(ReservationChanged(replace(reservation), change))

    # -- create / cancel ---------------------------------------------------------------------------

    async def create(
        self,
        *,
        charge_point_id: str,
        evse_id: int | None,
        id_token: str,
        expiry_date: datetime,
        id_token_type: str = "Central",
        group_id_token: str | None = None,
        connector_type: str | None = None,
        owner: str | None = None,
        external_id: str | None = None,
    ) -> Reservation:
        """Reserve an EVSE (None or 0: any EVSE, 1.6 connector 0) of a station for `id_token` until
        `expiry_date`, and return the reservation once the station accepted it (status `active`).

        The id is allocated first by storing the row as `failed` with reason "pending"; ReserveNow then
        carries that id. The row ends `active` (Accepted), `rejected` (Occupied, Faulted, Unavailable,
        Rejected; the answer is kept in `station_status`) or `failed` (offline, no answer in time, CALLERROR),
        so nothing is left half-created. When the station did not answer (timeout, or the connection dropped
        while waiting) it may still have accepted: a best-effort CancelReservation follows in the background
        and its outcome is logged. The CSMS does not pre-check for other reservations: the station decides.

        Replacement: when `owner` and `external_id` name a reservation that is still active, this call
        replaces it rather than adding one. On the same station, ReserveNow is sent with the SAME reservation
        id (OCPP: a station replaces a reservation whose id it already holds) and, once accepted, the existing
        row gets the new EVSE, token, group, connector type and expiry, keeping its id. If the station refuses
        or does not answer, ReservationError is raised with the earlier reservation unchanged (still active;
        no cancel is sent, which would end it). On another station, a new reservation is created as usual and,
        once accepted, the earlier one is cancelled (reason "replaced"; if that station cannot be reached the
        earlier one stays active until it expires or the station reports it).

        Raises:
            ValueError: `expiry_date` is not in the future (callers validate input first).
            ReservationError: codes evse_occupied, evse_faulted, evse_unavailable, reservation_rejected
                (`rejected`), charge_point_offline, station_timeout, call_error, not_supported (`failed`);
                `reservation` is the row as stored; reservation_not_active if a replaced reservation ended
                while its replacement was being accepted.
        """
        expiry = to_utc(expiry_date)
        if expiry <= self._clock():
            raise ValueError(f"expiry_date {expiry.isoformat()} is not in the future")
        create = functools.partial(
            self._create,
            charge_point_id,
            evse_id,
            id_token,
            expiry,
            id_token_type,
            group_id_token,
            connector_type,
            owner,
            external_id,
        )
        if owner is None or external_id is None:
            return await create()
        # One create at a time per partner reservation id: two concurrent requests with the same id must
        # replace one another, not leave two active reservations.
        key = (owner, external_id)
        lock = self._external_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await create()
        finally:
            if not lock.locked() and self._external_locks.get(key) is lock:
                del self._external_locks[key]

    async def _create(
        self,
        charge_point_id: str,
        evse_id: int | None,
        id_token: str,
        expiry: datetime,
        id_token_type: str,
        group_id_token: str | None,
        connector_type: str | None,
        owner: str | None,
        external_id: str | None,
    ) -> Reservation:
        wanted = Reservation(
            id=0,
            charge_point_id=charge_point_id,
            evse_id=evse_id,
            id_token=id_token,
            expiry_date=expiry,
            status=ReservationStatus.FAILED,
            id_token_type=id_token_type,
            group_id_token=group_id_token,
            connector_type=connector_type,
            owner=owner,
            external_id=external_id,
            reason=PENDING,
        )
        earlier = None
        if owner is not None and external_id is not None:
            earlier = await self._store.find_reservation_by_external_id(owner, external_id)
            if earlier is not None and earlier.status is not ReservationStatus.ACTIVE:
                earlier = None
        if earlier is not None and earlier.charge_point_id == charge_point_id:
            return await self._replace(earlier, wanted)

        row = await self._store.add_reservation(wanted)
        result = await self._commands.send(charge_point_id, self._reserve_now(row.id, row))
        if result.outcome is Outcome.ANSWERED:
            row.station_status = result.status
        if _answered(result, "Accepted"):
            row.status = ReservationStatus.ACTIVE
            row.reason = None
            await self._store.save_reservation(row)
            _log_for(charge_point_id, row.id).info(
                "reservation_created",
                evse_id=evse_id,
                expiry_date=expiry.isoformat(),
            )
            await self._changed(row, "created")
            if earlier is not None:
                await self._retire(earlier)
            return row

        code, message = _refusal(charge_point_id, result)
        row.status = (
            ReservationStatus.REJECTED if result.outcome is Outcome.ANSWERED else ReservationStatus.FAILED
        )
        row.reason = code
        await self._store.save_reservation(row)
        _log_for(charge_point_id, row.id).info(
            "reservation_refused",
            code=code,
            outcome=result.outcome.value,
            station_status=result.status,
        )
        if result.outcome in (Outcome.TIMEOUT, Outcome.DISCONNECTED):
            self._spawn(self._cancel_unanswered(row))
        raise ReservationError(code, message, result=result, reservation=row)

    async def _replace(self, earlier: Reservation, wanted: Reservation) -> Reservation:
        """Send ReserveNow with the earlier reservation's id; on acceptance overwrite that row."""
        cp = earlier.charge_point_id
        result = await self._commands.send(cp, self._reserve_now(earlier.id, wanted))
        if not _answered(result, "Accepted"):
            code, message = _refusal(cp, result)
            _log_for(cp, earlier.id).info(
                "reservation_replacement_refused",
                code=code,
                outcome=result.outcome.value,
            )
            raise ReservationError(code, message, result=result, reservation=earlier)
        replaced = False
        async with self._lock:
            current = await self._store.get_reservation(earlier.id)
            # Expired by our clock while the station accepted a new expiry: it is active again.
            if current is not None and current.status in (
                ReservationStatus.ACTIVE,
                ReservationStatus.EXPIRED,
            ):
                current.evse_id = wanted.evse_id
                current.id_token = wanted.id_token
                current.id_token_type = wanted.id_token_type
                current.group_id_token = wanted.group_id_token
                current.connector_type = wanted.connector_type
                current.expiry_date = wanted.expiry_date
                current.status = ReservationStatus.ACTIVE
                current.station_status = result.status
                current.reason = None
                await self._store.save_reservation(current)
                _log_for(cp, current.id).info("reservation_replaced")
                replaced = True
        if replaced and current is not None:
            await self._changed(current, "updated")
            return current
        # Used or cancelled meanwhile: the station now holds a reservation we do not keep; take it back.
        _log_for(cp, earlier.id).warning("reservation_replacement_raced")
        self._spawn(self._cancel_unanswered(earlier))
        raise ReservationError(
            RESERVATION_NOT_ACTIVE,
            f"reservation {earlier.id} ended while it was being replaced",
            result=result,
            reservation=current,
        )

    async def change(
        self, reservation_id: int, *, id_token: str | None = None, expiry_date: datetime | None = None
    ) -> Reservation:
        """Change an active reservation's id token and/or expiry (None keeps it) and return it as stored.

        OCPP has no update message: ReserveNow is sent again with the SAME reservation id, which a station
        replaces (1.6 ReserveNow.req and 2.0.1 ReserveNowRequest both say so). Once the station accepts, the
        row keeps its id and gets the new token (group cleared: the group belonged to the old token) and
        expiry; if the station refuses or does not answer, ReservationError is raised and the reservation
        stays as it was (still active; no cancel is sent, which would end it).

        Raises:
            ValueError: `expiry_date` is not in the future.
            ReservationError: reservation_not_found; reservation_not_active (`reservation` set); the codes of
                `create` when the station refuses or cannot be reached.
        """
        earlier = await self._store.get_reservation(reservation_id)
        if earlier is None:
            raise ReservationError(RESERVATION_NOT_FOUND, f"reservation {reservation_id} does not exist")
        expiry = earlier.expiry_date if expiry_date is None else to_utc(expiry_date)
        if expiry <= self._clock():
            raise ValueError(f"expiry_date {expiry.isoformat()} is not in the future")
        if earlier.status is not ReservationStatus.ACTIVE:
            raise ReservationError(
                RESERVATION_NOT_ACTIVE,
                f"reservation {reservation_id} is {earlier.status.value}",
                reservation=earlier,
            )
        same_token = id_token is None or id_token == earlier.id_token
        wanted = replace(
            earlier,
            id_token=earlier.id_token if id_token is None else id_token,
            group_id_token=earlier.group_id_token if same_token else None,
            expiry_date=expiry,
        )
        return await self._replace(earlier, wanted)

    async def _retire(self, earlier: Reservation) -> None:
        """Cancel a reservation replaced by one on another station; failures are logged only."""
        try:
            await self._cancel(earlier.id, reason="replaced")
        except ReservationError as exc:
            _log_for(earlier.charge_point_id, earlier.id).warning(
                "replaced_reservation_not_cancelled",
                code=exc.code,
            )

    @staticmethod
    def _reserve_now(reservation_id: int, r: Reservation) -> ReserveNow:
        return ReserveNow(
            reservation_id=reservation_id,
            expiry=r.expiry_date,
            id_token=r.id_token,
            evse_id=r.evse_id,
            id_token_type=r.id_token_type,
            group_id_token=r.group_id_token,
            connector_type=r.connector_type,
        )

    async def cancel(self, reservation_id: int) -> Reservation:
        """Cancel an active reservation at its station and return it (`cancelled`).

        The station's Accepted cancels it; Rejected (the station does not know the reservation) also marks it
        `cancelled`, with reason "unknown_at_station": it is gone either way. If the reservation ended
        (used, expired) while the station was answering, it is returned as it now is.

        Raises:
            ReservationError: reservation_not_found; reservation_not_active (not `active`; `reservation` set);
                charge_point_offline, station_timeout, call_error or not_supported, and the reservation stays
                active.
        """
        return await self._cancel(reservation_id, reason=None)

    async def _cancel(self, reservation_id: int, *, reason: str | None) -> Reservation:
        r = await self._store.get_reservation(reservation_id)
        if r is None:
            raise ReservationError(RESERVATION_NOT_FOUND, f"reservation {reservation_id} does not exist")
        if r.status is not ReservationStatus.ACTIVE:
            raise ReservationError(
                RESERVATION_NOT_ACTIVE, f"reservation {reservation_id} is {r.status.value}", reservation=r
            )
        result = await self._commands.send(r.charge_point_id, CancelReservation(r.id))
        if result.outcome is not Outcome.ANSWERED:
            code, message = _failure(r.charge_point_id, result)
            _log_for(r.charge_point_id, r.id).info("reservation_cancel_failed", code=code)
            raise ReservationError(code, message, result=result, reservation=r)
        if not _answered(result, "Accepted"):
            reason = "unknown_at_station"
        async with self._lock:
            current = await self._store.get_reservation(r.id)
            if current is None or current.status is not ReservationStatus.ACTIVE:
                _log_for(r.charge_point_id, r.id).info("reservation_ended_while_cancelling")
                return current or r
            current.status = ReservationStatus.CANCELLED
            current.reason = reason
            await self._store.save_reservation(current)
        _log_for(r.charge_point_id, r.id).info(
            "reservation_cancelled",
            station_status=result.status,
            reason=reason,
        )
        await self._changed(current, "cancelled")
        return current

    async def _cancel_unanswered(self, r: Reservation) -> None:
        """Best-effort CancelReservation for a ReserveNow the station may have accepted unheard."""
        try:
            result = await self._commands.send(r.charge_point_id, CancelReservation(r.id))
        except Exception:
            _log_for(r.charge_point_id, r.id).exception("reservation_cleanup_failed")
            return
        _log_for(r.charge_point_id, r.id).info(
            "reservation_cleanup_sent",
            outcome=result.outcome.value,
            station_status=result.status,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- expiry and station reports ----------------------------------------------------------------

    async def expire_due(self) -> list[Reservation]:
        """Mark every active reservation whose expiry date has passed `expired`, whether or not its station
        is connected (the station expires it on its own clock), and return the ones this call expired.

        Safe to run in several processes on one database at once: each reservation is expired by one
        conditional store write (`ReservationStore.expire_reservation`), so exactly one caller logs
        "reservation_expired" and returns it; the others skip it.
        """
        now = self._clock()
        expired: list[Reservation] = []
        for due in await self._store.list_due_reservations(now):
            # The lock orders this against this process's own read-check-writes (cancel, use, replace);
            # the conditional write against other processes, which the lock cannot see.
            async with self._lock:
                r = await self._store.expire_reservation(due.id, now)
            if r is None:  # ended, given a later expiry, or expired by another process meanwhile
                continue
            _log_for(r.charge_point_id, r.id).info("reservation_expired")
            await self._changed(r, "expired")
            expired.append(r)
        return expired

    async def station_update(self, charge_point_id: str, reservation_id: int, update_status: str) -> None:
        """Apply a 2.0.1 ReservationStatusUpdate: "Expired" → `expired` (reason "expired_at_station"),
        "Removed" → `cancelled` (reason "removed_by_station").

        An id the station does not own, a reservation that already ended or an unknown status word is logged
        and ignored (the station only needs its empty answer).
        """
        change = _STATION_UPDATES.get(update_status)
        if change is None:
            _log_for(charge_point_id, reservation_id).warning(
                "reservation_update_status_unknown",
                update_status=update_status,
            )
            return
        async with self._lock:
            r = await self._store.get_reservation(reservation_id)
            if r is None or r.charge_point_id != charge_point_id:
                _log_for(charge_point_id, reservation_id).warning("reservation_update_unknown_reservation")
                return
            if r.status is not ReservationStatus.ACTIVE:
                _log_for(charge_point_id, reservation_id).info(
                    "reservation_update_ignored",
                    status=r.status.value,
                    update_status=update_status,
                )
                return
            r.status, r.reason = change
            await self._store.save_reservation(r)
        _log_for(charge_point_id, reservation_id).info("reservation_ended_by_station", status=r.status.value)
        await self._changed(r, str(r.status))

    # -- remote start and transactions -------------------------------------------------------------

    async def check_start(
        self, charge_point_id: str, evse_id: int | None, id_token: str, group_id_token: str | None = None
    ) -> Reservation | None:
        """Check, before a remote start, that no reservation of another token blocks it.

        The reservations considered are the station's active, not yet expired ones on `evse_id`, or, when
        the request names no EVSE (None or 0), the station-wide ones (EVSE None or 0). A token may use a
        reservation when the reservation's id token or group equals the token or its group
        (`group_id_token`, else looked up through `tokens`).

        Returns:
            A reservation this token holds (the start may go ahead and will use it), or None when nothing
            is reserved there.

        Raises:
            ReservationError: connector_reserved, with the blocking reservation, when only other tokens'
                reservations apply.
        """
        now = self._clock()
        station_wide = evse_id in (None, 0)
        relevant = [
            r
            for r in await self._store.find_active_reservations(charge_point_id)
            if r.expiry_date > now and ((r.evse_id in (None, 0)) if station_wide else r.evse_id == evse_id)
        ]
        if not relevant:
            return None
        if group_id_token is None:
            group_id_token = await self._group_of(id_token)
        for r in relevant:
            if _holds(r, id_token, group_id_token):
                return r
        blocking = relevant[0]
        where = "the station" if station_wide else f"EVSE {evse_id}"
        raise ReservationError(
            CONNECTOR_RESERVED,
            f"{where} of charge point {charge_point_id} is reserved for another id token",
            reservation=blocking,
        )

    async def _group_of(self, id_token: str) -> str | None:
        return None if self._group_of_token is None else await self._group_of_token(id_token)

    async def reservation_for(self, tx: Transaction) -> Reservation | None:
        """The reservation a transaction that just started uses, as `transaction_started` decides it: the one
        it names (`tx.reservation_id`), of its station, still active, held by its id token or that token's
        group. None otherwise (logged: an unknown, ended, or another token's reservation).

        Listeners told about the start before the domain (the OCPI bridge, which carries a reservation's
        Session on into the charging: OCPI 2.2.1 Sessions, "Reservation") ask it the same question."""
        if tx.reservation_id is None:
            return None
        r = await self._store.get_reservation(tx.reservation_id)
        if r is None or r.charge_point_id != tx.charge_point_id:
            _log_for(tx.charge_point_id, tx.reservation_id).warning(
                "transaction_reservation_unknown",
                transaction_pk=tx.id,
            )
            return None
        if r.status is not ReservationStatus.ACTIVE:
            _log_for(tx.charge_point_id, r.id).info(
                "transaction_reservation_not_active",
                status=r.status.value,
                transaction_pk=tx.id,
            )
            return None
        if tx.id_token is None or not _holds(r, tx.id_token, await self._group_of(tx.id_token)):
            _log_for(tx.charge_point_id, r.id).warning(
                "reservation_used_by_wrong_token",
                transaction_pk=tx.id,
                id_token=tx.id_token,
            )
            return None
        return r

    async def transaction_started(self, tx: Transaction) -> None:
        """Mark the reservation a transaction started with `used` (transaction_pk = tx.id).

        Only when the reservation belongs to the transaction's station, is active, and the transaction's id
        token (or its group, looked up through `tokens`) matches the reservation's token or group
        (`reservation_for`). A wrong token is logged ("reservation_used_by_wrong_token") and the
        reservation stays active.
        """
        if tx.reservation_id is None:
            return
        async with self._lock:
            r = await self.reservation_for(tx)
            if r is None:
                return
            r.status = ReservationStatus.USED
            r.transaction_pk = tx.id
            await self._store.save_reservation(r)
        _log_for(tx.charge_point_id, r.id).info("reservation_used", transaction_pk=tx.id)
        await self._changed(r, "used")

    async def transaction_stopped(self, tx: Transaction) -> None:
        """Nothing to do: a reservation ends when its transaction starts."""

    # -- background expiry -------------------------------------------------------------------------

    async def start(self) -> None:
        """Expire what is already due, then keep doing so every `check_interval` seconds until `stop`."""
        if self._task is not None:
            return
        await self._expire_logged()
        self._task = asyncio.create_task(self._run(), name="reservation-expiry")

    async def stop(self) -> None:
        """Stop the expiry task and any best-effort CancelReservation still waiting for its station."""
        tasks = list(self._background)
        if self._task is not None:
            tasks.append(self._task)
            self._task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._expire_logged()

    async def _expire_logged(self) -> None:
        # A database hiccup must not end the loop: the next round tries again.
        try:
            await self.expire_due()
        except Exception:
            log.exception("reservation_expiry_failed")
