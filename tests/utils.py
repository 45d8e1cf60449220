"""Shared test helpers: a time unit scaled for slow machines (as websockets' tests/utils.py does)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

# One "millisecond" of test time; CSMS_TEST_TIMEOUT_FACTOR=4 gives a slow machine four times longer.
MS = 0.001 * float(os.environ.get("CSMS_TEST_TIMEOUT_FACTOR", "1"))
#: Multiplies every fuzz suite's example count (ADR 0017): 1 in `make test`; e.g. 20 with
#: HYPOTHESIS_PROFILE=explore for a long local bug hunt.
FUZZ_SCALE = int(os.environ.get("CSMS_FUZZ_SCALE", "1"))


async def until(predicate: Callable[[], bool], timeout: float = 5000 * MS) -> None:  # noqa: ASYNC109
    """Wait until `predicate()` holds, polling: for conditions that no event announces (a flag of the code
    under test). Raises TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(MS)


async def until_async(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 5000 * MS  # noqa: ASYNC109
) -> None:
    """`until` for a condition read asynchronously (from a store), polled every 10 ms."""
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(10 * MS)


REDIS_URL = os.environ.get("CSMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_redis_error: list[str | None] = []  # cached result of the first reachability check: [None] or [message]


async def require_redis() -> None:
    """Skip the calling test when Redis cannot be reached; under CI (env `CI` set) fail instead: the
    cluster tests must run there."""
    import pytest
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    if not _redis_error:
        client = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            _redis_error.append(f"Redis at {REDIS_URL} unreachable: {exc!r}")
        else:
            _redis_error.append(None)
        finally:
            await client.aclose()
    if _redis_error[0] is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{_redis_error[0]} (CI is set: the cluster tests must run)")
        pytest.skip(_redis_error[0])


POSTGRES_URL = os.environ.get("CSMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def asyncpg_dsn(url: str = POSTGRES_URL) -> str:
    """A SQLAlchemy `postgresql+asyncpg://` URL as a plain DSN for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards; yields its SQLAlchemy URL.
    Skips when PostgreSQL is unreachable, fails instead under CI (env `CI` set)."""
    import asyncpg
    import pytest

    try:
        admin = await asyncpg.connect(asyncpg_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {POSTGRES_URL} unreachable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    name = f"csms_t_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
