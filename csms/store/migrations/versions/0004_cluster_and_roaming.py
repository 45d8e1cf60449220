"""Several processes and nodes (issue 9) and roaming you can certify (issue 10), in one revision:

- `ocpi_outbox.claimed_by`, `claimed_until`: which process is delivering an entry and until when, so that
  several processes or nodes on one database deliver each push once. No index: the claim is read only on
  the pending rows the (status, next_attempt_at) index already narrows down, and released by primary key.
- `ocpi_pending_starts`: START_SESSIONs waiting for their transaction, so that the node the station reports
  it to links it to the partner's command; `evse_id`: the token is vouched for at that EVSE only.
- `ocpi_command_promises`: the CommandResults still owed to partners and the watched RESERVE_NOW
  reservations (the settled_at index serves the one read at start-up; settling is by primary key).
- `station_events`: SecurityEventNotification and NotifyEvent as stations report them.
- `transactions.ocpp_transaction_id` holds only the ids 2.0.1 stations chose (see `_split_16_ids`).
- `ocpi_token_pulls` (when each partner's token list was last pulled) and `ocpi_client_infos` (the parties a
  hub connects, OCPI 2.2.1 HubClientInfo).
- `ocpi_session_links.token_country_code`, `token_party_id`: the party of a session's token, indexed with
  the link's `partner_id`, so that a partner's Sessions and CDRs GET selects only its own in the database;
  filled from the `cdr_token` of the links already there.
- `meter_samples.signed_data`: the signed form of a sample (JSON of the domain's `SignedMeterValue`), NULL
  for an unsigned one. A nullable column without a default rewrites no row, however many samples exist.
- `id_token_aliases`: the stored 20-character idTag that stands for an id token too long for OCPP 1.6
  (ADR 0009); both columns unique, never changed or deleted (a station may keep the alias).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Hand-written to match `csms/store/tables.py` and `ocpi/store/tables.py` at this revision. Dropping columns
in the downgrade needs SQLite 3.35 (the RETURNING the outbox claim needs is 3.35 too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from csms.store.migrations.ddl import Table, create_tables, drop_tables, serial_id, times

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX = "ocpi_outbox"
_LINKS = "ocpi_session_links"
_SAMPLES = "meter_samples"
_PARTY_INDEX = "ix_ocpi_session_links_token_country_code_token_party_id"
_PARTNER_INDEX = "ix_ocpi_session_links_partner_id"


def _tables() -> list[Table]:
    return [
        Table(
            "ocpi_pending_starts",
            [
                sa.Column("remote_start_id", sa.Integer(), nullable=False, autoincrement=False),
                sa.Column("partner_id", sa.Integer(), nullable=False),
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("uid", sa.String(36), nullable=False),
                sa.Column("cdr_token", sa.Text(), nullable=False),
                sa.Column("authorization_reference", sa.String(36), nullable=True),
                *times("until"),
                sa.Column("evse_id", sa.Integer(), nullable=True),
            ],
            primary_key=["remote_start_id"],
            indexes=[["uid"]],
        ),
        Table(
            "ocpi_command_promises",
            [
                serial_id(),
                sa.Column("partner_id", sa.Integer(), nullable=False),
                sa.Column("command", sa.String(32), nullable=False),
                sa.Column("response_url", sa.String(255), nullable=False),
                *times("deadline", nullable=True),
                sa.Column("reservation_id", sa.Integer(), nullable=True),
                sa.Column("external_id", sa.String(36), nullable=True),
                sa.Column("correlation_id", sa.String(255), nullable=True),
                *times("created_at"),
                *times("settled_at", nullable=True),
                sa.Column("result", sa.String(32), nullable=True),
            ],
            primary_key=["id"],
            indexes=[["settled_at"]],
        ),
        Table(
            "station_events",
            [
                serial_id(big=True),
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("kind", sa.String(32), nullable=False),
                sa.Column("type", sa.String(64), nullable=False),
                *times("timestamp", "received_at"),
                sa.Column("tech_info", sa.Text(), nullable=True),
                sa.Column("event_id", sa.Integer(), nullable=True),
                sa.Column("trigger", sa.String(16), nullable=True),
                sa.Column("component", sa.String(64), nullable=True),
                sa.Column("variable", sa.String(64), nullable=True),
                sa.Column("actual_value", sa.Text(), nullable=True),
                sa.Column("cleared", sa.Boolean(), nullable=True),
                sa.Column("details", sa.Text(), nullable=False),
            ],
            indexes=[["charge_point_id", "id"]],
        ),
        Table(
            "id_token_aliases",
            [
                sa.Column("alias", sa.String(20), nullable=False),
                sa.Column("id_token", sa.String(64), nullable=False),
                *times("created_at"),
            ],
            primary_key=["alias"],
            unique=[["id_token"]],
        ),
        Table(
            "ocpi_token_pulls",
            [sa.Column("partner_id", sa.Integer(), nullable=False, autoincrement=False), *times("pulled_at")],
            primary_key=["partner_id"],
        ),
        Table(
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
        ),
    ]


# -- 1.6 transaction ids ---------------------------------------------------------------------------------
# A 1.6 transactionId is the CSMS-assigned row id; until now it was also copied into ocpp_transaction_id,
# which made the unique (charge_point_id, ocpp_transaction_id) key refuse a 2.0.1 transaction "5" of a
# station that moved from 1.6 to 2.0.1 and still has its 1.6 transaction 5 on record. From here on the
# column holds only the ids 2.0.1 stations chose (NULL for 1.6: the store reads str(id) back). A 1.6 row is
# one whose column equals its id and that never recorded a 2.0.1 seqNo (every 2.0.1 transaction has one
# from its first event). The downgrade copies the ids back where no 2.0.1 transaction of the same station
# took them.

_TRANSACTIONS = sa.table(
    "transactions",
    sa.column("id", sa.Integer()),
    sa.column("charge_point_id", sa.String()),
    sa.column("ocpp_transaction_id", sa.String()),
    sa.column("last_seq_no", sa.Integer()),
)


def _split_16_ids() -> None:
    t = _TRANSACTIONS
    op.execute(
        t.update()
        .where(t.c.ocpp_transaction_id == sa.cast(t.c.id, sa.String(36)), t.c.last_seq_no.is_(None))
        .values(ocpp_transaction_id=None)
    )


def _join_16_ids() -> None:
    t = _TRANSACTIONS
    taken = sa.alias(t, "taken")
    op.execute(
        t.update()
        .where(
            t.c.ocpp_transaction_id.is_(None),
            ~sa.exists().where(
                taken.c.charge_point_id == t.c.charge_point_id,
                taken.c.ocpp_transaction_id == sa.cast(t.c.id, sa.String(36)),
            ),
        )
        .values(ocpp_transaction_id=sa.cast(t.c.id, sa.String(36)))
    )


# -- the party of a session's token ----------------------------------------------------------------------


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


def _backfill_parties() -> None:
    """Existing links get the party of the `cdr_token` they hold (those without one, of CSMS-local tokens,
    stay NULL: no partner's)."""
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
    # Nullable: existing entries are unclaimed, due for whichever process takes them first.
    op.add_column(_OUTBOX, sa.Column("claimed_by", sa.String(128), nullable=True))
    op.add_column(_OUTBOX, *times("claimed_until", nullable=True))
    create_tables(_tables())
    _split_16_ids()
    op.add_column(_LINKS, sa.Column("token_country_code", sa.String(2), nullable=True))
    op.add_column(_LINKS, sa.Column("token_party_id", sa.String(3), nullable=True))
    _backfill_parties()
    op.create_index(_PARTY_INDEX, _LINKS, ["token_country_code", "token_party_id"])
    op.create_index(_PARTNER_INDEX, _LINKS, ["partner_id"])
    op.add_column(_SAMPLES, sa.Column("signed_data", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column(_SAMPLES, "signed_data")
    op.drop_index(_PARTNER_INDEX, _LINKS)
    op.drop_index(_PARTY_INDEX, _LINKS)
    op.drop_column(_LINKS, "token_party_id")
    op.drop_column(_LINKS, "token_country_code")
    _join_16_ids()
    drop_tables(_tables())
    op.drop_column(_OUTBOX, "claimed_until")
    op.drop_column(_OUTBOX, "claimed_by")
