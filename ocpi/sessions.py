"""OCPI 2.2.1 Sessions, sender interface (we are the CPO): charging sessions from OCPP transactions.

Routes (below /ocpi/2.2.1/sessions):

- `GET ?date_from&date_to&offset&limit` — `date_from` is required (OCPI 2.2.1 Sessions; missing: status
  2001, with the HTTP status `ocpi.transport.invalid_parameters` gives). The list holds the calling
  partner's sessions only (`ocpi.models.PartyScope`: its tokens' sessions and those it started; never
  those of CSMS-local tokens): every such transaction changed in the window whose charge point is in a
  published location (oldest change first, `TransactionStore.list_transactions_updated` limited to
  `OcpiStore.owned_session_transactions` in the query, so X-Total-Count and the pages count only them),
  followed by the partner's reservations made through OCPI changed in the window (RESERVATION while
  active; COMPLETED, still listed, once ended), oldest change first. Reservations come last so the
  transactions' offsets stay stable while a partner pages through.
- `PUT /{session_id}/charging_preferences` — the driver's ChargingPreferences set the session's target for
  the energy planner (`ocpi.charging_preferences`); a session that is not the partner's is answered as
  unknown (HTTP 404, 2001), never revealing another party's session.

A Session (`session_object`) is one CSMS transaction, id = str(transaction id):

- status ACTIVE while it runs, COMPLETED once stopped; `kwh` = energy since the start meter, in kWh.
- `cdr_token`, `auth_method`, `authorization_reference` from the transaction's `SessionLink` when the session
  came through OCPI (a START_SESSION command, a partner token); otherwise built from the id token: a
  partner's token (by uid) gives its CdrToken, a CSMS-local token is ours (`uid` = `contract_id` = the id
  token, type RFID, our country_code / party_id) with auth_method WHITELIST.
- `location_id` / `evse_uid` / `connector_id` of the EVSE (connector N of 1.6 is EVSE N, connector "1").
- Priced with the tariff its connector had when it started (`ConnectorSpec.tariff_ids`, else its
  location's `Location.tariff_ids`; `choose_tariff` picks the one valid at the start), pinned by id in its
  SessionLink at the start (`pin_tariff`, see `session_tariff`), by `csms.domain.pricing` over the
  transaction's meter readings (the energy register, and Current.Import for min/max_current restrictions,
  `currents_of`): `charging_periods` (ENERGY and TIME, a new period whenever another price
  component applies; one period without a tariff) and `total_cost` (omitted without a tariff), in the
  tariff's currency (else `[ocpi] currency`). The end of
  charging is not known from OCPP, so no PARKING_TIME is billed. Once the CDR exists, a completed session
  shows the CDR's periods and cost, so the two never disagree. Pricing runs in a worker thread and reads
  the meter samples only when the tariff's restrictions need the energy curve (`price_transaction`).

A reservation made with RESERVE_NOW is a Session too (`reservation_session_object`), id `R<reservation id>`
(its SessionLink): RESERVATION while the reservation is active, COMPLETED once it ended unused (expired,
cancelled). When the driver charges on it (the transaction uses the reservation: OCPI 2.2.1 Sessions,
"Reservation"), the same Session goes on ACTIVE: the command runner gives the reservation's SessionLink the
transaction (`transaction_pk`), and from then on the transaction is served, pushed, stopped and CDR'd under
that id (`session_id_of`); the reservation itself is no longer a Session of its own. Its price includes the
reservation from when it was made until charging started (`reservation_start`), when the tariff prices
reservations (RESERVATION elements): a RESERVATION_TIME charging period first, the reservation cost in
`total_cost`. An unused reservation's COMPLETED Session shows the cost of its reservation-only CDR, if it
got one (`ocpi.cdrs.create_reservation_cdr`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from csms.domain.clock import to_utc
from csms.domain.metering import ENERGY_REGISTER, MAX_MULTIPLIER, sample_wh
from csms.domain.models import (
    MeterSample,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.ports import AlreadyExists
from csms.domain.pricing import (
    CurrentReading,
    EnergyReading,
    PricingTariff,
    SessionCost,
    choose_tariff,
    decimal_number,
    price_session,
    prices_reservations,
    resolve_zone,
    uses_energy_profile,
)
from ocpi.charging_preferences import handle_charging_preferences
from ocpi.context import OcpiContext, context_of
from ocpi.locations import find_connector_spec
from ocpi.models import Location, PartyScope, SessionLink, Tariff
from ocpi.store import Pagination
from ocpi.tariffs import pricing_tariff, tariff_object
from ocpi.transport import VERSION, ocpi_datetime, page, pagination, partner_of

log = structlog.get_logger("ocpi.sessions")

IDENTIFIER = "sessions"
ROLE = "SENDER"

NOT_AVAILABLE = "#NA"  # OCPI 2.2.1: a required string whose value is truly unavailable
CDR_TOKEN_UID_MAX = 36
_SCAN_PAGE = 500


# -- shared with the CDRs module -------------------------------------------------------------------------


@dataclass(slots=True)
class Place:
    """Where a transaction happened, in OCPI terms."""

    location: Location
    evse_uid: str
    connector_id: str


async def place_of(ctx: OcpiContext, charge_point_id: str, evse_id: int, connector_id: int) -> Place | None:
    """The published location, EVSE uid and connector id of an OCPP EVSE/connector (None: not published).

    EVSE 0 or below (a transaction reported on the station itself) counts as EVSE 1; connector 0 or below as
    connector 1 (how the CSMS names a 1.6 connector).
    """
    location = await ctx.store.location_of(charge_point_id)
    if location is None or not location.publish:
        return None
    uid = await ctx.store.evse_uid(charge_point_id, evse_id if evse_id > 0 else 1)
    return Place(location, uid.uid, str(connector_id if connector_id > 0 else 1))


async def cdr_token_of(ctx: OcpiContext, id_token: str | None, link: SessionLink | None) -> dict[str, Any]:
    """The CdrToken of a session: the SessionLink's, a partner token's (by uid), or ours for a CSMS-local
    id token (see the module docstring). Without any id token: `#NA` uid and contract, type OTHER."""
    if link is not None and link.cdr_token:
        return dict(link.cdr_token)
    if not id_token:
        return {
            "country_code": ctx.config.country_code,
            "party_id": ctx.config.party_id,
            "uid": NOT_AVAILABLE,
            "type": "OTHER",
            "contract_id": NOT_AVAILABLE,
        }
    token = await ctx.store.find_partner_token(id_token)
    if token is not None:
        return {
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid": token.uid,
            "type": token.type,
            "contract_id": token.contract_id,
        }
    uid = id_token[:CDR_TOKEN_UID_MAX]
    return {
        "country_code": ctx.config.country_code,
        "party_id": ctx.config.party_id,
        "uid": uid,
        "type": "RFID",
        "contract_id": uid,
    }


def readings_of(samples: Iterable[MeterSample], meter_start_wh: int | None) -> list[EnergyReading]:
    """Energy since the start meter at each sampled instant, for the pricing engine's energy curve.

    The pricing input is kept small, in one pass: only phase-less Energy.Active.Import.Register samples in
    an energy unit count (the total register, as `csms.domain.metering.energy_register_wh` reads it; per-phase
    values, power, current, SoC... are dropped), one reading per instant (the last sample of that instant),
    and of a run of equal readings only its first and last (the curve is flat in between either way).
    `samples` must be in time order (`list_meter_samples` returns them so).
    """
    if meter_start_wh is None:
        return []
    register = (  # (instant, total register Wh or None) of each phase-less register sample
        (s.timestamp, sample_wh(s)) for s in samples if s.measurand == ENERGY_REGISTER and s.phase is None
    )
    points: list[tuple[datetime, int]] = []
    for at, total_wh in register:
        if total_wh is None:
            continue
        wh = max(0, total_wh - meter_start_wh)
        if points and points[-1][0] == at:
            points[-1] = (at, wh)  # the newest sample of an instant wins
        else:
            points.append((at, wh))
    readings: list[EnergyReading] = []
    for i, (at, wh) in enumerate(points):
        if 0 < i < len(points) - 1 and points[i - 1][1] == wh == points[i + 1][1]:
            continue  # inside a flat run: the straight line between its ends says the same
        readings.append(EnergyReading(at, Decimal(wh)))
    return readings


CURRENT_IMPORT = "Current.Import"
_PHASES = frozenset({"L1", "L2", "L3"})  # line currents; N (neutral) is not charging current


def currents_of(samples: Iterable[MeterSample]) -> list[CurrentReading]:
    """The charging current at each sampled instant, for the min/max_current restrictions (OCPI 2.2.1: the
    sum of the current over all phases).

    Only Current.Import samples in amperes (`A`, multiplier applied) measured at the outlet (no location, or
    Outlet) count. At each instant the per-phase values (L1, L2, L3; the newest per phase) are summed; an
    instant without per-phase values takes its phase-less value. `samples` must be in time order.
    """
    by_instant: dict[datetime, tuple[dict[str, Decimal], list[Decimal]]] = {}
    for s in samples:
        if s.measurand != CURRENT_IMPORT or s.unit != "A" or s.location not in (None, "Outlet"):
            continue
        if abs(s.multiplier) > MAX_MULTIPLIER:
            continue
        phases, total = by_instant.setdefault(s.timestamp, ({}, []))
        amps = s.value.scaleb(s.multiplier)
        if s.phase in _PHASES:
            phases[s.phase] = amps
        elif s.phase is None:
            total[:] = [amps]
    readings: list[CurrentReading] = []
    for at, (phases, total) in by_instant.items():
        if phases:
            readings.append(CurrentReading(at, sum(phases.values(), Decimal(0))))
        elif total:
            readings.append(CurrentReading(at, total[0]))
    return readings


def zone_of(location: Location) -> tzinfo | str:
    """The location's time zone for tariff restrictions; UTC (logged) when the stored name is unknown."""
    try:
        return resolve_zone(location.time_zone)
    except ValueError:
        log.warning("unknown_location_time_zone", location_id=location.id, time_zone=location.time_zone)
        return "UTC"


