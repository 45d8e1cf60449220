"""The session's energy curve: cumulative energy (Wh) over seconds since the start; and its current.

The energy curve decides which piece of a session got which energy (OCPI 2.2.1 d2: energy restrictions and
power are read from the measured curve), and where the cumulative energy crosses a min/max kWh boundary.
The current (`CurrentProfile`) is what min/max_current restrictions are read against.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from csms.domain.clock import to_utc

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """The energy delivered since the session started (Wh), as measured at `at`."""

    at: datetime
    wh: Decimal


def seconds_of(delta: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds."""
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def delta_of(seconds: Decimal) -> timedelta:
    """Decimal seconds as a timedelta (to the microsecond)."""
    return timedelta(microseconds=int((seconds * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP)))


class EnergyProfile:
    """Cumulative energy (Wh) over seconds since the start: piecewise linear through the readings, flat
    once charging ended.

    `points` are (seconds, Wh) in time order with non-decreasing energy (`energy_profile` makes them so);
    both lookups bisect them, so pricing a session with n readings and power restrictions (a cut at every
    reading) costs O(n log n), not O(n²).
    """

    __slots__ = ("points", "_times", "_energies")

    def __init__(self, points: list[tuple[Decimal, Decimal]]) -> None:
        self.points = points
        self._times = [t for t, _ in points]
        self._energies = [e for _, e in points]

    def energy_at(self, t: Decimal) -> Decimal:
        """The cumulative energy at `t`: interpolated on the first segment that ends at or after `t`."""
        times, energies = self._times, self._energies
        if t <= times[0]:
            return energies[0]
        i = bisect_left(times, t)  # times[i - 1] < t <= times[i]
        if i >= len(times):
            return energies[-1]
        t0, t1, e0, e1 = times[i - 1], times[i], energies[i - 1], energies[i]
        if t1 == t0:
            return e1
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0)

    def time_at(self, wh: Decimal) -> Decimal | None:
        """The first instant the cumulative energy reaches `wh`, or None if it never does (or does from
        the start: no boundary inside the session)."""
        times, energies = self._times, self._energies
        if wh <= energies[0]:
            return None
        i = bisect_left(energies, wh)  # energies[i - 1] < wh <= energies[i]
        if i >= len(energies):
            return None
        t0, t1, e0, e1 = times[i - 1], times[i], energies[i - 1], energies[i]
        return t0 + (wh - e0) * (t1 - t0) / (e1 - e0)


def energy_profile(
    readings: Sequence[EnergyReading], start: datetime, charge_seconds: Decimal, energy_wh: Decimal
) -> EnergyProfile:
    """The curve through `readings` taken while charging, ending at `energy_wh` when charging ends
    (without readings: a straight line). A register never runs backwards nor past the total."""
    points = [(ZERO, ZERO)]
    level = ZERO
    for reading in sorted(readings, key=lambda r: r.at):
        t = seconds_of(to_utc(reading.at) - start)
        if t <= 0 or t >= charge_seconds:
            continue
        level = min(max(level, reading.wh), energy_wh)
        points.append((t, level))
    points.append((charge_seconds, energy_wh))
    return EnergyProfile(points)


@dataclass(frozen=True, slots=True)
class CurrentReading:
    """The charging current measured at `at`: amperes summed over the phases (OCPI 2.2.1 min/max_current
    are "the sum of the current over all phases")."""

    at: datetime
    amps: Decimal


class CurrentProfile:
    """The charging current over seconds since the start, each measurement held until the next (a step
    function: the current is instantaneous, and between two samples the last one is all we know).

    Before the first measurement the current is unknown (`at` returns None).
    """

    __slots__ = ("points", "_times")

    def __init__(self, points: list[tuple[Decimal, Decimal]]) -> None:
        self.points = points  # (seconds, amps), in time order, one per instant
        self._times = [t for t, _ in points]

    def at(self, t: Decimal) -> Decimal | None:
        """The current at `t`: the last measurement at or before it, None before the first."""
        i = bisect_right(self._times, t)
        return self.points[i - 1][1] if i > 0 else None


def current_profile(
    readings: Sequence[CurrentReading], start: datetime, charge_seconds: Decimal
) -> CurrentProfile:
    """The step function through the current `readings` taken while charging (before the start: held from
    the start; at or after the end of charging: dropped); of several at one instant the last given wins."""
    by_time: dict[Decimal, Decimal] = {}
    for reading in readings:
        t = max(seconds_of(to_utc(reading.at) - start), ZERO)
        if t >= charge_seconds:
            continue
        by_time[t] = max(reading.amps, ZERO)
    return CurrentProfile(sorted(by_time.items()))
