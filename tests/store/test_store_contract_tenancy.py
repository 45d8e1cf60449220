"""The store's organization scoping (`csms.domain.tenancy`), on every backend: gets and lists given an
`org_id` see only that organization's rows, and pages count only those; sessions and reservations belong
to their charge point's organization."""

from __future__ import annotations

from datetime import timedelta

from csms.domain.models import ChargePoint, IdToken, NewTransaction, Reservation, ReservationStatus
from csms.domain.ports import Store
from csms.domain.tenancy import DEFAULT_ORG_ID
from tests.store.conftest import T0


async def _charge_points(store: Store) -> None:
    for charge_point_id, org_id in (("A-1", "a"), ("B-1", "b"), ("A-2", "a"), ("D-1", DEFAULT_ORG_ID)):
        await store.add_charge_point(ChargePoint(charge_point_id, org_id=org_id))


async def test_charge_points_are_listed_and_read_per_organization(store: Store) -> None:
    """A page of organization a's charge points holds only its own, with a cursor only while more of its
    own follow; another organization's charge point reads as None."""
    await _charge_points(store)
    page, cursor = await store.list_charge_points(limit=1, org_id="a")
    assert [cp.charge_point_id for cp in page] == ["A-1"] and cursor is not None
    page, cursor = await store.list_charge_points(limit=1, cursor=cursor, org_id="a")
    assert [cp.charge_point_id for cp in page] == ["A-2"] and cursor is None
    everything, _ = await store.list_charge_points(limit=10)
    assert [(cp.charge_point_id, cp.org_id) for cp in everything] == [
        ("A-1", "a"),
        ("A-2", "a"),
        ("B-1", "b"),
        ("D-1", DEFAULT_ORG_ID),
    ]
    assert await store.get_charge_point("B-1", org_id="a") is None
    found = await store.get_charge_point("B-1", org_id="b")
    assert found is not None and found.org_id == "b"
    assert await store.get_charge_point("B-1") is not None  # unscoped: the OCPP side


async def test_an_update_keeps_the_organization(store: Store) -> None:
    """Changing a charge point (as the station service does) never moves it to another organization."""
    await _charge_points(store)
    stale = ChargePoint("B-1")  # a record built without its organization
    await store.update_charge_point(stale)
    found = await store.get_charge_point("B-1")
    assert found is not None and found.org_id == "b"


async def test_id_tokens_are_listed_and_read_per_organization(store: Store) -> None:
    """Tokens carry their organization; lists and gets given one see only its tokens."""
    await store.add_id_token(IdToken("T-A", org_id="a"))
    await store.add_id_token(IdToken("T-B", org_id="b"))
    page, cursor = await store.list_id_tokens(limit=5, org_id="b")
    assert [t.id_token for t in page] == ["T-B"] and cursor is None
    assert await store.get_id_token("T-A", org_id="b") is None
    token = await store.get_id_token("T-A", org_id="a")
    assert token is not None and token.org_id == "a"
    await store.update_id_token(IdToken("T-A"))
    again = await store.get_id_token("T-A")
    assert again is not None and again.org_id == "a"


async def test_transactions_belong_to_their_charge_points_organization(store: Store) -> None:
    """A transaction is stored in its charge point's organization (the default one for an unregistered
    charge point) and listed and read only there; saving it does not move it."""
    await _charge_points(store)
    a = await store.add_transaction(NewTransaction("A-1", 1, 1, T0))
    b = await store.add_transaction(NewTransaction("B-1", 1, 1, T0))
    stray = await store.add_transaction(NewTransaction("UNKNOWN", 1, 1, T0))
    assert (a.org_id, b.org_id, stray.org_id) == ("a", "b", DEFAULT_ORG_ID)
    page, cursor = await store.list_transactions(limit=5, org_id="b")
    assert [tx.id for tx in page] == [b.id] and cursor is None
    assert await store.get_transaction(a.id, org_id="b") is None
    a.org_id = "b"
    await store.save_transaction(a)
    kept = await store.get_transaction(a.id, org_id="a")
    assert kept is not None and kept.org_id == "a"


async def test_reservations_belong_to_their_charge_points_organization(store: Store) -> None:
    """A reservation is stored in its charge point's organization and listed and read only there."""
    await _charge_points(store)
    expiry = T0 + timedelta(hours=1)
    a = await store.add_reservation(Reservation(0, "A-1", 1, "T", expiry, ReservationStatus.ACTIVE))
    b = await store.add_reservation(Reservation(0, "B-1", 1, "T", expiry, ReservationStatus.ACTIVE))
    assert (a.org_id, b.org_id) == ("a", "b")
    page, _ = await store.list_reservations(limit=5, org_id="a")
    assert [r.id for r in page] == [a.id]
    assert await store.get_reservation(b.id, org_id="a") is None
    b.org_id = "a"
    await store.save_reservation(b)
    kept = await store.get_reservation(b.id)
    assert kept is not None and kept.org_id == "b"


async def test_api_keys_carry_their_organization(store: Store) -> None:
    """An API key is stored with the organization it acts for (default: the default one)."""
    await store.add_api_key("a", "pa", "h", "admin", org_id="a")
    await store.add_api_key("d", "pd", "h", "viewer")
    a, d = await store.find_api_key("pa"), await store.find_api_key("pd")
    assert a is not None and a.org_id == "a"
    assert d is not None and d.org_id == DEFAULT_ORG_ID
