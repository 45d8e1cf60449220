"""Solar surplus balancing (`balance_solar`): a case table of surplus, modes and the site limit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csms.domain.smart_charging import SessionLoad
from csms.domain.solar import SiteMeasurement, SolarMode, balance_solar

SIX_A = Decimal(6)
ONLY, FIRST, NONE = SolarMode.SOLAR_ONLY, SolarMode.SOLAR_FIRST, SolarMode.NONE


def ev(key: str, max_w: int = 11_000, phases: int = 3, controllable: bool = True) -> SessionLoad:
    return SessionLoad(key, phases, max_w, controllable=controllable)


# (what, limit W, surplus W, sessions, modes, expected allocation)
CASES: list[tuple[str, int, int, list[SessionLoad], dict[str, SolarMode], dict[str, int]]] = [
    ("no solar session: the plain balance", 22_000, 0, [ev("a"), ev("b")], {}, {"a": 11_000, "b": 11_000}),
    ("solar_only follows the surplus", 22_000, 7_000, [ev("a")], {"a": ONLY}, {"a": 7_000}),
    ("solar_only capped at its maximum", 22_000, 15_000, [ev("a")], {"a": ONLY}, {"a": 11_000}),
    ("solar_only below the 6 A minimum (4140 W) is paused", 22_000, 4_000, [ev("a")], {"a": ONLY}, {"a": 0}),
    ("solar_only at exactly the minimum charges", 22_000, 4_140, [ev("a")], {"a": ONLY}, {"a": 4_140}),
    ("1-phase solar_only: minimum 1380 W", 22_000, 2_000, [ev("a", 7_360, 1)], {"a": ONLY}, {"a": 2_000}),
    (
        "no surplus, solar_only paused, normal gets its share",
        22_000,
        0,
        [ev("a"), ev("b")],
        {"a": ONLY},
        {"a": 0, "b": 11_000},
    ),
    (
        "two solar_only share the surplus fairly",
        22_000,
        10_000,
        [ev("a"), ev("b")],
        {"a": ONLY, "b": ONLY},
        {"a": 5_000, "b": 5_000},
    ),
    (
        "surplus for one minimum only: the first by key charges",
        22_000,
        6_000,
        [ev("a"), ev("b")],
        {"a": ONLY, "b": ONLY},
        {"a": 6_000, "b": 0},
    ),
    ("the grid limit caps the surplus", 5_000, 9_000, [ev("a")], {"a": ONLY}, {"a": 5_000}),
    (
        "solar_only takes the surplus, normal shares the rest of the limit",
        16_000,
        8_000,
        [ev("a"), ev("b")],
        {"a": ONLY},
        {"a": 8_000, "b": 8_000},
    ),
    (
        "solar_first: surplus plus grid top-up to its maximum",
        22_000,
        5_000,
        [ev("a")],
        {"a": FIRST},
        {"a": 11_000},
    ),
    (
        "solar_first with no surplus: a normal grid share",
        10_000,
        0,
        [ev("a"), ev("b")],
        {"a": FIRST},
        {"a": 5_000, "b": 5_000},
    ),
    (
        "solar_first gets the surplus before the normal grid share",
        14_000,
        6_000,
        [ev("a"), ev("b")],
        {"a": FIRST},
        {"a": 6_000, "b": 8_000},
    ),
    (
        "solar_first top-up shares the grid fairly once every minimum is met",
        22_000,
        5_000,
        [ev("a"), ev("b")],
        {"a": FIRST},
        {"a": 11_000, "b": 11_000},
    ),
    (
        "solar_first top-up and a normal session share what is left",
        18_000,
        5_000,
        [ev("a"), ev("b")],
        {"a": FIRST},
        {"a": 5_000 + 6_000, "b": 7_000},
    ),
    (
        "solar_first top-up below the minimum is not given",
        10_000,
        5_000,
        [ev("a"), ev("b")],
        {"a": FIRST},
        {"a": 5_000, "b": 5_000},
    ),
    (
        "an offline station counts at its maximum on the grid",
        15_000,
        0,
        [ev("a"), ev("x", controllable=False)],
        {"a": FIRST},
        {"a": 0},
    ),
    ("explicit none is the default", 22_000, 9_000, [ev("a")], {"a": NONE}, {"a": 11_000}),
]


@pytest.mark.parametrize(("limit", "surplus", "sessions", "modes", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_balance_solar(
    limit: int,
    surplus: int,
    sessions: list[SessionLoad],
    modes: dict[str, SolarMode],
    expected: dict[str, int],
) -> None:
    """Each case's allocation: surplus to the solar sessions (minimum respected), grid to the rest."""
    allocation = balance_solar(limit, SIX_A, sessions, surplus, modes)
    assert allocation == expected
    assert sum(allocation.values()) + sum(s.max_power_w for s in sessions if not s.controllable) <= limit


def test_surplus_is_never_negative() -> None:
    """The surplus is production less the site's own consumption, 0 when it consumes more."""
    at = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert SiteMeasurement(9_000, 2_500, at).surplus_w == 6_500
    assert SiteMeasurement(1_000, 2_500, at).surplus_w == 0
