"""The Alembic migrations produce exactly the schema of `csms/store/tables.py` and `ocpi/store/tables.py`
(one database, one metadata), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

import ocpi.store.tables  # noqa: F401 - declares the OCPI tables on the same metadata
from csms.store.migrate import MIGRATIONS_DIR, alembic_config, migrate
from csms.store.tables import Base


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrated_schema_matches_table_metadata(engine: AsyncEngine) -> None:
    """After migrate, autogenerate finds no difference between the database and tables.py."""
    await migrate(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff, Base.metadata) == []


async def test_schema_comparison_detects_a_difference(engine: AsyncEngine) -> None:
    """The comparison is not vacuous: a column missing from the migrations shows up as a difference."""
    await migrate(engine)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["api_keys"].append_column(Column("extra", Integer))
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff, changed)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "extra")]


async def test_migrate_is_idempotent_and_reaches_head(engine: AsyncEngine) -> None:
    """Running migrate twice is harmless and leaves the database at the newest revision."""
    await migrate(engine)
    await migrate(engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        assert await conn.run_sync(_current) == head == "0007"


async def test_downgrade_to_base_removes_every_table(engine: AsyncEngine) -> None:
    """Downgrading to base drops everything its upgrade created."""
    await migrate(engine)

    def downgrade(connection: Connection) -> list[str]:
        command.downgrade(alembic_config(connection), "base")
        return sorted(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        assert await conn.run_sync(downgrade) == ["alembic_version"]


def test_migration_files_ship_inside_the_package() -> None:
    """env.py, the revision template and the revisions live next to migrate.py (package data)."""
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_reservations_device_model.py").is_file()


async def test_0002_upgrades_a_0001_database_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0001 gains the reservation, device model and profile tables; 0001 again drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> list[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return sorted(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        at_0001 = await conn.run_sync(step, "0001")
    assert "reservations" not in at_0001 and "charge_points" in at_0001
    await migrate(engine)
    async with engine.begin() as conn:
        at_head = set(await conn.run_sync(step, "head"))
        assert {"reservations", "device_variables", "charging_profiles"} <= at_head
        assert await conn.run_sync(step, "0001", down=True) == at_0001


async def test_0004_adds_the_outbox_claim_columns_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0003 gains ocpi_outbox.claimed_by and claimed_until (nullable: existing entries are
    unclaimed); 0003 again drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> list[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return [column["name"] for column in inspect(connection).get_columns("ocpi_outbox")]

    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
    assert "claimed_by" not in at_0003
    await migrate(engine)
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "head") == [*at_0003, "claimed_by", "claimed_until"]
        assert await conn.run_sync(step, "0003", down=True) == at_0003


async def test_0004_adds_the_pending_starts_table_and_downgrades_back(engine: AsyncEngine) -> None:
    """0004 also creates ocpi_pending_starts (with its uid index); 0003 again drops it."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return set(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
    assert "ocpi_pending_starts" not in at_0003
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "0004") == {*at_0003, "ocpi_pending_starts"}
        assert await conn.run_sync(step, "0003", down=True) == at_0003


async def test_0007_adds_token_pulls_and_client_infos_and_downgrades_back(engine: AsyncEngine) -> None:
    """0007 creates ocpi_token_pulls (last token pull per partner) and ocpi_client_infos (HubClientInfo) on a
    database at 0004; 0004 again drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return set(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        at_0004 = await conn.run_sync(step, "0004")
    assert "ocpi_token_pulls" not in at_0004 and "ocpi_client_infos" not in at_0004
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "0007") == {*at_0004, "ocpi_token_pulls", "ocpi_client_infos"}
        assert await conn.run_sync(step, "0004", down=True) == at_0004
