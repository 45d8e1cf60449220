"""What the eMSP role offers the rest of the product: the CPOs we roam with, their cached data, and commands.

The eMSP role (`ocpi.emsp`, enabled by `[emsp] enabled`) registers with CPOs over OCPI 2.2.1, keeps their
locations and tariffs, receives their pushes and sends them commands. Whatever builds on it (the Agent API,
`ocpi.agent`) sees it only through `CpoNetwork` and the plain records below, never through OCPI bodies
it must parse itself: OCPI objects are handed over as the CPO sent them (JSON objects), and everything
the caller needs to decide on (ids, statuses, results) is a field of a record here.

Events (command results, sessions, CDRs, reservation ends) reach listeners registered with
`CpoNetwork.subscribe`; each callback is awaited in the order the CPO's calls arrived, after what it reports
is stored, and a failing listener is logged and does not fail the CPO's call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

# OCPI 2.2.1 Commands: the four commands the eMSP role sends (UNLOCK_CONNECTOR is for operators only).
START_SESSION = "START_SESSION"
STOP_SESSION = "STOP_SESSION"
RESERVE_NOW = "RESERVE_NOW"
CANCEL_RESERVATION = "CANCEL_RESERVATION"


class CpoUnavailable(Exception):
    """A CPO could not be reached or answered an error; `message` says which and why (for `cpo_results`)."""

    def __init__(self, cpo_id: int, message: str) -> None:
        super().__init__(f"CPO {cpo_id}: {message}")
        self.cpo_id = cpo_id
        self.message = message


@dataclass(frozen=True, slots=True)
class Cpo:
    """A CPO we are registered with.

    `supports_reservation`: the CPO has a commands RECEIVER endpoint (it takes RESERVE_NOW; whether one
    EVSE does is its `capabilities` containing RESERVABLE, OCPI 2.2.1 Capability). `max_reservation` is
    the longest reservation it accepts (configured per CPO, 4 h by default); `cancellation_fee` what it
    charges for cancelling a confirmed reservation (EUR, Decimal, configured per CPO, default 0).
    """

    id: int
    name: str
    country_code: str
    party_id: str
    registered: bool
    supports_reservation: bool
    max_reservation: timedelta = timedelta(hours=4)
    cancellation_fee: str = "0"  # a Decimal as text (exact; never a float)
    locations_pulled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CachedLocations:
    """A CPO's locations as cached: OCPI 2.2.1 Location objects (with their EVSEs and connectors, updated
    by the CPO's pushes), the tariffs they refer to (OCPI Tariff objects by id) and when they were last
    pulled from the CPO."""

    cpo: Cpo
    locations: Sequence[dict[str, Any]]
    tariffs: dict[str, dict[str, Any]]
    pulled_at: datetime | None
    # Why the refresh this read asked for failed, when it did and the older copy above is what there is.
    refresh_error: str | None = None


class CommandResponse(StrEnum):
    """The CPO's synchronous answer to a command (OCPI 2.2.1 CommandResponseType), or our own UNREACHABLE
    when it did not answer (then no result will follow)."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"
    UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True, slots=True)
class SentCommand:
    """A command we sent: its id (our `response_url` names it), the CPO's synchronous answer and message,
    and the seconds the CPO said it may take to post its result (OCPI `timeout`)."""

    command_id: str
    cpo_id: int
    command: str
    response: CommandResponse
    message: str | None = None
    timeout_s: int | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The CPO's asynchronous result of an accepted command (OCPI 2.2.1 CommandResultType: ACCEPTED,
    CANCELED_RESERVATION, EVSE_OCCUPIED, EVSE_INOPERATIVE, FAILED, NOT_SUPPORTED, REJECTED, TIMEOUT,
    UNKNOWN_RESERVATION), or TIMEOUT of our own when none came within the CPO's timeout."""

    command_id: str
    cpo_id: int
    command: str
    result: str
    message: str | None = None
    # RESERVE_NOW: the reservation it is about (CANCELED_RESERVATION arrives on the same response_url
    # when the CPO ends the reservation later).
    reservation_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """A CPO's Session as it stands after a PUT or PATCH (the whole object, patches applied)."""

    cpo_id: int
    session: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CdrReceived:
    """A CDR a CPO posted to us (OCPI 2.2.1 CDR object)."""

    cpo_id: int
    cdr: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NetworkListener:
    """Callbacks for what the CPOs tell us; any may be None. Each is awaited (see the module docstring)."""

    command_result: Callable[[CommandResult], Awaitable[None]] | None = None
    session: Callable[[SessionUpdate], Awaitable[None]] | None = None
    cdr: Callable[[CdrReceived], Awaitable[None]] | None = None


class CpoNetwork(Protocol):
    """The CPOs we roam with, as the eMSP role (`ocpi.emsp`) keeps them."""

    async def cpos(self) -> list[Cpo]:
        """Every REGISTERED CPO, by id."""
        ...

    async def locations(self, cpo_id: int, *, max_age: timedelta) -> CachedLocations:
        """The CPO's cached locations; pulled again first (incrementally, `date_from` = the last pull) when
        the last pull is older than `max_age`.

        Raises:
            CpoUnavailable: the pull was needed and failed, and nothing was ever pulled from that CPO.
                When an older copy exists it is returned instead (`pulled_at` tells its age).
        """
        ...

    async def token(self, uid: str) -> dict[str, Any] | None:
        """One of our drivers' tokens as an OCPI 2.2.1 Token object (the one the Tokens sender serves),
        or None when we have no such token."""
        ...

    async def send_command(self, cpo_id: int, command: str, body: dict[str, Any]) -> SentCommand:
        """POST a command to the CPO's commands endpoint; `body` is the command's OCPI body without
        `response_url`, which this adds (ours, naming the new command id). Returns the CPO's answer; a
        CommandResult follows for an ACCEPTED one (or our TIMEOUT), through the listeners.

        Raises:
            CpoUnavailable: no such registered CPO, or it has no commands endpoint.
        """
        ...

    def subscribe(self, listener: NetworkListener) -> None:
        """Call `listener` for every event from now on."""
        ...
