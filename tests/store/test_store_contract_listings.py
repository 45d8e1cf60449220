"""Listing filters and sorts of sessions and reservations on every backend: stations, time window and
sort by time (ties by id) with cursors that continue the same sort."""

from __future__ import annotations

from datetime import timedelta

import pytest

from csms.domain.models import ChargePoint, Reservation, ReservationStatus
from csms.domain.ports import Store

from .conftest import T0
from .test_store_contract import new_tx


async def pages(store: Store, kind: str, **query: object) -> list[int]:
    """Every id of a listing, page by page (limit 2)."""
    seen: list[int] = []
    cursor: str | None = None
    while True:
        list_of = store.list_transactions if kind == "tx" else store.list_reservations
        page, cursor = await list_of(limit=2, cursor=cursor, **query)  # type: ignore[operator]
        seen += [r.id for r in page]
        if cursor is None:
            return seen


async def test_transactions_by_stations_window_and_start_time(store: Store) -> None:
    """Filters by stations and started_at window; sorts by started_at either way, ties by id."""
    for cp in ("CP1", "CP2", "CP3"):
        await store.add_charge_point(ChargePoint(cp))
    # Started out of id order (a station that was offline reports an older start later).
    starts = [30, 10, 20, 10, 40]
    ids = []
    for i, minutes in enumerate(starts):
        cp = ("CP1", "CP2", "CP3")[i % 3]
        started_at = T0 + timedelta(minutes=minutes)
        tx = await store.add_transaction(new_tx(cp, ocpp_id=f"t{i}", started_at=started_at))
        ids.append(tx.id)
    by_start = [ids[1], ids[3], ids[2], ids[0], ids[4]]
    assert await pages(store, "tx", sort="started_at") == by_start
    assert await pages(store, "tx", sort="-started_at") == by_start[::-1]
    assert await pages(store, "tx", sort="id") == ids
    assert await pages(store, "tx") == ids[::-1]
    window = {"time_from": T0 + timedelta(minutes=10), "time_to": T0 + timedelta(minutes=30)}
    assert await pages(store, "tx", sort="started_at", **window) == [ids[1], ids[3], ids[2]]
    assert await pages(store, "tx", charge_point_ids=["CP1", "CP3"]) == [ids[3], ids[2], ids[0]]
    assert await pages(store, "tx", charge_point_ids=[]) == []
    with pytest.raises(ValueError):
        await store.list_transactions(limit=2, sort="energy")
    with pytest.raises(ValueError):
        await store.list_transactions(limit=2, sort="started_at", cursor="nope")


async def test_reservations_by_creation_and_expiry(store: Store) -> None:
    """Reservations filter by created_at window and sort by expiry_date."""
    await store.add_charge_point(ChargePoint("CP1"))
    ids = []
    for hours in (3, 1, 2):
        r = Reservation(0, "CP1", 1, "TAG", T0 + timedelta(hours=hours), ReservationStatus.ACTIVE)
        ids.append((await store.add_reservation(r)).id)
    assert await pages(store, "r", sort="expiry_date") == [ids[1], ids[2], ids[0]]
    assert await pages(store, "r", sort="-expiry_date") == [ids[0], ids[2], ids[1]]
    created = (await store.get_reservation(ids[0]))
    assert created is not None and created.created_at is not None
    after = {"time_from": created.created_at + timedelta(seconds=1)}
    assert await pages(store, "r", **after) == []
    assert await pages(store, "r", time_from=created.created_at) == ids[::-1]
