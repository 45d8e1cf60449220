"""Site power limits, the load balancer that shares them over a site's sessions, and the composite
schedule of installed charging profiles (OCPP 1.6 §3.13, OCPP 2.0.1 K01/K08); pure functions, no I/O.

The caller (a balancing service, the simulator) gathers the site limit and the sessions' loads, calls
`balance`, then sends the changes in the order `ordered_changes` gives (lower first, so the site never
overshoots while commands are in flight).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol

from csms.domain.commands import ChargingProfile

VOLTAGE_V = 230  # nominal phase-to-neutral voltage used for W <-> A (IEC 60038)
USING_ALLOCATION = Decimal("0.9")  # an EV drawing >= 90% of its allocation may want more
DRAW_MARGIN_W = 500  # headroom above a measured draw, so an EV ramping up is not pinned down


def watts(current_a: Decimal, phases: int) -> int:
    """Power in W of `current_a` per phase on `phases` phases at 230 V."""
    return int(current_a * VOLTAGE_V * phases)


def amps(power_w: int, phases: int) -> Decimal:
    """Current per phase in A (one decimal, rounded down) of `power_w` on `phases` phases at 230 V."""
    return (Decimal(power_w) / (VOLTAGE_V * phases)).quantize(Decimal("0.1"), rounding="ROUND_DOWN")


@dataclass(frozen=True, slots=True)
class LimitPeriod:
    """From `start` (UTC time of day) until the next period's start, at most `max_power_w`."""

    start: time
    max_power_w: int


@dataclass(frozen=True, slots=True)
class SiteLimit:
    """A site's grid connection limit: total import power and/or current per phase, and a daily schedule.

    The limit in force is the lowest of `max_power_w`, `max_current_a` on `phases` phases, and the
    schedule period in force (the one with the latest start at or before the time of day; before the
    first start, the last period of the previous day).
    """

    max_power_w: int | None = None
    max_current_a: Decimal | None = None
    phases: int = 3
    min_current_a: Decimal = Decimal(6)  # IEC 61851-1: the lowest PWM current an EV accepts
    schedule: tuple[LimitPeriod, ...] = ()

    def limit_w_at(self, now: datetime) -> int | None:
        """The site's power limit in W at `now`, or None when no limit is set."""
        candidates: list[int] = []
        if self.max_power_w is not None:
            candidates.append(self.max_power_w)
        if self.max_current_a is not None:
            candidates.append(watts(self.max_current_a, self.phases))
        if self.schedule:
            ordered = sorted(self.schedule, key=lambda p: p.start)
            moment = now.astimezone(UTC).time()
            current = [p for p in ordered if p.start <= moment]
            candidates.append((current[-1] if current else ordered[-1]).max_power_w)
        return min(candidates) if candidates else None

    def phase_current_a_at(self, now: datetime) -> Decimal | None:
        """The current per phase in A at `now` (the power limit spread over `phases`), or None."""
        limit = self.limit_w_at(now)
        if limit is None:
            return None
        per_phase = Decimal(limit) / (VOLTAGE_V * self.phases)
        return per_phase if self.max_current_a is None else min(per_phase, self.max_current_a)


@dataclass(frozen=True, slots=True)
class SessionLoad:
    """One active session at a site, as the balancer sees it.

    key: the caller's reference (e.g. "CP-1/2" or a session id). phases: 1 or 3. max_power_w: what the
    EV and EVSE can draw. allocated_w / measured_w: the last allocation sent and the last power the
    station reported (None: not known yet). departure: the driver's departure time, which gives priority.
    controllable: False for a station that is offline or rejected the last profile; it is counted at
    its maximum and is not allocated.
    """

    key: str
    phases: int
    max_power_w: int
    allocated_w: int | None = None
    measured_w: int | None = None
    departure: datetime | None = None
    controllable: bool = True

    def demand_w(self) -> int:
        """What the session would draw if given all it asks: its maximum, unless it draws clearly less
        than its allocation (then the measured draw plus a margin; the rest goes to others)."""
        if self.measured_w is None or self.allocated_w is None:
            return self.max_power_w
        if self.measured_w >= self.allocated_w * USING_ALLOCATION:
            return self.max_power_w
        return min(self.max_power_w, self.measured_w + DRAW_MARGIN_W)


@dataclass(slots=True)
class _Budget:
    power_w: Decimal
    phase_a: Decimal | None  # on the most loaded phase (1-phase sessions assumed on L1)
    used_w: Decimal = Decimal(0)
    used_a: Decimal = Decimal(0)
    loads: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (W, phases)

    def fits(self, extra: Mapping[str, tuple[int, int]]) -> bool:
        merged = {**self.loads, **extra}
        power = sum(Decimal(w) for w, _ in merged.values())
        current = sum(Decimal(w) / (VOLTAGE_V * ph) for w, ph in merged.values())
        if power > self.power_w:
            return False
        return self.phase_a is None or current <= self.phase_a


