"""OCPI command state that survives a restart: the CommandResults still owed to partners and the watched
RESERVE_NOW reservations (`ocpi_command_promises`), and the EVSE of a START_SESSION waiting for its
transaction (`ocpi_pending_starts.evse_id`: its token is vouched for at that EVSE only).

Revision ID: 0006
Revises: 0005
Create Date: 2025-03-01

Hand-written to match `ocpi/store/tables.py` at this revision. The settled_at index serves the one read at
start-up (the promises not settled yet); settling is by primary key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.store.migrations.ddl import Table, create_tables, drop_tables, serial_id, times

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING_STARTS = "ocpi_pending_starts"
_PROMISES = Table(
    "ocpi_command_promises",
    [
        serial_id(),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("response_url", sa.String(255), nullable=False),
        *times("deadline", nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(36), nullable=True),
        sa.Column("correlation_id", sa.String(255), nullable=True),
        *times("created_at"),
        *times("settled_at", nullable=True),
        sa.Column("result", sa.String(32), nullable=True),
    ],
    primary_key=["id"],
    indexes=[["settled_at"]],
)


def upgrade() -> None:
    # Nullable: the pending starts stored before it named no EVSE (vouched for at their station).
    op.add_column(_PENDING_STARTS, sa.Column("evse_id", sa.Integer(), nullable=True))
    create_tables([_PROMISES])


def downgrade() -> None:
    drop_tables([_PROMISES])
    op.drop_column(_PENDING_STARTS, "evse_id")
