"""The booking Agent API (issue 13, item 2; ADR 0024): `agent_clients`, `agent_bookings`, `agent_usage`.

Revision ID: 0020_agent
Revises: 0019_emsp
Create Date: 2026-12-04

Hand-written to match `ocpi/store/agent_tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_agent"
down_revision: str | None = "0019_emsp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(100), nullable=False),
        sa.Column("reservation_fee", sa.Numeric(12, 4), nullable=False),
        sa.Column("commission_percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("monthly_quota", sa.Integer(), nullable=True),
        sa.Column("webhook_url", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_clients"),
        sa.UniqueConstraint("key_prefix", name="uq_agent_clients_key_prefix"),
    )
    op.create_table(
        "agent_bookings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("cpo_id", sa.Integer(), nullable=False),
        sa.Column("cpo_party_id", sa.String(3), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.Column("evse_uid", sa.String(36), nullable=False),
        sa.Column("driver_token", sa.String(36), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_bookings"),
    )
    op.create_index("ix_agent_bookings_client_status", "agent_bookings", ["client_id", "status"])
    op.create_index("ix_agent_bookings_status", "agent_bookings", ["status"])
    op.create_index("ix_agent_bookings_command_id", "agent_bookings", ["command_id"])
    op.create_table(
        "agent_usage",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "month", name="pk_agent_usage"),
    )


def downgrade() -> None:
    op.drop_table("agent_usage")
    op.drop_index("ix_agent_bookings_command_id", table_name="agent_bookings")
    op.drop_index("ix_agent_bookings_status", table_name="agent_bookings")
    op.drop_index("ix_agent_bookings_client_status", table_name="agent_bookings")
    op.drop_table("agent_bookings")
    op.drop_table("agent_clients")
