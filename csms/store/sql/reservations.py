"""Reservations (`ReservationStore`)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select, update

from csms.domain.models import (
    Reservation,
    ReservationStatus,
)
from csms.domain.ports import (
    NotFound,
)
from csms.store.sql.base import (
    RESERVATIONS,
    SqlBase,
    id_cursor,
    page_limit,
    rowcount,
)
from csms.store.sql.rows import (
    reservation_of,
    reservation_values,
)
from csms.store.tables import (
    ReservationRow,
)

log = structlog.get_logger("csms.store.sql")


class ReservationSql(SqlBase):
    """Reservations."""

    async def add_reservation(self, reservation: Reservation) -> Reservation:
        """Insert a reservation under a newly allocated id (`reservation.id` is ignored) and return it.

        Ids are never reused, even after the newest row is deleted (SQLite AUTOINCREMENT, PostgreSQL
        sequence). `created_at` defaults to now, `updated_at` to `created_at`.
        """
        created = reservation.created_at or self._clock()
        row = ReservationRow(
            charge_point_id=reservation.charge_point_id,
            evse_id=reservation.evse_id,
            id_token=reservation.id_token,
            id_token_type=reservation.id_token_type,
            group_id_token=reservation.group_id_token,
            connector_type=reservation.connector_type,
            expiry_date=reservation.expiry_date,
            status=str(reservation.status),
            station_status=reservation.station_status,
            transaction_pk=reservation.transaction_pk,
            external_id=reservation.external_id,
            owner=reservation.owner,
            reason=reservation.reason,
            created_at=created,
            updated_at=reservation.updated_at or created,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return reservation_of(row)

    async def get_reservation(self, reservation_id: int) -> Reservation | None:
        """Return the reservation with this id, or None."""
        async with self._sessions() as session:
            row = await session.get(ReservationRow, reservation_id)
            return None if row is None else reservation_of(row)

    async def save_reservation(self, reservation: Reservation) -> None:
        """Write every field of `reservation` except its id and created_at.

        Sets `reservation.updated_at` to now, the value written.

        Raises:
            NotFound: no reservation with `reservation.id`.
        """
        reservation.updated_at = self._clock()
        stmt = (
            update(RESERVATIONS)
            .where(RESERVATIONS.c.id == reservation.id)
            .values(reservation_values(reservation))
        )
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(f"reservation {reservation.id}")

    async def list_reservations(
        self,
        *,
        charge_point_id: str | None = None,
        status: ReservationStatus | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[Reservation], str | None]:
        """Reservations newest first (by id), optionally of one station and/or one status.

        Returns:
            (at most `limit` reservations, the cursor for the next page or None if this is the last).
        """
        stmt = select(ReservationRow).order_by(ReservationRow.id.desc()).limit(page_limit(limit) + 1)
        if charge_point_id is not None:
            stmt = stmt.where(ReservationRow.charge_point_id == charge_point_id)
        if status is not None:
            stmt = stmt.where(ReservationRow.status == str(status))
        before = id_cursor(cursor)
        if before is not None:
            stmt = stmt.where(ReservationRow.id < before)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = [reservation_of(r) for r in rows[:limit]]
        return page, (str(page[-1].id) if len(rows) > limit else None)

    async def list_due_reservations(self, now: datetime) -> list[Reservation]:
        """Active reservations whose expiry_date is at or before `now`, soonest expiry first (then by id)."""
        stmt = (
            select(ReservationRow)
            .where(
                ReservationRow.status == str(ReservationStatus.ACTIVE),
                ReservationRow.expiry_date <= now,
            )
            .order_by(ReservationRow.expiry_date, ReservationRow.id)
        )
        async with self._sessions() as session:
            return [reservation_of(r) for r in await session.scalars(stmt)]

    async def find_active_reservations(self, charge_point_id: str) -> list[Reservation]:
        """Active reservations of one station, oldest first (by id), expired or not."""
        stmt = (
            select(ReservationRow)
            .where(
                ReservationRow.charge_point_id == charge_point_id,
                ReservationRow.status == str(ReservationStatus.ACTIVE),
            )
            .order_by(ReservationRow.id)
        )
        async with self._sessions() as session:
            return [reservation_of(r) for r in await session.scalars(stmt)]

    async def find_reservation_by_external_id(self, owner: str, external_id: str) -> Reservation | None:
        """The newest reservation (highest id, any status) a partner made under its own id, or None."""
        stmt = (
            select(ReservationRow)
            .where(ReservationRow.owner == owner, ReservationRow.external_id == external_id)
            .order_by(ReservationRow.id.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else reservation_of(row)
