"""`MemoryFirmware`: the `FirmwareStore` part of `MemoryStore` (behaves as `FirmwareSql`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from csms.domain.firmware import FirmwareCampaign, FirmwareFile, FirmwareUpdate, LogUpload

Rec = TypeVar("Rec", FirmwareFile, FirmwareCampaign, FirmwareUpdate, LogUpload)


class MemoryFirmware:
    """Firmware files, campaigns, updates and log uploads in dicts, ids allocated in order."""

    def __init__(self) -> None:
        self._firmware: dict[type[Any], dict[int, Any]] = {
            FirmwareFile: {},
            FirmwareCampaign: {},
            FirmwareUpdate: {},
            LogUpload: {},
        }

    def _add(self, record: Rec) -> Rec:
        table = self._firmware[type(record)]
        stored = replace(record, id=len(table) + 1)
        table[stored.id] = stored
        return replace(stored)

    def _save(self, record: Any) -> None:
        table = self._firmware[type(record)]
        if record.id in table:
            table[record.id] = replace(record)

    def _all(self, cls: type[Rec]) -> list[Rec]:
        return [replace(r) for r in self._firmware[cls].values()]

    async def add_firmware_file(self, file: FirmwareFile) -> FirmwareFile:
        return self._add(file)

    async def get_firmware_file(self, firmware_id: int, *, org_id: str | None = None) -> FirmwareFile | None:
        found: FirmwareFile | None = self._firmware[FirmwareFile].get(firmware_id)
        return None if found is None or org_id not in (None, found.org_id) else replace(found)

    async def firmware_file_by_token(self, token: str) -> FirmwareFile | None:
        return next((f for f in self._all(FirmwareFile) if f.token == token), None)

    async def save_firmware_file(self, file: FirmwareFile) -> None:
        self._save(file)

    async def list_firmware_files(self, org_id: str) -> list[FirmwareFile]:
        return [f for f in reversed(self._all(FirmwareFile)) if f.org_id == org_id]

    async def add_firmware_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        return self._add(update)

    async def save_firmware_update(self, update: FirmwareUpdate) -> None:
        self._save(update)

    async def list_firmware_updates(
        self, *, charge_point_id: str | None = None, campaign_id: int | None = None
    ) -> list[FirmwareUpdate]:
        return [
            u
            for u in self._all(FirmwareUpdate)
            if charge_point_id in (None, u.charge_point_id) and campaign_id in (None, u.campaign_id)
        ]

    async def add_firmware_campaign(self, campaign: FirmwareCampaign) -> FirmwareCampaign:
        return self._add(campaign)

    async def get_firmware_campaign(
        self, campaign_id: int, *, org_id: str | None = None
    ) -> FirmwareCampaign | None:
        found: FirmwareCampaign | None = self._firmware[FirmwareCampaign].get(campaign_id)
        return None if found is None or org_id not in (None, found.org_id) else replace(found)

    async def add_log_upload(self, upload: LogUpload) -> LogUpload:
        return self._add(upload)

    async def save_log_upload(self, upload: LogUpload) -> None:
        self._save(upload)

    async def log_upload_by_token(self, token: str) -> LogUpload | None:
        return next((u for u in self._all(LogUpload) if u.token == token), None)

    async def list_log_uploads(self, charge_point_id: str) -> list[LogUpload]:
        return [u for u in reversed(self._all(LogUpload)) if u.charge_point_id == charge_point_id]
