"""The Alembic migrations produce exactly the schema of `csms/store/tables.py` and `ocpi/store/tables.py`
(one database, one metadata), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, inspect, text
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
        assert await conn.run_sync(_current) == head == "0022_agent_webhooks"


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


async def test_0004_creates_the_cluster_and_roaming_tables_and_downgrades_back(engine: AsyncEngine) -> None:
    """0004 creates ocpi_pending_starts (with evse_id), ocpi_command_promises, station_events,
    ocpi_token_pulls, ocpi_client_infos and id_token_aliases; 0003 again drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return set(inspect(connection).get_table_names())

    def pending_start_columns(connection: Connection) -> list[str]:
        return [column["name"] for column in inspect(connection).get_columns("ocpi_pending_starts")]

    new = {"ocpi_pending_starts", "ocpi_command_promises", "station_events", "ocpi_token_pulls",
           "ocpi_client_infos", "id_token_aliases"}  # fmt: skip
    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
    assert not new & at_0003
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "0004") == at_0003 | new
        assert "evse_id" in await conn.run_sync(pending_start_columns)
        assert await conn.run_sync(step, "0003", down=True) == at_0003


async def test_0004_takes_1_6_transaction_ids_out_and_puts_them_back(engine: AsyncEngine) -> None:
    """0004 takes 1.6 ids (equal to the row id, no seqNo) out of ocpp_transaction_id, leaving 2.0.1 ones;
    0003 again copies the 1.6 ids back."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return set(inspect(connection).get_table_names())

    def ids(connection: Connection) -> list[tuple[int, str | None]]:
        rows = connection.execute(text("SELECT id, ocpp_transaction_id FROM transactions ORDER BY id"))
        return [(int(r[0]), r[1]) for r in rows]

    insert = text(
        "INSERT INTO transactions (id, charge_point_id, evse_id, connector_id, ocpp_transaction_id, status,"
        " started_at, offline, updated_at, last_seq_no) VALUES (:id, 'CP', 1, 1, :tx, 'active',"
        " '2025-01-01 00:00:00+00:00', false, '2025-01-01 00:00:00+00:00', :seq)"
    )
    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
        await conn.execute(insert, [
            {"id": 1, "tx": "1", "seq": None},  # 1.6
            {"id": 2, "tx": "2", "seq": 0},  # 2.0.1, id equal to the row id by chance
            {"id": 3, "tx": "abc", "seq": 0},  # 2.0.1
        ])
    async with engine.begin() as conn:
        assert "station_events" in await conn.run_sync(step, "0004")
        assert await conn.run_sync(ids) == [(1, None), (2, "2"), (3, "abc")]
        assert await conn.run_sync(step, "0003", down=True) == at_0003
        assert await conn.run_sync(ids) == [(1, "1"), (2, "2"), (3, "abc")]


async def test_0004_adds_the_token_party_of_session_links_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0003 gains ocpi_session_links.token_country_code and token_party_id, filled in upper
    case from the cdr_token of the links already there (NULL without one), with their index; 0003 again
    drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> dict[str, Any]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        found = inspect(connection)
        return {
            "columns": [column["name"] for column in found.get_columns("ocpi_session_links")],
            "indexes": {index["name"] for index in found.get_indexes("ocpi_session_links")},
        }

    def add_links(connection: Connection) -> None:
        token = '{"country_code": "nl", "party_id": "ems", "uid": "A", "type": "RFID", "contract_id": "A"}'
        for session_id, cdr_token in (("1", token), ("2", None)):
            connection.execute(
                text(
                    "INSERT INTO ocpi_session_links (session_id, partner_id, auth_method, cdr_token, "
                    "last_updated) VALUES (:id, NULL, 'WHITELIST', :token, CURRENT_TIMESTAMP)"
                ),
                {"id": session_id, "token": cdr_token},
            )

    def parties(connection: Connection) -> list[Any]:
        query = "SELECT session_id, token_country_code, token_party_id FROM ocpi_session_links ORDER BY 1"
        return [tuple(row) for row in connection.execute(text(query))]

    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
        await conn.run_sync(add_links)
    assert "token_country_code" not in at_0003["columns"]
    async with engine.begin() as conn:
        at_head = await conn.run_sync(step, "0004")
        assert at_head["columns"] == [*at_0003["columns"], "token_country_code", "token_party_id"]
        assert "ix_ocpi_session_links_token_country_code_token_party_id" in at_head["indexes"]
        assert await conn.run_sync(parties) == [("1", "NL", "EMS"), ("2", None, None)]
        assert await conn.run_sync(step, "0003", down=True) == at_0003


async def test_0004_adds_the_signed_form_of_meter_samples_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0003 gains the nullable meter_samples.signed_data (samples already there have none);
    0003 again drops it."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> list[str]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return [column["name"] for column in inspect(connection).get_columns("meter_samples")]

    def add_sample(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO meter_samples (charge_point_id, evse_id, timestamp, measurand, unit, "
                "multiplier, signed, value) VALUES ('CP1', 1, CURRENT_TIMESTAMP, "
                "'Energy.Active.Import.Register', 'Wh', 0, :signed, '5')"
            ),
            {"signed": True},
        )

    async with engine.begin() as conn:
        at_0003 = await conn.run_sync(step, "0003")
        await conn.run_sync(add_sample)
    assert "signed_data" not in at_0003
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "0004") == [*at_0003, "signed_data"]
        stored = await conn.execute(text("SELECT signed, signed_data FROM meter_samples"))
        assert [tuple(row) for row in stored] == [(True, None)]
        assert await conn.run_sync(step, "0003", down=True) == at_0003


async def test_0004_adds_the_id_token_aliases_and_downgrades_back(engine: AsyncEngine) -> None:
    """0004 creates id_token_aliases (alias primary key, id_token unique); 0003 again drops it."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        config = alembic_config(connection)
        (command.downgrade if down else command.upgrade)(config, revision)
        return set(inspect(connection).get_table_names())

    def unique_keys(connection: Connection) -> list[list[str]]:
        found = inspect(connection)
        keys = [u["column_names"] for u in found.get_unique_constraints("id_token_aliases")]
        return [*keys, found.get_pk_constraint("id_token_aliases")["constrained_columns"]]

    async with engine.begin() as conn:
        before = await conn.run_sync(step, "0003")
    assert "id_token_aliases" not in before
    async with engine.begin() as conn:
        assert "id_token_aliases" in await conn.run_sync(step, "0004")
        assert sorted(await conn.run_sync(unique_keys)) == [["alias"], ["id_token"]]
        assert await conn.run_sync(step, "0003", down=True) == before


