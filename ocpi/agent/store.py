"""Where the Agent API keeps client accounts, bookings and the bookings' webhook deliveries: SQL (SQLite and
PostgreSQL), tables `agent_clients`, `agent_bookings` and `agent_webhook_deliveries`
(`ocpi/store/agent_tables.py`, revisions 0020_agent and 0022_agent_webhooks).

Deliveries are claimed as the operator webhooks' are (`csms.store.sql.base.lease`: one UPDATE ... WHERE id
IN (due deliveries, FOR UPDATE SKIP LOCKED on PostgreSQL) RETURNING, which sets a lease (`claimed_by`,
`claimed_until`)), so processes sharing the database each take different deliveries."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from csms.domain.clock import to_utc
from csms.store.sql.base import SqlBase, lease, rowcount
from csms.store.sql.rows import record_of
from ocpi.agent.models import (
    CLAIM_PREFIX,
    AgentClient,
    Booking,
    BookingStatus,
    DeliveryStatus,
    WebhookDelivery,
    booking_json,
)
from ocpi.store.agent_tables import AgentBookingRow, AgentClientRow, AgentUsageRow, AgentWebhookDeliveryRow


def _client(row: AgentClientRow) -> AgentClient:
    return record_of(AgentClient, row, reservation_fee=Decimal(row.reservation_fee),
                     commission_percent=Decimal(row.commission_percent))  # fmt: skip


def _booking(row: AgentBookingRow) -> Booking:
    return record_of(Booking, row, status=BookingStatus(row.status), price=orjson.loads(row.price))


def _delivery(row: AgentWebhookDeliveryRow) -> WebhookDelivery:
    return record_of(WebhookDelivery, row, status=DeliveryStatus(row.status), body=row.body.encode())


def _delivery_row(booking_id: str, client_id: int, body: bytes, now: datetime) -> AgentWebhookDeliveryRow:
    """A pending delivery of `body`, due now."""
    return AgentWebhookDeliveryRow(
        event_id="evt_" + uuid.uuid4().hex,
        booking_id=booking_id,
        client_id=client_id,
        body=body.decode(),
        status=str(DeliveryStatus.PENDING),
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


async def _add_delivery(session: AsyncSession, booking: Booking, now: datetime) -> None:
    """Add, in the caller's transaction, the delivery of `booking` as clients see it (`booking_json`) to
    its client's webhook; nothing when the client has no webhook URL."""
    client = AgentClientRow
    url = await session.scalar(select(client.webhook_url).where(client.id == booking.client_id))
    if url:
        session.add(_delivery_row(booking.id, booking.client_id, orjson.dumps(booking_json(booking)), now))


def _due(d: Any, now: datetime) -> list[ColumnElement[bool]]:
    """A due delivery of the table (or alias) `d`: pending, its time come, not leased (or the lease run out),
    and no earlier pending delivery of its booking (claimed or not): one booking's moves go out in order."""
    at = to_utc(now)
    earlier = aliased(AgentWebhookDeliveryRow)
    blocked = exists().where(
        earlier.booking_id == d.booking_id,
        earlier.status == str(DeliveryStatus.PENDING),
        earlier.id < d.id,
    )
    return [
        d.status == str(DeliveryStatus.PENDING),
        d.next_attempt_at <= at,
        d.claimed_until.is_(None) | (d.claimed_until <= at),
        ~blocked,
    ]


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
        """Store a new booking; `created_at` and `updated_at` become now. Its client's webhook delivery (when
        it has a webhook URL) is stored in the same transaction."""
        now = self._clock()
        booking = dataclasses.replace(booking, created_at=now, updated_at=now)
        async with self._sessions.begin() as session:
            session.add(AgentBookingRow(**_booking_values(booking)))
            await _add_delivery(session, booking, now)
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
            return rowcount(result) > 0

    async def move_booking(self, booking: Booking, expected: Collection[BookingStatus]) -> bool:
        """Write `booking` (its new status and fields) only if the stored one is still in one of `expected`
        (a compare-and-set: two events racing for one booking move it once). `updated_at` becomes now.
        True when written; the move's webhook delivery to the client (when it has a webhook URL) is stored in
        the same transaction, so no move goes unreported."""
        now = self._clock()
        values = _booking_values(booking) | {"updated_at": now}
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
            moved = rowcount(result) > 0
            if moved:
                booking.updated_at = now
                await _add_delivery(session, booking, now)
        return moved

    # -- webhook deliveries ----------------------------------------------------------------------------

    async def add_webhook_delivery(self, booking_id: str, client_id: int, body: bytes) -> WebhookDelivery:
        """Store a pending delivery of `body`, due now (committed on return: it survives a restart).
        `add_booking` and `move_booking` store their own; this is for a delivery of anything else."""
        return _delivery(await self._add(_delivery_row(booking_id, client_id, body, self._clock())))

    async def claim_webhook_deliveries(
        self, now: datetime, limit: int, *, node_id: str, until: datetime
    ) -> list[WebhookDelivery]:
        """Lease up to `limit` due deliveries to `node_id` until `until` (oldest first); another process's
        claim leaves them alone until then."""
        return await lease(
            self._sessions, AgentWebhookDeliveryRow, lambda d: _due(d, now), _delivery,
            limit=limit, node_id=node_id, until=until,
        )  # fmt: skip

    async def settle_webhook_delivery(self, delivery: WebhookDelivery, *, node_id: str) -> bool:
        """Write an attempt's outcome (status, attempts, next_attempt_at, last_error) and end the lease;
        False (nothing written) when `node_id` no longer holds it."""
        d = AgentWebhookDeliveryRow
        stmt = (
            update(d)
            .where(d.id == delivery.id, d.claimed_by == node_id)
            .values(
                status=str(delivery.status),
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_error=delivery.last_error,
                claimed_by=None,
                claimed_until=None,
            )
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) > 0

    async def list_webhook_deliveries(self, booking_id: str) -> list[WebhookDelivery]:
        """A booking's deliveries, oldest first."""
        d = AgentWebhookDeliveryRow
        return await self._all(select(d).where(d.booking_id == booking_id).order_by(d.id), _delivery)
