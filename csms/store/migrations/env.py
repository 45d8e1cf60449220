"""Alembic environment for the CSMS schema; run through `csms.store.migrate`, not the `alembic` command.

`csms.store.migrate.migrate(engine)` opens an async connection, switches to its sync facade with
`run_sync` and puts it in `config.attributes["connection"]`; this module then migrates on that connection
inside the caller's transaction. Without a connection (a developer running `alembic` with
`-x url=...` or `sqlalchemy.url` set, e.g. for `revision --autogenerate`), it opens its own async engine.
Offline mode (`--sql`) renders the SQL for the URL's dialect instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

# The Alembic environment is the schema's composition root (a script, not a package module): one database
# holds both packages' tables, and autogenerate must see them all.
import ocpi.store.tables  # noqa: F401
from csms.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no database connection: call csms.store.migrate.migrate(engine), or pass -x url=... to alembic"
        )
    return url


async def _run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Emit the migration SQL for the configured URL's dialect without connecting."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the connection handed over by `migrate`, or on a new engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
    else:
        asyncio.run(_run_with_own_engine(_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
