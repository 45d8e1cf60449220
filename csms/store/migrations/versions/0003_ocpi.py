"""OCPI 2.2.1 bridge: partners, locations and their charge points, connector specs, EVSE uids, tariffs,
partner tokens, session links, CDRs and the push outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-15

Hand-written to match `csms/store/tables.py` at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from tables.py (see 0001).
_UTC = sa.DateTime(timezone=True)


def _big_pk() -> sa.types.TypeEngine[int]:
    # BIGINT (BIGSERIAL) on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ocpi_partners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_a_hash", sa.String(64), nullable=True),
        sa.Column("token_c_hash", sa.String(64), nullable=True),
        sa.Column("token_b", sa.String(255), nullable=True),
        sa.Column("versions_url", sa.String(255), nullable=True),
        sa.Column("version", sa.String(16), nullable=True),
        sa.Column("endpoints", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_partners"),
        sa.UniqueConstraint("token_a_hash", name="uq_ocpi_partners_token_a_hash"),
        sa.UniqueConstraint("token_c_hash", name="uq_ocpi_partners_token_c_hash"),
        # Never reuse a deleted partner's id: outbox entries and logs name partners by id.
        sqlite_autoincrement=True,
    )

    op.create_table(
        "ocpi_locations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("city", sa.String(255), nullable=False),
        sa.Column("postal_code", sa.String(32), nullable=True),
        sa.Column("state", sa.String(64), nullable=True),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("latitude", sa.String(16), nullable=False),
        sa.Column("longitude", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(255), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("parking_type", sa.String(32), nullable=True),
        sa.Column("facilities", sa.Text(), nullable=False),
        sa.Column("opening_times", sa.Text(), nullable=True),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("charging_when_closed", sa.Boolean(), nullable=True),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_locations"),
    )
    op.create_index("ix_ocpi_locations_last_updated", "ocpi_locations", ["last_updated"])

    op.create_table(
        "ocpi_location_charge_points",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", name="pk_ocpi_location_charge_points"),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["ocpi_locations.id"],
            name="fk_ocpi_location_charge_points_location_id_ocpi_locations",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_ocpi_location_charge_points_location_id", "ocpi_location_charge_points", ["location_id"]
    )

    op.create_table(
        "ocpi_connector_specs",
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("standard", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("power_type", sa.String(16), nullable=False),
        sa.Column("max_voltage", sa.Integer(), nullable=False),
        sa.Column("max_amperage", sa.Integer(), nullable=False),
        sa.Column("max_electric_power", sa.Integer(), nullable=True),
        sa.Column("tariff_ids", sa.Text(), nullable=False),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("charge_point_id", "evse_id", "connector_id", name="pk_ocpi_connector_specs"),
    )

    op.create_table(
        "ocpi_evse_uids",
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("charge_point_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uid", name="pk_ocpi_evse_uids"),
        sa.UniqueConstraint("charge_point_id", "evse_id", name="uq_ocpi_evse_uids_charge_point_id_evse_id"),
    )

    op.create_table(
        "ocpi_tariffs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_tariffs"),
    )
    op.create_index("ix_ocpi_tariffs_last_updated", "ocpi_tariffs", ["last_updated"])

    op.create_table(
        "ocpi_partner_tokens",
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("contract_id", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("whitelist", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("country_code", "party_id", "uid", "type", name="pk_ocpi_partner_tokens"),
    )
    op.create_index("ix_ocpi_partner_tokens_uid", "ocpi_partner_tokens", ["uid"])

    op.create_table(
        "ocpi_session_links",
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("transaction_pk", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("auth_method", sa.String(16), nullable=False),
        sa.Column("authorization_reference", sa.String(36), nullable=True),
        sa.Column("cdr_token", sa.Text(), nullable=True),
        sa.Column("tariff_id", sa.String(36), nullable=True),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_ocpi_session_links"),
    )
    op.create_index(
        "ix_ocpi_session_links_transaction_pk", "ocpi_session_links", ["transaction_pk"], unique=True
    )
    op.create_index("ix_ocpi_session_links_reservation_id", "ocpi_session_links", ["reservation_id"])

    op.create_table(
        "ocpi_cdrs",
        sa.Column("id", sa.String(39), nullable=False),
        sa.Column("transaction_pk", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("total_cost_excl_vat", sa.String(40), nullable=False),
        sa.Column("last_updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_cdrs"),
        sa.UniqueConstraint("transaction_pk", name="uq_ocpi_cdrs_transaction_pk"),
    )
    op.create_index("ix_ocpi_cdrs_last_updated", "ocpi_cdrs", ["last_updated"])

    op.create_table(
        "ocpi_outbox",
        sa.Column("id", _big_pk(), autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("object_key", sa.String(128), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("sent_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ocpi_outbox"),
    )
    op.create_index("ix_ocpi_outbox_status_next_attempt_at", "ocpi_outbox", ["status", "next_attempt_at"])
    op.create_index(
        "ix_ocpi_outbox_partner_id_object_key_id", "ocpi_outbox", ["partner_id", "object_key", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_ocpi_outbox_partner_id_object_key_id", table_name="ocpi_outbox")
    op.drop_index("ix_ocpi_outbox_status_next_attempt_at", table_name="ocpi_outbox")
    op.drop_table("ocpi_outbox")
    op.drop_index("ix_ocpi_cdrs_last_updated", table_name="ocpi_cdrs")
    op.drop_table("ocpi_cdrs")
    op.drop_index("ix_ocpi_session_links_reservation_id", table_name="ocpi_session_links")
    op.drop_index("ix_ocpi_session_links_transaction_pk", table_name="ocpi_session_links")
    op.drop_table("ocpi_session_links")
    op.drop_index("ix_ocpi_partner_tokens_uid", table_name="ocpi_partner_tokens")
    op.drop_table("ocpi_partner_tokens")
    op.drop_index("ix_ocpi_tariffs_last_updated", table_name="ocpi_tariffs")
    op.drop_table("ocpi_tariffs")
    op.drop_table("ocpi_evse_uids")
    op.drop_table("ocpi_connector_specs")
    op.drop_index("ix_ocpi_location_charge_points_location_id", table_name="ocpi_location_charge_points")
    op.drop_table("ocpi_location_charge_points")
    op.drop_index("ix_ocpi_locations_last_updated", table_name="ocpi_locations")
    op.drop_table("ocpi_locations")
    op.drop_table("ocpi_partners")
