"""The parsed OCPI 2.2.1 Tariff the engine prices with: elements, components, restrictions, min/max price.

`csms.domain.pricing.parsing.parse_tariff` builds these from the OCPI JSON object; `choose_tariff` picks the
one that prices a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from csms.domain.clock import to_utc

FLAT = "FLAT"
ENERGY = "ENERGY"
TIME = "TIME"
PARKING_TIME = "PARKING_TIME"
DIMENSIONS = (ENERGY, FLAT, PARKING_TIME, TIME)

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class TariffError(ValueError):
    """The tariff object is not a valid OCPI 2.2.1 Tariff (what is wrong is in the message)."""


@dataclass(frozen=True, slots=True)
class PriceBound:
    """A tariff's min_price / max_price: excl. VAT always, incl. VAT when the tariff gives it."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """One OCPI PriceComponent: `price` per unit excl. VAT (per kWh, per hour, or once for FLAT)."""

    type: str
    price: Decimal
    vat: Decimal | None  # percentage; None: no VAT applicable (not the same as 0 %)
    step_size: int  # Wh for ENERGY, seconds for TIME and PARKING_TIME; ignored for FLAT


@dataclass(frozen=True, slots=True)
class Restrictions:
    """OCPI TariffRestrictions (all must hold). Times and dates are local to the location's time zone."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None  # inclusive
    end_date: date | None = None  # exclusive
    min_kwh: Decimal | None = None  # inclusive, cumulative energy of the session
    max_kwh: Decimal | None = None  # exclusive
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None  # kW, inclusive
    max_power: Decimal | None = None  # kW, exclusive
    min_duration: int | None = None  # seconds since the session start, inclusive
    max_duration: int | None = None  # exclusive
    day_of_week: frozenset[int] = frozenset()  # 0 = Monday (date.weekday()); empty: every day
    reservation: str | None = None  # RESERVATION | RESERVATION_EXPIRES

    @property
    def uses_local_time(self) -> bool:
        """True when the restriction depends on the local clock or calendar."""
        return bool(self.start_time or self.end_time or self.start_date or self.end_date or self.day_of_week)


@dataclass(frozen=True, slots=True)
class TariffElement:
    """One OCPI TariffElement: its components and the restrictions under which they apply."""

    components: tuple[PriceComponent, ...]
    restrictions: Restrictions = field(default_factory=Restrictions)


@dataclass(frozen=True, slots=True)
class PricingTariff:
    """An OCPI Tariff, parsed: what the engine needs (elements, min/max price, validity, currency)."""

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    type: str | None = None
    min_price: PriceBound | None = None
    max_price: PriceBound | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """True when the tariff is in force at `at` (start_date_time inclusive, end_date_time exclusive)."""
        at = to_utc(at)
        if self.start_date_time is not None and at < self.start_date_time:
            return False
        return self.end_date_time is None or at < self.end_date_time


def choose_tariff(tariffs: Iterable[PricingTariff], at: datetime) -> PricingTariff | None:
    """The tariff that prices a regular (not ad hoc, no charging profile) session starting at `at`.

    OCPI 2.2.1 allows one active tariff per Tariff.type on a connector: the first one valid at `at` whose
    type is REGULAR or absent wins; when none is, the first valid one of any other type (better priced by a
    profile tariff than not at all); None when no tariff is valid.
    """
    valid = [t for t in tariffs if t.valid_at(at)]
    for tariff in valid:
        if tariff.type in (None, "REGULAR"):
            return tariff
    return valid[0] if valid else None


def uses_energy_profile(tariff: PricingTariff | None) -> bool:
    """Whether meter readings can change what `price_session` returns with `tariff`.

    Only restrictions cut a charging session into pieces, and only then do readings decide which piece got
    which energy; without any (or without a tariff) the session is one piece holding all its energy, so a
    caller may skip loading readings altogether.
    """
    empty = Restrictions()
    return tariff is not None and any(e.restrictions != empty for e in tariff.elements)


def prices_reservations(tariff: PricingTariff | None) -> bool:
    """Whether `tariff` has an element restricted to reservations (OCPI 2.2.1 TariffRestrictions
    `reservation`): only then does reservation time cost anything, and only then is it a charging period
    (without one a reservation leaves the price and the periods as they were)."""
    return tariff is not None and any(e.restrictions.reservation is not None for e in tariff.elements)
