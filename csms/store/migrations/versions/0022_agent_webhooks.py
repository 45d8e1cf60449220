"""Durable, signed client webhooks of the Agent API (ADR 0024): `agent_clients.webhook_secret` and the
outbox `agent_webhook_deliveries`.

Revision ID: 0022_agent_webhooks
Revises: 0021_ui_sessions
Create Date: 2026-12-05

Hand-written to match `ocpi/store/agent_tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_agent_webhooks"
down_revision: str | None = "0021_ui_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agent_clients", sa.Column("webhook_secret", sa.String(200), nullable=True))
    op.create_table(
        "agent_webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("booking_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_webhook_deliveries"),
        sa.UniqueConstraint("event_id", name="uq_agent_webhook_deliveries_event_id"),
    )
    op.create_index("ix_agent_webhook_deliveries_booking_id", "agent_webhook_deliveries", ["booking_id"])
    op.create_index(
        "ix_agent_webhook_deliveries_status_next", "agent_webhook_deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_agent_webhook_deliveries_status_next", table_name="agent_webhook_deliveries")
    op.drop_index("ix_agent_webhook_deliveries_booking_id", table_name="agent_webhook_deliveries")
    op.drop_table("agent_webhook_deliveries")
    op.drop_column("agent_clients", "webhook_secret")
