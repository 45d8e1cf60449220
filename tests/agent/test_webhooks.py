"""The clients' webhooks (`ocpi.agent.webhooks`): stored deliveries that survive a restart, signed with the
client's secret, public addresses only unless allowed, retried then failed, in order per booking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import orjson
import pytest

from csms.config import AgentConfig
from csms.webhooks.signing import verify
from ocpi.agent.accounts import AccountError, add_client
from ocpi.agent.models import AgentClient, Booking, BookingStatus, DeliveryStatus, booking_json
from ocpi.agent.store import SqlAgentStore
from ocpi.agent.webhooks import WebhookNotifier
from tests.agent.conftest import T0, Clock
from tests.utils import until, until_async
from tests.webhooks.receiver import Receiver

SECRET = "agent-secret-0123456789"
FAST = replace(
    AgentConfig(),
    webhook_max_attempts=3,
    webhook_backoff_seconds=2.0,
    webhook_poll_seconds=0.01,
    webhook_timeout_seconds=2.0,
    allow_private_webhook_addresses=True,  # the receiver listens on 127.0.0.1
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started receiver on 127.0.0.1 checking signatures with `SECRET`."""
    receiver = Receiver(SECRET)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def client_of(store: SqlAgentStore, url: str, secret: str | None = SECRET) -> AgentClient:
    client, _ = await add_client(
        store, name="App", webhook_url=url, webhook_secret=secret, allow_private_addresses=True,
        bcrypt_rounds=4,
    )  # fmt: skip
    return client


def booking(client: AgentClient, status: BookingStatus, booking_id: str = "bk-1") -> Booking:
    return Booking(
        id=booking_id, client_id=client.id, cpo_id=1, cpo_party_id="CPA", location_id="A1", evse_uid="A1-1",
        driver_token="DRIVER1", start=T0, end=T0 + timedelta(hours=1), status=status, created_at=T0,
        updated_at=T0,
    )  # fmt: skip


async def stored(store: SqlAgentStore, move: Booking) -> Booking:
    """Store a booking (new) or its move, as `BookingService` does; either stores the move's delivery in the
    same transaction when the client has a webhook URL."""
    if await store.get_booking(move.id) is None:
        return await store.add_booking(move)
    assert await store.move_booking(move, list(BookingStatus))
    return move


def statuses(receiver: Receiver) -> list[tuple[str, str]]:
    """(booking id, status) of each accepted POST, in arrival order."""
    return [(r.event["id"], r.event["status"]) for r in receiver.accepted]