async def test_0005_adds_the_tariffs_of_locations_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0004 gains the nullable ocpi_locations.tariff_ids (locations already there have
    none: NULL); 0004 again drops it."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> list[str]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return [column["name"] for column in inspect(connection).get_columns("ocpi_locations")]

    def add_location(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO ocpi_locations (id, address, city, country, latitude, longitude, time_zone, "
                "country_code, party_id, publish, facilities, last_updated) VALUES ('L1', 'Main 1', "
                "'Utrecht', 'NLD', '52.09000', '5.12000', 'Europe/Amsterdam', 'NL', 'CPO', :publish, '[]', "
                "CURRENT_TIMESTAMP)"
            ),
            {"publish": True},
        )

    async with engine.begin() as conn:
        at_0004 = await conn.run_sync(step, "0004")
        await conn.run_sync(add_location)
    assert "tariff_ids" not in at_0004
    async with engine.begin() as conn:
        assert await conn.run_sync(step, "0005") == [*at_0004, "tariff_ids"]
        stored = await conn.execute(text("SELECT id, tariff_ids FROM ocpi_locations"))
        assert [tuple(row) for row in stored] == [("L1", None)]
        assert await conn.run_sync(step, "0004", down=True) == at_0004


async def test_0006_lets_a_transaction_have_several_cdrs_and_downgrades_back(engine: AsyncEngine) -> None:
    """0006 replaces the unique constraint on ocpi_cdrs.transaction_pk with a plain index (a correction's
    credit and replacement CDRs share the transaction; CDRs already there stay); 0005 again deletes the
    corrections' CDRs and brings the constraint back."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> None:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)

    def unique_keys(connection: Connection) -> list[list[str]]:
        return [list(u["column_names"]) for u in inspect(connection).get_unique_constraints("ocpi_cdrs")]

    def indexes(connection: Connection) -> dict[str, bool]:
        return {str(i["name"]): bool(i["unique"]) for i in inspect(connection).get_indexes("ocpi_cdrs")}

    def add_cdr(connection: Connection, cdr_id: str) -> None:
        connection.execute(
            text(
                "INSERT INTO ocpi_cdrs (id, transaction_pk, data, total_cost_excl_vat, last_updated) "
                "VALUES (:id, 42, '{}', '1', CURRENT_TIMESTAMP)"
            ),
            {"id": cdr_id},
        )

    def ids(connection: Connection) -> list[str]:
        return sorted(row[0] for row in connection.execute(text("SELECT id FROM ocpi_cdrs")))

    async with engine.begin() as conn:
        await conn.run_sync(step, "0005")
        assert await conn.run_sync(unique_keys) == [["transaction_pk"]]
        await conn.run_sync(add_cdr, "42")
    async with engine.begin() as conn:
        await conn.run_sync(step, "0006_cdr_credits")
        assert await conn.run_sync(unique_keys) == []
        assert (await conn.run_sync(indexes))["ix_ocpi_cdrs_transaction_pk"] is False
        await conn.run_sync(add_cdr, "42-C")
        await conn.run_sync(add_cdr, "42-R1")
        assert await conn.run_sync(ids) == ["42", "42-C", "42-R1"]
    async with engine.begin() as conn:
        await conn.run_sync(step, "0005", down=True)
        assert await conn.run_sync(unique_keys) == [["transaction_pk"]]
        assert await conn.run_sync(ids) == ["42"]


async def test_0007_creates_the_webhook_tables_and_downgrades_back(engine: AsyncEngine) -> None:
    """A database at 0006 gains `webhooks` and `webhook_deliveries`; 0006 again drops them."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return set(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        before = await conn.run_sync(step, "0006_cdr_credits")
        after = await conn.run_sync(step, "0007_webhooks")
        assert after - before == {"webhooks", "webhook_deliveries"}
        assert await conn.run_sync(step, "0006_cdr_credits", down=True) == before


