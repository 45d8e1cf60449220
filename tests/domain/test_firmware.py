"""`FirmwareService`: updates recorded and matched to the statuses stations report, campaigns that keep at
most `max_concurrent` updates under way (the next starts on Installed, a failure, a refusal or a timeout),
and log uploads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from csms.domain.commands import Command, CommandResult, CommandService, GetLog, Outcome, UpdateFirmware
from csms.domain.firmware import FirmwareFile, FirmwareService, UpdateOptions, UpdateState
from tests.fakes.memory_store import MemoryStore
from tests.utils import MS

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OPTIONS = UpdateOptions(retrieve_at=T0)
T = TypeVar("T")


class Gateway:
    """Connected stations that answer every command with `answers[charge_point_id]` (default Accepted)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Command]] = []
        self.answers: dict[str, CommandResult] = {}

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return "2.0.1"

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append((charge_point_id, command))
        return self.answers.get(charge_point_id, CommandResult(Outcome.ANSWERED, "Accepted"))

    def stations(self) -> list[str]:
        return [cp for cp, _ in self.sent]


class Clock:
    """A clock tests move forward."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def service(store: MemoryStore, gateway: Gateway, clock: Clock) -> AsyncIterator[FirmwareService]:
    service = FirmwareService(store, CommandService(gateway), clock, step_timeout=600)
    yield service
    await service.stop()


async def eventually(probe: Callable[[], Awaitable[T | None]]) -> T:
    """Poll `probe` until it returns something other than None (fail after 5 s)."""
    async with asyncio.timeout(5000 * MS):
        while True:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(5 * MS)


async def firmware(store: MemoryStore, **kw: str) -> FirmwareFile:
    return await store.add_firmware_file(FirmwareFile(0, "default", "fw.bin", "tok", T0, size=3, **kw))


async def sent_to(gateway: Gateway, count: int) -> list[str] | None:
    return gateway.stations() if len(gateway.sent) >= count else None


async def test_campaign_keeps_at_most_max_concurrent_updates_running(
    service: FirmwareService, store: MemoryStore, gateway: Gateway
) -> None:
    """With max_concurrent 2, two stations get UpdateFirmware; the third only after one reports Installed,
    and the campaign ends once every station is installed."""
    file = await firmware(store, signing_certificate="PEM", signature="sig")
    campaign = await service.start_campaign(file, "https://csms/fw", ["A", "B", "C"], 2, OPTIONS)
    assert await eventually(lambda: sent_to(gateway, 2)) == ["A", "B"]
    await asyncio.sleep(0)  # the runner is waiting now; nothing more may be sent
    assert len(gateway.sent) == 2
    command = gateway.sent[0][1]
    assert (
        isinstance(command, UpdateFirmware)
        and command.signature == "sig"
        and command.location == "https://csms/fw"
    )
    await service.firmware_status("B", "Downloading", command.request_id + 1)
    await service.firmware_status("B", "Installed", command.request_id + 1)
    assert await eventually(lambda: sent_to(gateway, 3)) == ["A", "B", "C"]
    for cp, sent in gateway.sent:
        assert isinstance(sent, UpdateFirmware)
        if cp != "B":
            await service.firmware_status(cp, "Installed", sent.request_id)
    updates = await store.list_firmware_updates(campaign_id=campaign.id)
    assert [(u.charge_point_id, u.state, u.status) for u in updates] == [
        ("A", UpdateState.INSTALLED, "Installed"),
        ("B", UpdateState.INSTALLED, "Installed"),
        ("C", UpdateState.INSTALLED, "Installed"),
    ]


async def test_a_refusal_or_a_silent_station_lets_the_next_start(
    service: FirmwareService, store: MemoryStore, gateway: Gateway, clock: Clock
) -> None:
    """A station answering Rejected fails at once (detail: its status) and the next starts; a station that
    reports nothing final within the step timeout fails with detail `timeout`, and the next starts."""
    gateway.answers["A"] = CommandResult(Outcome.ANSWERED, "Rejected")
    file = await firmware(store)
    campaign = await service.start_campaign(file, "https://csms/fw", ["A", "B", "C"], 1, OPTIONS)
    assert await eventually(lambda: sent_to(gateway, 2)) == ["A", "B"]
    clock.now = T0 + timedelta(seconds=601)
    assert await eventually(lambda: sent_to(gateway, 3)) == ["A", "B", "C"]
    updates = await store.list_firmware_updates(campaign_id=campaign.id)
    assert [(u.state, u.detail) for u in updates[:2]] == [
        (UpdateState.FAILED, "Rejected"),
        (UpdateState.FAILED, "timeout"),
    ]


async def test_16_statuses_without_request_id_match_the_running_update(
    service: FirmwareService, store: MemoryStore
) -> None:
    """A 1.6 FirmwareStatusNotification (no requestId) lands on the station's running update; Idle does not
    change it; a failure status ends it as failed."""
    file = await firmware(store)
    update, result = await service.update_station(file, "https://csms/fw", "CP", OPTIONS)
    assert result.accepted and update.state is UpdateState.RUNNING
    await service.firmware_status("CP", "Downloading", None)
    await service.firmware_status("CP", "Idle", None)
    (stored,) = await store.list_firmware_updates(charge_point_id="CP")
    assert stored.status == "Downloading" and stored.state is UpdateState.RUNNING
    await service.firmware_status("CP", "DownloadFailed", None)
    (stored,) = await store.list_firmware_updates(charge_point_id="CP")
    assert stored.state is UpdateState.FAILED and stored.detail == "DownloadFailed"


async def test_accepted_canceled_starts_the_update(
    service: FirmwareService, store: MemoryStore, gateway: Gateway
) -> None:
    """AcceptedCanceled (the station cancelled an update under way for this one) counts as started."""
    gateway.answers["CP"] = CommandResult(Outcome.ANSWERED, "AcceptedCanceled")
    await service.update_station(await firmware(store), "https://csms/fw", "CP", OPTIONS)
    (stored,) = await store.list_firmware_updates(charge_point_id="CP")
    assert stored.state is UpdateState.RUNNING and stored.detail is None


async def test_offline_station_fails_the_update(
    service: FirmwareService, store: MemoryStore, gateway: Gateway
) -> None:
    """An update of a station that is not connected is recorded as failed with detail `offline`."""
    gateway.answers["CP"] = CommandResult(Outcome.OFFLINE)
    update, result = await service.update_station(await firmware(store), "https://csms/fw", "CP", OPTIONS)
    assert result.outcome is Outcome.OFFLINE
    (stored,) = await store.list_firmware_updates(charge_point_id="CP")
    assert stored.state is UpdateState.FAILED and stored.detail == "offline"


async def test_log_request_and_statuses(
    service: FirmwareService, store: MemoryStore, gateway: Gateway
) -> None:
    """A log request sends GetLog with the upload URL holding the upload's token; statuses with or without
    requestId land on it; the arrival is recorded."""
    upload, result = await service.request_log(
        "default", "CP", "SecurityLog", "https://csms/files/logs/{token}"
    )
    assert result.accepted
    ((_, command),) = gateway.sent
    assert isinstance(command, GetLog) and command.request_id == upload.id
    assert command.log_type == "SecurityLog"
    assert command.remote_location == f"https://csms/files/logs/{upload.token}"
    await service.log_status("CP", "Uploading", upload.id)
    await service.log_status("CP", "Uploaded", None)
    received = await service.log_received(upload, "s.log", 5, "text/plain")
    (stored,) = await store.list_log_uploads("CP")
    assert stored.status == "Uploaded" and stored.filename == "s.log" and stored.size == 5
    assert stored.uploaded_at == received.uploaded_at is not None
