"""`/id-tokens`: register, list, show, change and delete the id tokens the CSMS authorizes."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.errors import already_exists, found, still_there
from csms.api.params import cursor_errors, get_services, page_params, read_model
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Operations, Route
from csms.api.schemas import IdTokenCreate, IdTokenUpdate
from csms.api.serialize import id_token_json
from csms.domain.clock import to_utc
from csms.domain.events import IdTokensChanged
from csms.domain.ports import AlreadyExists

ITEM = "/id-tokens/{id_token}"
api = Operations()


@api("GET", "/id-tokens", {200: models.IdTokenPage}, errors=(400,), query=PAGE)
async def handle_list_id_tokens(request: web.Request) -> web.Response:
    """List id tokens, ordered by token.

    `GET /id-tokens?limit=&cursor=`: a page of id tokens ordered by `id_token`."""
    services = get_services(request)
    page = page_params(request)
    with cursor_errors(page):
        tokens, next_cursor = await services.store.list_id_tokens(
            limit=page.limit, cursor=page.cursor, org_id=org_of(request)
        )
    return page_response(request, [id_token_json(t) for t in tokens], next_cursor, page.limit)


@api("GET", ITEM, {200: models.IdToken}, errors=(404,), name="id_token")
async def handle_get_id_token(request: web.Request) -> web.Response:
    """One id token.

    `GET /id-tokens/{id_token}`: one id token; 404 when unknown."""
    services = get_services(request)
    id_token = request.match_info["id_token"]
    token = found(
        await services.store.get_id_token(id_token, org_id=org_of(request)), f"id token {id_token!r}"
    )
    return json_response(id_token_json(token))


@api("POST", "/id-tokens", {201: models.IdToken}, errors=(400, 409), body=IdTokenCreate)
async def handle_create_id_token(request: web.Request) -> web.Response:
    """Register an id token.

    `POST /id-tokens`: register an id token; 201 with it, 409 `conflict` when it already exists."""
    services = get_services(request)
    body = await read_model(request, IdTokenCreate)
    try:
        # A token registered here is the caller's organization's (`csms.domain.tenancy`).
        new = replace(body.to_id_token(services.clock()), org_id=org_of(request))
        stored = await services.store.add_id_token(new)
    except AlreadyExists:
        raise already_exists(f"id token {body.id_token!r}") from None
    await _changed(request, stored.org_id)
    return created(request, id_token_json(stored), "id_token", id_token=stored.id_token)


@api("PATCH", ITEM, {200: models.IdToken}, errors=(400, 404), body=IdTokenUpdate)
async def handle_update_id_token(request: web.Request) -> web.Response:
    """Change an id token.

    `PATCH /id-tokens/{id_token}` `{type?, status?, expiry_date?, group_id_token?}`: 200 with the token;
    `null` clears `expiry_date` or `group_id_token`; 404 when unknown. The next authorization of the token
    uses the new values."""
    services = get_services(request)
    body = await read_model(request, IdTokenUpdate)
    given = body.model_fields_set
    id_token = request.match_info["id_token"]
    token = found(
        await services.store.get_id_token(id_token, org_id=org_of(request)), f"id token {id_token!r}"
    )
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
    await _changed(request, updated.org_id)
    return json_response(id_token_json(updated))


@api("DELETE", ITEM, {204: None}, errors=(404,))
async def handle_delete_id_token(request: web.Request) -> web.Response:
    """Delete an id token.

    `DELETE /id-tokens/{id_token}`: 204; the token is unknown (not authorized) from then on; 404 when
    unknown. Sessions and reservations that name it keep it as history."""
    services = get_services(request)
    id_token = request.match_info["id_token"]
    found(await services.store.get_id_token(id_token, org_id=org_of(request)), f"id token {id_token!r}")
    with still_there(f"id token {id_token!r}"):
        await services.store.delete_id_token(id_token)
    await _changed(request, org_of(request))
    return web.Response(status=204)


async def _changed(request: web.Request, org_id: str) -> None:
    """Tell the domain the organization's tokens changed: its connected stations' local lists get a
    Differential update from a background task (ADR 0016), never while this request waits."""
    await get_services(request).events.publish(IdTokensChanged(org_id))


ROUTES: tuple[Route, ...] = tuple(api.routes)
