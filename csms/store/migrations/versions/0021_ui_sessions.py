"""Dashboard sign-out across processes (issue 15, item 5): `ui_signed_out` (digests of dashboard session
cookies signed out before their expiry, so every worker and node refuses them).

Revision ID: 0021_ui_sessions
Revises: 0020_agent
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_ui_sessions"
down_revision: str | None = "0020_agent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ui_signed_out",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_ui_signed_out"),
    )
    op.create_index("ix_ui_signed_out_expires_at", "ui_signed_out", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ui_signed_out_expires_at", table_name="ui_signed_out")
    op.drop_table("ui_signed_out")
