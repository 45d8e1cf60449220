"""OCPI partner isolation: the party of a session's token on its SessionLink (`token_country_code`,
`token_party_id`, upper case), indexed with the link's `partner_id`, so that the Sessions and CDRs GET of a
partner select only its own sessions and CDRs in the database (`ocpi.models.PartyScope`).

Revision ID: 0008
Revises: 0007
Create Date: 2025-03-01

Hand-written to match `ocpi/store/tables.py` at this revision. Existing links get the party of the
`cdr_token` they hold (links without one, those of CSMS-local tokens, stay NULL: no partner's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINKS = "ocpi_session_links"
_PARTY_INDEX = "ix_ocpi_session_links_token_country_code_token_party_id"
_PARTNER_INDEX = "ix_ocpi_session_links_partner_id"


def _party(cdr_token: str) -> tuple[str, str] | None:
    """The upper-case (country_code, party_id) of a stored CdrToken (JSON text), None if it has none."""
    try:
        token = json.loads(cdr_token)
    except ValueError:
        return None
    cc = token.get("country_code") if isinstance(token, dict) else None
    pid = token.get("party_id") if isinstance(token, dict) else None
    if not isinstance(cc, str) or not isinstance(pid, str):
        return None
    return cc.upper(), pid.upper()


def _backfill() -> None:
    links = sa.table(
        _LINKS,
        sa.column("session_id", sa.String(36)),
        sa.column("cdr_token", sa.Text()),
        sa.column("token_country_code", sa.String(2)),
        sa.column("token_party_id", sa.String(3)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(links.c.session_id, links.c.cdr_token).where(links.c.cdr_token.is_not(None))
    )
    for session_id, cdr_token in list(rows):
        party = _party(cdr_token)
        if party is not None:
            bind.execute(
                links.update()
                .where(links.c.session_id == session_id)
                .values(token_country_code=party[0], token_party_id=party[1])
            )


def upgrade() -> None:
    op.add_column(_LINKS, sa.Column("token_country_code", sa.String(2), nullable=True))
    op.add_column(_LINKS, sa.Column("token_party_id", sa.String(3), nullable=True))
    _backfill()
    op.create_index(_PARTY_INDEX, _LINKS, ["token_country_code", "token_party_id"])
    op.create_index(_PARTNER_INDEX, _LINKS, ["partner_id"])


def downgrade() -> None:
    op.drop_index(_PARTNER_INDEX, _LINKS)
    op.drop_index(_PARTY_INDEX, _LINKS)
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 (as 0004's downgrade).
    op.drop_column(_LINKS, "token_party_id")
    op.drop_column(_LINKS, "token_country_code")
