"""OCPP-side records an operator needs (issue 10): the events stations report (`station_events`:
SecurityEventNotification, NotifyEvent), and 1.6 transaction ids kept out of `ocpp_transaction_id`.

Revision ID: 0005
Revises: 0004
Create Date: 2025-03-03

Hand-written to match `csms/store/tables.py` at this revision.

A 1.6 transactionId is the CSMS-assigned row id; until now it was also copied into ocpp_transaction_id,
which made the unique (charge_point_id, ocpp_transaction_id) key refuse a 2.0.1 transaction "5" of a
station that moved from 1.6 to 2.0.1 and still has its 1.6 transaction 5 on record. From here on the column
holds only the ids 2.0.1 stations chose (NULL for 1.6: the store reads str(id) back). A 1.6 row is one
whose column equals its id and that never recorded a 2.0.1 seqNo (every 2.0.1 transaction has one from its
first event). The downgrade copies the ids back where no 2.0.1 transaction of the same station took them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.store.migrations.ddl import Table, create_tables, drop_tables, serial_id, times

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _station_events() -> Table:
    return Table(
        "station_events",
        [
            serial_id(big=True),
            sa.Column("charge_point_id", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("type", sa.String(64), nullable=False),
            *times("timestamp", "received_at"),
            sa.Column("tech_info", sa.Text(), nullable=True),
            sa.Column("event_id", sa.Integer(), nullable=True),
            sa.Column("trigger", sa.String(16), nullable=True),
            sa.Column("component", sa.String(64), nullable=True),
            sa.Column("variable", sa.String(64), nullable=True),
            sa.Column("actual_value", sa.Text(), nullable=True),
            sa.Column("cleared", sa.Boolean(), nullable=True),
            sa.Column("details", sa.Text(), nullable=False),
        ],
        indexes=[["charge_point_id", "id"]],
    )


_TRANSACTIONS = sa.table(
    "transactions",
    sa.column("id", sa.Integer()),
    sa.column("charge_point_id", sa.String()),
    sa.column("ocpp_transaction_id", sa.String()),
    sa.column("last_seq_no", sa.Integer()),
)


def upgrade() -> None:
    create_tables([_station_events()])
    t = _TRANSACTIONS
    op.execute(
        t.update()
        .where(t.c.ocpp_transaction_id == sa.cast(t.c.id, sa.String(36)), t.c.last_seq_no.is_(None))
        .values(ocpp_transaction_id=None)
    )


def downgrade() -> None:
    t = _TRANSACTIONS
    taken = sa.alias(t, "taken")
    op.execute(
        t.update()
        .where(
            t.c.ocpp_transaction_id.is_(None),
            ~sa.exists().where(
                taken.c.charge_point_id == t.c.charge_point_id,
                taken.c.ocpp_transaction_id == sa.cast(t.c.id, sa.String(36)),
            ),
        )
        .values(ocpp_transaction_id=sa.cast(t.c.id, sa.String(36)))
    )
    drop_tables([_station_events()])
