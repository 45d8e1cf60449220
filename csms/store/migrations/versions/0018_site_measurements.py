"""Solar surplus (issue 16, item 4): `site_measurements` (a site's latest PV production and own
consumption) and `session_solar_modes` (a session's solar mode).

Revision ID: 0018_site_measurements
Revises: 0017_local_lists
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_site_measurements"
down_revision: str | None = "0017_local_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_measurements",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("production_w", sa.Integer(), nullable=False),
        sa.Column("consumption_w", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "location_id", name="pk_site_measurements"),
    )
    op.create_table(
        "session_solar_modes",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_session_solar_modes"),
    )


def downgrade() -> None:
    op.drop_table("session_solar_modes")
    op.drop_table("site_measurements")
