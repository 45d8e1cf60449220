"""Energy-aware charging (ADR 0019): a site's forecasts, `/locations/{location_id}/energy-prices` and
`/carbon-intensity` (GET what is in use, POST a CSV upload), and `/sessions/{session_id}/schedule`.

Uploads are `text/csv`: a header line, then `start,end,value` per interval (RFC 3339 UTC times; the price
per kWh as a decimal in the `currency` query parameter's currency, the carbon intensity as integer
gCO2/kWh). An upload replaces the site's series and plans its sessions again.
"""

from __future__ import annotations

from aiohttp import web

from csms.api import energy_models as models
from csms.api.auth import org_of
from csms.api.errors import ApiError, found, invalid_request
from csms.api.expand import RELATED
from csms.api.params import MAX_ID, get_domain, int_path_param
from csms.api.responses import json_response
from csms.api.routes import STRING, JsonSchema, Operations, Route, param
from csms.domain.clock import isoformat_z
from csms.domain.energy.forecasts import ForecastError, parse_carbon_csv, parse_price_csv
from csms.domain.energy.planner import SessionSchedule
from csms.domain.iso_codes import CURRENCIES

LOCATION: dict[str, JsonSchema] = {"location_id": param("location_id", "path", STRING, "the location's id")}
Q_CURRENCY = param("currency", "query", {"type": "string", "pattern": "^[A-Z]{3}$"}, "ISO 4217 (required)")
MAX_CSV_BYTES = 1 << 20
CSV_BODY = (
    "Body: `text/csv`, a header line then `start,end,value` per interval (RFC 3339 UTC times). "
    "Errors: 400 `invalid_request` (not `text/csv`, malformed CSV, overlapping intervals), 404 unknown "
    "location."
)
api = Operations()
locations = Operations(path_parameters=LOCATION)


async def _known_location(request: web.Request) -> str:
    """The path's location id, once it is a location of the caller's organization (else 404)."""
    location_id = request.match_info["location_id"]
    related = request.config_dict.get(RELATED)
    ids = None if related is None else await related.charge_points_at(location_id, org_of(request))
    if ids is None:
        raise ApiError(404, "not_found", f"location {location_id!r} not found")
    return location_id


