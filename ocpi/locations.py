"""OCPI 2.2.1 Locations, sender interface (we are the CPO): our sites with live EVSE and connector status.

Routes (below /ocpi/2.2.1/locations): `GET` the paginated list of published locations, `GET /{location_id}`,
`GET /{location_id}/{evse_uid}` and `GET /{location_id}/{evse_uid}/{connector_id}`. An unknown or unpublished
location is HTTP 404 with status 2003 (unknown Location); an unknown EVSE or connector of a known location is
HTTP 404 with status 2000 (OCPI 2.2.1 transport: "404 GET of a missing object").

A Location is the operator's record (`ocpi.models.Location`) plus EVSEs built from the OCPP side, the one
data model (csms store `list_connectors`):

- One EVSE per OCPP EVSE: a 1.6 charge point's connector N is EVSE N with connector 1 (the CSMS stores it
  that way), 2.0.1 EVSEs and connectors as reported; EVSEs that only have an operator `ConnectorSpec` (the
  station has not reported them yet) are listed too, with status UNKNOWN.
- `uid` is the store's surrogate UUID of (charge point, EVSE); `evse_id` the eMI3 form
  `{country_code}*{party_id}*E{charge point id, sanitized}*{evse id}` (`emi3_evse_id`).
- Connector facts (standard, format, power type, voltage, amperage, power, tariffs) come from the operator's
  `ConnectorSpec`; unconfigured connectors get the `ConnectorSpec` defaults (Type 2 socket, 3-phase AC,
  230 V, 32 A).
- Status is mapped from OCPP by `ocpi_status` (the digest's table); a station that is not connected right now
  (the connection registry) is UNKNOWN; a station-wide (EVSE 0) Unavailable or Faulted applies to every EVSE
  that is not charging.
- `last_updated` is the newest of the record's own change, the connectors' status changes, the specs'
  changes and (while online) the connection time — each changing a Connector bumps its EVSE and Location.

Capabilities: REMOTE_START_STOP_CAPABLE and UNLOCK_CAPABLE always — RemoteStart/StopTransaction and
UnlockConnector are OCPP 1.6 Core (2.0.1 F01–F05, required), so every station we accept can be asked; the
answer (Rejected, NotSupported) reaches the partner as the CommandResult. RESERVABLE likewise (our command
path sends ReserveNow on both versions), except where the station told us it cannot: a 1.6
SupportedFeatureProfiles without "Reservation", or a 2.0.1 ReservationCtrlr Available/Enabled false.

Limitations: the instant a station goes offline is not recorded, so an incremental pull (`date_from`) does not
see EVSEs turn UNKNOWN (pushes do); a charge point removed from a location simply disappears from it (we
keep no REMOVED tombstone).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from csms.domain.models import Connector, ConnectorStatus
from ocpi.context import OcpiContext, context_of
from ocpi.models import ConnectorSpec, Location
from ocpi.store import Pagination
from ocpi.transport import VERSION, OcpiError, Status, ocpi_datetime, ok, page, pagination, partner_of

IDENTIFIER = "locations"
ROLE = "SENDER"

# eMI3 (what OCPI 2.2.1 EVSE.evse_id follows, CiString(48)): the power outlet id after the "E" holds at most
# 30 characters of A-Z, 0-9 and '*'.
EMI3_OUTLET_MAX = 30
_NOT_EMI3 = re.compile(r"[^A-Z0-9]")

# OCPP 1.6 statuses (kept in Connector.status_detail) that mean a vehicle is being served (digest §12).
_CHARGING_16 = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"})
_BLOCKED_16 = frozenset({"Finishing"})

# An EVSE with several connectors shows the most telling of its connectors' statuses.
_EVSE_PRECEDENCE = ("CHARGING", "BLOCKED", "RESERVED", "AVAILABLE", "INOPERATIVE", "OUTOFORDER", "UNKNOWN")

# How many locations one store page holds while scanning all of them (filtered pulls).
_SCAN_PAGE = 500
# How many charge points `published_evse_objects` reads together.
_BULK = 500


def ocpi_status(
    connector_status: ConnectorStatus | str | None,
    status_detail: str | None,
    has_transaction: bool,
    online: bool,
) -> str:
    """The OCPI EVSE Status of one OCPP connector state (digest §12 "OCPP → OCPI", Status table).

    | OCPP 1.6                              | OCPP 2.0.1                     | OCPI        |
    | Available                             | Available                      | AVAILABLE   |
    | Preparing, Charging, SuspendedEV/EVSE | Occupied with a transaction    | CHARGING    |
    | Finishing                             | Occupied without a transaction | BLOCKED     |
    | Reserved                              | Reserved                       | RESERVED    |
    | Unavailable                           | Unavailable                    | INOPERATIVE |
    | Faulted                               | Faulted                        | OUTOFORDER  |
    | offline (or never reported)           | offline                        | UNKNOWN     |

    Args:
        connector_status: the version-neutral status (`ConnectorStatus` or its text), None if never reported.
        status_detail: the 1.6 word kept by the CSMS (None for 2.0.1).
        has_transaction: whether a transaction runs on the EVSE (decides 2.0.1 Occupied).
        online: whether the station is connected now.
    """
    if not online or connector_status is None:
        return "UNKNOWN"
    status = ConnectorStatus(connector_status)
    if status is ConnectorStatus.AVAILABLE:
        return "AVAILABLE"
    if status is ConnectorStatus.OCCUPIED:
        if status_detail in _CHARGING_16:
            return "CHARGING"
        if status_detail in _BLOCKED_16:
            return "BLOCKED"
        return "CHARGING" if has_transaction else "BLOCKED"
    if status is ConnectorStatus.RESERVED:
        return "RESERVED"
    if status is ConnectorStatus.UNAVAILABLE:
        return "INOPERATIVE"
    return "OUTOFORDER"


def emi3_evse_id(country_code: str, party_id: str, charge_point_id: str, evse_id: int) -> str:
    """The eMI3 EVSE ID `{CC}*{PID}*E{charge point}*{evse}` (e.g. `NL*CSM*ECP1*1`).

    The charge point id keeps only A–Z and 0–9 (upper-cased); if that leaves nothing, or the power outlet id
    (what follows the "E") would be longer than eMI3's 30 characters, a short hash of the original id stands
    in for (the end of) it, so distinct charge points keep distinct EVSE IDs.
    """
    head = f"{country_code.upper()}*{party_id.upper()}*E"
    tail = f"*{evse_id}"
    name = _NOT_EMI3.sub("", charge_point_id.upper())
    room = EMI3_OUTLET_MAX - len(tail)
    if not name or len(name) > room:
        digest = hashlib.sha256(charge_point_id.encode("utf-8")).hexdigest()[:8].upper()
        name = name[: max(0, room - len(digest))] + digest
    return head + name + tail


def _newest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(slots=True)
class _EvseParts:
    """What one EVSE is made of before it becomes JSON."""

    evse_id: int
    connectors: dict[int, Connector | None] = field(default_factory=dict)
    specs: dict[int, ConnectorSpec] = field(default_factory=dict)


@dataclass(slots=True)
class _Station:
    """Everything known about one charge point for its EVSE objects (read once per charge point)."""

    charge_point_id: str
    online: bool
    connected_at: datetime | None
    station: Connector | None  # the EVSE 0 / connector 0 row
    evses: dict[int, _EvseParts]
    busy_evses: set[int]
    reservable: bool

    def last_change(self) -> datetime | None:
        """The newest status or spec change of the station (what bumps its location)."""
        times: list[datetime | None] = [self.connected_at if self.online else None]
        if self.station is not None:
            times.append(self.station.status_at)
        for parts in self.evses.values():
            times += [c.status_at for c in parts.connectors.values() if c is not None]
            times += [s.last_updated for s in parts.specs.values()]
        return _newest(*times)


# The (component, variable) names `_reservable` reads: 1.6 SupportedFeatureProfiles, 2.0.1 ReservationCtrlr.
_RESERVATION_VARIABLES = (
    (None, "SupportedFeatureProfiles"),
    ("ReservationCtrlr", "Available"),
    ("ReservationCtrlr", "Enabled"),
)


@dataclass(slots=True)
class _Prefetch:
    """What building the EVSEs of many charge points needs, read in a few queries for all of them (a
    page of locations), not a few per charge point and one per EVSE."""

    connectors: dict[str, list[Connector]] = field(default_factory=dict)
    specs: dict[str, list[ConnectorSpec]] = field(default_factory=dict)
    busy: dict[str, set[int]] = field(default_factory=dict)
    variables: dict[str, list[Any]] = field(default_factory=dict)
    stations: dict[str, _Station] = field(default_factory=dict)
    uids: dict[tuple[str, int], str] = field(default_factory=dict)


async def _prefetch(ctx: OcpiContext, charge_point_ids: list[str], *, with_details: bool = True) -> _Prefetch:
    """Read the connectors, specs and (with details) active transactions and reservation variables of these
    charge points, build their `_Station`s and (with details) give their EVSEs uids."""
    store = ctx.domain.store
    pre = _Prefetch()
    for row in await store.list_connectors_of(charge_point_ids):
        pre.connectors.setdefault(row.charge_point_id, []).append(row)
    for spec in await ctx.store.list_connector_specs_of(charge_point_ids):
        pre.specs.setdefault(spec.charge_point_id, []).append(spec)
    if with_details:
        for tx in await store.list_active_transactions_of(charge_point_ids):
            pre.busy.setdefault(tx.charge_point_id, set()).add(tx.evse_id)
        named = await store.list_device_variables_keyed(charge_point_ids, _RESERVATION_VARIABLES)
        for variable in named:
            pre.variables.setdefault(variable.charge_point_id, []).append(variable)
    pre.stations = {cp: _station_of(ctx, cp, pre) for cp in charge_point_ids}
    if with_details:
        evses = [(cp, evse_id) for cp, station in pre.stations.items() for evse_id in station.evses]
        for evse in await ctx.store.evse_uids_for(evses):
            pre.uids[(evse.charge_point_id, evse.evse_id)] = evse.uid
    return pre


def _station_of(ctx: OcpiContext, charge_point_id: str, pre: _Prefetch) -> _Station:
    """One charge point's `_Station` from prefetched rows and the live registry."""
    live = ctx.domain.registry.find(charge_point_id)
    evses: dict[int, _EvseParts] = {}
    station_row: Connector | None = None
    for row in pre.connectors.get(charge_point_id, ()):
        if row.evse_id <= 0:
            station_row = row
            continue
        evses.setdefault(row.evse_id, _EvseParts(row.evse_id)).connectors[row.connector_id] = row
    for spec in pre.specs.get(charge_point_id, ()):
        if spec.evse_id <= 0 or spec.connector_id <= 0:
            continue
        parts = evses.setdefault(spec.evse_id, _EvseParts(spec.evse_id))
        parts.specs[spec.connector_id] = spec
        parts.connectors.setdefault(spec.connector_id, None)
    return _Station(
        charge_point_id=charge_point_id,
        online=live is not None,
        connected_at=live.connected_at if live is not None else None,
        station=station_row,
        evses=evses,
        busy_evses=pre.busy.get(charge_point_id, set()),
        reservable=_reservable(pre.variables.get(charge_point_id, [])),
    )


