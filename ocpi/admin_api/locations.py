"""`/locations` and connector specs: what OCPI Locations needs that OCPP does not report (role admin to
change, viewer to read).

Operators group charge points into locations (address, coordinates, time zone, opening times, facilities,
operator, publish flag); the EVSEs and connectors of a location are its charge points' as the stations report
them, and the OCPI Locations module (`ocpi.locations`) builds the OCPI objects from both. Per connector, the
operator sets the OCPI facts a station never sends (standard, format, power type, voltage, amperage, power,
tariffs) with `PUT /charge-points/{id}/connectors/{evse_id}/{connector_id}/spec`. A location's `tariff_ids`
price the sessions at its connectors that name no tariff of their own (`ocpi.sessions.connector_tariff`).

`country_code` and `party_id` name one of our CPO parties (`[ocpi]` default party or `extra_parties`; the
default party when absent; a PUT keeps the location's); `last_updated` is set on every change, so partners
that pull with `date_from` see it (OCPI 2.2.1 Locations: a changed connector changes its location too).
"""

from __future__ import annotations

from aiohttp import web

from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, already_exists, found, invalid_request
from csms.api.params import get_services, int_path_param, registered_charge_point
from csms.api.responses import created, json_response
from csms.api.routes import PAGE, Route
from csms.config import OcpiParty
from csms.domain.services import Services
from ocpi import publish
from ocpi.admin_api import models
from ocpi.admin_api.bodies import ConnectorSpecSet, LocationCreate, LocationFields, LocationReplace
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import (
    get_ocpi_context,
    get_ocpi_store,
    offset_page,
    read_exact_model,
    replaced_id,
)
from ocpi.admin_api.serialize import connector_spec_json, location_json
from ocpi.models import ConnectorSpec, Location
from ocpi.store import OcpiStore, Pagination

ITEM = "/locations/{location_id}"
SPEC = "/charge-points/{charge_point_id}/connectors/{evse_id}/{connector_id}/spec"
api = operations()


def location_party(body: LocationFields, services: Services, current: Location | None) -> OcpiParty:
    """The party of ours the location belongs to: the body's, else the stored location's (a PUT keeps
    it), else the `[ocpi]` default party.

    Raises:
        ApiError: 400 `unknown_party` when the body names a party we do not serve (or only half of one);
            409 `location_party_fixed` when a PUT names another party than the location's (partners know
            a location by country_code, party_id and id: it cannot move to another party).
    """
    ocpi = services.config.ocpi
    if body.country_code is None and body.party_id is None:
        if current is not None:
            # Kept even when the configuration no longer names the party: never moved silently.
            configured = ocpi.party(current.country_code, current.party_id)
            return configured or OcpiParty(current.country_code, current.party_id, "")
        return ocpi.parties()[0]
    party = (
        None
        if body.country_code is None or body.party_id is None
        else ocpi.party(body.country_code, body.party_id)
    )
    if party is None:
        ours = [f"{p.country_code}*{p.party_id}" for p in ocpi.parties()]
        raise ApiError(
            400,
            "unknown_party",
            f"country_code {body.country_code!r} and party_id {body.party_id!r} are not a party this CSMS "
            f"serves ({', '.join(ours)}); give both or neither",
            {"country_code": body.country_code, "party_id": body.party_id, "parties": ours},
        )
    if current is not None and (current.country_code.upper(), current.party_id.upper()) != (
        party.country_code,
        party.party_id,
    ):
        raise ApiError(
            409,
            "location_party_fixed",
            f"location {current.id!r} belongs to {current.country_code}*{current.party_id}; "
            "create a new location for another party",
            {"country_code": current.country_code, "party_id": current.party_id},
        )
    return party


