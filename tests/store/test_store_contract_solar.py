"""The `SolarStore` contract on memory, SQLite and PostgreSQL: the latest measurement per organization and
location, and sessions' solar modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.solar import SiteMeasurement, SolarMode, SolarStore
from csms.store.migrate import migrate
from csms.store.sql.solar import SqlSolarStore
from tests.fakes.memory_solar import MemorySolarStore
from tests.store.conftest import BACKENDS

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def solar_engine(request: pytest.FixtureRequest) -> AsyncEngine | None:
    """The unmigrated engine of each SQL backend, None for memory."""
    if request.param == "memory":
        return None
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
async def solar(solar_engine: AsyncEngine | None) -> AsyncIterator[SolarStore]:
    """An empty solar store on each backend."""
    if solar_engine is None:
        yield MemorySolarStore()
        return
    await migrate(solar_engine)
    yield SqlSolarStore(solar_engine)


async def test_latest_measurement_per_organization_and_location(solar: SolarStore) -> None:
    """A measurement is kept per (organization, location); a newer one replaces it; other keys see none."""
    await solar.put_measurement("org-a", "LOC1", SiteMeasurement(9000, 2500, AT))
    assert await solar.get_measurement("org-a", "LOC1") == SiteMeasurement(9000, 2500, AT)
    assert await solar.get_measurement("org-b", "LOC1") is None
    assert await solar.measurement_of("LOC1") == SiteMeasurement(9000, 2500, AT)
    assert await solar.measurement_of("LOC2") is None
    await solar.put_measurement("org-a", "LOC1", SiteMeasurement(100, 300, AT.replace(minute=1)))
    assert await solar.measurement_of("LOC1") == SiteMeasurement(100, 300, AT.replace(minute=1))


async def test_solar_modes(solar: SolarStore) -> None:
    """Modes are stored per session; `none` (set back, or never set) is left out of `solar_modes`."""
    assert await solar.solar_modes([]) == {}
    await solar.set_solar_mode(1, SolarMode.SOLAR_ONLY)
    await solar.set_solar_mode(2, SolarMode.SOLAR_FIRST)
    await solar.set_solar_mode(3, SolarMode.SOLAR_ONLY)
    await solar.set_solar_mode(3, SolarMode.NONE)
    modes = await solar.solar_modes([1, 2, 3, 4])
    assert modes == {1: SolarMode.SOLAR_ONLY, 2: SolarMode.SOLAR_FIRST}
