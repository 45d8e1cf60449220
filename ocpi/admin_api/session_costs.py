"""`/sessions/{session_id}/cost-breakdown` and `/sessions/{session_id}/receipt`: what a session costs, per
dimension and as a PDF receipt (`ocpi.session_costs`, `ocpi.receipts`); and the cost `GET /sessions/{id}`
shows (`cost_so_far`, installed as `csms.api.params.SESSION_COST`).

Both read the OCPI store (tariffs, locations and CDRs are OCPI's): without it they answer 503
`ocpi_disabled`; without a running bridge they price from the store alone (`pricing_context`). A session
without a tariff is free: a zero breakdown (`tariff_id` null), not an error, as its CDR says `total_cost` 0.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from csms.api.auth import org_of
from csms.api.errors import ApiError, found
from csms.api.params import MAX_ID, CostSoFar, get_domain, get_services, int_path_param
from csms.api.responses import json_response
from csms.api.routes import Route
from csms.api.serialize import timestamp
from csms.domain.core import Domain
from csms.domain.models import Transaction, TransactionStatus
from csms.domain.pricing import Price
from ocpi.admin_api import models
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import get_ocpi_context, get_ocpi_store
from ocpi.context import OcpiContext
from ocpi.receipts import ReceiptFacts, receipt_pdf
from ocpi.session_costs import CostBreakdown, session_cost
from ocpi.store import OcpiStore

api = operations()
PDF = "application/pdf"


async def cost_so_far(ctx: OcpiContext, tx: Transaction) -> CostSoFar:
    """The total of `session_cost` for `GET /sessions/{id}` (bind `ctx` with functools.partial)."""
    cost = await session_cost(ctx, tx)
    return CostSoFar(cost.total.excl_vat, cost.total.incl_vat, cost.currency, cost.final)


def pricing_context(domain: Domain, store: OcpiStore) -> OcpiContext:
    """A context to price sessions with when the API runs without a bridge: pricing reads only the domain,
    the OCPI store (tariffs, locations, session links, CDRs), `[ocpi]` and the clock; nothing is pushed."""
    services = domain.services
    config = services.config.ocpi
    return OcpiContext(domain=domain, store=store, config=config, base_url="", clock=services.clock)


def request_context(request: web.Request) -> OcpiContext:
    """The bridge's context, else one on the OCPI store (503 `ocpi_disabled` without a store)."""
    return get_ocpi_context(request) or pricing_context(get_domain(request), get_ocpi_store(request))


async def _transaction(request: web.Request) -> Transaction:
    services = get_services(request)
    session_id = int_path_param(request, "session_id")
    await services.writer.sync()
    org_id = org_of(request)
    tx = await services.store.get_transaction(session_id, org_id=org_id) if session_id <= MAX_ID else None
    return found(tx, f"session {session_id}")


def _money(price: Price) -> dict[str, str]:
    return {"excl_vat": format(price.excl_vat, "f"), "incl_vat": format(price.incl_vat, "f")}


def breakdown_json(cost: CostBreakdown) -> dict[str, object]:
    """The `CostBreakdown` response body of `cost`."""
    return {
        "session_id": cost.session_id,
        "currency": cost.currency,
        "total": _money(cost.total),
        "amounts": {dimension: _money(price) for dimension, price in cost.amounts.items()},
        "price_distribution": {group: format(share, "f") for group, share in cost.shares().items()},
        "tariff_id": cost.tariff_id,
        "blocking_fee_starts_at": timestamp(cost.blocking_fee_starts_at),
        "final": cost.final,
        "billed": cost.billed,
    }


@api("GET", "/sessions/{session_id}/cost-breakdown", {200: models.CostBreakdown}, errors=(400, 404, 503),
     description="Priced now while the session runs, the CDR's amounts once it exists; a session without a "
                 "tariff is free (zero amounts, `tariff_id` null). 503 `ocpi_disabled` without the OCPI "
                 "store.")
async def handle_get_cost_breakdown(request: web.Request) -> web.Response:
    """A session's cost per dimension.

    `GET /sessions/{session_id}/cost-breakdown`: the total and the amount of each dimension (energy, time,
    parking, flat, reservation) excl. and incl. VAT, each group's share of the incl.-VAT amounts, the
    tariff used and when a blocking fee starts counting.

    Errors: 404 `not_found` unknown session; 503 `ocpi_disabled`.
    """
    ctx = request_context(request)
    tx = await _transaction(request)
    return json_response(breakdown_json(await session_cost(ctx, tx)))


async def _facts(ctx: OcpiContext, tx: Transaction) -> ReceiptFacts:
    location = await ctx.store.location_of(tx.charge_point_id)
    where = "-"
    if location is not None:
        parts = (location.name, location.address, location.postal_code, location.city, location.country)
        where = ", ".join(part for part in parts if part)
    return ReceiptFacts(
        operator_name=ctx.config.business_name,
        operator_address=ctx.config.business_address,
        location=where,
        charge_point_id=tx.charge_point_id,
        evse_id=tx.evse_id,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at or tx.started_at,
    )


@api("GET", "/sessions/{session_id}/receipt", {200: None}, errors=(400, 404, 409, 503), media_type=PDF,
     description="409 `session_active` while the session runs: no receipt before the end. The amounts are "
                 "those of `/cost-breakdown` (the CDR's).")
async def handle_get_receipt(request: web.Request) -> web.Response:
    """A finished session's receipt (PDF).

    `GET /sessions/{session_id}/receipt`: `application/pdf` with the operator, location, charge point,
    start and end (UTC), energy, each price component, the VAT and the total.

    Errors: 404 `not_found` unknown session; 409 `session_active` while it runs; 503 `ocpi_disabled`.
    """
    ctx = request_context(request)
    tx = await _transaction(request)
    if tx.status is not TransactionStatus.COMPLETED:
        raise ApiError(409, "session_active", f"session {tx.id} is still running: no receipt before its end",
                       {"session_id": tx.id})
    cost = await session_cost(ctx, tx)
    pdf = await asyncio.to_thread(receipt_pdf, await _facts(ctx, tx), cost)
    return web.Response(
        body=pdf,
        content_type=PDF,
        headers={"Content-Disposition": f'inline; filename="receipt-{tx.id}.pdf"'},
    )


ROUTES: tuple[Route, ...] = tuple(api.routes)
