"""The push outbox (ocpi/push.py): delivery, order per object, back-off, durability, partners that are down
or slow, and the feeder that turns domain events into EVSE status, Session and CDR pushes."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.metrics import Metrics
from csms.store.writer import BatchedWriter
from ocpi.client import PartnerClient, PartnerResponse
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus, Partner, PartnerStatus
from ocpi.outbox import MAX_BACKOFF_SECONDS, Outbox, Verdict, backoff_seconds, classify
from ocpi.store import OcpiStore
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.conftest import T0, FakeClock
from tests.prometheus import Scrape
from tests.utils import MS

Answer = Callable[[web.Request, Any], Awaitable[tuple[int, Any]]]


@pytest.fixture(autouse=True)
async def debug_loop(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """Run in asyncio debug mode and fail on a callback that blocked the loop (asyncio logs those)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 200 * MS
    caplog.set_level(logging.WARNING, logger="asyncio")
    yield
    slow = [r for r in caplog.records if r.name == "asyncio" and "Executing" in r.getMessage()]
    assert not slow, [r.getMessage() for r in slow]


class FakePartner:
    """An eMSP receiver on 127.0.0.1 that records every push (method, path, body, headers) in order.

    `down` answers 503; `answer` decides other answers (default 200 / 1000); `gate`, when set, holds every
    request until it is opened (a slow partner).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.down = False
        self.answer: Answer | None = None
        self.gate: asyncio.Event | None = None
        self.arrived = asyncio.Event()
        self._recorded = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/ocpi/2.2.1"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            return web.json_response({"status_code": 3000, "timestamp": "2024-05-01T12:00:00Z"}, status=503)
        async with self._recorded:
            self.requests.append((request.method, request.path, body))
            self.headers.append(dict(request.headers))
            self._recorded.notify_all()
        if self.answer is not None:
            status, payload = await self.answer(request, body)
        else:
            status, payload = 200, {"status_code": 1000, "timestamp": "2024-05-01T12:00:00Z"}
        if payload is None:
            return web.Response(status=status)
        return web.json_response(payload, status=status)

    async def wait_for(self, count: int) -> None:
        """Wait (at most 2 s of test time) until `count` pushes were recorded."""
        async with asyncio.timeout(2000 * MS), self._recorded:
            await self._recorded.wait_for(lambda: len(self.requests) >= count)


@pytest.fixture
async def fake_partner() -> AsyncIterator[FakePartner]:
    """A running fake partner."""
    partner = FakePartner()
    await partner.start()
    yield partner
    await partner.close()


@pytest.fixture
async def domain(clock: FakeClock) -> AsyncIterator[Domain]:
    """A domain on the in-memory CSMS store with the fixed clock."""
    store = MemoryStore(clock=clock)
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    yield Domain(Services(config=Config(), store=store, writer=writer, clock=clock))
    await writer.stop()


@pytest.fixture
def config() -> OcpiConfig:
    """Our OCPI config with a 5 s first back-off and 20 attempts."""
    return replace(OcpiConfig(), push_retry_seconds=5.0, push_max_attempts=20)


@pytest.fixture
async def ctx(
    domain: Domain, memory_ocpi_store: MemoryOcpiStore, config: OcpiConfig, clock: FakeClock
) -> AsyncIterator[OcpiContext]:
    """An OCPI context with a real PartnerClient (short timeout) on the memory store and fixed clock."""
    async with aiohttp.ClientSession() as session:
        yield OcpiContext(
            domain=domain,
            store=memory_ocpi_store,
            config=config,
            base_url="http://127.0.0.1:1",
            client=PartnerClient(session, config, timeout=2000 * MS),
            clock=clock,
        )


@pytest.fixture
async def any_ctx(
    domain: Domain, ocpi_store: OcpiStore, config: OcpiConfig, clock: FakeClock
) -> AsyncIterator[OcpiContext]:
    """Like `ctx`, on every OCPI store backend (memory, SQLite, PostgreSQL): the outbox is the database."""
    async with aiohttp.ClientSession() as session:
        yield OcpiContext(
            domain=domain,
            store=ocpi_store,
            config=config,
            base_url="http://127.0.0.1:1",
            client=PartnerClient(session, config, timeout=2000 * MS),
            clock=clock,
        )


async def add_partner(ctx: OcpiContext, url: str, *, party_id: str = "EMS") -> Partner:
    """A REGISTERED partner whose sessions, cdrs and locations receivers are below `url`."""
    return await ctx.store.add_partner(
        Partner(
            id=0,
            name=f"eMSP {party_id}",
            country_code="NL",
            party_id=party_id,
            status=PartnerStatus.REGISTERED,
            token_b=f"token-b-{party_id}",
            endpoints={
                "sessions:RECEIVER": f"{url}/sessions",
                "cdrs:RECEIVER": f"{url}/cdrs",
                "locations:RECEIVER": f"{url}/locations",
            },
        )
    )


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ocpi/2.2.1"


async def drain(outbox: Outbox) -> None:
    """Deliver until nothing more is due now."""
    for _ in range(100):
        if not await outbox.deliver_due():
            return
    raise AssertionError("the outbox kept settling entries")


async def entries(ctx: OcpiContext) -> list[OutboxEntry]:
    return sorted(await ctx.store.list_outbox(limit=1000), key=lambda e: e.id)


async def session_push(
    outbox: Outbox, partner: Partner, session_id: str, n: int, method: str = "PATCH"
) -> None:
    url = f"{partner.endpoints['sessions:RECEIVER']}/NL/CSM/{session_id}"
    await outbox.enqueue(partner, "sessions", f"session:{session_id}", method, url, {"n": n})


# -- judging answers --------------------------------------------------------------------------------


def _entry(module: str = "sessions", method: str = "PATCH") -> OutboxEntry:
    return OutboxEntry(id=1, partner_id=1, module=module, object_key="k", method=method, url="u", body=None)


@pytest.mark.parametrize(
    ("http", "code", "module", "method", "verdict"),
    [
        (200, 1000, "sessions", "PATCH", Verdict.SENT),
        (201, 1000, "sessions", "PUT", Verdict.SENT),
        (201, None, "cdrs", "POST", Verdict.SENT),
        (200, None, "sessions", "PUT", Verdict.RETRY),
        (200, 2001, "sessions", "PATCH", Verdict.REJECTED),
        (404, 2003, "locations", "PATCH", Verdict.REJECTED),
        (400, None, "sessions", "PUT", Verdict.REJECTED),
        (200, 3000, "sessions", "PUT", Verdict.RETRY),
        (200, 4003, "sessions", "PUT", Verdict.RETRY),
        (500, 3000, "sessions", "PUT", Verdict.RETRY),
        (408, None, "sessions", "PUT", Verdict.RETRY),
        (503, None, "sessions", "PUT", Verdict.UNAVAILABLE),
        (401, 2000, "sessions", "PUT", Verdict.UNAVAILABLE),
        (429, None, "cdrs", "POST", Verdict.UNAVAILABLE),
    ],
)
def test_classify(http: int, code: int | None, module: str, method: str, verdict: Verdict) -> None:
    """Answers are judged as the module docstring says: 2xx+1000 sent, client errors rejected, the rest
    retried, and 401/403/429/502/503/504 make the whole partner wait."""
    assert classify(_entry(module, method), PartnerResponse(http, code, None, {}))[0] is verdict


def test_backoff_doubles_and_is_capped() -> None:
    """The back-off is retry_seconds·2^(attempts−1), never more than an hour."""
    assert [backoff_seconds(5.0, n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert backoff_seconds(5.0, 11) == MAX_BACKOFF_SECONDS
    assert backoff_seconds(5.0, 1000) == MAX_BACKOFF_SECONDS


# -- delivery ---------------------------------------------------------------------------------------


async def test_delivered_push_is_sent_with_partner_token(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """A queued push reaches the partner with its body and `Authorization: Token base64(token B)`, and
    the entry becomes SENT."""
    partner = await add_partner(ctx, fake_partner.url)
    outbox = Outbox(ctx)
    await session_push(outbox, partner, "42", 1, method="PUT")
    assert await outbox.deliver_due() == 1
    assert fake_partner.requests == [("PUT", "/ocpi/2.2.1/sessions/NL/CSM/42", {"n": 1})]
    assert fake_partner.headers[0]["Authorization"] == "Token " + base64.b64encode(b"token-b-EMS").decode()
    [entry] = await entries(ctx)
    assert entry.status is OutboxStatus.SENT
    assert entry.attempts == 1
    assert entry.sent_at == T0


async def test_pushes_of_one_object_arrive_in_order(any_ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """Pushes with the same object key arrive in the order they were queued, each key in its own order."""
    partner = await add_partner(any_ctx, fake_partner.url)
    outbox = Outbox(any_ctx)
    for n in range(3):
        await session_push(outbox, partner, "A", n)
        await session_push(outbox, partner, "B", n)
    await drain(outbox)
    by_session: dict[str, list[int]] = {}
    for _, path, body in fake_partner.requests:
        by_session.setdefault(path.rsplit("/", 1)[1], []).append(body["n"])
    assert by_session == {"A": [0, 1, 2], "B": [0, 1, 2]}
    assert all(e.status is OutboxStatus.SENT for e in await entries(any_ctx))


async def test_failed_attempts_back_off_exponentially(
    any_ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A failing push is retried after 5 s, 10 s, 20 s... (the configured first back-off, doubling), and
    not before."""
    partner = await add_partner(any_ctx, fake_partner.url)

    async def server_error(request: web.Request, body: Any) -> tuple[int, Any]:
        return 500, {"status_code": 3000, "timestamp": "2024-05-01T12:00:00Z"}

    fake_partner.answer = server_error
    outbox = Outbox(any_ctx)
    await session_push(outbox, partner, "42", 1)
    waits = []
    for _ in range(4):
        await outbox.deliver_due()
        [entry] = await entries(any_ctx)
        assert entry.next_attempt_at is not None
        waits.append((entry.next_attempt_at - clock()).total_seconds())
        await outbox.deliver_due()  # not due yet: nothing is attempted
        clock.advance(waits[-1])
    assert waits == [5.0, 10.0, 20.0, 40.0]
    assert len(fake_partner.requests) == 4
    [entry] = await entries(any_ctx)
    assert entry.attempts == 4
    assert entry.status is OutboxStatus.PENDING
    assert entry.last_error == "HTTP 500, OCPI 3000"


