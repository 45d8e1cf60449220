"""What the hand-written revisions share: column groups, and a table described once for upgrade and downgrade.

Frozen like the revisions that use it: deployed databases have already run them, so a helper here must keep
creating exactly what it creates today. A later revision that needs something else gets a new helper (or
spells it out), never an edit of an existing one. Deliberately independent of `tables.py` for the same
reason: a revision describes the schema as it was when it was written.

Constraint and index names follow `tables.NAMING_CONVENTION` as it stood at 0001 (and must keep doing so):
`pk_<table>`, `uq_<table>_<columns>`, `fk_<table>_<column>_<referred table>`, `ix_<table>_<columns>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op

# Every timestamp is timezone-aware (timestamptz on PostgreSQL).
UTC = sa.DateTime(timezone=True)


def big_pk() -> sa.types.TypeEngine[int]:
    # BIGINT (BIGSERIAL) on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def serial_id(*, big: bool = False) -> sa.Column[Any]:
    """The autoincrementing `id` column; `big` for the high-volume append-only tables."""
    return sa.Column("id", big_pk() if big else sa.Integer(), autoincrement=True, nullable=False)


def times(*names: str, nullable: bool = False) -> list[sa.Column[Any]]:
    """UTC timestamp columns."""
    return [sa.Column(name, UTC, nullable=nullable) for name in names]


def evse_address(*, connector: bool = True) -> list[sa.Column[Any]]:
    """charge_point_id, evse_id and (with `connector`) connector_id, all required."""
    columns: list[sa.Column[Any]] = [
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
    ]
    if connector:
        columns.append(sa.Column("connector_id", sa.Integer(), nullable=False))
    return columns


def status_report(detail: str) -> list[sa.Column[Any]]:
    """A connector status as StatusNotification reports it; `detail` names the free-text detail column."""
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(detail, sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        *(
            sa.Column(name, sa.String(255), nullable=True)
            for name in ("info", "vendor_id", "vendor_error_code")
        ),
    ]


@dataclass
class Table:
    """One table a revision creates: columns, named constraints and indexes, created and dropped as one.

    Args:
        name: the table name.
        columns: its columns in order (build them anew for each upgrade: a Column belongs to one table).
        primary_key: the primary key columns (`pk_<name>`).
        unique: unique constraints, each a column list.
        foreign_keys: column -> "referred_table.column", every one ON DELETE CASCADE.
        indexes: column lists of the plain indexes, in creation order.
        unique_indexes: column lists of the unique indexes, created before the plain ones.
        options: `op.create_table` keyword options (e.g. `sqlite_autoincrement`).
    """

    name: str
    columns: Sequence[sa.Column[Any]]
    primary_key: Sequence[str] = ("id",)
    unique: Sequence[Sequence[str]] = ()
    foreign_keys: Mapping[str, str] = field(default_factory=dict)
    indexes: Sequence[Sequence[str]] = ()
    unique_indexes: Sequence[Sequence[str]] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    def _index_names(self) -> list[tuple[str, Sequence[str], bool]]:
        named = [(cols, True) for cols in self.unique_indexes] + [(cols, False) for cols in self.indexes]
        return [(f"ix_{self.name}_{'_'.join(cols)}", cols, is_unique) for cols, is_unique in named]

    def create(self) -> None:
        """CREATE TABLE with its constraints, then CREATE INDEX for each index."""
        constraints: list[sa.Constraint] = [
            sa.PrimaryKeyConstraint(*self.primary_key, name=f"pk_{self.name}"),
            *(sa.UniqueConstraint(*cols, name=f"uq_{self.name}_{'_'.join(cols)}") for cols in self.unique),
        ]
        for column, referred in self.foreign_keys.items():
            constraints.append(
                sa.ForeignKeyConstraint(
                    [column],
                    [referred],
                    name=f"fk_{self.name}_{column}_{referred.split('.')[0]}",
                    ondelete="CASCADE",
                )
            )
        op.create_table(self.name, *self.columns, *constraints, **self.options)
        for index, cols, is_unique in self._index_names():
            op.create_index(index, self.name, list(cols), unique=is_unique)

    def drop(self) -> None:
        """DROP INDEX for each index, newest first, then DROP TABLE."""
        for index, _, _ in reversed(self._index_names()):
            op.drop_index(index, table_name=self.name)
        op.drop_table(self.name)


def create_tables(tables: Sequence[Table]) -> None:
    """Create the tables in order."""
    for table in tables:
        table.create()


def drop_tables(tables: Sequence[Table]) -> None:
    """Drop the tables in reverse order (referring tables before the tables they refer to)."""
    for table in reversed(tables):
        table.drop()
