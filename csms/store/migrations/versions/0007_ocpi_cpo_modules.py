"""The rest of the OCPI CPO modules (issue 10): when each partner's token list was last pulled
(`ocpi_token_pulls`, OCPI 2.2.1 Tokens sender GET with `date_from`), and the parties a hub connects
(`ocpi_client_infos`, OCPI 2.2.1 HubClientInfo).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Hand-written to match `ocpi/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import Table, create_tables, drop_tables, times

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOKEN_PULLS = Table(
    "ocpi_token_pulls",
    [
        sa.Column("partner_id", sa.Integer(), nullable=False, autoincrement=False),
        *times("pulled_at"),
    ],
    primary_key=["partner_id"],
)
_CLIENT_INFOS = Table(
    "ocpi_client_infos",
    [
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        *times("last_updated"),
    ],
    primary_key=["country_code", "party_id"],
)


def upgrade() -> None:
    create_tables([_TOKEN_PULLS, _CLIENT_INFOS])


def downgrade() -> None:
    drop_tables([_TOKEN_PULLS, _CLIENT_INFOS])