@dataclass(slots=True)
class Priced:
    """A transaction priced with its connector's tariff (`tariff` None: no tariff applies, cost zero)."""

    cost: SessionCost
    tariff: Tariff | None
    currency: str
    reserved_from: datetime | None = None  # the reservation it charged on began then (priced: see below)


async def connector_tariff(
    ctx: OcpiContext, charge_point_id: str, evse_id: int, connector_id: int, at: datetime
) -> tuple[Tariff, PricingTariff] | None:
    """The tariff of a connector that prices a session starting at `at` (`choose_tariff` over the
    connector's `tariff_ids`, else, when it names none, over its location's), stored and parsed; None when
    no usable tariff applies."""
    spec = await find_connector_spec(ctx, charge_point_id, evse_id if evse_id > 0 else 1, connector_id)
    tariff_ids = spec.tariff_ids
    if not tariff_ids:
        # Item 2 of issue 11: tariffs per connector or per location; the connector's own win.
        location = await ctx.store.location_of(charge_point_id)
        tariff_ids = location.tariff_ids if location is not None else []
    return await _chosen_tariff(ctx, tariff_ids, at)


async def _chosen_tariff(
    ctx: OcpiContext, tariff_ids: list[str], at: datetime
) -> tuple[Tariff, PricingTariff] | None:
    """The tariff among `tariff_ids` valid at `at` (`choose_tariff`), stored and parsed; unknown and
    unparsable ones are skipped (logged)."""
    candidates: list[tuple[Tariff, PricingTariff]] = []
    for tariff_id in tariff_ids:
        stored = await ctx.store.get_tariff(tariff_id)
        parsed = pricing_tariff(stored) if stored is not None else None
        if stored is not None and parsed is not None:
            candidates.append((stored, parsed))
        elif stored is not None:
            log.warning("unusable_tariff", tariff_id=tariff_id)
    chosen = choose_tariff([p for _, p in candidates], at)
    for stored, parsed in candidates:
        if parsed is chosen:
            return stored, parsed
    return None


