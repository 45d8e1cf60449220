"""The OCPI bridge's endpoints in the operator REST API (`/api/v1/locations`, `/tariffs`, connector specs,
`/ocpi/partners`, `/ocpi/outbox`): contributed to the API's route table by the composition root
(`csms.app`), since `csms.api` knows nothing of OCPI."""

from __future__ import annotations

from aiohttp import web

from csms.api.routes import Route
from ocpi.admin_api import locations, partners, tariffs
from ocpi.admin_api.partners import OCPI_CONTEXT, OCPI_STORE
from ocpi.context import OcpiContext
from ocpi.store import OcpiStore

ROUTES: tuple[Route, ...] = (*locations.ROUTES, *tariffs.ROUTES, *partners.ROUTES)


def install(app: web.Application, store: OcpiStore, ctx: OcpiContext | None = None) -> None:
    """Give the routes their store, and the bridge's context when there is one (then location, connector and
    tariff changes are pushed to partners, `ocpi.publish`): set on the root application (before it starts)."""
    app[OCPI_STORE] = store
    if ctx is not None:
        app[OCPI_CONTEXT] = ctx


__all__ = ["OCPI_CONTEXT", "OCPI_STORE", "ROUTES", "install"]
