"""`LocalListService`: a station's local list follows its organization's id tokens - Full first, then
Differential updates after token changes (debounced, in the background), a Full update after
VersionMismatch or a station version not ours, NotSupported stored and never retried automatically, the
station's per-message limit respected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from csms.domain.commands import (
    Command,
    CommandResult,
    CommandService,
    GetLocalListVersion,
    Outcome,
    SendLocalList,
)
from csms.domain.events import EventBus, IdTokensChanged, StationConnectionChanged
from csms.domain.local_list_sync import LocalListService, SyncSettings, items_per_message
from csms.domain.models import DeviceVariable, IdToken, TokenStatus
from csms.domain.registry import ConnectionRegistry, LiveConnection
from simulators.chargepoint.local_list import LocalList
from tests.fakes.memory_store import MemoryStore
from tests.utils import MS

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ORGS = {"CP1": "org-a", "CP2": "org-a", "CP3": "org-b"}
T = TypeVar("T")


class Stations:
    """Connected stations holding the simulator's local list; `refuse` answers every SendLocalList."""

    def __init__(self) -> None:
        self.lists: dict[str, LocalList] = {cp: LocalList() for cp in ORGS}
        self.sent: list[tuple[str, Command]] = []
        self.refuse: dict[str, CommandResult] = {}

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return "2.0.1"

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append((charge_point_id, command))
        station = self.lists[charge_point_id]
        if charge_point_id in self.refuse:
            return self.refuse[charge_point_id]
        if isinstance(command, GetLocalListVersion):
            return CommandResult(Outcome.ANSWERED, "Accepted", {"version": station.version})
        assert isinstance(command, SendLocalList)
        items: list[tuple[str, dict[str, Any] | None]] = [
            (e.id_token, {"status": e.status}) for e in command.entries
        ]
        items += [(e.id_token, None) for e in command.removed]
        return CommandResult(
            Outcome.ANSWERED, station.apply_update(command.version, command.update_type, items)
        )

    def updates(self, charge_point_id: str) -> list[tuple[int, str, list[str], list[str]]]:
        """(version, updateType, entries, removed) of each SendLocalList sent to the station."""
        return [
            (c.version, c.update_type, [e.id_token for e in c.entries], [e.id_token for e in c.removed])
            for cp, c in self.sent
            if cp == charge_point_id and isinstance(c, SendLocalList)
        ]


class DeviceModel:
    """Reported variables per station."""

    def __init__(self) -> None:
        self.variables: dict[str, list[DeviceVariable]] = {}

    async def list_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        return self.variables.get(charge_point_id, [])


@pytest.fixture
async def store() -> MemoryStore:
    store = MemoryStore(clock=lambda: T0)
    for token, org in (("A", "org-a"), ("B", "org-a"), ("Z", "org-b")):
        await store.add_id_token(IdToken(token, org_id=org))
    return store


@pytest.fixture
def stations() -> Stations:
    return Stations()


@pytest.fixture
def device_model() -> DeviceModel:
    return DeviceModel()


@pytest.fixture
def events() -> EventBus:
    return EventBus()


@pytest.fixture
async def service(
    store: MemoryStore, stations: Stations, device_model: DeviceModel, events: EventBus
) -> AsyncIterator[tuple[LocalListService, ConnectionRegistry]]:
    registry = ConnectionRegistry(events)

    async def org_of(charge_point_id: str) -> str | None:
        return ORGS.get(charge_point_id)

    async def registered(charge_point_id: str) -> bool:
        return charge_point_id in ORGS

    service = LocalListService(
        store,
        CommandService(stations),
        lambda: T0,
        events,
        registry,
        org_of,
        registered,
        device_model,
        SyncSettings(delay=5 * MS, items_per_message=100),
    )
    await service.start()
    yield service, registry
    await service.stop()


def connect(registry: ConnectionRegistry, charge_point_id: str) -> None:
    registry.register(LiveConnection(charge_point_id, "2.0.1", T0))


async def eventually(probe: Callable[[], T | None]) -> T:
    """Poll `probe` until it returns something other than None (fail after 5 s)."""
    async with asyncio.timeout(5000 * MS):
        while True:
            found = probe()
            if found is not None:
                return found
            await asyncio.sleep(5 * MS)


