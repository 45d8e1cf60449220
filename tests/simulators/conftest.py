"""Fixtures for simulator tests: a fake CSMS on a free port, simulators closed after each test, debug loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.simulators.fake_csms import FakeCsms
from tests.utils import MS

NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
MakeSim = Callable[..., ChargePointSimulator]


@pytest.fixture(autouse=True)
async def debug_loop(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """Run in asyncio debug mode and fail on a callback that blocked the loop (asyncio logs those)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 200 * MS
    caplog.set_level(logging.WARNING, logger="asyncio")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    slow = [r for r in records if r.name == "asyncio" and "Executing" in r.getMessage()]
    assert not slow, [r.getMessage() for r in slow]


@pytest.fixture
async def csms() -> AsyncIterator[FakeCsms]:
    """A running fake CSMS."""
    async with FakeCsms() as fake:
        yield fake


@pytest.fixture
async def make_sim(csms: FakeCsms) -> AsyncIterator[MakeSim]:
    """Create simulators pointed at the fake CSMS with a fixed clock; each is closed after the test."""
    sims: list[ChargePointSimulator] = []

    def make(version: str = "1.6", charge_point_id: str = "CP1", **kw: Any) -> ChargePointSimulator:
        kw.setdefault("call_timeout", 1000 * MS)
        config = SimulatorConfig(charge_point_id=charge_point_id, url=csms.url, ocpp_version=version, **kw)
        sim = ChargePointSimulator(config, clock=lambda: NOW)
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.close()
