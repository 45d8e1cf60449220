"""The push outbox run by several processes on one database (memory, SQLite file, PostgreSQL): each entry
is claimed by one outbox and delivered once, in order per object; a claim that ran out (its process died)
is taken over by another outbox, one still running is not.

Each simulated process has its own `Outbox` (own node id), context and, on SQL, its own engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from csms.config import DatabaseConfig, OcpiConfig
from csms.domain.core import Domain
from csms.store.migrate import migrate
from csms.store.sql import make_engine, open_store
from ocpi.client import PartnerClient
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus
from ocpi.outbox import Outbox
from ocpi.store import OcpiStore
from ocpi.store.sql import SqlOcpiStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi import test_push
from tests.ocpi.conftest import T0, FakeClock
from tests.ocpi.test_push import FakePartner, add_partner, drain, session_push
from tests.store.conftest import postgres_schema, schema_engine
from tests.utils import MS, until

# The fixtures of the single-process outbox tests, used here too.
config, domain, fake_partner = test_push.config, test_push.domain, test_push.fake_partner

PROCESSES = 2
OBJECTS = 5  # sessions, each pushed PUSHES times
PUSHES = 3


class WatchedStore:
    """One process's OCPI store, counting the passes that took (claimed) due entries."""

    def __init__(self, store: OcpiStore) -> None:
        self._store = store
        self.passes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_outbox(self, *args: Any, **kwargs: Any) -> list[OutboxEntry]:
        claimed: list[OutboxEntry] = await self._store.claim_outbox(*args, **kwargs)
        self.passes += 1
        return claimed


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def shared_stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[OcpiStore]]:
    """PROCESSES OCPI stores over one database; on SQL each on an engine of its own, like processes."""
    if request.param == "memory":
        memory = MemoryOcpiStore(clock=clock)
        yield [memory] * PROCESSES
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
        await (await open_store(DatabaseConfig(url=url), clock=clock)).close()  # migrated once
        engines = [make_engine(DatabaseConfig(url=url)) for _ in range(PROCESSES)]
        try:
            yield [SqlOcpiStore(engine, clock=clock) for engine in engines]
        finally:
            await asyncio.gather(*(engine.dispose() for engine in engines))
        return
    async with postgres_schema() as schema:  # the engines are disposed of before the schema is dropped
        engines = [schema_engine(schema) for _ in range(PROCESSES)]
        try:
            await migrate(engines[0])
            yield [SqlOcpiStore(engine, clock=clock) for engine in engines]
        finally:
            await asyncio.gather(*(engine.dispose() for engine in engines))


@pytest.fixture
async def contexts(
    domain: Domain, shared_stores: list[OcpiStore], config: OcpiConfig, clock: FakeClock
) -> AsyncIterator[list[OcpiContext]]:
    """One OCPI context per process, each on its (watched) store, sharing the domain and an HTTP session."""
    async with aiohttp.ClientSession() as session:
        client = PartnerClient(session, config, timeout=2000 * MS)
        yield [
            OcpiContext(
                domain=domain,
                store=cast(OcpiStore, WatchedStore(store)),
                config=config,
                base_url="http://127.0.0.1:1",
                client=client,
                clock=clock,
            )
            for store in shared_stores
        ]


def arrivals(partner: FakePartner) -> dict[str, list[int]]:
    """The pushes the partner received, per session in arrival order."""
    by_session: dict[str, list[int]] = {}
    for _, path, body in partner.requests:
        by_session.setdefault(path.rsplit("/", 1)[1], []).append(body["n"])
    return by_session


async def test_concurrent_outboxes_deliver_each_push_exactly_once_in_order(
    contexts: list[OcpiContext], fake_partner: FakePartner
) -> None:
    """Outboxes of several processes delivering at once to a slow partner: every push arrives exactly once,
    the pushes of each object in the order they were queued, and every entry ends SENT."""
    partner = await add_partner(contexts[0], fake_partner.url)
    outboxes = [Outbox(ctx) for ctx in contexts]
    assert len({outbox.node_id for outbox in outboxes}) == PROCESSES
    for n in range(PUSHES):
        for session in range(OBJECTS):
            await session_push(outboxes[n % PROCESSES], partner, str(session), n)
    fake_partner.gate = asyncio.Event()  # the partner holds every request: the passes overlap
    first = [asyncio.create_task(outbox.deliver_due()) for outbox in outboxes]
    stores = [cast(WatchedStore, ctx.store) for ctx in contexts]
    await until(lambda: all(store.passes >= 1 for store in stores))  # each took its due entries
    async with asyncio.timeout(2000 * MS):
        await fake_partner.arrived.wait()
    fake_partner.gate.set()
    await asyncio.gather(*first)
    await asyncio.gather(*(drain(outbox) for outbox in outboxes))
    for outbox in outboxes:  # whatever one left released is delivered by a last pass
        await drain(outbox)
    assert arrivals(fake_partner) == {str(session): list(range(PUSHES)) for session in range(OBJECTS)}
    entries = await contexts[0].store.list_outbox(limit=1000)
    assert len(entries) == OBJECTS * PUSHES
    assert all((e.status, e.attempts, e.claimed_by) == (OutboxStatus.SENT, 1, None) for e in entries)


