"""The API end to end on the real SQLAlchemy store (SQLite in a temporary directory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import Config, DatabaseConfig, SecurityConfig
from csms.domain.core import Domain
from csms.domain.models import (
    ConnectorStatus,
    Direction,
    FrameRecord,
    MeterReading,
    MeterSample,
    NewTransaction,
    StatusChange,
)
from csms.domain.secrets import hash_secret, new_api_key
from csms.domain.services import Services
from csms.store.sql import SqlStore, open_store
from csms.store.writer import BatchedWriter
from tests.api.conftest import NOW, ApiClient, error_of

T0 = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
async def sql_store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A migrated SQLite store in `tmp_path`."""
    store = await open_store(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    yield store
    await store.close()


@pytest.fixture
async def sql_writer(sql_store: SqlStore) -> AsyncIterator[BatchedWriter]:
    """A started batched writer on the SQL store; only `sync()` flushes during a test."""
    writer = BatchedWriter(sql_store, max_items=10_000, interval=60.0)
    await writer.start()
    yield writer
    await writer.stop()


@pytest.fixture
async def sql_client(sql_store: SqlStore, sql_writer: BatchedWriter) -> AsyncIterator[ApiClient]:
    """A client of the API served from the SQL store."""
    services = Services(
        config=Config(security=SecurityConfig(bcrypt_rounds=4)),
        store=sql_store,
        writer=sql_writer,
        clock=lambda: NOW,
    )
    async with TestClient(TestServer(create_app(Domain(services)))) as client:
        yield client


@pytest.fixture
async def sql_auth(sql_store: SqlStore) -> dict[str, str]:
    """Headers with an admin key stored in the SQL store."""
    key, prefix = new_api_key()
    await sql_store.add_api_key("test", prefix, hash_secret(key, rounds=4), "admin")
    return {"Authorization": f"Bearer {key}"}


async def test_charge_points_and_tokens_round_trip(sql_client: ApiClient, sql_auth: dict[str, str]) -> None:
    """Charge points and id tokens created over the API are listed, paged and shown from SQLite."""
    for cp_id in ["CP-3", "CP-1", "CP-2"]:
        response = await sql_client.post(
            "/api/v1/charge-points", json={"charge_point_id": cp_id, "password": "p" * 16}, headers=sql_auth
        )
        assert response.status == 201, await response.text()
    error = await error_of(
        await sql_client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=sql_auth),
        409,
    )
    assert error["code"] == "conflict"

    response = await sql_client.get("/api/v1/charge-points?limit=2", headers=sql_auth)
    first = await response.json()
    assert [c["charge_point_id"] for c in first["items"]] == ["CP-1", "CP-2"]
    assert first["items"][0]["has_password"] is True
    assert first["items"][0]["created_at"] == "2025-01-02T03:04:05.678Z"
    link = response.headers["Link"]
    second = await (await sql_client.get(link[1 : link.index(">")], headers=sql_auth)).json()
    assert [c["charge_point_id"] for c in second["items"]] == ["CP-3"]

    response = await sql_client.post(
        "/api/v1/id-tokens",
        json={"id_token": "TAG", "type": "KeyCode", "expiry_date": "2026-01-01T00:00:00Z"},
        headers=sql_auth,
    )
    assert response.status == 201
    body = await (await sql_client.get("/api/v1/id-tokens/TAG", headers=sql_auth)).json()
    assert body["type"] == "KeyCode"
    assert body["expiry_date"] == "2026-01-01T00:00:00.000Z"
    assert [
        t["id_token"]
        for t in (await (await sql_client.get("/api/v1/id-tokens", headers=sql_auth)).json())["items"]
    ] == ["TAG"]


async def test_batched_state_sessions_and_messages(
    sql_client: ApiClient, sql_auth: dict[str, str], sql_store: SqlStore, sql_writer: BatchedWriter
) -> None:
    """Connector states, meter samples and frames put in the writer are visible through the API at once."""
    assert (
        await sql_client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=sql_auth)
    ).status == 201
    tx = await sql_store.add_transaction(NewTransaction("CP-1", 1, 1, T0, id_token="TAG", meter_start_wh=10))
    sql_writer.put(StatusChange("CP-1", 1, 1, ConnectorStatus.OCCUPIED, T0, status_detail="Charging"))
    sql_writer.put(
        MeterReading(
            "CP-1", 1, [MeterSample(T0 + timedelta(minutes=1), Decimal("12.345"), unit="kWh")], tx.id
        )
    )
    sql_writer.put(FrameRecord("CP-1", Direction.IN, 2, "m1", "Heartbeat", '[2,"m1","Heartbeat",{}]', T0))

    cp = await (await sql_client.get("/api/v1/charge-points/CP-1", headers=sql_auth)).json()
    connector = cp["evses"][0]["connectors"][0]
    # The station is offline: its status is Unknown, the batched report is its last one.
    assert (connector["status"], connector["last_status"]) == ("Unknown", "Occupied")
    assert connector["last_status_at"] == "2025-01-01T08:00:00.000Z"

    session = await (await sql_client.get(f"/api/v1/sessions/{tx.id}", headers=sql_auth)).json()
    assert session["transaction_id"] == str(tx.id)
    assert session["started_at"] == "2025-01-01T08:00:00.000Z"
    assert session["meter_samples"][0]["value"] == "12.345"
    assert session["meter_samples"][0]["unit"] == "kWh"
    listed = await (await sql_client.get("/api/v1/sessions?status=active", headers=sql_auth)).json()
    assert [s["id"] for s in listed["items"]] == [tx.id]

    frames = await (await sql_client.get("/api/v1/charge-points/CP-1/messages", headers=sql_auth)).json()
    assert [f["frame"] for f in frames["items"]] == ['[2,"m1","Heartbeat",{}]']


async def test_foreign_cursors_are_bad_requests(sql_client: ApiClient, sql_auth: dict[str, str]) -> None:
    """A cursor the store never handed out, even one too large for an SQL integer, is a 400 naming it."""
    await sql_client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=sql_auth)
    for url in [
        "/api/v1/sessions?cursor=abc",
        f"/api/v1/sessions?cursor={2**70}",
        "/api/v1/charge-points/CP-1/messages?cursor=x",
        f"/api/v1/charge-points/CP-1/messages?cursor={2**70}",
    ]:
        error = await error_of(await sql_client.get(url, headers=sql_auth), 400)
        assert error["details"][0]["field"] == "cursor", url