async def test_first_sync_is_full_of_the_organizations_tokens_only(
    service: tuple[LocalListService, ConnectionRegistry], stations: Stations, store: MemoryStore
) -> None:
    """The first sync sends a Full list of version 1 with the station's organization's tokens (never
    another's) and stores what the station accepted."""
    sync, _ = service
    record = await sync.sync("CP1")
    assert stations.updates("CP1") == [(1, "Full", ["A", "B"], [])]
    assert (record.version, sorted(record.entries), record.status, record.synced_at) == (
        1,
        ["A", "B"],
        "Accepted",
        T0,
    )
    assert await store.get_local_list("CP1") == record
    assert (await sync.sync("CP1")).status == "Accepted" and len(stations.updates("CP1")) == 1


async def test_token_change_sends_a_differential_to_the_organizations_connected_stations(
    service: tuple[LocalListService, ConnectionRegistry],
    stations: Stations,
    store: MemoryStore,
    events: EventBus,
) -> None:
    """Connecting gets a Full list; a blocked token and a deleted one, published together, reach each
    connected station of that organization as one Differential update; other organizations' stations get
    nothing."""
    sync, registry = service
    for cp in ("CP1", "CP3"):
        connect(registry, cp)
    await eventually(lambda: stations.updates("CP1") or None)
    await eventually(lambda: stations.updates("CP3") or None)
    token = await store.get_id_token("A")
    assert token is not None
    token.status = TokenStatus.BLOCKED
    await store.update_id_token(token)
    await store.delete_id_token("B")
    await events.publish(IdTokensChanged("org-a"))
    await events.publish(IdTokensChanged("org-a"))
    await eventually(lambda: stations.updates("CP1")[1:] or None)
    assert stations.updates("CP1") == [(1, "Full", ["A", "B"], []), (2, "Differential", ["A"], ["B"])]
    assert stations.lists["CP1"].entries == {"A": {"status": "Blocked"}}
    assert stations.updates("CP3") == [(1, "Full", ["Z"], [])]
    assert "CP2" not in {cp for cp, _ in stations.sent}  # not connected


async def test_reconnect_with_our_version_sends_only_what_changed(
    service: tuple[LocalListService, ConnectionRegistry], stations: Stations, store: MemoryStore
) -> None:
    """A station that connects holding our version gets only the changes made while it was away; one
    holding another version gets a Full list."""
    sync, registry = service
    await sync.sync("CP1")
    await store.add_id_token(IdToken("C", org_id="org-a"))
    connect(registry, "CP1")
    await eventually(lambda: stations.updates("CP1")[1:] or None)
    assert stations.updates("CP1")[1] == (2, "Differential", ["C"], [])
    stations.lists["CP1"].version = 9  # e.g. the station was reset to another list
    registry.unregister(registry.get("CP1"))  # type: ignore[arg-type]
    connect(registry, "CP1")
    await eventually(lambda: stations.updates("CP1")[2:] or None)
    assert stations.updates("CP1")[2] == (3, "Full", ["A", "B", "C"], [])


async def test_version_mismatch_is_followed_by_a_full_update(
    service: tuple[LocalListService, ConnectionRegistry], stations: Stations, store: MemoryStore
) -> None:
    """A Differential answered VersionMismatch is replaced by a Full update with the next version."""
    sync, _ = service
    await sync.sync("CP1")
    stations.lists["CP1"].version = 5  # the station's list moved on without us
    await store.add_id_token(IdToken("C", org_id="org-a"))
    record = await sync.sync("CP1")
    assert stations.updates("CP1")[1:] == [(2, "Differential", ["C"], []), (2, "Full", ["A", "B", "C"], [])]
    assert (record.version, record.status) == (2, "Accepted")


async def test_not_supported_is_stored_and_stops_automatic_syncs(
    service: tuple[LocalListService, ConnectionRegistry],
    stations: Stations,
    events: EventBus,
    store: MemoryStore,
) -> None:
    """A station answering NotSupported is stored so; token changes no longer sync it, an explicit sync
    still tries."""
    sync, registry = service
    stations.refuse["CP1"] = CommandResult(Outcome.ANSWERED, "NotSupported")
    record = await sync.sync("CP1")
    assert (record.version, record.entries, record.status) == (0, {}, "NotSupported")
    connect(registry, "CP1")
    connect(registry, "CP2")
    await eventually(lambda: stations.updates("CP2") or None)
    await store.add_id_token(IdToken("C", org_id="org-a"))
    await events.publish(IdTokensChanged("org-a"))
    await eventually(lambda: stations.updates("CP2")[1:] or None)  # the same round skipped CP1
    assert len(stations.updates("CP1")) == 1 and not [c for cp, c in stations.sent[1:] if cp == "CP1"]
    stations.refuse["CP1"] = CommandResult(Outcome.CALL_ERROR, error_code="NotImplemented")
    assert (await sync.sync("CP1", full=True)).status == "NotSupported"
    del stations.refuse["CP1"]
    assert (await sync.sync("CP1", full=True)).status == "Accepted"


