"""The dashboard's management pages: id tokens (list, create, block/unblock), locations with a map drawn
as SVG from their coordinates (no map tiles, nothing fetched), tariffs, and roaming (partners, the push
outbox, retrying a failed push). Locations, tariffs and roaming read the `Roaming` hook
(`csms.ui.roaming`); without it they say roaming is not configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from csms.domain.models import IdToken, TokenStatus
from csms.domain.ports import AlreadyExists
from csms.ui.app_keys import PRINCIPAL, UI_DOMAIN, UI_ROAMING, render
from csms.ui.paging import cursor_of, first_page, next_url
from csms.ui.roaming import JsonObject

LIST_LIMIT = 500
MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 600, 360, 20
# OCPP 2.0.1 IdTokenEnumType (1.6 idTags are stored as ISO14443 by default).
ID_TOKEN_TYPES = (
    "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "eMAID", "Central", "NoAuthorization",
)  # fmt: skip


async def _id_tokens_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    domain = request.app[UI_DOMAIN]
    try:
        tokens, after = await domain.store.list_id_tokens(
            limit=LIST_LIMIT, org_id=request[PRINCIPAL].org_id, cursor=cursor_of(request)
        )
    except ValueError:
        raise first_page(request) from None
    return render(
        request, "id_tokens.html", status=status, tokens=tokens, types=ID_TOKEN_TYPES, error=error,
        next_url=next_url(request, after),
    )  # fmt: skip


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


def _offset(request: web.Request) -> int:
    # The bridge's lists page by offset (the OCPI store's `Pagination`); anything else is the first page.
    raw = cursor_of(request) or "0"
    if not raw.isdigit() or len(raw) > 12:
        raise first_page(request)
    return int(raw)


async def _locations_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    hook = request.app.get(UI_ROAMING)
    offset = _offset(request)
    locations, after = ([], None) if hook is None else await hook.locations(request[PRINCIPAL].org_id, offset)
    editing = next((loc for loc in locations if loc["id"] == request.query.get("edit")), None)
    return render(
        request, "locations.html", status=status, roaming=hook is not None, locations=locations,
        points=map_points(locations), width=MAP_WIDTH, height=MAP_HEIGHT, editing=editing, error=error,
        next_url=next_url(request, after), cursor=cursor_of(request),
    )  # fmt: skip


async def handle_locations(request: web.Request) -> web.Response:
    """`GET /ui/locations?edit=ID`: the organization's locations, their map, and a form to add one (or to
    edit `ID`)."""
    return await _locations_page(request)


def _optional(form: Mapping[str, Any], name: str) -> str | None:
    return str(form.get(name, "")).strip() or None


def _degrees(form: Mapping[str, Any], name: str) -> str:
    """A coordinate as typed, with the 6 decimals OCPI 2.2.1 GeoLocation wants (5 to 7) when it is a
    number (`52.09` → `52.090000`); anything else is passed on for the body model to refuse."""
    raw = str(form.get(name, "")).strip()
    try:
        return str(Decimal(raw).quantize(Decimal("0.000001")))
    except InvalidOperation:
        return raw


def location_body(form: Mapping[str, Any], location_id: str) -> JsonObject:
    """The REST body (`POST /locations`) of the location form."""
    ids = [cp.strip() for cp in str(form.get("charge_point_ids", "")).split(",") if cp.strip()]
    body: JsonObject = {
        "id": location_id,
        "name": _optional(form, "name"),
        "address": str(form.get("address", "")).strip(),
        "city": str(form.get("city", "")).strip(),
        "country": str(form.get("country", "")).strip().upper(),
        "coordinates": {"latitude": _degrees(form, "latitude"), "longitude": _degrees(form, "longitude")},
        "time_zone": str(form.get("time_zone", "")).strip() or "UTC",
        "charge_point_ids": ids,
    }  # fmt: skip
    return {k: v for k, v in body.items() if v is not None}


def tariff_body(form: Mapping[str, Any], tariff_id: str) -> JsonObject:
    """The REST body (`POST /tariffs`) of the tariff form: a price per kWh and/or per hour, one VAT rate."""
    vat = _optional(form, "vat")
    components = []
    for dimension, field, step in (("ENERGY", "energy_price", 1), ("TIME", "time_price", 60)):
        price = _optional(form, field)
        if price is not None:
            component: JsonObject = {"type": dimension, "price": price, "step_size": step}
            if vat is not None:
                component["vat"] = vat
            components.append(component)
    currency = str(form.get("currency", "")).strip().upper()
    return {"id": tariff_id, "currency": currency, "elements": [{"price_components": components}]}


async def _save(request: web.Request, kind: str, create: bool) -> web.Response:
    principal = request[PRINCIPAL]
    hook = request.app.get(UI_ROAMING)
    if principal.role != "admin":
        return _forbidden(request)  # as the REST API: tariffs and locations are admin's
    if hook is None:
        return render(request, "not_found.html", status=404, what=kind)
    form = await request.post()
    item_id = str(form.get("id", "")).strip() if create else request.match_info["item_id"]
    if kind == "tariff":
        problem = await hook.save_tariff(principal.org_id, tariff_body(form, item_id), create)
        page = _tariffs_page
    else:
        problem = await hook.save_location(principal.org_id, location_body(form, item_id), create)
        page = _locations_page
    if problem is not None:
        return await page(request, 400, problem)
    raise web.HTTPSeeOther(f"/ui/{kind}s")


async def handle_create_location(request: web.Request) -> web.Response:
    """`POST /ui/locations` (admin): create a location (pushed to partners like `POST /locations`)."""
    return await _save(request, "location", True)


async def handle_replace_location(request: web.Request) -> web.Response:
    """`POST /ui/locations/{item_id}` (admin): replace the location with the form's fields."""
    return await _save(request, "location", False)


async def _tariffs_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    hook = request.app.get(UI_ROAMING)
    offset = _offset(request)
    tariffs, after = ([], None) if hook is None else await hook.tariffs(request[PRINCIPAL].org_id, offset)
    editing = next((t for t in tariffs if t["id"] == request.query.get("edit")), None)
    prices: dict[str, Any] = {}
    if editing is not None:
        for element in editing["elements"]:
            for c in element.get("price_components", []):
                prices.setdefault(c["type"], c)
    return render(
        request, "tariffs.html", status=status, roaming=hook is not None, tariffs=tariffs, editing=editing,
        prices=prices, error=error, next_url=next_url(request, after), cursor=cursor_of(request),
    )  # fmt: skip


async def handle_tariffs(request: web.Request) -> web.Response:
    """`GET /ui/tariffs?edit=ID`: the organization's tariffs with their price components, and a form to add
    one (or to edit `ID`)."""
    return await _tariffs_page(request)


async def handle_create_tariff(request: web.Request) -> web.Response:
    """`POST /ui/tariffs` (admin): create a tariff (pushed to partners like `POST /tariffs`)."""
    return await _save(request, "tariff", True)


async def handle_replace_tariff(request: web.Request) -> web.Response:
    """`POST /ui/tariffs/{item_id}` (admin): replace the tariff's prices."""
    return await _save(request, "tariff", False)


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
    app.router.add_post("/locations", handle_create_location)
    app.router.add_post("/locations/{item_id}", handle_replace_location)
    app.router.add_get("/tariffs", handle_tariffs)
    app.router.add_post("/tariffs", handle_create_tariff)
    app.router.add_post("/tariffs/{item_id}", handle_replace_tariff)
    app.router.add_get("/roaming", handle_roaming)
    app.router.add_post("/roaming/outbox/{entry_id}/retry", handle_retry_push)