async def _station(ctx: OcpiContext, charge_point_id: str) -> tuple[_Station, _Prefetch]:
    """One charge point's `_Station`, with what was read for it."""
    pre = await _prefetch(ctx, [charge_point_id])
    return pre.stations[charge_point_id], pre


def _reservable(variables: list[Any]) -> bool:
    """False when the station reported that it cannot take reservations (see the module docstring)."""
    for v in variables:
        value = (v.value or "").strip()
        if v.component is None and v.variable == "SupportedFeatureProfiles" and value:
            if "reservation" not in {p.strip().lower() for p in value.split(",")}:
                return False
        if v.component == "ReservationCtrlr" and v.variable in ("Available", "Enabled"):
            if value.lower() == "false":
                return False
    return True


def connector_spec(
    charge_point_id: str, evse_id: int, connector_id: int, stored: ConnectorSpec | None
) -> ConnectorSpec:
    """The operator's spec of a connector, or the defaults (`ConnectorSpec` field defaults) when none."""
    return stored if stored is not None else ConnectorSpec(charge_point_id, evse_id, connector_id)


async def find_connector_spec(
    ctx: OcpiContext, charge_point_id: str, evse_id: int, connector_id: int
) -> ConnectorSpec:
    """The connector's OCPI facts (standard, format, power type, tariffs...): configured or default.

    OCPP 1.6 transactions name connector N; the CSMS calls it EVSE N connector 1, which is how specs are
    keyed too; a connector id 0 or below means connector 1.
    """
    connector_id = connector_id if connector_id > 0 else 1
    for spec in await ctx.store.list_connector_specs(charge_point_id):
        if spec.evse_id == evse_id and spec.connector_id == connector_id:
            return spec
    return connector_spec(charge_point_id, evse_id, connector_id, None)


