"""min/max_current tariff restrictions on real sessions: the Current.Import samples a station sends
(`ocpi.sessions.currents_of`, amperes summed over the phases) decide which element prices each part of the
session, in the OCPI Session and its CDR."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.models import ConnectorStatus, MeterReading, MeterSample, Transaction
from csms.domain.pricing import CurrentReading
from ocpi import cdrs
from ocpi.sessions import currents_of
from ocpi.transport import ocpi_datetime
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

# 0.50/kWh @20 % while charging with at least 32 A over all phases, else 0.30/kWh @20 %.
CURRENT_TARIFF: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "CSM",
    "id": "AMPS1",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": "0.50", "vat": 20, "step_size": 1}],
            "restrictions": {"min_current": 32},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 20, "step_size": 1}]},
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


def current(at_s: int, amps: str, phase: str | None = None, **fields: Any) -> MeterSample:
    return MeterSample(
        timestamp=T0 + timedelta(seconds=at_s),
        value=Decimal(amps),
        measurand="Current.Import",
        unit=fields.pop("unit", "A"),
        phase=phase,
        **fields,
    )


def test_currents_are_summed_over_the_phases() -> None:
    """Per instant: L1 + L2 + L3 (the newest per phase; N ignored), else the phase-less value; only
    Current.Import in A at the outlet, multiplier applied."""
    samples = [
        current(0, "16", "L1"),
        current(0, "15", "L2"),
        current(0, "16", "L2"),  # the newest of L2 at that instant
        current(0, "16", "L3"),
        current(0, "3", "N"),
        current(0, "99"),  # a phase-less value where phases are given: the phases win
        current(60, "240", multiplier=-1),  # 24 A, no phases
        current(120, "7", unit="W"),
        current(120, "7", location="EV"),
        MeterSample(timestamp=T0 + timedelta(seconds=120), value=Decimal(1000)),  # energy
    ]
    assert currents_of(samples) == [
        CurrentReading(T0, Decimal(48)),
        CurrentReading(T0 + timedelta(seconds=60), Decimal("24.0")),
    ]


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """CP1 in LOC1, its connector on AMPS1."""
    async with harness(memory_ocpi_store, clock) as built:
        await built.add_station("CP1")
        await built.add_location("LOC1", "CP1", postal_code="9000")
        await built.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
        await built.add_tariff(CURRENT_TARIFF)
        await built.spec("CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE",
                         tariff_ids=["AMPS1"])  # fmt: skip
        yield built


async def sample(h: Harness, tx: Transaction, register_wh: int, per_phase: str) -> None:
    """The energy register and the current of each of the three phases, now."""
    now = h.clock()
    samples = [MeterSample(timestamp=now, value=Decimal(register_wh))] + [
        MeterSample(timestamp=now, value=Decimal(per_phase), measurand="Current.Import", unit="A", phase=p)
        for p in ("L1", "L2", "L3")
    ]
    await h.domain.transactions.meter_values(MeterReading(tx.charge_point_id, tx.evse_id, samples), tx)
    await h.writer.sync()


async def test_session_priced_by_its_current(h: Harness) -> None:
    """3 × 16 A = 48 A for the first hour (12 kWh at 0.50), 3 × 8 A = 24 A for the second (8 kWh at 0.30):
    6.00 + 2.40 = 8.40 excl., 7.20 + 2.88 = 10.08 incl.; the CDR's periods split where the current fell."""
    tx = await h.start("CP1", 1, meter_start=500)
    await sample(h, tx, 500, "16")
    h.advance(3600)
    await sample(h, tx, 12_500, "8")
    h.advance(3600)
    await h.stop(tx, 20_500)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None
    assert_valid("CDR", cdr.data)
    assert cdr.data["total_cost"] == {"excl_vat": 8.4, "incl_vat": 10.08}
    assert [(p["start_date_time"], p["dimensions"]) for p in cdr.data["charging_periods"]] == [
        (ocpi_datetime(T0), [{"type": "ENERGY", "volume": 12}, {"type": "TIME", "volume": 1}]),
        (
            ocpi_datetime(T0 + timedelta(seconds=3600)),
            [{"type": "ENERGY", "volume": 8}, {"type": "TIME", "volume": 1}],
        ),
    ]
