"""Site owners and the driver portal (issue 12, items 6 and 7): `site_owners` (with their invitation token's
SHA-256 digest, onboarding data and hosted locations), `site_owner_documents`, `drivers` (linked to their id
tokens) and `disputes`.

Revision ID: 0010_portal
Revises: 0009_tenancy
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_portal"
down_revision: str | None = "0009_tenancy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _org_id(table: str) -> list[Any]:
    return [
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=f"fk_{table}_org_id_organizations", ondelete="CASCADE"
        ),
    ]


def _user_id(table: str) -> list[Any]:
    return [
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("user_id", name=f"uq_{table}_user_id"),
    ]


def upgrade() -> None:
    op.create_table(
        "site_owners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("site_owners"),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_user_id("site_owners"),
        sa.Column("revenue_share_percent", sa.String(16), nullable=False),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("bank_details", sa.Text(), nullable=True),
        sa.Column("location_ids", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_site_owners"),
        sa.UniqueConstraint("token_digest", name="uq_site_owners_token_digest"),
    )
    op.create_index("ix_site_owners_org_id", "site_owners", ["org_id"])
    op.create_table(
        "site_owner_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["site_owner_id"],
            ["site_owners.id"],
            name="fk_site_owner_documents_site_owner_id_site_owners",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_site_owner_documents"),
    )
    op.create_index("ix_site_owner_documents_site_owner_id", "site_owner_documents", ["site_owner_id"])
    op.create_table(
        "drivers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("drivers"),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("id_tokens", sa.Text(), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_user_id("drivers"),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_drivers"),
        sa.UniqueConstraint("token_digest", name="uq_drivers_token_digest"),
    )
    op.create_index("ix_drivers_org_id", "drivers", ["org_id"])
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_org_id("disputes"),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("expected_cost", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("credit_cdr_id", sa.String(39), nullable=True),
        sa.Column("replacement_cdr_id", sa.String(39), nullable=True),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"], name="fk_disputes_driver_id_drivers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
    )
    op.create_index("ix_disputes_org_id", "disputes", ["org_id"])
    op.create_index("ix_disputes_driver_id", "disputes", ["driver_id"])


def downgrade() -> None:
    op.drop_index("ix_disputes_driver_id", "disputes")
    op.drop_index("ix_disputes_org_id", "disputes")
    op.drop_table("disputes")
    op.drop_index("ix_drivers_org_id", "drivers")
    op.drop_table("drivers")
    op.drop_index("ix_site_owner_documents_site_owner_id", "site_owner_documents")
    op.drop_table("site_owner_documents")
    op.drop_index("ix_site_owners_org_id", "site_owners")
    op.drop_table("site_owners")
