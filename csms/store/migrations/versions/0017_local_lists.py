"""Per-station local authorization lists (issue 14, item 5; ADR 0016): `local_lists`, the version and
entries each station last accepted, the last SendLocalList status and when the last sync ended.

Revision ID: 0017_local_lists
Revises: 0016_energy_forecasts
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_local_lists"
down_revision: str | None = "0016_energy_forecasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_lists",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.charge_point_id"],
            name="fk_local_lists_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_local_lists_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_local_lists"),
    )
    op.create_index("ix_local_lists_org_id", "local_lists", ["org_id"])


def downgrade() -> None:
    op.drop_table("local_lists")
