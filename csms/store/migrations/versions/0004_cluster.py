"""Several processes or nodes on one database (ADR 0007): OCPI push outbox claims, which process is
delivering an entry (`claimed_by`) and until when (`claimed_until`), so that each push is delivered once;
and the OCPI START_SESSIONs waiting for their transaction (`ocpi_pending_starts`), so that the node the
station reports the transaction to links it to the partner's command.

Revision ID: 0004
Revises: 0003
Create Date: 2025-02-10

Hand-written to match `ocpi/store/tables.py` at this revision. No index on the claim: it is read only on
the pending rows that the (status, next_attempt_at) index already narrows down, and released by primary key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.store.migrations.ddl import Table, create_tables, drop_tables, times

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX = "ocpi_outbox"
_PENDING_STARTS = Table(
    "ocpi_pending_starts",
    [
        sa.Column("remote_start_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("cdr_token", sa.Text(), nullable=False),
        sa.Column("authorization_reference", sa.String(36), nullable=True),
        *times("until"),
    ],
    primary_key=["remote_start_id"],
    indexes=[["uid"]],
)


def upgrade() -> None:
    # Both nullable: existing entries are unclaimed, due for whichever process takes them first.
    op.add_column(_OUTBOX, sa.Column("claimed_by", sa.String(128), nullable=True))
    op.add_column(_OUTBOX, *times("claimed_until", nullable=True))
    create_tables([_PENDING_STARTS])


def downgrade() -> None:
    drop_tables([_PENDING_STARTS])
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 (the RETURNING the store needs is 3.35 too).
    op.drop_column(_OUTBOX, "claimed_until")
    op.drop_column(_OUTBOX, "claimed_by")
