"""Charge price estimates: each selected tariff priced by the pricing engine for each requested charge point.

Steps, in the order `estimate` runs them:

1. Select the tariffs (`select`) among those offered at the station (`ocpi.chargeprice.app`): the filters
   are "priced in the requested currency" and "valid at the start" (our tariffs have no monthly fees, so
   `max_monthly_fees` never removes one). `relationships.tariffs` with `meta.include` = `filter`: the listed
   tariffs that pass the filters; `always`: every tariff that passes plus the listed ones even if they do
   not; `exclusive`: exactly the listed ones. A listed id not offered at the station is left out.
2. Plan each charge point (`plans`): `energy` + `duration` as given for every point, or what the vehicle
   charges over its battery window there (`ocpi.chargeprice.vehicles`).
3. Price (`price_session`): the session starts `start_time` minutes after local midnight of today in the
   station's time zone, charges for the planned duration (no parking), delivers the planned energy along the
   planned curve. A tariff selected although it did not pass the filters, or a point the vehicle cannot
   charge at, has no price: it is answered with `price: null` and a `no_price_reason` when the request says
   `show_price_unavailable`, else left out.
4. Answer: `price` is the engine's total incl. VAT (min/max price applied) rounded half up to the currency's
   minor unit (`minor_unit`: the one rounding of an estimate); `price_distribution` the share of session
   (FLAT), kwh (ENERGY) and minute (TIME and PARKING_TIME) in the sum of the per-dimension costs incl. VAT
   (before min/max price), 4 decimals, dimensions without cost left out; `blocking_fee_start` as defined by
   Chargeprice (`blocking_fee_start`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from csms.domain.pricing import TIME, EnergyReading, PricingTariff, SessionCost, decimal_number, price_session
from ocpi.chargeprice.request import EstimateRequest
from ocpi.chargeprice.vehicles import ChargePlan, Vehicle, vehicle_plan

# ISO 4217 minor units of the accepted currencies that do not have 2 decimals.
MINOR_UNITS = {"JPY": 0, "ISK": 0, "KRW": 0}
SHARE_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Offer:
    """One of our tariffs as the estimates show it; `pricing` None: the engine cannot price it."""

    id: str
    name: str
    url: str
    direct_payment: bool
    currency: str
    pricing: PricingTariff | None


@dataclass(frozen=True, slots=True)
class PointPlan:
    """A requested charge point and what is charged there (None: the vehicle cannot charge there)."""

    plug: str
    power: Decimal
    plan: ChargePlan | None


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit as a quantum (EUR: 0.01, JPY: 1)."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def _passes(offer: Offer, currency: str, start: datetime) -> bool:
    return offer.pricing is not None and offer.currency == currency and offer.pricing.valid_at(start)


def select(offers: Sequence[Offer], request: EstimateRequest, start: datetime) -> list[tuple[Offer, bool]]:
    """Step 1: the tariffs to answer, in our order, each with whether it can be priced (see the module)."""
    listed = set(request.tariff_ids) if request.tariff_ids is not None else None
    chosen: list[tuple[Offer, bool]] = []
    for offer in offers:
        passes = _passes(offer, request.currency, start)
        named = listed is not None and offer.id in listed
        if listed is None or request.include == "filter":
            keep = passes and (listed is None or named)
        elif request.include == "always":
            keep = passes or named
        else:  # exclusive
            keep = named
        if keep:
            chosen.append((offer, passes))
    return chosen


def plans(request: EstimateRequest, vehicle: Vehicle | None) -> list[PointPlan]:
    """Step 2: each requested charge point with the energy and duration charged there."""
    points: list[PointPlan] = []
    for point in request.station.charge_points:
        plan: ChargePlan | None
        if vehicle is None or request.soc_window is None:
            assert request.energy_kwh is not None and request.duration_min is not None  # parse_request
            plan = ChargePlan(
                int((request.energy_kwh * 1000).to_integral_value(rounding=ROUND_HALF_UP)),
                timedelta(microseconds=int((request.duration_min * 60_000_000).to_integral_value())),
            )
        else:
            plan = vehicle_plan(
                vehicle,
                request.soc_window,
                point.plug,
                point.power,
                phases=request.options.car_ac_phases,
                allow_unbalanced=request.options.allow_unbalanced_load,
            )
        points.append(PointPlan(point.plug, point.power, plan))
    return points


def price_plan(tariff: PricingTariff, plan: ChargePlan, start: datetime, time_zone: str) -> SessionCost:
    """Step 3: the engine's price of `plan` starting at `start` (charging throughout, no parking)."""
    readings = [EnergyReading(start + at, Decimal(wh)) for at, wh in plan.readings]
    return price_session(
        tariff,
        start=start,
        end=start + plan.duration,
        energy_wh=plan.energy_wh,
        readings=readings,
        time_zone=time_zone,
    )


