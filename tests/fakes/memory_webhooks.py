"""`MemoryWebhookStore`: the `WebhookStore` in memory, for API and worker tests (ADR 0005)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from csms.domain.ports import NotFound
from csms.domain.webhooks import DeliveryStatus, Webhook, WebhookDelivery


class MemoryWebhookStore:
    """Webhooks and deliveries in dicts; the semantics of `SqlWebhookStore`."""

    def __init__(self) -> None:
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: dict[int, WebhookDelivery] = {}
        self._next_webhook = 1
        self._next_delivery = 1

    async def add_webhook(
        self, organization_id: str, url: str, events: Collection[str], secret: str, created_at: datetime
    ) -> Webhook:
        webhook = Webhook(self._next_webhook, organization_id, url, tuple(events), secret, created_at)
        self._next_webhook += 1
        self.webhooks[webhook.id] = webhook
        return webhook

    async def get_webhook(self, webhook_id: int) -> Webhook | None:
        return self.webhooks.get(webhook_id)

    async def list_webhooks(self, organization_id: str | None = None) -> list[Webhook]:
        return [w for w in self.webhooks.values() if organization_id in (None, w.organization_id)]

    async def delete_webhook(self, webhook_id: int) -> None:
        if self.webhooks.pop(webhook_id, None) is None:
            raise NotFound(f"webhook {webhook_id} not found")
        for key in [k for k, d in self.deliveries.items() if d.webhook_id == webhook_id]:
            del self.deliveries[key]

    async def add_deliveries(self, deliveries: Collection[WebhookDelivery]) -> None:
        for d in deliveries:
            d.id = self._next_delivery
            self._next_delivery += 1
            self.deliveries[d.id] = replace(d)

    async def list_deliveries(self, webhook_id: int, limit: int) -> list[WebhookDelivery]:
        mine = [replace(d) for d in self.deliveries.values() if d.webhook_id == webhook_id]
        return sorted(mine, key=lambda d: d.id or 0, reverse=True)[:limit]

    async def claim_deliveries(
        self, now: datetime, limit: int, *, node_id: str, until: datetime
    ) -> list[WebhookDelivery]:
        blocked: set[tuple[int, str]] = set()
        claimed: list[WebhookDelivery] = []
        for d in sorted(self.deliveries.values(), key=lambda d: d.id or 0):
            if d.status is not DeliveryStatus.PENDING:
                continue
            key = (d.webhook_id, d.object_key)
            if key in blocked:
                continue
            blocked.add(key)
            due = d.next_attempt_at is None or d.next_attempt_at <= now
            free = d.claimed_until is None or d.claimed_until <= now
            if due and free and len(claimed) < limit:
                d.claimed_by, d.claimed_until = node_id, until
                claimed.append(replace(d))
        return claimed

    async def save_delivery(self, delivery: WebhookDelivery) -> None:
        if delivery.id not in self.deliveries:
            raise NotFound(f"webhook delivery {delivery.id} not found")
        self.deliveries[delivery.id] = replace(delivery, claimed_by=None, claimed_until=None)
