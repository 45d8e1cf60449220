"""The parts of the site-owner and driver portals that OCPI prices (`csms.api.site_owners`,
`csms.api.drivers` serve the rest):

- `PUT /site-owners/{site_owner_id}/locations`: which OCPI locations a site owner hosts (one host each);
- `GET /site-owner/projects[/{location_id}]`: those sites with their charge points, energy and the site
  owner's revenue share of the sessions' incl.-VAT totals (`ocpi.session_costs`);
- `GET /portal/sessions/{session_id}/cost-breakdown` and `/receipt`: a driver's own session, priced and
  rendered as for operators (`ocpi.admin_api.session_costs`);
- `PATCH /disputes/{dispute_id}`: operators move a dispute on; resolving it with `credit` corrects the
  session's CDR (`ocpi.corrections`: a credit CDR plus a new one priced again).

Without the OCPI store these answer 503 `ocpi_disabled` (a dispute update without `credit` needs none).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from csms.api import portal_models
from csms.api.auth import Role
from csms.api.drivers import dispute_json, driver_session, organization_dispute
from csms.api.errors import ApiError, invalid_request, not_found, still_there
from csms.api.params import get_services, read_model
from csms.api.responses import json_response
from csms.api.routes import Operations, Route
from csms.api.site_owners import (
    PORTAL_PATH_PARAMETERS,
    organization_site_owner,
    signed_in_site_owner,
    site_owner_json,
)
from csms.domain.events import DisputeChanged
from csms.domain.models import Transaction, TransactionStatus
from csms.domain.portal import DISPUTE_TRANSITIONS, Dispute, DisputeStatus, SiteOwner
from ocpi.admin_api import models
from ocpi.admin_api.params import PATH_PARAMETERS as OCPI_PATH_PARAMETERS
from ocpi.admin_api.partners import get_ocpi_store
from ocpi.admin_api.session_costs import PDF, _facts, breakdown_json, request_context
from ocpi.context import OcpiContext
from ocpi.corrections import CorrectionError, correct_cdr, effective_cdr
from ocpi.models import Location
from ocpi.receipts import receipt_pdf
from ocpi.session_costs import session_cost

log = structlog.get_logger("ocpi.admin_api.portal")

api = Operations(path_parameters={**OCPI_PATH_PARAMETERS, **PORTAL_PATH_PARAMETERS})

SESSIONS_PAGE = 500


@api("PUT", "/site-owners/{site_owner_id}/locations", {200: portal_models.SiteOwnerInvitation},
     errors=(400, 404, 409, 503), role=Role.ADMIN, body=portal_models.SiteOwnerLocationsBody)  # fmt: skip
async def handle_replace_site_owner_locations(request: web.Request) -> web.Response:
    """Replace the locations a site owner hosts.

    `PUT /site-owners/{site_owner_id}/locations` {location_ids}: the site owner's projects from now on. 400
    `invalid_request` naming `location_ids` for an unknown location; 409 `location_taken` for one another
    site owner of the organization hosts already."""
    services = get_services(request)
    store = get_ocpi_store(request)
    body = await read_model(request, portal_models.SiteOwnerLocationsBody)
    owner = await organization_site_owner(request)
    wanted = tuple(dict.fromkeys(body.location_ids))
    for location_id in wanted:
        if await store.get_location(location_id, org_id=owner.org_id) is None:  # only the organization's
            raise invalid_request("location_ids", f"no location {location_id!r}")
    for other in await services.store.list_site_owners(owner.org_id):
        taken = set(other.location_ids) & set(wanted) if other.id != owner.id else set()
        if taken:
            raise ApiError(409, "location_taken", "another site owner hosts these locations",
                           {"location_ids": sorted(taken), "site_owner_id": other.id})  # fmt: skip
    owner = replace(owner, location_ids=wanted)
    with still_there(f"site owner {owner.id}"):
        await services.store.save_site_owner(owner)
    documents = len(await services.store.list_site_owner_documents(owner.id))
    return json_response(site_owner_json(owner, documents))


def energy_wh(tx: Transaction) -> int:
    """The energy a session delivered (Wh), 0 before its meter moved."""
    if tx.meter_start_wh is None:
        return 0
    end = tx.meter_stop_wh if tx.meter_stop_wh is not None else tx.last_meter_wh
    return 0 if end is None else max(end - tx.meter_start_wh, 0)


async def _project(
    request: web.Request, ctx: OcpiContext, owner: SiteOwner, location: Location
) -> dict[str, Any]:
    services = get_services(request)
    energy = dict.fromkeys(location.charge_point_ids, 0)
    counts = dict.fromkeys(location.charge_point_ids, 0)
    revenue = Decimal(0)
    currency: str | None = None
    cursor: str | None = None
    while location.charge_point_ids:
        sessions, cursor = await services.store.list_transactions(
            limit=SESSIONS_PAGE, charge_point_ids=location.charge_point_ids, cursor=cursor
        )
        for tx in sessions:
            counts[tx.charge_point_id] += 1
            energy[tx.charge_point_id] += energy_wh(tx)
            if tx.status is TransactionStatus.COMPLETED:
                cost = await session_cost(ctx, tx)
                revenue += cost.total.incl_vat
                currency = currency or cost.currency
        if cursor is None:
            break
    if currency is None:
        org = await services.store.get_organization(owner.org_id)
        currency = "EUR" if org is None else org.currency
    share = (revenue * owner.revenue_share_percent / 100).quantize(Decimal("0.01"))
    return {
        "location_id": location.id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "country": location.country,
        "charge_points": [
            {"charge_point_id": cp, "energy_wh": energy[cp], "sessions": counts[cp]} for cp in energy
        ],
        "sessions": sum(counts.values()),
        "energy_wh": sum(energy.values()),
        "revenue_incl_vat": format(revenue, "f"),
        "revenue_share_percent": format(owner.revenue_share_percent, "f"),
        "revenue_share": format(share, "f"),
        "currency": currency,
    }


@api("GET", "/site-owner/projects", {200: portal_models.ProjectList}, errors=(503,), role=Role.SITE_OWNER)
async def handle_list_site_owner_projects(request: web.Request) -> web.Response:
    """List the site owner's projects.

    `GET /site-owner/projects`: the sites (locations) the site owner hosts, each with its charge points,
    the energy delivered (Wh), the revenue (incl. VAT) of its finished sessions and the site owner's
    `revenue_share_percent` of it."""
    ctx = request_context(request)
    owner = await signed_in_site_owner(request)
    items = []
    for location_id in owner.location_ids:
        location = await ctx.store.get_location(location_id, org_id=owner.org_id)
        if location is not None:
            items.append(await _project(request, ctx, owner, location))
    return json_response({"items": items})


@api("GET", "/site-owner/projects/{location_id}", {200: portal_models.Project}, errors=(404, 503),
     role=Role.SITE_OWNER)  # fmt: skip
async def handle_get_site_owner_project(request: web.Request) -> web.Response:
    """One of the site owner's projects.

    `GET /site-owner/projects/{location_id}`: as in the list; 404 for a site they do not host."""
    ctx = request_context(request)
    owner = await signed_in_site_owner(request)
    location_id = request.match_info["location_id"]
    hosted = location_id in owner.location_ids
    location = await ctx.store.get_location(location_id, org_id=owner.org_id) if hosted else None
    if location is None:
        raise not_found(f"project {location_id!r}")
    return json_response(await _project(request, ctx, owner, location))


@api("GET", "/portal/sessions/{session_id}/cost-breakdown", {200: models.CostBreakdown},
     errors=(400, 404, 503), role=Role.DRIVER)  # fmt: skip
async def handle_get_driver_cost_breakdown(request: web.Request) -> web.Response:
    """The cost of one of the driver's sessions, per dimension.

    `GET /portal/sessions/{session_id}/cost-breakdown`: as `GET /sessions/{session_id}/cost-breakdown`; 404
    for a session not of the driver's id tokens."""
    ctx = request_context(request)
    _, tx = await driver_session(request)
    return json_response(breakdown_json(await session_cost(ctx, tx)))


