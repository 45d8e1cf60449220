"""Fixtures for the OCPI tests: `ocpi_store` on every backend (memory, SQLite file, PostgreSQL schema), a
plain `memory_ocpi_store` and a settable `clock` (fixed at T0).

PostgreSQL is `CSMS_TEST_POSTGRES_URL` (default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`); each
test gets a fresh schema, dropped afterwards. If the server is unreachable the PostgreSQL cases are skipped,
except under CI (env `CI` set), where they fail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from csms.config import DatabaseConfig
from csms.store.migrate import migrate
from csms.store.sql import make_engine, open_store
from ocpi.store import OcpiStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.store.conftest import PG_URL, T0, FakeClock, _asyncpg_dsn, _require_postgres

__all__ = ["T0", "FakeClock"]

OCPI_BACKENDS = ("memory", "sqlite", "postgresql")


@pytest.fixture
def clock() -> FakeClock:
    """A fixed clock at T0 that tests may advance."""
    return FakeClock()


@pytest.fixture
def memory_ocpi_store(clock: FakeClock) -> MemoryOcpiStore:
    """An empty in-memory OCPI store on the fixed `clock`."""
    return MemoryOcpiStore(clock=clock)


@pytest.fixture(params=OCPI_BACKENDS)
async def ocpi_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[OcpiStore]:
    """An empty OCPI store on each backend, with the fixed `clock`; SQL ones on a migrated CSMS database."""
    from ocpi.store.sql import SqlOcpiStore

    backend: str = request.param
    if backend == "memory":
        yield MemoryOcpiStore(clock=clock)
    elif backend == "sqlite":
        store = await open_store(
            DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"), clock=clock
        )
        try:
            yield SqlOcpiStore(store.engine, clock=clock)
        finally:
            await store.close()
    else:
        await _require_postgres()
        schema = f"t_{uuid.uuid4().hex}"
        admin = await asyncpg.connect(_asyncpg_dsn(), timeout=3)
        try:
            await admin.execute(f'CREATE SCHEMA "{schema}"')
            engine = make_engine(
                DatabaseConfig(url=PG_URL), connect_args={"server_settings": {"search_path": schema}}
            )
            try:
                await migrate(engine)
                yield SqlOcpiStore(engine, clock=clock)
            finally:
                await engine.dispose()
                await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await admin.close()
