"""The HTTP application: `GET /health` at the root and the operator REST API mounted at `/api/v1`.

The API is a sub-application (aiohttp "Nested applications") with its own middlewares, bearer
authentication inside JSON error rendering, so a later OCPI sub-application can bring its own token auth and
response envelope without touching these. The shared `Services` and `Domain` live on the root app under
`SERVICES` and `DOMAIN` and are visible to every sub-application through `request.config_dict`; so is the
OCPI store (`OCPI_STORE`), when the process runs the OCPI bridge.

`GET /api/v1/openapi.json` (no key needed) describes every route of the sub-application; the document is
built once, when the app is created (`csms.api.openapi`).
"""

from __future__ import annotations

from aiohttp import web

from csms.api import (
    charge_points,
    charging_profiles,
    commands,
    configuration,
    id_tokens,
    locations,
    messages,
    ocpi_admin,
    openapi,
    reservations,
    sessions,
    tariffs,
)
from csms.api.auth import ROUTE_ROLES, auth_middleware
from csms.api.errors import error_middleware
from csms.api.ocpi_admin import OCPI_STORE
from csms.api.params import DOMAIN, SERVICES, get_services
from csms.api.responses import json_response
from csms.domain.core import Domain
from ocpi.store import OcpiStore

__all__ = ["API_PREFIX", "DOMAIN", "OCPI_STORE", "SERVICES", "create_api_app", "create_app"]

API_PREFIX = "/api/v1"


async def handle_health(request: web.Request) -> web.Response:
    """`GET /health` (no auth): `{"status": "ok", "connected_charge_points": N}` while the process serves."""
    services = get_services(request)
    return json_response({"status": "ok", "connected_charge_points": len(services.registry)})


def create_api_app() -> web.Application:
    """The `/api/v1` sub-application: errors rendered as JSON, every request authenticated first.

    Mount it on an app that holds `SERVICES` (as `create_app` does).
    """
    # Order matters: error_middleware is outermost so a 401/403 from auth_middleware is rendered too.
    api = web.Application(middlewares=[error_middleware, auth_middleware])
    api[ROUTE_ROLES] = {}
    charge_points.add_routes(api)
    messages.add_routes(api)
    commands.add_routes(api)
    configuration.add_routes(api)
    charging_profiles.add_routes(api)
    sessions.add_routes(api)
    reservations.add_routes(api)
    id_tokens.add_routes(api)
    locations.add_routes(api)
    tariffs.add_routes(api)
    ocpi_admin.add_routes(api)
    openapi.add_routes(api)
    return api


def create_app(domain: Domain, ocpi_store: OcpiStore | None = None) -> web.Application:
    """Build the HTTP application serving `domain` (and its `services`).

    Args:
        domain: the process's domain services; the caller starts and stops the writer and store.
        ocpi_store: the OCPI bridge's store, for the operator endpoints of OCPI (`/locations`, `/tariffs`,
            connector specs, `/ocpi/partners`, `/ocpi/outbox`); without it they answer 503 `ocpi_disabled`.

    Returns:
        An application with `GET /health` and the operator API under `/api/v1`; run it with
        `web.AppRunner` (or aiohttp's test server).
    """
    app = web.Application()
    app[SERVICES] = domain.services
    app[DOMAIN] = domain
    if ocpi_store is not None:
        app[OCPI_STORE] = ocpi_store
    app.router.add_get("/health", handle_health, name="health")
    app.add_subapp(API_PREFIX, create_api_app())
    return app
