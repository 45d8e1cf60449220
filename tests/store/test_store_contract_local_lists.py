"""The `LocalListStore` contract on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from csms.domain.local_list import LocalListEntry
from csms.domain.local_list_sync import StationLocalList
from csms.domain.models import ChargePoint
from csms.domain.ports import Store
from csms.domain.tenancy import DEFAULT_ORG_ID

from .conftest import T0


async def test_local_list_is_stored_replaced_and_read_back_whole(store: Store) -> None:
    """A station's record comes back with every entry field (expiry to the microsecond), status and sync
    time; a second put replaces it; an unknown station has none."""
    await store.add_charge_point(ChargePoint("CP1", org_id=DEFAULT_ORG_ID))
    assert await store.get_local_list("CP1") is None
    expiry = T0 + timedelta(days=3, microseconds=123456)
    entries = {
        "A": LocalListEntry("A", "Accepted", expiry, "G", "ISO15693"),
        "B": LocalListEntry("B", "Blocked"),
    }
    first = StationLocalList("CP1", 2, entries, "Accepted", T0)
    await store.put_local_list(first, DEFAULT_ORG_ID)
    assert await store.get_local_list("CP1") == first
    second = StationLocalList("CP1", 3, {"B": entries["B"]}, "VersionMismatch", T0 + timedelta(minutes=1))
    await store.put_local_list(second, DEFAULT_ORG_ID)
    assert await store.get_local_list("CP1") == second
    assert await store.get_local_list("CP2") is None


async def test_a_station_without_a_list_keeps_its_status(store: Store) -> None:
    """A NotSupported answer is kept with version 0 and no entries."""
    await store.add_charge_point(ChargePoint("CP1", org_id=DEFAULT_ORG_ID))
    record = StationLocalList("CP1", status="NotSupported", synced_at=T0)
    await store.put_local_list(record, DEFAULT_ORG_ID)
    assert await store.get_local_list("CP1") == record


async def test_deleting_the_charge_point_deletes_its_list(store: Store) -> None:
    """A deleted (and re-registered) charge point starts without a list."""
    await store.add_charge_point(ChargePoint("CP1", org_id=DEFAULT_ORG_ID))
    await store.put_local_list(StationLocalList("CP1", 1, {}, "Accepted", T0), DEFAULT_ORG_ID)
    await store.delete_charge_point("CP1")
    await store.add_charge_point(ChargePoint("CP1", org_id=DEFAULT_ORG_ID))
    assert await store.get_local_list("CP1") is None
