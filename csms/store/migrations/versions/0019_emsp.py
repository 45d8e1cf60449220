"""The eMSP role (issue 13, item 1; ADR 0023): `emsp_cpos`, `emsp_objects` and `emsp_commands`.

Revision ID: 0019_emsp
Revises: 0018_site_measurements
Create Date: 2026-12-04

Hand-written to match `ocpi/store/emsp_tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_emsp"
down_revision: str | None = "0018_site_measurements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emsp_cpos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("versions_url", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("token_b_hash", sa.String(64), nullable=True),
        sa.Column("token_c", sa.String(64), nullable=True),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("endpoints", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("max_reservation_minutes", sa.Integer(), nullable=False),
        sa.Column("cancellation_fee", sa.Numeric(12, 4), nullable=False),
        sa.Column("locations_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tariffs_pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_emsp_cpos"),
    )
    op.create_table(
        "emsp_objects",
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Numeric(10, 7), nullable=True),
        sa.Column("longitude", sa.Numeric(10, 7), nullable=True),
        sa.PrimaryKeyConstraint("cpo_id", "kind", "object_id", name="pk_emsp_objects"),
    )
    op.create_table(
        "emsp_commands",
        sa.Column("command_id", sa.String(36), nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(32), nullable=True),
        sa.Column("reservation_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("command_id", name="pk_emsp_commands"),
    )


def downgrade() -> None:
    op.drop_table("emsp_commands")
    op.drop_table("emsp_objects")
    op.drop_table("emsp_cpos")