def _connector_object(
    spec: ConnectorSpec, connector_id: int, last_updated: datetime, location_tariffs: list[str]
) -> dict[str, Any]:
    """The OCPI Connector; its `tariff_ids` are the spec's, else the location's (those price its sessions,
    `ocpi.sessions.connector_tariff`)."""
    obj: dict[str, Any] = {
        "id": str(connector_id),
        "standard": spec.standard,
        "format": spec.format,
        "power_type": spec.power_type,
        "max_voltage": spec.max_voltage,
        "max_amperage": spec.max_amperage,
    }
    if spec.max_electric_power is not None:
        obj["max_electric_power"] = spec.max_electric_power
    tariff_ids = spec.tariff_ids or location_tariffs
    if tariff_ids:
        obj["tariff_ids"] = list(tariff_ids)
    obj["last_updated"] = ocpi_datetime(last_updated)
    return obj


def _evse_objects(
    ctx: OcpiContext, location: Location, station: _Station, uids: dict[tuple[str, int], str]
) -> list[dict[str, Any]]:
    """The OCPI EVSE objects of one station, ordered by EVSE id; `uids` holds the uids of its EVSEs
    (`_prefetch`)."""
    fallback = location.last_updated or ctx.clock()
    station_row = station.station
    station_down = (
        station_row is not None
        and station.online
        and station_row.status in (ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED)
    )
    # Profiles through OCPI ChargingProfiles, preferences through Sessions (both planned as TxProfiles).
    capabilities = [
        "CHARGING_PROFILE_CAPABLE",
        "CHARGING_PREFERENCES_CAPABLE",
        "REMOTE_START_STOP_CAPABLE",
        "UNLOCK_CAPABLE",
    ]
    if station.reservable:
        capabilities.insert(0, "RESERVABLE")
    objects: list[dict[str, Any]] = []
    for evse_id in sorted(station.evses):
        parts = station.evses[evse_id]
        has_tx = evse_id in station.busy_evses
        statuses = [
            ocpi_status(
                row.status if row is not None else None,
                row.status_detail if row is not None else None,
                has_tx,
                station.online,
            )
            for row in parts.connectors.values()
        ]
        status = min(statuses, key=_EVSE_PRECEDENCE.index) if statuses else "UNKNOWN"
        if station_down and status != "CHARGING" and station_row is not None:
            status = ocpi_status(station_row.status, station_row.status_detail, has_tx, True)
        connected = station.connected_at if station.online else None
        connectors = []
        newest: list[datetime | None] = [
            connected,
            station_row.status_at if station_row is not None else None,
        ]
        for connector_id in sorted(parts.connectors):
            row = parts.connectors[connector_id]
            spec = connector_spec(
                station.charge_point_id, evse_id, connector_id, parts.specs.get(connector_id)
            )
            changed = _newest(row.status_at if row is not None else None, spec.last_updated)
            newest.append(changed)
            connectors.append(_connector_object(spec, connector_id, changed or fallback, location.tariff_ids))
        objects.append(
            {
                "uid": uids[(station.charge_point_id, evse_id)],
                "evse_id": emi3_evse_id(
                    location.country_code, location.party_id, station.charge_point_id, evse_id
                ),
                "status": status,
                "capabilities": list(capabilities),
                "connectors": connectors,
                "physical_reference": str(evse_id),
                "last_updated": ocpi_datetime(_newest(*newest) or fallback),
            }
        )
    return objects


