"""Whether an element's TariffRestrictions hold, and where in a session they may change their verdict.

Times and dates are read in the location's time zone, a start_time after its end_time wraps past midnight
(OCPI 2.2.1 TariffRestrictions); kWh, duration, power and current bounds are min inclusive, max exclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csms.domain.pricing.tariff import PricingTariff, Restrictions

WH_PER_KWH = Decimal(1000)


@dataclass(frozen=True, slots=True)
class Instant:
    """What restrictions are checked against at one instant of a session (a piece's midpoint: pieces never
    straddle a boundary)."""

    local: datetime  # in the location's time zone
    seconds: Decimal  # since the session start
    energy_wh: Decimal  # cumulative
    power_kw: Decimal | None  # the piece's average power; None while parking
    reservations: frozenset[str] = frozenset()  # while reserved: RESERVATION (and RESERVATION_EXPIRES)
    current_a: Decimal | None = None  # the measured current (sum of phases); None: parking or unknown


def holds(r: Restrictions, at: Instant) -> bool:
    """Whether all restrictions of `r` hold at `at`.

    min/max_current (min inclusive, max exclusive, amperes summed over the phases) is read from the
    measured current; where none is known (no Current.Import sample yet, or parking) it is treated as
    satisfied (an element is not excluded for a value we cannot see). Reservation elements price
    reservation time only, the others never do (OCPI 2.2.1 TariffRestrictions.reservation); an expired
    reservation matches both RESERVATION and RESERVATION_EXPIRES elements, the first in list order winning
    as for any dimension.
    """
    if r.reservation is None:
        if at.reservations:
            return False
    elif r.reservation not in at.reservations:
        return False
    return (
        _time_of_day_holds(r, at.local.time())
        and _calendar_holds(r, at.local.date())
        and _volumes_hold(r, at)
        and _power_holds(r, at.power_kw)
        and (at.current_a is None or _within(at.current_a, r.min_current, r.max_current))
    )


def _time_of_day_holds(r: Restrictions, clock: time) -> bool:
    start, end = r.start_time, r.end_time
    if start is not None and end is not None:
        if start == end:
            return True  # a whole day (the spec does not define equal times; nothing is excluded)
        if end < start:  # wraps past midnight (OCPI 2.2.1 TariffRestrictions)
            return clock >= start or clock < end
        return start <= clock < end
    if start is not None:
        return clock >= start
    return end is None or clock < end


def _calendar_holds(r: Restrictions, day: date) -> bool:
    if r.start_date is not None and day < r.start_date:
        return False
    if r.end_date is not None and day >= r.end_date:
        return False
    return not r.day_of_week or day.weekday() in r.day_of_week


def _within(value: Decimal, low: Decimal | int | None, high: Decimal | int | None) -> bool:
    """low <= value < high, each bound optional."""
    return (low is None or value >= low) and (high is None or value < high)


def _volumes_hold(r: Restrictions, at: Instant) -> bool:
    kwh = at.energy_wh / WH_PER_KWH
    return _within(kwh, r.min_kwh, r.max_kwh) and _within(at.seconds, r.min_duration, r.max_duration)


def _power_holds(r: Restrictions, power_kw: Decimal | None) -> bool:
    return power_kw is None or _within(power_kw, r.min_power, r.max_power)


def resolve_zone(time_zone: str | tzinfo | None) -> tzinfo:
    """A tzinfo for an IANA name (or a tzinfo as given); None or an unknown name raise ValueError."""
    if isinstance(time_zone, tzinfo):
        return time_zone
    if not time_zone:
        raise ValueError("no time zone given")
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r}") from None


def local_cuts(tariff: PricingTariff, start: datetime, end: datetime, zone: tzinfo) -> Iterable[datetime]:
    """Local midnights and restriction times between start and end, as UTC instants (none when no element
    depends on the local clock or calendar)."""
    times = {time(0, 0)}
    uses_local = False
    for element in tariff.elements:
        r = element.restrictions
        uses_local = uses_local or r.uses_local_time
        times.update(t for t in (r.start_time, r.end_time) if t is not None)
    if not uses_local:
        return
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        for t in times:
            yield datetime.combine(day, t, tzinfo=zone).astimezone(UTC)
        day += timedelta(days=1)
