"""Reservations made through RESERVE_NOW, watched until they end: then their Session is PATCHed COMPLETED
(unless a transaction used it: then the Session goes on as that transaction's) and,
when they expired or were cancelled on our side, CANCELED_RESERVATION is POSTed to the RESERVE_NOW
response_url (OCPI 2.2.1 Commands). The reservation service tells no one when a reservation ends, so the
watched ones are checked every `[ocpp] reservation_check_interval` seconds; the response URLs are kept in
the store as `CommandPromise`s and watched again after a restart (`CommandRunner.recover`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from csms.domain.models import Reservation, ReservationStatus
from ocpi import push
from ocpi.commands.results import REPLACED, post_result
from ocpi.context import OcpiContext

log = structlog.get_logger("ocpi.commands")

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


@dataclass(slots=True)
class Watched:
    """A reservation made through RESERVE_NOW: where to tell that it ended."""

    partner_id: int
    response_url: str
    external_id: str
    promise_id: int | None = None  # its stored `CommandPromise` (settled when the reservation ends)


class ReservationWatcher:
    """The reservations RESERVE_NOW made, by reservation id, and the task that checks them.

    Args:
        ctx: the OCPI context.
        spawn: runs a coroutine in a task its owner tracks (the `CommandRunner`'s).
    """

    def __init__(self, ctx: OcpiContext, spawn: Spawn) -> None:
        self._ctx = ctx
        self._spawn = spawn
        self._watched: dict[int, Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def watch(self, reservation_id: int, watched: Watched) -> list[int]:
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
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._loop(), name="ocpi-reservation-watch")
        return dropped

    def unwatch(self, reservation_id: int) -> Watched | None:
        """Stop watching a reservation (the partner cancels it itself); returns what was watched."""
        return self._watched.pop(reservation_id, None)

    async def close(self) -> None:
        """Stop checking (and watching anything new)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        interval = self._ctx.domain.config.ocpp.reservation_check_interval
        try:
            while self._watched:
                await asyncio.sleep(interval)
                try:
                    await self.check()
                except Exception:
                    log.exception("ocpi_reservation_watch_failed")
        finally:
            self._task = None

    async def check(self) -> None:
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
            self._spawn(self._ended(reservation, watched), "ocpi-reservation-ended")

    async def _ended(self, reservation: Reservation, watched: Watched) -> None:
        """The Session COMPLETED PATCH, then CANCELED_RESERVATION if it expired or was cancelled (not
        replaced by the partner's own RESERVE_NOW). Only by the process that settles the stored promise
        (`OcpiStore.settle_command_promise`): several processes may watch it after a restart, one posts."""
        owed = (
            reservation.status in (ReservationStatus.EXPIRED, ReservationStatus.CANCELLED)
            and reservation.reason != REPLACED
        )
        if watched.promise_id is not None:
            why = "CANCELED_RESERVATION" if owed else reservation.status.value
            if not await self._ctx.store.settle_command_promise(watched.promise_id, why):
                return  # the partner cancelled it, or another process told the partner already
        await self.push_session(reservation.id, watched.partner_id)
        if owed:
            message = f"the reservation {reservation.status.value}"
            await post_result(
                self._ctx, watched.partner_id, watched.response_url, "CANCELED_RESERVATION", message
            )

    async def push_session(self, reservation_id: int, partner_id: int, *, only_ended: bool = False) -> None:
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
