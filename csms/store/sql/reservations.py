"""Reservations (`ReservationStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from sqlalchemy import select, update

from csms.domain.models import Reservation, ReservationStatus
from csms.domain.ports import Page, StationQuery
from csms.store.sql.base import RESERVATIONS, SqlBase, rowcount
from csms.store.sql.rows import reservation_of, reservation_values
from csms.store.tables import ChargePointRow, ReservationRow

# The active reservations: what list_due_reservations and find_active_reservations narrow down.
_ACTIVE = select(ReservationRow).where(ReservationRow.status == str(ReservationStatus.ACTIVE))

# The optional filters of list_reservations.
_Query = StationQuery[ReservationStatus]


class ReservationSql(SqlBase):
    """Reservations; the contract is `csms.domain.ports.ReservationStore`."""

    async def add_reservation(self, reservation: Reservation) -> Reservation:
        """Insert a reservation under a newly allocated id (`reservation.id` is ignored) and return it.

        Ids are never reused, even after the newest row is deleted (SQLite AUTOINCREMENT, PostgreSQL
        sequence). `created_at` defaults to now, `updated_at` to `created_at`.
        """
        created = reservation.created_at or self._clock()
        async with self._sessions() as session:
            # It belongs to its charge point's organization (ADR 0012); one not registered (any more): the
            # organization the caller gave.
            cp = ChargePointRow
            org_id = await session.scalar(
                select(cp.org_id).where(cp.charge_point_id == reservation.charge_point_id)
            )
        values = reservation_values(reservation) | {
            "created_at": created,
            "updated_at": reservation.updated_at or created,
            "org_id": org_id or reservation.org_id,
        }
        return reservation_of(await self._add(ReservationRow(**values)))

    async def get_reservation(self, reservation_id: int, *, org_id: str | None = None) -> Reservation | None:
        return await self._get_owned(ReservationRow, reservation_id, reservation_of, org_id)

    async def save_reservation(self, reservation: Reservation) -> None:
        """Write every field of `reservation` except its id and created_at; sets `reservation.updated_at` to
        now, the value written."""
        reservation.updated_at = self._clock()
        values = reservation_values(reservation)
        stmt = update(RESERVATIONS).where(RESERVATIONS.c.id == reservation.id).values(values)
        await self._change(stmt, f"reservation {reservation.id}")

    async def list_reservations(self, *, limit: int, **query: Unpack[_Query]) -> Page[Reservation]:
        return await self._newest_of_station(
            ReservationRow,
            reservation_of,
            limit,
            query,
            time_field="created_at",
            sortable=("created_at", "expiry_date"),
        )

    async def list_due_reservations(self, now: datetime) -> list[Reservation]:
        """Active reservations whose expiry_date is at or before `now`, soonest expiry first (then by id)."""
        due = _ACTIVE.where(ReservationRow.expiry_date <= now)
        return await self._all(due.order_by(ReservationRow.expiry_date, ReservationRow.id), reservation_of)

    async def expire_reservation(self, reservation_id: int, now: datetime) -> Reservation | None:
        """One conditional UPDATE (still active, expiry_date <= now); its row count says whether this call
        expired the reservation: another process running the same UPDATE at once touches no row (PostgreSQL
        re-checks the condition once the first one commits; SQLite has one writer at a time)."""
        stmt = (
            update(RESERVATIONS)
            .where(
                RESERVATIONS.c.id == reservation_id,
                RESERVATIONS.c.status == str(ReservationStatus.ACTIVE),
                RESERVATIONS.c.expiry_date <= now,
            )
            .values(status=str(ReservationStatus.EXPIRED), updated_at=self._clock())
        )
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                return None
            # Read in the same transaction: what this call wrote, not a later change.
            row = await session.get(ReservationRow, reservation_id)
            return None if row is None else reservation_of(row)

    async def find_active_reservations(self, charge_point_id: str) -> list[Reservation]:
        """Active reservations of one station, oldest first (by id), expired or not."""
        of_station = _ACTIVE.where(ReservationRow.charge_point_id == charge_point_id)
        return await self._all(of_station.order_by(ReservationRow.id), reservation_of)

    async def find_reservation_by_external_id(self, owner: str, external_id: str) -> Reservation | None:
        """The newest reservation (highest id, any status) a partner made under its own id, or None."""
        stmt = select(ReservationRow).where(
            ReservationRow.owner == owner, ReservationRow.external_id == external_id
        )
        return await self._first(stmt.order_by(ReservationRow.id.desc()).limit(1), reservation_of)
