"""Firmware files, campaigns and updates, and log uploads (issue 14, items 3 and 4).

Revision ID: 0012_firmware_logs
Revises: 0011_security_profiles
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012_firmware_logs"
down_revision: str | None = "0011_security_profiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_id(table: str) -> list[Any]:
    return [
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=f"fk_{table}_org_id_organizations", ondelete="CASCADE"
        ),
    ]


def _times(updated: bool) -> list[Any]:
    columns = [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)]
    if updated:
        columns.append(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
    return columns


def _firmware_fk(table: str) -> Any:
    return sa.ForeignKeyConstraint(
        ["firmware_id"],
        ["firmware_files.id"],
        name=f"fk_{table}_firmware_id_firmware_files",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "firmware_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("firmware_files"),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("location", sa.String(512), nullable=True),
        sa.Column("signing_certificate", sa.Text(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        *_times(False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_files"),
        sa.UniqueConstraint("token", name="uq_firmware_files_token"),
    )
    op.create_index("ix_firmware_files_org_id", "firmware_files", ["org_id"])
    op.create_table(
        "firmware_campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("firmware_campaigns"),
        sa.Column("firmware_id", sa.Integer(), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        *_times(False),
        _firmware_fk("firmware_campaigns"),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_campaigns"),
    )
    op.create_index("ix_firmware_campaigns_org_id", "firmware_campaigns", ["org_id"])
    op.create_table(
        "firmware_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("firmware_updates"),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("firmware_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(255), nullable=True),
        *_times(True),
        _firmware_fk("firmware_updates"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["firmware_campaigns.id"],
            name="fk_firmware_updates_campaign_id_firmware_campaigns",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_updates"),
    )
    op.create_index("ix_firmware_updates_org_id", "firmware_updates", ["org_id"])
    op.create_index("ix_firmware_updates_charge_point_id", "firmware_updates", ["charge_point_id"])
    op.create_index("ix_firmware_updates_campaign_id", "firmware_updates", ["campaign_id"])
    op.create_table(
        "log_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("log_uploads"),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("log_type", sa.String(32), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        *_times(True),
        sa.PrimaryKeyConstraint("id", name="pk_log_uploads"),
        sa.UniqueConstraint("token", name="uq_log_uploads_token"),
    )
    op.create_index("ix_log_uploads_org_id", "log_uploads", ["org_id"])
    op.create_index("ix_log_uploads_charge_point_id", "log_uploads", ["charge_point_id"])


def downgrade() -> None:
    op.drop_table("log_uploads")
    op.drop_table("firmware_updates")
    op.drop_table("firmware_campaigns")
    op.drop_table("firmware_files")
