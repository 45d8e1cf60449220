"""Transactions: start/stop energy, repeats after reconnects, running register, token verdicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from csms.domain.core import Domain
from csms.domain.models import (
    AuthorizationStatus,
    ChargePoint,
    IdToken,
    MeterReading,
    MeterSample,
    NewTransaction,
    TransactionStatus,
    TransactionStop,
)
from tests.domain.conftest import NOW


async def setup(domain: Domain) -> None:
    await domain.services.store.add_charge_point(ChargePoint("CP"))
    await domain.services.store.add_id_token(IdToken("TAG"))


async def test_16_start_allocates_integer_id_and_repeat_returns_it(domain: Domain) -> None:
    """A 1.6 start gets our integer id as its transaction id; the same start again returns the same one."""
    await setup(domain)
    new = NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=1000)
    first = await domain.transactions.start(new)
    again = await domain.transactions.start(
        NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=1000)
    )
    assert first.transaction.ocpp_transaction_id == str(first.transaction.id)
    assert again.duplicate and again.transaction.id == first.transaction.id
    assert first.authorization is not None and first.authorization.status is AuthorizationStatus.ACCEPTED
    page, _ = await domain.services.store.list_transactions(limit=10)
    assert len(page) == 1


async def test_unknown_token_still_records_the_transaction(domain: Domain) -> None:
    """The station started it: a refused token is answered Invalid but the transaction is kept."""
    await setup(domain)
    outcome = await domain.transactions.start(NewTransaction("CP", 1, 1, NOW, id_token="STRANGER"))
    assert outcome.authorization is not None and outcome.authorization.status is AuthorizationStatus.INVALID
    assert await domain.services.store.get_transaction(outcome.transaction.id) is not None


async def test_meter_values_advance_the_register_and_stop_sets_energy(domain: Domain) -> None:
    """Register samples update the running energy; the stop meter fixes the total; a second stop is no-op."""
    await setup(domain)
    tx = (
        await domain.transactions.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=1000))
    ).transaction
    await domain.transactions.meter_values(
        MeterReading("CP", 1, [MeterSample(NOW + timedelta(minutes=1), Decimal("1.75"), unit="kWh")]), tx
    )
    assert tx.energy_wh == 750
    await domain.transactions.stop(
        tx, TransactionStop(NOW + timedelta(minutes=2), meter_stop_wh=2500, reason="Local")
    )
    await domain.transactions.stop(tx, TransactionStop(NOW + timedelta(minutes=3), meter_stop_wh=9999))
    stored = await domain.services.store.get_transaction(tx.id)
    assert stored is not None and stored.status is TransactionStatus.COMPLETED
    assert stored.energy_wh == 1500 and stored.stop_reason == "Local"
    samples = await domain.services.store.list_meter_samples(tx.id)
    assert [s.value for s in samples] == [Decimal("1.75")]


async def test_201_repeated_seq_no_is_recognised(domain: Domain) -> None:
    """A 2.0.1 event with a seqNo already recorded is reported as a repeat."""
    await setup(domain)
    outcome = await domain.transactions.start(
        NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-a", id_token="TAG", seq_no=0)
    )
    tx = outcome.transaction
    assert await domain.transactions.record_event(tx, 1, "Updated", "MeterValuePeriodic", NOW)
    assert not await domain.transactions.record_event(tx, 1, "Updated", "MeterValuePeriodic", NOW)
    assert not await domain.transactions.record_event(tx, 0, "Started", "Authorized", NOW)
    again = await domain.transactions.start(
        NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-a", seq_no=0)
    )
    assert again.duplicate and again.transaction.id == tx.id


async def test_201_start_meter_comes_from_begin_samples(domain: Domain) -> None:
    """Without meterStart, the Transaction.Begin register in the Started samples is the start meter."""
    await setup(domain)
    samples = [MeterSample(NOW, Decimal("10"), unit="kWh", context="Transaction.Begin")]
    outcome = await domain.transactions.start(
        NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-b"), samples
    )
    assert outcome.transaction.meter_start_wh == 10000


async def test_stop_without_meter_uses_last_register(domain: Domain) -> None:
    """A stop that names no meter value ends on the last register read."""
    await setup(domain)
    tx = (
        await domain.transactions.start(
            NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-c", meter_start_wh=0)
        )
    ).transaction
    await domain.transactions.meter_values(MeterReading("CP", 1, [MeterSample(NOW, Decimal("420"))]), tx)
    done = await domain.transactions.stop(tx, TransactionStop(NOW))
    assert done.meter_stop_wh == 420 and done.energy_wh == 420


class FailingSaves:
    """Wraps a store so that the next `save_transaction` calls raise (a database hiccup)."""

    def __init__(self, store: object, failures: int) -> None:
        self._store = store
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def save_transaction(self, tx: object) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database went away")
        await self._store.save_transaction(tx)  # type: ignore[attr-defined]


async def test_failed_stop_is_applied_again_on_retry(domain: Domain) -> None:
    """A stop whose save fails leaves nothing in the cache: the station's retry stores the stop."""
    await setup(domain)
    svc = domain.transactions
    tx = (await svc.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=0))).transaction
    failing = FailingSaves(domain.services.store, failures=1)
    svc._services = replace(domain.services, store=failing)  # type: ignore[arg-type]
    try:
        await svc.stop(tx, TransactionStop(NOW + timedelta(minutes=5), meter_stop_wh=700))
    except ConnectionError:
        pass
    again = await svc.find("CP", tx.ocpp_transaction_id)
    assert again is not None and again.status is TransactionStatus.ACTIVE
    await svc.stop(again, TransactionStop(NOW + timedelta(minutes=5), meter_stop_wh=700))
    stored = await domain.services.store.get_transaction(tx.id)
    assert stored is not None and stored.status is TransactionStatus.COMPLETED and stored.energy_wh == 700


