"""`/webhooks`: an organization's webhook endpoints and what was delivered to them (ADR 0011).

The webhooks are the caller's organization's (`org_of`); another organization's webhook is a 404. The
secret is stored as given (each delivery is signed with it, so it cannot be hashed) and shown in full only
in the answer to `POST /webhooks`; every later answer masks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from csms.api import models
from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found, invalid_request, still_there
from csms.api.params import MAX_ID, get_services, int_path_param, int_query, read_model
from csms.api.responses import created, json_response
from csms.api.routes import Operations, Route, param
from csms.api.schemas import WebhookCreate
from csms.domain.clock import isoformat_z
from csms.domain.webhooks import EVENT_TYPES, Webhook, WebhookDelivery, WebhookStore

# The webhook store, set by the composition root (`csms.app`); without it the routes answer 503.
WEBHOOK_STORE: web.AppKey[WebhookStore] = web.AppKey("webhook_store")
# Called after a webhook is created or deleted, so this process's feeder reads them again at once.
WEBHOOKS_CHANGED: web.AppKey[Callable[[], None]] = web.AppKey("webhooks_changed")

ITEM = "/webhooks/{webhook_id}"
WEBHOOK_ID = {
    "webhook_id": param("webhook_id", "path", {"type": "integer", "minimum": 0}, "the webhook's id")
}
Q_DELIVERY_LIMIT = param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "at most this many"
)
api = Operations(path_parameters=WEBHOOK_ID, role=Role.ADMIN)


def _store(request: web.Request) -> WebhookStore:
    store = request.config_dict.get(WEBHOOK_STORE)
    if store is None:
        raise ApiError(503, "webhooks_disabled", "webhooks are not enabled on this server")
    return store


def _changed(request: web.Request) -> None:
    notify = request.config_dict.get(WEBHOOKS_CHANGED)
    if notify is not None:
        notify()


def mask(secret: str) -> str:
    """The secret as later answers show it: `****` and its last four characters."""
    return "****" + secret[-4:]


def webhook_json(webhook: Webhook, *, reveal: bool = False) -> dict[str, Any]:
    """A webhook as the API shows it (the secret masked unless `reveal`)."""
    return {
        "id": webhook.id,
        "organization_id": webhook.organization_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "secret": webhook.secret if reveal else mask(webhook.secret),
        "created_at": isoformat_z(webhook.created_at),
    }


def _time(value: Any) -> str | None:
    return None if value is None else isoformat_z(value)


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    """A delivery as the API shows it."""
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "object_key": d.object_key,
        "status": str(d.status),
        "attempts": d.attempts,
        "response_code": d.response_code,
        "last_error": d.last_error,
        "created_at": isoformat_z(d.created_at),
        "last_attempt_at": _time(d.last_attempt_at),
        "next_attempt_at": _time(d.next_attempt_at),
        "delivered_at": _time(d.delivered_at),
    }


async def _own_webhook(request: web.Request) -> Webhook:
    """The path's webhook if it is the caller's organization's (else 404, never another's)."""
    webhook_id = int_path_param(request, "webhook_id")
    webhook = await _store(request).get_webhook(webhook_id) if webhook_id <= MAX_ID else None
    if webhook is not None and webhook.organization_id != org_of(request):
        webhook = None
    return found(webhook, f"webhook {webhook_id}")


@api("GET", "/webhooks", {200: models.WebhookList}, errors=(503,))
async def handle_list_webhooks(request: web.Request) -> web.Response:
    """List the organization's webhooks.

    `GET /webhooks`: the caller's organization's webhooks, oldest first, secrets masked."""
    webhooks = await _store(request).list_webhooks(org_of(request))
    return json_response({"items": [webhook_json(w) for w in webhooks]})


@api("POST", "/webhooks", {201: models.Webhook}, errors=(400, 503), body=WebhookCreate,
     description="Event types: " + ", ".join(EVENT_TYPES) + ". The answer is the only one that shows "
                 "the secret in full. Deliveries are POSTed as JSON `{id, type, created_at, "
                 "organization_id, data}` with `X-Webhook-Id`, `X-Webhook-Timestamp` (unix seconds) and "
                 "`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" keyed with the "
                 "secret>`.")
async def handle_create_webhook(request: web.Request) -> web.Response:
    """Create a webhook.

    `POST /webhooks` `{url, events, secret}`: 201 with the webhook, its secret in full this once.

    Errors: 400 (an unknown event type names `events`).
    """
    store = _store(request)
    body = await read_model(request, WebhookCreate)
    unknown = sorted(set(body.events) - set(EVENT_TYPES))
    if unknown:
        raise invalid_request("events", f"unknown event type(s) {', '.join(unknown)}")
    events = list(dict.fromkeys(body.events))  # repeats dropped, order kept
    services = get_services(request)
    webhook = await store.add_webhook(org_of(request), body.url, events, body.secret, services.clock())
    _changed(request)
    return created(request, webhook_json(webhook, reveal=True), "webhook", webhook_id=str(webhook.id))


@api("GET", ITEM, {200: models.Webhook}, errors=(400, 404, 503), name="webhook")
async def handle_get_webhook(request: web.Request) -> web.Response:
    """One webhook.

    `GET /webhooks/{webhook_id}`: the webhook, secret masked; 404 when unknown or another organization's."""
    return json_response(webhook_json(await _own_webhook(request)))


@api("DELETE", ITEM, {204: None}, errors=(400, 404, 503))
async def handle_delete_webhook(request: web.Request) -> web.Response:
    """Delete a webhook.

    `DELETE /webhooks/{webhook_id}`: 204; its pending deliveries are dropped with it."""
    webhook = await _own_webhook(request)
    with still_there(f"webhook {webhook.id}"):
        await _store(request).delete_webhook(webhook.id)
    _changed(request)
    return web.Response(status=204)


@api("GET", ITEM + "/deliveries", {200: models.WebhookDeliveryList}, errors=(400, 404, 503),
     query=(Q_DELIVERY_LIMIT,))
async def handle_list_webhook_deliveries(request: web.Request) -> web.Response:
    """List a webhook's deliveries.

    `GET /webhooks/{webhook_id}/deliveries?limit=`: newest first, with status, attempts, the last error and
    response code, and their times."""
    webhook = await _own_webhook(request)
    limit = int_query(request, "limit", maximum=500) or 50
    deliveries = await _store(request).list_deliveries(webhook.id, limit)
    return json_response({"items": [delivery_json(d) for d in deliveries]})


ROUTES: tuple[Route, ...] = tuple(api.routes)
