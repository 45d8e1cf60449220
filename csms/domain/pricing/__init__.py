"""The pricing engine: an OCPI 2.2.1 Tariff applied to a charging session (the d2 cost algorithm).

One module per part: `tariff` (the parsed tariff), `parsing` (OCPI JSON → tariff), `profile` (the energy
curve), `restrictions` (when an element applies), `periods` (steps 1-3), `billing` (steps 4-5), `money`
(Price, VAT, min/max, the one rounding), `reservation` (reservation time and fees), `engine`
(`price_session`, the steps in order).

`parse_tariff(data)` turns an OCPI Tariff object (JSON; numbers as JSON numbers or strings) into Decimal
structures; `price_session(tariff, start=..., end=..., energy_wh=...)` prices one session and returns a
`SessionCost`: the total `Price` (excl./incl. VAT, clamped to the tariff's min/max price), the per-dimension
totals (fixed, energy, time, parking) and the charging periods (a new period whenever another price
component becomes active), which the OCPI Session and CDR carry.

How a session is priced (OCPI 2.2.1 Tariffs, "cost calculation" as clarified by the d2 errata):

1. The session [start, end) is cut at every restriction boundary (local time of day and midnight in the
   location's time zone, min/max duration, the instants the cumulative energy crosses min/max kWh, the
   meter readings when power restrictions exist, the current measurements when current restrictions
   exist) and where charging ends and parking begins.
2. In each piece, per dimension (ENERGY and TIME while charging, PARKING_TIME after), the FIRST element in
   list order that has a component of that dimension and whose restrictions all hold wins; none: free.
   FLAT is charged once: the first FLAT that applies in time order.
3. step_size is applied once per session, never at element switches: the total billed energy is rounded up
   to the step of the last ENERGY component used (the extra is billed at that component's price); of TIME
   and PARKING_TIME only the last time-based dimension billed is rounded (with charging then parking: the
   total parking time).
4. excl. VAT = Σ volume × price; incl. VAT = Σ volume × price × (1 + vat/100) per component (a component
   without `vat` adds no VAT: OCPI "no VAT applicable"); each then clamped to min_price / max_price
   independently.
5. Money is rounded half up to the currency's minor unit (cents for EUR) only at the very end, in one
   place (`Price.in_minor_units`, see `money`): per dimension, the total being the sum of the rounded
   amounts; everything before is exact Decimal arithmetic (no float touches a price or an energy figure).

What the engine does not know, and how it treats it:

- Current (min/max_current) is the caller's `currents` (amperes summed over the phases), each measurement
  held until the next; the session is cut at every measurement when a restriction needs it. Before the
  first measurement (or without any) and while parking the current is unknown: those restrictions are then
  treated as satisfied (an element is not excluded for a value we cannot see). Power (min/max_power) is the
  average power of each piece, from the energy profile (readings, else a straight line from start to the
  end of charging).
- Elements restricted to reservations (`reservation`) price only reservation time: the caller's
  `reserved_from` until the session starts (`reservation` module), never the charging or parking.
- Where charging ends is the caller's `charging_end` (None: the session charges until `end`, no parking).
"""

from __future__ import annotations

from csms.domain.pricing.engine import SessionCost, price_session
from csms.domain.pricing.money import Price, decimal_number, minor_unit, quantize
from csms.domain.pricing.parsing import parse_tariff
from csms.domain.pricing.profile import CurrentReading, EnergyProfile, EnergyReading, energy_profile
from csms.domain.pricing.restrictions import resolve_zone
from csms.domain.pricing.tariff import (
    ENERGY,
    PARKING_TIME,
    TIME,
    PricingTariff,
    TariffError,
    choose_tariff,
    prices_reservations,
    uses_energy_profile,
)

# What the rest of the project uses; the parts' other names are imported from their modules.
__all__ = [
    "CurrentReading",
    "ENERGY",
    "EnergyProfile",
    "EnergyReading",
    "PARKING_TIME",
    "Price",
    "PricingTariff",
    "SessionCost",
    "TIME",
    "TariffError",
    "choose_tariff",
    "decimal_number",
    "energy_profile",
    "minor_unit",
    "parse_tariff",
    "price_session",
    "prices_reservations",
    "quantize",
    "resolve_zone",
    "uses_energy_profile",
]
