"""Bookings move as ADR 0024 says: REQUESTED → PENDING → CONFIRMED → ACTIVE → COMPLETED (price from the CDR),
REJECTED / FAILED / EXPIRED / NO_SHOW / CANCELLED, each move once (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from csms.config import AgentConfig
from ocpi.agent.accounts import add_client
from ocpi.agent.bookings import CLAIM_LEASE, BookingError, BookingService
from ocpi.agent.models import AgentClient, Booking, BookingStatus
from ocpi.agent.store import SqlAgentStore
from ocpi.emsp.network import CommandResponse
from tests.agent.conftest import T0, Clock, FakeNetwork, two_cpos

S = BookingStatus


async def setup(
    store: SqlAgentStore, clock: Clock
) -> tuple[FakeNetwork, BookingService, AgentClient, list[str]]:
    network = two_cpos()
    told: list[str] = []

    async def notify(booking: Booking) -> None:
        told.append(str(booking.status))

    service = BookingService(store, network, AgentConfig(), clock, notify)
    client, _ = await add_client(
        store, name="App", reservation_fee="1.00", commission_percent="10", bcrypt_rounds=4
    )
    return network, service, client, told


async def book(service: BookingService, client: AgentClient, **changes: object) -> Booking:
    fields: dict[str, object] = dict(
        cpo_party_id="CPA",
        location_id="A1",
        evse_uid="A1-1",
        start=T0,
        duration_minutes=60,
        driver_token="DRIVER1",
    )
    fields.update(changes)
    return await service.create(client, **fields)  # type: ignore[arg-type]


def session(status: str, *, uid: str = "DRIVER1", evse: str = "A1-1") -> dict[str, object]:
    return {"id": "S1", "status": status, "location_id": "A1", "evse_uid": evse, "cdr_token": {"uid": uid}}


async def test_a_booking_goes_to_completed_with_the_cdrs_price(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    network, service, client, told = await setup(agent_store, clock)
    booking = await book(service, client, start=T0 - timedelta(microseconds=750_000))
    assert booking.status is S.PENDING  # the window has begun: RESERVE_NOW went out and was ACCEPTED
    cpo_id, command, body, command_id = network.sent[0]
    assert (cpo_id, command) == (1, "RESERVE_NOW")
    # OCPI DateTime: whole seconds, at most 25 characters
    assert body["reservation_id"] == booking.id and body["expiry_date"] == "2026-12-04T12:59:59Z"
    assert body["token"]["uid"] == "DRIVER1" and (body["location_id"], body["evse_uid"]) == ("A1", "A1-1")
    # 20 kWh (the estimate's cap) at 0.30 + 0.50 flat, +19% VAT = 7.735 -> 7.74; fee 1.00; commission 0.77
    assert booking.price["cpo_cost"] == "7.74" and booking.price["total"] == "9.51"
    await network.result(command_id, "ACCEPTED")
    await network.result(command_id, "ACCEPTED")  # twice: moves once
    stored = await agent_store.get_booking(booking.id)
    assert stored is not None and stored.status is S.CONFIRMED
    await network.session(1, session("RESERVATION"))  # the CPO's session of the reservation: no driver yet
    await network.session(1, session("ACTIVE", evse="A1-2"))  # another EVSE: not this booking
    assert (await agent_store.get_booking(booking.id)).status is S.CONFIRMED  # type: ignore[union-attr]
    await network.session(1, session("ACTIVE"))
    assert (await agent_store.get_booking(booking.id)).status is S.ACTIVE  # type: ignore[union-attr]
    await network.session(1, session("COMPLETED"))
    await network.cdr(
        1,
        {
            "id": "CDR1",
            "session_id": "S1",
            "currency": "EUR",
            "total_cost": {"excl_vat": "4.20", "incl_vat": "5.00"},
        },
    )
    done = await agent_store.get_booking(booking.id)
    assert done is not None and done.status is S.COMPLETED and done.session_id == "S1"
    assert done.price["final"] is True and done.price["cpo_cost"] == "5.00" and done.price["total"] == "6.50"
    assert told == ["REQUESTED", "PENDING", "CONFIRMED", "ACTIVE", "COMPLETED", "COMPLETED"]


async def test_refusals_and_failures(agent_store: SqlAgentStore, clock: Clock) -> None:
    network, service, client, _ = await setup(agent_store, clock)
    network.cpos_by_id[1].answer = CommandResponse.REJECTED
    assert (await book(service, client)).status is S.REJECTED
    network.cpos_by_id[1].answer = CommandResponse.ACCEPTED
    failing = await book(service, client, evse_uid="A1-2")
    await network.result(network.sent[-1][3], "EVSE_OCCUPIED", "in use")
    stored = await agent_store.get_booking(failing.id)
    assert stored is not None and stored.status is S.FAILED and stored.reason == "EVSE_OCCUPIED: in use"
    with pytest.raises(BookingError) as too_long:
        await book(service, client, duration_minutes=241)
    assert too_long.value.code == "duration_too_long"
    for changes, code in (
        ({"cpo_party_id": "XXX"}, "unknown_cpo"),
        ({"location_id": "nope"}, "unknown_location"),
        ({"evse_uid": "nope"}, "unknown_evse"),
        ({"driver_token": "nobody"}, "unknown_token"),
    ):
        with pytest.raises(BookingError) as refused:
            await book(service, client, **changes)
        assert refused.value.code == code


async def test_a_future_window_is_reserved_when_it_begins_and_unused_ones_end(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    network, service, client, _ = await setup(agent_store, clock)
    later = await book(service, client, start=T0 + timedelta(minutes=30), duration_minutes=30)
    assert later.status is S.REQUESTED and network.sent == []
    await service.tick()
    assert network.sent == []  # not yet
    clock.advance(minutes=30)
    await service.tick()
    assert [s[1] for s in network.sent] == ["RESERVE_NOW"]
    await network.result(network.sent[0][3], "ACCEPTED")
    never = await book(
        service, client, evse_uid="A1-2", start=clock.now, duration_minutes=10
    )  # PENDING, never confirmed
    clock.advance(minutes=31)
    await service.tick()
    assert (await agent_store.get_booking(later.id)).status is S.NO_SHOW  # type: ignore[union-attr]
    assert (await agent_store.get_booking(never.id)).status is S.EXPIRED  # type: ignore[union-attr]


async def test_cancelling_is_free_until_confirmed_then_costs_the_cpos_fee(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    network, service, client, _ = await setup(agent_store, clock)
    pending = await service.cancel(await book(service, client))
    assert pending.status is S.CANCELLED and pending.price["total"] == "0.00"
    assert network.sent[-1][1] == "CANCEL_RESERVATION"
    confirmed = await book(service, client, evse_uid="A1-2")
    await network.result(network.sent[-1][3], "ACCEPTED")
    cancelled = await service.cancel(await agent_store.get_booking(confirmed.id))  # type: ignore[arg-type]
    # the CPO's 2.50 + the client's 1.00 fee + 10% commission of 2.50
    assert cancelled.price["cpo_cost"] == "2.50" and cancelled.price["total"] == "3.75"
    assert network.sent[-1][1:3] == ("CANCEL_RESERVATION", {"reservation_id": confirmed.id})
    with pytest.raises(BookingError) as again:
        await service.cancel(cancelled)
    assert again.value.code == "not_cancellable"


async def test_the_cpo_cancelling_a_lapsed_reservation_is_a_no_show(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    network, service, client, _ = await setup(agent_store, clock)
    booking = await book(service, client, duration_minutes=10)
    await network.result(network.sent[0][3], "ACCEPTED")
    clock.advance(minutes=10)
    await network.result(network.sent[0][3], "CANCELED_RESERVATION")
    stored = await agent_store.get_booking(booking.id)
    assert stored is not None and stored.status is S.NO_SHOW


async def test_store_counts_requests_per_month(agent_store: SqlAgentStore) -> None:
    client, _ = await add_client(agent_store, name="Q", monthly_quota=2, bcrypt_rounds=4)
    assert [await agent_store.count_request(client.id, "2026-12") for _ in range(3)] == [1, 2, 3]
    assert await agent_store.count_request(client.id, "2027-01") == 1
    assert client.reservation_fee == Decimal("0")


async def test_reserve_now_is_sent_once_by_racing_senders(agent_store: SqlAgentStore, clock: Clock) -> None:
    """Two processes' tickers (two services on one store) and a create race for a booking whose window
    begins: the claim lets one send RESERVE_NOW; the others send nothing while it is under way."""
    network, service, client, _ = await setup(agent_store, clock)
    other = BookingService(agent_store, network, AgentConfig(), clock)
    later = await book(service, client, start=T0 + timedelta(minutes=5))
    clock.advance(minutes=5)
    network.cpos_by_id[1].hold = hold = asyncio.Event()
    first = asyncio.create_task(service.tick())
    await asyncio.wait_for(network.cpos_by_id[1].holding.wait(), 10)  # waiting for the CPO's answer
    await other.tick()
    await service.tick()
    assert [s[1] for s in network.sent] == ["RESERVE_NOW"]
    hold.set()
    await first
    assert (await agent_store.get_booking(later.id)).status is S.PENDING  # type: ignore[union-attr]
    await other.tick()
    assert len(network.sent) == 1


async def test_a_sender_that_died_is_taken_over_after_the_lease(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    """A claim whose sender never stored the CPO's answer (the process died) is taken over by the ticker
    once `CLAIM_LEASE` has passed, so the booking is not left REQUESTED until its window ends."""
    network, service, client, _ = await setup(agent_store, clock)
    booking = await book(service, client, start=T0 + timedelta(minutes=1), duration_minutes=30)
    assert await agent_store.claim_reservation(booking.id, "claim:dead", T0)
    clock.advance(minutes=1)
    await service.tick()
    assert network.sent == []  # still held by the dead sender
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    await service.tick()
    assert [s[1] for s in network.sent] == ["RESERVE_NOW"]
    assert (await agent_store.get_booking(booking.id)).status is S.PENDING  # type: ignore[union-attr]


async def test_cancelled_while_reserve_now_is_under_way_withdraws_the_reservation(
    agent_store: SqlAgentStore, clock: Clock
) -> None:
    """The client cancels (free: still REQUESTED) while RESERVE_NOW waits for the CPO's answer; once the
    CPO accepts, CANCEL_RESERVATION follows, so the EVSE is not held for nobody."""
    network, service, client, _ = await setup(agent_store, clock)
    network.cpos_by_id[1].hold = hold = asyncio.Event()
    creating = asyncio.create_task(book(service, client))
    await asyncio.wait_for(network.cpos_by_id[1].holding.wait(), 10)
    requested = next(b for b in await agent_store.list_bookings() if b.status is S.REQUESTED)
    cancelled = await service.cancel(requested)
    assert cancelled.status is S.CANCELLED and cancelled.price["total"] == "0.00"
    hold.set()
    await creating
    assert [(s[1], s[2].get("reservation_id")) for s in network.sent] == [
        ("RESERVE_NOW", requested.id),
        ("CANCEL_RESERVATION", requested.id),
    ]
    assert (await agent_store.get_booking(requested.id)).status is S.CANCELLED  # type: ignore[union-attr]
