"""The OCPI bridge's endpoints in the operator REST API (`/api/v1/locations`, `/tariffs`, connector specs,
`/ocpi/partners`, `/ocpi/outbox`, a session's cost breakdown and receipt, CDRs and their corrections, the
Agent API's client accounts and the eMSP role's CPOs):
contributed to the API's route table by the composition root (`csms.app`), since `csms.api` knows nothing
of OCPI."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from csms.api.expand import RELATED, Related
from csms.api.params import DOMAIN, SESSION_COST, CostOf
from csms.api.routes import Route
from csms.config import OcpiConfig
from ocpi.admin_api import (
    agent_clients,
    cdrs,
    emsp_cpos,
    locations,
    partners,
    portal,
    session_costs,
    tariffs,
)
from ocpi.admin_api.partners import OCPI_CONTEXT, OCPI_STORE
from ocpi.admin_api.serialize import location_json, tariff_json
from ocpi.context import OcpiContext
from ocpi.store import OcpiStore

ROUTES: tuple[Route, ...] = (
    *locations.ROUTES,
    *tariffs.ROUTES,
    *partners.ROUTES,
    *session_costs.ROUTES,
    *cdrs.ROUTES,
    *portal.ROUTES,
    *agent_clients.ROUTES,
    *emsp_cpos.ROUTES,
)


def install(app: web.Application, store: OcpiStore, ctx: OcpiContext | None = None) -> None:
    """Give the routes their store, and the bridge's context when there is one (then location, connector and
    tariff changes are pushed to partners, `ocpi.publish`): set on the root application (before it starts),
    which `csms.api.create_app` made. Sessions are priced from then on (`GET /sessions/{id}` shows `cost`).
    """
    app[OCPI_STORE] = store
    if ctx is not None:
        app[OCPI_CONTEXT] = ctx
    pricing = ctx or session_costs.pricing_context(app[DOMAIN], store)
    cost_of: CostOf = partial(session_costs.cost_so_far, pricing)
    app[SESSION_COST] = cost_of
    app[RELATED] = related(store, app[DOMAIN].services.config.ocpi)


def related(store: OcpiStore, ocpi: OcpiConfig) -> Related:
    """What `expand=` and `location_id=` read from the bridge: locations and sessions' pinned tariffs."""

    async def location_of(charge_point_id: str) -> dict[str, Any] | None:
        location = await store.location_of(charge_point_id)
        return None if location is None else location_json(location)

    async def charge_points_at(location_id: str, org_id: str) -> list[str] | None:
        location = await store.get_location(location_id, org_id=org_id)
        return None if location is None else list(location.charge_point_ids)

    async def tariff_of_session(session_id: int) -> dict[str, Any] | None:
        link = await store.find_session_link(transaction_pk=session_id)
        tariff = None if link is None or link.tariff_id is None else await store.get_tariff(link.tariff_id)
        return None if tariff is None else tariff_json(tariff, ocpi.country_code, ocpi.party_id)

    return Related(location_of, charge_points_at, tariff_of_session)


__all__ = ["OCPI_CONTEXT", "OCPI_STORE", "ROUTES", "install"]
