"""Site power limits (issue 16, item 1): `site_limits`, one row per organization and location.

Revision ID: 0015_site_limits
Revises: 0013_station_certificates
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_site_limits"
down_revision: str | None = "0013_station_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_limits",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("max_power_w", sa.Integer(), nullable=True),
        sa.Column("max_current_a", sa.String(16), nullable=True),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("min_current_a", sa.String(16), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "location_id", name="pk_site_limits"),
    )


def downgrade() -> None:
    op.drop_table("site_limits")
