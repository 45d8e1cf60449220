"""Reservations, the stations' reported device model (configuration) and installed charging profiles.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-02

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import Table, create_tables, drop_tables, serial_id, times

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from tables.py (see 0001).


# Everything that identifies a reported value: station, component, EVSE, connector, variable, attribute.
_DEVICE_VARIABLE_KEY = (
    "charge_point_id",
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)


def _tables() -> list[Table]:
    return [
        Table(
            "reservations",
            [
                serial_id(),
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("evse_id", sa.Integer(), nullable=True),
                sa.Column("id_token", sa.String(64), nullable=False),
                sa.Column("id_token_type", sa.String(32), nullable=False),
                sa.Column("group_id_token", sa.String(64), nullable=True),
                sa.Column("connector_type", sa.String(32), nullable=True),
                *times("expiry_date"),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("station_status", sa.String(32), nullable=True),
                sa.Column("transaction_pk", sa.Integer(), nullable=True),
                sa.Column("external_id", sa.String(64), nullable=True),
                sa.Column("owner", sa.String(64), nullable=True),
                sa.Column("reason", sa.String(255), nullable=True),
                *times("created_at", "updated_at"),
            ],
            indexes=[["charge_point_id"], ["status", "expiry_date"], ["owner", "external_id"]],
            # Never reuse the id of a deleted newest row: it is the reservationId stations see.
            options={"sqlite_autoincrement": True},
        ),
        # '' / -1 stand for "none" in the key columns, so that the primary key also works as the upsert key.
        Table(
            "device_variables",
            [
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                *(
                    sa.Column(name, sa.String(64), nullable=False)
                    for name in ("component", "component_instance")
                ),
                sa.Column("evse_id", sa.Integer(), nullable=False),
                sa.Column("connector_id", sa.Integer(), nullable=False),
                *(
                    sa.Column(name, sa.String(64), nullable=False)
                    for name in ("variable", "variable_instance")
                ),
                sa.Column("attribute_type", sa.String(16), nullable=False),
                sa.Column("value", sa.Text(), nullable=True),
                sa.Column("readonly", sa.Boolean(), nullable=False),
                sa.Column("data_type", sa.String(32), nullable=True),
                *times("updated_at"),
            ],
            primary_key=_DEVICE_VARIABLE_KEY,
        ),
        Table(
            "charging_profiles",
            [
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("profile_id", sa.Integer(), nullable=False),
                sa.Column("evse_id", sa.Integer(), nullable=False),
                sa.Column("purpose", sa.String(64), nullable=False),
                sa.Column("stack_level", sa.Integer(), nullable=False),
                sa.Column("profile", sa.Text(), nullable=False),
                sa.Column("transaction_pk", sa.Integer(), nullable=True),
                *times("created_at"),
            ],
            primary_key=["charge_point_id", "profile_id"],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
