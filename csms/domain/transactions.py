"""Transactions: start, update, meter values, stop — idempotent against repeats after a reconnect.

Active transactions are cached in memory by (charge_point_id, ocpp_transaction_id) so that the frequent
messages (meter values, 2.0.1 Updated events) find theirs without a database read. Start and stop are
written directly (the station waits on them); meter samples and the running register go through the
batched writer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from csms.domain.authorization import AuthorizationService
from csms.domain.clock import to_utc
from csms.domain.events import TransactionMeterAdvanced, TransactionStarted, TransactionStopped
from csms.domain.metering import energy_register_wh, power_import_w
from csms.domain.models import (
    OCPP_201,
    AuthorizationResult,
    MeterReading,
    MeterSample,
    NewTransaction,
    Transaction,
    TransactionStatus,
    TransactionStop,
)
from csms.domain.ports import NotFound, TransactionEventSeen, TransactionMeterChanged
from csms.domain.remote_start import RemoteStartCorrelator
from csms.domain.services import Services

log = structlog.get_logger("csms.transactions")

TRANSACTION_BEGIN = "Transaction.Begin"
TRANSACTION_END = "Transaction.End"
# Unknown transaction ids remembered per connected station (see TransactionService.find).
ABSENT_KEPT = 64


class TransactionCompleted(Exception):
    """The transaction has ended already; `transaction` is it, as stored."""

    def __init__(self, transaction: Transaction) -> None:
        super().__init__(f"transaction {transaction.id} is already completed")
        self.transaction = transaction


def sample_key(sample: MeterSample) -> tuple[object, ...]:
    """What makes two samples of one transaction the same reading: its time, measurand, phase, location,
    context and value (a station repeating it, e.g. the Transaction.Begin sample in the Ended event)."""
    return (
        to_utc(sample.timestamp),
        sample.measurand,
        sample.phase,
        sample.location,
        sample.context,
        sample.value,
    )


def distinct_samples(samples: list[MeterSample]) -> list[MeterSample]:
    """`samples` without the repeats of an earlier one (same `sample_key`), in order."""
    seen: set[tuple[object, ...]] = set()
    kept: list[MeterSample] = []
    for s in samples:
        key = sample_key(s)
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept


@dataclass(slots=True)
class StartOutcome:
    """A started (or recognised as already started) transaction and the verdict on its id token."""

    transaction: Transaction
    authorization: AuthorizationResult | None
    duplicate: bool


def _log_of(tx: Transaction) -> FilteringBoundLogger:
    """The logger bound to `tx`'s station and OCPP transaction id, which every transaction event carries."""
    bound: FilteringBoundLogger = log.bind(
        charge_point_id=tx.charge_point_id, transaction_id=tx.ocpp_transaction_id
    )
    return bound


