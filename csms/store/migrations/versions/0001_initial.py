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
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Deliberately spelled out rather than imported from tables.py: a migration must keep describing the
# schema as it was when it was written, whatever tables.py says later.
_UTC = sa.DateTime(timezone=True)


def _big_pk() -> sa.types.TypeEngine[int]:
    # BIGINT (BIGSERIAL) on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charge_points",
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
        sa.Column("last_boot_at", _UTC, nullable=True),
        sa.Column("last_heartbeat_at", _UTC, nullable=True),
        sa.Column("firmware_status", sa.String(64), nullable=True),
        sa.Column("diagnostics_status", sa.String(64), nullable=True),
        sa.Column("log_status", sa.String(64), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_charge_points"),
    )

    op.create_table(
        "connectors",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_detail", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("info", sa.String(255), nullable=True),
        sa.Column("vendor_id", sa.String(255), nullable=True),
        sa.Column("vendor_error_code", sa.String(255), nullable=True),
        sa.Column("status_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("charge_point_id", "evse_id", "connector_id", name="pk_connectors"),
        sa.ForeignKeyConstraint(
            ["charge_point_id"],
            ["charge_points.charge_point_id"],
            name="fk_connectors_charge_point_id_charge_points",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "status_history",
        sa.Column("id", _big_pk(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("info", sa.String(255), nullable=True),
        sa.Column("vendor_id", sa.String(255), nullable=True),
        sa.Column("vendor_error_code", sa.String(255), nullable=True),
        sa.Column("timestamp", _UTC, nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_history"),
    )
    op.create_index("ix_status_history_charge_point_id_id", "status_history", ["charge_point_id", "id"])

    op.create_table(
        "id_tokens",
        sa.Column("id_token", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expiry_date", _UTC, nullable=True),
        sa.Column("group_id_token", sa.String(64), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id_token", name="pk_id_tokens"),
    )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("ocpp_transaction_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("id_token", sa.String(64), nullable=True),
        sa.Column("id_token_type", sa.String(32), nullable=True),
        sa.Column("meter_start_wh", sa.BigInteger(), nullable=True),
        sa.Column("meter_stop_wh", sa.BigInteger(), nullable=True),
        sa.Column("last_meter_wh", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", _UTC, nullable=True),
        sa.Column("stop_reason", sa.String(64), nullable=True),
        sa.Column("stop_id_token", sa.String(64), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.Column("charging_state", sa.String(32), nullable=True),
        sa.Column("last_seq_no", sa.Integer(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.UniqueConstraint(
            "charge_point_id",
            "ocpp_transaction_id",
            name="uq_transactions_charge_point_id_ocpp_transaction_id",
        ),
        # Never reuse the id of a deleted newest row: it is the 1.6 transactionId stations see.
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_transactions_charge_point_id_evse_id_started_at",
        "transactions",
        ["charge_point_id", "evse_id", "started_at"],
    )
    op.create_index("ix_transactions_status", "transactions", ["status"])

    op.create_table(
        "transaction_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("trigger_reason", sa.String(64), nullable=True),
        sa.Column("at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transaction_events"),
        sa.UniqueConstraint("transaction_id", "seq_no", name="uq_transaction_events_transaction_id_seq_no"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name="fk_transaction_events_transaction_id_transactions",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "meter_samples",
        sa.Column("id", _big_pk(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", _UTC, nullable=False),
        sa.Column("measurand", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(8), nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("multiplier", sa.Integer(), nullable=False),
        sa.Column("context", sa.String(32), nullable=True),
        sa.Column("location", sa.String(16), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meter_samples"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name="fk_meter_samples_transaction_id_transactions",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_meter_samples_transaction_id_timestamp", "meter_samples", ["transaction_id", "timestamp"]
    )

    op.create_table(
        "message_log",
        sa.Column("id", _big_pk(), autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_type", sa.SmallInteger(), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("frame", sa.Text(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_log"),
    )
    op.create_index("ix_message_log_charge_point_id_id", "message_log", ["charge_point_id", "id"])
    op.create_index("ix_message_log_at", "message_log", ["at"])

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_message_log_at", table_name="message_log")
    op.drop_index("ix_message_log_charge_point_id_id", table_name="message_log")
    op.drop_table("message_log")
    op.drop_index("ix_meter_samples_transaction_id_timestamp", table_name="meter_samples")
    op.drop_table("meter_samples")
    op.drop_table("transaction_events")
    op.drop_index("ix_transactions_status", table_name="transactions")
    op.drop_index("ix_transactions_charge_point_id_evse_id_started_at", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("id_tokens")
    op.drop_index("ix_status_history_charge_point_id_id", table_name="status_history")
    op.drop_table("status_history")
    op.drop_table("connectors")
    op.drop_table("charge_points")
