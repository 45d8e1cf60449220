"""`MemoryStore`: the `Store` protocol in dicts and lists, for domain and handler tests.

Same observable behaviour as `SqlStore` (the parametrized tests in `tests/store/` run against both): the
same exceptions, cursors, orderings, UTC datetimes and duplicate detection. Objects are copied in and out,
so mutating a returned object never changes what is stored (as with a database).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Unpack

import structlog

from csms.domain.clock import Clock, to_utc, utcnow
from csms.domain.models import (
    ApiKey,
    BootInfo,
    ChargePoint,
    Connector,
    ConnectorStatus,
    DeviceVariable,
    FrameRecord,
    IdToken,
    MeterReading,
    MeterSample,
    NewTransaction,
    Reservation,
    ReservationStatus,
    StationEvent,
    StatusChange,
    StoredChargingProfile,
    Transaction,
    TransactionStatus,
    legacy_pk,
    transaction_id_version,
)
from csms.domain.ports import (
    AlreadyExists,
    BatchItem,
    BootRecorded,
    HeartbeatSeen,
    NotFound,
    Pagination,
    StationFieldsChanged,
    StationQuery,
    TransactionEventSeen,
    TransactionMeterChanged,
)
from csms.domain.stations import apply_boot
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql.base import parse_sort, time_cursor  # the same sorts and cursors as the SQL store
from csms.store.sql.batch import STATION_FIELDS  # the same columns as the SQL store
from tests.fakes.memory_aliases import MemoryIdTokenAliases
from tests.fakes.memory_certificates import MemoryCertificates
from tests.fakes.memory_energy import MemoryEnergy
from tests.fakes.memory_events import MemoryStationEvents
from tests.fakes.memory_firmware import MemoryFirmware
from tests.fakes.memory_identity import MemoryIdentity
from tests.fakes.memory_local_lists import MemoryLocalLists
from tests.fakes.memory_portal import MemoryPortal

log = structlog.get_logger(__name__)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _owned(record: Any, org_id: str | None) -> bool:
    """True unless `org_id` is given and the record belongs to another organization."""
    return org_id is None or bool(record.org_id == org_id)


def _page_limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return limit


def _id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None


def _station_page(
    rows: list[Any], limit: int, query: StationQuery[Any], time_field: str, sortable: Collection[str]
) -> tuple[list[Any], str | None]:
    """A page of `rows` (records with id, charge_point_id, status) as `SqlBase._newest_of_station`."""
    status, cp = query.get("status"), query.get("charge_point_id")
    ids, time_from, time_to = query.get("charge_point_ids"), query.get("time_from"), query.get("time_to")
    tokens = query.get("id_tokens")
    kept = [
        r
        for r in rows
        if (status is None or r.status == status)
        and (cp is None or r.charge_point_id == cp)
        and (ids is None or r.charge_point_id in ids)
        and (tokens is None or r.id_token in tokens)
        and (time_from is None or to_utc(getattr(r, time_field)) >= to_utc(time_from))
        and (time_to is None or to_utc(getattr(r, time_field)) < to_utc(time_to))
        and _owned(r, query.get("org_id"))
    ]
    descending, field = parse_sort(query.get("sort"), sortable)
    cursor = query.get("cursor")

    def key(r: Any) -> tuple[Any, ...]:
        return (r.id,) if field == "id" else (to_utc(getattr(r, field)), r.id)

    after: tuple[Any, ...] | None = None
    if cursor is not None:
        after = (_id_cursor(cursor),) if field == "id" else time_cursor(cursor)
    kept.sort(key=key, reverse=descending)
    if after is not None:
        kept = [r for r in kept if (key(r) < after if descending else key(r) > after)]
    page = kept[: _page_limit(limit)]
    if len(kept) <= limit:
        return page, None
    last = page[-1]
    return page, str(last.id) if field == "id" else f"{to_utc(getattr(last, field)).isoformat()}|{last.id}"


@dataclass(slots=True)
class StatusHistoryEntry:
    """One appended StatusChange with the time the store received it (what `status_history` holds)."""

    change: StatusChange
    received_at: datetime


@dataclass(slots=True)
class _Sample:
    transaction_pk: int | None
    charge_point_id: str
    evse_id: int
    sample: MeterSample


class MemoryStore(
    MemoryStationEvents,
    MemoryIdTokenAliases,
    MemoryIdentity,
    MemoryPortal,
    MemoryFirmware,
    MemoryCertificates,
    MemoryEnergy,
    MemoryLocalLists,
):
    """The whole `Store` protocol in memory; not shared between processes, gone when dropped.

    Args:
        clock: source of `created_at`/`updated_at`/`received_at`; tests pass a fixed one.

    Besides the protocol, `status_history` and `transaction_events` are readable attributes so tests can
    check what a handler appended.
    """

    def __init__(self, *, clock: Clock = utcnow) -> None:
        MemoryStationEvents.__init__(self)
        MemoryIdTokenAliases.__init__(self)
        MemoryIdentity.__init__(self)
        MemoryPortal.__init__(self)
        MemoryFirmware.__init__(self)
        MemoryCertificates.__init__(self)
        MemoryEnergy.__init__(self)
        MemoryLocalLists.__init__(self)
        self._clock = clock
        self._charge_points: dict[str, ChargePoint] = {}
        self._connectors: dict[tuple[str, int, int], Connector] = {}
        self.status_history: list[StatusHistoryEntry] = []
        self._id_tokens: dict[str, IdToken] = {}
        self._transactions: dict[int, Transaction] = {}
        self._next_transaction_id = 1
        # (transaction pk, seq_no) -> (event_type, trigger_reason, at)
        self.transaction_events: dict[tuple[int, int], tuple[str, str | None, datetime]] = {}
        self._samples: list[_Sample] = []
        self._frames: list[tuple[int, FrameRecord]] = []
        self._next_frame_id = 1
        self._api_keys: dict[str, ApiKey] = {}
        self._next_api_key_id = 1
        self._reservations: dict[int, Reservation] = {}
        self._next_reservation_id = 1
        self._device_variables: dict[tuple[Any, ...], DeviceVariable] = {}
        self._charging_profiles: dict[tuple[str, int], StoredChargingProfile] = {}
        self.closed = False

    async def close(self) -> None:
        """Mark the store closed (nothing to release)."""
        self.closed = True

    # -- StationStore ------------------------------------------------------------------------------

    async def get_charge_point(
        self, charge_point_id: str, *, org_id: str | None = None
    ) -> ChargePoint | None:
        """Return a copy of the charge point, or None (also when it is not organization `org_id`'s)."""
        cp = self._charge_points.get(charge_point_id)
        return None if cp is None or not _owned(cp, org_id) else replace(cp)

    async def add_charge_point(self, charge_point: ChargePoint) -> ChargePoint:
        """Store a new charge point and return it as stored; raises AlreadyExists."""
        if charge_point.charge_point_id in self._charge_points:
            raise AlreadyExists(f"charge point {charge_point.charge_point_id!r} exists")
        created = to_utc(charge_point.created_at or self._clock())
        stored = replace(
            charge_point,
            last_boot_at=_utc(charge_point.last_boot_at),
            last_heartbeat_at=_utc(charge_point.last_heartbeat_at),
            created_at=created,
            updated_at=_utc(charge_point.updated_at) or created,
        )
        self._charge_points[stored.charge_point_id] = stored
        return replace(stored)

    async def update_charge_point(self, charge_point: ChargePoint) -> None:
        """Overwrite registration status, password hash, OCPP version and boot fields; raises NotFound.

        Like `SqlStore`, leaves the batched columns (heartbeat, firmware/diagnostics/log status) alone.
        """
        cp = self._get_cp(charge_point.charge_point_id)
        cp.registration_status = charge_point.registration_status
        cp.password_hash = charge_point.password_hash
        cp.security_profile = charge_point.security_profile
        cp.ocpp_version = charge_point.ocpp_version
        cp.vendor = charge_point.vendor
        cp.model = charge_point.model
        cp.serial_number = charge_point.serial_number
        cp.firmware_version = charge_point.firmware_version
        cp.iccid = charge_point.iccid
        cp.imsi = charge_point.imsi
        cp.meter_type = charge_point.meter_type
        cp.meter_serial_number = charge_point.meter_serial_number
        cp.boot_reason = charge_point.boot_reason
        cp.last_boot_at = _utc(charge_point.last_boot_at)
        cp.updated_at = to_utc(self._clock())

    async def record_boot(
        self, charge_point_id: str, ocpp_version: str, boot: BootInfo, at: datetime
    ) -> None:
        """Store BootNotification data, the OCPP version and `last_boot_at`; raises NotFound."""
        cp = self._get_cp(charge_point_id)
        apply_boot(cp, ocpp_version, boot, to_utc(at))
        cp.updated_at = to_utc(self._clock())

    async def list_charge_points_changed(
        self, since: datetime, *, after: str | None = None, limit: int | None = None
    ) -> list[ChargePoint]:
        """Charge points whose `updated_at` is at or after `since`, ordered by id; ids after `after`, at
        most `limit`."""
        changed = [
            replace(cp)
            for cp_id, cp in sorted(self._charge_points.items())
            if cp.updated_at is not None and cp.updated_at >= to_utc(since)
            if after is None or cp_id > after
        ]
        return changed if limit is None else changed[:limit]

    def _get_cp(self, charge_point_id: str) -> ChargePoint:
        try:
            return self._charge_points[charge_point_id]
        except KeyError:
            raise NotFound(f"charge point {charge_point_id!r}") from None

    async def list_charge_points(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> tuple[list[ChargePoint], str | None]:
        """Charge points ordered by id; the cursor is the last id of the previous page."""
        ids = sorted(
            k
            for k, cp in self._charge_points.items()
            if (cursor is None or k > cursor) and _owned(cp, org_id)
        )
        page = [replace(self._charge_points[k]) for k in ids[: _page_limit(limit)]]
        return page, (page[-1].charge_point_id if len(ids) > limit else None)

    async def list_connectors(self, charge_point_id: str) -> list[Connector]:
        """Current connector states ordered by (evse_id, connector_id)."""
        return [replace(c) for key, c in sorted(self._connectors.items()) if key[0] == charge_point_id]

    async def list_connectors_of(self, charge_point_ids: Collection[str]) -> list[Connector]:
        """Connectors of these stations, by (charge_point_id, evse_id, connector_id)."""
        wanted = set(charge_point_ids)
        return [replace(c) for key, c in sorted(self._connectors.items()) if key[0] in wanted]

    async def list_connectors_reported_since(self, since: datetime) -> list[Connector]:
        """Connectors whose status_at is at or after `since`, by key."""
        return [
            replace(c) for _, c in sorted(self._connectors.items()) if c.status_at and c.status_at >= since
        ]

    # -- TokenStore --------------------------------------------------------------------------------

    async def get_id_token(self, id_token: str, *, org_id: str | None = None) -> IdToken | None:
        """Return a copy of the token, or None (also when it is not organization `org_id`'s)."""
        token = self._id_tokens.get(id_token)
        return None if token is None or not _owned(token, org_id) else replace(token)

    async def add_id_token(self, token: IdToken) -> IdToken:
        """Store a new token and return it as stored; raises AlreadyExists."""
        if token.id_token in self._id_tokens:
            raise AlreadyExists(f"id token {token.id_token!r} exists")
        created = to_utc(token.created_at or self._clock())
        stored = replace(
            token,
            expiry_date=_utc(token.expiry_date),
            created_at=created,
            updated_at=_utc(token.updated_at) or created,
        )
        self._id_tokens[stored.id_token] = stored
        return replace(stored)

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> tuple[list[IdToken], str | None]:
        """Tokens ordered by id_token; the cursor is the last id_token of the previous page."""
        ids = sorted(
            k for k, t in self._id_tokens.items() if (cursor is None or k > cursor) and _owned(t, org_id)
        )
        page = [replace(self._id_tokens[k]) for k in ids[: _page_limit(limit)]]
        return page, (page[-1].id_token if len(ids) > limit else None)

    # -- TransactionStore --------------------------------------------------------------------------

    async def add_transaction(self, new: NewTransaction) -> Transaction:
        """Insert a transaction; 1.6 gets ocpp_transaction_id = str(id); raises AlreadyExists."""
        version = transaction_id_version(new.ocpp_transaction_id)
        if new.ocpp_transaction_id is not None and any(
            t.charge_point_id == new.charge_point_id
            and t.ocpp_transaction_id == new.ocpp_transaction_id
            and t.ocpp_version == version
            for t in self._transactions.values()
        ):
            raise AlreadyExists(f"transaction {new.ocpp_transaction_id!r} of {new.charge_point_id!r} exists")
        pk = self._next_transaction_id
        self._next_transaction_id += 1
        started_at = to_utc(new.started_at)
        tx = Transaction(
            id=pk,
            charge_point_id=new.charge_point_id,
            evse_id=new.evse_id,
            connector_id=new.connector_id,
            ocpp_transaction_id=new.ocpp_transaction_id if new.ocpp_transaction_id is not None else str(pk),
            status=TransactionStatus.ACTIVE,
            started_at=started_at,
            id_token=new.id_token,
            id_token_type=new.id_token_type,
            meter_start_wh=new.meter_start_wh,
            reservation_id=new.reservation_id,
            remote_start_id=new.remote_start_id,
            charging_state=new.charging_state,
            last_seq_no=new.seq_no,
            offline=new.offline,
            updated_at=to_utc(self._clock()),
            ocpp_version=version,
            org_id=self._org_of(new.charge_point_id, DEFAULT_ORG_ID),
        )
        self._transactions[pk] = tx
        if new.seq_no is not None:
            self.transaction_events[(pk, new.seq_no)] = ("Started", None, started_at)
        return replace(tx)

    async def get_transaction(self, pk: int, *, org_id: str | None = None) -> Transaction | None:
        """Return a copy of the transaction with our integer id `pk`, or None (also when it is not
        organization `org_id`'s)."""
        tx = self._transactions.get(pk)
        return None if tx is None or not _owned(tx, org_id) else replace(tx)

    def _org_of(self, charge_point_id: str, otherwise: str) -> str:
        """The organization of a registered charge point, else `otherwise` (as the SQL store inserts)."""
        cp = self._charge_points.get(charge_point_id)
        return otherwise if cp is None else cp.org_id

    async def find_transaction(
        self, charge_point_id: str, ocpp_transaction_id: str, ocpp_version: str | None = None
    ) -> Transaction | None:
        """Return the station's transaction by the id the station uses (2.0.1 ids first), or None."""
        for version in ("2.0.1", "1.6") if ocpp_version is None else (ocpp_version,):
            for tx in self._transactions.values():
                if (
                    tx.charge_point_id == charge_point_id
                    and tx.ocpp_transaction_id == ocpp_transaction_id
                    and tx.ocpp_version == version
                    and (version != "1.6" or legacy_pk(ocpp_transaction_id) == tx.id)
                ):
                    return replace(tx)
        return None

    async def find_started_transaction(
        self, charge_point_id: str, evse_id: int, started_at: datetime, id_token: str | None
    ) -> Transaction | None:
        """The (oldest) transaction of this station and EVSE started exactly at `started_at` by `id_token`."""
        at = to_utc(started_at)
        for pk in sorted(self._transactions):
            tx = self._transactions[pk]
            if (
                tx.charge_point_id == charge_point_id
                and tx.evse_id == evse_id
                and tx.started_at == at
                and tx.id_token == id_token
            ):
                return replace(tx)
        return None

    async def save_transaction(self, tx: Transaction) -> None:
        """Write every field of `tx` except its identity; sets `tx.updated_at` to now; raises NotFound."""
        stored = self._transactions.get(tx.id)
        if stored is None:
            raise NotFound(f"transaction {tx.id}")
        tx.updated_at = to_utc(self._clock())
        self._transactions[tx.id] = replace(
            tx,
            charge_point_id=stored.charge_point_id,
            ocpp_transaction_id=stored.ocpp_transaction_id,
            ocpp_version=stored.ocpp_version,
            org_id=stored.org_id,
            started_at=to_utc(tx.started_at),
            stopped_at=_utc(tx.stopped_at),
        )

    async def list_transaction_seq_nos(self, transaction_pk: int) -> set[int]:
        """The 2.0.1 seqNos recorded for a transaction."""
        return {seq for (pk, seq) in self.transaction_events if pk == transaction_pk}

    async def add_transaction_event(
        self, transaction_pk: int, seq_no: int, event_type: str, trigger_reason: str | None, at: datetime
    ) -> bool:
        """Record a 2.0.1 seqNo; False if already recorded; raises NotFound for an unknown transaction."""
        if transaction_pk not in self._transactions:
            raise NotFound(f"transaction {transaction_pk}")
        key = (transaction_pk, seq_no)
        if key in self.transaction_events:
            return False
        self.transaction_events[key] = (event_type, trigger_reason, to_utc(at))
        return True

    async def list_transactions(
        self, *, limit: int, **query: Unpack[StationQuery[TransactionStatus]]
    ) -> tuple[list[Transaction], str | None]:
        """Filtered and sorted as `SqlStore.list_transactions` (`StationQuery`)."""
        rows = [replace(tx) for tx in self._transactions.values()]
        return _station_page(rows, limit, query, "started_at", ("started_at",))

    async def list_active_transactions(self, charge_point_id: str) -> list[Transaction]:
        """The station's active transactions, oldest first."""
        return [
            replace(tx)
            for _, tx in sorted(self._transactions.items())
            if tx.charge_point_id == charge_point_id and tx.status == TransactionStatus.ACTIVE
        ]

    async def list_active_transactions_of(self, charge_point_ids: Collection[str]) -> list[Transaction]:
        """The active transactions of these stations, by id."""
        wanted = set(charge_point_ids)
        return [
            replace(tx)
            for _, tx in sorted(self._transactions.items())
            if tx.charge_point_id in wanted and tx.status == TransactionStatus.ACTIVE
        ]

    async def list_transactions_updated(
        self,
        page: Pagination,
        charge_point_ids: Collection[str] | None = None,
        transaction_ids: Collection[int] | None = None,
    ) -> tuple[list[Transaction], int]:
        """Transactions with date_from <= updated_at < date_to (of those stations and ids, when given), by
        (updated_at, id); (page, total)."""
        lower = _utc(page.date_from)
        upper = _utc(page.date_to)
        stations = None if charge_point_ids is None else set(charge_point_ids)
        ids = None if transaction_ids is None else set(transaction_ids)
        matches = sorted(
            (
                tx
                for tx in self._transactions.values()
                if tx.updated_at is not None
                and (lower is None or tx.updated_at >= lower)
                and (upper is None or tx.updated_at < upper)
                and (stations is None or tx.charge_point_id in stations)
                and (ids is None or tx.id in ids)
            ),
            key=lambda tx: (to_utc(tx.updated_at or tx.started_at), tx.id),
        )
        return [replace(tx) for tx in matches[page.offset : page.offset + max(page.limit, 0)]], len(matches)

    async def list_meter_samples(self, transaction_pk: int) -> list[MeterSample]:
        """Samples of a transaction in time order, then insertion order."""
        mine = [s.sample for s in self._samples if s.transaction_pk == transaction_pk]
        # sorted() is stable, so equal timestamps keep insertion order.
        return [replace(s) for s in sorted(mine, key=lambda s: s.timestamp)]

    async def list_signed_samples(self, transaction_pk: int) -> list[MeterSample]:
        """The transaction's samples with a signed form, in the order of `list_meter_samples`."""
        return [s for s in await self.list_meter_samples(transaction_pk) if s.signed_data is not None]

    # -- MessageLogStore ---------------------------------------------------------------------------

    async def list_frames(
        self, charge_point_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[FrameRecord], str | None]:
        """Newest first; the cursor is the internal id of the last frame returned."""
        before = _id_cursor(cursor)
        rows = [
            (fid, f)
            for fid, f in reversed(self._frames)
            if f.charge_point_id == charge_point_id and (before is None or fid < before)
        ]
        page = rows[: _page_limit(limit)]
        return [replace(f) for _, f in page], (str(page[-1][0]) if len(rows) > limit else None)

    async def purge_frames(self, before: datetime) -> int:
        """Delete frames logged before `before`; returns how many."""
        cutoff = to_utc(before)
        kept = [(fid, f) for fid, f in self._frames if f.at >= cutoff]
        purged = len(self._frames) - len(kept)
        self._frames = kept
        return purged

    # -- ApiKeyStore -------------------------------------------------------------------------------

    async def add_api_key(
        self, name: str, prefix: str, key_hash: str, role: str, org_id: str = DEFAULT_ORG_ID
    ) -> ApiKey:
        """Store a new API key; raises AlreadyExists when the prefix is taken."""
        if prefix in self._api_keys:
            raise AlreadyExists(f"API key prefix {prefix!r} exists")
        key = ApiKey(
            id=self._next_api_key_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            role=role,
            created_at=to_utc(self._clock()),
            org_id=org_id,
        )
        self._next_api_key_id += 1
        self._api_keys[prefix] = key
        return replace(key)

    async def find_api_key(self, prefix: str) -> ApiKey | None:
        """Return the key with this prefix, or None."""
        key = self._api_keys.get(prefix)
        return None if key is None else replace(key)

    async def get_api_key(self, key_id: int) -> ApiKey | None:
        """The key with this id, or None."""
        key = next((k for k in self._api_keys.values() if k.id == key_id), None)
        return None if key is None else replace(key)

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """The organization's keys by id."""
        return [replace(k) for k in sorted(self._api_keys.values(), key=lambda k: k.id) if k.org_id == org_id]

    async def delete_api_key(self, key_id: int) -> None:
        """Raises NotFound."""
        key = await self.get_api_key(key_id)
        if key is None:
            raise NotFound(f"API key {key_id}")
        del self._api_keys[key.prefix]

    async def replace_api_key_secret(self, key_id: int, prefix: str, key_hash: str) -> ApiKey:
        """New prefix and hash for the key; NotFound, AlreadyExists."""
        key = await self.get_api_key(key_id)
        if key is None:
            raise NotFound(f"API key {key_id}")
        if prefix in self._api_keys:
            raise AlreadyExists(f"API key prefix {prefix!r} exists")
        del self._api_keys[key.prefix]
        self._api_keys[prefix] = replace(key, prefix=prefix, key_hash=key_hash)
        return replace(self._api_keys[prefix])

    # -- ReservationStore --------------------------------------------------------------------------

    async def add_reservation(self, reservation: Reservation) -> Reservation:
        """Insert under a new id (never reused; `reservation.id` is ignored) and return it as stored."""
        created = to_utc(reservation.created_at or self._clock())
        stored = replace(
            reservation,
            id=self._next_reservation_id,
            expiry_date=to_utc(reservation.expiry_date),
            created_at=created,
            updated_at=_utc(reservation.updated_at) or created,
            org_id=self._org_of(reservation.charge_point_id, reservation.org_id),
        )
        self._next_reservation_id += 1
        self._reservations[stored.id] = stored
        return replace(stored)

    async def get_reservation(self, reservation_id: int, *, org_id: str | None = None) -> Reservation | None:
        """Return a copy of the reservation, or None (also when it is not organization `org_id`'s)."""
        r = self._reservations.get(reservation_id)
        return None if r is None or not _owned(r, org_id) else replace(r)

    async def save_reservation(self, reservation: Reservation) -> None:
        """Write every field but id and created_at; sets `reservation.updated_at` to now; raises NotFound."""
        stored = self._reservations.get(reservation.id)
        if stored is None:
            raise NotFound(f"reservation {reservation.id}")
        reservation.updated_at = to_utc(self._clock())
        self._reservations[reservation.id] = replace(
            reservation,
            expiry_date=to_utc(reservation.expiry_date),
            created_at=stored.created_at,
            org_id=stored.org_id,
        )

    async def list_reservations(
        self, *, limit: int, **query: Unpack[StationQuery[ReservationStatus]]
    ) -> tuple[list[Reservation], str | None]:
        """Filtered and sorted as `SqlStore.list_reservations` (`StationQuery`)."""
        rows = [replace(r) for r in self._reservations.values()]
        return _station_page(rows, limit, query, "created_at", ("created_at", "expiry_date"))

    async def list_due_reservations(self, now: datetime) -> list[Reservation]:
        """Active reservations with expiry_date at or before `now`, soonest expiry first (then by id)."""
        cutoff = to_utc(now)
        due = [
            r
            for r in self._reservations.values()
            if r.status is ReservationStatus.ACTIVE and r.expiry_date <= cutoff
        ]
        return [replace(r) for r in sorted(due, key=lambda r: (r.expiry_date, r.id))]

    async def expire_reservation(self, reservation_id: int, now: datetime) -> Reservation | None:
        """Expire it if still active and due at `now` (no await between the check and the write: atomic
        for every caller on this loop); the expired copy when this call changed it, else None."""
        r = self._reservations.get(reservation_id)
        if r is None or r.status is not ReservationStatus.ACTIVE or r.expiry_date > to_utc(now):
            return None
        r.status = ReservationStatus.EXPIRED
        r.updated_at = to_utc(self._clock())
        return replace(r)

    async def find_active_reservations(self, charge_point_id: str) -> list[Reservation]:
        """Active reservations of one station, oldest first (by id), expired or not."""
        return [
            replace(r)
            for _, r in sorted(self._reservations.items())
            if r.charge_point_id == charge_point_id and r.status is ReservationStatus.ACTIVE
        ]

    async def find_reservation_by_external_id(self, owner: str, external_id: str) -> Reservation | None:
        """The newest reservation (highest id, any status) a partner made under its own id, or None."""
        for _, r in sorted(self._reservations.items(), reverse=True):
            if r.owner == owner and r.external_id == external_id:
                return replace(r)
        return None

    # -- DeviceModelStore --------------------------------------------------------------------------

    async def upsert_device_variables(self, variables: Sequence[DeviceVariable]) -> None:
        """Insert or update each variable by its key; `updated_at` defaults to now; later duplicates win."""
        now = to_utc(self._clock())
        for v in variables:
            self._device_variables[_variable_key(v)] = replace(v, updated_at=_utc(v.updated_at) or now)

    async def list_device_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        """Ordered by component (None first), variable, then the rest of the key (None first in each)."""
        mine = [v for v in self._device_variables.values() if v.charge_point_id == charge_point_id]
        return [replace(v) for v in sorted(mine, key=_variable_order)]

    async def list_device_variables_keyed(
        self, charge_point_ids: Collection[str], keys: Collection[tuple[str | None, str]]
    ) -> list[DeviceVariable]:
        """These stations' variables of these (component, variable) names."""
        stations, names = set(charge_point_ids), set(keys)
        return [
            replace(v)
            for v in self._device_variables.values()
            if v.charge_point_id in stations and (v.component, v.variable) in names
        ]

    # -- ChargingProfileStore ----------------------------------------------------------------------

    async def save_charging_profile(self, profile: StoredChargingProfile) -> None:
        """Insert or replace by (charge_point_id, profile_id); raises TypeError for a non-JSON profile."""
        # A JSON round trip, as SqlStore stores it: the same values come back and the same ones fail.
        body = json.loads(json.dumps(profile.profile))
        self._charging_profiles[(profile.charge_point_id, profile.profile_id)] = replace(
            profile, profile=body, created_at=to_utc(profile.created_at or self._clock())
        )

    async def list_charging_profiles(self, charge_point_id: str) -> list[StoredChargingProfile]:
        """The station's installed profiles ordered by profile_id."""
        return [
            replace(p, profile=json.loads(json.dumps(p.profile)))
            for key, p in sorted(self._charging_profiles.items())
            if key[0] == charge_point_id
        ]

    async def delete_charging_profiles(
        self, charge_point_id: str, *, profile_id: int | None = None, evse_id: int | None = None
    ) -> int:
        """Delete the station's profiles matching both filters given (none: all); returns how many."""
        doomed = [
            key
            for key, p in self._charging_profiles.items()
            if key[0] == charge_point_id
            and (profile_id is None or p.profile_id == profile_id)
            and (evse_id is None or p.evse_id == evse_id)
        ]
        for key in doomed:
            del self._charging_profiles[key]
        return len(doomed)

    # -- AdminStore --------------------------------------------------------------------------------

    async def delete_charge_point(self, charge_point_id: str) -> None:
        """Delete a charge point, its connectors, status history, device variables, profiles and local list
        (its transactions, reservations and message log stay); raises NotFound."""
        if self._charge_points.pop(charge_point_id, None) is None:
            raise NotFound(f"charge point {charge_point_id!r}")
        self._connectors = {k: c for k, c in self._connectors.items() if k[0] != charge_point_id}
        self.status_history = [e for e in self.status_history if e.change.charge_point_id != charge_point_id]
        self._device_variables = {
            k: v for k, v in self._device_variables.items() if v.charge_point_id != charge_point_id
        }
        self._charging_profiles = {
            k: p for k, p in self._charging_profiles.items() if k[0] != charge_point_id
        }
        self.local_lists.pop(charge_point_id, None)

    async def update_id_token(self, token: IdToken) -> None:
        """Overwrite type, status, expiry_date, group_id_token; sets updated_at (also on `token`)."""
        stored = self._id_tokens.get(token.id_token)
        if stored is None:
            raise NotFound(f"id token {token.id_token!r}")
        token.updated_at = to_utc(self._clock())
        stored.type = token.type
        stored.status = token.status
        stored.expiry_date = _utc(token.expiry_date)
        stored.group_id_token = token.group_id_token
        stored.updated_at = token.updated_at

    async def delete_id_token(self, id_token: str) -> None:
        """Delete the token; raises NotFound."""
        if self._id_tokens.pop(id_token, None) is None:
            raise NotFound(f"id token {id_token!r}")

    # -- BatchSink ---------------------------------------------------------------------------------

    async def apply_batch(self, items: Sequence[BatchItem]) -> None:
        """Apply the items in order, all or nothing, with `SqlStore.apply_batch`'s semantics.

        Raises:
            TypeError: an item is not a BatchItem (nothing of the batch is applied).
        """
        appliers = [self._applier(item) for item in items]  # every item checked before any is applied
        received_at = to_utc(self._clock())
        # Only the newest heartbeat per station is written, as SqlStore coalesces them.
        newest_heartbeat: dict[str, datetime] = {}
        for item in items:
            if isinstance(item, HeartbeatSeen):
                at = to_utc(item.at)
                seen = newest_heartbeat.get(item.charge_point_id)
                if seen is None or at > seen:
                    newest_heartbeat[item.charge_point_id] = at
        for charge_point_id, at in newest_heartbeat.items():
            if (cp := self._charge_points.get(charge_point_id)) is not None:
                cp.last_heartbeat_at = at
        for apply, item in zip(appliers, items, strict=True):
            apply(item, received_at)

    def _applier(self, item: BatchItem) -> Callable[[Any, datetime], None]:
        """How one batch item is applied: a table from item type to method."""
        table: dict[type[Any], Callable[[Any, datetime], None]] = {
            HeartbeatSeen: lambda item, at: None,  # applied above, coalesced
            StationFieldsChanged: self._apply_station_fields,
            BootRecorded: self._apply_boot,
            StatusChange: self._apply_status,
            MeterReading: self._apply_reading,
            TransactionMeterChanged: self._apply_tx_meter,
            TransactionEventSeen: self._apply_event,
            FrameRecord: self._apply_frame,
            StationEvent: lambda item, at: self._apply_station_event(
                item, at, item.charge_point_id in self._charge_points
            ),
        }
        for cls in type(item).__mro__:
            if cls in table:
                return table[cls]
        raise TypeError(f"not a batch item: {item!r}")

    def _apply_boot(self, item: BootRecorded, received_at: datetime) -> None:
        cp = self._charge_points.get(item.charge_point_id)
        if cp is not None and (cp.last_boot_at is None or to_utc(item.at) >= cp.last_boot_at):
            apply_boot(cp, item.ocpp_version, item.boot, to_utc(item.at))

    def _apply_station_fields(self, item: StationFieldsChanged, received_at: datetime) -> None:
        cp = self._charge_points.get(item.charge_point_id)
        if cp is not None:
            for name, value in _station_fields(item).items():
                setattr(cp, name, value)

    def _apply_status(self, item: StatusChange, received_at: datetime) -> None:
        if item.charge_point_id in self._charge_points:
            self._status(item, received_at)

    def _apply_reading(self, item: MeterReading, received_at: datetime) -> None:
        if item.charge_point_id in self._charge_points and (
            item.transaction_pk is None or item.transaction_pk in self._transactions
        ):
            self._samples.extend(
                _Sample(
                    item.transaction_pk,
                    item.charge_point_id,
                    item.evse_id,
                    replace(s, timestamp=to_utc(s.timestamp)),
                )
                for s in item.samples
            )

    def _apply_tx_meter(self, item: TransactionMeterChanged, received_at: datetime) -> None:
        tx = self._transactions.get(item.transaction_pk)
        if tx is not None:
            # None means "unchanged", as in SqlStore's COALESCE.
            if item.last_meter_wh is not None:
                tx.last_meter_wh = item.last_meter_wh
            if item.charging_state is not None:
                tx.charging_state = item.charging_state
            tx.updated_at = to_utc(item.updated_at)

    def _apply_event(self, item: TransactionEventSeen, received_at: datetime) -> None:
        key = (item.transaction_pk, item.seq_no)
        if item.transaction_pk in self._transactions and key not in self.transaction_events:
            self.transaction_events[key] = (item.event_type, item.trigger_reason, to_utc(item.at))

    def _apply_frame(self, item: FrameRecord, received_at: datetime) -> None:
        if item.charge_point_id in self._charge_points:
            self._frames.append((self._next_frame_id, replace(item, at=to_utc(item.at))))
            self._next_frame_id += 1

    def _status(self, change: StatusChange, received_at: datetime) -> None:
        at = to_utc(change.timestamp)
        self._connectors[(change.charge_point_id, change.evse_id, change.connector_id)] = Connector(
            charge_point_id=change.charge_point_id,
            evse_id=change.evse_id,
            connector_id=change.connector_id,
            status=ConnectorStatus(change.status),
            status_detail=change.status_detail,
            error_code=change.error_code,
            info=change.info,
            vendor_id=change.vendor_id,
            vendor_error_code=change.vendor_error_code,
            status_at=at,
        )
        self.status_history.append(StatusHistoryEntry(replace(change, timestamp=at), received_at))


def _variable_key(v: DeviceVariable) -> tuple[Any, ...]:
    # The same key as SqlStore's device_variables primary key ('' / -1 for None).
    return (
        v.charge_point_id,
        v.component or "",
        v.component_instance or "",
        -1 if v.evse_id is None else v.evse_id,
        -1 if v.connector_id is None else v.connector_id,
        v.variable,
        v.variable_instance or "",
        v.attribute_type,
    )


def _variable_order(v: DeviceVariable) -> tuple[Any, ...]:
    _, component, component_instance, evse_id, connector_id, variable, variable_instance, attribute = (
        _variable_key(v)
    )
    return (component, variable, component_instance, evse_id, connector_id, variable_instance, attribute)


def _station_fields(item: StationFieldsChanged) -> dict[str, Any]:
    unknown = item.fields.keys() - STATION_FIELDS
    if unknown:
        log.warning("station_fields_ignored", charge_point_id=item.charge_point_id, fields=sorted(unknown))
    return {k: v for k, v in item.fields.items() if k in STATION_FIELDS}
