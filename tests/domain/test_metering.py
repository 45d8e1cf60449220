"""Energy register arithmetic: units, multipliers, phases and contexts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.domain.metering import energy_register_wh, power_import_w, sample_wh
from csms.domain.models import MeterSample

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def s(value: str, **kw: object) -> MeterSample:
    return MeterSample(timestamp=kw.pop("timestamp", T0), value=Decimal(value), **kw)  # type: ignore[arg-type]


def test_kwh_and_multiplier_are_converted_exactly() -> None:
    """kWh values and 2.0.1 power-of-ten multipliers become whole Wh without float error."""
    assert sample_wh(s("12.345", unit="kWh")) == 12345
    assert sample_wh(s("1.2345", unit="Wh", multiplier=3)) == 1235  # half up
    assert sample_wh(s("0.1", unit="kWh")) + sample_wh(s("0.2", unit="kWh")) == 300  # type: ignore[operator]
    assert sample_wh(s("5", unit="W")) is None


def test_register_ignores_phases_and_other_measurands() -> None:
    """Only the phase-less Energy.Active.Import.Register counts; per-phase values are never the total."""
    samples = [s("100", phase="L1"), s("999", measurand="Power.Active.Import", unit="W"), s("300")]
    assert energy_register_wh(samples) == 300
    assert energy_register_wh([s("100", phase="L1")]) is None


def test_register_prefers_the_requested_context_then_the_newest() -> None:
    """A sample in the requested context wins; otherwise the newest reading wins."""
    later = T0 + timedelta(seconds=10)
    samples = [s("100", context="Transaction.Begin"), s("150", timestamp=later, context="Sample.Periodic")]
    assert energy_register_wh(samples, "Transaction.Begin") == 100
    assert energy_register_wh(samples) == 150


def test_values_beyond_a_meter_are_not_energy() -> None:
    """Huge values and multipliers (schema-valid) give None instead of an overflow."""
    assert sample_wh(s("1e30", unit="kWh")) is None
    assert sample_wh(s("5", multiplier=1000000)) is None
    assert sample_wh(s("5", multiplier=30)) is None


def test_power_import_w_reads_phase_less_or_sums_phases() -> None:
    """Power.Active.Import in W or kW: the phase-less value, else the sum of the phases; None without."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    power = "Power.Active.Import"
    assert power_import_w([MeterSample(at, Decimal("7.4"), power, "kW")]) == 7400
    phases = [MeterSample(at, Decimal(1000), power, "W", phase=p) for p in ("L1", "L2", "L3")]
    assert power_import_w(phases) == 3000
    assert power_import_w([*phases, MeterSample(at, Decimal(2990), power, "W")]) == 2990
    assert power_import_w([MeterSample(at, Decimal(5), "Energy.Active.Import.Register", "Wh")]) is None
    assert power_import_w([MeterSample(at, Decimal(5), power, "A")]) is None
