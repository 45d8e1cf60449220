"""Credit CDRs (issue 11, item 4): a transaction may have several CDRs.

- `ocpi_cdrs.transaction_pk` loses its unique constraint (`uq_ocpi_cdrs_transaction_pk`) and gets a plain
  index (`ix_ocpi_cdrs_transaction_pk`): a correction stores a credit CDR and a replacement CDR of the same
  transaction next to its CDR, never editing it (`ocpi.corrections`). No row is rewritten.

Revision ID: 0006_cdr_credits
Revises: 0005
Create Date: 2026-12-04

Hand-written to match `ocpi/store/tables.py` at this revision. SQLite cannot drop a constraint in place:
the table is copied (Alembic batch mode). The downgrade deletes the corrections' CDRs (every CDR whose id is
not its transaction's id) so that the unique constraint can come back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_cdr_credits"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CDRS = "ocpi_cdrs"
_UNIQUE = "uq_ocpi_cdrs_transaction_pk"
_INDEX = "ix_ocpi_cdrs_transaction_pk"


def upgrade() -> None:
    with op.batch_alter_table(_CDRS) as batch:
        batch.drop_constraint(_UNIQUE, type_="unique")
        batch.create_index(_INDEX, ["transaction_pk"])


def downgrade() -> None:
    op.execute(sa.text(f"DELETE FROM {_CDRS} WHERE id <> CAST(transaction_pk AS VARCHAR(39))"))
    with op.batch_alter_table(_CDRS) as batch:
        batch.drop_index(_INDEX)
        batch.create_unique_constraint(_UNIQUE, ["transaction_pk"])
