"""The domain's ports: what it needs from outside, declared here so that dependencies point inward.

Narrow store interfaces, one per aggregate, composed into `Store` (style practice 5), and `WriteQueue`, the
queue of frequent writes. A caller asks for the narrowest protocol it needs. The store implementations live
in `csms.store` (SQLAlchemy async: SQLite or PostgreSQL). Writes a station waits on (boot, transaction
start/stop, authorization data) are direct calls here; frequent writes (heartbeats, status, meter values, the
frame log) are `BatchItem`s put on a `WriteQueue` (`csms.store.writer.BatchedWriter`), which calls
`apply_batch` with many of them in one database transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeAlias, TypedDict, TypeVar, Unpack

from csms.domain.certificates import CertificateStore
from csms.domain.energy.store import EnergyStore
from csms.domain.firmware import FirmwareStore
from csms.domain.identity import Invitation, InvitationStatus, Member, Organization, User, UserSession
from csms.domain.local_list_sync import LocalListStore
from csms.domain.models import (
    ApiKey,
    BootInfo,
    ChargePoint,
    Connector,
    DeviceVariable,
    FrameRecord,
    IdToken,
    IdTokenAlias,
    MeterReading,
    MeterSample,
    NewTransaction,
    Reservation,
    ReservationStatus,
    StationEvent,
    StationEventKind,
    StatusChange,
    StoredChargingProfile,
    Transaction,
    TransactionStatus,
)
from csms.domain.portal import PortalStore
from csms.domain.tenancy import DEFAULT_ORG_ID

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

#: One keyset page of a list method: the records, and the cursor of the next page (None on the last one).
Page: TypeAlias = tuple[list[T], str | None]


@dataclass(frozen=True, slots=True)
class Pagination:
    """Which part of a list ordered by change time to read (OCPI 2.2.1 pagination): date_from ≤ changed <
    date_to (None: unbounded), then `limit` items from `offset`."""

    date_from: datetime | None = None
    date_to: datetime | None = None
    offset: int = 0
    limit: int = 100


class StationQuery(TypedDict, Generic[E], total=False):
    """The optional arguments of the listings by station and status (`list_transactions`,
    `list_reservations`): a filter left out or None does not filter; `cursor` continues a page.

    - `charge_point_ids`: only these stations (e.g. a location's); empty: nothing.
    - `id_tokens`: only records of these id tokens (e.g. a driver's); empty: nothing.
    - `time_from` / `time_to`: only records whose time (`started_at` of a transaction, `created_at` of a
      reservation) is at or after / before these.
    - `sort`: `-id` (the default: newest first), `id`, or the record's time field (`started_at`,
      `created_at`; `expiry_date` for reservations), `-` first for descending; ties go by id. A cursor
      belongs to the sort it was handed out with.
    """

    charge_point_id: str | None
    status: E | None
    cursor: str | None
    charge_point_ids: Collection[str] | None
    id_tokens: Collection[str] | None
    time_from: datetime | None
    time_to: datetime | None
    sort: str | None
    org_id: str | None  # only this organization's (`csms.domain.tenancy`)


class AlreadyExists(Exception):
    """An object with the same key is already stored."""


class NotFound(Exception):
    """The object to update does not exist."""


class LastAdmin(Exception):
    """The change would leave an organization without an admin (nothing was changed)."""


@dataclass(slots=True)
class HeartbeatSeen:
    """Batched: the station was heard from at `at` (Heartbeat); only the newest per station is written.

    Not durable: the station is answered without waiting for it (its next heartbeat says the same)."""

    durable: ClassVar[bool] = False
    charge_point_id: str
    at: datetime


@dataclass(slots=True)
class StationFieldsChanged:
    """Batched: status fields reported by the station (firmware_status, diagnostics_status, log_status)."""

    charge_point_id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TransactionMeterChanged:
    """Batched: newest energy register / charging state of an active transaction."""

    transaction_pk: int
    last_meter_wh: int | None
    charging_state: str | None
    updated_at: datetime


@dataclass(slots=True)
class TransactionEventSeen:
    """Batched: a 2.0.1 TransactionEvent seqNo whose effects were applied (repeats are ignored)."""

    transaction_pk: int
    seq_no: int
    event_type: str
    trigger_reason: str | None
    at: datetime


@dataclass(slots=True)
class BootRecorded:
    """Batched: what a BootNotification said, the OCPP version and `last_boot_at = at`; only the newest per
    station is written (`updated_at`, the operator's last change, is left alone)."""

    charge_point_id: str
    ocpp_version: str
    boot: BootInfo
    at: datetime


BatchItem = (
    HeartbeatSeen
    | BootRecorded
    | StationFieldsChanged
    | StatusChange
    | MeterReading
    | TransactionMeterChanged
    | TransactionEventSeen
    | FrameRecord
    | StationEvent
)


class WriteQueue(Protocol):
    """Frequent writes, committed in batches (ADR 0003); implemented by `csms.store.writer.BatchedWriter`."""

    @property
    def pending(self) -> int:
        """Items put but not yet committed (or dropped)."""
        ...

    def put(self, item: BatchItem) -> None:
        """Queue `item` for the next batch and return at once; raises once the queue is stopping."""
        ...

    async def sync(self) -> None:
        """Return once every item put before this call is committed (read-your-writes)."""
        ...

    @property
    def outage(self) -> bool:
        """True while writes fail because the database is unreachable."""
        ...

    def begin_message(self) -> None:
        """Start one station message in the calling task (see `commit_message`)."""
        ...

    async def commit_message(self) -> None:
        """Return once the durable items the calling task put since `begin_message` are committed: the
        station is answered only then (answered = stored)."""
        ...


class StationStore(Protocol):
    """Charge points, their boot data and their connectors' state."""

    async def get_charge_point(
        self, charge_point_id: str, *, org_id: str | None = None
    ) -> ChargePoint | None:
        """The charge point, or None; with `org_id` also None when it belongs to another organization."""
        ...

    async def add_charge_point(self, charge_point: ChargePoint) -> ChargePoint:
        """Store a new charge point; raises AlreadyExists."""
        ...

    async def update_charge_point(self, charge_point: ChargePoint) -> None:
        """Overwrite the stored registration status, password hash and boot fields; raises NotFound."""
        ...

    async def list_charge_points(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> Page[ChargePoint]:
        """Charge points ordered by id, only organization `org_id`'s when given; returns (page, next_cursor
        or None)."""
        ...

    async def record_boot(
        self, charge_point_id: str, ocpp_version: str, boot: BootInfo, at: datetime
    ) -> None:
        """Store BootNotification data, the OCPP version and `last_boot_at`; raises NotFound."""
        ...

    async def list_charge_points_changed(
        self, since: datetime, *, after: str | None = None, limit: int | None = None
    ) -> list[ChargePoint]:
        """Charge points added or changed by an operator (`updated_at`) at or after `since`, ordered by id;
        with `after`, only ids greater than it; with `limit`, at most that many (a page)."""
        ...

    async def list_connectors(self, charge_point_id: str) -> list[Connector]:
        """Current connector states ordered by (evse_id, connector_id)."""
        ...

    async def list_connectors_of(self, charge_point_ids: Collection[str]) -> list[Connector]:
        """`list_connectors` of many stations at once, ordered by (charge_point_id, evse_id, connector_id)."""
        ...

    async def list_connectors_reported_since(self, since: datetime) -> list[Connector]:
        """Connectors whose last status report (`status_at`, the station's time) is at or after `since`,
        ordered by (charge_point_id, evse_id, connector_id)."""
        ...


class TokenStore(Protocol):
    """Id tokens an operator registered."""

    async def get_id_token(self, id_token: str, *, org_id: str | None = None) -> IdToken | None:
        """The token, or None; with `org_id` also None when it belongs to another organization."""
        ...

    async def add_id_token(self, token: IdToken) -> IdToken:
        """Store a new token; raises AlreadyExists."""
        ...

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> Page[IdToken]:
        """Tokens ordered by id_token, only organization `org_id`'s when given; returns (page, next_cursor
        or None)."""
        ...


class IdTokenAliasStore(Protocol):
    """Short aliases of long id tokens (`IdTokenAlias`), looked up both ways."""

    async def get_id_token_alias(self, id_token: str) -> IdTokenAlias | None:
        """The alias of this id token (exact text), or None if it has none yet."""
        ...

    async def find_id_token_alias(self, alias: str) -> IdTokenAlias | None:
        """The alias with this text (exact: the domain stores and asks upper case), or None."""
        ...

    async def add_id_token_alias(self, alias: IdTokenAlias) -> IdTokenAlias:
        """Store a new alias and return it as stored (`created_at` filled in).

        Raises:
            AlreadyExists: the alias text is taken, or the id token has an alias already.
        """
        ...


class TransactionStore(Protocol):
    """Transactions, their 2.0.1 event sequence numbers and their meter samples."""

    async def add_transaction(self, new: NewTransaction) -> Transaction:
        """Insert a transaction and return it with its integer id.

        When `new.ocpp_transaction_id` is None (1.6) it becomes str(id). When `new.seq_no` is set, the
        (transaction, seq_no) pair is recorded as in `add_transaction_event`. The transaction belongs to
        its charge point's organization (the default one for an unregistered charge point).
        """
        ...

    async def get_transaction(self, pk: int, *, org_id: str | None = None) -> Transaction | None:
        """The transaction, or None; with `org_id` also None when it belongs to another organization."""
        ...

    async def find_transaction(
        self, charge_point_id: str, ocpp_transaction_id: str, ocpp_version: str | None = None
    ) -> Transaction | None:
        """The station's transaction by the id the station uses for it.

        `ocpp_version` OCPP_16 matches only a CSMS-assigned 1.6 id, OCPP_201 only a station-assigned 2.0.1
        id (a station moved from 1.6 to 2.0.1 may name a new transaction "5" beside its old 1.6 transaction
        5); None tries the 2.0.1 ids first, then the 1.6 ones.
        """
        ...

    async def find_started_transaction(
        self, charge_point_id: str, evse_id: int, started_at: datetime, id_token: str | None
    ) -> Transaction | None:
        """The transaction of this station and EVSE started at exactly `started_at` by `id_token`, if any
        (how a repeated 1.6 StartTransaction is recognised)."""
        ...

    async def save_transaction(self, tx: Transaction) -> None:
        """Write every mutable field of `tx` (stop data, meters, state, seq_no); raises NotFound."""
        ...

    async def add_transaction_event(
        self, transaction_pk: int, seq_no: int, event_type: str, trigger_reason: str | None, at: datetime
    ) -> bool:
        """Record a 2.0.1 TransactionEvent seqNo; False if that seqNo was already recorded (a duplicate)."""
        ...

    async def list_transactions(
        self, *, limit: int, **query: Unpack[StationQuery[TransactionStatus]]
    ) -> Page[Transaction]:
        """Newest first (by id); returns (page, next_cursor or None)."""
        ...

    async def list_active_transactions(self, charge_point_id: str) -> list[Transaction]: ...

    async def list_active_transactions_of(self, charge_point_ids: Collection[str]) -> list[Transaction]:
        """The active transactions of many stations at once, by id."""
        ...

    async def list_transactions_updated(
        self,
        page: Pagination,
        charge_point_ids: Collection[str] | None = None,
        transaction_ids: Collection[int] | None = None,
    ) -> tuple[list[Transaction], int]:
        """Transactions changed in the page's window (`updated_at`), oldest change first (then by id), as
        one offset/limit page plus the total count of matches (OCPI pagination).

        `charge_point_ids` limits the result to those stations, `transaction_ids` to those transactions
        (e.g. one roaming partner's); None: no limit; empty: nothing.
        """
        ...

    async def list_transaction_seq_nos(self, transaction_pk: int) -> set[int]:
        """The 2.0.1 seqNos recorded for a transaction (to recognise repeats after a reconnect)."""
        ...

    async def list_meter_samples(self, transaction_pk: int) -> list[MeterSample]:
        """Samples of a transaction in time order (then insertion order)."""
        ...

    async def list_signed_samples(self, transaction_pk: int) -> list[MeterSample]:
        """The samples of a transaction the station sent signed (`signed_data` set), in the order of
        `list_meter_samples`; [] for an unknown transaction or one without signed values."""
        ...


class MessageLogStore(Protocol):
    """The per-charge-point log of OCPP frames."""

    async def list_frames(
        self, charge_point_id: str, *, limit: int, cursor: str | None = None
    ) -> Page[FrameRecord]:
        """Newest first; returns (page, next_cursor or None)."""
        ...

    async def purge_frames(self, before: datetime) -> int:
        """Delete frames logged before `before`; returns how many."""
        ...


class EventQuery(TypedDict, total=False):
    """The optional filters of `list_station_events`: left out or None does not filter."""

    kind: StationEventKind | None
    type: str | None
    since: datetime | None  # timestamp >= since
    until: datetime | None  # timestamp < until
    cursor: str | None


class StationEventStore(Protocol):
    """Events stations reported (SecurityEventNotification, NotifyEvent); written through the batched
    writer as `StationEvent` items."""

    async def list_station_events(
        self, charge_point_id: str, *, limit: int, **query: Unpack[EventQuery]
    ) -> Page[StationEvent]:
        """The station's events newest first (by arrival); returns (page, next_cursor or None).

        Raises:
            ValueError: `limit` below 1, or a cursor this method did not hand out.
        """
        ...


class ApiKeyStore(Protocol):
    """Operator API keys (hashes only), each of one organization."""

    async def add_api_key(
        self, name: str, prefix: str, key_hash: str, role: str, org_id: str = DEFAULT_ORG_ID
    ) -> ApiKey:
        """Store a new key of organization `org_id`; raises AlreadyExists for a taken prefix."""
        ...

    async def find_api_key(self, prefix: str) -> ApiKey | None: ...

    async def get_api_key(self, key_id: int) -> ApiKey | None: ...

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        """The organization's keys, ordered by id."""
        ...

    async def delete_api_key(self, key_id: int) -> None:
        """Revoke (delete) a key; NotFound."""
        ...

    async def replace_api_key_secret(self, key_id: int, prefix: str, key_hash: str) -> ApiKey:
        """Rotate: the key keeps its id, name, role and organization but gets a new prefix and hash, so the
        old secret is refused at once. NotFound; AlreadyExists when the new prefix is taken."""
        ...


class IdentityStore(Protocol):
    """Organizations, users, memberships, sign-in sessions and invitations (`csms.domain.identity`)."""

    async def add_organization(self, org: Organization) -> Organization:
        """Insert (created_at from the store's clock unless given); AlreadyExists for a taken id."""
        ...

    async def get_organization(self, org_id: str) -> Organization | None: ...

    async def list_organizations(self) -> list[Organization]:
        """Every organization: the default one first, then by creation and id."""
        ...

    async def save_organization(self, org: Organization) -> None:
        """Write every mutable field (name, country, contact email, settings); NotFound."""
        ...

    async def add_user(self, email: str, name: str, password_hash: str) -> User:
        """AlreadyExists when a user has this email (compared case-insensitively)."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def find_user_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""
        ...

    async def set_member(self, org_id: str, user_id: int, role: str, *, keep_an_admin: bool = False) -> None:
        """Add the user to the organization with `role`, or change the role of a member. With
        `keep_an_admin`, raises LastAdmin (changing nothing) when no admin would be left; checked in the
        same transaction as the change, so two admins demoting each other at once cannot both succeed."""
        ...

    async def remove_member(self, org_id: str, user_id: int, *, keep_an_admin: bool = False) -> None:
        """NotFound when the user is not a member; with `keep_an_admin` as `set_member`."""
        ...

    async def list_members(self, org_id: str) -> list[Member]:
        """Ordered by user id."""
        ...

    async def list_memberships(self, user_id: int) -> list[tuple[str, str]]:
        """(org_id, role) of each organization the user belongs to, oldest membership first."""
        ...

    async def add_user_session(self, session: UserSession) -> UserSession:
        """Insert with a new id (the one passed in is ignored)."""
        ...

    async def find_user_session(
        self, *, access_digest: str = "", refresh_digest: str = ""
    ) -> UserSession | None:
        """The session whose current access (or refresh) token has this digest, revoked or not."""
        ...

    async def save_user_session(self, session: UserSession) -> None:
        """Write its token digests, expiries and revoked_at; NotFound."""
        ...

    async def add_invitation(self, invitation: Invitation) -> Invitation:
        """Insert with a new id (the one passed in is ignored)."""
        ...

    async def get_invitation(self, invitation_id: int) -> Invitation | None: ...

    async def find_invitation(self, token_digest: str) -> Invitation | None: ...

    async def list_invitations(self, org_id: str) -> list[Invitation]:
        """Newest first."""
        ...

    async def delete_invitation(self, invitation_id: int) -> None: ...

    async def close_invitation(self, invitation_id: int, status: InvitationStatus, at: datetime) -> bool:
        """Move a pending invitation to `status` (accepted or cancelled) at `at`, in one conditional write,
        so of two concurrent accepts exactly one succeeds. False when it was no longer pending."""
        ...


class BatchSink(Protocol):
    """Where the batched writer flushes to."""

    async def apply_batch(self, items: Sequence[BatchItem]) -> None:
        """Apply all items in one database transaction, in order.

        A StatusChange updates (or creates) the connector row and appends to the status history; a
        MeterReading inserts its samples; a HeartbeatSeen sets last_heartbeat_at; StationFieldsChanged sets
        those columns; a BootRecorded sets the boot columns, ocpp_version and last_boot_at (the newest per
        station); TransactionMeterChanged sets last_meter_wh/charging_state/updated_at; a FrameRecord
        is appended to the message log; a TransactionEventSeen records a seqNo (a repeat is ignored); a
        StationEvent is appended to the station's events.
        Items for unknown charge points or transactions are skipped.
        """
        ...


class ReservationStore(Protocol):
    """Reservations; the id is allocated by the store (unique integer, sent to stations as reservationId)."""

    async def add_reservation(self, reservation: Reservation) -> Reservation:
        """Insert with a newly allocated id (the `id` passed in is ignored) and return the stored one; it
        belongs to its charge point's organization (`reservation.org_id` for an unregistered one)."""
        ...

    async def get_reservation(self, reservation_id: int, *, org_id: str | None = None) -> Reservation | None:
        """The reservation, or None; with `org_id` also None when it belongs to another organization."""
        ...

    async def save_reservation(self, reservation: Reservation) -> None:
        """Write every mutable field (status, station_status, transaction_pk, reason, expiry...); NotFound."""
        ...

    async def list_reservations(
        self, *, limit: int, **query: Unpack[StationQuery[ReservationStatus]]
    ) -> Page[Reservation]:
        """Newest first (by id); returns (page, next_cursor or None)."""
        ...

    async def list_due_reservations(self, now: datetime) -> list[Reservation]:
        """Active reservations whose expiry_date is at or before `now`."""
        ...

    async def expire_reservation(self, reservation_id: int, now: datetime) -> Reservation | None:
        """Mark the reservation `expired` if it is still active and its expiry_date is at or before `now`,
        in one atomic conditional write (updated_at becomes now), so that of several processes expiring it
        at once exactly one succeeds.

        Returns:
            The expired reservation when THIS call changed it; None when it did not (unknown id, no longer
            active — e.g. another process expired it first —, or expiring later than `now`).
        """
        ...

    async def find_active_reservations(self, charge_point_id: str) -> list[Reservation]:
        """Active reservations of one station."""
        ...

    async def find_reservation_by_external_id(self, owner: str, external_id: str) -> Reservation | None:
        """The newest reservation a partner (`owner`) made under its own id."""
        ...


class DeviceModelStore(Protocol):
    """Configuration a station reported (1.6 GetConfiguration, 2.0.1 NotifyReport / GetVariables)."""

    async def upsert_device_variables(self, variables: Sequence[DeviceVariable]) -> None:
        """Insert or update by (charge_point_id, component, component_instance, evse_id, connector_id,
        variable, variable_instance, attribute_type)."""
        ...

    async def list_device_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        """Ordered by component then variable (None component first)."""
        ...

    async def list_device_variables_keyed(
        self, charge_point_ids: Collection[str], keys: Collection[tuple[str | None, str]]
    ) -> list[DeviceVariable]:
        """The variables of these (component, variable) names (component None: a 1.6 key), any instance,
        EVSE, connector and attribute type, of many stations at once, in no set order."""
        ...


class ChargingProfileStore(Protocol):
    """Charging profiles the CSMS installed."""

    async def save_charging_profile(self, profile: StoredChargingProfile) -> None:
        """Insert or replace by (charge_point_id, profile_id)."""
        ...

    async def list_charging_profiles(self, charge_point_id: str) -> list[StoredChargingProfile]: ...

    async def delete_charging_profiles(
        self, charge_point_id: str, *, profile_id: int | None = None, evse_id: int | None = None
    ) -> int:
        """Delete matching profiles (both None: all of the station); returns how many."""
        ...


class AdminStore(Protocol):
    """Operator changes to charge points and id tokens."""

    async def delete_charge_point(self, charge_point_id: str) -> None:
        """Delete a charge point and its connectors, status history, device model, profiles and local list;
        its transactions and reservations are kept (history). Raises NotFound."""
        ...

    async def update_id_token(self, token: IdToken) -> None:
        """Overwrite type, status, expiry_date, group_id_token; sets updated_at. Raises NotFound."""
        ...

    async def delete_id_token(self, id_token: str) -> None:
        """Raises NotFound."""
        ...


class Store(
    EnergyStore,
    StationStore,
    TokenStore,
    IdTokenAliasStore,
    TransactionStore,
    MessageLogStore,
    StationEventStore,
    ApiKeyStore,
    IdentityStore,
    BatchSink,
    ReservationStore,
    DeviceModelStore,
    ChargingProfileStore,
    AdminStore,
    PortalStore,
    FirmwareStore,
    CertificateStore,
    LocalListStore,
    Protocol,
):
    """Everything, for wiring; handlers take the narrow protocols above."""

    async def close(self) -> None: ...