async def test_push_fails_after_max_attempts_and_the_next_goes_on(
    any_ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """After `push_max_attempts` failures an entry is FAILED, and the next push of the object is delivered."""
    any_ctx.config = replace(any_ctx.config, push_max_attempts=3)
    partner = await add_partner(any_ctx, fake_partner.url)

    async def first_fails(request: web.Request, body: Any) -> tuple[int, Any]:
        code = 3000 if body["n"] == 1 else 1000
        return 200, {"status_code": code, "timestamp": "2024-05-01T12:00:00Z"}

    fake_partner.answer = first_fails
    outbox = Outbox(any_ctx)
    await session_push(outbox, partner, "42", 1)
    await session_push(outbox, partner, "42", 2)
    for _ in range(3):
        await drain(outbox)
        clock.advance(MAX_BACKOFF_SECONDS)
    await drain(outbox)
    first, second = await entries(any_ctx)
    assert (first.status, first.attempts) == (OutboxStatus.FAILED, 3)
    assert second.status is OutboxStatus.SENT
    assert [body["n"] for _, _, body in fake_partner.requests] == [1, 1, 1, 2]


async def test_client_error_fails_at_once(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """A push the partner refuses as a client error (OCPI 2xxx) is FAILED after one attempt, not retried."""
    partner = await add_partner(ctx, fake_partner.url)

    async def invalid(request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {"status_code": 2001, "status_message": "bad", "timestamp": "2024-05-01T12:00:00Z"}

    fake_partner.answer = invalid
    outbox = Outbox(ctx)
    await session_push(outbox, partner, "42", 1)
    assert await outbox.deliver_due() == 1
    [entry] = await entries(ctx)
    assert (entry.status, entry.attempts, entry.last_error) == (OutboxStatus.FAILED, 1, "HTTP 200, OCPI 2001")


async def test_cdr_post_answered_without_envelope_is_sent(
    ctx: OcpiContext, fake_partner: FakePartner
) -> None:
    """A CDR POST answered 201 with a Location header and no OCPI body counts as delivered."""
    partner = await add_partner(ctx, fake_partner.url)

    async def created(request: web.Request, body: Any) -> tuple[int, Any]:
        return 201, None

    fake_partner.answer = created
    outbox = Outbox(ctx)
    await outbox.enqueue(
        partner, "cdrs", "session:42", "POST", partner.endpoints["cdrs:RECEIVER"], {"id": "1"}
    )
    await outbox.deliver_due()
    [entry] = await entries(ctx)
    assert entry.status is OutboxStatus.SENT


async def test_unregistered_partner_entries_fail(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """Pending pushes to a partner that unregistered are FAILED without calling it."""
    partner = await add_partner(ctx, fake_partner.url)
    outbox = Outbox(ctx)
    await session_push(outbox, partner, "42", 1)
    partner.status = PartnerStatus.UNREGISTERED
    await ctx.store.save_partner(partner)
    await outbox.deliver_due()
    [entry] = await entries(ctx)
    assert (entry.status, entry.last_error) == (OutboxStatus.FAILED, "partner unregistered")
    assert fake_partner.requests == []


# -- partners that are down or slow -----------------------------------------------------------------


async def test_down_partner_receives_everything_in_order_once_back(
    any_ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """While a partner is down, one push probes it per back-off and the others wait without using up
    attempts; once it is back it receives every push, each object's in order."""
    partner = await add_partner(any_ctx, fake_partner.url)
    fake_partner.down = True
    outbox = Outbox(any_ctx)
    for n in range(3):
        await session_push(outbox, partner, "A", n)
        await session_push(outbox, partner, "B", n)
    for _ in range(3):
        await drain(outbox)
        clock.advance(MAX_BACKOFF_SECONDS)
    stored = await entries(any_ctx)
    assert stored[0].attempts == 3  # the probe
    assert all(e.attempts == 0 for e in stored[1:])
    assert all(e.status is OutboxStatus.PENDING for e in stored)
    assert fake_partner.requests == []
    fake_partner.down = False
    await drain(outbox)
    sent = [(path.rsplit("/", 1)[1], body["n"]) for _, path, body in fake_partner.requests]
    assert [n for key, n in sent if key == "A"] == [0, 1, 2]
    assert [n for key, n in sent if key == "B"] == [0, 1, 2]
    assert all(e.status is OutboxStatus.SENT for e in await entries(any_ctx))


async def test_unreachable_partner_is_retried(ctx: OcpiContext, clock: FakeClock) -> None:
    """A partner that refuses connections leaves the push pending with a back-off and the error noted."""
    partner = await add_partner(ctx, closed_port_url())
    outbox = Outbox(ctx)
    await session_push(outbox, partner, "42", 1)
    await session_push(outbox, partner, "43", 1)
    assert await outbox.deliver_due() == 0
    probe, held = await entries(ctx)
    assert probe.attempts == 1 and probe.last_error is not None and probe.last_error.startswith("unreachable")
    assert probe.next_attempt_at == T0 + timedelta(seconds=5)
    assert held.attempts == 0 and held.next_attempt_at == probe.next_attempt_at


async def test_new_outbox_delivers_what_the_old_one_left(
    any_ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """Pushes are durable: an outbox stopped while its partner is down leaves them pending, and a new
    outbox on the same store delivers them, in order."""
    partner = await add_partner(any_ctx, fake_partner.url)
    fake_partner.down = True
    old = Outbox(any_ctx)
    for n in range(3):
        await session_push(old, partner, "42", n)
    await old.deliver_due()
    await old.stop()
    fake_partner.down = False
    clock.advance(MAX_BACKOFF_SECONDS)
    new = Outbox(any_ctx)
    await drain(new)
    assert [body["n"] for _, _, body in fake_partner.requests] == [0, 1, 2]


async def test_worker_delivers_queued_pushes(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """Once started, the worker delivers a push as soon as it is queued."""
    partner = await add_partner(ctx, fake_partner.url)
    outbox = Outbox(ctx, poll_interval=60)
    await outbox.start()
    try:
        await session_push(outbox, partner, "42", 1)
        await session_push(outbox, partner, "42", 2)
        await fake_partner.wait_for(2)
    finally:
        await outbox.stop()
    assert [body["n"] for _, _, body in fake_partner.requests] == [1, 2]


async def test_slow_partner_does_not_block_others(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """A partner that does not answer does not delay pushes to another partner."""
    slow_partner = FakePartner()
    await slow_partner.start()
    try:
        slow_partner.gate = asyncio.Event()
        slow = await add_partner(ctx, slow_partner.url, party_id="SLO")
        fast = await add_partner(ctx, fake_partner.url, party_id="FST")
        outbox = Outbox(ctx, poll_interval=60)
        await outbox.start()
        await session_push(outbox, slow, "1", 1)
        async with asyncio.timeout(2000 * MS):
            await slow_partner.arrived.wait()
        await session_push(outbox, fast, "2", 1)
        await fake_partner.wait_for(1)
        assert slow_partner.requests == []
        slow_partner.gate.set()
        await outbox.stop()
        assert len(slow_partner.requests) == 1
    finally:
        slow_partner.gate = None
        await slow_partner.close()


async def test_stop_waits_for_the_delivery_in_flight(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """`stop()` lets the push in flight finish (SENT) and leaves the following ones pending."""
    partner = await add_partner(ctx, fake_partner.url)
    fake_partner.gate = asyncio.Event()
    outbox = Outbox(ctx, poll_interval=60)
    await session_push(outbox, partner, "1", 1)
    await session_push(outbox, partner, "2", 1)
    await outbox.start()
    async with asyncio.timeout(2000 * MS):
        await fake_partner.arrived.wait()
    stopping = asyncio.create_task(outbox.stop())
    await asyncio.sleep(20 * MS)
    assert not stopping.done()
    fake_partner.gate.set()
    async with asyncio.timeout(2000 * MS):
        await stopping
    first, second = await entries(ctx)
    assert first.status is OutboxStatus.SENT
    assert (second.status, second.attempts) == (OutboxStatus.PENDING, 0)


# -- the feeder: domain events become pushes --------------------------------------------------------


def needs_bridge(*names: str) -> None:
    """Skip unless these OCPI object builders exist (written in parallel with this module)."""
    for name in names or ("locations", "sessions", "cdrs"):
        module = pytest.importorskip(f"ocpi.{name}")
        if not hasattr(module, "register"):
            pytest.skip(f"ocpi.{name} is not written yet")


async def published_station(ctx: OcpiContext, *, publish: bool = True, evses: int = 2) -> None:
    """Charge point CP1 (connected, OCPP 1.6, `evses` connectors Available) in location LOC1."""
    from csms.domain.models import ChargePoint, ConnectorStatus, StatusChange
    from csms.domain.registry import LiveConnection
    from ocpi.models import Location

    services = ctx.domain.services
    await services.store.add_charge_point(ChargePoint("CP1", ocpp_version="1.6", created_at=T0))
    services.registry.register(LiveConnection("CP1", "1.6", T0))
    for evse_id in range(1, evses + 1):
        services.writer.put(StatusChange("CP1", evse_id, 1, ConnectorStatus.AVAILABLE, T0))
    await services.writer.sync()
    await ctx.store.save_location(
        Location(
            id="LOC1",
            name="Depot",
            address="Main Street 1",
            city="Utrecht",
            country="NLD",
            latitude="52.09000",
            longitude="5.12000",
            time_zone="Europe/Amsterdam",
            country_code="NL",
            party_id="CSM",
            publish=publish,
            charge_point_ids=["CP1"],
            last_updated=T0,
        )
    )


async def status(ctx: OcpiContext, evse_id: int, status: str, detail: str | None = None) -> None:
    from csms.domain.models import ConnectorStatus, StatusChange

    ctx.domain.stations.status_changed(
        StatusChange("CP1", evse_id, 1, ConnectorStatus(status), ctx.clock(), status_detail=detail)
    )
    await ctx.domain.services.writer.sync()


async def test_status_change_is_pushed_as_evse_patch(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """A connector status change becomes one EVSE PATCH {status, last_updated} to the partner's locations
    receiver; a repeat of the same OCPI status is not pushed again."""
    needs_bridge("locations")
    from ocpi.locations import evse_ref
    from ocpi.push import install
    from tests.ocpi.schemas import assert_valid_patch

    await published_station(ctx)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx)
    assert outbox.feeder is not None
    await status(ctx, 1, "Occupied", "Charging")
    await status(ctx, 1, "Occupied", "SuspendedEV")  # still CHARGING in OCPI
    await outbox.feeder.flush()
    await drain(outbox)
    ref = await evse_ref(ctx, "CP1", 1)
    assert ref is not None
    [(method, path, body)] = fake_partner.requests
    assert (method, path) == ("PATCH", f"/ocpi/2.2.1/locations/NL/CSM/LOC1/{ref[1]}")
    assert body == {"status": "CHARGING", "last_updated": "2024-05-01T12:00:00Z"}
    assert_valid_patch("EVSE", body)


async def test_station_status_applies_to_every_evse(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """A status on EVSE 0 (the whole station) is pushed for every EVSE of the station."""
    needs_bridge("locations")
    from ocpi.push import install

    await published_station(ctx, evses=2)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx)
    assert outbox.feeder is not None
    await status(ctx, 0, "Unavailable")
    await outbox.feeder.flush()
    await drain(outbox)
    assert sorted(body["status"] for _, _, body in fake_partner.requests) == ["INOPERATIVE", "INOPERATIVE"]
    assert len({path for _, path, _ in fake_partner.requests}) == 2


async def test_unpublished_location_is_not_pushed(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """Status changes of a charge point in an unpublished location are not pushed."""
    needs_bridge("locations")
    from ocpi.push import install

    await published_station(ctx, publish=False)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx)
    assert outbox.feeder is not None
    await status(ctx, 1, "Faulted")
    await outbox.feeder.flush()
    assert await entries(ctx) == []


async def owned_token(ctx: OcpiContext, owner: Partner, uid: str, *, party_id: str | None = None) -> None:
    """A token of `owner` (of its party, or of `party_id` in NL) that the partner-token authority links to
    the sessions it starts (installed here, as the bridge does)."""
    from ocpi.authority import install as install_authority
    from ocpi.models import PartnerToken

    install_authority(ctx)
    party, contract_id = party_id or owner.party_id, f"NL-{party_id or owner.party_id}-{uid}"
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": party,
        "uid": uid,
        "type": "RFID",
        "contract_id": contract_id,
        "issuer": owner.name,
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2024-05-01T12:00:00Z",
    }
    token = PartnerToken("NL", party, uid, "RFID", contract_id, owner.name, True, "ALWAYS", data, owner.id)
    token.last_updated = T0
    await ctx.store.save_partner_token(token)


async def run_transaction(
    ctx: OcpiContext, outbox: Outbox, clock: FakeClock, id_token: str = "LOCAL1"
) -> None:
    """Start a transaction on CP1 EVSE 1, meter 3 kWh in two readings, stop at 5 kWh; flush the feeder
    after each step as its timer would."""
    from decimal import Decimal

    from csms.domain.models import MeterReading, MeterSample, NewTransaction, TransactionStop

    assert outbox.feeder is not None
    transactions = ctx.domain.transactions
    outcome = await transactions.start(
        NewTransaction("CP1", 1, 1, clock(), id_token=id_token, meter_start_wh=1000)
    )
    tx = outcome.transaction
    await outbox.feeder.flush()
    for wh in (2000, 4000):
        clock.advance(600)
        sample = MeterSample(clock(), Decimal(wh))
        await transactions.meter_values(MeterReading("CP1", 1, [sample]), tx)
    await outbox.feeder.flush()  # the two readings make one PATCH
    clock.advance(600)
    await transactions.stop(tx, TransactionStop(clock(), meter_stop_wh=6000, reason="Local"))
    await outbox.feeder.flush()


async def test_transaction_is_pushed_as_session_and_cdr(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A transaction becomes Session PUT (ACTIVE), one coalesced PATCH with kwh, PATCH COMPLETED and the
    CDR POST, in that order, each valid OCPI 2.2.1."""
    needs_bridge()
    from ocpi.push import install
    from tests.ocpi.schemas import assert_valid, assert_valid_patch

    await published_station(ctx)
    partner = await add_partner(ctx, fake_partner.url)
    await owned_token(ctx, partner, "EMSTOKEN1")
    outbox = install(ctx)
    await run_transaction(ctx, outbox, clock, id_token="EMSTOKEN1")
    await drain(outbox)
    session_pushes = [(m, b) for m, p, b in fake_partner.requests if "/sessions/" in p]
    methods = [(m, p.split("/")[3]) for m, p, _ in fake_partner.requests if "/locations/" not in p]
    assert methods == [("PUT", "sessions"), ("PATCH", "sessions"), ("PATCH", "sessions"), ("POST", "cdrs")]
    put, meter, completed = (b for _, b in session_pushes)
    assert_valid("Session", put)
    assert put["status"] == "ACTIVE"
    assert_valid_patch("Session", meter)
    assert meter["kwh"] == 3
    assert_valid_patch("Session", completed)
    assert completed["status"] == "COMPLETED" and completed["kwh"] == 5
    assert completed["end_date_time"] == "2024-05-01T12:30:00Z"
    cdr = fake_partner.requests[-1][2]
    assert_valid("CDR", cdr)
    assert cdr["total_energy"] == 5
    session_path = [p for _, p, _ in fake_partner.requests if "/sessions/" in p][0]
    assert session_path == f"/ocpi/2.2.1/sessions/NL/CSM/{put['id']}"


async def test_partner_token_sessions_go_to_its_owner_only(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A session started with a partner's token is pushed to that partner, not to other partners."""
    needs_bridge()
    from ocpi.push import install

    other = FakePartner()
    await other.start()
    try:
        await published_station(ctx)
        owner = await add_partner(ctx, fake_partner.url, party_id="EMS")
        await add_partner(ctx, other.url, party_id="OTH")
        await owned_token(ctx, owner, "EMSTOKEN1")
        outbox = install(ctx)
        await run_transaction(ctx, outbox, clock, id_token="EMSTOKEN1")
        await drain(outbox)
        assert [m for m, p, _ in fake_partner.requests if "/locations/" not in p] == [
            "PUT",
            "PATCH",
            "PATCH",
            "POST",
        ]
        assert [p for _, p, _ in other.requests if "/locations/" not in p] == []
    finally:
        await other.close()


async def test_sessions_and_statuses_go_to_the_stations_organization_only(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A partner of another organization than the station's gets neither the sessions of its own token at
    that station nor the station's EVSE statuses (ADR 0012)."""
    needs_bridge()
    from dataclasses import replace

    from ocpi.push import install

    await published_station(ctx)
    owner = await add_partner(ctx, fake_partner.url, party_id="EMS")
    await ctx.store.save_partner(replace(owner, org_id="org-b"))
    await owned_token(ctx, owner, "EMSTOKEN1")
    outbox = install(ctx)
    await run_transaction(ctx, outbox, clock, id_token="EMSTOKEN1")
    await status(ctx, 1, "Faulted")
    assert outbox.feeder is not None
    await outbox.feeder.flush()
    await drain(outbox)
    assert fake_partner.requests == []
    assert await entries(ctx) == []


async def test_local_token_sessions_go_to_nobody(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A session of a CSMS-local token (no partner's party) and its CDR are pushed to no partner at all,
    while EVSE status changes still go to every partner."""
    needs_bridge()
    from ocpi import cdrs
    from ocpi.push import install

    await published_station(ctx)
    await add_partner(ctx, fake_partner.url)
    cdrs.install(ctx)  # links every session at its start, as the bridge does
    outbox = install(ctx)
    await run_transaction(ctx, outbox, clock, id_token="LOCAL1")
    await status(ctx, 1, "Faulted")
    assert outbox.feeder is not None
    await outbox.feeder.flush()
    await drain(outbox)
    assert await ctx.store.get_cdr("1") is not None  # the CDR exists, it is only nobody's
    assert {p.split("/")[3] for _, p, _ in fake_partner.requests} == {"locations"}
    assert {e.module for e in await entries(ctx)} == {"locations"}


async def test_sessions_of_a_second_party_go_to_the_partner_with_that_role(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """A partner whose credentials hold several roles (NL/EMS and NL/TWO) receives the sessions and CDR of
    a token of each of its parties."""
    needs_bridge()
    from ocpi.push import install

    await published_station(ctx)
    partner = await add_partner(ctx, fake_partner.url)
    partner.roles = [
        {"role": "EMSP", "business_details": {"name": n}, "country_code": "NL", "party_id": n}
        for n in ("EMS", "TWO")
    ]
    await ctx.store.save_partner(partner)
    await owned_token(ctx, partner, "TWOTOKEN1", party_id="TWO")
    outbox = install(ctx)
    await run_transaction(ctx, outbox, clock, id_token="TWOTOKEN1")
    await drain(outbox)
    methods = [m for m, p, _ in fake_partner.requests if "/locations/" not in p]
    assert methods == ["PUT", "PATCH", "PATCH", "POST"]
    assert fake_partner.requests[-1][2]["cdr_token"]["party_id"] == "TWO"


async def test_stop_stores_what_the_feeder_noted(ctx: OcpiContext, fake_partner: FakePartner) -> None:
    """Events noted but not yet turned into pushes are stored when the outbox stops, not lost."""
    needs_bridge("locations")
    from ocpi.push import install

    await published_station(ctx)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx)
    await status(ctx, 1, "Faulted")
    await outbox.stop()
    [entry] = await entries(ctx)
    assert (entry.module, entry.method, entry.status) == ("locations", "PATCH", OutboxStatus.PENDING)
    assert entry.body is not None and entry.body["status"] == "OUTOFORDER"


async def test_started_outbox_pushes_status_changes_on_its_own(
    ctx: OcpiContext, fake_partner: FakePartner
) -> None:
    """With the outbox started, a status change reaches the partner without any manual flush."""
    needs_bridge("locations")
    from ocpi.push import install

    await published_station(ctx)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx, status_interval=10 * MS, meter_interval=10 * MS)
    assert install(ctx) is outbox
    await outbox.start()
    try:
        await status(ctx, 2, "Reserved")
        await fake_partner.wait_for(1)
    finally:
        await outbox.stop()
    assert fake_partner.requests[0][2]["status"] == "RESERVED"


async def test_feeder_reads_a_queued_status_only_once_committed(
    ctx: OcpiContext, fake_partner: FakePartner
) -> None:
    """A status change still queued on the batched writer is committed before the feeder reads the EVSE,
    so the push carries the new status, not the one stored before it (read-your-writes)."""
    needs_bridge("locations")
    from csms.domain.models import ConnectorStatus, StatusChange
    from ocpi.push import install

    await published_station(ctx)
    await add_partner(ctx, fake_partner.url)
    outbox = install(ctx)
    assert outbox.feeder is not None
    ctx.domain.stations.status_changed(
        StatusChange("CP1", 1, 1, ConnectorStatus("Occupied"), ctx.clock(), status_detail="Charging")
    )  # queued, not committed: no sync here
    await outbox.feeder.flush()
    await drain(outbox)
    [(method, _, body)] = fake_partner.requests
    assert method == "PATCH" and body["status"] == "CHARGING"


# -- metrics (csms/metrics.py) ----------------------------------------------------------------------


async def test_metrics_count_attempts_settlements_and_depth(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """Attempts are counted by verdict and settled entries by status; the depth counts what this process
    queued and has not yet sent or failed."""
    metrics = Metrics()
    ctx.domain.services.metrics = metrics
    ctx.config = replace(ctx.config, push_max_attempts=2)
    outbox = Outbox(ctx)
    metrics.watch_outbox(lambda: outbox.depth)

    async def reject_second(request: web.Request, body: Any) -> tuple[int, Any]:
        return (400, None) if body == {"n": 2} else (200, {"status_code": 1000, "timestamp": "x"})

    fake_partner.answer = reject_second
    partner = await add_partner(ctx, fake_partner.url)
    down = await add_partner(ctx, closed_port_url(), party_id="DWN")
    for to, n in ((partner, 1), (partner, 2), (down, 3)):
        await session_push(outbox, to, str(n), n)

    def value(name: str, **labels: str) -> float | None:
        return Scrape(metrics.render().decode()).value(name, **labels)

    assert value("csms_ocpi_outbox_pending") == 3
    await outbox.deliver_due()
    verdicts = ("sent", "rejected", "unavailable")
    assert [value("csms_ocpi_push_attempts_total", verdict=v) for v in verdicts] == [1, 1, 1]
    assert [value("csms_ocpi_push_settled_total", status=s) for s in ("sent", "failed")] == [1, 1]
    assert value("csms_ocpi_outbox_pending") == 1
    clock.advance(MAX_BACKOFF_SECONDS)
    await outbox.deliver_due()  # the second and last attempt: the entry fails
    assert value("csms_ocpi_push_attempts_total", verdict="unavailable") == 2
    assert value("csms_ocpi_push_settled_total", status="failed") == 2
    assert value("csms_ocpi_outbox_pending") == 0
