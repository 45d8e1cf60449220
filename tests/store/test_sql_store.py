"""SqlStore specifics: engine set-up by open_store, SQLite pragmas, batch atomicity and concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.config import DatabaseConfig
from csms.domain.models import (
    ChargePoint,
    ConnectorStatus,
    Direction,
    FrameRecord,
    MeterReading,
    MeterSample,
    NewTransaction,
    StatusChange,
)
from csms.domain.ports import HeartbeatSeen
from csms.store.migrate import migrate
from csms.store.sql import SqlStore, open_store

from .conftest import T0


async def test_open_store_creates_relative_sqlite_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative SQLite URL is resolved against the working directory and its directory is created."""
    monkeypatch.chdir(tmp_path)
    store = await open_store(DatabaseConfig(url="sqlite+aiosqlite:///var/data/csms.db"))
    try:
        await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    finally:
        await store.close()
    assert (tmp_path / "var" / "data" / "csms.db").is_file()


async def test_open_store_sets_sqlite_pragmas(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode with synchronous=NORMAL, a busy timeout and foreign keys."""
    store = await open_store(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"))
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await store.close()


async def test_open_store_in_memory_shares_one_database() -> None:
    """With sqlite :memory: every session sees the same (migrated) database."""
    store = await open_store(DatabaseConfig(url="sqlite+aiosqlite:///:memory:"))
    try:
        await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
        page, _ = await store.list_charge_points(limit=10)
        assert [cp.charge_point_id for cp in page] == ["CP1"]
    finally:
        await store.close()


async def test_open_store_reopens_existing_database(tmp_path: Path) -> None:
    """Opening the same database again migrates nothing and keeps the data."""
    config = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}")
    store = await open_store(config)
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    await store.close()
    store = await open_store(config)
    try:
        assert await store.get_charge_point("CP1") is not None
    finally:
        await store.close()


async def test_failed_batch_writes_nothing(engine: AsyncEngine) -> None:
    """When one statement of apply_batch fails, the whole batch is rolled back and the error raised."""
    await migrate(engine)
    store = SqlStore(engine)
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    bad = FrameRecord("CP1", Direction.IN, 2, "m1", "Heartbeat", None, T0)  # type: ignore[arg-type]
    with pytest.raises(SQLAlchemyError):
        await store.apply_batch(
            [
                HeartbeatSeen("CP1", T0),
                StatusChange("CP1", 1, 1, ConnectorStatus.AVAILABLE, T0),
                bad,
            ]
        )
    cp = await store.get_charge_point("CP1")
    assert cp is not None and cp.last_heartbeat_at is None
    assert await store.list_connectors("CP1") == []
    assert await store.list_frames("CP1", limit=5) == ([], None)


async def test_concurrent_direct_and_batched_writes_do_not_conflict(engine: AsyncEngine) -> None:
    """Direct writes and batches running at the same time all commit (no 'database is locked')."""
    await migrate(engine)
    store = SqlStore(engine)
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))

    async def start(n: int) -> None:
        await store.add_transaction(NewTransaction("CP1", n, 1, T0 + timedelta(seconds=n)))

    async def batch(n: int) -> None:
        samples = [MeterSample(timestamp=T0, value=Decimal(n * 100 + i)) for i in range(50)]
        await store.apply_batch(
            [MeterReading("CP1", 1, samples), HeartbeatSeen("CP1", T0 + timedelta(seconds=n))]
        )

    await asyncio.gather(*(start(n) for n in range(20)), *(batch(n) for n in range(20)))
    page, _ = await store.list_transactions(limit=100)
    assert sorted(int(t.ocpp_transaction_id) for t in page) == sorted(t.id for t in page)
    assert len(page) == 20
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM meter_samples"))).scalar() == 1000
    cp = await store.get_charge_point("CP1")
    assert cp is not None and cp.last_heartbeat_at is not None
    assert cp.last_heartbeat_at.tzinfo is not None


async def test_datetimes_from_sql_are_utc_aware(engine: AsyncEngine) -> None:
    """Datetimes read back from SQL are aware UTC even though SQLite stores them naive."""
    await migrate(engine)
    store = SqlStore(engine, clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    cp = await store.get_charge_point("CP1")
    assert cp is not None and cp.created_at is not None
    assert cp.created_at.tzinfo is not None and cp.created_at.utcoffset() == timedelta(0)


async def test_bulk_appended_times_are_stored_as_sqlalchemy_stores_them(engine: AsyncEngine) -> None:
    """Meter samples and logged frames go through the driver, bypassing SQLAlchemy's bind processing:
    their timestamps must be the same stored value SQLAlchemy writes for the same instant (here the
    heartbeat column), whatever the offset it was given in, so reads and time ordering agree."""
    await migrate(engine)
    store = SqlStore(engine)
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    at = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))  # 12:00 UTC, no microseconds
    await store.apply_batch(
        [
            HeartbeatSeen("CP1", at),
            MeterReading("CP1", 1, [MeterSample(timestamp=at, value=Decimal("1"))]),
            FrameRecord("CP1", Direction.IN, 2, "m1", "Heartbeat", "[]", at),
        ]
    )
    async with engine.connect() as conn:
        heartbeat = (await conn.execute(text("select last_heartbeat_at from charge_points"))).scalar_one()
        sample = (await conn.execute(text("select timestamp from meter_samples"))).scalar_one()
        frame = (await conn.execute(text("select at from message_log"))).scalar_one()
    assert sample == heartbeat and frame == heartbeat
