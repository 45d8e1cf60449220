"""Per-station local authorization lists (`csms.domain.local_list_sync.LocalListStore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from csms.domain.clock import to_utc
from csms.domain.local_list import LocalListEntry
from csms.domain.local_list_sync import StationLocalList
from csms.store.sql.base import SqlBase
from csms.store.tables import LocalListRow


def _entry_json(entry: LocalListEntry) -> dict[str, Any]:
    # Microseconds kept (not isoformat_z): the entry read back must equal the token's, or every diff
    # would list it as changed.
    expiry = None if entry.expiry_date is None else to_utc(entry.expiry_date).isoformat()
    return {
        "id_token": entry.id_token,
        "status": entry.status,
        "expiry_date": expiry,
        "group_id_token": entry.group_id_token,
        "type": entry.type,
    }


def _entry(data: dict[str, Any]) -> LocalListEntry:
    expiry = data.get("expiry_date")
    return LocalListEntry(
        data["id_token"],
        data["status"],
        None if expiry is None else to_utc(datetime.fromisoformat(expiry)),
        data.get("group_id_token"),
        data.get("type", "ISO14443"),
    )


def _local_list(row: LocalListRow) -> StationLocalList:
    entries = [_entry(e) for e in orjson.loads(row.entries)]
    return StationLocalList(
        row.charge_point_id, row.version, {e.id_token: e for e in entries}, row.status, row.synced_at
    )


class LocalListSql(SqlBase):
    """The local list records; the contract is `LocalListStore`."""

    async def get_local_list(self, charge_point_id: str) -> StationLocalList | None:
        return await self._get(LocalListRow, charge_point_id, _local_list)

    async def put_local_list(self, local_list: StationLocalList, org_id: str) -> None:
        entries = orjson.dumps([_entry_json(local_list.entries[k]) for k in sorted(local_list.entries)])
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(LocalListRow, local_list.charge_point_id)
            if row is None:
                row = LocalListRow(charge_point_id=local_list.charge_point_id, created_at=now)
                session.add(row)
            row.org_id = org_id
            row.version = local_list.version
            row.entries = entries.decode()
            row.status = local_list.status
            row.synced_at = local_list.synced_at
            row.updated_at = now
