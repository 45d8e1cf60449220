"""The site limit, the balancer and the composite schedule (pure domain)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from csms.domain.commands import ChargingProfile, ChargingSchedulePeriod
from csms.domain.smart_charging import (
    LimitPeriod,
    SessionLoad,
    SiteLimit,
    amps,
    balance,
    composite_limit_w,
    ordered_changes,
    site_limit_for,
    watts,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SIX = Decimal(6)


def s3(key: str, max_w: int = 11000, **kw: object) -> SessionLoad:
    return SessionLoad(key=key, phases=3, max_power_w=max_w, **kw)  # type: ignore[arg-type]


def s1(key: str, max_w: int = 7360, **kw: object) -> SessionLoad:
    return SessionLoad(key=key, phases=1, max_power_w=max_w, **kw)  # type: ignore[arg-type]


SOON = NOW + timedelta(hours=1)
LATER = NOW + timedelta(hours=3)

CASES = [
    # (name, limit W, sessions, phase limit A, expected allocation)
    ("one session under the limit gets its maximum", 22000, [s3("a")], None, {"a": 11000}),
    ("two share fairly", 22000, [s3("a"), s3("b")], None, {"a": 11000, "b": 11000}),
    ("five share 22 kW", 22000, [s3(k) for k in "abcde"], None, {k: 4400 for k in "abcde"}),
    (
        "a session that cannot get its minimum is paused, not given less",
        10000,
        [s3("a"), s3("b"), s3("c"), s3("d")],
        None,
        {"a": 5000, "b": 5000, "c": 0, "d": 0},
    ),
    (
        "an EV drawing less than its allocation frees the rest",
        22000,
        [s3("a", allocated_w=7333, measured_w=4000), s3("b"), s3("c")],
        None,
        {"a": 4500, "b": 8750, "c": 8750},
    ),
    (
        "an EV using its allocation may get more",
        22000,
        [s3("a", allocated_w=7000, measured_w=6900), s3("b", max_w=4000)],
        None,
        {"a": 11000, "b": 4000},
    ),
    (
        "an offline station is counted at its maximum",
        22000,
        [s3("a", controllable=False), s3("b"), s3("c")],
        None,
        {"b": 5500, "c": 5500},
    ),
    (
        "departure first: those with a departure share before the others, who keep their minimum",
        20000,
        [s3("a"), s3("b", departure=LATER), s3("c", departure=SOON)],
        None,
        {"a": 4140, "b": 7930, "c": 7930},
    ),
    (
        "the minimum goes to departures first when not all fit",
        8000,
        [s3("a"), s3("b", departure=SOON)],
        None,
        {"a": 0, "b": 8000},
    ),
    (
        "1-phase and 3-phase mixed: power shared, each capped at its maximum",
        22000,
        [s3("a"), s1("b", max_w=3680)],
        None,
        {"a": 11000, "b": 3680},
    ),
    (
        "a per-phase current limit counts 1-phase sessions on one phase (fair power level)",
        100000,
        [s3("a"), s1("b")],
        Decimal(32),
        {"a": 5520, "b": 5520},
    ),
]


@pytest.mark.parametrize(
    ("name", "limit", "sessions", "phase_a", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_balance_case_table(
    name: str, limit: int, sessions: list[SessionLoad], phase_a: Decimal | None, expected: dict[str, int]
) -> None:
    """Each case of the table allocates as stated, within the limit and never below the minimum."""
    got = balance(limit, SIX, sessions, phase_a)
    assert got == expected
    fixed = sum(s.max_power_w for s in sessions if not s.controllable)
    assert sum(got.values()) + fixed <= limit
    if phase_a is not None:  # L1 carries every 1-phase session (5520/690 + 5520/230 = 32 A)
        assert sum(Decimal(got[s.key]) / (230 * s.phases) for s in sessions) <= phase_a
    for s in sessions:
        if s.key in got and got[s.key]:
            assert got[s.key] >= min(watts(SIX, s.phases), s.max_power_w)


def test_ordered_changes_lowers_before_raising() -> None:
    """Decreases (and new sessions, assumed at full power) go first, so the site never overshoots."""
    previous = {"a": 11000, "b": 4000, "c": 7000}
    new = {"a": 5000, "b": 9000, "c": 7000, "d": 4000}
    assert ordered_changes(previous, new) == [("d", 4000), ("a", 5000), ("b", 9000)]


def test_site_limit_schedule_and_current() -> None:
    """The limit in force is the lowest of power, current per phase and the daily schedule period."""
    site = SiteLimit(
        max_power_w=30000,
        max_current_a=Decimal(40),
        schedule=(LimitPeriod(time(7, 0), 22000), LimitPeriod(time(18, 0), 11000)),
    )
    assert site.limit_w_at(NOW) == 22000
    assert site.limit_w_at(NOW.replace(hour=19)) == 11000
    assert site.limit_w_at(NOW.replace(hour=3)) == 11000  # before 07:00: yesterday's last period
    assert SiteLimit(max_current_a=Decimal(32)).limit_w_at(NOW) == 22080
    assert SiteLimit().limit_w_at(NOW) is None
    assert site.phase_current_a_at(NOW) == Decimal(22000) / 690
    assert amps(11000, 3) == Decimal("15.9")


def test_site_limit_for_gives_the_planner_its_share() -> None:
    """site_limit_for answers the share a session gets at a moment, the schedule of the site applied."""
    site = SiteLimit(
        max_power_w=22000, schedule=(LimitPeriod(time(0, 0), 22000), LimitPeriod(time(18, 0), 8280))
    )
    loads = [s3("a"), s3("b")]
    assert site_limit_for(site, loads, "a", NOW) == 11000
    assert site_limit_for(site, loads, "a", NOW.replace(hour=20)) == 4140
    assert site_limit_for(SiteLimit(), loads, "a", NOW) == 11000


def profile(pid: int, level: int, purpose: str, limit: str, unit: str = "W", **kw: object) -> ChargingProfile:
    return ChargingProfile(
        id=pid,
        stack_level=level,
        purpose=purpose,
        kind=str(kw.pop("kind", "Absolute")),
        rate_unit=unit,
        periods=[ChargingSchedulePeriod(0, Decimal(limit))],
        **kw,  # type: ignore[arg-type]
    )


def test_composite_schedule_precedence() -> None:
    """TxProfile beats TxDefaultProfile, the highest stack level wins, the max profile caps, A uses phases."""
    start = NOW - timedelta(minutes=5)
    default = profile(1, 0, "TxDefaultProfile", "16", unit="A", start_schedule=start)
    tx_low = profile(2, 0, "TxProfile", "9000", kind="Relative")
    tx_high = profile(3, 1, "TxProfile", "5000", kind="Relative")
    cap = profile(4, 0, "ChargePointMaxProfile", "4000", start_schedule=start)
    assert composite_limit_w([default], NOW, start, 3, True) == 11040
    assert composite_limit_w([default], NOW, start, 1, True) == 3680
    assert composite_limit_w([default, tx_low], NOW, start, 3, True) == 9000
    assert composite_limit_w([default, tx_low, tx_high], NOW, start, 3, True) == 5000
    assert composite_limit_w([default, tx_low], NOW, start, 3, False) == 11040
    assert composite_limit_w([default, tx_low, cap], NOW, start, 3, True) == 4000
    assert composite_limit_w([], NOW, start, 3, True) is None


def test_composite_schedule_validity_and_periods() -> None:
    """A profile applies only within validFrom/validTo and its duration, period by period."""
    start = NOW - timedelta(seconds=100)
    stepped = ChargingProfile(
        id=1,
        stack_level=0,
        purpose="TxDefaultProfile",
        kind="Absolute",
        rate_unit="W",
        periods=[ChargingSchedulePeriod(0, Decimal(1000)), ChargingSchedulePeriod(60, Decimal(2000))],
        start_schedule=start,
        duration=200,
    )
    assert composite_limit_w([stepped], NOW, None, 3, False) == 2000
    assert composite_limit_w([stepped], start + timedelta(seconds=30), None, 3, False) == 1000
    assert composite_limit_w([stepped], NOW + timedelta(seconds=100), None, 3, False) is None
    expired = profile(2, 0, "TxDefaultProfile", "500", start_schedule=start, valid_to=NOW)
    assert composite_limit_w([expired], NOW, None, 3, False) is None
    daily = profile(
        3,
        0,
        "TxDefaultProfile",
        "700",
        kind="Recurring",
        recurrency_kind="Daily",
        start_schedule=NOW - timedelta(days=3, seconds=10),
        duration=60,
    )
    assert composite_limit_w([daily], NOW, None, 3, False) == 700
    assert composite_limit_w([daily], NOW + timedelta(minutes=5), None, 3, False) is None