async def transaction_link(ctx: OcpiContext, tx: Transaction) -> SessionLink | None:
    """The SessionLink of a transaction (by `transaction_pk`: its session id is `str(tx.id)`, or the
    reservation's `R<id>` when it charges on a RESERVE_NOW reservation), or None."""
    return await ctx.store.find_session_link(transaction_pk=tx.id)


def session_id_of(tx: Transaction, link: SessionLink | None) -> str:
    """The OCPI Session id of a transaction: its link's (a used reservation's `R<id>`), else str(tx.id)."""
    return link.session_id if link is not None else str(tx.id)


# SessionLink.tariff_id of a session whose connector had no usable tariff when it started: it stays free.
NO_TARIFF = ""


async def session_tariff(
    ctx: OcpiContext, tx: Transaction, link: SessionLink | None
) -> tuple[Tariff, PricingTariff] | None:
    """The tariff that prices `tx`: the one pinned in its SessionLink when the transaction started
    (`pin_tariff`; `NO_TARIFF`: none), else (no pin: a transaction from before the bridge ran, or a link
    rewritten without it) the connector's tariff valid at the start, as configured now.

    The pin is the tariff id: taking a tariff off the connector, or putting another one on it, does not
    change a running session's price; editing the prices of the pinned tariff itself does (the OCPI store
    keeps no tariff versions). A pinned tariff that was deleted or no longer parses falls back to the
    connector's (logged).
    """
    if link is not None and link.tariff_id is not None:
        if link.tariff_id == NO_TARIFF:
            return None
        stored = await ctx.store.get_tariff(link.tariff_id)
        parsed = pricing_tariff(stored) if stored is not None else None
        if stored is not None and parsed is not None:
            return stored, parsed
        log.warning("pinned_tariff_unusable", session_id=link.session_id, tariff_id=link.tariff_id)
    return await connector_tariff(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id, tx.started_at)