async def test_a_stored_delivery_is_sent_by_the_next_worker_after_a_restart(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    client = await client_of(agent_store, receiver.url)
    before = WebhookNotifier(agent_store, FAST, clock)
    move = await stored(agent_store, booking(client, BookingStatus.CONFIRMED))
    await before.notify(move)
    await before.stop()  # stopped before its worker ever ran: the move is only in the table
    [pending] = await agent_store.list_webhook_deliveries("bk-1")
    assert (pending.status, pending.attempts, receiver.received) == (DeliveryStatus.PENDING, 0, [])

    after = WebhookNotifier(agent_store, FAST, clock)
    await after.start()
    try:
        await until(lambda: len(receiver.accepted) == 1)

        async def sent() -> bool:
            [d] = await agent_store.list_webhook_deliveries("bk-1")
            return d.status is DeliveryStatus.SENT and d.attempts == 1

        await until_async(sent)
    finally:
        await after.stop()
    assert receiver.accepted[0].event == orjson.loads(orjson.dumps(booking_json(move)))


async def test_each_post_is_signed_with_the_clients_secret_and_unsigned_without_one(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    signed = await client_of(agent_store, receiver.url)
    unsigned = await client_of(agent_store, receiver.url, secret=None)
    notifier = WebhookNotifier(agent_store, FAST, clock)
    try:
        await stored(agent_store, booking(signed, BookingStatus.PENDING, "bk-signed"))
        await stored(agent_store, booking(unsigned, BookingStatus.PENDING, "bk-unsigned"))
        assert await notifier.deliver_due() == 2
    finally:
        await notifier.stop()
    by_booking = {r.event["id"]: r for r in receiver.accepted}
    got = by_booking["bk-signed"]
    [delivery] = await agent_store.list_webhook_deliveries("bk-signed")
    assert got.headers["X-Webhook-Id"] == delivery.event_id
    timestamp = got.headers["X-Webhook-Timestamp"]
    assert int(timestamp) == int(T0.timestamp())
    assert verify(SECRET, timestamp, got.body, got.headers["X-Webhook-Signature"])
    assert not verify("another-secret-0123", timestamp, got.body, got.headers["X-Webhook-Signature"])
    assert "X-Webhook-Signature" not in by_booking["bk-unsigned"].headers
    assert "X-Webhook-Id" in by_booking["bk-unsigned"].headers


async def test_a_private_address_is_refused_at_creation_and_never_contacted(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    for url in (receiver.url, "http://10.0.0.5/hook", "https://[::1]/hook", "http://169.254.169.254/"):
        with pytest.raises(AccountError, match="not a public address"):
            await add_client(agent_store, name="App", webhook_url=url, bcrypt_rounds=4)
    # Allowed when it was created (or the setting changed since): the worker refuses it all the same.
    literal = await client_of(agent_store, receiver.url)
    named = await client_of(agent_store, receiver.url.replace("127.0.0.1", "localhost"))
    guarded = WebhookNotifier(agent_store, replace(FAST, allow_private_webhook_addresses=False), clock)
    try:
        await stored(agent_store, booking(literal, BookingStatus.PENDING, "bk-literal"))
        await stored(agent_store, booking(named, BookingStatus.PENDING, "bk-named"))
        assert await guarded.deliver_due() == 2
    finally:
        await guarded.stop()
    [refused] = await agent_store.list_webhook_deliveries("bk-literal")
    assert (refused.status, refused.attempts) == (DeliveryStatus.FAILED, 1)  # a literal: no retry
    assert refused.last_error is not None and "not a public address" in refused.last_error
    [resolved] = await agent_store.list_webhook_deliveries("bk-named")  # a name: its DNS may change
    assert (resolved.status, resolved.attempts) == (DeliveryStatus.PENDING, 1)
    assert resolved.last_error is not None and "public address" in resolved.last_error
    assert receiver.received == []


async def test_a_failing_receiver_gets_retries_with_back_off_then_the_delivery_fails(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    receiver.status = 503
    client = await client_of(agent_store, receiver.url)
    notifier = WebhookNotifier(agent_store, FAST, clock)
    try:
        await stored(agent_store, booking(client, BookingStatus.PENDING))
        assert await notifier.deliver_due() == 1
        [first] = await agent_store.list_webhook_deliveries("bk-1")
        assert (first.status, first.attempts, first.last_error) == (DeliveryStatus.PENDING, 1, "HTTP 503")
        assert first.next_attempt_at == T0 + timedelta(seconds=2)
        assert await notifier.deliver_due() == 0  # not due before its back-off ends
        clock.advance(seconds=2)
        assert await notifier.deliver_due() == 1
        [second] = await agent_store.list_webhook_deliveries("bk-1")
        assert second.next_attempt_at == clock.now + timedelta(seconds=4)  # doubled
        clock.advance(seconds=4)
        assert await notifier.deliver_due() == 1
        clock.advance(hours=1)
        assert await notifier.deliver_due() == 0  # given up
    finally:
        await notifier.stop()
    [failed] = await agent_store.list_webhook_deliveries("bk-1")
    assert (failed.status, failed.attempts, failed.last_error) == (DeliveryStatus.FAILED, 3, "HTTP 503")
    assert len(receiver.received) == 3 and receiver.accepted == []


async def test_the_moves_of_one_booking_go_in_order(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    """Move 2 of a booking waits while move 1 is being retried; another booking's moves do not wait."""
    receiver.status = 500
    client = await client_of(agent_store, receiver.url)
    notifier = WebhookNotifier(agent_store, FAST, clock)
    try:
        await stored(agent_store, booking(client, BookingStatus.PENDING))
        await stored(agent_store, booking(client, BookingStatus.CONFIRMED))
        await stored(agent_store, booking(client, BookingStatus.PENDING, "bk-2"))
        assert await notifier.deliver_due() == 2  # move 1 of bk-1 and bk-2's; not move 2 of bk-1
        assert sorted((r.event["id"], r.event["status"]) for r in receiver.received) == [
            ("bk-1", "PENDING"),
            ("bk-2", "PENDING"),
        ]
        receiver.status = 200
        clock.advance(seconds=2)
        assert await notifier.deliver_due() == 2  # the retries
        assert await notifier.deliver_due() == 1  # now move 2 of bk-1
    finally:
        await notifier.stop()
    of_bk1 = [s for b, s in statuses(receiver) if b == "bk-1"]
    assert of_bk1 == ["PENDING", "CONFIRMED"]


async def test_a_move_waits_for_the_one_before_to_fail_then_goes(
    agent_store: SqlAgentStore, clock: Clock, receiver: Receiver
) -> None:
    receiver.status = 500
    client = await client_of(agent_store, receiver.url)
    notifier = WebhookNotifier(agent_store, replace(FAST, webhook_max_attempts=1), clock)
    try:
        await stored(agent_store, booking(client, BookingStatus.PENDING))
        await stored(agent_store, booking(client, BookingStatus.CONFIRMED))
        assert await notifier.deliver_due() == 1
        receiver.status = 200
        assert await notifier.deliver_due() == 1
    finally:
        await notifier.stop()
    first, second = await agent_store.list_webhook_deliveries("bk-1")
    assert (first.status, second.status) == (DeliveryStatus.FAILED, DeliveryStatus.SENT)
    assert statuses(receiver) == [("bk-1", "CONFIRMED")]


async def test_a_claimed_delivery_is_left_to_its_claimer_until_the_lease_runs_out(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    """Two processes on one database: what one claimed the other does not take, until its lease ends."""
    await agent_store.add_webhook_delivery("bk-1", 1, b"{}")
    until_at = T0 + timedelta(seconds=30)
    [claimed] = await agent_store.claim_webhook_deliveries(T0, 10, node_id="a", until=until_at)
    assert await agent_store.claim_webhook_deliveries(T0, 10, node_id="b", until=until_at) == []
    [taken_over] = await agent_store.claim_webhook_deliveries(until_at, 10, node_id="b", until=until_at)
    assert taken_over.id == claimed.id
    sent = replace(claimed, status=DeliveryStatus.SENT, attempts=1)
    assert not await agent_store.settle_webhook_delivery(sent, node_id="a")  # its lease is b's now
    assert await agent_store.settle_webhook_delivery(sent, node_id="b")
    [settled] = await agent_store.list_webhook_deliveries("bk-1")
    assert settled.status is DeliveryStatus.SENT


async def test_a_client_without_a_webhook_url_gets_no_delivery(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    client, _ = await add_client(agent_store, name="Poller", bcrypt_rounds=4)
    await stored(agent_store, booking(client, BookingStatus.REQUESTED))
    await stored(agent_store, booking(client, BookingStatus.PENDING))
    assert await agent_store.list_webhook_deliveries("bk-1") == []


async def test_the_secret_is_not_in_the_clients_repr(agent_store: SqlAgentStore) -> None:
    client, _ = await add_client(agent_store, name="App", webhook_secret=SECRET, bcrypt_rounds=4)
    stored = await agent_store.get_client(client.id)
    assert stored is not None and stored.webhook_secret == SECRET
    assert SECRET not in repr(stored)
    with pytest.raises(AccountError, match="16 to 200"):
        await add_client(agent_store, name="App", webhook_secret="short", bcrypt_rounds=4)


async def test_every_move_stores_its_delivery_in_the_moves_own_transaction(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    """The store leaves one pending delivery per move without any notifier (the move and its delivery
    commit together: a crash between them cannot lose one); a compare-and-set that does not move the
    booking stores none."""
    client = await client_of(agent_store, "https://app.example/hooks")
    new = await agent_store.add_booking(booking(client, BookingStatus.REQUESTED))
    pending = replace(new, status=BookingStatus.PENDING)
    assert await agent_store.move_booking(pending, [BookingStatus.REQUESTED])
    failed = replace(new, status=BookingStatus.FAILED)
    assert not await agent_store.move_booking(failed, [BookingStatus.REQUESTED])  # it is PENDING now
    bodies = [orjson.loads(d.body) for d in await agent_store.list_webhook_deliveries(new.id)]
    assert [b["status"] for b in bodies] == ["REQUESTED", "PENDING"]
    assert bodies[1] == orjson.loads(orjson.dumps(booking_json(pending)))
