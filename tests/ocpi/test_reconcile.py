"""Start-up reconciliation (ocpi/reconcile.py): what the feeder had noted but not queued when the process
died — a meter update, a stop, a CDR, an EVSE status — reaches the partner after the restart, once, in
order; what partners already have or will get is not queued again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from csms.domain.models import MeterReading, MeterSample, NewTransaction, Transaction, TransactionStop
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus, Partner
from ocpi.outbox import Outbox
from ocpi.push import install
from ocpi.reconcile import Reconciled, fold, reconcile
from tests.ocpi.conftest import T0, FakeClock
from tests.ocpi.schemas import assert_valid
from tests.ocpi.test_push import (  # noqa: F401 - fixtures
    FakePartner,
    add_partner,
    config,
    ctx,
    domain,
    drain,
    entries,
    fake_partner,
    needs_bridge,
    owned_token,
    published_station,
    status,
)

SINCE = T0 - timedelta(hours=1)


def entry(
    n: int, module: str, method: str, body: object, status: OutboxStatus = OutboxStatus.SENT
) -> OutboxEntry:
    return OutboxEntry(
        id=n, partner_id=1, module=module, object_key="session:1", method=method, url="u", body=body,
        status=status,
    )  # fmt: skip


def test_fold_replays_puts_and_patches_in_order_and_skips_failed_entries() -> None:
    known = fold([
        entry(1, "sessions", "PUT", {"id": "1", "status": "ACTIVE", "kwh": 0}),
        entry(2, "sessions", "PATCH", {"kwh": 3}),
        entry(3, "sessions", "PATCH", {"kwh": 99}, OutboxStatus.FAILED),  # never reached the partner
        entry(4, "sessions", "PATCH", {"status": "COMPLETED"}, OutboxStatus.PENDING),  # will reach it
    ])  # fmt: skip
    assert known[(1, "session:1")].session == {"id": "1", "status": "COMPLETED", "kwh": 3}
    assert not known[(1, "session:1")].cdr_posted
    assert fold([entry(5, "cdrs", "POST", {"id": "1"})])[(1, "session:1")].cdr_posted


async def started(ctx: OcpiContext, outbox: Outbox, clock: FakeClock, token: str) -> Transaction:
    """A transaction on CP1 EVSE 1 whose Session PUT (ACTIVE) the feeder queued."""
    assert outbox.feeder is not None
    outcome = await ctx.domain.transactions.start(
        NewTransaction("CP1", 1, 1, clock(), id_token=token, meter_start_wh=1000)
    )
    await outbox.feeder.flush()
    return outcome.transaction


async def metered(ctx: OcpiContext, clock: FakeClock, tx: Transaction, wh: int) -> None:
    """A meter reading, committed; the feeder notes it (and is never flushed: the process dies)."""
    clock.advance(600)
    reading = MeterReading("CP1", 1, [MeterSample(clock(), Decimal(wh))])
    await ctx.domain.transactions.meter_values(reading, tx)
    await ctx.domain.services.writer.sync()


async def roaming(ctx: OcpiContext, fake_partner: FakePartner) -> tuple[Partner, Outbox]:
    needs_bridge()
    await published_station(ctx)
    partner = await add_partner(ctx, fake_partner.url)
    await owned_token(ctx, partner, "EMSTOKEN1")
    return partner, install(ctx)


def sessions_received(fake_partner: FakePartner) -> list[tuple[str, dict[str, object]]]:
    return [(m, b) for m, p, b in fake_partner.requests if "/sessions/" in p]


async def test_a_meter_update_the_feeder_had_not_queued_is_put_after_the_restart(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    _, outbox = await roaming(ctx, fake_partner)
    tx = await started(ctx, outbox, clock, "EMSTOKEN1")
    await metered(ctx, clock, tx, 4000)  # noted, never queued: the process dies here
    done = await reconcile(ctx, outbox, SINCE)
    assert (done.sessions, done.cdrs, done.evses) == (1, 0, 0)
    await drain(outbox)
    (put, _), (again, session) = sessions_received(fake_partner)
    assert put == again == "PUT"
    assert_valid("Session", session)
    assert session["status"] == "ACTIVE" and session["kwh"] == 3
    # Reconciled: a second start queues nothing.
    before = len(await entries(ctx))
    assert await reconcile(ctx, outbox, SINCE) == Reconciled()
    assert len(await entries(ctx)) == before


async def test_a_stop_the_feeder_had_not_queued_gets_its_session_and_cdr_in_order(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    _, outbox = await roaming(ctx, fake_partner)
    tx = await started(ctx, outbox, clock, "EMSTOKEN1")
    await metered(ctx, clock, tx, 4000)
    clock.advance(600)
    await ctx.domain.transactions.stop(tx, TransactionStop(clock(), meter_stop_wh=6000, reason="Local"))
    done = await reconcile(ctx, outbox, SINCE)  # neither the COMPLETED session nor the CDR was queued
    assert (done.sessions, done.cdrs) == (1, 1)
    await drain(outbox)
    methods = [(m, p.split("/")[3]) for m, p, _ in fake_partner.requests if "/locations/" not in p]
    assert methods == [("PUT", "sessions"), ("PUT", "sessions"), ("POST", "cdrs")]
    completed = sessions_received(fake_partner)[-1][1]
    assert_valid("Session", completed)
    assert completed["status"] == "COMPLETED" and completed["kwh"] == 5
    cdr = fake_partner.requests[-1][2]
    assert_valid("CDR", cdr)
    assert cdr["total_energy"] == 5 and cdr["session_id"] == completed["id"]
    assert await reconcile(ctx, outbox, SINCE) == Reconciled()


async def test_what_was_queued_before_the_crash_is_not_queued_again(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """Entries still PENDING (the partner was down) count as what the partner will get."""
    _, outbox = await roaming(ctx, fake_partner)
    tx = await started(ctx, outbox, clock, "EMSTOKEN1")
    await metered(ctx, clock, tx, 4000)
    assert outbox.feeder is not None
    await outbox.feeder.flush()  # the PATCH is queued, not delivered
    clock.advance(600)
    await ctx.domain.transactions.stop(tx, TransactionStop(clock(), meter_stop_wh=6000, reason="Local"))
    await outbox.feeder.flush()
    queued = len(await entries(ctx))
    assert await reconcile(ctx, outbox, SINCE) == Reconciled()
    assert len(await entries(ctx)) == queued
    assert all(e.status is OutboxStatus.PENDING for e in await entries(ctx))


async def test_sessions_of_local_tokens_and_changes_before_the_window_are_left_alone(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    _, outbox = await roaming(ctx, fake_partner)
    local = await started(ctx, outbox, clock, "LOCAL1")
    await metered(ctx, clock, local, 4000)
    assert (await reconcile(ctx, outbox, SINCE)).sessions == 0
    owned = await ctx.domain.transactions.start(
        NewTransaction("CP1", 2, 1, clock(), id_token="EMSTOKEN1", meter_start_wh=0)
    )
    assert owned.transaction.id != local.id
    assert (await reconcile(ctx, outbox, clock() + timedelta(seconds=1))).sessions == 0  # before the window
    assert (await reconcile(ctx, outbox, SINCE)).sessions == 1


async def test_an_evse_status_the_feeder_had_not_queued_is_patched(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    _, outbox = await roaming(ctx, fake_partner)
    assert outbox.feeder is not None
    await status(ctx, 1, "Occupied", "Charging")
    await outbox.feeder.flush()  # EVSE 1: CHARGING queued; EVSE 2 never pushed
    await status(ctx, 1, "Faulted")  # noted, never queued
    await status(ctx, 2, "Faulted")
    done = await reconcile(ctx, outbox, SINCE)
    assert done.evses == 1  # EVSE 2's partner has what it pulled: nothing was promised
    await drain(outbox)
    statuses = [b["status"] for m, p, b in fake_partner.requests if "/locations/" in p]
    assert statuses == ["CHARGING", "OUTOFORDER"]
    assert (await reconcile(ctx, outbox, SINCE)).evses == 0


async def test_an_operator_closed_stale_session_is_pushed_completed_with_its_cdr(
    ctx: OcpiContext, fake_partner: FakePartner, clock: FakeClock
) -> None:
    """Closing a session whose station went away (REST `POST /sessions/{id}/close`) ends it for the
    partner like a station-reported stop: Session COMPLETED at the last meter value, then its CDR."""
    _, outbox = await roaming(ctx, fake_partner)
    tx = await started(ctx, outbox, clock, "EMSTOKEN1")
    await metered(ctx, clock, tx, 4500)
    live = ctx.domain.registry.get("CP1")
    assert live is not None
    ctx.domain.registry.unregister(live)  # the station is gone
    clock.advance(60)
    await ctx.domain.sessions.close(tx.id, "station gone")
    assert outbox.feeder is not None
    await outbox.feeder.flush()
    await drain(outbox)
    (_, put), (method, completed) = sessions_received(fake_partner)
    assert method == "PATCH" and completed["status"] == "COMPLETED" and completed["kwh"] == 3.5
    cdr = fake_partner.requests[-1][2]
    assert_valid("CDR", cdr)
    assert cdr["total_energy"] == 3.5 and cdr["session_id"] == put["id"]
