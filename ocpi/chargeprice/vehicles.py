"""The vehicle catalogue and what a vehicle charges at a charge point (energy, duration, energy curve).

The catalogue ships as `vehicles.json` next to this module (its `source` names where the figures come from);
operators add or override vehicles with their own file of the same shape, named by `[ocpi]
chargeprice_vehicles_file` (a vehicle with an id already present replaces it). Numbers are read as Decimal
(JSON strings or numbers alike), never as floats.

A charge window (`battery_range` [start %, end %]) becomes a `ChargePlan`:

- AC (type2, type3, type1, schuko): constant power, the least of the point's power, the vehicle's AC limit and
  what its phases draw: a single-phase charge takes one phase of a three-phase point (a third of its power;
  type1 and schuko points are single-phase already) and is limited to 4.5 kW unless `allow_unbalanced_load`.
- DC (ccs, chademo, tesla_ccs, tesla_suc): the vehicle's DC curve (power over state of charge, linear between
  its points) capped by the point's and the vehicle's DC power, integrated over the window in 1 % steps; the
  plan carries the cumulative energy at each step, so power restrictions of a tariff see the curve.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

CATALOGUE = Path(__file__).with_name("vehicles.json")
AC_PLUGS = frozenset({"type2", "type3", "type1", "schuko"})
DC_PLUGS = frozenset({"ccs", "chademo", "tesla_ccs", "tesla_suc"})
PLUGS = AC_PLUGS | DC_PLUGS
SINGLE_PHASE_PLUGS = frozenset({"type1", "schuko"})
UNBALANCED_LIMIT_KW = Decimal("4.5")  # Chargeprice: single-phase AC without allow_unbalanced_load
SOC_STEP = Decimal(1)  # % of the battery per integration step of a DC curve
ZERO = Decimal(0)


class CatalogueError(ValueError):
    """A vehicle file that cannot be read as a catalogue (the message names the vehicle or field)."""


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One car: usable battery (kWh), AC phases (1|3), AC and DC limits (kW), DC curve [(soc %, kW)]."""

    id: str
    brand: str
    name: str
    usable_battery_kwh: Decimal
    ac_phases: int
    max_ac_kw: Decimal
    max_dc_kw: Decimal
    dc_curve: tuple[tuple[Decimal, Decimal], ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON:API `car` resource `GET /v1/vehicles` lists (numbers as JSON numbers)."""
        return {
            "id": self.id,
            "type": "car",
            "attributes": {
                "brand": self.brand,
                "name": self.name,
                "usable_battery_kwh": float(self.usable_battery_kwh),
                "ac_phases": self.ac_phases,
                "max_ac_kw": float(self.max_ac_kw),
                "max_dc_kw": float(self.max_dc_kw),
                "dc_charging_curve": [[float(soc), float(kw)] for soc, kw in self.dc_curve],
            },
        }

    def dc_power(self, soc: Decimal) -> Decimal:
        """The curve's power at `soc` % (linear between points, flat beyond the ends), capped at max_dc_kw."""
        curve = self.dc_curve
        if not curve:
            return self.max_dc_kw
        power = curve[-1][1] if soc >= curve[-1][0] else curve[0][1]
        for (s0, p0), (s1, p1) in zip(curve, curve[1:], strict=False):
            if s0 <= soc < s1:
                power = p0 + (p1 - p0) * (soc - s0) / (s1 - s0)
                break
        return min(power, self.max_dc_kw)


@dataclass(frozen=True, slots=True)
class ChargePlan:
    """What a charge delivers: energy (Wh), duration, and the cumulative Wh at instants after the start."""

    energy_wh: int
    duration: timedelta
    readings: tuple[tuple[timedelta, int], ...] = ()


def _vehicle(raw: Mapping[str, Any]) -> Vehicle:
    try:
        curve = tuple(sorted((Decimal(str(soc)), Decimal(str(kw))) for soc, kw in raw.get("dc_curve", ())))
        vehicle = Vehicle(
            id=str(raw["id"]),
            brand=str(raw.get("brand", "")),
            name=str(raw["name"]),
            usable_battery_kwh=Decimal(str(raw["usable_battery_kwh"])),
            ac_phases=int(raw.get("ac_phases", 3)),
            max_ac_kw=Decimal(str(raw["max_ac_kw"])),
            max_dc_kw=Decimal(str(raw.get("max_dc_kw", 0))),
            dc_curve=curve,
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise CatalogueError(f"vehicle {raw.get('id')!r}: {exc!r}") from None
    if vehicle.ac_phases not in (1, 3) or vehicle.usable_battery_kwh <= 0:
        raise CatalogueError(f"vehicle {vehicle.id!r}: ac_phases must be 1 or 3, the battery positive")
    return vehicle


def read_catalogue(path: Path) -> list[Vehicle]:
    """The vehicles of one catalogue file (`{"source": ..., "vehicles": [...]}`).

    Raises:
        CatalogueError: the file is not such a catalogue; OSError: it cannot be read.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("vehicles"), list):
        raise CatalogueError(f"{path}: expected an object with a 'vehicles' list")
    return [_vehicle(raw) for raw in data["vehicles"]]


def load_vehicles(extra_file: str = "") -> dict[str, Vehicle]:
    """The shipped catalogue, then the operator's `extra_file` (if any) adding or replacing vehicles by id;
    in file order. Raises as `read_catalogue` (a bad operator file stops the start, it is not ignored)."""
    vehicles = {v.id: v for v in read_catalogue(CATALOGUE)}
    if extra_file:
        vehicles.update((v.id, v) for v in read_catalogue(Path(extra_file)))
    return vehicles


def ac_power(vehicle: Vehicle, plug: str, point_kw: Decimal, phases: int, allow_unbalanced: bool) -> Decimal:
    """The constant AC power (kW) `vehicle` draws at a `point_kw` point, using at most `phases` phases."""
    single = min(phases, vehicle.ac_phases) == 1 or plug in SINGLE_PHASE_PLUGS
    power = min(point_kw, vehicle.max_ac_kw)
    if single:
        if plug not in SINGLE_PHASE_PLUGS:
            power = min(power, point_kw / 3)  # one phase of a three-phase point
        if not allow_unbalanced:
            power = min(power, UNBALANCED_LIMIT_KW)
    return power


def _seconds(hours: Decimal) -> int:
    return int((hours * 3600).to_integral_value(rounding=ROUND_HALF_UP))


def ac_plan(vehicle: Vehicle, soc_window: Sequence[Decimal], power_kw: Decimal) -> ChargePlan | None:
    """The window charged at constant `power_kw`; None when the power is 0 (the vehicle cannot charge)."""
    kwh = vehicle.usable_battery_kwh * (soc_window[1] - soc_window[0]) / 100
    if power_kw <= 0:
        return None
    return ChargePlan(_wh(kwh), timedelta(seconds=_seconds(kwh / power_kw)))


def dc_plan(vehicle: Vehicle, soc_window: Sequence[Decimal], point_kw: Decimal) -> ChargePlan | None:
    """The window charged along the DC curve capped at `point_kw`; None when the power is 0 somewhere."""
    soc, end = soc_window[0], soc_window[1]
    hours, kwh = ZERO, ZERO
    readings: list[tuple[timedelta, int]] = []
    while soc < end:
        step = min(SOC_STEP, end - soc)
        power = min(vehicle.dc_power(soc + step / 2), point_kw)  # midpoint rule per step
        if power <= 0:
            return None
        step_kwh = vehicle.usable_battery_kwh * step / 100
        hours += step_kwh / power
        kwh += step_kwh
        soc += step
        readings.append((timedelta(seconds=_seconds(hours)), _wh(kwh)))
    duration = timedelta(seconds=_seconds(hours))
    return ChargePlan(_wh(kwh), duration, tuple(r for r in readings if r[0] < duration))


def _wh(kwh: Decimal) -> int:
    return int((kwh * 1000).to_integral_value(rounding=ROUND_HALF_UP))


def vehicle_plan(
    vehicle: Vehicle,
    soc_window: Sequence[Decimal],
    plug: str,
    point_kw: Decimal,
    *,
    phases: int = 3,
    allow_unbalanced: bool = False,
) -> ChargePlan | None:
    """What `vehicle` charges over `soc_window` [start %, end %] at a `plug` point of `point_kw` kW (see the
    module docstring); None when it cannot charge there (no power)."""
    if plug in DC_PLUGS:
        return dc_plan(vehicle, soc_window, min(point_kw, vehicle.max_dc_kw))
    return ac_plan(vehicle, soc_window, ac_power(vehicle, plug, point_kw, phases, allow_unbalanced))