def distribution(cost: SessionCost) -> dict[str, int | float]:
    """The share of session, kwh and minute in the per-dimension costs incl. VAT (those with a cost)."""
    parts = {
        "session": cost.fixed.incl_vat,
        "kwh": cost.energy.incl_vat,
        "minute": cost.time.incl_vat + cost.parking.incl_vat,
    }
    whole = sum(parts.values(), Decimal(0))
    if whole <= 0:
        return {}
    return {name: decimal_number(part / whole, SHARE_PLACES) for name, part in parts.items() if part > 0}


def blocking_fee_start(tariff: PricingTariff) -> int | None:
    """Minutes after the start when a blocking fee begins (Chargeprice: a priced TIME component that starts
    later, `min_duration`, while no priced TIME component counts from the start); None: no blocking fee."""
    starts = [
        element.restrictions.min_duration or 0
        for element in tariff.elements
        if any(c.type == TIME and c.price > 0 for c in element.components)
    ]
    if not starts or min(starts) == 0:
        return None
    return min(starts) // 60


def _no_price(point: PointPlan, reason: str) -> dict[str, Any]:
    return {
        "plug": point.plug,
        "power": decimal_number(point.power),
        "price": None,
        "price_distribution": {},
        "blocking_fee_start": None,
        "no_price_reason": reason,
    }


def point_price(
    offer: Offer, passes: bool, point: PointPlan, start: datetime, time_zone: str
) -> dict[str, Any] | str:
    """One `charge_point_prices` entry, or the reason there is no price."""
    if not passes or offer.pricing is None:
        return f"This tariff is not offered in the requested currency or at this time ({offer.currency})"
    if point.plan is None:
        return "The vehicle cannot charge at this charge point"
    cost = price_plan(offer.pricing, point.plan, start, time_zone)
    return {
        "plug": point.plug,
        "power": decimal_number(point.power),
        "price": decimal_number(cost.total.incl_vat, minor_unit(offer.currency)),
        "price_distribution": distribution(cost),
        "blocking_fee_start": blocking_fee_start(offer.pricing),
        "no_price_reason": None,
    }


def charge_price(
    offer: Offer,
    passes: bool,
    points: Iterable[PointPlan],
    request: EstimateRequest,
    context: tuple[datetime, str, str],
) -> dict[str, Any] | None:
    """One `charge_price` resource (`context`: start, time zone, provider); None when nothing to show."""
    start, time_zone, provider = context
    prices: list[dict[str, Any]] = []
    for point in points:
        entry = point_price(offer, passes, point, start, time_zone)
        if isinstance(entry, dict):
            prices.append(entry)
        elif request.options.show_price_unavailable:
            prices.append(_no_price(point, entry))
    if not prices:
        return None
    return {
        "id": f"{offer.id}",
        "type": "charge_price",
        "attributes": {
            "provider": provider,
            "tariff_name": offer.name,
            "url": offer.url,
            "monthly_min_sales": 0,
            "total_monthly_fee": 0,
            "flat_rate": False,
            "direct_payment": offer.direct_payment,
            "provider_customer_tariff": False,
            "currency": offer.currency,
            "start_time": request.options.start_time,
            "tags": [],
            "branding": None,
            "charge_point_prices": prices,
        },
        "relationships": {"tariff": {"data": {"id": offer.id, "type": "tariff"}}},
    }


def estimate(
    offers: Sequence[Offer],
    request: EstimateRequest,
    vehicle: Vehicle | None,
    context: tuple[datetime, str, str],
) -> dict[str, Any]:
    """The response document: `data` (one `charge_price` per tariff) and `meta.charge_points`."""
    points = plans(request, vehicle)
    data = [
        resource
        for offer, passes in select(offers, request, context[0])
        if (resource := charge_price(offer, passes, points, request, context)) is not None
    ]
    return {"data": data, "meta": {"charge_points": [_meta(point) for point in points]}}


def _meta(point: PointPlan) -> dict[str, Any]:
    plan = point.plan
    minutes = Decimal(plan.duration.total_seconds()) / 60 if plan is not None else Decimal(0)
    return {
        "plug": point.plug,
        "power": decimal_number(point.power),
        "duration": decimal_number(minutes, Decimal("0.1")),
        "energy": decimal_number(Decimal(plan.energy_wh if plan else 0) / 1000, Decimal("0.001")),
    }
