"""Keeping stations' local authorization lists in sync (issue 14, item 5; ADR 0016): the per-station record
the CSMS keeps, its store port, and `LocalListService`, which sends SendLocalList / GetLocalListVersion.

What happens next: `LocalListService.sync(charge_point_id)` plans the messages that bring the station from
what it last accepted to its organization's id tokens now (`csms.domain.local_list.plan_update`), sends them
and stores what the station accepted. Token changes (`IdTokensChanged`) mark the organization's connected
stations for a Differential update, sent by a background task after a short debounce; a station that
connects is asked GetLocalListVersion and gets a Full update when its version is not ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from csms.domain.clock import Clock
from csms.domain.commands import (
    CommandResult,
    CommandService,
    GetLocalListVersion,
    Outcome,
    SendLocalList,
)
from csms.domain.events import EventBus, IdTokensChanged, Order, StationConnectionChanged
from csms.domain.local_list import (
    LocalListEntry,
    LocalListMessage,
    LocalListState,
    UpdateType,
    apply,
    entries_of,
    plan_update,
)
from csms.domain.models import DeviceVariable, IdToken
from csms.domain.registry import ConnectionRegistry

log = structlog.get_logger("csms.local_list")

NOT_SUPPORTED = "NotSupported"
# CALLERROR codes of a station that does not implement the message (OCPP-J §4.2.3; 1.6 and 2.0.1).
UNSUPPORTED_ERRORS = frozenset({"NotImplemented", "NotSupported"})
# Where a station states how many entries one SendLocalList may carry: 1.6 configuration key
# SendLocalListMaxLength (component None), 2.0.1 LocalAuthListCtrlr.ItemsPerMessage.
ITEMS_PER_MESSAGE = frozenset({(None, "SendLocalListMaxLength"), ("LocalAuthListCtrlr", "ItemsPerMessage")})
TOKEN_PAGE = 500


@dataclass(slots=True)
class StationLocalList:
    """What the CSMS knows of one station's local list.

    Attributes:
        version: the version of the last list the station accepted (0: none).
        entries: that list's entries, by id token.
        status: the station's answer to the last SendLocalList (Accepted, Failed, NotSupported,
            VersionMismatch), or how the last sync ended otherwise (e.g. `offline`); None before any.
        synced_at: when the last sync ended (UTC).
    """

    charge_point_id: str
    version: int = 0
    entries: dict[str, LocalListEntry] = field(default_factory=dict)
    status: str | None = None
    synced_at: datetime | None = None

    @property
    def state(self) -> LocalListState:
        """The planning state (`plan_update`) of this record."""
        return LocalListState(self.version, dict(self.entries))


class LocalListStore(Protocol):
    """Per-station local list records (table `local_lists`)."""

    async def get_local_list(self, charge_point_id: str) -> StationLocalList | None:
        """The station's record, or None when nothing was ever synced."""
        ...

    async def put_local_list(self, local_list: StationLocalList, org_id: str) -> None:
        """Create or replace the station's record (owned by `org_id`, the station's organization)."""
        ...


class LocalListDeviceModel(Protocol):
    """The part of `DeviceModelService` the sync reads: the station's reported configuration."""

    async def list_variables(self, charge_point_id: str) -> list[DeviceVariable]: ...


class LocalListTokens(Protocol):
    """The part of the store the sync reads besides its own records: an organization's id tokens."""

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> tuple[list[IdToken], str | None]: ...


class SyncStore(LocalListStore, LocalListTokens, Protocol):
    """What `LocalListService` needs of the store."""


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """`[ocpp] local_list_sync`, `local_list_sync_delay` (the debounce, seconds) and
    `local_list_items_per_message` (the limit when the station reported none)."""

    enabled: bool = True
    delay: float = 1.0
    items_per_message: int = 100


AUTOMATIC_SYNC_CONCURRENCY = 16


def items_per_message(variables: list[DeviceVariable], default: int) -> int:
    """The station's reported per-message limit (1.6 SendLocalListMaxLength, 2.0.1
    LocalAuthListCtrlr.ItemsPerMessage, Actual value), else `default`."""
    for variable in variables:
        key = (variable.component, variable.variable)
        if key in ITEMS_PER_MESSAGE and variable.attribute_type == "Actual" and variable.value:
            with contextlib.suppress(ValueError):
                limit = int(variable.value)
                if limit > 0:
                    return limit
    return default