def location_record(
    body: LocationFields, location_id: str, services: Services, party: OcpiParty, org_id: str
) -> Location:
    """The record to store for `body`, with its party (see `location_party`), organization and
    `last_updated` now."""
    # The body's fields are the record's, by name (enums as their values, nested objects as JSON).
    fields = body.model_dump(
        mode="json", exclude={"id", "coordinates", "operator", "country_code", "party_id"}
    )
    return Location(
        **fields,
        id=location_id,
        latitude=body.coordinates.latitude,
        longitude=body.coordinates.longitude,
        operator=None if body.operator is None else body.operator.model_dump(mode="json", exclude_none=True),
        country_code=party.country_code,
        party_id=party.party_id,
        last_updated=services.clock(),
        org_id=org_id,
    )


async def _snapshot(request: web.Request, location_id: str) -> publish.LocationObject | None:
    """What partners have of the location before a change (None without a bridge: nothing is pushed)."""
    ctx = get_ocpi_context(request)
    return None if ctx is None else await publish.location_snapshot(ctx, location_id)


async def _publish(request: web.Request, before: publish.LocationObject | None, location_id: str) -> None:
    """Push the stored change to partners (`ocpi.publish.location_changed`) when a bridge runs."""
    ctx = get_ocpi_context(request)
    if ctx is not None:
        await publish.location_changed(ctx, before, location_id, org_of(request))


async def check_charge_points(
    services: Services, store: OcpiStore, charge_point_ids: list[str], location_id: str, org_id: str
) -> None:
    """Every charge point must be registered in organization `org_id` and in no other location.

    Raises:
        ApiError: 400 `invalid_request` naming each unknown charge point (`charge_point_ids.<index>`);
            409 `charge_point_in_location` when one belongs to another location (remove it there first:
            an OCPI EVSE belongs to one location for good).
    """
    unknown = [
        {"field": f"charge_point_ids.{index}", "reason": f"unknown charge point {charge_point_id!r}"}
        for index, charge_point_id in enumerate(charge_point_ids)
        if await services.store.get_charge_point(charge_point_id, org_id=org_id) is None
    ]
    if unknown:
        names = ", ".join(detail["reason"].removeprefix("unknown charge point ") for detail in unknown)
        raise ApiError(400, "invalid_request", f"unknown charge points: {names}", unknown)
    for charge_point_id in charge_point_ids:
        other = await store.location_of(charge_point_id)
        if other is not None and other.id != location_id:
            raise ApiError(
                409,
                "charge_point_in_location",
                f"charge point {charge_point_id!r} is in location {other.id!r}; remove it there first",
                {"charge_point_id": charge_point_id, "location_id": other.id},
            )


async def check_tariffs(store: OcpiStore, tariff_ids: list[str], org_id: str) -> None:
    """Every tariff named (a location's or a connector's `tariff_ids`) must exist in organization `org_id`
    (another organization's tariff is as unknown as a missing one).

    Raises:
        ApiError: 400 `invalid_request` naming each unknown tariff (`tariff_ids.<index>`).
    """
    unknown = [
        {"field": f"tariff_ids.{index}", "reason": f"unknown tariff {tariff_id!r}"}
        for index, tariff_id in enumerate(tariff_ids)
        if await store.get_tariff(tariff_id, org_id=org_id) is None
    ]
    if unknown:
        raise ApiError(400, "invalid_request", "tariff_ids names unknown tariffs", unknown)


@api("GET", "/locations", {200: models.LocationPage}, errors=(400, 503), query=PAGE)
async def handle_list_locations(request: web.Request) -> web.Response:
    """List OCPI locations, least recently changed first.

    `GET /locations?limit=&cursor=`: a page of locations, least recently changed first (published or
    not)."""
    store = get_ocpi_store(request)
    org_id = org_of(request)

    async def list_page(pagination: Pagination) -> tuple[list[Location], int]:
        return await store.list_locations(pagination, org_id=org_id)

    return await offset_page(request, list_page, location_json)


async def _stored_location(request: web.Request, store: OcpiStore, location_id: str) -> Location:
    """The caller's organization's location `location_id` (`org_of`); 404 `not_found` otherwise."""
    location = await store.get_location(location_id, org_id=org_of(request))
    return found(location, f"location {location_id!r}")


