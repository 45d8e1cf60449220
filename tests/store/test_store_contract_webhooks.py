"""The `WebhookStore` contract on memory, SQLite and PostgreSQL: webhooks per organization, deliveries in
order, claims that give each due delivery to one node and hold back later deliveries of the same object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.ports import NotFound
from csms.domain.webhooks import DeliveryStatus, WebhookDelivery, WebhookStore
from csms.store.migrate import migrate
from csms.store.sql.webhooks import SqlWebhookStore
from tests.fakes.memory_webhooks import MemoryWebhookStore
from tests.store.conftest import BACKENDS, T0


@pytest.fixture(params=BACKENDS)
def hook_engine(request: pytest.FixtureRequest) -> AsyncEngine | None:
    """The unmigrated engine of each SQL backend, None for memory (resolved in a sync fixture: an async
    fixture cannot start another one mid-setup)."""
    if request.param == "memory":
        return None
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
async def hooks(hook_engine: AsyncEngine | None) -> AsyncIterator[WebhookStore]:
    """An empty webhook store on each backend."""
    if hook_engine is None:
        yield MemoryWebhookStore()
        return
    await migrate(hook_engine)
    yield SqlWebhookStore(hook_engine)


def delivery(webhook_id: int, object_key: str, event_type: str = "session.started") -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=webhook_id, event_id=f"evt_{object_key}_{event_type}", event_type=event_type,
        object_key=object_key, organization_id="default", payload={"n": 1, "cost": "1.20"}, created_at=T0,
    )


async def test_webhooks_are_listed_per_organization_and_deleted_with_their_deliveries(
    hooks: WebhookStore,
) -> None:
    """list_webhooks filters by organization; delete removes the webhook and its deliveries."""
    a = await hooks.add_webhook("default", "http://a/", ["session.started"], "s" * 16, T0)
    b = await hooks.add_webhook("other", "http://b/", ["session.completed"], "t" * 16, T0)
    assert [w.id for w in await hooks.list_webhooks("default")] == [a.id]
    assert [w.id for w in await hooks.list_webhooks()] == [a.id, b.id]
    assert await hooks.get_webhook(a.id) == a
    assert a.events == ("session.started",) and a.secret == "s" * 16
    await hooks.add_deliveries([delivery(a.id, "session:1")])
    await hooks.delete_webhook(a.id)
    assert await hooks.get_webhook(a.id) is None
    assert await hooks.list_deliveries(a.id, 10) == []
    with pytest.raises(NotFound):
        await hooks.delete_webhook(a.id)


async def test_claims_take_the_oldest_pending_delivery_of_each_object_once(hooks: WebhookStore) -> None:
    """A claim takes one delivery per (webhook, object), oldest first; another node gets none of them
    until saved; a retry time in the future holds the object back; saving releases the next."""
    w = await hooks.add_webhook("default", "http://a/", ["session.started"], "s" * 16, T0)
    first = delivery(w.id, "session:1")
    second = delivery(w.id, "session:1", "session.completed")
    other = delivery(w.id, "session:2")
    await hooks.add_deliveries([first, second, other])
    assert first.id is not None and second.id is not None and first.id < second.id
    until = T0 + timedelta(seconds=60)
    claimed = await hooks.claim_deliveries(T0, 10, node_id="n1", until=until)
    assert [d.id for d in claimed] == [first.id, other.id]
    assert claimed[0].payload == {"n": 1, "cost": "1.20"}
    assert await hooks.claim_deliveries(T0, 10, node_id="n2", until=until) == []
    retry = replace(claimed[0], attempts=1, next_attempt_at=T0 + timedelta(seconds=5), response_code=500)
    await hooks.save_delivery(retry)
    assert await hooks.claim_deliveries(T0, 10, node_id="n2", until=until) == []  # retry not due; 2 waits
    [again] = await hooks.claim_deliveries(T0 + timedelta(seconds=5), 10, node_id="n2", until=until)
    assert again.id == first.id and again.attempts == 1 and again.response_code == 500
    await hooks.save_delivery(replace(again, status=DeliveryStatus.DELIVERED, delivered_at=T0))
    [nxt] = await hooks.claim_deliveries(T0 + timedelta(seconds=5), 10, node_id="n2", until=until)
    assert nxt.id == second.id
    # Claims that ran out (n1's of session:2, n2's of session:1) are taken by another node.
    taken = await hooks.claim_deliveries(T0 + timedelta(seconds=61), 10, node_id="n3", until=until)
    assert [d.id for d in taken] == [second.id, other.id]
    listed = await hooks.list_deliveries(w.id, 10)
    assert [d.id for d in listed] == [other.id, second.id, first.id]
    assert listed[2].status is DeliveryStatus.DELIVERED