def _fill(budget: _Budget, group: list[SessionLoad], floors: Mapping[str, int]) -> None:
    """Raise `group` to the highest common level (each between its floor and its demand) that fits."""
    if not group:
        return
    lo, hi = 0, max(s.demand_w() for s in group)

    def at(level: int) -> dict[str, tuple[int, int]]:
        return {s.key: (max(floors[s.key], min(level, s.demand_w())), s.phases) for s in group}

    while lo < hi:  # the largest level that fits (monotone in level)
        mid = (lo + hi + 1) // 2
        if budget.fits(at(mid)):
            lo = mid
        else:
            hi = mid - 1
    budget.loads.update(at(lo))


def balance(
    site_limit_w: int,
    min_current_a: Decimal,
    sessions: Iterable[SessionLoad],
    phase_limit_a: Decimal | None = None,
) -> dict[str, int]:
    """Share `site_limit_w` over the controllable `sessions`; returns key -> allowed W (0 = paused).

    Stations that are not controllable are counted at their maximum first. Then sessions are admitted
    at their minimum (`min_current_a` on their phases) in priority order (departure time first, earliest
    first; then by key) while that fits; a session that cannot get its minimum gets 0, never less than
    the minimum. The rest is filled fairly (one common power level, capped at each session's demand),
    sessions with a departure time first. `phase_limit_a` additionally bounds the current per phase,
    with 1-phase sessions counted on the same phase (the phase rotation is not known).
    """
    all_sessions = list(sessions)
    budget = _Budget(Decimal(site_limit_w), phase_limit_a)
    for s in all_sessions:
        if not s.controllable:
            budget.loads[s.key] = (s.max_power_w, s.phases)
    fixed = set(budget.loads)
    controllable = [s for s in all_sessions if s.controllable]
    far = datetime.max.replace(tzinfo=UTC)
    controllable.sort(key=lambda s: (s.departure is None, s.departure or far, s.key))
    floors: dict[str, int] = {}
    for s in controllable:
        floor = min(watts(min_current_a, s.phases), s.max_power_w)
        if budget.fits({s.key: (floor, s.phases)}):
            budget.loads[s.key] = (floor, s.phases)
            floors[s.key] = floor
    admitted = [s for s in controllable if s.key in floors]
    _fill(budget, [s for s in admitted if s.departure is not None], floors)
    for s in admitted:
        if s.departure is not None:
            floors[s.key] = budget.loads[s.key][0]
    _fill(budget, [s for s in admitted if s.departure is None], floors)
    return {
        s.key: (budget.loads[s.key][0] if s.key in floors else 0) for s in controllable if s.key not in fixed
    }


def ordered_changes(
    previous: Mapping[str, int | None], allocation: Mapping[str, int]
) -> list[tuple[str, int]]:
    """The allocations that changed, decreases first (largest first), then increases: sent in this order
    (each awaited) the site never draws more than the old or the new total."""
    changed = [(k, w) for k, w in allocation.items() if previous.get(k) != w]
    down = sorted(
        (c for c in changed if (previous.get(c[0]) or 10**9) > c[1]),
        key=lambda c: (previous.get(c[0]) or 10**9) - c[1],
        reverse=True,
    )
    up = [c for c in changed if c not in down]
    return down + up


def site_limit_for(site: SiteLimit, sessions: Iterable[SessionLoad], key: str, at: datetime) -> int:
    """The power in W session `key` may draw at `at` at its site, given the other sessions there: the
    planner's bound for a schedule interval (0 when it cannot get its minimum then).

    Raises:
        KeyError: `key` is not among the controllable `sessions`.
    """
    loads = list(sessions)
    limit = site.limit_w_at(at)
    if limit is None:
        return next(s.max_power_w for s in loads if s.key == key)
    return balance(limit, site.min_current_a, loads, site.max_current_a)[key]


# ---- composite schedule (OCPP 1.6 §3.13.2/§3.13.3, OCPP 2.0.1 K08) ----

MAX_PURPOSES = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})