@api("GET", "/portal/sessions/{session_id}/receipt", {200: None}, errors=(400, 404, 409, 503),
     role=Role.DRIVER, media_type=PDF)  # fmt: skip
async def handle_get_driver_receipt(request: web.Request) -> web.Response:
    """The receipt of one of the driver's finished sessions (PDF).

    `GET /portal/sessions/{session_id}/receipt`: `application/pdf`, as `GET /sessions/{session_id}/receipt`;
    409 `session_active` while it runs; 404 for a session not of the driver's id tokens."""
    ctx = request_context(request)
    _, tx = await driver_session(request)
    if tx.status is not TransactionStatus.COMPLETED:
        raise ApiError(409, "session_active", f"session {tx.id} is still running: no receipt before its end",
                       {"session_id": tx.id})  # fmt: skip
    cost = await session_cost(ctx, tx)
    pdf = await asyncio.to_thread(receipt_pdf, await _facts(ctx, tx), cost)
    return web.Response(
        body=pdf, content_type=PDF, headers={"Content-Disposition": f'inline; filename="receipt-{tx.id}.pdf"'}
    )


@api("PATCH", "/disputes/{dispute_id}", {200: portal_models.Dispute}, errors=(400, 404, 409, 503),
     body=portal_models.DisputeUpdate)  # fmt: skip