class TransactionService:
    """Version-neutral transaction handling; the adapters call it with translated messages.

    Publishes `TransactionStarted` and `TransactionStopped` (awaited, once per transaction, after the
    write) and emits `TransactionMeterAdvanced` (hot path) on `events`.
    """

    def __init__(
        self, services: Services, authorization: AuthorizationService, remote_starts: RemoteStartCorrelator
    ) -> None:
        """Transactions kept in `services`' store and write queue, their tokens authorized by
        `authorization`, remote starts matched by `remote_starts`; events go to `services.events`."""
        self._services = services
        self._authorization = authorization
        self._remote_starts = remote_starts
        # charge_point_id -> ocpp_transaction_id -> transaction; per station so a disconnect drops its own.
        self._active: dict[str, dict[str, Transaction]] = {}
        # transaction pk -> 2.0.1 seqNos applied while the transaction was cached (fast repeat check).
        self._seen: dict[int, set[int]] = {}
        # charge_point_id -> transaction ids the store did not have, newest last (at most ABSENT_KEPT per
        # station): MeterValues naming an unknown transaction cost no database round trip when repeated.
        # Keyed by (ocpp_version asked for, id): a miss for one version says nothing about the other.
        self._absent: dict[str, dict[tuple[str | None, str], None]] = {}
        # transaction pk -> [lock, callers holding or awaiting it]: stops of one transaction, one at a time.
        self._stopping: dict[int, list[Any]] = {}

    async def start(
        self,
        new: NewTransaction,
        samples: list[MeterSample] | None = None,
        *,
        authorization: AuthorizationResult | None = None,
    ) -> StartOutcome:
        """Start a transaction, or return the one this same start already created.

        A repeat is recognised by the station's transaction id (2.0.1) or by station, EVSE, start time and
        id token (1.6 has no id of its own: the CSMS allocates it). The id token is authorized either way;
        a refused token still leaves the transaction recorded, because the station has started it (1.6
        StopTransactionOnInvalidId lets the station stop it itself). An adapter that already authorized
        the token for this message passes `authorization`, so the token is not asked about twice.
        """
        auth = authorization
        if auth is None and new.id_token:
            auth = await self._authorization.authorize(
                new.id_token, charge_point_id=new.charge_point_id, evse_id=new.evse_id
            )
        if new.ocpp_transaction_id is not None:
            existing = await self.find(new.charge_point_id, new.ocpp_transaction_id, OCPP_201)
        else:
            existing = await self._services.store.find_started_transaction(
                new.charge_point_id, new.evse_id, new.started_at, new.id_token
            )
            # Only the same start, still running, is a repeat: a station with a stuck clock starting again
            # with the same tag (a new meterStart, or after the stop) starts a new transaction.
            if existing is not None and (
                existing.status is not TransactionStatus.ACTIVE
                or existing.meter_start_wh != new.meter_start_wh
            ):
                existing = None
        if existing is not None:
            _log_of(existing).info("transaction_start_repeated")
            return StartOutcome(existing, auth, duplicate=True)
        if new.meter_start_wh is None and samples:
            new.meter_start_wh = energy_register_wh(samples, TRANSACTION_BEGIN)
        remote_start_id = self._remote_starts.correlate(new)
        tx = await self._services.store.add_transaction(new)
        absent = self._absent.get(tx.charge_point_id, {})
        for version in (None, tx.ocpp_version):
            absent.pop((version, tx.ocpp_transaction_id), None)
        self._active.setdefault(tx.charge_point_id, {})[tx.ocpp_transaction_id] = tx
        if new.seq_no is not None:
            self._seen.setdefault(tx.id, set()).add(new.seq_no)
        if samples:
            await self._record_samples(tx, samples)
        _log_of(tx).info("transaction_started", evse_id=tx.evse_id, id_token=tx.id_token)
        await self._services.events.publish(TransactionStarted(tx, remote_start_id))
        return StartOutcome(tx, auth, duplicate=False)

    async def find(
        self, charge_point_id: str, ocpp_transaction_id: str, ocpp_version: str | None = None
    ) -> Transaction | None:
        """The transaction the station calls `ocpp_transaction_id`, from the cache or the store; None for
        one the store does not have, remembered while the station is connected (until it starts that id),
        so a station repeating an unknown id costs no more database round trips.

        The adapters pass their `ocpp_version` (OCPP_16, OCPP_201): a station moved from 1.6 to 2.0.1 may
        call a new transaction "5" while its old 1.6 transaction 5 is still on record (see
        `TransactionStore.find_transaction`); None accepts either.
        """
        tx = self._active.get(charge_point_id, {}).get(ocpp_transaction_id)
        if tx is not None and (ocpp_version is None or tx.ocpp_version in (None, ocpp_version)):
            return tx
        absent = self._absent.get(charge_point_id)
        if absent is not None and (ocpp_version, ocpp_transaction_id) in absent:
            return None
        tx = await self._services.store.find_transaction(charge_point_id, ocpp_transaction_id, ocpp_version)
        if tx is None:
            absent = self._absent.setdefault(charge_point_id, {})
            absent[(ocpp_version, ocpp_transaction_id)] = None
            if len(absent) > ABSENT_KEPT:
                del absent[next(iter(absent))]
        elif tx.status is TransactionStatus.ACTIVE:
            # Batched seqNo records may still be queued: commit them before reading the set back.
            await self._services.writer.sync()
            self._seen[tx.id] = await self._services.store.list_transaction_seq_nos(tx.id)
            self._active.setdefault(charge_point_id, {})[ocpp_transaction_id] = tx
        return tx

    def is_repeat(self, tx: Transaction, seq_no: int) -> bool:
        """True if this 2.0.1 seqNo was already applied to `tx` (a station repeating an event)."""
        return seq_no in self._seen.get(tx.id, ())

    async def record_event(
        self, tx: Transaction, seq_no: int, event_type: str, trigger_reason: str | None, at: datetime
    ) -> bool:
        """Record a 2.0.1 TransactionEvent seqNo once its effects are applied; False if already recorded.

        Called after the event's effects, so that an event that failed halfway is applied again when the
        station retries it instead of being taken for a repeat. The record is batched: in-transaction
        meter values arrive as Updated events and must not cost a commit each.
        """
        seen = self._seen.setdefault(tx.id, set())
        if seq_no in seen:
            return False
        seen.add(seq_no)
        if tx.last_seq_no is None or seq_no > tx.last_seq_no:
            tx.last_seq_no = seq_no
        self._services.writer.put(TransactionEventSeen(tx.id, seq_no, event_type, trigger_reason, at))
        return True

    async def record_event_after_end(
        self, tx: Transaction, seq_no: int, event_type: str, trigger_reason: str | None, at: datetime
    ) -> bool:
        """Record a 2.0.1 seqNo of an ended transaction without applying anything; False if it was recorded
        before (a retransmission, such as a repeated Ended event: nothing of it may be stored twice).

        An ended transaction is not cached, so its seqNos are read from the store (after the queued ones
        are committed); this costs a read only for events that come after the end.
        """
        await self._services.writer.sync()
        if seq_no in await self._services.store.list_transaction_seq_nos(tx.id):
            return False
        self._services.writer.put(TransactionEventSeen(tx.id, seq_no, event_type, trigger_reason, at))
        return True

    async def update(
        self,
        tx: Transaction,
        *,
        id_token: str | None = None,
        id_token_type: str | None = None,
        charging_state: str | None = None,
        offline: bool = False,
    ) -> None:
        """Apply changes a station reports during a transaction (2.0.1 Updated): token, state, offline."""
        changed = False
        if id_token is not None and tx.id_token != id_token:
            tx.id_token, tx.id_token_type, changed = id_token, id_token_type, True
        if offline and not tx.offline:
            tx.offline, changed = True, True
        if charging_state is not None and charging_state != tx.charging_state:
            tx.charging_state = charging_state
            if not changed:  # a state change alone is frequent: batch it
                self._services.writer.put(
                    TransactionMeterChanged(tx.id, tx.last_meter_wh, charging_state, self._services.clock())
                )
        if changed:
            tx.updated_at = self._services.clock()
            await self._save(tx)

    async def _save(self, tx: Transaction) -> None:
        """Write `tx`; if that fails, drop it from the cache so the next message reloads the stored truth
        instead of trusting an object that says more than the database does."""
        try:
            await self._services.store.save_transaction(tx)
        except BaseException:
            self._evict(tx)
            raise

    def _evict(self, tx: Transaction) -> None:
        self._active.get(tx.charge_point_id, {}).pop(tx.ocpp_transaction_id, None)
        self._seen.pop(tx.id, None)

    async def meter_values(self, reading: MeterReading, tx: Transaction | None = None) -> None:
        """Store samples (batched); when they belong to `tx`, advance its running energy register.

        Only the first register of a transaction that started without one is written directly (it is the
        start meter, which the batched register update does not carry); everything else is batched.
        """
        reading.samples = distinct_samples(reading.samples)
        if tx is not None:
            reading.transaction_pk = tx.id
            await self._advance(tx, reading.samples)
        self._services.writer.put(reading)

    async def _record_samples(self, tx: Transaction, samples: list[MeterSample]) -> None:
        await self.meter_values(MeterReading(tx.charge_point_id, tx.evse_id, samples), tx)

    async def _advance(self, tx: Transaction, samples: list[MeterSample]) -> None:
        wh = energy_register_wh(samples)
        if wh is None:
            return
        tx.last_meter_wh = wh
        tx.updated_at = self._services.clock()
        if tx.meter_start_wh is None:
            tx.meter_start_wh = wh
            await self._save(tx)
            return
        self._services.writer.put(TransactionMeterChanged(tx.id, wh, tx.charging_state, tx.updated_at))
        self._services.events.emit(TransactionMeterAdvanced(tx, power_import_w(samples)))

    async def stop(
        self, tx: Transaction, stop: TransactionStop, samples: list[MeterSample] | None = None
    ) -> Transaction:
        """End `tx` with the station's final data; a second stop of the same transaction changes nothing.

        The meter stop is the station's `meterStop` (1.6) or the register in the final samples (2.0.1),
        falling back to the last register seen.
        """
        # One stop at a time per transaction: a station that reconnects and repeats its Ended (or
        # StopTransaction) while the first one is still being stored, or an operator closing it meanwhile,
        # holds another copy of it; the second stop must see the first one's result, not store it again.
        waiting = self._stopping.setdefault(tx.id, [asyncio.Lock(), 0])
        waiting[1] += 1
        try:
            async with waiting[0]:
                return await self._stop_once(tx, stop, samples)
        finally:
            waiting[1] -= 1
            if not waiting[1]:
                del self._stopping[tx.id]

    async def _stop_once(
        self, tx: Transaction, stop: TransactionStop, samples: list[MeterSample] | None
    ) -> Transaction:
        stored = None if tx.status is TransactionStatus.COMPLETED else await self._ended_meanwhile(tx)
        if tx.status is TransactionStatus.COMPLETED or stored is not None:
            _log_of(tx).info("transaction_stop_repeated")
            return stored or tx
        try:
            return await self._stop(tx, stop, samples)
        except BaseException:
            # Nothing of a failed stop may stay in the cache: the station's retry must find the
            # transaction still active and stop it again (not be told "already stopped").
            self._evict(tx)
            raise

    async def _ended_meanwhile(self, tx: Transaction) -> Transaction | None:
        """The stored transaction if another copy of `tx` was stopped since `tx` was read, else None."""
        stored = await self._services.store.get_transaction(tx.id)
        return stored if stored is not None and stored.status is TransactionStatus.COMPLETED else None

    async def _stop(
        self, tx: Transaction, stop: TransactionStop, samples: list[MeterSample] | None
    ) -> Transaction:
        if samples:
            fresh = await self._unrecorded(tx, samples)
            if fresh:
                await self._record_samples(tx, fresh)
        meter_stop = stop.meter_stop_wh
        if meter_stop is None and samples:
            meter_stop = energy_register_wh(samples, TRANSACTION_END)
        if meter_stop is None:
            meter_stop = tx.last_meter_wh
        tx.meter_stop_wh = meter_stop
        if tx.meter_start_wh is None:
            tx.meter_start_wh = meter_stop
        tx.stopped_at = stop.stopped_at
        tx.stop_reason = stop.reason
        tx.stop_id_token = stop.id_token
        tx.status = TransactionStatus.COMPLETED
        tx.updated_at = self._services.clock()
        # Batched register updates queued before this stop must not land after it.
        await self._services.writer.sync()
        await self._services.store.save_transaction(tx)
        self._evict(tx)
        await self._services.events.publish(TransactionStopped(tx))
        _log_of(tx).info("transaction_stopped", energy_wh=tx.energy_wh, reason=tx.stop_reason)
        return tx

    async def _unrecorded(self, tx: Transaction, samples: list[MeterSample]) -> list[MeterSample]:
        """The final samples not stored yet: a 2.0.1 Ended event (or a 1.6 StopTransaction's
        transactionData) commonly repeats the Transaction.Begin sample and the last periodic ones, which
        must be stored once. Read back from the store, because the start may be days and reconnects old."""
        await self._services.writer.sync()
        stored = {sample_key(s) for s in await self._services.store.list_meter_samples(tx.id)}
        return [s for s in samples if sample_key(s) not in stored]

    async def close(self, transaction_pk: int, reason: str) -> Transaction:
        """End a transaction the station will never report the end of (an operator's decision, e.g. the
        station went away for good right after it started one).

        The stop is recorded as a station-reported one would be: now, with `reason`, and the last register
        seen as the meter stop (so its energy is what was measured); `TransactionStopped` is published, so
        the OCPI bridge pushes the session COMPLETED and writes its CDR. Whether the station may still be
        running it is the caller's decision (`SessionControl.close`).

        Raises:
            NotFound: no such transaction.
            TransactionCompleted: it has ended already.
        """
        tx = await self.get(transaction_pk)
        if tx is None:
            raise NotFound(f"transaction {transaction_pk}")
        if tx.status is TransactionStatus.COMPLETED:
            raise TransactionCompleted(tx)
        now = self._services.clock()
        stop = TransactionStop(stopped_at=now, meter_stop_wh=tx.last_meter_wh, reason=reason)
        _log_of(tx).warning("transaction_closed_by_operator", reason=reason)
        return await self.stop(tx, stop)

    async def get(self, transaction_pk: int) -> Transaction | None:
        """The transaction with our integer id: the cached one while its station is connected here (it
        knows the newest register), else the store's once the queued writes are committed."""
        cached = self._cached(transaction_pk)
        if cached is not None:
            return cached
        await self._services.writer.sync()
        return await self._services.store.get_transaction(transaction_pk)

    def _cached(self, transaction_pk: int) -> Transaction | None:
        for of_station in self._active.values():
            for tx in of_station.values():
                if tx.id == transaction_pk:
                    return tx
        return None

    def forget_station(self, charge_point_id: str) -> None:
        """Drop cached transactions of a station (on disconnect), so memory follows connected stations."""
        self._absent.pop(charge_point_id, None)
        for tx in self._active.pop(charge_point_id, {}).values():
            self._seen.pop(tx.id, None)
