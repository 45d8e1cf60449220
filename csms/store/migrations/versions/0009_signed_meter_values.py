"""Signed meter values: `meter_samples.signed_data`, the signed form of a sample (JSON of the domain's
`SignedMeterValue`: a 2.0.1 signedMeterValue, or a 1.6 SignedData value), NULL for an unsigned sample; the
OCPI CDRs carry them as `signed_data`.

Revision ID: 0009
Revises: 0008
Create Date: 2025-03-02

Hand-written to match `csms/store/tables.py` at this revision. A nullable column without a default: adding
it rewrites no row on SQLite nor on PostgreSQL, however many samples the table holds. Samples stored before
keep `signed` as it was and no signed form (it was never kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SAMPLES = "meter_samples"


def upgrade() -> None:
    op.add_column(_SAMPLES, sa.Column("signed_data", sa.Text(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 (as 0004's downgrade).
    op.drop_column(_SAMPLES, "signed_data")