async def pin_tariff(ctx: OcpiContext, tx: Transaction) -> SessionLink | None:
    """Freeze the tariff of a transaction that just started (OCPI 2.2.1 CDRs: "frozen as of session start"):
    the connector's tariff valid at the start (or `NO_TARIFF`) goes into the session's SessionLink.

    The link the authority or the command runner made (they are told about the start first) is updated, not
    replaced; without one a WHITELIST link is made (partner: the owner of a partner token of that uid, if
    any). A link that already has a pin keeps it (a repeated start). Stations in no location are not OCPI
    sessions: nothing is pinned (None).
    """
    if await ctx.store.location_of(tx.charge_point_id) is None:
        return None
    found = await connector_tariff(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id, tx.started_at)
    link = await transaction_link(ctx, tx)
    if link is None:
        token = await ctx.store.find_partner_token(tx.id_token) if tx.id_token else None
        link = SessionLink(
            session_id=str(tx.id),
            partner_id=token.partner_id if token is not None else None,
            transaction_pk=tx.id,
            reservation_id=tx.reservation_id,
            # The token's party makes the session its eMSP's (`PartyScope`): frozen with the tariff.
            cdr_token=await cdr_token_of(ctx, tx.id_token, None) if token is not None else None,
            # the session's own change time: making the link is no change a partner must see
            last_updated=tx.updated_at or tx.started_at,
        )
    elif link.tariff_id is not None:
        return link
    link.tariff_id = found[0].id if found is not None else NO_TARIFF
    try:
        await ctx.store.save_session_link(link)
    except AlreadyExists:
        log.warning("tariff_not_pinned", transaction_pk=tx.id, reason="another link has the transaction")
        return None
    return link


async def reservation_start(ctx: OcpiContext, tx: Transaction, link: SessionLink | None) -> datetime | None:
    """When the reservation `tx` charged on began (OCPI 2.2.1 Sessions "Reservation": its time until
    charging starts is part of the session's price), or None: no reservation, unknown, another station's,
    or made after the transaction started.

    The reservation is the one its SessionLink names (a RESERVE_NOW reservation, session `R<id>`), else the
    one the station reported with the start (`Transaction.reservation_id`).
    """
    rid = link.reservation_id if link is not None and link.reservation_id is not None else tx.reservation_id
    if rid is None:
        return None
    reservation = await ctx.domain.store.get_reservation(rid)
    if reservation is None or reservation.created_at is None:
        return None
    if reservation.charge_point_id != tx.charge_point_id:
        return None
    made = to_utc(reservation.created_at)
    return made if made <= to_utc(tx.started_at) else None