async def test_expired_claim_is_taken_over_and_a_valid_one_is_not(
    contexts: list[OcpiContext], fake_partner: FakePartner, clock: FakeClock
) -> None:
    """Entries claimed by a process that died are left alone while its claim runs, then delivered (once, in
    order) by another process's outbox."""
    ctx = contexts[0]
    partner = await add_partner(ctx, fake_partner.url)
    survivor = Outbox(contexts[1], node_id="survivor")
    for n in range(PUSHES):
        await session_push(survivor, partner, "42", n)
    claim = timedelta(seconds=ctx.config.push_claim_seconds)
    dead = await ctx.store.claim_outbox(T0, 10, node_id="dead", until=T0 + claim)
    assert len(dead) == 1  # the head of session 42; its later pushes wait behind it

    clock.advance(claim.total_seconds() - 1)
    assert await survivor.deliver_due() == 0
    assert fake_partner.requests == []

    clock.advance(1)
    await drain(survivor)
    assert arrivals(fake_partner) == {"42": list(range(PUSHES))}
    entries = await ctx.store.list_outbox(limit=1000)
    assert all(e.status is OutboxStatus.SENT and e.claimed_by is None for e in entries)


async def test_outbox_node_id_comes_from_the_cluster_config(contexts: list[OcpiContext]) -> None:
    """`[cluster] node_id` names the claimer when set; otherwise each outbox gets a fresh id."""
    ctx = contexts[0]
    assert Outbox(ctx).node_id != Outbox(ctx).node_id
    assert Outbox(ctx, node_id="given").node_id == "given"


async def _held_first_delivery(outbox: Outbox, fake_partner: FakePartner) -> asyncio.Task[int]:
    """Start a pass of `outbox` and return it once its first push is held by the (gated) partner."""
    fake_partner.gate = asyncio.Event()
    delivering = asyncio.create_task(outbox.deliver_due())
    async with asyncio.timeout(2000 * MS):
        await fake_partner.arrived.wait()
    return delivering


async def test_stopping_outbox_releases_what_it_claimed_but_did_not_attempt(
    contexts: list[OcpiContext], fake_partner: FakePartner
) -> None:
    """An outbox stopped mid-pass gives back the claims of the entries it did not attempt: another process
    delivers them at once, not only after the claim ran out."""
    partner = await add_partner(contexts[0], fake_partner.url)
    stopping, other = Outbox(contexts[0]), Outbox(contexts[1])
    for session in range(3):
        await session_push(stopping, partner, str(session), 0)
    delivering = await _held_first_delivery(stopping, fake_partner)
    stop = asyncio.create_task(stopping.stop())
    await until(lambda: stopping._stopping)  # the flag its partner task reads before each attempt
    fake_partner.gate.set()  # type: ignore[union-attr]
    assert await delivering == 1
    await stop
    await drain(other)
    assert arrivals(fake_partner) == {str(session): [0] for session in range(3)}


async def test_entries_whose_claim_is_running_out_are_released_not_attempted(
    contexts: list[OcpiContext], fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A pass that reaches an entry with less than half of its claim left releases it rather than risk an
    attempt that outlasts the claim; the next pass (of any process) claims and delivers it."""
    partner = await add_partner(contexts[0], fake_partner.url)
    slow, other = Outbox(contexts[0]), Outbox(contexts[1])
    await session_push(slow, partner, "1", 0)
    await session_push(slow, partner, "2", 0)
    delivering = await _held_first_delivery(slow, fake_partner)
    clock.advance(contexts[0].config.push_claim_seconds / 2)
    fake_partner.gate.set()  # type: ignore[union-attr]
    assert await delivering == 1
    [released] = await contexts[1].store.due_outbox(clock())
    assert (released.attempts, released.claimed_by) == (0, None)
    await drain(other)
    assert arrivals(fake_partner) == {"1": [0], "2": [0]}
