"""Where the Agent API keeps client accounts and bookings: SQL (SQLite and PostgreSQL), tables
`agent_clients` and `agent_bookings` (`ocpi/store/agent_tables.py`, revision 0020_agent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select, update

from csms.store.sql.base import SqlBase
from csms.store.sql.rows import record_of
from ocpi.agent.models import CLAIM_PREFIX, AgentClient, Booking, BookingStatus
from ocpi.store.agent_tables import AgentBookingRow, AgentClientRow, AgentUsageRow


def _client(row: AgentClientRow) -> AgentClient:
    return record_of(AgentClient, row, reservation_fee=Decimal(row.reservation_fee),
                     commission_percent=Decimal(row.commission_percent))  # fmt: skip


def _booking(row: AgentBookingRow) -> Booking:
    return record_of(Booking, row, status=BookingStatus(row.status), price=orjson.loads(row.price))


def _booking_values(booking: Booking) -> dict[str, Any]:
    values = {f.name: getattr(booking, f.name) for f in dataclasses.fields(Booking)}
    values["status"] = str(booking.status)
    values["price"] = orjson.dumps(booking.price).decode()
    return values


class SqlAgentStore(SqlBase):
    """Client accounts and bookings on SQLAlchemy async."""

    # -- clients ---------------------------------------------------------------------------------------

    async def add_client(self, client: AgentClient) -> AgentClient:
        """Store a new client (its `id` is assigned; `created_at` now) and return it."""
        async with self._sessions.begin() as session:
            values = {f.name: getattr(client, f.name) for f in dataclasses.fields(AgentClient)}
            values.pop("id")
            values["created_at"] = client.created_at or self._clock()
            row = AgentClientRow(**values)
            session.add(row)
            await session.flush()
            return _client(row)

    async def get_client(self, client_id: int) -> AgentClient | None:
        return await self._get(AgentClientRow, client_id, _client)

    async def client_by_prefix(self, key_prefix: str) -> AgentClient | None:
        """The client whose current key has this lookup prefix."""
        found = await self._all(
            select(AgentClientRow).where(AgentClientRow.key_prefix == key_prefix), _client
        )
        return found[0] if found else None

    async def list_clients(self) -> list[AgentClient]:
        return await self._all(select(AgentClientRow).order_by(AgentClientRow.id), _client)

    async def set_key(self, client_id: int, key_prefix: str, key_hash: str) -> bool:
        """Replace the client's key (prefix and hash together: the old key stops working with this commit);
        False when there is no such client."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(AgentClientRow)
                .where(AgentClientRow.id == client_id)
                .values(key_prefix=key_prefix, key_hash=key_hash, rotated_at=self._clock())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- bookings --------------------------------------------------------------------------------------

    async def add_booking(self, booking: Booking) -> Booking:
        """Store a new booking; `created_at` and `updated_at` become now."""
        now = self._clock()
        booking = dataclasses.replace(booking, created_at=now, updated_at=now)
        async with self._sessions.begin() as session:
            session.add(AgentBookingRow(**_booking_values(booking)))
        return booking

    async def get_booking(self, booking_id: str) -> Booking | None:
        return await self._get(AgentBookingRow, booking_id, _booking)

    async def booking_of_command(self, command_id: str) -> Booking | None:
        """The booking whose RESERVE_NOW has this command id."""
        stmt = select(AgentBookingRow).where(AgentBookingRow.command_id == command_id)
        found = await self._all(stmt, _booking)
        return found[0] if found else None

    async def find_booking(
        self,
        cpo_id: int,
        driver_token: str,
        location_id: str,
        evse_uid: str,
        statuses: Collection[BookingStatus],
    ) -> Booking | None:
        """The newest booking of that token at that EVSE of that CPO in one of `statuses`."""
        b = AgentBookingRow
        stmt = select(b).where(
            b.cpo_id == cpo_id,
            b.driver_token == driver_token,
            b.location_id == location_id,
            b.evse_uid == evse_uid,
            b.status.in_([str(s) for s in statuses]),
        )
        found = await self._all(stmt.order_by(b.start.desc()).limit(1), _booking)
        return found[0] if found else None

    async def booking_of_session(self, cpo_id: int, session_id: str) -> Booking | None:
        """The booking the CPO's session used."""
        b = AgentBookingRow
        found = await self._all(select(b).where(b.cpo_id == cpo_id, b.session_id == session_id), _booking)
        return found[0] if found else None

    async def count_request(self, client_id: int, month: str) -> int:
        """Count one request of the client in `month` ("YYYY-MM", UTC) and return the month's count so
        far (durable: the monthly quota survives restarts and counts across processes)."""
        u = AgentUsageRow
        stmt = (
            self._insert(u)
            .values(client_id=client_id, month=month, count=1)
            .on_conflict_do_update(index_elements=["client_id", "month"], set_={"count": u.count + 1})
            .returning(u.count)
        )
        async with self._sessions.begin() as session:
            return int((await session.execute(stmt)).scalar_one())

    async def list_bookings(
        self,
        *,
        client_id: int | None = None,
        statuses: Collection[BookingStatus] = (),
        limit: int = 500,
    ) -> list[Booking]:
        """Bookings newest first; of one client, in these statuses, when given."""
        b = AgentBookingRow
        stmt = select(b).order_by(b.created_at.desc(), b.id).limit(limit)
        if client_id is not None:
            stmt = stmt.where(b.client_id == client_id)
        if statuses:
            stmt = stmt.where(b.status.in_([str(s) for s in statuses]))
        return await self._all(stmt, _booking)

    async def claim_reservation(self, booking_id: str, claim: str, stale_before: datetime) -> bool:
        """Mark a REQUESTED booking as having its RESERVE_NOW sent by the caller (`command_id` = `claim`,
        `updated_at` now), unless another sender holds it: a compare-and-set, so of several processes (or
        a create and a tick in one) only one sends. A claim not replaced since `stale_before` (its sender
        died before storing the CPO's answer) can be taken over. True when the caller holds it."""
        b = AgentBookingRow
        stale = b.command_id.like(f"{CLAIM_PREFIX}%") & (b.updated_at < stale_before)
        unclaimed = b.command_id.is_(None) | stale
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(b)
                .where(b.id == booking_id, b.status == str(BookingStatus.REQUESTED), unclaimed)
                .values(command_id=claim, updated_at=self._clock())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def move_booking(self, booking: Booking, expected: Collection[BookingStatus]) -> bool:
        """Write `booking` (its new status and fields) only if the stored one is still in one of `expected`
        (a compare-and-set: two events racing for one booking move it once). `updated_at` becomes now.
        True when written."""
        values = _booking_values(booking) | {"updated_at": self._clock()}
        for key in ("id", "created_at"):
            values.pop(key)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(AgentBookingRow)
                .where(
                    AgentBookingRow.id == booking.id, AgentBookingRow.status.in_([str(s) for s in expected])
                )
                .values(values)
            )
            moved = bool(result.rowcount)  # type: ignore[attr-defined]
        if moved:
            booking.updated_at = values["updated_at"]
        return moved
