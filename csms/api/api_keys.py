"""`/api-keys`: the caller's organization's API keys, listed, created, revoked and rotated (admins only).

A key's secret is shown once, in the answer that created or rotated it; only its bcrypt hash is stored. A
revoked key (deleted) and the old secret of a rotated key (its prefix no longer exists) are refused from the
next request on. Another organization's key is 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.api import org_models
from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, still_there
from csms.api.organizations import IDENTITY_PATH_PARAMETERS, id_param
from csms.api.params import get_services, read_model
from csms.api.responses import created, json_response
from csms.api.routes import Operations, Route
from csms.api.serialize import timestamp
from csms.domain.models import ApiKey
from csms.domain.ports import AlreadyExists
from csms.domain.secrets import hash_secret_async, new_api_key

ITEM = "/api-keys/{key_id}"
api = Operations(path_parameters=IDENTITY_PATH_PARAMETERS, role=Role.ADMIN)


def api_key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    """The API form of a key; `secret` (the whole key) only right after creating or rotating it."""
    data: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "org_id": key.org_id,
        "created_at": timestamp(key.created_at),
    }
    if secret is not None:
        data["key"] = secret
    return data


def _prefix_taken() -> ApiError:
    # Two random 32-bit prefixes collided; nothing was changed, trying again works.
    return ApiError(409, "conflict", "the generated key prefix is in use; try again")


async def _key_of_caller(request: web.Request) -> ApiKey:
    services = get_services(request)
    key_id = id_param(request, "key_id", "API key")
    key = await services.store.get_api_key(key_id)
    if key is None or key.org_id != org_of(request):
        raise ApiError(404, "not_found", f"API key {key_id} not found")
    return key


@api("GET", "/api-keys", {200: org_models.ApiKeyList})
async def handle_list_api_keys(request: web.Request) -> web.Response:
    """List the organization's API keys.

    `GET /api-keys`: every key of the caller's organization, by id (never their secrets)."""
    services = get_services(request)
    keys = await services.store.list_api_keys(org_of(request))
    return json_response({"items": [api_key_json(k) for k in keys]})


@api("POST", "/api-keys", {201: org_models.ApiKeyCreated}, errors=(400, 409), body=org_models.ApiKeyCreate)
async def handle_create_api_key(request: web.Request) -> web.Response:
    """Create an API key.

    `POST /api-keys` {name, role}: 201 with the key in `key`, shown this once."""
    services = get_services(request)
    body = await read_model(request, org_models.ApiKeyCreate)
    secret, prefix = new_api_key()
    key_hash = await hash_secret_async(secret, services.config.security.bcrypt_rounds)
    try:
        key = await services.store.add_api_key(body.name, prefix, key_hash, body.role, org_of(request))
    except AlreadyExists:
        raise _prefix_taken() from None
    return created(request, api_key_json(key, secret), "api_key", key_id=str(key.id))


@api("GET", ITEM, {200: org_models.ApiKey}, errors=(400, 404), name="api_key")
async def handle_get_api_key(request: web.Request) -> web.Response:
    """One API key.

    `GET /api-keys/{key_id}`: the key (never its secret)."""
    return json_response(api_key_json(await _key_of_caller(request)))


@api("DELETE", ITEM, {204: None}, errors=(400, 404))
async def handle_revoke_api_key(request: web.Request) -> web.Response:
    """Revoke an API key.

    `DELETE /api-keys/{key_id}`: 204; the key is refused from the next request on (also the caller's own)."""
    services = get_services(request)
    key = await _key_of_caller(request)
    with still_there(f"API key {key.id}"):
        await services.store.delete_api_key(key.id)
    return web.Response(status=204)


@api("POST", f"{ITEM}/rotate", {200: org_models.ApiKeyCreated}, errors=(400, 404, 409))
async def handle_rotate_api_key(request: web.Request) -> web.Response:
    """Rotate an API key's secret.

    `POST /api-keys/{key_id}/rotate`: the key with a new secret in `key`, shown this once; the old secret
    is refused from the next request on. Name, role and id stay."""
    services = get_services(request)
    key = await _key_of_caller(request)
    secret, prefix = new_api_key()
    key_hash = await hash_secret_async(secret, services.config.security.bcrypt_rounds)
    try:
        with still_there(f"API key {key.id}"):
            rotated = await services.store.replace_api_key_secret(key.id, prefix, key_hash)
    except AlreadyExists:
        raise _prefix_taken() from None
    return json_response(api_key_json(rotated, secret))


ROUTES: tuple[Route, ...] = tuple(api.routes)
