"""The HTTP application: `GET /health` at the root and the operator REST API mounted at `/api/v1`.

The API is a sub-application (aiohttp "Nested applications") with its own middlewares, bearer
authentication inside JSON error rendering, so a later OCPI sub-application can bring its own token auth and
response envelope without touching these. The shared `Services` live on the root app under `SERVICES` and
are visible to every sub-application through `request.config_dict`.
"""

from __future__ import annotations

from aiohttp import web

from csms.api import charge_points, id_tokens, messages, sessions
from csms.api.auth import auth_middleware
from csms.api.errors import error_middleware
from csms.api.params import SERVICES, get_services
from csms.api.responses import json_response
from csms.services import Services

__all__ = ["API_PREFIX", "SERVICES", "create_api_app", "create_app"]

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
    charge_points.add_routes(api)
    messages.add_routes(api)
    sessions.add_routes(api)
    id_tokens.add_routes(api)
    return api


def create_app(services: Services) -> web.Application:
    """Build the HTTP application serving `services`.

    Args:
        services: the process's shared objects; the caller starts and stops the writer and store.

    Returns:
        An application with `GET /health` and the operator API under `/api/v1`; run it with
        `web.AppRunner` (or aiohttp's test server).
    """
    app = web.Application()
    app[SERVICES] = services
    app.router.add_get("/health", handle_health, name="health")
    app.add_subapp(API_PREFIX, create_api_app())
    return app