def _price_in_worker(
    tariff: PricingTariff | None,
    start: datetime,
    end: datetime,
    energy_wh: Decimal,
    meter_start_wh: int | None,
    samples: list[MeterSample],
    zone: tzinfo | str,
    reserved_from: datetime | None = None,
) -> SessionCost:
    """The CPU part of pricing (filtering the samples, the engine), run in a worker thread on values
    copied from the transaction (the event loop may update the live object meanwhile)."""
    return price_session(
        tariff,
        start=start,
        end=end,
        energy_wh=energy_wh,
        readings=readings_of(samples, meter_start_wh),
        time_zone=zone,
        reserved_from=reserved_from,
        currents=currents_of(samples),
    )


async def price_transaction(
    ctx: OcpiContext,
    tx: Transaction,
    location: Location,
    link: SessionLink | None,
    *,
    tariff: tuple[Tariff, PricingTariff] | None = None,
    energy_wh: int | None = None,
) -> Priced:
    """Price `tx` (so far, if it still runs) with its tariff (`session_tariff`; `link` is its SessionLink,
    None when it has none): see the module docstring.

    A transaction that charged on a reservation (`reservation_start`) is priced from the reservation's start
    when the tariff has reservation elements (`prices_reservations`): the reservation time and fee come
    first (a RESERVATION_TIME period, `total_reservation_cost`); under a tariff without them nothing changes.

    The meter samples are loaded only when the tariff has restrictions (only then does the energy curve
    change the price or the periods), and the engine runs in a worker thread (`asyncio.to_thread`): a long
    session never stalls the event loop that serves the stations.

    Args:
        tariff: price with this tariff (stored, parsed) instead of the session's (a CDR correction).
        energy_wh: the session's energy as corrected by an operator instead of the transaction's; the meter
            samples then do not shape the curve (they disagree with it): the energy is spread evenly.
    """
    end = tx.stopped_at or max(ctx.clock(), tx.started_at)
    energy = Decimal(tx.energy_wh or 0) if energy_wh is None else Decimal(energy_wh)
    start, meter_start = tx.started_at, tx.meter_start_wh
    found = tariff if tariff is not None else await session_tariff(ctx, tx, link)
    if found is None:
        cost = await asyncio.to_thread(_price_in_worker, None, start, end, energy, None, [], "UTC")
        return Priced(cost, None, ctx.config.currency)
    stored, parsed = found
    samples: list[MeterSample] = []
    if uses_energy_profile(parsed) and energy_wh is None:
        samples = await ctx.domain.store.list_meter_samples(tx.id)
    zone = zone_of(location)
    reserved = await reservation_start(ctx, tx, link) if prices_reservations(parsed) else None
    cost = await asyncio.to_thread(
        _price_in_worker, parsed, start, end, energy, meter_start, samples, zone, reserved
    )
    return Priced(cost, stored, stored.currency or ctx.config.currency, reserved)


def periods_json(cost: SessionCost) -> list[dict[str, Any]]:
    """The OCPI ChargingPeriod objects of a priced session (volumes with at most 4 decimals)."""
    periods = []
    for p in cost.charging_periods:
        period: dict[str, Any] = {
            "start_date_time": ocpi_datetime(p.start),
            "dimensions": [{"type": kind, "volume": decimal_number(volume)} for kind, volume in p.dimensions],
        }
        if p.tariff_id is not None:
            period["tariff_id"] = p.tariff_id
        periods.append(period)
    return periods


def used_tariffs(ctx: OcpiContext, priced: Priced) -> list[dict[str, Any]]:
    """The Tariff objects a priced session used (for CDR.tariffs)."""
    return [tariff_object(ctx, priced.tariff)] if priced.tariff is not None else []


def _newest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


# -- Session objects ---------------------------------------------------------------------------------


