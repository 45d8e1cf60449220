"""`/tariffs`: the OCPI 2.2.1 tariffs connectors charge by (role admin to change, viewer to read).

A body is the OCPI Tariff object without `country_code`/`party_id` (ours, from `[ocpi]`) and
`last_updated` (set on each change). Bodies are parsed with every number as a `Decimal`, so a price of
`0.1` is stored as exactly `"0.1"`, never as a binary float; numbers are stored and answered as exact decimal
text. Connectors name their tariffs in their spec (`PUT /charge-points/{id}/connectors/.../spec`); the OCPI
Tariffs module serves these tariffs to partners and the CDRs are priced by them.
"""

from __future__ import annotations

from aiohttp import web

from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, already_exists, found, invalid_request
from csms.api.params import MAX_LIMIT, get_services
from csms.api.responses import created, json_response
from csms.api.routes import PAGE, Route
from csms.domain.pricing import TariffError, parse_tariff
from csms.domain.services import Services
from ocpi import publish
from ocpi.admin_api import models
from ocpi.admin_api.bodies import TariffCreate, TariffFields, TariffReplace
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import (
    get_ocpi_context,
    get_ocpi_store,
    offset_page,
    read_exact_model,
    replaced_id,
)
from ocpi.admin_api.serialize import tariff_json
from ocpi.models import Tariff
from ocpi.store import OcpiStore, Pagination

ITEM = "/tariffs/{tariff_id}"
api = operations()

# How many connectors using a tariff a 409 `tariff_in_use` lists.
IN_USE_SHOWN = 20


def tariff_record(body: TariffFields, tariff_id: str, services: Services, org_id: str) -> Tariff:
    """The record to store for `body`, in organization `org_id`.

    Raises:
        ApiError: 400 `invalid_request` (field `body`) when the pricing engine could not price it — a
            guard that what the API accepts, CDRs can be priced by.
    """
    data = body.ocpi_data(tariff_id)
    try:
        parse_tariff(data)
    except TariffError as exc:  # pragma: no cover - the body model is at least as strict
        raise invalid_request("body", f"the pricing engine refuses this tariff: {exc}") from None
    return Tariff(
        id=tariff_id, currency=body.currency, data=data, last_updated=services.clock(), org_id=org_id
    )


def _json(request: web.Request, tariff: Tariff) -> dict[str, object]:
    ocpi = get_services(request).config.ocpi
    return tariff_json(tariff, ocpi.country_code, ocpi.party_id)


async def _publish(request: web.Request, tariff_id: str) -> None:
    """PUT the stored tariff to partners' tariffs receivers (`ocpi.publish`) when a bridge runs."""
    ctx = get_ocpi_context(request)
    if ctx is not None:
        await publish.tariff_changed(ctx, tariff_id, org_of(request))


async def _stored_tariff(request: web.Request, store: OcpiStore, tariff_id: str) -> Tariff:
    """The caller's organization's tariff `tariff_id` (`org_of`); 404 `not_found` otherwise."""
    return found(await store.get_tariff(tariff_id, org_id=org_of(request)), f"tariff {tariff_id!r}")


@api("GET", "/tariffs", {200: models.TariffPage}, errors=(400, 503), query=PAGE)
async def handle_list_tariffs(request: web.Request) -> web.Response:
    """List OCPI tariffs, least recently changed first.

    `GET /tariffs?limit=&cursor=`: a page of tariffs, least recently changed first."""
    store = get_ocpi_store(request)
    org_id = org_of(request)

    async def list_page(pagination: Pagination) -> tuple[list[Tariff], int]:
        return await store.list_tariffs(pagination, org_id=org_id)

    return await offset_page(request, list_page, lambda tariff: _json(request, tariff))


@api("GET", ITEM, {200: models.Tariff}, errors=(404, 503), name="tariff")
async def handle_get_tariff(request: web.Request) -> web.Response:
    """One OCPI tariff.

    `GET /tariffs/{tariff_id}`: one tariff; 404 when unknown."""
    store = get_ocpi_store(request)
    tariff = await _stored_tariff(request, store, request.match_info["tariff_id"])
    return json_response(_json(request, tariff))


@api("POST", "/tariffs", {201: models.Tariff}, errors=(400, 409, 503), role=Role.ADMIN, body=TariffCreate,
     description="The OCPI Tariff object without `country_code`, `party_id` (ours) and "
                 "`last_updated`. Prices may be numbers or decimal strings (at most 4 decimals); they "
                 "are kept exact and answered as decimal strings. 409 `conflict` when the id exists.")
