"""Pushes of what operators change — Locations, EVSEs, Connectors and Tariffs — to every partner with the
module's RECEIVER endpoint, queued in the durable outbox (`ocpi.push.push_to_receivers`); called by the
operator endpoints (`ocpi.admin_api`) after the change is stored. EVSE status changes reported by the
stations are pushed by the feeder (`ocpi.push.PushFeeder`), not here.

Locations (OCPI 2.2.1 Locations, receiver interface `{url}/{country_code}/{party_id}/{location_id}
[/{evse_uid}[/{connector_id}]]`, PUT and PATCH, no DELETE):

- A published location created or edited is PUT whole (object key `location:<id>`), its EVSEs included, so an
  EVSE that joined it (its charge point added) reaches partners with it.
- An EVSE partners had and the location no longer has (its charge point left the location, or the location
  was deleted) is PUT once more with status REMOVED: OCPI 2.2.1 has no DELETE for Locations, "set the EVSE
  status to REMOVED". Same object key as its status PATCHes (`evse:<uid>`), so it arrives after them.
- A location that stops being published gets a PATCH `{publish: false, last_updated}`: partners that have it
  must not show it any more (OCPI 2.2.1 Location.publish); a location never published is never pushed.
- A connector's spec set by the operator: the Connector is PUT (`.../{evse_uid}/{connector_id}`) when
  partners have its EVSE, the whole EVSE (`.../{evse_uid}`) when the EVSE is new to them. Receivers bump the
  EVSE's and Location's `last_updated` themselves (OCPI 2.2.1 Locations, "last_updated").

What partners "have" is the published Location as it was just before the change: the caller takes a
`location_snapshot` before storing the change and hands it to `location_changed` / `connector_changed`.

Tariffs (OCPI 2.2.1 Tariffs, receiver interface `{url}/{country_code}/{party_id}/{tariff_id}`, PUT and
DELETE, no PATCH): a tariff created or replaced is PUT whole, a deleted one DELETEd (key `tariff:<id>`).

Queueing a push never undoes the operator's change: a failure is logged (`ocpi_publish_failed`) and partners
still see the change on their next pull (every object carries `last_updated`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ocpi import locations, tariffs
from ocpi.context import OcpiContext
from ocpi.push import push_to_receivers
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.publish")

LocationObject = dict[str, Any]


async def _guarded(what: str, fn: Callable[[], Awaitable[int]], **fields: Any) -> int:
    """Run one publishing step; an error is logged (the operator's change is stored already)."""
    try:
        return await fn()
    except Exception:
        log.exception("ocpi_publish_failed", what=what, **fields)
        return 0


def _location_suffix(obj: LocationObject) -> str:
    return f"/{obj['country_code']}/{obj['party_id']}/{obj['id']}"


async def location_snapshot(ctx: OcpiContext, location_id: str) -> LocationObject | None:
    """The OCPI Location object partners have of a location now: None when it does not exist or is not
    published. Take it before storing a change and pass it to `location_changed`."""
    location = await ctx.store.get_location(location_id)
    if location is None or not location.publish:
        return None
    return await locations.location_object(ctx, location)


async def location_snapshot_of(ctx: OcpiContext, charge_point_id: str) -> LocationObject | None:
    """`location_snapshot` of the location a charge point is in (None when it is in none)."""
    location = await ctx.store.location_of(charge_point_id)
    if location is None:
        return None
    return await location_snapshot(ctx, location.id)


async def location_changed(
    ctx: OcpiContext, before: LocationObject | None, location_id: str, org_id: str | None = None
) -> int:
    """Push a location created, replaced or deleted (see the module docstring).

    Args:
        before: `location_snapshot` taken before the change (None: partners had nothing of it).
        location_id: the location, as stored now (absent when deleted).
        org_id: its organization: only that organization's partners are pushed to (ADR 0012); None: all.

    Returns:
        How many pushes were queued (one per partner and object).
    """
    return await _guarded(
        "location", lambda: _location_changed(ctx, before, location_id, org_id), location_id=location_id
    )


async def _location_changed(
    ctx: OcpiContext, before: LocationObject | None, location_id: str, org_id: str | None
) -> int:
    after = await location_snapshot(ctx, location_id)
    queued = 0
    if after is not None:
        key, suffix = f"location:{location_id}", _location_suffix(after)
        queued += await push_to_receivers(ctx, "locations", key, "PUT", suffix, after, org_id=org_id)
    elif before is not None and await ctx.store.get_location(location_id) is not None:
        # Unpublished (not deleted): OCPI 2.2.1 Location.publish false — partners stop showing it.
        body = {"publish": False, "last_updated": ocpi_datetime(ctx.clock())}
        key, suffix = f"location:{location_id}", _location_suffix(before)
        queued += await push_to_receivers(ctx, "locations", key, "PATCH", suffix, body, org_id=org_id)
        return queued
    if before is not None:
        queued += await _push_removed_evses(ctx, before, after, org_id)
    return queued


async def _push_removed_evses(
    ctx: OcpiContext, before: LocationObject, after: LocationObject | None, org_id: str | None
) -> int:
    """PUT each EVSE of `before` that `after` lacks with status REMOVED (OCPI 2.2.1 Locations: no DELETE)."""
    kept = {evse["uid"] for evse in (after or {}).get("evses", [])}
    now = ocpi_datetime(ctx.clock())
    queued = 0
    for evse in before.get("evses", []):
        uid = evse["uid"]
        if uid in kept:
            continue
        body = {**evse, "status": "REMOVED", "last_updated": now}
        suffix = f"{_location_suffix(before)}/{uid}"
        queued += await push_to_receivers(ctx, "locations", f"evse:{uid}", "PUT", suffix, body, org_id=org_id)
    return queued


async def connector_changed(
    ctx: OcpiContext,
    before: LocationObject | None,
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    org_id: str | None = None,
) -> int:
    """Push a connector whose spec the operator set: the Connector PUT when partners have its EVSE, the
    whole EVSE PUT when it is new to them; nothing when its charge point is in no published location.

    Args:
        before: `location_snapshot_of(charge_point_id)` taken before the change.
        org_id: the charge point's organization: only its partners are pushed to (ADR 0012); None: all.

    Returns:
        How many pushes were queued.
    """
    return await _guarded(
        "connector",
        lambda: _connector_changed(ctx, before, charge_point_id, evse_id, connector_id, org_id),
        charge_point_id=charge_point_id,
        evse_id=evse_id,
        connector_id=connector_id,
    )


async def _connector_changed(
    ctx: OcpiContext,
    before: LocationObject | None,
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    org_id: str | None,
) -> int:
    after = await location_snapshot_of(ctx, charge_point_id)
    if after is None:
        return 0
    uid = (await ctx.store.evse_uid(charge_point_id, evse_id)).uid
    evse = next((evse for evse in after["evses"] if evse["uid"] == uid), None)
    if evse is None:  # pragma: no cover - a spec makes its EVSE part of the location
        return 0
    suffix = f"{_location_suffix(after)}/{uid}"
    had = [] if before is None or before["id"] != after["id"] else before["evses"]
    known = any(e["uid"] == uid for e in had)
    connector = next((c for c in evse["connectors"] if c["id"] == str(connector_id)), None)
    if known and connector is not None:
        return await push_to_receivers(
            ctx, "locations", f"evse:{uid}", "PUT", f"{suffix}/{connector_id}", connector, org_id=org_id
        )
    return await push_to_receivers(ctx, "locations", f"evse:{uid}", "PUT", suffix, evse, org_id=org_id)


async def tariff_changed(ctx: OcpiContext, tariff_id: str, org_id: str | None = None) -> int:
    """PUT a tariff created or replaced to every tariffs receiver (OCPI 2.2.1 Tariffs).

    Returns:
        How many pushes were queued (0 when the tariff is gone).
    """

    async def push() -> int:
        tariff = await ctx.store.get_tariff(tariff_id)
        if tariff is None:
            return 0
        obj = tariffs.tariff_object(ctx, tariff)
        suffix = f"/{obj['country_code']}/{obj['party_id']}/{tariff_id}"
        key = f"tariff:{tariff_id}"
        return await push_to_receivers(ctx, "tariffs", key, "PUT", suffix, obj, org_id=org_id)

    return await _guarded("tariff", push, tariff_id=tariff_id)


async def tariff_deleted(ctx: OcpiContext, tariff_id: str, org_id: str | None = None) -> int:
    """DELETE a deleted tariff at every tariffs receiver (OCPI 2.2.1 Tariffs: DELETE, no body).

    Returns:
        How many pushes were queued.
    """

    async def push() -> int:
        suffix = f"/{ctx.config.country_code}/{ctx.config.party_id}/{tariff_id}"
        key = f"tariff:{tariff_id}"
        return await push_to_receivers(ctx, "tariffs", key, "DELETE", suffix, None, org_id=org_id)

    return await _guarded("tariff", push, tariff_id=tariff_id)
