"""Reservation time priced by a tariff's reservation elements (OCPI 2.2.1 TariffRestrictions.reservation).

The reservation runs from when it was made until the session starts (or, unused, until it expired). It is
one piece, read at its start: elements restricted to RESERVATION (and, once expired, RESERVATION_EXPIRES)
price its TIME (reservation time) and FLAT (reservation fee), the first matching element per dimension
winning. Its TIME is rounded to that component's own step_size: reservation time is billed apart from the
charging session's time (CDR `total_reservation_cost`), so the session's "last time-based dimension" rule
does not reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import ROUND_CEILING, Decimal

from csms.domain.pricing.money import ZERO_PRICE, Price, component_cost
from csms.domain.pricing.profile import seconds_of
from csms.domain.pricing.restrictions import Instant, holds
from csms.domain.pricing.tariff import FLAT, TIME, PriceComponent, PricingTariff

RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"
_S_PER_H = Decimal(3600)


@dataclass(frozen=True, slots=True)
class ReservationCost:
    """What a reservation costs (exact, unrounded) and how long it lasted (seconds)."""

    cost: Price
    seconds: Decimal


def price_reservation(
    tariff: PricingTariff | None,
    reserved_from: datetime | None,
    until: datetime,
    *,
    expired: bool,
    zone: tzinfo,
) -> ReservationCost:
    """The reservation [reserved_from, until) priced by `tariff`'s reservation elements (free without a
    tariff or a reservation: None).

    Returns:
        The exact cost (rounded later, with the session's, to the currency's minor unit) and the duration.
    """
    if reserved_from is None:
        return ReservationCost(ZERO_PRICE, Decimal(0))
    seconds = max(seconds_of(until - reserved_from), Decimal(0))
    if tariff is None:
        return ReservationCost(ZERO_PRICE, seconds)
    kinds = frozenset({RESERVATION, RESERVATION_EXPIRES} if expired else {RESERVATION})
    at = Instant(reserved_from.astimezone(zone), Decimal(0), Decimal(0), None, kinds)
    chosen: dict[str, PriceComponent] = {}
    for element in tariff.elements:
        if holds(element.restrictions, at):
            for component in element.components:
                if component.type in (TIME, FLAT):
                    chosen.setdefault(component.type, component)
    cost = ZERO_PRICE
    if FLAT in chosen:
        cost += component_cost(chosen[FLAT], Decimal(1))
    if TIME in chosen:
        step = Decimal(chosen[TIME].step_size)
        billed = (seconds / step).to_integral_value(rounding=ROUND_CEILING) * step if step > 0 else seconds
        in_seconds = component_cost(chosen[TIME], billed)  # divided by the hour last: see billing
        cost += Price(in_seconds.excl_vat / _S_PER_H, in_seconds.incl_vat / _S_PER_H)
    return ReservationCost(cost, seconds)
