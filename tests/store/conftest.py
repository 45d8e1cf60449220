"""Fixtures for the store tests: one `store` per backend (memory, SQLite file, PostgreSQL schema) and a clock.

PostgreSQL is `CSMS_TEST_POSTGRES_URL` (default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`); each
test gets a fresh schema, dropped afterwards. If the server is unreachable the PostgreSQL cases are skipped,
except under CI (env `CI` set), where they fail: CI must test the production database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import DatabaseConfig
from csms.domain.ports import Store
from csms.store.migrate import migrate
from csms.store.sql import SqlStore, make_engine, open_store
from tests.fakes.memory_store import MemoryStore

# Time unit for waits and timeouts; slow machines set CSMS_TEST_TIMEOUT_FACTOR (websockets tests/utils.py).
MS = 0.001 * float(os.environ.get("CSMS_TEST_TIMEOUT_FACTOR", "1"))

PG_URL = os.environ.get("CSMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BACKENDS = ("memory", "sqlite", "postgresql")

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

_pg_error: list[str | None] = []  # cached result of the first reachability check: [None] or [message]


class FakeClock:
    """A settable clock: returns `now` until a test moves it with `advance`."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def ms() -> float:
    """The time unit for waits in tests (seconds per millisecond, scaled for slow machines)."""
    return MS


@pytest.fixture
def clock() -> FakeClock:
    """A fixed clock at T0 that tests may advance."""
    return FakeClock()


def _asyncpg_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _require_postgres() -> None:
    """Skip (or under CI, fail) the calling test when PostgreSQL cannot be reached."""
    if not _pg_error:
        try:
            conn = await asyncpg.connect(_asyncpg_dsn(), timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            _pg_error.append(f"PostgreSQL at {PG_URL} unreachable: {exc!r}")
        else:
            await conn.close()
            _pg_error.append(None)
    if _pg_error[0] is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{_pg_error[0]} (CI is set: PostgreSQL tests must run)")
        pytest.skip(_pg_error[0])


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL schema, dropped on exit; skips (or under CI fails) the calling test when
    PostgreSQL cannot be reached. `schema_engine` opens engines on it (one per simulated process)."""
    await _require_postgres()
    schema = f"t_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(_asyncpg_dsn(), timeout=3)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield schema
        finally:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()


def schema_engine(schema: str) -> AsyncEngine:
    """An engine (not migrated) whose search_path is `schema`; the caller disposes of it."""
    return make_engine(DatabaseConfig(url=PG_URL), connect_args={"server_settings": {"search_path": schema}})


@pytest.fixture
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    """An engine (not migrated) whose search_path is a fresh, empty schema, dropped after the test."""
    async with postgres_schema() as schema:
        engine = schema_engine(schema)
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine (not migrated) on a new SQLite file under tmp_path."""
    engine = make_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """An unmigrated engine on each SQL backend."""
    name = "pg_engine" if request.param == "postgresql" else "sqlite_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return engine


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the store backend under test."""
    name: str = request.param
    if name == "postgresql":
        # Resolved here, in a sync fixture: an async fixture cannot start another one mid-setup.
        request.getfixturevalue("pg_engine")
    return name


@pytest.fixture
async def store(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Store]:
    """An empty, migrated store on each backend, with the fixed `clock`."""
    result: Store
    if backend == "memory":
        result = MemoryStore(clock=clock)
    elif backend == "sqlite":
        # A subdirectory that does not exist yet: open_store must create it.
        url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'csms.db'}"
        result = await open_store(DatabaseConfig(url=url), clock=clock)
    else:
        engine: AsyncEngine = request.getfixturevalue("pg_engine")  # already set up by `backend`
        await migrate(engine)
        result = SqlStore(engine, clock=clock)
    try:
        yield result
    finally:
        await result.close()
