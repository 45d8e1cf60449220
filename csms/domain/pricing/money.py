"""Money in the pricing engine: OCPI Price, min/max clamping, component cost, the one place money is rounded.

Everything before `Price.in_minor_units` is exact Decimal arithmetic (no float ever touches a price). OCPI
2.2.1 d2 leaves money rounding to law and contract; we bill in the currency's minor unit (ISO 4217: cents
for EUR, none for JPY, 3 decimals for KWD), rounded half up, once, at the end of pricing: each dimension's
cost excl. and incl. VAT is rounded, the session total is the sum of those rounded amounts (so a receipt's
lines add up to its total), clamped to min/max price and rounded again (a bound may have more decimals).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from csms.domain.pricing.tariff import PriceBound, PriceComponent

MONEY_PLACES = Decimal("0.0001")  # OCPI numbers carry at most 4 decimals
# ISO 4217 minor units other than 2 (the default for any other code, EUR included).
_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF"), 0),
    **dict.fromkeys(("UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def quantize(value: Decimal, places: Decimal = MONEY_PLACES) -> Decimal:
    """`value` rounded half up to `places` (default 4 decimals, OCPI numbers); money is rounded through
    `Price.in_minor_units` only."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


def minor_unit(currency: str | None) -> Decimal:
    """The smallest amount of `currency` (ISO 4217): 0.01 for EUR, 1 for JPY; 0.01 when unknown or None."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get((currency or "").upper(), 2))


def decimal_number(value: Decimal, places: Decimal = MONEY_PLACES) -> int | float:
    """`value` rounded to 4 decimals as a JSON-ready number (JSON encoders such as orjson take no Decimal).

    The float is the exact decimal text of the rounded value (≤ 15 significant digits round-trip through
    float unchanged), so `5.5000` is written as `5.5` and never as `5.499999...`.
    """
    rounded = quantize(value, places)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)


@dataclass(frozen=True, slots=True)
class Price:
    """An OCPI Price: excl. and incl. VAT, exact Decimal."""

    excl_vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: Price) -> Price:
        return Price(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    def in_minor_units(self, currency: str | None) -> Price:
        """Both amounts rounded half up to `currency`'s minor unit: the only rounding of money in pricing."""
        unit = minor_unit(currency)
        return Price(quantize(self.excl_vat, unit), quantize(self.incl_vat, unit))

    def is_zero(self) -> bool:
        """True when both amounts are 0."""
        return self.excl_vat == 0 and self.incl_vat == 0

    def to_ocpi(self) -> dict[str, int | float]:
        """The OCPI Price object `{excl_vat, incl_vat}` with at most 4 decimals."""
        return {"excl_vat": decimal_number(self.excl_vat), "incl_vat": decimal_number(self.incl_vat)}


ZERO_PRICE = Price(Decimal(0), Decimal(0))


def component_cost(component: PriceComponent, quantity: Decimal) -> Price:
    """`quantity` units of `component`: VAT per component (a component without `vat` adds none: OCPI "no
    VAT applicable", not 0 %)."""
    excl = quantity * component.price
    incl = excl if component.vat is None else excl * (1 + component.vat / 100)
    return Price(excl, incl)


def clamp(total: Price, low: PriceBound | None, high: PriceBound | None) -> Price:
    """Clamp excl. and incl. VAT independently to min_price / max_price (OCPI 2.2.1 d2)."""
    excl, incl = total.excl_vat, total.incl_vat
    if low is not None:
        excl = max(excl, low.excl_vat)
        if low.incl_vat is not None:
            incl = max(incl, low.incl_vat)
    if high is not None:
        excl = min(excl, high.excl_vat)
        if high.incl_vat is not None:
            incl = min(incl, high.incl_vat)
    return Price(excl, incl)
