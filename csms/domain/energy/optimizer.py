"""The schedule optimizer: pure, no I/O. Given an energy need, a departure time, the power the session may
draw and a site's forecast, choose the power per interval that meets the need by the departure at the lowest
cost or carbon; when it cannot, charge as fast as allowed and say so.

Intervals are the forecast's own, cut at `now` and at the departure. The cheapest (or cleanest) intervals are
filled first at the allowed maximum; the last one chosen gets just the power the rest of the need takes, but
never less than the EV's minimum (an EV below its minimum current does not charge, ISO 15118 / IEC 61851).
Intervals the forecast does not cover rank last. Energy is integer Wh, money Decimal, carbon integer grams.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from csms.domain.commands import ChargingProfile, ChargingSchedulePeriod
from csms.domain.energy.forecasts import SiteForecast

HOUR_S = 3600


class Objective(enum.StrEnum):
    """What a schedule minimizes: the energy cost, the carbon emitted, or nothing (as fast as allowed)."""

    COST = "cost"
    CARBON = "carbon"
    FAST = "fast"


@dataclass(frozen=True, slots=True)
class PlannedInterval:
    """Planned power over [start, end) and what it is expected to deliver, cost (None: no price) and emit."""

    start: datetime
    end: datetime
    power_w: int
    energy_wh: int
    price_per_kwh: Decimal | None
    g_co2_per_kwh: int | None
    cost: Decimal | None
    carbon_g: int | None


@dataclass(frozen=True, slots=True)
class Plan:
    """A session's schedule: its intervals from `start` to `departure`, totals, whether it meets the need."""

    start: datetime
    departure: datetime
    objective: Objective
    energy_need_wh: int
    intervals: tuple[PlannedInterval, ...]
    target_met: bool

    @property
    def energy_wh(self) -> int:
        """The energy the schedule delivers, in Wh."""
        return sum(i.energy_wh for i in self.intervals)

    @property
    def cost(self) -> Decimal:
        """The expected cost of the intervals that have a price."""
        return sum((i.cost for i in self.intervals if i.cost is not None), Decimal(0))

    @property
    def carbon_g(self) -> int:
        """The expected carbon of the intervals that have an intensity, in grams."""
        return sum(i.carbon_g for i in self.intervals if i.carbon_g is not None)


def _energy_wh(power_w: int, seconds: int) -> int:
    return power_w * seconds // HOUR_S


def _power_for(energy_wh: int, seconds: int) -> int:
    """The smallest whole-watt power that delivers `energy_wh` in `seconds`."""
    return -(-energy_wh * HOUR_S // seconds)


def _slices(forecast: SiteForecast, start: datetime, departure: datetime) -> list[tuple[datetime, datetime]]:
    cuts = [start, *forecast.boundaries(start, departure), departure]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def plan_schedule(
    *,
    energy_need_wh: int,
    start: datetime,
    departure: datetime,
    max_power_w: int,
    min_power_w: int,
    forecast: SiteForecast,
    objective: Objective,
) -> Plan:
    """The schedule that meets `energy_need_wh` by `departure` at the lowest cost or carbon.

    Args:
        energy_need_wh: energy still to deliver (Wh, >= 0).
        start: now; the schedule begins here.
        departure: when the EV leaves; nothing is planned after it.
        max_power_w: what the session may draw (the allowed power at its site and the EV's maximum).
        min_power_w: the EV's minimum while charging (0: none).
        forecast: the site's prices and carbon intensity.
        objective: COST, CARBON, or FAST (as early as possible at the maximum).

    Returns:
        The plan; `target_met` False when even the maximum throughout cannot deliver the need (the plan then
        charges at the maximum from `start`). Intervals with 0 W are kept, so the plan covers start→departure.
    """
    slices = _slices(forecast, start, departure) if departure > start else []
    seconds = [int((b - a).total_seconds()) for a, b in slices]
    power = [0] * len(slices)
    capacity = sum(_energy_wh(max_power_w, s) for s in seconds)
    met = capacity >= energy_need_wh
    if not met:
        power = [max_power_w] * len(slices)
    else:
        remaining = energy_need_wh
        for i in _ranked(forecast, slices, objective):
            if remaining <= 0:
                break
            full = _energy_wh(max_power_w, seconds[i])
            if full <= remaining:
                power[i], remaining = max_power_w, remaining - full
            else:
                power[i] = max(min_power_w, _power_for(remaining, seconds[i]))
                remaining -= _energy_wh(power[i], seconds[i])
    intervals = tuple(
        _interval(forecast, a, b, p, s) for (a, b), p, s in zip(slices, power, seconds, strict=True)
    )
    return Plan(start, departure, objective, energy_need_wh, intervals, met)


def _ranked(
    forecast: SiteForecast, slices: list[tuple[datetime, datetime]], objective: Objective
) -> list[int]:
    """Slice indexes, best first: by price or carbon (uncovered last), then earliest (FAST: time order)."""

    def key(i: int) -> tuple[int, Decimal, int]:
        start = slices[i][0]
        value: Decimal | int | None = None
        if objective is Objective.COST:
            value = forecast.price_at(start)
        elif objective is Objective.CARBON:
            value = forecast.carbon_at(start)
        else:
            return (0, Decimal(0), i)
        return (1, Decimal(0), i) if value is None else (0, Decimal(value), i)

    return sorted(range(len(slices)), key=key)


def _interval(
    forecast: SiteForecast, start: datetime, end: datetime, power: int, seconds: int
) -> PlannedInterval:
    energy = _energy_wh(power, seconds)
    price, carbon = forecast.price_at(start), forecast.carbon_at(start)
    cost = None
    if price is not None:
        cost = (price * energy / 1000).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    grams = None if carbon is None else (carbon * energy + 500) // 1000
    return PlannedInterval(start, end, power, energy, price, carbon, cost, grams)


def tx_profile(
    plan: Plan, *, profile_id: int, ocpp_transaction_id: str, stack_level: int = 1
) -> ChargingProfile:
    """The plan as an absolute TxProfile in W, starting at the plan's start and lasting until the departure
    (OCPP 1.6 §3.13.4 / 2.0.1 K01: a TxProfile applies to the given transaction only); equal consecutive
    periods are merged. After its duration the station falls back to its other profiles (no limit from us)."""
    periods: list[ChargingSchedulePeriod] = []
    for interval in plan.intervals:
        if periods and periods[-1].limit == interval.power_w:
            continue
        offset = int((interval.start - plan.start).total_seconds())
        periods.append(ChargingSchedulePeriod(offset, Decimal(interval.power_w)))
    if not periods:
        periods.append(ChargingSchedulePeriod(0, Decimal(0)))
    duration = max(1, int((plan.departure - plan.start) / timedelta(seconds=1)))
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose="TxProfile",
        kind="Absolute",
        rate_unit="W",
        periods=periods,
        ocpp_transaction_id=ocpp_transaction_id,
        duration=duration,
        start_schedule=plan.start,
    )
