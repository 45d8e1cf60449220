"""`MemoryOcpiStore`: the `OcpiStore` protocol in memory, for tests; behaves like `SqlOcpiStore`.

Objects go in and come out as copies (changing a returned object changes nothing stored until it is saved
again), and JSON fields take the same round trip through `dump_json`/`load_json` as in the database, so a
test against this store sees what production sees. Nothing survives the process.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from csms.domain.clock import Clock, to_utc, utcnow
from csms.domain.ports import AlreadyExists, NotFound
from ocpi.models import (
    Cdr,
    ClientInfo,
    CommandPromise,
    ConnectorSpec,
    EvseUid,
    Location,
    OutboxEntry,
    OutboxStatus,
    Partner,
    PartnerStatus,
    PartnerToken,
    PartyScope,
    PendingStart,
    SessionLink,
    Tariff,
)
from ocpi.store import FIRST_PAGE, Pagination
from ocpi.store.json_columns import dump_json, load_json

__all__ = ["MemoryOcpiStore", "dump_json", "load_json"]

T = TypeVar("T")


def _roundtrip(value: T) -> T:
    result: T = load_json(dump_json(value))
    return result


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _in_window(value: datetime | None, pagination: Pagination) -> bool:
    """OCPI pagination window: date_from ≤ last_updated < date_to (OCPI 2.2.1 Locations/Sessions GET)."""
    if value is None:
        return False
    if pagination.date_from is not None and value < to_utc(pagination.date_from):
        return False
    if pagination.date_to is not None and value >= to_utc(pagination.date_to):
        return False
    return True


def _page(
    items: Iterable[T],
    key: Callable[[T], Any],
    pagination: Pagination,
) -> tuple[list[T], int]:
    ordered = sorted(items, key=key)
    offset = max(pagination.offset, 0)
    return ordered[offset : offset + max(pagination.limit, 0)], len(ordered)


class MemoryOcpiStore:
    """The OCPI tables in dictionaries; see `ocpi.store.OcpiStore` for what each method promises.

    Args:
        clock: fills `last_updated`, `created_at` and `updated_at` when the caller leaves them None.
    """

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self._clock = clock
        self._partner_ids = itertools.count(1)
        self._outbox_ids = itertools.count(1)
        self._partners: dict[int, Partner] = {}
        self._locations: dict[str, Location] = {}
        self._location_of: dict[str, str] = {}  # charge_point_id -> location id
        self._specs: dict[tuple[str, int, int], ConnectorSpec] = {}
        self._evse_uids: dict[tuple[str, int], EvseUid] = {}
        self._evse_by_uid: dict[str, EvseUid] = {}
        self._tariffs: dict[str, Tariff] = {}
        self._tokens: dict[tuple[str, str, str, str], PartnerToken] = {}
        self._links: dict[str, SessionLink] = {}
        self._pending: dict[int, PendingStart] = {}  # START_SESSIONs by remote_start_id
        self._cdrs: dict[str, Cdr] = {}
        self._outbox: dict[int, OutboxEntry] = {}
        self._promises: dict[int, CommandPromise] = {}
        self._promise_ids = itertools.count(1)
        self._token_pulls: dict[int, datetime] = {}
        self._client_infos: dict[tuple[str, str], ClientInfo] = {}

    def _now(self) -> datetime:
        return to_utc(self._clock())

    # -- partners ---------------------------------------------------------------------------------

    def _partner_copy(self, partner: Partner) -> Partner:
        return dataclasses.replace(
            partner,
            status=PartnerStatus(partner.status),
            endpoints=_roundtrip(partner.endpoints),
            roles=_roundtrip(partner.roles),
            created_at=_utc(partner.created_at),
            updated_at=_utc(partner.updated_at),
        )

    def _check_token_hashes(self, partner: Partner, partner_id: int | None) -> None:
        """Mirror the unique constraints on token_a_hash and token_c_hash."""
        for other in self._partners.values():
            if other.id == partner_id:
                continue
            if partner.token_a_hash is not None and partner.token_a_hash == other.token_a_hash:
                raise AlreadyExists("token_a_hash is in use by another partner")
            if partner.token_c_hash is not None and partner.token_c_hash == other.token_c_hash:
                raise AlreadyExists("token_c_hash is in use by another partner")

    async def add_partner(self, partner: Partner) -> Partner:
        """Insert with a new id (the given id is ignored); returns the stored partner with its timestamps.

        Raises:
            AlreadyExists: another partner has the same token_a_hash or token_c_hash.
        """
        self._check_token_hashes(partner, None)
        now = self._now()
        stored = self._partner_copy(partner)
        stored.id = next(self._partner_ids)
        stored.created_at = stored.created_at or now
        stored.updated_at = stored.updated_at or stored.created_at
        self._partners[stored.id] = stored
        return self._partner_copy(stored)

    async def save_partner(self, partner: Partner) -> None:
        """Overwrite every field but id (and created_at, kept as stored); updated_at becomes now.

        Raises:
            NotFound: no partner with this id.
            AlreadyExists: another partner has the same token_a_hash or token_c_hash.
        """
        old = self._partners.get(partner.id)
        if old is None:
            raise NotFound(f"partner {partner.id} not found")
        self._check_token_hashes(partner, partner.id)
        stored = self._partner_copy(partner)
        stored.created_at = old.created_at
        stored.updated_at = self._now()
        self._partners[partner.id] = stored

    async def get_partner(self, partner_id: int) -> Partner | None:
        """The partner, or None."""
        partner = self._partners.get(partner_id)
        return None if partner is None else self._partner_copy(partner)

    async def find_partner_by_token_hash(self, token_hash: str) -> Partner | None:
        """The partner whose token_a_hash or token_c_hash equals `token_hash` (not UNREGISTERED), or None."""
        for partner in sorted(self._partners.values(), key=lambda p: p.id):
            if partner.status == PartnerStatus.UNREGISTERED:
                continue
            if token_hash in (partner.token_a_hash, partner.token_c_hash):
                return self._partner_copy(partner)
        return None

    async def list_partners(self, *, org_id: str | None = None) -> list[Partner]:
        """Every partner (also unregistered ones; only organization `org_id`'s when given), by id."""
        partners = sorted(self._partners.values(), key=lambda p: p.id)
        return [self._partner_copy(p) for p in partners if org_id is None or p.org_id == org_id]

    # -- locations --------------------------------------------------------------------------------

    def _location_copy(self, location: Location) -> Location:
        return dataclasses.replace(
            location,
            facilities=_roundtrip(location.facilities),
            opening_times=_roundtrip(location.opening_times),
            operator=_roundtrip(location.operator),
            tariff_ids=list(location.tariff_ids),
            charge_point_ids=sorted(cp for cp, loc in self._location_of.items() if loc == location.id),
            last_updated=_utc(location.last_updated),
        )

    async def save_location(self, location: Location) -> None:
        """Insert or replace by id, with exactly its charge_point_ids (a charge point is in one location).

        A charge point listed here that was in another location moves: that location's `last_updated`
        becomes now too (its EVSE list changed). `last_updated` None becomes now. Charge point ids come
        back sorted.
        """
        now = self._now()
        stored = dataclasses.replace(
            location,
            facilities=_roundtrip(location.facilities),
            opening_times=_roundtrip(location.opening_times),
            operator=_roundtrip(location.operator),
            tariff_ids=list(location.tariff_ids),
            charge_point_ids=[],
            last_updated=_utc(location.last_updated) or now,
        )
        wanted = set(location.charge_point_ids)
        for cp, loc in list(self._location_of.items()):
            if loc == location.id and cp not in wanted:
                del self._location_of[cp]
        for cp in wanted:
            previous = self._location_of.get(cp)
            if previous is not None and previous != location.id:
                self._locations[previous].last_updated = now
            self._location_of[cp] = location.id
        self._locations[location.id] = stored

    async def get_location(self, location_id: str, *, org_id: str | None = None) -> Location | None:
        """The location with its charge_point_ids, or None (also when not organization `org_id`'s)."""
        location = self._locations.get(location_id)
        if location is None or (org_id is not None and location.org_id != org_id):
            return None
        return self._location_copy(location)

    async def delete_location(self, location_id: str) -> None:
        """Delete the location and its charge point links; nothing happens for an unknown id."""
        if self._locations.pop(location_id, None) is None:
            return
        for cp, loc in list(self._location_of.items()):
            if loc == location_id:
                del self._location_of[cp]

    async def list_locations(
        self, pagination: Pagination = FIRST_PAGE, *, published_only: bool = False, org_id: str | None = None
    ) -> tuple[list[Location], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to."""
        matching = (
            loc
            for loc in self._locations.values()
            if _in_window(loc.last_updated, pagination)
            and (loc.publish or not published_only)
            and (org_id is None or loc.org_id == org_id)
        )
        page, total = _page(matching, lambda loc: (loc.last_updated, loc.id), pagination)
        return [self._location_copy(loc) for loc in page], total

    async def location_of(self, charge_point_id: str) -> Location | None:
        """The location the charge point belongs to, or None."""
        location_id = self._location_of.get(charge_point_id)
        return None if location_id is None else await self.get_location(location_id)

    async def locations_of(self, charge_point_ids: Collection[str]) -> dict[str, Location]:
        """`location_of` of each charge point that is in a location."""
        found = {cp: await self.location_of(cp) for cp in set(charge_point_ids)}
        return {cp: location for cp, location in found.items() if location is not None}

    # -- connectors and EVSE uids -----------------------------------------------------------------

    def _spec_copy(self, spec: ConnectorSpec) -> ConnectorSpec:
        return dataclasses.replace(
            spec, tariff_ids=_roundtrip(spec.tariff_ids), last_updated=_utc(spec.last_updated)
        )

    async def save_connector_spec(self, spec: ConnectorSpec) -> None:
        """Insert or replace by (charge_point_id, evse_id, connector_id); last_updated None becomes now."""
        stored = self._spec_copy(spec)
        stored.last_updated = stored.last_updated or self._now()
        self._specs[(spec.charge_point_id, spec.evse_id, spec.connector_id)] = stored

    async def list_connector_specs(self, charge_point_id: str) -> list[ConnectorSpec]:
        """The charge point's specs by evse_id then connector_id ([] if none)."""
        return [
            self._spec_copy(spec) for key, spec in sorted(self._specs.items()) if key[0] == charge_point_id
        ]

    async def list_connector_specs_of(self, charge_point_ids: Collection[str]) -> list[ConnectorSpec]:
        """These charge points' specs by (charge_point_id, evse_id, connector_id)."""
        wanted = set(charge_point_ids)
        return [self._spec_copy(spec) for key, spec in sorted(self._specs.items()) if key[0] in wanted]

    async def evse_uids_for(self, evses: Collection[tuple[str, int]]) -> list[EvseUid]:
        """`evse_uid` of each distinct pair, by (charge_point_id, evse_id)."""
        return [self._evse_uid(cp, evse_id) for cp, evse_id in sorted(set(evses))]

    async def evse_uid(self, charge_point_id: str, evse_id: int) -> EvseUid:
        """The uid of that EVSE, created (uuid4) on first use; never reused."""
        return self._evse_uid(charge_point_id, evse_id)

    def _evse_uid(self, charge_point_id: str, evse_id: int) -> EvseUid:
        existing = self._evse_uids.get((charge_point_id, evse_id))
        if existing is None:
            existing = EvseUid(uid=str(uuid.uuid4()), charge_point_id=charge_point_id, evse_id=evse_id)
            self._evse_uids[(charge_point_id, evse_id)] = existing
            self._evse_by_uid[existing.uid] = existing
        return dataclasses.replace(existing)

    async def find_evse(self, uid: str) -> EvseUid | None:
        """The (charge point, EVSE) of a uid, or None."""
        found = self._evse_by_uid.get(uid)
        return None if found is None else dataclasses.replace(found)

    # -- tariffs ----------------------------------------------------------------------------------

    def _tariff_copy(self, tariff: Tariff) -> Tariff:
        return dataclasses.replace(
            tariff, data=_roundtrip(tariff.data), last_updated=_utc(tariff.last_updated)
        )

    async def save_tariff(self, tariff: Tariff) -> None:
        """Insert or replace by id; last_updated None becomes now."""
        stored = self._tariff_copy(tariff)
        stored.last_updated = stored.last_updated or self._now()
        self._tariffs[tariff.id] = stored

    async def get_tariff(self, tariff_id: str, *, org_id: str | None = None) -> Tariff | None:
        """The tariff, or None (also when not organization `org_id`'s)."""
        tariff = self._tariffs.get(tariff_id)
        if tariff is None or (org_id is not None and tariff.org_id != org_id):
            return None
        return self._tariff_copy(tariff)

    async def delete_tariff(self, tariff_id: str) -> None:
        """Delete the tariff; nothing happens for an unknown id."""
        self._tariffs.pop(tariff_id, None)

    async def list_tariffs(
        self, pagination: Pagination = FIRST_PAGE, *, org_id: str | None = None
    ) -> tuple[list[Tariff], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to."""
        matching = (
            t
            for t in self._tariffs.values()
            if _in_window(t.last_updated, pagination) and (org_id is None or t.org_id == org_id)
        )
        page, total = _page(matching, lambda t: (t.last_updated, t.id), pagination)
        return [self._tariff_copy(t) for t in page], total

    # -- partner tokens ---------------------------------------------------------------------------

    def _token_copy(self, token: PartnerToken) -> PartnerToken:
        return dataclasses.replace(token, data=_roundtrip(token.data), last_updated=_utc(token.last_updated))

    async def save_partner_token(self, token: PartnerToken) -> None:
        """Insert or replace by (country_code, party_id, uid, type); last_updated None becomes now."""
        stored = self._token_copy(token)
        stored.last_updated = stored.last_updated or self._now()
        self._tokens[(token.country_code, token.party_id, token.uid, token.type)] = stored

    async def get_partner_token(
        self, country_code: str, party_id: str, uid: str, type: str = "RFID"
    ) -> PartnerToken | None:
        """The token, or None."""
        token = self._tokens.get((country_code, party_id, uid, type))
        return None if token is None else self._token_copy(token)

    async def find_partner_token(self, uid: str) -> PartnerToken | None:
        """A token by uid alone; the newest (last_updated) if several parties or types use the uid."""
        matching = [t for t in self._tokens.values() if t.uid == uid]
        if not matching:
            return None
        newest = max(matching, key=lambda t: (t.last_updated, t.country_code, t.party_id, t.type))
        return self._token_copy(newest)

    async def tokens_pulled_at(self, partner_id: int) -> datetime | None:
        """When the partner's tokens were last pulled, or None."""
        return self._token_pulls.get(partner_id)

    async def set_tokens_pulled_at(self, partner_id: int, pulled_at: datetime) -> None:
        """Insert or replace the last pull time."""
        self._token_pulls[partner_id] = to_utc(pulled_at)

    # -- hub client info --------------------------------------------------------------------------

    async def save_client_info(self, info: ClientInfo) -> None:
        """Insert or replace by (country_code, party_id); last_updated None becomes now."""
        stored = dataclasses.replace(info, last_updated=_utc(info.last_updated) or self._now())
        self._client_infos[(info.country_code, info.party_id)] = stored

    async def get_client_info(self, country_code: str, party_id: str) -> ClientInfo | None:
        """The ClientInfo of that party, or None."""
        info = self._client_infos.get((country_code, party_id))
        return None if info is None else dataclasses.replace(info)

    async def list_client_infos(self) -> list[ClientInfo]:
        """Every ClientInfo, by (country_code, party_id)."""
        return [dataclasses.replace(self._client_infos[key]) for key in sorted(self._client_infos)]

    # -- session links and CDRs -------------------------------------------------------------------

    def _link_copy(self, link: SessionLink) -> SessionLink:
        return dataclasses.replace(
            link, cdr_token=_roundtrip(link.cdr_token), last_updated=_utc(link.last_updated)
        )

    async def add_pending_start(self, pending: PendingStart) -> None:
        """Insert (a copy); those whose `until` passed are dropped."""
        now = self._now()
        self._pending = {k: p for k, p in self._pending.items() if p.until >= now}
        self._pending[pending.remote_start_id] = dataclasses.replace(
            pending, cdr_token=_roundtrip(pending.cdr_token), until=to_utc(pending.until)
        )

    async def get_pending_start(self, remote_start_id: int) -> PendingStart | None:
        """A copy, or None."""
        found = self._pending.get(remote_start_id)
        return None if found is None else dataclasses.replace(found)

    async def delete_pending_start(self, remote_start_id: int) -> None:
        """Drop it if present."""
        self._pending.pop(remote_start_id, None)

    async def pending_start_for(self, uid: str, now: datetime, charge_point_id: str) -> PendingStart | None:
        """The latest-ending pending start of `uid` at `charge_point_id` still awaited at `now`."""
        found = [
            p
            for p in self._pending.values()
            if p.uid == uid and p.charge_point_id == charge_point_id and p.until > now
        ]
        return dataclasses.replace(max(found, key=lambda p: p.until)) if found else None

    async def add_command_promise(self, promise: CommandPromise) -> CommandPromise:
        """Insert a copy with a new id, unsettled; created_at None becomes now."""
        stored = dataclasses.replace(
            promise,
            id=next(self._promise_ids),
            created_at=_utc(promise.created_at) or self._now(),
            deadline=_utc(promise.deadline),
            settled_at=None,
        )
        self._promises[stored.id] = stored
        return dataclasses.replace(stored)

    async def settle_command_promise(self, promise_id: int, result: str) -> bool:
        """Settle it if nobody has; True for the caller that did."""
        found = self._promises.get(promise_id)
        if found is None or found.settled_at is not None:
            return False
        found.settled_at, found.result = self._now(), result
        return True

    async def list_command_promises(self) -> list[CommandPromise]:
        """Copies of the unsettled promises, by id."""
        return [dataclasses.replace(p) for _, p in sorted(self._promises.items()) if p.settled_at is None]

    async def save_session_link(self, link: SessionLink) -> None:
        """Insert or replace by session_id; last_updated None becomes now.

        Raises:
            AlreadyExists: another session link has the same transaction_pk.
        """
        if link.transaction_pk is not None:
            for other in self._links.values():
                if other.session_id != link.session_id and other.transaction_pk == link.transaction_pk:
                    raise AlreadyExists(f"transaction {link.transaction_pk} already has a session link")
        stored = self._link_copy(link)
        stored.last_updated = stored.last_updated or self._now()
        self._links[link.session_id] = stored

    async def get_session_link(self, session_id: str) -> SessionLink | None:
        """The link, or None."""
        link = self._links.get(session_id)
        return None if link is None else self._link_copy(link)

    async def find_session_link(
        self, *, transaction_pk: int | None = None, reservation_id: int | None = None
    ) -> SessionLink | None:
        """The link matching every criterion given (None if none is given); the newest if several match."""
        if transaction_pk is None and reservation_id is None:
            return None
        matching = [
            link
            for link in self._links.values()
            if (transaction_pk is None or link.transaction_pk == transaction_pk)
            and (reservation_id is None or link.reservation_id == reservation_id)
        ]
        if not matching:
            return None
        return self._link_copy(max(matching, key=lambda link: (link.last_updated, link.session_id)))

    def _cdr_copy(self, cdr: Cdr) -> Cdr:
        return dataclasses.replace(
            cdr,
            data=_roundtrip(cdr.data),
            total_cost_excl_vat=Decimal(cdr.total_cost_excl_vat),
            last_updated=_utc(cdr.last_updated),
        )

    async def owned_session_transactions(self, scope: PartyScope) -> list[int]:
        """The transaction pks of the links `scope` owns, ascending."""
        return sorted(
            link.transaction_pk
            for link in self._links.values()
            if link.transaction_pk is not None and scope.owns(link)
        )

    async def save_cdr(self, cdr: Cdr) -> None:
        """Insert; last_updated None becomes now.

        Raises:
            AlreadyExists: a CDR with this id is stored (CDRs are immutable).
        """
        await self.save_cdrs([cdr])

    async def save_cdrs(self, cdrs: Sequence[Cdr]) -> None:
        """Insert all or (AlreadyExists: one of the ids is stored, or given twice) none."""
        ids = [cdr.id for cdr in cdrs]
        if len(set(ids)) != len(ids) or any(cdr_id in self._cdrs for cdr_id in ids):
            raise AlreadyExists(f"CDR {ids} exists")
        for cdr in cdrs:
            stored = self._cdr_copy(cdr)
            stored.last_updated = stored.last_updated or self._now()
            self._cdrs[cdr.id] = stored

    async def get_cdr(self, cdr_id: str) -> Cdr | None:
        """The CDR, or None."""
        cdr = self._cdrs.get(cdr_id)
        return None if cdr is None else self._cdr_copy(cdr)

    async def list_transaction_cdrs(self, transaction_pk: int) -> list[Cdr]:
        """The CDRs of the transaction, ordered by last_updated then id."""
        mine = [c for c in self._cdrs.values() if c.transaction_pk == transaction_pk]
        return [self._cdr_copy(c) for c in sorted(mine, key=lambda c: (c.last_updated, c.id))]

    async def list_cdrs(
        self,
        pagination: Pagination = FIRST_PAGE,
        *,
        scope: PartyScope | None = None,
        org_id: str | None = None,
    ) -> tuple[list[Cdr], int]:
        """(page, total count) ordered by last_updated then id; date_from ≤ last_updated < date_to; with
        `scope`, only CDRs whose transaction's link it owns (an unused reservation's CDR, transaction_pk
        below zero: the link of its session, whose id it has)."""
        owned = None if scope is None else set(await self.owned_session_transactions(scope))
        links = self._links.values()
        owned_ids = (
            None
            if scope is None
            else {link.session_id for link in links if link.transaction_pk is None and scope.owns(link)}
        )

        def mine(c: Cdr) -> bool:
            if owned is None or owned_ids is None:
                return True
            return c.id in owned_ids if c.transaction_pk < 0 else c.transaction_pk in owned

        matching = (
            c
            for c in self._cdrs.values()
            if _in_window(c.last_updated, pagination) and mine(c) and (org_id is None or c.org_id == org_id)
        )
        page, total = _page(matching, lambda c: (c.last_updated, c.id), pagination)
        return [self._cdr_copy(c) for c in page], total

    # -- push outbox ------------------------------------------------------------------------------

    def _entry_copy(self, entry: OutboxEntry) -> OutboxEntry:
        return dataclasses.replace(
            entry,
            status=OutboxStatus(entry.status),
            body=_roundtrip(entry.body),
            next_attempt_at=_utc(entry.next_attempt_at),
            created_at=_utc(entry.created_at),
            sent_at=_utc(entry.sent_at),
            claimed_until=_utc(entry.claimed_until),
        )

    async def add_outbox(self, entry: OutboxEntry) -> OutboxEntry:
        """Insert with a new increasing id (the given id is ignored), unclaimed; created_at None becomes now.

        Returns:
            The stored entry, with its id.
        """
        stored = self._entry_copy(entry)
        stored.id = next(self._outbox_ids)
        stored.created_at = stored.created_at or self._now()
        stored.claimed_by, stored.claimed_until = None, None
        self._outbox[stored.id] = stored
        return self._entry_copy(stored)

    async def save_outbox(self, entry: OutboxEntry) -> None:
        """Overwrite every field of the entry with this id (status, attempts, next_attempt_at...) and release
        its claim.

        Raises:
            NotFound: no entry with this id.
        """
        old = self._outbox.get(entry.id)
        if old is None:
            raise NotFound(f"outbox entry {entry.id} not found")
        stored = self._entry_copy(entry)
        stored.created_at = stored.created_at or old.created_at
        stored.claimed_by, stored.claimed_until = None, None
        self._outbox[entry.id] = stored

    def _due(self, now: datetime) -> list[OutboxEntry]:
        """The stored due entries (not copies), oldest first: pending, retry time come, unclaimed (or the
        claim ran out), and the oldest pending entry of their (partner_id, object_key), claimed or not."""
        now = to_utc(now)
        heads: dict[tuple[int, str], OutboxEntry] = {}
        for entry in sorted(self._outbox.values(), key=lambda e: e.id):
            if entry.status == OutboxStatus.PENDING:
                heads.setdefault((entry.partner_id, entry.object_key), entry)
        return sorted(
            (
                e
                for e in heads.values()
                if (e.next_attempt_at is None or e.next_attempt_at <= now)
                and (e.claimed_until is None or e.claimed_until <= now)
            ),
            key=lambda e: e.id,
        )

    async def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries that are due (next_attempt_at None or ≤ now, no claim running after now) and are
        the oldest pending entry of their (partner_id, object_key), oldest (lowest id) first."""
        return [self._entry_copy(e) for e in self._due(now)[: max(limit, 0)]]

    async def claim_outbox(
        self,
        now: datetime,
        limit: int,
        *,
        node_id: str,
        until: datetime,
        skip_partners: Collection[int] = (),
    ) -> list[OutboxEntry]:
        """Claim up to `limit` due entries (not of `skip_partners`) for `node_id` until `until` (no await in
        between: atomic on this loop), oldest first."""
        taken = [e for e in self._due(now) if e.partner_id not in skip_partners][: max(limit, 0)]
        for entry in taken:
            entry.claimed_by, entry.claimed_until = node_id, to_utc(until)
        return [self._entry_copy(e) for e in taken]

    async def release_outbox(self, ids: Collection[int], node_id: str) -> None:
        """Release `node_id`'s claims on these pending entries; others' claims and settled ones stay."""
        for entry_id in ids:
            entry = self._outbox.get(entry_id)
            if entry is not None and entry.claimed_by == node_id and entry.status == OutboxStatus.PENDING:
                entry.claimed_by, entry.claimed_until = None, None

    async def outbox_of_objects(self, object_keys: Collection[str]) -> list[OutboxEntry]:
        """Every entry of these object keys, by key, then oldest first."""
        wanted = set(object_keys)
        matching = [e for e in self._outbox.values() if e.object_key in wanted]
        matching.sort(key=lambda e: (e.object_key, e.id))
        return [self._entry_copy(e) for e in matching]

    async def list_outbox(
        self,
        *,
        status: str | None = None,
        partner_id: int | None = None,
        limit: int = 100,
        partner_ids: Collection[int] | None = None,
    ) -> list[OutboxEntry]:
        """Entries with that status and/or partner, newest (highest id) first, at most `limit`."""
        matching = [
            e
            for e in self._outbox.values()
            if (status is None or e.status == status)
            and (partner_id is None or e.partner_id == partner_id)
            and (partner_ids is None or e.partner_id in partner_ids)
        ]
        matching.sort(key=lambda e: e.id, reverse=True)
        return [self._entry_copy(e) for e in matching[: max(limit, 0)]]
