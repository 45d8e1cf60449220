"""Property tests of the pricing engine (Hypothesis): the cost of a session never decreases as it goes on or
delivers more energy, and how its meter samples are split into messages does not change its price.

Where OCPI 2.2.1 d2 itself makes the cost drop, the generators stay clear of it (each such case is named at
its generator): step_size rounds the session total with the LAST component's step, so a session entering an
element with a smaller step, or starting to park (after which only parking is rounded), may bill less; and a
kWh- or power-restricted element can make more energy cheaper (that is the tariff's choice, not a bug).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.domain.pricing import EnergyReading, SessionCost, parse_tariff, price_session, quantize

ZONES = ("UTC", "Europe/Amsterdam", "Asia/Tokyo", "America/New_York")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# Around the 2024 spring DST change in Europe and a week end, so local-time cuts meet odd days.
FIRST_START = datetime(2024, 3, 29, 18, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Timeline:
    """A session: charging segments of (seconds, Wh per second) from `start`, then `parking` seconds."""

    start: datetime
    segments: tuple[tuple[int, int], ...]
    parking: int
    zone: str

    def boundaries(self) -> list[tuple[int, int]]:
        """(seconds since start, cumulative Wh) at the start and at every segment's end."""
        points = [(0, 0)]
        for seconds, rate in self.segments:
            t, wh = points[-1]
            points.append((t + seconds, wh + seconds * rate))
        return points


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def restrictions(draw: st.DrawFn, *, volumes: bool) -> dict[str, Any]:
    """Random OCPI TariffRestrictions; kWh and power bounds only when `volumes`."""
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["start_time"] = _hhmm(draw(st.integers(0, 47)) * 30)
        r["end_time"] = _hhmm(draw(st.integers(0, 47)) * 30)
    if draw(st.booleans()):
        r["day_of_week"] = sorted(draw(st.sets(st.sampled_from(DAYS), min_size=1)), key=DAYS.index)
    if draw(st.booleans()):
        r["min_duration"] = draw(st.integers(0, 4)) * 900
    if draw(st.booleans()):
        r["max_duration"] = draw(st.integers(1, 8)) * 900
    if volumes and draw(st.booleans()):
        r["min_kwh"] = draw(st.integers(0, 40))
        r["max_kwh"] = r["min_kwh"] + draw(st.integers(1, 40))
    if volumes and draw(st.booleans()):
        r["min_power"] = draw(st.integers(0, 60))
        r["max_power"] = r["min_power"] + draw(st.integers(1, 100))
    return r


@st.composite
def tariffs(draw: st.DrawFn, *, volumes: bool = True, steps: bool = False) -> dict[str, Any]:
    """A random OCPI tariff: 1-4 elements, maybe min/max price; step_size 1 unless `steps`."""
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        kinds = draw(st.sets(st.sampled_from(("FLAT", "ENERGY", "TIME", "PARKING_TIME")), min_size=1))
        components = []
        for kind in sorted(kinds):
            component: dict[str, Any] = {
                "type": kind,
                "price": str(Decimal(draw(st.integers(0, 500))) / 100),
                "step_size": draw(st.sampled_from((0, 1, 60, 300, 500, 900))) if steps else 1,
            }
            vat = draw(st.sampled_from((None, 0, 7, 19, 21)))
            if vat is not None:
                component["vat"] = vat
            components.append(component)
        element: dict[str, Any] = {"price_components": components}
        r = draw(restrictions(volumes=volumes))
        if r:
            element["restrictions"] = r
        elements.append(element)
    data: dict[str, Any] = {"id": "prop", "currency": "EUR", "elements": elements}
    if draw(st.booleans()):
        data["min_price"] = {"excl_vat": draw(st.integers(0, 5)), "incl_vat": draw(st.integers(0, 6))}
    if draw(st.booleans()):
        data["max_price"] = {"excl_vat": draw(st.integers(5, 60)), "incl_vat": draw(st.integers(5, 70))}
    return data


@st.composite
def timelines(draw: st.DrawFn, *, parking: bool = True) -> Timeline:
    """A random session: up to 5 charging segments of whole seconds at whole Wh/s (0-30 Wh/s ≈ 0-108 kW)."""
    start = FIRST_START + timedelta(minutes=draw(st.integers(0, 4 * 24 * 4)) * 15 + draw(st.integers(0, 899)))
    segments = tuple(
        draw(st.lists(st.tuples(st.integers(1, 5400), st.integers(0, 30)), min_size=1, max_size=5))
    )
    return Timeline(
        start, segments, draw(st.integers(0, 5400)) if parking else 0, draw(st.sampled_from(ZONES))
    )


def _cost(
    tariff: dict[str, Any], tl: Timeline, *, until: int, readings: list[tuple[int, int]]
) -> SessionCost:
    """The session of `tl` priced as if it ended `until` seconds after its start (its cost so far)."""
    points = tl.boundaries()
    charge_end = points[-1][0]
    energy = _energy_at(points, min(until, charge_end))
    return price_session(
        parse_tariff(tariff),
        start=tl.start,
        end=tl.start + timedelta(seconds=until),
        energy_wh=energy,
        readings=[
            EnergyReading(tl.start + timedelta(seconds=t), Decimal(wh)) for t, wh in readings if t < until
        ],
        charging_end=tl.start + timedelta(seconds=min(until, charge_end)),
        time_zone=tl.zone,
    )