async def evse_objects(ctx: OcpiContext, charge_point_id: str) -> list[dict[str, Any]]:
    """The OCPI EVSE objects of one charge point as they are now ([] when it is in no location).

    The push feeder compares their `status` with what it pushed last and PATCHes the changes.
    """
    location = await ctx.store.location_of(charge_point_id)
    if location is None:
        return []
    station, pre = await _station(ctx, charge_point_id)
    return _evse_objects(ctx, location, station, pre.uids)


async def published_evse_objects(
    ctx: OcpiContext, charge_point_ids: Collection[str]
) -> list[tuple[Location, str, list[dict[str, Any]]]]:
    """`(location, charge point id, its EVSE objects)` of each of these charge points that is in a published
    location, by charge point id: what `evse_objects` gives, read `_BULK` charge points at a time (start-up
    reconciliation of tens of thousands of stations reads a few queries per chunk, not several per station).
    """
    found: list[tuple[Location, str, list[dict[str, Any]]]] = []
    ids = sorted(set(charge_point_ids))
    for start in range(0, len(ids), _BULK):
        located = await ctx.store.locations_of(ids[start : start + _BULK])
        chunk = [cp for cp in ids[start : start + _BULK] if cp in located and located[cp].publish]
        if not chunk:
            continue
        pre = await _prefetch(ctx, chunk)
        for cp in chunk:
            found.append((located[cp], cp, _evse_objects(ctx, located[cp], pre.stations[cp], pre.uids)))
    return found


