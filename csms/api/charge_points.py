"""`/charge-points`: list and show charge points; register, change and delete them (role admin)."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from csms.api import models
from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, already_exists, still_there
from csms.api.params import (
    cursor_errors,
    get_domain,
    get_services,
    page_params,
    read_model,
    registered_charge_point,
)
from csms.api.responses import created, json_response, page_response
from csms.api.routes import PAGE, Operations, Route
from csms.api.schemas import ChargePointCreate, ChargePointUpdate
from csms.api.serialize import JsonObject, charge_point_json
from csms.domain.models import ChargePoint
from csms.domain.ports import AlreadyExists
from csms.domain.secrets import hash_secret_async
from csms.domain.services import Services

ITEM = "/charge-points/{charge_point_id}"
api = Operations()


async def _charge_point_view(services: Services, charge_point: ChargePoint) -> JsonObject:
    connectors = await services.store.list_connectors(charge_point.charge_point_id)
    connection = services.registry.find(charge_point.charge_point_id)
    return charge_point_json(charge_point, connectors, connection)


@api("GET", "/charge-points", {200: models.ChargePointPage}, errors=(400,), query=PAGE)
async def handle_list_charge_points(request: web.Request) -> web.Response:
    """List charge points, ordered by id.

    `GET /charge-points?limit=&cursor=`: a page of charge points ordered by id."""
    services = get_services(request)
    page = page_params(request)
    await services.writer.sync()
    with cursor_errors(page):
        charge_points, next_cursor = await services.store.list_charge_points(
            limit=page.limit, cursor=page.cursor, org_id=org_of(request)
        )
    items = [await _charge_point_view(services, cp) for cp in charge_points]
    return page_response(request, items, next_cursor, page.limit)


@api("GET", ITEM, {200: models.ChargePoint}, errors=(404,), name="charge_point")
async def handle_get_charge_point(request: web.Request) -> web.Response:
    """One charge point with its live connection and connectors.

    `GET /charge-points/{charge_point_id}`: one charge point; 404 when unknown."""
    services = get_services(request)
    charge_point_id = request.match_info["charge_point_id"]
    await services.writer.sync()
    charge_point = await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    return json_response(await _charge_point_view(services, charge_point))


@api("POST", "/charge-points", {201: models.ChargePoint}, errors=(400, 409), role=Role.ADMIN,
     body=ChargePointCreate)
async def handle_create_charge_point(request: web.Request) -> web.Response:
    """Register a charge point.

    `POST /charge-points`: register a charge point; 201 with it, 409 `conflict` when the id is taken."""
    services = get_services(request)
    body = await read_model(request, ChargePointCreate)
    # Checked first so a duplicate does not pay for bcrypt; the store's AlreadyExists still covers a race.
    if await services.store.get_charge_point(body.charge_point_id) is not None:
        raise already_exists(f"charge point {body.charge_point_id!r}")
    password_hash = None
    if body.password is not None:
        password_hash = await hash_secret_async(body.password, services.config.security.bcrypt_rounds)
    try:
        # A station registered here is in the caller's organization (`csms.domain.tenancy`).
        new = replace(body.to_charge_point(password_hash, services.clock()), org_id=org_of(request))
        stored = await get_domain(request).stations.register(new)
    except AlreadyExists:
        raise already_exists(f"charge point {body.charge_point_id!r}") from None
    view = await _charge_point_view(services, stored)
    return created(request, view, "charge_point", charge_point_id=stored.charge_point_id)


@api("PATCH", ITEM, {200: models.ChargePoint}, errors=(400, 404), role=Role.ADMIN, body=ChargePointUpdate)
async def handle_update_charge_point(request: web.Request) -> web.Response:
    """Change registration status, password or security profile.

    `PATCH /charge-points/{charge_point_id}` `{registration_status?, password?, security_profile?}`: 200
    with the charge point; a new password is stored as a bcrypt hash, `password: null` removes it; 404
    when unknown.

    A changed registration status reaches the station with its next BootNotification.
    """
    services = get_services(request)
    body = await read_model(request, ChargePointUpdate)
    given = body.model_fields_set
    charge_point_id = request.match_info["charge_point_id"]
    charge_point = await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    changes: dict[str, object] = {}
    if "registration_status" in given:
        changes["registration_status"] = body.registration_status
    if "security_profile" in given:
        changes["security_profile"] = body.security_profile
    if "password" in given:
        changes["password_hash"] = (
            None
            if body.password is None
            else await hash_secret_async(body.password, services.config.security.bcrypt_rounds)
        )
    # Through the station service: the next handshake and BootNotification see the change at once.
    with still_there(f"charge point {charge_point.charge_point_id!r}"):  # unless deleted in between
        updated = await get_domain(request).stations.change(charge_point.charge_point_id, **changes)
    return json_response(await _charge_point_view(services, updated))


@api("DELETE", ITEM, {204: None}, errors=(404, 409), role=Role.ADMIN,
     description="Its sessions and reservations stay as history; 409 `charge_point_connected` while the "
                 "station is connected.")
async def handle_delete_charge_point(request: web.Request) -> web.Response:
    """Delete a charge point (not while connected).

    `DELETE /charge-points/{charge_point_id}`: 204; its sessions and reservations stay as history.

    Errors: 404 unknown, 409 `charge_point_connected` while the station is connected (it would be
    recorded again at its next connection under the `accept` policy; disconnect or reject it first).
    """
    services = get_services(request)
    charge_point_id = request.match_info["charge_point_id"]
    await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    if services.registry.find(charge_point_id) is not None:
        raise ApiError(
            409,
            "charge_point_connected",
            f"charge point {charge_point_id!r} is connected; it can be deleted once it is offline",
        )
    with still_there(f"charge point {charge_point_id!r}"):  # also refused at the handshake from now on
        await get_domain(request).stations.delete(charge_point_id)
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = tuple(api.routes)