async def test_0008_puts_existing_api_keys_in_the_default_organization_and_downgrades_back(
    engine: AsyncEngine,
) -> None:
    """A key made at 0007 belongs to the default organization, which 0008 creates; 0007 again drops the
    organization tables and the column."""

    def step(connection: Connection, revision: str, *, down: bool = False) -> set[str]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return set(inspect(connection).get_table_names())

    async with engine.begin() as conn:
        at_0005 = await conn.run_sync(step, "0007_webhooks")
        await conn.execute(
            text(
                "INSERT INTO api_keys (name, prefix, key_hash, role, created_at)"
                " VALUES ('old', 'abcdabcd', 'h', 'admin', '2025-01-01 00:00:00+00:00')"
            )
        )
    async with engine.begin() as conn:
        new = {"organizations", "users", "memberships", "user_sessions", "invitations"}
        assert await conn.run_sync(step, "0008_organizations") == at_0005 | new
        keys = (await conn.execute(text("SELECT prefix, org_id FROM api_keys"))).all()
        assert [tuple(k) for k in keys] == [("abcdabcd", "default")]
        orgs = (await conn.execute(text("SELECT id, country FROM organizations"))).all()
        assert [tuple(o) for o in orgs] == [("default", "NL")]
        assert await conn.run_sync(step, "0007_webhooks", down=True) == at_0005


async def test_0009_puts_existing_rows_in_the_default_organization_and_downgrades_back(
    engine: AsyncEngine,
) -> None:
    """A database at 0008 gains a NOT NULL `org_id` on every owned table, existing rows reading "default";
    0008 again drops it (api_keys got theirs in 0008)."""
    owned = (
        "charge_points", "id_tokens", "transactions", "reservations",
        "ocpi_partners", "ocpi_locations", "ocpi_tariffs", "ocpi_cdrs",
    )

    def step(connection: Connection, revision: str, *, down: bool = False) -> dict[str, list[str]]:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
        return {t: [c["name"] for c in inspect(connection).get_columns(t)] for t in owned}

    def add_rows(connection: Connection) -> None:
        connection.execute(
            text(
                "INSERT INTO charge_points (charge_point_id, registration_status, created_at, updated_at) "
                "VALUES ('CP1', 'Accepted', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )

    async with engine.begin() as conn:
        at_0008 = await conn.run_sync(step, "0008_organizations")
        await conn.run_sync(add_rows)
    assert all("org_id" not in columns for columns in at_0008.values())
    async with engine.begin() as conn:
        at_0009 = await conn.run_sync(step, "0009_tenancy")
        assert at_0009 == {t: [*columns, "org_id"] for t, columns in at_0008.items()}
        stored = await conn.execute(text("SELECT charge_point_id, org_id FROM charge_points"))
        assert [tuple(row) for row in stored] == [("CP1", "default")]
        assert await conn.run_sync(step, "0008_organizations", down=True) == at_0008