async def test_offline_station_keeps_its_list_and_says_so(
    service: tuple[LocalListService, ConnectionRegistry], stations: Stations
) -> None:
    """A sync that cannot reach the station keeps the last accepted list, with status `offline`."""
    sync, _ = service
    await sync.sync("CP1")
    stations.refuse["CP1"] = CommandResult(Outcome.OFFLINE)
    record = await sync.sync("CP1", full=True)
    assert (record.version, sorted(record.entries), record.status) == (1, ["A", "B"], "offline")
    with pytest.raises(LookupError):
        await sync.sync("UNKNOWN")


async def test_list_is_split_to_the_stations_limit(
    service: tuple[LocalListService, ConnectionRegistry], stations: Stations, device_model: DeviceModel
) -> None:
    """With LocalAuthListCtrlr.ItemsPerMessage 1 the Full list goes one entry per message: Full, then
    Differential; the 1.6 key SendLocalListMaxLength counts the same, else the default."""
    sync, _ = service
    device_model.variables["CP1"] = [DeviceVariable("CP1", "LocalAuthListCtrlr", "ItemsPerMessage", "1")]
    record = await sync.sync("CP1")
    assert stations.updates("CP1") == [(1, "Full", ["A"], []), (2, "Differential", ["B"], [])]
    assert (record.version, sorted(record.entries)) == (2, ["A", "B"])
    assert items_per_message([DeviceVariable("X", None, "SendLocalListMaxLength", "7")], 100) == 7
    assert items_per_message([DeviceVariable("X", None, "SendLocalListMaxLength", "x")], 100) == 100


async def test_disabled_sync_listens_to_nothing_but_syncs_on_request(
    store: MemoryStore, stations: Stations, device_model: DeviceModel
) -> None:
    """With `[ocpp] local_list_sync = false` neither token changes nor connections are listened to, and no
    task runs; an explicit sync still sends the list."""
    events = EventBus()
    registry = ConnectionRegistry(events)

    async def org_of(charge_point_id: str) -> str | None:
        return ORGS.get(charge_point_id)

    async def registered(charge_point_id: str) -> bool:
        return True

    service = LocalListService(
        store,
        CommandService(stations),
        lambda: T0,
        events,
        registry,
        org_of,
        registered,
        device_model,
        SyncSettings(enabled=False),
    )
    await service.start()
    assert events.subscribers(IdTokensChanged) == [] and events.subscribers(StationConnectionChanged) == []
    service.station_booted("CP1")
    assert service._task is None and service._connected == set()
    assert (await service.sync("CP1")).version == 1
    await service.stop()


async def test_a_boot_storm_is_synced_a_few_stations_at_a_time() -> None:
    """Fifty stations connecting at once are asked for their list versions at most
    `AUTOMATIC_SYNC_CONCURRENCY` at a time (never fifty calls pending), and every one is synced (version
    asked, then its Full list)."""
    from csms.domain.local_list_sync import AUTOMATIC_SYNC_CONCURRENCY

    names = [f"STORM{i}" for i in range(50)]
    events = EventBus()
    registry = ConnectionRegistry(events)
    running, most, asked = 0, 0, []
    release = asyncio.Event()

    class SlowStations:
        def ocpp_version(self, charge_point_id: str) -> str | None:
            return "2.0.1"

        async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
            nonlocal running, most
            running += 1
            most = max(most, running)
            asked.append(charge_point_id)
            await release.wait()
            running -= 1
            if isinstance(command, GetLocalListVersion):
                return CommandResult(Outcome.ANSWERED, "Accepted", {"version": 0})
            return CommandResult(Outcome.ANSWERED, "Accepted")

    async def org_of(charge_point_id: str) -> str | None:
        return "org-a"

    async def registered(charge_point_id: str) -> bool:
        return True

    service = LocalListService(
        MemoryStore(clock=lambda: T0), CommandService(SlowStations()), lambda: T0, events, registry,
        org_of, registered, DeviceModel(), SyncSettings(delay=5 * MS),
    )  # fmt: skip
    await service.start()
    try:
        for name in names:
            connect(registry, name)
        await eventually(lambda: True if len(asked) == AUTOMATIC_SYNC_CONCURRENCY else None)
        release.set()
        await eventually(lambda: True if len(asked) == 2 * len(names) else None)
        assert sorted(set(asked)) == sorted(names)
        assert most == AUTOMATIC_SYNC_CONCURRENCY < len(names)
    finally:
        await service.stop()
