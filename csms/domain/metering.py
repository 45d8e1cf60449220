"""Meter value arithmetic: the energy register in Wh, whatever unit and multiplier the station used.

OCPP 1.6 sends `unit` (Wh or kWh) with a string value; 2.0.1 sends a number with `unitOfMeasure.unit` and a
power-of-ten `multiplier`. Adapters turn both into `MeterSample(value: Decimal, unit, multiplier)`; this
module is the one place that turns a sample into integer Wh. Decimal all the way: no float ever touches
an energy figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, DecimalException, InvalidOperation

from csms.domain.models import MeterSample

ENERGY_REGISTER = "Energy.Active.Import.Register"

# Largest magnitude we store: the database columns are 64-bit, values beyond 10^15 Wh are not meter
# readings of a charging station but garbage, and must not break a stop or a batch.
MAX_MAGNITUDE = Decimal(10) ** 15
MAX_MULTIPLIER = 9


def usable_decimal(raw: object) -> Decimal | None:
    """`raw` (a 1.6 string or a 2.0.1 JSON number) as a finite Decimal of sane magnitude, else None."""
    try:
        value = Decimal(raw if isinstance(raw, str) else str(raw))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        return None
    return value


# Unit → factor to Wh. (1.6 UnitOfMeasure; 2.0.1 uses the same strings, default "Wh".)
_TO_WH = {"Wh": Decimal(1), "kWh": Decimal(1000)}


def sample_wh(sample: MeterSample) -> int | None:
    """The sample's value in whole Wh (half up), or None if it is not in an energy unit."""
    factor = _TO_WH.get(sample.unit)
    if factor is None or abs(sample.multiplier) > MAX_MULTIPLIER:
        return None
    try:
        wh = sample.value * factor * (Decimal(10) ** sample.multiplier)
        if abs(wh) >= MAX_MAGNITUDE:
            return None
        return int(wh.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except DecimalException:
        return None


# Unit → factor to W (1.6 UnitOfMeasure W / kW; 2.0.1 the same strings).
_TO_W = {"W": Decimal(1), "kW": Decimal(1000)}
POWER_IMPORT = "Power.Active.Import"


def power_import_w(samples: Iterable[MeterSample]) -> int | None:
    """The power the EV draws, in whole W, from the Power.Active.Import samples: the last phase-less
    reading, else the sum of the per-phase readings; None when there is none (or none in W / kW)."""
    total: Decimal | None = None
    per_phase: dict[str, Decimal] = {}
    for s in samples:
        factor = _TO_W.get(s.unit)
        if s.measurand != POWER_IMPORT or factor is None or abs(s.multiplier) > MAX_MULTIPLIER:
            continue
        value = s.value * factor * (Decimal(10) ** s.multiplier)
        if s.phase is None:
            total = value
        else:
            per_phase[s.phase] = value
    if total is None and per_phase:
        total = sum(per_phase.values(), Decimal(0))
    if total is None or abs(total) >= MAX_MAGNITUDE:
        return None
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def energy_register_wh(samples: Iterable[MeterSample], context: str | None = None) -> int | None:
    """The last phase-less Energy.Active.Import.Register reading among `samples`, in Wh.

    Per-phase register values are never used for the total (OCPP 2.0.1 RegisterValuesWithoutPhases). When
    `context` is given, a sample with that context wins over others (e.g. Transaction.Begin for the start
    meter); otherwise the newest reading wins.
    """
    best: int | None = None
    best_in_context = False
    best_ts = None
    for s in samples:
        if s.measurand != ENERGY_REGISTER or s.phase is not None:
            continue
        wh = sample_wh(s)
        if wh is None:
            continue
        in_context = context is not None and s.context == context
        if (
            best is None
            or (in_context and not best_in_context)
            or (in_context == best_in_context and (best_ts is None or s.timestamp >= best_ts))
        ):
            best, best_in_context, best_ts = wh, in_context, s.timestamp
    return best
