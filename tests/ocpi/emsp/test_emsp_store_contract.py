"""The eMSP role's store behaves the same in memory, on SQLite and on PostgreSQL (revision 0019_emsp)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from ocpi.emsp.sql_store import SqlEmspStore
from ocpi.emsp.store import INVITED, CpoRecord, EmspStore, MemoryEmspStore, StoredCommand
from ocpi.store import OcpiStore
from tests.store.conftest import T0


@pytest.fixture
def store(ocpi_store: OcpiStore) -> EmspStore:
    """Each backend of the OCPI store fixture; the SQL ones share its migrated engine."""
    engine = getattr(ocpi_store, "_engine", None)
    return MemoryEmspStore() if engine is None else SqlEmspStore(engine)


async def test_backend(store: EmspStore, ocpi_store: OcpiStore) -> None:
    """The SQL backends really are SQL (the fixture reads the OCPI store's engine)."""
    assert isinstance(store, MemoryEmspStore) == (type(ocpi_store).__name__ == "MemoryOcpiStore")


async def test_cpos(store: EmspStore) -> None:
    """Added with a new id, found by token hash until UNREGISTERED, saved with every field."""
    cpo = await store.add_cpo(
        CpoRecord(0, "CPO", "http://cpo/versions", token_b_hash="h1", endpoints={"a:SENDER": "u"})
    )
    assert cpo.id > 0 and await store.get_cpo(cpo.id) == cpo
    assert await store.cpo_by_token_hash("h1") == cpo
    changed = dataclasses.replace(
        cpo,
        status="REGISTERED",
        token_c="C",
        country_code="NL",
        party_id="CSM",
        roles=[{"role": "CPO"}],
        cancellation_fee=Decimal("2.5"),
        locations_pulled_at=T0,
    )
    await store.save_cpo(changed)
    assert await store.list_cpos() == [changed]
    await store.save_cpo(dataclasses.replace(changed, status="UNREGISTERED"))
    assert await store.cpo_by_token_hash("h1") is None


async def test_invited_cpo(store: EmspStore) -> None:
    """An INVITED CPO (no URL, no name, no party yet) is stored as such and found by its token A's hash."""
    cpo = await store.add_cpo(CpoRecord(0, "", "", status=INVITED, token_b_hash="ha"))
    assert await store.cpo_by_token_hash("ha") == cpo and cpo.status == INVITED
    assert await store.list_cpos() == [cpo]


async def test_objects(store: EmspStore) -> None:
    """Locations and tariffs by CPO and id (replaced on PUT), a CDR stored once."""
    loc = {"id": "L1", "coordinates": {"latitude": "52.1", "longitude": "5.1"}, "evses": []}
    await store.put_location(1, loc)
    await store.put_location(1, {**loc, "name": "new"})
    await store.put_location(2, {"id": "L0"})
    assert await store.list_locations(1) == [{**loc, "name": "new"}]
    assert await store.get_location(2, "L1") is None
    await store.put_tariff(1, {"id": "T1", "currency": "EUR"})
    assert await store.tariffs(1) == {"T1": {"id": "T1", "currency": "EUR"}}
    assert await store.delete_tariff(1, "T1") and not await store.delete_tariff(1, "T1")
    await store.put_session(1, {"id": "S1", "kwh": 1})
    assert await store.get_session(1, "S1") == {"id": "S1", "kwh": 1}
    assert await store.add_cdr(1, {"id": "C1"}) and not await store.add_cdr(1, {"id": "C1", "x": 1})
    assert await store.get_cdr(1, "C1") == {"id": "C1"}


async def test_commands(store: EmspStore) -> None:
    """A command waits until its result is saved."""
    command = StoredCommand("c1", 1, "RESERVE_NOW", T0 + timedelta(seconds=30), reservation_id="R1")
    await store.add_command(command)
    assert await store.pending_commands() == [command]
    await store.save_command(dataclasses.replace(command, result="ACCEPTED"))
    assert await store.pending_commands() == []
    stored = await store.get_command("c1")
    assert stored is not None and stored.result == "ACCEPTED"
