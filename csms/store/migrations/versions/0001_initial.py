"""Initial schema: charge points, connectors, status history, id tokens, transactions, meter samples,
message log and API keys.

Revision ID: 0001
Revises:
Create Date: 2024-11-21

Hand-written to match `csms/store/tables.py` at this revision; later changes get their own revision
rather than an edit here, because deployed databases have already run this one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import (
    Table,
    create_tables,
    drop_tables,
    evse_address,
    serial_id,
    status_report,
    times,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Deliberately spelled out (with the frozen helpers of `ddl`) rather than imported from tables.py: a
# migration must keep describing the schema as it was when it was written, whatever tables.py says later.

# The transaction's energy registers (integer Wh).
_METERS = ("meter_start_wh", "meter_stop_wh", "last_meter_wh")


def _tables() -> list[Table]:
    return [
        Table(
            "charge_points",
            [
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("registration_status", sa.String(16), nullable=False),
                sa.Column("password_hash", sa.String(255), nullable=True),
                sa.Column("ocpp_version", sa.String(16), nullable=True),
                sa.Column("vendor", sa.String(255), nullable=True),
                sa.Column("model", sa.String(255), nullable=True),
                sa.Column("serial_number", sa.String(255), nullable=True),
                sa.Column("firmware_version", sa.String(255), nullable=True),
                sa.Column("iccid", sa.String(64), nullable=True),
                sa.Column("imsi", sa.String(64), nullable=True),
                sa.Column("meter_type", sa.String(255), nullable=True),
                sa.Column("meter_serial_number", sa.String(255), nullable=True),
                sa.Column("boot_reason", sa.String(64), nullable=True),
                *times("last_boot_at", "last_heartbeat_at", nullable=True),
                sa.Column("firmware_status", sa.String(64), nullable=True),
                sa.Column("diagnostics_status", sa.String(64), nullable=True),
                sa.Column("log_status", sa.String(64), nullable=True),
                *times("created_at", "updated_at"),
            ],
            primary_key=["charge_point_id"],
        ),
        Table(
            "connectors",
            [*evse_address(), *status_report("status_detail"), *times("status_at", nullable=True)],
            primary_key=["charge_point_id", "evse_id", "connector_id"],
            foreign_keys={"charge_point_id": "charge_points.charge_point_id"},
        ),
        Table(
            "status_history",
            [
                serial_id(big=True),
                *evse_address(),
                *status_report("detail"),
                *times("timestamp", "received_at"),
            ],
            indexes=[["charge_point_id", "id"]],
        ),
        Table(
            "id_tokens",
            [
                sa.Column("id_token", sa.String(64), nullable=False),
                sa.Column("type", sa.String(32), nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                *times("expiry_date", nullable=True),
                sa.Column("group_id_token", sa.String(64), nullable=True),
                *times("created_at", "updated_at"),
            ],
            primary_key=["id_token"],
        ),
        Table(
            "transactions",
            [
                serial_id(),
                *evse_address(),
                sa.Column("ocpp_transaction_id", sa.String(36), nullable=True),
                sa.Column("status", sa.String(16), nullable=False),
                *times("started_at"),
                sa.Column("id_token", sa.String(64), nullable=True),
                sa.Column("id_token_type", sa.String(32), nullable=True),
                *(sa.Column(name, sa.BigInteger(), nullable=True) for name in _METERS),
                *times("stopped_at", nullable=True),
                sa.Column("stop_reason", sa.String(64), nullable=True),
                sa.Column("stop_id_token", sa.String(64), nullable=True),
                sa.Column("reservation_id", sa.Integer(), nullable=True),
                sa.Column("remote_start_id", sa.Integer(), nullable=True),
                sa.Column("charging_state", sa.String(32), nullable=True),
                sa.Column("last_seq_no", sa.Integer(), nullable=True),
                sa.Column("offline", sa.Boolean(), nullable=False),
                *times("updated_at"),
            ],
            unique=[["charge_point_id", "ocpp_transaction_id"]],
            indexes=[["charge_point_id", "evse_id", "started_at"], ["status"]],
            # Never reuse the id of a deleted newest row: it is the 1.6 transactionId stations see.
            options={"sqlite_autoincrement": True},
        ),
        Table(
            "transaction_events",
            [
                serial_id(),
                sa.Column("transaction_id", sa.Integer(), nullable=False),
                sa.Column("seq_no", sa.Integer(), nullable=False),
                sa.Column("event_type", sa.String(16), nullable=False),
                sa.Column("trigger_reason", sa.String(64), nullable=True),
                *times("at"),
            ],
            unique=[["transaction_id", "seq_no"]],
            foreign_keys={"transaction_id": "transactions.id"},
        ),
        Table(
            "meter_samples",
            [
                serial_id(big=True),
                sa.Column("transaction_id", sa.Integer(), nullable=True),
                *evse_address(connector=False),
                *times("timestamp"),
                sa.Column("measurand", sa.String(64), nullable=False),
                sa.Column("phase", sa.String(8), nullable=True),
                sa.Column("unit", sa.String(16), nullable=False),
                sa.Column("multiplier", sa.Integer(), nullable=False),
                sa.Column("context", sa.String(32), nullable=True),
                sa.Column("location", sa.String(16), nullable=True),
                sa.Column("signed", sa.Boolean(), nullable=False),
                sa.Column("value", sa.String(40), nullable=False),
            ],
            foreign_keys={"transaction_id": "transactions.id"},
            indexes=[["transaction_id", "timestamp"]],
        ),
        Table(
            "message_log",
            [
                serial_id(big=True),
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("direction", sa.String(3), nullable=False),
                sa.Column("message_type", sa.SmallInteger(), nullable=False),
                sa.Column("message_id", sa.String(36), nullable=False),
                sa.Column("action", sa.String(64), nullable=True),
                sa.Column("frame", sa.Text(), nullable=False),
                *times("at"),
            ],
            indexes=[["charge_point_id", "id"], ["at"]],
        ),
        Table(
            "api_keys",
            [
                serial_id(),
                sa.Column("name", sa.String(100), nullable=False),
                sa.Column("prefix", sa.String(32), nullable=False),
                sa.Column("key_hash", sa.String(255), nullable=False),
                sa.Column("role", sa.String(16), nullable=False),
                *times("created_at"),
            ],
            unique=[["prefix"]],
        ),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
