"""The OCPI 2.2.1 sub-application, mounted at /ocpi on the HTTP port (style practice 6).

Its own middlewares — the envelope/error/tracing middleware, token authentication and the check of the
routing headers (addressed to one of our parties) — apply to OCPI only.
Each OCPI module is one module of this package with `register(app)` adding its routes below
`/{VERSION}/{identifier}` and `IDENTIFIER` / `ROLE` naming its endpoint in the version details.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aiohttp import web

from ocpi.context import OCPI, OcpiContext
from ocpi.transport import PUBLIC_URL, auth_middleware, error_middleware, routing_middleware

# Order matters only for reading: versions and credentials first, then our sender and receiver modules.
MODULES = (
    "ocpi.versions",
    "ocpi.credentials",
    "ocpi.locations",
    "ocpi.sessions",
    "ocpi.cdrs",
    "ocpi.tariffs",
    "ocpi.tokens",
    "ocpi.commands",
    "ocpi.charging_profiles",
    "ocpi.hubclientinfo",
)


def modules() -> list[ModuleType]:
    """The OCPI module implementations, imported."""
    return [importlib.import_module(name) for name in MODULES]


def create_app(ctx: OcpiContext) -> web.Application:
    """Build the OCPI sub-application; mount it with `root.add_subapp("/ocpi", create_app(ctx))`."""
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(ctx.store), routing_middleware(ctx.config)]
    )
    app[OCPI] = ctx
    app[PUBLIC_URL] = ctx.config.public_url or ""
    for module in modules():
        module.register(app)
    return app
