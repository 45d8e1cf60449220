"""OCPI-side records: partners, locations, connector specs, EVSE uids, tariffs, partner tokens, CDRs and the
push outbox. Everything OCPP already knows (stations, connectors' status, transactions, reservations) stays
in the CSMS domain; these records only hold what OCPI adds to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from csms.domain.tenancy import DEFAULT_ORG_ID


class PartnerStatus(StrEnum):
    """Where a roaming partner is in the credentials handshake (OCPI 2.2.1 Credentials)."""

    PENDING = "pending"  # token A issued (or received), no handshake yet
    REGISTERED = "registered"  # tokens B and C exchanged
    UNREGISTERED = "unregistered"  # DELETE credentials; its tokens no longer work


@dataclass(slots=True)
class Partner:
    """A roaming partner (eMSP or hub).

    Tokens we issue (A, then C) are stored hashed (SHA-256: they are 256-bit random values, so a fast hash
    is safe and lets us find the partner from the token). The token the partner issued us (B; we send it
    in `Authorization: Token ...` when we call them) must be kept usable and is stored as given.
    """

    id: int
    name: str
    country_code: str
    party_id: str
    status: PartnerStatus = PartnerStatus.PENDING
    role: str = "EMSP"
    token_a_hash: str | None = None  # token A we issued for this partner's registration
    token_c_hash: str | None = None  # token we issued in the handshake; the partner calls us with it
    token_b: str | None = None  # the partner's token for us to call them with
    versions_url: str | None = None  # the partner's versions endpoint
    version: str | None = None  # the version agreed ("2.2.1")
    endpoints: dict[str, str] = field(
        default_factory=dict
    )  # "<identifier>:<ROLE>" -> url, e.g. "sessions:RECEIVER"
    roles: list[dict[str, Any]] = field(default_factory=list)  # the partner's CredentialsRole objects
    created_at: datetime | None = None
    updated_at: datetime | None = None
    org_id: str = DEFAULT_ORG_ID  # the organization it roams with (`csms.domain.tenancy`)


@dataclass(slots=True, kw_only=True)
class Stamped:
    """What every OCPI object the bridge stores carries: `last_updated` (keyword-only), None until the store
    saves the record, which then sets it to now."""

    last_updated: datetime | None = None


@dataclass(slots=True)
class Location(Stamped):
    """A site that groups charge points, as operators configure it (OCPI Location without its EVSEs)."""

    id: str
    name: str | None
    address: str
    city: str
    country: str  # ISO 3166-1 alpha-3
    latitude: str  # OCPI GeoLocation strings, "-?[0-9]{1,2}\.[0-9]{5,7}"
    longitude: str
    time_zone: str  # IANA
    country_code: str  # the CPO's ISO 3166 alpha-2 (OCPI country_code)
    party_id: str  # the CPO's party id
    publish: bool = True
    postal_code: str | None = None
    state: str | None = None
    parking_type: str | None = None
    facilities: list[str] = field(default_factory=list)
    opening_times: dict[str, Any] | None = None  # OCPI Hours object as given
    operator: dict[str, Any] | None = None  # OCPI BusinessDetails
    charging_when_closed: bool | None = None
    charge_point_ids: list[str] = field(default_factory=list)
    # Tariffs of the location's connectors that name none of their own (`ConnectorSpec.tariff_ids` win).
    tariff_ids: list[str] = field(default_factory=list)
    org_id: str = DEFAULT_ORG_ID  # the organization that created it


@dataclass(slots=True)
class ConnectorSpec(Stamped):
    """Operator-configured OCPI facts of one connector (OCPP does not report them)."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    standard: str = "IEC_62196_T2"
    format: str = "SOCKET"
    power_type: str = "AC_3_PHASE"
    max_voltage: int = 230
    max_amperage: int = 32
    max_electric_power: int | None = None
    tariff_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EvseUid:
    """The OCPI EVSE uid (a UUID: immutable, never reused) of a (charge point, EVSE) pair."""

    uid: str
    charge_point_id: str
    evse_id: int


@dataclass(slots=True)
class Tariff(Stamped):
    """A tariff as the OCPI object (elements, restrictions...) plus its id; prices are Decimal in `data`
    only after parsing with `csms.domain.pricing`."""

    id: str
    currency: str
    data: dict[str, Any]  # the full OCPI Tariff object as JSON (numbers as strings or numbers)
    org_id: str = DEFAULT_ORG_ID  # the organization that created it


@dataclass(slots=True)
class PartnerToken(Stamped):
    """A token a partner (eMSP) pushed to us (OCPI Tokens module, receiver)."""

    country_code: str
    party_id: str
    uid: str
    type: str  # AD_HOC_USER | APP_USER | OTHER | RFID
    contract_id: str
    issuer: str
    valid: bool
    whitelist: str  # ALWAYS | ALLOWED | ALLOWED_OFFLINE | NEVER
    data: dict[str, Any]  # the full OCPI Token object as last PUT/PATCHed
    partner_id: int | None = None
    group_id: str | None = None


@dataclass(slots=True)
class ClientInfo(Stamped):
    """What a hub told us of one party it connects (OCPI 2.2.1 HubClientInfo: ClientInfo, receiver)."""

    country_code: str
    party_id: str
    role: str  # OCPI 2.2.1 Role: CPO | EMSP | HUB | NAP | NSP | OTHER | SCSP
    status: str  # OCPI 2.2.1 ConnectionStatus: CONNECTED | OFFLINE | PLANNED | SUSPENDED
    partner_id: int | None = None  # the hub that sent it


