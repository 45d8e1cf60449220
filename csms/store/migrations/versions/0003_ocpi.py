"""OCPI 2.2.1 bridge: partners, locations and their charge points, connector specs, EVSE uids, tariffs,
partner tokens, session links, CDRs and the push outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-15

Hand-written to match `ocpi/store/tables.py` (its tables share the CSMS metadata) at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from csms.store.migrations.ddl import Table, create_tables, drop_tables, evse_address, serial_id, times

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out rather than imported from ocpi/store/tables.py (see 0001).


def _tables() -> list[Table]:
    return [
        Table(
            "ocpi_partners",
            [
                serial_id(),
                sa.Column("name", sa.String(100), nullable=False),
                *_party(),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("role", sa.String(16), nullable=False),
                sa.Column("token_a_hash", sa.String(64), nullable=True),
                sa.Column("token_c_hash", sa.String(64), nullable=True),
                sa.Column("token_b", sa.String(255), nullable=True),
                sa.Column("versions_url", sa.String(255), nullable=True),
                sa.Column("version", sa.String(16), nullable=True),
                sa.Column("endpoints", sa.Text(), nullable=False),
                sa.Column("roles", sa.Text(), nullable=False),
                *times("created_at", "updated_at"),
            ],
            unique=[["token_a_hash"], ["token_c_hash"]],
            # Never reuse a deleted partner's id: outbox entries and logs name partners by id.
            options={"sqlite_autoincrement": True},
        ),
        Table(
            "ocpi_locations",
            [
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
                *_party(),
                sa.Column("publish", sa.Boolean(), nullable=False),
                sa.Column("parking_type", sa.String(32), nullable=True),
                sa.Column("facilities", sa.Text(), nullable=False),
                sa.Column("opening_times", sa.Text(), nullable=True),
                sa.Column("operator", sa.Text(), nullable=True),
                sa.Column("charging_when_closed", sa.Boolean(), nullable=True),
                *times("last_updated"),
            ],
            indexes=[["last_updated"]],
        ),
        Table(
            "ocpi_location_charge_points",
            [
                sa.Column("charge_point_id", sa.String(64), nullable=False),
                sa.Column("location_id", sa.String(36), nullable=False),
            ],
            primary_key=["charge_point_id"],
            foreign_keys={"location_id": "ocpi_locations.id"},
            indexes=[["location_id"]],
        ),
        Table(
            "ocpi_connector_specs",
            [
                *evse_address(),
                sa.Column("standard", sa.String(64), nullable=False),
                sa.Column("format", sa.String(16), nullable=False),
                sa.Column("power_type", sa.String(16), nullable=False),
                sa.Column("max_voltage", sa.Integer(), nullable=False),
                sa.Column("max_amperage", sa.Integer(), nullable=False),
                sa.Column("max_electric_power", sa.Integer(), nullable=True),
                sa.Column("tariff_ids", sa.Text(), nullable=False),
                *times("last_updated"),
            ],
            primary_key=["charge_point_id", "evse_id", "connector_id"],
        ),
        Table(
            "ocpi_evse_uids",
            [sa.Column("uid", sa.String(36), nullable=False), *evse_address(connector=False)],
            primary_key=["uid"],
            unique=[["charge_point_id", "evse_id"]],
        ),
        Table(
            "ocpi_tariffs",
            [
                sa.Column("id", sa.String(36), nullable=False),
                sa.Column("currency", sa.String(3), nullable=False),
                sa.Column("data", sa.Text(), nullable=False),
                *times("last_updated"),
            ],
            indexes=[["last_updated"]],
        ),
        Table(
            "ocpi_partner_tokens",
            [
                *_party(),
                sa.Column("uid", sa.String(36), nullable=False),
                sa.Column("type", sa.String(16), nullable=False),
                sa.Column("contract_id", sa.String(64), nullable=False),
                sa.Column("issuer", sa.String(64), nullable=False),
                sa.Column("valid", sa.Boolean(), nullable=False),
                sa.Column("whitelist", sa.String(16), nullable=False),
                sa.Column("group_id", sa.String(64), nullable=True),
                sa.Column("partner_id", sa.Integer(), nullable=True),
                sa.Column("data", sa.Text(), nullable=False),
                *times("last_updated"),
            ],
            primary_key=["country_code", "party_id", "uid", "type"],
            indexes=[["uid"]],
        ),
        Table(
            "ocpi_session_links",
            [
                sa.Column("session_id", sa.String(36), nullable=False),
                sa.Column("partner_id", sa.Integer(), nullable=True),
                sa.Column("transaction_pk", sa.Integer(), nullable=True),
                sa.Column("reservation_id", sa.Integer(), nullable=True),
                sa.Column("auth_method", sa.String(16), nullable=False),
                sa.Column("authorization_reference", sa.String(36), nullable=True),
                sa.Column("cdr_token", sa.Text(), nullable=True),
                sa.Column("tariff_id", sa.String(36), nullable=True),
                *times("last_updated"),
            ],
            primary_key=["session_id"],
            unique_indexes=[["transaction_pk"]],
            indexes=[["reservation_id"]],
        ),
        Table(
            "ocpi_cdrs",
            [
                sa.Column("id", sa.String(39), nullable=False),
                sa.Column("transaction_pk", sa.Integer(), nullable=False),
                sa.Column("data", sa.Text(), nullable=False),
                sa.Column("total_cost_excl_vat", sa.String(40), nullable=False),
                *times("last_updated"),
            ],
            unique=[["transaction_pk"]],
            indexes=[["last_updated"]],
        ),
        Table(
            "ocpi_outbox",
            [
                serial_id(big=True),
                sa.Column("partner_id", sa.Integer(), nullable=False),
                sa.Column("module", sa.String(32), nullable=False),
                sa.Column("object_key", sa.String(128), nullable=False),
                sa.Column("method", sa.String(8), nullable=False),
                sa.Column("url", sa.String(1024), nullable=False),
                sa.Column("body", sa.Text(), nullable=True),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("attempts", sa.Integer(), nullable=False),
                *times("next_attempt_at", nullable=True),
                sa.Column("last_error", sa.Text(), nullable=True),
                *times("created_at"),
                *times("sent_at", nullable=True),
            ],
            indexes=[["status", "next_attempt_at"], ["partner_id", "object_key", "id"]],
        ),
    ]


def _party() -> list[sa.Column[str]]:
    """An OCPI party: ISO country code and party id."""
    return [
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("party_id", sa.String(3), nullable=False),
    ]


def upgrade() -> None:
    create_tables(_tables())


def downgrade() -> None:
    drop_tables(_tables())