def _energy_at(points: list[tuple[int, int]], t: int) -> int:
    """The cumulative Wh at whole second `t` (exact: every segment runs at whole Wh per second)."""
    for (t0, e0), (t1, e1) in zip(points, points[1:], strict=False):
        if t0 <= t <= t1:
            return e0 + (e1 - e0) // (t1 - t0) * (t - t0)
    return points[-1][1]


def _assert_not_less(later: SessionCost, earlier: SessionCost) -> None:
    assert later.total.excl_vat >= earlier.total.excl_vat, (earlier.total, later.total)
    assert later.total.incl_vat >= earlier.total.incl_vat, (earlier.total, later.total)


@PROPERTY_SETTINGS
@given(tariff=tariffs(), tl=timelines(), data=st.data())
def test_cost_never_decreases_as_the_session_goes_on(
    tariff: dict[str, Any], tl: Timeline, data: st.DataObject
) -> None:
    """The cost so far at any instant is at most the cost at any later instant of the same session (step_size
    1, so d2's last-step rounding cannot drop it)."""
    points = tl.boundaries()
    end = points[-1][0] + tl.parking
    instants = sorted(data.draw(st.lists(st.integers(1, end), min_size=2, max_size=6)))
    costs = [_cost(tariff, tl, until=t, readings=points[1:-1]) for t in instants]
    for earlier, later in zip(costs, costs[1:], strict=False):
        _assert_not_less(later, earlier)


@PROPERTY_SETTINGS
@given(tariff=tariffs(volumes=False), tl=timelines(), extra=st.integers(1, 20), data=st.data())
def test_more_energy_in_the_same_time_never_costs_less(
    tariff: dict[str, Any], tl: Timeline, extra: int, data: st.DataObject
) -> None:
    """Charging faster in one segment (same times, more energy from there on) never lowers the cost
    (restrictions on the clock, calendar and duration only: kWh and power bands may make energy cheaper)."""
    index = data.draw(st.integers(0, len(tl.segments) - 1))
    seconds, rate = tl.segments[index]
    faster = Timeline(
        tl.start,
        tl.segments[:index] + ((seconds, rate + extra),) + tl.segments[index + 1 :],
        tl.parking,
        tl.zone,
    )
    end = tl.boundaries()[-1][0] + tl.parking
    slow = _cost(tariff, tl, until=end, readings=tl.boundaries()[1:-1])
    fast = _cost(tariff, faster, until=end, readings=faster.boundaries()[1:-1])
    _assert_not_less(fast, slow)


@PROPERTY_SETTINGS
@given(tariff=tariffs(volumes=False, steps=True), tl=timelines(parking=False), data=st.data())
def test_with_one_step_per_dimension_cost_never_decreases(
    tariff: dict[str, Any], tl: Timeline, data: st.DataObject
) -> None:
    """With one element (one step per dimension) and no parking, any step_size keeps the cost so far
    non-decreasing: the session total is always rounded up to the same step."""
    tariff["elements"] = tariff["elements"][:1]
    tariff["elements"][0].pop("restrictions", None)
    points = tl.boundaries()
    instants = sorted(data.draw(st.lists(st.integers(1, points[-1][0]), min_size=2, max_size=6)))
    costs = [_cost(tariff, tl, until=t, readings=points[1:-1]) for t in instants]
    for earlier, later in zip(costs, costs[1:], strict=False):
        _assert_not_less(later, earlier)


@PROPERTY_SETTINGS
@given(tariff=tariffs(steps=True), tl=timelines(), data=st.data())
def test_splitting_the_samples_differently_does_not_change_the_price(
    tariff: dict[str, Any], tl: Timeline, data: st.DataObject
) -> None:
    """The same energy curve sampled at more instants (points on the curve inside segments, repeats, in any
    order: more or fewer MeterValues messages) gives the same cost, parts and charging periods."""
    points = tl.boundaries()
    coarse = points[1:-1]
    fine = list(coarse)
    for (t0, _), (t1, _) in zip(points, points[1:], strict=False):
        inner = data.draw(st.lists(st.integers(t0, t1), max_size=4)) if t1 > t0 else []
        fine.extend((t, _energy_at(points, t)) for t in inner)
    fine.extend(data.draw(st.lists(st.sampled_from(fine), max_size=3)) if fine else [])
    random.Random(data.draw(st.integers(0, 1000))).shuffle(fine)
    end = points[-1][0] + tl.parking
    split, whole = _cost(tariff, tl, until=end, readings=fine), _cost(tariff, tl, until=end, readings=coarse)
    assert (split.total, split.fixed, split.energy, split.time, split.parking) == (
        whole.total,
        whole.fixed,
        whole.energy,
        whole.time,
        whole.parking,
    )
    assert _published(split) == _published(whole)


def _published(cost: SessionCost) -> list[tuple[datetime, list[tuple[str, Decimal]]]]:
    """The charging periods as OCPI publishes them: volumes to 4 decimals (the exact volumes may differ in
    the 50th digit, where a crossing instant found by division on another segment was rounded)."""
    return [(p.start, [(kind, quantize(v)) for kind, v in p.dimensions]) for p in cost.charging_periods]