@dataclass(slots=True)
class SessionLink(Stamped):
    """What OCPI knows about a CSMS transaction or reservation beyond OCPP: who asked for it and how."""

    session_id: str  # the OCPI Session id: str(transaction id), or "R<reservation id>" while a reservation
    partner_id: int | None
    transaction_pk: int | None = None
    reservation_id: int | None = None
    auth_method: str = "WHITELIST"  # AUTH_REQUEST | COMMAND | WHITELIST
    authorization_reference: str | None = None
    cdr_token: dict[str, Any] | None = None
    tariff_id: str | None = None


def party_of(country_code: Any, party_id: Any) -> tuple[str, str] | None:
    """An OCPI party as compared everywhere: (country_code, party_id) in upper case (both are CiStrings);
    None unless both are strings."""
    if not isinstance(country_code, str) or not isinstance(party_id, str):
        return None
    return country_code.upper(), party_id.upper()


@dataclass(frozen=True, slots=True)
class PartyScope:
    """What one partner may see of the sessions and CDRs (partner isolation, OCPI 2.2.1 transport "GET": a
    CPO need not, and here does not, send a partner the sessions and CDRs of other parties' tokens).

    A session (its `SessionLink`) is the partner's when its token's party (`cdr_token` country_code and
    party_id) is one of `parties`, or when the partner made it (`partner_id`: its START_SESSION or
    RESERVE_NOW). Sessions of CSMS-local tokens have neither and belong to no partner.
    """

    partner_id: int
    parties: frozenset[tuple[str, str]]  # upper case, see `party_of`

    @classmethod
    def of(cls, partner: Partner) -> PartyScope:
        """The scope of a partner: the party it was added with and that of every role of its credentials
        (a hub or a multi-party eMSP has several)."""
        parties = {party_of(partner.country_code, partner.party_id)}
        parties.update(party_of(role.get("country_code"), role.get("party_id")) for role in partner.roles)
        return cls(partner.id, frozenset(p for p in parties if p is not None))

    def owns(self, link: SessionLink) -> bool:
        """Whether the session of `link` is this partner's."""
        if link.partner_id is not None and link.partner_id == self.partner_id:
            return True
        return token_party(link) in self.parties

    def owns_party(self, country_code: str, party_id: str) -> bool:
        """Whether (country_code, party_id) is one of the partner's parties."""
        return party_of(country_code, party_id) in self.parties


def token_party(link: SessionLink) -> tuple[str, str] | None:
    """The party of a session's token (`cdr_token`), upper case; None without one."""
    if not link.cdr_token:
        return None
    return party_of(link.cdr_token.get("country_code"), link.cdr_token.get("party_id"))


@dataclass(slots=True)
class PendingStart:
    """A START_SESSION whose transaction has not started yet (stored: any node may see it start).

    The domain's remote-start correlator gives that transaction `remote_start_id`; until `until` (the
    correlator's window) the token `uid` is vouched for at `charge_point_id` (and `evse_id` when the command
    named an EVSE) only, and the transaction that answers it becomes the partner's session (SessionLink
    COMMAND) with `cdr_token` and `authorization_reference`.
    """

    remote_start_id: int
    partner_id: int
    charge_point_id: str
    uid: str
    cdr_token: dict[str, Any]
    authorization_reference: str | None
    until: datetime
    evse_id: int | None = None  # the command's EVSE; None: the station chooses


@dataclass(slots=True)
class CommandPromise:
    """A CommandResult we still owe a partner (stored: it must survive a restart; OCPI 2.2.1 Commands).

    Either an accepted command, whose result is due by `deadline` (the CommandResponse timeout), or a
    reservation made by RESERVE_NOW (`reservation_id`), watched until it ends (CANCELED_RESERVATION when it
    expires or is cancelled on our side). `settled_at` is set once, by whoever posts the result (or finds
    none is owed): `OcpiStore.settle_command_promise` is how a result is never posted twice.
    """

    id: int
    partner_id: int
    command: str
    response_url: str
    deadline: datetime | None = None
    reservation_id: int | None = None
    external_id: str | None = None  # the partner's reservation_id
    correlation_id: str | None = None
    created_at: datetime | None = None
    settled_at: datetime | None = None
    result: str | None = None  # the CommandResultType posted, or why none was ("" : nothing owed)


@dataclass(slots=True)
class Cdr(Stamped):
    """A charge detail record, frozen when the session completed (OCPI CDR as JSON)."""

    id: str
    transaction_pk: int
    data: dict[str, Any]
    total_cost_excl_vat: Decimal
    org_id: str = DEFAULT_ORG_ID  # its transaction's (ADR 0012)


class OutboxStatus(StrEnum):
    """State of one push to one partner."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the maximum attempts; visible to operators


@dataclass(slots=True)
class OutboxEntry:
    """One push (PUT/PATCH/POST) to one partner, kept until delivered; ordered per (partner, object)."""

    id: int
    partner_id: int
    module: str  # locations | sessions | cdrs | tariffs | commands
    object_key: str  # e.g. "session:42"; pushes with the same key are delivered in id order
    method: str
    url: str
    body: dict[str, Any] | None
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    # The process delivering it right now and until when (`OcpiStore.claim_outbox`); None when unclaimed.
    claimed_by: str | None = None
    claimed_until: datetime | None = None
