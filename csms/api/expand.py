"""`expand=`: nest the objects a session or reservation names (charge point, location, tariff, id token)
in it, as the ev.energy API's `expand` does ("a url field expanded into a nested resource"), instead of
making the client fetch each.

`expand=charge_point,location` (or repeated `expand=`) puts each requested object into the item under its
own name: `id_token` turns from the token's text into the id token object (it stays the text when the CSMS
does not know the token, e.g. a roaming partner's), and `charge_point`, `location` and `tariff` appear
beside the fields they expand (`charge_point_id` stays: it is the item's key in filters and paths; sessions
and reservations name their location and tariff by no id of their own). A requested object that does not
exist (a charge point no longer registered, a charge point at no location, a session with no tariff) is
null. Without `expand=` the body is as before. An unknown value is 400 naming it.

Locations and tariffs are the OCPI bridge's records, which `csms.api` does not know: the bridge installs a
`Related` (`ocpi.admin_api.install`); without one `location` and `tariff` expand to null.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from csms.api.auth import org_of
from csms.api.errors import ApiError, invalid_request
from csms.api.params import get_services
from csms.api.routes import param
from csms.api.serialize import charge_point_json, id_token_json

SESSION_EXPANSIONS = ("charge_point", "location", "tariff", "id_token")
RESERVATION_EXPANSIONS = ("charge_point", "location", "id_token")

JsonObject = dict[str, Any]
JsonSchema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Related:
    """How the API reads the records of others (the OCPI bridge's locations and tariffs)."""

    # A charge point's location as the API shows it (None: at no location).
    location_of: Callable[[str], Awaitable[JsonObject | None]]
    # A location's charge points, given the location id and the caller's organization (None: no such
    # location in that organization).
    charge_points_at: Callable[[str, str], Awaitable[list[str] | None]]
    # The tariff pinned on a session, by its id (None: none).
    tariff_of_session: Callable[[int], Awaitable[JsonObject | None]]


RELATED: web.AppKey[Related] = web.AppKey("related")


def expand_query(allowed: Sequence[str]) -> JsonSchema:
    """The documented `expand` query parameter of a listing or item offering `allowed`."""
    schema = {"type": "array", "items": {"type": "string", "enum": list(allowed)}}
    described = "nest these objects in the item (comma-separated or repeated): " + ", ".join(allowed)
    return {**param("expand", "query", schema, described), "style": "form", "explode": False}


def expansions(request: web.Request, allowed: Sequence[str]) -> tuple[str, ...]:
    """The requested expansions, in the order of `allowed`.

    Raises:
        ApiError: 400 `invalid_request` naming `expand` and the unknown value(s).
    """
    wanted = {v.strip() for raw in request.query.getall("expand", []) for v in raw.split(",") if v.strip()}
    unknown = sorted(wanted - set(allowed))
    if unknown:
        reason = f"unknown value(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        raise invalid_request("expand", reason)
    return tuple(name for name in allowed if name in wanted)


async def expand(
    request: web.Request, items: list[JsonObject], wanted: Sequence[str], *, session_ids: bool = False
) -> None:
    """Nest in each of `items` (session or reservation JSON objects), for each wanted name, the object it
    names (see the module docstring). `session_ids`: the items are sessions (their `id` names the tariff's
    session)."""
    if not wanted:
        return
    services = get_services(request)
    related = request.config_dict.get(RELATED)
    charge_points: dict[str, JsonObject | None] = {}
    locations: dict[str, JsonObject | None] = {}
    tokens: dict[str, JsonObject | None] = {}
    for item in items:
        cp_id: str = item["charge_point_id"]
        for name in wanted:
            if name == "charge_point":
                if cp_id not in charge_points:
                    cp = await services.store.get_charge_point(cp_id)
                    charge_points[cp_id] = None if cp is None else charge_point_json(
                        cp, await services.store.list_connectors(cp_id), services.registry.find(cp_id)
                    )
                item[name] = charge_points[cp_id]
            elif name == "location":
                if cp_id not in locations:
                    locations[cp_id] = None if related is None else await related.location_of(cp_id)
                item[name] = locations[cp_id]
            elif name == "id_token":
                token_id = item.get("id_token")
                if token_id is not None and token_id not in tokens:
                    token = await services.store.get_id_token(token_id, org_id=org_of(request))
                    tokens[token_id] = None if token is None else id_token_json(token)
                if token_id is not None and tokens[token_id] is not None:
                    item[name] = tokens[token_id]
            elif name == "tariff":
                tariff = None
                if related is not None and session_ids:
                    tariff = await related.tariff_of_session(item["id"])
                item[name] = tariff


async def location_charge_points(request: web.Request) -> list[str] | None:
    """The charge points of the `location_id` query parameter (None: no such filter).

    Raises:
        ApiError: 404 `not_found` for a location this server does not know (or has no locations).
    """
    location_id = request.query.get("location_id")
    if not location_id:
        return None
    related = request.config_dict.get(RELATED)
    ids = None if related is None else await related.charge_points_at(location_id, org_of(request))
    if ids is None:
        raise ApiError(404, "not_found", f"location {location_id!r} not found")
    return ids
