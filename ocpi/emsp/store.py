"""What the eMSP role keeps: the CPOs we registered with, their cached locations and tariffs, the sessions
and CDRs they sent us, and the commands we sent them (ADR 0023).

`EmspStore` is what the role needs; `MemoryEmspStore` keeps it in process memory (tests),
`ocpi.emsp.sql_store.SqlEmspStore` in the CSMS database (revision 0019_emsp), which the running CSMS uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

INVITED = "INVITED"


@dataclass(frozen=True, slots=True)
class CpoRecord:
    """A CPO we registered with (or that registered with us), as stored.

    `token_b_hash`: the hash of the token it calls us with (ours, issued at registration);
    `token_c`: the token we call it with (its, kept usable); `endpoints`: "identifier:ROLE" -> URL of its
    2.2.1 details; `status`: PENDING, REGISTERED or UNREGISTERED, or INVITED: a CPO we issued a token A
    to (`ocpi.emsp.registration.invite_cpo`; `token_b_hash` is that token's hash until it registers).
    """

    id: int
    name: str
    versions_url: str
    status: str = "PENDING"
    token_b_hash: str | None = None
    token_c: str | None = None
    country_code: str = ""
    party_id: str = ""
    endpoints: dict[str, str] = field(default_factory=dict)
    roles: list[dict[str, Any]] = field(default_factory=list)
    max_reservation_minutes: int = 240
    cancellation_fee: Decimal = Decimal("0")
    locations_pulled_at: datetime | None = None
    tariffs_pulled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredCommand:
    """A command we sent: the CPO, the command, when we stop waiting for its result, the result once it
    arrived (None: still waiting) and the reservation a RESERVE_NOW is about."""

    command_id: str
    cpo_id: int
    command: str
    deadline: datetime
    result: str | None = None
    reservation_id: str | None = None


class EmspStore(Protocol):
    """The eMSP role's records; `MemoryEmspStore` documents each method."""

    async def add_cpo(self, cpo: CpoRecord) -> CpoRecord: ...
    async def save_cpo(self, cpo: CpoRecord) -> None: ...
    async def get_cpo(self, cpo_id: int) -> CpoRecord | None: ...
    async def list_cpos(self) -> list[CpoRecord]: ...
    async def cpo_by_token_hash(self, token_hash: str) -> CpoRecord | None: ...
    async def put_location(self, cpo_id: int, location: dict[str, Any]) -> None: ...
    async def get_location(self, cpo_id: int, location_id: str) -> dict[str, Any] | None: ...
    async def list_locations(self, cpo_id: int) -> list[dict[str, Any]]: ...
    async def put_tariff(self, cpo_id: int, tariff: dict[str, Any]) -> None: ...
    async def delete_tariff(self, cpo_id: int, tariff_id: str) -> bool: ...
    async def tariffs(self, cpo_id: int) -> dict[str, dict[str, Any]]: ...
    async def put_session(self, cpo_id: int, session: dict[str, Any]) -> None: ...
    async def get_session(self, cpo_id: int, session_id: str) -> dict[str, Any] | None: ...
    async def add_cdr(self, cpo_id: int, cdr: dict[str, Any]) -> bool: ...
    async def get_cdr(self, cpo_id: int, cdr_id: str) -> dict[str, Any] | None: ...
    async def add_command(self, command: StoredCommand) -> None: ...
    async def get_command(self, command_id: str) -> StoredCommand | None: ...
    async def save_command(self, command: StoredCommand) -> None: ...
    async def pending_commands(self) -> list[StoredCommand]: ...


@dataclass(slots=True)
class MemoryEmspStore:
    """The eMSP role's records in memory; every method is a coroutine as a SQL store's would be."""

    _cpos: dict[int, CpoRecord] = field(default_factory=dict)
    _locations: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _tariffs: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _sessions: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _cdrs: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    _commands: dict[str, StoredCommand] = field(default_factory=dict)

    # -- CPOs ------------------------------------------------------------------------------------------

    async def add_cpo(self, cpo: CpoRecord) -> CpoRecord:
        """Store a new CPO; its id is assigned (the given one is ignored)."""
        stored = dataclasses.replace(cpo, id=max(self._cpos, default=0) + 1)
        self._cpos[stored.id] = stored
        return stored

    async def save_cpo(self, cpo: CpoRecord) -> None:
        """Replace the stored CPO with the same id."""
        self._cpos[cpo.id] = cpo

    async def get_cpo(self, cpo_id: int) -> CpoRecord | None:
        return self._cpos.get(cpo_id)

    async def list_cpos(self) -> list[CpoRecord]:
        """Every CPO, by id."""
        return [self._cpos[k] for k in sorted(self._cpos)]

    async def cpo_by_token_hash(self, token_hash: str) -> CpoRecord | None:
        """The non-UNREGISTERED CPO that calls us with the token of that hash, or None."""
        return next(
            (c for c in self._cpos.values() if c.token_b_hash == token_hash and c.status != "UNREGISTERED"),
            None,
        )

    # -- cached objects (OCPI JSON, per CPO and id) ----------------------------------------------------

    async def put_location(self, cpo_id: int, location: dict[str, Any]) -> None:
        self._locations[(cpo_id, str(location["id"]))] = location

    async def get_location(self, cpo_id: int, location_id: str) -> dict[str, Any] | None:
        return self._locations.get((cpo_id, location_id))

    async def list_locations(self, cpo_id: int) -> list[dict[str, Any]]:
        """The CPO's cached locations, by id."""
        return [v for (c, _), v in sorted(self._locations.items()) if c == cpo_id]

    async def put_tariff(self, cpo_id: int, tariff: dict[str, Any]) -> None:
        self._tariffs[(cpo_id, str(tariff["id"]))] = tariff

    async def delete_tariff(self, cpo_id: int, tariff_id: str) -> bool:
        return self._tariffs.pop((cpo_id, tariff_id), None) is not None

    async def tariffs(self, cpo_id: int) -> dict[str, dict[str, Any]]:
        return {t: v for (c, t), v in self._tariffs.items() if c == cpo_id}

    async def put_session(self, cpo_id: int, session: dict[str, Any]) -> None:
        self._sessions[(cpo_id, str(session["id"]))] = session

    async def get_session(self, cpo_id: int, session_id: str) -> dict[str, Any] | None:
        return self._sessions.get((cpo_id, session_id))

    async def add_cdr(self, cpo_id: int, cdr: dict[str, Any]) -> bool:
        """Store a CDR; False when the CPO already sent one with that id (CDRs are never replaced)."""
        key = (cpo_id, str(cdr["id"]))
        if key in self._cdrs:
            return False
        self._cdrs[key] = cdr
        return True

    async def get_cdr(self, cpo_id: int, cdr_id: str) -> dict[str, Any] | None:
        return self._cdrs.get((cpo_id, cdr_id))

    # -- commands --------------------------------------------------------------------------------------

    async def add_command(self, command: StoredCommand) -> None:
        self._commands[command.command_id] = command

    async def get_command(self, command_id: str) -> StoredCommand | None:
        return self._commands.get(command_id)

    async def save_command(self, command: StoredCommand) -> None:
        self._commands[command.command_id] = command

    async def pending_commands(self) -> list[StoredCommand]:
        """Commands still waiting for their result."""
        return [c for c in self._commands.values() if c.result is None]