async def evse_ref(ctx: OcpiContext, charge_point_id: str, evse_id: int) -> tuple[str, str] | None:
    """(location_id, evse_uid) of an EVSE, or None when its charge point is in no published location.

    Sessions and CDRs name their EVSE with it; EVSE 0 or below (the station itself) means EVSE 1.
    """
    location = await ctx.store.location_of(charge_point_id)
    if location is None or not location.publish:
        return None
    uid = await ctx.store.evse_uid(charge_point_id, evse_id if evse_id > 0 else 1)
    return location.id, uid.uid


def address_fields(location: Location) -> dict[str, Any]:
    """What a Location and a CdrLocation (OCPI 2.2.1 CDRs) both say of the site: name (when set), address,
    city, postal_code and state (when set), country and coordinates."""
    fields: dict[str, Any] = {}
    if location.name:
        fields["name"] = location.name
    fields.update(address=location.address, city=location.city)
    if location.postal_code:
        fields["postal_code"] = location.postal_code
    if location.state:
        fields["state"] = location.state
    fields["country"] = location.country
    fields["coordinates"] = {"latitude": location.latitude, "longitude": location.longitude}
    return fields


async def location_objects(ctx: OcpiContext, locations: list[Location]) -> list[dict[str, Any]]:
    """The full OCPI Location objects of a page of locations, their charge points read together."""
    pre = await _prefetch(ctx, [cp for location in locations for cp in location.charge_point_ids])
    return [await location_object(ctx, location, pre) for location in locations]


async def location_object(
    ctx: OcpiContext, location: Location, pre: _Prefetch | None = None
) -> dict[str, Any]:
    """The full OCPI Location object: the operator's record, every EVSE of its charge points, and
    `last_updated` = the newest change of the record, its EVSEs and their connectors. `pre`: what was
    already read for its charge points (`location_objects`)."""
    if pre is None:
        pre = await _prefetch(ctx, list(location.charge_point_ids))
    evses: list[dict[str, Any]] = []
    newest: list[datetime | None] = [location.last_updated]
    for charge_point_id in location.charge_point_ids:
        station = pre.stations[charge_point_id]
        evses += _evse_objects(ctx, location, station, pre.uids)
        newest.append(station.last_change())
    obj: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": location.id,
        "publish": location.publish,
        **address_fields(location),
    }
    if location.parking_type:
        obj["parking_type"] = location.parking_type
    obj["evses"] = evses
    if location.operator:
        obj["operator"] = location.operator
    if location.facilities:
        obj["facilities"] = list(location.facilities)
    obj["time_zone"] = location.time_zone
    if location.opening_times:
        obj["opening_times"] = location.opening_times
    if location.charging_when_closed is not None:
        obj["charging_when_closed"] = location.charging_when_closed
    obj["last_updated"] = ocpi_datetime(_newest(*newest) or ctx.clock())
    return obj


def effective_last_updated(ctx: OcpiContext, location: Location, pre: _Prefetch) -> datetime:
    """The Location's `last_updated` as `location_object` computes it, without building the EVSEs; `pre`
    was read (`_prefetch`, details or not) for at least its charge points."""
    newest: list[datetime | None] = [location.last_updated]
    for charge_point_id in location.charge_point_ids:
        newest.append(pre.stations[charge_point_id].last_change())
    return _newest(*newest) or ctx.clock()


async def published_location(ctx: OcpiContext, location_id: str, org_id: str | None = None) -> Location:
    """A published location by id (of organization `org_id`, when given: the calling partner's).

    Raises:
        OcpiError: 404 / 2003 (unknown Location) when it does not exist, is not published or is another
            organization's.
    """
    location = await ctx.store.get_location(location_id, org_id=org_id)
    if location is None or not location.publish:
        raise OcpiError(404, Status.UNKNOWN_LOCATION, f"unknown location {location_id}")
    return location