async def session_object(ctx: OcpiContext, tx: Transaction) -> dict[str, Any] | None:
    """The OCPI Session of a CSMS transaction as it is now, or None when its charge point is in no
    published location (then OCPI does not know the session at all)."""
    place = await place_of(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id)
    if place is None:
        return None
    link = await transaction_link(ctx, tx)
    completed = tx.status is TransactionStatus.COMPLETED
    obj: dict[str, Any] = {
        "country_code": place.location.country_code,
        "party_id": place.location.party_id,
        "id": session_id_of(tx, link),
        "start_date_time": ocpi_datetime(tx.started_at),
    }
    if completed and tx.stopped_at is not None:
        obj["end_date_time"] = ocpi_datetime(tx.stopped_at)
    obj["kwh"] = decimal_number(Decimal(tx.energy_wh or 0) / 1000)
    obj["cdr_token"] = await cdr_token_of(ctx, tx.id_token, link)
    obj["auth_method"] = link.auth_method if link is not None else "WHITELIST"
    if link is not None and link.authorization_reference:
        obj["authorization_reference"] = link.authorization_reference
    obj.update(location_id=place.location.id, evse_uid=place.evse_uid, connector_id=place.connector_id)
    cdr = await ctx.store.get_cdr(str(tx.id)) if completed else None
    if cdr is not None:  # the frozen record: the session shows exactly what was billed
        obj["currency"] = cdr.data["currency"]
        obj["charging_periods"] = cdr.data["charging_periods"]
        obj["total_cost"] = cdr.data["total_cost"]
    else:
        priced = await price_transaction(ctx, tx, place.location, link)
        obj["currency"] = priced.currency
        obj["charging_periods"] = periods_json(priced.cost)
        if priced.tariff is not None:
            obj["total_cost"] = priced.cost.total.to_ocpi()
    obj["status"] = "COMPLETED" if completed else "ACTIVE"
    changed = _newest(tx.updated_at, tx.started_at, link.last_updated if link is not None else None)
    obj["last_updated"] = ocpi_datetime(changed or ctx.clock())
    return obj


def _reservation_changed(reservation: Reservation, link: SessionLink) -> datetime | None:
    return _newest(reservation.updated_at, reservation.created_at, link.last_updated)


def reservation_began(reservation: Reservation, link: SessionLink, changed: datetime) -> datetime:
    """When a reservation's Session began: when the reservation was made."""
    return reservation.created_at or link.last_updated or changed


def reservation_ended(reservation: Reservation, changed: datetime) -> datetime:
    """When an ended reservation's Session ended: when it was cancelled (its last change), at the latest
    its expiry date (an expired one ended then, whenever the CSMS noticed)."""
    return min(to_utc(reservation.updated_at or changed), to_utc(reservation.expiry_date))


async def _reservation_session(
    ctx: OcpiContext, reservation: Reservation, scope: PartyScope | None = None
) -> tuple[dict[str, Any], datetime] | None:
    link = await ctx.store.get_session_link(f"R{reservation.id}")
    if link is None:
        return None  # not made through OCPI: no partner knows it as a session
    if link.transaction_pk is not None:
        return None  # used: the session goes on as the transaction's (`session_object`)
    if scope is not None and not scope.owns(link):
        return None  # another partner's
    location = await ctx.store.location_of(reservation.charge_point_id)
    if location is None or not location.publish:
        return None
    if reservation.evse_id:
        evse_uid = (await ctx.store.evse_uid(reservation.charge_point_id, reservation.evse_id)).uid
        connectors = [
            c.connector_id
            for c in await ctx.domain.store.list_connectors(reservation.charge_point_id)
            if c.evse_id == reservation.evse_id and c.connector_id > 0
        ]
        connector_id = str(min(connectors, default=1))
    else:  # any EVSE of the station (1.6 connector 0): OCPI allows #NA here
        evse_uid = connector_id = NOT_AVAILABLE
    active = reservation.status is ReservationStatus.ACTIVE
    changed = _reservation_changed(reservation, link) or ctx.clock()
    started = reservation_began(reservation, link, changed)
    obj: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": link.session_id,
        "start_date_time": ocpi_datetime(started),
    }
    if not active:
        obj["end_date_time"] = ocpi_datetime(reservation_ended(reservation, changed))
    obj["kwh"] = 0
    obj["cdr_token"] = await cdr_token_of(ctx, reservation.id_token, link)
    obj["auth_method"] = link.auth_method
    if link.authorization_reference:
        obj["authorization_reference"] = link.authorization_reference
    obj.update(location_id=location.id, evse_uid=evse_uid, connector_id=connector_id)
    cdr = None if active else await ctx.store.get_cdr(link.session_id)
    if cdr is not None:  # its reservation cost was billed (`ocpi.cdrs.create_reservation_cdr`)
        obj["currency"] = cdr.data["currency"]
        obj["charging_periods"] = cdr.data["charging_periods"]
        obj["total_cost"] = cdr.data["total_cost"]
    else:
        obj["currency"] = ctx.config.currency
    obj["status"] = "RESERVATION" if active else "COMPLETED"
    obj["last_updated"] = ocpi_datetime(changed)
    return obj, changed


