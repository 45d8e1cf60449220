"""Steps 4-5 of the OCPI 2.2.1 d2 cost algorithm: billed volumes with step_size applied once per session,
then money per dimension."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from csms.domain.pricing.money import ZERO_PRICE, Price, component_cost
from csms.domain.pricing.periods import ComponentRef, Piece
from csms.domain.pricing.tariff import DIMENSIONS, ENERGY, FLAT, PARKING_TIME, TIME, PriceComponent

ZERO = Decimal(0)
WH_PER_KWH = Decimal(1000)
S_PER_H = Decimal(3600)
UNITS = {ENERGY: WH_PER_KWH, TIME: S_PER_H, PARKING_TIME: S_PER_H}  # billed volume → priced unit
# Volumes are measured in whole Wh and microseconds; a piece cut where the energy crosses a kWh bound gets
# its volume by division, exact only to the 50th digit. Below this resolution a total is that noise, and
# rounding it up to the step would bill a whole extra step (29 000.000…001 Wh → 29 001 Wh).
_VOLUME_RESOLUTION = Decimal("1e-9")

ComponentOf = Callable[[ComponentRef], PriceComponent]


def billed_volumes(periods: list[Piece], component: ComponentOf) -> list[dict[str, Decimal]]:
    """Step 4: per period, the volume of each priced dimension (Wh; seconds), with step_size applied once
    per session (d2): the total billed energy is rounded up to the step of the last ENERGY component used,
    and of TIME and PARKING_TIME only the last time-based dimension billed is rounded."""
    billed: list[dict[str, Decimal]] = []
    for p in periods:
        volumes: dict[str, Decimal] = {}
        if ENERGY in p.chosen:
            volumes[ENERGY] = p.energy_wh
        for dimension in (TIME, PARKING_TIME):
            if dimension in p.chosen:
                volumes[dimension] = p.end - p.begin
        billed.append(volumes)
    _round_up(periods, billed, ENERGY, component)
    last_time_dimension = None
    for p in periods:
        for dimension in (TIME, PARKING_TIME):
            if dimension in p.chosen:
                last_time_dimension = dimension
    if last_time_dimension is not None:
        _round_up(periods, billed, last_time_dimension, component)
    return billed


def _round_up(
    periods: list[Piece], billed: list[dict[str, Decimal]], dimension: str, component: ComponentOf
) -> None:
    """Round the session's total of `dimension` up to the step of its last component; the extra volume
    goes to the last period billing that dimension (OCPI 2.2.1 d2 step_size)."""
    indexes = [i for i, volumes in enumerate(billed) if dimension in volumes]
    if not indexes:
        return
    last = indexes[-1]
    step = Decimal(component(periods[last].chosen[dimension]).step_size)
    if step <= 0:
        return
    total = sum((billed[i][dimension] for i in indexes), ZERO)
    measured = total.quantize(_VOLUME_RESOLUTION, rounding=ROUND_HALF_EVEN)
    rounded = (measured / step).to_integral_value(rounding=ROUND_CEILING) * step
    billed[last][dimension] += rounded - total


def dimension_costs(
    periods: list[Piece], billed: list[dict[str, Decimal]], flat: ComponentRef | None, component: ComponentOf
) -> dict[str, Price]:
    """Step 5: the exact (unrounded) cost of each dimension: volume × price per component, FLAT once.

    Volumes stay in Wh and seconds until the dimension's sum is divided by its unit, once: 3630 s at €3/h is
    10 890 / 3600 = 3.025 exactly, where 3630 / 3600 × 3 (1.00833… cut at the 50th digit) gives 3.02499…
    and a cent less once rounded.
    """
    sums = {dimension: ZERO_PRICE for dimension in DIMENSIONS}
    for p, volumes in zip(periods, billed, strict=True):
        for dimension, volume in volumes.items():
            sums[dimension] += component_cost(component(p.chosen[dimension]), volume)
    costs = {
        dimension: Price(total.excl_vat / UNITS[dimension], total.incl_vat / UNITS[dimension])
        for dimension, total in sums.items()
        if dimension in UNITS
    }
    costs[FLAT] = ZERO_PRICE if flat is None else component_cost(component(flat), Decimal(1))
    return costs