def _schedule_start(profile: ChargingProfile, now: datetime, tx_start: datetime | None) -> datetime | None:
    if profile.kind == "Relative":
        return tx_start if tx_start is not None else now
    start = profile.start_schedule or profile.valid_from
    if profile.kind == "Recurring":
        if start is None:
            return None
        step = timedelta(weeks=1) if profile.recurrency_kind == "Weekly" else timedelta(days=1)
        if start > now:
            return start
        return start + step * ((now - start) // step)
    return start if start is not None else tx_start


def profile_limit_w(
    profile: ChargingProfile, now: datetime, tx_start: datetime | None, phases: int
) -> int | None:
    """The limit in W that `profile` sets at `now` (A limits at 230 V on the period's `number_phases`,
    else `phases`), or None when it is not valid, not started, or past its duration."""
    if profile.valid_from is not None and now < profile.valid_from:
        return None
    if profile.valid_to is not None and now >= profile.valid_to:
        return None
    start = _schedule_start(profile, now, tx_start)
    if start is None or now < start:
        return None
    elapsed = int((now - start).total_seconds())
    if profile.duration is not None and elapsed >= profile.duration:
        return None
    current = [p for p in sorted(profile.periods, key=lambda p: p.start_period) if p.start_period <= elapsed]
    if not current:
        return None
    period = current[-1]
    if profile.rate_unit == "W":
        return int(period.limit)
    return watts(period.limit, period.number_phases or phases)


def composite_limit_w(
    profiles: Iterable[ChargingProfile],
    now: datetime,
    tx_start: datetime | None,
    phases: int,
    in_transaction: bool,
) -> int | None:
    """The lowest applicable limit of `profiles` (those installed on the connector and on connector 0)
    at `now`, or None when none applies.

    Within a purpose the highest stack level in force wins; a TxProfile (only during a transaction)
    overrides TxDefaultProfile; the result is capped by the station max profile (1.6 §3.13.2, K08).
    """
    best: dict[str, tuple[int, int]] = {}  # purpose -> (stack level, limit)
    for profile in profiles:
        if profile.purpose == "TxProfile" and not in_transaction:
            continue
        limit = profile_limit_w(profile, now, tx_start, phases)
        if limit is None:
            continue
        purpose = "Max" if profile.purpose in MAX_PURPOSES else profile.purpose
        held = best.get(purpose)
        if held is None or profile.stack_level > held[0]:
            best[purpose] = (profile.stack_level, limit)
    tx = best.get("TxProfile") or best.get("TxDefaultProfile")
    limits = [v[1] for v in (tx, best.get("Max"), best.get("ChargingStationExternalConstraints")) if v]
    return min(limits) if limits else None


def _breakpoints(profile: ChargingProfile, now: datetime, tx_start: datetime | None) -> list[datetime]:
    """The moments at which `profile` may change its limit (period starts, end, validity bounds)."""
    points = [t for t in (profile.valid_from, profile.valid_to) if t is not None]
    start = _schedule_start(profile, now, tx_start)
    if start is None:
        return points
    starts = [start]
    if profile.kind == "Recurring":
        starts.append(
            start + (timedelta(weeks=1) if profile.recurrency_kind == "Weekly" else timedelta(days=1))
        )
    for begin in starts:
        points += [begin + timedelta(seconds=p.start_period) for p in profile.periods]
        if profile.duration is not None:
            points.append(begin + timedelta(seconds=profile.duration))
    return points


def composite_schedule(
    profiles: list[ChargingProfile],
    now: datetime,
    duration: int,
    tx_start: datetime | None,
    phases: int,
    in_transaction: bool,
    cap_w: int,
) -> list[tuple[int, int]]:
    """The composite schedule from `now` for `duration` s as (start offset s, limit W) periods: the
    `composite_limit_w` at each moment any profile may change, capped at `cap_w` (the station's own
    maximum), equal neighbours merged (OCPP 1.6 §5.7 GetCompositeSchedule, OCPP 2.0.1 K08)."""
    end = now + timedelta(seconds=duration)
    moments = {now} | {t for p in profiles for t in _breakpoints(p, now, tx_start) if now < t < end}
    periods: list[tuple[int, int]] = []
    for moment in sorted(moments):
        limit = composite_limit_w(profiles, moment, tx_start, phases, in_transaction)
        value = cap_w if limit is None else min(limit, cap_w)
        if not periods or periods[-1][1] != value:
            periods.append((int((moment - now).total_seconds()), value))
    return periods


class SiteLimitStore(Protocol):
    """Site limits per organization and location (a location is the OCPI bridge's record; the store keeps
    only its id)."""

    async def get_site_limit(self, org_id: str, location_id: str) -> SiteLimit | None:
        """The location's limit, or None when none is set."""
        ...

    async def put_site_limit(self, org_id: str, location_id: str, limit: SiteLimit) -> None:
        """Insert or replace the location's limit."""
        ...

    async def site_limit_of(self, location_id: str) -> SiteLimit | None:
        """The location's limit whatever its organization (location ids are unique across them; for the
        balancer, which learns the location from a charge point)."""
        ...


def schedule_json(schedule: Iterable[LimitPeriod]) -> list[dict[str, object]]:
    """The schedule as stored and shown: [{"start": "HH:MM", "max_power_w": W}], by start."""
    return [{"start": p.start.strftime("%H:%M"), "max_power_w": p.max_power_w}
            for p in sorted(schedule, key=lambda p: p.start)]  # fmt: skip


def schedule_from_json(items: Iterable[Mapping[str, object]]) -> tuple[LimitPeriod, ...]:
    """`schedule_json`'s form back to periods.

    Raises:
        ValueError: a `start` that is not HH:MM, or a max_power_w that is not an integer.
    """
    periods = []
    for item in items:
        start = datetime.strptime(str(item["start"]), "%H:%M").time()
        power = item["max_power_w"]
        if not isinstance(power, int) or isinstance(power, bool):
            raise ValueError("max_power_w must be an integer")
        periods.append(LimitPeriod(start, power))
    return tuple(sorted(periods, key=lambda p: p.start))
