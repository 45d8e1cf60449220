"""Reservation expiry run by several processes on one database (SQLite file, PostgreSQL): every due
reservation is expired, logged and returned by exactly one of them (`ReservationStore.expire_reservation`).

Each simulated process has its own engine (its own connections) and its own `ReservationService`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from csms.config import DatabaseConfig
from csms.domain.commands import Command, CommandResult, CommandService, Outcome
from csms.domain.models import ReservationStatus
from csms.domain.ports import Store
from csms.domain.reservations import ReservationService
from csms.store.migrate import migrate
from csms.store.sql import SqlStore, open_store

from .conftest import FakeClock, postgres_schema, schema_engine
from .test_store_contract import at
from .test_store_contract_reservations import reservation

PROCESSES = 2
DUE = 30


class OfflineStations:
    """A `StationGateway` with no station connected: expiry needs none."""

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return None

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        return CommandResult(Outcome.OFFLINE, description="not connected")


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[Store]]:
    """PROCESSES stores over one migrated database, each on an engine of its own (like separate processes)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
        # One after the other: the first migrates the new file, the others find it at head.
        sqlite_stores: list[Store] = [
            await open_store(DatabaseConfig(url=url), clock=clock) for _ in range(PROCESSES)
        ]
        try:
            yield sqlite_stores
        finally:
            await asyncio.gather(*(store.close() for store in sqlite_stores))
        return
    async with postgres_schema() as schema:  # the stores close before the schema is dropped
        engines = [schema_engine(schema) for _ in range(PROCESSES)]
        pg_stores: list[Store] = [SqlStore(engine, clock=clock) for engine in engines]
        try:
            await migrate(engines[0])
            yield pg_stores
        finally:
            await asyncio.gather(*(store.close() for store in pg_stores))


async def test_concurrent_expiry_expires_each_reservation_exactly_once(
    stores: list[Store], clock: FakeClock
) -> None:
    """Several services expiring at once: each due reservation is returned and logged by exactly one of
    them, ends expired, and the reservations not yet due stay active."""
    first = stores[0]
    due = [await first.add_reservation(reservation(f"CP{n}", expiry=at(-n))) for n in range(DUE)]
    later = await first.add_reservation(reservation("CP-later", expiry=at(60)))
    services = [ReservationService(store, CommandService(OfflineStations()), clock) for store in stores]
    with capture_logs() as logs:
        results = await asyncio.gather(*(service.expire_due() for service in services))
    returned = sorted(r.id for result in results for r in result)
    assert returned == sorted(r.id for r in due)
    logged = sorted(e["reservation_id"] for e in logs if e["event"] == "reservation_expired")
    assert logged == returned
    for r in due:
        stored = await first.get_reservation(r.id)
        assert stored is not None and stored.status is ReservationStatus.EXPIRED
    still = await first.get_reservation(later.id)
    assert still is not None and still.status is ReservationStatus.ACTIVE