def unsupported(result: CommandResult) -> bool:
    """True when the station cannot keep a local list: it answered NotSupported, or a CALLERROR
    NotImplemented / NotSupported, or its OCPP version has no such message."""
    return (
        (result.outcome is Outcome.ANSWERED and result.status == NOT_SUPPORTED)
        or (result.outcome is Outcome.CALL_ERROR and result.error_code in UNSUPPORTED_ERRORS)
        or result.outcome is Outcome.NOT_SUPPORTED
    )


class LocalListService:
    """Sends each station the local list of its organization's id tokens and keeps it in sync.

    With `settings.enabled` false nothing happens by itself; `sync` (an operator's request) still works.

    Args:
        store: the station records and the organization's id tokens.
        commands: sends SendLocalList / GetLocalListVersion.
        clock: stamps `synced_at` and decides which tokens have expired.
        events: `IdTokensChanged` and `StationConnectionChanged` are subscribed to.
        registry: which stations this process is connected to.
        org_of: the organization of a registered station (None: not registered).
        is_registered: whether a station booted before and is Accepted (a reconnect needs no boot).
        device_model: the station's reported per-message limit.
        settings: the `[ocpp] local_list_*` keys.
    """

    def __init__(
        self,
        store: SyncStore,
        commands: CommandService,
        clock: Clock,
        events: EventBus,
        registry: ConnectionRegistry,
        org_of: Callable[[str], Awaitable[str | None]],
        is_registered: Callable[[str], Awaitable[bool]],
        device_model: LocalListDeviceModel,
        settings: SyncSettings,
    ) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._registry = registry
        self._org_of = org_of
        self._is_registered = is_registered
        self._device_model = device_model
        self._settings = settings
        self._locks: dict[str, asyncio.Lock] = {}
        self._changed_orgs: set[str] = set()
        self._connected: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if settings.enabled:
            events.subscribe(IdTokensChanged, self._tokens_changed, order=Order.DOMAIN)
            events.subscribe_hot(StationConnectionChanged, self._connection_changed, order=Order.DOMAIN)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the background task that sends the updates token changes and connections asked for."""
        if self._settings.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="local-list-sync")

    async def stop(self) -> None:
        """Stop the background task (a sync under way is cancelled; the next one plans from the record)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- triggers ----------------------------------------------------------------------------------------

    async def _tokens_changed(self, event: IdTokensChanged) -> None:
        """Note the organization; its connected stations get a Differential update after the debounce."""
        self._changed_orgs.add(event.org_id)
        self._wake.set()

    def _connection_changed(self, event: StationConnectionChanged) -> None:
        if event.online:
            self.station_booted(event.charge_point_id)

    def station_booted(self, charge_point_id: str) -> None:
        """A station connected or booted: after the debounce it is asked GetLocalListVersion and gets a Full
        update when its version is not ours, else whatever changed while it was away. Never blocks."""
        if self._settings.enabled:
            self._connected.add(charge_point_id)
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._settings.delay)  # debounce: one update for a burst of changes
            self._wake.clear()
            orgs, self._changed_orgs = self._changed_orgs, set()
            connected, self._connected = self._connected, set()
            try:
                targets = await self._targets(orgs, connected)
            except Exception:  # e.g. the store is unreachable: these changes wait for the next ones
                log.exception("local_list_targets_failed", organizations=sorted(orgs))
                continue
            await self._sync_all(targets)

    async def _targets(self, orgs: set[str], connected: set[str]) -> dict[str, bool]:
        """The stations to sync, each with whether to ask GetLocalListVersion first: those that connected,
        and this process's connected stations of the organizations whose tokens changed."""
        targets = dict.fromkeys(connected, True)
        if orgs:
            for live in list(self._registry):
                cp = live.charge_point_id
                if cp not in targets and await self._org_of(cp) in orgs:
                    targets[cp] = False
        return targets

    async def _sync_all(self, targets: dict[str, bool]) -> None:
        """Sync the targets, `AUTOMATIC_SYNC_CONCURRENCY` at a time: a boot storm of thousands of stations is
        asked for its list versions a few at a time, never with thousands of calls (and tasks) pending."""
        pending = iter(list(targets.items()))

        async def worker() -> None:
            for charge_point_id, check_version in pending:
                await self._sync_quietly(charge_point_id, check_version)

        await asyncio.gather(*(worker() for _ in range(min(AUTOMATIC_SYNC_CONCURRENCY, len(targets)))))

    async def _sync_quietly(self, charge_point_id: str, check_version: bool) -> None:
        """An automatic sync: only of a connected, registered station that did not answer NotSupported."""
        try:
            if self._registry.get(charge_point_id) is None or not await self._is_registered(charge_point_id):
                return
            record = await self._store.get_local_list(charge_point_id)
            if record is not None and record.status == NOT_SUPPORTED:
                return  # stops further syncs for this station; an operator's sync retries
            await self.sync(charge_point_id, check_version=check_version)
        except Exception:  # one station's failure must not stop the task
            log.exception("local_list_sync_failed", charge_point_id=charge_point_id)

    # -- the sync ----------------------------------------------------------------------------------------

    async def get(self, charge_point_id: str) -> StationLocalList:
        """The station's record (version 0, no entries, status None when nothing was synced yet)."""
        return await self._store.get_local_list(charge_point_id) or StationLocalList(charge_point_id)

    async def sync(
        self, charge_point_id: str, *, full: bool = False, check_version: bool = False
    ) -> StationLocalList:
        """Bring the station's list to its organization's tokens now and return the stored record.

        With `check_version` the station is asked GetLocalListVersion first: a version not ours gets a Full
        update. `full` sends a Full update regardless. A VersionMismatch answer is followed by a Full update
        (1.6 §5.15, 2.0.1 D01.FR.19); NotSupported is stored. Messages run one at a time; the first one not
        Accepted ends the sync, and `status` says how (the station's word, or the outcome: offline,
        timeout, ...). Nothing to send leaves the list as it was and stamps `synced_at`.

        Raises:
            LookupError: the station is not registered.
        """
        org_id = await self._org_of(charge_point_id)
        if org_id is None:
            raise LookupError(charge_point_id)
        async with self._locks.setdefault(charge_point_id, asyncio.Lock()):
            record = await self.get(charge_point_id)
            state, status = await self._send_all(charge_point_id, org_id, record.state, full, check_version)
            result = StationLocalList(charge_point_id, state.version, state.entries, status, self._clock())
            await self._store.put_local_list(result, org_id)
        log.info(
            "local_list_synced",
            charge_point_id=charge_point_id,
            version=result.version,
            entries=len(result.entries),
            status=status,
        )
        return result

    async def _send_all(
        self, charge_point_id: str, org_id: str, state: LocalListState, full: bool, check_version: bool
    ) -> tuple[LocalListState, str]:
        """Send what brings the station from `state` to the tokens now; the state it accepted and how the
        last message ended."""
        station_version: int | None = None
        if check_version:
            answer = await self._commands.send(charge_point_id, GetLocalListVersion())
            if answer.outcome is not Outcome.ANSWERED:
                return state, ending(answer)
            station_version = int(answer.data["version"])
        current = entries_of(await self._tokens(org_id), self._clock())
        variables = await self._device_model.list_variables(charge_point_id)
        limit = items_per_message(variables, self._settings.items_per_message)
        messages = plan_update(
            state, current, station_version=station_version, force_full=full, max_per_message=limit
        )
        mismatched = False
        while messages:
            message = messages.pop(0)
            result = await self._commands.send(charge_point_id, send_local_list(state, message))
            if result.accepted:
                state = apply(state, message)
            elif result.status == "VersionMismatch" and not mismatched:
                # The station's list is not the one we think it holds: replace it whole (1.6 §5.15).
                mismatched = True
                messages = plan_update(state, current, force_full=True, max_per_message=limit)
            else:
                return state, ending(result)
        return state, "Accepted"

    async def _tokens(self, org_id: str) -> list[IdToken]:
        """Every id token of the organization (tenancy: never another's)."""
        tokens: list[IdToken] = []
        cursor: str | None = None
        while True:
            page, cursor = await self._store.list_id_tokens(limit=TOKEN_PAGE, cursor=cursor, org_id=org_id)
            tokens.extend(page)
            if cursor is None:
                return tokens


def send_local_list(state: LocalListState, message: LocalListMessage) -> SendLocalList:
    """The command for `message`; a removed entry as it was last sent (2.0.1 needs its type)."""
    removed = [state.entries.get(i) or LocalListEntry(i, "Invalid") for i in message.removed]
    return SendLocalList(
        message.version, UpdateType(message.update_type).value, list(message.entries), removed
    )


def ending(result: CommandResult) -> str:
    """The stored status of a sync that ended with `result` not Accepted: NotSupported, the station's
    status word (Failed, VersionMismatch), or the outcome (offline, timeout, call_error, disconnected)."""
    if unsupported(result):
        return NOT_SUPPORTED
    if result.outcome is Outcome.ANSWERED and result.status:
        return result.status
    return result.outcome.value
