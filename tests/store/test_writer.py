"""BatchedWriter: flushes on size and on interval, read-your-writes, flush on stop, failure isolation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from csms.domain.models import ChargePoint
from csms.domain.ports import BatchItem, HeartbeatSeen, StationFieldsChanged, Store
from csms.store.writer import BatchedWriter
from tests.utils import until

T = datetime(2024, 5, 1, tzinfo=UTC)


def hb(n: int, cp: str = "CP1") -> HeartbeatSeen:
    """A distinguishable batch item."""
    return HeartbeatSeen(cp, T.replace(microsecond=n))


class RecordingSink:
    """A BatchSink that remembers each batch; `apply_batch` fails while the batch holds a poisoned item
    (any item of charge point "POISON") or while `fail_next` is above zero."""

    def __init__(self) -> None:
        self.batches: list[list[BatchItem]] = []
        self.calls = 0
        self.fail_next = 0
        self.delay = 0.0
        self.written = asyncio.Event()  # set after each batch stored
        self.started = asyncio.Event()  # set when apply_batch is entered

    async def apply_batch(self, items: Sequence[BatchItem]) -> None:
        self.calls += 1
        self.started.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("database unavailable")
        if any(getattr(i, "charge_point_id", None) == "POISON" for i in items):
            raise ValueError("poisoned item")
        self.batches.append(list(items))
        self.written.set()

    @property
    def items(self) -> list[BatchItem]:
        return [i for b in self.batches for i in b]


@contextlib.asynccontextmanager
async def running(sink: RecordingSink, **options: Any) -> AsyncIterator[BatchedWriter]:
    """A started writer over `sink` (max_items 1000 and a one-hour interval unless `options` say
    otherwise), stopped on the way out."""
    writer = BatchedWriter(sink, **{"max_items": 1000, "interval": 3600, **options})
    await writer.start()
    try:
        yield writer
    finally:
        await writer.stop()


async def test_flushes_when_max_items_are_queued(ms: float) -> None:
    """Reaching max_items flushes at once, long before the interval."""
    sink = RecordingSink()
    writer = BatchedWriter(sink, max_items=3, interval=60)
    await writer.start()
    try:
        for n in range(3):
            writer.put(hb(n))
        async with asyncio.timeout(500 * ms):
            await sink.written.wait()
        assert sink.batches == [[hb(0), hb(1), hb(2)]]
        assert writer.pending == 0
    finally:
        await writer.stop()


async def test_flushes_after_interval(ms: float) -> None:
    """A lone item is written once `interval` has passed since it was put, not before."""
    sink = RecordingSink()
    interval = 50 * ms
    writer = BatchedWriter(sink, max_items=1000, interval=interval)
    await writer.start()
    try:
        started = time.monotonic()
        writer.put(hb(1))
        writer.put(hb(2))
        for _ in range(3):
            await asyncio.sleep(0)  # let the task run: it must wait for the interval
        assert sink.batches == [] and writer.pending == 2
        async with asyncio.timeout(20 * interval):
            await sink.written.wait()
        assert time.monotonic() - started >= interval * 0.9
        assert sink.batches == [[hb(1), hb(2)]]
    finally:
        await writer.stop()


async def test_sync_gives_read_your_writes(store: Store, ms: float) -> None:
    """After sync() returns, a read sees every item put before it, without waiting for the interval."""
    await store.add_charge_point(ChargePoint(charge_point_id="CP1"))
    writer = BatchedWriter(store, max_items=1000, interval=60)
    await writer.start()
    try:
        writer.put(HeartbeatSeen("CP1", T))
        writer.put(StationFieldsChanged("CP1", {"firmware_status": "Installed"}))
        started = time.monotonic()
        await writer.sync()
        assert time.monotonic() - started < 2000 * ms
        cp = await store.get_charge_point("CP1")
        assert cp is not None and cp.last_heartbeat_at == T and cp.firmware_status == "Installed"
        assert writer.pending == 0
        await writer.sync()  # nothing pending: returns at once
    finally:
        await writer.stop()


async def test_sync_waits_for_the_batch_in_flight(ms: float) -> None:
    """sync() also waits for items already taken by a flush that has not committed yet."""
    sink = RecordingSink()
    sink.delay = 100 * ms
    writer = BatchedWriter(sink, max_items=1, interval=60)
    await writer.start()
    try:
        writer.put(hb(1))
        async with asyncio.timeout(500 * ms):
            await sink.started.wait()  # the flush of hb(1) is now in progress
        assert sink.batches == [] and writer.pending == 1
        await writer.sync()
        assert sink.batches == [[hb(1)]]
    finally:
        await writer.stop()


async def test_stop_flushes_everything_queued_in_max_item_batches() -> None:
    """stop() writes every queued item (in batches of at most max_items), then put() raises."""
    sink = RecordingSink()
    writer = BatchedWriter(sink, max_items=1000, interval=60)
    await writer.start()
    items = [hb(n % 1_000_000, cp=f"CP{n}") for n in range(2500)]
    for item in items:
        writer.put(item)
    await writer.stop()
    assert sink.items == items
    assert max(len(b) for b in sink.batches) <= 1000
    assert writer.pending == 0
    with pytest.raises(RuntimeError):
        writer.put(hb(1))
    await writer.stop()  # idempotent
    assert sink.items == items


async def test_stop_without_start_still_flushes() -> None:
    """Items put into a writer that was never started are written by stop()."""
    sink = RecordingSink()
    writer = BatchedWriter(sink, max_items=10, interval=60)
    writer.put(hb(1))
    writer.put(hb(2))
    await writer.stop()
    assert sink.items == [hb(1), hb(2)]


async def test_transient_failure_is_retried_with_backoff(ms: float) -> None:
    """A batch that fails once is retried and written whole; the failure is logged, nothing dropped."""
    sink = RecordingSink()
    sink.fail_next = 1
    writer = BatchedWriter(sink, max_items=10, interval=60, retry_delay=ms)
    await writer.start()
    with capture_logs() as logs:
        writer.put(hb(1))
        writer.put(hb(2))
        await writer.sync()
        await writer.stop()
    assert sink.batches == [[hb(1), hb(2)]]
    events = [e["event"] for e in logs]
    assert events == ["batch_write_failed"]
    assert "database unavailable" in logs[0]["error"]


async def test_failing_item_is_isolated_and_the_rest_stored(ms: float) -> None:
    """A batch with a bad item is retried, then split: only the bad item is dropped (and logged)."""
    sink = RecordingSink()
    writer = BatchedWriter(sink, max_items=100, interval=60, retry_delay=ms)
    await writer.start()
    good = [hb(n) for n in range(4)]
    with capture_logs() as logs:
        writer.put(good[0])
        writer.put(good[1])
        writer.put(hb(99, cp="POISON"))
        writer.put(good[2])
        writer.put(good[3])
        await writer.sync()
        writer.put(hb(5))  # the writer keeps working afterwards
        await writer.stop()
    assert sink.items == [*good, hb(5)]
    failed = [e for e in logs if e["event"] == "batch_write_failed"]
    dropped = [e for e in logs if e["event"] == "batch_item_dropped"]
    assert [e["attempt"] for e in failed] == [1, 2, 3]
    assert len(dropped) == 1
    assert dropped[0]["charge_point_id"] == "POISON" and "poisoned item" in dropped[0]["error"]
    assert writer.pending == 0


async def test_cancelled_task_releases_sync_and_stop_still_writes(ms: float) -> None:
    """If the task is cancelled mid-write, sync() raises instead of hanging and stop() writes the batch."""
    sink = RecordingSink()
    sink.delay = 1000 * ms
    writer = BatchedWriter(sink, max_items=1, interval=60)
    await writer.start()
    writer.put(hb(1))
    waiter = asyncio.create_task(writer.sync())
    async with asyncio.timeout(500 * ms):
        await sink.started.wait()  # the write of hb(1) is in progress
    assert writer._task is not None
    writer._task.cancel()
    with pytest.raises(RuntimeError):
        await waiter
    sink.delay = 0
    await writer.stop()
    assert sink.items == [hb(1)]


def fields(cp: str = "CP1") -> StationFieldsChanged:
    """A durable batch item (the station is answered only once it is committed)."""
    return StationFieldsChanged(cp, {"firmware_status": "Installed"})


async def test_commit_message_waits_for_the_messages_durable_items(ms: float) -> None:
    """commit_message returns once the batch holding what the message put is committed, written at once
    (group commit) rather than at the interval."""
    sink = RecordingSink()
    async with running(sink) as writer:
        writer.begin_message()
        writer.put(hb(1))
        writer.put(fields())
        async with asyncio.timeout(5000 * ms):
            await writer.commit_message()
        assert sink.items == [hb(1), fields()]


async def test_commit_message_does_not_wait_for_items_that_need_no_durability() -> None:
    """A message that put only non-durable items (heartbeat times, the frame log) is answered at once."""
    sink = RecordingSink()
    async with running(sink) as writer:
        writer.begin_message()
        writer.put(hb(1))
        await writer.commit_message()
        assert sink.calls == 0 and writer.pending == 1


async def test_commit_message_is_per_task(ms: float) -> None:
    """Each connection's task waits for its own durable items only: another task's durable put does not
    make a heartbeat wait, and begin_message forgets the previous message's items."""
    sink = RecordingSink()
    sink.delay = 50 * ms
    async with running(sink) as writer:

        async def durable_message() -> None:
            writer.begin_message()
            writer.put(fields("A"))
            await writer.commit_message()

        other = asyncio.create_task(durable_message())
        await asyncio.sleep(0)
        writer.begin_message()
        writer.put(hb(2, "B"))
        await writer.commit_message()
        assert not other.done() and sink.batches == []
        async with asyncio.timeout(5000 * ms):
            await other
        assert fields("A") in sink.items
        writer.begin_message()
        await writer.commit_message()  # the earlier message's items are not this one's


async def test_outage_is_reported_while_the_database_is_unreachable(ms: float) -> None:
    """`outage` is true from a write failing because the database is unreachable until one succeeds."""
    sink = RecordingSink()
    sink.fail_next = 2
    async with running(sink, retry_delay=20 * ms) as writer:
        assert not writer.outage
        writer.put(fields())
        sync = asyncio.create_task(writer.sync())
        await until(lambda: writer.outage)
        async with asyncio.timeout(5000 * ms):
            await sync
        assert not writer.outage and sink.items == [fields()]