async def test_start_meter_from_first_register_survives_a_reconnect(domain: Domain) -> None:
    """Without a start register, the first register read is stored at once as the start meter."""
    await setup(domain)
    svc = domain.transactions
    tx = (await svc.start(NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-d"))).transaction
    await svc.meter_values(MeterReading("CP", 1, [MeterSample(NOW, Decimal("1000"))]), tx)
    svc.forget_station("CP")  # the station reconnects: the cache is gone
    reloaded = await svc.find("CP", "tx-d")
    assert reloaded is not None and reloaded.meter_start_wh == 1000
    await svc.meter_values(MeterReading("CP", 1, [MeterSample(NOW, Decimal("5000"))]), reloaded)
    done = await svc.stop(reloaded, TransactionStop(NOW))
    assert done.energy_wh == 4000


async def test_16_same_clock_new_meter_start_is_a_new_transaction(domain: Domain) -> None:
    """A 1.6 start with the same time and tag but after the first one stopped is a new transaction."""
    await setup(domain)
    svc = domain.transactions
    first = (await svc.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=100))).transaction
    await svc.stop(first, TransactionStop(NOW, meter_stop_wh=200))
    second = await svc.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=100))
    assert not second.duplicate and second.transaction.id != first.id


async def test_201_seq_no_is_a_repeat_only_once_applied(domain: Domain) -> None:
    """is_repeat is false until record_event has run for that seqNo (effects first, then the record)."""
    await setup(domain)
    svc = domain.transactions
    tx = (await svc.start(NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="tx-e", seq_no=0))).transaction
    assert svc.is_repeat(tx, 0) and not svc.is_repeat(tx, 1)
    await svc.record_event(tx, 1, "Updated", "MeterValuePeriodic", NOW)
    assert svc.is_repeat(tx, 1)


async def test_refused_remote_start_is_not_matched_to_a_later_local_start(domain: Domain) -> None:
    """A remote start the station refused leaves nothing behind: a later local start with the same token
    does not inherit its remote_start_id."""
    await setup(domain)
    svc = domain.transactions
    domain.remote_starts.expect("CP", 42, "TAG", 1)
    domain.remote_starts.forget("CP", 42)
    tx = (await svc.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG", meter_start_wh=0))).transaction
    assert tx.remote_start_id is None


async def test_201_start_is_not_matched_by_guessing(domain: Domain) -> None:
    """A 2.0.1 transaction (station id present) only gets a remote_start_id it reports itself."""
    await setup(domain)
    svc = domain.transactions
    domain.remote_starts.expect("CP", 43, "TAG", 1)
    outcome = await svc.start(NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="local-1", id_token="TAG"))
    assert outcome.transaction.remote_start_id is None


