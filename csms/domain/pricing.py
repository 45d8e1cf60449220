"""The pricing engine: an OCPI 2.2.1 Tariff applied to a charging session (the d2 cost algorithm).

`parse_tariff(data)` turns an OCPI Tariff object (JSON; numbers as JSON numbers or strings) into Decimal
structures; `price_session(tariff, start=..., end=..., energy_wh=...)` prices one session and returns a
`SessionCost`: the total `Price` (excl./incl. VAT, clamped to the tariff's min/max price), the per-dimension
totals (fixed, energy, time, parking) and the charging periods (a new period whenever another price
component becomes active), which the OCPI Session and CDR carry.

How a session is priced (OCPI 2.2.1 Tariffs, "cost calculation" as clarified by the d2 errata):

1. The session [start, end) is cut at every restriction boundary (local time of day and midnight in the
   location's time zone, min/max duration, the instants the cumulative energy crosses min/max kWh, the
   meter readings when power restrictions exist) and where charging ends and parking begins.
2. In each piece, per dimension (ENERGY and TIME while charging, PARKING_TIME after), the FIRST element in
   list order that has a component of that dimension and whose restrictions all hold wins; none: free.
   FLAT is charged once: the first FLAT that applies in time order.
3. step_size is applied once per session, never at element switches: the total billed energy is rounded up
   to the step of the last ENERGY component used (the extra is billed at that component's price); of TIME
   and PARKING_TIME only the last time-based dimension billed is rounded (with charging then parking: the
   total parking time).
4. excl. VAT = Σ volume × price; incl. VAT = Σ volume × price × (1 + vat/100) per component (a component
   without `vat` adds no VAT: OCPI "no VAT applicable"); each then clamped to min_price / max_price
   independently.
5. Money is quantized to 4 decimals (ROUND_HALF_UP) only at the very end; everything before is exact
   Decimal arithmetic (no float ever touches a price or an energy figure).

What the engine does not know, and how it treats it:

- Current (min/max_current) is not measured per piece: those restrictions are treated as satisfied (an
  element is not excluded for a value we cannot see). Power (min/max_power) is the average power of each
  piece, from the energy profile (readings, else a straight line from start to the end of charging).
- Elements restricted to reservations (`reservation`) price reservation time, which charging sessions do not
  have: they never apply here.
- Where charging ends is the caller's `charging_end` (None: the session charges until `end`, no parking).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from csms.domain.clock import parse_datetime, to_utc

FLAT = "FLAT"
ENERGY = "ENERGY"
TIME = "TIME"
PARKING_TIME = "PARKING_TIME"
DIMENSIONS = (ENERGY, FLAT, PARKING_TIME, TIME)

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

MONEY_PLACES = Decimal("0.0001")  # OCPI numbers carry at most 4 decimals
_WH_PER_KWH = Decimal(1000)
_S_PER_H = Decimal(3600)
_ZERO = Decimal(0)
_PRECISION = 50  # digits for intermediate arithmetic: volume × price / unit never loses a cent here


class TariffError(ValueError):
    """The tariff object is not a valid OCPI 2.2.1 Tariff (what is wrong is in the message)."""


# -- money --------------------------------------------------------------------------------------------


def quantize(value: Decimal, places: Decimal = MONEY_PLACES) -> Decimal:
    """`value` rounded half up to 4 decimals (OCPI numbers)."""
    return value.quantize(places, rounding=ROUND_HALF_UP)


def decimal_number(value: Decimal, places: Decimal = MONEY_PLACES) -> int | float:
    """`value` rounded to 4 decimals as a JSON-ready number (JSON encoders such as orjson take no Decimal).

    The float is the exact decimal text of the rounded value (≤ 15 significant digits round-trip through
    float unchanged), so `5.5000` is written as `5.5` and never as `5.499999...`.
    """
    rounded = quantize(value, places)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)


@dataclass(frozen=True, slots=True)
class Price:
    """An OCPI Price: excl. and incl. VAT, exact Decimal."""

    excl_vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: Price) -> Price:
        return Price(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)

    def quantized(self) -> Price:
        """Both amounts rounded half up to 4 decimals."""
        return Price(quantize(self.excl_vat), quantize(self.incl_vat))

    def is_zero(self) -> bool:
        """True when both amounts are 0."""
        return self.excl_vat == 0 and self.incl_vat == 0

    def to_ocpi(self) -> dict[str, int | float]:
        """The OCPI Price object `{excl_vat, incl_vat}` with at most 4 decimals."""
        return {"excl_vat": decimal_number(self.excl_vat), "incl_vat": decimal_number(self.incl_vat)}


ZERO_PRICE = Price(_ZERO, _ZERO)


@dataclass(frozen=True, slots=True)
class PriceBound:
    """A tariff's min_price / max_price: excl. VAT always, incl. VAT when the tariff gives it."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


