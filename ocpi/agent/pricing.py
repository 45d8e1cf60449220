"""`client_price`: what a client application is invoiced for a booking (the Agent API FAQ, "How is
client_price calculated?").

    cpo_cost   = the CPO's cost of the session, incl. VAT, from its OCPI tariff through the pricing engine
                 (an estimate: the booked window charging `energy_wh`; the CDR's `total_cost` once it came)
    commission = cpo_cost × the client's commission_percent / 100
    total      = cpo_cost + the client's reservation_fee + commission

All in EUR, Decimal, each part rounded half up to cents (never a float). A tariff in another currency, or
one the engine cannot read, gives no CPO cost: the price is then `None` with a `reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from csms.domain.pricing import TariffError, parse_tariff, price_session

CURRENCY = "EUR"
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(value: Decimal) -> Decimal:
    """`value` rounded half up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ClientPrice:
    """The parts of a client price (see the module docstring); `final` once it follows a CDR."""

    cpo_cost: Decimal
    reservation_fee: Decimal
    commission: Decimal
    final: bool = False

    @property
    def total(self) -> Decimal:
        """cpo_cost + reservation_fee + commission."""
        return self.cpo_cost + self.reservation_fee + self.commission

    def json(self) -> dict[str, Any]:
        """As the API shows it: amounts as exact decimal text."""
        return {
            "currency": CURRENCY,
            "cpo_cost": str(self.cpo_cost),
            "reservation_fee": str(self.reservation_fee),
            "commission": str(self.commission),
            "total": str(self.total),
            "final": self.final,
        }


def client_price(
    cpo_cost: Decimal, reservation_fee: Decimal, commission_percent: Decimal, *, final: bool = False
) -> ClientPrice:
    """The client's price of a CPO cost (see the module docstring)."""
    cost = cents(cpo_cost)
    return ClientPrice(cost, cents(reservation_fee), cents(cost * commission_percent / HUNDRED), final)


def tariff_cost(
    tariff: dict[str, Any] | None, *, start: datetime, end: datetime, energy_wh: int, time_zone: str
) -> tuple[Decimal | None, str | None]:
    """The CPO's cost incl. VAT of charging `energy_wh` from `start` to `end` under an OCPI Tariff object
    (None: the connector names no tariff, so the session is free of charge).

    Returns:
        (cost, None), or (None, why there is no cost in EUR).
    """
    if tariff is None:
        return Decimal(0), None
    if tariff.get("currency") != CURRENCY:
        return None, f"the CPO's tariff is in {tariff.get('currency')!r}, not {CURRENCY}"
    try:
        pricing = parse_tariff(tariff)
        cost = price_session(pricing, start=start, end=end, energy_wh=energy_wh, time_zone=time_zone)
    except (TariffError, ValueError, KeyError, TypeError) as exc:
        return None, f"the CPO's tariff cannot be priced: {exc}"
    return cost.total.incl_vat, None


def cdr_cost(cdr: dict[str, Any]) -> Decimal | None:
    """The CDR's `total_cost.incl_vat` (else `excl_vat`) when it is in EUR; None otherwise."""
    total = cdr.get("total_cost")
    if cdr.get("currency") != CURRENCY or not isinstance(total, dict):
        return None
    value = total.get("incl_vat", total.get("excl_vat"))
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None
