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

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found, invalid_request
from csms.api.params import MAX_ID, get_services, int_path_param, page_params
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Route
from csms.api.serialize import timestamp
from ocpi.admin_api import models
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import cursor_number, read_exact_model
from ocpi.agent.accounts import AccountError, add_client, rotate_key
from ocpi.agent.models import AgentClient
from ocpi.agent.store import SqlAgentStore

ITEM = "/agent-clients/{client_id}"
CENT = Decimal("0.01")
api = operations()


@dataclass(frozen=True, slots=True)
class AgentAccounts:
    """What the routes need: the Agent API's store and the organization its accounts belong to."""

    store: SqlAgentStore
    org_id: str  # `[emsp] org_id`


AGENT_ACCOUNTS: web.AppKey[AgentAccounts] = web.AppKey("agent_accounts")


def install(app: web.Application, accounts: AgentAccounts) -> None:
    """Give the routes the Agent API's accounts (the composition root does, when `[emsp] enabled`)."""
    app[AGENT_ACCOUNTS] = accounts


def _accounts(request: web.Request) -> AgentAccounts:
    accounts = request.config_dict.get(AGENT_ACCOUNTS)
    if accounts is None:
        raise ApiError(503, "agent_disabled", "the eMSP role and its Agent API are not enabled here")
    return accounts


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


async def _client_of_caller(request: web.Request, accounts: AgentAccounts) -> AgentClient:
    client_id = int_path_param(request, "client_id")
    client = None
    # Another organization's caller sees none: 404, never 403 (as for every resource of the API).
    if org_of(request) == accounts.org_id and client_id <= MAX_ID:
        client = await accounts.store.get_client(client_id)
    return found(client, f"agent client {client_id}")


@api("GET", "/agent-clients", {200: models.AgentClientPage}, errors=(400, 503), query=PAGE)
async def handle_list_agent_clients(request: web.Request) -> web.Response:
    """The booking Agent API's client accounts (never their keys).

    `GET /agent-clients?limit=&cursor=`: by id, with fees, quota and webhook URL; empty for an organization
    other than the eMSP role's."""
    accounts = _accounts(request)
    page = page_params(request)
    after = cursor_number(page)
    clients = []
    if org_of(request) == accounts.org_id:
        clients = [c for c in await accounts.store.list_clients() if c.id > after]
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
    accounts = _accounts(request)
    if org_of(request) != accounts.org_id:
        raise ApiError(
            403, "not_emsp_organization", "Agent API clients belong to the eMSP role's organization"
        )
    body = await read_exact_model(request, models.AgentClientCreate)  # exact decimals: fees are money
    config = get_services(request).config
    try:
        client, key = await add_client(
            accounts.store,
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
    accounts = _accounts(request)
    return json_response(agent_client_json(await _client_of_caller(request, accounts)))


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
    accounts = _accounts(request)
    client = await _client_of_caller(request, accounts)
    rounds = get_services(request).config.security.bcrypt_rounds
    key = await rotate_key(accounts.store, client.id, bcrypt_rounds=rounds)
    rotated = await accounts.store.get_client(client.id) if key is not None else None
    if key is None or rotated is None:  # removed in between
        raise ApiError(404, "not_found", f"agent client {client.id} not found")
    return json_response(agent_client_json(rotated, key))


ROUTES: tuple[Route, ...] = tuple(api.routes)
