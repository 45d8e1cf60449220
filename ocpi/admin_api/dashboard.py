"""The OCPI bridge's side of the operator dashboard: the `csms.ui.roaming.Roaming` hook, installed by the
composition root on the `/ui` app (the dashboard's counterpart of `ocpi.admin_api.install`). Each call does
what its REST operation does (same body models, checks, pricing and pushes to partners)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from csms.api.errors import ApiError
from csms.domain.core import Domain
from csms.domain.models import Transaction
from csms.ui.roaming import JsonObject, Roaming
from ocpi import publish
from ocpi.admin_api import locations as location_ops
from ocpi.admin_api import tariffs as tariff_ops
from ocpi.admin_api.bodies import LocationCreate, TariffCreate
from ocpi.admin_api.partners import find_outbox_entry, org_partner_ids
from ocpi.admin_api.serialize import location_json, ocpi_partner_json, outbox_entry_json, tariff_json
from ocpi.admin_api.session_costs import breakdown_json, pricing_context
from ocpi.context import OcpiContext
from ocpi.models import OutboxStatus
from ocpi.session_costs import session_cost
from ocpi.store import OcpiStore, Pagination

LIMIT = 500  # rows a dashboard list page shows


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def _next_offset(offset: int, returned: int, total: int) -> int | None:
    # The dashboard's next page starts after this one; None once every row was shown.
    after = offset + returned
    return after if returned and after < total else None


class _Bridge:
    """The bridge's records for the dashboard; its bound methods make the `Roaming` hook."""

    def __init__(self, domain: Domain, store: OcpiStore, ctx: OcpiContext | None) -> None:
        self.domain = domain
        self.store = store
        self.ctx = ctx
        self.pricing = ctx or pricing_context(domain, store)  # as `GET /sessions/{id}` prices

    async def cost_breakdown(self, tx: Transaction) -> JsonObject:
        return breakdown_json(await session_cost(self.pricing, tx))

    async def locations(self, org_id: str, offset: int) -> tuple[list[JsonObject], int | None]:
        page, total = await self.store.list_locations(Pagination(offset=offset, limit=LIMIT), org_id=org_id)
        return [location_json(location) for location in page], _next_offset(offset, len(page), total)

    async def tariffs(self, org_id: str, offset: int) -> tuple[list[JsonObject], int | None]:
        ocpi = self.domain.config.ocpi
        page, total = await self.store.list_tariffs(Pagination(offset=offset, limit=LIMIT), org_id=org_id)
        rows = [tariff_json(tariff, ocpi.country_code, ocpi.party_id) for tariff in page]
        return rows, _next_offset(offset, len(page), total)

    async def partners(self, org_id: str) -> list[JsonObject]:
        return [ocpi_partner_json(p) for p in await self.store.list_partners(org_id=org_id)]

    async def outbox(self, org_id: str) -> list[JsonObject]:
        entries = await self.store.list_outbox(
            limit=LIMIT, partner_ids=await org_partner_ids(self.store, org_id)
        )
        return [outbox_entry_json(e) for e in entries]

    async def retry_push(self, org_id: str, entry_id: int) -> str | None:
        # As `POST /ocpi/outbox/{entry_id}/retry`: only a failed push, pending again with 0 attempts.
        entry = await find_outbox_entry(self.store, entry_id, org_id)
        if entry is None:
            return "not_found"
        if entry.status != OutboxStatus.FAILED:
            return "outbox_entry_not_failed"
        pending = replace(entry, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None)
        await self.store.save_outbox(pending)
        return None

    async def save_tariff(self, org_id: str, body: dict[str, Any], create: bool) -> str | None:
        # As `POST /tariffs` (create) or `PUT /tariffs/{id}`: the same body model and pricing check.
        try:
            fields = TariffCreate.model_validate(body)
        except ValidationError as exc:
            return _first_error(exc)
        stored = await self.store.get_tariff(fields.id)
        if create and stored is not None:
            return f"tariff {fields.id} already exists"
        if not create and (stored is None or stored.org_id != org_id):
            return f"tariff {fields.id} not found"
        try:
            tariff = tariff_ops.tariff_record(fields, fields.id, self.domain.services, org_id)
        except ApiError as exc:
            return exc.message
        await self.store.save_tariff(tariff)
        if self.ctx is not None:
            await publish.tariff_changed(self.ctx, fields.id, org_id)
        return None

    async def save_location(self, org_id: str, body: dict[str, Any], create: bool) -> str | None:
        # As `POST /locations` (create) or `PUT /locations/{id}`: charge points of the organization and in
        # no other location, known tariffs; then pushed to partners.
        try:
            fields = LocationCreate.model_validate(body)
        except ValidationError as exc:
            return _first_error(exc)
        current = await self.store.get_location(fields.id)
        if create and current is not None:
            return f"location {fields.id} already exists"
        if not create and (current is None or current.org_id != org_id):
            return f"location {fields.id} not found"
        services = self.domain.services
        try:
            party = location_ops.location_party(fields, services, current)
            await location_ops.check_charge_points(
                services, self.store, fields.charge_point_ids, fields.id, org_id
            )
            await location_ops.check_tariffs(self.store, fields.tariff_ids, org_id)
        except ApiError as exc:
            return exc.message
        before = None if self.ctx is None else await publish.location_snapshot(self.ctx, fields.id)
        await self.store.save_location(
            location_ops.location_record(fields, fields.id, services, party, org_id)
        )
        if self.ctx is not None:
            await publish.location_changed(self.ctx, before, fields.id, org_id)
        return None


def roaming(domain: Domain, store: OcpiStore, ctx: OcpiContext | None = None) -> Roaming:
    """The dashboard's view of the bridge's `store` (with the bridge's context `ctx`, changes are pushed to
    partners; without it sessions are priced by a pricing-only context)."""
    b = _Bridge(domain, store, ctx)
    return Roaming(
        b.cost_breakdown, b.locations, b.tariffs, b.partners, b.outbox, b.retry_push, b.save_tariff,
        b.save_location,
    )  # fmt: skip
