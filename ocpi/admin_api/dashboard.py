"""The OCPI bridge's side of the operator dashboard: the `csms.ui.roaming.Roaming` hook, installed by the
composition root on the `/ui` app (the dashboard's counterpart of `ocpi.admin_api.install`)."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.core import Domain
from csms.domain.models import Transaction
from csms.ui.roaming import JsonObject, Roaming
from ocpi.admin_api.partners import _find_outbox_entry, _partner_ids
from ocpi.admin_api.serialize import location_json, ocpi_partner_json, outbox_entry_json, tariff_json
from ocpi.admin_api.session_costs import breakdown_json, pricing_context
from ocpi.context import OcpiContext
from ocpi.models import OutboxStatus
from ocpi.session_costs import session_cost
from ocpi.store import OcpiStore, Pagination

LIMIT = 500  # rows a dashboard list shows


def roaming(domain: Domain, store: OcpiStore, ctx: OcpiContext | None = None) -> Roaming:
    """The dashboard's view of the bridge's `store`; sessions are priced as `GET /sessions/{id}` prices
    them (the bridge's context, or a pricing-only one without it)."""
    pricing = ctx or pricing_context(domain, store)
    ocpi = domain.config.ocpi

    async def cost_breakdown(tx: Transaction) -> JsonObject:
        return breakdown_json(await session_cost(pricing, tx))

    async def locations(org_id: str) -> list[JsonObject]:
        page, _ = await store.list_locations(Pagination(offset=0, limit=LIMIT), org_id=org_id)
        return [location_json(location) for location in page]

    async def tariffs(org_id: str) -> list[JsonObject]:
        page, _ = await store.list_tariffs(Pagination(offset=0, limit=LIMIT), org_id=org_id)
        return [tariff_json(tariff, ocpi.country_code, ocpi.party_id) for tariff in page]

    async def partners(org_id: str) -> list[JsonObject]:
        return [ocpi_partner_json(p) for p in await store.list_partners(org_id=org_id)]

    async def outbox(org_id: str) -> list[JsonObject]:
        entries = await store.list_outbox(limit=LIMIT, partner_ids=await _partner_ids(store, org_id))
        return [outbox_entry_json(e) for e in entries]

    async def retry_push(org_id: str, entry_id: int) -> str | None:
        # As `POST /ocpi/outbox/{entry_id}/retry`: only a failed push, pending again with 0 attempts.
        entry = await _find_outbox_entry(store, entry_id, org_id)
        if entry is None:
            return "not_found"
        if entry.status != OutboxStatus.FAILED:
            return "outbox_entry_not_failed"
        await store.save_outbox(replace(entry, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None))
        return None

    return Roaming(cost_breakdown, locations, tariffs, partners, outbox, retry_push)
