"""The hand-computed tariff cases of `cases.py` against `price_session`, to the 4th decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from csms.domain.pricing import Price, SessionCost, parse_tariff, price_session, quantize
from csms.domain.pricing.profile import CurrentReading, EnergyReading
from tests.domain.pricing.cases import CASES, Case


def _price(pair: tuple[str, str]) -> Price:
    return Price(Decimal(pair[0]), Decimal(pair[1]))


def _run(case: Case) -> SessionCost:
    return price_session(
        parse_tariff(case.tariff),
        start=case.at(case.start),
        end=case.at(case.end),
        energy_wh=case.energy_wh,
        readings=[EnergyReading(case.at(at), Decimal(wh)) for at, wh in case.readings],
        charging_end=None if case.charging_end is None else case.at(case.charging_end),
        time_zone=case.zone,
        reserved_from=None if case.reserved_from is None else case.at(case.reserved_from),
        reservation_expired=case.reservation_expired,
        reservation_only=case.reservation_only,
        currents=[CurrentReading(case.at(at), Decimal(amps)) for at, amps in case.currents],
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_total(case: Case) -> None:
    """The session costs what the hand computation says, excl. and incl. VAT, and per dimension."""
    cost = _run(case)
    assert cost.total == _price(case.total)
    for part, expected in case.parts.items():
        assert getattr(cost, part) == _price(expected), part


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_periods(case: Case) -> None:
    """The session splits into the hand-computed charging periods (start, volumes in kWh and hours)."""
    cost = _run(case)
    got = [
        (p.start, {kind: quantize(volume) for kind, volume in p.dimensions}) for p in cost.charging_periods
    ]
    want = [(case.at(at), {kind: Decimal(v) for kind, v in dims.items()}) for at, dims in case.periods]
    assert got == want
