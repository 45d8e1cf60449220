"""`BatchedWriter`: queues high-volume writes and flushes them to a `BatchSink` in one transaction per batch.

Heartbeats, StatusNotifications, MeterValues and the frame log arrive thousands of times per second; one
database transaction each would make the database the bottleneck. Handlers `put` them (synchronous, O(1));
a background task flushes when `max_items` are queued or `interval` seconds after the first unflushed item,
whichever comes first.

Answered means stored (group commit): the OCPP server answers a CALL whose handler put durable data only
once the batch holding it has committed (`begin_message` / `commit_message`). Such a wait flushes at once,
and whatever other stations put while one batch commits goes into the next, so many stations' messages
share one commit: the wait costs latency, not throughput. Items whose loss costs nothing (the message log,
heartbeat times: `durable = False` on their class) are batched the same way but never waited for.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError

from csms.domain.ports import BatchItem, BatchSink

log = structlog.get_logger(__name__)

# Per task (one per station connection): the put count of the latest durable item the current message put,
# 0 for none. Set by `put`, read by `commit_message`.
_DURABLE_MARK: ContextVar[int] = ContextVar("durable_mark", default=0)


class BatchedWriter:
    """Batches `BatchItem`s and writes them with `sink.apply_batch`, one database transaction per batch.

    Durability contract: when `stop()` returns, every item `put` before it was called has been committed
    (or, if the database rejected that very item, logged as `batch_item_dropped`); from the moment `stop()`
    is called `put` raises instead of accepting an item it could not write. A SIGTERM handler that stops
    accepting frames and then awaits `stop()` therefore loses nothing a station was told was received.
    Likewise `sync()` returns only once everything put before it is committed. If the process dies
    without `stop()` (SIGKILL, power loss) everything not yet committed is lost: normally under `interval`
    seconds' worth, more while the database is failing and batches are being retried.

    Failures: a batch that `apply_batch` rejects is logged (`batch_write_failed`) and retried with
    exponential back-off, `attempts` tries in all; then its items are applied one at a time so that one bad
    item cannot take the others with it, and only the items that still fail are logged
    (`batch_item_dropped`) and dropped. No exception escapes the background task.

    Args:
        sink: where batches go (`SqlStore`; the tests' `MemoryStore`).
        max_items: flush as soon as this many items are queued; also the largest batch written.
        interval: flush at the latest this many seconds after the first unflushed item was put.
        attempts: tries per batch before falling back to item-by-item writes.
        retry_delay: back-off before the second try, doubled before each further one (seconds).
        outage_timeout: how long a batch is retried while the database is unreachable (connection or
            operational errors) before it, too, falls back to item-by-item writes (seconds).
        on_flush: observer called after each batch with (items, seconds it took) (`csms.metrics`).

    Usage: `await writer.start()` at start-up; `writer.put(item)` from handlers; `await writer.sync()`
    before reading something just put (read-your-writes); `await writer.stop()` at shutdown, before closing
    the store.
    """

    def __init__(
        self,
        sink: BatchSink,
        *,
        max_items: int = 1000,
        interval: float = 0.2,
        attempts: int = 3,
        retry_delay: float = 0.1,
        outage_timeout: float = 120.0,
        on_flush: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._sink = sink
        self._max_items = max_items
        self._interval = interval
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._outage_timeout = outage_timeout
        self._on_flush = on_flush  # metrics hook
        self._queue: list[BatchItem] = []
        self._first_put_at = 0.0  # time.monotonic() of the oldest unflushed item
        self._put_count = 0  # items ever put
        self._done_count = 0  # items ever written or dropped; the first _done_count puts are settled
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (put count to reach, future), ascending
        self._wake = asyncio.Event()  # something for the task to do: items queued, a sync, or stop
        self._urgent = False  # a sync() or stop() wants the queue flushed now, not at the interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._flush_lock = asyncio.Lock()  # one batch in flight at a time, so batches commit in order
        self._outage = False  # the batch in flight is being retried because the database is unreachable

    @property
    def pending(self) -> int:
        """Items put but not yet committed (or dropped), including the batch being written."""
        return self._put_count - self._done_count

    def put(self, item: BatchItem) -> None:
        """Queue `item` for the next batch and return at once (never blocks, never touches the database).

        Raises:
            RuntimeError: `stop()` has been called; the item would never be written.
        """
        if self._stopping:
            raise RuntimeError("BatchedWriter is stopped; put() after stop() would lose the item")
        if not self._queue:
            self._first_put_at = time.monotonic()
            self._wake.set()
        self._queue.append(item)
        self._put_count += 1
        if getattr(item, "durable", True):
            _DURABLE_MARK.set(self._put_count)
        if len(self._queue) >= self._max_items:
            self._urgent = True
            self._wake.set()

    @property
    def outage(self) -> bool:
        """True from a write that failed because the database is unreachable until the next one succeeds."""
        return self._outage

    def begin_message(self) -> None:
        """Start a message of the calling task: `commit_message` then waits only for what it puts."""
        _DURABLE_MARK.set(0)

    async def commit_message(self) -> None:
        """Return once every durable item the calling task put since `begin_message` is committed (or
        dropped after failing); at once if it put none. The batch is written now, not at the interval."""
        mark = _DURABLE_MARK.get()
        if mark:
            await self._committed(mark)

    async def sync(self) -> None:
        """Return once every item put before this call is committed (or dropped after failing).

        Flushes at once instead of waiting for the interval. Without a running task (before `start`, after
        `stop`) the caller's task writes the queue itself.

        Raises:
            RuntimeError: the background task was cancelled from outside before the items were written.
        """
        await self._committed(self._put_count)

    async def _committed(self, target: int) -> None:
        """Wait until the first `target` puts are settled, flushing now (see `sync`)."""
        if self._done_count >= target:
            return
        if self._task is None or self._task.done():
            await self._flush_all()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        bisect.insort(self._waiters, (target, future), key=lambda waiter: waiter[0])
        if self._queue:
            self._urgent = True
            self._wake.set()
        # shield: a cancelled caller must not cancel the shared future other callers may await.
        await asyncio.shield(future)

    async def start(self) -> None:
        """Start the background flush task; items put before are flushed by it too."""
        if self._task is not None:
            raise RuntimeError("BatchedWriter already started")
        if self._stopping:
            raise RuntimeError("BatchedWriter is stopped")
        self._task = asyncio.create_task(self._run(), name="batched-writer")
        self._task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        # Only an outside cancel ends the task early; then release sync() callers instead of hanging them.
        # Their items stay queued for stop() to write.
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(RuntimeError("BatchedWriter task ended before the items were written"))
        self._waiters.clear()

    async def stop(self) -> None:
        """Flush everything still queued, then stop the task; idempotent.

        After this returns every item put before is committed (or dropped after failing) and `put` raises.
        """
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._urgent = True
            self._wake.set()
            # shield: if our caller is cancelled mid-shutdown, the final flush still completes.
            await asyncio.shield(self._task)
        # Never started, or the task ended abnormally: write what is left from here.
        await self._flush_all()

    async def _run(self) -> None:
        while True:
            try:
                if not self._queue:
                    if self._stopping:
                        return
                    self._urgent = False  # a sync() whose items were in flight: nothing left to hurry
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if not (self._urgent or self._stopping):
                    remaining = self._first_put_at + self._interval - time.monotonic()
                    if remaining > 0:
                        self._wake.clear()
                        try:
                            # Woken early by a full queue, sync() or stop().
                            async with asyncio.timeout(remaining):
                                await self._wake.wait()
                        except TimeoutError:
                            pass
                        continue
                await self._flush_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not kill the writer and lose every later item
                log.exception("batch_writer_error", error=repr(exc))
                await asyncio.sleep(self._retry_delay)

    async def _flush_all(self) -> None:
        while self._queue:
            await self._flush_once()
        self._settle_waiters()

    async def _flush_once(self) -> None:
        async with self._flush_lock:
            if not self._queue:
                return
            batch = self._queue[: self._max_items]
            del self._queue[: self._max_items]
            if not self._queue:
                self._urgent = False
            # Items left over keep _first_put_at: they are at least as old as this flush, so they are due.
            started = time.monotonic()  # metrics hook
            try:
                await self._write(batch)  # never raises Exception: failures are retried, then dropped
            except BaseException:
                # Cancelled mid-write: put the batch back so that stop() still writes it (at least once).
                self._queue[:0] = batch
                raise
            self._done_count += len(batch)
            self._settle_waiters()
            if self._on_flush is not None:  # metrics hook
                self._on_flush(len(batch), time.monotonic() - started)

    def _settle_waiters(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._done_count:
            _, future = self._waiters.pop(0)
            if not future.done():
                future.set_result(None)

    async def _write(self, batch: Sequence[BatchItem]) -> None:
        delay = self._retry_delay
        attempt = 0
        outage_started: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            attempt += 1
            try:
                await self._sink.apply_batch(batch)
                self._outage = False
                return
            except Exception as exc:
                transient = _is_transient(exc)
                log.warning(
                    "batch_write_failed",
                    error=repr(exc),
                    attempt=attempt,
                    transient=transient,
                    items=len(batch),
                )
                if transient:
                    # The database is unreachable, not the data wrong: splitting the batch would only
                    # drop every item. Keep retrying (capped back-off) for up to `outage_timeout`.
                    self._outage = True
                    outage_started = outage_started if outage_started is not None else loop.time()
                    if loop.time() - outage_started < self._outage_timeout:
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 5.0)
                        continue
                elif attempt < self._attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
                break
        # The batch keeps failing: most likely one bad item. Write them one by one to keep all the others.
        for item in batch:
            try:
                await self._sink.apply_batch([item])
                self._outage = False
            except Exception as exc:
                self._outage = _is_transient(exc)
                log.error(
                    "batch_item_dropped",
                    error=repr(exc),
                    item_type=type(item).__name__,
                    charge_point_id=getattr(item, "charge_point_id", None),
                )


def _is_transient(exc: BaseException) -> bool:
    """True for errors that mean "database unreachable or busy" rather than "this data is wrong"."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return bool(getattr(exc, "connection_invalidated", False))
