"""Solar surplus charging (issue 16, item 4; ADR 0022): a site's PV production and own consumption, a
session's solar mode, and `balance_solar`, which shares the surplus before the load balancer's `balance`
shares the grid limit; pure functions and the store protocol, no I/O.

The surplus is production - consumption (never below 0), the consumption being the site's own load without
EV charging. `solar_only` sessions share only the surplus; `solar_first` sessions share it too and then take
part in the normal grid share; every session keeps the EV's minimum current rule (IEC 61851-1: below it a
session gets 0, i.e. is paused), and the site's grid limit caps the total.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from csms.domain.smart_charging import SessionLoad, balance

TOP_UP = "\uffff"  # key prefix of a solar_first session's grid top-up: sorts after every real key


class SolarMode(enum.StrEnum):
    """How a session uses the site's PV surplus."""

    NONE = "none"  # the normal grid share (default)
    SOLAR_ONLY = "solar_only"  # only the surplus; paused when the surplus is below the EV's minimum
    SOLAR_FIRST = "solar_first"  # the surplus first, then the normal grid share on top


@dataclass(frozen=True, slots=True)
class SiteMeasurement:
    """A site's PV production and own consumption (without EV charging) in W, measured at `measured_at`."""

    production_w: int
    consumption_w: int
    measured_at: datetime

    @property
    def surplus_w(self) -> int:
        """The power left for EVs: production - consumption, never below 0."""
        return max(0, self.production_w - self.consumption_w)


class SolarStore(Protocol):
    """Sites' latest measurements (per organization and location) and sessions' solar modes."""

    async def put_measurement(self, org_id: str, location_id: str, measurement: SiteMeasurement) -> None:
        """Insert or replace the location's latest measurement."""
        ...

    async def get_measurement(self, org_id: str, location_id: str) -> SiteMeasurement | None:
        """The location's latest measurement, or None when none was reported."""
        ...

    async def measurement_of(self, location_id: str) -> SiteMeasurement | None:
        """The location's latest measurement whatever its organization (for the balancer)."""
        ...

    async def set_solar_mode(self, transaction_pk: int, mode: SolarMode) -> None:
        """Store a session's solar mode (`none` included)."""
        ...

    async def solar_modes(self, transaction_pks: Iterable[int]) -> dict[int, SolarMode]:
        """The modes of those sessions that have one other than the default stored."""
        ...


def balance_solar(
    site_limit_w: int,
    min_current_a: Decimal,
    sessions: Iterable[SessionLoad],
    surplus_w: int,
    modes: Mapping[str, SolarMode],
    phase_limit_a: Decimal | None = None,
) -> dict[str, int]:
    """Share the PV surplus and the site's grid limit; returns key -> allowed W (0 = paused) of the
    controllable sessions, as `balance` does.

    1. The controllable sessions with a solar mode (`modes[key]`, default `none`) share
       min(`surplus_w`, `site_limit_w`) with `balance` (fair share, the EV's minimum respected: a session
       the surplus cannot give its minimum gets 0 from it).
    2. The surplus so given is counted as fixed load; the `none` sessions, the uncontrollable ones and the
       `solar_first` sessions (with their demand less their solar share) share the rest of `site_limit_w`
       with `balance`. A `solar_first` session that got a solar share needs no second minimum: its grid top-up
       is what `balance` gives it, 0 when that is below the minimum.
    3. `solar_only` sessions get their solar share; `solar_first` the sum; `none` the grid share.
    """
    loads = list(sessions)
    solar = [s for s in loads if s.controllable and modes.get(s.key, SolarMode.NONE) != SolarMode.NONE]
    if not solar:
        return balance(site_limit_w, min_current_a, loads, phase_limit_a)
    available = max(0, min(surplus_w, site_limit_w))
    from_sun = balance(available, min_current_a, solar, phase_limit_a)
    grid: list[SessionLoad] = []
    for s in loads:
        mode = modes.get(s.key, SolarMode.NONE) if s.controllable else SolarMode.NONE
        share = from_sun.get(s.key, 0)
        if share:  # already given: fixed load on the grid budget
            grid.append(SessionLoad(f"{s.key}#sun", s.phases, share, controllable=False))
        if mode == SolarMode.NONE or (mode == SolarMode.SOLAR_FIRST and not share):
            grid.append(s)
        elif mode == SolarMode.SOLAR_FIRST and s.demand_w() > share:
            # Its top-up on the grid (what it wants beyond its solar share), admitted after every normal
            # session's minimum: `balance` admits by key after the departures, and TOP_UP sorts last.
            grid.append(replace(s, key=TOP_UP + s.key, max_power_w=s.demand_w() - share,
                                allocated_w=None, measured_w=None, departure=None))  # fmt: skip
    from_grid = balance(site_limit_w, min_current_a, grid, phase_limit_a)
    for key in [k for k in from_grid if k.startswith(TOP_UP)]:
        from_grid[key.removeprefix(TOP_UP)] = from_grid.pop(key)
    allocation: dict[str, int] = {}
    for s in loads:
        if s.controllable:
            on_grid = 0 if modes.get(s.key) == SolarMode.SOLAR_ONLY else from_grid.get(s.key, 0)
            allocation[s.key] = from_sun.get(s.key, 0) + on_grid
    return allocation
