"""The async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg), set up for this store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from csms.config import DatabaseConfig


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets API reads run while the writer commits; NORMAL is durable across application crashes in WAL
    # mode (only an OS crash can lose the last commits); busy_timeout makes a second writer wait instead of
    # failing at once; SQLite enforces foreign keys only when asked, per connection.
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=5000",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(config: DatabaseConfig, **engine_options: Any) -> AsyncEngine:
    """Create the async engine for `config.url`, set up for SQLite or PostgreSQL (does not migrate).

    For a SQLite file the parent directory is created (the path in `sqlite+aiosqlite:///var/csms.db` is
    relative to the working directory) and each connection gets WAL, synchronous=NORMAL, a 5 s busy
    timeout and foreign keys on. `sqlite+aiosqlite:///:memory:` uses one shared connection
    (StaticPool) so every session sees the same database; that suits tests, not concurrent production use.

    Args:
        config: the `[database]` section.
        **engine_options: passed on to `create_async_engine` (e.g. `connect_args`), overriding ours.

    Returns:
        The engine; `open_store` migrates it and wraps it in a `SqlStore`.
    """
    url = make_url(config.url)
    options: dict[str, Any] = {"echo": config.echo}
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ":memory:"
        if database == ":memory:":
            options["poolclass"] = StaticPool
        elif not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        # A restarted server leaves dead pooled connections behind; test each one before use.
        options["pool_pre_ping"] = True
    options.update(engine_options)
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine
