"""Boot storms: admission and boot from memory, the reload of other processes' changes, Pending beyond
`[ocpp] boot_concurrency`."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from csms.config import Config, OcppConfig
from csms.domain.core import Domain
from csms.domain.models import BootInfo, ChargePoint, RegistrationStatus
from csms.domain.secrets import hash_secret
from csms.domain.services import Services
from csms.domain.stations import LOAD_PAGE, REFRESH_OVERLAP, Refusal
from csms.store.writer import BatchedWriter
from tests.domain.conftest import NOW
from tests.fakes.memory_store import MemoryStore

BOOT = BootInfo(vendor="V", model="M")


class CountingStore(MemoryStore):
    """A MemoryStore that counts the calls of every async method (reads and direct writes)."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: NOW)
        self.calls: dict[str, int] = {}

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name.startswith("_") or name in ("apply_batch", "calls") or not callable(value):
            return value
        calls = super().__getattribute__("calls")

        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return await value(*args, **kwargs)

        return counted if _is_async(value) else value


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn)


DomainFactory = Callable[..., Awaitable[Domain]]


@pytest.fixture
async def make_domain() -> AsyncIterator[DomainFactory]:
    """Domains on a CountingStore with `[ocpp]` overrides; their writers are stopped at the end."""
    writers: list[BatchedWriter] = []
    domains: list[Domain] = []

    async def make(**ocpp: Any) -> Domain:
        store = CountingStore()
        writer = BatchedWriter(store, max_items=100, interval=0.01)
        await writer.start()
        writers.append(writer)
        config = Config(ocpp=replace(OcppConfig(), **ocpp))
        domain = Domain(Services(config=config, store=store, writer=writer, clock=lambda: NOW))
        domains.append(domain)
        return domain

    yield make
    for domain in domains:
        await domain.stations.stop()
    for writer in writers:
        await writer.stop()


async def test_known_station_is_admitted_and_booted_without_a_store_call(make_domain: DomainFactory) -> None:
    """After start(), admission (with a password) and BootNotification call no store method."""
    domain = await make_domain(station_refresh_interval=0)
    store = domain.services.store
    assert isinstance(store, CountingStore)
    await store.add_charge_point(ChargePoint("K", password_hash=hash_secret("secret-0123456789", 4)))
    await store.add_charge_point(ChargePoint("N"))
    await domain.stations.start()
    store.calls.clear()
    for _ in range(3):
        assert (await domain.stations.admit("K", "K", "secret-0123456789")).charge_point is not None
        assert (await domain.stations.admit("N", None, None)).charge_point is not None
        assert (await domain.stations.boot("K", "1.6", BOOT)).status is RegistrationStatus.ACCEPTED
    assert (await domain.stations.admit("K", "K", "wrong")).refusal is Refusal.UNAUTHORIZED
    assert store.calls == {}
    await domain.writes.sync()  # the boot data arrives through the batched writer
    stored = await store.get_charge_point("K")
    assert stored is not None and stored.vendor == "V" and stored.last_boot_at == NOW


async def test_a_known_station_missing_from_memory_is_read_once(make_domain: DomainFactory) -> None:
    """A charge point added by another process before the next reload costs one read, then none."""
    domain = await make_domain(station_refresh_interval=0)
    store = domain.services.store
    assert isinstance(store, CountingStore)
    await domain.stations.start()
    await store.add_charge_point(ChargePoint("LATE"))
    store.calls.clear()
    for _ in range(3):
        assert (await domain.stations.admit("LATE", None, None)).charge_point is not None
    assert store.calls == {"get_charge_point": 1}


async def test_refresh_takes_in_changes_made_by_another_process(make_domain: DomainFactory) -> None:
    """A registration status or password changed in the store (the CLI) applies after `refresh()`."""
    domain = await make_domain(station_refresh_interval=0)
    store = domain.services.store
    await store.add_charge_point(ChargePoint("C"))
    await domain.stations.start()
    assert (await domain.stations.boot("C", "1.6", BOOT)).status is RegistrationStatus.ACCEPTED
    await domain.writes.sync()
    cp = await store.get_charge_point("C")
    assert cp is not None
    await store.update_charge_point(
        replace(
            cp, registration_status=RegistrationStatus.REJECTED, password_hash=hash_secret("pw-98765432", 4)
        )
    )
    assert await domain.stations.refresh() >= 1
    assert (await domain.stations.admit("C", None, None)).refusal is Refusal.UNAUTHORIZED
    assert (await domain.stations.boot("C", "1.6", BOOT)).status is RegistrationStatus.REJECTED


async def test_a_reload_reads_recent_changes_not_every_charge_point_again() -> None:
    """After the first load, a refresh takes in only what changed since the previous one (less
    REFRESH_OVERLAP): unchanged charge points are not read again every interval."""
    now = [NOW]
    store = MemoryStore(clock=lambda: now[0])
    for cp_id in ("A", "B", "C"):
        await store.add_charge_point(ChargePoint(cp_id))
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    try:
        config = Config(ocpp=replace(OcppConfig(), station_refresh_interval=0))
        domain = Domain(Services(config=config, store=store, writer=writer, clock=lambda: now[0]))
        now[0] = NOW + REFRESH_OVERLAP + timedelta(seconds=1)  # the charge points were added a while ago
        assert await domain.stations.refresh() == 3  # the first load reads all
        now[0] += timedelta(seconds=5)
        assert await domain.stations.refresh() == 0
        cp = await store.get_charge_point("B")
        assert cp is not None
        await store.update_charge_point(replace(cp, registration_status=RegistrationStatus.REJECTED))
        assert await domain.stations.refresh() == 1
    finally:
        await writer.stop()


async def test_a_reload_of_many_changes_reads_them_page_by_page(make_domain: DomainFactory) -> None:
    """More changed charge points than LOAD_PAGE are all taken in, one page per read."""
    domain = await make_domain(station_refresh_interval=0)
    store = domain.services.store
    assert isinstance(store, CountingStore)
    await domain.stations.start()
    for i in range(LOAD_PAGE + 1):
        await store.add_charge_point(ChargePoint(f"CP{i:04}"))
    store.calls.clear()
    assert await domain.stations.refresh() == LOAD_PAGE + 1
    assert store.calls == {"list_charge_points_changed": 2}
    assert (await domain.stations.admit(f"CP{LOAD_PAGE:04}", None, None)).charge_point is not None
    assert store.calls == {"list_charge_points_changed": 2}  # known from the reload: no read


async def test_boot_beyond_concurrency_is_pending_with_a_random_interval(make_domain: DomainFactory) -> None:
    """While `boot_concurrency` boots wait for their commit, further boots are Pending, interval in
    [retry/2, retry*1.5], and record nothing; once committed, boots are Accepted again."""
    domain = await make_domain(boot_concurrency=1, boot_retry_interval=60, station_refresh_interval=0)
    store = domain.services.store
    for cp_id in ("A", "B"):
        await store.add_charge_point(ChargePoint(cp_id))
    await domain.stations.start()
    assert (await domain.stations.boot("A", "1.6", BOOT)).status is RegistrationStatus.ACCEPTED
    intervals = set()
    for _ in range(50):
        decision = await domain.stations.boot("B", "2.0.1", BOOT)
        assert decision.status is RegistrationStatus.PENDING
        assert 30 <= decision.interval <= 90
        intervals.add(decision.interval)
    assert len(intervals) > 5  # randomized, so the stations come back spread out
    await domain.writes.sync()
    b = await store.get_charge_point("B")
    assert b is not None and b.last_boot_at is None  # a deferred boot records nothing
    for _ in range(100):  # the settling task counts A's boot as committed
        if domain.stations.unsettled_boots == 0:
            break
        await domain.writes.sync()
    assert domain.stations.unsettled_boots == 0
    assert (await domain.stations.boot("B", "2.0.1", BOOT)).status is RegistrationStatus.ACCEPTED
