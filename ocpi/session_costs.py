"""What a CSMS session costs, for the operator REST API: the amount so far (`GET /api/v1/sessions/{id}`),
the breakdown per dimension (`/cost-breakdown`) and the receipt (`/receipt`).

One source of truth per session, so the API, the OCPI Session and the CDR never disagree:

- once the session's CDR exists, its totals (`total_cost`, `total_energy_cost`, ...) are the breakdown: the
  CDR is what was billed (immutable, `ocpi.cdrs`), and the tariff is the one the CDR names; once that CDR
  was corrected (credited and replaced, `ocpi.corrections`), the latest replacement's;
- before that (a running session, or one whose CDR is still being made), the session is priced now by
  `ocpi.sessions.price_transaction`, the function the CDR is made with, with the tariff pinned at its start;
- a session with no tariff (none pinned, or its charge point in no published location) is free: every
  amount is zero, `tariff_id` is None and the currency is `[ocpi] currency` (as its CDR would say).

Amounts are the engine's (4 decimals, `csms.domain.pricing.money.quantize`: the one place money is rounded);
the per-dimension amounts are not clamped to the tariff's min/max price, the total is (OCPI 2.2.1 d2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from csms.domain.models import Transaction, TransactionStatus
from csms.domain.pricing import (
    PARKING_TIME,
    TIME,
    Price,
    PricingTariff,
    SessionCost,
    TariffError,
    parse_tariff,
)
from ocpi.context import OcpiContext
from ocpi.corrections import effective_cdr
from ocpi.sessions import Place, place_of, price_transaction, transaction_link
from ocpi.tariffs import pricing_tariff

ZERO = Decimal(0)
FOUR_PLACES = Decimal("0.0001")


def _written(price: Price) -> Price:
    """`price` with 4 decimals, as every amount here is written (OCPI's precision). The amounts are already
    rounded to the currency's minor unit by the engine (`Price.in_minor_units`): this rounds nothing."""
    return Price(price.excl_vat.quantize(FOUR_PLACES), price.incl_vat.quantize(FOUR_PLACES))


ZERO_PRICE = _written(Price(ZERO, ZERO))  # "0.0000", written like every other amount
DIMENSIONS = ("energy", "time", "parking", "flat", "reservation")
# Chargeprice's `price_distribution` groups (what the share is of): the one-off amounts, energy, duration.
SHARE_GROUPS: dict[str, tuple[str, ...]] = {
    "session": ("flat", "reservation"),
    "kwh": ("energy",),
    "minute": ("time", "parking"),
}
SHARE_PLACES = Decimal("0.0001")
# The CDR total each dimension is read from (absent from a CDR when zero: `ocpi.cdrs.create_cdr`).
CDR_TOTALS = {
    "energy": "total_energy_cost",
    "time": "total_time_cost",
    "parking": "total_parking_cost",
    "flat": "total_fixed_cost",
    "reservation": "total_reservation_cost",
}


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """A session's cost: the total (clamped to the tariff's min/max price), the amount of each dimension of
    `DIMENSIONS`, the tariff used and when its blocking fee starts counting.

    `final` is True once the session ended (the amounts no longer change); `billed` once they are the
    CDR's.
    """

    session_id: int
    currency: str
    total: Price
    amounts: dict[str, Price]
    energy_kwh: Decimal
    tariff_id: str | None
    blocking_fee_starts_at: datetime | None
    final: bool
    billed: bool

    def shares(self) -> dict[str, Decimal]:
        """The share of each `SHARE_GROUPS` group in the incl.-VAT amounts (see `shares_of`)."""
        return shares_of({g: _incl(self.amounts, dims) for g, dims in SHARE_GROUPS.items()})


def _incl(amounts: dict[str, Price], dimensions: tuple[str, ...]) -> Decimal:
    return sum((amounts[d].incl_vat for d in dimensions), ZERO)


def shares_of(parts: dict[str, Decimal]) -> dict[str, Decimal]:
    """Each part's share of their sum, to 4 decimals, summing to exactly 1 (all 0 when the sum is 0).

    Shares are cut down to 4 decimals, then the 0.0001 steps still missing go to the largest remainders
    (ties: the first part), so rounding never makes the shares add up to 0.9999 or 1.0001. They are shares
    of the sum of the dimensions, which is the total unless the tariff's min/max price clamped it.
    """
    whole = sum(parts.values(), ZERO)
    if whole <= 0:
        return {name: ZERO for name in parts}
    exact = {name: value / whole for name, value in parts.items()}
    shares = {name: share.quantize(SHARE_PLACES, rounding=ROUND_DOWN) for name, share in exact.items()}
    missing = int((1 - sum(shares.values(), ZERO)) / SHARE_PLACES)
    by_remainder = sorted(parts, key=lambda name: exact[name] - shares[name], reverse=True)
    for name in by_remainder[:missing]:
        shares[name] += SHARE_PLACES
    return shares


def blocking_fee_start(tariff: PricingTariff | None, start: datetime) -> datetime | None:
    """When a blocking fee starts counting: the session start plus the smallest `min_duration` of an element
    with a priced TIME or PARKING_TIME component (a fee that only applies after that long, as Chargeprice's
    `blocking_fee_start`). None when the tariff has no such element: a per-minute price from the start is
    no blocking fee, and a parking fee's start (the end of charging) is not known from OCPP."""
    delays = [
        element.restrictions.min_duration
        for element in (tariff.elements if tariff is not None else ())
        if element.restrictions.min_duration is not None
        and any(c.type in (TIME, PARKING_TIME) and c.price > 0 for c in element.components)
    ]
    return start + timedelta(seconds=min(delays)) if delays else None


async def session_cost(ctx: OcpiContext, tx: Transaction) -> CostBreakdown:
    """The cost of `tx` as it stands now: its CDR's when there is one, else priced now (module docstring).

    Pricing runs in a worker thread (`price_transaction`); the caller answers the API request next.
    """
    final = tx.status is TransactionStatus.COMPLETED
    # A corrected CDR bills no more: its latest replacement does (`ocpi.corrections.effective_cdr`).
    cdr = await effective_cdr(ctx.store, tx.id) if final else None
    if cdr is not None:
        return _from_cdr(tx, cdr.data)
    place = await place_of(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id)
    if place is None:
        amounts = {d: ZERO_PRICE for d in DIMENSIONS}
        energy = Decimal(tx.energy_wh or 0) / 1000
        currency = ctx.config.currency
        return CostBreakdown(tx.id, currency, ZERO_PRICE, amounts, energy, None, None, final, False)
    return await _priced(ctx, tx, place, final)


async def _priced(ctx: OcpiContext, tx: Transaction, place: Place, final: bool) -> CostBreakdown:
    priced = await price_transaction(ctx, tx, place.location, await transaction_link(ctx, tx))
    tariff = pricing_tariff(priced.tariff) if priced.tariff is not None else None
    return CostBreakdown(
        session_id=tx.id,
        currency=priced.currency,
        total=_written(priced.cost.total),
        amounts=_amounts(priced.cost),
        energy_kwh=priced.cost.total_energy_kwh,
        tariff_id=priced.tariff.id if priced.tariff is not None else None,
        blocking_fee_starts_at=blocking_fee_start(tariff, tx.started_at),
        final=final,
        billed=False,
    )


def _amounts(cost: SessionCost) -> dict[str, Price]:
    return {
        "energy": _written(cost.energy),
        "time": _written(cost.time),
        "parking": _written(cost.parking),
        "flat": _written(cost.fixed),
        "reservation": _written(cost.reservation),
    }


def _price(value: Any) -> Price:
    """An OCPI Price as the CDR stores it (JSON numbers of at most 4 decimals; absent: zero)."""
    if not isinstance(value, dict):
        return ZERO_PRICE
    excl = Decimal(str(value["excl_vat"]))
    # OCPI 2.2.1 Price: incl_vat may be absent; then none is known and excl. VAT is all there is.
    incl = Decimal(str(value["incl_vat"])) if value.get("incl_vat") is not None else excl
    # Exact already (≤ 4 decimals); written with 4 so billed amounts read "5.5000" like priced ones.
    return _written(Price(excl, incl))


def _cdr_tariff(data: dict[str, Any]) -> PricingTariff | None:
    tariffs = data.get("tariffs") or []
    try:
        return parse_tariff(tariffs[0]) if tariffs else None
    except TariffError:  # the CDR keeps the tariff as it was sent; pricing does not depend on this
        return None


def _from_cdr(tx: Transaction, data: dict[str, Any]) -> CostBreakdown:
    tariff = _cdr_tariff(data)
    tariffs = data.get("tariffs") or []
    return CostBreakdown(
        session_id=tx.id,
        currency=str(data["currency"]),
        total=_price(data.get("total_cost")),
        amounts={d: _price(data.get(field)) for d, field in CDR_TOTALS.items()},
        energy_kwh=Decimal(str(data.get("total_energy", 0))),
        tariff_id=str(tariffs[0]["id"]) if tariffs else None,
        blocking_fee_starts_at=blocking_fee_start(tariff, tx.started_at),
        final=True,
        billed=True,
    )
