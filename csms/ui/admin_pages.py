"""The dashboard's management pages: id tokens (list, create, block/unblock), locations with a map drawn
as SVG from their coordinates (no map tiles, nothing fetched), tariffs, and roaming (partners, the push
outbox, retrying a failed push). Locations, tariffs and roaming read the `Roaming` hook
(`csms.ui.roaming`); without it they say roaming is not configured.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from csms.domain.models import IdToken, TokenStatus
from csms.domain.ports import AlreadyExists
from csms.ui.app_keys import PRINCIPAL, UI_DOMAIN, UI_ROAMING, render
from csms.ui.roaming import JsonObject

LIST_LIMIT = 500
MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 600, 360, 20
# OCPP 2.0.1 IdTokenEnumType (1.6 idTags are stored as ISO14443 by default).
ID_TOKEN_TYPES = (
    "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "eMAID", "Central", "NoAuthorization",
)  # fmt: skip


async def _id_tokens_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    domain = request.app[UI_DOMAIN]
    tokens, _ = await domain.store.list_id_tokens(limit=LIST_LIMIT, org_id=request[PRINCIPAL].org_id)
    return render(request, "id_tokens.html", status=status, tokens=tokens, types=ID_TOKEN_TYPES, error=error)


async def handle_id_tokens(request: web.Request) -> web.Response:
    """`GET /ui/id-tokens`: the organization's id tokens with a form to add one."""
    return await _id_tokens_page(request)


def _forbidden(request: web.Request) -> web.Response:
    return render(request, "forbidden.html", status=403)


async def handle_create_id_token(request: web.Request) -> web.Response:
    """`POST /ui/id-tokens` (member): register an id token in the organization, then show the list."""
    principal = request[PRINCIPAL]
    if not principal.may_command:
        return _forbidden(request)
    form = await request.post()
    value = str(form.get("id_token", "")).strip()
    token_type = str(form.get("type", "ISO14443"))
    if not value or len(value) > 36 or token_type not in ID_TOKEN_TYPES:
        return await _id_tokens_page(request, 400, "Give an id token of 1 to 36 characters and a known type.")
    group = str(form.get("group_id_token", "")).strip() or None
    token = IdToken(value, token_type, group_id_token=group, org_id=principal.org_id)
    try:
        await request.app[UI_DOMAIN].store.add_id_token(token)
    except AlreadyExists:
        return await _id_tokens_page(request, 409, f"{value} is already registered.")
    raise web.HTTPSeeOther("/ui/id-tokens")


async def handle_update_id_token(request: web.Request) -> web.Response:
    """`POST /ui/id-tokens/{id_token}` (member) `status=Accepted|Blocked|...`: change a token's status."""
    principal = request[PRINCIPAL]
    if not principal.may_command:
        return _forbidden(request)
    store = request.app[UI_DOMAIN].store
    token = await store.get_id_token(request.match_info["id_token"], org_id=principal.org_id)
    if token is None:
        return render(request, "not_found.html", status=404, what="id token")
    try:
        status = TokenStatus(str((await request.post()).get("status", "")))
    except ValueError:
        return await _id_tokens_page(request, 400, "Unknown status.")
    await store.update_id_token(replace(token, status=status))
    raise web.HTTPSeeOther("/ui/id-tokens")


def _coordinate(value: Any) -> float | None:
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None


def map_points(locations: list[JsonObject]) -> list[dict[str, Any]]:
    """Each location with coordinates placed in the SVG map box (equirectangular, north up, the box fitted
    to the locations with a margin)."""
    placed = []
    for loc in locations:
        coordinates = loc.get("coordinates") or {}
        lat, lon = _coordinate(coordinates.get("latitude")), _coordinate(coordinates.get("longitude"))
        if lat is not None and lon is not None:
            placed.append((loc, lat, lon))
    if not placed:
        return []
    lats, lons = [p[1] for p in placed], [p[2] for p in placed]
    span = max(max(lats) - min(lats), max(lons) - min(lons), 1e-6)
    inner_w, inner_h = MAP_WIDTH - 2 * MAP_MARGIN, MAP_HEIGHT - 2 * MAP_MARGIN
    scale = min(inner_w, inner_h) / span
    return [
        {
            "id": loc["id"],
            "name": loc.get("name") or loc["id"],
            "x": round(MAP_MARGIN + (lon - min(lons)) * scale, 1),
            "y": round(MAP_MARGIN + (max(lats) - lat) * scale, 1),
        }
        for loc, lat, lon in placed
    ]


async def handle_locations(request: web.Request) -> web.Response:
    """`GET /ui/locations`: the organization's locations and their map."""
    hook = request.app.get(UI_ROAMING)
    locations = [] if hook is None else await hook.locations(request[PRINCIPAL].org_id)
    points = map_points(locations)
    return render(
        request, "locations.html", roaming=hook is not None, locations=locations, points=points,
        width=MAP_WIDTH, height=MAP_HEIGHT,
    )  # fmt: skip


async def handle_tariffs(request: web.Request) -> web.Response:
    """`GET /ui/tariffs`: the organization's tariffs with their price components."""
    hook = request.app.get(UI_ROAMING)
    tariffs = [] if hook is None else await hook.tariffs(request[PRINCIPAL].org_id)
    return render(request, "tariffs.html", roaming=hook is not None, tariffs=tariffs)


async def handle_roaming(request: web.Request) -> web.Response:
    """`GET /ui/roaming`: partners with their status and the push outbox (failed pushes can be retried)."""
    hook = request.app.get(UI_ROAMING)
    org_id = request[PRINCIPAL].org_id
    partners = [] if hook is None else await hook.partners(org_id)
    outbox = [] if hook is None else await hook.outbox(org_id)
    notice = request.query.get("notice", "")
    return render(
        request, "roaming.html", roaming=hook is not None, partners=partners, outbox=outbox, notice=notice
    )


async def handle_retry_push(request: web.Request) -> web.Response:
    """`POST /ui/roaming/outbox/{entry_id}/retry` (admin, as the REST operation): a failed push is pending
    again; back to the roaming page with the outcome."""
    principal = request[PRINCIPAL]
    hook = request.app.get(UI_ROAMING)
    raw = request.match_info["entry_id"]
    if principal.role != "admin":
        return _forbidden(request)
    if hook is None or not raw.isdigit() or len(raw) > 18:
        return render(request, "not_found.html", status=404, what="push")
    problem = await hook.retry_push(principal.org_id, int(raw))
    raise web.HTTPSeeOther(f"/ui/roaming?notice={problem or 'retried'}")


def add_routes(app: web.Application) -> None:
    """Register the management pages on the `/ui` app."""
    app.router.add_get("/id-tokens", handle_id_tokens)
    app.router.add_post("/id-tokens", handle_create_id_token)
    app.router.add_post("/id-tokens/{id_token}", handle_update_id_token)
    app.router.add_get("/locations", handle_locations)
    app.router.add_get("/tariffs", handle_tariffs)
    app.router.add_get("/roaming", handle_roaming)
    app.router.add_post("/roaming/outbox/{entry_id}/retry", handle_retry_push)