async def reservation_session_object(ctx: OcpiContext, reservation: Reservation) -> dict[str, Any] | None:
    """The OCPI Session of a reservation made through RESERVE_NOW (id `R<reservation id>`), or None when it
    was not made through OCPI or its charge point is in no published location.

    Status RESERVATION while the reservation is active, COMPLETED once it ended unused (expired, cancelled);
    kwh 0, no charging periods, the EVSE as `#NA` when the reservation is for any EVSE of the station. None
    too once a transaction uses it: that Session is the transaction's now (`session_object`, same id).
    """
    found = await _reservation_session(ctx, reservation)
    return None if found is None else found[0]


# -- handlers ------------------------------------------------------------------------------------------


async def published_charge_points(ctx: OcpiContext, org_id: str | None = None) -> set[str]:
    """The charge points of every published location (of organization `org_id`, when given)."""
    stations: set[str] = set()
    offset = 0
    while True:
        batch, total = await ctx.store.list_locations(
            Pagination(offset=offset, limit=_SCAN_PAGE), published_only=True, org_id=org_id
        )
        for location in batch:
            stations.update(location.charge_point_ids)
        offset += len(batch)
        if not batch or offset >= total:
            return stations


async def _reservation_sessions(
    ctx: OcpiContext,
    scope: PartyScope,
    date_from: datetime | None,
    date_to: datetime | None,
    org_id: str | None = None,
) -> list[dict[str, Any]]:
    """The reservation sessions `scope` owns (reservations made through OCPI, whatever their status:
    RESERVATION while active, COMPLETED once ended) changed in the window, oldest change first (then by
    id); of organization `org_id` only, when given."""
    store = ctx.domain.store
    found: list[tuple[datetime, str, dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        batch, cursor = await store.list_reservations(limit=_SCAN_PAGE, cursor=cursor, org_id=org_id)
        for reservation in batch:
            if reservation.owner is None:
                continue  # made by an operator, not a partner
            built = await _reservation_session(ctx, reservation, scope)
            if built is None:
                continue
            obj, changed = built
            if (date_from is None or changed >= date_from) and (date_to is None or changed < date_to):
                found.append((changed, obj["id"], obj))
        if cursor is None:
            break
    found.sort(key=lambda f: (f[0], f[1]))
    return [obj for _, _, obj in found]


async def handle_list(request: web.Request) -> web.Response:
    """GET {url}?date_from*&date_to&offset&limit: the calling partner's sessions changed in the window
    (see the module doc)."""
    ctx = context_of(request)
    limit = ctx.config.max_page_limit
    params = pagination(request, limit, date_from_required=True)
    partner = partner_of(request)
    scope = PartyScope.of(partner)
    # Only the partner's organization's stations (ADR 0012), then only the sessions its scope owns.
    stations = await published_charge_points(ctx, partner.org_id)
    owned = await ctx.store.owned_session_transactions(scope)
    txs, tx_total = await ctx.domain.store.list_transactions_updated(params, stations, owned)
    items: list[dict[str, Any]] = []
    for tx in txs:
        session = await session_object(ctx, tx)
        if session is not None:
            items.append(session)
    reservations = await _reservation_sessions(ctx, scope, params.date_from, params.date_to, partner.org_id)
    room = params.limit - len(txs)
    if room > 0:
        start = max(0, params.offset - tx_total)
        items += reservations[start : start + room]
    return page(request, items, tx_total + len(reservations), params, limit)


def register(app: web.Application) -> None:
    """Add the Sessions sender routes below `/2.2.1/sessions` of the OCPI sub-application."""
    base = f"/{VERSION}/{IDENTIFIER}"
    app.router.add_get(base, handle_list, allow_head=False)
    app.router.add_put(base + "/{session_id}/charging_preferences", handle_charging_preferences)