async def _csv(request: web.Request) -> str:
    if request.content_type != "text/csv":
        raise invalid_request("Content-Type", "the body must be text/csv")
    if request.content_length is not None and request.content_length > MAX_CSV_BYTES:
        raise invalid_request("body", "larger than 1 MiB")
    try:
        return (await request.read()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid_request("body", "not UTF-8") from None


@locations("GET", "/locations/{location_id}/energy-prices", {200: models.EnergyPrices}, errors=(404,))
async def handle_get_energy_prices(request: web.Request) -> web.Response:
    """The site's energy price forecast in use.

    `GET /locations/{location_id}/energy-prices`: `{"location_id", "currency", "updated_at", "items"}`;
    404 unknown location."""
    location_id = await _known_location(request)
    forecast = get_domain(request).energy.forecast(location_id)
    items = [
        {
            "start": isoformat_z(p.start),
            "end": isoformat_z(p.end),
            "price_per_kwh": format(p.price_per_kwh, "f"),
        }
        for p in forecast.prices
    ]
    updated = isoformat_z(forecast.updated_at) if forecast.updated_at else None
    body = {"location_id": location_id, "currency": forecast.currency, "updated_at": updated, "items": items}
    return json_response(body)


@locations(
    "POST",
    "/locations/{location_id}/energy-prices",
    {200: models.ForecastImported},
    errors=(400, 404),
    query=(Q_CURRENCY,),
    description=CSV_BODY,
    raw_body="text/csv",
)
async def handle_upload_energy_prices(request: web.Request) -> web.Response:
    """Replace the site's energy price forecast (CSV).

    `POST /locations/{location_id}/energy-prices?currency=EUR`: the CSV's intervals replace the site's
    prices; its sessions with needs are planned again and sent their TxProfile."""
    location_id = await _known_location(request)
    currency = request.query.get("currency", "")
    if currency not in CURRENCIES:
        raise invalid_request("currency", "an ISO 4217 currency code is required")
    try:
        prices = parse_price_csv(await _csv(request))
    except ForecastError as exc:
        raise invalid_request("body", str(exc)) from None
    replanned = await get_domain(request).energy.set_prices(location_id, currency, prices)
    body = {"location_id": location_id, "intervals": len(prices), "sessions_replanned": replanned}
    return json_response(body)


@locations("GET", "/locations/{location_id}/carbon-intensity", {200: models.CarbonIntensity}, errors=(404,))
async def handle_get_carbon_intensity(request: web.Request) -> web.Response:
    """The site's carbon intensity forecast in use.

    `GET /locations/{location_id}/carbon-intensity`: `{"location_id", "updated_at", "items"}`; 404 unknown
    location."""
    location_id = await _known_location(request)
    forecast = get_domain(request).energy.forecast(location_id)
    items = [
        {"start": isoformat_z(c.start), "end": isoformat_z(c.end), "g_co2_per_kwh": c.g_co2_per_kwh}
        for c in forecast.carbon
    ]
    updated = isoformat_z(forecast.updated_at) if forecast.updated_at else None
    return json_response({"location_id": location_id, "updated_at": updated, "items": items})


@locations(
    "POST",
    "/locations/{location_id}/carbon-intensity",
    {200: models.ForecastImported},
    errors=(400, 404),
    description=CSV_BODY,
    raw_body="text/csv",
)
async def handle_upload_carbon_intensity(request: web.Request) -> web.Response:
    """Replace the site's carbon intensity forecast (CSV).

    `POST /locations/{location_id}/carbon-intensity`: the CSV's intervals replace the site's carbon
    intensity; its sessions with needs are planned again and sent their TxProfile."""
    location_id = await _known_location(request)
    try:
        carbon = parse_carbon_csv(await _csv(request))
    except ForecastError as exc:
        raise invalid_request("body", str(exc)) from None
    replanned = await get_domain(request).energy.set_carbon(location_id, carbon)
    body = {"location_id": location_id, "intervals": len(carbon), "sessions_replanned": replanned}
    return json_response(body)


@api("GET", "/sessions/{session_id}/schedule", {200: models.SessionSchedule}, errors=(404,))
async def handle_get_session_schedule(request: web.Request) -> web.Response:
    """A session's planned charging schedule.

    `GET /sessions/{session_id}/schedule`: planned power per interval with the expected cost and carbon,
    whether the target is met; 404 unknown session or one without stated needs (`not_found`)."""
    domain = get_domain(request)
    session_id = int_path_param(request, "session_id")
    tx = (
        await domain.store.get_transaction(session_id, org_id=org_of(request))
        if session_id <= MAX_ID
        else None
    )
    found(tx, f"session {session_id}")
    schedule = found(domain.energy.schedule_of(session_id), f"schedule of session {session_id}")
    forecast = domain.energy.forecast(schedule.location_id) if schedule.location_id else None
    return json_response(schedule_json(schedule, forecast.currency if forecast else None))


def schedule_json(schedule: SessionSchedule, currency: str | None) -> dict[str, object]:
    """A `SessionSchedule` as the API shows it."""
    needs, plan = schedule.needs, schedule.plan
    intervals = [
        {
            "start": isoformat_z(i.start),
            "end": isoformat_z(i.end),
            "power_w": i.power_w,
            "energy_wh": i.energy_wh,
            "price_per_kwh": None if i.price_per_kwh is None else format(i.price_per_kwh, "f"),
            "g_co2_per_kwh": i.g_co2_per_kwh,
            "cost": None if i.cost is None else format(i.cost, "f"),
            "carbon_g": i.carbon_g,
        }
        for i in (plan.intervals if plan else ())
    ]
    priced = plan is not None and any(i.cost is not None for i in plan.intervals)
    return {
        "session_id": schedule.transaction_id,
        "location_id": schedule.location_id,
        "needs": {
            "source": needs.source,
            "energy_wh": needs.energy_wh,
            "departure_time": isoformat_z(needs.departure) if needs.departure else None,
            "min_power_w": needs.min_power_w,
            "max_power_w": needs.max_power_w,
            "profile_type": needs.profile_type.value if needs.profile_type else None,
        },
        "objective": plan.objective.value if plan else None,
        "target_met": plan.target_met if plan else None,
        "energy_wh": plan.energy_wh if plan else 0,
        "cost": format(plan.cost, "f") if plan and priced else None,
        "currency": currency if priced else None,
        "carbon_g": plan.carbon_g if plan else 0,
        "intervals": intervals,
        "reason": schedule.reason,
        "station_status": schedule.station_status,
    }


ROUTES: tuple[Route, ...] = (*locations.routes, *api.routes)
