"""Tariffs per location (issue 11, item 2):

- `ocpi_locations.tariff_ids`: JSON list of the tariffs that price sessions at the location's connectors
  naming none of their own (`ocpi.sessions.connector_tariff`). Nullable without a default: no row is
  rewritten, and NULL (every location already there) reads as no tariffs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Hand-written to match `ocpi/store/tables.py` at this revision. Dropping the column in the downgrade needs
SQLite 3.35 (as 0004 does).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCATIONS = "ocpi_locations"


def upgrade() -> None:
    op.add_column(_LOCATIONS, sa.Column("tariff_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column(_LOCATIONS, "tariff_ids")
