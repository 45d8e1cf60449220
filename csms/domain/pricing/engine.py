"""`price_session`: one charging session priced with one tariff, the steps of the OCPI 2.2.1 d2 algorithm in
order (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, localcontext

from csms.domain.clock import to_utc
from csms.domain.pricing.billing import S_PER_H, WH_PER_KWH, billed_volumes, dimension_costs
from csms.domain.pricing.money import ZERO_PRICE, Price, clamp
from csms.domain.pricing.periods import (
    ComponentRef,
    Piece,
    SessionSpan,
    choose_pieces,
    cut_points,
    merge_periods,
)
from csms.domain.pricing.profile import (
    CurrentReading,
    EnergyReading,
    current_profile,
    delta_of,
    energy_profile,
    seconds_of,
)
from csms.domain.pricing.reservation import price_reservation
from csms.domain.pricing.restrictions import resolve_zone
from csms.domain.pricing.tariff import ENERGY, FLAT, PARKING_TIME, TIME, PriceComponent, PricingTariff

ZERO = Decimal(0)
RESERVATION_TIME = "RESERVATION_TIME"  # OCPI CdrDimensionType of a reservation's period
_PRECISION = 50  # digits for intermediate arithmetic: volume × price / unit never loses a cent here


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """One OCPI ChargingPeriod: from `start` until the next period (or the session end), with the measured
    volumes of its dimensions (ENERGY in kWh, TIME, PARKING_TIME and RESERVATION_TIME in hours, exact
    Decimal)."""

    start: datetime
    dimensions: tuple[tuple[str, Decimal], ...]
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionCost:
    """What a session costs and how it divides into charging periods.

    Money is in the currency's minor unit (`money` says how it is rounded): each per-dimension amount is
    rounded, `total` is their sum clamped to the tariff's min/max price (the per-dimension amounts are not
    clamped: OCPI reports them as computed). Volumes are exact (round them when formatting).
    """

    total: Price
    fixed: Price
    energy: Price
    time: Price
    parking: Price
    total_energy_kwh: Decimal
    total_time_hours: Decimal  # start to end, parking included (OCPI CDR total_time)
    total_parking_hours: Decimal
    charging_periods: tuple[ChargingPeriod, ...]
    tariff_id: str | None = None
    currency: str | None = None
    reservation: Price = ZERO_PRICE  # included in `total` (OCPI CDR total_reservation_cost)
    total_reservation_hours: Decimal = ZERO


def price_session(
    tariff: PricingTariff | None,
    *,
    start: datetime,
    end: datetime,
    energy_wh: Decimal | int,
    readings: Sequence[EnergyReading] = (),
    charging_end: datetime | None = None,
    time_zone: str | tzinfo = "UTC",
    reserved_from: datetime | None = None,
    reservation_expired: bool = False,
    reservation_only: bool = False,
    currents: Sequence[CurrentReading] = (),
) -> SessionCost:
    """Price one charging session with `tariff` (None: free; periods are still measured).

    Args:
        start, end: the session's start and end (for a running session: now).
        energy_wh: the energy delivered in total (so far), in Wh.
        readings: cumulative energy since `start` at instants within the session; they shape the energy
            curve (which piece got which energy); without them energy is spread evenly over the charging.
        charging_end: when the EV stopped charging and parking began (None: charging until `end`).
        currents: the charging current (amperes, summed over the phases) measured within the session,
            each held until the next: what min/max_current restrictions are read against (none known
            before the first: those restrictions then hold).
        time_zone: the location's IANA time zone, in which time and day restrictions are read.
        reserved_from: when the EV driver's reservation began (None: no reservation); the time until
            `start` is priced by the tariff's reservation elements and comes first in the periods.
        reservation_expired: the reservation ran out unused: only it is priced (pass `start` = `end` =
            its expiry, no energy), by RESERVATION and RESERVATION_EXPIRES elements.
        reservation_only: the reservation ended unused without expiring (cancelled): only it is priced, as
            for `reservation_expired` but by RESERVATION elements alone (an expired one implies this).

    Returns:
        The cost, the per-dimension costs and the charging periods; pass them to the OCPI Session / CDR.

    Raises:
        ValueError: unknown `time_zone`.
    """
    zone = resolve_zone(time_zone)
    reservation_only = reservation_only or reservation_expired
    start = to_utc(start)
    end = max(to_utc(end), start)
    total_wh = max(Decimal(energy_wh), ZERO)
    charge_end = end if charging_end is None else min(max(to_utc(charging_end), start), end)
    charge_seconds = seconds_of(charge_end - start)
    span = SessionSpan(
        start,
        end,
        seconds_of(end - start),
        charge_seconds,
        zone,
        current_profile(currents, start, charge_seconds),
    )
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        profile = energy_profile(readings, start, span.charge_seconds, total_wh)
        elements = tariff.elements if tariff is not None else ()

        def component(ref: ComponentRef) -> PriceComponent:
            return elements[ref[0]].components[ref[1]]

        pieces, flat = choose_pieces(elements, cut_points(tariff, span, profile), span, profile)  # 1, 2
        periods = [] if reservation_only else merge_periods(pieces)  # 3
        costs = dimension_costs(periods, billed_volumes(periods, component), flat, component)  # 4, 5
        if reservation_only:
            costs[FLAT] = ZERO_PRICE  # no charging session: its start fee is not due
        reserved_at = None if reserved_from is None else to_utc(reserved_from)
        reserved = price_reservation(tariff, reserved_at, start, expired=reservation_expired, zone=zone)
        currency = tariff.currency if tariff is not None else None
        parts = {dimension: price.in_minor_units(currency) for dimension, price in costs.items()}
        reservation = reserved.cost.in_minor_units(currency)
        total = parts[FLAT] + parts[ENERGY] + parts[TIME] + parts[PARKING_TIME] + reservation
        if tariff is not None:
            total = clamp(total, tariff.min_price, tariff.max_price).in_minor_units(currency)
        tariff_id = tariff.id if tariff is not None else None
        return SessionCost(
            total=total,
            fixed=parts[FLAT],
            energy=parts[ENERGY],
            time=parts[TIME],
            parking=parts[PARKING_TIME],
            total_energy_kwh=total_wh / WH_PER_KWH,
            total_time_hours=span.duration / S_PER_H,
            total_parking_hours=(span.duration - span.charge_seconds) / S_PER_H,
            charging_periods=_reservation_period(reserved_from, reserved.seconds, tariff_id)
            + tuple(_charging_period(start, p, tariff_id) for p in periods),
            tariff_id=tariff_id,
            currency=currency,
            reservation=reservation,
            total_reservation_hours=reserved.seconds / S_PER_H,
        )


def _reservation_period(
    reserved_from: datetime | None, seconds: Decimal, tariff_id: str | None
) -> tuple[ChargingPeriod, ...]:
    """The reservation's period (OCPI CdrDimensionType RESERVATION_TIME), when there was one."""
    if reserved_from is None or seconds <= 0:
        return ()
    return (ChargingPeriod(to_utc(reserved_from), ((RESERVATION_TIME, seconds / S_PER_H),), tariff_id),)


def _charging_period(start: datetime, p: Piece, tariff_id: str | None) -> ChargingPeriod:
    hours = (p.end - p.begin) / S_PER_H
    dimensions = (
        ((ENERGY, p.energy_wh / WH_PER_KWH), (TIME, hours)) if p.charging else ((PARKING_TIME, hours),)
    )
    return ChargingPeriod(start=start + delta_of(p.begin), dimensions=dimensions, tariff_id=tariff_id)
