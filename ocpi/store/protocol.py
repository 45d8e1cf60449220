"""The OCPI store protocol: the tables OCPI adds to the CSMS database (one Alembic chain, csms/store).

Implemented by `ocpi.store.sql.SqlOcpiStore` (on the CSMS's SQLAlchemy engine, same database) and
`tests.fakes.ocpi_memory_store.MemoryOcpiStore` (the tests' fake). Lists used by the OCPI sender modules are
ordered by `last_updated` (oldest first, then id) and read by a `Pagination`: filtered by `date_from`
(inclusive) / `date_to` (exclusive), then `offset`/`limit`, with the total count, as OCPI pagination needs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from csms.domain.ports import Pagination
from ocpi.models import (
    Cdr,
    ClientInfo,
    CommandPromise,
    ConnectorSpec,
    EvseUid,
    Location,
    OutboxEntry,
    Partner,
    PartnerToken,
    PartyScope,
    PendingStart,
    SessionLink,
    Tariff,
)

FIRST_PAGE = Pagination()  # no date window, the first 100


class OcpiStore(Protocol):
    # -- partners ---------------------------------------------------------------------------------
    async def add_partner(self, partner: Partner) -> Partner:
        """Insert with a new id (the given id is ignored)."""
        ...

    async def save_partner(self, partner: Partner) -> None:
        """Overwrite every field but id; raises csms.domain.ports.NotFound."""
        ...

    async def get_partner(self, partner_id: int) -> Partner | None: ...

    async def find_partner_by_token_hash(self, token_hash: str) -> Partner | None:
        """The partner whose token_a_hash or token_c_hash equals `token_hash` (not UNREGISTERED)."""
        ...

    async def list_partners(self, *, org_id: str | None = None) -> list[Partner]:
        """By id; only organization `org_id`'s when given."""
        ...

    # -- locations --------------------------------------------------------------------------------
    async def save_location(self, location: Location) -> None:
        """Insert or replace by id, including its charge_point_ids (a charge point is in one location)."""
        ...

    async def get_location(self, location_id: str, *, org_id: str | None = None) -> Location | None:
        """None also when `org_id` is given and the location is another organization's."""
        ...

    async def delete_location(self, location_id: str) -> None: ...

    async def list_locations(
        self, pagination: Pagination = FIRST_PAGE, *, published_only: bool = False, org_id: str | None = None
    ) -> tuple[list[Location], int]:
        """(page, total count); only organization `org_id`'s when given."""
        ...

    async def location_of(self, charge_point_id: str) -> Location | None: ...

    async def locations_of(self, charge_point_ids: Collection[str]) -> dict[str, Location]:
        """The location of each of these charge points that is in one, by charge point id (many at once:
        what `location_of` reads per charge point)."""
        ...

    # -- connectors and EVSE uids -----------------------------------------------------------------
    async def save_connector_spec(self, spec: ConnectorSpec) -> None: ...

    async def list_connector_specs(self, charge_point_id: str) -> list[ConnectorSpec]: ...

    async def list_connector_specs_of(self, charge_point_ids: Collection[str]) -> list[ConnectorSpec]:
        """The specs of many charge points at once, by (charge_point_id, evse_id, connector_id)."""
        ...

    async def evse_uids_for(self, evses: Collection[tuple[str, int]]) -> list[EvseUid]:
        """`evse_uid` of many (charge point, EVSE) pairs at once (an OCPI page): each missing uid is created
        as `evse_uid` creates it; one per distinct pair, by (charge_point_id, evse_id)."""
        ...

    async def evse_uid(self, charge_point_id: str, evse_id: int) -> EvseUid:
        """The uid of that EVSE, created (uuid4) on first use; never reused."""
        ...

    async def find_evse(self, uid: str) -> EvseUid | None: ...

    # -- tariffs ----------------------------------------------------------------------------------
    async def save_tariff(self, tariff: Tariff) -> None: ...

    async def get_tariff(self, tariff_id: str, *, org_id: str | None = None) -> Tariff | None:
        """None also when `org_id` is given and the tariff is another organization's."""
        ...

    async def delete_tariff(self, tariff_id: str) -> None: ...

    async def list_tariffs(
        self, pagination: Pagination = FIRST_PAGE, *, org_id: str | None = None
    ) -> tuple[list[Tariff], int]:
        """(page, total count); only organization `org_id`'s when given."""
        ...

    # -- partner tokens ---------------------------------------------------------------------------
    async def save_partner_token(self, token: PartnerToken) -> None:
        """Insert or replace by (country_code, party_id, uid, type)."""
        ...

    async def get_partner_token(
        self, country_code: str, party_id: str, uid: str, type: str = "RFID"
    ) -> PartnerToken | None: ...

    async def find_partner_token(self, uid: str) -> PartnerToken | None:
        """A token by uid alone (what an OCPP idTag carries); the newest if several parties use the uid."""
        ...

    async def tokens_pulled_at(self, partner_id: int) -> datetime | None:
        """When the partner's token list was last pulled in full or in part (`ocpi.token_pull`), or None."""
        ...

    async def set_tokens_pulled_at(self, partner_id: int, pulled_at: datetime) -> None:
        """Insert or replace the partner's last token pull time."""
        ...

    # -- hub client info --------------------------------------------------------------------------
    async def save_client_info(self, info: ClientInfo) -> None:
        """Insert or replace by (country_code, party_id); last_updated None becomes now."""
        ...

    async def get_client_info(self, country_code: str, party_id: str) -> ClientInfo | None: ...

    async def list_client_infos(self) -> list[ClientInfo]:
        """Every ClientInfo, by (country_code, party_id)."""
        ...

    # -- session links and CDRs -------------------------------------------------------------------
    async def save_session_link(self, link: SessionLink) -> None:
        """Insert or replace by session_id."""
        ...

    async def get_session_link(self, session_id: str) -> SessionLink | None: ...

    async def find_session_link(
        self, *, transaction_pk: int | None = None, reservation_id: int | None = None
    ) -> SessionLink | None: ...

    async def owned_session_transactions(self, scope: PartyScope) -> list[int]:
        """The transaction pks of the sessions `scope` owns (`PartyScope.owns` of their links), ascending:
        the filter of the partner's Sessions GET (`TransactionStore.list_transactions_updated`)."""
        ...

    async def save_cdr(self, cdr: Cdr) -> None:
        """Insert; a CDR is immutable (a second save of the same id raises AlreadyExists)."""
        ...

    async def save_cdrs(self, cdrs: Sequence[Cdr]) -> None:
        """Insert all of `cdrs` or none (one database transaction): a correction's credit CDR and its
        replacement (`ocpi.corrections`). Raises AlreadyExists, storing nothing, when one id is stored."""
        ...

    # -- START_SESSIONs waiting for their transaction -----------------------------------------------
    async def add_pending_start(self, pending: PendingStart) -> None:
        """Insert (remote_start_id is unique); also deletes the pending starts whose `until` passed."""
        ...

    async def get_pending_start(self, remote_start_id: int) -> PendingStart | None: ...

    async def delete_pending_start(self, remote_start_id: int) -> None:
        """Delete it if present."""
        ...

    async def pending_start_for(self, uid: str, now: datetime, charge_point_id: str) -> PendingStart | None:
        """A pending start of token `uid` at `charge_point_id` still awaited at `now` (`until` after it), or
        None."""
        ...

    # -- CommandResults owed to partners (survive a restart) ----------------------------------------
    async def add_command_promise(self, promise: CommandPromise) -> CommandPromise:
        """Insert with a new id (the given id is ignored; created_at None becomes now), unsettled."""
        ...

    async def settle_command_promise(self, promise_id: int, result: str) -> bool:
        """Settle it with `result` (set settled_at = now) if nobody has: True for the one caller that did,
        who then posts the result; False when it was settled already (or does not exist)."""
        ...

    async def list_command_promises(self) -> list[CommandPromise]:
        """The promises not settled yet, oldest (lowest id) first."""
        ...

    async def get_cdr(self, cdr_id: str) -> Cdr | None: ...

    async def list_transaction_cdrs(self, transaction_pk: int) -> list[Cdr]:
        """Every CDR of one transaction (its CDR, and the credit and replacement CDRs of its corrections),
        ordered by last_updated then id."""
        ...

    async def list_cdrs(
        self,
        pagination: Pagination = FIRST_PAGE,
        *,
        scope: PartyScope | None = None,
        org_id: str | None = None,
    ) -> tuple[list[Cdr], int]:
        """(page, total count); with `scope` only the CDRs whose session (the SessionLink of their
        transaction) the scope owns: a CDR without a link, like its session, is no partner's; with `org_id`
        only that organization's."""
        ...

    # -- push outbox ------------------------------------------------------------------------------
    async def add_outbox(self, entry: OutboxEntry) -> OutboxEntry:
        """Insert with a new increasing id (the given id is ignored)."""
        ...

    async def save_outbox(self, entry: OutboxEntry) -> None:
        """Overwrite every field but id and the claim; the claim is released (saving settles an entry:
        SENT, FAILED or a retry time). Raises csms.domain.ports.NotFound."""
        ...

    async def due_outbox(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries that are due (next_attempt_at None or ≤ now, and not claimed until after now) AND
        are the oldest pending entry of their (partner_id, object_key), claimed or not — so pushes of one
        object are delivered in order; oldest first. Only reads (what `claim_outbox` would take)."""
        ...

    async def claim_outbox(
        self, now: datetime, limit: int, *, node_id: str, until: datetime, skip_partners: Collection[int] = ()
    ) -> list[OutboxEntry]:
        """Take up to `limit` of the entries `due_outbox(now)` returns (leaving out those of
        `skip_partners`) for the process `node_id`, in one transaction: each gets claimed_by=node_id and
        claimed_until=until, and is due for nobody else until then — so processes sharing the database never
        take the same entry, even at the same moment. The claim ends when the entry is saved
        (`save_outbox`), released (`release_outbox`) or at `until`: an entry of a process that died
        mid-delivery is taken by another after that (delivered at least once across a crash).

        Returns:
            The claimed entries, oldest (lowest id) first.
        """
        ...

    async def release_outbox(self, ids: Collection[int], node_id: str) -> None:
        """Release the claims `node_id` holds on these entries (pending, not attempted): due again at once,
        for any process. Entries claimed by another process, or settled, are left alone."""
        ...

    async def list_outbox(
        self,
        *,
        status: str | None = None,
        partner_id: int | None = None,
        limit: int = 100,
        partner_ids: Collection[int] | None = None,
    ) -> list[OutboxEntry]:
        """Newest first, at most `limit`; `partner_ids` (when given) limits them to those partners'."""
        ...

    async def outbox_of_objects(self, object_keys: Collection[str]) -> list[OutboxEntry]:
        """Every entry (any status, any partner) of these object keys, by key, then oldest first: what
        each partner was sent, or will be, of those objects (`ocpi.reconcile`)."""
        ...
