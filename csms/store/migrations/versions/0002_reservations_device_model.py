"""Reservations, the stations' reported device model (configuration) and installed charging profiles.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-02

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from tables.py (see 0001).
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("id_token", sa.String(64), nullable=False),
        sa.Column("id_token_type", sa.String(32), nullable=False),
        sa.Column("group_id_token", sa.String(64), nullable=True),
        sa.Column("connector_type", sa.String(32), nullable=True),
        sa.Column("expiry_date", _UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("station_status", sa.String(32), nullable=True),
        sa.Column("transaction_pk", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        # Never reuse the id of a deleted newest row: it is the reservationId stations see.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reservations_charge_point_id", "reservations", ["charge_point_id"])
    op.create_index("ix_reservations_status_expiry_date", "reservations", ["status", "expiry_date"])
    op.create_index("ix_reservations_owner_external_id", "reservations", ["owner", "external_id"])

    # '' / -1 stand for "none" in the key columns, so that the primary key also works as the upsert key.
    op.create_table(
        "device_variables",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("component_instance", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(64), nullable=False),
        sa.Column("variable_instance", sa.String(64), nullable=False),
        sa.Column("attribute_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        sa.Column("data_type", sa.String(32), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint(
            "charge_point_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            name="pk_device_variables",
        ),
    )

    op.create_table(
        "charging_profiles",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("transaction_pk", sa.Integer(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "profile_id", name="pk_charging_profiles"),
    )


def downgrade() -> None:
    op.drop_table("charging_profiles")
    op.drop_table("device_variables")
    op.drop_index("ix_reservations_owner_external_id", table_name="reservations")
    op.drop_index("ix_reservations_status_expiry_date", table_name="reservations")
    op.drop_index("ix_reservations_charge_point_id", table_name="reservations")
    op.drop_table("reservations")
