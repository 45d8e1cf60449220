"""`/reservations`: hold an EVSE for an id token, list and show reservations, cancel one.

A reservation is created only when the station accepts it (`ReservationService.create` sends ReserveNow
and stores the outcome); its refusal or silence becomes an API error (see `csms.api.results`) and the
record left behind is `rejected` or `failed`, never `active`.
"""

from __future__ import annotations

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.errors import found, invalid_request, not_found
from csms.api.expand import RESERVATION_EXPANSIONS, expand, expand_query, expansions, location_charge_points
from csms.api.params import (
    MAX_ID,
    choice_query,
    cursor_errors,
    get_domain,
    id_token_type_for,
    int_path_param,
    page_params,
    pick_evse,
    read_model,
    registered_charge_point,
    time_query,
)
from csms.api.responses import created, json_response, page_response
from csms.api.results import reservation_failure
from csms.api.routes import COMMAND_ERRORS, PAGE, Q_CHARGE_POINT, STRING, JsonSchema, Operations, Route, param
from csms.api.schemas import ReservationCreate
from csms.api.serialize import reservation_json
from csms.domain.models import ReservationStatus
from csms.domain.ports import StationQuery
from csms.domain.reservations import ReservationError

Q_STATUS = param(
    "status",
    "query",
    {"type": "string", "enum": ["active", "used", "expired", "cancelled", "rejected", "failed"]},
    "only these",
)
RESERVATION_SORTS = ["-created_at", "created_at", "-expiry_date", "expiry_date", "-id", "id"]
Q_SORT = param(
    "sort", "query", {"type": "string", "enum": RESERVATION_SORTS, "default": "-id"},
    "order: `created_at`, `expiry_date` or `id`, `-` first for descending (ties by id)",
)
TIME: JsonSchema = {"type": "string", "format": "date-time"}
Q_FROM = param("from", "query", TIME, "only reservations created at or after")
Q_TO = param("to", "query", TIME, "only reservations created before")
Q_LOCATION = param("location_id", "query", STRING, "only reservations of this location's charge points")
Q_EXPAND = expand_query(RESERVATION_EXPANSIONS)
ITEM = "/reservations/{reservation_id}"
api = Operations()


@api("POST", "/reservations", {201: models.Reservation}, errors=COMMAND_ERRORS, body=ReservationCreate,
     description="Created only when the station accepted. 409 `evse_occupied`, `evse_faulted`, "
                 "`evse_unavailable`, `reservation_rejected` carry `details.reservation_id` (of the "
                 "record kept as `rejected`) and `details.station_status`.")
async def handle_create_reservation(request: web.Request) -> web.Response:
    """Reserve an EVSE for an id token.

    `POST /reservations`: 201 with the reservation once the station accepted it.

    Errors: 400 (bad field, expiry not in the future), 404 unknown charge point, 409 offline / occupied /
    faulted / unavailable / rejected, 502 CALLERROR, 504 the station did not answer (no active
    reservation is left behind in any of these cases).
    """
    domain = get_domain(request)
    services = domain.services
    body = await read_model(request, ReservationCreate)
    evse_id = pick_evse(body.evse_id, body.connector_id)
    if body.expiry_date <= services.clock():
        raise invalid_request("expiry_date", "must be in the future")
    org_id = org_of(request)
    await registered_charge_point(services, body.charge_point_id, org_id=org_id)
    try:
        reservation = await domain.reservations.create(
            charge_point_id=body.charge_point_id,
            evse_id=evse_id or None,
            id_token=body.id_tag,
            expiry_date=body.expiry_date,
            id_token_type=await id_token_type_for(services, body.id_tag, body.id_token_type, org_id=org_id),
            group_id_token=body.group_id_token,
            connector_type=body.connector_type,
        )
    except ReservationError as exc:
        raise reservation_failure(exc) from None
    except ValueError:  # the expiry date passed between the check above and the service's own
        raise invalid_request("expiry_date", "must be in the future") from None
    return created(request, reservation_json(reservation), "reservation", reservation_id=str(reservation.id))


@api("GET", "/reservations", {200: models.ReservationPage}, errors=(400, 404),
     query=(Q_CHARGE_POINT, Q_STATUS, Q_FROM, Q_TO, Q_LOCATION, Q_SORT, Q_EXPAND, *PAGE))
async def handle_list_reservations(request: web.Request) -> web.Response:
    """List reservations, newest first.

    `GET /reservations?charge_point_id=&status=&from=&to=&location_id=&sort=&expand=&limit=&cursor=`: a
    page of reservations, newest first unless `sort` says otherwise; `from`/`to` bound `created_at`; 404 for
    an unknown `location_id`."""
    services = get_domain(request).services
    page = page_params(request)
    sort = request.query.get("sort") or None
    if sort is not None and sort not in RESERVATION_SORTS:
        raise invalid_request("sort", f"must be one of {', '.join(RESERVATION_SORTS)}")
    query: StationQuery[ReservationStatus] = {
        "charge_point_id": request.query.get("charge_point_id") or None,
        "status": choice_query(request, "status", ReservationStatus),
        "time_from": time_query(request, "from"),
        "time_to": time_query(request, "to"),
        "charge_point_ids": await location_charge_points(request),
        "sort": sort,
        "cursor": page.cursor,
        "org_id": org_of(request),
    }
    wanted = expansions(request, RESERVATION_EXPANSIONS)
    await services.writer.sync()
    with cursor_errors(page):
        reservations, next_cursor = await services.store.list_reservations(limit=page.limit, **query)
    items = [reservation_json(r) for r in reservations]
    await expand(request, items, wanted)
    return page_response(request, items, next_cursor, page.limit)


@api("GET", ITEM, {200: models.Reservation}, errors=(400, 404), name="reservation", query=(Q_EXPAND,))
async def handle_get_reservation(request: web.Request) -> web.Response:
    """One reservation.

    `GET /reservations/{reservation_id}`: one reservation; 404 when unknown."""
    services = get_domain(request).services
    wanted = expansions(request, RESERVATION_EXPANSIONS)
    reservation_id = int_path_param(request, "reservation_id")
    await services.writer.sync()
    reservation = (
        await services.store.get_reservation(reservation_id, org_id=org_of(request))
        if reservation_id <= MAX_ID
        else None
    )
    body = reservation_json(found(reservation, f"reservation {reservation_id}"))
    await expand(request, [body], wanted)
    return json_response(body)


@api("DELETE", ITEM, {204: None}, errors=COMMAND_ERRORS,
     description="204 once the station confirmed; 409 `reservation_not_active` when it is no longer "
                 "active.")
async def handle_cancel_reservation(request: web.Request) -> web.Response:
    """Cancel a reservation.

    `DELETE /reservations/{reservation_id}`: 204 once the station confirmed the cancellation.

    Errors: 404 unknown, 409 not active (used, expired, cancelled...) or the station offline or refusing,
    502 CALLERROR, 504 no answer (the reservation stays active then).
    """
    domain = get_domain(request)
    reservation_id = int_path_param(request, "reservation_id")
    if (
        reservation_id > MAX_ID
        or await domain.services.store.get_reservation(reservation_id, org_id=org_of(request)) is None
    ):
        raise not_found(f"reservation {reservation_id}")
    try:
        await domain.reservations.cancel(reservation_id)
    except ReservationError as exc:
        raise reservation_failure(exc) from None
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = tuple(api.routes)
