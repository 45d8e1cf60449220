"""Steps 1-3 of the OCPI 2.2.1 d2 cost algorithm: cut the session, choose each piece's components, merge
neighbours priced alike into charging periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from csms.domain.pricing.profile import CurrentProfile, EnergyProfile, delta_of, seconds_of
from csms.domain.pricing.restrictions import WH_PER_KWH, Instant, holds, local_cuts
from csms.domain.pricing.tariff import ENERGY, FLAT, PARKING_TIME, TIME, PricingTariff, TariffElement

ZERO = Decimal(0)
_KW_PER_WH_PER_S = Decimal("3.6")  # Wh/s → kW

ComponentRef = tuple[int, int]  # (element index, component index)


@dataclass(frozen=True, slots=True)
class SessionSpan:
    """The session in seconds since its start, and where it is read in local time."""

    start: datetime  # UTC
    end: datetime  # UTC
    duration: Decimal
    charge_seconds: Decimal  # charging ends (parking begins) here
    zone: tzinfo
    currents: CurrentProfile = CurrentProfile([])  # the measured current (min/max_current)


@dataclass(slots=True)
class Piece:
    """A stretch of the session in which every restriction evaluates the same way (after merging: a charging
    period, in which the same components price it)."""

    begin: Decimal  # seconds since start
    end: Decimal
    charging: bool
    energy_wh: Decimal
    chosen: dict[str, ComponentRef]  # dimension -> the component that prices it here


def cut_points(tariff: PricingTariff | None, span: SessionSpan, profile: EnergyProfile) -> list[Decimal]:
    """Step 1: every instant a restriction may change its verdict — min/max duration, where the cumulative
    energy crosses min/max kWh, every reading when power is restricted, every current measurement when
    current is (the current is a step function: it only changes there), local midnights and restriction
    times — plus the start, the end and where parking begins; sorted, within the session."""
    cuts = {ZERO, span.duration, span.charge_seconds}
    elements = tariff.elements if tariff is not None else ()
    uses_power = uses_current = False
    for element in elements:
        r = element.restrictions
        cuts.update(Decimal(limit) for limit in (r.min_duration, r.max_duration) if limit is not None)
        for kwh in (r.min_kwh, r.max_kwh):
            at = None if kwh is None else profile.time_at(kwh * WH_PER_KWH)
            if at is not None:
                cuts.add(at)
        uses_power = uses_power or r.min_power is not None or r.max_power is not None
        uses_current = uses_current or r.min_current is not None or r.max_current is not None
    if uses_power:
        cuts.update(t for t, _ in profile.points)
    if uses_current:
        cuts.update(t for t, _ in span.currents.points)
    if tariff is not None:
        cuts.update(seconds_of(c - span.start) for c in local_cuts(tariff, span.start, span.end, span.zone))
    return sorted(c for c in cuts if ZERO <= c <= span.duration)


def _first_components(
    elements: tuple[TariffElement, ...], at: Instant, wanted: tuple[str, ...]
) -> dict[str, ComponentRef]:
    """Per wanted dimension, the first component in list order of an element whose restrictions hold."""
    chosen: dict[str, ComponentRef] = {}
    for ei, element in enumerate(elements):
        if not holds(element.restrictions, at):
            continue
        for ci, component in enumerate(element.components):
            if component.type in wanted and component.type not in chosen:
                chosen[component.type] = (ei, ci)
    return chosen


def choose_pieces(
    elements: tuple[TariffElement, ...], bounds: list[Decimal], span: SessionSpan, profile: EnergyProfile
) -> tuple[list[Piece], ComponentRef | None]:
    """Step 2: the pieces between the cuts, each with its components (ENERGY and TIME while charging,
    PARKING_TIME after), and the FLAT component charged once: the first that applies in time order."""
    spans = list(zip(bounds, bounds[1:], strict=False)) or [(ZERO, ZERO)]
    pieces: list[Piece] = []
    flat: ComponentRef | None = None
    for begin, stop in spans:
        charging = begin < span.charge_seconds or span.duration == 0
        middle = (begin + stop) / 2
        energy = profile.energy_at(stop) - profile.energy_at(begin)
        power = energy / (stop - begin) * _KW_PER_WH_PER_S if charging and stop > begin else None
        at = Instant(
            local=(span.start + delta_of(middle)).astimezone(span.zone),
            seconds=middle,
            energy_wh=profile.energy_at(middle),
            power_kw=power,
            current_a=span.currents.at(middle) if charging else None,
        )
        chosen = _first_components(elements, at, (ENERGY, TIME, FLAT) if charging else (PARKING_TIME, FLAT))
        if flat is None and FLAT in chosen:
            flat = chosen[FLAT]
        chosen.pop(FLAT, None)
        pieces.append(Piece(begin, stop, charging, energy, chosen))
    return pieces, flat


def merge_periods(pieces: list[Piece]) -> list[Piece]:
    """Step 3: neighbours priced the same way form one charging period (OCPI: a new period whenever a
    different price component becomes active)."""
    periods: list[Piece] = []
    for piece in pieces:
        last = periods[-1] if periods else None
        if last is not None and last.charging == piece.charging and last.chosen == piece.chosen:
            last.end = piece.end
            last.energy_wh += piece.energy_wh
        else:
            periods.append(Piece(piece.begin, piece.end, piece.charging, piece.energy_wh, dict(piece.chosen)))
    return periods
