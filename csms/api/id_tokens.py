"""`/id-tokens`: register, list, show, change and delete the id tokens the CSMS authorizes."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from csms.api import models
from csms.api.errors import already_exists, found, still_there
from csms.api.params import cursor_errors, get_services, page_params, read_model
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Route, route
from csms.api.schemas import IdTokenCreate, IdTokenUpdate
from csms.api.serialize import id_token_json
from csms.domain.clock import to_utc
from csms.domain.ports import AlreadyExists


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
    token = found(await services.store.get_id_token(id_token), f"id token {id_token!r}")
    return json_response(id_token_json(token))


async def handle_create_id_token(request: web.Request) -> web.Response:
    """`POST /id-tokens`: register an id token; 201 with it, 409 `conflict` when it already exists."""
    services = get_services(request)
    body = await read_model(request, IdTokenCreate)
    try:
        stored = await services.store.add_id_token(body.to_id_token(services.clock()))
    except AlreadyExists:
        raise already_exists(f"id token {body.id_token!r}") from None
    return created(request, id_token_json(stored), "id_token", id_token=stored.id_token)


async def handle_update_id_token(request: web.Request) -> web.Response:
    """`PATCH /id-tokens/{id_token}` `{type?, status?, expiry_date?, group_id_token?}`: 200 with the token;
    `null` clears `expiry_date` or `group_id_token`; 404 when unknown. The next authorization of the token
    uses the new values."""
    services = get_services(request)
    body = await read_model(request, IdTokenUpdate)
    given = body.model_fields_set
    id_token = request.match_info["id_token"]
    token = found(await services.store.get_id_token(id_token), f"id token {id_token!r}")
    updated = replace(token, updated_at=services.clock())
    if "type" in given:
        updated.type = str(body.type)
    if "status" in given:
        updated.status = body.status
    if "expiry_date" in given:
        updated.expiry_date = None if body.expiry_date is None else to_utc(body.expiry_date)
    if "group_id_token" in given:
        updated.group_id_token = body.group_id_token
    with still_there(f"id token {id_token!r}"):  # unless deleted in between
        await services.store.update_id_token(updated)
    return json_response(id_token_json(updated))


async def handle_delete_id_token(request: web.Request) -> web.Response:
    """`DELETE /id-tokens/{id_token}`: 204; the token is unknown (not authorized) from then on; 404 when
    unknown. Sessions and reservations that name it keep it as history."""
    services = get_services(request)
    id_token = request.match_info["id_token"]
    with still_there(f"id token {id_token!r}"):
        await services.store.delete_id_token(id_token)
    return web.Response(status=204)


ITEM = "/id-tokens/{id_token}"
ROUTES: tuple[Route, ...] = (
    route(
        "GET",
        "/id-tokens",
        handle_list_id_tokens,
        "List id tokens, ordered by token",
        {200: models.IdTokenPage},
        errors=(400,),
        query=PAGE,
    ),
    route(
        "POST",
        "/id-tokens",
        handle_create_id_token,
        "Register an id token",
        {201: models.IdToken},
        errors=(400, 409),
        body=IdTokenCreate,
    ),
    route(
        "GET",
        ITEM,
        handle_get_id_token,
        "One id token",
        {200: models.IdToken},
        errors=(404,),
        name="id_token",
    ),
    route(
        "PATCH",
        ITEM,
        handle_update_id_token,
        "Change an id token",
        {200: models.IdToken},
        errors=(400, 404),
        body=IdTokenUpdate,
    ),
    route("DELETE", ITEM, handle_delete_id_token, "Delete an id token", {204: None}, errors=(404,)),
)
