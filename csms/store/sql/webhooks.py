"""`SqlWebhookStore`: webhooks and their delivery outbox (`csms.domain.webhooks.WebhookStore`), in the CSMS
database on the `SqlStore`'s engine (tables of revision 0007_webhooks).

Claims work like the OCPI outbox's (`ocpi/store/sql.py`): one UPDATE ... WHERE id IN (due deliveries)
RETURNING, the due ones selected FOR UPDATE SKIP LOCKED on PostgreSQL, so nodes sharing the database each
take different deliveries; SQLite runs one writer at a time.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, delete, select, update

from csms.domain.clock import to_utc
from csms.domain.ports import NotFound
from csms.domain.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from csms.store.sql.base import SqlBase, lease, rowcount
from csms.store.sql.outbox import due
from csms.store.tables import WebhookDeliveryRow, WebhookRow

__all__ = ["SqlWebhookStore"]

_UNCLAIMED: dict[str, Any] = {"claimed_by": None, "claimed_until": None}


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        organization_id=row.organization_id,
        url=row.url,
        events=tuple(orjson.loads(row.events)),
        secret=row.secret,
        created_at=to_utc(row.created_at),
    )


def _delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        event_type=row.event_type,
        object_key=row.object_key,
        organization_id=row.organization_id,
        payload=orjson.loads(row.payload),
        created_at=to_utc(row.created_at),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        response_code=row.response_code,
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
    )


def _progress(delivery: WebhookDelivery) -> dict[str, Any]:
    """The columns a delivery attempt changes."""
    return {
        "status": str(delivery.status),
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "delivered_at": delivery.delivered_at,
        "last_error": delivery.last_error,
        "response_code": delivery.response_code,
    }


def _due(d: Any, now: datetime) -> list[ColumnElement[bool]]:
    """A due delivery of the table (or alias) `d`, in order per (webhook, object_key)."""
    return due(WebhookDeliveryRow, d, "webhook_id", str(DeliveryStatus.PENDING), now)


class SqlWebhookStore(SqlBase):
    """The `WebhookStore` on SQLAlchemy async. Share the engine of the `SqlStore`
    (`SqlWebhookStore(store.engine)`) and never `close` this one: the `SqlStore` disposes of the engine."""

    async def add_webhook(
        self, organization_id: str, url: str, events: Collection[str], secret: str, created_at: datetime
    ) -> Webhook:
        row = WebhookRow(
            organization_id=organization_id,
            url=url,
            events=orjson.dumps(list(events)).decode(),
            secret=secret,
            created_at=created_at,
        )
        return _webhook(await self._add(row))

    async def get_webhook(self, webhook_id: int) -> Webhook | None:
        return await self._get(WebhookRow, webhook_id, _webhook)

    async def list_webhooks(self, organization_id: str | None = None) -> list[Webhook]:
        stmt = select(WebhookRow).order_by(WebhookRow.id)
        if organization_id is not None:
            stmt = stmt.where(WebhookRow.organization_id == organization_id)
        return await self._all(stmt, _webhook)

    async def delete_webhook(self, webhook_id: int) -> None:
        """Delete the webhook and its deliveries (explicitly: SQLite may run without foreign keys).

        Raises:
            NotFound: no such webhook.
        """
        async with self._sessions.begin() as session:
            d = WebhookDeliveryRow
            await session.execute(delete(d).where(d.webhook_id == webhook_id))
            result = await session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))
            if rowcount(result) == 0:
                raise NotFound(f"webhook {webhook_id} not found")

    async def add_deliveries(self, deliveries: Collection[WebhookDelivery]) -> None:
        """INSERT the deliveries in one transaction, in order (ids ascending as given)."""
        if not deliveries:
            return
        async with self._sessions.begin() as session:
            for d in deliveries:
                row = WebhookDeliveryRow(
                    webhook_id=d.webhook_id,
                    event_id=d.event_id,
                    event_type=d.event_type,
                    object_key=d.object_key,
                    organization_id=d.organization_id,
                    payload=orjson.dumps(d.payload).decode(),
                    created_at=d.created_at,
                    **_progress(d),
                    **_UNCLAIMED,
                )
                session.add(row)
                await session.flush()  # one INSERT at a time: the ids follow the event order
                d.id = row.id

    async def list_deliveries(self, webhook_id: int, limit: int) -> list[WebhookDelivery]:
        d = WebhookDeliveryRow
        stmt = select(d).where(d.webhook_id == webhook_id).order_by(d.id.desc()).limit(max(limit, 0))
        return await self._all(stmt, _delivery)

    async def claim_deliveries(
        self, now: datetime, limit: int, *, node_id: str, until: datetime
    ) -> list[WebhookDelivery]:
        return await lease(
            self._sessions, WebhookDeliveryRow, lambda d: _due(d, now), _delivery,
            limit=limit, node_id=node_id, until=until,
        )  # fmt: skip

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        """Raises NotFound when the delivery is gone (its webhook deleted meanwhile)."""
        d = WebhookDeliveryRow
        stmt = update(d).where(d.id == delivery.id).values(**_progress(delivery), **_UNCLAIMED)
        await self._change(stmt, f"webhook delivery {delivery.id} not found")