# -- the parsed tariff --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """One OCPI PriceComponent: `price` per unit excl. VAT (per kWh, per hour, or once for FLAT)."""

    type: str
    price: Decimal
    vat: Decimal | None  # percentage; None: no VAT applicable (not the same as 0 %)
    step_size: int  # Wh for ENERGY, seconds for TIME and PARKING_TIME; ignored for FLAT


@dataclass(frozen=True, slots=True)
class Restrictions:
    """OCPI TariffRestrictions (all must hold). Times and dates are local to the location's time zone."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None  # inclusive
    end_date: date | None = None  # exclusive
    min_kwh: Decimal | None = None  # inclusive, cumulative energy of the session
    max_kwh: Decimal | None = None  # exclusive
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None  # kW, inclusive
    max_power: Decimal | None = None  # kW, exclusive
    min_duration: int | None = None  # seconds since the session start, inclusive
    max_duration: int | None = None  # exclusive
    day_of_week: frozenset[int] = frozenset()  # 0 = Monday (date.weekday()); empty: every day
    reservation: str | None = None  # RESERVATION | RESERVATION_EXPIRES

    @property
    def uses_local_time(self) -> bool:
        """True when the restriction depends on the local clock or calendar."""
        return bool(self.start_time or self.end_time or self.start_date or self.end_date or self.day_of_week)


@dataclass(frozen=True, slots=True)
class TariffElement:
    """One OCPI TariffElement: its components and the restrictions under which they apply."""

    components: tuple[PriceComponent, ...]
    restrictions: Restrictions = field(default_factory=Restrictions)


@dataclass(frozen=True, slots=True)
class PricingTariff:
    """An OCPI Tariff, parsed: what the engine needs (elements, min/max price, validity, currency)."""

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    type: str | None = None
    min_price: PriceBound | None = None
    max_price: PriceBound | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """True when the tariff is in force at `at` (start_date_time inclusive, end_date_time exclusive)."""
        at = to_utc(at)
        if self.start_date_time is not None and at < self.start_date_time:
            return False
        return self.end_date_time is None or at < self.end_date_time


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TariffError(f"{what} must be a number, not {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise TariffError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise TariffError(f"{what} must be finite, not {value!r}")
    return number


def _optional_decimal(data: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else _decimal(value, f"{what}.{key}")


def _int(value: Any, what: str) -> int:
    number = _decimal(value, what)
    if number != number.to_integral_value():
        raise TariffError(f"{what} must be an integer, not {value!r}")
    return int(number)


def _time(value: Any, what: str) -> time | None:
    if value is None:
        return None
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise TariffError(f"{what} must be HH:MM, not {value!r}") from None


def _date(value: Any, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise TariffError(f"{what} must be YYYY-MM-DD, not {value!r}") from None


def _datetime(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    try:
        return parse_datetime(str(value))
    except ValueError:
        raise TariffError(f"{what} must be a DateTime, not {value!r}") from None


def _bound(value: Any, what: str) -> PriceBound | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "excl_vat" not in value:
        raise TariffError(f"{what} must be a Price with excl_vat")
    return PriceBound(
        _decimal(value["excl_vat"], f"{what}.excl_vat"), _optional_decimal(value, "incl_vat", what)
    )


def _restrictions(data: Any, what: str) -> Restrictions:
    if data is None:
        return Restrictions()
    if not isinstance(data, Mapping):
        raise TariffError(f"{what} must be an object")
    days = data.get("day_of_week") or []
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise TariffError(f"{what}.day_of_week must list days of {', '.join(DAYS)}")
    reservation = data.get("reservation")
    if reservation not in (None, "RESERVATION", "RESERVATION_EXPIRES"):
        raise TariffError(f"{what}.reservation must be RESERVATION or RESERVATION_EXPIRES")

    def duration(key: str) -> int | None:
        value = data.get(key)
        return None if value is None else _int(value, f"{what}.{key}")

    return Restrictions(
        start_time=_time(data.get("start_time"), f"{what}.start_time"),
        end_time=_time(data.get("end_time"), f"{what}.end_time"),
        start_date=_date(data.get("start_date"), f"{what}.start_date"),
        end_date=_date(data.get("end_date"), f"{what}.end_date"),
        min_kwh=_optional_decimal(data, "min_kwh", what),
        max_kwh=_optional_decimal(data, "max_kwh", what),
        min_current=_optional_decimal(data, "min_current", what),
        max_current=_optional_decimal(data, "max_current", what),
        min_power=_optional_decimal(data, "min_power", what),
        max_power=_optional_decimal(data, "max_power", what),
        min_duration=duration("min_duration"),
        max_duration=duration("max_duration"),
        day_of_week=frozenset(DAYS.index(d) for d in days),
        reservation=reservation,
    )


def _component(data: Any, what: str) -> PriceComponent:
    if not isinstance(data, Mapping):
        raise TariffError(f"{what} must be an object")
    kind = data.get("type")
    if kind not in DIMENSIONS:
        raise TariffError(f"{what}.type must be one of {', '.join(DIMENSIONS)}, not {kind!r}")
    if "price" not in data:
        raise TariffError(f"{what}.price is required")
    step = _int(data.get("step_size", 0), f"{what}.step_size")
    if step < 0:
        raise TariffError(f"{what}.step_size must not be negative")
    return PriceComponent(
        type=kind,
        price=_decimal(data["price"], f"{what}.price"),
        vat=_optional_decimal(data, "vat", what),
        step_size=step,
    )


def parse_tariff(data: Mapping[str, Any]) -> PricingTariff:
    """Parse an OCPI 2.2.1 Tariff object (as stored in `ocpi.models.Tariff.data`) for `price_session`.

    Raises:
        TariffError: a required field is missing or a value is malformed (the message says which).
    """
    if not isinstance(data, Mapping):
        raise TariffError("a tariff must be an object")
    elements_data = data.get("elements")
    if not isinstance(elements_data, list) or not elements_data:
        raise TariffError("tariff.elements must be a non-empty list")
    elements = []
    for i, element in enumerate(elements_data):
        what = f"elements[{i}]"
        if not isinstance(element, Mapping):
            raise TariffError(f"{what} must be an object")
        components = element.get("price_components")
        if not isinstance(components, list) or not components:
            raise TariffError(f"{what}.price_components must be a non-empty list")
        elements.append(
            TariffElement(
                components=tuple(
                    _component(c, f"{what}.price_components[{j}]") for j, c in enumerate(components)
                ),
                restrictions=_restrictions(element.get("restrictions"), f"{what}.restrictions"),
            )
        )
    return PricingTariff(
        id=str(data.get("id", "")),
        currency=str(data.get("currency", "")),
        elements=tuple(elements),
        type=data.get("type"),
        min_price=_bound(data.get("min_price"), "min_price"),
        max_price=_bound(data.get("max_price"), "max_price"),
        start_date_time=_datetime(data.get("start_date_time"), "start_date_time"),
        end_date_time=_datetime(data.get("end_date_time"), "end_date_time"),
    )


def choose_tariff(tariffs: Iterable[PricingTariff], at: datetime) -> PricingTariff | None:
    """The tariff that prices a regular (not ad hoc, no charging profile) session starting at `at`.

    OCPI 2.2.1 allows one active tariff per Tariff.type on a connector: the first one valid at `at` whose
    type is REGULAR or absent wins; when none is, the first valid one of any other type (better priced by a
    profile tariff than not at all); None when no tariff is valid.
    """
    valid = [t for t in tariffs if t.valid_at(at)]
    for tariff in valid:
        if tariff.type in (None, "REGULAR"):
            return tariff
    return valid[0] if valid else None


def uses_energy_profile(tariff: PricingTariff | None) -> bool:
    """Whether meter readings can change what `price_session` returns with `tariff`.

    Only restrictions cut a charging session into pieces, and only then do readings decide which piece got
    which energy; without any (or without a tariff) the session is one piece holding all its energy, so a
    caller may skip loading readings altogether.
    """
    empty = Restrictions()
    return tariff is not None and any(e.restrictions != empty for e in tariff.elements)


# -- the session ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """The energy delivered since the session started (Wh), as measured at `at`."""

    at: datetime
    wh: Decimal


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """One OCPI ChargingPeriod: from `start` until the next period (or the session end), with the measured
    volumes of its dimensions (ENERGY in kWh, TIME and PARKING_TIME in hours, exact Decimal)."""

    start: datetime
    dimensions: tuple[tuple[str, Decimal], ...]
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionCost:
    """What a session costs and how it divides into charging periods.

    `total` is clamped to the tariff's min/max price; the per-dimension totals are not (OCPI reports them
    as computed). Money is quantized to 4 decimals; volumes are exact (round them when formatting).
    """

    total: Price
    fixed: Price
    energy: Price
    time: Price
    parking: Price
    total_energy_kwh: Decimal
    total_time_hours: Decimal  # start to end, parking included (OCPI CDR total_time)
    total_parking_hours: Decimal
    charging_periods: tuple[ChargingPeriod, ...]
    tariff_id: str | None = None
    currency: str | None = None


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def _delta(seconds: Decimal) -> timedelta:
    return timedelta(microseconds=int((seconds * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP)))


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


class _Profile:
    """Cumulative energy (Wh) over seconds since the start: piecewise linear through the readings, flat
    once charging ended.

    `points` are (seconds, Wh) in time order with non-decreasing energy (`_profile` makes them so); both
    lookups bisect them, so pricing a session with n readings and power restrictions (a cut at every
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


@dataclass(slots=True)
class _Piece:
    """A stretch of the session in which every restriction evaluates the same way."""

    begin: Decimal  # seconds since start
    end: Decimal
    charging: bool
    energy_wh: Decimal
    # dimension -> (element index, component index) of the component that prices it here
    chosen: dict[str, tuple[int, int]]


def _holds(
    r: Restrictions, *, local: datetime, seconds: Decimal, energy_wh: Decimal, power_kw: Decimal | None
) -> bool:
    """Whether all restrictions hold at one instant (a piece's midpoint: pieces never straddle a boundary)."""
    if r.reservation is not None:
        return False  # reservation pricing: never part of a charging session
    if r.start_time is not None or r.end_time is not None:
        clock = local.time()
        start, end = r.start_time, r.end_time
        if start is not None and end is not None:
            if start == end:
                pass  # a whole day (the spec does not define equal times; nothing is excluded)
            elif end < start:  # wraps past midnight (OCPI 2.2.1 TariffRestrictions)
                if not (clock >= start or clock < end):
                    return False
            elif not start <= clock < end:
                return False
        elif start is not None and clock < start:
            return False
        elif end is not None and clock >= end:
            return False
    day = local.date()
    if r.start_date is not None and day < r.start_date:
        return False
    if r.end_date is not None and day >= r.end_date:
        return False
    if r.day_of_week and day.weekday() not in r.day_of_week:
        return False
    kwh = energy_wh / _WH_PER_KWH
    if r.min_kwh is not None and kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and seconds < r.min_duration:
        return False
    if r.max_duration is not None and seconds >= r.max_duration:
        return False
    if power_kw is not None:
        if r.min_power is not None and power_kw < r.min_power:
            return False
        if r.max_power is not None and power_kw >= r.max_power:
            return False
    # min/max_current: not measured per piece; treated as satisfied (see the module docstring).
    return True


def _local_cuts(tariff: PricingTariff, start: datetime, end: datetime, zone: tzinfo) -> Iterable[datetime]:
    """Local midnights and restriction times between start and end, as UTC instants."""
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


def _profile(
    readings: Sequence[EnergyReading], start: datetime, charge_seconds: Decimal, energy_wh: Decimal
) -> _Profile:
    points = [(_ZERO, _ZERO)]
    level = _ZERO
    for reading in sorted(readings, key=lambda r: r.at):
        t = _seconds(to_utc(reading.at) - start)
        if t <= 0 or t >= charge_seconds:
            continue
        level = min(max(level, reading.wh), energy_wh)  # a register never runs backwards
        points.append((t, level))
    points.append((charge_seconds, energy_wh))
    return _Profile(points)


def price_session(
    tariff: PricingTariff | None,
    *,
    start: datetime,
    end: datetime,
    energy_wh: Decimal | int,
    readings: Sequence[EnergyReading] = (),
    charging_end: datetime | None = None,
    time_zone: str | tzinfo = "UTC",
) -> SessionCost:
    """Price one charging session with `tariff` (None: free; periods are still measured).

    Args:
        start, end: the session's start and end (for a running session: now).
        energy_wh: the energy delivered in total (so far), in Wh.
        readings: cumulative energy since `start` at instants within the session; they shape the energy
            curve (which piece got which energy); without them energy is spread evenly over the charging.
        charging_end: when the EV stopped charging and parking began (None: charging until `end`).
        time_zone: the location's IANA time zone, in which time and day restrictions are read.

    Returns:
        The cost, the per-dimension costs and the charging periods; pass them to the OCPI Session / CDR.

    Raises:
        ValueError: unknown `time_zone`.
    """
    zone = resolve_zone(time_zone)
    start = to_utc(start)
    end = max(to_utc(end), start)
    total_wh = max(Decimal(energy_wh), _ZERO)
    duration = _seconds(end - start)
    charge_end = end if charging_end is None else min(max(to_utc(charging_end), start), end)
    charge_seconds = _seconds(charge_end - start)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        profile = _profile(readings, start, charge_seconds, total_wh)
        elements = tariff.elements if tariff is not None else ()

        # 1. Cut the session wherever a restriction may change its verdict, and where parking begins.
        cuts = {_ZERO, duration, charge_seconds}
        uses_power = False
        for element in elements:
            r = element.restrictions
            for limit in (r.min_duration, r.max_duration):
                if limit is not None:
                    cuts.add(Decimal(limit))
            for kwh in (r.min_kwh, r.max_kwh):
                if kwh is not None:
                    at = profile.time_at(kwh * _WH_PER_KWH)
                    if at is not None:
                        cuts.add(at)
            uses_power = uses_power or r.min_power is not None or r.max_power is not None
        if uses_power:
            cuts.update(t for t, _ in profile.points)
        if tariff is not None:
            cuts.update(_seconds(c - start) for c in _local_cuts(tariff, start, end, zone))
        bounds = sorted(c for c in cuts if _ZERO <= c <= duration)
        spans = list(zip(bounds, bounds[1:], strict=False)) or [(_ZERO, _ZERO)]

        # 2. Per piece and dimension, the first element in list order that applies.
        pieces: list[_Piece] = []
        flat: tuple[int, int] | None = None
        for begin, stop in spans:
            charging = begin < charge_seconds or duration == 0
            middle = (begin + stop) / 2
            energy = profile.energy_at(stop) - profile.energy_at(begin)
            power = energy / (stop - begin) * Decimal("3.6") if charging and stop > begin else None
            local = (start + _delta(middle)).astimezone(zone)
            at_middle = profile.energy_at(middle)
            chosen: dict[str, tuple[int, int]] = {}
            wanted = (ENERGY, TIME, FLAT) if charging else (PARKING_TIME, FLAT)
            for ei, element in enumerate(elements):
                if not _holds(
                    element.restrictions, local=local, seconds=middle, energy_wh=at_middle, power_kw=power
                ):
                    continue
                for ci, component in enumerate(element.components):
                    if component.type in wanted and component.type not in chosen:
                        chosen[component.type] = (ei, ci)
            if flat is None and FLAT in chosen:
                flat = chosen[FLAT]
            chosen.pop(FLAT, None)
            pieces.append(_Piece(begin, stop, charging, energy, chosen))

        # 3. Merge neighbours priced the same way into charging periods (OCPI: a new period whenever a
        #    different price component becomes active).
        periods: list[_Piece] = []
        for piece in pieces:
            last = periods[-1] if periods else None
            if last is not None and last.charging == piece.charging and last.chosen == piece.chosen:
                last.end = piece.end
                last.energy_wh += piece.energy_wh
            else:
                periods.append(
                    _Piece(piece.begin, piece.end, piece.charging, piece.energy_wh, dict(piece.chosen))
                )

        def component_at(ref: tuple[int, int]) -> PriceComponent:
            return elements[ref[0]].components[ref[1]]

        # 4. Billed volumes, with step_size applied once per session (d2).
        billed: list[dict[str, Decimal]] = []
        for p in periods:
            volumes: dict[str, Decimal] = {}
            if ENERGY in p.chosen:
                volumes[ENERGY] = p.energy_wh
            if TIME in p.chosen:
                volumes[TIME] = p.end - p.begin
            if PARKING_TIME in p.chosen:
                volumes[PARKING_TIME] = p.end - p.begin
            billed.append(volumes)
        _round_up(periods, billed, ENERGY, component_at)
        last_time_dimension = None
        for p in periods:
            for dimension in (TIME, PARKING_TIME):
                if dimension in p.chosen:
                    last_time_dimension = dimension
        if last_time_dimension is not None:
            _round_up(periods, billed, last_time_dimension, component_at)

        # 5. Money.
        costs = {dimension: ZERO_PRICE for dimension in DIMENSIONS}
        units = {ENERGY: _WH_PER_KWH, TIME: _S_PER_H, PARKING_TIME: _S_PER_H}
        for p, volumes in zip(periods, billed, strict=True):
            for dimension, volume in volumes.items():
                c = component_at(p.chosen[dimension])
                costs[dimension] += _cost(c, volume / units[dimension])
        if flat is not None:
            costs[FLAT] = _cost(component_at(flat), Decimal(1))
        total = costs[FLAT] + costs[ENERGY] + costs[TIME] + costs[PARKING_TIME]
        if tariff is not None:
            total = _clamp(total, tariff.min_price, tariff.max_price)

        parking_seconds = duration - charge_seconds
        tariff_id = tariff.id if tariff is not None else None
        charging_periods = tuple(
            ChargingPeriod(
                start=start + _delta(p.begin),
                dimensions=(
                    ((ENERGY, p.energy_wh / _WH_PER_KWH), (TIME, (p.end - p.begin) / _S_PER_H))
                    if p.charging
                    else ((PARKING_TIME, (p.end - p.begin) / _S_PER_H),)
                ),
                tariff_id=tariff_id,
            )
            for p in periods
        )
        return SessionCost(
            total=total.quantized(),
            fixed=costs[FLAT].quantized(),
            energy=costs[ENERGY].quantized(),
            time=costs[TIME].quantized(),
            parking=costs[PARKING_TIME].quantized(),
            total_energy_kwh=total_wh / _WH_PER_KWH,
            total_time_hours=duration / _S_PER_H,
            total_parking_hours=parking_seconds / _S_PER_H,
            charging_periods=charging_periods,
            tariff_id=tariff_id,
            currency=tariff.currency if tariff is not None else None,
        )


def _round_up(
    periods: list[_Piece],
    billed: list[dict[str, Decimal]],
    dimension: str,
    component: Callable[[tuple[int, int]], PriceComponent],
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
    total = sum((billed[i][dimension] for i in indexes), _ZERO)
    rounded = (total / step).to_integral_value(rounding=ROUND_CEILING) * step
    billed[last][dimension] += rounded - total


def _cost(component: PriceComponent, quantity: Decimal) -> Price:
    excl = quantity * component.price
    incl = excl if component.vat is None else excl * (1 + component.vat / 100)
    return Price(excl, incl)


def _clamp(total: Price, low: PriceBound | None, high: PriceBound | None) -> Price:
    """Clamp excl. and incl. VAT independently to min_price / max_price (OCPI 2.2.1 d2)."""
    excl, incl = total.excl_vat, total.incl_vat
    if low is not None:
        excl = max(excl, low.excl_vat)
        if low.incl_vat is not None:
            incl = max(incl, low.incl_vat)
    if high is not None:
        excl = min(excl, high.excl_vat)
        if high.incl_vat is not None:
            incl = min(incl, high.incl_vat)
    return Price(excl, incl)


__all__ = [
    "ChargingPeriod",
    "EnergyReading",
    "Price",
    "PriceBound",
    "PriceComponent",
    "PricingTariff",
    "Restrictions",
    "SessionCost",
    "TariffElement",
    "TariffError",
    "ZERO_PRICE",
    "choose_tariff",
    "decimal_number",
    "parse_tariff",
    "price_session",
    "quantize",
    "resolve_zone",
    "uses_energy_profile",
]