@api("GET", ITEM, {200: models.Location}, errors=(404, 503), name="location")
async def handle_get_location(request: web.Request) -> web.Response:
    """One OCPI location.

    `GET /locations/{location_id}`: one location; 404 when unknown."""
    store = get_ocpi_store(request)
    location_id = request.match_info["location_id"]
    return json_response(location_json(await _stored_location(request, store, location_id)))


@api("POST", "/locations", {201: models.Location}, errors=(400, 409, 503), role=Role.ADMIN,
     body=LocationCreate,
     description="`country_code` and `party_id`: one of our parties (`[ocpi]`; default the default "
                 "party; 400 `unknown_party` otherwise). 400 names each unknown charge "
                 "point (`charge_point_ids.<i>`) and each unknown tariff (`tariff_ids.<i>`); 409 "
                 "`conflict` when the id exists, "
                 "`charge_point_in_location` when a charge point is in another location. Numbers are "
                 "read exactly (never as floats).")
async def handle_create_location(request: web.Request) -> web.Response:
    """Create an OCPI location grouping charge points.

    `POST /locations` (admin): 201 with the location; partners see it on their next pull if published.

    Errors: 400 (a field, an unknown charge point or an unknown tariff), 409 `conflict` (the id exists) or
    `charge_point_in_location`.
    """
    services = get_services(request)
    store = get_ocpi_store(request)
    body = await read_exact_model(request, LocationCreate)
    if await store.get_location(body.id) is not None:
        raise already_exists(f"location {body.id!r}")
    party = location_party(body, services, None)
    org_id = org_of(request)
    await check_charge_points(services, store, body.charge_point_ids, body.id, org_id)
    await check_tariffs(store, body.tariff_ids, org_id)
    await store.save_location(location_record(body, body.id, services, party, org_id))
    await _publish(request, None, body.id)
    stored = await _stored_location(request, store, body.id)
    return created(request, location_json(stored), "location", location_id=stored.id)


@api("PUT", ITEM, {200: models.Location}, errors=(400, 404, 409, 503), role=Role.ADMIN, body=LocationReplace,
     description="Every field again: absent optional fields are cleared, absent charge points leave. "
                 "Absent `country_code`/`party_id` keep the location's party; another party is 409 "
                 "`location_party_fixed`, one we do not serve 400 `unknown_party`.")
async def handle_replace_location(request: web.Request) -> web.Response:
    """Replace an OCPI location.

    `PUT /locations/{location_id}` (admin): replace every field (absent optional fields are cleared and
    absent charge points leave the location); 200 with it, 404 when unknown."""
    services = get_services(request)
    store = get_ocpi_store(request)
    body = await read_exact_model(request, LocationReplace)
    location_id = replaced_id(request, "location_id", body.id, "location")
    party = location_party(body, services, await _stored_location(request, store, location_id))
    org_id = org_of(request)
    await check_charge_points(services, store, body.charge_point_ids, location_id, org_id)
    await check_tariffs(store, body.tariff_ids, org_id)
    before = await _snapshot(request, location_id)
    await store.save_location(location_record(body, location_id, services, party, org_id))
    await _publish(request, before, location_id)
    return json_response(location_json(await _stored_location(request, store, location_id)))


@api("DELETE", ITEM, {204: None}, errors=(404, 503), role=Role.ADMIN,
     description="OCPI has no delete: partners keep what they pulled until they pull again. Set "
                 "`publish` false first to take it out of roaming.")
async def handle_delete_location(request: web.Request) -> web.Response:
    """Delete an OCPI location.

    `DELETE /locations/{location_id}` (admin): 204; its charge points are in no location afterwards.

    OCPI has no delete for locations: partners that pulled it keep it until they pull again. To take a
    location out of roaming for good, set `publish` false first.
    """
    store = get_ocpi_store(request)
    location_id = request.match_info["location_id"]
    await _stored_location(request, store, location_id)
    before = await _snapshot(request, location_id)
    await store.delete_location(location_id)
    await _publish(request, before, location_id)
    return web.Response(status=204)


