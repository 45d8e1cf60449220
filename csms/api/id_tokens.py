"""`/id-tokens`: register, list and show the id tokens the CSMS authorizes."""

from __future__ import annotations

from aiohttp import web

from csms.api.errors import ApiError, not_found
from csms.api.params import cursor_errors, get_services, page_params, read_model
from csms.api.responses import json_response, page_response
from csms.api.schemas import IdTokenCreate
from csms.api.serialize import id_token_json
from csms.store.protocols import AlreadyExists


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


def add_routes(app: web.Application) -> None:
    """Register the id token routes on the API sub-application."""
    app.router.add_get("/id-tokens", handle_list_id_tokens, name="id_tokens")
    app.router.add_post("/id-tokens", handle_create_id_token)
    app.router.add_get("/id-tokens/{id_token}", handle_get_id_token, name="id_token")
