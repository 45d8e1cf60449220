"""The HTTP application: `GET /health` and `GET /metrics` (Prometheus) at the root and the operator REST
API mounted at `/api/v1`.

The API is a sub-application (aiohttp "Nested applications") with its own middlewares, bearer
authentication inside JSON error rendering, so a later OCPI sub-application can bring its own token auth and
response envelope without touching these. The shared `Services` and `Domain` live on the root app under
`SERVICES` and `DOMAIN` and are visible to every sub-application through `request.config_dict`.

Routes are declared once, in the `ROUTES` tables of the resource modules (`csms.api.routes.Route`); other
packages contribute theirs through `create_app(..., extra_routes=...)`. `GET /api/v1/openapi.json` (no key
needed) is generated from them when the app is created (`csms.api.openapi`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiohttp import web

from csms.api import (
    api_keys,
    certificates,
    charge_points,
    charging_profiles,
    commands,
    configuration,
    drivers,
    energy,
    firmware,
    id_tokens,
    local_lists,
    messages,
    metrics,
    models,
    openapi,
    organizations,
    power_limits,
    reservations,
    sessions,
    sign_in,
    site_owners,
    solar,
    station_events,
    webhooks,
)
from csms.api.auth import AUTH_THROTTLE, ROUTE_ROLES, Role, auth_middleware
from csms.api.errors import error_middleware
from csms.api.files import add_station_routes
from csms.api.headers import write_response_headers
from csms.api.limits import rate_limit_middleware
from csms.api.mailer import MAILER, Mailer, SmtpMailer
from csms.api.params import DOMAIN, SERVICES, get_services
from csms.api.responses import json_response
from csms.api.routes import Route, register
from csms.api.versioning import api_version_middleware
from csms.domain.core import Domain
from csms.domain.throttle import FailureThrottle

# The operator API's own routes, in the order the document lists them; the OCPI bridge adds its own.
ROUTES: tuple[Route, ...] = (
    openapi.ROUTE,
    *charge_points.ROUTES,
    *messages.ROUTES,
    *station_events.ROUTES,
    *certificates.ROUTES,
    *local_lists.ROUTES,
    *commands.ROUTES,
    *configuration.ROUTES,
    *charging_profiles.ROUTES,
    *power_limits.ROUTES,
    *solar.ROUTES,
    *sessions.ROUTES,
    *reservations.ROUTES,
    *id_tokens.ROUTES,
    *webhooks.ROUTES,
    *sign_in.ROUTES,
    *organizations.ROUTES,
    *api_keys.ROUTES,
    *site_owners.ROUTES,
    *drivers.ROUTES,
    *firmware.ROUTES,
    *energy.ROUTES,
)

__all__ = ["API_PREFIX", "DOMAIN", "ROUTES", "SERVICES", "create_api_app", "create_app"]

API_PREFIX = "/api/v1"


async def handle_health(request: web.Request) -> web.Response:
    """`GET /health` (no auth): `{"status": "ok", "connected_charge_points": N}` while the process serves."""
    services = get_services(request)
    return json_response({"status": "ok", "connected_charge_points": len(services.registry)})


# Served at the root, outside the API and its document; written by its model like every API answer.
HEALTH = Route("GET", "/health", handle_health, "getHealth", "Liveness", Role.PUBLIC, ok={200: models.Health})


def create_api_app(extra_routes: Iterable[Route] = ()) -> web.Application:
    """The `/api/v1` sub-application: errors rendered as JSON, every request authenticated first, and the
    OpenAPI document of all its routes (`ROUTES` and `extra_routes`).

    Mount it on an app that holds `SERVICES` (as `create_app` does).
    """
    # Order matters: error_middleware is outermost so a 401/403 from auth_middleware is rendered too; the
    # version is checked before the key; rate limits count authenticated requests only. The headers those
    # decide (Api-Version, X-RateLimit-*) are written on every answer by `write_response_headers`.
    api = web.Application(
        middlewares=[error_middleware, api_version_middleware, auth_middleware, rate_limit_middleware]
    )
    api[ROUTE_ROLES] = {}
    api.on_response_prepare.append(write_response_headers)
    register(api, ROUTES)
    register(api, extra_routes)
    openapi.install(api)
    return api


def create_app(
    domain: Domain, extra_routes: Iterable[Route] = (), *, mailer: Mailer | None = None
) -> web.Application:
    """Build the HTTP application serving `domain` (and its `services`).

    Args:
        domain: the process's domain services; the caller starts and stops the writer and store.
        extra_routes: routes other packages contribute to the API (the OCPI bridge's, from the composition
            root `csms.app`); they are served and documented like the API's own.
        mailer: how invitations are emailed (default: `SmtpMailer` on the `[email]` settings).

    Returns:
        An application with `GET /health`, `GET /metrics` and the operator API under `/api/v1`; run it with
        `web.AppRunner` (or aiohttp's test server).
    """
    app = web.Application()
    app[SERVICES] = domain.services
    app[DOMAIN] = domain
    app[MAILER] = mailer if mailer is not None else SmtpMailer(domain.services.config.email)
    app.router.add_get("/health", HEALTH.serve(), name="health")
    app.router.add_get("/metrics", metrics.handle_metrics, name="metrics")  # Prometheus, no auth
    add_station_routes(app)  # firmware downloads and log uploads by stations (tokenized URLs)
    api = create_api_app(extra_routes)
    security = domain.services.config.security
    api[AUTH_THROTTLE] = FailureThrottle(
        time.monotonic, free_failures=security.auth_failures_free, max_delay=security.auth_failure_max_delay
    )
    app.add_subapp(API_PREFIX, api)
    return app
