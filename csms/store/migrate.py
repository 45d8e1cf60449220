"""Bring a database to the newest schema with the Alembic migrations shipped inside the package.

No `alembic.ini` is involved: the Alembic configuration is built in code and points at
`csms/store/migrations/`, so an installed CSMS migrates its own database at start-up (`open_store` does it).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# PostgreSQL advisory lock key held while migrating: processes starting together (the workers of
# `[server] workers`, several nodes) migrate one after another, the later ones finding the schema at head.
MIGRATION_LOCK_KEY = 0x637336D5  # arbitrary, fixed


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic `Config` for the packaged migrations.

    Args:
        connection: a sync connection (an `AsyncConnection`'s facade inside `run_sync`); `env.py` migrates
            on it, inside its transaction. Without one, `env.py` needs `sqlalchemy.url` set on the config.

    Returns:
        A config usable with `alembic.command` (`upgrade`, `current`, `revision --autogenerate`, ...).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Run `alembic upgrade head` on `engine` in one transaction; a no-op when already at head.

    Works on SQLite and PostgreSQL. On PostgreSQL the DDL is transactional, so a failed migration leaves the
    schema as it was, and a transaction-scoped advisory lock makes concurrent callers take turns; SQLite's
    driver commits DDL as it goes.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a migration step.
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.run_sync(_upgrade_head)
