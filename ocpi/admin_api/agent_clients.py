"""`/agent-clients`: the booking Agent API's client accounts (ADR 0024), the operator API's counterpart of
`csms agent client add|rotate|list`.

The accounts belong to the eMSP role, which serves one organization (`[emsp] org_id`): only that
organization's callers see them (any role may list and read; admins create and rotate). Another
organization's list is empty, an account named by id is 404 to it, and creating one is 403
`not_emsp_organization`. Without the eMSP role every route answers 503 `agent_disabled`.

A key is shown once, in the answer that created or rotated it; only its bcrypt hash is stored. Rotating
replaces prefix and hash in one UPDATE, so the old key is refused from the next request on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from csms.api.auth import Role
from csms.api.errors import ApiError, found, invalid_request
from csms.api.params import get_services, page_params
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Route
from csms.api.serialize import timestamp
from ocpi.admin_api import models
from ocpi.admin_api.emsp_scope import EmspAdmin, emsp_admin, require_served, served, served_id
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import cursor_number, read_exact_model
from ocpi.agent.accounts import AccountError, add_client, rotate_key
from ocpi.agent.models import AgentClient

ITEM = "/agent-clients/{client_id}"
CENT = Decimal("0.01")
api = operations()


def _admin(request: web.Request) -> EmspAdmin:
    return emsp_admin(request, "agent_disabled", "the eMSP role and its Agent API are")


def agent_client_json(client: AgentClient, key: str | None = None) -> dict[str, Any]:
    """The API form of a client account; `key` only right after creating or rotating it."""
    data: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "key_prefix": client.key_prefix,
        "reservation_fee": str(client.reservation_fee.quantize(CENT)),  # EUR, in cents
        "commission_percent": format(client.commission_percent.normalize(), "f"),
        "monthly_quota": client.monthly_quota,
        "webhook_url": client.webhook_url,
        "webhook_signed": client.webhook_secret is not None,
        "created_at": timestamp(client.created_at),
        "rotated_at": timestamp(client.rotated_at),
    }
    if key is not None:
        data["key"] = key
    return data


async def _client_of_caller(request: web.Request, admin: EmspAdmin) -> AgentClient:
    client_id = served_id(request, admin, "client_id")
    client = None if client_id is None else await admin.agent_store.get_client(client_id)
    return found(client, f"agent client {request.match_info['client_id']}")


@api("GET", "/agent-clients", {200: models.AgentClientPage}, errors=(400, 503), query=PAGE)
async def handle_list_agent_clients(request: web.Request) -> web.Response:
    """The booking Agent API's client accounts (never their keys).

    `GET /agent-clients?limit=&cursor=`: by id, with fees, quota and webhook URL; empty for an organization
    other than the eMSP role's."""
    admin = _admin(request)
    page = page_params(request)
    after = cursor_number(page)
    clients = []
    if served(request, admin):
        clients = [c for c in await admin.agent_store.list_clients() if c.id > after]
    items = clients[: page.limit]
    next_cursor = str(items[-1].id) if len(clients) > page.limit else None
    return page_response(request, [agent_client_json(c) for c in items], next_cursor, page.limit)


@api(
    "POST",
    "/agent-clients",
    {201: models.AgentClientCreated},
    errors=(400, 403, 503),
    role=Role.ADMIN,
    body=models.AgentClientCreate,
    description="201 with the client's key in `key`, shown this once (only its bcrypt hash is stored). "
    "403 `not_emsp_organization` unless the caller's organization is `[emsp] org_id`.",
)
async def handle_create_agent_client(request: web.Request) -> web.Response:
    """Create a client account of the booking Agent API.

    `POST /agent-clients` {name, reservation_fee, commission_percent, monthly_quota, webhook_url,
    webhook_secret}: 201 with the account and its key, as `csms agent client add` prints it. A webhook URL
    naming a non-public address is refused unless `[agent] allow_private_webhook_addresses`."""
    admin = _admin(request)
    require_served(request, admin, "Agent API clients")
    body = await read_exact_model(request, models.AgentClientCreate)  # exact decimals: fees are money
    config = get_services(request).config
    try:
        client, key = await add_client(
            admin.agent_store,
            name=body.name,
            reservation_fee=body.reservation_fee,
            commission_percent=body.commission_percent,
            monthly_quota=body.monthly_quota,
            webhook_url=body.webhook_url,
            webhook_secret=body.webhook_secret,
            allow_private_addresses=config.agent.allow_private_webhook_addresses,
            bcrypt_rounds=config.security.bcrypt_rounds,
        )
    except AccountError as exc:
        raise invalid_request(exc.field, exc.reason) from None
    return created(request, agent_client_json(client, key), "agent_client", client_id=str(client.id))


@api("GET", ITEM, {200: models.AgentClient}, errors=(400, 404, 503), name="agent_client")
async def handle_get_agent_client(request: web.Request) -> web.Response:
    """One client account of the booking Agent API.

    `GET /agent-clients/{client_id}`: the account (never its key)."""
    admin = _admin(request)
    return json_response(agent_client_json(await _client_of_caller(request, admin)))


@api(
    "POST",
    f"{ITEM}/rotate",
    {200: models.AgentClientCreated},
    errors=(400, 404, 503),
    role=Role.ADMIN,
    description="The old key is refused from the next request on; the new one is in `key`, shown this once.",
)
async def handle_rotate_agent_client_key(request: web.Request) -> web.Response:
    """Replace a client's key.

    `POST /agent-clients/{client_id}/rotate`: the account with its new key, as `csms agent client rotate`
    prints it; name, fees and quota stay."""
    admin = _admin(request)
    client = await _client_of_caller(request, admin)
    rounds = get_services(request).config.security.bcrypt_rounds
    key = await rotate_key(admin.agent_store, client.id, bcrypt_rounds=rounds)
    rotated = await admin.agent_store.get_client(client.id) if key is not None else None
    if key is None or rotated is None:  # removed in between
        raise ApiError(404, "not_found", f"agent client {client.id} not found")
    return json_response(agent_client_json(rotated, key))


ROUTES: tuple[Route, ...] = tuple(api.routes)
