"""`GET /agent/v1/search`: every CPO's cached locations near a point, in one list sorted by distance.

Each CPO is asked in parallel (`CpoNetwork.locations`, refreshed when older than `[agent]
search_max_age_seconds`), each within `[agent] cpo_timeout_seconds`: a slow or failing CPO gives an
`error` or `timeout` entry in `cpo_results` and no locations (or `stale` with its last copy, when a
refresh failed but an older copy exists), never a failed search (the FAQ: "How does
multi-CPO search work?").
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ocpi.agent.pricing import client_price, tariff_cost
from ocpi.emsp.network import CachedLocations, Cpo, CpoNetwork, CpoUnavailable
from ocpi.transport import ocpi_datetime

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The search parameters, checked (`ocpi.agent.app`)."""

    lat: float
    lon: float
    radius_km: float
    plug: str | None = None  # an OCPI ConnectorType (`standard`), e.g. IEC_62196_T2
    min_power_kw: Decimal | None = None
    available_only: bool = False


@dataclass(frozen=True, slots=True)
class Estimate:
    """What `client_price` of a search result assumes, and the client's fee and commission."""

    start: datetime
    minutes: int
    energy_wh: int
    reservation_fee: Decimal
    commission_percent: Decimal


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def connector_power_kw(connector: dict[str, Any]) -> Decimal:
    """OCPI Connector `max_electric_power` (W), else voltage × amperage (× 3 for AC_3_PHASE), in kW."""
    try:
        if connector.get("max_electric_power") is not None:
            watts = Decimal(str(connector["max_electric_power"]))
        else:
            watts = Decimal(str(connector.get("max_voltage", 0))) * Decimal(
                str(connector.get("max_amperage", 0))
            )
            if connector.get("power_type") == "AC_3_PHASE":
                watts *= 3
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return (watts / 1000).quantize(Decimal("0.1"))


def _coordinates(location: dict[str, Any]) -> tuple[float, float] | None:
    coordinates = location.get("coordinates") or {}
    try:
        return float(coordinates["latitude"]), float(coordinates["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def evse_result(
    cpo: Cpo,
    location: dict[str, Any],
    evse: dict[str, Any],
    tariffs: dict[str, dict[str, Any]],
    query: SearchQuery,
    estimate: Estimate,
) -> dict[str, Any] | None:
    """One EVSE as a search result, or None when the filters leave it out."""
    connectors = []
    for connector in evse.get("connectors") or []:
        power = connector_power_kw(connector)
        if query.plug is not None and connector.get("standard") != query.plug:
            continue
        if query.min_power_kw is not None and power < query.min_power_kw:
            continue
        connectors.append(
            {
                "id": connector.get("id"),
                "plug": connector.get("standard"),
                "format": connector.get("format"),
                "power_type": connector.get("power_type"),
                "max_power_kw": str(power),
                "tariff_ids": list(connector.get("tariff_ids") or []),
            }
        )
    status = evse.get("status")
    if not connectors or (query.available_only and status != "AVAILABLE"):
        return None
    reservable = cpo.supports_reservation and "RESERVABLE" in (evse.get("capabilities") or [])
    return {
        "evse_uid": evse.get("uid"),
        "evse_id": evse.get("evse_id"),
        "status": status,
        "supports_reservation": reservable,
        "connectors": connectors,
        "client_price": price_json(connectors[0], location, tariffs, estimate),
    }


def price_json(
    connector: dict[str, Any],
    location: dict[str, Any],
    tariffs: dict[str, dict[str, Any]],
    estimate: Estimate,
) -> dict[str, Any] | None:
    """The client price of charging at `connector` as `estimate` assumes (its first tariff), or None with
    no EUR price (`tariff_cost`)."""
    tariff_ids = connector["tariff_ids"]
    tariff = tariffs.get(tariff_ids[0]) if tariff_ids else None
    if tariff_ids and tariff is None:
        return None  # the CPO names a tariff it did not share
    cost, _ = tariff_cost(
        tariff,
        start=estimate.start,
        end=estimate.start + timedelta(minutes=estimate.minutes),
        energy_wh=estimate.energy_wh,
        time_zone=str(location.get("time_zone") or "UTC"),
    )
    if cost is None:
        return None
    price = client_price(cost, estimate.reservation_fee, estimate.commission_percent).json()
    return {
        **price,
        "assumes": {"minutes": estimate.minutes, "energy_kwh": str(Decimal(estimate.energy_wh) / 1000)},
    }


def location_results(cached: CachedLocations, query: SearchQuery, estimate: Estimate) -> list[dict[str, Any]]:
    """The CPO's locations within the radius that keep an EVSE after the filters."""
    found = []
    for location in cached.locations:
        at = _coordinates(location)
        if at is None:
            continue
        distance = distance_km(query.lat, query.lon, *at)
        if distance > query.radius_km:
            continue
        evses = [
            result
            for evse in location.get("evses") or []
            if (result := evse_result(cached.cpo, location, evse, cached.tariffs, query, estimate))
            is not None
        ]
        if not evses:
            continue
        found.append(
            {
                "location_id": location.get("id"),
                "name": location.get("name"),
                "address": location.get("address"),
                "city": location.get("city"),
                "country": location.get("country"),
                "coordinates": location.get("coordinates"),
                "time_zone": location.get("time_zone"),
                "distance_km": round(distance, 3),
                "cpo_name": cached.cpo.name,
                "cpo_party_id": cached.cpo.party_id,
                "cpo_country_code": cached.cpo.country_code,
                "supports_reservation": any(e["supports_reservation"] for e in evses),
                "evses": evses,
            }
        )
    return found


async def search(
    network: CpoNetwork,
    query: SearchQuery,
    estimate: Estimate,
    *,
    max_age: timedelta,
    cpo_timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Ask every CPO at once; `{locations: [...] by distance, cpo_results: [...] by CPO id}`."""
    cpos = await network.cpos()

    async def one(cpo: Cpo) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        started = clock()
        entry: dict[str, Any] = {"cpo_name": cpo.name, "cpo_party_id": cpo.party_id}
        try:
            async with asyncio.timeout(cpo_timeout):
                cached = await network.locations(cpo.id, max_age=max_age)
            found = location_results(cached, query, estimate)
            # stale: the CPO did not answer the refresh; its locations are the last copy (`data_as_of`)
            status = "ok" if cached.refresh_error is None else "stale"
            entry |= {"status": status, "locations": len(found), "error": cached.refresh_error}
            if cached.pulled_at is not None:
                entry["data_as_of"] = ocpi_datetime(cached.pulled_at)
        except TimeoutError:
            found = []
            entry |= {"status": "timeout", "locations": 0, "error": f"no answer within {cpo_timeout:g} s"}
        except CpoUnavailable as exc:
            found = []
            entry |= {"status": "error", "locations": 0, "error": exc.message}
        entry["duration_ms"] = round((clock() - started) * 1000, 1)
        return found, entry

    answers = await asyncio.gather(*(one(cpo) for cpo in cpos))
    locations = sorted((loc for found, _ in answers for loc in found), key=lambda loc: loc["distance_km"])
    return {"locations": locations, "cpo_results": [entry for _, entry in answers]}
