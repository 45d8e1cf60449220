"""Regressions of the pricing engine's billing step (csms/domain/pricing/billing.py) found by the property
tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.domain.pricing import EnergyReading, Price, parse_tariff, price_session

START = datetime(2024, 3, 29, 18, 0, tzinfo=UTC)


def test_a_kwh_crossing_does_not_bill_an_extra_step() -> None:
    """Energy cut where it crosses 29 kWh (an instant found by division) is billed 29 000 Wh, not 29 001:
    step_size rounds the measured total, not the division's noise in its 50th digit."""
    tariff = parse_tariff(
        {
            "id": "T",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": "0.05", "step_size": 1}],
                    "restrictions": {"max_kwh": 29},
                },
                {"price_components": [{"type": "FLAT", "price": 0, "step_size": 0}]},
            ],
        }
    )
    cost = price_session(
        tariff,
        start=START,
        end=START + timedelta(seconds=2000),
        energy_wh=38_000,
        readings=[EnergyReading(START + timedelta(seconds=1), Decimal(19))],
    )
    # 29 kWh × 0.05 = 1.45 (the 9 kWh above 29 kWh fall to the FLAT-only element: free).
    assert cost.energy == Price(Decimal("1.45"), Decimal("1.45"))
    assert cost.total == cost.energy


def test_an_exact_half_cent_rounds_up() -> None:
    """3630 s at €3/h is exactly €3.025 and bills €3.03: the volume is divided by its unit after the
    multiplication by the price, so the exact half is not lost to a 50th-digit cut (1.00833… × 3)."""
    tariff = parse_tariff(
        {
            "id": "T",
            "currency": "EUR",
            "elements": [{"price_components": [{"type": "TIME", "price": 3, "step_size": 1}]}],
        }
    )
    cost = price_session(tariff, start=START, end=START + timedelta(seconds=3630), energy_wh=1_000)
    assert cost.time == Price(Decimal("3.03"), Decimal("3.03"))
    assert cost.total == cost.time
