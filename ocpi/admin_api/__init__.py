"""The OCPI bridge's endpoints in the operator REST API (`/api/v1/locations`, `/tariffs`, connector specs,
`/ocpi/partners`, `/ocpi/outbox`): contributed to the API's route table by the composition root
(`csms.app`), since `csms.api` knows nothing of OCPI."""

from __future__ import annotations

from aiohttp import web

from csms.api.routes import Route
from ocpi.admin_api import locations, partners, tariffs
from ocpi.admin_api.partners import OCPI_STORE
from ocpi.store import OcpiStore

ROUTES: tuple[Route, ...] = (*locations.ROUTES, *tariffs.ROUTES, *partners.ROUTES)


def install(app: web.Application, store: OcpiStore) -> None:
    """Give the routes their store: set it on the root application (before it starts)."""
    app[OCPI_STORE] = store


__all__ = ["OCPI_STORE", "ROUTES", "install"]