# -- handlers ------------------------------------------------------------------------------------------


async def handle_list(request: web.Request) -> web.Response:
    """GET {url}?date_from&date_to&offset&limit: published locations, oldest change first (OCPI 2.2.1
    Locations sender; pagination as in transport).

    Without a date window the store pages by the record's own last_updated. With one, the window applies
    to the computed `last_updated` (EVSE and connector changes included), so every published location is
    checked (cheaply) and only the page is built in full.
    """
    ctx = context_of(request)
    limit = ctx.config.max_page_limit
    params = pagination(request, limit)
    org_id = partner_of(request).org_id  # a partner sees its organization's locations only (ADR 0012)
    if params.date_from is None and params.date_to is None:
        found, total = await ctx.store.list_locations(params, published_only=True, org_id=org_id)
        items = await location_objects(ctx, found)
        return page(request, items, total, params, limit)
    candidates: list[tuple[datetime, str, Location]] = []
    offset = 0
    while True:
        batch, total = await ctx.store.list_locations(
            Pagination(offset=offset, limit=_SCAN_PAGE), published_only=True, org_id=org_id
        )
        pre = await _prefetch(ctx, [cp for loc in batch for cp in loc.charge_point_ids], with_details=False)
        for location in batch:
            changed = effective_last_updated(ctx, location, pre)
            if (params.date_from is None or changed >= params.date_from) and (
                params.date_to is None or changed < params.date_to
            ):
                candidates.append((changed, location.id, location))
        offset += len(batch)
        if not batch or offset >= total:
            break
    candidates.sort(key=lambda c: (c[0], c[1]))
    chosen = candidates[params.offset : params.offset + params.limit]
    items = await location_objects(ctx, [location for _, _, location in chosen])
    return page(request, items, len(candidates), params, limit)


async def _evse_of(request: web.Request) -> dict[str, Any]:
    """The EVSE object named by the URL, or 404."""
    ctx = context_of(request)
    org_id = partner_of(request).org_id
    location = await published_location(ctx, request.match_info["location_id"], org_id)
    evse_uid = request.match_info["evse_uid"]
    found = await ctx.store.find_evse(evse_uid)
    if found is None or found.charge_point_id not in location.charge_point_ids:
        raise OcpiError(404, Status.CLIENT_ERROR, f"unknown EVSE {evse_uid} at location {location.id}")
    station, pre = await _station(ctx, found.charge_point_id)
    for evse in _evse_objects(ctx, location, station, pre.uids):
        if evse["uid"] == evse_uid:
            return evse
    raise OcpiError(404, Status.CLIENT_ERROR, f"unknown EVSE {evse_uid} at location {location.id}")


async def handle_location(request: web.Request) -> web.Response:
    """GET {url}/{location_id}: one published location with its EVSEs."""
    ctx = context_of(request)
    location = await published_location(ctx, request.match_info["location_id"], partner_of(request).org_id)
    return ok(await location_object(ctx, location))


async def handle_evse(request: web.Request) -> web.Response:
    """GET {url}/{location_id}/{evse_uid}: one EVSE of a published location."""
    evse = await _evse_of(request)
    return ok(evse)


async def handle_connector(request: web.Request) -> web.Response:
    """GET {url}/{location_id}/{evse_uid}/{connector_id}: one connector of an EVSE."""
    evse = await _evse_of(request)
    connector_id = request.match_info["connector_id"]
    for connector in evse["connectors"]:
        if connector["id"] == connector_id:
            return ok(connector)
    raise OcpiError(404, Status.CLIENT_ERROR, f"unknown connector {connector_id} of EVSE {evse['uid']}")


def register(app: web.Application) -> None:
    """Add the Locations sender routes below `/2.2.1/locations` of the OCPI sub-application."""
    base = f"/{VERSION}/{IDENTIFIER}"
    app.router.add_get(base, handle_list, allow_head=False)
    app.router.add_get(base + "/{location_id}", handle_location, allow_head=False)
    app.router.add_get(base + "/{location_id}/{evse_uid}", handle_evse, allow_head=False)
    app.router.add_get(base + "/{location_id}/{evse_uid}/{connector_id}", handle_connector, allow_head=False)