async def handle_create_tariff(request: web.Request) -> web.Response:
    """Create an OCPI tariff.

    `POST /tariffs` (admin): 201 with the tariff; 409 `conflict` when the id exists."""
    services = get_services(request)
    store = get_ocpi_store(request)
    body = await read_exact_model(request, TariffCreate)
    if await store.get_tariff(body.id) is not None:
        raise already_exists(f"tariff {body.id!r}")
    await store.save_tariff(tariff_record(body, body.id, services, org_of(request)))
    await _publish(request, body.id)
    stored = await _stored_tariff(request, store, body.id)
    return created(request, _json(request, stored), "tariff", tariff_id=stored.id)


@api("PUT", ITEM, {200: models.Tariff}, errors=(400, 404, 503), role=Role.ADMIN, body=TariffReplace)
async def handle_replace_tariff(request: web.Request) -> web.Response:
    """Replace an OCPI tariff.

    `PUT /tariffs/{tariff_id}` (admin): replace the whole tariff (absent optional fields are cleared);
    200 with it, 404 when unknown. Sessions priced later use the new prices; finished CDRs keep theirs."""
    services = get_services(request)
    store = get_ocpi_store(request)
    body = await read_exact_model(request, TariffReplace)
    tariff_id = replaced_id(request, "tariff_id", body.id, "tariff")
    await _stored_tariff(request, store, tariff_id)
    await store.save_tariff(tariff_record(body, tariff_id, services, org_of(request)))
    await _publish(request, tariff_id)
    return json_response(_json(request, await _stored_tariff(request, store, tariff_id)))


async def _connectors_using(
    services: Services, store: OcpiStore, tariff_id: str, org_id: str
) -> list[dict[str, object]]:
    """Connector specs (of organization `org_id`'s charge points: only they may name its tariffs) whose
    `tariff_ids` name the tariff, at most `IN_USE_SHOWN`."""
    using: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        charge_points, cursor = await services.store.list_charge_points(
            limit=MAX_LIMIT, cursor=cursor, org_id=org_id
        )
        for charge_point in charge_points:
            for spec in await store.list_connector_specs(charge_point.charge_point_id):
                if tariff_id in spec.tariff_ids:
                    using.append(
                        {
                            "charge_point_id": spec.charge_point_id,
                            "evse_id": spec.evse_id,
                            "connector_id": spec.connector_id,
                        }
                    )
                    if len(using) >= IN_USE_SHOWN:
                        return using
        if cursor is None:
            return using


async def _locations_using(store: OcpiStore, tariff_id: str, org_id: str) -> list[str]:
    """Ids of organization `org_id`'s locations whose `tariff_ids` name the tariff, at most
    `IN_USE_SHOWN`."""
    using: list[str] = []
    offset = 0
    while True:
        page, total = await store.list_locations(Pagination(offset=offset, limit=MAX_LIMIT), org_id=org_id)
        using.extend(location.id for location in page if tariff_id in location.tariff_ids)
        offset += len(page)
        if len(using) >= IN_USE_SHOWN or not page or offset >= total:
            return using[:IN_USE_SHOWN]


@api("DELETE", ITEM, {204: None}, errors=(404, 409, 503), role=Role.ADMIN,
     description="409 `tariff_in_use` while a connector spec or a location names it "
                 "(`details.connectors`, `details.locations`).")
async def handle_delete_tariff(request: web.Request) -> web.Response:
    """Delete an OCPI tariff.

    `DELETE /tariffs/{tariff_id}` (admin): 204; 404 when unknown, 409 `tariff_in_use` while a connector
    spec or a location names it (`details.connectors`, `details.locations`: the first few; take it out of
    their `tariff_ids` first)."""
    services = get_services(request)
    store = get_ocpi_store(request)
    tariff_id = request.match_info["tariff_id"]
    org_id = org_of(request)
    await _stored_tariff(request, store, tariff_id)
    using = await _connectors_using(services, store, tariff_id, org_id)
    # A location's tariffs price its connectors that name none (`ocpi.sessions.connector_tariff`): a
    # deleted one would silently leave them free.
    locations = await _locations_using(store, tariff_id, org_id)
    if using or locations:
        raise ApiError(
            409,
            "tariff_in_use",
            f"tariff {tariff_id!r} is used by {len(using)}{'+' if len(using) >= IN_USE_SHOWN else ''} "
            f"connector(s) and {len(locations)}{'+' if len(locations) >= IN_USE_SHOWN else ''} location(s)",
            {"connectors": using, "locations": locations},
        )
    await store.delete_tariff(tariff_id)
    ctx = get_ocpi_context(request)
    if ctx is not None:
        await publish.tariff_deleted(ctx, tariff_id, org_of(request))
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = tuple(api.routes)
