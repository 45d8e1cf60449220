"""Id token aliases: the short stand-in (`id_token_aliases.alias`, 20 characters) an OCPP 1.6 station is sent
for an id token longer than its CiString20 idTag (an OCPI token uid may have 36), and the token it stands
for (`csms.domain.id_token_aliases`). One alias per token and one token per alias (both unique).

Revision ID: 0010
Revises: 0008
Create Date: 2025-03-05

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import Table, create_tables, drop_tables, times

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ALIASES = Table(
    "id_token_aliases",
    [
        sa.Column("alias", sa.String(20), nullable=False),
        sa.Column("id_token", sa.String(64), nullable=False),
        *times("created_at"),
    ],
    primary_key=["alias"],
    unique=[["id_token"]],
)


def upgrade() -> None:
    create_tables([_ALIASES])


def downgrade() -> None:
    drop_tables([_ALIASES])
