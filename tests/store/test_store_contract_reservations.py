"""The `ReservationStore` contract, run against every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete

from csms.domain.models import Reservation, ReservationStatus
from csms.domain.ports import NotFound, Store
from csms.store.sql import SqlStore
from csms.store.tables import ReservationRow

from .conftest import T0, FakeClock
from .test_store_contract import CEST, assert_utc, at


def reservation(
    cp: str = "CP1",
    *,
    expiry: datetime | None = None,
    status: ReservationStatus = ReservationStatus.ACTIVE,
    **fields: Any,
) -> Reservation:
    return Reservation(
        id=fields.pop("id", 0),
        charge_point_id=cp,
        evse_id=fields.pop("evse_id", 1),
        id_token=fields.pop("id_token", "TAG"),
        expiry_date=expiry or at(3600),
        status=status,
        **fields,
    )


async def test_add_reservation_allocates_increasing_ids_and_reads_back(store: Store) -> None:
    """add_reservation ignores the id passed in, allocates increasing ids and stores every field in UTC."""
    first = await store.add_reservation(
        reservation(
            expiry=datetime(2024, 5, 1, 15, 0, tzinfo=CEST),
            id=4242,
            evse_id=None,
            id_token_type="ISO14443",
            group_id_token="GRP",
            connector_type="cType2",
            station_status="Accepted",
            external_id="ext-1",
            owner="NL*ABC",
            reason="pending",
        )
    )
    second = await store.add_reservation(reservation(status=ReservationStatus.FAILED))
    assert first.id != 4242 and second.id > first.id
    assert first.created_at == T0 and first.updated_at == T0 and first.expiry_date == at(3600)
    got = await store.get_reservation(first.id)
    assert got == first
    assert got is not None and got.evse_id is None and got.status is ReservationStatus.ACTIVE
    assert (got.group_id_token, got.connector_type, got.owner, got.external_id) == (
        "GRP",
        "cType2",
        "NL*ABC",
        "ext-1",
    )
    assert_utc(got.expiry_date, got.created_at, got.updated_at)
    assert await store.get_reservation(999_999) is None


async def test_reservation_ids_are_never_reused(store: Store) -> None:
    """Deleting the newest reservation row does not make its id available again (it is a reservationId)."""
    first = await store.add_reservation(reservation())
    if isinstance(store, SqlStore):
        async with store.engine.begin() as conn:
            await conn.execute(delete(ReservationRow).where(ReservationRow.id == first.id))
    second = await store.add_reservation(reservation())
    assert second.id > first.id


async def test_save_reservation_writes_mutable_fields(store: Store, clock: FakeClock) -> None:
    """save_reservation writes status, station answer, transaction, token, EVSE, expiry; keeps created_at."""
    r = await store.add_reservation(reservation(status=ReservationStatus.FAILED, reason="pending"))
    r.status = ReservationStatus.USED
    r.station_status = "Accepted"
    r.transaction_pk = 17
    r.reason = None
    r.id_token = "OTHER"
    r.group_id_token = "GRP"
    r.evse_id = 2
    r.expiry_date = datetime(2024, 5, 1, 16, 0, tzinfo=CEST)
    clock.advance(30)
    await store.save_reservation(r)
    assert r.updated_at == at(30)
    got = await store.get_reservation(r.id)
    assert got == r
    assert got is not None and got.created_at == T0 and got.expiry_date == at(7200)
    assert_utc(got.expiry_date, got.updated_at)
    r.id = 999_999
    with pytest.raises(NotFound):
        await store.save_reservation(r)


async def test_list_reservations_newest_first_with_cursor_and_filters(store: Store) -> None:
    """Reservations list newest first (by id) across pages, filtered by station and status."""
    ids = []
    for i in range(5):
        status = ReservationStatus.EXPIRED if i == 2 else ReservationStatus.ACTIVE
        r = await store.add_reservation(reservation("CP1" if i % 2 == 0 else "CP2", status=status))
        ids.append(r.id)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.list_reservations(limit=2, cursor=cursor)
        assert len(page) <= 2
        seen += [r.id for r in page]
        if cursor is None:
            break
    assert seen == ids[::-1]
    page, cursor = await store.list_reservations(charge_point_id="CP1", limit=10)
    assert [r.id for r in page] == [ids[4], ids[2], ids[0]] and cursor is None
    page, _ = await store.list_reservations(status=ReservationStatus.ACTIVE, limit=10)
    assert [r.id for r in page] == [ids[4], ids[3], ids[1], ids[0]]
    page, _ = await store.list_reservations(charge_point_id="CP1", status=ReservationStatus.EXPIRED, limit=10)
    assert [r.id for r in page] == [ids[2]]
    page, cursor = await store.list_reservations(charge_point_id="CP1", limit=1, cursor=str(ids[4]))
    assert [r.id for r in page] == [ids[2]] and cursor == str(ids[2])
    with pytest.raises(ValueError):
        await store.list_reservations(limit=0)
    with pytest.raises(ValueError):
        await store.list_reservations(limit=5, cursor="x")


async def test_list_due_reservations_returns_active_ones_at_or_past_expiry(store: Store) -> None:
    """Only active reservations whose expiry is at or before `now` are due, soonest expiry first."""
    late = await store.add_reservation(reservation(expiry=at(100)))
    exact = await store.add_reservation(reservation("CP2", expiry=at(60)))
    early = await store.add_reservation(reservation(expiry=at(10)))
    await store.add_reservation(reservation(expiry=at(61)))  # not yet
    await store.add_reservation(reservation(expiry=at(5), status=ReservationStatus.CANCELLED))
    await store.add_reservation(reservation(expiry=at(5), status=ReservationStatus.USED))
    assert [r.id for r in await store.list_due_reservations(at(60).astimezone(CEST))] == [early.id, exact.id]
    assert [r.id for r in await store.list_due_reservations(at(1000))][-1] == late.id
    assert await store.list_due_reservations(T0) == []


async def test_expire_reservation_changes_an_active_due_one_once(store: Store, clock: FakeClock) -> None:
    """expire_reservation expires an active reservation due at `now` and returns it; a second call, one
    not yet due, one that already ended and an unknown id are left alone (None)."""
    due = await store.add_reservation(reservation(expiry=at(60)))
    later = await store.add_reservation(reservation(expiry=at(61)))
    used = await store.add_reservation(reservation(expiry=at(5), status=ReservationStatus.USED))
    clock.advance(120)
    expired = await store.expire_reservation(due.id, at(60).astimezone(CEST))
    assert expired is not None and expired.id == due.id
    assert expired.status is ReservationStatus.EXPIRED and expired.updated_at == at(120)
    assert await store.get_reservation(due.id) == expired
    assert await store.expire_reservation(due.id, at(60)) is None
    assert await store.expire_reservation(later.id, at(60)) is None
    assert await store.expire_reservation(used.id, at(60)) is None
    assert await store.expire_reservation(due.id + 1000, at(60)) is None
    assert [(await store.get_reservation(r.id)).status for r in (later, used)] == [  # type: ignore[union-attr]
        ReservationStatus.ACTIVE,
        ReservationStatus.USED,
    ]


async def test_find_active_reservations_of_one_station(store: Store) -> None:
    """find_active_reservations returns the station's active reservations, oldest first, expired or not."""
    a = await store.add_reservation(reservation(expiry=at(-10)))
    await store.add_reservation(reservation(status=ReservationStatus.CANCELLED))
    await store.add_reservation(reservation("CP2"))
    b = await store.add_reservation(reservation(evse_id=None))
    assert [r.id for r in await store.find_active_reservations("CP1")] == [a.id, b.id]
    assert await store.find_active_reservations("nobody") == []


async def test_find_reservation_by_external_id_returns_the_newest(store: Store) -> None:
    """The newest reservation (any status) of an owner's external id is found; other owners' are not."""
    await store.add_reservation(reservation(owner="P1", external_id="r1", status=ReservationStatus.FAILED))
    newest = await store.add_reservation(reservation(owner="P1", external_id="r1"))
    other = await store.add_reservation(reservation(owner="P2", external_id="r1"))
    await store.add_reservation(reservation(owner="P1", external_id="r2"))
    assert await store.find_reservation_by_external_id("P1", "r1") == newest
    assert await store.find_reservation_by_external_id("P2", "r1") == other
    assert await store.find_reservation_by_external_id("P3", "r1") is None
    assert await store.find_reservation_by_external_id("P1", "r9") is None
