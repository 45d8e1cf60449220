"""Security profiles (issue 14, item 1): `charge_points.security_profile` (1, 2 or 3; existing rows 1).

Revision ID: 0011_security_profiles
Revises: 0010_portal
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_security_profiles"
down_revision: str | None = "0010_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; every station registered so far keeps security profile 1 (Basic auth, ws://)."""
    op.add_column(
        "charge_points", sa.Column("security_profile", sa.SmallInteger(), nullable=False, server_default="1")
    )


def downgrade() -> None:
    """Drop the column (stations fall back to profile 1 behaviour)."""
    with op.batch_alter_table("charge_points") as batch:
        batch.drop_column("security_profile")
