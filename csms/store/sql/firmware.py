"""Firmware files, campaigns, updates and log uploads (`csms.domain.firmware.FirmwareStore`)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

from sqlalchemy import select

from csms.domain.firmware import FirmwareCampaign, FirmwareFile, FirmwareUpdate, LogUpload, UpdateState
from csms.store.sql.base import SqlBase
from csms.store.tables import FirmwareCampaignRow, FirmwareFileRow, FirmwareUpdateRow, LogUploadRow

Rec = TypeVar("Rec", FirmwareFile, FirmwareCampaign, FirmwareUpdate, LogUpload)


def _record(cls: type[Rec], row: Any) -> Rec:
    values = {f.name: getattr(row, f.name) for f in fields(cls)}
    if cls is FirmwareUpdate:
        values["state"] = UpdateState(values["state"])
    return cls(**values)


def _values(record: Any, *, with_id: bool) -> dict[str, Any]:
    values = asdict(record)
    if not with_id:
        values.pop("id")
    if "state" in values:
        values["state"] = str(values["state"])
    return values


class FirmwareSql(SqlBase):
    """The firmware and log aggregate; the contract is `csms.domain.firmware.FirmwareStore`."""

    async def _add_record(self, row_class: type[Any], record: Rec) -> Rec:
        async with self._sessions() as session, session.begin():
            row = row_class(**_values(record, with_id=False))
            session.add(row)
            await session.flush()
            return _record(type(record), row)

    async def _save_record(self, row_class: type[Any], record: Any) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(row_class, record.id)
            if row is None:
                return
            for name, value in _values(record, with_id=False).items():
                setattr(row, name, value)

    async def add_firmware_file(self, file: FirmwareFile) -> FirmwareFile:
        return await self._add_record(FirmwareFileRow, file)

    async def get_firmware_file(self, firmware_id: int, *, org_id: str | None = None) -> FirmwareFile | None:
        return await self._get_owned(FirmwareFileRow, firmware_id, lambda r: _record(FirmwareFile, r), org_id)

    async def firmware_file_by_token(self, token: str) -> FirmwareFile | None:
        stmt = select(FirmwareFileRow).where(FirmwareFileRow.token == token)
        return await self._first(stmt, lambda r: _record(FirmwareFile, r))

    async def save_firmware_file(self, file: FirmwareFile) -> None:
        await self._save_record(FirmwareFileRow, file)

    async def list_firmware_files(self, org_id: str) -> list[FirmwareFile]:
        stmt = select(FirmwareFileRow).where(FirmwareFileRow.org_id == org_id)
        stmt = stmt.order_by(FirmwareFileRow.id.desc())
        async with self._sessions() as session:
            return [_record(FirmwareFile, r) for r in await session.scalars(stmt)]

    async def add_firmware_update(self, update: FirmwareUpdate) -> FirmwareUpdate:
        return await self._add_record(FirmwareUpdateRow, update)

    async def save_firmware_update(self, update: FirmwareUpdate) -> None:
        await self._save_record(FirmwareUpdateRow, update)

    async def list_firmware_updates(
        self, *, charge_point_id: str | None = None, campaign_id: int | None = None
    ) -> list[FirmwareUpdate]:
        stmt = select(FirmwareUpdateRow).order_by(FirmwareUpdateRow.id)
        if charge_point_id is not None:
            stmt = stmt.where(FirmwareUpdateRow.charge_point_id == charge_point_id)
        if campaign_id is not None:
            stmt = stmt.where(FirmwareUpdateRow.campaign_id == campaign_id)
        async with self._sessions() as session:
            return [_record(FirmwareUpdate, r) for r in await session.scalars(stmt)]

    async def add_firmware_campaign(self, campaign: FirmwareCampaign) -> FirmwareCampaign:
        return await self._add_record(FirmwareCampaignRow, campaign)

    async def get_firmware_campaign(
        self, campaign_id: int, *, org_id: str | None = None
    ) -> FirmwareCampaign | None:
        return await self._get_owned(
            FirmwareCampaignRow, campaign_id, lambda r: _record(FirmwareCampaign, r), org_id
        )

    async def add_log_upload(self, upload: LogUpload) -> LogUpload:
        return await self._add_record(LogUploadRow, upload)

    async def save_log_upload(self, upload: LogUpload) -> None:
        await self._save_record(LogUploadRow, upload)

    async def log_upload_by_token(self, token: str) -> LogUpload | None:
        stmt = select(LogUploadRow).where(LogUploadRow.token == token)
        return await self._first(stmt, lambda r: _record(LogUpload, r))

    async def list_log_uploads(self, charge_point_id: str) -> list[LogUpload]:
        stmt = (
            select(LogUploadRow)
            .where(LogUploadRow.charge_point_id == charge_point_id)
            .order_by(LogUploadRow.id.desc())
        )
        async with self._sessions() as session:
            return [_record(LogUpload, r) for r in await session.scalars(stmt)]
