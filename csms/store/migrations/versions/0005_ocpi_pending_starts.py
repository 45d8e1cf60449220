"""OCPI START_SESSIONs waiting for their transaction (`ocpi_pending_starts`): stored, so that the node the
station reports the transaction to (in a cluster, not always the one the eMSP called) links it to the
partner's command.

Revision ID: 0005
Revises: 0004
Create Date: 2025-02-12

Hand-written to match `ocpi/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import Table, create_tables, drop_tables, times

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables() -> list[Table]:
    return [
        Table(
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
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
