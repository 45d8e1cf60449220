"""The `SiteLimitStore` contract on memory, SQLite and PostgreSQL: one limit per organization and
location, replaced by a new PUT, the schedule kept in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.smart_charging import LimitPeriod, SiteLimit, SiteLimitStore
from csms.store.migrate import migrate
from csms.store.sql.site_limits import SqlSiteLimitStore
from tests.fakes.memory_site_limits import MemorySiteLimitStore
from tests.store.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def limit_engine(request: pytest.FixtureRequest) -> AsyncEngine | None:
    """The unmigrated engine of each SQL backend, None for memory."""
    if request.param == "memory":
        return None
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture
async def limits(limit_engine: AsyncEngine | None) -> AsyncIterator[SiteLimitStore]:
    """An empty site limit store on each backend."""
    if limit_engine is None:
        yield MemorySiteLimitStore()
        return
    await migrate(limit_engine)
    yield SqlSiteLimitStore(limit_engine)


async def test_site_limits_per_organization_and_location(limits: SiteLimitStore) -> None:
    """A PUT stores the limit for (organization, location); another PUT replaces it; other keys see none."""
    first = SiteLimit(
        max_power_w=22000,
        max_current_a=Decimal("32.5"),
        phases=3,
        min_current_a=Decimal(6),
        schedule=(LimitPeriod(time(18, 0), 11000), LimitPeriod(time(7, 30), 22000)),
    )
    await limits.put_site_limit("org-a", "LOC1", first)
    got = await limits.get_site_limit("org-a", "LOC1")
    assert got is not None
    assert got.max_power_w == 22000 and got.max_current_a == Decimal("32.5") and got.phases == 3
    assert got.min_current_a == Decimal(6)
    assert got.schedule == (LimitPeriod(time(7, 30), 22000), LimitPeriod(time(18, 0), 11000))
    assert await limits.get_site_limit("org-b", "LOC1") is None
    assert await limits.site_limit_of("LOC1") == got
    assert await limits.site_limit_of("LOC2") is None
    await limits.put_site_limit("org-a", "LOC1", SiteLimit(max_current_a=Decimal(16), phases=1))
    assert await limits.get_site_limit("org-a", "LOC1") == SiteLimit(max_current_a=Decimal(16), phases=1)
