"""The Chargeprice-style estimates API (`/v1`, JSON:API): `POST /v1/charge_prices`, `GET /v1/tariffs`,
`GET /v1/vehicles`.

Every request needs an operator API key (`csms apikey create`, any role), sent as `Api-Key: <key>` or
`Authorization: Bearer <key>`; without one, or with a wrong one: 403 FORBIDDEN. Errors are JSON:API
`{"errors": [{"status", "code", "title"}]}` (`ocpi.chargeprice.request` lists them). Tariffs are ours (the
operator's `/api/v1/tariffs`); the station's `network` must name one of our CPO parties (party id, `CC*PID`
or business name, any case), else there is nothing to estimate (`data` is empty). A location of ours at the
station's coordinates gives the time zone and, when its connectors name tariffs, the tariffs offered.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.auth import bearer_token
from csms.api.params import get_services
from csms.config import OcpiParty
from csms.domain.ports import Pagination
from csms.domain.secrets import api_key_prefix
from ocpi.chargeprice.estimate import Offer, estimate
from ocpi.chargeprice.request import EstimateRequest, RequestError, bad_request, parse_request
from ocpi.chargeprice.vehicles import Vehicle, load_vehicles
from ocpi.models import Location, Tariff
from ocpi.store import OcpiStore
from ocpi.tariffs import pricing_tariff

log = structlog.get_logger("ocpi.chargeprice")

STORE = web.AppKey("chargeprice_store", OcpiStore)
VEHICLES = web.AppKey("chargeprice_vehicles", dict[str, Vehicle])
JSONAPI = "application/vnd.api+json"
PAGE = 100
NEAR_DEGREES = Decimal("0.001")  # a location this close to the station's coordinates is the station's
# The time zone of a station in a country when no location of ours is at its coordinates (one zone each;
# UTC for the rest).
COUNTRY_ZONES = {
    "AT": "Europe/Vienna", "BE": "Europe/Brussels", "CH": "Europe/Zurich", "CZ": "Europe/Prague",
    "DE": "Europe/Berlin", "DK": "Europe/Copenhagen", "ES": "Europe/Madrid", "FI": "Europe/Helsinki",
    "FR": "Europe/Paris", "GB": "Europe/London", "IE": "Europe/Dublin", "IT": "Europe/Rome",
    "LU": "Europe/Luxembourg", "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon", "SE": "Europe/Stockholm",
}  # fmt: skip


def _error(exc: RequestError) -> web.Response:
    return web.json_response(exc.to_json(), status=exc.status, content_type=JSONAPI)


@web.middleware
async def jsonapi_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate (403 FORBIDDEN), then answer every failure as a JSON:API error document: a
    `RequestError` as itself, aiohttp's own (unknown path, method) with its status, anything else as 500
    INTERNAL_SERVER_ERROR (logged; the title says nothing of the cause)."""
    try:
        await _authenticate(request)
        return await handler(request)
    except RequestError as exc:
        return _error(exc)
    except web.HTTPException as exc:
        code = exc.reason.upper().replace(" ", "_")
        return _error(RequestError(exc.status, code, exc.reason))
    except Exception:
        log.exception("chargeprice_request_failed", path=request.path)
        return _error(RequestError(500, "INTERNAL_SERVER_ERROR", "an unexpected error happened"))


async def _authenticate(request: web.Request) -> None:
    token = request.headers.get("Api-Key") or bearer_token(request)
    if not token:
        raise RequestError(403, "FORBIDDEN", "api_key missing")
    prefix = api_key_prefix(token.strip())
    services = get_services(request)
    stored = await services.store.find_api_key(prefix) if prefix is not None else None
    if stored is None or not await services.verifier.verify(token.strip(), stored.key_hash):
        raise RequestError(403, "FORBIDDEN", "api_key invalid")


async def _all(lister: Any) -> list[Any]:
    """Every item of a paged OCPI store listing."""
    items: list[Any] = []
    while True:
        page, total = await lister(Pagination(offset=len(items), limit=PAGE))
        items.extend(page)
        if not page or len(items) >= total:
            return items


def _offer(tariff: Tariff) -> Offer:
    texts = tariff.data.get("tariff_alt_text") or []
    name = next((str(t["text"]) for t in texts if isinstance(t, dict) and t.get("text")), tariff.id)
    return Offer(
        id=tariff.id,
        name=name,
        url=str(tariff.data.get("tariff_alt_url") or ""),
        direct_payment=tariff.data.get("type") == "AD_HOC_PAYMENT",
        currency=tariff.currency,
        pricing=pricing_tariff(tariff),
    )


