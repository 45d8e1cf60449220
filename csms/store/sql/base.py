"""What every aggregate of the SQL store shares: the engine and session factory, the dialect's upsert, the
core tables of the bulk statements, and keyset paging (limits and newest-first id cursors) written once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from csms.domain.clock import Clock, to_utc_or_none, utcnow
from csms.store.tables import Base

# Core tables for bulk statements (executemany with plain dicts, no ORM objects).
CHARGE_POINTS: Table = Base.metadata.tables["charge_points"]
CONNECTORS: Table = Base.metadata.tables["connectors"]
STATUS_HISTORY: Table = Base.metadata.tables["status_history"]
TRANSACTIONS: Table = Base.metadata.tables["transactions"]
TRANSACTION_EVENTS: Table = Base.metadata.tables["transaction_events"]
METER_SAMPLES: Table = Base.metadata.tables["meter_samples"]
MESSAGE_LOG: Table = Base.metadata.tables["message_log"]
ID_TOKENS: Table = Base.metadata.tables["id_tokens"]
RESERVATIONS: Table = Base.metadata.tables["reservations"]
DEVICE_VARIABLES: Table = Base.metadata.tables["device_variables"]
CHARGING_PROFILES: Table = Base.metadata.tables["charging_profiles"]

# Bound parameters per IN (...) list when checking which ids of a batch exist: far below SQLite's and
# asyncpg's parameter limits (32766 / 32767).
IN_CHUNK = 500

utc = to_utc_or_none


def dialect_insert(engine: AsyncEngine) -> Any:
    """The dialect's `insert()` (SQLite or PostgreSQL); both have on_conflict_do_update/do_nothing with the
    same signature, which is what every upsert of the stores uses.

    Raises:
        ValueError: another dialect.
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database dialect {dialect!r} (SQLite or PostgreSQL)")
    return sqlite_insert if dialect == "sqlite" else pg_insert


def rowcount(result: Result[Any]) -> int:
    """Rows a DML statement touched (DML results are CursorResults; the async API types them as Result)."""
    return cast(CursorResult[Any], result).rowcount


def page_limit(limit: int) -> int:
    """`limit` of a list method, checked (at least 1)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return limit


def id_cursor(cursor: str | None) -> int | None:
    """Decode a newest-first cursor (the str of the last id returned); ValueError for one we did not hand
    out."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None


async def existing_values(session: AsyncSession, column: Any, values: Iterable[Any]) -> set[Any]:
    """Return the subset of `values` present in `column` (one SELECT per chunk of ids)."""
    wanted = list(values)
    found: set[Any] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        result = await session.scalars(select(column).where(column.in_(wanted[start : start + IN_CHUNK])))
        found.update(result)
    return found


class SqlBase:
    """The engine, session factory, clock and dialect insert every aggregate's methods use.

    Args:
        engine: an engine whose database `migrate` has brought to head; the store owns it from now on and
            disposes of it in `close`.
        clock: source of `created_at`/`updated_at`/`received_at`; tests pass a fixed one.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._insert = dialect_insert(engine)

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for health checks and tests; do not dispose of it directly (use `close`)."""
        return self._engine

    async def close(self) -> None:
        """Dispose of the engine's connections; stop the `BatchedWriter` first so nothing is lost."""
        await self._engine.dispose()
