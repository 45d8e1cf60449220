"""`LocalListStore` in memory (the test fake)."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.local_list_sync import StationLocalList


class MemoryLocalLists:
    """Per-station local list records, with their organization; copies in and out."""

    def __init__(self) -> None:
        self.local_lists: dict[str, tuple[str, StationLocalList]] = {}

    async def get_local_list(self, charge_point_id: str) -> StationLocalList | None:
        found = self.local_lists.get(charge_point_id)
        return None if found is None else replace(found[1], entries=dict(found[1].entries))

    async def put_local_list(self, local_list: StationLocalList, org_id: str) -> None:
        self.local_lists[local_list.charge_point_id] = (
            org_id,
            replace(local_list, entries=dict(local_list.entries)),
        )
