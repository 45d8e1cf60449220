"""`/id-tokens`: register, list, show, change and delete the id tokens the CSMS authorizes."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from csms.api import models
from csms.api.auth import Role
from csms.api.errors import ApiError, not_found
from csms.api.params import cursor_errors, get_services, page_params, read_model
from csms.api.responses import json_response, page_response
from csms.api.routes import (
    LINK_HEADER,
    LOCATION_HEADER,
    P_ID_TOKEN,
    PAGE,
    Route,
)
from csms.api.schemas import IdTokenCreate, IdTokenUpdate
from csms.api.serialize import id_token_json
from csms.domain.clock import to_utc
from csms.domain.ports import AlreadyExists, NotFound


async def handle_list_id_tokens(request: web.Request) -> web.Response:
    """`GET /id-tokens?limit=&cursor=`: a page of id tokens ordered by `id_token`."""
    services = get_services(request)
    page = page_params(request)
    with cursor_errors(page):
        tokens, next_cursor = await services.store.list_id_tokens(limit=page.limit, cursor=page.cursor)
    return page_response(request, [id_token_json(t) for t in tokens], next_cursor, page.limit)


async def handle_get_id_token(request: web.Request) -> web.Response:
    """`GET /id-tokens/{id_token}`: one id token; 404 when unknown."""
    services = get_services(request)
    id_token = request.match_info["id_token"]
    token = await services.store.get_id_token(id_token)
    if token is None:
        raise not_found(f"id token {id_token!r}")
    return json_response(id_token_json(token))


async def handle_create_id_token(request: web.Request) -> web.Response:
    """`POST /id-tokens`: register an id token; 201 with it, 409 `conflict` when it already exists."""
    services = get_services(request)
    body = await read_model(request, IdTokenCreate)
    try:
        stored = await services.store.add_id_token(body.to_id_token(services.clock()))
    except AlreadyExists:
        raise ApiError(409, "conflict", f"id token {body.id_token!r} already exists") from None
    location = request.app.router["id_token"].url_for(id_token=stored.id_token)
    return json_response(id_token_json(stored), status=201, headers={"Location": str(location)})


async def handle_update_id_token(request: web.Request) -> web.Response:
    """`PATCH /id-tokens/{id_token}` `{type?, status?, expiry_date?, group_id_token?}`: 200 with the token;
    `null` clears `expiry_date` or `group_id_token`; 404 when unknown. The next authorization of the token
    uses the new values."""
    services = get_services(request)
    body = await read_model(request, IdTokenUpdate)
    given = body.model_fields_set
    id_token = request.match_info["id_token"]
    token = await services.store.get_id_token(id_token)
    if token is None:
        raise not_found(f"id token {id_token!r}")
    updated = replace(token, updated_at=services.clock())
    if "type" in given:
        updated.type = str(body.type)
    if "status" in given:
        updated.status = body.status
    if "expiry_date" in given:
        updated.expiry_date = None if body.expiry_date is None else to_utc(body.expiry_date)
    if "group_id_token" in given:
        updated.group_id_token = body.group_id_token
    try:
        await services.store.update_id_token(updated)
    except NotFound:  # deleted in between
        raise not_found(f"id token {id_token!r}") from None
    return json_response(id_token_json(updated))


async def handle_delete_id_token(request: web.Request) -> web.Response:
    """`DELETE /id-tokens/{id_token}`: 204; the token is unknown (not authorized) from then on; 404 when
    unknown. Sessions and reservations that name it keep it as history."""
    services = get_services(request)
    id_token = request.match_info["id_token"]
    try:
        await services.store.delete_id_token(id_token)
    except NotFound:
        raise not_found(f"id token {id_token!r}") from None
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/id-tokens",
        handle_list_id_tokens,
        "listIdTokens",
        "List id tokens, ordered by token",
        Role.VIEWER,
        ok={200: models.IdTokenPage},
        errors=(400,),
        parameters=[*PAGE],
        headers={200: LINK_HEADER},
        name="id_tokens",
    ),
    Route(
        "POST",
        "/id-tokens",
        handle_create_id_token,
        "createIdToken",
        "Register an id token",
        Role.MEMBER,
        ok={201: models.IdToken},
        errors=(400, 409),
        body=IdTokenCreate,
        headers={201: LOCATION_HEADER},
    ),
    Route(
        "GET",
        "/id-tokens/{id_token}",
        handle_get_id_token,
        "getIdToken",
        "One id token",
        Role.VIEWER,
        ok={200: models.IdToken},
        errors=(404,),
        parameters=[P_ID_TOKEN],
        name="id_token",
    ),
    Route(
        "PATCH",
        "/id-tokens/{id_token}",
        handle_update_id_token,
        "updateIdToken",
        "Change an id token",
        Role.MEMBER,
        ok={200: models.IdToken},
        errors=(400, 404),
        parameters=[P_ID_TOKEN],
        body=IdTokenUpdate,
    ),
    Route(
        "DELETE",
        "/id-tokens/{id_token}",
        handle_delete_id_token,
        "deleteIdToken",
        "Delete an id token",
        Role.MEMBER,
        ok={204: None},
        errors=(404,),
        parameters=[P_ID_TOKEN],
    ),
)