def _connector_address(request: web.Request) -> tuple[str, int, int]:
    """(charge point, EVSE ≥ 1, connector ≥ 1) of a spec path.

    Raises:
        ApiError: 400 `invalid_request` naming `evse_id` or `connector_id`.
    """
    evse_id = int_path_param(request, "evse_id")
    connector_id = int_path_param(request, "connector_id")
    for name, value in (("evse_id", evse_id), ("connector_id", connector_id)):
        if not 1 <= value <= 2**31 - 1:
            raise invalid_request(name, "must be between 1 and 2147483647")
    return request.match_info["charge_point_id"], evse_id, connector_id


@api("GET", SPEC, {200: models.ConnectorSpec}, errors=(400, 404, 503),
     description="`configured: false` with the defaults OCPI reports until an operator sets them.")
async def handle_get_connector_spec(request: web.Request) -> web.Response:
    """A connector's OCPI facts (standard, format, power type, limits, tariffs).

    `GET /charge-points/{charge_point_id}/connectors/{evse_id}/{connector_id}/spec`: the connector's OCPI
    facts; `configured: false` with the defaults OCPI reports until an operator sets them. 404 for an
    unknown charge point (the connector need not have been reported yet)."""
    services = get_services(request)
    store = get_ocpi_store(request)
    charge_point_id, evse_id, connector_id = _connector_address(request)
    await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    for spec in await store.list_connector_specs(charge_point_id):
        if (spec.evse_id, spec.connector_id) == (evse_id, connector_id):
            return json_response(connector_spec_json(spec, configured=True))
    default = ConnectorSpec(charge_point_id, evse_id, connector_id)
    return json_response(connector_spec_json(default, configured=False))


@api("PUT", SPEC, {200: models.ConnectorSpec}, errors=(400, 404, 503), role=Role.ADMIN, body=ConnectorSpecSet,
     description="400 names each unknown tariff (`tariff_ids.<i>`). The charge point's location gets a "
                 "new `last_updated`.")
async def handle_set_connector_spec(request: web.Request) -> web.Response:
    """Set a connector's OCPI facts.

    `PUT /charge-points/{charge_point_id}/connectors/{evse_id}/{connector_id}/spec` (admin): set every
    OCPI fact of the connector (absent `max_electric_power` and `tariff_ids` are cleared); 200 with it.

    The charge point's location (if any) gets a new `last_updated`, as OCPI wants for a changed connector.
    Errors: 400 (a field, or an unknown tariff in `tariff_ids`), 404 unknown charge point.
    """
    services = get_services(request)
    store = get_ocpi_store(request)
    charge_point_id, evse_id, connector_id = _connector_address(request)
    body = await read_exact_model(request, ConnectorSpecSet)
    await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    await check_tariffs(store, body.tariff_ids, org_of(request))
    ctx = get_ocpi_context(request)
    before = None if ctx is None else await publish.location_snapshot_of(ctx, charge_point_id)
    now = services.clock()
    spec = ConnectorSpec(
        charge_point_id=charge_point_id,
        evse_id=evse_id,
        connector_id=connector_id,
        standard=body.standard.value,
        format=body.format.value,
        power_type=body.power_type.value,
        max_voltage=body.max_voltage,
        max_amperage=body.max_amperage,
        max_electric_power=body.max_electric_power,
        tariff_ids=list(body.tariff_ids),
        last_updated=now,
    )
    await store.save_connector_spec(spec)
    # OCPI 2.2.1 Locations: a changed Connector changes its EVSE and Location (last_updated).
    location = await store.location_of(charge_point_id)
    if location is not None:
        location.last_updated = now
        await store.save_location(location)
    if ctx is not None:
        await publish.connector_changed(ctx, before, charge_point_id, evse_id, connector_id, org_of(request))
    return json_response(connector_spec_json(spec, configured=True))


ROUTES: tuple[Route, ...] = tuple(api.routes)
