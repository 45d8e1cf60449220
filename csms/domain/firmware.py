"""Firmware updates and log uploads (issue 14, items 3 and 4): the records, their store port, and the service
that sends UpdateFirmware / GetLog, keeps the progress stations report, and runs firmware campaigns.

The bytes themselves (firmware images, uploaded logs) live in the files directory (`[files] dir`), written and
served by the HTTP edge (`csms.api.files`); the domain keeps their metadata and the unguessable tokens in the
URLs stations use (ADR 0015).

A campaign updates many stations with at most `max_concurrent` updates under way: the next station starts
when one finishes (Installed, a failure status, the station refusing the command, or no final status within
`[files] campaign_step_timeout`). Campaigns run in this process (`FirmwareService.start`/`stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import structlog

from csms.domain.clock import Clock
from csms.domain.commands import CommandResult, CommandService, GetLog, Outcome, UpdateFirmware

log = structlog.get_logger("csms.firmware")

# Firmware statuses after which nothing more happens for this request (OCPP 1.6 FirmwareStatus, 2.0.1
# FirmwareStatusEnumType, 1.6 security extension FirmwareStatusEnumType).
FIRMWARE_DONE = frozenset({"Installed"})
FIRMWARE_FAILED = frozenset({
    "DownloadFailed",
    "InstallationFailed",
    "InstallVerificationFailed",
    "InvalidSignature",
    "InstallRebooting_Failed",
})
# Upload statuses after which nothing more happens (1.6 DiagnosticsStatus, 2.0.1 UploadLogStatusEnumType).
LOG_DONE = frozenset({"Uploaded", "UploadFailure", "UploadFailed", "BadMessage", "NotSupportedOperation",
                      "PermissionDenied"})


# Answers that start the request: AcceptedCanceled also cancels one already under way (2.0.1 L01.FR.24,
# N01.FR.12; 1.6 security extension SignedUpdateFirmware and GetLog).
ACCEPTED = frozenset({"Accepted", "AcceptedCanceled"})


def started(result: CommandResult) -> bool:
    """True when the station took the UpdateFirmware / GetLog (Accepted or AcceptedCanceled)."""
    return result.outcome is Outcome.ANSWERED and result.status in ACCEPTED


def new_token() -> str:
    """An unguessable URL token (192 bits): stations fetch and upload without operator credentials."""
    return secrets.token_urlsafe(24)


class UpdateState(StrEnum):
    """Where one station's update stands from the CSMS's side (the station's own word is `status`)."""

    QUEUED = "queued"  # a campaign's station not started yet
    RUNNING = "running"  # UpdateFirmware accepted, waiting for a final status
    INSTALLED = "installed"
    FAILED = "failed"  # a failure status, a refusal, the station offline, or the step timed out


@dataclass(slots=True)
class FirmwareFile:
    """A firmware image the operator uploaded (`size`, `sha256` set once the content arrived) or an
    external `location`; `token` is the secret part of the download URL."""

    id: int
    org_id: str
    filename: str
    token: str
    created_at: datetime
    location: str | None = None
    signing_certificate: str | None = None
    signature: str | None = None
    size: int | None = None
    sha256: str | None = None


@dataclass(slots=True)
class FirmwareUpdate:
    """One station's update: `id` is the requestId sent (2.0.1 and 1.6 SignedUpdateFirmware)."""

    id: int
    org_id: str
    charge_point_id: str
    firmware_id: int
    state: UpdateState
    created_at: datetime
    updated_at: datetime
    campaign_id: int | None = None
    status: str | None = None  # the station's last FirmwareStatus word
    detail: str | None = None  # why it failed, when the CSMS decided


@dataclass(slots=True)
class FirmwareCampaign:
    """An update of many stations with at most `max_concurrent` at a time."""

    id: int
    org_id: str
    firmware_id: int
    max_concurrent: int
    created_at: datetime


@dataclass(slots=True)
class LogUpload:
    """A log the CSMS asked a station for: `id` is the requestId; `token` the secret of the upload URL."""

    id: int
    org_id: str
    charge_point_id: str
    log_type: str  # DiagnosticsLog | SecurityLog
    token: str
    created_at: datetime
    updated_at: datetime
    status: str | None = None  # the station's last upload status word
    filename: str | None = None  # set when the upload arrived
    size: int | None = None
    content_type: str | None = None
    uploaded_at: datetime | None = None


class FirmwareStore(Protocol):
    """Firmware files, updates, campaigns and log uploads; ids allocated by the store."""

    async def add_firmware_file(self, file: FirmwareFile) -> FirmwareFile: ...

    async def get_firmware_file(self, firmware_id: int, *, org_id: str | None = None) -> FirmwareFile | None:
        """None when unknown, or not `org_id`'s when given."""
        ...

    async def firmware_file_by_token(self, token: str) -> FirmwareFile | None: ...

    async def save_firmware_file(self, file: FirmwareFile) -> None:
        """Overwrite the stored file's fields (by id)."""
        ...

    async def list_firmware_files(self, org_id: str) -> list[FirmwareFile]:
        """The organization's files, newest first."""
        ...

    async def add_firmware_update(self, update: FirmwareUpdate) -> FirmwareUpdate: ...

    async def save_firmware_update(self, update: FirmwareUpdate) -> None: ...

    async def list_firmware_updates(
        self, *, charge_point_id: str | None = None, campaign_id: int | None = None
    ) -> list[FirmwareUpdate]:
        """Oldest first (by id)."""
        ...

    async def add_firmware_campaign(self, campaign: FirmwareCampaign) -> FirmwareCampaign: ...

    async def get_firmware_campaign(
        self, campaign_id: int, *, org_id: str | None = None
    ) -> FirmwareCampaign | None: ...

    async def add_log_upload(self, upload: LogUpload) -> LogUpload: ...

    async def save_log_upload(self, upload: LogUpload) -> None: ...

    async def log_upload_by_token(self, token: str) -> LogUpload | None: ...

    async def list_log_uploads(self, charge_point_id: str) -> list[LogUpload]:
        """Newest first."""
        ...


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    """What an UpdateFirmware carries besides the firmware: when to fetch and install, how often to retry."""

    retrieve_at: datetime
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


class FirmwareService:
    """Sends firmware updates and log requests, records what stations report, runs campaigns.

    `file_url(file)` and `upload_url(upload)` give the URLs stations use (the HTTP edge knows the public
    address); the composition root passes them.
    """

    def __init__(
        self,
        store: FirmwareStore,
        commands: CommandService,
        clock: Clock,
        *,
        step_timeout: float,
    ) -> None:
        self._store = store
        self._commands = commands
        self._clock = clock
        self._step_timeout = step_timeout
        self._changed: dict[int, asyncio.Event] = {}  # campaign id → set when one of its updates ends
        self._tasks: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        """Cancel the campaigns running in this process (their unfinished stations stay as they are)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- firmware -------------------------------------------------------------------------------------

    async def update_station(
        self,
        file: FirmwareFile,
        location: str,
        charge_point_id: str,
        options: UpdateOptions,
        *,
        campaign_id: int | None = None,
    ) -> tuple[FirmwareUpdate, CommandResult]:
        """Record an update and send UpdateFirmware (1.6 SignedUpdateFirmware when signed) to the station.

        Returns the update (RUNNING when accepted, else FAILED with the reason) and the command's result.
        """
        now = self._clock()
        update = await self._store.add_firmware_update(FirmwareUpdate(
            id=0, org_id=file.org_id, charge_point_id=charge_point_id, firmware_id=file.id,
            state=UpdateState.RUNNING, created_at=now, updated_at=now, campaign_id=campaign_id,
        ))
        result = await self._send_update(update, file, location, options)
        return update, result

    async def _send_update(
        self, update: FirmwareUpdate, file: FirmwareFile, location: str, options: UpdateOptions
    ) -> CommandResult:
        command = UpdateFirmware(
            request_id=update.id,
            location=location,
            retrieve_at=options.retrieve_at,
            install_at=options.install_at,
            retries=options.retries,
            retry_interval=options.retry_interval,
            signing_certificate=file.signing_certificate,
            signature=file.signature,
        )
        # RUNNING is stored before the CALL: the station may report Downloading before its answer is handled.
        update.state, update.updated_at = UpdateState.RUNNING, self._clock()
        await self._store.save_firmware_update(update)
        result = await self._commands.send(update.charge_point_id, command)
        if not started(result):
            update.state = UpdateState.FAILED
            update.detail = result.status if result.outcome is Outcome.ANSWERED else result.outcome.value
            update.updated_at = self._clock()
            await self._store.save_firmware_update(update)
            self._notify(update)
        return result

    async def firmware_status(self, charge_point_id: str, status: str, request_id: int | None) -> None:
        """Record a FirmwareStatusNotification: on the update with `request_id` (2.0.1, 1.6 signed), or
        without one (1.6) on the station's latest running update. Idle and unmatched reports are only
        kept as the station's field (`csms.ocpp.status_reports`)."""
        updates = await self._store.list_firmware_updates(charge_point_id=charge_point_id)
        if request_id is not None:
            found = [u for u in updates if u.id == request_id]
        else:
            found = [u for u in updates if u.state is UpdateState.RUNNING][-1:]
        if not found or status == "Idle":
            return
        update = found[0]
        update.status, update.updated_at = status, self._clock()
        if status in FIRMWARE_DONE:
            update.state = UpdateState.INSTALLED
        elif status in FIRMWARE_FAILED:
            update.state, update.detail = UpdateState.FAILED, status
        await self._store.save_firmware_update(update)
        log.info("firmware_status", charge_point_id=charge_point_id, request_id=update.id, status=status)
        if update.state is not UpdateState.RUNNING:
            self._notify(update)

    def _notify(self, update: FirmwareUpdate) -> None:
        if update.campaign_id is not None and update.campaign_id in self._changed:
            self._changed[update.campaign_id].set()

    # -- campaigns ------------------------------------------------------------------------------------

    async def start_campaign(
        self,
        file: FirmwareFile,
        location: str,
        charge_point_ids: list[str],
        max_concurrent: int,
        options: UpdateOptions,
    ) -> FirmwareCampaign:
        """Record the campaign with every station QUEUED and start running it in the background."""
        now = self._clock()
        campaign = await self._store.add_firmware_campaign(FirmwareCampaign(
            id=0, org_id=file.org_id, firmware_id=file.id, max_concurrent=max_concurrent, created_at=now
        ))
        for charge_point_id in charge_point_ids:
            await self._store.add_firmware_update(FirmwareUpdate(
                id=0, org_id=file.org_id, charge_point_id=charge_point_id, firmware_id=file.id,
                state=UpdateState.QUEUED, created_at=now, updated_at=now, campaign_id=campaign.id,
            ))
        self._changed[campaign.id] = asyncio.Event()
        task = asyncio.create_task(self._run_campaign(campaign, file, location, options))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("firmware_campaign_started", campaign_id=campaign.id, stations=len(charge_point_ids),
                 max_concurrent=max_concurrent)
        return campaign

    async def _run_campaign(
        self, campaign: FirmwareCampaign, file: FirmwareFile, location: str, options: UpdateOptions
    ) -> None:
        changed = self._changed[campaign.id]
        try:
            while True:
                updates = await self._store.list_firmware_updates(campaign_id=campaign.id)
                await self._expire(updates)
                running = [u for u in updates if u.state is UpdateState.RUNNING]
                queued = [u for u in updates if u.state is UpdateState.QUEUED]
                if not running and not queued:
                    break
                for update in queued[: max(0, campaign.max_concurrent - len(running))]:
                    await self._send_update(update, file, location, options)
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=min(self._step_timeout, 1.0))
            log.info("firmware_campaign_finished", campaign_id=campaign.id)
        except Exception:
            log.exception("firmware_campaign_failed", campaign_id=campaign.id)
        finally:
            self._changed.pop(campaign.id, None)

    async def _expire(self, updates: list[FirmwareUpdate]) -> None:
        """Running updates with no report for `step_timeout` seconds count as failed (so the next starts)."""
        now = self._clock()
        for update in updates:
            if update.state is UpdateState.RUNNING and (now - update.updated_at).total_seconds() > (
                self._step_timeout
            ):
                update.state, update.detail, update.updated_at = UpdateState.FAILED, "timeout", now
                await self._store.save_firmware_update(update)

    # -- logs -----------------------------------------------------------------------------------------

    async def request_log(
        self,
        org_id: str,
        charge_point_id: str,
        log_type: str,
        upload_url: str,
        *,
        oldest: datetime | None = None,
        latest: datetime | None = None,
    ) -> tuple[LogUpload, CommandResult]:
        """Record a log upload (its token made here) and ask the station for it (1.6 GetDiagnostics for a
        diagnostics log, else GetLog). `upload_url` is called with the token and gives the remote location."""
        now = self._clock()
        upload = await self._store.add_log_upload(LogUpload(
            id=0, org_id=org_id, charge_point_id=charge_point_id, log_type=log_type, token=new_token(),
            created_at=now, updated_at=now,
        ))
        command = GetLog(
            request_id=upload.id,
            log_type=log_type,
            remote_location=upload_url.format(token=upload.token),
            oldest=oldest,
            latest=latest,
        )
        result = await self._commands.send(charge_point_id, command)
        if not started(result):
            upload.status = result.status if result.outcome is Outcome.ANSWERED else result.outcome.value
            await self._store.save_log_upload(upload)
        return upload, result

    async def log_status(self, charge_point_id: str, status: str, request_id: int | None) -> None:
        """Record a LogStatusNotification / DiagnosticsStatusNotification on the upload with `request_id`, or
        (1.6 diagnostics, no id) on the station's latest upload."""
        uploads = await self._store.list_log_uploads(charge_point_id)
        found = [u for u in uploads if request_id is None or u.id == request_id][:1]
        if not found or status == "Idle":
            return
        upload = found[0]
        upload.status, upload.updated_at = status, self._clock()
        await self._store.save_log_upload(upload)
        log.info("log_status", charge_point_id=charge_point_id, request_id=upload.id, status=status)

    async def log_received(
        self, upload: LogUpload, filename: str, size: int, content_type: str | None
    ) -> LogUpload:
        """Note that the station's upload arrived (the edge has written the bytes)."""
        now = self._clock()
        current = await self._store.log_upload_by_token(upload.token) or upload  # statuses since kept
        stored = replace(current, filename=filename, size=size, content_type=content_type, uploaded_at=now,
                         updated_at=now)
        await self._store.save_log_upload(stored)
        log.info("log_received", charge_point_id=upload.charge_point_id, request_id=upload.id, size=size)
        return stored