def our_party(request: web.Request, network: str) -> OcpiParty | None:
    """The CPO party of ours `network` names (party id, `CC*PID`, `CC-PID` or business name), or None."""
    wanted = network.strip().upper()
    for party in get_services(request).config.ocpi.parties():
        names = {
            party.party_id,
            f"{party.country_code}*{party.party_id}",
            f"{party.country_code}-{party.party_id}",
        }
        if wanted in names or wanted == party.business_name.upper():
            return party
    return None


def station_location(locations: list[Location], estimate_request: EstimateRequest) -> Location | None:
    """Our location at the station's coordinates (within `NEAR_DEGREES`), or None."""
    station = estimate_request.station
    for location in locations:
        near_lat = abs(Decimal(location.latitude) - station.latitude) <= NEAR_DEGREES
        if near_lat and abs(Decimal(location.longitude) - station.longitude) <= NEAR_DEGREES:
            return location
    return None


def station_zone(location: Location | None, estimate_request: EstimateRequest) -> str:
    """The time zone of our location at the station, else of the station's country, else UTC."""
    if location is not None:
        return location.time_zone
    return COUNTRY_ZONES.get(estimate_request.station.country.strip().upper(), "UTC")


async def station_offers(store: OcpiStore, location: Location | None) -> list[Offer]:
    """Our tariffs that can apply at the station: those its location's connectors name (`connector spec`
    `tariff_ids`) and the location's own (`Location.tariff_ids`, for its connectors naming none); all of
    ours when no location of ours is there or neither names any."""
    tariffs = await _all(store.list_tariffs)
    named: set[str] = set()
    if location is not None:
        named.update(location.tariff_ids)
        for spec in await store.list_connector_specs_of(location.charge_point_ids):
            named.update(spec.tariff_ids)
    return [_offer(t) for t in tariffs if not named or t.id in named]


def start_of(now: datetime, zone: str, minute_of_day: int) -> datetime:
    """`minute_of_day` of today (in `zone`) as a UTC instant."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    today = now.astimezone(tz).date()
    local = datetime.combine(today, time(minute_of_day // 60, minute_of_day % 60), tzinfo=tz)
    return local.astimezone(UTC)


async def _body(request: web.Request) -> object:
    try:
        return json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body: not a JSON document") from None


async def handle_charge_prices(request: web.Request) -> web.Response:
    """`POST /v1/charge_prices`: the price of each of our tariffs at each requested charge point."""
    wanted = parse_request(await _body(request))
    vehicles = request.app[VEHICLES]
    vehicle = vehicles.get(wanted.vehicle_id) if wanted.vehicle_id is not None else None
    if wanted.vehicle_id is not None and vehicle is None:
        raise bad_request(
            f"relationships.vehicle: no vehicle with id {wanted.vehicle_id!r} (GET /v1/vehicles)"
        )
    party = our_party(request, wanted.station.network)
    store = request.app[STORE]
    location = station_location(await _all(store.list_locations), wanted)
    offers = await station_offers(store, location) if party is not None else []
    zone = station_zone(location, wanted)
    start = start_of(get_services(request).clock(), zone, wanted.options.start_time)
    provider = party.business_name if party is not None else ""
    document = estimate(offers, wanted, vehicle, (start, zone, provider))
    return web.json_response(document, content_type=JSONAPI)


async def handle_tariffs(request: web.Request) -> web.Response:
    """`GET /v1/tariffs`: the tariffs `relationships.tariffs` may name."""
    offers = [_offer(t) for t in await _all(request.app[STORE].list_tariffs)]
    data = [_tariff_resource(offer) for offer in offers]
    return web.json_response({"data": data}, content_type=JSONAPI)


def _tariff_resource(offer: Offer) -> dict[str, Any]:
    attributes = {
        "name": offer.name,
        "url": offer.url,
        "currency": offer.currency,
        "direct_payment": offer.direct_payment,
    }
    return {"id": offer.id, "type": "tariff", "attributes": attributes}


async def handle_vehicles(request: web.Request) -> web.Response:
    """`GET /v1/vehicles`: the vehicle catalogue (shipped and the operator's additions)."""
    data = [vehicle.to_json() for vehicle in request.app[VEHICLES].values()]
    return web.json_response({"data": data}, content_type=JSONAPI)


def create_app(store: OcpiStore, vehicles_file: str = "") -> web.Application:
    """The `/v1` sub-application; mount it on the root application (which holds the services).

    Raises:
        CatalogueError, OSError: the operator's vehicle file cannot be read (the CSMS does not start).
    """
    app = web.Application(middlewares=[jsonapi_middleware])
    app[STORE] = store
    app[VEHICLES] = load_vehicles(vehicles_file)
    app.router.add_post("/charge_prices", handle_charge_prices)
    app.router.add_get("/tariffs", handle_tariffs)
    app.router.add_get("/vehicles", handle_vehicles)
    return app
