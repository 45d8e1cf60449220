"""`/webhooks`: create (secret shown once), list and get (masked), delete, deliveries; unknown event types
and other organizations' webhooks are refused; the routes are admin-only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.webhooks import WEBHOOK_STORE, WEBHOOKS_CHANGED
from csms.domain.core import Domain
from csms.domain.webhooks import WebhookDelivery
from ocpi import admin_api
from tests.api.conftest import NOW, NOW_TEXT, ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.memory_webhooks import MemoryWebhookStore

BODY = {"url": "https://example.com/hooks", "events": ["session.started", "session.completed"],
        "secret": "whsec_abcdefghijklmnop"}


@pytest.fixture
def hooks() -> MemoryWebhookStore:
    return MemoryWebhookStore()


@pytest.fixture
async def hook_client(
    domain: Domain, hooks: MemoryWebhookStore
) -> AsyncIterator[tuple[ApiClient, list[int]]]:
    """A client of an app with a webhook store; the list counts change notifications."""
    changes: list[int] = []
    app = create_app(domain, extra_routes=admin_api.ROUTES)
    app[WEBHOOK_STORE] = hooks
    app[WEBHOOKS_CHANGED] = lambda: changes.append(1)
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client, changes
    assert not failures, "\n".join(failures)


async def test_a_webhook_is_created_listed_masked_and_deleted(
    hook_client: tuple[ApiClient, list[int]], auth: dict[str, str], hooks: MemoryWebhookStore
) -> None:
    """POST answers 201 with the secret in full and a Location; later answers mask it; DELETE is 204."""
    client, changes = hook_client
    resp = await client.post("/api/v1/webhooks", json=BODY, headers=auth)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["secret"] == BODY["secret"]
    assert created["events"] == BODY["events"] and created["organization_id"] == "default"
    assert created["created_at"] == NOW_TEXT
    assert resp.headers["Location"] == f"/api/v1/webhooks/{created['id']}"
    listed = await (await client.get("/api/v1/webhooks", headers=auth)).json()
    assert [w["secret"] for w in listed["items"]] == ["****mnop"]
    one = await (await client.get(f"/api/v1/webhooks/{created['id']}", headers=auth)).json()
    assert one["secret"] == "****mnop" and one["url"] == BODY["url"]
    assert hooks.webhooks[created["id"]].secret == BODY["secret"]  # stored as given: it signs
    resp = await client.delete(f"/api/v1/webhooks/{created['id']}", headers=auth)
    assert resp.status == 204
    assert (await error_of(await client.get(f"/api/v1/webhooks/{created['id']}", headers=auth), 404))[
        "code"
    ] == "not_found"
    assert len(changes) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": ["session.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"url": "ftp://example.com"}, "url"),
        ({"secret": "short"}, "secret"),
    ],
)
async def test_invalid_webhooks_are_400_naming_the_field(
    hook_client: tuple[ApiClient, list[int]], auth: dict[str, str], change: dict[str, Any], field: str
) -> None:
    """An unknown event type, no events, a non-http URL or a short secret is 400 naming the field."""
    client, _ = hook_client
    error = await error_of(await client.post("/api/v1/webhooks", json={**BODY, **change}, headers=auth), 400)
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == [field]


async def test_deliveries_show_status_attempts_error_and_times(
    hook_client: tuple[ApiClient, list[int]], auth: dict[str, str], hooks: MemoryWebhookStore
) -> None:
    """GET /webhooks/{id}/deliveries lists the outbox rows of the webhook, newest first."""
    client, _ = hook_client
    webhook = await hooks.add_webhook("default", BODY["url"], ["session.started"], BODY["secret"], NOW)
    await hooks.add_deliveries(
        [
            WebhookDelivery(webhook.id, "evt_1", "session.started", "session:1", "default", {}, NOW),
            WebhookDelivery(
                webhook.id, "evt_2", "session.started", "session:2", "default", {}, NOW, attempts=2,
                last_error="HTTP 500", response_code=500, last_attempt_at=NOW, next_attempt_at=NOW,
            ),
        ]
    )
    resp = await client.get(f"/api/v1/webhooks/{webhook.id}/deliveries", headers=auth)
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert [i["event_id"] for i in items] == ["evt_2", "evt_1"]
    assert items[0] | {"id": 0} == {
        "id": 0, "event_id": "evt_2", "event_type": "session.started", "object_key": "session:2",
        "status": "pending", "attempts": 2, "response_code": 500, "last_error": "HTTP 500",
        "created_at": NOW_TEXT, "last_attempt_at": NOW_TEXT, "next_attempt_at": NOW_TEXT,
        "delivered_at": None,
    }


async def test_another_organizations_webhook_is_404(
    hook_client: tuple[ApiClient, list[int]], auth: dict[str, str], hooks: MemoryWebhookStore
) -> None:
    """A webhook of another organization is neither listed nor readable nor deletable."""
    client, _ = hook_client
    other = await hooks.add_webhook("other-org", BODY["url"], ["session.started"], BODY["secret"], NOW)
    assert (await (await client.get("/api/v1/webhooks", headers=auth)).json())["items"] == []
    for method in ("GET", "DELETE"):
        await error_of(await client.request(method, f"/api/v1/webhooks/{other.id}", headers=auth), 404)
    await error_of(await client.get(f"/api/v1/webhooks/{other.id}/deliveries", headers=auth), 404)
    assert other.id in hooks.webhooks


async def test_webhooks_need_the_admin_role(
    hook_client: tuple[ApiClient, list[int]], role_headers: dict[str, dict[str, str]]
) -> None:
    """Webhooks hold signing secrets: members and viewers get 403."""
    client, _ = hook_client
    for role in ("viewer", "member"):
        await error_of(await client.get("/api/v1/webhooks", headers=role_headers[role]), 403)
        await error_of(await client.post("/api/v1/webhooks", json=BODY, headers=role_headers[role]), 403)


async def test_without_a_webhook_store_the_routes_are_503(client: ApiClient, auth: dict[str, str]) -> None:
    """A server without webhooks answers 503 `webhooks_disabled`."""
    error = await error_of(await client.get("/api/v1/webhooks", headers=auth), 503)
    assert error["code"] == "webhooks_disabled"
