"""Tenancy (issue 12, item 5): every charge point, id token, transaction, reservation, OCPI partner,
location, tariff and CDR belongs to one organization (API keys got theirs in 0008_organizations).

- `org_id` String(64), NOT NULL, server default "default" (`csms.domain.tenancy.DEFAULT_ORG_ID`) on
  charge_points, id_tokens, transactions, reservations, ocpi_partners, ocpi_locations,
  ocpi_tariffs and ocpi_cdrs: every existing row lands in the default organization without being
  rewritten by hand.
- an index on each (operator lists filter by it).

Revision ID: 0009_tenancy
Revises: 0008_organizations
Create Date: 2026-12-04

Dropping the columns in the downgrade needs SQLite 3.35 (as 0004 and 0005 do).
Hand-written to match `csms/store/tables.py` and `ocpi/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_tenancy"
down_revision: str | None = "0008_organizations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ORG_ID = "default"  # as csms.domain.tenancy (a migration does not import the application)

_INDEXED = (
    "charge_points",
    "id_tokens",
    "transactions",
    "reservations",
    "ocpi_partners",
    "ocpi_locations",
    "ocpi_tariffs",
    "ocpi_cdrs",
)


def upgrade() -> None:
    for table in _INDEXED:
        # NOT NULL with a server default: SQLite and PostgreSQL fill the existing rows in the ALTER itself.
        column = sa.Column("org_id", sa.String(64), nullable=False, server_default=DEFAULT_ORG_ID)
        op.add_column(table, column)
    for table in _INDEXED:
        op.create_index(f"ix_{table}_org_id", table, ["org_id"])


def downgrade() -> None:
    for table in _INDEXED:
        op.drop_index(f"ix_{table}_org_id", table_name=table)
    for table in _INDEXED:
        op.drop_column(table, "org_id")