class CountingFinds:
    """Wraps a store and counts `find_transaction` calls (the database round trips of a lookup)."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.finds = 0

    async def find_transaction(self, charge_point_id: str, ocpp_transaction_id: str, *args: object) -> object:
        self.finds += 1
        return await self._store.find_transaction(charge_point_id, ocpp_transaction_id, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


async def test_an_unknown_transaction_id_costs_one_lookup_per_connection(domain: Domain) -> None:
    """A station repeating a transaction id the store does not have (MeterValues for an unknown
    transaction) causes one store lookup, not one per message; once it starts that id, it is found; after
    a disconnect the id is looked up again."""
    await setup(domain)
    svc = domain.transactions
    counting = CountingFinds(domain.services.store)
    svc._services = replace(domain.services, store=counting)  # type: ignore[arg-type]
    for _ in range(3):
        assert await svc.find("CP", "X-1") is None
    assert counting.finds == 1
    started = await svc.start(NewTransaction("CP", 1, 1, NOW, ocpp_transaction_id="X-1", id_token="TAG"))
    assert await svc.find("CP", "X-1") == started.transaction
    svc.forget_station("CP")
    assert await svc.find("CP", "X-2") is None and await svc.find("CP", "X-2") is None
    finds = counting.finds
    svc.forget_station("CP")
    assert await svc.find("CP", "X-2") is None
    assert counting.finds == finds + 1


async def test_two_copies_of_one_stop_at_once_store_it_once(domain: Domain) -> None:
    """A stop repeated while the first is still being stored (two copies of the transaction, as after a
    reconnect) stores the final samples and the stop once; the second gets the first one's result."""
    import asyncio

    await setup(domain)
    tx = (await domain.transactions.start(NewTransaction("CP", 1, 1, NOW, "T-1", id_token="TAG"))).transaction
    domain.transactions.forget_station("CP")  # the station reconnects: each copy comes from the store
    first = await domain.services.store.get_transaction(tx.id)
    second = await domain.services.store.get_transaction(tx.id)
    assert first is not None and second is not None
    end = [MeterSample(NOW + timedelta(hours=1), Decimal(5000), context="Transaction.End")]
    stop = TransactionStop(NOW + timedelta(hours=1), reason="EVDisconnected")
    results = await asyncio.gather(
        domain.transactions.stop(first, stop, list(end)),
        domain.transactions.stop(second, replace(stop, reason="Other"), list(end)),
    )
    assert [r.stop_reason for r in results] == ["EVDisconnected", "EVDisconnected"]
    await domain.services.writer.sync()
    assert len(await domain.services.store.list_meter_samples(tx.id)) == 1


async def test_a_201_id_never_finds_the_16_transaction_of_the_same_number(domain: Domain) -> None:
    """A 2.0.1 id "N" is not the station's 1.6 transaction N (a station moved from 1.6 to 2.0.1), while a
    1.6 lookup still finds it; starting 2.0.1 "N" makes a new transaction."""
    from csms.domain.models import OCPP_16, OCPP_201

    await setup(domain)
    legacy = (await domain.transactions.start(NewTransaction("CP", 1, 1, NOW, id_token="TAG"))).transaction
    number = legacy.ocpp_transaction_id
    domain.transactions.forget_station("CP")
    assert await domain.transactions.find("CP", number, OCPP_201) is None
    found = await domain.transactions.find("CP", number, OCPP_16)
    assert found is not None and found.id == legacy.id
    domain.transactions.forget_station("CP")
    new = NewTransaction("CP", 1, 1, NOW + timedelta(hours=1), number, id_token="TAG", seq_no=0)
    outcome = await domain.transactions.start(new)
    assert not outcome.duplicate and outcome.transaction.id != legacy.id
    assert outcome.transaction.ocpp_version == OCPP_201
    assert (await domain.transactions.find("CP", number, OCPP_16)).id == legacy.id  # type: ignore[union-attr]
