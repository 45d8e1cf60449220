"""Reservations as the station keeps them: which connector is held for which token, until used, cancelled,
expired or removed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial

from simulators.chargepoint.core import StationCore
from simulators.chargepoint.model import (
    FollowUp,
    JsonDict,
    Reservation,
    _Queued,
)


class StationReservations(StationCore):
    """Reservation bookkeeping."""

    def _matches(self, reservation: Reservation, id_token: str) -> bool:
        """True if `id_token` may use `reservation`: it is the reserved token or its parent / group
        (OCPP 1.6 §5.13: idTag or parentIdTag; 2.0.1 H01: idToken or groupIdToken)."""
        mine = {id_token, self.token_parents.get(id_token)} - {None}
        theirs = {reservation.id_token, reservation.parent_id_token} - {None}
        return bool(mine & theirs)

    def _reservation_on(self, connector: int, *, ignoring: int | None = None) -> Reservation | None:
        """The reservation of `connector` itself (not a station-wide one), except reservation `ignoring`."""
        return next(
            (
                r
                for r in self.reservations.values()
                if r.connector == connector and r.reservation_id != ignoring
            ),
            None,
        )

    def _zero_reservations(self, *, ignoring: int | None = None) -> list[Reservation]:
        """The station-wide reservations (1.6 connectorId 0, 2.0.1 without evseId)."""
        return [r for r in self.reservations.values() if r.connector == 0 and r.reservation_id != ignoring]

    def _operative(self, connector: int) -> bool:
        return connector not in self.inoperative and self.connector_status.get(connector) != "Faulted"

    def _is_free(self, connector: int, *, ignoring: int | None = None) -> bool:
        """Nobody uses or holds `connector`: operative, no cable, no transaction, not reserved itself."""
        return (
            self._operative(connector)
            and connector not in self._tx
            and connector not in self._starting
            and not self.plugged[connector]
            and self._reservation_on(connector, ignoring=ignoring) is None
        )

    def _held_for_station(self, connector: int) -> bool:
        """True if free `connector` must stay free for the station-wide reservations (as many free
        connectors are left as there are such reservations), so it reports Reserved."""
        zero = len(self._zero_reservations())
        if not zero or not self._is_free(connector):
            return False
        return sum(self._is_free(c) for c in self.connector_ids) <= zero

    def _start_reservation(
        self, connector: int, id_token: str
    ) -> tuple[Reservation | None, Reservation | None]:
        """(the reservation a start of `id_token` on `connector` uses, the one that forbids it)."""
        own = self._reservation_on(connector)
        if own is not None:
            return (own, None) if self._matches(own, id_token) else (None, own)
        zero = self._zero_reservations()
        usable = next((r for r in zero if self._matches(r, id_token)), None)
        if usable is not None:
            return usable, None
        if zero:
            others_free = sum(self._is_free(c) for c in self.connector_ids if c != connector)
            if others_free < len(zero):
                return None, zero[0]
        return None, None

    def _reservable(self, connector: int, reservation_id: int) -> str:
        """The ReserveNow status for connector / EVSE `connector` (a replaced reservation `reservation_id`
        does not count)."""
        status = self.connector_status.get(connector)
        if status == "Faulted":
            return "Faulted"
        if connector in self.inoperative or connector in self._pending_inoperative or status == "Unavailable":
            return "Unavailable"
        if (
            connector in self._tx
            or connector in self._starting
            or self.plugged[connector]
            or self._reservation_on(connector, ignoring=reservation_id) is not None
        ):
            return "Occupied"  # 1.6 §5.13: also when reserved, for the same or another token
        zero = self._zero_reservations(ignoring=reservation_id)
        if zero:
            others_free = sum(
                self._is_free(c, ignoring=reservation_id) for c in self.connector_ids if c != connector
            )
            if others_free < len(zero):
                return "Occupied"  # the last free connectors are held for station-wide reservations
        return "Accepted"

    def _reservable_anywhere(self, reservation_id: int) -> str:
        """The ReserveNow status for a station-wide reservation: one more free connector is needed."""
        if all(self.connector_status.get(c) == "Faulted" for c in self.connector_ids):
            return "Faulted"
        if not any(self._operative(c) for c in self.connector_ids):
            return "Unavailable"
        free = sum(self._is_free(c, ignoring=reservation_id) for c in self.connector_ids)
        if free <= len(self._zero_reservations(ignoring=reservation_id)):
            return "Occupied"
        return "Accepted"

    def _reserve(
        self, reservation_id: int, connector: int, id_token: str, parent: str | None, expiry: datetime
    ) -> FollowUp:
        """Store a reservation (replacing one with the same id) and arm its expiry."""
        self._end_reservation(reservation_id)
        delay = max(0.0, (expiry - self._clock()).total_seconds())
        reservation = Reservation(reservation_id, connector, id_token, expiry, parent_id_token=parent)
        reservation.timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(partial(self._expire_reservation, reservation), "ReservationExpired")
        )
        self.reservations[reservation_id] = reservation
        self._log.info("reserved", reservation_id=reservation_id, connector=connector)
        return self._refresh_statuses

    def _end_reservation(self, reservation_id: int) -> Reservation | None:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is not None and reservation.timer is not None:
            reservation.timer.cancel()
        return reservation

    async def _expire_reservation(self, reservation: Reservation) -> None:
        """At expiryDate: end the reservation; 2.0.1 reports ReservationStatusUpdate Expired; then the
        connector reports Available (all of it after reconnecting when offline)."""
        if self.reservations.get(reservation.reservation_id) is not reservation:
            return
        del self.reservations[reservation.reservation_id]
        self._log.info("reservation_expired", reservation_id=reservation.reservation_id)
        if not self._v16:
            await self._reservation_update(reservation.reservation_id, "Expired")
        await self._refresh_statuses()

    async def _drop_reservations(self, connector: int) -> None:
        """`connector` became Faulted / Unavailable: its reservation ends (2.0.1: Removed), and so do the
        station-wide ones when no connector is operative any more."""
        dropped = [r for r in self.reservations.values() if r.connector == connector]
        if not any(self._operative(c) for c in self.connector_ids):
            dropped += self._zero_reservations()
        for reservation in dropped:
            self._end_reservation(reservation.reservation_id)
            self._log.info("reservation_removed", reservation_id=reservation.reservation_id)
            if not self._v16:
                await self._reservation_update(reservation.reservation_id, "Removed")
        if dropped:
            await self._refresh_statuses()

    async def _reservation_update(self, reservation_id: int, status: str) -> None:
        """Send 2.0.1 ReservationStatusUpdate, or queue it until the station is connected again."""
        payload: JsonDict = {"reservationId": reservation_id, "reservationUpdateStatus": status}
        if self._offline or not self.connected:
            self._queue.append(_Queued("ReservationStatusUpdate", lambda: payload))
            return
        await self.call("ReservationStatusUpdate", payload)
