"""`/locations/{location_id}/power-limit`: a site's grid connection limit, which the load balancer
(`csms.domain.load_balancing`, ADR 0018) shares over the sessions at the location.

The location is the OCPI bridge's record, read through `Related.charge_points_at` (csms never imports
ocpi): a location of another organization, or any location when no bridge is installed, is 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from csms.api.auth import org_of
from csms.api.errors import ApiError, not_found
from csms.api.expand import RELATED
from csms.api.models import ResponseModel
from csms.api.params import read_model
from csms.api.responses import json_response
from csms.api.routes import PATH_PARAMETERS, STRING, Operations, param
from csms.domain.smart_charging import SiteLimit, SiteLimitStore, schedule_from_json, schedule_json

SITE_LIMIT_STORE: web.AppKey[SiteLimitStore] = web.AppKey("site_limit_store")
# Told the location id after a PUT, so the load balancer applies the new limit now (set by csms.app).
POWER_LIMIT_CHANGED: web.AppKey[Callable[[str], None]] = web.AppKey("power_limit_changed")
PATH = "/locations/{location_id}/power-limit"
api = Operations(
    path_parameters={
        **PATH_PARAMETERS,
        "location_id": param("location_id", "path", STRING, "the location's id"),
    }
)
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

PowerW = Annotated[int, Field(ge=0, le=10**9)]
Current = Annotated[Decimal, Field(ge=0, le=100_000, allow_inf_nan=False, decimal_places=1)]


class LimitPeriodBody(BaseModel):
    """From `start` (UTC time of day, HH:MM) until the next period's start, at most `max_power_w`."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="UTC time of day, HH:MM")
    max_power_w: PowerW

    @field_validator("start")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not _HH_MM.match(value):
            raise ValueError("must be HH:MM (00:00 to 23:59)")
        return value


class PowerLimitBody(BaseModel):
    """Body of `PUT /locations/{id}/power-limit`: at least one of max_power_w, max_current_a, schedule."""

    model_config = ConfigDict(extra="forbid")

    max_power_w: PowerW | None = Field(None, description="total import power of the site, W")
    max_current_a: Current | None = Field(None, description="current per phase, A")
    phases: Literal[1, 3] = Field(3, description="phases of the grid connection")
    min_current_a: Current = Field(Decimal(6), description="an EV gets at least this, or is paused")
    schedule: Annotated[list[LimitPeriodBody], Field(max_length=96)] = Field(
        default_factory=list, description="a daily time-varying limit; the lowest limit in force applies"
    )

    @model_validator(mode="after")
    def _some_limit(self) -> PowerLimitBody:
        if self.max_power_w is None and self.max_current_a is None and not self.schedule:
            raise ValueError("give max_power_w, max_current_a or a schedule")
        if len({p.start for p in self.schedule}) != len(self.schedule):
            raise ValueError("two schedule periods start at the same time")
        return self

    def to_site_limit(self) -> SiteLimit:
        return SiteLimit(
            max_power_w=self.max_power_w,
            max_current_a=self.max_current_a,
            phases=self.phases,
            min_current_a=self.min_current_a,
            schedule=schedule_from_json(
                {"start": p.start, "max_power_w": p.max_power_w} for p in self.schedule
            ),
        )


class LimitPeriod(ResponseModel):
    """One period of the daily schedule."""

    start: str
    max_power_w: int


class PowerLimit(ResponseModel):
    """A location's power limit."""

    location_id: str
    max_power_w: int | None
    max_current_a: Decimal | None
    phases: int
    min_current_a: Decimal
    schedule: list[LimitPeriod]


def power_limit_json(location_id: str, limit: SiteLimit) -> dict[str, object]:
    """The `PowerLimit` answer."""
    return {
        "location_id": location_id,
        "max_power_w": limit.max_power_w,
        "max_current_a": None if limit.max_current_a is None else str(limit.max_current_a),
        "phases": limit.phases,
        "min_current_a": str(limit.min_current_a),
        "schedule": schedule_json(limit.schedule),
    }


async def _location(request: web.Request) -> tuple[SiteLimitStore, str]:
    """The store and the caller's location id; 404 when the location is not the caller's organization's."""
    location_id = request.match_info["location_id"]
    related = request.config_dict.get(RELATED)
    if related is None or await related.charge_points_at(location_id, org_of(request)) is None:
        raise not_found(f"location {location_id!r}")
    store = request.config_dict.get(SITE_LIMIT_STORE)
    if store is None:
        raise ApiError(503, "power_limits_disabled", "site power limits are not enabled on this server")
    return store, location_id


@api("GET", PATH, {200: PowerLimit}, errors=(404, 503))
async def handle_get_power_limit(request: web.Request) -> web.Response:
    """A location's power limit.

    `GET /locations/{location_id}/power-limit`: 404 unknown location or no limit set."""
    store, location_id = await _location(request)
    limit = await store.get_site_limit(org_of(request), location_id)
    if limit is None:
        raise not_found(f"power limit of location {location_id!r}")
    return json_response(power_limit_json(location_id, limit))


@api("PUT", PATH, {200: PowerLimit}, errors=(400, 404, 503), body=PowerLimitBody)
async def handle_put_power_limit(request: web.Request) -> web.Response:
    """Set a location's power limit.

    `PUT /locations/{location_id}/power-limit`: stores the limit; the load balancer re-balances the
    site's running sessions with it right away."""
    store, location_id = await _location(request)
    body = await read_model(request, PowerLimitBody)
    limit = body.to_site_limit()
    await store.put_site_limit(org_of(request), location_id, limit)
    changed = request.config_dict.get(POWER_LIMIT_CHANGED)
    if changed is not None:
        changed(location_id)
    return json_response(power_limit_json(location_id, limit))


ROUTES = tuple(api.routes)
