"""Organizations, users and invitations (issue 12, items 1 to 4):

- `organizations` (with their settings), `users` (email unique case-insensitively through `email_key`),
  `memberships` (a user's role per organization), `user_sessions` (SHA-256 digests of access and refresh
  tokens) and `invitations` (SHA-256 digest of the single-use token);
- `api_keys.org_id`: every key belongs to an organization; existing keys to the default one, which this
  revision creates (id "default", csms.domain.tenancy.DEFAULT_ORG_ID).

Revision ID: 0008_organizations
Revises: 0007_webhooks
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008_organizations"
down_revision: str | None = "0007_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ORG_ID = "default"  # csms.domain.tenancy.DEFAULT_ORG_ID, frozen here as migrations must be


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    organizations = op.create_table(
        "organizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("billing_email", sa.String(320), nullable=True),
        sa.Column("notifications", sa.Text(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email_key", name="uq_users_email_key"),
    )
    op.create_table(
        "memberships",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_memberships_org_id_organizations", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="pk_memberships"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("access_digest", sa.String(64), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_digest", sa.String(64), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("access_digest", name="uq_user_sessions_access_digest"),
        sa.UniqueConstraint("refresh_digest", name="uq_user_sessions_refresh_digest"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_invitations_org_id_organizations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_digest", name="uq_invitations_token_digest"),
    )
    op.create_index("ix_invitations_org_id", "invitations", ["org_id"])
    op.add_column(
        "api_keys", sa.Column("org_id", sa.String(64), server_default=DEFAULT_ORG_ID, nullable=False)
    )
    # The organization existing stations, tokens and keys belong to; its details can be changed over the API
    # (PUT /api/v1/organizations/default).
    op.bulk_insert(
        organizations,
        [
            {
                "id": DEFAULT_ORG_ID,
                "name": "Default organization",
                "country": "NL",
                "contact_email": "",
                "currency": "EUR",
                "timezone": "UTC",
                "billing_email": None,
                "notifications": "{}",
                "created_at": datetime.now(UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_column("api_keys", "org_id")
    op.drop_index("ix_invitations_org_id", "invitations")
    op.drop_table("invitations")
    op.drop_index("ix_user_sessions_user_id", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("organizations")
