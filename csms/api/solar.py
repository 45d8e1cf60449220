"""Solar surplus charging (ADR 0022): `/locations/{location_id}/measurements` (a site's PV production and
own consumption, POSTed by a meter or an energy manager; GET the latest) and
`/sessions/{session_id}/solar-mode` (none, solar_only, solar_first).

Both re-balance the site through the load balancer (`csms.domain.load_balancing`), debounced like its other
triggers. A location or session of another organization is 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from csms.api.auth import org_of
from csms.api.errors import ApiError, found, not_found
from csms.api.expand import RELATED
from csms.api.models import ResponseModel, Timestamp
from csms.api.params import MAX_ID, get_domain, get_services, int_path_param, read_model
from csms.api.responses import json_response
from csms.api.routes import PATH_PARAMETERS, STRING, Operations, param
from csms.domain.clock import isoformat_z, to_utc
from csms.domain.solar import SiteMeasurement, SolarMode, SolarStore

SOLAR_STORE: web.AppKey[SolarStore] = web.AppKey("solar_store")
# Told the location id after a new measurement, so the balancer re-balances the site (set by csms.app).
MEASUREMENT_REPORTED: web.AppKey[Callable[[str], None]] = web.AppKey("measurement_reported")
# Told the session (transaction pk) after its solar mode changed (set by csms.app).
SOLAR_MODE_CHANGED: web.AppKey[Callable[[int], None]] = web.AppKey("solar_mode_changed")
MEASUREMENTS = "/locations/{location_id}/measurements"
SOLAR_MODE = "/sessions/{session_id}/solar-mode"
api = Operations(
    path_parameters={
        **PATH_PARAMETERS,
        "location_id": param("location_id", "path", STRING, "the location's id"),
    }
)

PowerW = Annotated[int, Field(ge=0, le=10**9)]


class MeasurementBody(BaseModel):
    """Body of `POST /locations/{id}/measurements`."""

    model_config = ConfigDict(extra="forbid")

    production_w: PowerW = Field(description="the site's PV production, W")
    consumption_w: PowerW = Field(description="the site's own consumption without EV charging, W")
    measured_at: AwareDatetime | None = Field(None, description="when measured (default: now)")


class Measurement(ResponseModel):
    """A site's latest measurement and the surplus it leaves for solar sessions."""

    location_id: str
    production_w: int
    consumption_w: int
    surplus_w: int
    measured_at: Timestamp


class SolarModeBody(BaseModel):
    """Body of `PUT /sessions/{id}/solar-mode`."""

    model_config = ConfigDict(extra="forbid")

    mode: SolarMode = Field(description="none, solar_only (surplus only) or solar_first (surplus, then grid)")


class SessionSolarMode(ResponseModel):
    """A session's solar mode."""

    session_id: int
    mode: SolarMode


def measurement_json(location_id: str, m: SiteMeasurement) -> dict[str, object]:
    """The `Measurement` answer."""
    return {
        "location_id": location_id,
        "production_w": m.production_w,
        "consumption_w": m.consumption_w,
        "surplus_w": m.surplus_w,
        "measured_at": isoformat_z(m.measured_at),
    }


def _store(request: web.Request) -> SolarStore:
    store = request.config_dict.get(SOLAR_STORE)
    if store is None:
        raise ApiError(503, "solar_disabled", "solar surplus charging is not enabled on this server")
    return store


async def _location(request: web.Request) -> tuple[SolarStore, str]:
    """The store and the caller's location id; 404 when the location is not the caller's organization's."""
    location_id = request.match_info["location_id"]
    related = request.config_dict.get(RELATED)
    if related is None or await related.charge_points_at(location_id, org_of(request)) is None:
        raise not_found(f"location {location_id!r}")
    return _store(request), location_id


async def _session(request: web.Request) -> tuple[SolarStore, int]:
    """The store and the caller's session id; 404 when it is not the caller's organization's session."""
    session_id = int_path_param(request, "session_id")
    tx = (
        await get_domain(request).store.get_transaction(session_id, org_id=org_of(request))
        if session_id <= MAX_ID
        else None
    )
    found(tx, f"session {session_id}")
    return _store(request), session_id


@api("POST", MEASUREMENTS, {200: Measurement}, errors=(400, 404, 503), body=MeasurementBody)
async def handle_post_measurement(request: web.Request) -> web.Response:
    """Report a site's PV production and own consumption.

    `POST /locations/{location_id}/measurements`: replaces the site's latest measurement; the load
    balancer re-balances the site's solar sessions with the new surplus."""
    store, location_id = await _location(request)
    body = await read_model(request, MeasurementBody)
    at = to_utc(body.measured_at) if body.measured_at else get_services(request).clock()
    measurement = SiteMeasurement(body.production_w, body.consumption_w, at)
    await store.put_measurement(org_of(request), location_id, measurement)
    reported = request.config_dict.get(MEASUREMENT_REPORTED)
    if reported is not None:
        reported(location_id)
    return json_response(measurement_json(location_id, measurement))


@api("GET", MEASUREMENTS, {200: Measurement}, errors=(404, 503))
async def handle_get_measurement(request: web.Request) -> web.Response:
    """A site's latest measurement.

    `GET /locations/{location_id}/measurements`: 404 unknown location or none reported yet."""
    store, location_id = await _location(request)
    measurement = await store.get_measurement(org_of(request), location_id)
    if measurement is None:
        raise not_found(f"measurement of location {location_id!r}")
    return json_response(measurement_json(location_id, measurement))


@api("PUT", SOLAR_MODE, {200: SessionSolarMode}, errors=(400, 404, 503), body=SolarModeBody)
async def handle_put_solar_mode(request: web.Request) -> web.Response:
    """Set a session's solar mode.

    `PUT /sessions/{session_id}/solar-mode`: stores the mode; the load balancer re-balances the session's
    site (solar_only: only the surplus, paused below the EV's minimum; solar_first: surplus, then grid)."""
    store, session_id = await _session(request)
    body = await read_model(request, SolarModeBody)
    await store.set_solar_mode(session_id, body.mode)
    changed = request.config_dict.get(SOLAR_MODE_CHANGED)
    if changed is not None:
        changed(session_id)
    return json_response({"session_id": session_id, "mode": body.mode.value})


@api("GET", SOLAR_MODE, {200: SessionSolarMode}, errors=(404, 503))
async def handle_get_solar_mode(request: web.Request) -> web.Response:
    """A session's solar mode.

    `GET /sessions/{session_id}/solar-mode`: `none` unless one was set."""
    store, session_id = await _session(request)
    modes = await store.solar_modes([session_id])
    return json_response({"session_id": session_id, "mode": modes.get(session_id, SolarMode.NONE).value})


ROUTES = tuple(api.routes)
