"""Station certificates the CSMS CA issued (issue 14, item 2): `station_certificates`, so that the list and
renewal before expiry survive a restart and are shared by every node.

Revision ID: 0013_station_certificates
Revises: 0012_firmware_logs
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_station_certificates"
down_revision: str | None = "0012_firmware_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("certificate_type", sa.String(32), nullable=False),
        sa.Column("serial_number", sa.String(64), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pem_chain", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name="fk_station_certificates_org_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_station_certificates"),
    )
    op.create_index("ix_station_certificates_org_id", "station_certificates", ["org_id"])
    op.create_index("ix_station_certificates_charge_point_id", "station_certificates", ["charge_point_id"])


def downgrade() -> None:
    op.drop_table("station_certificates")
