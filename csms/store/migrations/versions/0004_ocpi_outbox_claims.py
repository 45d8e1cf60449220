"""OCPI push outbox claims: which process is delivering an entry (`claimed_by`) and until when
(`claimed_until`), so that several processes or nodes on one database deliver each push once.

Revision ID: 0004
Revises: 0003
Create Date: 2025-02-10

Hand-written to match `ocpi/store/tables.py` at this revision. No index: the claim is read only on the
pending rows that the (status, next_attempt_at) index already narrows down, and released by primary key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.store.migrations.ddl import times

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "ocpi_outbox"


def upgrade() -> None:
    # Both nullable: existing entries are unclaimed, due for whichever process takes them first.
    op.add_column(_TABLE, sa.Column("claimed_by", sa.String(128), nullable=True))
    op.add_column(_TABLE, *times("claimed_until", nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 (the RETURNING the store needs is 3.35 too).
    op.drop_column(_TABLE, "claimed_until")
    op.drop_column(_TABLE, "claimed_by")
