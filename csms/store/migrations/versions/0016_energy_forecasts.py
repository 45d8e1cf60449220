"""Energy-aware schedules (issue 16, items 2 and 3): `energy_forecasts` (a site's prices and carbon
intensity in use) and `ev_needs` (a session's stated energy need and departure).

Revision ID: 0016_energy_forecasts
Revises: 0015_site_limits
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_energy_forecasts"
down_revision: str | None = "0015_site_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "energy_forecasts",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("prices", sa.Text(), nullable=False),
        sa.Column("carbon", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("location_id", name="pk_energy_forecasts"),
    )
    op.create_table(
        "ev_needs",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=True),
        sa.Column("departure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("min_power_w", sa.Integer(), nullable=True),
        sa.Column("max_power_w", sa.Integer(), nullable=True),
        sa.Column("energy_transfer", sa.String(20), nullable=True),
        sa.Column("profile_type", sa.String(10), nullable=True),
        sa.Column("discharge_allowed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name="fk_ev_needs_transaction_id_transactions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_ev_needs"),
    )


def downgrade() -> None:
    op.drop_table("ev_needs")
    op.drop_table("energy_forecasts")