async def handle_update_dispute(request: web.Request) -> web.Response:
    """Move a dispute on.

    `PATCH /disputes/{dispute_id}` {status, resolution?, credit? {tariff_id?, total_energy_wh?}}: only
    open -> under_review -> resolved | rejected (else 409 `invalid_transition`); resolving or rejecting
    needs a `resolution`. Resolving with `credit` corrects the session's CDR: a credit CDR and a replacement
    priced again with `tariff_id` and/or `total_energy_wh` (409 `no_cdr` when the session has none yet, and
    the correction's own 409s); their ids are kept on the dispute."""
    services = get_services(request)
    body = await read_model(request, portal_models.DisputeUpdate)
    dispute = await organization_dispute(request)
    target = DisputeStatus(body.status)
    if target not in DISPUTE_TRANSITIONS[dispute.status]:
        raise _invalid_transition(dispute.status, target)
    if body.credit is not None and target is not DisputeStatus.RESOLVED:
        raise invalid_request("credit", "only a dispute being resolved is credited")
    if target in (DisputeStatus.RESOLVED, DisputeStatus.REJECTED) and body.resolution is None:
        raise invalid_request("resolution", f"required to mark a dispute {target.value}")
    before = dispute.status
    changed = replace(dispute, status=target, resolution=body.resolution or dispute.resolution,
                      updated_at=services.clock())  # fmt: skip
    cdr = None
    if body.credit is not None:
        cdr = await effective_cdr(request_context(request).store, dispute.session_id)
        if cdr is None:
            raise ApiError(409, "no_cdr", f"session {dispute.session_id} has no CDR to credit yet",
                           {"session_id": dispute.session_id})  # fmt: skip
    # The transition is claimed first (compare-and-set on the status): of two concurrent resolutions only
    # one gets here, so a dispute's CDR is credited once.
    if not await services.store.save_dispute(changed, before):
        current = await services.store.get_dispute(dispute.id)
        raise _invalid_transition(before if current is None else current.status, target)
    if body.credit is not None and cdr is not None:
        changed = await _credit(request, changed, dispute, cdr.id, body.credit)
    log.info("dispute_updated", org_id=dispute.org_id, dispute_id=dispute.id, status=target.value,
             credit_cdr_id=changed.credit_cdr_id)  # fmt: skip
    await services.events.publish(DisputeChanged(changed, "updated"))
    return json_response(dispute_json(changed))


async def _credit(
    request: web.Request, changed: Dispute, before: Dispute, cdr_id: str, credit: portal_models.DisputeCredit
) -> Dispute:
    """Correct the CDR of a dispute whose resolution was just stored (`ocpi.corrections`), and store the
    credit and replacement ids on it. When the correction is refused, the dispute is put back as it was
    and the refusal answered."""
    services = get_services(request)
    try:
        correction = await correct_cdr(
            request_context(request),
            cdr_id,
            f"dispute {before.id}: {changed.resolution}",
            tariff_id=credit.tariff_id,
            energy_wh=credit.total_energy_wh,
        )
    except CorrectionError as exc:
        await services.store.save_dispute(before, changed.status)
        field = exc.details.pop("field", None)
        reason = {"field": f"credit.{field}", "reason": exc.message}
        details = [reason] if field is not None else exc.details or None
        raise ApiError(exc.status, exc.code, exc.message, details) from None
    credited = replace(changed, credit_cdr_id=correction.credit.id,
                       replacement_cdr_id=correction.replacement.id)  # fmt: skip
    await services.store.save_dispute(credited, changed.status)
    return credited


def _invalid_transition(current: DisputeStatus, target: DisputeStatus) -> ApiError:
    allowed = sorted(s.value for s in DISPUTE_TRANSITIONS[current])
    return ApiError(409, "invalid_transition",
                    f"a dispute {current.value} cannot become {target.value}",
                    {"from": current.value, "to": target.value, "allowed": allowed})  # fmt: skip


ROUTES: tuple[Route, ...] = tuple(api.routes)
